#!/bin/bash
# Roots that pick their storage plugin by scheme (plugin ABI 1.3), and runs that record the
# storage they used so that get, inspect, logs and resume find it without options.
# MFLOW_SCHEME_PLUGINS holds the template's tmpl store (serves tmpl://) and claima/claimb
# (both claim dup://).
. "$MFLOW_TEST_SOURCE_ROOT/tests/e2e/lib.sh"
PLUGS=${MFLOW_SCHEME_PLUGINS:?}
export MFLOW_PLUGIN_PATH=$PLUGS
TDS=$WORK/tds

# A tmpl:// root selects the tmpl plugin without --storage; tasks get that root.
MFLOW_DATASTORE_ROOT="tmpl://$TDS" run_flow "$FLOWS/linear.c" --base 4
check_eq "a tmpl:// root (MFLOW_DATASTORE_ROOT) runs the flow on the tmpl store" "0" "$?"
check_eq "run id" "1" "$RUN"
run_json=$(cat "$TDS/runs/LinearFlow/1/run.json" 2>/dev/null)
check_contains "run.json records the storage plugin and root" \
  "\"storage\":{\"plugin\":\"tmpl\",\"root\":\"tmpl://$TDS\"}" "$run_json"
check_eq "nothing went to the default local datastore" "no" \
  "$([ -e "$MFLOW_HOME/datastore/runs/LinearFlow/1" ] && echo yes || echo no)"
n=$(ls "$TDS/runs/LinearFlow/1/b/" 2>/dev/null | grep -c '\.json$')
check_eq "the tasks (other processes) wrote their records to the tmpl store" "1" "$n"

# get, inspect, logs without --storage or --datastore-root: the run says where it lives.
run_ok "get without options" mflow get LinearFlow/1/b v
check_eq "get reads the value from the tmpl store" "50" "$OUT"
run_ok "inspect without options" mflow inspect LinearFlow/1
check_contains "inspect names the run's storage" "storage    tmpl at tmpl://$TDS" "$OUT"
run_ok "inspect --json" mflow inspect LinearFlow/1 --json
check_eq "inspect --json has the storage object" "tmpl tmpl://$TDS" \
  "$(printf '%s' "$OUT" | python3 -c 'import json,sys; s=json.load(sys.stdin)["storage"]; print(s["plugin"], s["root"])')"
run_ok "logs without options" mflow logs LinearFlow/1/start
# A program on the client API, opened with only a home (not its process's default), finds
# it too.
run_ok "the client API opened with only a home" env -u MFLOW_HOME HOME="$WORK/elsewhere" \
  "${MFLOW_CLIENT_GET:?}" "$MFLOW_HOME" LinearFlow/1/b v
check_eq "the client API reads the value from the tmpl store" "50" "$OUT"

# A run on the default local store next to it: each run is read from its own store.
run_flow "$FLOWS/linear.c" --base 7
check_eq "a run on the local store" "2" "$RUN"
run_ok "get of the local run" mflow get LinearFlow/2/b v
check_eq "the local run's value" "80" "$OUT"
run_ok "get of the tmpl run again in the same index" mflow get LinearFlow/1/b v
check_eq "still the tmpl run's value" "50" "$OUT"

# The index keeps it across reindex (from run.json).
run_ok "reindex from the tmpl store" mflow --datastore-root="tmpl://$TDS" reindex
run_ok "get after reindex, without options" mflow get LinearFlow/1/b v
check_eq "get after reindex" "50" "$OUT"

# resume without options resumes from the origin's store.
run_ok "resume without options" mflow resume "$FLOWS/linear.c" --origin-run-id 1
check_eq "the resumed run went to the tmpl store" "yes" \
  "$([ -e "$TDS/runs/LinearFlow/3/run.json" ] && echo yes || echo no)"
run_ok "get of the resumed run" mflow get LinearFlow/3/b v
check_eq "the resumed run's value (cloned from run 1)" "50" "$OUT"

# A missing plugin is named, with what to do.
run_fails "get when the run's plugin is not found" 1 \
  "stored with the tmpl storage plugin at tmpl://$TDS, which cannot be opened" \
  env MFLOW_PLUGIN_PATH= "$MFLOW" get LinearFlow/1/b v
check_contains "and says what to do" "install that plugin" "$OUT"

# A record the datastore lost: the message says which datastore and the stored key shape.
rm "$TDS/runs/LinearFlow/1/end/"*.0.json
run_fails "a task record the store lost" 1 "(storage tmpl, key runs/LinearFlow/1/end/" \
  mflow get LinearFlow/1/end on
check_contains "the key has the stored shape TASK.ATTEMPT.json" ".0.json)" "$OUT"
case "$OUT" in *"index is out of date"*) fail "the old wrong advice is still given: $OUT" ;; esac
check_contains "and it says the datastore lost it" "no longer holds it" "$OUT"

# An explicit --datastore-root overrides the recorded one, and the message says so.
run_fails "an explicit root elsewhere" 1 "the run is stored elsewhere" \
  mflow --datastore-root="$MFLOW_HOME/datastore" get LinearFlow/1/b v

# Scheme errors: one claimed twice, one claimed by none.
run_fails "a scheme two plugins claim" 1 "two storage plugins serve dup:// roots: 'claima'" \
  mflow --datastore-root=dup:///x run "$FLOWS/linear.c"
check_contains "naming both" "'claimb'" "$OUT"
run_fails "a scheme no plugin serves" 1 "no storage plugin serves nope:// roots" \
  mflow --datastore-root=nope:///x run "$FLOWS/linear.c"
check_contains "naming the plugins found and their schemes" "tmpl (tmpl://)" "$OUT"
check_contains "and local's" "local (file://)" "$OUT"
# --storage still wins over the scheme.
run_fails "--storage names the plugin whatever the scheme" 1 "did not start" \
  mflow --storage=claima --datastore-root=tmpl:///x run "$FLOWS/linear.c"
check_contains "the plugin's own log line comes with it" "claima test plugin stores nothing" "$OUT"

finish
