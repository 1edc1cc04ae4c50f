#!/bin/bash
# The Kubernetes API stand-in (tests/k8s/standin) driven by the real kubectl: create a Job, list
# (table output), get -o json, describe (events), logs and logs -f of a pod that prints over
# time, get -w seeing the phases change, wait, delete --cascade=background (the pod and its
# process go), and the kubeconfig contexts: token, client certificate, exec plugin, wrong token.
# Exits 77 (skipped) without node, kubectl, openssl or the schema package.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
standin=$here/standin
skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }
for tool in node kubectl openssl curl python3; do
  command -v $tool >/dev/null || skip "$tool is needed (scripts/setup-deps.sh --test)"
done

work=$(mktemp -d /tmp/mflow-k8s-standin.XXXXXX)
api=$work/api
trap 'bash "$standin/down.sh" "$api"; rm -rf "$work"' EXIT
rc=0
bash "$standin/up.sh" "$api" >/dev/null 2>"$work/up.err" || rc=$?
[ $rc = 77 ] && skip "$(cat "$work/up.err")"
[ $rc = 0 ] || { cat "$work/up.err"; fail "up.sh exited $rc"; }
export KUBECONFIG=$api/kubeconfig
k() { kubectl --request-timeout=20s "$@"; }
has() { grep -qE -- "$2" <<<"$1" || { echo "---- output:"; echo "$1"; fail "$3"; }; }
waitfor() {   # waitfor SECONDS COMMAND...: until the command succeeds
  local n=$(($1 * 10)); shift
  for _ in $(seq 1 $n); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  return 1
}

job() {   # job NAME RUN-LABEL SHELL-COMMAND
  cat <<YAML
apiVersion: batch/v1
kind: Job
metadata:
  name: $1
  labels: {mflow/run: $2, app.kubernetes.io/managed-by: mflow}
spec:
  backoffLimit: 0
  template:
    metadata:
      labels: {mflow/run: $2, app.kubernetes.io/managed-by: mflow}
    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: busybox:1.36
        command: ["sh", "-c", "$3"]
YAML
}

# ---- nodes, namespaces ----
out=$(k get nodes)
has "$out" 'standin-node-1 +Ready' "kubectl get nodes does not show the stand-in node Ready"

# ---- create, watch, list, logs -f ----
timeout 20 kubectl get pods -w -l mflow/run=run-1 >"$work/watch.out" 2>"$work/watch.err" &
watcher=$!
# the watch is open once the stand-in has counted it
waitfor 15 sh -c "curl -sf --cacert '$api/ca.crt' -H 'Authorization: Bearer $(cat "$api/admin-token")' '$(cat "$api/url")/standin/v1/stats' | grep -q 'pods?watch'" ||
  fail "kubectl get -w never opened its watch"
job ticker run-1 'for i in 1 2 3 4 5; do echo tick $i; sleep 0.4; done' >"$work/ticker.yaml"
out=$(k create -f "$work/ticker.yaml")
[ "$out" = "job.batch/ticker created" ] || fail "kubectl create said: $out"
waitfor 10 sh -c "kubectl get pods -l mflow/run=run-1 -o jsonpath='{.items[0].status.phase}' | grep -qx Running" ||
  fail "the ticker pod never became Running"
out=$(k get jobs,pods -l mflow/run=run-1)
has "$out" '^NAME +STATUS +COMPLETIONS +DURATION +AGE' "job table header"
has "$out" '^job.batch/ticker +Running +0/1 ' "the running job's row"
has "$out" '^NAME +READY +STATUS +RESTARTS +AGE' "pod table header"
has "$out" '^pod/ticker-[a-z0-9]{5} +1/1 +Running +0 ' "the running pod's row"
pod=$(k get pods -l mflow/run=run-1 -o name)
start=$(date +%s%N)
logs=$(timeout 20 kubectl logs -f "$pod")
took=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$logs" = "$(printf 'tick 1\ntick 2\ntick 3\ntick 4\ntick 5')" ] || fail "kubectl logs -f gave: $logs"
[ $took -ge 500 ] || fail "kubectl logs -f returned after $took ms: it did not follow the running container"
waitfor 10 sh -c "kubectl get job ticker -o jsonpath='{.status.succeeded}' | grep -qx 1" || fail "the ticker job did not succeed"
[ "$(k logs job/ticker --tail=2)" = "$(printf 'tick 4\ntick 5')" ] || fail "kubectl logs job/ticker --tail=2"
out=$(k get jobs,pods -l mflow/run=run-1 -o wide)
has "$out" '^job.batch/ticker +Complete +1/1 +[0-9]+s +[0-9]+s +main +busybox:1.36 +batch.kubernetes.io/controller-uid=' "the completed job's wide row"
has "$out" '^pod/ticker-[a-z0-9]{5} +0/1 +Completed +0 +[0-9]+s +10\.244\.[0-9.]+ +standin-node-1 ' "the completed pod's wide row"
wait $watcher || true
w=$(cat "$work/watch.out")
has "$w" 'ticker-[a-z0-9]{5} +0/1 +Pending' "get -w did not show Pending"
has "$w" 'ticker-[a-z0-9]{5} +1/1 +Running' "get -w did not show Running"
has "$w" 'ticker-[a-z0-9]{5} +0/1 +Completed' "get -w did not show Completed"
order=$(grep -oE 'Pending|Running|Completed' "$work/watch.out" | uniq | tr '\n' ' ')
[ "$order" = "Pending Running Completed " ] || fail "get -w saw the phases in this order: $order"

# ---- get -o json, describe ----
k get job ticker -o json | python3 -c '
import json, sys
j = json.load(sys.stdin)
st = j["status"]
assert j["kind"] == "Job" and j["apiVersion"] == "batch/v1", j["kind"]
assert st["succeeded"] == 1 and [c["type"] for c in st["conditions"]] == ["SuccessCriteriaMet", "Complete"], st
assert j["spec"]["template"]["metadata"]["labels"]["batch.kubernetes.io/job-name"] == "ticker"
assert j["metadata"]["uid"] and j["metadata"]["resourceVersion"].isdigit()
' || fail "kubectl get job -o json: unexpected object"
out=$(k describe job ticker)
has "$out" 'Pods Statuses: +0 Active \(0 Ready\) / 1 Succeeded / 0 Failed' "describe job: pod statuses"
has "$out" 'Normal +SuccessfulCreate +[0-9a-z]+ +job-controller +Created pod: ticker-[a-z0-9]{5}' "describe job: SuccessfulCreate event"
has "$out" 'Normal +Completed +[0-9a-z]+ +job-controller +Job completed' "describe job: Completed event"
out=$(k describe "$pod")
has "$out" 'Controlled By: +Job/ticker' "describe pod: owner"
has "$out" 'Reason: +Completed' "describe pod: terminated reason"
has "$out" 'Exit Code: +0' "describe pod: exit code"
has "$out" 'Normal +Scheduled .*default-scheduler +Successfully assigned default/ticker-[a-z0-9]{5} to standin-node-1' "describe pod: Scheduled event"
has "$out" 'Normal +Started .*kubelet +Started container main' "describe pod: Started event"

# ---- a failing job, kubectl wait ----
job failer run-2 'echo about to fail; exit 7' | k create -f - >/dev/null
k wait --for=condition=failed --timeout=20s job/failer >/dev/null || fail "kubectl wait --for=condition=failed"
out=$(k get pods -l mflow/run=run-2)
has "$out" 'failer-[a-z0-9]{5} +0/1 +Error +0 ' "the failed pod's row says Error"
out=$(k describe job failer)
has "$out" 'Warning +BackoffLimitExceeded .*Job has reached the specified backoff limit' "describe: BackoffLimitExceeded event"

# ---- Strict field validation through kubectl ----
job strict run-3 true | sed 's/restartPolicy: Never/restartPolicy: Never\n      hostNetwerk: true/' >"$work/strict.yaml"
if out=$(k create -f "$work/strict.yaml" 2>&1); then fail "a Job with an unknown field was created: $out"; fi
has "$out" 'strict decoding error: unknown field "spec.template.spec.hostNetwerk"' "kubectl create: the strict decoding error"
job Bad_Name run-3 true >"$work/bad.yaml"
if out=$(k create -f "$work/bad.yaml" 2>&1); then fail "a Job with a bad name was created"; fi
has "$out" 'The Job "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain' "kubectl create: 422 for a bad name"

# ---- delete --cascade=background: the pod and its process go ----
job sleeper run-4 'sleep 300' | k create -f - >/dev/null
waitfor 10 sh -c "kubectl get pods -l mflow/run=run-4 -o jsonpath='{.items[0].status.phase}' | grep -qx Running" ||
  fail "the sleeper pod never became Running"
pg=$(ls "$api/procs")
[ -n "$pg" ] && kill -0 -- "-$pg" 2>/dev/null || fail "no live process group for the sleeper pod"
out=$(k delete job sleeper --cascade=background)
[ "$out" = 'job.batch "sleeper" deleted' ] || fail "kubectl delete said: $out"
waitfor 10 sh -c "kubectl get pods -l mflow/run=run-4 2>&1 | grep -q 'No resources found'" || fail "the sleeper pod stayed"
waitfor 5 sh -c "! kill -0 -- -$pg 2>/dev/null" || fail "the sleeper's process group $pg is still alive"
[ -z "$(ls "$api/procs")" ] || fail "procs still lists $(ls "$api/procs")"

# ---- contexts: wrong token refused, certificate and exec plugin accepted ----
if out=$(kubectl --context wrong get pods 2>&1); then fail "the wrong token was accepted"; fi
has "$out" 'Unauthorized' "kubectl's message for a wrong token"
out=$(k --context cert get jobs)
has "$out" '^ticker +Complete +1/1' "the cert context lists jobs"
before=0; [ -f "$api/exec-calls" ] && before=$(wc -l <"$api/exec-calls")
out=$(k --context exec get jobs)
has "$out" '^failer +Failed +0/1' "the exec context lists jobs"
after=$(wc -l <"$api/exec-calls")
[ "$after" -gt "$before" ] || fail "the exec plugin was not run ($before -> $after calls)"
has "$(tail -1 "$api/exec-calls")" '"apiVersion":"client.authentication.k8s.io/v1"' "KUBERNETES_EXEC_INFO given to the plugin"

echo "PASS: kubectl $(kubectl version --client -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["clientVersion"]["gitVersion"])') against the API stand-in"
