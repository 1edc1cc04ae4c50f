# Shared helpers for the pyflow suite: the e2e helpers, Python flows, and a skip without python3.
# Debian's python3 when there is one: a version manager's shim on PATH (pyenv) costs 0.5 s a
# start, every task.
if [ -z "${MFLOW_PYTHON:-}" ] && [ -x /usr/bin/python3 ]; then export MFLOW_PYTHON=/usr/bin/python3; fi
if ! command -v "${MFLOW_PYTHON:-python3}" >/dev/null 2>&1; then
  echo "SKIP: ${MFLOW_PYTHON:-python3} is not installed (the Python SDK needs it)"
  exit 77
fi
if [ -n "${MFLOW_TEST_SANITIZE:-}" ]; then
  # python3 would load a sanitized libmflow.so without the sanitizer's runtime first
  echo "SKIP: a $MFLOW_TEST_SANITIZE build: python3 cannot load its libmflow.so"
  exit 77
fi
. "${MFLOW_TEST_SOURCE_ROOT:?}/tests/e2e/lib.sh"
PYFLOWS=$SRC/tests/pyflow/flows
export PYTHONPATH=$SRC/sdk/python
# `python3 flow.py ...` finds this build's libmflow for the client, as mflow task would set it
export MFLOW_LIBMFLOW=$(ls "$MFLOW_TEST_BUILD_ROOT"/core/libmflow.so.*.*.* | head -1)

# get_json PATHSPEC NAME: the artifact's value as mflow get --json prints it
get_val() { mflow get "$1" "$2" 2>&1; }
