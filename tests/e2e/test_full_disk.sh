#!/bin/bash
# A full file system under MFLOW_HOME (a small tmpfs): a run fails with one message that names
# the full disk, nothing is torn, reindex says "no space" and keeps the sound index (lmdb
# reports a short write as EIO: that must not read as damage), and once space is back
# reindex and resume work.
. "$(dirname "$0")/lib.sh"
if [ "$(id -u)" != 0 ]; then echo "skip: mounting a tmpfs needs root"; exit 77; fi
MNT=$WORK/mnt
mkdir -p "$MNT"
if ! mount -t tmpfs -o size=4m tmpfs "$MNT" 2>/dev/null; then echo "skip: cannot mount a tmpfs here"; exit 77; fi
trap 'umount "$MNT/home/tmp" 2>/dev/null; umount "$MNT" 2>/dev/null; rm -rf "$WORK"' EXIT
export MFLOW_HOME=$MNT/home
VERIFY=${MFLOW_VERIFY_BLOBS:?}

run_ok "a run with room" mflow run "$FLOWS/linear.c" --run-id-file "$WORK/rid1"
run_ok "compiled with room" mflow check "$FLOWS/slow_foreach.c"
# Fill what is left.
dd if=/dev/zero of="$MNT/fill" bs=64k 2>/dev/null

run_fails "a flow compiled on a full disk" 1 "no space left on the file system" mflow check "$FLOWS/branch3.c"
check_contains "the compile message says what to do" "free some space" "$OUT"
run_fails "a run that cannot start on a full disk" 1 "No space left" mflow run "$FLOWS/slow_foreach.c" --n=20 --ms=0 --run-id-file "$WORK/rid2"
check_contains "the message says what to do" "free space" "$OUT"
check_eq "no run id for a run that did not start" "" "$(cat "$WORK/rid2" 2>/dev/null)"
# Room for the run to start, not to end: it fails mid-way.
rm -f "$MNT/fill"
dd if=/dev/zero of="$MNT/fill" bs=4k count=$(( $(df --output=avail -B4096 "$MNT" | tail -1) - 24 )) 2>/dev/null
run_fails "a run that fills the disk mid-way" 1 "No space left" mflow run "$FLOWS/slow_foreach.c" --n=200 --ms=0 --run-id-file "$WORK/rid2"
check_contains "its message says what to do" "free space" "$OUT"
OUT=$(mflow reindex 2>&1); rc=$?
if [ $rc != 0 ]; then
  check_contains "reindex on a full disk names it" "no space left on the device" "$OUT"
fi
case "$OUT" in
  *aside*|*damaged*) fail "reindex on a full disk took the sound index for damaged: $OUT" ;;
  *) CHECKS=$((CHECKS + 1)); echo "ok: the sound index is kept on a full disk" ;;
esac
check_eq "no index file moved aside" "" "$(ls "$MFLOW_HOME/index" | grep damaged)"
run_ok "blobs whole on a full disk" "$VERIFY" "$MFLOW_HOME/datastore"

rm -f "$MNT/fill"
run_ok "reindex once space is back" mflow reindex
run_ok "the first run is listed" mflow runs LinearFlow
check_contains "its status" "succeeded" "$OUT"
if [ -s "$WORK/rid2" ]; then
  run_ok "resume once space is back" mflow resume "$FLOWS/slow_foreach.c" --origin-run-id "$(cat "$WORK/rid2")" --run-id-file "$WORK/rid3"
  check_eq "the resumed run's answer" 2646700 "$(mflow get "SlowForeach/$(cat "$WORK/rid3")/join" sum 2>&1)"
else
  fail "the run on a full disk left no run id"
fi
run_ok "blobs whole at the end" "$VERIFY" "$MFLOW_HOME/datastore"

# A task's output past 4 MiB spills to a file under $MFLOW_HOME/tmp: a full tmp (a 1 MiB tmpfs
# of its own, the datastore with room) stores the log cut short, and the run says so.
mkdir -p "$MFLOW_HOME/tmp"
if mount -t tmpfs -o size=1m tmpfs "$MFLOW_HOME/tmp" 2>/dev/null; then
  OUT=$(mflow run "$FLOWS/big_output.c" --run-id-file "$WORK/rid4" 2>&1 | grep -v '^\[BigOutput'); rc=${PIPESTATUS[0]}
  check_eq "a run whose log spill fills tmp still succeeds" 0 "$rc"
  check_contains "it says the log is cut short" "warning: the stdout of task 1 is cut short: writing $MFLOW_HOME/tmp/" "$OUT"
  check_contains "and why" "No space left on device (free space there)" "$OUT"
  n=$(mflow logs "BigOutput/$(cat "$WORK/rid4")/start" 2>/dev/null | wc -c)
  check_eq "what fit is stored (about 1 MiB of 6)" yes "$([ "$n" -gt 500000 ] && [ "$n" -lt 2000000 ] && echo yes || echo "no: $n bytes")"
  umount "$MFLOW_HOME/tmp"
else
  fail "cannot mount a tmpfs on $MFLOW_HOME/tmp"
fi
finish
