#!/bin/bash
# Install what the s3 test suite and benchmark need (idempotent; root or sudo for apt):
#   - Debian's AWS CLI (/usr/bin/aws, awscli 2.9 on Debian 12), for interoperability tests and
#     the benchmark baseline, and node + npm when missing;
#   - the SigV4-verifying S3 server from the npm registry (@20minutes/s3rver, a fork of s3rver)
#     into a cache directory, plus a tiny launcher (the package does not ship its bin file),
#     with one fix to its XML output (see below). Run it with node --openssl-legacy-provider
#     (tests/s3/s3-fixture.sh does): its listing continuation tokens use DES.
#
# Usage: scripts/setup-s3-deps.sh [--npm-only | --apt-only] [NPM_DIR]
#   NPM_DIR defaults to $MFLOW_S3_SERVER_DIR, else build/s3-server under the source tree.
# Prints the launcher's path last (the file to run with node) when the npm step ran.
set -euo pipefail

S3RVER_PKG="@20minutes/s3rver@4.0.4"
want_apt=1 want_npm=1
case "${1:-}" in
  --npm-only) want_apt=0; shift ;;
  --apt-only) want_npm=0; shift ;;
esac
here=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-${MFLOW_S3_SERVER_DIR:-$here/build/s3-server}}

if [ $want_apt = 1 ]; then
  pkgs=()
  [ -x /usr/bin/aws ] || pkgs+=(awscli)
  command -v node >/dev/null || pkgs+=(nodejs)
  command -v npm >/dev/null || pkgs+=(npm)
  if [ ${#pkgs[@]} -gt 0 ]; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
    echo "setup-s3-deps: installing ${pkgs[*]} (Debian packages)" >&2
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${pkgs[@]}" >/dev/null 2>&1 || {
      $SUDO apt-get update -q >/dev/null
      $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${pkgs[@]}" >/dev/null
    }
  fi
fi

if [ $want_npm = 1 ]; then
  command -v node >/dev/null && command -v npm >/dev/null || {
    echo "setup-s3-deps: node and npm are needed for the test S3 server (apt-get install nodejs npm)" >&2
    exit 3
  }
  mkdir -p "$dir"
  if [ ! -f "$dir/node_modules/@20minutes/s3rver/lib/cli.js" ]; then
    echo "setup-s3-deps: installing $S3RVER_PKG into $dir" >&2
    [ -f "$dir/package.json" ] || echo '{"name":"mflow-s3-test-server","private":true}' >"$dir/package.json"
    # A lock directory keeps concurrent test processes from installing twice at once.
    lock="$dir/.install.lock"
    for _ in $(seq 1 600); do mkdir "$lock" 2>/dev/null && break; sleep 0.5; done
    trap 'rmdir "$lock" 2>/dev/null || true' EXIT
    if [ ! -f "$dir/node_modules/@20minutes/s3rver/lib/cli.js" ]; then
      (cd "$dir" && npm install --no-audit --no-fund --loglevel=error "$S3RVER_PKG" >npm.log 2>&1) || {
        echo "setup-s3-deps: npm install $S3RVER_PKG failed (see $dir/npm.log):" >&2
        tail -5 "$dir/npm.log" >&2
        exit 3
      }
    fi
  fi
  # The fork escapes XML text itself and fast-xml-parser 5 (what its "^5.9.2" resolves to)
  # escapes it again, so a key "a&b" is listed as "a&amp;amp;b" where S3 says "a&amp;b".
  # Make the builder leave text alone (idempotent; sed -i replaces the file atomically).
  for f in lib/s3rver.js lib/models/error.js; do
    f="$dir/node_modules/@20minutes/s3rver/$f"
    if [ -f "$f" ] && ! grep -q 'processEntities: false' "$f"; then
      sed -i 's/new XMLBuilder({/new XMLBuilder({ processEntities: false,/' "$f"
      grep -q 'processEntities: false' "$f" || {
        echo "setup-s3-deps: could not patch $f (XML double escaping)" >&2
        exit 3
      }
    fi
  done
  # S3 replaces an object atomically: a GET after concurrent PUTs of one key gives one of the
  # values whole, with its ETag. The fork's filesystem store truncates and rewrites the object
  # file in place and writes its MD5 file afterwards, so two concurrent PUTs can leave one
  # PUT's bytes beside the other's MD5 (or a mix of both), for good. Serialize the PUTs of a
  # key inside the server (one node process) so that it keeps S3's guarantee.
  f="$dir/node_modules/@20minutes/s3rver/lib/stores/filesystem.js"
  if [ -f "$f" ] && ! grep -q 'putObjectUnserialized' "$f"; then
    perl -0pi -e 's/\n  async putObject\(object\) \{/\n  putObject(object) {\n    \/\/ mflow: one PUT of a key at a time (see scripts\/setup-s3-deps.sh)\n    const k = object.bucket + "\/" + object.key;\n    this.mflowPuts = this.mflowPuts || new Map();\n    const next = (this.mflowPuts.get(k) || Promise.resolve())\n      .catch(() => {})\n      .then(() => this.putObjectUnserialized(object));\n    this.mflowPuts.set(k, next);\n    const forget = () => {\n      if (this.mflowPuts.get(k) === next) this.mflowPuts.delete(k);\n    };\n    next.then(forget, forget);\n    return next;\n  }\n\n  async putObjectUnserialized(object) {/' "$f"
    grep -q 'putObjectUnserialized(object) {' "$f" || {
      echo "setup-s3-deps: could not patch $f (atomic replace)" >&2
      exit 3
    }
  fi
  launcher="$dir/s3rver-v4.js"
  [ -f "$launcher" ] || echo "require('@20minutes/s3rver/lib/cli.js').parseAsync(process.argv);" >"$launcher"
  echo "$launcher"
fi
