#!/bin/bash
# k8s compute on the API stand-in: Ctrl-C and SIGTERM delete every Job of the run
# (propagationPolicy Background, so their pods go too); after a kill -9 of `mflow run`,
# `mflow resume` reuses the finished tasks and deletes the killed run's still-running Jobs, so
# no task runs twice at once.
. "$MFLOW_TEST_SOURCE_ROOT/tests/e2e/lib.sh"
. "$SRC/tests/k8s/k8s-e2e-lib.sh"
F=$SRC/tests/e2e/flows/slow_foreach.c

# active FLOW RUN: Jobs of the run that are neither finished nor being deleted
active() {
  admin "/apis/batch/v1/namespaces/default/jobs?labelSelector=mflow%2Fflow%3D$1%2Cmflow%2Frun%3D$2" |
    python3 -c '
import json, sys
n = 0
for j in json.load(sys.stdin)["items"]:
    done = any(c["type"] in ("Complete", "Failed") and c["status"] == "True" for c in j.get("status", {}).get("conditions", []))
    if not done and not j["metadata"].get("deletionTimestamp"):
        n += 1
print(n)'
}
# live_pods FLOW RUN: pods of the run not ended (a finished task's pod stays with its Job
# until ttlSecondsAfterFinished)
live_pods() {
  admin "/api/v1/namespaces/default/pods?labelSelector=mflow%2Fflow%3D$1%2Cmflow%2Frun%3D$2" |
    python3 -c 'import json,sys; print(sum(p["status"].get("phase") not in ("Succeeded", "Failed") for p in json.load(sys.stdin)["items"]))'
}
# wait_for N CMD...: until CMD prints N (at most 30 s)
wait_for() {
  local want=$1; shift
  for _ in $(seq 1 150); do [ "$("$@")" = "$want" ] && return 0; sleep 0.2; done
  return 1
}

# A background job of a script starts with SIGINT ignored: give mflow the default back, as a
# terminal's Ctrl-C would find it.
SIGDFL='import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execvp(sys.argv[1], sys.argv[1:])'
for sig in INT TERM; do
  rm -f "$WORK/runid"
  python3 -c "$SIGDFL" "$MFLOW" --compute=k8s --datastore-root="$ROOT" run "$F" --n=5 --ms=30000 --run-id-file "$WORK/runid" > "$WORK/$sig.log" 2>&1 &
  pid=$!
  wait_for 1 bash -c "[ -s '$WORK/runid' ] && echo 1"
  run=$(cat "$WORK/runid")
  wait_for 5 active SlowForeach "$run" || fail "$sig: the 5 body Jobs did not start"
  kill -$sig $pid
  wait $pid; rc=$?
  check_eq "SIG$sig fails the run" 1 "$([ $rc -ne 0 ] && echo 1 || echo 0)"
  check_contains "SIG$sig cancels the tasks" "cancelling" "$(cat "$WORK/$sig.log")"
  check_eq "SIG$sig: no Job of the run is left running" 0 "$(active SlowForeach "$run")"
  wait_for 0 live_pods SlowForeach "$run"
  check_eq "SIG$sig: their pods are gone too" 0 "$(live_pods SlowForeach "$run")"
done

# kill -9 mid-run, then resume
rm -f "$WORK/runid"
m run "$F" --n=4 --ms=12000 --run-id-file "$WORK/runid" > "$WORK/k9.log" 2>&1 &
pid=$!
wait_for 1 bash -c "[ -s '$WORK/runid' ] && echo 1"
origin=$(cat "$WORK/runid")
wait_for 4 active SlowForeach "$origin" || fail "the 4 body Jobs did not start"
kill -9 $pid
wait $pid 2>/dev/null
check_eq "the killed run's Jobs go on without it" 4 "$(active SlowForeach "$origin")"
m resume "$F" --origin-run-id "$origin" --run-id-file "$WORK/runid2" > "$WORK/resume.log" 2>&1 &
rpid=$!
wait_for 1 bash -c "[ -s '$WORK/runid2' ] && echo 1"
r2=$(cat "$WORK/runid2")
wait_for 1 bash -c "[ \"\$(admin '/apis/batch/v1/namespaces/default/jobs?labelSelector=mflow%2Fflow%3DSlowForeach%2Cmflow%2Frun%3D$r2' | grep -c -- '-body-')\" -gt 0 ] && echo 1" 2>/dev/null
check_eq "while the resumed run's tasks run, none of the killed run's does" 0 "$(active SlowForeach "$origin")"
wait $rpid; rc=$?
check_eq "resume succeeds" 0 "$rc"
check_contains "resume reused the finished start" "finished task(s) can be reused" "$(cat "$WORK/resume.log")"
check_eq "the resumed run's result" "$(run_flow "$F" --n=4 --ms=1 >/dev/null; mflow get SlowForeach/$RUN/end sum 2>/dev/null)" \
  "$(m get SlowForeach/$r2/end sum 2>/dev/null)"
check_eq "no Job for the cloned start" 0 "$(jobs_of SlowForeach "$r2" | tr ' ' '\n' | grep -c -- '-start-')"

# Two datastores share the namespace: both have run 1 of HelloFlow, so the same Job names.
# The second run's creates get 409 for the first's Jobs: it must not take them for its own
# (it once read the other's finished Job as its start, "exited with code 0 without a task
# record") nor delete them; it fails saying whose they are.
ROOT=s3://$S3FIX_BUCKET/k8s-alice MFLOW_HOME=$WORK/home-alice krun "$SRC/examples/hello.c" --name=alice ||
  fail "alice's run: $OUT"
ra=$RUN
alice_jobs=$(jobs_of HelloFlow "$ra")
check_eq "alice's run has its 3 Jobs" 3 "$(echo $alice_jobs | wc -w)"
( ROOT=s3://$S3FIX_BUCKET/k8s-bob MFLOW_HOME=$WORK/home-bob
  krun "$SRC/examples/hello.c" --name=bob; echo "rc=$? run=$RUN"; echo "$OUT" ) > "$WORK/bob.log" 2>&1
bob=$(cat "$WORK/bob.log")
check_contains "bob's run has the same run id" "run=$ra" "$bob"
check_contains "bob's run fails" "rc=1" "$bob"
check_contains "bob's start names the other mflow's Job" "start/1 (attempt 0) failed: step 'start' failed: k8s: Job mflow-helloflow-$ra-start-1-0" "$bob"
check_contains "and says what to do" "is another mflow's" "$bob"
check_eq "alice's Jobs are left alone" "$alice_jobs" "$(jobs_of HelloFlow "$ra")"
finish
