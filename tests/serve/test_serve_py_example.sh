#!/bin/bash
# The seed's example in Python, examples/python/serve.py: `curl URL/show_data` gives
# {"result": 3}; `python3 flow.py serve` is `mflow serve flow.py`; the graph tool reports the
# endpoints; the token off loopback; what a flow's @endpoint methods may not be.
. "$(dirname "$0")/lib.sh"
F=$SRC/examples/python/serve.py

run_ok "mflow check counts the endpoints" mflow check "$F"
check_eq "check's line" "flow ServeFlow: 2 steps, 0 parameters, 2 endpoints: ok" "$OUT"
G=$(PYTHONPATH=$SRC/sdk/python python3 -m mflow graph "$F")
check_eq "the graph tool reports the endpoints: name, method, line, help" \
  'show_data show_data 25 the result|scale scale 30 x times the result: {"x": 4} or ?x=4' \
  "$(python3 -c 'import json, sys
print("|".join("%s %s %d %s" % (e["name"], e["attr"], e["line"], e["help"]) for e in json.loads(sys.argv[1])["endpoints"]))' "$G")"
run_flow "$F" || fail "run: $OUT"
check_eq "the run computed 3" 3 "$(mflow get ServeFlow/$RUN/end result)"
start_server "$F" || { finish; exit 1; }
check_contains "the server says what it serves" "mflow serve: ServeFlow (2 endpoints) from namespace 'user:$(id -un)' on http://127.0.0.1:" "$(cat "$WORK/serve.out")"
check_eq "curl URL/show_data" '{"result": 3}' "$(curl -s "${URL}show_data")"
check_req "POST scale" 200 '{"x": 4, "y": 12}' POST scale '{"x": 4}'
check_req "GET scale?x=" 200 '{"x": -2, "y": -6}' GET 'scale?x=-2'
check_req "scale with x not a number" 400 '{"error":"give x, a whole number: {\"x\": 4}"}' GET 'scale?x=four'
check_req "scale with x null" 400 '{"error":"give x, a whole number: {\"x\": 4}"}' POST scale '{"x": null}'
req GET ''
check_eq "the listing" "ServeFlow/$RUN show_data,scale" "$(json 'b["run"] + " " + ",".join(e["name"] for e in b["endpoints"])')"
check_req "an unknown endpoint: 404" 404 '{"error":"no endpoint /start in flow ServeFlow: GET / lists them"}' GET start
stop_server
check_eq "SIGTERM stops it, exit 0" 0 "$SSTATUS"

# python3 flow.py serve: the same command
: > "$WORK/serve.out"
PYTHONPATH=$SRC/sdk/python python3 "$F" serve --port 0 --workers 1 > "$WORK/serve.out" 2> "$WORK/serve.err" &
SPID=$!; SERVERS+=("$SPID")
URL=
for _ in $(seq 100); do
  URL=$(grep -o 'http://[^ ]*/' "$WORK/serve.out" 2>/dev/null | head -1); [ -n "$URL" ] && break; sleep 0.1
done
check_eq "python3 flow.py serve: curl URL/show_data" '{"result": 3}' "$(curl -s "${URL}show_data")"
check_contains "one worker" "(1 worker)" "$(cat "$WORK/serve.out")"
stop_server

# The token off loopback, for a Python flow too.
run_fails "--host 0.0.0.0 without a token is refused" 2 \
  "--host 0.0.0.0 listens beyond this machine: give a token" mflow serve "$F" --host 0.0.0.0 --port 0
TOKEN=py-$RANDOM$RANDOM
start_server "$F" --host 0.0.0.0 --token "$TOKEN" || { finish; exit 1; }
URL=http://127.0.0.1:${URL##*:}
check_req "no token: 401" 401 '{"error":"this server needs its token: send `Authorization: Bearer TOKEN`"}' GET show_data
req GET show_data '' -H "Authorization: Bearer wrong"
check_eq "a wrong token: 401" 401 "$CODE"
check_req "the right token" 200 '{"result": 3}' GET show_data '' -H "Authorization: Bearer $TOKEN"
check_req "the right token, POST" 200 '{"x": 2, "y": 6}' POST scale '{"x": 2}' -H "Authorization: Bearer $TOKEN"
stop_server

# What a flow's endpoints may not be: each refused before serving, at its line.
mk() {   # mk NAME BODY: a flow file with start, end and BODY in its class
  cat > "$WORK/$1.py" <<EOP
from mflow import FlowSpec, endpoint, step


class BadFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        self.x = 1
$2
EOP
}
mk noeps ''
run_fails "a Python flow without endpoints" 1 \
  "flow BadFlow declares no endpoints: mark a method of its class @endpoint (from mflow import endpoint)" \
  mflow serve "$WORK/noeps.py" --port 0
mk args '
    @endpoint
    def three(self, request, more):
        return 1'
run_fails "an endpoint of three arguments" 1 \
  "args.py:14: endpoint 'three' takes 3 arguments: an endpoint is def three(self) or def three(self, request)" \
  mflow check "$WORK/args.py"
mk badname '
    @endpoint(name="a b")
    def ab(self):
        return 1'
run_fails "a name that is not a URL path" 1 \
  "badname.py:14: flow BadFlow: endpoint 0's name 'a b' is not valid: an endpoint name is 1 to 100 letters, digits, '_' and '-'" \
  mflow check "$WORK/badname.py"
mk twice '
    @endpoint
    def one(self):
        return 1

    @endpoint(name="one")
    def other(self):
        return 2'
run_fails "two endpoints of one name" 1 \
  "twice.py:14: flow BadFlow: endpoint 'one' is declared twice: give each its own name" \
  mflow check "$WORK/twice.py"
mk both '
    @endpoint
    @step
    def mixed(self):
        return 1'
run_fails "a step that is an endpoint" 1 "'mixed' is marked both @step and @endpoint" \
  mflow check "$WORK/both.py"
mk positional '
    @endpoint("name")
    def p(self):
        return 1'
run_fails "@endpoint(\"name\")" 1 "@endpoint takes its name as a keyword: @endpoint(name='name')" \
  mflow check "$WORK/positional.py"
finish
