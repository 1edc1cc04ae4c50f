#!/bin/bash
# The task server answers a request (the child's pid) before it reports that child's exit, but
# the orchestrator reads the two on two sockets: an answer that arrives between its read of
# the answers and its read of the events must not lose the exit that follows it (the job
# would never end and the run would wait forever). strace on the orchestrator alone slows it
# between the two reads, and a datastore on tmpfs makes the tasks short enough to exit
# before it reads again, that on main 4c1a26a a 300-task foreach hung in 5 of 12 runs; each
# run here has 30 s (it takes about 2). Without strace the test is skipped.
. "$(dirname "$0")/lib.sh"
need_strace
F=$SRC/bench/flows/trivial_foreach.c   # tasks that do nothing: the shortest there are
SHM=$(mktemp -d /dev/shm/mflow-e2e.XXXXXX 2>/dev/null || mktemp -d "$WORK/ds.XXXXXX")
trap 'rm -rf "$WORK" "$SHM"' EXIT
export MFLOW_DATASTORE_ROOT=$SHM
mflow run "$F" --n=1 >/dev/null 2>&1   # compile once, outside the traces
for i in 1 2 3 4 5; do
  strace -o /dev/null "$MFLOW" run "$F" --n=300 --max-workers 2 \
    --run-id-file "$WORK/runid$i" >"$WORK/r$i.out" 2>&1 &
  st=$!
  for _ in $(seq 60); do kill -0 $st 2>/dev/null || break; sleep 0.5; done
  if kill -0 $st 2>/dev/null; then
    orch=$(pgrep -P $st)
    kill -9 $orch $(pgrep -P "$orch") 2>/dev/null   # the run and its task server
    wait $st 2>/dev/null
    fail "run $i of 300 items did not end within 30 s (an exit event lost?)"
    continue
  fi
  wait $st
  check_eq "run $i: exit status" 0 "$?"
  check_eq "run $i: every item joined" 300 \
    "$(mflow get "TrivialForeach/$(cat "$WORK/runid$i")/join" count 2>&1)"
done
finish
