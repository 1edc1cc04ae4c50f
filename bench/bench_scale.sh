#!/bin/bash
# A foreach of N trivial tasks (default 100,000) completes; the orchestrator's peak RSS and
# the time it took.   bench/bench_scale.sh BUILD_DIR [N] [WORKERS]
set -euo pipefail
BUILD=${1:-build}
N=${2:-100000}
W=${3:-2}
HERE=$(cd "$(dirname "$0")" && pwd)
export MFLOW_HOME=$(mktemp -d "${TMPDIR:-/tmp}"/mflow-bench.XXXXXX)
trap 'rm -rf "$MFLOW_HOME"' EXIT
"$BUILD/core/mflow" run "$HERE/flows/trivial_foreach.c" --n=2 >/dev/null 2>&1
/usr/bin/time -f "%M %e" -o "$MFLOW_HOME/time" \
  "$BUILD/core/mflow" run "$HERE/flows/trivial_foreach.c" --n="$N" --max-workers "$W" \
  --run-id-file "$MFLOW_HOME/rid" > "$MFLOW_HOME/out" 2>&1 || { tail -5 "$MFLOW_HOME/out"; exit 1; }
read -r rss secs < "$MFLOW_HOME/time"
count=$("$BUILD/core/mflow" get TrivialForeach/$(cat "$MFLOW_HOME/rid")/end count)
python3 - "$N" "$W" "$rss" "$secs" "$count" <<'PY'
import sys
n, w, rss, secs, count = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
print(f"{'measure (foreach of %d trivial tasks, %d workers)' % (n, w):<52} {'value':>10}")
print(f"{'completed; join saw inputs':<52} {count:>10}")
print(f"{'wall time (s)':<52} {secs:>10.1f}")
print(f"{'per task (ms)':<52} {secs * 1000 / (n + 3):>10.3f}")
print(f"{'orchestrator peak RSS (MB)':<52} {rss / 1024:>10.1f}")
print(f"{'  per task (bytes)':<52} {rss * 1024 / n:>10.0f}")
PY
