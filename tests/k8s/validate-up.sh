#!/bin/bash
# Installs the offline Kubernetes schema validator's model package (npm kubernetes-models,
# the official OpenAPI schema compiled to validators) into DIR, once; later calls reuse it.
# Prints DIR (what validate-job.mjs takes as MODELS_DIR) on success.
#   exit 0: ready   exit 3: node/npm missing or the install failed (the message says which)
# Usage: tests/k8s/validate-up.sh [DIR]   (DIR: $MFLOW_K8S_VALIDATOR_DIR, else build/k8s-validator)
set -euo pipefail
PKG="kubernetes-models@5.1.0"     # declares node>=22 but runs on Debian's node 18/20
here=$(cd "$(dirname "$0")/../.." && pwd)
dir=${1:-${MFLOW_K8S_VALIDATOR_DIR:-$here/build/k8s-validator}}
marker="$dir/node_modules/kubernetes-models/batch/v1/Job.js"

command -v node >/dev/null && command -v npm >/dev/null || {
  echo "validate-up: node and npm are needed (scripts/setup-deps.sh --test installs them)" >&2
  exit 3
}
mkdir -p "$dir"
if [ ! -f "$marker" ]; then
  # one installer at a time (tests may start together)
  lock="$dir/.install.lock"
  for _ in $(seq 1 600); do mkdir "$lock" 2>/dev/null && break; sleep 0.5; done
  trap 'rmdir "$lock" 2>/dev/null || true' EXIT
  if [ ! -f "$marker" ]; then
    [ -f "$dir/package.json" ] || echo '{"name":"mflow-k8s-validator","private":true}' >"$dir/package.json"
    echo "validate-up: installing $PKG into $dir" >&2
    (cd "$dir" && npm install --no-audit --no-fund --loglevel=error --engine-strict=false "$PKG" \
      >npm.log 2>&1) || {
      echo "validate-up: npm install $PKG failed (see $dir/npm.log):" >&2
      tail -5 "$dir/npm.log" >&2
      exit 3
    }
  fi
fi
[ -f "$marker" ] || { echo "validate-up: $PKG installed without batch/v1/Job.js" >&2; exit 3; }
echo "$dir"
