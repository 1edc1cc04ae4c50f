#!/bin/bash
# Loopback by default; listening beyond it needs a token, which every request must carry as
# `Authorization: Bearer TOKEN` (given with --token or MFLOW_SERVE_TOKEN).
. "$(dirname "$0")/lib.sh"
F=$SRC/examples/serve.c
run_flow "$F" || fail "run: $OUT"

start_server "$F" || { finish; exit 1; }
check_contains "loopback by default" "on http://127.0.0.1:" "$(cat "$WORK/serve.out")"
check_req "no token needed on loopback" 200 '{"result": 3}' GET show_data
stop_server

for host in 0.0.0.0 :: ; do
  run_fails "--host $host without a token is refused" 2 \
    "--host $host listens beyond this machine: give a token (--token TOKEN or MFLOW_SERVE_TOKEN)" \
    mflow serve "$F" --host $host --port 0
done
ip=$(hostname -I 2>/dev/null | awk '{print $1}')
if [ -n "$ip" ]; then
  run_fails "a machine address without a token is refused" 2 "listens beyond this machine" \
    mflow serve "$F" --host "$ip" --port 0
fi
run_fails "an empty MFLOW_SERVE_TOKEN is no token" 2 "listens beyond this machine" \
  env MFLOW_SERVE_TOKEN= "$MFLOW" serve "$F" --host 0.0.0.0 --port 0
run_fails "an unknown host" 2 "cannot use --host no.such.host.invalid" \
  mflow serve "$F" --host no.such.host.invalid --port 0

TOKEN=s3cret-$RANDOM$RANDOM
start_server "$F" --host 0.0.0.0 --token "$TOKEN" || { finish; exit 1; }
check_contains "listening on every address" "on http://0.0.0.0:" "$(cat "$WORK/serve.out")"
URL=http://127.0.0.1:${URL##*:}
check_req "no token: 401" 401 '{"error":"this server needs its token: send `Authorization: Bearer TOKEN`"}' GET show_data
check_contains "401 names the scheme" 'WWW-Authenticate: Bearer realm="mflow"' "$(cat "$WORK/headers")"
req GET show_data '' -H "Authorization: Bearer wrong"
check_eq "a wrong token: 401" 401 "$CODE"
req GET show_data '' -H "Authorization: Bearer ${TOKEN}x"
check_eq "the token and more: 401" 401 "$CODE"
req GET show_data '' -H "Authorization: Bearer ${TOKEN%?}"
check_eq "the token less its last character: 401" 401 "$CODE"
req GET show_data '' -H "Authorization: Basic $TOKEN"
check_eq "another scheme: 401" 401 "$CODE"
req GET '' '' -H "Authorization: Bearer wrong"
check_eq "the listing needs the token too" 401 "$CODE"
check_req "the right token" 200 '{"result": 3}' GET show_data '' -H "Authorization: Bearer $TOKEN"
check_req "the right token, POST" 200 '{"x": 2, "y": 6}' POST scale '{"x": 2}' -H "Authorization: Bearer $TOKEN"
check_eq "the token is not in the server's output" "" "$(grep -l "$TOKEN" "$WORK/serve.out" "$WORK/serve.err")"
stop_server

# From the environment, and then required on loopback too.
export MFLOW_SERVE_TOKEN=env-$TOKEN
start_server "$F" || { finish; exit 1; }
check_req "MFLOW_SERVE_TOKEN: no token, 401" 401 '{"error":"this server needs its token: send `Authorization: Bearer TOKEN`"}' GET show_data
check_req "MFLOW_SERVE_TOKEN: the token" 200 '{"result": 3}' GET show_data '' -H "Authorization: Bearer env-$TOKEN"
stop_server
finish
