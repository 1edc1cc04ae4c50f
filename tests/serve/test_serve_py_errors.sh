#!/bin/bash
# A Python flow's @endpoint methods (tests/serve/pyflows/pyanswers.py): the request (a POST's
# JSON body, query arguments), HTTPError's status, exceptions and Python processes that die
# (os._exit, SIGKILL, a segfault) answered as 500 while the next request works, artifacts of
# every Python type read in an endpoint.
. "$(dirname "$0")/lib.sh"
F=$SRC/tests/serve/pyflows/pyanswers.py

run_flow "$F" --n=5 --label=first || fail "first run: $OUT"
export PYANSWERS_UNPICKLED=$WORK/unpickled   # where the flow's Point notes each unpickling
start_server "$F" --workers 2 || { finish; exit 1; }
good() {   # the server still answers as before
  check_req "after $1: the next request" 200 '{"result": 5}' GET show_data
}

check_req "GET an endpoint" 200 '{"result": 5}' GET show_data
check_eq "the answer names the run it came from" "PyAnswersFlow/$RUN" "$RUNHDR"
check_eq "content type" "application/json" \
  "$(grep -i '^content-type:' "$WORK/headers" | tr -d '\r' | sed 's/^[^:]*: //')"
check_req "@endpoint(name=...) with a dash, and a GET's method" 200 '{"label": "first", "method": "GET"}' GET label-of
check_req "the method of a POST" 200 '{"label": "first", "method": "POST"}' POST label-of '{}'
check_req "the Python name is not a path" 404 '{"error":"no endpoint /label_of in flow PyAnswersFlow: GET / lists them"}' GET label_of

# Artifacts are read when an endpoint first touches them, then kept for the run.
check_eq "the pickled artifact is not read by endpoints that do not touch it" no \
  "$([ -e "$WORK/unpickled" ] && echo yes || echo no)"
for i in 1 2 3 4 5 6; do
  req GET values
  check_eq "an endpoint that reads it ($i)" '200 ["Point", 5, -10, 15]' "$CODE $(json 'json.dumps(b["point"])')"
done
n=$(sort -u "$WORK/unpickled" | wc -l)
check_eq "read once in each Python process that answered it (1 or 2 of them; $n)" \
  "$n" "$(wc -l < "$WORK/unpickled")"

# The request: a POST's JSON body, query arguments, both.
check_req "POST a JSON body" 200 '{"sum": 12, "name": "ann", "method": "POST"}' POST add '{"x": 7, "name": "ann"}'
check_req "POST another body" 200 '{"sum": 4, "name": "anon", "method": "POST"}' POST add '{"x": -1}'
check_req "GET query arguments" 200 '{"sum": 8, "name": "bo", "method": "GET"}' GET 'add?x=3&name=bo'
check_req "the body first, then the query" 200 '{"sum": 6, "name": "q", "method": "POST"}' POST 'add?x=100&name=q' '{"x": 1}'
check_req "echo: no body is None, no arguments {}" 200 '{"json": null, "args": {}, "method": "GET"}' GET echo
check_req "echo: query arguments are strings" 200 '{"json": null, "args": {"q": "1", "r": "a b"}, "method": "GET"}' GET 'echo?q=1&r=a%20b'
check_req "echo: a body of any JSON value, with the query" 200 '{"json": [1, 2, {"z": null}], "args": {"k": "v"}, "method": "POST"}' \
  POST 'echo?k=v' '[1, 2, {"z": null}]'
check_req "echo: a scalar body" 200 '{"json": 42, "args": {}, "method": "POST"}' POST echo '42'
check_req "echo: UTF-8 both ways" 200 '{"json": "é€", "args": {}, "method": "POST"}' POST echo '"é€"'
check_req "request[\"x\"] missing: 400" 400 "{\"error\":\"the request has no 'x': give it in the JSON body ({\\\"x\\\": ...}) or as ?x=\"}" POST add '{"y": 1}'
check_req "HTTPError(422, ...) from the endpoint" 422 '{"error":"x must be a whole number"}' POST add '{"x": "seven"}'
check_req "HTTPError's status and message" 418 '{"error":"short and stout"}' GET teapot
req POST add '{"x": 1'
check_eq "a body that is not JSON: 400" 400 "$CODE"
check_contains "it says so, as for C" '"error":"the request body is not JSON (line 1, column' "$BODY"
good "bad bodies"
check_req "an unknown endpoint: 404" 404 '{"error":"no endpoint /nowhere in flow PyAnswersFlow: GET / lists them"}' GET nowhere
check_req "PUT: 405" 405 '{"error":"method PUT is not served: use GET or POST"}' PUT show_data

# Exceptions: 500 with the type and message, the same Python process answers the next one.
check_req "an exception: 500" 500 '{"error":"endpoint boom failed: ValueError: boom, as this endpoint does"}' GET boom
good "an exception"
check_req "a missing artifact: 500" 500 "{\"error\":\"endpoint missing failed: AttributeError: step 'end': no artifact 'nowhere' (set it in an earlier step)\"}" GET missing
req GET setter
check_eq "setting an artifact: 500" 500 "$CODE"
check_contains "artifacts are read-only" "endpoint setter failed: AttributeError: artifact 'result' cannot be set here" "$BODY"
check_req "and the run's value is unchanged" 200 '{"result": 5}' GET show_data
req GET notjson
check_eq "an answer that is not JSON: 500" 500 "$CODE"
check_contains "it says so" "endpoint notjson returned a value that is not JSON (a value of type set is not JSON)" "$BODY"
check_req "SystemExit is an exception like another" 500 '{"error":"endpoint sysexit failed: SystemExit: 3"}' GET sysexit
check_contains "the traceback is on the server's stderr, from the endpoint's frame" \
  'in boom
    raise ValueError("boom, as this endpoint does")
ValueError: boom, as this endpoint does' "$(cat "$WORK/serve.err")"
check_eq "no Python process died for an exception" 0 "$(grep -c 'Python process' "$WORK/serve.err")"
good "the exceptions"

# Python processes that die: 500 for that request, a new process for the next.
pids_before=$(pgrep -P "$(pgrep -P "$SPID" | head -1)"; pgrep -P "$(pgrep -P "$SPID" | tail -1)")
check_eq "one Python process a worker" 2 "$(echo "$pids_before" | grep -c .)"
for i in 1 2; do
  req GET exits
  check_eq "os._exit ($i): 500" 500 "$CODE"
  check_contains "os._exit ($i): says how it ended and that the server goes on" \
    "endpoint exits crashed (its Python process " "$BODY"
  check_contains "os._exit ($i): the status" "exited with status 7) on run PyAnswersFlow/$RUN: the server goes on (a new Python process is started)" "$BODY"
  for k in 1 2 3; do good "os._exit ($i, $k)"; done
done
req GET killed
check_eq "SIGKILL: 500" 500 "$CODE"
check_contains "SIGKILL: named" "was killed by signal 9, Killed) on run PyAnswersFlow/$RUN" "$BODY"
good "SIGKILL"
req GET segv
check_eq "a segfault in an extension (ctypes): 500" 500 "$CODE"
check_contains "the segfault named" "was killed by signal 11, Segmentation fault)" "$BODY"
good "a segfault"
pids_after=$(pgrep -P "$(pgrep -P "$SPID" | head -1)"; pgrep -P "$(pgrep -P "$SPID" | tail -1)")
check_eq "still one Python process a worker" 2 "$(echo "$pids_after" | grep -c .)"
check_eq "the workers were not replaced (only their Python processes)" 0 \
  "$(grep -c -E '^mflow serve: worker [0-9]+ (ended by|exited with|answered)' "$WORK/serve.err")"
# A Python process killed between two requests: the next request goes to a new one.
for p in $pids_after; do kill -9 "$p"; done
for p in $pids_after; do   # gone once a zombie (its worker reaps it at its next request)
  for _ in $(seq 100); do
    [ "$(awk '{print $3}' /proc/$p/stat 2>/dev/null || echo Z)" = Z ] && break; sleep 0.05
  done
done
for k in 1 2 3 4; do good "Python processes killed between requests ($k)"; done
n=$(grep -c 'between requests; starting another' "$WORK/serve.err")
check_eq "a process found dead before a request is said as such (once a worker met)" 1 $(( n >= 1 && n <= 2 ))
check_eq "the server is still running" 0 "$(kill -0 "$SPID" 2>/dev/null; echo $?)"

# Artifacts of every Python type, read in an endpoint.
req GET values
check_eq "values: 200" 200 "$CODE"
check_eq "obj (dict with a tuple, None, a bool and a big int)" \
  '{"n": 5, "tags": ["x", null, true], "big": 1180591620717411303424}' "$(json 'json.dumps(b["meta"])')"
check_eq "a pickle of the flow file's own class, its method called" '["Point", 5, -10, 15]' \
  "$(json 'json.dumps(b["point"])')"
check_eq "no npy without numpy" "False" "$(json '"matrix" in b')"

check_req "listing" 200 "{\"flow\":\"PyAnswersFlow\",\"namespace\":\"user:$(id -un)\",\"run\":\"PyAnswersFlow/$RUN\",\"endpoints\":[$(
  printf '{"name":"show_data","path":"/show_data","help":"the result"},'
  printf '{"name":"pair","path":"/pair","help":null},'
  printf '{"name":"label-of","path":"/label-of","help":"the run'"'"'s label"},'
  for e in add echo teapot boom missing setter notjson exits killed segv sysexit hangs pid; do
    printf '{"name":"%s","path":"/%s","help":null},' $e $e; done)"'{"name":"values","path":"/values","help":null}]}' GET ''
pys=$(for w in $(pgrep -P "$SPID"); do pgrep -P "$w"; done)
check_eq "before stopping: one Python process a worker" 2 "$(echo "$pys" | grep -c .)"
# An endpoint that never returns holds its worker, but not the server's stop.
curl -s -m 30 -o "$WORK/hung" -w '%{http_code}' "${URL}hangs" > "$WORK/hung.code" &
HUNG=$!
sleep 1
check_req "the other worker answers while one hangs" 200 '{"result": 5}' GET show_data
t0=$(date +%s)
stop_server
wait $HUNG
check_eq "stopped within 5 s with an endpoint hanging" 1 $(( $(date +%s) - t0 <= 5 ))
code=$(cat "$WORK/hung.code")
check_eq "the hung request ended as the server stopped (500, or closed: $code)" 1 \
  $(( code == 500 || code == 0 ))
check_eq "SIGTERM stops the server, exit 0" 0 "$SSTATUS"
sleep 0.3
check_eq "no worker left" "" "$(pgrep -P "$SPID")"
left=0; for p in $pys; do kill -0 "$p" 2>/dev/null && left=$((left + 1)); done
check_eq "no Python process left" 0 "$left"

# A launcher that leaves a process of its own holding the endpoint socket (as a pyenv shim's
# helpers do while it starts): its Python process killed between requests is still found dead
# before the next request, not sent it.
LAUNCH=$WORK/launch.sh
printf '#!/bin/sh\nsleep 60 </dev/null >/dev/null 2>&1 &\necho $! >>"%s"\nexec %s "$@"\n' "$WORK/sleeps" "${MFLOW_PYTHON:-python3}" >"$LAUNCH"
chmod +x "$LAUNCH"
MFLOW_PYTHON=$LAUNCH start_server "$F" --workers 1 || { finish; exit 1; }
good "a launcher left a process holding the socket"
py=$(pgrep -P "$(pgrep -P "$SPID")" | head -1)
kill -9 "$py"
for _ in $(seq 100); do
  [ "$(awk '{print $3}' /proc/$py/stat 2>/dev/null || echo Z)" = Z ] && break; sleep 0.05
done
good "its Python process killed while the launcher's process holds the socket"
check_contains "found dead before the request" "between requests; starting another" "$(cat "$WORK/serve.err")"
SECONDS=0
req GET killed
check_eq "killed during a request while the launcher's process holds the socket: 500" 500 "$CODE"
check_eq "answered at once, not when the holder lets go (${SECONDS}s)" 1 $(( SECONDS < 20 ))
good "a Python process killed during a request while a launcher's process holds the socket"
stop_server
kill $(cat "$WORK/sleeps") 2>/dev/null

# npy, with a Python that has numpy (MFLOW_PYTHON's, else Debian's python3-numpy).
NPPY=
for py in "${MFLOW_PYTHON:-python3}" /usr/bin/python3; do
  "$py" -c 'import numpy, zstandard' 2>/dev/null && { NPPY=$py; break; }
done
if [ -n "$NPPY" ]; then
  export MFLOW_PYTHON=$NPPY
  run_flow "$F" --n=5 || fail "a run with numpy ($NPPY): $OUT"
  start_server "$F" --workers 1 || { finish; exit 1; }
  req GET values
  check_eq "npy: the array as a list, its dtype and shape ($NPPY)" '[[0, 5, 10], [15, 20, 25]] ["int32", [2, 3]]' \
    "$(json 'json.dumps(b["matrix"]) + " " + json.dumps(b["matrix_type"])')"
  check_eq "npy: the other values as before" '["Point", 5, -10, 15]' "$(json 'json.dumps(b["point"])')"
  stop_server
else
  echo "SKIP (part): npy not checked, no python3 here has numpy and zstandard (Debian: python3-numpy)"
fi
finish
