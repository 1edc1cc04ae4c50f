# Shared by the tests of Python flows on remote backends (k8s, container, Airflow): the flow
# tests/pyflow/flows/remote (a module and a data file beside it), copied to $WORK so that
# no run writes beside the sources, and checks of one run against another.
RFLOW_DIR=$WORK/remote
cp -r "$SRC/tests/pyflow/flows/remote" "$RFLOW_DIR"
RFLOW=$RFLOW_DIR/remote.py
RLIBMFLOW=$MFLOW_LIBMFLOW   # the client's libmflow (pyflow/lib.sh), kept if a test unsets it

# same_runs WHAT MFLOW-CMD RUN_A RUN_B: every task's artifacts equal in both runs (by step
# and place in the run, values as `get --json` prints them), run with MFLOW-CMD (a script:
# compare_runs.py runs it with its own arguments)
same_runs() {
  CHECKS=$((CHECKS + 1))
  local c
  if c=$(python3 "$SRC/tests/airflow/compare_runs.py" "$2" "RemoteFlow/$3" "RemoteFlow/$4" 2>&1); then
    echo "ok: $1 ($c)"
  else
    fail "$1: $c"
  fi
}

# pickled DATASTORE-ROOT Flow/RUN/STEP: the pickled Point of the step's task as the Python
# client reads it back, its type and its blob's key (the SHA-256 of its bytes)
pickled() {
  PYTHONPATH="$RFLOW_DIR:$SRC/sdk/python" MFLOW_LIBMFLOW=$RLIBMFLOW MFLOW_DATASTORE_ROOT="$1" python3 -c '
import sys
from mflow import Run, namespace
namespace(None)
flow, run, step = sys.argv[1].split("/")
t = Run(flow + "/" + run)[step].task
a = t["pt"]
print(repr(a.data), a.type, a.sha[:16])' "$2"
}

# json_status: the "status" of the JSON object on stdin
json_status() { python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])'; }
