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
run_flow "$F" --n=50 --fail=1
check_eq "a failed first run" 1 $?
sleep 0.2
req GET show_data
check_eq "a failed run is not served: still 503" 503 "$CODE"
check_contains "still says to run the flow" "no successful run of PyAnswersFlow" "$BODY"

run_flow "$F" --n=10 || fail "run 10: $OUT"
declare -A N_OF=([$RUN]=10)
sleep 0.2
for i in 1 2 3 4; do
  check_req "the first successful run is served without a restart ($i)" 200 '{"result": 10}' GET show_data
  check_eq "from that run ($i)" "PyAnswersFlow/$RUN" "$RUNHDR"
done
first_ok=$RUN

# A client asks all along while runs succeed, and one fails, one after another.
HOSTPORT=${URL#http://}; HOSTPORT=${HOSTPORT%/}
python3 "$SRC/tests/serve/client.py" "${HOSTPORT%:*}" "${HOSTPORT##*:}" /pair "$WORK/stop" "$WORK/answers" &
CLIENT=$!
for _ in $(seq 100); do [ -s "$WORK/answers" ] && break; sleep 0.1; done
for n in 20 30 666 40; do
  if [ $n = 666 ]; then
    run_flow "$F" --n=$n --fail=1 && fail "the failing run succeeded"
    failed=$RUN
  else
    run_flow "$F" --n=$n || fail "run $n: $OUT"
    N_OF[$RUN]=$n
  fi
  last=$RUN
  sleep 0.4
done
sleep 0.5
touch "$WORK/stop"
wait $CLIENT
total=$(wc -l < "$WORK/answers")
check_eq "the client got answers all along" 1 $(( total > 50 ))
check_eq "every answer succeeded" "$total" "$(grep -c '^200 ' "$WORK/answers")"
bad=0; back=0; prev=0; seen=""
while read -r code run a b; do
  [ "$code" = 200 ] || continue
  n=${N_OF[$run]:-none}
  [ "$a" = "$n" ] && [ "$b" = "$n" ] || { bad=$((bad + 1)); echo "mixed or wrong: run $run a $a b $b (n $n)"; }
  [ "$run" -ge "$prev" ] || back=$((back + 1))
  prev=$run
  case " $seen " in *" $run "*) ;; *) seen="$seen $run" ;; esac
done < "$WORK/answers"
check_eq "every answer whole and from one run (a = b = that run's n)" 0 $bad
check_eq "no answer older than the one before" 0 $back
check_eq "the runs served, in order, without the failed one" \
  " $first_ok $((first_ok + 1)) $((first_ok + 2)) $last" "$seen"
check_eq "the failed run is not among them" "" "$(grep " $failed " "$WORK/answers")"
check_req "the latest run after all" 200 '{"result": 40}' GET show_data
check_eq "its run" "PyAnswersFlow/$last" "$RUNHDR"
check_eq "no Python process died while switching" 0 "$(grep -c 'Python process' "$WORK/serve.err")"
stop_server

# --namespace: another namespace's runs.
MFLOW_NAMESPACE=team:x run_flow "$F" --n=70 || fail "run in team:x: $OUT"
start_server "$F" --namespace team:x || { finish; exit 1; }
check_req "--namespace serves that namespace's runs" 200 '{"result": 70}' GET show_data
stop_server
finish
