#!/bin/bash
# k8s compute on the API stand-in under faults: every failure reason becomes the attempt's
# message named as Kubernetes names it; 429, 500 and dropped connections are survived;
# the cost of watching a run does not grow with its width (the stand-in's request counts).
. "$MFLOW_TEST_SOURCE_ROOT/tests/e2e/lib.sh"
. "$SRC/tests/k8s/k8s-e2e-lib.sh"
R=$SRC/tests/k8s/flows/reasons.c

# ---- failure reasons ----
run_fails "OOMKilled" 1 "OOMKilled: the container passed its memory limit (64Mi)" m run "$R" --mode=oom
check_contains "OOMKilled keeps the exit code" "exited with code 137" "$OUT"
run_fails "DeadlineExceeded" 1 "timed out after 6 s (timeout_s); the task was killed: DeadlineExceeded" m run "$R" --mode=deadline
faults '{"missing_images":["registry.example/missing:1"]}'
MFLOW_K8S_IMAGE=registry.example/missing:1 krun "$R" && fail "a missing image should fail the run"
check_contains "image pull named, with the image" "image 'registry.example/missing:1' cannot be pulled" "$OUT"
check_eq "named as Kubernetes names it" 1 "$(printf %s "$OUT" | grep -c "start/1 (attempt 0) failed: step 'start' failed: \(ErrImagePull\|ImagePullBackOff\): ")"
for _ in $(seq 1 150); do [ -z "$(jobs_of ReasonsFlow "$RUN")" ] && break; sleep 0.2; done
check_eq "the stuck Job is deleted" "" "$(jobs_of ReasonsFlow "$RUN")"
faults '{}'
MFLOW_K8S_SECRETS=s3-creds,nosuch run_fails "CreateContainerConfigError" 1 \
  "CreateContainerConfigError: secret \"nosuch\" not found" m run "$R"
faults '{"unschedulable":true}'
start=$(date +%s)
MFLOW_K8S_PENDING_LIMIT_S=2 run_fails "Unschedulable past the pending limit" 1 \
  "Unschedulable: 0/1 nodes are available" m run "$R"
check_contains "the limit is named" "past the pending limit of 2 s: k8s pending_limit_s" "$OUT"
check_eq "fails soon after the limit" 1 "$([ $(( $(date +%s) - start )) -lt 20 ] && echo 1 || echo 0)"
faults '{}'
# Evicted: the first attempt is evicted, the retry succeeds
faults '{"evict_next":1}'
krun "$R" --mode=nap || fail "a run with one eviction: $OUT"
check_contains "Evicted named" "failed: Evicted: The node was low on resource: memory" "$OUT"
check_eq "the retry finished it" nap "$(m get ReasonsFlow/$RUN/end mode)"
# a lost node: LOST, the host retries
faults '{"node_lost_next":1}'
krun "$R" --mode=nap || fail "a run with a lost node: $OUT"
check_contains "node lost named" "node lost: DeletionByTaintManager" "$OUT"
check_eq "the retry finished it" nap "$(m get ReasonsFlow/$RUN/end mode)"
faults '{}'

# ---- API faults survived ----
faults '{"http_errors":[{"method":"POST","path_regex":"/jobs","status":429,"count":3,"retry_after":1},{"method":"GET","path_regex":"/pods","status":500,"count":3},{"method":"GET","path_regex":"/jobs","status":503,"count":2}]}'
stats_reset
krun "$SRC/examples/hello.c" --name=faults || fail "through 429/500/503: $OUT"
check_contains "the run went through 429, 500, 503" "hello, faults!" "$OUT"
check_eq "each create answered once for good (3 tasks + 3 retried 429s)" 6 "$(stat 'POST /apis/batch/v1/namespaces/{ns}/jobs')"
faults '{"drop_connections":4}'
krun "$SRC/examples/foreach.c" --n=4 || fail "through dropped connections: $OUT"
got=$(m get ForeachFlow/$RUN/end sum)
run_flow "$SRC/examples/foreach.c" --n=4 || fail "foreach locally: $OUT"
check_eq "result through dropped connections as locally" "$(mflow get ForeachFlow/$RUN/end sum)" "$got"
faults '{"latency_ms":300}'
krun "$SRC/examples/hello.c" --name=slow || fail "a slow API server: $OUT"
check_contains "a slow API server" "hello, slow!" "$OUT"
faults '{}'

# ---- requests per poll independent of width ----
# lists WIDTH: run a foreach of WIDTH splits of 2 s; print "lists seconds creates logs"
lists() {
  stats_reset
  local t0; t0=$(date +%s.%N)
  krun "$SRC/tests/e2e/flows/slow_foreach.c" --n="$1" --ms=2000 || fail "slow foreach $1: $OUT"
  local t1; t1=$(date +%s.%N)
  echo "$(( $(stat 'GET /api/v1/namespaces/{ns}/pods') + $(stat 'GET /apis/batch/v1/namespaces/{ns}/jobs') )) $(python3 -c "print(round($t1-$t0, 2))") $(stat 'POST /apis/batch/v1/namespaces/{ns}/jobs') $(stat 'GET /api/v1/namespaces/{ns}/pods/{name}/log')"
}
read -r l4 s4 c4 g4 <<<"$(lists 4)"
read -r l40 s40 c40 g40 <<<"$(lists 40)"
echo "width 4: $l4 list requests in $s4 s; width 40: $l40 in $s40 s"
check_eq "one create per task (4)" 7 "$c4"
check_eq "one create per task (40)" 43 "$c40"
# two lists (pods, Jobs) per 200 ms poll at most, plus the first check's, whatever the width
for w in 4 40; do
  eval l=\$l$w s=\$s$w
  check_eq "lists at width $w within 2 per poll interval" 1 "$(python3 -c "print(1 if $l <= 2 * ($s / 0.2 + 2) + 2 else 0)")"
done
check_eq "list requests per second alike at width 4 and 40" 1 \
  "$(python3 -c "a=$l4/$s4; b=$l40/$s40; print(1 if b <= a * 1.5 + 1 else 0)")"
finish
