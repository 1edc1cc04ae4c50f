#!/bin/bash
# Every graph shape (the e2e and bench flows) exported in every form (BashOperator and
# KubernetesPodOperator, with and without a schedule, with and without parameter defaults
# from the deployment): the DAG compiles with python3, reads back (ast) as the graph says
# (check_dag.py), and loads under the executor stand-in's airflow modules, which refuse what Airflow 2.7
# refuses.
. "$MFLOW_TEST_SOURCE_ROOT/tests/airflow/lib_airflow.sh"
export MFLOW_AIRFLOW_IMAGE=registry.example/mflow:1
PKG=packages/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.tar.zst
ROOT=file://$WORK/datastore
n=0
nflows=0
for f in "$FLOWS"/*.c "$BENCH_FLOWS"/*.c; do
  g=$WORK/graph.$n.json
  mflow show "$f" --json > "$g" 2>/dev/null || continue   # flows that do not validate
  nflows=$((nflows + 1))
  # parameter overrides: every parameter's own default given again, as text
  params=$(python3 -c 'import json,sys; print(" ".join("%s=%s" % (p["name"], p["default"]) for p in json.load(open(sys.argv[1]))["parameters"] if p["default"] is not None))' "$g")
  for compute in local k8s; do
    for sched in - "0 3 * * *"; do
      for withp in no yes; do
        n=$((n + 1))
        out=$WORK/dags/d$n.py
        opts=(name=d$n version=2 output="$out" mflow=/opt/mflow/bin/mflow home=/srv/mflow compute=$compute)
        cargs=(--package "$PKG")
        [ "$compute" = k8s ] && cargs+=(--k8s --image "$MFLOW_AIRFLOW_IMAGE")
        [ "$sched" != - ] && cargs+=(--schedule "$sched")
        if [ $withp = yes ]; then
          for p in $params; do opts+=("param.$p"); cargs+=(--param "$p"); done
        fi
        what="$(basename "$f") compute=$compute schedule=$sched params=$withp"
        if ! D=$("$DRIVER" "$PLUGIN" deploy "$g" "$PKG" "$ROOT" "$sched" "${opts[@]}" 2>&1); then
          CHECKS=$((CHECKS + 1)); fail "$what: deploy: $D"; continue
        fi
        # one job: the words as a JSON list (they hold no quote or backslash)
        { printf '['; printf '"%s", ' "$what" "$g" "$out" "${cargs[@]}" | sed 's/, $//'; printf '],\n'; } >> "$WORK/jobs"
      done
    done
  done
done
# compile, read back, load under the stand-in modules: one python for all of them
{ echo "["; sed '$ s/,$//' "$WORK/jobs"; echo "]"; } > "$WORK/jobs.json"
python3 "$HERE/check_all.py" "$WORK/jobs.json" > "$WORK/all.out" 2>&1
while IFS= read -r line; do
  case $line in
    ok:*) CHECKS=$((CHECKS + 1)); echo "$line" ;;
    FAIL:*) CHECKS=$((CHECKS + 1)); fail "${line#FAIL: }" ;;
    *) echo "$line" ;;
  esac
done < "$WORK/all.out"
CHECKS=$((CHECKS + 1))
[ "$nflows" -ge 20 ] || fail "only $nflows flows validated"
check_eq "every flow in 8 forms, each checked" "$((nflows * 8)) $((nflows * 8))" "$n $(grep -c '^ok: ' "$WORK/all.out")"

# One DAG's structure in detail, as the stand-in's airflow modules recorded it.
mflow show "$FLOWS/nested_foreach.c" --json > "$WORK/nf.json"
run_ok "nested foreach DAG" "$DRIVER" "$PLUGIN" deploy "$WORK/nf.json" "$PKG" "$ROOT" "*/5 * * * *" \
  name=nf version=3 output="$WORK/dags/nf.py" mflow=/opt/mflow/bin/mflow
python3 "$STANDIN" "$WORK/dags/nf.py" --structure > "$WORK/nf.structure.json"
q() { python3 -c "import json,sys; d=json.load(open('$WORK/nf.structure.json')); print($1)"; }
check_eq "schedule" "*/5 * * * *" "$(q 'd["dag"]["schedule"]')"
check_eq "catchup" False "$(q 'd["dag"]["catchup"]')"
check_eq "tasks" "cell end group group-items inner_join outer_join start start-items" "$(q '" ".join(sorted(d["tasks"]))')"
check_eq "mapped tasks" "cell group inner_join" "$(q '" ".join(sorted(t for t, v in d["tasks"].items() if v["mapped"]))')"
check_eq "cell mapped over the nested split's items" '{"env": {"xcom": "group-items"}}' "$(q 'json.dumps(d["tasks"]["cell"]["expand"])')"
check_eq "inner join mapped over the outer items" '{"env": {"xcom": "start-items"}}' "$(q 'json.dumps(d["tasks"]["inner_join"]["expand"])')"
check_eq "group-items reads every group instance" '[{"xcom": "group"}]' "$(q 'json.dumps(d["tasks"]["group-items"]["kwargs"]["op_args"])')"
check_eq "outer join waits for the inner joins" '["inner_join"]' "$(q 'json.dumps(d["tasks"]["outer_join"]["upstream"])')"
check_eq "cell after group-items" '["group-items"]' "$(q 'json.dumps(d["tasks"]["cell"]["upstream"])')"
check_eq "dag id" nf "$(q 'd["dag_id"]')"

# Retries, timeouts and resources of a flow that has them (deadline.c: timeout_s 2 and 64 MB).
mflow show "$FLOWS/deadline.c" --json > "$WORK/dl.json"
run_ok "deadline DAG for k8s" "$DRIVER" "$PLUGIN" deploy "$WORK/dl.json" "$PKG" "$ROOT" - \
  name=dl output="$WORK/dags/dl.py" compute=k8s
python3 "$STANDIN" "$WORK/dags/dl.py" --structure > "$WORK/dl.structure.json"
q() { python3 -c "import json,sys; d=json.load(open('$WORK/dl.structure.json')); print($1)"; }
check_eq "execution_timeout of work" 62.0 "$(q 'd["tasks"]["work"]["kwargs"]["execution_timeout"]["seconds"]')"
check_eq "no execution_timeout elsewhere" "" "$(q '" ".join(t for t, v in d["tasks"].items() if t != "work" and "execution_timeout" in v["kwargs"])')"
check_eq "memory request and limit" '{"limits": {"memory": "64Mi"}, "requests": {"memory": "64Mi"}}' "$(q 'json.dumps(d["tasks"]["mem"]["kwargs"]["container_resources"], sort_keys=True)')"
check_eq "work's arguments" "--timeout-s 2" "$(q '" ".join(d["tasks"]["work"]["kwargs"]["arguments"][-2:])')"
mflow show "$FLOWS/retry_join.c" --json > "$WORK/rj.json"
run_ok "retry DAG" "$DRIVER" "$PLUGIN" deploy "$WORK/rj.json" "$PKG" "$ROOT" - name=rj output="$WORK/dags/rj.py"
python3 "$STANDIN" "$WORK/dags/rj.py" --structure > "$WORK/rj.structure.json"
q() { python3 -c "import json,sys; d=json.load(open('$WORK/rj.structure.json')); print($1)"; }
check_eq "retries of body" 1 "$(q 'd["tasks"]["body"]["kwargs"]["retries"]')"
check_eq "retries of join" 0 "$(q 'd["tasks"]["join"]["kwargs"]["retries"]')"
check_eq "retry_delay" 30.0 "$(q 'd["tasks"]["body"]["kwargs"]["retry_delay"]["seconds"]')"
check_eq "Param n" '{"default": 63, "schema": {"type": "integer"}}' "$(q 'json.dumps(d["dag"]["params"]["n"], sort_keys=True)')"
MFLOW_AIRFLOW_RETRY_DELAY_S=5 run_ok "retry delay setting" "$DRIVER" "$PLUGIN" deploy "$WORK/rj.json" "$PKG" "$ROOT" - name=rj output="$WORK/dags/rj.py"
check_eq "retry_delay from the setting" 5.0 "$(python3 "$STANDIN" "$WORK/dags/rj.py" --structure | python3 -c 'import json,sys; print(json.load(sys.stdin)["tasks"]["body"]["kwargs"]["retry_delay"]["seconds"])')"

finish
