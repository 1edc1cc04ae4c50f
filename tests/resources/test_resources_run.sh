#!/bin/bash
# resources = {.cpu, .memory_mb, .gpu} on real runs: disjoint CPUs, a memory limit that
# names itself, GPUs placed from an XML topology, admission that serialises, and refusals
# before the run.
. "$MFLOW_TEST_SOURCE_ROOT/tests/e2e/lib.sh"
HERE=$SRC/tests/resources
XML=$HERE/topo-2numa-4gpu.xml
mkdir -p "$WORK/m1" "$WORK/m2" "$WORK/m3"

# Two concurrent cpu = 1 tasks on this machine: one CPU each, not the same one.
if [ "$(nproc)" -ge 2 ]; then
  run_flow "$HERE/flows/affinity.c" --dir="$WORK/m1" || fail "affinity run: $OUT"
  check_eq "a and b ran at the same time" "1 1" \
    "$(mflow get AffinityFlow/$RUN/a overlapped) $(mflow get AffinityFlow/$RUN/b overlapped)"
  ca=$(mflow get AffinityFlow/$RUN/a cpus); cb=$(mflow get AffinityFlow/$RUN/b cpus)
  check_eq "a is bound to one CPU" 1 "$(echo "$ca" | tr ',' '\n' | grep -c .)"
  check_eq "b is bound to one CPU" 1 "$(echo "$cb" | tr ',' '\n' | grep -c .)"
  check_eq "a and b are on different CPUs" 1 "$([ "$ca" != "$cb" ] && echo 1 || echo 0)"
  check_eq "a was told its CPU" "$ca" "$(mflow get AffinityFlow/$RUN/a told)"
else
  echo "skip: one CPU here, no two tasks run at once"
fi

# Past memory_mb: the run fails and says which limit. With a memory cgroup (root with
# cgroup v1, or a delegated v2) the kernel stops the task and mflow names the limit; with
# the RLIMIT_DATA fallback the allocation fails inside the task, which says so itself, and
# mflow has warned which mechanism is in force.
run_fails "allocating past memory_mb fails" 1 "" mflow run "$HERE/flows/memory.c" --mb=256
case "$OUT" in
  *"enforced with RLIMIT_DATA"*)
    check_contains "fallback: the task's allocation failed" "could not allocate 256 MB" "$OUT" ;;
  *)
    check_contains "the message names the limit" "exceeded its memory limit of 64 MB (resources.memory_mb" "$OUT"
    check_contains "the message says what to raise" "raise resources.memory_mb" "$OUT" ;;
esac
run_flow "$HERE/flows/memory.c" --mb=16 || fail "16 MB within 64 MB: $OUT"
check_eq "within the limit" 16 "$(mflow get MemoryFlow/$RUN/hog touched_mb)"

# GPUs from the XML fixture: four gpu = 1 tasks at once get four different GPUs.
HWLOC_XMLFILE=$XML run_flow "$HERE/flows/gpus.c" --dir="$WORK/m2" --max-workers 4 || fail "gpu run: $OUT"
check_eq "the four shards ran together" 1 "$(mflow get GpuFlow/$RUN/gather together)"
check_eq "each shard had its own GPU" "0 1 2 3" \
  "$(mflow get GpuFlow/$RUN/gather all | tr ' ' '\n' | grep . | sort | paste -sd' ')"

# Asking for GPUs a machine does not have: refused before anything runs.
HWLOC_SYNTHETIC="numa:2 core:4 pu:2" run_fails "4 GPUs on a machine without" 1 \
  "step 'train' asks for 4 GPUs but this machine has 0 (hwloc found none); run it on a GPU machine or with --compute=slurm" \
  mflow run "$HERE/flows/toobig.c" --dir="$WORK/m3"
check_eq "nothing ran" 0 "$([ -e "$WORK/m3/started" ] && echo 1 || echo 0)"
HWLOC_SYNTHETIC="core:1 pu:1" run_fails "2 cpu on a machine of 1" 1 \
  "step 'train' asks for 2 cpu but this machine has 1 CPUs" mflow run "$HERE/flows/toobig.c" --dir="$WORK/m3"

# Admission: three cpu = 2 branches on a 2-core machine run one after another, even though
# the host hands the plugin two at a time.
HWLOC_SYNTHETIC="core:2 pu:1" run_flow "$HERE/flows/serial.c" --max-workers 3 || fail "serial run: $OUT"
spans=$(for s in a b c; do echo "$(mflow get SerialFlow/$RUN/$s t0) $(mflow get SerialFlow/$RUN/$s t1)"; done)
overlap=$(python3 -c '
import sys
s = sorted(tuple(map(float, l.split())) for l in sys.stdin.read().strip().splitlines())
print(int(any(s[i][1] > s[i + 1][0] for i in range(len(s) - 1))))' <<<"$spans")
check_eq "cpu = 2 tasks never overlapped on 2 cores" 0 "$overlap"
finish
