#!/bin/bash
# The cron plugin on many shapes of a user's crontab (through a stand-in crontab program on a
# private file, named as such: fakecrontab.sh): installing, updating and deleting deployments
# keeps every other byte, and after the deletes the crontab is exactly what it was (absent
# when there was none).
. "$(dirname "$0")/lib.sh"
F=$SFLOWS/nightly.c
mkdir -p "$WORK/shapes"
printf '' > "$WORK/shapes/absent"; rm "$WORK/shapes/absent"
printf '# my jobs\nMAILTO=""\nSHELL=/bin/bash\n\n0 1 * * * /usr/bin/backup --all >/dev/null 2>&1\n' > "$WORK/shapes/plain"
printf '30 4 * * 1 echo weekly\n# last line without a newline' > "$WORK/shapes/no-final-newline"
printf '0 * * * * echo one\r\n0 1 * * * echo two\r\n' > "$WORK/shapes/crlf"
printf '@reboot /usr/bin/start\n0 0 * * * x # mflow deployment=nd2 flow=Other version=9\n' > "$WORK/shapes/another-mflow-line"
printf 'CRON_TZ=Europe/Paris\n0 9 * * 1-5 echo \xc3\xa9t\xc3\xa9 \xff\x01 bytes %% percent\n\n\n' > "$WORK/shapes/bytes"
for i in $(seq 1 2000); do echo "$((i % 60)) * * * * /usr/bin/job-number-$i --with --some --arguments"; done > "$WORK/shapes/large"

for shape in absent plain no-final-newline crlf another-mflow-line bytes large; do
  S=$WORK/shapes/$shape
  rm -f "$FAKE_CRONTAB_FILE"
  [ -e "$S" ] && cp "$S" "$FAKE_CRONTAB_FILE"
  SB=$S; [ -e "$S" ] || SB=/dev/null   # what follows our line: nothing when there was none
  run_ok "$shape: deploy" mflow deploy "$F" --scheduler=cron --name nd --schedule '0 2 * * *'
  head -1 "$FAKE_CRONTAB_FILE" > "$WORK/ours"
  check_contains "$shape: our line first" "# mflow deployment=nd flow=NightlyFlow version=" "$(cat "$WORK/ours")"
  tail -c +$(($(wc -c < "$WORK/ours") + 1)) "$FAKE_CRONTAB_FILE" > "$WORK/rest"
  same_bytes "$shape: the rest is the user's crontab" "$SB" "$WORK/rest"
  run_ok "$shape: deploy again" mflow deploy "$F" --scheduler=cron --name nd --schedule '0 3 * * *'
  check_eq "$shape: the line was replaced" "0 3 * * *" "$(head -1 "$FAKE_CRONTAB_FILE" | cut -c1-9)"
  check_eq "$shape: one line of ours" 1 "$(grep -c '# mflow deployment=nd ' "$FAKE_CRONTAB_FILE")"
  tail -n +2 "$FAKE_CRONTAB_FILE" > "$WORK/rest"
  same_bytes "$shape: still the user's crontab after it" "$SB" "$WORK/rest"
  run_ok "$shape: a second deployment" mflow deploy "$F" --scheduler=cron --name nd3 --schedule @weekly
  run_ok "$shape: delete the first" mflow deployments delete nd
  check_eq "$shape: the second stays" 1 "$(grep -c '# mflow deployment=nd3 ' "$FAKE_CRONTAB_FILE")"
  check_eq "$shape: the first is gone" 0 "$(grep -c '# mflow deployment=nd ' "$FAKE_CRONTAB_FILE")"
  run_ok "$shape: delete the second" mflow deployments delete nd3
  same_bytes "$shape: identical after the deletes" "$S" "$FAKE_CRONTAB_FILE"
done

# a line of ours removed by hand: delete says so and forgets the deployment
rm -f "$FAKE_CRONTAB_FILE"
run_ok "deploy" mflow deploy "$F" --scheduler=cron --name gone --schedule @daily
rm -f "$FAKE_CRONTAB_FILE"
run_ok "delete a deployment whose line is gone" mflow deployments delete gone
check_contains "it warns" "had no deployment gone installed" "$OUT"
check_eq "and forgets it" "[]" "$(mflow deployments list --json | tr -d ' \n')"
# trigger of a deployment whose line is gone
run_ok "deploy" mflow deploy "$F" --scheduler=cron --name gone --schedule @daily
printf '# replaced by hand\n' > "$FAKE_CRONTAB_FILE"
run_fails "trigger without its line" 1 "no line marked '# mflow deployment=gone'" \
  mflow deployments trigger gone
# a crontab that fails while deleting: the deployment stays
printf '' > "$FAKE_CRONTAB_FILE"
run_ok "deploy" mflow deploy "$F" --scheduler=cron --name gone --schedule @daily
FAKE_CRONTAB_FAIL="cannot reach the spool" run_fails "delete with a failing crontab" 1 \
  "cannot reach the spool" mflow deployments delete gone
check_eq "it stays deployed" gone "$(mflow deployments list --json | json_get 'd[0]["name"]')"
finish
