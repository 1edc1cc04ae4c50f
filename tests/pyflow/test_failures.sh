#!/bin/bash
# Failing Python steps: an exception (traceback in the log, ExceptionType: message as the
# failure), retry, catch, timeout, a task that exits or is killed, resume.
. "$(dirname "$0")/lib.sh"
F=$PYFLOWS/failing.py

run_flow "$F" --mode=raise; rc=$?
check_eq "exception: exit" 1 "$rc"
check_contains "exception: failure message" "failed: ValueError: bad value 3" "$OUT"
LOG=$(mflow logs "FailingFlow/$RUN/boom" --stderr 2>&1)
check_contains "exception: traceback in the log" "Traceback (most recent call last):" "$LOG"
check_contains "exception: the step's frame" "line 21, in boom" "$LOG"
check_contains "exception: the helper's frame" "in helper" "$LOG"
check_contains "exception: the exception" "ValueError: bad value 3" "$LOG"
case "$LOG" in *mflow/task.py*) fail "the SDK's own frame is in the traceback: $LOG" ;; *) echo "ok: no SDK frame" ;; esac
check_eq "exception: retried twice" 3 "$(ls "$MFLOW_HOME"/datastore/runs/FailingFlow/$RUN/boom/2.*.json | wc -l)"
check_contains "exception: the record's message" "ValueError: bad value 3" \
  "$(cat "$MFLOW_HOME"/datastore/runs/FailingFlow/$RUN/boom/2.2.json)"

run_flow "$F" --mode=flaky; rc=$?
check_eq "retry: a flaky step succeeds on its third attempt" 0 "$rc"
check_eq "retry: current.retry_count" "after 2" "$(mflow get "FailingFlow/$RUN/end" done)"

run_flow "$F" --mode=sleep; rc=$?
check_eq "timeout: exit" 1 "$rc"
check_contains "timeout: said" "timed out after 2 s" "$OUT"

run_flow "$F" --mode=exit; rc=$?
check_eq "os._exit: exit" 1 "$rc"
check_contains "os._exit: said" "exited with code 3" "$OUT"

run_flow "$F" --mode=kill; rc=$?
check_eq "SIGKILL: exit" 1 "$rc"
check_contains "SIGKILL: said" "killed by signal 9" "$OUT"

run_flow "$PYFLOWS/caught.py"; rc=$?
check_eq "catch: the run goes on" 0 "$rc"
check_eq "catch: the error stored" "KeyError: 'risky step gave up' (exit code 1)" "$(mflow get "CaughtFlow/$RUN/end" seen)"
check_eq "catch: later steps ran" 10 "$(mflow get "CaughtFlow/$RUN/end" x2)"
run_flow "$PYFLOWS/caught.py" --how=abort; rc=$?
check_eq "catch of a crash: exit" 0 "$rc"
check_contains "catch of a crash: signal named" "signal 6" "$(mflow get "CaughtFlow/$RUN/end" seen)"

# resume: the seed's example fails once in process; resume reuses start
R=$SRC/examples/python/resume.py
export FAIL_ONCE=$WORK/fail-once
touch "$FAIL_ONCE"
run_flow "$R"; rc=$?
check_eq "resume: the first run fails" 1 "$rc"
check_contains "resume: why" "RuntimeError: process failed on purpose (FAIL_ONCE)" "$OUT"
origin=$RUN
OUT=$(mflow resume "$R" --run-id-file "$WORK/runid" 2>&1); rc=$?
r2=$(cat "$WORK/runid")
check_eq "resume: exit" 0 "$rc"
check_contains "resume: from the failed step" "resuming ResumeFlow/$origin from step 'process'" "$OUT"
check_eq "resume: result" 45 "$(mflow get "ResumeFlow/$r2/end" total)"
check_eq "resume: start was cloned, not run" "$origin" "$(mflow get "ResumeFlow/$r2/end" loaded_in)"
# a failure of the core during a step is an exception the step may catch and go on
run_flow "$PYFLOWS/core_errors.py"; rc=$?
check_eq "core error caught: exit" 0 "$rc"
check_contains "core error caught: the core's message" "artifact name 'bad name' is not valid" \
  "$(mflow get "CoreErrorFlow/$RUN/join" caught)"
check_contains "merge conflict caught" "cannot merge artifact 'x': inputs disagree on its value" \
  "$(mflow get "CoreErrorFlow/$RUN/join" merge_error)"
check_eq "the step went on after both" 3 "$(mflow get "CoreErrorFlow/$RUN/end" x)"
run_flow "$PYFLOWS/core_errors.py" --mode=uncaught; rc=$?
check_eq "core error uncaught: exit" 1 "$rc"
check_contains "core error uncaught: the failure" "failed: MflowError: step 'join': cannot merge artifact 'x'" "$OUT"
finish
