#!/bin/bash
# Benchmark: large values on S3 through the blob layer (what a Python or R task's value goes
# through): written in 1 MiB pieces with mf_blob_writer, read back with mf_blob_read_into, on
# the local S3 server of the s3 suite (tests/s3/s3-fixture.sh). Prints store and read MB/s and
# each operation's peak RSS over the value, per size, for the plugin as it is ("streamed":
# the streaming writer, a spill file past multipart_threshold uploaded at commit, get_range
# pieces into the caller's buffer) and with its operations table cut to ABI 1.0 ("whole":
# gathered and put whole, downloaded whole and copied: how every value went before), in the
# same run on the same server. Each operation is its own process (tests/s3/s3blob), so its
# VmHWM is its own; the best of ROUNDS times counts (a new value each round: a stored one
# would not be written again), the largest peak.
#
#   bench/s3/bench_s3_values.sh [BUILD_DIR] [SIZES_MIB]     (default: build "16 256")
#
# Needs: the built plugin and tests/s3/s3blob (ninja -C BUILD), node + npm (the server).
# BENCH_DIR (default /tmp/mflow-bench-s3v) holds the server's store and the spill files.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
sizes=${2:-16 256}
ROUNDS=${ROUNDS:-3}
blob=$build/tests/s3/s3blob
export MFLOW_TEST_PLUGIN=$build/plugins/storage/s3/mflow_storage_s3.so
[ -x "$blob" ] && [ -f "$MFLOW_TEST_PLUGIN" ] || {
  echo "bench_s3_values: build first: ninja -C $build tests/s3/s3blob" >&2
  exit 1
}
work=${BENCH_DIR:-/tmp/mflow-bench-s3v}
rm -rf "$work"
mkdir -p "$work/spill"
export S3FIX_DIR=$work/server S3FIX_BUCKET=bench MFLOW_TEST_BUILD_ROOT=$build
export MFLOW_S3_SERVER_DIR=${MFLOW_S3_SERVER_DIR:-$build/s3-server}
"$src/tests/s3/s3-fixture.sh" start >&2
# shellcheck disable=SC1091
. "$S3FIX_DIR/env"
trap '"$src/tests/s3/s3-fixture.sh" stop >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
export MFLOW_DATASTORE_ROOT=s3://bench/values MFLOW_S3_SPILL_DIR=$work/spill
field() { printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

echo "values through the blob layer on the local S3 server (load average $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs, spill on $(df -PT "$work" | awk 'NR == 2 {print $2}'))"
printf '%8s %-9s %11s %11s %12s %12s\n' size path "store MB/s" "read MB/s" "store peak/v" "read peak/v"
seed=100
for mib in $sizes; do
  n=$((mib << 20))
  for path in streamed whole; do
    flag=
    [ "$path" = whole ] && flag=--as-1.0
    best_s=999999999 best_r=999999999 peak_s=0 peak_r=0
    for _ in $(seq 1 "$ROUNDS"); do
      seed=$((seed + 1))
      out=$("$blob" $flag store "$mib" "$seed" 1048576)
      key=$(field "$out" key) ms=$(field "$out" ms) hwm=$(field "$out" hwm)
      [ "${ms%.*}" -lt "$best_s" ] && best_s=${ms%.*}
      [ "$hwm" -gt "$peak_s" ] && peak_s=$hwm
      out=$("$blob" $flag read "$key" "$mib")
      ms=$(field "$out" ms) hwm=$(field "$out" hwm)
      [ "${ms%.*}" -lt "$best_r" ] && best_r=${ms%.*}
      [ "$hwm" -gt "$peak_r" ] && peak_r=$hwm
    done
    awk -v mib="$mib" -v p="$path" -v n="$n" -v s="$best_s" -v r="$best_r" -v ps="$peak_s" \
        -v pr="$peak_r" 'BEGIN { printf "%4d MiB %-9s %11.0f %11.0f %12.2f %12.2f\n", mib, p,
        n / (s > 0 ? s : 1) / 1e3, n / (r > 0 ? r : 1) / 1e3, ps / n, pr / n }'
  done
done
