#!/bin/bash
# The seed's example, examples/serve.c: `curl http://127.0.0.1:P/show_data` gives
# {"result": 3}; its POST endpoint uses the request; the flow and the server's own checks.
. "$(dirname "$0")/lib.sh"
F=$SRC/examples/serve.c

run_ok "mflow check counts the endpoints" mflow check "$F"
check_eq "check's line" "flow ServeFlow: 2 steps, 0 parameters, 2 endpoints: ok" "$OUT"
run_flow "$F" || fail "run: $OUT"
check_eq "the run computed 3" 3 "$(mflow get ServeFlow/$RUN/end result)"
start_server "$F" || { finish; exit 1; }
check_eq "curl URL/show_data" '{"result": 3}' "$(curl -s "${URL}show_data")"
check_req "POST scale" 200 '{"x": 4, "y": 12}' POST scale '{"x": 4}'
check_req "GET scale?x=" 200 '{"x": -2, "y": -6}' GET 'scale?x=-2'
check_req "scale without x" 400 '{"error":"give x, a whole number: {\"x\": 4}"}' POST scale '{}'
check_req "scale with x not a number" 400 '{"error":"give x, a whole number: {\"x\": 4}"}' GET 'scale?x=four'
req GET ''
check_eq "the listing" "ServeFlow/$RUN show_data,scale" "$(json 'b["run"] + " " + ",".join(e["name"] for e in b["endpoints"])')"
stop_server

# What serve refuses before listening.
run_fails "a flow without endpoints" 1 "flow HelloFlow declares no endpoints: add a table of mf_endpoint_def" \
  mflow serve "$SRC/examples/hello.c" --port 0
run_fails "a flow that does not exist" 1 "flow $WORK/none.c:" mflow serve "$WORK/none.c"
run_fails "a port out of range" 2 "--port" mflow serve "$F" --port 70000
run_fails "no flow" 2 "usage: mflow serve FLOW" mflow serve
start_server "$F" || { finish; exit 1; }
port=${URL##*:}; port=${port%/}
run_fails "a port in use" 1 "cannot listen on 127.0.0.1 port $port: Address already in use (another server has it" \
  mflow serve "$F" --port "$port"
stop_server

# The server is a module loaded on demand: the mflow command every task runs links no HTTP library.
check_eq "mflow links no libmicrohttpd" "" "$(ldd "$MFLOW" | grep -i -E 'microhttpd|gnutls')"
check_contains "the serve module does" "libmicrohttpd" "$(ldd "$(dirname "$MFLOW")/mflow-serve.so")"
finish
