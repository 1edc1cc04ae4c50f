#!/bin/bash
# mflow-plugin-check fails a store that breaks one rule of the contract, exits 1, and its
# FAIL line names the rule. The same store unbroken passes (conformance_storage_template).
. "$MFLOW_TEST_SOURCE_ROOT/tests/e2e/lib.sh"
DIR=${MFLOW_BROKEN_PLUGINS:?}
CHECK=${MFLOW_PLUGIN_CHECK:?}

# expect_fail VARIANT NEEDLE: the check of mflow_storage_broken_VARIANT.so exits 1 with a
# FAIL line holding NEEDLE, and says FAILED in its summary.
expect_fail() {
  local out rc
  out=$("$CHECK" --kind=storage --root="$WORK/ds-$1" --large-mb=1 "$DIR/mflow_storage_broken_$1.so" 2>&1)
  rc=$?
  check_eq "$1: the check exits 1" 1 "$rc"
  check_contains "$1: it fails with '$2'" "FAIL: $2" "$out"
  check_contains "$1: its summary says FAILED" "FAILED: " "$out"
}
expect_fail exists "exists of an absent key returns exactly 0 (got 2)"
expect_fail if_absent "put with MF_PUT_IF_ABSENT on a present key returns 0 and keeps the old object"
expect_fail del "exists after del returns 0"
expect_fail notfound "get of an absent key returns MF_ENOTFOUND (got -4)"
expect_fail root "an instance started on root()'s URL sees what the first one put"

# Usage errors and a file that is not a plugin: exit 2.
OUT=$("$CHECK" --kind=nothing "$DIR/mflow_storage_broken_del.so" 2>&1); rc=$?
check_eq "an unknown kind is a usage error" 2 "$rc"
OUT=$("$CHECK" --kind=storage /etc/hostname 2>&1); rc=$?
check_eq "a file that is not a plugin exits 2" 2 "$rc"
check_contains "and says it cannot load it" "cannot load /etc/hostname" "$OUT"
OUT=$("$CHECK" --kind=compute "$DIR/mflow_storage_broken_del.so" 2>&1); rc=$?
check_eq "a storage plugin checked as compute exits 2" 2 "$rc"
check_contains "naming the kind" "not a compute plugin" "$OUT"
finish
