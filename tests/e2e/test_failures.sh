#!/bin/bash
# Failing, crashing, retried and timed-out steps.
. "$(dirname "$0")/lib.sh"
F=$FLOWS/failing.c

run_fails "mf_fail fails the run" 1 "bad input 42" mflow run "$F" --mode=fail
check_contains "failure names the task" "FailingFlow/" "$OUT"
check_contains "retry was attempted" "retrying" "$OUT"
# once: the local plugin's reason says how the process ended, as the message does
said_once() {
  CHECKS=$((CHECKS + 1))
  case "$OUT" in
    *"$2: $2"* | *"$2 without a task record: $2"*) fail "$1: said twice: $OUT" ;;
    *) echo "ok: $1" ;;
  esac
}
run_fails "segfault names the signal" 1 "crashed: killed by signal 11 (Segmentation fault)" mflow run "$F" --mode=segv
said_once "the signal said once" "killed by signal 11 (Segmentation fault)"
run_fails "abort names the signal" 1 "signal 6" mflow run "$F" --mode=abort
run_fails "exit code reported" 1 "exited with code 3" mflow run "$F" --mode=exit
said_once "the exit code said once" "exited with code 3"
run_fails "missing artifact named" 1 "no artifact 'nope'" mflow run "$F" --mode=missing
run_fails "wrong type named" 1 "artifact 'ok' is i64, not str" mflow run "$F" --mode=wrongtype
run_fails "a negative count named" 1 "mf_set_i64v('v') with a count of 18446744073709551611 values (-5 as a signed number" \
  mflow run "$F" --mode=negcount
run_fails "NULL values named" 1 "mf_set_f64v('v') with NULL values and a count of 3" mflow run "$F" --mode=nullvec
run_fails "NULL strings named" 1 "mf_set_strv('v') with NULL values and a count of 2" mflow run "$F" --mode=nullstrv
start=$(date +%s)
run_fails "timeout" 1 "timed out after 2 s" mflow run "$F" --mode=sleep
took=$(( $(date +%s) - start ))
check_eq "timeout kills promptly (both attempts within 15 s)" 1 "$([ $took -lt 15 ] && echo 1 || echo 0)"

run_flow "$F" --mode=flaky || fail "flaky should succeed on retry: $OUT"
check_eq "second attempt's value" 1 "$(mflow get FailingFlow/$RUN/end done)"
check_contains "first attempt's failure shown" "first attempt fails" "$OUT"

# A corrupt blob is an error, never a wrong value.
run_flow "$SRC/examples/hello.c" --name=corruptme || fail "hello: $OUT"
blob=$(grep -rl "hello, corruptme" "$MFLOW_HOME/datastore/blobs" | head -1)
check_eq "found the greeting blob" 1 "$([ -n "$blob" ] && echo 1 || echo 0)"
python3 - "$blob" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, 'rb').read())
i = b.find(b'corruptme')
b[i] ^= 0x20
open(p, 'wb').write(bytes(b))
PY
run_fails "flipped byte detected" 1 "corrupt" mflow get HelloFlow/$RUN/end greeting
finish
