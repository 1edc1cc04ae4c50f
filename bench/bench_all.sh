#!/bin/bash
# Every benchmark in turn (each prints its own table).
set -u
BUILD=${1:-build}
HERE=$(cd "$(dirname "$0")" && pwd)
for b in "$HERE"/bench_*.sh "$HERE"/*/bench_*.sh; do
  [ -f "$b" ] && [ "$(basename "$b")" != bench_all.sh ] || continue
  echo "== $(basename "$b")"
  bash "$b" "$BUILD" || echo "(failed: $b)"
  echo
done
if [ -x "$BUILD/bench/bench_placement" ]; then
  echo "== bench_placement"
  MFLOW_SOURCE_ROOT="$HERE/.." "$BUILD/bench/bench_placement" \
    "$BUILD/plugins/compute/local/mflow_compute_local.so" 1000 || echo "(failed: bench_placement)"
fi
