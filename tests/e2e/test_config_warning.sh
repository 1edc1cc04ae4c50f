#!/bin/bash
# A malformed $MFLOW_HOME/config.json is named once per mflow command, not once per task:
# through the task server and with exec'ed tasks, for linear steps and a foreach.
. "$(dirname "$0")/lib.sh"

mkdir -p "$MFLOW_HOME"
count() { printf '%s\n' "$1" | grep -c "config.json line"; }

for bad in '{"compute": ' '{,}' 'not json at all' '{"a": 1} trailing'; do
  printf '%s' "$bad" >"$MFLOW_HOME/config.json"
  for server in on off; do
    OUT=$(MFLOW_LOCAL_TASK_SERVER=$server mflow run "$FLOWS/linear.c" --run-id-file "$WORK/runid" 2>&1)
    check_eq "[$bad] task server $server: linear run succeeds" 0 $?
    check_eq "[$bad] task server $server: 4 tasks, one warning" 1 "$(count "$OUT")"
    R=$(cat "$WORK/runid")
    for step in start a b end; do
      check_eq "[$bad] $step's stored stderr has no warning" 0 "$(count "$(mflow logs "LinearFlow/$R/$step" --stderr 2>/dev/null)")"
    done
  done
  OUT=$(mflow run "$SRC/examples/foreach.c" --n=6 2>&1)
  check_eq "[$bad] foreach of 6: one warning" 1 "$(count "$OUT")"
  # Every command warns once on its own (a new command, a new warning).
  check_eq "[$bad] runs warns once" 1 "$(count "$(mflow runs LinearFlow 2>&1)")"
done

# A task run by hand still says it (the file is ignored there too).
printf '{' >"$MFLOW_HOME/config.json"
OUT=$(mflow task "$FLOWS/linear.c" start --run-id 999 --task-id 1 2>&1)
check_eq "a task run by hand warns" 1 "$(count "$OUT")"
# A good config says nothing.
printf '{}' >"$MFLOW_HOME/config.json"
check_eq "a good config: no warning" 0 "$(count "$(mflow run "$FLOWS/linear.c" 2>&1)")"

finish
