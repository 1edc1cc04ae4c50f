#!/bin/bash
# MFLOW_PY_TS_STATS=FILE: the Python task server appends, at its exit, the count of children it
# forked and their page faults and CPU (getrusage of its reaped children). A child that imports
# a module or rebuilds what the server prepared shows here: importing the small resource module
# costs a child ~210 faults more; a child takes ~300 (Python 3.11), ~390 before the argv, the
# environment's changes and the imports moved into the server.
. "$(dirname "$0")/lib.sh"
F=$SRC/bench/flows/trivial_foreach.py
mflow check "$F" >/dev/null 2>&1

for n in 4 9; do
  export MFLOW_PY_TS_STATS=$WORK/stats.$n
  run_flow "$F" --n=$n; rc=$?
  check_eq "n=$n: exit" 0 "$rc"
  check_eq "n=$n: one line from the one server" 1 "$(grep -c . "$MFLOW_PY_TS_STATS" 2>/dev/null)"
  line=$(cat "$MFLOW_PY_TS_STATS" 2>/dev/null)
  check_eq "n=$n: the line's fields" "children minflt majflt utime_ms stime_ms" \
    "$(echo "$line" | awk '{print $1, $3, $5, $7, $9}')"
  # start, n work tasks, join and end: every one of them a child of the server
  check_eq "n=$n: children" $((n + 3)) "$(echo "$line" | awk '{print $2}')"
  per=$(echo "$line" | awk '{print int($4 / $2)}')
  check_eq "n=$n: page faults a child under 450 (got $per)" yes \
    "$([ "$per" -gt 0 ] && [ "$per" -lt 450 ] && echo yes || echo no)"
  check_eq "n=$n: CPU reported" yes \
    "$(echo "$line" | awk '{print ($8 + $10 > 0) ? "yes" : "no"}')"
  check_eq "n=$n: the server's own share" "server minflt utime_ms stime_ms yes" \
    "$(echo "$line" | awk '{print $11, $12, $14, $16, ($13 > 0 && $15 + $17 > 0) ? "yes" : "no"}')"
done

# without the variable nothing is written
unset MFLOW_PY_TS_STATS
rm -f "$WORK"/stats.*
run_flow "$F" --n=2; rc=$?
check_eq "unset: exit" 0 "$rc"
check_eq "unset: no file" "" "$(ls "$WORK" | grep '^stats\.')"
finish
