#!/bin/bash
# A damaged index file (flipped bytes in lmdb's meta pages, branch and leaf pages and record
# values, a truncated file, a zero-filled page): `runs`, `inspect` and `get` either answer as
# before or say the index is damaged and to run `mflow reindex`, with a non-zero exit and
# never a signal; `mflow reindex` then repairs it and they answer as before.
# lmdb keeps no checksums of its branch pages: a damaged branch key can send a lookup to the
# wrong leaf, which then answers "not in the index ... `mflow reindex`" (exit 1); that much is
# what is asserted for branch pages.
. "$(dirname "$0")/lib.sh"
IX=$MFLOW_HOME/index
export COUNT_FILE=$WORK/count

run_flow "$FLOWS/linear.c" || fail "linear run: $OUT"
FAIL_ITEM=3 run_flow "$FLOWS/resumable.c" && fail "the failing run should fail"
failed=$RUN
run_flow "$FLOWS/resumable.c" || fail "resumable run: $OUT"
good=$RUN
mflow tag add ResumableFlow/$good kept >/dev/null || fail "tag"
# Enough tasks for the tasks database to need branch pages.
run_flow "$FLOWS/resumable.c" --n 60 || fail "wide run: $OUT"
wide=$RUN

CMDS=("runs --json" "inspect ResumableFlow/$good --json" "inspect ResumableFlow/$wide/body --json"
      "get ResumableFlow/$failed/start n" "get ResumableFlow/$wide/end sum")
declare -A BASE
for c in "${CMDS[@]}"; do
  BASE[$c]=$(mflow $c 2>&1) || fail "baseline $c: ${BASE[$c]}"
done
check_eq "baseline sum" 70210 "${BASE["get ResumableFlow/$wide/end sum"]}"
cp "$IX/data.mdb" "$WORK/data.orig"

# answers WHAT [lookup]: every command answers as before, or says damaged + reindex (exit 1);
# with "lookup", saying only that the thing is not in the index and to reindex is enough
answers() {
  local what=$1 mode=${2:-strict} c out rc bad=0 said=0
  for c in "${CMDS[@]}"; do
    out=$(timeout 60 "$MFLOW" $c 2>&1); rc=$?
    if [ $rc -ge 124 ]; then
      fail "$what: '$c' ended by a signal or timeout (exit $rc): $out"; bad=1
    elif [ $rc = 0 ]; then
      [ "$out" = "${BASE[$c]}" ] || { fail "$what: '$c' answered wrongly: $(printf '%s' "$out" | head -c 300)"; bad=1; }
    else
      case "$out" in
        *damaged*"mflow reindex"*) said=$((said + 1)) ;;
        *"in the index"*"mflow reindex"*) [ $mode = lookup ] && said=$((said + 1)) ||
          { fail "$what: '$c' did not say the index is damaged: $out"; bad=1; } ;;
        *) fail "$what: '$c' failed without saying the index is damaged (exit $rc): $out"; bad=1 ;;
      esac
    fi
  done
  CHECKS=$((CHECKS + 1))
  [ $bad = 0 ] && echo "ok: $what: right or damaged ($said of ${#CMDS[@]} said damaged)"
  SAID=$said
}

# repaired WHAT: reindex succeeds, then every command answers as before
repaired() {
  local what=$1 c out
  out=$(timeout 120 "$MFLOW" reindex 2>&1); local rc=$?
  CHECKS=$((CHECKS + 1))
  if [ $rc != 0 ]; then fail "$what: reindex exit $rc: $out"; return; fi
  for c in "${CMDS[@]}"; do
    out=$(mflow $c 2>&1)
    [ "$out" = "${BASE[$c]}" ] || { fail "$what: after reindex '$c': $(printf '%s' "$out" | head -c 300)"; return; }
  done
  echo "ok: $what: repaired by reindex"
}

restore() { cp "$WORK/data.orig" "$IX/data.mdb"; rm -f "$IX/lock.mdb" "$IX"/data.mdb.damaged-*; }

# flip OFFSET MASK: xor two bytes at OFFSET with MASK (hex), in place (od and dd: not a
# python3 started per damage)
flip() {
  local m=$((16#$2)) b0 b1
  read -r b0 b1 < <(od -An -tu1 -j "$1" -N2 "$IX/data.mdb")
  printf "$(printf '\\x%02x\\x%02x' $((b0 ^ m)) $((b1 ^ m)))" |
    dd of="$IX/data.mdb" bs=1 seek="$1" conv=notrunc status=none
}

# The pages: lmdb's page header is pgno (8), pad (2), flags (2: 1 branch, 2 leaf, 8 meta),
# lower (2), upper (2); the page size is 4096 here.
# The pages in use (older copies of pages, which lmdb keeps for reuse, are never read): from
# the newer meta page's main root through the named databases.
PAGES=$(python3 - "$WORK/data.orig" <<'PY'
import struct, sys
f = open(sys.argv[1], 'rb').read()
PS = 4096
def meta(i):
    return struct.unpack('<Q', f[i*PS+144:i*PS+152])[0], struct.unpack('<Q', f[i*PS+128:i*PS+136])[0]
(t0, r0), (t1, r1) = meta(0), meta(1)
live = []
def walk(pg, main):
    if pg >= len(f) // PS:
        return
    _, _, flags, lower, upper = struct.unpack('<QHHHH', f[pg*PS:pg*PS+16])
    live.append((pg, flags & 3, upper))
    for i in range((lower - 16) // 2):
        off = struct.unpack('<H', f[pg*PS+16+2*i:pg*PS+18+2*i])[0]
        lo, hi, fl, ks = struct.unpack('<HHHH', f[pg*PS+off:pg*PS+off+8])
        if flags & 1:                      # branch: a child page number
            walk(lo | hi << 16 | fl << 32, main)
        elif main and fl & 2:              # the main database: a named database's record
            rec = f[pg*PS+off+8+ks:pg*PS+off+8+ks+48]
            walk(struct.unpack('<Q', rec[40:48])[0], False)
walk(r1 if t1 > t0 else r0, True)
for pg, kind, upper in live:
    print(pg, kind, upper)
PY
)
ndetected=0
damage() {   # WHAT [lookup]: check; repair when it was found; restore
  answers "$@"
  if [ "$SAID" -gt 0 ]; then ndetected=$((ndetected + 1)); repaired "$1"; fi
  restore
}

# Meta pages: the magic, the main database's root, the transaction id (an older snapshot).
for m in 0 1; do
  for off in 16 128 144; do
    restore; flip $((m * 4096 + off)) 02; damage "meta page $m offset $off"
  done
done
# Every branch and leaf page: its flags, its node count, a node offset, a record's bytes, the
# whole page zero-filled. A sanitized build (make test-asan: each of the 5 commands a damage
# costs is several times slower there) still damages every page, every branch page each way,
# but each leaf page one way, the ways taken in turn (each way still on several leaves): the
# same code reads the damage, and the plain build tries every way on every page.
ways=6 nleaf=0 ndamaged=0
while read -r pg kind upper; do
  [ -n "$pg" ] || continue
  base=$((pg * 4096))
  mode=strict; [ $kind = 1 ] && mode=lookup
  w=0
  for off in 10 12 16 $(( (upper + 4096) / 2 )) 4094 zero; do
    w=$((w + 1))
    if [ -n "${MFLOW_TEST_SANITIZE:-}" ] && [ $kind != 1 ] && [ $(( nleaf % ways + 1 )) != $w ]; then continue; fi
    restore
    if [ $off = zero ]; then
      dd if=/dev/zero of="$IX/data.mdb" bs=4096 seek="$pg" count=1 conv=notrunc status=none
      damage "page $pg zero-filled" $mode
    else
      flip $((base + off)) 04; damage "page $pg ($([ $kind = 1 ] && echo branch || echo leaf)) offset $off" $mode
    fi
    ndamaged=$((ndamaged + 1))
  done
  [ $kind = 1 ] || nleaf=$((nleaf + 1))
done <<< "$PAGES"
# A truncated file.
size=$(stat -c %s "$WORK/data.orig")
for cut in $((size / 2)) 8192 4096; do
  restore; truncate -s $cut "$IX/data.mdb"; damage "truncated to $cut bytes"
done
check_eq "the pages in use include a branch page" yes "$(echo "$PAGES" | awk '$2 == 1 {print "yes"; exit}')"
# Over 20 of the damages detected; a sampled run, the same share of the damages it made.
ndamaged=$((ndamaged + 9))
nall=$((6 * $(grep -c . <<< "$PAGES") + 9))
check_eq "most damage is detected" yes "$([ $((ndetected * nall)) -gt $((20 * ndamaged)) ] && echo yes)"
echo "damage said $ndetected times of $ndamaged"
finish
