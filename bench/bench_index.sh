#!/bin/bash
# Inspection speed over a big index, as a table (best of 5 of each command, wall clock,
# output to /dev/null):
#   `mflow runs` over 10,000 runs           target < 50 ms
#   `mflow inspect` of a 10,000-task run     target < 200 ms
# plus the step and task views, --json, and a full `mflow reindex`.
#   bench/bench_index.sh BUILD_DIR [N_RUNS] [N_TASKS]
# The runs and the big run are written straight to the datastore and the index by
# bench_index_fill (the runtime's formats, without running 10,000 processes). BENCH_REAL=1
# makes the big run with the mflow binary instead (a trivial foreach; ~20 s here).
set -euo pipefail
BUILD=${1:-build}
NR=${2:-10000}
NT=${3:-10000}
HERE=$(cd "$(dirname "$0")" && pwd)
MFLOW=$BUILD/core/mflow
FILL=$BUILD/bench/bench_index_fill
export MFLOW_HOME=$(mktemp -d "${TMPDIR:-/tmp}"/mflow-bench-index.XXXXXX)
unset MFLOW_NAMESPACE MFLOW_DATASTORE_ROOT MFLOW_STORAGE
trap 'rm -rf "$MFLOW_HOME"' EXIT

t0=$(date +%s.%N)
"$FILL" "$MFLOW_HOME" runs "$NR"
t1=$(date +%s.%N)
if [ "${BENCH_REAL:-0}" = 1 ]; then
  "$MFLOW" run "$HERE/flows/trivial_foreach.c" --n="$NT" --run-id-file "$MFLOW_HOME/rid" \
    >/dev/null 2>&1
  BIG="TrivialForeach/$(cat "$MFLOW_HOME/rid")"
  ART=n
  ITEM=$("$MFLOW" inspect "$BIG" --json | python3 -c \
    'import json,sys; print(max(json.load(sys.stdin)["steps"], key=lambda s: s["tasks"])["name"])')
else
  "$FILL" "$MFLOW_HOME" tasks "$NT"
  BIG=BenchTasks/1
  ITEM=item
  ART=sq
fi
t2=$(date +%s.%N)
MID=$("$MFLOW" inspect "$BIG/$ITEM" --json | python3 -c \
  'import json,sys; t=json.load(sys.stdin)["tasks"]; print(t[len(t)//2]["task_id"])')

python3 - "$MFLOW" "$NR" "$NT" "$BIG" "$ITEM" "$MID" "$ART" "$t0" "$t1" "$t2" <<'PY'
import subprocess, sys, time
mflow, nr, nt, big, item, mid, art = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), *sys.argv[4:8]
t0, t1, t2 = map(float, sys.argv[8:11])

def best(args, n=5):
    times = []
    for _ in range(n):
        a = time.perf_counter()
        p = subprocess.run([mflow] + args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        times.append((time.perf_counter() - a) * 1000)
        if p.returncode != 0:
            sys.exit(f"mflow {' '.join(args)} failed: {p.stderr.decode()}")
    return min(times)

rows = [
    (f"runs BenchRuns ({nr} runs)", best(["runs", "BenchRuns"]), 50),
    (f"runs BenchRuns --json", best(["runs", "BenchRuns", "--json"]), None),
    (f"runs BenchRuns --tag odd (half of them)", best(["runs", "BenchRuns", "--tag", "odd"]), None),
    (f"inspect {big} ({nt} tasks)", best(["inspect", big]), 200),
    (f"inspect {big} --json", best(["inspect", big, "--json"]), 200),
    (f"inspect {big}/{item} ({nt} task lines)", best(["inspect", f"{big}/{item}"]), None),
    (f"inspect {big}/{item}/{mid}", best(["inspect", f"{big}/{item}/{mid}"]), None),
    (f"get {big}/{item}/{mid} {art}", best(["get", f"{big}/{item}/{mid}", art]), None),
    ("mflow --version (process floor)", best(["--version"]), None),
    (f"reindex ({nr + 1} runs, {nt + 3} tasks)", best(["reindex"], 3), None),
]
print(f"{'command (best of 5; reindex best of 3)':<52} {'ms':>9} {'target':>8}")
for name, ms, target in rows:
    verdict = "" if target is None else (f"<{target} ok" if ms < target else f"<{target} SLOW")
    print(f"{name:<52} {ms:>9.1f} {verdict:>8}")
print(f"{'(setup: write %d runs, s)' % nr:<52} {t1 - t0:>9.2f}")
print(f"{'(setup: write the %d-task run, s)' % nt:<52} {t2 - t1:>9.2f}")
PY
