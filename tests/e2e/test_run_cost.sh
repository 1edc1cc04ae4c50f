#!/bin/bash
# What a small run does not pay (README "What a task costs"): its task server starts while the
# run's records are written, not when its first task is submitted; the run does not wait for
# the server's exit in sleeps; and on a machine where no GPU can be, the topology is loaded
# without hwloc's I/O discovery (no PCI device's config is read). System calls are counted
# with strace; without it the test is skipped.
. "$(dirname "$0")/lib.sh"
need_strace
F=$FLOWS/linear.c
mflow run "$F" >/dev/null 2>&1   # compile once, outside the traces

# traced NAME ENV...: a run of the linear flow under strace -f (one file, $WORK/NAME.tr).
traced() {
  local name=$1; shift
  env "$@" strace -f -o "$WORK/$name.tr" -e trace=execve,linkat,poll,openat,clone,clone3,vfork \
    "$MFLOW" run "$F" --run-id-file "$WORK/runid" >"$WORK/$name.out" 2>&1
}
# line_of NAME PATTERN: the first trace line matching PATTERN, or 0.
line_of() { local n; n=$(grep -n -m1 -- "$2" "$WORK/$1.tr" | cut -d: -f1); echo "${n:-0}"; }

for round in 1 2 3; do
  traced auto$round MFLOW_LOCAL_TASK_SERVER=auto || fail "run $round: $(cat "$WORK/auto$round.out")"
  RUN=$(cat "$WORK/runid")
  check_eq "run $round succeeded" "succeeded" "$(mflow inspect "LinearFlow/$RUN" --json |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])' 2>&1)"
  srv=$(line_of auto$round 'execve(.*"__task-server"')
  graph=$(line_of auto$round 'linkat(.*/graph.json"')
  check_eq "run $round: the task server is started before the run's graph is stored" 1 \
    "$([ "$srv" -gt 0 ] && [ "$graph" -gt 0 ] && [ "$srv" -lt "$graph" ] && echo 1 || echo "0 (server at line $srv, graph.json at $graph)")"
  main=$(head -1 "$WORK/auto$round.tr" | cut -d' ' -f1)
  check_eq "run $round: the run sleeps for nothing (no poll with no fds)" 0 \
    "$(grep -c "^$main .*poll(NULL, 0," "$WORK/auto$round.tr")"
done

# Exec'ed tasks (no server): nothing is started ahead.
traced off MFLOW_LOCAL_TASK_SERVER=off || fail "run without the server: $(cat "$WORK/off.out")"
check_eq "task_server=off: no task server" 0 "$(grep -c '__task-server' "$WORK/off.tr")"

# hwloc's I/O discovery: left out where no GPU can be (the same signs the plugin reads).
gpu_here=0
for d in /dev/nvidiactl /dev/nvidia0 /dev/kfd /dev/dri; do [ -e "$d" ] && gpu_here=1; done
for c in /sys/bus/pci/devices/*/class; do
  [ -r "$c" ] || { gpu_here=1; continue; }
  case "$(cat "$c")" in 0x03*|0x12*|0x0b40*) gpu_here=1 ;; esac
done
[ -d /sys/bus/pci/devices ] && [ -n "$(ls /sys/bus/pci/devices 2>/dev/null)" ] || gpu_here=1
if [ "$gpu_here" = 1 ]; then
  echo "note: this machine may have a GPU: the PCI devices are read, not checked here"
else
  check_eq "no GPU here: no PCI device's config is read" 0 "$(grep -c 'openat(.*/sys/bus/pci/devices/.*/config' "$WORK/auto1.tr")"
  check_eq "no GPU here: no block or network device is looked at" 0 \
    "$(grep -cE 'openat\(.*/sys/(class/block|class/net)' "$WORK/auto1.tr")"
fi
# A topology from a file is read whole, GPUs and all: resources_cli and resources_run list and
# hand out the GPUs of their XML fixture.

finish
