#!/bin/bash
# A run whose set-up cannot store its run record or its graph (disk full, a refused write)
# leaves no run in the index, for `run` and `resume` alike; a plain `mflow resume` then picks
# the right earlier origin, and also skips a run the index lists without a run record.
. "$(dirname "$0")/lib.sh"
F=$FLOWS/resumable.c
DS=$MFLOW_HOME/datastore
SHIM=${MFLOW_FAIL_WRITE_SHIM:?}
export COUNT_FILE=$WORK/count

# run_ids: the run ids `mflow runs` lists, newest first, on one line
run_ids() { mflow runs ResumableFlow --json | python3 -c "import json,sys; print(' '.join(str(r['run_id']) for r in json.load(sys.stdin)))"; }

FAIL_ITEM=3 run_flow "$F" && fail "the origin run should fail"
origin=$RUN
check_eq "one run" "$origin" "$(run_ids)"

for cmd in run resume; do
  for name in run.json graph.json; do
    for err in 28 13; do   # ENOSPC, EACCES
      what="$cmd, $name refused (errno $err)"
      OUT=$(MFLOW_TEST_FAIL_NAMES=$name MFLOW_TEST_FAIL_ERRNO=$err LD_PRELOAD=$SHIM \
            FAIL_ITEM=3 mflow $cmd "$F" 2>&1); rc=$?
      check_eq "$what: exits 1" 1 "$rc"
      if [ $name = run.json ]; then
        check_contains "$what: says so" "cannot store the run record" "$OUT"
      else
        check_contains "$what: says so" "cannot store the graph" "$OUT"
      fi
      check_eq "$what: no phantom in mflow runs" "$origin" "$(run_ids)"
      check_eq "$what: nothing of it left in the datastore" "" \
        "$(find "$DS/runs/ResumableFlow" -mindepth 2 -maxdepth 2 -name '*.json' ! -path "*/$origin/*")"
    done
  done
done

# The next plain resume takes the real origin.
OUT=$(mflow resume "$F" --run-id-file "$WORK/runid" 2>&1) || fail "resume after the failures: $OUT"
check_contains "resume picks the failed run" "resuming ResumableFlow/$origin from step 'body'" "$OUT"
r2=$(cat "$WORK/runid")
check_eq "resumed run's result" 55 "$(mflow get ResumableFlow/$r2/end sum)"

# An index entry without a run record (left by an older version, or the record lost):
# resume passes over it to the latest run that has one.
FAIL_ITEM=2 run_flow "$F" && fail "the third run should fail"
r3=$RUN
FAIL_ITEM=4 run_flow "$F" && fail "the fourth run should fail"
r4=$RUN
rm "$DS/runs/ResumableFlow/$r4/run.json"
OUT=$(mflow resume "$F" --run-id-file "$WORK/runid" 2>&1) || fail "resume past a run without a record: $OUT"
check_contains "resume skips the run without a record" "resuming ResumableFlow/$r3 from step 'body'" "$OUT"

# A real full disk, where this machine lets a test mount a small file system.
MNT=$WORK/mnt
mkdir -p "$MNT"
if mount -t tmpfs -o size=4m tmpfs "$MNT" 2>/dev/null; then
  trap 'umount "$MNT" 2>/dev/null; rm -rf "$WORK"' EXIT
  export MFLOW_HOME=$WORK/home2 MFLOW_DATASTORE_ROOT=$MNT/ds
  FAIL_ITEM=3 run_flow "$F" && fail "full disk: the origin run should fail"
  o=$RUN
  dd if=/dev/zero of="$MNT/fill" bs=4k 2>/dev/null
  for cmd in run resume; do
    OUT=$(FAIL_ITEM=3 mflow $cmd "$F" 2>&1) && fail "full disk: $cmd should fail"
    check_contains "full disk: $cmd says the disk is full" "No space left on device" "$OUT"
    check_eq "full disk: $cmd leaves no phantom" "$o" "$(run_ids)"
  done
  rm "$MNT/fill"
  OUT=$(mflow resume "$F" --run-id-file "$WORK/runid" 2>&1) || fail "full disk: resume after: $OUT"
  check_contains "full disk: resume picks the failed run" "resuming ResumableFlow/$o from step 'body'" "$OUT"
  umount "$MNT"
else
  echo "skip: cannot mount a tmpfs here (not root): the full-disk case runs through the shim only"
fi
finish
