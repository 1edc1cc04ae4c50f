#!/bin/bash
# Whole flows on S3 through the mflow command (run under s3-fixture.sh): a branch + foreach +
# join flow with its artifacts, inspect, logs and resume; the server answering 503 for a while
# (through the fault proxy) — the run succeeds through retries; the server stopped mid-run — a
# clear error, nothing torn, and resume completes once it is back.
. "$MFLOW_TEST_SOURCE_ROOT/tests/e2e/lib.sh"
: "${S3FIX_ENDPOINT:?run under s3-fixture.sh}" "${S3FIX_PROXY_URL:?S3FIX_PROXY=1 needed}"
E2E=$SRC/tests/e2e/flows
ROOT="s3://$S3FIX_BUCKET/flows"
m() { mflow --datastore-root="$ROOT" "$@"; }

# A branch + foreach + join flow, and the inspection commands against it.
OUT=$(m run "$E2E/branch_in_foreach.c" --run-id-file "$WORK/rid" 2>&1) || fail "s3 run: $OUT"
RUN=$(cat "$WORK/rid")
check_eq "artifact from S3" 6306 "$(m get BranchInForeachFlow/$RUN/end total)"
run_ok "inspect a run on S3" m inspect BranchInForeachFlow/$RUN --json
check_eq "inspect sees every step" 7 "$(echo "$OUT" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["steps"]))')"
OUT=$(m run "$SRC/examples/hello.c" --name=s3 --run-id-file "$WORK/rid" 2>&1) || fail "hello on s3: $OUT"
RUN=$(cat "$WORK/rid")
check_contains "logs from S3" "hello, s3!" "$(m logs HelloFlow/$RUN/shout)"
check_eq "nothing written locally" 0 "$(find "$MFLOW_HOME" -path '*datastore*' -type f 2>/dev/null | wc -l)"
listing=$(AWS_ENDPOINT_URL= /usr/bin/aws --endpoint-url "$S3FIX_ENDPOINT" s3 ls --recursive "$ROOT/runs/HelloFlow/$RUN/" 2>/dev/null || true)
[ -x /usr/bin/aws ] && check_contains "the AWS CLI sees the run record" "run.json" "$listing"

# 503 SlowDown on every request for two seconds: retries carry the run through. The flow is
# compiled first, so that its run's requests start at once, inside the two seconds, also on a
# machine busy with other tests.
OUT=$(m run "$SRC/examples/foreach.c" --n=1 2>&1) || fail "foreach on s3: $OUT"
curl -s "$S3FIX_PROXY_URL/__fault/add?kind=503&seconds=2" >/dev/null
OUT=$(MFLOW_S3_ENDPOINT_URL=$S3FIX_PROXY_URL m run "$SRC/examples/foreach.c" --n=6 --run-id-file "$WORK/rid" 2>&1) \
  || fail "run through 503s: $OUT"
RUN=$(cat "$WORK/rid")
check_eq "result through 503s" 91 "$(m get ForeachFlow/$RUN/end sum)"
injected=$(curl -s "$S3FIX_PROXY_URL/__fault/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["injected"].get("503", 0))')
check_eq "the proxy did answer 503s" 1 "$([ "$injected" -gt 0 ] && echo 1 || echo 0)"
curl -s "$S3FIX_PROXY_URL/__fault/reset" >/dev/null

# The server stopped mid-run (120 tasks of 100 ms on 2 workers take 6 s; it stops 1.5 s after
# the run has its id, its flow compiled: timed from there, not from the start, the stop lands
# mid-run also while other tests load the machine): a clear error naming the endpoint; resume
# completes later.
export MFLOW_S3_MAX_ATTEMPTS=3 MFLOW_S3_RETRY_TOTAL_S=3
rm -f "$WORK/killed"
"$MFLOW" --datastore-root="$ROOT" run "$E2E/many.c" --n=120 --sleep_ms=100 --run-id-file "$WORK/killed" > "$WORK/down.log" 2>&1 &
pid=$!
for i in $(seq 300); do [ -s "$WORK/killed" ] && break; sleep 0.1; done
sleep 1.5
bash "$SRC/tests/s3/s3-fixture.sh" stop >/dev/null 2>&1
wait $pid; rc=$?
check_eq "the run fails when the server goes" 1 "$rc"
check_contains "the error names the endpoint" "$S3FIX_ENDPOINT" "$(cat "$WORK/down.log")"
bash "$SRC/tests/s3/s3-fixture.sh" start >/dev/null 2>&1 || fail "restarting the server"
unset MFLOW_S3_MAX_ATTEMPTS MFLOW_S3_RETRY_TOTAL_S
OUT=$(m resume "$E2E/many.c" --origin-run-id "$(cat "$WORK/killed")" --run-id-file "$WORK/rid" 2>&1) || fail "resume on s3: $OUT"
RUN=$(cat "$WORK/rid")
check_eq "resumed result" $((3 * 120 * 119 / 2)) "$(m get ManyFlow/$RUN/end sum)"
check_contains "resume reused finished tasks" "finished task(s) can be reused" "$OUT"
run_ok "every blob on S3 matches its hash" "$MFLOW_VERIFY_BLOBS" "$ROOT"
finish
