#!/bin/bash
# The task server opens the store once when its plugin sets MF_STORAGE_FORK_SAFE (plugin ABI
# 1.6: local does), and a forked task takes that instance only when it would open the same one
# (same plugin, home, options, MFLOW_<NAME>_* variables). A task of another datastore root
# opens its own and never writes into the server's; a plugin without the flag (nofork/: local
# built as `local_nofork` without it) opens its store in every task. Which tasks opened their
# own is seen with strace: local's init checks access("/proc/self/fd"), nothing else does.
. "$(dirname "$0")/lib.sh"
F=$FLOWS/../../../bench/flows/trivial_foreach.c
CLIENT=$(dirname "$0")/ts_client.py
NOFORK=${MFLOW_TEST_NOFORK_DIR:?MFLOW_TEST_NOFORK_DIR is not set (run through meson test)}

for h in A C D; do
  MFLOW_HOME=$WORK/$h "$MFLOW" run "$F" --n=2 >/dev/null 2>&1 || fail "run in $h"
done
MFLOW_PLUGIN_PATH=$NOFORK MFLOW_HOME=$WORK/E "$MFLOW" --storage=local_nofork run "$F" --n=2 >/dev/null 2>&1 ||
  fail "run in E with local_nofork"
SOF=$(grep -l TrivialForeach "$WORK"/A/cache/flows/*.so | head -1)
RF=$(ls "$WORK/A/datastore/runs/TrivialForeach")
check_eq "the same run id in every home" "$RF $RF $RF" \
  "$(for h in C D E; do ls "$WORK/$h/datastore/runs/TrivialForeach"; done | paste -sd' ')"

# req HOME GLOBALS_JSON RUN TASK_ID LOG EXTRA_ENV_JSON: one request line for ts_client.py.
req() {
  python3 -c 'import json,sys
env={"PATH":"/usr/bin:/bin","HOME":sys.argv[1],"MFLOW_HOME":sys.argv[1]}
env.update(json.loads(sys.argv[6]))
print(json.dumps({"argv":json.loads(sys.argv[2])+["task",sys.argv[7],"start","--run-id",sys.argv[3],"--task-id",sys.argv[4]],"env":env,"log":sys.argv[5]}))' "$1" "$2" "$3" "$4" "$5" "$6" "$SOF"
}
rec() { echo "$WORK/$1/datastore/runs/TrivialForeach/$RF/start/$2.0.json"; }   # HOME_DIR TASK
has() { [ -f "$1" ] && echo 1 || echo 0; }

strace_ok=0
if command -v strace >/dev/null 2>&1 && strace -f -o /dev/null true 2>/dev/null && [ -z "${MFLOW_TEST_SANITIZE:-}" ]; then
  strace_ok=1
else
  echo "strace missing or not usable here: which task opened its own store is not checked"
fi
# serve NAME GLOBALS_JSON < requests: run them on one server (under strace when usable); prints
# the exit statuses, then a line of which tasks opened their own store ("o") or took the
# server's ("t"), in the order they ran.
serve() {
  local name=$1 globals=$2
  mkdir -p "$WORK/tr_$name"
  if [ "$strace_ok" = 1 ]; then
    env -i PATH=/usr/bin:/bin HOME="$WORK/A" MFLOW_HOME="$WORK/A" MFLOW_PLUGIN_PATH="$NOFORK" \
      strace -ff -e trace=access,prctl -o "$WORK/tr_$name/t" python3 "$CLIENT" "$MFLOW" "$globals" |
      paste -sd' '
    local f
    for f in $(grep -l 'PR_SET_NAME, "mflow-task"' "$WORK/tr_$name"/t.* | xargs ls -tr); do
      grep -q 'access("/proc/self/fd"' "$f" && echo -n o || echo -n t
    done
    echo
  else
    env -i PATH=/usr/bin:/bin HOME="$WORK/A" MFLOW_HOME="$WORK/A" MFLOW_PLUGIN_PATH="$NOFORK" \
      python3 "$CLIENT" "$MFLOW" "$globals" | paste -sd' '
  fi
}
opened() {   # LABEL EXPECTED ACTUAL_LINE
  [ "$strace_ok" = 1 ] && check_eq "$1" "$2" "$3"
  return 0
}

# The server's own store: every task takes the opened one and writes its record there.
{
  req "$WORK/A" '[]' "$RF" 101 "$WORK/l1" '{}'
  req "$WORK/A" '[]' "$RF" 102 "$WORK/l2" '{}'
  req "$WORK/A" '[]' "$RF" 103 "$WORK/l3" '{}'
} >"$WORK/reqs1"
serve one '[]' <"$WORK/reqs1" >"$WORK/out1"
check_eq "same store: every task ran" "0 0 0" "$(sed -n 1p "$WORK/out1")"
check_eq "same store: the records in it" "1 1 1" "$(has "$(rec A 101)") $(has "$(rec A 102)") $(has "$(rec A 103)")"
opened "same store: every task took the server's store" "ttt" "$(sed -n 2p "$WORK/out1")"

# The server prepares for its first request (root C); then another root (global option),
# another home (whose default root is C's), a MFLOW_LOCAL_* variable: each opens its own, and
# nothing is written into A's store meanwhile.
touch "$WORK/stamp"
sleep 0.01
{
  req "$WORK/A" '[]' "$RF" 201 "$WORK/m1" "{\"MFLOW_DATASTORE_ROOT\":\"$WORK/C/datastore\"}"
  req "$WORK/A" "[\"--datastore-root=$WORK/D/datastore\"]" "$RF" 202 "$WORK/m2" '{}'
  req "$WORK/C" '[]' "$RF" 203 "$WORK/m3" '{}'
  req "$WORK/A" '[]' "$RF" 204 "$WORK/m4" "{\"MFLOW_DATASTORE_ROOT\":\"$WORK/D/datastore\",\"MFLOW_LOCAL_ANON_TEMP\":\"0\"}"
} >"$WORK/reqs2"
serve two '[]' <"$WORK/reqs2" >"$WORK/out2"
check_eq "other stores: every task ran" "0 0 0 0" "$(sed -n 1p "$WORK/out2")"
check_eq "other stores: each record in its own store" "1 1 1 1" \
  "$(has "$(rec C 201)") $(has "$(rec D 202)") $(has "$(rec C 203)") $(has "$(rec D 204)")"
check_eq "other stores: nothing new in the server's store" "" \
  "$(find "$WORK/A/datastore" -newer "$WORK/stamp" -type f | head -3)"
opened "other stores: the first took the server's (C), each other opened its own" "tooo" "$(sed -n 2p "$WORK/out2")"
# The server prepared for a task of root C: one of the server's home (A) opens its own.
{
  req "$WORK/A" '[]' "$RF" 301 "$WORK/n1" "{\"MFLOW_DATASTORE_ROOT\":\"$WORK/C/datastore\"}"
  req "$WORK/A" '[]' "$RF" 302 "$WORK/n2" '{}'
  req "$WORK/A" '[]' "$RF" 303 "$WORK/n3" "{\"MFLOW_DATASTORE_ROOT\":\"$WORK/C/datastore\"}"
} >"$WORK/reqs3"
serve three '[]' <"$WORK/reqs3" >"$WORK/out3"
check_eq "prepared for C: every task ran" "0 0 0" "$(sed -n 1p "$WORK/out3")"
check_eq "prepared for C: A's task in A, not C; C's in C" "1 0 1 1" \
  "$(has "$(rec A 302)") $(has "$(rec C 302)") $(has "$(rec C 301)") $(has "$(rec C 303)")"
opened "prepared for C: only A's task opened its own" "tot" "$(sed -n 2p "$WORK/out3")"

# A plugin without MF_STORAGE_FORK_SAFE: every task opens its own store, and it works.
{
  req "$WORK/E" '["--storage=local_nofork"]' "$RF" 401 "$WORK/p1" "{\"MFLOW_PLUGIN_PATH\":\"$NOFORK\"}"
  req "$WORK/E" '["--storage=local_nofork"]' "$RF" 402 "$WORK/p2" "{\"MFLOW_PLUGIN_PATH\":\"$NOFORK\"}"
} >"$WORK/reqs4"
serve four '["--storage=local_nofork"]' <"$WORK/reqs4" >"$WORK/out4"
check_eq "not fork-safe: every task ran" "0 0" "$(sed -n 1p "$WORK/out4")"
check_eq "not fork-safe: the records in its store" "1 1" "$(has "$(rec E 401)") $(has "$(rec E 402)")"
opened "not fork-safe: every task opened its own" "oo" "$(sed -n 2p "$WORK/out4")"
finish
