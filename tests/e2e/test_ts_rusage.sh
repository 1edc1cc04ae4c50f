#!/bin/bash
# MFLOW_TS_RUSAGE=FILE: the task server writes one line a child as it reaps it, "pid minflt
# majflt utime_us stime_us server_minflt", the figures the task server's cost is measured by
# (core/cli/cmd_task_server.c through ts_proto's reap). One line for each task the run stored,
# each of a distinct child, the server's own count above 0, never going down and higher at the
# last line than at the first; then one line of the server's own at its end, "server utime_us
# stime_us minflt majflt", with CPU time and at least the faults its last reap counted; unset,
# no file.
. "$(dirname "$0")/lib.sh"
F=$SRC/bench/flows/trivial_foreach.c

for n in 2 7; do
  ALL=$WORK/rusage.$n
  run_ok "foreach of $n with MFLOW_TS_RUSAGE" env MFLOW_TS_RUSAGE="$ALL" \
    "$MFLOW" run "$F" --n="$n" --run-id-file "$WORK/runid" --max-workers 2
  # The server's line comes last, written as it ends after the run's last task.
  check_eq "$n: one server line, the last" "1 server" \
    "$(grep -c '^server' "$ALL") $(tail -n 1 "$ALL" | cut -d' ' -f1)"
  check_eq "$n: the server line holds four whole numbers" "1" \
    "$(grep -cE '^server [0-9]+ [0-9]+ [0-9]+ [0-9]+$' "$ALL")"
  check_eq "$n: the server used CPU" "yes" \
    "$(awk '/^server/ { print ($2 + $3 > 0) ? "yes" : "no: " $0 }' "$ALL")"
  RU=$WORK/tasks.$n
  grep -v '^server' "$ALL" > "$RU"
  check_eq "$n: its faults at least its last reap's count" "yes" \
    "$(awk '/^server/ { s = $4 } !/^server/ { last = $6 } END { print (s >= last && s > 0) ? "yes" : "no: " s " < " last }' "$ALL")"
  RUN=$(cat "$WORK/runid")
  # each task's record: STEP/TASK.ATTEMPT.json (run.json and graph.json are the run's)
  TASKS=$(find "$MFLOW_HOME/datastore/runs/TrivialForeach/$RUN" -mindepth 2 -name '*.json' | wc -l)
  check_eq "$n: a task a foreach item plus start, join and end" "$((n + 3))" "$TASKS"
  check_eq "$n: one line a task" "$TASKS" "$(wc -l < "$RU")"
  check_eq "$n: six whole numbers a line" "$TASKS" \
    "$(grep -cE '^[0-9]+ [0-9]+ [0-9]+ [0-9]+ [0-9]+ [0-9]+$' "$RU")"
  check_eq "$n: a distinct pid a line" "$TASKS" "$(cut -d' ' -f1 "$RU" | sort -u | wc -l)"
  check_eq "$n: each child faulted pages in" "$TASKS" "$(awk '$2 > 0' "$RU" | wc -l)"
  check_eq "$n: the server's count never goes down" "ok" \
    "$(awk 'NR > 1 && $6 < last { bad = 1 } { last = $6 } END { print bad ? "down" : "ok" }' "$RU")"
  # The server faulted pages in loading itself (a count stuck at 0 is not its own), and it
  # faults more between its first reap and its last: each fork makes its writable pages
  # copy-on-write, so the forks in between cost it at least its stack's page each.
  check_eq "$n: the server's count is its own (above 0 on every line)" "$TASKS" \
    "$(awk '$6 > 0' "$RU" | wc -l)"
  check_eq "$n: the server's count grows over the run" "grows" \
    "$(awk 'NR == 1 { first = $6 } { last = $6 } END { print (last > first ? "grows" : "flat " first " " last) }' "$RU")"
done

run_ok "foreach without MFLOW_TS_RUSAGE" "$MFLOW" run "$F" --n=2
check_eq "no file without the variable" "rusage.2 rusage.7" "$(cd "$WORK" && ls -d rusage* | paste -sd' ')"
finish
