#!/bin/bash
# What a caller learns about a run: an unwritable --run-id-file fails before anything runs
# (exit 2, no run recorded), for run and resume; a dead run's duration ends at its last known
# activity instead of growing with the clock, in `runs` and `inspect`, text and JSON.
. "$(dirname "$0")/lib.sh"
F=$FLOWS/deadline.c
RUNS=$MFLOW_HOME/datastore/runs/DeadlineFlow
run_flow "$F" || fail "first run: $OUT"
runs_now() { ls "$RUNS" | grep -c '^[0-9]*$'; }

# --run-id-file that cannot be written, in several ways.
mkdir -p "$WORK/adir"
touch "$WORK/afile"
bad=("$WORK/no/such/dir/id" "$WORK/afile/id" "$WORK/adir")
if [ "$(id -u)" != 0 ]; then   # root writes anywhere
  mkdir -p "$WORK/ro" && chmod 555 "$WORK/ro" && bad+=("$WORK/ro/id")
fi
for f in "${bad[@]}"; do
  before=$(runs_now)
  run_fails "run --run-id-file $f" 2 "cannot write --run-id-file $f" mflow run "$F" --run-id-file "$f"
  check_contains "it says nothing ran" "nothing was run" "$OUT"
  run_fails "resume --run-id-file $f" 2 "cannot write --run-id-file $f" mflow resume "$F" --run-id-file "$f"
  check_eq "no run was recorded for $f" "$before" "$(runs_now)"
done
check_eq "the probe leaves no temporary file" 0 "$(find "$WORK" -name '*.tmp.*' | wc -l)"
run_ok "a writable --run-id-file still works" mflow run "$F" --run-id-file "$WORK/adir/id"
check_eq "and holds the new run's id" "$(runs_now)" "$(cat "$WORK/adir/id")"

# A dead run: kill -9 of `mflow run` while a task runs; the task is stopped too.
P=$WORK/pids
mkdir -p "$P"
kill_during() {   # STEP ENV...
  local step=$1; shift
  rm -f "$P"/*
  env PID_DIR="$P" "$@" "$MFLOW" run "$F" --run-id-file "$WORK/killed" > /dev/null 2>&1 &
  local pid=$! i
  for i in $(seq 1 200); do [ -s "$P/$step" ] && break; sleep 0.05; done
  kill -9 "$pid"
  wait "$pid" 2>/dev/null
  kill -9 "$(cat "$P/$step")" 2>/dev/null
  KILLED=$(cat "$WORK/killed")
}
field() {   # field RUN KEY: from `mflow runs --json`
  mflow runs DeadlineFlow --json | python3 -c "
import json, sys
for r in json.load(sys.stdin):
    if r['run_id'] == int(sys.argv[1]):
        v = r[sys.argv[2]]
        print(round(v, 3) if isinstance(v, float) else v)" "$1" "$2"
}
# took RUN: the TOOK column of `mflow runs` (after the start date and time)
took() {
  mflow runs DeadlineFlow | python3 -c "
import re, sys
for line in sys.stdin:
    m = re.match(r'(\d+)\s.*\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+(\S+)', line)
    if m and m.group(1) == sys.argv[1]:
        print(m.group(2))" "$1"
}
# last_end RUN: the latest end of the run's task records
last_end() {
  python3 -c "
import glob, json, sys
print(round(max(json.load(open(f))['end_time'] for f in glob.glob(sys.argv[1] + '/*/*.json')), 3))" "$RUNS/$1"
}
for step in hold work; do
  if [ $step = hold ]; then kill_during hold HOLD_S=30; else kill_during work WORK_MODE=sleep; fi
  check_eq "killed in $step: the run is dead" True "$(field "$KILLED" dead)"
  d1=$(field "$KILLED" duration)
  t1=$(took "$KILLED")
  check_eq "killed in $step: runs shows how long it took" 1 "$([ -n "$t1" ] && echo 1)"
  i1=$(mflow inspect "DeadlineFlow/$KILLED" | grep 'last seen')
  check_contains "killed in $step: inspect says when it was last seen" "last seen" "$i1"
  CHECKS=$((CHECKS + 1))
  case "$d1" in
    [0-9]*) echo "ok: killed in $step: it has a duration ($d1 s)" ;;
    *) fail "killed in $step: no duration in runs --json: [$d1]" ;;
  esac
  sleep 2.2
  d2=$(field "$KILLED" duration)
  check_eq "killed in $step: its duration (JSON) stays" "$d1" "$d2"
  check_eq "killed in $step: its TOOK column stays" "$t1" "$(took "$KILLED")"
  check_eq "killed in $step: inspect's last seen stays" "$i1" "$(mflow inspect "DeadlineFlow/$KILLED" | grep 'last seen')"
  check_eq "killed in $step: it was last active when its last recorded task ended" "$(last_end "$KILLED")" "$(field "$KILLED" last_active_time)"
done
# A run that ended keeps its own end; one that goes on has no duration in JSON yet.
check_eq "an ended run's last activity is its end" "$(field 1 end_time)" "$(field 1 last_active_time)"
finish
