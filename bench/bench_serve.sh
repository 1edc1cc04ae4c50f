#!/bin/bash
# mflow serve under wrk: requests/s and latency (p50, p99) of a trivial endpoint
# (examples/serve.c's show_data, a cached i64 artifact formatted as JSON) and of a POST whose
# JSON body the endpoint reads, and the server's memory (supervisor and workers, RSS summed)
# at start and after a long load: it should stay flat. wrk runs on the same machine, so the
# server gets what wrk leaves of the cores.
#   bench/bench_serve.sh BUILD_DIR [LOAD_SECONDS (60)] [WORKERS (cores)] [CONNECTIONS (64)]
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)
LOAD_S=${2:-60}
WORKERS=${3:-$(nproc)}
CONNS=${4:-64}
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/.." && pwd)
MFLOW=$BUILD/core/mflow
command -v wrk >/dev/null || { echo "bench_serve: wrk is not installed (Debian: wrk)" >&2; exit 77; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mflow-bench-serve.XXXXXX")
export MFLOW_HOME=$WORK/home
unset MFLOW_SERVE_TOKEN MFLOW_NAMESPACE
SPID=
cleanup() { [ -n "$SPID" ] && kill "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

"$MFLOW" run "$SRC/examples/serve.c" > /dev/null 2>&1
"$MFLOW" serve "$SRC/examples/serve.c" --port 0 --workers "$WORKERS" > "$WORK/out" 2> "$WORK/err" &
SPID=$!
for _ in $(seq 100); do grep -q 'http://' "$WORK/out" && break; sleep 0.1; done
URL=$(grep -o 'http://[^ ]*/' "$WORK/out")
[ "$(curl -s "${URL}show_data")" = '{"result": 3}' ] || { echo "bench_serve: the server does not answer" >&2; exit 1; }
# every worker answered once: their values are loaded
for _ in $(seq 20); do curl -s "${URL}show_data" > /dev/null; done

rss_kb() {   # the supervisor and its workers
  local total=0 p
  for p in $SPID $(pgrep -P "$SPID"); do
    total=$(( total + $(awk '/^VmRSS:/ {print $2}' /proc/$p/status 2>/dev/null || echo 0) ))
  done
  echo $total
}
# wrk LABEL SECONDS ARGS...: "req/s p50 p99" of one load
load() {
  local secs=$1; shift
  wrk -t2 -c"$CONNS" -d"${secs}s" --latency "$@" > "$WORK/wrk" 2>&1
  local rps p50 p99 errs
  rps=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$WORK/wrk")
  p50=$(awk '$1 == "50%" {print $2}' "$WORK/wrk")
  p99=$(awk '$1 == "99%" {print $2}' "$WORK/wrk")
  errs=$(awk '/Non-2xx|Socket errors/ {printf "%s ", $0}' "$WORK/wrk")
  echo "$rps $p50 $p99 ${errs:-none}"
}
cat > "$WORK/post.lua" <<'EOL'
wrk.method = "POST"
wrk.body = '{"x": 4}'
wrk.headers["Content-Type"] = "application/json"
EOL

rss0=$(rss_kb)
read -r g_rps g_p50 g_p99 g_err <<< "$(load 10 "${URL}show_data")"
read -r p_rps p_p50 p_p99 p_err <<< "$(load 10 -s "$WORK/post.lua" "${URL}scale")"
rss_w=$(rss_kb)
read -r l_rps l_p50 l_p99 l_err <<< "$(load "$LOAD_S" "${URL}show_data")"
rss1=$(rss_kb)
[ "$(curl -s "${URL}show_data")" = '{"result": 3}' ] || echo "bench_serve: wrong answer after the load" >&2

echo "mflow serve, $WORKERS workers, wrk -t2 -c$CONNS on the same $(nproc) cores ($(date -u +%Y-%m-%d))"
printf '| %-44s | %12s | %9s | %9s | %s\n' "load" "requests/s" "p50" "p99" "errors"
printf '|%s|%s|%s|%s|%s\n' "----------------------------------------------" "--------------" "-----------" "-----------" "------"
printf '| %-44s | %12s | %9s | %9s | %s\n' "GET /show_data, 10 s" "$g_rps" "$g_p50" "$g_p99" "$g_err"
printf '| %-44s | %12s | %9s | %9s | %s\n' "POST /scale {\"x\": 4}, 10 s" "$p_rps" "$p_p50" "$p_p99" "$p_err"
printf '| %-44s | %12s | %9s | %9s | %s\n' "GET /show_data, ${LOAD_S} s" "$l_rps" "$l_p50" "$l_p99" "$l_err"
echo
printf '| %-44s | %12s\n' "server RSS (supervisor + workers)" "KiB"
printf '| %-44s | %12s\n' "at start (each worker answered)" "$rss0"
printf '| %-44s | %12s\n' "after the two 10 s loads" "$rss_w"
printf '| %-44s | %12s\n' "after ${LOAD_S} s more" "$rss1"
printf '| %-44s | %12s\n' "growth over the ${LOAD_S} s load" "$(( rss1 - rss_w ))"
