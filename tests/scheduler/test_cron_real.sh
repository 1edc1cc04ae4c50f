#!/bin/bash
# The cron plugin with Debian's real cron daemon and crontab: a deployment scheduled
# `* * * * *` fires within about a minute, its run succeeds in namespace production:D with
# the packaged flow's artifacts; the user's crontab (`crontab -l`) is the same before and
# after, byte for byte, but for the one line while deployed. Starts its own cron when none
# runs (and stops it); skipped (77) where cron or crontab is missing.
. "$(dirname "$0")/lib.sh"
unset MFLOW_CRON_CRONTAB FAKE_CRONTAB_FILE
command -v crontab >/dev/null || { echo "SKIP: no crontab command (Debian package cron)"; exit 77; }
CROND=$(command -v cron || true)
[ -n "$CROND" ] || { echo "SKIP: no cron daemon (Debian package cron)"; exit 77; }
F=$SFLOWS/nightly.c
D=realcron$$

# the user's crontab as it is now: kept, and put back whatever happens
crontab -l > "$WORK/before" 2> "$WORK/before.err"; BEFORE_RC=$?
SEEDED=
if [ "$BEFORE_RC" != 0 ]; then
  grep -q "no crontab for" "$WORK/before.err" || { echo "SKIP: crontab -l fails: $(cat "$WORK/before.err")"; exit 77; }
  # none yet: give it one with comments and variables (no jobs), removed at the end
  printf '# mflow scheduler test: removed when the test ends\nMAILTO=""\n# 0 0 1 1 * never\n' | crontab - || exit 1
  crontab -l > "$WORK/before"
  SEEDED=1
fi
OUR_CRON=
cleanup() {
  mflow deployments delete "$D" >/dev/null 2>&1
  if [ -n "$SEEDED" ]; then crontab -r 2>/dev/null
  elif ! crontab -l 2>/dev/null | cmp -s - "$WORK/before"; then crontab "$WORK/before"; fi
  if [ -n "$OUR_CRON" ]; then
    kill "$OUR_CRON" 2>/dev/null; wait "$OUR_CRON" 2>/dev/null
    [ "$(cat /run/crond.pid 2>/dev/null)" = "$OUR_CRON" ] && rm -f /run/crond.pid
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

live() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
if ! live /run/crond.pid && ! live /var/run/crond.pid; then
  setsid "$CROND" -f -L 15 </dev/null >"$WORK/cron.log" 2>&1 &
  OUR_CRON=$!
  for i in $(seq 1 50); do live /run/crond.pid && break; sleep 0.1; done
  kill -0 "$OUR_CRON" 2>/dev/null || { echo "SKIP: cron does not start here: $(cat "$WORK/cron.log")"; exit 77; }
  echo "started cron (pid $OUR_CRON)"
  # cron notices a changed crontab by the spool's mtime, in whole seconds: a change in the
  # second it read the spool at start-up would go unseen until the next change.
  sleep 1.2
fi

run_ok "deploy every minute" mflow deploy "$F" --scheduler=cron --name "$D" --schedule '* * * * *' --n=3 --label=cron
crontab -l > "$WORK/during"
check_eq "one line of ours in the real crontab" 1 "$(grep -c "# mflow deployment=$D " "$WORK/during")"
check_eq "it comes first" 1 "$(head -1 "$WORK/during" | grep -c "# mflow deployment=$D ")"
tail -n +2 "$WORK/during" > "$WORK/during.rest"
same_bytes "the rest is the user's crontab, byte for byte" "$WORK/before" "$WORK/during.rest"
# the working copy changes: the firing must run the package
sed -i 's/#define VERSION_MARK 1/#define VERSION_MARK 2/' "$F"

FIRINGS=$MFLOW_HOME/deployments/$D/firings.jsonl
t0=$(date +%s)
for i in $(seq 1 150); do grep -q '"status":"succeeded"' "$FIRINGS" 2>/dev/null && break; sleep 0.5; done
t1=$(date +%s)
echo "first firing ended $((t1 - t0)) s after the deploy"
# no further firing: delete at once
run_ok "delete" mflow deployments delete "$D"
check_contains "cron fired it and the firing succeeded" '"status":"succeeded"' "$(cat "$FIRINGS" 2>/dev/null)"
R=$(mflow runs NightlyFlow --namespace "production:$D" --json)
check_eq "its run succeeded" succeeded "$(echo "$R" | json_get 'd[-1]["status"]')"
check_contains "tagged with the version" "deployment_version:1" "$(echo "$R" | json_get 'd[-1]["tags"]')"
RUN=$(echo "$R" | json_get 'd[-1]["run_id"]')
check_eq "the packaged flow's artifact (3*10+1+1)" 32 "$(mflow --namespace="production:$D" get "NightlyFlow/$RUN/train" y)"
check_eq "its parameter" cron "$(mflow --namespace="production:$D" get "NightlyFlow/$RUN/end" label)"
check_contains "the log has the run" "succeeded (exit 0)" "$(cat "$MFLOW_HOME/deployments/$D/log")"
crontab -l > "$WORK/after"
same_bytes "after delete the crontab is identical" "$WORK/before" "$WORK/after"
finish
