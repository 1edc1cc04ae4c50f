#!/bin/bash
# pyflow_big_values on an S3 datastore (the s3 suite's server, under s3-fixture.sh): every
# kind of value stored in pieces read back equal with its type, and a large bytes value (and a
# float64 array with numpy) stored and read by separate tasks, each task's peak memory under
# 1.3x the value: the S3 plugin's streaming writer and get_range keep it held once, where
# gathering it for a PUT and downloading it whole held it twice.
. "$(dirname "$0")/lib.sh"
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
avail=$(awk '/MemAvailable/ {print int($2 / 1024)}' /proc/meminfo)
if [ "$avail" -ge 4096 ]; then mib=${S3_BIG_MIB:-256}; elif [ "$avail" -ge 2048 ]; then mib=128; else mib=0; fi
if [ "$mib" = 0 ]; then
  echo "only $avail MiB of memory available: the large values are skipped"
  finish; exit
fi
run_flow "$F" --mib $mib --numpy=$np; rc=$?
check_eq "$mib MiB values on S3: exit" 0 "$rc"
[ "$rc" = 0 ] || echo "$OUT"
T=BigValuesFlow/$RUN
size=$((mib << 20))
limit=$((size * 13 / 10))
steps="put_bytes:raw get_bytes:raw"
[ "$np" = true ] && steps="$steps put_array:arr get_array:arr"
for pair in $steps; do
  s=${pair%%:*} a=${pair#*:}
  base=$(mflow get "$T/$s" ${a}_base) peak=$(mflow get "$T/$s" ${a}_peak)
  echo "$s: $mib MiB $a on S3: RSS at the start $((base >> 20)) MiB, peak $((peak >> 20)) MiB ($((peak * 100 / size))% of the value)"
  check_eq "$s: peak RSS under 1.3x the value" yes "$([ "$peak" -gt "$size" ] && [ "$peak" -lt "$limit" ] && echo yes || echo "no: $peak of $size")"
done
check_eq "the $mib MiB bytes read back exactly" true "$(mflow get "$T/get_bytes" raw_ok)"
check_eq "read as bytes" bytes "$(mflow get "$T/get_bytes" raw_type)"
if [ "$np" = true ]; then
  check_eq "the $mib MiB array read back exactly" true "$(mflow get "$T/get_array" arr_ok)"
  check_eq "read as a writable array of its own" "ndarray float64 ($((size / 8)),) True" "$(mflow get "$T/get_array" arr_type)"
fi
check_eq "no file left in the spill directory" "" "$(ls -A "$MFLOW_S3_SPILL_DIR")"
finish
