#!/bin/bash
# `python3 flow.py run|resume|show|check|--help` does what `mflow COMMAND flow.py` does, with
# the same output and exit codes.
. "$(dirname "$0")/lib.sh"
PY=${MFLOW_PYTHON:-python3}

# compare WHAT ARGS...: the same exit code from both ways (output kept in OUT_M and OUT_P)
compare() {
  local what=$1; shift
  OUT_M=$(mflow "$@" 2>&1); local rm=$?
  OUT_P=$("$PY" "$F" "$@" 2>&1); local rp=$?
  check_eq "$what: same exit code ($rm)" "$rm" "$rp"
  RC=$rp
}

F=$PYFLOWS/params.py
# mflow COMMAND FLOW ARGS vs python3 FLOW COMMAND ARGS
cmp_cmd() {
  local what=$1 cmd=$2; shift 2
  OUT_M=$(mflow "$cmd" "$F" "$@" 2>&1); local rm=$?
  OUT_P=$("$PY" "$F" "$cmd" "$@" 2>&1); local rp=$?
  check_eq "$what: same exit code" "$rm" "$rp"
  RC=$rp
}
cmp_cmd "run ok" run --seed=3
check_eq "run ok: exit 0" 0 "$RC"
check_contains "run ok: the run's output" "succeeded" "$OUT_P"
cmp_cmd "run, a required parameter missing" run
check_eq "missing parameter: exit 1" 1 "$RC"
check_eq "missing parameter: same message" "$OUT_M" "$OUT_P"
cmp_cmd "run, a bad value" run --seed=zz
check_eq "bad value: exit 1" 1 "$RC"
check_eq "bad value: same message" "$OUT_M" "$OUT_P"
cmp_cmd "show" show
check_eq "show: exit 0" 0 "$RC"
check_eq "show: same output" "$OUT_M" "$OUT_P"
cmp_cmd "check" check
check_eq "check: exit 0" 0 "$RC"
cmp_cmd "run --max-workers without a value" run --seed=1 --max-workers
check_eq "bad option: exit 2" 2 "$RC"

F=$PYFLOWS/failing.py
cmp_cmd "a failing run" run --mode=raise
check_eq "failing run: exit 1" 1 "$RC"
check_contains "failing run: the failure" "ValueError: bad value 3" "$OUT_P"

# global options before the command
OUT=$("$PY" "$PYFLOWS/linear.py" --home "$WORK/otherhome" run 2>&1); rc=$?
check_eq "global option before the command: exit" 0 "$rc"
check_eq "global option before the command: used" 1 "$(ls "$WORK/otherhome/datastore/runs/LinearFlow" | wc -l)"

# resume through the script
R=$SRC/examples/python/resume.py
export FAIL_ONCE=$WORK/fail-once
touch "$FAIL_ONCE"
OUT=$("$PY" "$R" run 2>&1); rc=$?
check_eq "script run that fails: exit" 1 "$rc"
OUT=$("$PY" "$R" resume 2>&1); rc=$?
check_eq "script resume: exit" 0 "$rc"
check_contains "script resume: from process" "from step 'process'" "$OUT"

OUT=$("$PY" "$PYFLOWS/params.py" --help 2>&1); rc=$?
check_eq "--help: exit 0" 0 "$rc"
check_contains "--help: commands" "run|resume|show|check" "$OUT"
check_contains "--help: a parameter" "--alpha=FLOAT  learning rate (default 0.5)" "$OUT"
check_contains "--help: a required one" "--seed=INT  random seed (required)" "$OUT"
OUT=$("$PY" "$PYFLOWS/params.py" 2>&1); rc=$?
check_eq "no command: exit 2" 2 "$rc"
OUT=$("$PY" "$PYFLOWS/params.py" fly 2>&1); rc=$?
check_eq "unknown command: exit 2" 2 "$rc"
check_contains "unknown command: said" "unknown command 'fly'" "$OUT"
OUT=$(MFLOW_BIN=$WORK/none "$PY" "$PYFLOWS/params.py" show 2>&1); rc=$?
check_eq "no mflow: exit 127" 127 "$rc"
finish
