#!/bin/bash
# k8s compute on the API stand-in: timeout_s when the job controller does not enforce the Job's
# activeDeadlineSeconds (the stand-in's fault ignore_deadlines, as a late controller): mflow
# ends the task itself deadline_grace_s after its timeout, deletes its Job and names the
# timeout; with deadline_grace_s -1 it waits for the Job's deadline alone; without the fault
# the Job's DeadlineExceeded is what the message says.
. "$MFLOW_TEST_SOURCE_ROOT/tests/e2e/lib.sh"
. "$SRC/tests/k8s/k8s-e2e-lib.sh"
F=$FLOWS/failing.c      # work: sleeps 30 s, timeout_s 2, retry 1

# live_pods FLOW RUN: pods of the run not ended and not being deleted
live_pods() {
  admin "/api/v1/namespaces/default/pods?labelSelector=mflow%2Fflow%3D$1%2Cmflow%2Frun%3D$2" |
    python3 -c 'import json,sys; print(sum(p["status"].get("phase") not in ("Succeeded", "Failed") and not p["metadata"].get("deletionTimestamp") for p in json.load(sys.stdin)["items"]))'
}
# work_jobs RUN: the names of the run's work Jobs
work_jobs() { jobs_of FailingFlow "$1" | tr ' ' '\n' | grep -- '-work-'; }
# until_eq WANT CMD...: until CMD prints WANT (at most 30 s)
until_eq() {
  local want=$1; shift
  for _ in $(seq 1 150); do [ "$("$@")" = "$want" ] && return 0; sleep 0.2; done
  return 1
}
# job_conditions JOB: its conditions as TYPE/REASON words
job_conditions() {
  admin "/apis/batch/v1/namespaces/default/jobs/$1" |
    python3 -c 'import json,sys; print(" ".join(c["type"] + "/" + c.get("reason", "") for c in json.load(sys.stdin).get("status", {}).get("conditions", [])))'
}

# ---- the Job's deadline not enforced: mflow ends the task ----
faults '{"ignore_deadlines":true}'
start=$(date +%s.%N)
MFLOW_K8S_DEADLINE_GRACE_S=2 krun "$F" --mode=sleep; rc=$?
took=$(python3 -c "import sys; print(round(float(sys.argv[2]) - float(sys.argv[1]), 1))" "$start" "$(date +%s.%N)")
check_eq "the overrun fails the run" 1 "$rc"
check_contains "named a timeout, as locally" "step 'work' timed out after 2 s (timeout_s); the task was killed: Job mflow-" "$OUT"
check_contains "says mflow ended it and which setting" "past its activeDeadlineSeconds (2 s) and k8s deadline_grace_s (2 s): mflow deleted the Job" "$OUT"
n=$(printf %s "$OUT" | grep -c "k8s deadline_grace_s (2 s): mflow deleted the Job")
check_eq "both attempts ended by mflow" 2 "$n"
[ "$n" = 2 ] || printf 'the run said:\n%s\n' "$OUT" >&2
# each attempt: 2 s + 2 s of grace + a poll (11-14 s in all under load 20, the flow's build
# included); had either run its 30 s sleep the run would take more than 60 s
check_eq "ended soon after timeout + grace, twice ($took s)" 1 "$(python3 -c "import sys; print(int(8 <= float(sys.argv[1]) < 45))" "$took")"
until_eq "" work_jobs "$RUN"
check_eq "the timed-out Jobs are deleted" "" "$(work_jobs "$RUN")"
check_eq "the finished start's Job stays (ttlSecondsAfterFinished)" 1 "$(jobs_of FailingFlow "$RUN" | tr ' ' '\n' | grep -c -- '-start-')"
until_eq 0 live_pods FailingFlow "$RUN"
check_eq "no pod of the run runs on" 0 "$(live_pods FailingFlow "$RUN")"

# ---- deadline_grace_s -1: the Job's deadline alone (here: until the fault is lifted) ----
rm -f "$WORK/runid"
MFLOW_K8S_DEADLINE_GRACE_S=-1 "$MFLOW" --compute=k8s --datastore-root="$ROOT" run "$F" --mode=sleep \
  --run-id-file "$WORK/runid" >"$WORK/off.log" 2>&1 &
pid=$!
# the work Job created (the flow is compiled first: up to 60 s under load)
for _ in $(seq 1 300); do [ -s "$WORK/runid" ] && [ -n "$(work_jobs "$(cat "$WORK/runid")")" ] && break; sleep 0.2; done
RUN=$(cat "$WORK/runid")
sleep 6     # 2 s of timeout_s, and more than the grace above, gone by (the run ends by itself no sooner than 30 s)
check_eq "grace -1: the run goes on past timeout_s" 1 "$(kill -0 $pid 2>/dev/null && echo 1 || echo 0)"
job=$(jobs_of FailingFlow "$RUN" | tr ' ' '\n' | grep -- '-work-')
check_eq "its Job has no condition" "" "$(job_conditions "$job")"
faults '{}'      # the controller catches up: DeadlineExceeded for the overdue Job
until_eq "FailureTarget/DeadlineExceeded Failed/DeadlineExceeded" job_conditions "$job"
check_eq "the fault lifted: the Job fails DeadlineExceeded" "FailureTarget/DeadlineExceeded Failed/DeadlineExceeded" "$(job_conditions "$job")"
wait $pid; rc=$?
OUT=$(cat "$WORK/off.log")
check_eq "then the run fails" 1 "$rc"
check_contains "with the Job's own reason" "timed out after 2 s (timeout_s); the task was killed: DeadlineExceeded: Job was active longer than specified deadline" "$OUT"
check_eq "not mflow's" 0 "$(printf %s "$OUT" | grep -c "mflow deleted the Job")"

# ---- the deadline enforced: the Job's DeadlineExceeded, not the backstop ----
# (a grace of 2 s could be overtaken under load: the controller, then the pod's SIGTERM and
# exit, then Failed, then a poll; the default is 60 s)
MFLOW_K8S_DEADLINE_GRACE_S=20 krun "$F" --mode=sleep; rc=$?
check_eq "a timeout fails the run" 1 "$rc"
n=$(printf %s "$OUT" | grep -c "the task was killed: DeadlineExceeded: Job was active longer than specified deadline")
check_eq "both attempts DeadlineExceeded" 2 "$n"
[ "$n" = 2 ] || printf 'the run said:\n%s\n' "$OUT" >&2
check_eq "mflow did not need to step in" 0 "$(printf %s "$OUT" | grep -c "mflow deleted the Job")"

# ---- the setting ----
MFLOW_K8S_DEADLINE_GRACE_S=soon run_fails "a bad deadline_grace_s refused" 1 \
  "k8s: setting deadline_grace_s must be a whole number from -1 to 100000000, not 'soon'" m run "$F" --mode=sleep
finish
