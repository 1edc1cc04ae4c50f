#!/bin/bash
# A real S3 server on loopback for the s3 suite (and anything else that needs one): the npm
# package @20minutes/s3rver, a fork of s3rver that verifies SigV4 signatures, so a signing
# mistake fails a test. Installed into a cache on first use by scripts/setup-s3-deps.sh.
#
#   s3-fixture.sh start        start a server (or reuse the live one of S3FIX_DIR); prints
#                              "endpoint=URL bucket=NAME pid=PID" and writes S3FIX_DIR/env
#   s3-fixture.sh stop         stop the server (and the fault proxy) of S3FIX_DIR
#   s3-fixture.sh mb NAME      create another bucket (curl SigV4, else the AWS CLI)
#   s3-fixture.sh run CMD...   start, run CMD with S3FIX_DIR/env in its environment, stop;
#                              exits with CMD's status
#
# Settings (environment):
#   S3FIX_DIR      state directory: data/, server.pid, env, logs (default: a new one under
#                  $MFLOW_TEST_BUILD_ROOT/tests/s3, else under /tmp)
#   S3FIX_PORT     port (default: a free one, chosen at start; kept in S3FIX_DIR/port so that
#                  a restart after stop comes back on the same port)
#   S3FIX_BUCKET   bucket created at start (default mflow-test)
#   S3FIX_PROXY=1  also start tests/s3/fault-proxy.py in front of the server (its URL is
#                  S3FIX_PROXY_URL in the env file)
#   MFLOW_S3_SERVER_DIR  where the npm package is cached (default $MFLOW_TEST_BUILD_ROOT/s3-server,
#                  else build/s3-server in the source tree)
#
# The env file exports what a client needs: MFLOW_S3_ENDPOINT_URL, AWS_ACCESS_KEY_ID,
# AWS_SECRET_ACCESS_KEY (the test server's fixed S3RVER/S3RVER), AWS_REGION, and points
# AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE at empty files so that a developer's ~/.aws
# does not leak into tests. Exit status 77 (meson: skipped) when node or npm is missing or the
# package cannot be installed.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src_root=$(cd "$here/../.." && pwd)
build_root=${MFLOW_TEST_BUILD_ROOT:-}
bucket=${S3FIX_BUCKET:-mflow-test}
server_dir=${MFLOW_S3_SERVER_DIR:-${build_root:+$build_root/s3-server}}
server_dir=${server_dir:-$src_root/build/s3-server}

skip() { echo "s3-fixture: SKIP: $*" >&2; exit 77; }
die() { echo "s3-fixture: $*" >&2; exit 1; }

state_dir() {
  if [ -z "${S3FIX_DIR:-}" ]; then
    local base=${build_root:+$build_root/tests/s3}
    base=${base:-/tmp}
    mkdir -p "$base"
    S3FIX_DIR=$(mktemp -d "$base/s3fix.XXXXXX")
    made_dir=1
  fi
  mkdir -p "$S3FIX_DIR/data"
  export S3FIX_DIR
}

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

free_port() {
  node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"
}

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

start_proxy() {
  command -v python3 >/dev/null || skip "python3 is needed for the fault-injecting proxy"
  local pf=$S3FIX_DIR/proxy.pid
  if alive "$pf" && [ -f "$S3FIX_DIR/proxy.port" ] && listening "$(cat "$S3FIX_DIR/proxy.port")"; then
    return 0
  fi
  local pport=${S3FIX_PROXY_PORT:-$(cat "$S3FIX_DIR/proxy.port" 2>/dev/null || free_port)}
  setsid python3 "$here/fault-proxy.py" --listen "$pport" --upstream "127.0.0.1:$port" \
    </dev/null >"$S3FIX_DIR/proxy.log" 2>&1 &
  echo $! >"$pf"
  echo "$pport" >"$S3FIX_DIR/proxy.port"
  for _ in $(seq 1 100); do listening "$pport" && break; sleep 0.05; done
  listening "$pport" || { cat "$S3FIX_DIR/proxy.log" >&2; die "the fault proxy did not start"; }
}

do_start() {
  command -v node >/dev/null && command -v npm >/dev/null ||
    skip "node and npm are needed for the test S3 server (apt-get install nodejs npm)"
  launcher=$("$src_root/scripts/setup-s3-deps.sh" --npm-only "$server_dir" | tail -1)
  [ -n "$launcher" ] && [ -f "$launcher" ] ||
    skip "the S3 test server package could not be installed into $server_dir (no npm registry?)"
  state_dir
  local pf=$S3FIX_DIR/server.pid
  port=${S3FIX_PORT:-$(cat "$S3FIX_DIR/port" 2>/dev/null || true)}
  if [ -n "$port" ] && alive "$pf" && listening "$port"; then
    : # reuse the live server
  else
    [ -n "$port" ] || port=$(free_port)
    [ -n "$port" ] || die "no free port"
    # the server makes ListObjectsV2 continuation tokens with DES, which OpenSSL 3 keeps in
    # its legacy provider
    local legacy=""
    node --openssl-legacy-provider -e 0 2>/dev/null && legacy=--openssl-legacy-provider
    setsid node $legacy "$launcher" -d "$S3FIX_DIR/data" -a 127.0.0.1 -p "$port" --silent \
      --configure-bucket "$bucket" </dev/null >"$S3FIX_DIR/server.log" 2>&1 &
    echo $! >"$pf"
    for _ in $(seq 1 200); do listening "$port" && break; sleep 0.05; done
    listening "$port" || { cat "$S3FIX_DIR/server.log" >&2; die "the S3 server did not start on port $port"; }
  fi
  echo "$port" >"$S3FIX_DIR/port"
  : >"$S3FIX_DIR/aws-config"
  : >"$S3FIX_DIR/aws-credentials"
  local proxy_line=""
  if [ "${S3FIX_PROXY:-0}" = 1 ]; then
    start_proxy
    proxy_line="export S3FIX_PROXY_URL=http://127.0.0.1:$(cat "$S3FIX_DIR/proxy.port")"
  fi
  cat >"$S3FIX_DIR/env" <<EOF
export S3FIX_DIR='$S3FIX_DIR'
export S3FIX_SCRIPT='$here/s3-fixture.sh'
export S3FIX_PORT=$port
export S3FIX_BUCKET='$bucket'
export S3FIX_ENDPOINT=http://127.0.0.1:$port
export S3FIX_PID=$(cat "$pf")
export MFLOW_S3_ENDPOINT_URL=http://127.0.0.1:$port
export AWS_ACCESS_KEY_ID=S3RVER
export AWS_SECRET_ACCESS_KEY=S3RVER
export AWS_REGION=us-east-1
export AWS_DEFAULT_REGION=us-east-1
export AWS_CONFIG_FILE='$S3FIX_DIR/aws-config'
export AWS_SHARED_CREDENTIALS_FILE='$S3FIX_DIR/aws-credentials'
export AWS_EC2_METADATA_DISABLED=true
export AWS_PAGER=
$proxy_line
EOF
  echo "endpoint=http://127.0.0.1:$port bucket=$bucket pid=$(cat "$pf") dir=$S3FIX_DIR${proxy_line:+ proxy=${proxy_line#*=}}"
}

stop_pidfile() {
  local pf=$1
  [ -f "$pf" ] || return 0
  local p
  p=$(cat "$pf")
  if kill "$p" 2>/dev/null; then
    for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
    kill -9 "$p" 2>/dev/null || true
  fi
  rm -f "$pf"
}

do_stop() {
  [ -n "${S3FIX_DIR:-}" ] || die "stop: set S3FIX_DIR to the directory that start used"
  stop_pidfile "$S3FIX_DIR/proxy.pid"
  stop_pidfile "$S3FIX_DIR/server.pid"
  echo "stopped"
}

do_mb() {
  local name=$1
  [ -n "${S3FIX_DIR:-}" ] && [ -f "$S3FIX_DIR/env" ] || die "mb: start the server first (S3FIX_DIR)"
  # shellcheck disable=SC1091
  . "$S3FIX_DIR/env"
  if command -v curl >/dev/null; then
    local code
    # credentials go to curl on stdin, never on its command line
    code=$(printf 'user = "%s:%s"\n' "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" |
      curl -sS -K - -o /dev/null -w '%{http_code}' -X PUT --aws-sigv4 "aws:amz:us-east-1:s3" \
        -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$S3FIX_ENDPOINT/$name")
    [ "$code" = 200 ] || die "mb $name: HTTP $code"
  elif [ -x /usr/bin/aws ]; then
    /usr/bin/aws --endpoint-url "$S3FIX_ENDPOINT" s3 mb "s3://$name" >/dev/null
  else
    die "mb: needs curl or the AWS CLI"
  fi
}

case "${1:-}" in
  start) do_start ;;
  stop) do_stop ;;
  mb) shift; do_mb "$@" ;;
  run)
    shift
    [ $# -gt 0 ] || die "run: give a command"
    made_dir=0
    state_dir
    out=$(do_start) || {
      status=$?
      [ "$made_dir" = 1 ] && rm -rf "$S3FIX_DIR"
      exit $status
    }
    echo "s3-fixture: $out" >&2
    # shellcheck disable=SC1091
    . "$S3FIX_DIR/env"
    # the servers run in their own sessions: stop them however this script ends (a test
    # harness's timeout sends TERM)
    child=""
    trap '[ -n "$child" ] && kill "$child" 2>/dev/null; do_stop >/dev/null 2>&1; exit 143' TERM INT HUP
    "$@" &
    child=$!
    wait "$child"
    status=$?
    trap - TERM INT HUP
    do_stop >/dev/null
    [ $status = 0 ] && [ "${S3FIX_KEEP:-0}" != 1 ] && rm -rf "$S3FIX_DIR"
    exit $status
    ;;
  *) echo "usage: $0 start|stop|mb NAME|run CMD..." >&2; exit 64 ;;
esac
