#!/bin/bash
# The engine command line as generated, for podman and docker, with GPUs chosen by the local
# plugin's placement on a synthetic topology with 4 GPUs (tests/resources/topo-2numa-4gpu.xml):
# two tasks never share a GPU. A stand-in engine (fake-engine.sh) records the command and runs
# the task on this machine; no real engine or GPU is needed.
. "$MFLOW_TEST_SOURCE_ROOT/tests/e2e/lib.sh"
export HWLOC_XMLFILE=$SRC/tests/resources/topo-2numa-4gpu.xml
export FAKE_LOG=$WORK/engine.log MFLOW_BIN
unset MFLOW_CONTAINER_ROOT MFLOW_CONTAINER_RUNROOT MFLOW_CONTAINER_RUN_FLAGS MFLOW_CONTAINER_MFLOW
mkdir -p "$WORK/bin" "$WORK/marks"
ln -s "$SRC/tests/container/fake-engine.sh" "$WORK/bin/podman"
ln -s "$SRC/tests/container/fake-engine.sh" "$WORK/bin/docker"
export MFLOW_CONTAINER_IMAGE=localhost/fake:1 FAKE_IMAGE=localhost/fake:1 MFLOW_CONTAINER_SHM_SIZE=256m

runs() { grep -E '(^| )run --name ' "$FAKE_LOG"; }
ordinals() {   # the GPU ordinals of the run lines of STEP, one a line, sorted
  runs | grep -- "--label=mflow.step=$1 " | grep -oE -e "$2" | grep -oE '[0-9,]+$' | tr ',' '\n' | sort -n
}

for engine in podman docker; do
  : >"$FAKE_LOG"
  rm -f "$WORK/marks"/*
  OUT=$(MFLOW_CONTAINER_ENGINE=$WORK/bin/$engine "$MFLOW" --compute=container run \
        "$SRC/tests/resources/flows/gpus.c" --dir "$WORK/marks" --max-workers 4 2>&1) || fail "$engine gpus run: $OUT"
  RUN=$(echo "$OUT" | grep -oE 'GpuFlow/[0-9]+' | head -1 | cut -d/ -f2)
  check_eq "$engine: the 4 shards ran at once" 1 "$(mflow get GpuFlow/$RUN/gather together)"
  if [ $engine = podman ]; then pat='--device=nvidia.com/gpu=[0-9]+'; else pat='--gpus=device=[0-9]+'; fi
  check_eq "$engine: 4 shards on 4 different GPUs ($pat)" "0 1 2 3" "$(ordinals shard "$pat" | xargs)"
  check_eq "$engine: no GPU flag for a step without GPUs" "" \
    "$(runs | grep -- '--label=mflow.step=start ' | grep -oE -- '--device=|--gpus=')"
  # two GPUs, CPUs, memory, env and the step's image
  : >"$FAKE_LOG"
  OUT=$(FAKE_IMAGE="localhost/fake:1 registry.example/train:3" MFLOW_CONTAINER_ENGINE=$WORK/bin/$engine \
        "$MFLOW" --compute=container run "$SRC/tests/container/flows/gpupair.c" 2>&1)
  line=$(runs | grep -- '--label=mflow.step=pair ')
  if [ $engine = podman ]; then
    check_eq "podman: two CDI devices" 2 "$(echo "$line" | grep -oE -- '--device=nvidia.com/gpu=[0-9]+' | sort -u | wc -l)"
  else
    check_contains "docker: one --gpus with two devices" '--gpus="device=' "$line"
    check_eq "docker: two distinct ordinals" 2 "$(echo "$line" | grep -oE -- '--gpus="device=[0-9,]+' | grep -oE '[0-9]+' | sort -u | wc -l)"
  fi
  for want in "run --name mflow-GpuPairFlow-" "--cpus=2" "--memory=100m" "--memory-swap=100m" \
              "--network=host" "--shm-size=256m" "-e STEP_VAR=from step" "--label=mflow.flow=GpuPairFlow" \
              "--label=mflow.task=2" "--label=mflow.attempt=0" "--label=mflow.orchestrator=$(hostname):" \
              " registry.example/train:3 mflow --home $MFLOW_HOME " " task $MFLOW_HOME/cache/flows/"; do
    check_contains "$engine: pair has [$want]" "$want" "$line"
  done
  check_eq "$engine: the step's env reached the task" '"from step"' \
    "$(mflow get GpuPairFlow/$(echo "$OUT" | grep -oE 'GpuPairFlow/[0-9]+' | head -1 | cut -d/ -f2)/pair v --json)"
  CHECKS=$((CHECKS + 1))
  case "$line" in *--cpuset-cpus*) fail "$engine: --cpuset-cpus on a topology that is not this machine's" ;; *) echo "ok: no cpuset off this machine" ;; esac
done

# A request beyond the topology is refused before the run, naming the GPUs there are.
OUT=$(unset HWLOC_XMLFILE; MFLOW_CONTAINER_ENGINE=$WORK/bin/podman "$MFLOW" --compute=container run "$SRC/tests/container/flows/gpupair.c" 2>&1)
check_contains "2 GPUs refused where hwloc finds none" "asks for 2 GPUs but this machine has 0" "$OUT"

# Credentials are passed by name only: never on the command line.
: >"$FAKE_LOG"
AWS_SECRET_ACCESS_KEY=s3cr3t-value MFLOW_CONTAINER_ENGINE=$WORK/bin/podman "$MFLOW" --compute=container run "$FLOWS/linear.c" >/dev/null 2>&1 || fail "linear with fake podman"
check_contains "secret passed by name" "-e AWS_SECRET_ACCESS_KEY " "$(runs | head -1) "
CHECKS=$((CHECKS + 1))
grep -q s3cr3t-value "$FAKE_LOG" && fail "the secret's value is on an engine command line" || echo "ok: no secret on the command line"

# describe: the engine and its version, and the machine as placement sees it
OUT=$(MFLOW_CONTAINER_ENGINE=$WORK/bin/docker "$MFLOW" resources --compute=container --json 2>&1)
check_eq "resources --json: engine version" "99.1-fake" "$(echo "$OUT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["engine_version"])')"
check_eq "resources --json: 4 GPUs offered" 4 "$(echo "$OUT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["offers"][0]["gpus"])')"
finish
