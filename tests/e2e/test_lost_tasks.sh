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

# The runs' recorded statuses are read at the end by one python3, not one per run: sweep runs
# and notes, judge checks.
RES=$WORK/results
: >"$RES"

# sweep MEMBER ITEMS K: realloc number 1..K after the trigger of MEMBER fails, one per run;
# notes member, nth, items, exit code, run id and end's total (or -) in $RES, the output in a file.
sweep() {
  local member=$1 n=$2 k=$3
  for nth in $(seq 1 "$k"); do
    rm -f "$WORK/trigger" "$WORK/runid"
    TRIGGER_STEP=$member TRIGGER=$WORK/trigger LD_PRELOAD=$SHIM FAILALLOC_CMD=run \
      FAILALLOC_AFTER=$WORK/trigger FAILALLOC_NTH=$nth \
      "$MFLOW" run "$F" --n="$n" --max-workers 1 --run-id-file "$WORK/runid" >"$WORK/out.$member.$nth" 2>&1
    local rc=$? run total=-
    run=$(cat "$WORK/runid" 2>/dev/null)
    [ "$rc" = 0 ] && total=$(mflow get "RetryJoinFlow/$run/end" total 2>/dev/null)
    echo "$member $nth $n $rc ${run:--} ${total:--}" >>"$RES"
  done
}

# judge MEMBER NEEDLE: each of MEMBER's runs either succeeded (exit 0, recorded succeeded, the
# right total) or failed (exit 1, recorded failed); NEEDLE must name the lost task in at least
# one of the failed runs. ST holds "run status" lines.
judge() {
  local member=$1 needle=$2 named=0 failed=0 m nth n rc run total st OUT
  while read -r m nth n rc run total; do
    [ "$m" = "$member" ] || continue
    local expect=$((n * (n - 1) / 2))
    st=$(awk -v r="$run" '$1 == r {print $2}' <<<"$ST")
    OUT=$(cat "$WORK/out.$member.$nth")
    CHECKS=$((CHECKS + 1))
    if [ "$rc" = 0 ]; then
      if [ "$total" = "$expect" ] && [ "$st" = succeeded ]; then
        echo "ok: $member, realloc $nth fails: succeeded with the right total"
      else
        fail "$member, realloc $nth fails: exit 0 and status [$st] but end's total is [$total], not $expect: $OUT"
      fi
    else
      failed=$((failed + 1))
      if [ "$rc" = 1 ] && [ "$st" = failed ]; then
        echo "ok: $member, realloc $nth fails: the run failed (exit 1, recorded failed)"
      else
        fail "$member, realloc $nth fails: exit $rc, status [$st]: $OUT"
      fi
      case "$OUT" in *"$needle"*) named=$((named + 1)) ;; esac
    fi
  done <"$RES"
  if [ -n "$needle" ]; then
    CHECKS=$((CHECKS + 1))
    if [ "$named" -gt 0 ]; then echo "ok: $member: $named failed run(s) name the lost task"
    else fail "$member: no run of the $failed that failed says [$needle]"; fi
  fi
}

# Retried: item 0 fails, is queued again (63 items fill the first 64 queue slots).
sweep retry 63 10
# Split: queuing 70 items grows the task table and the queue.
sweep start 70 6
# Join: the last item's arrival makes the join (the 65th task).
sweep last 63 10
ST=$(python3 - "$MFLOW_HOME/datastore/runs/RetryJoinFlow" $(awk '{print $5}' "$RES") <<'PY'
import json, os, sys
for run in sys.argv[2:]:
    try:
        st = json.load(open(os.path.join(sys.argv[1], run, "run.json")))["status"]
    except Exception:
        st = ""
    print(run, st)
PY
)
judge retry "as an input of join 'join'"
judge start "cannot queue step 'body' (item 63 of 70) after start/1"
judge last "cannot queue join 'join' (all 63 inputs of split start/1 arrived)"

# Without injection the same runs succeed (the shim counts nothing before its trigger).
run_ok "the flow runs clean" mflow run "$F" --n=63 --max-workers 1
check_contains "a retry happened" "retrying body/2 (attempt 2 of 2)" "$OUT"
finish
