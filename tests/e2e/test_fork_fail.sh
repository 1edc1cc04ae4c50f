#!/bin/bash
# The task server's fork fails (failfork.so, as at the process limit): the task that could not
# start fails with the reason, its step's retries apply, and a run whose last task could not
# start ends (exit 1) rather than waiting for an exit event that never comes (the answer of a
# failed fork is the only word of it); a resume then runs only what had not finished.
. "$(dirname "$0")/lib.sh"
if [ -n "${MFLOW_TEST_SANITIZE:-}" ]; then
  echo "SKIP: a $MFLOW_TEST_SANITIZE build: the fork shim is not sanitized and cannot be preloaded before the sanitizer's runtime"
  exit 77
fi
F=$FLOWS/retry_join.c
SHIM=${MFLOW_FAILFORK:?MFLOW_FAILFORK is not set (run through meson test)}
mflow run "$F" --n=1 >/dev/null 2>&1   # compile once

# retry_join.c over 4 items, one task at a time: start, the body items 0-3 in order (item 0
# fails its first attempt by design), item 0's retry, join, end. Counted from the last fork
# (end's, C): join C-1, item 0's retry C-2, item 3 C-3 (the server may fork before start too,
# to probe the flow). How many forks a whole run's server makes:
LD_PRELOAD=$SHIM FAILFORK_NTH=0 FAILFORK_COUNT=$WORK/count "$MFLOW" run "$F" --n=4 --max-workers 1 >/dev/null 2>&1 ||
  fail "the counting run failed"
C=$(cat "$WORK/count")
CHECKS=$((CHECKS + 1))
if [ "${C:-0}" -ge 8 ]; then echo "ok: $C forks in a run of 8 task attempts"; else fail "only ${C:-0} forks counted"; fi

# Item 3's fork fails: retried, the run succeeds with the right answer.
OUT=$(LD_PRELOAD=$SHIM FAILFORK_NTH=$((C - 3)) timeout 60 "$MFLOW" run "$F" --n=4 --max-workers 1 \
  --run-id-file "$WORK/r1" 2>&1)
check_eq "a body item that could not start is retried: the run succeeds" 0 $?
check_contains "its reason is said" "could not start: job RetryJoinFlow/" "$OUT"
check_contains "naming the server's fork" "the task server cannot create a process" "$OUT"
check_contains "and the retry" "retrying body/" "$OUT"
R1=$(cat "$WORK/r1")
check_eq "the answer" 6 "$(mflow get "RetryJoinFlow/$R1/end" total)"
check_eq "the items that took a second attempt: 0 (by design) and 3 (its fork)" "[0, 3]" \
  "$(mflow inspect "RetryJoinFlow/$R1/body" --json | python3 -c 'import json,sys; print(sorted(t["foreach"]["index"] for t in json.load(sys.stdin)["tasks"] if t["attempt"] > 0))')"

# end's fork fails, no retries: the run ends failed (it waited forever when no exit event
# would come), with every task before it kept.
OUT=$(LD_PRELOAD=$SHIM FAILFORK_NTH=$C timeout 60 "$MFLOW" run "$F" --n=4 --max-workers 1 \
  --run-id-file "$WORK/r2" 2>&1)
check_eq "a last task that could not start ends the run: exit 1, not a hang (124)" 1 $?
check_contains "end is named" "end/" "$OUT"
check_contains "with its reason" "could not start" "$OUT"
R2=$(cat "$WORK/r2")
check_eq "the run is recorded failed" failed \
  "$(mflow runs RetryJoinFlow --json | python3 -c "import json,sys; print([r['status'] for r in json.load(sys.stdin) if r['run_id'] == $R2][0])")"
run_ok "resume" mflow resume "$F" --origin-run-id "$R2" --run-id-file "$WORK/r3"
check_contains "six finished tasks reused" "6 cloned" "$OUT"
check_eq "the resumed run's answer" 6 "$(mflow get "RetryJoinFlow/$(cat "$WORK/r3")/end" total)"
finish
