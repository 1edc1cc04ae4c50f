# Shared helpers for the e2e suite: each test gets its own MFLOW_HOME and work dir.
set -u
MFLOW=${MFLOW_BIN:?MFLOW_BIN is not set (run through meson test)}
SRC=${MFLOW_TEST_SOURCE_ROOT:?}
FLOWS=$SRC/tests/e2e/flows
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mflow-e2e.XXXXXX")
export MFLOW_HOME=$WORK/home
unset MFLOW_DATASTORE_ROOT MFLOW_NAMESPACE MFLOW_COMPUTE MFLOW_STORAGE
trap 'rm -rf "$WORK"' EXIT
FAILS=0
CHECKS=0

mflow() { "$MFLOW" "$@"; }

# need_strace: a test that counts system calls skips (77) without a working strace, and in a
# sanitized build, where LeakSanitizer refuses to run under ptrace (each traced process would
# end in its fatal error).
need_strace() {
  if ! command -v strace >/dev/null 2>&1 || ! strace -f -o /dev/null true 2>/dev/null; then
    echo "strace is missing or cannot trace here (ptrace refused): install strace to run this test"
    exit 77
  fi
  if [ -n "${MFLOW_TEST_SANITIZE:-}" ]; then
    echo "SKIP: a $MFLOW_TEST_SANITIZE build: LeakSanitizer does not run under strace"
    exit 77
  fi
}

fail() { echo "FAIL: $*" >&2; FAILS=$((FAILS + 1)); }

# check_eq WHAT EXPECTED ACTUAL
check_eq() {
  CHECKS=$((CHECKS + 1))
  if [ "$2" != "$3" ]; then fail "$1: expected [$2], got [$3]"; else echo "ok: $1"; fi
}

# check_contains WHAT NEEDLE HAYSTACK
check_contains() {
  CHECKS=$((CHECKS + 1))
  case "$3" in
    *"$2"*) echo "ok: $1" ;;
    *) fail "$1: [$2] not found in: $3" ;;
  esac
}

# run_ok WHAT CMD...: the command exits 0 (its output kept in $OUT)
run_ok() {
  local what=$1; shift
  CHECKS=$((CHECKS + 1))
  if OUT=$("$@" 2>&1); then echo "ok: $what"; else fail "$what: exit $? from $*: $OUT"; fi
}

# run_fails WHAT CODE NEEDLE CMD...: exits with CODE and says NEEDLE
run_fails() {
  local what=$1 code=$2 needle=$3; shift 3
  CHECKS=$((CHECKS + 1))
  OUT=$("$@" 2>&1); local rc=$?
  if [ "$rc" != "$code" ]; then fail "$what: expected exit $code, got $rc: $OUT"; return; fi
  case "$OUT" in
    *"$needle"*) echo "ok: $what" ;;
    *) fail "$what: message [$needle] not in: $OUT" ;;
  esac
}

# run_flow FILE ARGS...: run it, set RUN to the run id
run_flow() {
  local f=$1; shift
  RUN=
  OUT=$(mflow run "$f" --run-id-file "$WORK/runid" "$@" 2>&1); local rc=$?
  RUN=$(cat "$WORK/runid" 2>/dev/null)
  return $rc
}

finish() {
  echo "$CHECKS checks, $FAILS failed"
  [ "$CHECKS" -gt 0 ] && [ "$FAILS" -eq 0 ]
}
