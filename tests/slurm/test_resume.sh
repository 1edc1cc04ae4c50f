#!/bin/bash
# Resume of a Slurm run: a foreach split fails on Slurm; `mflow resume` (on Slurm too) clones
# what finished, submits only the rest, and ends with the artifacts of a clean run.
. "$(dirname "$0")/lib.sh"
F=$SFLOWS/shapes.c
S=(--compute=slurm)

OUT=$(FAIL_ITEM=3 mflow "${S[@]}" run "$F" --max-workers 64 --run-id-file "$WORK/runid" 2>&1); rc=$?
origin=$(cat "$WORK/runid")
check_eq "the run with a failing split fails" 1 "$rc"
check_contains "the split's message" "item 3 fails on purpose" "$OUT"
check_eq "the origin run submitted start, fan, other and six splits" 9 \
  "$(slurm_jobs "ShapesFlow/$origin/" | wc -l)"

OUT=$(mflow "${S[@]}" resume "$F" --max-workers 64 --run-id-file "$WORK/runid" 2>&1); rc=$?
r=$(cat "$WORK/runid")
check_eq "resume succeeds" 0 "$rc"
[ $rc = 0 ] || echo "$OUT" >&2
check_contains "resume names its origin and step" "resuming ShapesFlow/$origin from step 'sq'" "$OUT"
check_eq "resumed result" 1727.5 "$(mflow get ShapesFlow/$r/end result)"
check_contains "start was cloned" "\"origin\":\"ShapesFlow/$origin/start/" \
  "$(cat "$DS"/runs/ShapesFlow/$r/start/*.0.json)"
check_contains "other was cloned" "\"origin\":\"ShapesFlow/$origin/other/" \
  "$(cat "$DS"/runs/ShapesFlow/$r/other/*.0.json)"
jobs=$(slurm_jobs "ShapesFlow/$r/")
check_eq "only the rest ran on Slurm: six splits, fjoin, join, end" 9 "$(echo "$jobs" | grep -c .)"
check_eq "...the splits again as one array" 1 \
  "$(echo "$jobs" | awk -F'|' '$2 == "ShapesFlow/'"$r"'/sq"' | cut -d'|' -f1 | cut -d_ -f1 | sort -u | wc -l)"
check_eq "no cloned step ran on Slurm" "" "$(echo "$jobs" | grep -E '/(start|fan|other)/')"

# The same artifacts as a clean local run.
run_flow "$F" || fail "local run: $OUT"
check_eq "resumed run's artifacts equal a clean local run's" "$(artifacts ShapesFlow "$RUN")" \
  "$(artifacts ShapesFlow "$r")"
finish
