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
