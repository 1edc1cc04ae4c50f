#!/bin/bash
# `mflow ui` API speed, as a table: requests/s and latency (p50, p99) from wrk for the runs
# list and a task page's requests, over an index of a few hundred runs, beside a static file
# (the HTTP server's own floor); then the same task page's requests and a page of a 200 MiB log
# while 4 slow downloads of a 64 MiB value are in flight (the concurrent case). Not a timed
# test.
#   bench/bench_ui.sh BUILD_DIR [N_RUNS] [SECONDS] [CONNECTIONS]
# The runs are written straight to the datastore and the index by bench_index_fill (the
# runtime's formats); one real foreach run gives the task page. Needs wrk (apt-get install wrk).
set -euo pipefail
BUILD=${1:-build}
NR=${2:-300}
SECS=${3:-5}
CONNS=${4:-16}
HERE=$(cd "$(dirname "$0")/.." && pwd)
MFLOW=$BUILD/core/mflow
FILL=$BUILD/bench/bench_index_fill
command -v wrk >/dev/null || { echo "bench_ui: needs wrk (apt-get install wrk)" >&2; exit 1; }
export MFLOW_HOME=$(mktemp -d "${TMPDIR:-/tmp}/mflow-bench-ui.XXXXXX")
unset MFLOW_NAMESPACE MFLOW_DATASTORE_ROOT MFLOW_STORAGE MFLOW_UI_TOKEN
PID=
SLOW=()
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null; for p in "${SLOW[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$MFLOW_HOME"' EXIT

"$FILL" "$MFLOW_HOME" runs "$NR" >/dev/null
"$MFLOW" run "$HERE/examples/foreach.c" --n=8 --run-id-file "$MFLOW_HOME/rid" >/dev/null 2>&1
RID=$(cat "$MFLOW_HOME/rid")
# a 64 MiB value (random: stored raw, so it is sent piece by piece) and a 200 MiB log beside it
head -c $((64 << 20)) /dev/urandom >"$MFLOW_HOME/value.bin"
"$MFLOW" run "$HERE/tests/ui/flows/bigvalue.c" --src="$MFLOW_HOME/value.bin" \
  --run-id-file "$MFLOW_HOME/rid2" >/dev/null 2>&1
BRID=$(cat "$MFLOW_HOME/rid2")
python3 - "$MFLOW_HOME/datastore/runs/BigValueFlow/$BRID/start/1.0.stdout" <<'PY'
import os, sys
with open(sys.argv[1] + ".new", "wb") as f:
    for i in range(0, 200 * (1 << 20) // 11, 100000):
        f.write("".join("%010d\n" % k for k in range(i, i + 100000)).encode())
os.replace(sys.argv[1] + ".new", sys.argv[1])
PY
"$MFLOW" ui --port 0 >"$MFLOW_HOME/ui.out" 2>&1 &
PID=$!
for _ in $(seq 100); do grep -q serving "$MFLOW_HOME/ui.out" && break; sleep 0.1; done
URL=$(grep -o 'http://[^ ]*' "$MFLOW_HOME/ui.out")
JOIN=$(curl -sf "${URL}api/runs/ForeachFlow/$RID/tasks?step=join" | python3 -c \
  'import json,sys; print(json.load(sys.stdin)["tasks"][0]["task_id"])')
TOTAL=$(curl -sf "${URL}api/runs?limit=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])')
TASK="api/tasks/ForeachFlow/$RID/join/$JOIN"

# wrk's latency in ms, from its "50%  1.23ms" lines (us, ms and s units)
ms() { awk -v p="$1" '$1 == p {v=$2; u=v; gsub(/[0-9.]/, "", u); sub(/[a-z]+$/, "", v);
       if (u == "us") v /= 1000; else if (u == "s") v *= 1000; printf "%.2f", v}'; }
row() {
  local what=$1 path=$2 out
  out=$(wrk -t2 -c"$CONNS" -d"${SECS}s" --latency "$URL$path" 2>&1)
  local rps p50 p99 non2xx
  rps=$(echo "$out" | awk '/^Requests\/sec/ {printf "%.0f", $2}')
  p50=$(echo "$out" | ms 50%)
  p99=$(echo "$out" | ms 99%)
  non2xx=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
  printf "%-44s %10s %9s %9s %s\n" "$what" "$rps" "$p50" "$p99" "${non2xx:+($non2xx non-2xx!)}"
}

echo "mflow ui over $TOTAL runs; wrk, 2 threads, $CONNS connections, ${SECS}s each; $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
printf "%-44s %10s %9s %9s\n" "request" "req/s" "p50 ms" "p99 ms"
row "static file (server floor)" "favicon.svg"
row "/api/flows" "api/flows"
row "/api/runs (newest 50 of all)" "api/runs"
row "/api/runs?limit=1000 (every run)" "api/runs?limit=1000"
row "/api/runs?flow=BenchRuns&status=succeeded" "api/runs?flow=BenchRuns&status=succeeded"
row "/api/runs/F/R (run page)" "api/runs/ForeachFlow/$RID"
row "/api/runs/F/R/graph (run page)" "api/runs/ForeachFlow/$RID/graph"
row "/api/runs/F/R/tasks (run page, 11 tasks)" "api/runs/ForeachFlow/$RID/tasks"
row "/api/tasks/F/R/S/T (task page, 8 inputs)" "$TASK"
row "/api/tasks/.../logs (task page)" "$TASK/logs"
BIG="api/tasks/BigValueFlow/$BRID/start/1"
row "a 200 MiB log, a middle page of 64 KiB" "$BIG/logs?offset=104857600&limit=65536"
# 4 downloads of the 64 MiB value read at 2 MB/s each (each outlasts the rows below)
for _ in 1 2 3 4; do
  curl -sf --limit-rate 2M -o /dev/null "$URL$BIG/artifacts/blob" &
  SLOW+=($!)
done
sleep 1
row "while 4 slow 64 MiB downloads: static file" "favicon.svg"
row "  /api/runs/F/R/tasks (run page)" "api/runs/ForeachFlow/$RID/tasks"
row "  /api/tasks/F/R/S/T (task page)" "$TASK"
row "  a 200 MiB log, a middle page of 64 KiB" "$BIG/logs?offset=104857600&limit=65536"
RSS=$(awk '/VmRSS/ {print $2}' /proc/$PID/status)
ALIVE=0
for p in "${SLOW[@]}"; do kill -0 "$p" 2>/dev/null && ALIVE=$((ALIVE + 1)); done
echo "downloads still in flight at the end: $ALIVE of 4; server RSS $((RSS / 1024)) MiB; load $(cut -d' ' -f1-3 /proc/loadavg)"
