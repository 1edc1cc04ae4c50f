# Shared by the container suite: the e2e helpers (own MFLOW_HOME and work dir) and the private
# podman of fixture.sh, with the container plugin pointed at it.
. "$MFLOW_TEST_SOURCE_ROOT/tests/e2e/lib.sh"
. "$MFLOW_TEST_SOURCE_ROOT/tests/container/fixture.sh"
CFLOWS=$SRC/tests/container/flows
export MFLOW_CONTAINER_ROOT=$ENGINE_ROOT MFLOW_CONTAINER_RUNROOT=$ENGINE_RUNROOT
export MFLOW_CONTAINER_CONTAINERS_CONF=$CONTAINERS_CONF MFLOW_CONTAINER_IMAGE=$IMAGE
unset MFLOW_CONTAINER_RUN_FLAGS MFLOW_CONTAINER_ENGINE MFLOW_CONTAINER_MFLOW MFLOW_CONTAINER_PASS_ENV MFLOW_CONTAINER_PRINT_COMMAND
# Containers this test's runs made (their flows' names are the test's own).
containers_of() { podman ps -a --filter "label=mflow.flow=$1" --format '{{.Names}}'; }
# run_cflow FILE ARGS...: run it with compute=container, set RUN
run_cflow() {
  local f=$1; shift
  RUN=
  OUT=$("$MFLOW" --compute=container run "$f" --run-id-file "$WORK/runid" "$@" 2>&1); local rc=$?
  RUN=$(cat "$WORK/runid" 2>/dev/null)
  return $rc
}
