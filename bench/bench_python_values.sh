#!/bin/bash
# The Python SDK's value codec (sdk/python/mflow/codec.py): encode and decode throughput per
# type and size, memory against the payload, and the floors of the same run.
#   bench/bench_python_values.sh [BUILD_DIR] [MAX_MIB]
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
command -v python3 >/dev/null || { echo "python3 is not installed: no Python benchmark"; exit 0; }
PYTHONPATH=$HERE/../sdk/python exec python3 "$HERE/python_values.py" "${2:-8}"
