#!/bin/bash
# Python flows beside C flows: per-task cost of a trivial task in an N-task foreach, and a
# 5-step linear run, with the spawn and fork floors of the same run. Metaflow is not installed
# here: its figures are the issue's, quoted.
#   bench/bench_python.sh BUILD_DIR [N]
# MFLOW_PYTHON picks the interpreter (default: Debian's /usr/bin/python3 when there is one, as
# a version manager's shim on PATH costs every cold start half a second).
set -euo pipefail
BUILD=${1:-build}
N=${2:-1000}
HERE=$(cd "$(dirname "$0")" && pwd)
MFLOW=$BUILD/core/mflow
export PYTHONPATH=$HERE/../sdk/python
if [ -z "${MFLOW_PYTHON:-}" ] && [ -x /usr/bin/python3 ]; then export MFLOW_PYTHON=/usr/bin/python3; fi
export MFLOW_HOME=$(mktemp -d "${TMPDIR:-/tmp}"/mflow-bench.XXXXXX)
trap 'rm -rf "$MFLOW_HOME"' EXIT

floor1=$("$BUILD/bench/spawn_floor" "$N" 1)
floorf=$("$BUILD/bench/spawn_floor" "$N" 1 fork)

# seconds of one run: timed FLOW ARGS...
timed() {
  local a b
  a=$(date +%s.%N)
  "$MFLOW" run "$@" >/dev/null 2>&1 || { echo "bench_python: run $* failed" >&2; exit 1; }
  b=$(date +%s.%N)
  python3 -c "print($b - $a)"
}
# median of 3 runs of a foreach of N, as ms per task (N + 3 tasks)
per_task() {
  local f=$1; shift
  "$MFLOW" run "$f" --n=2 >/dev/null 2>&1    # compile or read the graph once
  local r=()
  for i in 1 2 3; do r+=("$(timed "$f" --n="$N" --max-workers 2 "$@")"); done
  python3 -c "import sys; r=sorted(map(float, sys.argv[2:])); print(r[1] * 1000 / (int(sys.argv[1]) + 3))" "$N" "${r[@]}"
}
# best of 5 runs of a flow, in ms
best_of() {
  local f=$1; shift
  "$MFLOW" run "$f" >/dev/null 2>&1
  local best=999999
  for i in 1 2 3 4 5; do best=$(python3 -c "print(min($best, $(timed "$f" "$@") * 1000))"); done
  echo "$best"
}
c_task=$(per_task "$HERE/flows/trivial_foreach.c")
py_task=$(per_task "$HERE/flows/trivial_foreach.py")
# every task its own python3: costly, so a tenth of the foreach (at most 100 tasks)
NC=$(( N / 10 < 100 ? (N / 10 > 0 ? N / 10 : 1) : 100 ))
py_cold=$(N=$NC MFLOW_PY_TASK_SERVER=0 per_task "$HERE/flows/trivial_foreach.py")
# one more warm run, its children's and its server's page faults and CPU (MFLOW_PY_TS_STATS):
# counts that a busy machine changes less than times
MFLOW_PY_TS_STATS=$MFLOW_HOME/ts_stats "$MFLOW" run "$HERE/flows/trivial_foreach.py" --n="$N" \
  --max-workers 2 >/dev/null 2>&1 || true
ts_stats=$(tail -1 "$MFLOW_HOME/ts_stats" 2>/dev/null || echo "")
c_lin=$(best_of "$HERE/flows/linear5.c")
py_lin=$(best_of "$HERE/flows/linear5.py")
python3 - "$N" "$floor1" "$floorf" "$c_task" "$py_task" "$py_cold" "$c_lin" "$py_lin" "$("${MFLOW_PYTHON:-python3}" --version 2>&1 || echo python3)" "$NC" "$ts_stats" <<'PY'
import sys
n = int(sys.argv[1])
f1, ff, c, py, cold, clin, pylin = map(float, sys.argv[2:9])
nc = int(sys.argv[10])
print(f"{'measure (%s; load %s)' % (sys.argv[9], open('/proc/loadavg').read().split()[0]):<58} {'value':>10}")
print(f"{'C task, foreach of %d, --max-workers 2, per task (ms)' % n:<58} {c:>10.2f}")
print(f"{'Python task, same, warm server, per task (ms)':<58} {py:>10.2f}")
print(f"{'  Python over C per task (ms; issue: at most 10)':<58} {py - c:>10.2f}")
print(f"{'Python task, every task its own python3 (%d tasks), per task (ms)' % nc:<58} {cold:>10.2f}")
st = sys.argv[11].split()
if len(st) >= 17 and int(st[1]):
    k = int(st[1])
    print(f"{'  a served child: page faults, CPU (ms)':<58} {int(st[3]) / k:>10.0f} {(float(st[7]) + float(st[9])) / k:>6.2f}")
    print(f"{'  the server, per child: page faults, CPU (ms)':<58} {int(st[12]) / k:>10.0f} {(float(st[14]) + float(st[16])) / k:>6.2f}")
print(f"{'spawn+reap /bin/true, 1 at a time (ms)':<58} {f1:>10.3f}")
print(f"{'fork+_exit+reap, 1 at a time (ms)':<58} {ff:>10.3f}")
print(f"{'5-step linear run, C, best of 5 (ms)':<58} {clin:>10.1f}")
print(f"{'5-step linear run, Python, best of 5 (ms; issue: at most 500)':<58} {pylin:>10.1f}")
print(f"{'Metaflow per task (ms), quoted from the issue, not measured here':<58} {330:>10.0f}")
print(f"{'Metaflow 5-step linear run (ms), quoted from the issue, not measured here':<58} {2900:>10.0f}")
PY
