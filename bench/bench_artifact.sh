#!/bin/bash
# A 1 GiB incompressible artifact: write and read throughput inside the task, and the task's
# peak RSS against the artifact's size.   bench/bench_artifact.sh BUILD_DIR [SIZE_MB]
set -euo pipefail
BUILD=${1:-build}
MB=${2:-1024}
HERE=$(cd "$(dirname "$0")" && pwd)
export MFLOW_HOME=$(mktemp -d /tmp/mflow-bench.XXXXXX)
trap 'rm -rf "$MFLOW_HOME"' EXIT
out=$("$BUILD/core/mflow" run "$HERE/flows/big_artifact.c" --size_mb="$MB" 2>&1)
python3 - "$out" <<'PY'
import re, sys
out = sys.argv[1]
w = re.search(r"write (\d+) MB/s rss (\d+) MB size (\d+)", out)
r = re.search(r"read (\d+) MB/s rss (\d+) MB size (\d+)", out)
if not w or not r:
    sys.exit("benchmark run failed:\n" + out)
size = int(w.group(3))
print(f"{'measure (%d MiB incompressible artifact)' % size:<44} {'value':>10} {'target':>10}")
print(f"{'write, MB/s':<44} {w.group(1):>10} {'>= 500':>10}")
print(f"{'read (hash-verified), MB/s':<44} {r.group(1):>10} {'>= 1000':>10}")
print(f"{'peak RSS of the writing task / artifact':<44} {int(w.group(2))/size:>10.2f} {'<= 1.2':>10}")
print(f"{'peak RSS of the reading task / artifact':<44} {int(r.group(2))/size:>10.2f} {'<= 1.2':>10}")
PY
