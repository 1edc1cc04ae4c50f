#!/bin/bash
# resume: clones finished tasks, reruns from the failed (or named) step; catch_var.
. "$(dirname "$0")/lib.sh"
F=$FLOWS/resumable.c
export COUNT_FILE=$WORK/count
DS=$MFLOW_HOME/datastore

# A run that fails in one foreach split.
FAIL_ITEM=3 run_flow "$F" && fail "the run should fail"
check_contains "split failure reported" "item 3 fails on purpose" "$OUT"
origin=$RUN
: > "$COUNT_FILE"

# Resume: start is cloned, the failed step and everything after it run again.
OUT=$(mflow resume "$F" --run-id-file "$WORK/runid" 2>&1) || fail "resume failed: $OUT"
r2=$(cat "$WORK/runid")
check_contains "resume names its origin and step" "resuming ResumableFlow/$origin from step 'body'" "$OUT"
check_eq "resumed run's result" 55 "$(mflow get ResumableFlow/$r2/end sum)"
check_eq "start was not run again" 0 "$(grep -c '^start' "$COUNT_FILE")"
check_eq "every split of the failed step ran again" 6 "$(grep -c '^body' "$COUNT_FILE")"
start_rec=$(ls "$DS"/runs/ResumableFlow/$r2/start/*.0.json)
check_contains "cloned task records its origin" "\"origin\":\"ResumableFlow/$origin/start/1\"" "$(cat "$start_rec")"
check_eq "clone shares the origin's blobs" \
  "$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['artifacts']['items']['key'])" "$DS/runs/ResumableFlow/$origin/start/1.0.json")" \
  "$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['artifacts']['items']['key'])" "$start_rec")"

# Resume from an explicit step: the foreach is cloned split by split.
: > "$COUNT_FILE"
OUT=$(mflow resume "$F" join --origin-run-id "$r2" --run-id-file "$WORK/runid" 2>&1) || fail "resume from join: $OUT"
r3=$(cat "$WORK/runid")
check_eq "no split ran again" 0 "$(grep -c '^body' "$COUNT_FILE")"
check_eq "join ran again" 1 "$(grep -c '^join' "$COUNT_FILE")"
check_eq "result from cloned splits" 55 "$(mflow get ResumableFlow/$r3/end sum)"
check_eq "a cloned split keeps its value" 16 "$(mflow get ResumableFlow/$r3/body/$(ls "$DS"/runs/ResumableFlow/$r3/body | cut -d. -f1 | sort -n | sed -n 5p) sq)"
n_origin=$(grep -l '"origin"' "$DS"/runs/ResumableFlow/$r3/body/*.0.json | wc -l)
check_eq "six splits cloned, each with an origin" 6 "$n_origin"

# A resumed run can itself be resumed (the latest run is the default origin).
: > "$COUNT_FILE"
FAIL_JOIN=1 run_flow "$F" && fail "join failure expected"
OUT=$(mflow resume "$F" --run-id-file "$WORK/runid" 2>&1) || fail "resume of a failed join: $OUT"
r5=$(cat "$WORK/runid")
OUT=$(mflow resume "$F" end --run-id-file "$WORK/runid" 2>&1) || fail "resume of a resumed run: $OUT"
r6=$(cat "$WORK/runid")
check_eq "resume of resume" 55 "$(mflow get ResumableFlow/$r6/end sum)"
check_contains "its join was cloned from the resumed run" "\"origin\":\"ResumableFlow/$r5/join/" "$(cat "$DS"/runs/ResumableFlow/$r6/join/*.0.json)"

# A changed graph before the resume step is refused, naming what changed.
python3 - "$F" "$WORK/changed.c" <<'PY'
import sys
src = open(sys.argv[1]).read()
# body now goes through an extra step before the join: the graph before 'end' changed
src = src.replace('{.name = "body", .fn = body, .next = "join"},',
                  '{.name = "body", .fn = body, .next = "post"},\n    {.name = "post", .fn = end, .next = "join"},')
open(sys.argv[2], "w").write(src)
PY
run_ok "changed flow is valid" mflow check "$WORK/changed.c"
run_fails "changed graph refused" 1 "step 'body' changed since that run (next was" \
  mflow resume "$WORK/changed.c" end --origin-run-id "$r6"
run_fails "unknown resume step" 1 "has no step 'nope'" mflow resume "$F" nope
run_fails "unknown origin" 1 "no such run" mflow resume "$F" --origin-run-id 999

# catch_var: the error is stored and the flow goes on.
run_flow "$FLOWS/caught.c" || fail "caught flow should succeed: $OUT"
check_contains "caught message" "risky step gave up" "$(mflow get CaughtFlow/$RUN/end seen)"
check_eq "flow went on" 10 "$(mflow get CaughtFlow/$RUN/end x2)"
check_eq "failed attempts kept" 3 "$(ls "$DS"/runs/CaughtFlow/$RUN/risky/2.*.json | wc -l)"
run_flow "$FLOWS/caught.c" --how=segv || fail "caught segv should succeed: $OUT"
check_contains "caught signal named" "signal 11" "$(mflow get CaughtFlow/$RUN/end seen)"

# A damaged task record (torn by a store that is not atomic, say) does not stop a resume: that
# task runs again, the others are cloned.
: > "$COUNT_FILE"
FAIL_JOIN=1 run_flow "$F" && fail "join failure expected"
r8=$RUN
rec=$(grep -l '"kind":"foreach","index":2,' "$DS"/runs/ResumableFlow/$r8/body/*.0.json | head -1)
check_eq "found the record of split 2" 1 "$([ -n "$rec" ] && echo 1 || echo 0)"
head -c 40 "$rec" > "$rec.cut" && mv "$rec.cut" "$rec"
: > "$COUNT_FILE"
OUT=$(mflow resume "$F" join --origin-run-id "$r8" --run-id-file "$WORK/runid" 2>&1) || fail "resume over a damaged record: $OUT"
check_contains "the damaged record is named" "$(basename "$rec") is not a valid task record" "$OUT"
check_eq "only the damaged split ran again" "body 2" "$(grep '^body' "$COUNT_FILE")"
check_eq "result with the split run again" 55 "$(mflow get ResumableFlow/$(cat "$WORK/runid")/end sum)"
finish
