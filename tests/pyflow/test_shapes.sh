#!/bin/bash
# Graph shapes of Python flows: linear, branch/join, foreach, nested foreach; artifacts read
# back by mflow get and by later steps; the step's output in its log.
. "$(dirname "$0")/lib.sh"

run_flow "$PYFLOWS/linear.py"; rc=$?
check_eq "linear exit" 0 "$rc"
check_eq "linear x" 42 "$(mflow get "LinearFlow/$RUN/end" x)"
check_eq "linear x set in middle" 42 "$(mflow get "LinearFlow/$RUN/middle" x)"
check_eq "start's x" 1 "$(mflow get "LinearFlow/$RUN/start" x)"
check_eq "current.step_name" middle "$(mflow get "LinearFlow/$RUN/middle" seen)"
check_eq "str artifact" linear "$(mflow get "LinearFlow/$RUN/end" name)"
check_contains "end printed with current.pathspec" "x is 42 from middle in LinearFlow/$RUN/end/" \
  "$(mflow logs "LinearFlow/$RUN/end")"
run_flow "$PYFLOWS/linear.py"; rc=$?
check_eq "second run exit" 0 "$rc"
check_eq "second run id" 2 "$RUN"

run_flow "$PYFLOWS/branch.py"; rc=$?
check_eq "branch exit" 0 "$rc"
check_eq "max(i.x for i in inputs)" 12 "$(mflow get "BranchFlow/$RUN/join" x)"
check_eq "inputs.a.x" 11 "$(mflow get "BranchFlow/$RUN/join" from_a)"
check_eq "len(inputs)" 2 "$(mflow get "BranchFlow/$RUN/join" n_inputs)"
check_eq "merged base" 10 "$(mflow get "BranchFlow/$RUN/end" base)"
check_eq "a's x" 11 "$(mflow get "BranchFlow/$RUN/a" x)"
check_eq "b's x" 12 "$(mflow get "BranchFlow/$RUN/b" x)"
check_contains "end log" "max 12 a 11 base 10" "$(mflow logs "BranchFlow/$RUN/end")"

run_flow "$PYFLOWS/foreach.py"; rc=$?
check_eq "foreach exit" 0 "$rc"
check_eq "foreach squares" "9 25 49" "$(mflow get "ForeachFlow/$RUN/join" squares | tr '\n' ' ' | sed 's/ $//')"
check_eq "foreach self.index" "0 1 2" "$(mflow get "ForeachFlow/$RUN/join" positions | tr '\n' ' ' | sed 's/ $//')"
check_eq "foreach tasks" 3 "$(mflow inspect "ForeachFlow/$RUN/square" --json | grep -c '"task_id"')"

run_flow "$PYFLOWS/nested.py"; rc=$?
check_eq "nested exit" 0 "$rc"
check_eq "nested tags" "a1 a2 a3 b1 b2 b3" "$(mflow get "NestedFlow/$RUN/end" all_tags | tr '\n' ' ' | sed 's/ $//')"
check_eq "nested leaf tasks" 6 "$(mflow inspect "NestedFlow/$RUN/leaf" --json | grep -c '"task_id"')"

# a thread the step left running ends before the task does (os._exit would have killed it)
rm -f "$WORK/thread-out"
# (under timeout: a wait for an executor's idle workers never ended)
rm -f "$WORK/runid"
OUT=$(MFLOW_TEST_WORK=$WORK timeout 60 "$MFLOW" run "$PYFLOWS/threads.py" --run-id-file "$WORK/runid" 2>&1); rc=$?
RUN=$(cat "$WORK/runid" 2>/dev/null)
check_eq "threads exit" 0 "$rc"
check_eq "the thread's file, read by the next step" written "$(mflow get "ThreadsFlow/$RUN/end" seen)"
check_contains "the thread's output in the task's log" "thread finished" "$(mflow logs "ThreadsFlow/$RUN/start")"
check_contains "the wait is said" "the step left 1 thread(s) running (late-writer)" \
  "$(mflow logs "ThreadsFlow/$RUN/start" --stderr)"
check_eq "the executor's result" 30 "$(mflow get "ThreadsFlow/$RUN/start" squares)"

# numpy's global generator draws other numbers in each task (served, each child drew the same)
if "${MFLOW_PYTHON:-python3}" -c "import numpy" 2>/dev/null; then
  run_flow "$PYFLOWS/numpy_rng.py"; rc=$?
  check_eq "numpy_rng exit" 0 "$rc"
  check_eq "numpy.random: 6 tasks, 6 numbers" 6 "$(mflow get "NumpyRngFlow/$RUN/join" distinct)"
else
  echo "numpy is not installed: its check is skipped"
fi

finish
