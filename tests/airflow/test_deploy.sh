#!/bin/bash
# The Airflow export through `mflow deploy --scheduler=airflow --output F` (the command, not the
# test driver): the DAG lands at F, the deployment is recorded (list, show, a second deploy is
# version 2, reindex recovers it), and the DAG run by the executor stand-in gives the artifacts
# of `mflow run`, in the deployment's namespace and tagged with its version.
. "$MFLOW_TEST_SOURCE_ROOT/tests/airflow/lib_airflow.sh"

# via_deploy WHAT FLOWFILE FLOW NAME [--PARAM=V...] -- [STANDIN ARGS]
via_deploy() {
  local what=$1 f=$2 flow=$3 name=$4; shift 4
  local dargs=() sargs=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do dargs+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  sargs=("$@")
  run_flow "$f" "${dargs[@]}" || { fail "$what: mflow run: $OUT"; return; }
  local ref=$RUN
  run_ok "$what: deploy" mflow deploy "$f" --scheduler=airflow --name "$name" \
    --output "$WORK/dags/$name.py" --schedule '@daily' "${dargs[@]}"
  check_contains "$what: deploy names the DAG file" "$WORK/dags/$name.py" "$OUT"
  run_ok "$what: the DAG compiles" python3 -m py_compile "$WORK/dags/$name.py"
  run_ok "$what: stand-in run" python3 "$STANDIN" "$WORK/dags/$name.py" \
    --run-id "scheduled__2026-12-01T00:00:00+00:00" --report "$WORK/$name.log" "${sargs[@]}"
  local arun; arun=$(airflow_run "$flow" "$name")
  run_ok "$what: same artifacts as mflow run" python3 "$HERE/compare_runs.py" "$MFLOW" \
    "$flow/$ref" "$flow/$arun"
  check_eq "$what: run succeeded" succeeded \
    "$(mflow --namespace= inspect "$flow/$arun" --json | json_field status)"
  check_contains "$what: tagged with the deployment's version" "deployment_version:1" \
    "$(mflow --namespace= inspect "$flow/$arun" --json | json_field tags)"
}

via_deploy "nested foreach" "$FLOWS/nested_foreach.c" NestedForeachFlow nf --
via_deploy "three branches" "$FLOWS/branch3.c" Branch3Flow b3 --
via_deploy "linear, parameters given to deploy" "$FLOWS/linear.c" LinearFlow lin --base=4 --flag=true --

run_ok "deployments list" mflow deployments list --json
check_contains "the airflow deployment is listed" '"scheduler": "airflow"' "$(echo "$OUT" | python3 -c 'import json,sys; print(json.dumps([d for d in json.load(sys.stdin) if d["name"] == "nf"]))')"
run_ok "deployments show" mflow deployments show nf
check_contains "show names the DAG file" "$WORK/dags/nf.py" "$OUT"
run_ok "deploy again" mflow deploy "$FLOWS/nested_foreach.c" --scheduler=airflow --name nf --output "$WORK/dags/nf.py"
check_contains "a second deploy is version 2" "version 2" "$OUT"
check_contains "the DAG says version 2" "(version 2)" "$(head -1 "$WORK/dags/nf.py")"
run_ok "reindex" mflow reindex
run_ok "show after reindex" mflow deployments show nf --json
check_contains "reindex recovered version 2" '"version": 2' "$OUT"
run_fails "no --output" 1 "output" mflow deploy "$FLOWS/linear.c" --scheduler=airflow --name noout
run_ok "delete" mflow deployments delete nf
check_eq "delete removes the DAG file it wrote" "" "$(ls "$WORK/dags/nf.py" 2>/dev/null)"
finish
