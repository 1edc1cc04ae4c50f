#!/bin/bash
# runs, inspect, get, logs and tag on real runs: --json parsed, plain output checked, tag
# filters, namespaces, system tags, a run whose orchestrator was killed.
. "$(dirname "$0")/lib.sh"
export USER=${USER:-$(id -un)}
ME="user:$USER"

# jq-like: py 'EXPR' reads JSON on stdin as `j` and prints EXPR
py() { python3 -c "import json,sys; j=json.load(sys.stdin); print($1)"; }

run_flow "$SRC/examples/foreach.c" --n=4 --tag exp --tag big || fail "foreach: $OUT"
F1=$RUN
run_flow "$SRC/examples/foreach.c" --n=2 --tag exp || fail "foreach 2: $OUT"
F2=$RUN
run_flow "$FLOWS/failing.c" --mode=flaky || fail "flaky: $OUT"
FLAKY=$RUN
run_flow "$FLOWS/failing.c" --mode=fail
FAILED=$RUN
run_flow "$FLOWS/linear.c" --label='a "quoted" label' || fail "linear: $OUT"
LIN=$RUN

# ---- runs ----
J=$(mflow runs ForeachFlow --json)
check_eq "runs: two foreach runs, newest first" "[$F2, $F1]" "$(echo "$J" | py '[r["run_id"] for r in j]')"
check_eq "runs: status" "succeeded" "$(echo "$J" | py 'j[1]["status"]')"
check_eq "runs: user" "$USER" "$(echo "$J" | py 'j[1]["user"]')"
check_eq "runs: namespace" "$ME" "$(echo "$J" | py 'j[1]["namespace"]')"
check_eq "runs: tags" "['user:$USER', 'exp', 'big']" "$(echo "$J" | py '[t for t in j[1]["tags"] if not t.startswith("mflow_version:")]')"
check_eq "runs: task count" 7 "$(echo "$J" | py 'j[1]["tasks"]')"
check_eq "runs: duration is end - start" 1 "$(echo "$J" | py 'int(abs(j[1]["end_time"] - j[1]["start_time"] - j[1]["duration"]) < 1e-6)')"
check_eq "runs --tag exp" "[$F2, $F1]" "$(mflow runs ForeachFlow --tag exp --json | py '[r["run_id"] for r in j]')"
check_eq "runs --tag exp --tag big (ANDed)" "[$F1]" "$(mflow runs ForeachFlow --tag exp --tag big --json | py '[r["run_id"] for r in j]')"
check_eq "runs --tag nope" "[]" "$(mflow runs ForeachFlow --tag nope --json | py '[r["run_id"] for r in j]')"
P=$(mflow runs FailingFlow)
check_contains "runs plain: header" "RUN  STATUS" "$P"
check_eq "runs plain: newest first, failed" "$FAILED failed" "$(echo "$P" | sed -n 2p | awk '{print $1, $2}')"
check_eq "runs plain: then the flaky one" "$FLAKY succeeded" "$(echo "$P" | sed -n 3p | awk '{print $1, $2}')"
check_contains "runs plain: user tags shown" "exp big" "$(mflow runs ForeachFlow)"
P=$(mflow runs)
check_contains "runs without a flow lists flows" "LinearFlow" "$P"
check_contains "runs without a flow: latest" "FailingFlow                     $FAILED" "$P"
run_fails "runs of a pathspec" 2 "mflow inspect" mflow runs ForeachFlow/1

# ---- inspect a run ----
J=$(mflow inspect ForeachFlow/$F1 --json)
check_eq "inspect run: status" succeeded "$(echo "$J" | py 'j["status"]')"
check_eq "inspect run: parameter value" 4 "$(echo "$J" | py 'j["parameters"]["n"]["value"]')"
check_eq "inspect run: parameter type" i64 "$(echo "$J" | py 'j["parameters"]["n"]["type"]')"
check_eq "inspect run: steps in graph order" "['start', 'square', 'join', 'end']" "$(echo "$J" | py '[s["name"] for s in j["steps"]]')"
check_eq "inspect run: task counts" "[1, 4, 1, 1]" "$(echo "$J" | py '[s["tasks"] for s in j["steps"]]')"
P=$(mflow inspect ForeachFlow/$F1)
check_contains "inspect run plain: title" "Run ForeachFlow/$F1  succeeded" "$P"
check_contains "inspect run plain: parameter" "n = 4  (i64)" "$P"
check_contains "inspect run plain: square step" "square       4  succeeded" "$P"
J=$(mflow inspect FailingFlow/$FAILED --json)
check_eq "inspect failed run: step statuses" "['succeeded', 'failed', 'pending']" "$(echo "$J" | py '[s["status"] for s in j["steps"]]')"
check_eq "inspect failed run: str parameter" fail "$(echo "$J" | py 'j["parameters"]["mode"]["value"]')"
check_contains "inspect failed run plain: end never ran" "not run" "$(mflow inspect FailingFlow/$FAILED)"

# ---- inspect a step ----
J=$(mflow inspect ForeachFlow/$F1/square --json)
check_eq "inspect step: tasks" "[2, 3, 4, 5]" "$(echo "$J" | py '[t["task_id"] for t in j["tasks"]]')"
check_eq "inspect step: foreach positions" "[0, 1, 2, 3]" "$(echo "$J" | py '[t["foreach"]["index"] for t in j["tasks"]]')"
P=$(mflow inspect ForeachFlow/$F1/square)
check_contains "inspect step plain" "Step ForeachFlow/$F1/square  4 tasks" "$P"
check_contains "inspect step plain: foreach" "2 of 4" "$P"
run_fails "inspect unknown step names the steps" 1 "its steps: start, square, join, end" mflow inspect ForeachFlow/$F1/nope

# ---- inspect a task ----
J=$(mflow inspect ForeachFlow/$F1/square/4 --json)
check_eq "inspect task: foreach" "2 4" "$(echo "$J" | py 'j["foreach"]["index"], j["foreach"]["count"]' | tr -d '(),')"
check_eq "inspect task: inputs" "['ForeachFlow/$F1/start/1']" "$(echo "$J" | py 'j["inputs"]')"
check_eq "inspect task: artifact value" 9 "$(echo "$J" | py '[a["value"] for a in j["artifacts"] if a["name"] == "sq"][0]')"
check_eq "inspect task: artifact size" 8 "$(echo "$J" | py '[a["size"] for a in j["artifacts"] if a["name"] == "sq"][0]')"
check_eq "inspect task: list inline" "[1, 2, 3, 4]" "$(echo "$J" | py '[a["value"] for a in j["artifacts"] if a["name"] == "items"][0]')"
check_eq "inspect task: no origin" None "$(echo "$J" | py 'j["origin"]')"
J=$(mflow inspect FailingFlow/$FLAKY/work/2 --json)
check_eq "inspect task: every attempt" "['failed', 'succeeded']" "$(echo "$J" | py '[a["status"] for a in j["attempts"]]')"
check_eq "inspect task: first attempt's message" "first attempt fails" "$(echo "$J" | py 'j["attempts"][0]["message"]')"
P=$(mflow inspect FailingFlow/$FLAKY/work/2)
check_contains "inspect task plain: attempts" "attempts   2" "$P"
check_contains "inspect task plain: failed attempt" "first attempt fails" "$P"
check_contains "inspect task plain: str inline" '"flaky"' "$P"
P=$(mflow inspect LinearFlow/$LIN/end/4)
check_contains "inspect task plain: f64 list inline" "[1.5,2.5]" "$P"
check_contains "inspect task plain: bytes size" "raw    bytes           3" "$P"
run_fails "inspect a flow name" 2 "mflow runs ForeachFlow" mflow inspect ForeachFlow
run_fails "inspect a missing task" 1 "no task ForeachFlow/$F1/square/99" mflow inspect ForeachFlow/$F1/square/99
run_fails "inspect a missing run" 1 "no run ForeachFlow/99" mflow inspect ForeachFlow/99

# ---- a resumed run: cloned tasks name their origin ----
OUT=$(mflow resume "$SRC/examples/foreach.c" join --origin-run-id $F1 --run-id-file "$WORK/res" 2>&1) || fail "resume: $OUT"
RES=$(cat "$WORK/res")
J=$(mflow inspect ForeachFlow/$RES/square/3 --json)
check_eq "resumed task: origin" "ForeachFlow/$F1/square/3" "$(echo "$J" | py 'j["origin"]')"
check_contains "resumed task plain: cloned from" "cloned     from ForeachFlow/$F1/square/3" "$(mflow inspect ForeachFlow/$RES/square/3)"
check_contains "resumed step plain: cloned from" "cloned from ForeachFlow/$F1/square/5" "$(mflow inspect ForeachFlow/$RES/square)"
check_eq "resumed run: origin run" "$F1" "$(mflow inspect ForeachFlow/$RES --json | py 'j["origin_run_id"]')"
check_eq "resumed join ran again" None "$(mflow inspect ForeachFlow/$RES/join --json | py 'j["tasks"][0]["origin"]')"

# ---- get ----
check_eq "get str" 'a "quoted" label' "$(mflow get LinearFlow/$LIN/end label)"
check_eq "get str --json" '"a \"quoted\" label"' "$(mflow get LinearFlow/$LIN/end label --json)"
check_eq "get str --raw has no newline" 'a "quoted" label|' "$(mflow get LinearFlow/$LIN/end label --raw; echo '|')"
check_eq "get bytes plain" "<3 bytes; use --raw to write them as they are>" "$(mflow get LinearFlow/$LIN/end raw)"
check_eq "get bytes --json" '{"type": "bytes", "hex": "000102"}' "$(mflow get LinearFlow/$LIN/end raw --json)"
check_eq "get list" "$(printf '1\n2\n3\n4')" "$(mflow get ForeachFlow/$F1/start items)"
run_fails "get a missing artifact" 1 "has no artifact 'nope' (it has: n, items)" mflow get ForeachFlow/$F1/start nope
run_fails "get a bad pathspec" 2 "is not a pathspec" mflow get ForeachFlow/$F1 n

# ---- logs ----
P=$(mflow logs FailingFlow/$FLAKY/work --stderr)
check_contains "logs: attempt 0 header" "=== FailingFlow/$FLAKY/work/2 attempt 0 (stderr) ===" "$P"
check_contains "logs: attempt 0" "work attempt 0" "$P"
check_contains "logs: attempt 1" "work attempt 1" "$P"
check_eq "logs --attempt 1 as it is" "work attempt 1" "$(mflow logs FailingFlow/$FLAKY/work/2 --stderr --attempt 1)"
check_eq "logs stdout of end" "sum of squares: 30" "$(mflow logs ForeachFlow/$F1/end --attempt 0)"
check_eq "logs --json" "['work attempt 0', 'work attempt 1']" "$(mflow logs FailingFlow/$FLAKY/work --stderr --json | py '[a["log"].splitlines()[0] for a in j["attempts"]]')"
check_contains "logs: empty attempt says so" "(stdout: empty)" "$(mflow logs FailingFlow/$FLAKY/work)"
run_fails "logs of a step with many tasks" 1 "has 4 tasks" mflow logs ForeachFlow/$F1/square
run_fails "logs of a missing attempt" 1 "no attempt 5" mflow logs FailingFlow/$FLAKY/work --attempt 5

# ---- tags ----
run_ok "tag add" mflow tag add ForeachFlow/$F2 best "second one"
check_eq "tag list" "$(printf 'user:%s\nmflow_version:%s\nexp\nbest\nsecond one' "$USER" "$(mflow --version | awk '{print $2}')")" "$(mflow tag list ForeachFlow/$F2)"
check_eq "tags in the run record" 1 "$(python3 -c "import json; print(int('best' in json.load(open('$MFLOW_HOME/datastore/runs/ForeachFlow/$F2/run.json'))['tags']))")"
check_eq "runs --tag best" "[$F2]" "$(mflow runs ForeachFlow --tag best --json | py '[r["run_id"] for r in j]')"
run_ok "tag remove" mflow tag remove ForeachFlow/$F2 "second one"
check_eq "tag removed" "['exp', 'best']" "$(mflow tag list ForeachFlow/$F2 --json | py '[t for t in j if ":" not in t]')"
check_eq "tag removed from the run record" 0 "$(python3 -c "import json; print(int('second one' in json.load(open('$MFLOW_HOME/datastore/runs/ForeachFlow/$F2/run.json'))['tags']))")"
run_fails "system tag user: cannot be removed" 1 "is a system tag" mflow tag remove ForeachFlow/$F2 "user:$USER"
run_fails "system tag mflow_version: cannot be removed" 1 "cannot be removed" mflow tag remove ForeachFlow/$F2 "$(mflow tag list ForeachFlow/$F2 | grep mflow_version)"
check_contains "system tag still there" "user:$USER" "$(mflow tag list ForeachFlow/$F2)"
run_fails "tag with no verb" 2 "add, remove or list" mflow tag ForeachFlow/$F2
run_fails "tag add with no tag" 2 "usage" mflow tag add ForeachFlow/$F2

# ---- namespaces ----
OTHER=$(USER=other mflow run "$SRC/examples/hello.c" --run-id-file "$WORK/other" 2>&1) || fail "run as other: $OTHER"
ORUN=$(cat "$WORK/other")
check_eq "another user's run is hidden" "[]" "$(mflow runs HelloFlow --json | py '[r["run_id"] for r in j]')"
check_contains "hidden: says how to see all" "--namespace=" "$(mflow runs HelloFlow 2>&1)"
check_eq "--namespace=user:other sees it" "[$ORUN]" "$(mflow --namespace=user:other runs HelloFlow --json | py '[r["run_id"] for r in j]')"
check_eq "MFLOW_NAMESPACE sees it" "[$ORUN]" "$(MFLOW_NAMESPACE=user:other mflow runs HelloFlow --json | py '[r["run_id"] for r in j]')"
check_eq "--namespace= sees all" "$(python3 -c "print(' '.join(sorted(['$ME', 'user:other'])))")" "$(mflow --namespace= runs --json | py '" ".join(sorted(set(r["latest"]["namespace"] for r in j)))')"
check_eq "runs lists no foreign flows" 0 "$(mflow runs | grep -c HelloFlow)"
run_fails "inspect a run of another namespace" 1 "is in namespace 'user:other'" mflow inspect HelloFlow/$ORUN
check_contains "  ... and says how to see all" "--namespace=" "$OUT"
run_fails "get from another namespace" 1 "namespace 'user:other'" mflow get HelloFlow/$ORUN/end greeting
run_fails "tag a run of another namespace" 1 "namespace 'user:other'" mflow tag add HelloFlow/$ORUN x
run_fails "their namespace hides mine" 1 "is in namespace '$ME'" env MFLOW_NAMESPACE=user:other "$MFLOW" inspect ForeachFlow/$F1
check_eq "--namespace= inspects any" succeeded "$(mflow --namespace= inspect HelloFlow/$ORUN --json | py 'j["status"]')"

# ---- a run whose orchestrator was killed ----
cat > "$WORK/sleepy.c" <<'EOF'
#include <mflow/flow.h>
#include <unistd.h>
static void start(mf_task *t) { (void)t; sleep(2); }
static void end(mf_task *t) { (void)t; }
static const mf_step_def steps[] = {{.name = "start", .fn = start, .next = "end"}, {.name = "end", .fn = end}};
MF_FLOW("SleepyFlow", steps, NULL);
EOF
"$MFLOW" run "$WORK/sleepy.c" --run-id-file "$WORK/sleepy" >/dev/null 2>&1 &
OPID=$!
for _ in $(seq 100); do [ -s "$WORK/sleepy" ] && break; sleep 0.1; done
sleep 0.3
kill -9 $OPID
wait $OPID 2>/dev/null
SRUN=$(cat "$WORK/sleepy")
check_contains "killed orchestrator shown dead" "running (dead: pid $OPID gone)" "$(mflow runs SleepyFlow)"
check_eq "killed orchestrator: --json" "running True" "$(mflow runs SleepyFlow --json | py 'j[0]["status"], j[0]["dead"]' | tr -d "(),'")"
check_contains "inspect shows it dead" "running (dead: pid $OPID gone)" "$(mflow inspect SleepyFlow/$SRUN)"
sleep 2   # let the orphaned task finish before the work dir goes
finish
