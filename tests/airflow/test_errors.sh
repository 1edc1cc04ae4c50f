#!/bin/bash
# Refusals, each with one clear message: the plugin's deploy (before anything is written),
# `mflow dag-task` given what cannot be a task of the run, and the executor stand-in's airflow modules
# given what Airflow 2.7 refuses (so that the DAG checks can fail). And the plugin's list,
# remove and trigger.
. "$MFLOW_TEST_SOURCE_ROOT/tests/airflow/lib_airflow.sh"
unset MFLOW_AIRFLOW_IMAGE
PKG=packages/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.tar.zst
ROOT=file://$WORK/datastore
mflow show "$FLOWS/linear.c" --json > "$WORK/lin.json"
mflow show "$HERE/flows/required.c" --json > "$WORK/req.json"
D() { "$DRIVER" "$PLUGIN" deploy "$@"; }
OUTP=output=$WORK/dags/x.py

run_fails "no output" 1 "needs the DAG file to write: give --output" D "$WORK/lin.json" "$PKG" "$ROOT" - name=x
run_fails "output not .py" 1 "must end in .py" D "$WORK/lin.json" "$PKG" "$ROOT" - name=x output=$WORK/dags/x.txt
run_fails "output in a missing directory" 1 "cannot write the DAG to $WORK/nodir/x.py" D "$WORK/lin.json" "$PKG" "$ROOT" - name=x output=$WORK/nodir/x.py
run_fails "unknown parameter" 1 "has no parameter 'nope'" D "$WORK/lin.json" "$PKG" "$ROOT" - name=x $OUTP param.nope=1
run_fails "integer parameter" 1 "parameter 'base' is an integer, not 'abc'" D "$WORK/lin.json" "$PKG" "$ROOT" - name=x $OUTP param.base=abc
run_fails "number parameter" 1 "parameter 'scale' is a finite number, not 'inf'" D "$WORK/lin.json" "$PKG" "$ROOT" - name=x $OUTP param.scale=inf
run_fails "bool parameter" 1 "parameter 'flag' is true or false, not 'maybe'" D "$WORK/lin.json" "$PKG" "$ROOT" - name=x $OUTP param.flag=maybe
run_fails "compute the export does not know" 1 "compute 'slurm' is not one the Airflow export knows" D "$WORK/lin.json" "$PKG" "$ROOT" - name=x $OUTP compute=slurm
run_fails "k8s without an image" 1 "step 'start' has no container image" D "$WORK/lin.json" "$PKG" "$ROOT" - name=x $OUTP compute=k8s
run_fails "required parameter with a schedule" 1 "parameter 'n' has no default and the deployment has a schedule" D "$WORK/req.json" "$PKG" "$ROOT" "@daily" name=x $OUTP
run_fails "DAG id" 1 "'a b' cannot be an Airflow DAG id" D "$WORK/lin.json" "$PKG" "$ROOT" - "name=a b" $OUTP
run_fails "template in an option" 1 "which Airflow would take for a template" D "$WORK/lin.json" "$PKG" "$ROOT" - name=x $OUTP "mflow=/x/{{ bad }}/mflow"
run_fails "template in the image setting (k8s)" 1 "image setting 'reg.example/m:{{ bad }}' contains" env MFLOW_AIRFLOW_IMAGE="reg.example/m:{{ bad }}" "$DRIVER" "$PLUGIN" deploy "$WORK/lin.json" "$PKG" "$ROOT" - name=x $OUTP compute=k8s
run_fails "template in the k8s_namespace setting" 1 "k8s_namespace setting 'ns{#' contains" env MFLOW_AIRFLOW_IMAGE=reg.example/m:1 MFLOW_AIRFLOW_K8S_NAMESPACE="ns{#" "$DRIVER" "$PLUGIN" deploy "$WORK/lin.json" "$PKG" "$ROOT" - name=x $OUTP compute=k8s
run_fails "no package" 1 "no code package given" "$DRIVER" "$PLUGIN" deploy "$WORK/lin.json" "" "$ROOT" - name=x $OUTP
run_fails "bad retry delay setting" 1 "retry_delay_s 'soon' is not a whole number" env MFLOW_AIRFLOW_RETRY_DELAY_S=soon "$DRIVER" "$PLUGIN" deploy "$WORK/lin.json" "$PKG" "$ROOT" - name=x $OUTP
check_eq "nothing written by the refusals" "" "$(ls "$WORK/dags")"

# A required parameter without a schedule: a Param without a default (given at trigger).
run_ok "required parameter, no schedule" D "$WORK/req.json" "$PKG" "$ROOT" - name=req output=$WORK/dags/req.py
check_contains "Param without default" '"n": Param(type="integer")' "$(cat "$WORK/dags/req.py")"
run_ok "required parameter given, scheduled" D "$WORK/req.json" "$PKG" "$ROOT" "@daily" name=req2 output=$WORK/dags/req2.py param.n=3
check_contains "Param default from the deployment" '"n": Param(3, type="integer")' "$(cat "$WORK/dags/req2.py")"
check_contains "schedule" 'schedule="@daily"' "$(cat "$WORK/dags/req2.py")"

# Deploying again replaces the file atomically; a refused deploy leaves the old one.
run_ok "deploy" D "$WORK/lin.json" "$PKG" "$ROOT" - name=lin output=$WORK/dags/lin.py
check_eq "deploy's answer" "lin LinearFlow $WORK/dags/lin.py" "$(echo $OUT)"
cp "$WORK/dags/lin.py" "$WORK/lin.before"
run_fails "refused redeploy" 1 "is an integer" D "$WORK/lin.json" "$PKG" "$ROOT" - name=lin output=$WORK/dags/lin.py param.base=x
run_ok "refused redeploy left the DAG" cmp "$WORK/lin.before" "$WORK/dags/lin.py"
run_ok "redeploy" D "$WORK/lin.json" "$PKG" "$ROOT" "0 3 * * *" name=lin output=$WORK/dags/lin.py param.base=9
check_contains "redeployed" '"base": Param(9, type="integer")' "$(cat "$WORK/dags/lin.py")"
check_eq "no temporary left" "lin.py req.py req2.py" "$(ls "$WORK/dags" | tr '\n' ' ' | sed 's/ $//')"

# list, remove, trigger
run_ok "list" "$DRIVER" "$PLUGIN" list
check_eq "list" "lin	LinearFlow	0 3 * * *	$WORK/dags/lin.py
req	RequiredFlow		$WORK/dags/req.py
req2	RequiredFlow	@daily	$WORK/dags/req2.py" "$(echo "$OUT" | sort)"
run_fails "trigger is Airflow's" 1 "trigger it there (\`airflow dags trigger lin\`" "$DRIVER" "$PLUGIN" trigger lin
check_contains "trigger: not supported" "(not supported)" "$OUT"
run_ok "remove" "$DRIVER" "$PLUGIN" remove lin
check_eq "remove deleted the DAG" no "$([ -e "$WORK/dags/lin.py" ] && echo yes || echo no)"
run_fails "remove again" 1 "no Airflow deployment 'lin'" "$DRIVER" "$PLUGIN" remove lin
echo "# someone else's file" > "$WORK/dags/req.py"
run_ok "remove of a replaced file" "$DRIVER" "$PLUGIN" remove req
check_eq "someone else's file kept" "# someone else's file" "$(cat "$WORK/dags/req.py")"
run_ok "list after removes" "$DRIVER" "$PLUGIN" list
check_eq "list after removes" "req2" "$(echo "$OUT" | cut -f1)"

# mflow dag-task refusals
deploy "$FLOWS/nested_foreach.c" nf || fail "deploy nf: $DEPLOY_OUT"
ADDR=$(mflow package "$FLOWS/nested_foreach.c" --json | json_field address)
T() { mflow dag-task NestedForeachFlow "$@" --dag-id nf --package "$ADDR"; }
run_fails "usage" 2 "usage: mflow dag-task" mflow dag-task NestedForeachFlow start
run_fails "before start" 1 "its start task creates it (run start first)" T group --dag-run r1 --foreach-path 0
run_fails "unknown step" 1 "has no step 'nope'" T nope --dag-run r1
run_fails "path syntax" 2 "foreach path '1..2' is not dotted item indices" T cell --dag-run r1 --foreach-path 1..2
run_fails "path length" 1 "step 'cell' runs inside 2 foreach(es): its foreach path needs 2 index(es), not 1" T cell --dag-run r1 --foreach-path 1
run_ok "start" T start --dag-run r1
check_eq "start prints the items" '[{"MFLOW_FOREACH_PATH": "0"}, {"MFLOW_FOREACH_PATH": "1"}, {"MFLOW_FOREACH_PATH": "2"}]' "$(echo "$OUT" | tail -1)"
run_fails "input not run yet" 1 "(foreach path '0') has not succeeded: run that task first" T cell --dag-run r1 --foreach-path 0.1
run_ok "group 0 from the environment" env MFLOW_FOREACH_PATH=0 "$MFLOW" dag-task NestedForeachFlow group --dag-id nf --dag-run r1 --package "$ADDR"
check_eq "group 0 prints its items" '[{"MFLOW_FOREACH_PATH": "0.0"}, {"MFLOW_FOREACH_PATH": "0.1"}, {"MFLOW_FOREACH_PATH": "0.2"}, {"MFLOW_FOREACH_PATH": "0.3"}]' "$(echo "$OUT" | tail -1)"
run_ok "xcom file" T group --dag-run r1 --foreach-path 2 --xcom-file "$WORK/xcom/return.json"
check_eq "xcom file holds the items" '[{"MFLOW_FOREACH_PATH": "2.0"}, {"MFLOW_FOREACH_PATH": "2.1"}, {"MFLOW_FOREACH_PATH": "2.2"}, {"MFLOW_FOREACH_PATH": "2.3"}]' "$(cat "$WORK/xcom/return.json")"
run_fails "inner join before its cells" 1 "cell/" T inner_join --dag-run r1 --foreach-path 0
run_fails "path past the split's items" 1 "foreach path index 4 is past the 4 item(s) of split 'group'" T cell --dag-run r1 --foreach-path 0.4

# The stand-in's airflow modules refuse what Airflow 2.7 refuses.
bad() {
  local what=$1 needle=$2 body=$3
  printf 'import datetime\nfrom airflow import DAG\nfrom airflow.operators.bash import BashOperator\nfrom airflow.models.param import Param\nwith DAG(dag_id="b", start_date=datetime.datetime(2024, 1, 1), %s\n' "$body" > "$WORK/bad.py"
  run_fails "stand-in refuses $what" 3 "$needle" python3 "$STANDIN" "$WORK/bad.py" --structure
}
bad "schedule with schedule_interval" "At most one allowed" 'schedule=None, schedule_interval=None) as dag:
    BashOperator(task_id="a", bash_command="true")'
bad "an unknown operator argument" "Invalid arguments were passed to BashOperator" 'schedule=None) as dag:
    BashOperator(task_id="a", bash_command="true", image="x")'
bad "a string retry_delay" "retry_delay must be a timedelta" 'schedule=None) as dag:
    BashOperator(task_id="a", bash_command="true", retry_delay="30")'
bad "a number execution_timeout" "execution_timeout must be timedelta" 'schedule=None) as dag:
    BashOperator(task_id="a", bash_command="true", execution_timeout=60)'
bad "an argument in partial and expand" "unmappable or already specified" 'schedule=None) as dag:
    BashOperator.partial(task_id="a", bash_command="true", env={}).expand(env=[{}])'
bad "expand over a string" "expand() got an unexpected type" 'schedule=None) as dag:
    BashOperator.partial(task_id="a", bash_command="true").expand(env="x")'
bad "expand of an unknown argument" "expand() got an unexpected keyword argument 'image'" 'schedule=None) as dag:
    BashOperator.partial(task_id="a", bash_command="true").expand(image=["x"])'
bad "a duplicate task id" "has already been added" 'schedule=None) as dag:
    BashOperator(task_id="a", bash_command="true")
    BashOperator(task_id="a", bash_command="true")'
bad "a scheduled DAG with a required param" "DAG Schedule must be None" 'schedule="@daily", params={"n": Param(type="integer")}) as dag:
    BashOperator(task_id="a", bash_command="true")'
bad "a removed DAG argument" "unexpected keyword argument 'concurrency_limit'" 'schedule=None, concurrency_limit=3) as dag:
    BashOperator(task_id="a", bash_command="true")'
printf 'from airflow.operators.dummy import DummyOperator\n' > "$WORK/bad.py"
run_fails "stand-in refuses a name it has no stand-in module for" 3 "no stand-in module for airflow.operators.dummy" python3 "$STANDIN" "$WORK/bad.py" --structure

finish
