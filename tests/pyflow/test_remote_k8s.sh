#!/bin/bash
# A Python flow on k8s compute, on the API stand-in (tests/k8s/standin: pods are local
# processes running the mflow command a real image holds) with an S3 datastore: each task is
# `mflow task RemoteFlow STEP ... --package ADDRESS`, the package carries the .py, the module
# it imports and the data file it lists; parameters, branch, foreach, joins, an obj and a
# pickled class give the same artifacts as local compute on the same datastore; a retried
# step, and a step's exception with its traceback in `mflow logs`.
. "$MFLOW_TEST_SOURCE_ROOT/tests/pyflow/lib.sh"
. "$SRC/tests/k8s/k8s-e2e-lib.sh"
. "$SRC/tests/pyflow/remote_lib.sh"
# The pods find python3 and the SDK as the image's mflow would (its own install, or the
# build tree it runs from), not through this shell's variables.
unset PYTHONPATH MFLOW_LIBMFLOW
MS=$WORK/m-s3
printf '#!/bin/sh\nexec "%s" --datastore-root="%s" "$@"\n' "$MFLOW" "$ROOT" > "$MS"
chmod +x "$MS"

# The same flow on local compute and on k8s, one datastore.
run_ok "local run" "$MS" run "$RFLOW" --n=4 --label=abc --run-id-file "$WORK/rid"
LOCAL=$(cat "$WORK/rid")
stats_reset
krun "$RFLOW" --n=4 --label=abc || fail "k8s run: $OUT"
K=$RUN
same_runs "k8s run: every task's artifacts as on local compute" "$MS" "$LOCAL" "$K"
check_eq "one Job per task" 10 "$(jobs_of RemoteFlow "$K" | wc -w)"
J=$(jobs_of RemoteFlow "$K" | tr ' ' '\n' | grep -- '-sq-' | head -1)
CMD=$(admin "/apis/batch/v1/namespaces/default/jobs/$J" | python3 -c 'import json,sys; c=json.load(sys.stdin)["spec"]["template"]["spec"]["containers"][0]; print(" ".join(c.get("command", []) + c.get("args", [])))')
check_contains "the pod runs mflow task on the flow's name" " task RemoteFlow sq " "$CMD"
check_contains "with the flow's package" "--package $(m package "$RFLOW" | head -1)" "$CMD"
check_eq "no path of this machine in the pod's command" 0 "$(printf %s "$CMD" | grep -c "$RFLOW_DIR")"
check_eq "values: the data file and the module from the package" 150 "$(m get RemoteFlow/$K/join from_a)"
check_eq "foreach inside the branch" "[0,2,6,12]" "$(m get RemoteFlow/$K/join sqs --json | tr -d ' \n')"
check_eq "an obj from the parameters" '{"label":"abc","nested":[1,[2,null],true],"t":{"$tuple":[1.5,"z"]}}' \
  "$(m get RemoteFlow/$K/end meta --json | tr -d ' \n')"
check_eq "the pickled class read back by the client" "Point(4, 3) pickle $(pickled "$ROOT" RemoteFlow/$LOCAL/start | cut -d' ' -f4)" \
  "$(pickled "$ROOT" RemoteFlow/$K/end)"
check_eq "end's summary" "abc:150:Point(4, 3)" "$(m get RemoteFlow/$K/end summary)"

# A retried step: the first attempt fails, the second (another Job) succeeds.
krun "$RFLOW" --mode=flaky || fail "flaky on k8s: $OUT"
check_contains "first attempt's failure shown" "a fails on its first attempt" "$OUT"
check_eq "second attempt's record" 1 "$(m get RemoteFlow/$RUN/a tries)"
check_eq "a Job per attempt of a" 2 "$(jobs_of RemoteFlow "$RUN" | tr ' ' '\n' | grep -c -- '-a-')"

# A step's exception: the run fails with its message, the traceback is in the task's log.
krun "$RFLOW" --mode=raise && fail "mode=raise should fail"
check_contains "the exception named" "ValueError: remote step fails on purpose with n=3" "$OUT"
LOGS=$(m logs "RemoteFlow/$RUN/a" --stderr 2>&1; m logs "RemoteFlow/$RUN/a" 2>&1)
check_contains "traceback in mflow logs" "Traceback (most recent call last)" "$LOGS"
check_contains "traceback names the packaged flow's line" 'in explode' "$LOGS"
check_contains "from the unpacked package" "cache/packages/" "$LOGS"
check_eq "run recorded failed" failed "$(m inspect RemoteFlow/$RUN --json | json_status)"
finish
