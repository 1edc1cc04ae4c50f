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
