#!/bin/bash
# mflow serve under wrk: requests/s and latency (p50, p99) of a trivial endpoint
# (examples/serve.c's show_data, a cached i64 artifact formatted as JSON) and of a POST whose
# JSON body the endpoint reads, and the server's memory (supervisor and workers, RSS summed)
# at start and after a long load: it should stay flat. The same for the Python example
# (examples/python/serve.py: each worker relays to its Python process; their RSS counted
# too). wrk runs on the same machine, so the server gets what wrk leaves of the cores.
#   bench/bench_serve.sh BUILD_DIR [LOAD_SECONDS (60)] [WORKERS (cores)] [CONNECTIONS (64)]
#                        [FLOWS (c python)]
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)
LOAD_S=${2:-60}
WORKERS=${3:-$(nproc)}
CONNS=${4:-64}
FLOWS=${5:-c python}
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/.." && pwd)
MFLOW=$BUILD/core/mflow
command -v wrk >/dev/null || { echo "bench_serve: wrk is not installed (Debian: wrk)" >&2; exit 77; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mflow-bench-serve.XXXXXX")
export MFLOW_HOME=$WORK/home
unset MFLOW_SERVE_TOKEN MFLOW_NAMESPACE
SPID=
stop() { [ -n "$SPID" ] && kill "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null; SPID=; }
cleanup() { stop; rm -rf "$WORK"; }
trap cleanup EXIT

rss_kb() {   # the supervisor, its workers and their Python processes
  local total=0 p
  for p in $SPID $(pgrep -P "$SPID") $(for w in $(pgrep -P "$SPID"); do pgrep -P "$w"; done); do
    total=$(( total + $(awk '/^VmRSS:/ {print $2}' /proc/$p/status 2>/dev/null || echo 0) ))
  done
  echo $total
}
# load SECONDS ARGS...: "req/s p50 p99 errors" of one wrk load
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
row() { printf '| %-8s | %-32s | %12s | %9s | %9s | %s\n' "$@"; }
mem() { printf '| %-8s | %-44s | %12s\n' "$@"; }

ROWS=() MEMS=()
# bench LABEL FLOW: the loads and memory of one flow's server
bench() {
  local label=$1 flow=$2
  "$MFLOW" run "$flow" > "$WORK/run.out" 2>&1 || { echo "bench_serve: $flow did not run: $(tail -3 "$WORK/run.out")" >&2; exit 1; }
  "$MFLOW" serve "$flow" --port 0 --workers "$WORKERS" > "$WORK/out" 2> "$WORK/err" &
  SPID=$!
  for _ in $(seq 100); do grep -q 'http://' "$WORK/out" && break; sleep 0.1; done
  URL=$(grep -o 'http://[^ ]*/' "$WORK/out")
  [ "$(curl -s "${URL}show_data")" = '{"result": 3}' ] || { echo "bench_serve: the $label server does not answer" >&2; exit 1; }
  # every worker answered once: their values are loaded
  for _ in $(seq 20); do curl -s "${URL}show_data" > /dev/null; done
  local rss0 rss_w rss1 g_rps g_p50 g_p99 g_err p_rps p_p50 p_p99 p_err l_rps l_p50 l_p99 l_err
  rss0=$(rss_kb)
  read -r g_rps g_p50 g_p99 g_err <<< "$(load 10 "${URL}show_data")"
  read -r p_rps p_p50 p_p99 p_err <<< "$(load 10 -s "$WORK/post.lua" "${URL}scale")"
  rss_w=$(rss_kb)
  read -r l_rps l_p50 l_p99 l_err <<< "$(load "$LOAD_S" "${URL}show_data")"
  rss1=$(rss_kb)
  [ "$(curl -s "${URL}show_data")" = '{"result": 3}' ] || echo "bench_serve: $label: wrong answer after the load" >&2
  grep -q 'crashed\|starting another' "$WORK/err" && echo "bench_serve: $label: $(grep -c 'crashed\|starting another' "$WORK/err") crashes during the loads" >&2
  stop
  ROWS+=("$(row "$label" "GET /show_data, 10 s" "$g_rps" "$g_p50" "$g_p99" "$g_err")")
  ROWS+=("$(row "$label" "POST /scale {\"x\": 4}, 10 s" "$p_rps" "$p_p50" "$p_p99" "$p_err")")
  ROWS+=("$(row "$label" "GET /show_data, ${LOAD_S} s" "$l_rps" "$l_p50" "$l_p99" "$l_err")")
  MEMS+=("$(mem "$label" "at start (each worker answered)" "$rss0")")
  MEMS+=("$(mem "$label" "after the two 10 s loads" "$rss_w")")
  MEMS+=("$(mem "$label" "after ${LOAD_S} s more" "$rss1")")
  MEMS+=("$(mem "$label" "growth over the ${LOAD_S} s load" "$(( rss1 - rss_w ))")")
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for f in $FLOWS; do
  case $f in
    c) bench C "$SRC/examples/serve.c" ;;
    python) bench Python "$SRC/examples/python/serve.py" ;;
    *) echo "bench_serve: FLOWS is c and/or python, not $f" >&2; exit 2 ;;
  esac
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

echo "mflow serve, $WORKERS workers, wrk -t2 -c$CONNS on the same $(nproc) cores ($(date -u +%Y-%m-%d)); load average before $load_before, after $load_after"
row "flow" "load" "requests/s" "p50" "p99" "errors"
printf '|%s|%s|%s|%s|%s|%s\n' "----------" "----------------------------------" "--------------" "-----------" "-----------" "------"
printf '%s\n' "${ROWS[@]}"
echo
mem "flow" "server RSS (supervisor + workers + Python)" "KiB"
printf '%s\n' "${MEMS[@]}"
