#!/bin/bash
# In a sanitized build (make test-asan) the task server's forked tasks end by exit, for
# LeakSanitizer's check, only on a sample: the first two tasks of each step, every 16th task
# and every task that fails (LSan costs each checked task 30-40 ms of CPU). A leak in any step
# must still be found: this flow leaks a different size in each step, across a 40-item foreach.
# The reports go to this test's own folder (a sanitizer log of the suite's would fail the run).
. "$(dirname "$0")/lib.sh"
if [ -z "${MFLOW_TEST_SANITIZE:-}" ]; then
  echo "SKIP: a plain build; this checks the sanitized build's leak check (make test-asan)"
  exit 77
fi
F=$FLOWS/leaky_foreach.c
LOGS=$WORK/lsan
opts=${ASAN_OPTIONS:-}
opts=$(sed -E 's/(^|:)log_path=[^:]*//' <<<"$opts")

# leaks MODE N: runs the flow over N items (MODE all: every task checked); sets st bo jo en to the number of
# reports of each step's leak.
leaks() {
  rm -rf "$LOGS" && mkdir -p "$LOGS"
  MFLOW_TS_LEAK_CHECK=$1 ASAN_OPTIONS="$opts:detect_leaks=1:log_path=$LOGS/asan" \
    "$MFLOW" run "$F" --n="$2" >"$WORK/out" 2>&1 || { fail "the leaky flow's run ($1): $(cat "$WORK/out")"; return; }
  n() { grep -l "Direct leak of $1 byte" "$LOGS"/* 2>/dev/null | wc -l; }
  st=$(n 6) bo=$(n 7) jo=$(n 8) en=$(n 9)
}

leaks sample 40
check_eq "the start step's leak is found" 1 "$st"
check_eq "the join's leak is found" 1 "$jo"
check_eq "the end step's leak is found" 1 "$en"
CHECKS=$((CHECKS + 1))
# the first two items, and those forked 16th and 32nd (the server's first task was start)
if [ "$bo" -ge 2 ] && [ "$bo" -le 6 ]; then echo "ok: a sample of the 40 items is checked ($bo)"
else fail "the 40 items: $bo leak reports, expected 2 to 6 (a sample)"; fi

leaks all 12
check_eq "MFLOW_TS_LEAK_CHECK=all: every item is checked" 12 "$bo"
check_eq "MFLOW_TS_LEAK_CHECK=all: the end step too" 1 "$en"
finish
