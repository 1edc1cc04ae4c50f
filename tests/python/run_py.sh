#!/bin/bash
# Runs a Python test file of this suite (unittest) against this build: the SDK from the source
# tree (PYTHONPATH), libmflow and the mflow command from the build tree. Skipped (77) without
# python3. Debian's python3 first: it has python3-zstandard, which compressed blobs need.
set -u
PY=${MFLOW_PYTHON:-}
if [ -z "$PY" ]; then
  for p in /usr/bin/python3 python3; do
    if command -v "$p" >/dev/null 2>&1; then PY=$p; break; fi
  done
fi
if [ -z "$PY" ]; then
  echo "SKIP: python3 is not installed (the Python SDK needs it)"
  exit 77
fi
SRC=${MFLOW_TEST_SOURCE_ROOT:?run through meson test}
BUILD=${MFLOW_TEST_BUILD_ROOT:?}
export PYTHONPATH=$SRC/sdk/python${PYTHONPATH:+:$PYTHONPATH}
export MFLOW_LIBMFLOW=${MFLOW_LIBMFLOW:-$BUILD/core/libmflow.so}
export PYTHONDONTWRITEBYTECODE=1
# libmflow finds the plugins of this build (from a build tree it knows only the installed ones)
export MFLOW_PLUGIN_PATH=$BUILD/plugins${MFLOW_PLUGIN_PATH:+:$MFLOW_PLUGIN_PATH}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mflow-py.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
export MFLOW_HOME=$WORK/home MFLOW_TEST_WORK=$WORK
unset MFLOW_DATASTORE_ROOT MFLOW_NAMESPACE MFLOW_COMPUTE MFLOW_STORAGE
cd "$SRC/tests/python" && "$PY" -m unittest -v "$@"
