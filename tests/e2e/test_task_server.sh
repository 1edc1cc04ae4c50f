#!/bin/bash
# Local tasks started by the task server (a preloaded mflow forking one child per task) see
# exactly what an exec'ed `mflow task` sees; with task_server=off they are exec'ed; a server
# that dies mid-run costs only the tasks it was running, which are retried with exec.
. "$(dirname "$0")/lib.sh"
F=$FLOWS/task_env.c

check_task_view() {   # MODE EXPECTED_COMM
  local mode=$1 comm=$2 p="TaskEnv/$RUN/body"
  local task
  task=$(mflow inspect "TaskEnv/$RUN/body" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["tasks"][2]["task_id"])')
  check_eq "$mode: process name" "$comm" "$(mflow get "$p/$task" comm)"
  check_eq "$mode: the step's env reaches the task" "from-the-step" "$(mflow get "$p/$task" var)"
  check_eq "$mode: MFLOW_CPUS from the placement" 1 "$(mflow get "$p/$task" cpus)"
  check_eq "$mode: own process group" 1 "$(mflow get "$p/$task" own_group)"
  check_eq "$mode: stdin is empty" 1 "$(mflow get "$p/$task" stdin_eof)"
  check_eq "$mode: the server's own environment stays its own" 0 "$(mflow get "$p/$task" server_env_leaked)"
  check_eq "$mode: no state shared between tasks (6 tasks, each saw 1 call)" 6 "$(mflow get "TaskEnv/$RUN/join" calls_sum)"
  check_contains "$mode: stdout kept as the task's log" "says hello" "$(mflow logs "$p/$task")"
  check_contains "$mode: stderr kept as the task's log" "on stderr" "$(mflow logs "$p/$task" --stderr)"
}

MFLOW_LOCAL_TASK_SERVER=on run_flow "$F" || fail "task_env with the server: $OUT"
check_task_view "server" "mflow-task"

MFLOW_LOCAL_TASK_SERVER=off run_flow "$F" || fail "task_env with exec: $OUT"
check_task_view "exec" "mflow"

# A request larger than a socket message (here a 300 KB environment) is exec'ed instead.
big=$(head -c 100000 /dev/zero | tr '\0' x)   # one variable may hold 128 KiB at most
BIG1=$big BIG2=$big BIG3=$big MFLOW_LOCAL_TASK_SERVER=on run_flow "$F" || fail "task_env with a huge environment: $OUT"
check_eq "huge environment: exec'ed, not forked" "mflow" "$(mflow get "TaskEnv/$RUN/body/3" comm)"
check_eq "huge environment: the step's env still reaches the task" "from-the-step" "$(mflow get "TaskEnv/$RUN/body/3" var)"

MFLOW_LOCAL_TASK_SERVER=sometimes run_fails "bad task_server value named" 1 "task_server='sometimes' is not auto, on or off" mflow run "$F"

# Kill the server while tasks run: they are lost, retried (with exec), and the run succeeds.
S=$FLOWS/slow_foreach.c
mflow run "$S" --n=2 --ms=1 >/dev/null 2>&1   # compile once, outside the timed part
# A sanitized task (make test-asan) spends a while in its exit's leak check after its record
# is written; a kill there leaves a finished task, not a lost one: longer steps keep the
# kill inside a step.
ms=300
[ -n "${MFLOW_TEST_SANITIZE:-}" ] && ms=1500
"$MFLOW" run "$S" --n=16 --ms=$ms --max-workers 2 --run-id-file "$WORK/slowid" >"$WORK/slow.out" 2>&1 &
orch=$!
server=
for _ in $(seq 1 100); do
  server=$(pgrep -P "$orch" -f "__task-server" | head -1)
  [ -n "$server" ] && break
  sleep 0.05
done
check_eq "the run started a task server" 1 "$([ -n "$server" ] && echo 1 || echo 0)"
# Kill it while it has a split task running (a fixed sleep could land before the first task
# on a loaded machine, or on the start task after its record was written, while a sanitized
# build's exit checks for leaks: then no task is lost that must run again). The splits start
# once the start task has exited: a child named mflow-task (not the flow's probe, which the
# server forks while it starts) that was not there when the start task's record was stored.
before=
for _ in $(seq 1 600); do
  run=$(cat "$WORK/slowid" 2>/dev/null)
  if [ -z "$before" ] && [ -n "$server" ] && [ -n "$run" ] &&
     ls "$MFLOW_HOME/datastore/runs/SlowForeach/$run/start/"*.json >/dev/null 2>&1; then
    before=" $(pgrep -P "$server" -x mflow-task | tr '\n' ' ')"
  fi
  if [ -n "$before" ]; then
    split=$(pgrep -P "$server" -x mflow-task | while read -r p; do
              case "$before" in *" $p "*) ;; *) echo "$p" ;; esac; done | head -1)
    [ -n "$split" ] && break
  fi
  sleep 0.05
done
sleep 0.1
[ -n "$server" ] && kill -9 "$server"
wait "$orch"; rc=$?
out=$(cat "$WORK/slow.out")
check_eq "run survives the server's death (exit 0)" 0 "$rc"
check_contains "the loss is reported" "the task server exited" "$out"
RUN=$(cat "$WORK/slowid")
check_eq "every square summed" 1240 "$(mflow get "SlowForeach/$RUN/join" sum)"
check_contains "a lost task was retried" "task server that started it exited" "$out"

finish
