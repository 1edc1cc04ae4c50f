#!/bin/bash
# The Python SDK's size limits, measured (README "Large values"): for each limit, the two paths
# it chooses between, forced in real tasks at sizes from well under to well over it (a Python
# flow on the local store, bench/flows/python_values.py --limits): wall and CPU seconds of the
# task's store and of the next task's read, the peak RSS each adds (VmHWM) over the value's
# size, and the floor of the same minute (as many bytes written and fsync'd). Medians of REPS
# runs of each cell, the two paths taking turns, with their spread.
#   bench/bench_python_limits.sh [BUILD_DIR] [REPS] [LIMITS] [ZSTD_LIBS]
# LIMITS: a comma list of the flow's PLAN (all but zstd by default); LIMIT=default runs the
# cells with no path forced (the limits as the code has them: before and after a change).
# ZSTD_LIBS: "LABEL=LIB ..."
# (libmflow.so builds with another READ_PIECE, core/src/blob.c), each read in turn for the
# zstd cells, this build's own as "1M"; "" leaves the zstd cells out. LIMITS_ROWS=FILE keeps
# the rows (JSON lines) in FILE: python3 bench/python_limits.py < FILE prints the table again;
# LIMITS_LABEL=before (after) labels them, for two trees' rows appended to one FILE. (The
# tasks import the mflow package of BUILD's source tree, which mflow puts first on PYTHONPATH:
# for another tree's, MFLOW_PYTHON=a script that puts it first and runs python3.)
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=${1:-build}
REPS=${2:-3}
LIMITS=${3:-oob_bytes,oob_str,member_bytes,member_str,window,stream_bytes,stream_str,stream_npy,stream_obj,stream_pickle,spool_str,spool_int}
ZLIBS=${4-}
MFLOW=$BUILD/core/mflow
[ -x "$MFLOW" ] || { echo "no $MFLOW (give the build directory)"; exit 1; }
if [ -z "${MFLOW_PYTHON:-}" ] && [ -x /usr/bin/python3 ]; then export MFLOW_PYTHON=/usr/bin/python3; fi
PY=${MFLOW_PYTHON:-python3}
"$PY" -c "import numpy" 2>/dev/null || LIMITS=$(echo "$LIMITS" | sed 's/stream_npy,\?//')
export PYTHONPATH=$HERE/../sdk/python
export MFLOW_HOME=$(mktemp -d "${TMPDIR:-/tmp}"/mflow-limits.XXXXXX)
ROWS=${LIMITS_ROWS:-$MFLOW_HOME.rows}
trap 'rm -rf "$MFLOW_HOME"; [ -n "${LIMITS_ROWS:-}" ] || rm -f "$ROWS"' EXIT
[ -n "${LIMITS_ROWS:-}" ] || : >"$ROWS"      # LIMITS_ROWS: appended to
load() { cut -d' ' -f1-3 /proc/loadavg; }
echo "load average before: $(load), $(nproc) CPUs"

# run LABEL LIMITS REPS: one run of the flow, its rows appended (labelled) to $ROWS
run() {
  rm -rf "$MFLOW_HOME"; mkdir -p "$MFLOW_HOME"      # a datastore of its own
  "$MFLOW" run "$HERE/flows/python_values.py" --limits "$2" --reps "$3" --max-workers 1 \
    --run-id-file "$MFLOW_HOME/rid" >"$MFLOW_HOME.log" 2>&1 ||
    { echo "bench: the run of $2 ($1) failed:"; tail -20 "$MFLOW_HOME.log"; rm -f "$MFLOW_HOME.log"; return 1; }
  rm -f "$MFLOW_HOME.log"
  "$MFLOW" get "ValueBenchFlow/$(cat "$MFLOW_HOME/rid")/join" rows --json |
    "$PY" -c 'import json, sys
for r in json.load(sys.stdin): print(json.dumps([sys.argv[1]] + r))' "$1" >>"$ROWS"
}

# a failed run is said, and the others still run (its cells are missing from the table)
[ -n "$LIMITS" ] && { run "${LIMITS_LABEL:-main}" "$LIMITS" "$REPS" || true; }
if [ -n "$ZLIBS" ]; then
  for rep in $(seq "$REPS"); do
    for lib in "1M=" $ZLIBS; do
      label=${lib%%=*} path=${lib#*=}
      if [ -n "$path" ]; then MFLOW_LIBMFLOW=$path run "$label" zstd 1 || true
      else run "$label" zstd 1 || true; fi
    done
  done
fi
echo "load average after: $(load)"
"$PY" "$HERE/python_limits.py" <"$ROWS"
