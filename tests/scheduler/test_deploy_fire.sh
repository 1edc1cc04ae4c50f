#!/bin/bash
# Firings of a deployment (mflow deployments fire, and trigger through the cron plugin on a
# stand-in crontab): the stored package runs, not the working copy; runs land in the
# namespace production:D with the tag deployment_version:N; a failed firing shows in
# `mflow runs` and `deployments show`; a firing that would overlap one still running is
# skipped and recorded; the output goes to the deployment's log.
. "$(dirname "$0")/lib.sh"
F=$SFLOWS/nightly.c
LOGF=$MFLOW_HOME/deployments/nd/log
FIRINGS=$MFLOW_HOME/deployments/nd/firings.jsonl

# wait_for WHAT SECONDS CMD...: until CMD succeeds
wait_for() {
  local what=$1 secs=$2; shift 2
  local i
  for ((i = 0; i < secs * 10; i++)); do "$@" && return 0; sleep 0.1; done
  fail "$what: not after $secs s"
  return 1
}
count_status() { grep -c "\"status\":\"$1\"" "$FIRINGS" 2>/dev/null || true; }
# has_status STATUS N: exactly N firings with that status (evaluated at each try)
has_status() { [ "$(count_status "$1")" = "$2" ]; }

run_ok "deploy" mflow deploy "$F" --scheduler=cron --name nd --schedule '0 0 1 1 *' --n=4 --label=prod
# the working copy changes after the deploy: firings must run what was deployed
sed -i 's/#define VERSION_MARK 1/#define VERSION_MARK 2/' "$F"

run_ok "fire" mflow deployments fire nd
check_eq "fire prints nothing (its output goes to the log)" "" "$OUT"
check_contains "the log has the run" "run NightlyFlow/1 succeeded" "$(cat "$LOGF")"
check_contains "the log has the firing's end" "succeeded (exit 0)" "$(cat "$LOGF")"
run_ok "the run is in production:nd" mflow runs NightlyFlow --namespace production:nd --json
check_eq "one run there" 1 "$(echo "$OUT" | json_get 'len(d)')"
check_eq "it succeeded" succeeded "$(echo "$OUT" | json_get 'd[0]["status"]')"
check_eq "in namespace production:nd" "production:nd" "$(echo "$OUT" | json_get 'd[0]["namespace"]')"
check_contains "tagged with the version" "deployment_version:1" "$(echo "$OUT" | json_get 'd[0]["tags"]')"
check_eq "the packaged code ran (4*10+1+1), not the working copy (43)" 42 \
  "$(mflow --namespace=production:nd get NightlyFlow/1/train y)"
check_eq "its parameters" prod "$(mflow --namespace=production:nd get NightlyFlow/1/end label)"
check_eq "the global option works as well" 1 "$(mflow --namespace=production:nd runs NightlyFlow --json | json_get 'len(d)')"
check_eq "nothing in the user's namespace" "" "$(mflow runs NightlyFlow --json 2>/dev/null | json_get 'len(d) or ""')"

# trigger: the cron plugin runs the entry's command in the background
run_ok "trigger" mflow deployments trigger nd
check_contains "trigger names the log" "$LOGF" "$OUT"
wait_for "the triggered firing succeeds" 60 has_status succeeded 2
check_eq "run 2 made by trigger" 2 "$(mflow runs NightlyFlow --namespace production:nd --json | json_get 'len(d)')"

# a failing version: visible in runs and in deployments show
run_ok "deploy a failing version" mflow deploy "$F" --scheduler=cron --name nd --schedule '0 0 1 1 *' --fail=true
run_fails "its firing fails" 1 "" mflow deployments fire nd
R=$(mflow runs NightlyFlow --namespace production:nd --json)
check_eq "the failed run is listed first" failed "$(echo "$R" | json_get 'd[0]["status"]')"
check_contains "tagged with version 2" "deployment_version:2" "$(echo "$R" | json_get 'd[0]["tags"]')"
S=$(mflow deployments show nd --json)
check_eq "show: the last run failed" failed "$(echo "$S" | json_get 'd["runs"][0]["status"]')"
check_eq "show: of version 2" 2 "$(echo "$S" | json_get 'd["runs"][0]["deployment_version"]')"
check_eq "show: the firing failed" "failed 3" "$(echo "$S" | json_get 'd["firings"][-1]["status"] + " " + str(d["firings"][-1]["run_id"])')"
run_ok "show, for people" mflow deployments show nd
check_contains "show lists the failed run" "3      failed" "$OUT"
check_contains "the log says it failed" "failed (exit 1)" "$(cat "$LOGF")"
run_ok "an older version fires on demand" mflow deployments fire nd --version 1
check_eq "version 1 again" "succeeded deployment_version:1" \
  "$(mflow runs NightlyFlow --namespace production:nd --json | json_get 'd[0]["status"] + " " + d[0]["tags"][-1]')"

# overlap: a slow firing holds the lock; a second one is skipped and recorded
run_ok "deploy a slow version" mflow deploy "$F" --scheduler=cron --name nd --schedule '0 0 1 1 *' --sleep_s=6
run_ok "trigger the slow one" mflow deployments trigger nd
started() { grep -q '"version":3,.*"status":"started"' "$FIRINGS"; }
wait_for "the slow firing starts" 30 started
run_ok "a second firing meanwhile" mflow deployments fire nd
check_eq "it was skipped" 1 "$(count_status skipped)"
check_contains "the skip names the running firing" "still running" "$(grep skipped "$FIRINGS")"
check_contains "the log says so" "== skipped: the firing of pid" "$(cat "$LOGF")"
run_ok "a trigger meanwhile" mflow deployments trigger nd
wait_for "the trigger is skipped too" 20 has_status skipped 2
wait_for "the slow firing ends" 60 grep -q '"version":3,.*"status":"succeeded"' "$FIRINGS"
check_eq "only one run of the slow version" 1 \
  "$(mflow runs NightlyFlow --namespace production:nd --tag deployment_version:3 --json | json_get 'len(d)')"
S=$(mflow deployments show nd --json)
check_eq "show lists the skipped firings" 2 "$(echo "$S" | json_get 'len([f for f in d["firings"] if f["status"] == "skipped"])')"
# a line a full disk cut short: the next firing's lines are still each read (started, succeeded)
parsed() { python3 -c 'import json, sys
n = 0
for l in open(sys.argv[1]):
    try: json.loads(l); n += 1
    except ValueError: pass
print(n)' "$FIRINGS"; }
before=$(parsed)
printf '{"time":1733500000.5,"vers' >>"$FIRINGS"
run_ok "after it ended, a firing runs again" mflow deployments fire nd
check_eq "a torn line costs only itself: both lines of the next firing read" $((before + 2)) "$(parsed)"
check_eq "two runs of the slow version now" 2 \
  "$(mflow runs NightlyFlow --namespace production:nd --tag deployment_version:3 --json | json_get 'len(d)')"

run_fails "fire of no deployment" 1 "" mflow deployments fire nosuch
check_contains "it says why in its log" "nosuch is not deployed" "$(cat "$MFLOW_HOME/deployments/nosuch/log")"
run_ok "delete" mflow deployments delete nd
run_fails "a deleted deployment does not fire, even by version" 1 "" mflow deployments fire nd --version 1
check_contains "its log says why" "nd is not deployed (deleted?)" "$(tail -3 "$LOGF")"
check_eq "the crontab is empty again, so removed" no "$([ -e "$FAKE_CRONTAB_FILE" ] && echo yes || echo no)"
finish
