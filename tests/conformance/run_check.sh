#!/bin/bash
# run_check.sh KIND PLUGIN.so: mflow-plugin-check on one plugin, in a scratch datastore (or
# MFLOW_CHECK_ROOT, e.g. an S3 bucket of the s3 fixture); the checker's own exit code is the
# test's, and a summary line must say PASSED.
set -u
kind=$1 so=$2
check=${MFLOW_PLUGIN_CHECK:?run through meson test}
work=$(mktemp -d "${TMPDIR:-/tmp}/mflow-conf.XXXXXX")
trap 'rm -rf "$work"' EXIT
export MFLOW_HOME=$work/home
unset MFLOW_DATASTORE_ROOT MFLOW_STORAGE
mkdir -p "$MFLOW_HOME"
args=(--kind="$kind")
[ "$kind" = storage ] && args+=(--root="${MFLOW_CHECK_ROOT:-$work/datastore}")
[ -n "${MFLOW_CHECK_TIMEOUT_WAIT:-}" ] && args+=(--timeout-wait="$MFLOW_CHECK_TIMEOUT_WAIT")
out=$("$check" "${args[@]}" "$so" 2>&1); rc=$?
echo "$out"
case "$out" in *"PASSED: "*) ;; *) [ $rc = 0 ] && { echo "FAIL: no PASSED summary"; exit 1; } ;; esac
exit $rc
