#!/bin/bash
# mflow deploy and mflow deployments list|show|delete, with the cron plugin on a stand-in
# crontab: refusals before anything is installed, versions and history, the descriptor the
# plugin is handed (through the test plugin "record"), reindex recovery.
. "$(dirname "$0")/lib.sh"
F=$SFLOWS/nightly.c

# ---- refusals: one message each, non-zero exit, nothing installed or recorded ----
printf '# my crontab\nMAILTO=""\n5 4 * * * /usr/bin/true\n' > "$WORK/user.crontab"
cp "$WORK/user.crontab" "$FAKE_CRONTAB_FILE"
run_fails "a schedule out of range" 2 "field 1 (minute, 0-59) '61' has a value out of range" \
  mflow deploy "$F" --scheduler=cron --schedule '61 * * * *'
run_fails "an unknown @name" 2 "'@often' is not one of" \
  mflow deploy "$F" --scheduler=cron --schedule @often
run_fails "six fields" 2 "more than five fields" \
  mflow deploy "$F" --scheduler=cron --schedule '* * * * * *'
run_fails "an unknown parameter" 2 "nope" \
  mflow deploy "$F" --scheduler=cron --schedule @daily --nope=1
run_fails "a parameter that does not parse" 2 "'n'" \
  mflow deploy "$F" --scheduler=cron --schedule @daily --n=abc
run_fails "a flow that does not validate" 1 "jion" \
  mflow deploy "$SFLOWS/broken.c" --scheduler=cron --schedule @daily
run_fails "a flow that does not exist" 1 "nosuch.c" \
  mflow deploy "$SFLOWS/nosuch.c" --scheduler=cron --schedule @daily
run_fails "an unknown scheduler" 1 "airflw" \
  mflow deploy "$F" --scheduler=airflw --schedule @daily
run_fails "a bad deployment name" 2 "'a b' is not a deployment name" \
  mflow deploy "$F" --scheduler=cron --schedule @daily --name 'a b'
run_fails "cron without a schedule" 1 "needs a schedule" \
  mflow deploy "$F" --scheduler=cron
MFLOW_CRON_CRONTAB=$WORK/no/crontab run_fails "a crontab command that is not there" 1 \
  "cannot run the crontab command '$WORK/no/crontab'" \
  mflow deploy "$F" --scheduler=cron --schedule @daily
FAKE_CRONTAB_FAIL="you are not allowed to use this program" run_fails "a crontab that refuses" 1 \
  "you are not allowed to use this program" \
  mflow deploy "$F" --scheduler=cron --schedule @daily
MFLOW_TEST_RECORD_REFUSE="target unreachable: no such host" \
  MFLOW_PLUGIN_PATH=$MFLOW_TEST_RECORD_PLUGIN_DIR run_fails "a plugin that cannot reach its target" 1 \
  "scheduler 'record' refused NightlyFlow: target unreachable: no such host; nothing was deployed" \
  mflow deploy "$F" --scheduler=record
run_fails "deployments show of nothing" 1 "no deployment named NightlyFlow" \
  mflow deployments show NightlyFlow
same_bytes "the refusals left the crontab as it was" "$WORK/user.crontab" "$FAKE_CRONTAB_FILE"
check_eq "the refusals recorded no deployment" "" "$(ls "$DS/deployments" 2>/dev/null)"
check_eq "deployments list is empty" "[]" "$(mflow deployments list --json | tr -d ' \n')"

# ---- deploy: version 1 ----
run_ok "deploy" mflow deploy "$F" --scheduler=cron --name nightly --schedule '0 3 * * *' \
  --n=5 --label nightly
check_contains "deploy says the version" "deployed nightly version 1" "$OUT"
check_eq "one line of ours in the crontab" 1 "$(grep -c '# mflow deployment=nightly flow=NightlyFlow version=1$' "$FAKE_CRONTAB_FILE")"
check_eq "the line carries the schedule" "0 3 * * * " "$(head -1 "$FAKE_CRONTAB_FILE" | cut -c1-10)"
check_eq "the user's lines follow, untouched" "$(cat "$WORK/user.crontab")" "$(tail -n +2 "$FAKE_CRONTAB_FILE")"
S=$(mflow deployments show nightly --json)
check_eq "show: version" 1 "$(echo "$S" | json_get 'd["version"]')"
check_eq "show: flow" NightlyFlow "$(echo "$S" | json_get 'd["flow"]')"
check_eq "show: scheduler" cron "$(echo "$S" | json_get 'd["scheduler"]')"
check_eq "show: schedule" "0 3 * * *" "$(echo "$S" | json_get 'd["schedule"]')"
check_eq "show: namespace" "production:nightly" "$(echo "$S" | json_get 'd["namespace"]')"
check_eq "show: parameters" "{'n': '5', 'label': 'nightly'}" "$(echo "$S" | json_get 'd["params"]')"
check_contains "show: location is the crontab line" "deployments fire nightly --version 1" \
  "$(echo "$S" | json_get 'd["location"]')"
PKG=$(echo "$S" | json_get 'd["package"]')
check_eq "the package is stored" yes "$([ -s "$DS/$PKG" ] && echo yes)"
check_eq "the version is in the datastore" 1 "$(python3 -c "import json; print(json.load(open('$DS/deployments/nightly/1.json'))['version'])")"
check_eq "and the pointer to it" '{"version": 1}' "$(cat "$DS/deployments/nightly/current.json")"
run_ok "deployments list" mflow deployments list
check_contains "list names it" "nightly" "$OUT"
check_contains "list gives the schedule" "0 3 * * *" "$OUT"

# ---- deploy again: version 2, version 1 kept as history; the line replaced in place ----
run_ok "deploy again" mflow deploy "$F" --scheduler=cron --name nightly --schedule @daily --n=6
check_contains "a new version" "deployed nightly version 2" "$OUT"
check_eq "still one line of ours" 1 "$(grep -c '# mflow deployment=nightly ' "$FAKE_CRONTAB_FILE")"
check_eq "the line is version 2's" 1 "$(grep -c '^@daily .*fire nightly --version 2 .*version=2$' "$FAKE_CRONTAB_FILE")"
check_eq "the user's lines still untouched" "$(cat "$WORK/user.crontab")" "$(tail -n +2 "$FAKE_CRONTAB_FILE")"
S=$(mflow deployments show nightly --json)
check_eq "show: the current version" 2 "$(echo "$S" | json_get 'd["version"]')"
check_eq "show: every version" "[1, 2]" "$(echo "$S" | json_get '[v["version"] for v in d["versions"]]')"
check_eq "show: version 1's schedule kept" "0 3 * * *" "$(echo "$S" | json_get 'd["versions"][0]["schedule"]')"
check_eq "show: parameters of version 2" "{'n': '6'}" "$(echo "$S" | json_get 'd["params"]')"
run_ok "show, for people" mflow deployments show nightly
check_contains "show lists the versions" "versions:" "$OUT"
check_contains "show names the log" "log        $MFLOW_HOME/deployments/nightly/log" "$OUT"

# a second deployment of the same flow, by its default name
run_ok "a second deployment" mflow deploy "$F" --scheduler=cron --schedule '*/10 * * * *'
check_contains "named after the flow" "deployed NightlyFlow version 1" "$OUT"
check_eq "two lines of ours" 2 "$(grep -c '# mflow deployment=' "$FAKE_CRONTAB_FILE")"
check_eq "list has both" "NightlyFlow nightly" "$(mflow deployments list --json | json_get '" ".join(x["name"] for x in d)')"

# ---- reindex recovers the deployments from the datastore ----
rm -rf "$MFLOW_HOME/index"
check_eq "no index, no deployments" "[]" "$(mflow deployments list --json | tr -d ' \n')"
run_ok "reindex" mflow reindex
check_contains "reindex counts the deployments" "2 deployments" "$OUT"
S=$(mflow deployments show nightly --json)
check_eq "after reindex: current version" 2 "$(echo "$S" | json_get 'd["version"]')"
check_eq "after reindex: history" "[1, 2]" "$(echo "$S" | json_get '[v["version"] for v in d["versions"]]')"
check_eq "after reindex: parameters" "{'n': '6'}" "$(echo "$S" | json_get 'd["params"]')"

# a damaged version record is named and skipped; the others are recovered
cp "$DS/deployments/nightly/1.json" "$WORK/1.json.good"
printf '{"name": "nightly", "version": 1, "flow": ' > "$DS/deployments/nightly/1.json"
rm -rf "$MFLOW_HOME/index"
run_ok "reindex with a damaged version" mflow reindex
check_contains "it names the damaged record" "deployments/nightly/1.json" "$OUT"
check_eq "the other versions are recovered" "[2]" "$(mflow deployments show nightly --json | json_get '[v["version"] for v in d["versions"]]')"
cp "$WORK/1.json.good" "$DS/deployments/nightly/1.json"
run_ok "reindex again" mflow reindex
check_eq "all versions again" "[1, 2]" "$(mflow deployments show nightly --json | json_get '[v["version"] for v in d["versions"]]')"
run_ok "plugins" mflow plugins --json
check_eq "the cron plugin loads as a scheduler" "scheduler True" \
  "$(echo "$OUT" | json_get '" ".join(str(x) for p in d for x in (p["kind"], p["loaded"]) if p["name"] == "cron")')"

# ---- delete: only its own line goes; versions stay in the datastore ----
run_ok "delete nightly" mflow deployments delete nightly
check_eq "its line is gone, the other stays" "NightlyFlow" "$(grep -o '# mflow deployment=[^ ]*' "$FAKE_CRONTAB_FILE" | cut -d= -f2)"
run_ok "delete NightlyFlow" mflow deployments delete NightlyFlow
same_bytes "after both deletes the crontab is the user's again" "$WORK/user.crontab" "$FAKE_CRONTAB_FILE"
check_eq "list is empty" "[]" "$(mflow deployments list --json | tr -d ' \n')"
check_eq "the versions stay as history" "1.json 2.json" "$(cd "$DS/deployments/nightly" && echo *.json)"
run_fails "delete again" 1 "no deployment named nightly" mflow deployments delete nightly
rm -rf "$MFLOW_HOME/index"
run_ok "reindex after delete" mflow reindex
check_eq "a deleted deployment stays deleted" "[]" "$(mflow deployments list --json | tr -d ' \n')"
run_ok "deploy after delete" mflow deploy "$F" --scheduler=cron --name nightly --schedule @hourly
check_contains "version numbers are never reused" "deployed nightly version 3" "$OUT"
run_ok "clean up" mflow deployments delete nightly

# ---- what the plugin is handed (the contract), through the test plugin "record" ----
mkdir -p "$WORK/rec"
export MFLOW_PLUGIN_PATH=$MFLOW_TEST_RECORD_PLUGIN_DIR MFLOW_TEST_RECORD_DIR=$WORK/rec
run_ok "deploy through the record plugin" mflow deploy "$F" --scheduler=record --name rec1 \
  --schedule '15 1 * * mon-fri' --output "$WORK/out.py" --compute=local --label=x --n 7 --n=8
mflow show "$F" --json > "$WORK/show.json"
same_bytes "graph_json is what show --json prints" "$WORK/show.json" "$WORK/rec/graph.json"
D=$(cat "$WORK/rec/desc.txt")
check_contains "flow_name" "flow_name=NightlyFlow" "$D"
check_contains "package_url" "package_url=packages/" "$D"
check_contains "datastore_root" "datastore_root=$DS" "$D"
check_contains "schedule" "schedule=15 1 * * mon-fri" "$D"
want="option name=rec1
option version=1
option namespace=production:rec1
option compute=local
option storage=local
option output=$WORK/out.py
option mflow=$(readlink -f "$MFLOW")
option home=$MFLOW_HOME
option log=$MFLOW_HOME/deployments/rec1/log
option source=$F
option param.label=x
option param.n=8"
check_eq "the options, in order" "$want" "$(grep '^option ' "$WORK/rec/desc.txt")"
check_eq "the plugin stored through datastore_put" "$(grep package_url "$WORK/rec/desc.txt" | cut -d= -f2)" \
  "$(cat "$DS/schedulers/record/NightlyFlow.txt")"
run_ok "--param for a parameter named like an option" mflow deploy "$F" --scheduler=record \
  --name rec3 --param label=name=x --param n=9
check_eq "given as param options" "option param.label=name=x
option param.n=9" "$(grep '^option param' "$WORK/rec/desc.txt")"
run_fails "--param without =" 2 "--param takes NAME=VALUE, not 'n'" \
  mflow deploy "$F" --scheduler=record --name rec3 --param n
run_fails "--param of an unknown parameter" 2 "nope" \
  mflow deploy "$F" --scheduler=record --name rec3 --param nope=1
run_ok "no schedule" mflow deploy "$F" --scheduler=record --name rec2
check_contains "schedule NULL when none" "schedule=(null)" "$(cat "$WORK/rec/desc.txt")"
check_eq "no output option without --output" "" "$(grep '^option output' "$WORK/rec/desc.txt")"
check_eq "no params without parameters" "" "$(grep '^option param' "$WORK/rec/desc.txt")"
check_contains "location is the plugin's" "recorded in $WORK/rec" "$(mflow deployments show rec2 --json | json_get 'd["location"]')"
unset MFLOW_PLUGIN_PATH

finish
