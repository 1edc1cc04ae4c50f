# Helpers of the airflow suite (on top of tests/e2e/lib.sh).
. "$MFLOW_TEST_SOURCE_ROOT/tests/e2e/lib.sh"
PLUGIN=${MFLOW_AIRFLOW_PLUGIN:?run through meson test}
DRIVER=${MFLOW_AIRFLOW_DRIVER:?run through meson test}
HERE=$SRC/tests/airflow
STANDIN=$HERE/executor_standin.py
BENCH_FLOWS=$SRC/bench/flows
mkdir -p "$WORK/dags"
command -v python3 >/dev/null || { echo "python3 is missing: skipped"; exit 77; }

# json_field FIELD: that member of the JSON object on stdin
json_field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

# deploy FLOWFILE NAME [SCHEDULE|-] [key=value...]: the DAG of the flow's package into
# $WORK/dags/NAME.py, through the plugin (as `mflow deploy` will call it); DEPLOY_OUT is
# what the driver printed.
deploy() {
  local f=$1 name=$2 sched=${3:--}; shift 3 || shift $#
  mflow show "$f" --json > "$WORK/$name.graph.json" || return 1
  local pkg; pkg=$(mflow package "$f" --json) || return 1
  # both fields from one python3 (each start costs more than the rest of a deploy)
  local addr root
  { read -r addr; read -r root; } < <(echo "$pkg" | python3 -c \
    'import json,sys; p=json.load(sys.stdin); print(p["address"]); print(p["datastore"])')
  DEPLOY_OUT=$("$DRIVER" "$PLUGIN" deploy "$WORK/$name.graph.json" "$addr" "$root" "$sched" \
    name="$name" version=1 namespace="production:$name" output="$WORK/dags/$name.py" \
    mflow="$MFLOW" home="$MFLOW_HOME" "$@" 2>&1)
}

# airflow_run FLOW NAME: the run id of the latest started run in namespace production:NAME
# (run ids of DAG runs are hashes: no order)
airflow_run() {
  mflow --namespace="production:$2" runs "$1" --json | python3 -c 'import json,sys; r=json.load(sys.stdin); print(max(r, key=lambda x: x["start_time"])["run_id"] if r else "")'
}
