#!/bin/bash
# A task is held to its step's timeout_s and memory_mb by itself, not only by its
# orchestrator: after a kill -9 of `mflow run`, a task past its deadline (asleep, in a busy
# loop, or with a child of its own) still stops near its deadline, records that it timed out,
# and `mflow resume` runs it again; a task recorded as running past its deadline is never
# reused, one well within it is; the memory limit still holds.
. "$(dirname "$0")/lib.sh"
F=$FLOWS/deadline.c
P=$WORK/pids
mkdir -p "$P"
mflow run "$F" >/dev/null 2>&1   # compile once, outside the timing
RUNS=$MFLOW_HOME/datastore/runs/DeadlineFlow

# alive PID: the process exists and is not a zombie (an orphan's reaper may be slow).
alive() {
  local st
  st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
  [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# kill_during STEP ENV...: start a run with ENV, kill -9 `mflow run` once STEP has started.
# Sets KILLED (the run id) and TASK (the pid of STEP's task).
kill_during() {
  local step=$1; shift
  rm -f "$P"/* "$WORK/killed"
  env PID_DIR="$P" "$@" "$MFLOW" run "$F" --run-id-file "$WORK/killed" > "$WORK/killed.log" 2>&1 &
  local pid=$! i
  for i in $(seq 1 200); do [ -s "$P/$step" ] && break; sleep 0.05; done
  kill -9 "$pid"
  wait "$pid" 2>/dev/null
  KILLED=$(cat "$WORK/killed")
  TASK=$(cat "$P/$step")
  KILLED_AT=$(date +%s.%N)
}

# gone_within PID SECONDS: the process ends within SECONDS (whole seconds). The clock is
# bash's EPOCHREALTIME in microseconds, not two python3 per poll.
gone_within() {
  local pid=$1 limit=$2 t0=${EPOCHREALTIME//[!0-9]/}
  while alive "$pid"; do
    (( ${EPOCHREALTIME//[!0-9]/} - t0 > limit * 1000000 )) && return 1
    sleep 0.1
  done
  return 0
}

# record RUN STEP FIELD: a field of the step's only task's latest attempt record.
record() {
  python3 - "$RUNS/$1/$2" "$3" <<'PY'
import glob, json, os, sys
files = sorted(glob.glob(os.path.join(sys.argv[1], "*.json")),
               key=lambda f: int(os.path.basename(f).split(".")[1]))
if not files:
    print("none"); sys.exit()
d = json.load(open(files[-1]))
f = sys.argv[2]
print(round(d["end_time"] - d["start_time"], 1) if f == "took" else d.get(f))
PY
}

# The work step (timeout_s = 2) outlives its orchestrator in four ways (asleep, spinning, with
# a child, with spinning threads): it must stop at its deadline (well before its 12 s), record
# the timeout, and be run again by resume.
for mode in sleep busy fork threads; do
  kill_during work WORK_MODE=$mode
  CHECKS=$((CHECKS + 1))
  if gone_within "$TASK" 5; then echo "ok: $mode: the orphaned task stopped at its deadline"
  else fail "$mode: the orphaned task (pid $TASK) still runs 5 s after its orchestrator died"; kill -9 "$TASK"; fi
  if [ "$mode" = fork ]; then
    for i in $(seq 1 20); do [ -s "$P/child" ] && break; sleep 0.1; done
    child=$(cat "$P/child")
    CHECKS=$((CHECKS + 1))
    if [ -n "$child" ] && gone_within "$child" 2; then echo "ok: fork: the step's child stopped with it"
    else fail "fork: the step's child (pid $child) outlived the task"; [ -n "$child" ] && kill -9 "$child"; fi
  fi
  check_eq "$mode: the attempt is recorded failed" failed "$(record "$KILLED" work status)"
  check_contains "$mode: the record says it timed out" "timed out after 2 s (timeout_s)" "$(record "$KILLED" work message)"
  OUT=$(WORK_MODE= PID_DIR=$P "$MFLOW" resume "$F" --origin-run-id "$KILLED" --run-id-file "$WORK/resumed" 2>&1) ||
    fail "$mode: resume failed: $OUT"
  r=$(cat "$WORK/resumed")
  check_contains "$mode: resume starts from the timed-out step" "from step 'work'" "$OUT"
  check_eq "$mode: the resumed run ran work again (not a clone)" None "$(record "$r" work origin)"
  check_eq "$mode: and it succeeded" succeeded "$(record "$r" work status)"
done

# Well within its deadline: work (a few ms) is reused when the run dies later, in hold.
kill_during hold HOLD_S=30
kill -9 "$TASK"   # hold has no timeout: stop it here
OUT=$(HOLD_S=0 "$MFLOW" resume "$F" --origin-run-id "$KILLED" --run-id-file "$WORK/resumed" 2>&1) ||
  fail "resume after hold: $OUT"
r=$(cat "$WORK/resumed")
check_contains "a task within its deadline is reused" "2 finished task(s) can be reused" "$OUT"
check_eq "work is a clone of the killed run's" "DeadlineFlow/$KILLED/work/2" "$(record "$r" work origin)"

# A record of a task that ran past its deadline (as an older mflow, or one whose orchestrator
# died before it could stop it, left it) or that cannot show how long it ran: run again.
origin=$KILLED
edit_work() {   # edit_work PYTHON-EXPR-ON-d
  python3 - "$RUNS/$origin/work/2.0.json" "$1" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
exec(sys.argv[2])
json.dump(d, open(sys.argv[1], "w"))
PY
}
edit_work 'd["end_time"] = d["start_time"] + 12.0'
OUT=$(HOLD_S=0 "$MFLOW" resume "$F" --origin-run-id "$origin" --run-id-file "$WORK/resumed" 2>&1) ||
  fail "resume over a late record: $OUT"
r=$(cat "$WORK/resumed")
check_contains "a record past its deadline is named" "DeadlineFlow/$origin/work/2 ran 12.0 s, past its step's timeout_s of 2 s" "$OUT"
check_eq "and that task runs again" None "$(record "$r" work origin)"
edit_work 'del d["start_time"]; del d["end_time"]'
OUT=$(HOLD_S=0 "$MFLOW" resume "$F" --origin-run-id "$origin" --run-id-file "$WORK/resumed" 2>&1) ||
  fail "resume over a record without times: $OUT"
r=$(cat "$WORK/resumed")
check_contains "a record without times is named" "DeadlineFlow/$origin/work/2 has no start and end times" "$OUT"
check_eq "and that task runs again too" None "$(record "$r" work origin)"

# The memory limit (64 MB) holds after the orchestrator is gone: 256 MB is refused, 16 MB
# works; with the cgroup where this machine has one, and with RLIMIT_DATA.
# Under AddressSanitizer (make test-asan) a task reserves its allocator's regions before
# anything else and RLIMIT_DATA refuses them: there only the cgroup can be checked.
mechs="auto rlimit"
[ -n "${MFLOW_TEST_SANITIZE:-}" ] && mechs=auto
for mech in $mechs; do
  for mb in 256 16; do
    kill_during mem MFLOW_LOCAL_MEMORY_LIMIT=$mech MEM_WAIT_S=2 MEM_MB=$mb
    if [ -n "${MFLOW_TEST_SANITIZE:-}" ] && grep -q RLIMIT_DATA "$WORK/killed.log"; then
      echo "skip: $mech, $mb MB: no cgroup here, and RLIMIT_DATA cannot hold a sanitized task"
      continue
    fi
    CHECKS=$((CHECKS + 1))
    if gone_within "$TASK" 20; then echo "ok: $mech, $mb MB: the orphaned task ended"
    else fail "$mech, $mb MB: the orphaned task (pid $TASK) still runs"; kill -9 "$TASK"; fi
    if [ "$mb" = 256 ]; then
      check_eq "$mech: 256 MB past the 64 MB limit was refused without the orchestrator" no "$([ -e "$P/allocated" ] && echo yes || echo no)"
      CHECKS=$((CHECKS + 1))
      st=$(record "$KILLED" mem status)
      if [ "$st" = succeeded ]; then fail "$mech: the over-limit task is recorded succeeded"; else echo "ok: $mech: not recorded succeeded ($st)"; fi
    else
      check_eq "$mech: 16 MB within the limit worked" 16 "$(cat "$P/allocated" 2>/dev/null)"
      check_eq "$mech: and is recorded succeeded" succeeded "$(record "$KILLED" mem status)"
    fi
  done
done

# `mflow task --timeout-s` takes whole seconds (the one option parser's message).
for v in abc -1 2.5 ""; do
  run_fails "task --timeout-s '$v' is refused" 2 "--timeout-s must be a whole number" \
    mflow task "$F" work --run-id 1 --task-id 2 --timeout-s "$v"
done

# With its orchestrator alive, a timeout is unchanged: killed, named, retried no more.
run_fails "a timeout with the orchestrator alive" 1 "timed out after 2 s" env WORK_MODE=sleep "$MFLOW" run "$F"
finish
