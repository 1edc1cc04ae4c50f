#!/bin/bash
# What a Python flow's server serves: nothing before a successful run (503 saying to run the
# flow), then the latest successful run, switching to a newer one while a client keeps asking
# (every answer whole, from one run, never older than the one before), never a failed run.
# The run is chosen by the C workers; their Python processes read the run they are given.
. "$(dirname "$0")/lib.sh"
F=$SRC/tests/serve/pyflows/pyanswers.py
NS="user:$(id -un)"

start_server "$F" --workers 2 --poll-ms 50 || { finish; exit 1; }
check_req "no run yet: 503 saying to run the flow" 503 \
  "{\"error\":\"no successful run of PyAnswersFlow in namespace '$NS' yet: run the flow (mflow --namespace='$NS' run $F) and ask again\"}" \
  GET show_data
serve_first_run PyAnswersFlow "$F"

# A client asks all along while runs succeed, and one fails, one after another.
serve_switch "$F" 20 30 666 40
check_eq "the runs served, in order, without the failed one" \
  " $FIRST_OK $((FIRST_OK + 1)) $((FIRST_OK + 2)) $LAST" "$SEEN"
check_req "the latest run after all" 200 '{"result": 40}' GET show_data
check_eq "its run" "PyAnswersFlow/$LAST" "$RUNHDR"
check_eq "no Python process died while switching" 0 "$(grep -c 'Python process' "$WORK/serve.err")"
stop_server

# --namespace: another namespace's runs.
MFLOW_NAMESPACE=team:x run_flow "$F" --n=70 || fail "run in team:x: $OUT"
start_server "$F" --namespace team:x || { finish; exit 1; }
check_req "--namespace serves that namespace's runs" 200 '{"result": 70}' GET show_data
stop_server
finish
