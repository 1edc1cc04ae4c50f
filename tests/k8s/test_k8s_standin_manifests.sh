#!/bin/bash
# Every Job manifest the k8s foundation can generate (k8s_manifest_gen) sent to the API
# stand-in with fieldValidation=Strict and dryRun=All: all accepted; an unknown field refused.
# Exits 77 (skipped) without node, openssl, python3 or the schema package.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
standin=$here/standin
gen=${K8S_MANIFEST_GEN:?K8S_MANIFEST_GEN (the k8s_manifest_gen program) is not set}
skip() { echo "SKIP: $*"; exit 77; }
for tool in node openssl curl python3; do
  command -v $tool >/dev/null || skip "$tool is needed (scripts/setup-deps.sh --test)"
done
work=$(mktemp -d /tmp/mflow-k8s-standin-gen.XXXXXX)
trap 'bash "$standin/down.sh" "$work/api"; rm -rf "$work"' EXIT
rc=0
bash "$standin/up.sh" "$work/api" >/dev/null 2>"$work/up.err" || rc=$?
[ $rc = 77 ] && skip "$(cat "$work/up.err")"
[ $rc = 0 ] || { cat "$work/up.err"; echo "FAIL: up.sh exited $rc"; exit 1; }
mkdir "$work/gen"
"$gen" "$work/gen" >/dev/null
python3 "$here/standin_manifests.py" "$work/api" "$work/gen"
