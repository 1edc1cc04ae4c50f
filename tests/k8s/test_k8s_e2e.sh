#!/bin/bash
# k8s compute end to end on the API stand-in (tests/k8s/standin; not a cluster) with an S3
# datastore: the local e2e suite's flows give the same artifacts on k8s as locally (every
# graph shape, retry, catch, timeout, resume); logs live and after the pod is gone; a local
# datastore and a wrong token are refused with messages that say what to do (and hold no
# token); describe; a step's own k8s settings.
. "$MFLOW_TEST_SOURCE_ROOT/tests/e2e/lib.sh"
. "$SRC/tests/k8s/k8s-e2e-lib.sh"

# ---- the same artifacts as locally ----
# same FLOW-NAME STEP ARTIFACT FILE ARGS...: run FILE locally and on k8s, compare the artifact
same() {
  local name=$1 step=$2 art=$3 f=$4; shift 4
  run_flow "$f" "$@" || { fail "$name: local run: $OUT"; return; }
  local want; want=$(mflow get "$name/$RUN/$step" "$art" --json)
  krun "$f" "$@" || { fail "$name: k8s run: $OUT"; return; }
  check_eq "$name $step.$art on k8s as locally" "$want" "$(m get "$name/$RUN/$step" "$art" --json)"
}
same LinearFlow end v "$FLOWS/linear.c" --base=4 --flag=true
check_eq "linear v is the known value" 50 "$(m get LinearFlow/$RUN/end v)"
same LinearFlow end ss "$FLOWS/linear.c" --base=4 --flag=true
same Branch3Flow join digits "$FLOWS/branch3.c"
check_eq "branch3 join order" 345 "$(m get Branch3Flow/$RUN/join digits)"
same NestedBranchFlow join total "$FLOWS/nested_branch.c"
same NestedForeachFlow end all "$FLOWS/nested_foreach.c"
check_eq "nested foreach order" "a1a2a3a4|b1b2b3b4|c1c2c3c4|" "$(m get NestedForeachFlow/$RUN/end all)"
same BranchInForeachFlow end total "$FLOWS/branch_in_foreach.c"
same ForeachInBranchFlow end total "$FLOWS/foreach_in_branch.c"
check_eq "one Job per task of the last run" \
  "$(m inspect ForeachInBranchFlow/$RUN --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(sum(s["tasks"] for s in d["steps"]))')" \
  "$(jobs_of ForeachInBranchFlow "$RUN" | wc -w)"

# retry: the first attempt fails, the second succeeds (two Jobs for that task)
krun "$FLOWS/failing.c" --mode=flaky || fail "flaky on k8s: $OUT"
check_eq "second attempt's value" 1 "$(m get FailingFlow/$RUN/end done)"
check_contains "first attempt's failure shown" "first attempt fails" "$OUT"
check_eq "a Job per attempt" 2 "$(jobs_of FailingFlow "$RUN" | tr ' ' '\n' | grep -c -- '-work-')"
# failures named as locally
OUT=$(m run "$FLOWS/failing.c" --mode=fail 2>&1); rc=$?
check_eq "mf_fail fails the run" 1 "$rc"
check_contains "mf_fail's message" "bad input 42" "$OUT"
OUT=$(m run "$FLOWS/failing.c" --mode=exit 2>&1)
check_contains "exit code reported" "exited with code 3" "$OUT"
# timeout: activeDeadlineSeconds and the task's own --timeout-s; both attempts within 20 s
start=$(date +%s)
OUT=$(m run "$FLOWS/failing.c" --mode=sleep 2>&1); rc=$?
took=$(( $(date +%s) - start ))
check_eq "timeout fails the run" 1 "$rc"
check_contains "timeout named" "timed out" "$OUT"
check_eq "timeout kills promptly" 1 "$([ $took -lt 20 ] && echo 1 || echo 0)"
# catch
krun "$FLOWS/caught.c" || fail "caught on k8s: $OUT"
check_contains "caught message" "risky step gave up" "$(m get CaughtFlow/$RUN/end seen)"
check_eq "flow went on" 10 "$(m get CaughtFlow/$RUN/end x2)"

# resume: a split fails; resume reruns from it and clones the rest
export MFLOW_K8S_PASS_ENV=MFLOW_S3_ENDPOINT_URL,FAIL_ITEM,COUNT_FILE
export COUNT_FILE=$WORK/count
: > "$COUNT_FILE"
FAIL_ITEM=3 krun "$FLOWS/resumable.c" && fail "the run should fail"
check_contains "split failure reported" "item 3 fails on purpose" "$OUT"
origin=$RUN
: > "$COUNT_FILE"
OUT=$(m resume "$FLOWS/resumable.c" --run-id-file "$WORK/runid" 2>&1) || fail "resume on k8s: $OUT"
r2=$(cat "$WORK/runid")
check_contains "resume names its origin" "resuming ResumableFlow/$origin from step 'body'" "$OUT"
check_eq "resumed result" 55 "$(m get ResumableFlow/$r2/end sum)"
check_eq "start not run again" 0 "$(grep -c '^start' "$COUNT_FILE")"
check_eq "no Job for the cloned start" "" "$(jobs_of ResumableFlow "$r2" | tr ' ' '\n' | grep -- '-start-')"
unset MFLOW_K8S_PASS_ENV

# ---- logs ----
krun "$SRC/examples/hello.c" --name=pods || fail "hello on k8s: $OUT"
check_contains "live log, prefixed" "[HelloFlow/$RUN/shout/" "$OUT"
check_contains "live log text" "hello, pods!" "$OUT"
for j in $(jobs_of HelloFlow "$RUN"); do
  admin "/apis/batch/v1/namespaces/default/jobs/$j" -X DELETE -H 'Content-Type: application/json' \
    -d '{"propagationPolicy":"Background"}' >/dev/null
done
pods_left() { admin "/api/v1/namespaces/default/pods?labelSelector=mflow%2Fflow%3DHelloFlow%2Cmflow%2Frun%3D$RUN" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))'; }
for _ in $(seq 1 150); do [ "$(pods_left)" = 0 ] && break; sleep 0.2; done   # the garbage collector's deletes
check_eq "the pods are gone" 0 "$(pods_left)"
check_contains "mflow logs after the pod is gone" "hello, pods!" "$(m logs HelloFlow/$RUN/shout)"

# ---- refusals ----
run_fails "local datastore refused" 1 "--datastore-root=s3://" "$MFLOW" --compute=k8s run "$SRC/examples/hello.c"
check_contains "says why" "which the pods cannot reach" "$OUT"
stats_reset
run_fails "local datastore refused before anything is submitted" 1 "S3 datastore" \
  "$MFLOW" --compute=k8s --datastore-root="$WORK/ds" run "$SRC/examples/hello.c"
check_eq "no Job created" 0 "$(stat 'POST /apis/batch/v1/namespaces/{ns}/jobs')"
wrong=$(grep -A2 '^- name: wrong' "$SI/kubeconfig" | sed -n 's/.*token: //p')
check_eq "the wrong token found" 1 "$(case "$wrong" in wrong-?*) echo 1;; *) echo 0;; esac)"
MFLOW_K8S_CONTEXT=wrong run_fails "wrong token refused" 1 "401 Unauthorized" m run "$SRC/examples/hello.c"
check_contains "the message says whose credentials" "refused the credentials of user 'wrong'" "$OUT"
check_eq "the token is not in the message" 0 "$(printf %s "$OUT" | grep -c -- "$wrong")"
check_eq "the token is not in the datastore" 0 "$(find "$S3FIX_DIR/data" -type f -exec grep -l -- "$(cat "$SI/token")" {} + 2>/dev/null | wc -l)"
MFLOW_K8S_CONTEXT=nosuch run_fails "unknown context refused" 1 "nosuch" m run "$SRC/examples/hello.c"
# A namespace goes into every request path: one that cannot be a namespace is refused before
# any request (it once reached the URL as it was: "a/b?x" asked for another path).
for ns in "Team-A" "a/b?x" "my ns" "-x"; do
  MFLOW_K8S_NAMESPACE=$ns run_fails "namespace '$ns' refused" 1 "namespace '$ns' is not a Kubernetes namespace name" m run "$SRC/examples/hello.c"
done
# the other ways in: client certificate, exec credential plugin
MFLOW_K8S_CONTEXT=cert krun "$SRC/examples/hello.c" --name=cert || fail "client certificate: $OUT"
check_contains "client certificate works" "hello, cert!" "$OUT"
MFLOW_K8S_CONTEXT=exec krun "$SRC/examples/hello.c" --name=exec || fail "exec plugin: $OUT"
check_contains "exec credential works" "hello, exec!" "$OUT"
check_eq "the exec plugin ran once for the run" 1 "$(wc -l < "$SI/exec-calls")"

# ---- describe ----
run_ok "resources" m resources --json
check_eq "nodes' allocatable" "node standin-node-1 2 4096 0" \
  "$(printf %s "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); o=d["offers"][0]; print(o["kind"], o["name"], o["cpus"], o["memory_mb"], o["gpus"])')"
stats_reset
run_fails "a step larger than any node refused" 1 "asks for 64 CPU(s), 1024 MB and 0 GPU(s), more than any of the 1 node(s)" \
  m run "$SRC/tests/k8s/flows/big.c"
check_eq "nothing created for it" 0 "$(stat 'POST /apis/batch/v1/namespaces/{ns}/jobs')"

# ---- a step's own settings ----
krun "$SRC/tests/k8s/flows/step_settings.c" || fail "step settings: $OUT"
check_eq "the step's overlay reached its pod" step-overlay "$(m get StepSettings/$RUN/tuned overlay)"
check_eq "another step has none" none "$(m get StepSettings/$RUN/plain overlay)"
tuned=$(jobs_of StepSettings "$RUN" | tr ' ' '\n' | grep -- '-tuned-')
check_eq "the step's node selector in its Job" '{"kubernetes.io/hostname": "standin-node-1"}' \
  "$(admin "/apis/batch/v1/namespaces/default/jobs/$tuned" | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["spec"]["template"]["spec"].get("nodeSelector")))')"
plain=$(jobs_of StepSettings "$RUN" | tr ' ' '\n' | grep -- '-plain-')
check_eq "no node selector in the other" null \
  "$(admin "/apis/batch/v1/namespaces/default/jobs/$plain" | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["spec"]["template"]["spec"].get("nodeSelector")))')"
run_fails "an unknown step setting refused" 1 "unknown setting 'k8s.colour'" m run "$SRC/tests/k8s/flows/step_settings_unknown.c"
run_fails "an overlay field the Pod API lacks: Strict validation" 1 "noSuchPodField" \
  m run "$SRC/tests/k8s/flows/step_settings_bad.c"
check_contains "the message names the operation" "create Job" "$OUT"
finish
