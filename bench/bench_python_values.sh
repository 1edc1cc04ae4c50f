#!/bin/bash
# The Python SDK's values: the codec's encode and decode throughput per type and size (memory
# against the payload, the floors of the same run), then values stored and read by real tasks
# (a Python flow on the local store): MB/s, the memory a store adds over the value (peak RSS
# over RSS with the value made) and a read's peak RSS over RSS before it, over the value; in
# pieces (now) and whole (MFLOW_PY_PIECES_MIN=off: how every value went before), same run.
#   bench/bench_python_values.sh [BUILD_DIR] [MAX_MIB] [TASK_MIBS]   (TASK_MIBS: "16 256")
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=${1:-build}
command -v python3 >/dev/null || { echo "python3 is not installed: no Python benchmark"; exit 0; }
PYTHONPATH=$HERE/../sdk/python python3 "$HERE/python_values.py" "${2:-8}"

MFLOW=$BUILD/core/mflow
[ -x "$MFLOW" ] || { echo "no $MFLOW: no task rows (give the build directory)"; exit 0; }
if [ -z "${MFLOW_PYTHON:-}" ] && [ -x /usr/bin/python3 ]; then export MFLOW_PYTHON=/usr/bin/python3; fi
PY=${MFLOW_PYTHON:-python3}
export PYTHONPATH=$HERE/../sdk/python
export MFLOW_HOME=$(mktemp -d "${TMPDIR:-/tmp}"/mflow-bench.XXXXXX)
trap 'rm -rf "$MFLOW_HOME"' EXIT
kinds=bytes,str,str-utf8,pickle
"$PY" -c "import numpy" 2>/dev/null && kinds=$kinds,npy || echo "(numpy is not installed: no npy row)"
echo
echo "values stored and read by tasks (load average $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs)"
printf '%-9s %7s %-7s %11s %11s %14s %13s\n' kind size path "store MB/s" "read MB/s" "store extra/v" "read peak/v"
for mib in ${3:-16 256}; do
  for path in pieces whole; do
    [ "$path" = whole ] && export MFLOW_PY_PIECES_MIN=off || unset MFLOW_PY_PIECES_MIN
    # a datastore of its own: a value found stored already would not be written
    rm -rf "$MFLOW_HOME"; mkdir -p "$MFLOW_HOME"
    "$MFLOW" run "$HERE/flows/python_values.py" --mib "$mib" --kinds "$kinds" --max-workers 1 \
      --run-id-file "$MFLOW_HOME/rid" >/dev/null 2>&1 || { echo "bench: the $mib MiB run ($path) failed"; continue; }
    "$MFLOW" get "ValueBenchFlow/$(cat "$MFLOW_HOME/rid")/join" rows --json | "$PY" -c '
import json, sys
mib, path = int(sys.argv[1]), sys.argv[2]
n = mib << 20
for kind, ps, pp, gs, gp in sorted(json.load(sys.stdin)):
    print("%-9s %4d MiB %-7s %11.0f %11.0f %14.2f %13.2f" % (kind, mib, path, n / ps / 1e6,
          n / gs / 1e6, pp / n, gp / n))' "$mib" "$path"
  done
done
unset MFLOW_PY_PIECES_MIN
