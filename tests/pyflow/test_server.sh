#!/bin/bash
# The Python task server: mflow's server hands a .py flow's tasks to python3 -m mflow
# __task-server, which imports the flow once and forks each task with the same set-up.
. "$(dirname "$0")/lib.sh"
F=$PYFLOWS/served.py
export IMPORT_LOG=$WORK/imports

mflow check "$F" >/dev/null 2>&1     # the graph, read once and cached
: > "$IMPORT_LOG"
run_flow "$F" --n=12; rc=$?
check_eq "served: exit" 0 "$rc"
check_eq "served: the result" 132 "$(mflow get "ServedFlow/$RUN/join" total)"
check_eq "served: one process per task" 12 "$(mflow get "ServedFlow/$RUN/join" pids | wc -l)"
check_eq "served: each task leads its process group" True "$(mflow get "ServedFlow/$RUN/join" leaders | sed 's/true/True/')"
check_eq "served: the step's environment" "hello from env" "$(mflow get "ServedFlow/$RUN/join" greetings)"
imports=$(wc -l < "$IMPORT_LOG")
# 15 tasks: start may run before the server is up (its own python3), the server imports once
check_eq "served: the flow imported at most twice for 15 tasks" yes "$([ "$imports" -le 2 ] && echo yes || echo "no ($imports)")"

# the same with mflow's own server: every task its own python3
: > "$IMPORT_LOG"
MFLOW_PY_TASK_SERVER=0 run_flow "$F" --n=5; rc=$?
check_eq "unserved: exit" 0 "$rc"
check_eq "unserved: the result" 20 "$(mflow get "ServedFlow/$RUN/join" total)"
check_eq "unserved: one import per task" 8 "$(wc -l < "$IMPORT_LOG")"

# a failing step, a crash and a timeout through the Python server
run_flow "$PYFLOWS/failing.py" --mode=raise; rc=$?
check_eq "served failure: exit" 1 "$rc"
check_contains "served failure: traceback in the log" "ValueError: bad value 3" \
  "$(mflow logs "FailingFlow/$RUN/boom" --stderr)"
run_flow "$PYFLOWS/failing.py" --mode=kill; rc=$?
check_contains "served crash: said" "killed by signal 9" "$OUT"
run_flow "$PYFLOWS/failing.py" --mode=sleep; rc=$?
check_contains "served timeout: said" "timed out after 2 s" "$OUT"
finish
