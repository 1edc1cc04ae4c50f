#!/bin/bash
# k8s compute on the Kubernetes API stand-in (tests/k8s/standin; NOT a cluster: pods are local
# processes) with an S3 datastore: a foreach of N trivial splits (default 1,000). Printed as a
# table: Jobs created per second (parallel creation over one connection pool), API requests
# per task and per poll (from the stand-in's request counts), the orchestrator's peak RSS,
# beside the spawn/fork floors of this machine.
#   bench/bench_k8s.sh BUILD_DIR [N]
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)
N=${2:-1000}
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/.." && pwd)
STANDIN=${MFLOW_K8S_STANDIN:-$SRC/tests/k8s/standin}
[ -f "$STANDIN/up.sh" ] || { echo "bench_k8s: no API stand-in at $STANDIN/up.sh" >&2; exit 77; }
MFLOW=$BUILD/core/mflow
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mflow-bench-k8s.XXXXXX")
export MFLOW_HOME=$WORK/home MFLOW_TEST_BUILD_ROOT=$BUILD S3FIX_DIR=$WORK/s3
export MFLOW_K8S_VALIDATOR_DIR=${MFLOW_K8S_VALIDATOR_DIR:-$BUILD/k8s-validator}
cleanup() { bash "$STANDIN/down.sh" "$WORK/si" >/dev/null 2>&1; bash "$SRC/tests/s3/s3-fixture.sh" stop >/dev/null 2>&1; rm -rf "$WORK"; }
trap cleanup EXIT
bash "$SRC/tests/s3/s3-fixture.sh" start >/dev/null
. "$S3FIX_DIR/env"
export STANDIN_PATH="$BUILD/core:/usr/local/bin:/usr/bin:/bin"
bash "$STANDIN/up.sh" "$WORK/si" >/dev/null
SI=$WORK/si URL=$(cat "$WORK/si/url")
export KUBECONFIG=$SI/kubeconfig MFLOW_K8S_IMAGE=registry.example/mflow:bench
export MFLOW_K8S_PASS_ENV=MFLOW_S3_ENDPOINT_URL,AWS_ACCESS_KEY_ID,AWS_SECRET_ACCESS_KEY,AWS_REGION
admin() { local p=$1; shift; curl -s --cacert "$SI/ca.crt" -H "Authorization: Bearer $(cat "$SI/admin-token")" "$@" "$URL$p"; }
m() { "$MFLOW" --compute=k8s --datastore-root="s3://$S3FIX_BUCKET/bench" "$@"; }
F=$HERE/flows/trivial_foreach.c
"$MFLOW" run "$F" --n=2 >/dev/null 2>&1   # compile once

floor1=$("$BUILD/bench/spawn_floor" 1000 1)
floorf=$("$BUILD/bench/spawn_floor" 1000 1 fork)

# 1. Creation alone: once the start task has run, the stand-in holds every new pod back (10
#    minutes), so the N Jobs are created without N local processes competing for this
#    machine; the plugin's stats_file times the batch (first POST to last answer), and the
#    run is interrupted once all exist (cancel: one DELETE each).
SIGDFL='import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execvp(sys.argv[1], sys.argv[1:])'
MFLOW_K8S_STATS_FILE=$WORK/create.json python3 -c "$SIGDFL" "$MFLOW" --compute=k8s \
  --datastore-root="s3://$S3FIX_BUCKET/bench" run "$F" --n="$N" >"$WORK/create.log" 2>&1 &
pid=$!
jobs_json() { admin "/apis/batch/v1/namespaces/default/jobs?labelSelector=mflow%2Fflow%3DTrivialForeach"; }
for _ in $(seq 1 600); do
  jobs_json | grep -q '"type":"Complete"' && break
  sleep 0.1
done
admin /standin/v1/faults -X POST -H 'Content-Type: application/json' -d '{"pod_start_delay_ms":600000}' >/dev/null
for _ in $(seq 1 1200); do
  [ "$(jobs_json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))')" -ge $((N + 1)) ] && break
  sleep 0.5
done
kill -INT $pid; wait $pid || true
admin /standin/v1/faults -X POST -H 'Content-Type: application/json' -d '{}' >/dev/null

# 2. The whole run, pods as local processes: requests per task and per poll, peak RSS.
admin /standin/v1/stats/reset -X POST >/dev/null
t0=$(date +%s.%N)
MFLOW_K8S_STATS_FILE=$WORK/plugin.json /usr/bin/time -f %M -o "$WORK/rss" \
  "$MFLOW" --compute=k8s --datastore-root="s3://$S3FIX_BUCKET/bench" run "$F" --n="$N" >"$WORK/run.log" 2>&1 ||
  { tail -5 "$WORK/run.log" >&2; exit 1; }
t1=$(date +%s.%N)
admin /standin/v1/stats > "$WORK/standin.json"
python3 - "$N" "$WORK/plugin.json" "$WORK/standin.json" "$WORK/create.json" "$(cat "$WORK/rss")" "$t0" "$t1" "$floor1" "$floorf" <<'PY'
import json, sys
n = int(sys.argv[1])
pl = json.load(open(sys.argv[2]))
st = json.load(open(sys.argv[3]))
cr = json.load(open(sys.argv[4]))
rss_kb, t0, t1, f1, ff = int(sys.argv[5]), float(sys.argv[6]), float(sys.argv[7]), float(sys.argv[8]), float(sys.argv[9])
tasks = n + 3
api = {k: v for k, v in st.items() if not k.startswith("GET /readyz") and "/standin/" not in k}
total = sum(api.values())
lists = st.get("GET /api/v1/namespaces/{ns}/pods", 0) + st.get("GET /apis/batch/v1/namespaces/{ns}/jobs", 0)
polls = max(pl["polls"], 1)
rows = [
    ("Job creation alone: Jobs in the foreach's batch", f"{cr['largest_batch']}"),
    ("  seconds, first POST to last answer", f"{cr['largest_batch_seconds']:.2f}"),
    ("  Jobs created per second", f"{cr['largest_batch'] / max(cr['largest_batch_seconds'], 1e-9):.0f}"),
    ("foreach of %d trivial splits on the stand-in (s)" % n, f"{t1 - t0:.2f}"),
    ("  Jobs created per second, pods running beside", f"{pl['largest_batch'] / max(pl['largest_batch_seconds'], 1e-9):.0f}"),
    ("  API requests in all (stand-in's count)", f"{total}"),
    ("  API requests per task", f"{total / tasks:.2f}"),
    ("    of which create + log per task", f"{(st.get('POST /apis/batch/v1/namespaces/{ns}/jobs', 0) + st.get('GET /api/v1/namespaces/{ns}/pods/{name}/log', 0)) / tasks:.2f}"),
    ("  polls (one pods list + one Jobs list each)", f"{pl['polls']}"),
    ("  list requests per poll", f"{lists / polls:.2f}"),
    ("  requests retried (429/5xx/dropped)", f"{pl['retried']}"),
    ("  orchestrator peak RSS (MB)", f"{rss_kb / 1024:.1f}"),
    ("spawn+reap /bin/true, 1 at a time (ms)", f"{f1:.3f}"),
    ("fork+_exit+reap, 1 at a time (ms)", f"{ff:.3f}"),
    ("  run time per task / spawn floor", f"{(t1 - t0) * 1000 / tasks / f1:.1f}"),
]
print(f"{'measure':<52} {'value':>10}")
for k, v in rows:
    print(f"{k:<52} {v:>10}")
PY
