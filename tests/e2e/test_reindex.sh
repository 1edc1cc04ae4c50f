#!/bin/bash
# mflow reindex: the index rebuilt from the datastore says what it said before; runs made
# through another MFLOW_HOME on a shared datastore appear; damaged records are named and
# skipped.
. "$(dirname "$0")/lib.sh"
export USER=${USER:-$(id -un)}

run_flow "$SRC/examples/foreach.c" --n=6 --tag a || fail "foreach: $OUT"
FE=$RUN
run_flow "$SRC/examples/branch.c" || fail "branch: $OUT"
BR=$RUN
run_flow "$FLOWS/failing.c" --mode=fail
FA=$RUN
run_flow "$FLOWS/failing.c" --mode=flaky || fail "flaky: $OUT"
FL=$RUN
run_ok "tag a run" mflow tag add ForeachFlow/$FE "kept by reindex"
run_ok "resume the foreach" mflow resume "$SRC/examples/foreach.c" join --origin-run-id $FE --run-id-file "$WORK/res"
RES=$(cat "$WORK/res")

snapshot() {
  {
    mflow runs --json
    for f in ForeachFlow BranchFlow FailingFlow; do mflow runs $f --json; done
    mflow inspect ForeachFlow/$FE --json
    mflow inspect ForeachFlow/$FE/square --json
    mflow inspect ForeachFlow/$FE/square/4 --json
    mflow inspect ForeachFlow/$FE/join --json
    mflow inspect BranchFlow/$BR --json
    mflow inspect FailingFlow/$FA --json
    mflow inspect FailingFlow/$FA/work/2 --json
    mflow inspect FailingFlow/$FL/work/2 --json
    mflow inspect ForeachFlow/$RES --json
    mflow inspect ForeachFlow/$RES/square --json
    mflow inspect ForeachFlow/$RES/square/3 --json
  } 2>&1
}
before=$(snapshot)
check_contains "snapshot has the runs" "\"pathspec\": \"FailingFlow/$FL/work/2\"" "$before"
check_contains "snapshot has the clone's origin" "\"origin\": \"ForeachFlow/$FE/square/3\"" "$before"

rm -rf "$MFLOW_HOME/index"
check_eq "no index: no runs" "[]" "$(mflow runs ForeachFlow --json | tr -d ' \n')"
run_ok "reindex" mflow reindex
# foreach 1+6+1+1, branch 5, failed 2 (end never ran), flaky 3, the resumed foreach 9
check_eq "reindex counts runs and tasks" "reindexed 5 runs and 28 tasks" "$(echo "$OUT" | grep -o 'reindexed [0-9]* runs and [0-9]* tasks')"
after=$(snapshot)
check_eq "runs and inspect --json are the same after reindex" "" "$(diff <(echo "$before") <(echo "$after"))"
check_contains "the added tag survived" "kept by reindex" "$(mflow tag list ForeachFlow/$FE)"
check_eq "get works after reindex" 91 "$(mflow get ForeachFlow/$FE/end sum)"
run_ok "reindex again (over an index)" mflow reindex
check_eq "reindex is idempotent" "" "$(diff <(echo "$before") <(snapshot))"
# new runs continue the ids
run_flow "$SRC/examples/foreach.c" --n=1 || fail "foreach after reindex: $OUT"
check_eq "run ids continue after reindex" $((RES + 1)) "$RUN"

# ---- a shared datastore: two homes, one root ----
SHARED=$WORK/shared
A=$WORK/homeA
B=$WORK/homeB
ma() { "$MFLOW" --home "$A" --datastore-root "$SHARED" "$@"; }
mb() { "$MFLOW" --home "$B" --datastore-root "$SHARED" "$@"; }
ma run "$SRC/examples/hello.c" --run-id-file "$WORK/ra" >/dev/null 2>&1 || fail "run in A"
check_eq "A's first run" 1 "$(cat "$WORK/ra")"
check_eq "B does not see it before reindex" "[]" "$(mb runs HelloFlow --json | tr -d ' \n')"
run_ok "B reindexes the shared datastore" mb reindex
check_contains "B counts it" "reindexed 1 run and 3 tasks" "$OUT"
check_eq "B sees A's run" "[1]" "$(mb runs HelloFlow --json | python3 -c 'import json,sys; print([r["run_id"] for r in json.load(sys.stdin)])')"
check_eq "B reads A's artifacts" "hello, world" "$(mb get HelloFlow/1/end greeting)"
mb run "$SRC/examples/hello.c" --run-id-file "$WORK/rb" >/dev/null 2>&1 || fail "run in B"
check_eq "B's run does not reuse A's id" 2 "$(cat "$WORK/rb")"
run_ok "A reindexes" ma reindex
check_eq "A sees both" "[2, 1]" "$(ma runs HelloFlow --json | python3 -c 'import json,sys; print([r["run_id"] for r in json.load(sys.stdin)])')"

# ---- a datastore moved: its runs recorded where they were written ----
# The run records of the moved datastore name the old root, which is gone; reindex read them
# from the new one, so get, inspect and resume find them there without options.
OLD=$WORK/moved-from
C=$WORK/homeC
"$MFLOW" --home "$OLD" run "$SRC/examples/hello.c" >/dev/null 2>&1 || fail "run before the move"
mv "$OLD/datastore" "$WORK/moved-ds" && rm -rf "$OLD"
mkdir -p "$C" && mv "$WORK/moved-ds" "$C/datastore"
check_contains "the run record names the old root" "$OLD/datastore" "$(cat "$C/datastore/runs/HelloFlow/1/run.json")"
run_ok "reindex the moved datastore" "$MFLOW" --home "$C" reindex
run_ok "get from the moved datastore without options" "$MFLOW" --home "$C" get HelloFlow/1/end greeting
check_eq "its value" "hello, world" "$OUT"
T=$("$MFLOW" --home "$C" inspect HelloFlow/1/end --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["tasks"][0]["task_id"])')
run_ok "inspect a task there" "$MFLOW" --home "$C" inspect "HelloFlow/1/end/$T"
check_contains "its artifact listed" "greeting" "$OUT"

# ---- damaged records are named and skipped ----
echo '{"format": 1, "flow": "Forea' > "$MFLOW_HOME/datastore/runs/BranchFlow/$BR/run.json"
rec=$(ls "$MFLOW_HOME/datastore/runs/ForeachFlow/$FE/square/" | grep '^3\.0\.json$')
check_eq "found a task record" "3.0.json" "$rec"
echo 'not json' > "$MFLOW_HOME/datastore/runs/ForeachFlow/$FE/square/3.0.json"
run_ok "reindex with damaged records" mflow reindex
check_contains "the damaged run record is named" "runs/BranchFlow/$BR/run.json is not a valid run record" "$OUT"
check_contains "the damaged task record is named" "runs/ForeachFlow/$FE/square/3.0.json is not a valid task record" "$OUT"
check_contains "skips are counted" "(2 damaged records skipped)" "$OUT"
check_eq "the damaged run is left out" "[]" "$(mflow runs BranchFlow --json | tr -d ' \n')"
check_eq "the damaged task is left out" "[2, 4, 5, 6, 7]" "$(mflow inspect ForeachFlow/$FE/square --json | python3 -c 'import json,sys; print([t["task_id"] for t in json.load(sys.stdin)["tasks"]])')"
check_eq "the rest is indexed" succeeded "$(mflow inspect FailingFlow/$FL --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')"
run_fails "reindex takes no arguments" 2 "no arguments but --force" mflow reindex now

# A run going on: reindex says so and refuses (what the run records meanwhile would be left
# out), unless forced; once the run ends it goes through and the run is whole.
S=$FLOWS/slow_foreach.c
mflow run "$S" --n=2 --ms=1 >/dev/null 2>&1   # compile outside the timed part
"$MFLOW" run "$S" --n=12 --ms=250 --max-workers 2 --run-id-file "$WORK/liveid" >/dev/null 2>&1 &
live=$!
for _ in $(seq 1 100); do [ -s "$WORK/liveid" ] && break; sleep 0.05; done
LV=$(cat "$WORK/liveid")
run_fails "reindex refused while a run goes on" 1 "run SlowForeach/$LV is going on (pid $live)" mflow reindex
check_contains "how to go on is said" "--force" "$OUT"
run_ok "reindex --force goes through" mflow reindex --force
wait "$live" || fail "the live run failed"
run_ok "reindex once the run ended" mflow reindex
check_eq "the run is whole in the index" 12 "$(mflow inspect SlowForeach/$LV/body --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["tasks"]))')"
finish
