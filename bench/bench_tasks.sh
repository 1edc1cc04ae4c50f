#!/bin/bash
# Per-task overhead and small-run latency, printed as a table.
#   bench/bench_tasks.sh BUILD_DIR [N]
set -euo pipefail
BUILD=${1:-build}
N=${2:-1000}
HERE=$(cd "$(dirname "$0")" && pwd)
MFLOW=$BUILD/core/mflow
export MFLOW_HOME=$(mktemp -d /tmp/mflow-bench.XXXXXX)
trap 'rm -rf "$MFLOW_HOME"' EXIT

floor1=$("$BUILD/bench/spawn_floor" "$N" 1)
floor2=$("$BUILD/bench/spawn_floor" "$N" 2)
floorf=$("$BUILD/bench/spawn_floor" "$N" 1 fork)
"$MFLOW" run "$HERE/flows/trivial_foreach.c" --n=2 >/dev/null 2>&1   # compile once
# This disk's fsync latency (one per task record) moves from minute to minute: three runs,
# the median and the spread.
disk=()
for r in 1 2 3; do
  a=$(date +%s.%N)
  "$MFLOW" run "$HERE/flows/trivial_foreach.c" --n="$N" --max-workers 2 >/dev/null 2>&1
  b=$(date +%s.%N)
  disk+=("$(python3 -c "print($b - $a)")")
done
# The same with the datastore in memory: what the disk's fsync and inode creation cost.
SHM=$(mktemp -d /dev/shm/mflow-bench.XXXXXX)
"$MFLOW" --datastore-root="$SHM" run "$HERE/flows/trivial_foreach.c" --n=2 >/dev/null 2>&1
t2=$(date +%s.%N)
"$MFLOW" --datastore-root="$SHM" run "$HERE/flows/trivial_foreach.c" --n="$N" --max-workers 2 >/dev/null 2>&1
t3=$(date +%s.%N)
rm -rf "$SHM"
"$MFLOW" run "$HERE/flows/linear5.c" >/dev/null 2>&1                 # compile once
best=999
for i in 1 2 3 4 5; do
  a=$(date +%s.%N); "$MFLOW" run "$HERE/flows/linear5.c" >/dev/null 2>&1; b=$(date +%s.%N)
  best=$(python3 -c "print(min($best, ($b - $a) * 1000))")
done
python3 - "$N" "$floor1" "$floor2" "$floorf" "$best" "$t2" "$t3" "${disk[@]}" <<'PY'
import sys
n, f1, f2, ff, lin, t2, t3 = int(sys.argv[1]), *map(float, sys.argv[2:8])
runs = sorted(float(x) for x in sys.argv[8:])
shm = (t3 - t2) * 1000 / (n + 3)
per = runs[len(runs) // 2] * 1000 / (n + 3)
print(f"{'measure':<48} {'value':>10}")
print(f"{'foreach of %d trivial tasks, --max-workers 2' % n:<48} {runs[len(runs) // 2]:>9.2f}s")
print(f"{'  per task, median of 3 runs (ms)':<48} {per:>10.3f}")
spread = f"{runs[0] * 1000 / (n + 3):.3f}/{runs[-1] * 1000 / (n + 3):.3f}"
print(f"{'  per task, fastest / slowest run (ms)':<48} {spread:>10}")
print(f"{'spawn+reap /bin/true, 1 at a time (ms)':<48} {f1:>10.3f}")
print(f"{'spawn+reap /bin/true, 2 at a time (ms)':<48} {f2:>10.3f}")
print(f"{'fork+_exit+reap, 1 at a time (ms)':<48} {ff:>10.3f}")
print(f"{'  ratio per task / floor (1 at a time)':<48} {per / f1:>10.2f}")
print(f"{'same, datastore on tmpfs: per task (ms)':<48} {shm:>10.3f}")
print(f"{'  ratio to the floor':<48} {shm / f1:>10.2f}")
print(f"{'5-step linear run, compiled, best of 5 (ms)':<48} {lin:>10.1f}")
PY
