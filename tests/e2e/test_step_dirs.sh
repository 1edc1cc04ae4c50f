#!/bin/bash
# A run's step directories are made ready by the store before its tasks run (plugin ABI 1.5
# `prepare`): each task then syncs its record alone, not the directories its step's first
# record would have created (two fsyncs more on the run's critical path for every step of a
# linear run). Counted with strace; without it the test is skipped.
. "$(dirname "$0")/lib.sh"
need_strace
F=$FLOWS/linear.c
mflow run "$F" >/dev/null 2>&1   # compile once, outside the traces

for round in 1 2; do
  rm -rf "$WORK/tr"; mkdir -p "$WORK/tr"
  strace -ff -o "$WORK/tr/t" -e trace=fsync,fdatasync,linkat,rename,renameat2,prctl,execve "$MFLOW" run "$F" \
    --run-id-file "$WORK/runid" >"$WORK/out" 2>&1 || fail "round $round: run: $(cat "$WORK/out")"
  RUN=$(cat "$WORK/runid")
  DIR=$MFLOW_HOME/datastore/runs/LinearFlow/$RUN
  steps=$(python3 -c 'import json,sys; print(" ".join(sorted(s["name"] for s in json.load(open(sys.argv[1]))["steps"])))' "$DIR/graph.json")
  check_eq "round $round: every step has its place" "$steps" \
    "$(cd "$DIR" && for s in $steps; do [ -d "$s" ] && echo "$s"; done | paste -sd' ')"
  # The task processes: those that link a task record into place.
  tasks=$(grep -l "linkat(.*/LinearFlow/$RUN/[a-z_]*/[0-9]*\.[0-9]*\.json\"" "$WORK"/tr/t.* 2>/dev/null)
  n=$(echo "$tasks" | grep -c .)
  check_eq "round $round: one process stored each task's record" "$(echo "$steps" | wc -w)" "$n"
  per=$(for t in $tasks; do grep -c '^fsync(' "$t"; done | sort -u | paste -sd' ')
  check_eq "round $round: each task syncs its record and nothing else" "1" "$per"
  total=$(cat "$WORK"/tr/t.* | grep -cE '^(fsync|fdatasync)\(')
  check_eq "round $round: the whole run syncs at most 12 times (was 20-21; took $total)" 1 \
    "$([ "$total" -le 12 ] && echo 1 || echo 0)"
  check_eq "round $round: the run succeeded" "succeeded" "$(mflow inspect "LinearFlow/$RUN" --json |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')"
done

# A resumed run is a new run: its steps get their places too, and it finds every value.
run_ok "resume from step b" mflow resume "$F" b --origin-run-id "$RUN" --run-id-file "$WORK/runid2"
R2=$(cat "$WORK/runid2" 2>/dev/null)
check_eq "the resumed run has a place for each step" "$(echo "$steps" | wc -w)" \
  "$(cd "$MFLOW_HOME/datastore/runs/LinearFlow/$R2" 2>/dev/null && for s in $steps; do [ -d "$s" ] && echo "$s"; done | wc -l)"

finish
