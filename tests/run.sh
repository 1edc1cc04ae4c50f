#!/bin/bash
# Run every meson suite (or those named: tests/run.sh unit e2e) and print the totals as
# "N passed, N failed, N skipped". Exit non-zero when a test failed.
set -u
BUILD=${BUILD:-build}
suites=()
for s in "$@"; do suites+=(--suite "$s"); done
meson test -C "$BUILD" --print-errorlogs --num-processes "${MFLOW_TEST_JOBS:-2}" "${suites[@]}"
rc=$?
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
