#!/bin/bash
# The API stand-in's activeDeadlineSeconds (standin_deadline_check.py): FailureTarget then Failed
# DeadlineExceeded counted from status.startTime, whatever the timing of the job controller's
# timers (controller_timers_early_ms), for 40 Jobs at once, and not while ignore_deadlines holds.
# Exits 77 (skipped) without node, openssl, python3 or the schema package.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
standin=$here/standin
skip() { echo "SKIP: $*"; exit 77; }
for tool in node openssl curl python3; do
  command -v $tool >/dev/null || skip "$tool is needed (scripts/setup-deps.sh --test)"
done
work=$(mktemp -d /tmp/mflow-k8s-standin-deadline.XXXXXX)
trap 'bash "$standin/down.sh" "$work/api"; rm -rf "$work"' EXIT
rc=0
bash "$standin/up.sh" "$work/api" >/dev/null 2>"$work/up.err" || rc=$?
[ $rc = 77 ] && skip "$(cat "$work/up.err")"
[ $rc = 0 ] || { cat "$work/up.err"; echo "FAIL: up.sh exited $rc"; exit 1; }
rc=0
python3 "$here/standin_deadline_check.py" "$work/api" || rc=$?
if grep -q "BUG" "$work/api/server.log"; then grep -A5 "BUG" "$work/api/server.log"; echo "FAIL: the server logged an internal error"; rc=1; fi
[ $rc = 0 ] && echo "PASS: activeDeadlineSeconds on the API stand-in"
exit $rc
