#!/bin/bash
# `mflow resources [--json]` on this machine and on hwloc topology fixtures.
. "$MFLOW_TEST_SOURCE_ROOT/tests/e2e/lib.sh"
HERE=$SRC/tests/resources
XML=$HERE/topo-2numa-4gpu.xml
# Cgroups made from now on are this test's to account for (older ones of killed runs are
# swept by the next run that limits memory, not by this test).
STAMP=$WORK/started
: >"$STAMP"

if "$MFLOW" resources --help 2>&1 | grep -q "unknown command"; then
  echo "SKIP: mflow resources is not registered in core/cli/main.c yet"
  exit 77
fi

json_field() {   # json_field JSON PYTHON-EXPR (the document is d)
  python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2"
}

# The XML fixture: 2 packages x (1 NUMA node, 4 cores x 2 threads), 4 NVIDIA GPUs, a VGA.
run_ok "resources --json on the XML fixture" env HWLOC_XMLFILE="$XML" "$MFLOW" resources --json
J=$OUT
check_eq "xml packages" 2 "$(json_field "$J" 'd["packages"]')"
check_eq "xml cores" 8 "$(json_field "$J" 'd["cores"]')"
check_eq "xml CPUs" 16 "$(json_field "$J" 'd["pus"]')"
check_eq "xml memory" 131072 "$(json_field "$J" 'd["memory_mb"]')"
check_eq "xml is not this machine" False "$(json_field "$J" 'd["this_system"]')"
check_eq "xml NUMA CPUs" "0-3,8-11 4-7,12-15" "$(json_field "$J" '" ".join(n["cpus"] for n in d["numa_nodes"])')"
check_eq "xml GPUs (the VGA is not one)" 4 "$(json_field "$J" 'len(d["gpus"])')"
check_eq "xml GPU 2" "cuda2 0000:b1:00.0 1 CUDA_VISIBLE_DEVICES 2" \
  "$(json_field "$J" '" ".join(str(d["gpus"][2][k]) for k in ("name","pci_bus","numa","env","ordinal"))')"
check_eq "xml GPU model" "NVIDIA H100 80GB HBM3" "$(json_field "$J" 'd["gpus"][0]["model"]')"
check_eq "xml binding off (not this machine)" False "$(json_field "$J" 'd["limits"]["cpu_binding"]')"

run_ok "resources (text) on the XML fixture" env HWLOC_XMLFILE="$XML" "$MFLOW" resources
check_contains "text names the fixture" "XML topology '$XML'" "$OUT"
check_contains "text lists GPU 3" "cuda3      0000:ca:00.0  1" "$OUT"
check_contains "text says how GPUs are selected" "CUDA_VISIBLE_DEVICES=3" "$OUT"

run_ok "resources on a synthetic topology" env HWLOC_SYNTHETIC="numa:2 core:4 pu:2" "$MFLOW" resources
check_contains "synthetic cores" "cores      8" "$OUT"
check_contains "synthetic: no GPU" "GPUs       0 (hwloc found none" "$OUT"

# This machine: the CPUs this process may use, and a memory mechanism.
run_ok "resources --json here" "$MFLOW" resources --json
J=$OUT
check_eq "CPUs = what this process may use" "$(nproc)" "$(json_field "$J" 'd["pus"]')"
check_eq "this machine" True "$(json_field "$J" 'd["this_system"]')"
mech=$(json_field "$J" 'd["limits"]["memory"]["mechanism"]')
case "$mech" in cgroup-v1|cgroup-v2|rlimit) check_eq "memory mechanism ($mech)" ok ok ;; *) fail "memory mechanism: $mech" ;; esac
run_ok "memory_limit=rlimit is shown" env MFLOW_LOCAL_MEMORY_LIMIT=rlimit "$MFLOW" resources --json
check_eq "rlimit mechanism" rlimit "$(json_field "$OUT" 'd["limits"]["memory"]["mechanism"]')"
run_fails "unknown argument" 2 "unknown argument '--bogus'" "$MFLOW" resources --bogus
leftover=$(find /sys/fs/cgroup -maxdepth 6 -name "mflow.*" -newer "$STAMP" 2>/dev/null | while read -r d; do
  p=${d##*mflow.}; kill -0 "$p" 2>/dev/null || echo "$d"; done)
check_eq "the probe left no cgroup behind" "" "$leftover"
finish
