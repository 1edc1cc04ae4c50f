#!/bin/bash
# The namespace served by default: production:<D> when the flow is deployed as D (through the
# cron plugin on the scheduler suite's stand-in crontab), else the user's own.
. "$(dirname "$0")/lib.sh"
export MFLOW_CRON_CRONTAB=$SRC/tests/scheduler/fakecrontab.sh FAKE_CRONTAB_FILE=$WORK/crontab
cp "$SFLOWS/answers.c" "$WORK/answers.c"
F=$WORK/answers.c

run_flow "$F" --n=1 || fail "a run of the user's: $OUT"
start_server "$F" --workers 1 || { finish; exit 1; }
check_contains "not deployed: the user's namespace" "from namespace 'user:$(id -un)'" "$(cat "$WORK/serve.out")"
check_req "not deployed: the user's run" 200 '{"result": 1}' GET show_data
stop_server

run_ok "deploy" mflow deploy "$F" --scheduler=cron --name ans --schedule '0 0 1 1 *' --n=8
start_server "$F" --workers 1 || { finish; exit 1; }
check_contains "deployed: production:ans" "from namespace 'production:ans'" "$(cat "$WORK/serve.out")"
req GET show_data
check_eq "deployed, never fired: 503" 503 "$CODE"
check_contains "it names the namespace" "no successful run of AnswersFlow in namespace 'production:ans' yet" "$BODY"
run_ok "fire" mflow deployments fire ans
sleep 0.3
check_req "the deployment's run, not the user's" 200 '{"result": 8}' GET show_data
check_eq "its run" "AnswersFlow/2" "$RUNHDR"
run_flow "$F" --n=2 || fail "another run of the user's: $OUT"
sleep 0.3
check_req "a newer run of the user's is not the deployment's" 200 '{"result": 8}' GET show_data
stop_server

run_ok "a second deployment of the flow" mflow deploy "$F" --scheduler=cron --name ans2 --schedule '0 0 1 1 *' --n=9
run_fails "two deployments: serve asks which" 2 "flow AnswersFlow has 2 deployments (ans, ans2): choose whose runs to serve with --namespace production:NAME" \
  mflow serve "$F" --port 0
run_ok "fire the second" mflow deployments fire ans2
start_server "$F" --workers 1 --namespace production:ans2 || { finish; exit 1; }
check_req "--namespace picks one" 200 '{"result": 9}' GET show_data
stop_server
start_server "$F" --workers 1 --namespace "user:$(id -un)" || { finish; exit 1; }
check_req "--namespace, the user's own" 200 '{"result": 2}' GET show_data
stop_server
MFLOW_NAMESPACE=production:ans start_server "$F" --workers 1 || { finish; exit 1; }
check_req "MFLOW_NAMESPACE" 200 '{"result": 8}' GET show_data
stop_server
run_ok "delete the first" mflow deployments delete ans
start_server "$F" --workers 1 || { finish; exit 1; }
check_contains "one deployment left: it" "from namespace 'production:ans2'" "$(cat "$WORK/serve.out")"
check_req "its run" 200 '{"result": 9}' GET show_data
stop_server
finish
