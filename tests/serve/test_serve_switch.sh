#!/bin/bash
# What is served: nothing before a successful run (503 saying to run the flow), then the
# latest successful run, switching to a newer one while a client keeps asking (every answer
# whole, from one run, never older than the one before), never a failed run; no restart.
. "$(dirname "$0")/lib.sh"
F=$SFLOWS/answers.c
NS="user:$(id -un)"

start_server "$F" --workers 2 --poll-ms 50 || { finish; exit 1; }
check_contains "the server says where it listens" "AnswersFlow (15 endpoints) from namespace '$NS' on http://127.0.0.1:" "$(cat "$WORK/serve.out")"
check_req "no run yet: 503 saying to run the flow" 503 \
  "{\"error\":\"no successful run of AnswersFlow in namespace '$NS' yet: run the flow (mflow --namespace='$NS' run $F) and ask again\"}" \
  GET show_data
req GET ''
check_eq "no run yet: the listing answers" 200 "$CODE"
check_eq "no run yet: the listing has no run and every endpoint" "None 15" \
  "$(json '"%s %d" % (b["run"], len(b["endpoints"]))')"
serve_first_run AnswersFlow "$F"

# A client asks all along while runs succeed, and one fails, one after another.
serve_switch "$F" 20 30 40 666 50 60
check_eq "the runs served, in order, without the failed ones" \
  " $FIRST_OK $((FIRST_OK + 1)) $((FIRST_OK + 2)) $((FIRST_OK + 3)) $((FAILED + 1)) $LAST" "$SEEN"
check_req "the latest run after all" 200 '{"result": 60}' GET show_data
check_eq "its run" "AnswersFlow/$LAST" "$RUNHDR"

# Another namespace's runs are not this server's.
run_flow "$F" --n=70 --namespace=team:x 2>/dev/null || MFLOW_NAMESPACE=team:x run_flow "$F" --n=70 || fail "run in team:x: $OUT"
sleep 0.2
check_req "a run in another namespace is not served" 200 '{"result": 60}' GET show_data
stop_server
start_server "$F" --namespace team:x || { finish; exit 1; }
check_req "--namespace serves that namespace's runs" 200 '{"result": 70}' GET show_data
stop_server
finish
