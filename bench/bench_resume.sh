#!/bin/bash
# Resume of a 1000-task foreach run whose join failed: how long the clone phase takes.
#   bench/bench_resume.sh BUILD_DIR [N]
set -euo pipefail
BUILD=${1:-build}
N=${2:-1000}
SRC=$(cd "$(dirname "$0")/.." && pwd)
export MFLOW_HOME=$(mktemp -d "${TMPDIR:-/tmp}"/mflow-bench.XXXXXX)
trap 'rm -rf "$MFLOW_HOME"' EXIT
F=$SRC/tests/e2e/flows/resumable.c
FAIL_JOIN=1 "$BUILD/core/mflow" run "$F" --n="$N" > "$MFLOW_HOME/run.log" 2>&1 && { echo "the run should fail"; exit 1; }
out=$("$BUILD/core/mflow" resume "$F" 2>&1 | tail -1)
python3 - "$N" "$out" <<'PY'
import re, sys
n, out = int(sys.argv[1]), sys.argv[2]
m = re.search(r"\((\d+) cloned in ([0-9.]+) s\).*?([0-9.]+) s$", out)
if not m:
    sys.exit("resume failed: " + out)
print(f"{'measure (resume of a %d-task foreach, failed join)' % n:<52} {'value':>8} {'target':>8}")
print(f"{'tasks cloned':<52} {m.group(1):>8}")
print(f"{'clone phase (s)':<52} {float(m.group(2)):>8.2f} {'< 1':>8}")
print(f"{'whole resumed run (s)':<52} {float(m.group(3)):>8.2f}")
PY
