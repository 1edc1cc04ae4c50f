#!/bin/bash
# The task server prepares once what each of its tasks would set up (the host's settings, the
# flow opened with its graph built) and a forked task takes it only when it is exactly what
# its own command line and environment would set up: a task of another datastore, home,
# config.json, global option or flow, sent to the same server, gets its own and writes its
# record where an exec'ed `mflow task` would. Tasks are sent straight to `mflow __task-server`
# (ts_client.py); what a prepared task no longer does is counted with strace.
. "$(dirname "$0")/lib.sh"
F=$FLOWS/../../../bench/flows/trivial_foreach.c
G=$FLOWS/../../../bench/flows/linear5.c
CLIENT=$(dirname "$0")/ts_client.py

# A home with one run of each flow (run id 1 and 2 in every home, so a stale host would
# find the same run in the wrong store and write there).
mkhome() {   # DIR
  MFLOW_HOME=$1 "$MFLOW" run "$F" --n=2 >/dev/null 2>&1 || fail "run in $1"
  MFLOW_HOME=$1 "$MFLOW" run "$G" >/dev/null 2>&1 || fail "run of linear5 in $1"
}
for h in A B C D; do mkhome "$WORK/$h"; done
# The compiled flows (the cache names them by content: found by the flow's name inside).
SOF=$(grep -l TrivialForeach "$WORK"/A/cache/flows/*.so | head -1)
SOG=$(grep -l Linear5 "$WORK"/A/cache/flows/*.so | head -1)
check_eq "two compiled flows found" 1 "$([ -n "$SOF" ] && [ -n "$SOG" ] && [ "$SOF" != "$SOG" ] && echo 1 || echo 0)"
RF=$(ls "$WORK/A/datastore/runs/TrivialForeach")
RG=$(ls "$WORK/A/datastore/runs/Linear5")
check_eq "the same run ids in every home" "$RF $RG|$RF $RG|$RF $RG" \
  "$(for h in B C D; do echo "$(ls "$WORK/$h/datastore/runs/TrivialForeach") $(ls "$WORK/$h/datastore/runs/Linear5")"; done | paste -sd'|')"
NAMEF=TrivialForeach
NAMEG=Linear5

# req HOME GLOBALS_JSON SO RUN TASK_ID LOG EXTRA_ENV_JSON: one request line for ts_client.py.
req() {
  python3 -c 'import json,sys
env={"PATH":"/usr/bin:/bin","HOME":sys.argv[1],"MFLOW_HOME":sys.argv[1]}
env.update(json.loads(sys.argv[7]))
print(json.dumps({"argv":json.loads(sys.argv[2])+["task",sys.argv[3],"start","--run-id",sys.argv[4],"--task-id",sys.argv[5]],"env":env,"log":sys.argv[6]}))' "$@"
}
rec() { echo "$WORK/$1/datastore/runs/$2/$3/start/$4.0.json"; }   # HOME_DIR FLOW RUN TASK

{
  req "$WORK/A" '[]' "$SOF" "$RF" 101 "$WORK/l1" '{}'
  req "$WORK/B" '[]' "$SOF" "$RF" 102 "$WORK/l2" '{}'
  req "$WORK/A" '[]' "$SOF" "$RF" 103 "$WORK/l3" "{\"MFLOW_DATASTORE_ROOT\":\"$WORK/C/datastore\"}"
  req "$WORK/A" "[\"--datastore-root=$WORK/D/datastore\"]" "$SOF" "$RF" 104 "$WORK/l4" '{}'
  req "$WORK/A" '[]' "$SOG" "$RG" 105 "$WORK/l5" '{}'
  req "$WORK/A" '[]' "$SOF" "$RF" 106 "$WORK/l6" '{}'
} >"$WORK/reqs1"
codes=$(env -i PATH=/usr/bin:/bin HOME="$WORK/A" MFLOW_HOME="$WORK/A" python3 "$CLIENT" "$MFLOW" '[]' <"$WORK/reqs1" | paste -sd' ')
check_eq "every task ran (exit statuses)" "0 0 0 0 0 0" "$codes"
check_eq "prepared: the record in the server's own store" 1 "$([ -f "$(rec A $NAMEF "$RF" 101)" ] && echo 1 || echo 0)"
check_eq "other MFLOW_HOME: its own store, not the prepared one" "1 0" \
  "$([ -f "$(rec B $NAMEF "$RF" 102)" ] && echo 1 || echo 0) $([ -f "$(rec A $NAMEF "$RF" 102)" ] && echo 1 || echo 0)"
check_eq "other MFLOW_DATASTORE_ROOT: its own store" "1 0" \
  "$([ -f "$(rec C $NAMEF "$RF" 103)" ] && echo 1 || echo 0) $([ -f "$(rec A $NAMEF "$RF" 103)" ] && echo 1 || echo 0)"
check_eq "other --datastore-root: its own store" "1 0" \
  "$([ -f "$(rec D $NAMEF "$RF" 104)" ] && echo 1 || echo 0) $([ -f "$(rec A $NAMEF "$RF" 104)" ] && echo 1 || echo 0)"
check_eq "other flow: its own flow's step ran" "Linear5" \
  "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["flow"])' "$(rec A $NAMEG "$RG" 105)" 2>&1)"
check_eq "same again: prepared, in the server's store" 1 "$([ -f "$(rec A $NAMEF "$RF" 106)" ] && echo 1 || echo 0)"

# config.json written after the server prepared: the next task reads it, as an exec'ed one.
{
  req "$WORK/A" '[]' "$SOF" "$RF" 201 "$WORK/m1" '{}'
  echo "WRITE_CONFIG"
  req "$WORK/A" '[]' "$SOF" "$RF" 202 "$WORK/m2" '{}'
} >"$WORK/reqs2"
# The client reads its requests as they come: the config is written between the two.
mkfifo "$WORK/fifo"
env -i PATH=/usr/bin:/bin HOME="$WORK/A" MFLOW_HOME="$WORK/A" python3 "$CLIENT" "$MFLOW" '[]' <"$WORK/fifo" >"$WORK/codes2" &
exec 7>"$WORK/fifo"
sed -n 1p "$WORK/reqs2" >&7
for _ in $(seq 1 100); do [ -s "$WORK/codes2" ] && break; sleep 0.05; done
echo "{\"datastore_root\": \"$WORK/B/datastore\"}" >"$WORK/A/config.json"
sed -n 3p "$WORK/reqs2" >&7
exec 7>&-
wait
check_eq "config tasks ran" "0 0" "$(paste -sd' ' "$WORK/codes2")"
check_eq "before config.json: the home's store" 1 "$([ -f "$(rec A $NAMEF "$RF" 201)" ] && echo 1 || echo 0)"
check_eq "after config.json: the store it names" "1 0" \
  "$([ -f "$(rec B $NAMEF "$RF" 202)" ] && echo 1 || echo 0) $([ -f "$(rec A $NAMEF "$RF" 202)" ] && echo 1 || echo 0)"
rm -f "$WORK/A/config.json"

# A flow whose entry crashes (here only where CRASH_ENTRY=1, so that a run of it exists): the
# server reads a flow's tables in a forked probe first, so it stays up; the task loads the
# flow itself and fails as an exec'ed task would (the load guard names the crash, exit 134);
# the next task, without the crash, runs on the same server.
mkdir -p "$WORK/cf"
cat >"$WORK/cf/crashy.c" <<'EOC'
#include <mflow/flow.h>
#include <stdlib.h>
#include <string.h>
static void start(mf_task *t) { mf_set_i64(t, "x", 1); }
static void end(mf_task *t) { (void)t; }
static const mf_step_def steps[] = {{.name = "start", .fn = start, .next = "end"}, {.name = "end", .fn = end}};
static const mf_flow_def def = {sizeof(mf_flow_def), MF_FLOW_ABI_VERSION, "CrashyEntry", steps, 2, NULL, 0,
                                MF_FLOW_ABI_MINOR, sizeof(mf_step_def), sizeof(mf_param_def)};
__attribute__((visibility("default"))) const mf_flow_def *mf_flow_entry_v1(void);
const mf_flow_def *mf_flow_entry_v1(void)
{
    const char *c = getenv("CRASH_ENTRY");
    if (c && !strcmp(c, "1"))
        abort();
    return &def;
}
EOC
MFLOW_HOME=$WORK/A "$MFLOW" run "$WORK/cf/crashy.c" >/dev/null 2>&1 || fail "a run of the crashy flow"
SOC=$(grep -l CrashyEntry "$WORK"/A/cache/flows/*.so | head -1)
RC=$(ls "$WORK/A/datastore/runs/CrashyEntry" 2>/dev/null)
{
  req "$WORK/A" '[]' "$SOC" "$RC" 401 "$WORK/c1" '{"CRASH_ENTRY":"1"}'
  req "$WORK/A" '[]' "$SOC" "$RC" 402 "$WORK/c2" '{}'
} >"$WORK/reqs4"
codes=$(env -i PATH=/usr/bin:/bin HOME="$WORK/A" MFLOW_HOME="$WORK/A" python3 "$CLIENT" "$MFLOW" '[]' <"$WORK/reqs4" 2>"$WORK/client4.err" | paste -sd' ')
check_eq "crashing entry: the task fails as exec'ed (134), the server serves the next" "134 0" "$codes"
check_contains "crashing entry: the load guard names the flow and the signal" "crashed while loading (SIGABRT)" "$(cat "$WORK/c1")"
check_eq "crashing entry: the next task's record" 1 "$([ -f "$(rec A CrashyEntry "$RC" 402)" ] && echo 1 || echo 0)"

# What a prepared task no longer does (strace): set up the load guard's stack (the flow is
# open), look for config.json with access() (the host is set up). A task of another home
# sets up its own host (the flow is the same file: still the prepared one); a task of
# another flow opens its own. The host's key is what its set-up read: another USER (read)
# sets up again; another HOME, with MFLOW_HOME set (HOME not read), does not.
if command -v strace >/dev/null 2>&1 && strace -f -o /dev/null true 2>/dev/null && [ -z "${MFLOW_TEST_SANITIZE:-}" ]; then
  {
    req "$WORK/A" '[]' "$SOF" "$RF" 301 "$WORK/n1" '{}'
    req "$WORK/A" '[]' "$SOF" "$RF" 302 "$WORK/n2" '{}'
    req "$WORK/B" '[]' "$SOF" "$RF" 303 "$WORK/n3" '{}'
    req "$WORK/A" '[]' "$SOG" "$RG" 304 "$WORK/n4" '{}'
    req "$WORK/A" '[]' "$SOF" "$RF" 305 "$WORK/n5" '{"USER":"someone-else"}'
    req "$WORK/A" '[]' "$SOF" "$RF" 306 "$WORK/n6" "{\"HOME\":\"$WORK/B\"}"
  } >"$WORK/reqs3"
  mkdir -p "$WORK/tr"
  env -i PATH=/usr/bin:/bin HOME="$WORK/A" MFLOW_HOME="$WORK/A" strace -ff -o "$WORK/tr/t" python3 "$CLIENT" "$MFLOW" '[]' <"$WORK/reqs3" >/dev/null
  tasks=$(grep -l 'PR_SET_NAME, "mflow-task"' "$WORK"/tr/t.* | xargs ls -tr 2>/dev/null)
  for f in $tasks; do
    grep -q 'sigaltstack({ss_sp=0x' "$f" && echo -n "g" || echo -n "-"
    grep -q 'access(".*config.json"' "$f" && echo " c" || echo " -"
  done >"$WORK/seen"
  check_eq "prepared tasks skip the load guard and the host's set-up, only what differs is redone" \
    "- -|- -|- c|g -|- c|- -" "$(paste -sd'|' "$WORK/seen")"
  check_eq "other USER, other HOME (MFLOW_HOME set): their records in the home's store" "1 1" \
    "$([ -f "$(rec A $NAMEF "$RF" 305)" ] && echo 1 || echo 0) $([ -f "$(rec A $NAMEF "$RF" 306)" ] && echo 1 || echo 0)"
else
  echo "strace missing or not usable here: the system-call check is skipped"
fi
finish
