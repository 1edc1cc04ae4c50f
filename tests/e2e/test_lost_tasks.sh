#!/bin/bash
# A run is SUCCEEDED only when `end` succeeded and no task was lost. One realloc of the
# orchestrator fails (failalloc.so), at each of the first allocations after a chosen moment:
# after a task failed and is retried, after the foreach split (queuing its items), after the
# last item (queuing the join). Whatever fails, the run either succeeds with the right answer
# or fails (exit 1, recorded failed) naming what was lost; it never reports success without
# having run `end`.
. "$(dirname "$0")/lib.sh"
F=$FLOWS/retry_join.c
SHIM=${MFLOW_FAILALLOC:?MFLOW_FAILALLOC is not set (run through meson test)}
mflow run "$F" --n=1 >/dev/null 2>&1   # compile once

status_of() {
  python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['status'])" \
    "$MFLOW_HOME/datastore/runs/RetryJoinFlow/$1/run.json" 2>/dev/null
}

# sweep MEMBER ITEMS K NEEDLE: realloc number 1..K after the trigger of MEMBER fails, one per
# run; NEEDLE must name the lost task in at least one of the failed runs.
sweep() {
  local member=$1 n=$2 k=$3 needle=$4 named=0 failed=0
  local expect=$((n * (n - 1) / 2))
  for nth in $(seq 1 "$k"); do
    rm -f "$WORK/trigger" "$WORK/runid"
    OUT=$(TRIGGER_STEP=$member TRIGGER=$WORK/trigger LD_PRELOAD=$SHIM FAILALLOC_CMD=run \
          FAILALLOC_AFTER=$WORK/trigger FAILALLOC_NTH=$nth \
          "$MFLOW" run "$F" --n="$n" --max-workers 1 --run-id-file "$WORK/runid" 2>&1)
    local rc=$? run
    run=$(cat "$WORK/runid" 2>/dev/null)
    CHECKS=$((CHECKS + 1))
    if [ "$rc" = 0 ]; then
      local total st
      total=$(mflow get "RetryJoinFlow/$run/end" total 2>/dev/null)
      st=$(status_of "$run")
      if [ "$total" = "$expect" ] && [ "$st" = succeeded ]; then
        echo "ok: $member, realloc $nth fails: succeeded with the right total"
      else
        fail "$member, realloc $nth fails: exit 0 and status [$st] but end's total is [$total], not $expect: $OUT"
      fi
    else
      failed=$((failed + 1))
      local st
      st=$(status_of "$run")
      if [ "$rc" = 1 ] && [ "$st" = failed ]; then
        echo "ok: $member, realloc $nth fails: the run failed (exit 1, recorded failed)"
      else
        fail "$member, realloc $nth fails: exit $rc, status [$st]: $OUT"
      fi
      case "$OUT" in *"$needle"*) named=$((named + 1)) ;; esac
    fi
  done
  if [ -n "$needle" ]; then
    CHECKS=$((CHECKS + 1))
    if [ "$named" -gt 0 ]; then echo "ok: $member: $named failed run(s) name the lost task"
    else fail "$member: no run of the $failed that failed says [$needle]"; fi
  fi
}

# Retried: item 0 fails, is queued again (63 items fill the first 64 queue slots).
sweep retry 63 10 "as an input of join 'join'"
# Split: queuing 70 items grows the task table and the queue.
sweep start 70 6 "cannot queue step 'body' (item 63 of 70) after start/1"
# Join: the last item's arrival makes the join (the 65th task).
sweep last 63 10 "cannot queue join 'join' (all 63 inputs of split start/1 arrived)"

# Without injection the same runs succeed (the shim counts nothing before its trigger).
run_ok "the flow runs clean" mflow run "$F" --n=63 --max-workers 1
check_contains "a retry happened" "retrying body/2 (attempt 2 of 2)" "$OUT"
finish
