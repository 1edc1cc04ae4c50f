#!/bin/bash
# A plugin that exports more than mf_plugin_entry_v1 loads, with one warning naming the
# extra symbols: once per command, not again from each task it starts.
. "$MFLOW_TEST_SOURCE_ROOT/tests/e2e/lib.sh"
LEAKY=${MFLOW_LEAKY_PLUGINS:?}
so=$LEAKY/mflow_storage_tmpl.so
warning="$so exports leaky_helper, leaky_table beside mf_plugin_entry_v1"

OUT=$(MFLOW_PLUGIN_PATH=$LEAKY "$MFLOW" plugins --json 2>"$WORK/err"); rc=$?
check_eq "mflow plugins exits 0 with the leaky plugin" 0 "$rc"
err=$(cat "$WORK/err")
check_contains "the warning names the extra symbols" "$warning" "$err"
check_contains "and says what to do" "-fvisibility=hidden" "$err"
check_eq "the warning is given once" 1 "$(grep -c 'exports leaky_helper' "$WORK/err")"
check_eq "the plugin still loads, its warning in --json" "True $warning" \
  "$(printf '%s' "$OUT" | python3 -c '
import json, sys
e = [x for x in json.load(sys.stdin) if x["path"].endswith("leaky/mflow_storage_tmpl.so")][0]
print(e["loaded"], e["warning"].split(";")[0])')"

# Plugins exporting only their entry (mflow's own): no word.
OUT=$(MFLOW_PLUGIN_PATH= "$MFLOW" plugins --json 2>"$WORK/err2")
check_eq "no warning for plugins that export only their entry" "0" \
  "$(grep -c 'exports' "$WORK/err2")"
check_eq "and their --json warning is null" "local None" "$(printf '%s' "$OUT" | python3 -c '
import json, sys
e = [x for x in json.load(sys.stdin) if x["path"].endswith("mflow_storage_local.so")][0]
print(e["name"], e["warning"])')"

# A whole run on it: the orchestrator warns once; the tasks it starts inherit that it did.
OUT=$(MFLOW_PLUGIN_PATH=$LEAKY "$MFLOW" --datastore-root="tmpl://$WORK/tds" run "$FLOWS/linear.c" \
      --run-id-file "$WORK/rid" 2>&1)
check_eq "the run succeeds on the leaky plugin" "1" "$(cat "$WORK/rid" 2>/dev/null)"
check_eq "one warning for the whole run (not one per task)" 1 \
  "$(printf '%s\n' "$OUT" | grep -c 'exports leaky_helper')"
# (mflow logs warns on its own stderr, once: what it prints on stdout is the task's stderr.)
logs=$(MFLOW_PLUGIN_PATH=$LEAKY "$MFLOW" logs LinearFlow/1/a --stderr 2>/dev/null)
check_eq "the task's own stderr does not repeat the warning" "" \
  "$(printf '%s' "$logs" | grep leaky_helper)"
check_eq "no task's stderr in the datastore has it" "" \
  "$(grep -rl leaky_helper "$WORK/tds/runs" 2>/dev/null)"
finish
