#!/bin/bash
# Every Job manifest the k8s foundation can generate (k8s_manifest_gen: all resource, secret,
# toleration, selector, overlay, timeout and name combinations) validated offline against the
# official Kubernetes schema, unknown fields included (validate-job.mjs). First proves the
# validator itself: it accepts a good Job, and rejects a wrong type, unknown fields at several
# depths, and a bad name or label. Exits 77 (skipped) when node/npm or the package are missing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
gen=${K8S_MANIFEST_GEN:?K8S_MANIFEST_GEN (the k8s_manifest_gen program) is not set}
skip() { echo "SKIP: $*"; exit 77; }

command -v node >/dev/null && command -v npm >/dev/null ||
  skip "node and npm are needed for the offline Kubernetes schema check (scripts/setup-deps.sh --test)"
models=$(bash "$here/validate-up.sh" | tail -1) ||
  skip "the npm package kubernetes-models could not be installed (no npm registry?)"
[ -n "$models" ] || skip "the validator install printed no directory"

work=$(mktemp -d /tmp/mflow-k8s-validate.XXXXXX)
trap 'rm -rf "$work"' EXIT
validate() { node "$here/validate-job.mjs" "$models" "$@"; }

# ---- the validator catches what it must ----
mkdir "$work/gen"
n=$("$gen" "$work/gen")
[ "$n" -ge 700 ] || { echo "FAIL: k8s_manifest_gen wrote $n manifests, expected every combination (768)"; exit 1; }
probe=$work/gen/job-0767.json       # the richest one: overlay, awkward names, every setting
validate "$probe" >/dev/null || { validate "$probe"; echo "FAIL: the richest manifest is invalid"; exit 1; }

mutate() {   # mutate NAME PYTHON-STATEMENT-ON-d
  python3 - "$probe" "$work/$1.json" "$2" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
exec(sys.argv[3])
json.dump(d, open(sys.argv[2], "w"))
PY
}
pod='d["spec"]["template"]["spec"]'
mutate type_error      'd["spec"]["backoffLimit"] = "none"'
mutate unknown_job     'd["spec"]["backofLimit"] = 0'
mutate unknown_pod     "$pod"'["hostNetwerk"] = True'
mutate unknown_main    "$pod"'["containers"][0]["resource"] = {}'
mutate unknown_deep    "$pod"'["securityContext"] = {"runAsUser": 1, "runAsUsr": 1}'
mutate unknown_meta    'd["metadata"]["label"] = {}'
mutate unknown_tol     "$pod"'["tolerations"][0]["effects"] = "NoSchedule"'
mutate bad_enum        "$pod"'["restartPolicy"] = "Sometimes"'
mutate bad_name        'd["metadata"]["name"] = "Mflow_Job"'
mutate long_name       'd["metadata"]["name"] = "a" * 64'
mutate bad_label       'd["metadata"]["labels"]["mflow/flow"] = "-x"'
mutate bad_label_key   'd["spec"]["template"]["metadata"]["labels"]["a b/c"] = "x"'
declare -A want=(
  [type_error]="/spec/backoffLimit must be integer"
  [unknown_job]="/spec/backofLimit unknown field"
  [unknown_pod]="/spec/template/spec/hostNetwerk unknown field"
  [unknown_main]="/spec/template/spec/containers/0/resource unknown field"
  [unknown_deep]="/spec/template/spec/securityContext/runAsUsr unknown field"
  [unknown_meta]="/metadata/label unknown field"
  [unknown_tol]="/spec/template/spec/tolerations/0/effects unknown field"
  [bad_enum]="/spec/template/spec/restartPolicy"
  [bad_name]="/metadata/name is not a DNS-1123 label"
  [long_name]="/metadata/name is not a DNS-1123 label"
  [bad_label]="/metadata/labels/mflow~1flow is not a label value"
  [bad_label_key]="/spec/template/metadata/labels/a b~1c is not a label key"
)
for k in "${!want[@]}"; do
  if out=$(validate "$work/$k.json"); then
    echo "FAIL: the validator accepted $k: $out"; exit 1
  fi
  case "$out" in
    *"${want[$k]}"*) ;;
    *) echo "FAIL: $k: expected '${want[$k]}' in: $out"; exit 1 ;;
  esac
done
echo "validator self-check: 1 good manifest accepted, ${#want[@]} bad ones rejected for the right reason"

# ---- every generated manifest ----
if ! out=$(validate "$work"/gen/*.json); then
  echo "$out" | grep -v '^VALID' | head -20
  echo "FAIL: $(echo "$out" | grep -c '^INVALID') of $n generated manifests are invalid"
  exit 1
fi
valid=$(echo "$out" | grep -c '^VALID')
[ "$valid" = "$n" ] || { echo "FAIL: $valid of $n manifests reported valid"; exit 1; }
echo "all $n generated Job manifests valid against the kubernetes-models schema, no unknown fields"
