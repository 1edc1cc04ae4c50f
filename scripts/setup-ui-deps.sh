#!/bin/bash
# Install what the ui suite's browser test needs: playwright-core from the npm registry into a
# cache directory (it drives the browser; no browser is downloaded: the test uses Debian's
# /usr/bin/chromium, `apt-get install chromium`). Idempotent; safe to run from concurrent tests.
#
# Usage: scripts/setup-ui-deps.sh [DIR]
#   DIR defaults to $MFLOW_UI_DEPS_DIR, else build/ui-deps under the source tree.
# Prints DIR/node_modules last. Exits 3 when node or npm is missing or npm fails.
set -euo pipefail

PKG="playwright-core@1.65.2"
here=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-${MFLOW_UI_DEPS_DIR:-$here/build/ui-deps}}
mod="$dir/node_modules/playwright-core/package.json"

command -v node >/dev/null && command -v npm >/dev/null || {
  echo "setup-ui-deps: node and npm are needed for the browser test (apt-get install nodejs npm)" >&2
  exit 3
}
mkdir -p "$dir"
if [ ! -f "$mod" ]; then
  # A lock directory keeps concurrent test processes from installing twice at once.
  lock="$dir/.install.lock"
  for _ in $(seq 1 600); do mkdir "$lock" 2>/dev/null && break; sleep 0.5; done
  trap 'rmdir "$lock" 2>/dev/null || true' EXIT
  if [ ! -f "$mod" ]; then
    echo "setup-ui-deps: installing $PKG into $dir" >&2
    [ -f "$dir/package.json" ] || echo '{"name":"mflow-ui-test-deps","private":true}' >"$dir/package.json"
    (cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --no-audit --no-fund \
        --loglevel=error "$PKG" >npm.log 2>&1) || {
      echo "setup-ui-deps: npm install $PKG failed (see $dir/npm.log):" >&2
      tail -5 "$dir/npm.log" >&2
      exit 3
    }
  fi
fi
echo "$dir/node_modules"
