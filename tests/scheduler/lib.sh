# Shared by the deployment tests: the e2e helpers, a stand-in crontab (fakecrontab.sh, named
# as such) on a private file, and a copy of the test flows.
. "$MFLOW_TEST_SOURCE_ROOT/tests/e2e/lib.sh"
export MFLOW_CRON_CRONTAB=${MFLOW_TEST_FAKE_CRONTAB:?}
export FAKE_CRONTAB_FILE=$WORK/crontab
unset FAKE_CRONTAB_FAIL MFLOW_TEST_RECORD_REFUSE
SFLOWS=$WORK/flows
mkdir -p "$SFLOWS"
cp "$SRC"/tests/scheduler/flows/*.c "$SFLOWS"/
DS=$MFLOW_HOME/datastore

# json_get FILE-OR-- EXPR: a value out of JSON on stdin, by a Python expression on `d`
json_get() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# same_bytes WHAT A B: the two files are byte for byte equal (both absent counts as equal)
same_bytes() {
  CHECKS=$((CHECKS + 1))
  if [ ! -e "$2" ] && [ ! -e "$3" ]; then echo "ok: $1"; return; fi
  if cmp -s "$2" "$3"; then echo "ok: $1"; else
    fail "$1: $2 and $3 differ: $(diff <(od -c "$2" 2>&1) <(od -c "$3" 2>&1) | head -10)"; fi
}
