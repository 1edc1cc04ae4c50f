#!/bin/bash
# Run every meson suite (or those named: tests/run.sh unit e2e) and print the totals as
# "N passed, N failed, N skipped". Exit non-zero when a test failed.
# With MFLOW_SANITIZER_LOGS=DIR (make test-asan), the sanitizers' reports of every process
# are files in DIR: each is printed, and any report fails the run even when no test noticed
# (a task's or a child's report can end in output a test discards).
set -u
BUILD=${BUILD:-build}
# MFLOW_TEST_SKIP_SUITES="a b": the tests of those suites are left out (make test-asan).
suites=()
for s in "$@"; do suites+=(--suite "$s"); done
for s in ${MFLOW_TEST_SKIP_SUITES:-}; do suites+=(--no-suite "$s"); done
# python3 itself first on PATH, not a version manager's shim: a pyenv shim runs bash scripts to
# pick the interpreter at each start (0.5 CPU-s against 0.05 here), and the tests start python3
# thousands of times (their checks, and mflow for each Python flow and task). It is the same
# interpreter the shim picks (its sys.executable), so nothing else changes.
py=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null)
shim=$(command -v python3)
if [ -n "$py" ] && [ "$shim" != "$py" ] && mkdir -p "$BUILD/test-python" &&
   ln -sfn "$py" "$BUILD/test-python/python3"; then
    PATH="$(cd "$BUILD/test-python" && pwd):$PATH"
    export PATH
    echo "tests/run.sh: python3 is $py, not $shim"
fi
# One test more than the cores: many tests wait (cron's minute, Slurm's time limit, the API
# stand-in's polls) and would leave a core idle (CI on 2 cores: 65% of its CPU time used at 2).
jobs=${MFLOW_TEST_JOBS:-$(($(nproc) + 1))}
meson test -C "$BUILD" --print-errorlogs --num-processes "$jobs" "${suites[@]}"
rc=$?
if [ -n "${MFLOW_SANITIZER_LOGS:-}" ]; then
    n=0
    for f in "$MFLOW_SANITIZER_LOGS"/*; do
        [ -f "$f" ] || continue
        # Warnings alone (e.g. a stack switch ASan notes) are not reports; a sanitizer's own
        # fatal error (LSan's tracer faulting) is one.
        grep -qE 'ERROR: [A-Za-z]+Sanitizer|runtime error:|Sanitizer has encountered a fatal error' "$f" || continue
        n=$((n + 1))
        echo "=== sanitizer report: $f"
        head -n 80 "$f"   # the first frames say where; the file has the rest
    done
    echo "sanitizer reports: $n (in $MFLOW_SANITIZER_LOGS)"
    [ "$n" = 0 ] || rc=1
fi
python3 - "$BUILD/meson-logs/testlog.json" <<'PY'
import json, sys
p = f = s = 0
for line in open(sys.argv[1]):
    r = json.loads(line)["result"]
    if r in ("OK", "EXPECTEDFAIL"): p += 1
    elif r == "SKIP": s += 1
    else: f += 1
print(f"{p} passed, {f} failed, {s} skipped")
PY
exit $rc
