#!/bin/bash
# What the Python task server saves per task keeps what a task sees: its environment exactly
# (the children start from the first task's and change what differs), its stdout and stderr
# in its logs (their file objects made once in the server), and the run's first task served
# by the server rather than a python3 of its own (one import of the flow per run).
. "$(dirname "$0")/lib.sh"
export IMPORT_LOG=$WORK/imports

for n in 3 7; do
  mflow check "$PYFLOWS/served_env.py" >/dev/null 2>&1
  : > "$IMPORT_LOG"
  run_flow "$PYFLOWS/served_env.py" --n=$n; rc=$?
  check_eq "env n=$n: exit" 0 "$rc"
  R="ServedEnvFlow/$RUN"
  check_eq "env n=$n: start sees its own" 's/from start/-' "$(mflow get "$R/start" env_start)"
  check_eq "env n=$n: work sees its own, not start's" '-/from work/w' "$(mflow get "$R/join" env_works)"
  check_eq "env n=$n: join sees neither" '-/-/-' "$(mflow get "$R/join" env_join)"
  check_eq "env n=$n: end sees neither" '-/-/-' "$(mflow get "$R/end" env_end)"
  check_eq "env n=$n: the flow imported once (the first task served too)" 1 "$(grep -c . "$IMPORT_LOG")"
done

# the notebook client is imported on first use, never by a task
check_eq "client: not loaded in start" false "$(mflow get "$R/start" client_loaded)"
check_eq "client: not loaded in a work task" false "$(mflow get "$R/work/$(ls "$MFLOW_HOME"/datastore/runs/ServedEnvFlow/$RUN/work/ | sed -n 's/^\([0-9]*\)\.0\.json$/\1/p' | head -1)" client_loaded)"
check_eq "client: from mflow import ... on first use" "mflow.client mflow.client mflow.client" \
  "$("${MFLOW_PYTHON:-python3}" -c 'import mflow; from mflow import Flow, namespace; print(Flow.__module__, namespace.__module__, mflow.Run.__module__)' 2>&1)"
check_eq "client: from mflow import *" "Flow Run Task namespace" \
  "$("${MFLOW_PYTHON:-python3}" -c 'from mflow import *; print(Flow.__name__, Run.__name__, Task.__name__, namespace.__name__)' 2>&1)"
check_contains "client: an unknown name" "has no attribute 'nope'" \
  "$("${MFLOW_PYTHON:-python3}" -c 'import mflow; mflow.nope' 2>&1)"

# the graph's own modules (ast, hashlib) are left to `mflow check` and the graph's reading
check_eq "graph modules: not loaded in a task" none "$(mflow get "$R/start" graph_modules)"

# each task's own output in its own logs
ids=$(ls "$MFLOW_HOME"/datastore/runs/ServedEnvFlow/$RUN/work/ 2>/dev/null | sed -n 's/^\([0-9]*\)\.0\.json$/\1/p' | sort -n)
check_eq "logs: one record per work task" 7 "$(echo "$ids" | grep -c .)"
outs=""; errs=""
for id in $ids; do
  outs="$outs$(mflow logs "ServedEnvFlow/$RUN/work/$id" --stdout 2>&1)"$'\n'
  errs="$errs$(mflow logs "ServedEnvFlow/$RUN/work/$id" --stderr 2>&1)"$'\n'
done
check_eq "logs: each task's stdout" "$(printf 'out %d\n' 0 1 2 3 4 5 6)" "$(echo "$outs" | grep -o 'out [0-9]*' | sort -n -k2)"
check_eq "logs: each task's stderr" "$(printf 'err %d\n' 0 1 2 3 4 5 6)" "$(echo "$errs" | grep -o 'err [0-9]*' | sort -n -k2)"
check_eq "logs: no stdout in stderr" "" "$(echo "$errs" | grep -o 'out [0-9]*')"

finish
