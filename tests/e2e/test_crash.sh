#!/bin/bash
# kill -9 of `mflow run` at random moments, then resume completes it reusing finished tasks;
# Ctrl-C cancels, records the run as cancelled and exits 130 without leaving tasks behind.
. "$(dirname "$0")/lib.sh"
F=$FLOWS/many.c
VERIFY=${MFLOW_VERIFY_BLOBS:?}
N=300
# A sanitized build (make test-asan) runs each task several times slower and checks each
# process for leaks at its exit: fewer tasks still put every kill mid-run.
[ -n "${MFLOW_TEST_SANITIZE:-}" ] && N=100
EXPECT=$((3 * N * (N - 1) / 2))
mflow run "$F" --n=2 >/dev/null 2>&1   # compile once, outside the timing

# settle RUN PID...: until the killed run's task servers (PIDs) are gone and its count of task
# records has stayed the same for 0.6 s (20 s at most): its orphaned tasks finish on their own,
# and a record written after the resume read the run would not count as reused. A fixed 0.3 s
# was enough only on an idle machine; beside other tests a task can take longer to end.
settle() {
  local dir=$MFLOW_HOME/datastore/runs/ManyFlow/$1; shift
  local last=-1 same=0 n p alive i
  for i in $(seq 100); do
    n=$(ls "$dir"/*/*.json 2>/dev/null | wc -l)
    alive=0
    for p in "$@"; do kill -0 "$p" 2>/dev/null && alive=1; done
    if [ "$alive" = 0 ] && [ "$n" = "$last" ]; then
      same=$((same + 1)); [ "$same" -ge 3 ] && return 0
    else
      same=0
    fi
    last=$n
    sleep 0.2
  done
  echo "the killed run $1 was still writing task records after 20 s"
}

# 300 tasks of 25 ms on 2 workers take about 4 s: every kill below lands mid-run.
for round in 1 2 3 4 5; do
  delay=$(python3 -c "import random; print(round(random.uniform(0.2, 1.6), 2))")
  "$MFLOW" run "$F" --n=$N --sleep_ms=25 --run-id-file "$WORK/killed" > "$WORK/run.log" 2>&1 &
  pid=$!
  sleep "$delay"
  servers=$(pgrep -P $pid)   # the run's task server(s), orphaned by the kill
  kill -9 $pid 2>/dev/null
  wait $pid 2>/dev/null
  killed=$(cat "$WORK/killed" 2>/dev/null)
  if [ -z "$killed" ]; then echo "round $round: killed before a run id was written"; sleep 0.3; continue; fi
  settle "$killed" $servers
  st=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['status'])" "$MFLOW_HOME/datastore/runs/ManyFlow/$killed/run.json")
  check_eq "round $round: killed run is recorded as running (after ${delay}s)" running "$st"
  OUT=$(mflow resume "$F" --origin-run-id "$killed" --run-id-file "$WORK/resumed" 2>&1) || fail "round $round: resume failed: $OUT"
  r=$(cat "$WORK/resumed")
  check_eq "round $round: resumed result" "$EXPECT" "$(mflow get ManyFlow/$r/end sum)"
  cloned=$(echo "$OUT" | sed -n 's/.*(\([0-9]*\) cloned in .*/\1/p')
  finished=$(grep -l '"status":"succeeded"' "$MFLOW_HOME"/datastore/runs/ManyFlow/$killed/*/*.json | wc -l)
  echo "round $round: killed after ${delay}s with $finished finished tasks; resume cloned $cloned"
  check_eq "round $round: resume reused every finished task" "$finished" "$cloned"
done
run_ok "every blob matches its hash" "$VERIFY" "$MFLOW_HOME/datastore"
echo "$OUT"
check_eq "no temp files visible to list" 0 "$(find "$MFLOW_HOME/datastore" -name '*.tmp.*' -newer "$WORK/killed" -mmin +1 | wc -l)"

# Ctrl-C: cancel, record, exit 130, no orphans.
"$MFLOW" run "$F" --n=100 --sleep_ms=400 --run-id-file "$WORK/int" > "$WORK/int.log" 2>&1 &
pid=$!
sleep 1.5
kill -INT $pid
wait $pid; rc=$?
check_eq "interrupted run exits 130" 130 "$rc"
r=$(cat "$WORK/int")
check_eq "interrupted run recorded as cancelled" cancelled \
  "$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['status'])" "$MFLOW_HOME/datastore/runs/ManyFlow/$r/run.json")"
sleep 0.5
check_eq "no task left running" 0 "$(pgrep -f "task .* --run-id $r " | wc -l)"
check_contains "interrupt reported" "interrupted" "$(cat "$WORK/int.log")"
finish
