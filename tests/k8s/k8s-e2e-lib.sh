# Shared set-up of the k8s end-to-end tests (sourced after tests/e2e/lib.sh): an S3 server
# (tests/s3/s3-fixture.sh) for the datastore and the Kubernetes API stand-in
# (tests/k8s/standin/up.sh; NOT a cluster: pods run as local processes, with the mflow under
# test on their PATH). Exits 77 (skipped) when either cannot start. Defines:
#   m ARGS...          mflow --compute=k8s --datastore-root=s3://... ARGS
#   krun FILE ARGS...  m run FILE ARGS, OUT and RUN set (like run_flow)
#   admin PATH CURL-ARGS...  a request to the stand-in with its admin token
#   faults JSON / stats / stats_reset   the stand-in's fault injection and request counts
#   jobs_of FLOW [RUN] names of the Jobs the stand-in holds for a flow (and run)
STANDIN=${MFLOW_K8S_STANDIN:-$SRC/tests/k8s/standin}
if [ ! -f "$STANDIN/up.sh" ]; then
  echo "skip: no Kubernetes API stand-in at $STANDIN/up.sh (it comes with the k8s-standin work)"
  exit 77
fi
export S3FIX_DIR=$WORK/s3
export MFLOW_TEST_BUILD_ROOT=${MFLOW_TEST_BUILD_ROOT:-$SRC/build}
K8S_CLEANUP() {
  bash "$STANDIN/down.sh" "$WORK/si" >/dev/null 2>&1
  bash "$SRC/tests/s3/s3-fixture.sh" stop >/dev/null 2>&1
  rm -rf "$WORK"
}
trap K8S_CLEANUP EXIT
s3out=$(bash "$SRC/tests/s3/s3-fixture.sh" start 2>&1); rc=$?
[ $rc = 77 ] && { echo "skip: no S3 server: $s3out"; exit 77; }
[ $rc = 0 ] || { echo "FAIL: the S3 server did not start: $s3out"; exit 1; }
. "$S3FIX_DIR/env"
export STANDIN_PATH="$(dirname "$MFLOW"):/usr/local/bin:/usr/bin:/bin"
siout=$(bash "$STANDIN/up.sh" "$WORK/si" 2>&1); rc=$?
[ $rc = 77 ] && { echo "skip: the API stand-in cannot start: $siout"; exit 77; }
[ $rc = 0 ] || { echo "FAIL: the API stand-in did not start: $siout"; exit 1; }
SI=$WORK/si
URL=$(cat "$SI/url")
export KUBECONFIG=$SI/kubeconfig
export MFLOW_K8S_IMAGE=registry.example/mflow:test MFLOW_K8S_POLL_INTERVAL_MS=200
export MFLOW_K8S_BACKOFF_S=0.05
ROOT=s3://$S3FIX_BUCKET/k8s
m() { "$MFLOW" --compute=k8s --datastore-root="$ROOT" "$@"; }
krun() {
  local f=$1; shift
  RUN=
  OUT=$(m run "$f" --run-id-file "$WORK/runid" "$@" 2>&1); local rc=$?
  RUN=$(cat "$WORK/runid" 2>/dev/null)
  return $rc
}
admin() {
  local p=$1; shift
  curl -s --cacert "$SI/ca.crt" -H "Authorization: Bearer $(cat "$SI/admin-token")" "$@" "$URL$p"
}
faults() { admin /standin/v1/faults -X POST -H 'Content-Type: application/json' -d "$1" >/dev/null; }
stats() { admin /standin/v1/stats; }
stats_reset() { admin /standin/v1/stats/reset -X POST >/dev/null; }
# stat KEY: the count of "METHOD /path" in the stand-in's stats (0 when absent)
stat() { stats | python3 -c 'import json,sys; print(json.load(sys.stdin).get(sys.argv[1], 0))' "$1"; }
jobs_of() {
  local sel="mflow%2Fflow%3D$1"
  [ -n "${2:-}" ] && sel="$sel%2Cmflow%2Frun%3D$2"
  admin "/apis/batch/v1/namespaces/default/jobs?labelSelector=$sel" |
    python3 -c 'import json,sys; print(" ".join(sorted(i["metadata"]["name"] for i in json.load(sys.stdin)["items"] if not i["metadata"].get("deletionTimestamp"))))'
}
# The datastore's S3 credentials reach the pods as a Secret, as they would in a cluster.
admin /api/v1/namespaces/default/secrets -X POST -H 'Content-Type: application/json' -d "$(python3 -c '
import base64, json, os
b = lambda s: base64.b64encode(s.encode()).decode()
print(json.dumps({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s3-creds"},
  "data": {"AWS_ACCESS_KEY_ID": b(os.environ["AWS_ACCESS_KEY_ID"]), "AWS_SECRET_ACCESS_KEY": b(os.environ["AWS_SECRET_ACCESS_KEY"])}}))')" >/dev/null
export MFLOW_K8S_SECRETS=s3-creds
