# Sourced by the container tests: a private podman under the build directory (its own store,
# containers.conf with runc, cgroupfs and the file events logger), checked to work, and the
# mflow image built into it. Exits 77 (skip) naming what is missing when containers cannot
# run here. Sets ENGINE_ROOT, ENGINE_RUNROOT, CONTAINERS_CONF, IMAGE and podman().
BUILD=${MFLOW_TEST_BUILD_ROOT:?run through meson test}
CT=${MFLOW_CT_DIR:-$BUILD/tests/container/ct}
for tool in podman runc conmon; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed (scripts/setup-deps.sh --test installs podman, runc, conmon)"; exit 77; }
done
mkdir -p "$CT/root" "$CT/run" "$CT/tmp"
export CONTAINERS_CONF=$CT/containers.conf
if [ ! -f "$CONTAINERS_CONF" ]; then
  cat >"$CONTAINERS_CONF.tmp" <<CONF
[containers]
default_ulimits = ["nofile=$(ulimit -Hn):$(ulimit -Hn)", "nproc=4096:4096"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$CT/events.log"
tmp_dir = "$CT/tmp"
CONF
  mv "$CONTAINERS_CONF.tmp" "$CONTAINERS_CONF"
fi
export ENGINE_ROOT=$CT/root ENGINE_RUNROOT=$CT/run
podman() { command podman --root "$ENGINE_ROOT" --runroot "$ENGINE_RUNROOT" "$@"; }
IMAGE=localhost/mflow:test
# One build of the image at a time (tests run in parallel); rebuilt when mflow is newer.
exec 9>"$CT/lock"
flock 9
if ! podman image exists "$IMAGE" || [ "$BUILD/core/mflow" -nt "$CT/image.stamp" ]; then
  if ! out=$(ENGINE_FLAGS="--root $ENGINE_ROOT --runroot $ENGINE_RUNROOT" \
             "$MFLOW_TEST_SOURCE_ROOT/plugins/compute/container/make-image.sh" "$BUILD" "$IMAGE" 2>&1); then
    echo "SKIP: cannot build the mflow image: $out"; exit 77
  fi
  touch "$CT/image.stamp"
fi
if ! out=$(podman run --rm --network host "$IMAGE" /bin/sh -c 'echo ct-ok' 2>&1) || [ "$out" != ct-ok ]; then
  echo "SKIP: containers cannot run here (podman run: $out)"; exit 77
fi
flock -u 9
