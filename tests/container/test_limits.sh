#!/bin/bash
# Resources become the engine's limits: the CPU quota and memory limit are visible inside the
# container; a task over its memory limit fails with the engine's OOMKilled and the limit named.
. "$(dirname "$0")/lib.sh"
export MFLOW_CONTAINER_PASS_ENV=HOG_MB
F=$CFLOWS/limits.c

HOG_MB=8 run_cflow "$F" || fail "limits run: $OUT"
check_eq "cpu = 2: CFS quota of two periods" 200000 "$(mflow get LimitsFlow/$RUN/start quota)"
check_eq "cpu = 1: CFS quota of one period" 100000 "$(mflow get LimitsFlow/$RUN/one quota)"
check_eq "memory_mb = 128: the cgroup's limit" $((128 * 1024 * 1024)) "$(mflow get LimitsFlow/$RUN/start mem)"
check_eq "MFLOW_CPUS inside" '"2"' "$(mflow get LimitsFlow/$RUN/start cpus --json)"
check_eq "8 MB under a 64 MB limit" 8 "$(mflow get LimitsFlow/$RUN/hog hogged)"
# The same flow with local compute sees no CFS quota of its own (the figures come from the container).
run_flow "$F" || fail "local limits run: $OUT"
lq=$(mflow get LimitsFlow/$RUN/start quota)
CHECKS=$((CHECKS + 1))
[ "$lq" != 200000 ] && echo "ok: local compute has no 2-CPU quota ($lq)" || fail "local run saw quota $lq"

HOG_MB=300 run_cflow "$F" && fail "a task allocating 300 MB under a 64 MB limit should fail"
# podman reports OOMKilled where conmon sees the OOM event; on cgroup v1 "hybrid" layouts it
# does not, and the message says so: either way the limit is named.
check_contains "OOM named with the limit" "memory limit of 64 MB (resources.memory_mb" "$OUT"
check_contains "the engine's OOMKilled (or its absence) said" "OOMKilled" "$OUT"
check_contains "what to do" "raise resources.memory_mb" "$OUT"
# A task that exits with 137 of its own accord under no limit is not called OOM.
run_cflow "$FLOWS/failing.c" --mode=exit && fail "exit 3 should fail"
CHECKS=$((CHECKS + 1))
case "$OUT" in *"memory limit"*) fail "exit 3 called OOM: $OUT" ;; *) echo "ok: plain exit not called OOM" ;; esac
check_eq "no container left" "" "$(containers_of LimitsFlow)"
finish
