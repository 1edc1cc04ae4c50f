#!/bin/bash
# What a task forked by the task server does not repeat: it searches, opens and checks no
# plugin file (the server's registry is its own when it would search the same directories),
# neither resolves nor dlopens its flow again (the server's handle is its own), reads no
# /dev/urandom (jansson is seeded once in the server), and still loses none of its output
# at exit. System calls are counted with strace; without it the test is skipped.
. "$(dirname "$0")/lib.sh"
need_strace
F=$FLOWS/quiet_foreach.c
mflow run "$F" --n=1 >/dev/null 2>&1   # compile once, outside the traces

# trace NAME [ENV...]: run the flow under strace -ff (files $WORK/NAME/tr.PID), RUN set.
trace() {
  local name=$1; shift
  mkdir -p "$WORK/$name"
  rm -rf "$WORK/files"; mkdir -p "$WORK/files"
  env QUIET_DIR="$WORK/files" "$@" strace -ff -o "$WORK/$name/tr" "$MFLOW" run "$F" --n=6 --max-workers 2 \
    --run-id-file "$WORK/runid" >"$WORK/$name.out" 2>&1
  local rc=$?
  RUN=$(cat "$WORK/runid" 2>/dev/null)
  return $rc
}
# forked NAME: the trace files of tasks forked by the server (named mflow-task).
forked() { grep -l 'PR_SET_NAME, "mflow-task"' "$WORK/$1"/tr.* 2>/dev/null; }
# count NAME PATTERN: lines matching PATTERN over the forked tasks' traces.
count() { local f; f=$(forked "$1"); [ -z "$f" ] && { echo none; return; }; cat $f | grep -c -- "$2"; }

check_results() {   # WHAT
  check_eq "$1: the join saw every item" 105 "$(mflow get "QuietForeach/$RUN/join" sum)"
  local t
  t=$(mflow inspect "QuietForeach/$RUN/body" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["tasks"][3]["task_id"])')
  local item=$(( (t - 2) * 7 ))
  check_contains "$1: unflushed stdout reached the task's log" "
item $item unflushed" "$(mflow logs "QuietForeach/$RUN/body/$t")"
  check_eq "$1: files the steps left open were flushed" "value 0|value 7|value 14|value 21|value 28|value 35" \
    "$(cd "$WORK/files" && for i in 0 7 14 21 28 35; do cat "item-$i.txt"; echo; done | paste -sd'|')"
  check_contains "$1: unflushed stderr reached the task's log" "
err $item" "$(mflow logs "QuietForeach/$RUN/body/$t" --stderr)"
}

trace server MFLOW_LOCAL_TASK_SERVER=on || fail "run with the server: $(cat "$WORK/server.out")"
check_results "server"
n=$(forked server | wc -l)
check_eq "server: some tasks were forked by the server" 1 "$([ "$n" -ge 4 ] && echo 1 || echo 0)"
check_eq "server: forked tasks open no plugin file" 0 "$(count server 'mflow_storage_local.so')"
check_eq "server: forked tasks search no plugin directory" 0 "$(count server 'readlink("/proc/self/exe"')"
check_eq "server: forked tasks read no /dev/urandom" 0 "$(count server '/dev/urandom')"
check_eq "server: forked tasks resolve no flow path (the server's loaded flow is theirs)" 0 \
  "$(count server 'readlink(".*/cache/flows')"

# A relative directory in MFLOW_PLUGIN_PATH depends on the task's working directory: then
# each task builds its own registry, as an exec'ed task does.
mkdir -p "$WORK/rel/plugins-here"
cd "$WORK/rel" || exit 1
trace relative MFLOW_LOCAL_TASK_SERVER=on MFLOW_PLUGIN_PATH=plugins-here ||
  fail "run with a relative plugin path: $(cat "$WORK/relative.out")"
cd "$WORK" || exit 1
check_results "relative plugin path"
n=$(forked relative | wc -l)
check_eq "relative plugin path: each forked task opens the plugin itself" 1 \
  "$([ "$n" -ge 4 ] && [ "$(count relative 'openat(.*mflow_storage_local.so')" -ge "$n" ] && echo 1 || echo 0)"

# Exec'ed tasks: the same results and output.
trace exec MFLOW_LOCAL_TASK_SERVER=off || fail "run with exec: $(cat "$WORK/exec.out")"
check_results "exec"
check_eq "exec: no task was forked by a server" "none" "$(count exec x)"

finish
