#!/bin/bash
# pyflow_big_values on an S3 datastore (the s3 suite's server, under s3-fixture.sh): every
# kind of value stored in pieces read back equal with its type, and a large bytes value (and a
# float64 array with numpy) stored and read by separate tasks, each task's peak memory under
# 1.3x the value: the S3 plugin's streaming writer and get_range keep it held once, where
# gathering it for a PUT and downloading it whole held it twice.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/big_lib.sh"
: "${S3FIX_BUCKET:?run under tests/s3/s3-fixture.sh}"
PY=${MFLOW_PYTHON:-python3}
F=$PYFLOWS/bigvalues.py
export MFLOW_DATASTORE_ROOT="s3://$S3FIX_BUCKET/pybig"
export MFLOW_S3_SPILL_DIR=$WORK/spill
mkdir -p "$MFLOW_S3_SPILL_DIR"
np=false
if "$PY" -c "import numpy" 2>/dev/null; then np=true; else echo "numpy is not installed: its checks are skipped"; fi

# ---- every kind of value stored in pieces: 20 MiB each (past the 16 MiB multipart threshold)
run_flow "$F" --mib 20 --mix true --numpy=$np; rc=$?
check_eq "mixed values on S3: exit" 0 "$rc"
[ "$rc" = 0 ] || echo "$OUT"
T=BigValuesFlow/$RUN
check_eq "every value read back equal, with its type" none "$(mflow get "$T/get_bytes" mix_bad 2>&1)"
check_eq "mflow get --raw of the bytes" "$(mflow get "$T/get_bytes" raw_sha)" \
  "$(mflow get "$T/get_bytes" raw --raw | sha256sum | cut -d' ' -f1)"

# ---- the large values and each task's peak memory
big_mib "${S3_BIG_MIB:-256}"
run_flow "$F" --mib $mib --numpy=$np; rc=$?
check_eq "$mib MiB values on S3: exit" 0 "$rc"
[ "$rc" = 0 ] || echo "$OUT"
check_big_peaks "BigValuesFlow/$RUN" $mib $np " on S3"
check_eq "no file left in the spill directory" "" "$(ls -A "$MFLOW_S3_SPILL_DIR")"
finish
