#!/bin/bash
# What mflow creates is the user's alone: the home 0700, and every directory and file under
# it (datastore objects written through O_TMPFILE and through named temporaries, the index,
# the flow cache, the package cache, run logs) without group or other bits, whatever the
# umask. A datastore root that is a setgid directory is shared with its group: what mflow
# creates under it gets the root's group bits (never others'), whatever the umask.
. "$(dirname "$0")/lib.sh"

# group_or_other DIR: every path under DIR (DIR included) with a group or other bit
group_or_other() { find "$1" -perm /077 2>/dev/null; }
mode_of() { stat -c %a "$1"; }

for um in 022 002 000; do
  export MFLOW_HOME=$WORK/home-$um
  (
    umask $um
    mflow run "$SRC/examples/foreach.c" --n=3 --tag t >/dev/null 2>&1 || echo "foreach failed"
    MFLOW_LOCAL_ANON_TEMP=0 mflow run "$FLOWS/linear.c" --label=x >/dev/null 2>&1 || echo "linear (named temps) failed"
    mflow run "$FLOWS/linear.c" >/dev/null 2>&1 || echo "linear failed"
    mflow run "$SRC/examples/hello.c" --run-id-file "$WORK/hello-$um" >/dev/null 2>&1 || echo "hello failed"
    A=$(mflow package "$SRC/examples/hello.c" | head -1)
    # a task with a code package: fetched and extracted into the package cache
    mflow task "$SRC/examples/hello.c" start --run-id "$(cat "$WORK/hello-$um")" --task-id 99 --package "$A" >/dev/null 2>&1 || echo "task with a package failed"
  ) >"$WORK/err" 2>&1
  check_eq "umask $um: the runs succeed" "" "$(cat "$WORK/err")"
  check_eq "umask $um: home is 0700" 700 "$(mode_of "$MFLOW_HOME")"
  for sub in datastore datastore/blobs cache/flows cache/packages; do
    check_eq "umask $um: $sub exists" yes "$([ -d "$MFLOW_HOME/$sub" ] && echo yes)"
  done
  check_eq "umask $um: the index exists" yes "$(ls "$MFLOW_HOME"/*/data.mdb >/dev/null 2>&1 && echo yes)"
  check_eq "umask $um: nothing under the home is readable by group or others" "" "$(group_or_other "$MFLOW_HOME")"
  check_eq "umask $um: blobs are 0600" 600 "$(mode_of "$(find "$MFLOW_HOME/datastore/blobs" -type f | head -1)")"
  check_eq "umask $um: the compiled flow is 0700" 700 "$(mode_of "$(find "$MFLOW_HOME/cache/flows" -name '*.so' | head -1)")"
  check_eq "umask $um: extracted package files are private" 600 "$(mode_of "$(find "$MFLOW_HOME/cache/packages" -name hello.c | head -1)")"
done

# An existing home or datastore keeps its own mode; what mflow adds inside is private.
export MFLOW_HOME=$WORK/open-home
mkdir -m 755 "$MFLOW_HOME"
mkdir -m 755 "$WORK/open-ds"
(umask 022; mflow --datastore-root="$WORK/open-ds" run "$FLOWS/linear.c" >/dev/null 2>&1)
check_eq "an existing home keeps 0755" 755 "$(mode_of "$MFLOW_HOME")"
check_eq "an existing datastore root keeps 0755" 755 "$(mode_of "$WORK/open-ds")"
check_eq "what mflow adds to the home is private" "" "$(find "$MFLOW_HOME" -mindepth 1 -perm /077)"
check_eq "what mflow adds to a plain datastore root is private" "" "$(find "$WORK/open-ds" -mindepth 1 -perm /077)"

# A shared datastore: the root is setgid (chgrp team ROOT; chmod 2770 ROOT).
for pair in 2770:022 2770:077 2750:002; do
  rmode=${pair%:*} um=${pair#*:}
  export MFLOW_HOME=$WORK/shared-home-$rmode-$um
  ROOT=$WORK/team-$rmode-$um
  mkdir "$ROOT" && chmod "$rmode" "$ROOT"
  (
    umask $um
    mflow --datastore-root="$ROOT" run "$SRC/examples/foreach.c" --n=2 >/dev/null 2>&1 || echo "foreach failed"
    MFLOW_LOCAL_ANON_TEMP=0 mflow --datastore-root="$ROOT" run "$FLOWS/linear.c" >/dev/null 2>&1 || echo "linear failed"
  ) >"$WORK/err" 2>&1
  check_eq "shared $rmode, umask $um: the runs succeed" "" "$(cat "$WORK/err")"
  g=${rmode:2:1}
  fg=$((g & 6))
  check_eq "shared $rmode, umask $um: the root keeps its mode" "$rmode" "$(mode_of "$ROOT")"
  check_eq "shared $rmode, umask $um: directories are 27${g}0 (setgid, the root's group bits)" "27${g}0" \
    "$(find "$ROOT" -mindepth 1 -type d -exec stat -c %a {} + | sort -u | tr '\n' ' ' | sed 's/ $//')"
  check_eq "shared $rmode, umask $um: files are 6${fg}0" "6${fg}0" "$(find "$ROOT" -type f -exec stat -c %a {} + | sort -u | tr '\n' ' ' | sed 's/ $//')"
  check_eq "shared $rmode, umask $um: others get nothing" "" "$(find "$ROOT" -perm /007)"
  check_eq "shared $rmode, umask $um: the home stays private" "" "$(group_or_other "$MFLOW_HOME")"
done

finish
