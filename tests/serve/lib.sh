# Helpers of the serve suite, on top of the e2e suite's (own MFLOW_HOME and work dir each).
. "$(dirname "$0")/../e2e/lib.sh"
SFLOWS=$SRC/tests/serve/flows
command -v curl >/dev/null || { echo "SKIP: curl is not installed (Debian: curl)"; exit 77; }
SERVERS=()
trap 'for p in "${SERVERS[@]}"; do kill "$p" 2>/dev/null; done; for p in "${SERVERS[@]}"; do
        wait "$p" 2>/dev/null; done; rm -rf "$WORK"' EXIT

# start_server ARGS...: `mflow serve ARGS --port 0` in the background; URL (with the final /)
# and SPID set once it listens. Its output goes to $WORK/serve.out and serve.err.
start_server() {
  : > "$WORK/serve.out"
  "$MFLOW" serve "$@" --port 0 > "$WORK/serve.out" 2> "$WORK/serve.err" &
  SPID=$!
  SERVERS+=("$SPID")
  URL=
  for _ in $(seq 100); do
    URL=$(grep -o 'http://[^ ]*/' "$WORK/serve.out" 2>/dev/null | head -1)
    [ -n "$URL" ] && return 0
    kill -0 "$SPID" 2>/dev/null || break
    sleep 0.1
  done
  fail "the server did not start: $(cat "$WORK/serve.err")"
  return 1
}

stop_server() {
  kill "$SPID" 2>/dev/null
  wait "$SPID" 2>/dev/null
  SSTATUS=$?
}

# req METHOD PATH [BODY] [CURL ARGS...]: CODE, BODY and RUNHDR (X-Mflow-Run) of the answer.
req() {
  local method=$1 path=$2; shift 2
  local data=()
  if [ $# -gt 0 ]; then data=(--data-binary "$1"); shift; fi
  CODE=$(curl -s -X "$method" -o "$WORK/body" -D "$WORK/headers" -w '%{http_code}' \
         "${data[@]}" "$@" "$URL$path")
  BODY=$(cat "$WORK/body")
  RUNHDR=$(grep -i '^x-mflow-run:' "$WORK/headers" | tr -d '\r' | sed 's/^[^:]*: //')
}

# check_req WHAT CODE BODY METHOD PATH [DATA] [CURL ARGS...]: the answer is exactly that.
check_req() {
  local what=$1 code=$2 body=$3; shift 3
  req "$@"
  check_eq "$what: status" "$code" "$CODE"
  check_eq "$what: body" "$body" "$BODY"
}

# json EXPR: evaluate a Python expression over the last answer's body parsed as `b`.
json() { python3 -c "import json,sys; b=json.load(open('$WORK/body')); print($1)"; }

# serve_first_run NAME FILE: with a server of flow NAME (from FILE) started and no run yet, a
# failed run is not served (still 503), then the first successful run (--n=10) is, without a
# restart. Sets N_OF (run id -> its n) and FIRST_OK (that run's id).
serve_first_run() {
  local name=$1 f=$2
  run_flow "$f" --n=50 --fail=1
  check_eq "a failed first run" 1 $?
  sleep 0.2
  req GET show_data
  check_eq "a failed run is not served: still 503" 503 "$CODE"
  check_contains "still says to run the flow" "no successful run of $name" "$BODY"
  run_flow "$f" --n=10 || fail "run 10: $OUT"
  declare -gA N_OF=([$RUN]=10)
  sleep 0.2
  for i in 1 2 3 4; do
    check_req "the first successful run is served without a restart ($i)" 200 '{"result": 10}' GET show_data
    check_eq "from that run ($i)" "$name/$RUN" "$RUNHDR"
  done
  FIRST_OK=$RUN
}

# serve_switch FILE N...: a client asks /pair all along while runs of FILE with each --n=N
# follow one another (666: a run that fails); every answer must succeed, be whole and from
# one run (a = b = that run's n), and none older than the one before. Sets SEEN (the runs
# served, in order, each once), FAILED (the failed run's id) and LAST (the last run's id).
serve_switch() {
  local f=$1 n; shift
  local hostport=${URL#http://}; hostport=${hostport%/}
  python3 "$SRC/tests/serve/client.py" "${hostport%:*}" "${hostport##*:}" /pair "$WORK/stop" "$WORK/answers" &
  local client=$!
  for _ in $(seq 100); do [ -s "$WORK/answers" ] && break; sleep 0.1; done
  for n in "$@"; do
    if [ "$n" = 666 ]; then
      run_flow "$f" --n=$n --fail=1 && fail "the failing run succeeded"
      FAILED=$RUN
    else
      run_flow "$f" --n=$n || fail "run $n: $OUT"
      N_OF[$RUN]=$n
    fi
    LAST=$RUN
    sleep 0.4
  done
  sleep 0.5
  touch "$WORK/stop"
  wait $client
  local total bad=0 back=0 prev=0 code run a b
  total=$(wc -l < "$WORK/answers")
  check_eq "the client got answers all along" 1 $(( total > 50 ))
  check_eq "every answer succeeded" "$total" "$(grep -c '^200 ' "$WORK/answers")"
  SEEN=""
  while read -r code run a b; do
    [ "$code" = 200 ] || continue
    n=${N_OF[$run]:-none}
    [ "$a" = "$n" ] && [ "$b" = "$n" ] || { bad=$((bad + 1)); echo "mixed or wrong: run $run a $a b $b (n $n)"; }
    [ "$run" -ge "$prev" ] || back=$((back + 1))
    prev=$run
    case " $SEEN " in *" $run "*) ;; *) SEEN="$SEEN $run" ;; esac
  done < "$WORK/answers"
  check_eq "every answer whole and from one run (a = b = that run's n)" 0 $bad
  check_eq "no answer older than the one before" 0 $back
  check_eq "the failed run is not among them" "" "$(grep " $FAILED " "$WORK/answers")"
}
