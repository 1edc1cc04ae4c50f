#!/bin/bash
# Large values on S3 through the blob layer: written in pieces with the plugin's streaming
# writer and read back with get_range, each holding the value once (the process's peak memory,
# VmHWM, under 1.3x the value), against the same operations with the plugin's table cut to ABI
# 1.0 (gathered whole, then downloaded whole and copied: about 2x). A writer aborted, or killed
# mid-write, leaves no object and no file; an upload whose connection keeps dropping fails,
# is aborted and leaves no object; a small value goes in one PUT, and a value already stored
# is not uploaded again. Run under s3-fixture.sh (S3FIX_PROXY=1) by meson test --suite s3.
set -uo pipefail
: "${S3BLOB:?set S3BLOB to the built tests/s3/s3blob}" "${S3FIX_ENDPOINT:?run under s3-fixture.sh}"
: "${S3FIX_PROXY_URL:?run under s3-fixture.sh with S3FIX_PROXY=1}"
export MFLOW_DATASTORE_ROOT="s3://$S3FIX_BUCKET/bigvalues"
SPILL=$S3FIX_DIR/spill
rm -rf "$SPILL"
mkdir -p "$SPILL"
export MFLOW_S3_SPILL_DIR=$SPILL
P=$S3FIX_PROXY_URL
fails=0 checks=0
check() {   # check WHAT EXPECTED ACTUAL
  checks=$((checks + 1))
  if [ "$2" = "$3" ]; then echo "ok: $1"; else echo "FAIL: $1: expected [$2], got [$3]" >&2; fails=$((fails + 1)); fi
}
field() { printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
proxy() { curl -sf "$P/__fault/$1"; }
proxy_stat() { proxy stats | python3 -c "import json,sys; d=json.load(sys.stdin); print(d['$1'] if '$1' != 'log' else '\n'.join(d['log']))"; }
# under LIMIT percent of SIZE, and above it (the value is really in memory)
within() { [ "$1" -gt "$2" ] && [ "$1" -lt $(($2 * $3 / 100)) ] && echo yes || echo "no: $1 of $2"; }

avail=$(awk '/MemAvailable/ {print int($2 / 1024)}' /proc/meminfo)
if [ "$avail" -ge 4096 ]; then mib=${S3_BIG_MIB:-256}; else mib=64; fi
size=$((mib << 20))
echo "values of $mib MiB ($avail MiB of memory available)"

# ---- before: the table of ABI 1.0 (no writer, no get_range)
out=$("$S3BLOB" --as-1.0 store $mib 1 1048576) || exit 1
bkey=$(field "$out" key) bstore=$(field "$out" hwm) bsms=$(field "$out" ms)
out=$("$S3BLOB" --as-1.0 read "$bkey" $mib) || exit 1
bread=$(field "$out" hwm)
echo "before: store peak $((bstore >> 20)) MiB ($((bstore * 100 / size))%) in $bsms ms, read peak $((bread >> 20)) MiB ($((bread * 100 / size))%) in $(field "$out" ms) ms"
check "before: storing held the value twice (over 1.8x)" yes "$([ "$bstore" -gt $((size * 18 / 10)) ] && echo yes)"
check "before: reading held the value twice (over 1.8x)" yes "$([ "$bread" -gt $((size * 18 / 10)) ] && echo yes)"

# ---- after: written in 1 MiB pieces through the writer, read back with get_range
out=$("$S3BLOB" store $mib 2 1048576) || exit 1
key=$(field "$out" key) sha=$(field "$out" sha) hwm=$(field "$out" hwm)
echo "after: store peak $((hwm >> 20)) MiB ($((hwm * 100 / size))%) in $(field "$out" ms) ms"
check "store: the key is the value's SHA-256" "$sha" "$key"
check "store: peak RSS under 1.3x the value" yes "$(within "$hwm" $size 130)"
check "store: the blob is stored, header and value" "$((size + 16)) blobs/${key:0:2}/$key" \
  "$("$S3TOOL" ls "blobs/${key:0:2}/$key" 2>&1)"
check "store: no file left in the spill directory" "" "$(ls -A "$SPILL")"
proxy reset >/dev/null
out=$(MFLOW_S3_ENDPOINT_URL=$P "$S3BLOB" read "$key" $mib) || exit 1
hwm=$(field "$out" hwm)
echo "after: read peak $((hwm >> 20)) MiB ($((hwm * 100 / size))%) in $(field "$out" ms) ms"
check "read: the bytes read back exactly" "$sha" "$(field "$out" sha)"
check "read: peak RSS under 1.3x the value" yes "$(within "$hwm" $size 130)"
check "read: every byte of the blob fetched once" $((size + 16)) "$(proxy_stat bytes_out)"

# ---- a compressible value: zstd through the writer, decompressed as its pieces come
zmib=$((mib / 2)) zsize=$(((mib / 2) << 20))
out=$("$S3BLOB" store $zmib 3 1048576 zstd) || exit 1
zkey=$(field "$out" key) zsha=$(field "$out" sha)
blen=$("$S3TOOL" ls "blobs/${zkey:0:2}/$zkey" | cut -d' ' -f1)
check "zstd: the blob is compressed (under a quarter)" yes "$([ "$blen" -lt $((zsize / 4)) ] && echo yes || echo "no: $blen")"
out=$("$S3BLOB" read "$zkey" $zmib) || exit 1
check "zstd: read back exactly" "$zsha" "$(field "$out" sha)"
check "zstd: peak RSS under 1.3x the value" yes "$(within "$(field "$out" hwm)" $zsize 130)"

# ---- a writer aborted halfway: no object, no file
out=$("$S3BLOB" abort 64 4 1048576) || exit 1
akey=$(field "$out" key)
check "abort: nothing under the value's key" 0 "$("$S3BLOB" exists "$akey")"
check "abort: no file left in the spill directory" "" "$(ls -A "$SPILL")"

# ---- a writer killed halfway (through the proxy: no request may start before commit)
proxy reset >/dev/null
fifo=$S3FIX_DIR/pause.out
rm -f "$fifo"
MFLOW_S3_ENDPOINT_URL=$P "$S3BLOB" pause 64 5 1048576 >"$fifo" &
pid=$!
for _ in $(seq 1 600); do grep -q paused "$fifo" 2>/dev/null && break; sleep 0.1; done
kkey=$(sed -n 's/^paused key=//p' "$fifo")
check "killed: the writer got halfway" 64 "${#kkey}"
spilled=$(ls -l /proc/$pid/fd 2>/dev/null | grep -c "$SPILL.*(deleted)")
check "killed: the spilled half is in an unnamed file" 1 "$spilled"
check "killed: no name for it in the spill directory" "" "$(ls -A "$SPILL")"
kill -9 $pid
wait $pid 2>/dev/null
check "killed: no request was sent before commit" 0 "$(proxy_stat requests)"
check "killed: nothing under the value's key" 0 "$("$S3BLOB" exists "$kkey")"

# ---- the connection drops on every try of one part: the commit fails, the upload is aborted
proxy reset >/dev/null
curl -sf "$P/__fault/add?kind=drop&count=1000&match=partNumber=2%26" >/dev/null
out=$(MFLOW_S3_ENDPOINT_URL=$P MFLOW_S3_MAX_ATTEMPTS=2 MFLOW_S3_RETRY_BASE_MS=10 \
      "$S3BLOB" store 64 6 1048576 2>&1); rc=$?
check "dropped: the store fails" 1 "$rc"
check "dropped: the message names the part" yes "$(grep -q 'part 2' <<<"$out" && echo yes || echo "no: $out")"
log=$(proxy_stat log)
check "dropped: the multipart upload was aborted" yes "$(grep -q '^DELETE .*uploadId=' <<<"$log" && echo yes || echo "no: $log")"
curl -sf "$P/__fault/clear" >/dev/null
# the key that value has (abort prints it)
out=$("$S3BLOB" abort 64 6 1048576) && dkey=$(field "$out" key)
check "dropped: nothing under the value's key" 0 "$("$S3BLOB" exists "$dkey")"
check "dropped: no file left in the spill directory" "" "$(ls -A "$SPILL")"

# ---- a small value (4 MiB: past the blob layer's 1 MiB, under the 16 MiB threshold)
proxy reset >/dev/null
out=$(MFLOW_S3_ENDPOINT_URL=$P "$S3BLOB" store 4 7 65536) || exit 1
skey=$(field "$out" key)
log=$(proxy_stat log)
check "small: one PUT of the blob" 1 "$(grep -c "^PUT .*/blobs/${skey:0:2}/$skey -> 200" <<<"$log")"
check "small: no multipart upload" 0 "$(grep -c 'uploads' <<<"$log")"
# stored again: found present, not uploaded twice (large: the writer's bytes are dropped)
proxy reset >/dev/null
MFLOW_S3_ENDPOINT_URL=$P "$S3BLOB" store 4 7 65536 >/dev/null || exit 1
MFLOW_S3_ENDPOINT_URL=$P "$S3BLOB" store $mib 2 1048576 >/dev/null || exit 1
log=$(proxy_stat log)
check "stored again: no PUT and no upload" 0 "$(grep -c '^PUT \|^POST ' <<<"$log")"
check "stored again: no file left in the spill directory" "" "$(ls -A "$SPILL")"

echo "$checks checks, $fails failed"
[ "$fails" = 0 ]
