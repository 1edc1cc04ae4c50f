#!/bin/bash
# Benchmark: the s3 storage plugin against `aws s3 cp --recursive` on the same data, the same
# local S3 server (tests/s3/s3-fixture.sh: the SigV4-verifying s3rver fork) and in the same
# run. Prints a table.
#
#   bench/s3/bench_s3.sh [BUILD_DIR]          (default: build)
#
# Workloads: SMALL_N objects of SMALL_KB KiB (default 10000 x 4 KiB) and BIG_N objects of
# BIG_MB MiB (default 16 x 64 MiB = 1 GiB), each uploaded and downloaded by both tools,
# ROUNDS times (default 3, in a rotating order; the best time counts, all are in the log). mflow
# runs through tests/s3/s3tool (put_batch of the files / list + get_batch into files, the
# plugin's default settings unless MFLOW_S3_* are set); the AWS CLI with its defaults
# (10 concurrent requests, 8 MB multipart chunks). Downloads are checked against the data.
#
# "server CPU s" is the CPU time the server process (node: its main thread and its I/O
# threads) used during the operation, from /proc/PID/stat: where it is close to the wall time
# the server, not the client, is the limit. Row "ceiling" is the plugin with everything it can
# switch off (no signing, no MD5 or ETag checks): the fastest this server serves a client.
# Row "mflow-mp" uploads the large objects in parts even in a batch
# (MFLOW_S3_BATCH_SINGLE_PUT_MAX=0).
#
# Needs: the built plugin and s3tool (ninja -C BUILD), node + npm (the server), the AWS CLI
# (scripts/setup-s3-deps.sh installs both). BENCH_DIR (default /dev/shm/mflow-bench-s3 when
# tmpfs has 6 GiB free, else /tmp/mflow-bench-s3) holds the data (about 1.1 GiB), the
# server's store and the downloads (cleaned as it goes; data on tmpfs is removed at the end
# unless BENCH_KEEP_DATA=1).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
tool=$build/tests/s3/s3tool
plugin=$build/plugins/storage/s3/mflow_storage_s3.so
# Everything (data, the server's store, downloads) goes to tmpfs when there is room: this VM's
# disk is shared and its file-creation cost swings several-fold under other load, which
# would measure the disk, not the clients. BENCH_DIR=/some/disk/dir measures on a disk.
if [ -n "${BENCH_DIR:-}" ]; then
  work=$BENCH_DIR
else
  avail=$(df -Pk /dev/shm 2>/dev/null | awk 'NR == 2 {print $4}')
  if [ "${avail:-0}" -gt $((6 * 1024 * 1024)) ]; then work=/dev/shm/mflow-bench-s3; else work=/tmp/mflow-bench-s3; fi
fi
where=$(df -PT "$(dirname "$work")" | awk 'NR == 2 {print $2}')
SMALL_N=${SMALL_N:-10000} SMALL_KB=${SMALL_KB:-4} BIG_N=${BIG_N:-16} BIG_MB=${BIG_MB:-64}
ROUNDS=${ROUNDS:-3}
AWS=${MFLOW_TEST_AWS:-/usr/bin/aws}
[ -x "$AWS" ] || AWS=$(command -v aws || true)

[ -x "$tool" ] && [ -f "$plugin" ] || {
  echo "bench_s3: build first: ninja -C $build tests/s3/s3tool plugins/storage/s3/mflow_storage_s3.so" >&2
  exit 1
}
[ -n "$AWS" ] || { echo "bench_s3: no AWS CLI (scripts/setup-s3-deps.sh installs it)" >&2; exit 1; }

mkdir -p "$work"
data=$work/data
# ---- data (kept between runs) ----
if [ ! -f "$data/.done-$SMALL_N-$SMALL_KB-$BIG_N-$BIG_MB" ]; then
  echo "bench_s3: writing $SMALL_N x $SMALL_KB KiB and $BIG_N x $BIG_MB MiB of random data under $data" >&2
  rm -rf "$data"
  mkdir -p "$data/small" "$data/big"
  python3 - "$data" "$SMALL_N" "$SMALL_KB" "$BIG_N" "$BIG_MB" <<'EOF'
import os, sys
d, sn, skb, bn, bmb = sys.argv[1], *map(int, sys.argv[2:])
for i in range(sn):
    sub = f"{d}/small/{i // 1000:03d}"
    os.makedirs(sub, exist_ok=True)
    with open(f"{sub}/obj{i:06d}", "wb") as f:
        f.write(os.urandom(skb * 1024))
for i in range(bn):
    with open(f"{d}/big/blob{i:03d}", "wb") as f:
        for _ in range(bmb):
            f.write(os.urandom(1 << 20))
EOF
  touch "$data/.done-$SMALL_N-$SMALL_KB-$BIG_N-$BIG_MB"
fi

# ---- the server ----
export S3FIX_DIR=$work/server S3FIX_BUCKET=bench MFLOW_TEST_BUILD_ROOT=$build
export MFLOW_S3_SERVER_DIR=${MFLOW_S3_SERVER_DIR:-$build/s3-server}
rm -rf "$S3FIX_DIR"
"$src/tests/s3/s3-fixture.sh" start >&2
# shellcheck disable=SC1091
. "$S3FIX_DIR/env"
cleanup() {
  "$src/tests/s3/s3-fixture.sh" stop >/dev/null 2>&1 || true
  rm -rf "$S3FIX_DIR" "$work"/out-*
  # data on tmpfs is memory: drop it unless asked to keep it
  [ "$where" = tmpfs ] && [ "${BENCH_KEEP_DATA:-0}" != 1 ] && rm -rf "$data"
  return 0
}
trap cleanup EXIT
pid=$S3FIX_PID
export MFLOW_TEST_PLUGIN=$plugin MFLOW_DATASTORE_ROOT=s3://bench
A=("$AWS" --endpoint-url "$S3FIX_ENDPOINT")

ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
hz=$(getconf CLK_TCK)
now() { date +%s.%N; }
results=$work/results.txt
: >"$results"

# measure NAME WORKLOAD OP -- command...: appends "workload op tool wall cpu"
measure() {
  local tool_name=$1 wl=$2 op=$3
  shift 4
  local t0 c0 t1 c1
  sync
  c0=$(ticks); t0=$(now)
  "$@" >/dev/null
  t1=$(now); c1=$(ticks)
  awk -v w="$wl" -v o="$op" -v n="$tool_name" -v a="$t0" -v b="$t1" -v c="$c0" -v d="$c1" -v hz="$hz" \
    'BEGIN { printf "%s %s %s %.3f %.2f\n", w, o, n, b - a, (d - c) / hz }' >>"$results"
  tail -1 "$results" | awk '{printf "  %-6s %-4s %-6s %7.2f s  (server CPU %.2f s)\n", $1, $2, $3, $4, $5}' >&2
}

clean_server() { rm -rf "$S3FIX_DIR/data/bench/$1"; }

run_mflow() {   # workload round [name]: the plugin with the settings in the environment
  local wl=$1 r=$2 name=${3:-mflow} out=$work/out-mflow
  rm -rf "$out"
  measure "$name" "$wl" up -- "$tool" putdir "$data/$wl" "m$r/$wl"
  measure "$name" "$wl" down -- "$tool" getdir "m$r/$wl" "$out"
  diff -rq "$data/$wl" "$out" >/dev/null || { echo "bench_s3: $name download of $wl differs" >&2; exit 1; }
  rm -rf "$out"
  clean_server "m$r"
}

run_ceiling() {   # the plugin with signing and checksums off
  MFLOW_S3_NO_SIGN_REQUEST=1 MFLOW_S3_CONTENT_MD5=0 MFLOW_S3_VERIFY_ETAG=0 run_mflow "$1" "$2" ceiling
}

run_mp() {   # large objects in parts even in a batch (upload only)
  [ "$1" = big ] || return 0
  MFLOW_S3_BATCH_SINGLE_PUT_MAX=0 measure mflow-mp big up -- "$tool" putdir "$data/big" "p$2/big"
  clean_server "p$2"
}

run_aws() {
  local wl=$1 r=$2 out=$work/out-aws
  rm -rf "$out"
  measure aws "$wl" up -- "${A[@]}" s3 cp --recursive "$data/$wl" "s3://bench/a$r/$wl" --only-show-errors
  measure aws "$wl" down -- "${A[@]}" s3 cp --recursive "s3://bench/a$r/$wl" "$out" --only-show-errors
  diff -rq "$data/$wl" "$out" >/dev/null || { echo "bench_s3: aws download of $wl differs" >&2; exit 1; }
  rm -rf "$out"
  clean_server "a$r"
}

# each round runs every client on each workload, in a rotating order, so that slow phases of
# the machine (other load, disk writeback) do not always fall on the same one
runs=(mflow aws ceiling mp)
for r in $(seq 1 "$ROUNDS"); do
  for wl in small big; do
    echo "bench_s3: round $r, $wl" >&2
    for k in 0 1 2 3; do
      run_"${runs[$(((k + r) % 4))]}" $wl $r
    done
  done
done

# ---- the table ----
echo
printf 'S3 benchmark: local node %s server (SigV4-verifying s3rver fork), %s cores, data and store on %s;\n' \
  "$(node --version)" "$(nproc)" "$where"
printf 'best of %s rounds (all runs: %s)\n' "$ROUNDS" "$results"
printf 'mflow: s3 plugin defaults (16 in flight; parts of 8 MiB above 16 MiB, or above 256 MiB in a\n'
printf '       batch of 16+ objects; ranged reads of 8 MiB); aws: %s defaults (10 in flight, 8 MB parts)\n' \
  "$("$AWS" --version 2>&1 | cut -d' ' -f1)"
echo
awk -v sn="$SMALL_N" -v skb="$SMALL_KB" -v bn="$BIG_N" -v bmb="$BIG_MB" '
  { k = $1 " " $2 " " $3
    if (!(k in best) || $4 < best[k]) { best[k] = $4; cpu[k] = $5 } }
  END {
    printf "%-22s %-9s %8s %12s %13s\n", "workload", "tool", "wall s", "rate", "server CPU s"
    split("small big", wls, " "); split("up down", ops, " "); split("mflow aws mflow-mp ceiling", tools, " ")
    for (i = 1; i <= 2; i++) for (j = 1; j <= 2; j++) {
      w = wls[i]; o = ops[j]
      name = (w == "small") ? sprintf("%d x %d KiB %s", sn, skb, o) : sprintf("%d x %d MiB %s", bn, bmb, o)
      for (t = 1; t <= 4; t++) {
        k = w " " o " " tools[t]
        if (!(k in best)) continue
        if (w == "small") rate = sprintf("%.0f obj/s", sn / best[k])
        else rate = sprintf("%.0f MiB/s", bn * bmb / best[k])
        printf "%-22s %-9s %8.2f %12s %13.2f\n", name, tools[t], best[k], rate, cpu[k]
      }
      m = w " " o " mflow"; a = w " " o " aws"
      if ((m in best) && (a in best)) speed[name] = best[a] / best[m]
    }
    print ""
    for (i = 1; i <= 2; i++) for (j = 1; j <= 2; j++) {
      w = wls[i]; o = ops[j]
      name = (w == "small") ? sprintf("%d x %d KiB %s", sn, skb, o) : sprintf("%d x %d MiB %s", bn, bmb, o)
      if (name in speed) printf "mflow vs aws, %-22s %5.2fx\n", name ":", speed[name]
    }
  }' "$results"
