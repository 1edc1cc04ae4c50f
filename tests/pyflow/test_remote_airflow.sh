#!/bin/bash
# Python flows exported to Airflow (`mflow deploy flow.py --scheduler=airflow`) and to cron
# (`--scheduler=cron`, fired with `mflow deployments fire`): every task runs `mflow dag-task`
# (or the firing's run) on the stored package's .py, and gives the artifacts `mflow run
# flow.py` gives: a branch with a foreach in it, nested foreach, parameters, an obj and a
# pickled class, a step retried by Airflow, a failing step with its traceback in the task's
# (Airflow's) log; the DAGs pass the C flows' DAG checks (check_dag.py, the stand-in's airflow modules).
. "$MFLOW_TEST_SOURCE_ROOT/tests/pyflow/lib.sh"
. "$SRC/tests/pyflow/remote_lib.sh"
HERE=$SRC/tests/airflow
STANDIN=$HERE/executor_standin.py
PLUGIN=${MFLOW_AIRFLOW_PLUGIN:?run through meson test}
DRIVER=${MFLOW_AIRFLOW_DRIVER:?run through meson test}
mkdir -p "$WORK/dags"
field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
# the latest started run of FLOW in namespace production:NAME
airflow_run() {
  mflow --namespace="production:$2" runs "$1" --json | python3 -c 'import json,sys; r=json.load(sys.stdin); print(max(r, key=lambda x: x["start_time"])["run_id"] if r else "")'
}
# via_airflow WHAT FLOWFILE FLOW NAME [--PARAM=V...] -- [STANDIN ARGS]: mflow run, then
# mflow deploy + the stand-in; the DAG checked and the artifacts compared. ARUN, REF set.
via_airflow() {
  local what=$1 f=$2 flow=$3 name=$4; shift 4
  local dargs=() sargs=() cargs=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do dargs+=("$1"); cargs+=(--param "${1#--}"); shift; done
  [ $# -gt 0 ] && shift
  sargs=("$@")
  run_flow "$f" "${dargs[@]}" || { fail "$what: mflow run: $OUT"; return; }
  REF=$RUN
  run_ok "$what: deploy" mflow deploy "$f" --scheduler=airflow --name "$name" \
    --output "$WORK/dags/$name.py" --schedule '@daily' "${dargs[@]}"
  local pkg; pkg=$(mflow package "$f" | head -1)
  check_contains "$what: the DAG's tasks run dag-task on the package" \
    "'dag-task' '$flow' 'start' '--dag-id' '$name' '--dag-run' '{{ run_id }}' '--package' '$pkg'" \
    "$(cat "$WORK/dags/$name.py")"
  mflow show "$f" --json > "$WORK/$name.graph.json"
  run_ok "$what: the DAG reads back as the graph says" python3 "$HERE/check_dag.py" \
    "$WORK/$name.graph.json" "$WORK/dags/$name.py" --package "$pkg" --schedule '@daily' "${cargs[@]}"
  run_ok "$what: stand-in run" python3 "$STANDIN" "$WORK/dags/$name.py" \
    --run-id "scheduled__2026-12-01T00:00:00+00:00" --report "$WORK/$name.log" "${sargs[@]}"
  ARUN=$(airflow_run "$flow" "$name")
  CHECKS=$((CHECKS + 1))
  local c
  if c=$(python3 "$HERE/compare_runs.py" "$MFLOW" "$flow/$REF" "$flow/$ARUN" 2>&1); then
    echo "ok: $what: same artifacts as mflow run ($c)"
  else
    fail "$what: artifacts differ from mflow run $REF: $c"
  fi
  check_eq "$what: run succeeded" succeeded "$(mflow --namespace= inspect "$flow/$ARUN" --json | field status)"
}

via_airflow "branch, foreach in it, parameters, obj, pickle" "$RFLOW" RemoteFlow rf --n=4 --label=abc --
check_eq "values: data file and module from the package" 150 "$(mflow --namespace= get RemoteFlow/$ARUN/join from_a)"
check_eq "foreach items pushed and mapped" "[0,2,6,12]" "$(mflow --namespace= get RemoteFlow/$ARUN/join sqs --json | tr -d ' \n')"
check_eq "the pickled class as mflow run stored it" "$(pickled "$MFLOW_HOME/datastore" RemoteFlow/$REF/end)" \
  "$(pickled "$MFLOW_HOME/datastore" RemoteFlow/$ARUN/end)"
check_contains "the pickled class's value" "Point(4, 3) pickle" "$(pickled "$MFLOW_HOME/datastore" RemoteFlow/$ARUN/end)"
via_airflow "nested foreach" "$PYFLOWS/nested.py" NestedFlow nested --
check_eq "nested foreach: every pair" "a1 a2 a3 b1 b2 b3" \
  "$(mflow --namespace= get NestedFlow/$ARUN/join_outer all_tags --json | python3 -c 'import json,sys; print(" ".join(json.load(sys.stdin)))')"
via_airflow "branch" "$PYFLOWS/branch.py" BranchFlow branch --
via_airflow "parameters given to deploy" "$PYFLOWS/params.py" ParamFlow pp --seed=7 --alpha=0.25 --verbose=true --

# Airflow's retry: a fails on its first try (retry 1 = retries=1), succeeds on the second.
run_ok "flaky: deploy" mflow deploy "$RFLOW" --scheduler=airflow --name flaky --output "$WORK/dags/flaky.py" --mode=flaky
run_ok "flaky: stand-in run succeeds on Airflow's retry" python3 "$STANDIN" "$WORK/dags/flaky.py" --run-id manual__flaky --report "$WORK/flaky.log"
R=$(airflow_run RemoteFlow flaky)
check_eq "flaky: a's record is attempt 1" 1 "$(mflow --namespace= get RemoteFlow/$R/a tries)"
check_eq "flaky: run succeeded" succeeded "$(mflow --namespace= inspect RemoteFlow/$R --json | field status)"
check_contains "flaky: the first try's exception in its log" "a fails on its first attempt" "$(cat "$WORK/flaky.log")"

# A step that raises on every try: the DAG run fails, end never runs, the run is recorded
# failed, the traceback is in mflow logs.
run_ok "raise: deploy" mflow deploy "$RFLOW" --scheduler=airflow --name boom --output "$WORK/dags/boom.py"
run_fails "raise: the DAG run fails" 1 '"end": "upstream_failed"' python3 "$STANDIN" \
  "$WORK/dags/boom.py" --conf '{"mode": "raise"}' --run-id manual__boom --report "$WORK/boom.log"
check_contains "raise: a failed" '"a": "failed"' "$OUT"
R=$(airflow_run RemoteFlow boom)
check_eq "raise: run recorded failed" failed "$(mflow --namespace= inspect RemoteFlow/$R --json | field status)"
check_eq "raise: both tries recorded" "1 failed" "$(mflow --namespace= inspect RemoteFlow/$R/a --json | python3 -c 'import json,sys; t=json.load(sys.stdin)["tasks"][0]; print(t["attempt"], t["status"])')"
# dag-task leaves a task's output to Airflow's task log (as for C flows): the traceback is
# there, naming the packaged flow; the task's record holds the exception.
PKGDIR=$MFLOW_HOME/cache/packages/$(basename "$(mflow package "$RFLOW" | head -1)" .tar.zst)
check_contains "raise: traceback in the Airflow task's log" "Traceback (most recent call last):
  File \"$PKGDIR/remote.py\", line" "$(cat "$WORK/boom.log")"
check_contains "raise: the exception in the task's record" '"message": "ValueError: remote step fails on purpose with n=3"' \
  "$(mflow --namespace= inspect "$(mflow --namespace= inspect RemoteFlow/$R/a --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["tasks"][0]["pathspec"])')" --json)"

# The KubernetesPodOperator form of a Python flow's DAG (the driver, as the airflow suite's
# DAG checks make it): the pods run dag-task on the package, the DAG passes the same checks.
PKG=$(mflow package "$RFLOW" | head -1)
mflow show "$RFLOW" --json > "$WORK/k.graph.json"
run_ok "pod form: deploy" "$DRIVER" "$PLUGIN" deploy "$WORK/k.graph.json" "$PKG" "s3://bucket/p" "0 3 * * *" \
  name=kpod version=1 output="$WORK/dags/kpod.py" mflow=/usr/local/bin/mflow compute=k8s image=registry.example/mflow:1
run_ok "pod form: the DAG reads back as the graph says" python3 "$HERE/check_dag.py" "$WORK/k.graph.json" \
  "$WORK/dags/kpod.py" --package "$PKG" --k8s --image registry.example/mflow:1 --schedule "0 3 * * *"
run_ok "pod form: loads under the stand-in's airflow modules" python3 "$STANDIN" "$WORK/dags/kpod.py" --structure

# cron: the deployment stores the package; a firing runs the packaged .py, not the working
# copy (changed after deploy). The crontab is the scheduler suite's stand-in, on a file.
export MFLOW_CRON_CRONTAB=$SRC/tests/scheduler/fakecrontab.sh FAKE_CRONTAB_FILE=$WORK/crontab
run_ok "cron: deploy" mflow deploy "$RFLOW" --scheduler=cron --name rcron --schedule '0 3 * * *' --n=2
check_contains "cron: the line fires the deployment" "deployments fire rcron" "$(cat "$WORK/crontab")"
cp "$RFLOW_DIR/shapes.py" "$WORK/shapes.orig"
sed -i 's/v \* 10/v * 1000/' "$RFLOW_DIR/shapes.py"
run_ok "cron: fire" mflow deployments fire rcron
R=$(airflow_run RemoteFlow rcron)
check_eq "cron: the firing's run succeeded" succeeded "$(mflow --namespace= inspect RemoteFlow/$R --json | field status)"
check_eq "cron: the packaged module ran, not the changed copy" 150 "$(mflow --namespace= get RemoteFlow/$R/join from_a)"
check_eq "cron: the deployment's parameter" "[0,2]" "$(mflow --namespace= get RemoteFlow/$R/join sqs --json | tr -d ' \n')"
check_contains "cron: tagged with the deployment's version" "deployment_version:1" "$(mflow --namespace= inspect RemoteFlow/$R --json | field tags)"
finish
