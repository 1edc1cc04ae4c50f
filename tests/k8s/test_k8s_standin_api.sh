#!/bin/bash
# The Kubernetes API stand-in (tests/k8s/standin) checked over HTTPS against what the API
# reference documents (standin_api_check.py): authentication, fieldValidation, 422/409/404,
# selectors, paging, watch (resume, 410), Table, the Job -> Pod lifecycle, logs, deletion,
# ttlSecondsAfterFinished, every injected fault, request stats. No process may be left behind.
# Exits 77 (skipped) without node, openssl, python3 or the schema package.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
standin=$here/standin
skip() { echo "SKIP: $*"; exit 77; }
for tool in node openssl curl python3; do
  command -v $tool >/dev/null || skip "$tool is needed (scripts/setup-deps.sh --test)"
done
work=$(mktemp -d /tmp/mflow-k8s-standin-api.XXXXXX)
api=$work/api
trap 'bash "$standin/down.sh" "$api"; bash "$standin/down.sh" "$work/api2"; rm -rf "$work"' EXIT
rc=0
# a small watch window so that 410 Gone can be reached; quick bookmarks
STANDIN_WATCH_WINDOW=60 STANDIN_BOOKMARK_MS=300 bash "$standin/up.sh" "$api" >/dev/null 2>"$work/up.err" || rc=$?
[ $rc = 77 ] && skip "$(cat "$work/up.err")"
[ $rc = 0 ] || { cat "$work/up.err"; echo "FAIL: up.sh exited $rc"; exit 1; }
rc=0
python3 "$here/standin_api_check.py" "$api" || rc=$?   # HTTP/1.1 with keep-alive

# ---- HTTP/2 (ALPN h2, as kubectl and libcurl with nghttp2 ask): answers, a watch, a dropped connection ----
url=$(cat "$api/url")
c2() { curl -s --http2 --cacert "$api/ca.crt" -H "Authorization: Bearer $(cat "$api/$1")" "${@:2}"; }
h2fail() { echo "FAIL $*"; rc=1; }
out=$(c2 token "$url/api/v1/nodes/standin-node-1" -o /dev/null -w '%{http_version} %{http_code}')
[ "$out" = "2 200" ] && echo "ok   HTTP/2: GET a node" || h2fail "HTTP/2 GET answered '$out'"
out=$(c2 token "$url/api/v1/namespaces/default/pods?watch=1&timeoutSeconds=1&fieldSelector=metadata.name=none" -w '%{http_version} %{http_code}')
[ "$out" = "2 200" ] && echo "ok   HTTP/2: a watch ends with timeoutSeconds" || h2fail "HTTP/2 watch answered '$out'"
c2 admin-token -X POST -d '{"drop_connections":1}' "$url/standin/v1/faults" >/dev/null
code=0; c2 token "$url/api/v1/namespaces" -o /dev/null || code=$?
out=$(c2 token "$url/api/v1/namespaces" -o /dev/null -w '%{http_code}')
[ $code != 0 ] && [ "$out" = 200 ] && echo "ok   HTTP/2: drop_connections closes the connection (curl $code), the next one is answered" ||
  h2fail "HTTP/2 drop_connections: curl exit $code, then $out"
if grep -q "BUG" "$api/server.log"; then grep -A5 "BUG" "$api/server.log"; echo "FAIL: the server logged an internal error"; rc=1; fi
# the server killed with -9: its process runner still kills every pod process
c2 token -X POST -H 'Content-Type: application/json' "$url/apis/batch/v1/namespaces/default/jobs" -o /dev/null \
  -d '{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"last"},"spec":{"backoffLimit":0,"template":{"spec":{"restartPolicy":"Never","containers":[{"name":"main","image":"busybox","command":["sleep","600"]}]}}}}'
for _ in $(seq 1 100); do [ -n "$(ls "$api/procs")" ] && break; sleep 0.1; done
pgids=$(ls "$api/procs")
[ -n "$pgids" ] || h2fail "the last pod never ran"
kill -KILL "$(cat "$api/pid")"
for pg in $pgids; do
  for _ in $(seq 1 100); do kill -0 -- "-$pg" 2>/dev/null || break; sleep 0.1; done
  if kill -0 -- "-$pg" 2>/dev/null && ps -o stat= -g "$pg" | grep -qv Z; then h2fail "process group $pg outlived kill -9 of the server"
  else echo "ok   kill -9 of the server: pod process group $pg is gone"; fi
done
bash "$standin/down.sh" "$api"
# two nodes with a GPU each: placement and GPU scheduling
STANDIN_NODES=2 STANDIN_GPUS=1 bash "$standin/up.sh" "$work/api2" >/dev/null || { echo "FAIL: up.sh with two nodes"; rc=1; }
python3 "$here/standin_api_check.py" "$work/api2" nodes || rc=$?
bash "$standin/down.sh" "$work/api2"
[ $rc = 0 ] && echo "PASS: the API stand-in behaves as documented"
exit $rc
