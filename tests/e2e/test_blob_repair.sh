#!/bin/bash
# A damaged blob is repaired by the next write of its value (a new run or a resume), and
# `mflow inspect` names it damaged meanwhile. Damage: a flipped byte, a truncated blob, an
# empty file, another blob's bytes; each for a raw and a compressed value.
. "$(dirname "$0")/lib.sh"
F=$FLOWS/damage.c
DS=$MFLOW_HOME/datastore

# key RUN NAME: the blob key of artifact NAME of DamageFlow/RUN/b
key() {
  python3 -c "import json,sys,glob; print(json.load(open(glob.glob(sys.argv[1])[0]))['artifacts'][sys.argv[2]]['key'])" \
    "$DS/runs/DamageFlow/$1/b/*.0.json" "$2"
}
blob() { echo "$DS/blobs/${1:0:2}/$1"; }

# damage KIND FILE OTHER: damage FILE in place (OTHER: another blob's file)
damage() {
  python3 - "$@" <<'PY'
import sys
kind, path, other = sys.argv[1:4]
data = bytearray(open(path, 'rb').read())
if kind == 'flip':
    data[len(data) - 2] ^= 0x04
elif kind == 'truncate':
    data = data[:len(data) // 2]
elif kind == 'empty':
    data = b''
elif kind == 'other':
    data = open(other, 'rb').read()
open(path, 'wb').write(data)
PY
}

run_flow "$F" || fail "first run: $OUT"
first=$RUN
plain=$(key "$first" plain)
packed=$(key "$first" packed)
check_eq "the plain value is stored raw" 0 "$(od -An -tu1 -j4 -N1 "$(blob "$plain")" | tr -d ' ')"
check_eq "the packed value is stored compressed" 1 "$(od -An -tu1 -j4 -N1 "$(blob "$packed")" | tr -d ' ')"
long=$(mflow get DamageFlow/$first/b packed)
check_eq "packed value" 3000 "${#long}"

for kind in flip truncate empty other; do
  for name in plain packed; do
    k=$(key "$first" $name)
    if [ $name = plain ]; then other=$(blob "$packed"); else other=$(blob "$plain"); fi
    damage $kind "$(blob "$k")" "$other"
    run_fails "$kind $name: get says the blob is corrupt" 1 "corrupt" mflow get DamageFlow/$first/b $name
    OUT=$(mflow inspect DamageFlow/$first/b/2 2>&1)
    check_eq "$kind $name: inspect's line" "damaged" \
      "$(printf '%s\n' "$OUT" | awk -v n=$name '$1 == n {print $4}')"
    OUT=$(mflow inspect DamageFlow/$first/b/2 --json 2>&1)
    check_eq "$kind $name: inspect --json says damaged" "damaged" \
      "$(printf '%s' "$OUT" | python3 -c "import json,sys; print([a for a in json.load(sys.stdin)['artifacts'] if a['name']==sys.argv[1]][0].get('state'))" $name)"
    if [ $kind = flip ] || [ $kind = other ]; then
      # by a new run
      run_flow "$F" || fail "$kind $name: new run: $OUT"
    else
      # by a resume of a run whose b failed after storing its values
      FAIL_B=1 run_flow "$F" && fail "$kind $name: the run should fail"
      damage $kind "$(blob "$k")" "$other"
      OUT=$(mflow resume "$F" --run-id-file "$WORK/runid" 2>&1) || fail "$kind $name: resume: $OUT"
      check_contains "$kind $name: resumed from b" "from step 'b'" "$OUT"
    fi
    if [ $name = plain ]; then want=plain-value-42; else want=$long; fi
    check_eq "$kind $name: the first run's value reads again" "$want" "$(mflow get DamageFlow/$first/b $name 2>&1)"
    check_eq "$kind $name: inspect shows the value again" "" \
      "$(mflow inspect DamageFlow/$first/b/2 | awk '$4 == "damaged"')"
  done
done
finish
