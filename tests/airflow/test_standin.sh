#!/bin/bash
# The generated DAGs (BashOperator form) run by the executor stand-in: every graph shape's run
# has the artifacts `mflow run` gives, task by task; the run is recorded finished, in the
# deployment's namespace, tagged; a task run twice (an Airflow retry) lands in the same run.
. "$MFLOW_TEST_SOURCE_ROOT/tests/airflow/lib_airflow.sh"

# same_as_run WHAT FLOWFILE FLOW NAME [RUN_ARGS] -- [STANDIN_ARGS]: mflow run vs the stand-in
same_as_run() {
  local what=$1 f=$2 flow=$3 name=$4; shift 4
  local rargs=() sargs=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do rargs+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  sargs=("$@")
  run_flow "$f" "${rargs[@]}" || { fail "$what: mflow run: $OUT"; return; }
  local ref=$RUN
  deploy "$f" "$name" - ${DEPLOY_OPTS:-} || { fail "$what: deploy: $DEPLOY_OUT"; return; }
  CHECKS=$((CHECKS + 1))
  if ! S=$(python3 "$STANDIN" "$WORK/dags/$name.py" --run-id "manual__$name" \
      --report "$WORK/$name.log" "${sargs[@]}" 2>&1); then
    fail "$what: stand-in run failed: $S"; tail -40 "$WORK/$name.log" >&2; return
  fi
  echo "ok: $what: stand-in run"
  ARUN=$(airflow_run "$flow" "$name")
  CHECKS=$((CHECKS + 1))
  if C=$(python3 "$HERE/compare_runs.py" "$MFLOW" "$flow/$ref" "$flow/$ARUN" 2>&1); then
    echo "ok: $what: same artifacts as mflow run ($C)"
  else
    fail "$what: artifacts differ from mflow run $ref: $C"
  fi
  check_eq "$what: run succeeded" succeeded \
    "$(mflow --namespace= inspect "$flow/$ARUN" --json | json_field status)"
}

same_as_run "linear, parameters from the trigger's conf" "$FLOWS/linear.c" LinearFlow lin_conf \
  --base=4 --flag=true -- --conf '{"base": 4, "flag": true}'
DEPLOY_OPTS="param.base=4 param.flag=true" \
same_as_run "linear, parameters from the deployment" "$FLOWS/linear.c" LinearFlow lin_dep \
  --base=4 --flag=true --
same_as_run "linear, defaults" "$FLOWS/linear.c" LinearFlow lin_def --
# parameters named items, keys (dict methods) and _under (the sandbox refuses '_' attributes)
same_as_run "parameters named like ParamsDict's methods" "$HERE/flows/param_names.c" ParamNames pnames \
  --items=5 --_under=up -- --conf '{"items": 5, "_under": "up"}'
same_as_run "three branches" "$FLOWS/branch3.c" Branch3Flow branch3 --
same_as_run "nested branches" "$FLOWS/nested_branch.c" NestedBranchFlow nbranch --
same_as_run "nested foreach" "$FLOWS/nested_foreach.c" NestedForeachFlow nforeach --
same_as_run "branch in foreach" "$FLOWS/branch_in_foreach.c" BranchInForeachFlow bif --
same_as_run "foreach in branch" "$FLOWS/foreach_in_branch.c" ForeachInBranchFlow fib --
same_as_run "retried foreach item (Airflow retries)" "$FLOWS/retry_join.c" RetryJoinFlow rj \
  --n=5 -- --conf '{"n": 5}'
same_as_run "caught failure" "$FLOWS/caught.c" CaughtFlow caught --
same_as_run "bench: linear5" "$BENCH_FLOWS/linear5.c" Linear5 l5 --
same_as_run "bench: trivial foreach" "$BENCH_FLOWS/trivial_foreach.c" TrivialForeach tf \
  --n=7 -- --conf '{"n": 7}'

# The step's env reaches its tasks (what a compute plugin would give them); the rest of that
# flow's artifacts describe the process that ran it, which differs by design.
deploy "$FLOWS/task_env.c" tenv || fail "deploy task_env: $DEPLOY_OUT"
run_ok "step environment: stand-in run" python3 "$STANDIN" "$WORK/dags/tenv.py" --report "$WORK/tenv.log"
R=$(airflow_run TaskEnv tenv)
check_eq "step environment in every item" "from-the-step x6" "$(for p in $(mflow --namespace= inspect TaskEnv/$R/body --json | python3 -c 'import json,sys; print(" ".join(t["pathspec"] for t in json.load(sys.stdin)["tasks"]))'); do mflow --namespace= get $p var; done | sort | uniq -c | awk '{print $2" x"$1}')"

# The values checked directly too, not only against mflow run.
R=$(airflow_run NestedForeachFlow nforeach)
check_eq "nested foreach: total" 120 "$(mflow --namespace= get NestedForeachFlow/$R/outer_join total)"
check_eq "nested foreach: join order" "a1a2a3a4|b1b2b3b4|c1c2c3c4|" \
  "$(mflow --namespace= get NestedForeachFlow/$R/end all)"
R=$(airflow_run LinearFlow lin_conf)
check_eq "linear: conf parameter" 50 "$(mflow --namespace= get LinearFlow/$R/end v)"
check_eq "runs of the deployment listed in its namespace" "$R" \
  "$(mflow --namespace=production:lin_conf runs LinearFlow --json | python3 -c 'import json,sys; print(" ".join(str(r["run_id"]) for r in json.load(sys.stdin)))')"
check_contains "run tagged with the deployment's version" "deployment_version:1" \
  "$(mflow --namespace= inspect LinearFlow/$R --json | json_field tags)"
R=$(airflow_run RetryJoinFlow rj)
check_eq "retried item: attempts of item 0" 1 "$(mflow --namespace= inspect RetryJoinFlow/$R/body --json | python3 -c 'import json,sys; print(max(t["attempt"] for t in json.load(sys.stdin)["tasks"]))')"

# A step that fails on every try (retry 1: two tries): the DAG run fails, end never runs, the
# mflow run is recorded failed after the last try; a flaky step succeeds on its retry.
deploy "$FLOWS/failing.c" failing || fail "deploy failing: $DEPLOY_OUT"
run_fails "failing step fails the DAG run" 1 '"end": "upstream_failed"' python3 "$STANDIN" \
  "$WORK/dags/failing.py" --conf '{"mode": "fail"}' --run-id manual__f1 --report "$WORK/f1.log"
check_contains "failing step failed" '"work": "failed"' "$OUT"
R=$(airflow_run FailingFlow failing)
check_eq "run recorded failed" failed "$(mflow --namespace= inspect FailingFlow/$R --json | json_field status)"
check_eq "two tries recorded" "1 failed" "$(mflow --namespace= inspect FailingFlow/$R/work --json | python3 -c 'import json,sys; t=json.load(sys.stdin)["tasks"][0]; print(t["attempt"], t["status"])')"
run_ok "flaky step succeeds on Airflow's retry" python3 "$STANDIN" "$WORK/dags/failing.py" \
  --conf '{"mode": "flaky"}' --run-id manual__f2 --report "$WORK/f2.log"
R=$(airflow_run FailingFlow failing)
check_eq "flaky run succeeded" succeeded "$(mflow --namespace= inspect FailingFlow/$R --json | json_field status)"
check_eq "flaky step's artifact from attempt 1" 1 "$(mflow --namespace= get FailingFlow/$R/end done)"

# An Airflow retry of a finished task (run twice): the same mflow run, a second attempt, the
# same artifacts; and a second trigger of the DAG (another Airflow run id) is another run.
deploy "$FLOWS/nested_foreach.c" twice || fail "deploy twice: $DEPLOY_OUT"
run_ok "stand-in run with cell #5 and inner_join #1 run twice" python3 "$STANDIN" \
  "$WORK/dags/twice.py" --run-id scheduled__2024-01-02T00:00:00+00:00 --repeat cell:5 \
  --repeat inner_join:1 --repeat start --report "$WORK/twice.log"
check_eq "one mflow run for the Airflow run" 1 \
  "$(mflow --namespace=production:twice runs NestedForeachFlow --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')"
R=$(airflow_run NestedForeachFlow twice)
check_eq "repeated tasks have a second attempt" "1 1 1" "$(for s in cell inner_join start; do
  mflow --namespace= inspect NestedForeachFlow/$R/$s --json | python3 -c 'import json,sys; print(max(t["attempt"] for t in json.load(sys.stdin)["tasks"]))'; done | tr '\n' ' ' | sed 's/ $//')"
run_ok "repeated run: same artifacts as mflow run" python3 "$HERE/compare_runs.py" "$MFLOW" \
  "NestedForeachFlow/$(airflow_run NestedForeachFlow nforeach)" "NestedForeachFlow/$R"
run_ok "second trigger" python3 "$STANDIN" "$WORK/dags/twice.py" \
  --run-id scheduled__2024-01-03T00:00:00+00:00 --report "$WORK/twice2.log"
check_eq "a second Airflow run is a second mflow run" 2 \
  "$(mflow --namespace=production:twice runs NestedForeachFlow --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')"

finish
