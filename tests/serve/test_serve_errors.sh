#!/bin/bash
# Endpoints that answer, fail, crash; requests that are wrong. Every error is JSON with its
# status, and the server answers the next request as before.
. "$(dirname "$0")/lib.sh"
F=$SFLOWS/answers.c

run_flow "$F" --n=5 --label=first || fail "first run: $OUT"
start_server "$F" --workers 2 || { finish; exit 1; }
good() {   # the server still answers as before
  check_req "after $1: the next request" 200 '{"result": 5}' GET show_data
}

check_req "GET an endpoint" 200 '{"result": 5}' GET show_data
check_eq "the answer names the run it came from" "AnswersFlow/$RUN" "$RUNHDR"
check_eq "content type" "application/json" \
  "$(grep -i '^content-type:' "$WORK/headers" | tr -d '\r' | sed 's/^[^:]*: //')"
check_req "an endpoint name with a dash" 200 '{"label": "first", "endpoint": "label-of"}' GET label-of

# The request's JSON, used by the endpoint.
check_req "POST a JSON body" 200 '{"sum": 12, "name": "ann", "scaled": 25, "method": "POST"}' \
  POST add '{"x": 7, "name": "ann", "scale": 2.5}'
check_req "POST another body" 200 '{"sum": 4, "name": "anon", "scaled": 10, "method": "POST"}' \
  POST add '{"x": -1}'
check_req "GET query arguments as the request" 200 '{"sum": 8, "name": "bo", "scaled": 10, "method": "GET"}' \
  GET 'add?x=3&name=bo'
check_req "echo: the request as the endpoint reads it" 200 '{"k":[1,2,{"z":null}]}' POST echo '{"k": [1, 2, {"z": null}]}'
check_req "echo: no body is {}" 200 '{}' GET echo
check_req "echo: query arguments are strings" 200 '{"q":"1"}' GET 'echo?q=1'
check_req "echo: a scalar body" 200 '42' POST echo '42'
check_req "the endpoint's own 400" 400 '{"error":"give x"}' POST add '{"y": 1}'
check_req "the endpoint's own 422" 422 '{"error":"x must be a whole number"}' POST add '{"x": "seven"}'
check_req "a request that is not an object" 400 '{"error":"give x"}' POST add '[1]'

# Bad requests, answered before any endpoint runs.
req POST add '{"x": 1'
check_eq "a body that is not JSON: 400" 400 "$CODE"
check_contains "it says so" '"error":"the request body is not JSON (line 1, column' "$BODY"
req POST add 'x=1'
check_eq "form data: 400" 400 "$CODE"
good "bad bodies"
check_req "an unknown endpoint: 404" 404 '{"error":"no endpoint /nowhere in flow AnswersFlow: GET / lists them"}' GET nowhere
check_req "a path under an endpoint: 404" 404 '{"error":"no endpoint /show_data/x in flow AnswersFlow: GET / lists them"}' GET show_data/x
check_req "PUT: 405" 405 '{"error":"method PUT is not served: use GET or POST"}' PUT show_data
check_contains "405 says what is allowed" "Allow: GET, POST" "$(cat "$WORK/headers")"
head -c 1100000 /dev/zero | tr '\0' 'x' > "$WORK/big"
req POST echo "@$WORK/big"
check_eq "a body over 1 MiB: 413" 413 "$CODE"
good "a large body"

# Endpoints that fail: 500 with the reason, the server goes on.
check_req "mf_fail" 500 '{"error":"endpoint boom failed: boom, as this endpoint does"}' GET boom
good "mf_fail"
req GET missing
check_eq "a missing artifact: 500" 500 "$CODE"
check_contains "names the artifact" "endpoint missing failed: step 'end': no artifact 'nowhere'" "$BODY"
good "a missing artifact"
req GET setter
check_eq "a setter: 500" 500 "$CODE"
check_contains "artifacts are read-only" "artifact 'result' cannot be set here: an endpoint reads" "$BODY"
check_req "and the run's value is unchanged" 200 '{"result": 5}' GET show_data
req GET wrongtype
check_eq "a getter of the wrong type: 500" 500 "$CODE"
check_contains "names the types" "artifact 'result' is i64, not str" "$BODY"
check_req "mf_reply_error's own status" 418 '{"error":"short and stout"}' GET teapot
req GET notjson
check_eq "an answer that is not JSON: 500" 500 "$CODE"
check_contains "it says so" "endpoint notjson answered text that is not JSON" "$BODY"
check_req "no answer: 500" 500 '{"error":"endpoint silent returned without an answer: it must call mf_reply_json or mf_reply_error"}' GET silent
check_req "a non-zero return without an error: 500" 500 '{"error":"endpoint refuses failed (it returned 7 without an error answer)"}' GET refuses
good "the failures"

# Crashes in the flow's code: answered, the worker replaced, the others go on.
for ep in crash aborts crash; do
  req GET $ep
  check_eq "$ep: 500" 500 "$CODE"
  check_contains "$ep: says it crashed and the server goes on" "endpoint $ep crashed (" "$BODY"
  for i in 1 2 3 4; do good "$ep ($i)"; done
done
req GET crash
check_contains "the crash names its signal" "endpoint crash crashed (Segmentation fault) on run AnswersFlow/$RUN" "$BODY"
req GET aborts
check_contains "an abort names its signal" "endpoint aborts crashed (Aborted)" "$BODY"
replaced() { grep -c 'answered an endpoint.s crash and went; starting another' "$WORK/serve.err"; }
for _ in $(seq 50); do [ "$(replaced)" -ge 5 ] && break; sleep 0.1; done
check_eq "the supervisor replaced the crashed workers" 5 "$(replaced)"
check_eq "the server is still running" 0 "$(kill -0 "$SPID" 2>/dev/null; echo $?)"
good "the crashes"

check_req "listing" 200 "{\"flow\":\"AnswersFlow\",\"namespace\":\"user:$(id -un)\",\"run\":\"AnswersFlow/$RUN\",\"endpoints\":[$(
  printf '{"name":"show_data","path":"/show_data","help":"the result"},'
  for e in pair add echo label-of boom missing setter wrongtype teapot notjson silent refuses crash; do
    printf '{"name":"%s","path":"/%s","help":null},' $e $e; done)"'{"name":"aborts","path":"/aborts","help":null}]}' GET ''
stop_server
check_eq "SIGTERM stops the server, exit 0" 0 "$SSTATUS"
check_eq "no worker left" "" "$(pgrep -P "$SPID")"
finish
