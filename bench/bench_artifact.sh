#!/bin/bash
# A 1 GiB incompressible artifact: write and read throughput inside the task, and the task's
# peak RSS against the artifact's size.   bench/bench_artifact.sh BUILD_DIR [SIZE_MB]
# This disk's write speed varies a lot from minute to minute, so the same bytes are also
# written raw (bench/write_floor.c: no hashing, no mflow) to the same datastore directory just
# before and just after the run; their mean is the floor the artifact write is compared with.
set -euo pipefail
BUILD=${1:-build}
MB=${2:-1024}
HERE=$(cd "$(dirname "$0")" && pwd)
export MFLOW_HOME=$(mktemp -d "${TMPDIR:-/tmp}"/mflow-bench.XXXXXX)
trap 'rm -rf "$MFLOW_HOME"' EXIT
DS="$MFLOW_HOME/datastore"
mkdir -p "$DS"
floor1=$("$BUILD/bench/write_floor" "$DS" "$MB")
out=$("$BUILD/core/mflow" run "$HERE/flows/big_artifact.c" --size_mb="$MB" 2>&1)
floor2=$("$BUILD/bench/write_floor" "$DS" "$MB")
python3 - "$out" "$floor1" "$floor2" <<'PY'
import re, sys
out, f1, f2 = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
w = re.search(r"write (\d+) MB/s rss (\d+) MB size (\d+)", out)
r = re.search(r"read (\d+) MB/s rss (\d+) MB size (\d+)", out)
if not w or not r:
    sys.exit("benchmark run failed:\n" + out)
size = int(w.group(3))
floor = (f1 + f2) / 2
print(f"{'measure (%d MiB incompressible artifact)' % size:<52} {'value':>10} {'target':>10}")
print(f"{'write (task with cpu = 2), MB/s':<52} {w.group(1):>10} {'>= 500':>10}")
print(f"{'raw write of the same size, same disk and minute, MB/s':<52} {floor:>10.0f} {'':>10}")
print(f"{'write / raw write':<52} {int(w.group(1)) / floor:>10.2f} {'':>10}")
print(f"{'read (hash-verified), MB/s':<52} {r.group(1):>10} {'>= 1000':>10}")
print(f"{'peak RSS of the writing task / artifact':<52} {int(w.group(2))/size:>10.2f} {'<= 1.2':>10}")
print(f"{'peak RSS of the reading task / artifact':<52} {int(r.group(2))/size:>10.2f} {'<= 1.2':>10}")
print(f"(raw write just before the run {f1} MB/s, just after {f2} MB/s)")
PY
