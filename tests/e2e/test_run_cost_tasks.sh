#!/bin/bash
# What the orchestrator itself pays for each task (README "What a task costs"): its own system
# calls (strace without -f: not the task server's, not the tasks'), counted over a run of 201
# items less a run of 1, so that what a run pays once drops out. Per task it makes no fcntl
# (the pipes' read ends block; one read per poll readiness), reads no pipe only to be told
# its end (POLLHUP alone closes it), does not wait for the task server's answer to a request
# (read when that task's exit event comes, up to that task's answer: no recv answered
# EAGAIN, 0.06-0.12 a task on main 4c1a26a), takes the server's exit events without a recv
# answered EAGAIN, and stays
# under a bound on the rest (index commits left out: how many tasks end in one loop turn
# moves them; about 21 a task before these, 15 after, on a foreach of tasks that print
# nothing). And every task's output is still kept. Without strace the test is skipped.
. "$(dirname "$0")/lib.sh"
need_strace
F=$FLOWS/many.c
mflow run "$F" --n=1 >/dev/null 2>&1   # compile once, outside the traces

# traced N: a run of N items with the orchestrator under strace ($WORK/tN.tr); RUN set.
traced() {
  strace -o "$WORK/t$1.tr" "$MFLOW" run "$F" --n="$1" --sleep_ms=0 --max-workers 2 \
    --run-id-file "$WORK/runid" >"$WORK/t$1.out" 2>&1 || fail "run of $1 items: $(tail -3 "$WORK/t$1.out")"
  RUN=$(cat "$WORK/runid" 2>/dev/null)
}
# per_task PATTERN: trace lines matching PATTERN (an extended regex), per item, the run of 1
# taken from the run of 201.
per_task() {
  python3 - "$WORK/t1.tr" "$WORK/t201.tr" "$1" <<'PY'
import re, sys
def n(path):
    pat = re.compile(sys.argv[3])
    return sum(1 for line in open(path) if not line.startswith(("---", "+++")) and pat.search(line))
print(f"{(n(sys.argv[2]) - n(sys.argv[1])) / 200:.2f}")
PY
}
# at_most NAME VALUE BOUND
at_most() {
  CHECKS=$((CHECKS + 1))
  if python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) <= float(sys.argv[2]) else 1)" "$2" "$3"; then
    echo "ok: $1: $2 a task (at most $3)"
  else
    fail "$1: $2 a task, more than $3"
  fi
}

traced 1
traced 201
check_eq "the run of 201 items succeeded" "$((3 * 201 * 200 / 2))" "$(mflow get "ManyFlow/$RUN/join" sum 2>&1)"
at_most "system calls of the orchestrator, index writes aside" \
  "$(per_task '^(?!(pwrite64|writev|lseek|fsync|fdatasync)\()[a-z_0-9]+\(')" 17
at_most "fcntl F_SETFL on a pipe" "$(per_task '^fcntl\(.*F_SETFL')" 0.05
at_most "reads that only say a pipe's end" "$(per_task '^read\(.*= 0$')" 0.5
at_most "receives answered EAGAIN" "$(per_task '^recv.*EAGAIN')" 0.02
# The task server's own calls (strace -f, the server found by its exec): after a child's
# exit it waits for no child when none is left (a wait4 answered ECHILD after about every
# other task: 0.38 a task before, 0.12 under strace -f), and a request's fds go in one
# close_range (3 closes a task before).
strace -f -qq -o "$WORK/tf.tr" "$MFLOW" run "$F" --n=201 --sleep_ms=0 --max-workers 2 \
  >"$WORK/tf.out" 2>&1 || fail "traced run of the task server: $(tail -3 "$WORK/tf.out")"
server_calls() {
  python3 - "$WORK/tf.tr" "$1" <<'PY'
import re, sys
lines = open(sys.argv[1]).read().splitlines()
srv = [l.split()[0] for l in lines if 'execve(' in l and '__task-server' in l]
pat = re.compile(sys.argv[2])
# "PID  call(...": a call cut by another process's line starts "call(... <unfinished ...>"
# and ends "<... call resumed>...": matched by the start, or by the end for its result
n = sum(1 for l in lines if srv and len(l.split(None, 1)) == 2 and l.split(None, 1)[0] == srv[0]
        and pat.search(l.split(None, 1)[1]))
print(f"{n / 201:.2f}" if srv else "999")
PY
}
at_most "task server: wait4 answered ECHILD" "$(server_calls '(^wait4\(|^<\.\.\. wait4 resumed>).*ECHILD')" 0.05
at_most "task server: close and close_range calls" "$(server_calls '^close(_range)?\(')" 1.5
# The output of a task is still kept whole (no newline, no flush in the step), both streams.
mflow run "$FLOWS/quiet_foreach.c" --n=3 --max-workers 2 --run-id-file "$WORK/runid" >/dev/null 2>&1 ||
  fail "quiet_foreach did not run"
RUN=$(cat "$WORK/runid")
task=$(mflow inspect "QuietForeach/$RUN/body" --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
ts = d.get("tasks", d) if isinstance(d, dict) else d
print(ts[-1]["task_id"] if isinstance(ts, list) else "")' 2>/dev/null)
check_contains "a task's stdout is kept" "unflushed" "$(mflow logs "QuietForeach/$RUN/body/$task" 2>&1)"
check_contains "a task's stderr is kept" "err " "$(mflow logs "QuietForeach/$RUN/body/$task" --stderr 2>&1)"

finish
