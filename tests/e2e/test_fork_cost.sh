#!/bin/bash
# What a task forked by the task server pays before its step runs, in page faults (README
# "What a task costs"): the server's code and read-only data come to each child already
# mapped. Each body task of fault_count.c records /proc/self/stat's minflt as its step
# starts. On this project's VM a forked task took 61 faults there before the server shared
# its code mappings, 29 after; an exec'ed task takes about 128.
. "$(dirname "$0")/lib.sh"
if [ -n "${MFLOW_TEST_SANITIZE:-}" ]; then
  echo "SKIP: a $MFLOW_TEST_SANITIZE build: the sanitizer's own mappings set the page faults"
  exit 77
fi
F=$FLOWS/fault_count.c
mflow run "$F" --n=1 >/dev/null 2>&1   # compile once

# faults N ENV...: the body tasks' counts of a run with N items, one a line.
faults() {
  local n=$1; shift
  env "$@" "$MFLOW" run "$F" --n="$n" --max-workers 2 --run-id-file "$WORK/runid" >"$WORK/out" 2>&1 ||
    { fail "run with $*: $(cat "$WORK/out")"; return; }
  mflow get "FaultCount/$(cat "$WORK/runid")/join" faults
}

for n in 3 8; do
  forked=$(faults $n MFLOW_LOCAL_TASK_SERVER=on)
  check_eq "n=$n: every body task counted its faults" "$n" "$(echo "$forked" | grep -cE '^[0-9]+$')"
  worst=$(echo "$forked" | sort -n | tail -1)
  check_eq "n=$n: a forked task takes at most 40 faults before its step (took $worst)" 1 \
    "$([ -n "$worst" ] && [ "$worst" -gt 0 ] && [ "$worst" -le 40 ] && echo 1 || echo 0)"
done

# The measure itself: an exec'ed task maps everything again and takes far more.
execd=$(faults 2 MFLOW_LOCAL_TASK_SERVER=off)
least=$(echo "$execd" | sort -n | head -1)
check_eq "an exec'ed task takes more than 80 faults before its step (took $least)" 1 \
  "$([ -n "$least" ] && [ "$least" -gt 80 ] && echo 1 || echo 0)"

finish
