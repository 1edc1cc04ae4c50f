#!/bin/bash
# What a task forked by the task server pays before its step runs, in page faults (README
# "What a task costs"). Each body task of fault_count.c records /proc/self/stat's minflt as
# its step starts. By default the server does not share its code mappings (on this project's
# VM the copy of their page-table entries at each fork cost more than the children's faults
# it saved): a forked task then takes about 53 faults there, an exec'ed one about 130. With
# MFLOW_TS_SHARE_CODE=1 the server's code and read-only data come to each child already
# mapped: about 25.
. "$(dirname "$0")/lib.sh"
if [ -n "${MFLOW_TEST_SANITIZE:-}" ]; then
  echo "SKIP: a $MFLOW_TEST_SANITIZE build: the sanitizer's own mappings set the page faults"
  exit 77
fi
F=$FLOWS/fault_count.c
mflow run "$F" --n=1 >/dev/null 2>&1   # compile once

# faults N ENV...: the body tasks' counts of a run with N items, one a line.
faults() {
  local n=$1; shift
  env "$@" "$MFLOW" run "$F" --n="$n" --max-workers 2 --run-id-file "$WORK/runid" >"$WORK/out" 2>&1 ||
    { fail "run with $*: $(cat "$WORK/out")"; return; }
  mflow get "FaultCount/$(cat "$WORK/runid")/join" faults
}

for n in 3 8; do
  shared=$(faults $n MFLOW_LOCAL_TASK_SERVER=on MFLOW_TS_SHARE_CODE=1)
  check_eq "n=$n: every body task counted its faults (shared code)" "$n" "$(echo "$shared" | grep -cE '^[0-9]+$')"
  worst=$(echo "$shared" | sort -n | tail -1)
  check_eq "n=$n: with the code shared a forked task takes at most 40 faults before its step (took $worst)" 1 \
    "$([ -n "$worst" ] && [ "$worst" -gt 0 ] && [ "$worst" -le 40 ] && echo 1 || echo 0)"
done

# The default: not shared, each child maps again the code it runs, one read fault a 64 KiB
# stretch at most; still far from what an exec'ed task takes.
forked=$(faults 8 MFLOW_LOCAL_TASK_SERVER=on)
check_eq "every body task counted its faults (default)" 8 "$(echo "$forked" | grep -cE '^[0-9]+$')"
least=$(echo "$forked" | sort -n | head -1)
most=$(echo "$forked" | sort -n | tail -1)
check_eq "by default the code is not shared: a forked task takes more than 40 faults (took $least)" 1 \
  "$([ -n "$least" ] && [ "$least" -gt 40 ] && echo 1 || echo 0)"
check_eq "by default a forked task takes at most 75 faults before its step (took $most)" 1 \
  "$([ -n "$most" ] && [ "$most" -le 75 ] && echo 1 || echo 0)"

# The measure itself: an exec'ed task maps everything again and takes far more.
execd=$(faults 2 MFLOW_LOCAL_TASK_SERVER=off)
least=$(echo "$execd" | sort -n | head -1)
check_eq "an exec'ed task takes more than 80 faults before its step (took $least)" 1 \
  "$([ -n "$least" ] && [ "$least" -gt 80 ] && echo 1 || echo 0)"

finish
