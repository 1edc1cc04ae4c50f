#!/bin/bash
# The Python task server's loop is libmflow's (core/src/foreign_ts.c): between two forks it
# writes few pages, and with MFLOW_TS_SHARE_CODE=1 its children start with its code mapped.
# What a task sees stays the same: its environment as os.environ and as the C library read it
# (only what differs from the first task's is changed), SIGCHLD (blocked in the server)
# unblocked, and what os.fork runs in a child (the at-fork hooks: random's reseeding among
# them) run.
. "$(dirname "$0")/lib.sh"
F=$PYFLOWS/served_lean.py
mflow check "$F" >/dev/null 2>&1

# n=3 with the code mappings shared (MFLOW_TS_SHARE_CODE=1), n=8 as by default, not shared.
for n in 3 8; do
  if [ $n = 3 ]; then share=1 codes="libmflow python3"; else share= codes=""; fi
  MFLOW_TS_SHARE_CODE=$share run_flow "$F" --n=$n; rc=$?
  check_eq "n=$n: exit" 0 "$rc"
  R="ServedLeanFlow/$RUN"
  check_eq "n=$n: start's environment" "start|start b|b" "$(mflow get "$R/start" env)"
  check_eq "n=$n: work's, not start's" "work|work -|-" "$(mflow get "$R/join" envs)"
  check_eq "n=$n: join's, neither" "-|- -|-" "$(mflow get "$R/join" env)"
  check_eq "n=$n: the at-fork hooks ran in each child" true "$(mflow get "$R/join" hooked)"
  check_eq "n=$n: random reseeded in each child" $n "$(mflow get "$R/join" rands)"
  check_eq "n=$n: SIGCHLD not blocked in a task" 0000000000000000 "$(mflow get "$R/join" blocked)"
  check_eq "n=$n: the server's code mappings hold a private page only when shared" "$codes" \
    "$(mflow get "$R/join" codes)"
done

# Page faults a task costs, the child's and the server's (MFLOW_PY_TS_STATS): the difference
# of a foreach of 4 and one of 24, so that the server's start and the run's first tasks drop
# out. Python 3.11: a child took ~320 and the server ~180 a child with the loop in Python and
# the code mappings not shared; ~40 the server with its loop in C but called from Python's;
# then ~210 and ~7; now, the code mappings no longer shared by default (foreign_ts.c), ~245
# and ~4.
T=$SRC/bench/flows/trivial_foreach.py
mflow check "$T" >/dev/null 2>&1
for n in 4 24; do
  export MFLOW_PY_TS_STATS=$WORK/stats.$n
  run_flow "$T" --n=$n; rc=$?
  check_eq "faults n=$n: exit" 0 "$rc"
  check_eq "faults n=$n: children" $((n + 3)) "$(awk '{print $2}' "$MFLOW_PY_TS_STATS" 2>/dev/null)"
done
child=$(paste "$WORK/stats.4" "$WORK/stats.24" | awk '{print int(($21 - $4) / 20)}')
server=$(paste "$WORK/stats.4" "$WORK/stats.24" | awk '{print int(($30 - $13) / 20)}')
check_eq "faults: a child under 300 (got $child)" yes \
  "$([ "$child" -gt 0 ] && [ "$child" -lt 300 ] && echo yes || echo no)"
check_eq "faults: the server's a child under 25 (got $server)" yes \
  "$([ "$server" -ge 0 ] && [ "$server" -lt 25 ] && echo yes || echo no)"
finish
