#!/bin/bash
# Run every fuzz target (or those named: tests/fuzz/run.sh record codec) for FUZZ_SECONDS
# each (default 600), from its seed corpus, with its dictionary when it has one. New inputs
# go to a scratch corpus under the build dir, never into the repository; a crash, a hang
# (FUZZ_TIMEOUT seconds, default 10, for one input) or a sanitizer report stops that target
# and leaves its input as BUILD/fuzz-out/<target>/crash-* (or timeout-*, leak-*). Prints a
# line per target: runs, execs/s, coverage, outcome. Exit 1 when any target found something.
#   BUILD        the fuzzing build (default build-fuzz: CC=clang, -Dfuzz=true,
#                -Db_sanitize=address,undefined; `make fuzz` configures it)
#   FUZZ_JOBS    targets run at once (default 1; make fuzz-smoke runs 2)
set -u
here=$(cd "$(dirname "$0")" && pwd)
BUILD=${BUILD:-build-fuzz}
secs=${FUZZ_SECONDS:-600}
tmo=${FUZZ_TIMEOUT:-10}
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in "$here"/fuzz_*.c; do
    n=$(basename "$f" .c); targets+=("${n#fuzz_}")
  done
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:allocator_may_return_null=1:quarantine_size_mb=64}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
jobs=${FUZZ_JOBS:-1}
for t in "${targets[@]}"; do
  if [ ! -x "$BUILD/tests/fuzz/fuzz_$t" ]; then
    echo "fuzz: no $BUILD/tests/fuzz/fuzz_$t; build it first (make fuzz builds $BUILD)" >&2
    exit 2
  fi
done

# one target: its line of the table goes to $out/line, its outcome to $out/failed
fuzz_one() {
  local t=$1 bin="$BUILD/tests/fuzz/fuzz_$1" out="$BUILD/fuzz-out/$1" dict=() rc runs rate cov found what
  rm -rf "$out"; mkdir -p "$out/corpus"
  [ -f "$here/$t.dict" ] && dict=(-dict="$here/$t.dict")
  # -close_fd_mask=2: what a target's code prints (the commands' messages) is dropped;
  # libFuzzer's and the sanitizers' reports still reach the log
  "$bin" -max_total_time="$secs" -timeout="$tmo" -rss_limit_mb=2048 -max_len=65536 \
    -close_fd_mask=2 -print_final_stats=1 -artifact_prefix="$out/" "${dict[@]}" \
    "$out/corpus" "$here/corpus/$t" >"$out/log" 2>&1
  rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$out/log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$out/log" | tail -1 | cut -d' ' -f2)
  found=$(cd "$out" && ls crash-* timeout-* leak-* oom-* slow-unit-* 2>/dev/null | tr '\n' ' ')
  if [ $rc -ne 0 ] || [ -n "$found" ]; then
    what="FOUND ${found:-rc $rc} (log: $out/log)"
    touch "$out/failed"
  else
    what=ok
  fi
  printf '%-16s %10s %10s %8s  %s\n' "$t" "${runs:-0}" "${rate:-0}" "${cov:-?}" "$what" >"$out/line"
}

# FUZZ_JOBS targets at once (each libFuzzer process uses one core); lines printed in order
running=0
for t in "${targets[@]}"; do
  if [ "$running" -ge "$jobs" ]; then wait -n; running=$((running - 1)); fi
  fuzz_one "$t" &
  running=$((running + 1))
done
wait
fail=0
printf '%-16s %10s %10s %8s  %s\n' target runs execs/s cov outcome
for t in "${targets[@]}"; do
  out="$BUILD/fuzz-out/$t"
  cat "$out/line" 2>/dev/null || { echo "$t: no result (log: $out/log)"; fail=1; }
  [ -e "$out/failed" ] && fail=1
done
exit $fail
