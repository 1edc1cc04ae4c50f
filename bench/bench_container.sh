#!/bin/bash
# Per-task overhead of container compute against the engine's own floor, printed as a table:
# a foreach of N trivial tasks with --compute=container (one at a time), beside
# `podman run --rm IMAGE /bin/true` N times in the same run, the same tasks with local compute
# and the spawn/fork floors. Uses the private podman and image of tests/container/fixture.sh
# (under BUILD_DIR/tests/container/ct).
#   bench/bench_container.sh BUILD_DIR [N]
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)
N=${2:-10}
HERE=$(cd "$(dirname "$0")" && pwd)
MFLOW=$BUILD/core/mflow
export MFLOW_TEST_BUILD_ROOT=$BUILD MFLOW_TEST_SOURCE_ROOT=$(dirname "$HERE")
set +u
. "$MFLOW_TEST_SOURCE_ROOT/tests/container/fixture.sh"
set -u
export MFLOW_HOME=$(mktemp -d "${TMPDIR:-/tmp}/mflow-bench.XXXXXX")
trap 'rm -rf "$MFLOW_HOME"' EXIT
export MFLOW_CONTAINER_ROOT=$ENGINE_ROOT MFLOW_CONTAINER_RUNROOT=$ENGINE_RUNROOT
export MFLOW_CONTAINER_CONTAINERS_CONF=$CONTAINERS_CONF MFLOW_CONTAINER_IMAGE=$IMAGE

now() { date +%s.%N; }
floor1=$("$BUILD/bench/spawn_floor" 200 1)
floorf=$("$BUILD/bench/spawn_floor" 200 1 fork)
"$MFLOW" run "$HERE/flows/trivial_foreach.c" --n=2 >/dev/null 2>&1   # compile once
podman run --rm "$IMAGE" /bin/true                                    # warm the engine
a=$(now); "$MFLOW" run "$HERE/flows/trivial_foreach.c" --n="$N" --max-workers 1 >/dev/null 2>&1; b=$(now)
local_s=$(python3 -c "print($b - $a)")
eng=(); ct=()
for r in 1 2 3; do   # interleaved, so that both see the same load on this shared machine
  a=$(now); for _ in $(seq "$N"); do podman run --rm --network host "$IMAGE" /bin/true; done; b=$(now)
  eng+=("$(python3 -c "print($b - $a)")")
  a=$(now)
  "$MFLOW" --compute=container run "$HERE/flows/trivial_foreach.c" --n="$N" --max-workers 1 >/dev/null 2>&1
  b=$(now)
  ct+=("$(python3 -c "print($b - $a)")")
done
python3 - "$N" "$floor1" "$floorf" "$local_s" "${eng[@]}" "${ct[@]}" <<'PY'
import sys
n, f1, ff, loc = int(sys.argv[1]), *map(float, sys.argv[2:5])
eng = sorted(float(x) for x in sys.argv[5:8])
ct = sorted(float(x) for x in sys.argv[8:11])
tasks = n + 3   # start, the n splits, join, end
e = eng[1] * 1000 / n
c = ct[1] * 1000 / tasks
print(f"{'measure (one at a time, median of 3)':<52} {'value':>10}")
print(f"{'podman run --rm IMAGE /bin/true (ms)':<52} {e:>10.1f}")
print(f"{'container compute, per task of a %d-way foreach (ms)' % n:<52} {c:>10.1f}")
print(f"{'  ratio to podman run --rm /bin/true':<52} {c / e:>10.2f}")
print(f"{'  fastest / slowest run per task (ms)':<52} {ct[0] * 1000 / tasks:>5.0f}/{ct[2] * 1000 / tasks:.0f}")
print(f"{'local compute, per task, same flow (ms)':<52} {loc * 1000 / tasks:>10.2f}")
print(f"{'spawn+reap /bin/true (ms)':<52} {f1:>10.3f}")
print(f"{'fork+_exit+reap (ms)':<52} {ff:>10.3f}")
PY
