#!/bin/bash
# The datastore format (sdk/DATASTORE.md) against what mflow writes and reads today:
# - a reader written from the document alone (reader.py) reads every artifact of fresh runs
#   of every shape (foreach, joins, retry, catch, clones by resume) exactly as
#   `mflow get --json` and `get --raw` print it;
# - every run, graph and task record validates against the installed JSON Schemas;
# - JSON output never drops or refuses a value: NaN and infinities as "NaN", "Infinity",
#   "-Infinity", text that is not UTF-8 as {"type": "str", "hex": ...};
# - the rules a reader must apply: a record whose type disagrees with its value, the exact
#   zstd expansion limit, and records, values and blobs of a newer format (and values of a newer
#   type), which mflow and the reader refuse by name.
. "$(dirname "$0")/lib.sh"
FLOW=$FMT/flows/everything.c
DS=$MFLOW_HOME/datastore

run_flow "$FLOW" || fail "run 1: $OUT"
R1=$RUN
FORMAT_FAIL_END=1 run_flow "$FLOW"
check_eq "run 2 fails at end" 1 $?
R2=$RUN
OUT=$(mflow resume "$FLOW" --run-id-file "$WORK/rid" 2>&1) || fail "resume: $OUT"
R3=$(cat "$WORK/rid")
check_eq "three runs" "1 2 3" "$R1 $R2 $R3"

# a flow whose table holds text that is not UTF-8 runs, and its graph keeps the bytes
run_flow "$FMT/flows/latin1.c" --tag $'bad\xff' --tag ok
check_eq "a flow with Latin-1 text in its table runs (its graph is stored)" "0" "$?"
LR=$DS/runs/Latin1Flow/$RUN
jq_py() { "$PY" -c "import json,sys; r=json.load(open(sys.argv[1])); print(json.dumps($2))" "$1"; }
check_eq "run.json keeps a tag that is not UTF-8" '[{"type": "str", "hex": "626164ff"}, "ok"]' \
  "$(jq_py "$LR/run.json" "r['tags'][2:]")"
check_eq "a task record keeps a failure message that is not UTF-8" '{"type": "str", "hex": "6e6f20636166e920746f646179"}' \
  "$(jq_py "$LR/oops/2.0.json" "r['message']")"
run_ok "reindex --force rebuilds from the datastore" mflow reindex --force
check_eq "the tag survives a reindex" 'bad\xff' "$(mflow tag list "Latin1Flow/$RUN" | sed -n 3p)"
check_contains "inspect shows the message escaped" 'no caf\xe9 today' "$(mflow inspect "Latin1Flow/$RUN/oops/2")"
mflow inspect "Latin1Flow/$RUN/oops/2" --json >"$WORK/oj"
check_eq "inspect --json: the message as hex" '{"type": "str", "hex": "6e6f20636166e920746f646179"}' \
  "$(jq_py "$WORK/oj" "r['attempts'][0]['message']")"
check_eq "graph.json keeps the default's bytes" '{"type": "str", "hex": "636166e9"}' \
  "$("$PY" -c "import json,sys; print(json.dumps(json.load(open(sys.argv[1]))['parameters'][0]['default']))" "$DS/runs/Latin1Flow/$RUN/graph.json")"
OUT=$(mflow show "$FMT/flows/latin1.c" --json 2>&1)
check_contains "show --json writes the help text as hex" '"hex": "4c6174696e2d3120636166e9"' "$OUT"
check_contains "show --json writes the env entry as hex" '"hex": "4752454554494e473d636166e9"' "$OUT"
check_eq "the parameter's value" '{"type": "str", "hex": "636166e9"}' "$(mflow get "Latin1Flow/$RUN/end" who --json)"

# the types the Python SDK writes, and a foreach over an obj array
run_flow "$FMT/flows/pyvalues.c" || fail "FormatPyFlow: $OUT"
PR=$RUN

# plugins --json: a plugin path that is not UTF-8 (a Latin-1 directory) is kept as hex
PD=$WORK/$'pl\xe9'
mkdir -p "$PD"
cp "$MFLOW_TEST_BUILD_ROOT/plugins/storage/local/mflow_storage_local.so" "$PD/mflow_storage_other.so"
OUT=$(MFLOW_PLUGIN_PATH=$PD mflow plugins --json 2>&1)
check_eq "plugins --json with a Latin-1 plugin path: exit 0" 0 $?
check_contains "... the path as hex" "$(printf '%s' "$PD/mflow_storage_other.so" | od -An -tx1 | tr -d ' \n')" "$OUT"

# ---- the reader against mflow, every artifact of every run ---------------------------------
OUT=$("$PY" "$FMT/compare.py" mflow "$DS" 2>&1)
check_contains "reader = mflow get --json/--raw for every artifact" " 0 mismatched" "$OUT"
N=$(printf '%s\n' "$OUT" | tail -1 | cut -d' ' -f1)
CHECKS=$((CHECKS + 1))
if [ "${N:-0}" -ge 400 ]; then echo "ok: $N artifacts compared"; else fail "only ${N:-0} artifacts compared: $OUT"; fi

OUT=$("$PY" "$FMT/schema_check.py" "$SRC/sdk/schema" "$DS" 2>&1)
check_contains "every record validates against the schemas" ", 0 errors; self-test on ['graph', 'run', 'task']" "$OUT"

# shapes the document describes, seen by the reader
"$PY" "$FMT/reader.py" dump "$DS" >"$WORK/dump"
py_dump() { "$PY" -c "import json,sys; L=[json.loads(l) for l in open(sys.argv[1])]; print($1)" "$WORK/dump"; }
check_eq "foreach items found from stack, graph and the parent's list" \
  '["alpha", {"hex": "62ff", "type": "str"}, "gamma"]' \
  "$(py_dump "json.dumps([x['item'] for x in L if 'item' in x and x['path'].startswith('FormatFlow/$R1/')])")"
check_eq "foreach items of an obj array, tags as stored" \
  '[{"$tuple": [1, "a"]}, [1, [2, 3]], null, "caf\u00e9", {"$bytes": "AP8="}]' \
  "$(py_dump "json.dumps([x['item'] for x in L if 'item' in x and x['path'].startswith('FormatPyFlow/$PR/')])")"
check_eq "obj, pickle and npy as the reader gives them" \
  '-123456789012345678901234567890 pickle 24 npy <f8 [2, 2] 160' \
  "$(py_dump "' '.join(str(v) for x in L if x['path'] == 'FormatPyFlow/$PR/start/1' for n, v in [('o_big', x['value']), ('p_set', x['value'].get('type') if isinstance(x['value'], dict) else 0), ('p_set', x['value'].get('size') if isinstance(x['value'], dict) else 0), ('a_f8', x['value'].get('type') if isinstance(x['value'], dict) else 0), ('a_f8', x['value'].get('dtype') if isinstance(x['value'], dict) else 0), ('a_f8', x['value'].get('shape') if isinstance(x['value'], dict) else 0), ('a_f8', x['value'].get('size') if isinstance(x['value'], dict) else 0)] if x['name'] == n)")"
check_eq "a cloned task reads the origin's values" "True" \
  "$(py_dump "[x['value'] for x in L if x['path']=='FormatFlow/$R3/gather/5' and x['name']=='index_sum'] == [3]")"
ORIGIN=$("$PY" -c "import json,sys; print(json.load(open(sys.argv[1])).get('origin'))" "$DS/runs/FormatFlow/$R3/gather/5.0.json")
check_eq "the clone names its origin" "FormatFlow/$R2/gather/5" "$ORIGIN"
check_eq "the retried task's latest attempt is read" "gamma" "$("$PY" "$FMT/reader.py" get "$DS" "FormatFlow/$R1/fan/4" item --raw)"
check_eq "the caught error is read from the last attempt" \
  '"caught in '"'"'error'"'"': right fails on purpose (exit code 1)"' \
  "$("$PY" -c "import json,sys; print(json.dumps(json.load(open(sys.argv[1]))['message']))" "$DS/runs/FormatFlow/$R1/right/8.1.json")"

# ---- JSON of every f64 and of text that is not UTF-8 ----------------------------------------
T=FormatFlow/$R1/start/1
for pair in 'f_nan:"NaN"' 'f_inf:"Infinity"' 'f_neg_inf:"-Infinity"' 'f_neg_zero:-0.0' \
            'f_subnormal:4.9406564584124654e-324' 'f_max:1.7976931348623157e308' \
            'fv_short:[1.0, "NaN"]' 's_not_utf8:{"type": "str", "hex": "6f6bfffec0af"}' \
            's_surrogate:{"type": "str", "hex": "eda080"}' 'fv_empty:[]'; do
  name=${pair%%:*} want=${pair#*:}
  OUT=$(mflow get "$T" "$name" --json 2>&1)
  check_eq "get --json $name (exit $?)" "$want" "$OUT"
done
OUT=$(mflow get "$T" fv --json)
check_eq "get --json f64[] keeps all 8 elements" \
  '[1.0, "NaN", "Infinity", "-Infinity", -0.0, 4.9406564584124654e-324, 1.7976931348623157e308, 0.10000000000000001]' "$OUT"
check_contains "inspect shows [1.0, NaN] whole" '24  [1.0,"NaN"]' "$(mflow inspect "$T" | grep '^  fv_short ')"
mflow inspect "$T" --json >"$WORK/ij"
check_eq "inspect --json: fv_short and f_inf" '[1.0, "NaN"] Infinity' \
  "$("$PY" -c "import json,sys; a={x['name']: x.get('value') for x in json.load(open(sys.argv[1]))['artifacts']}; print(json.dumps(a['fv_short']), a['f_inf'])" "$WORK/ij")"
mflow inspect "FormatFlow/$R1" --json >"$WORK/rj" 2>&1
check_eq "inspect --json of a run: exit 0" 0 $?
check_eq "a str[] element that is not UTF-8, in get --json" '["", "a", "café", {"type": "str", "hex": "626164ff"}, "line\nbreak"]' \
  "$(mflow get "$T" sv --json)"

# logs --json: a log that is not UTF-8 is kept, as {"type": "str", "hex"}, beside a plain one
printf 'ok\xff\n' >"$DS/runs/FormatFlow/$R1/fan/4.0.stdout"
printf 'plain\n' >"$DS/runs/FormatFlow/$R1/fan/4.1.stdout"
mflow logs "FormatFlow/$R1/fan/4" --json >"$WORK/lj" 2>&1
check_eq "logs --json: exit 0" 0 $?
check_eq "logs --json keeps every attempt, the bytes exactly" \
  '[{"attempt": 0, "log": {"type": "str", "hex": "6f6bff0a"}}, {"attempt": 1, "log": "plain\n"}]' \
  "$("$PY" -c "import json,sys; print(json.dumps(json.load(open(sys.argv[1]))['attempts']))" "$WORK/lj")"

# ---- rules a reader must apply ----------------------------------------------------------
REC=$DS/runs/FormatFlow/$R1/fan/2.0.json
cp "$REC" "$WORK/rec"
edit_rec() { "$PY" -c "import json,sys; r=json.load(open(sys.argv[1])); $1; json.dump(r, open(sys.argv[1], 'w'))" "$REC"; }
restore() { cp "$WORK/rec" "$REC"; }
E=FormatFlow/$R1/fan/2

edit_rec "r['artifacts']['i_zero']['type'] = 'f64'"
run_fails "mflow refuses a record whose type disagrees with the value" 1 "is not a valid f64 value" mflow get "$E" i_zero
run_fails "the reader refuses it too" 1 "the record says f64 but blob" "$PY" "$FMT/reader.py" get "$DS" "$E" i_zero
restore

edit_rec "r['format'] = 2"
run_fails "get: a task record of a newer format is named" 1 "task record format 2 is newer than the format 1 this mflow reads" mflow get "$E" i_zero
run_fails "inspect: the same" 1 "task record format 2 is newer" mflow inspect "$E"
run_fails "the reader names it" 1 "task record format 2 is newer than format 1" "$PY" "$FMT/reader.py" get "$DS" "$E" i_zero
edit_rec "r['format'] = 0"
run_fails "a format that is not 1 and not newer is damage" 1 "is damaged" mflow get "$E" i_zero
edit_rec "r['format'] = 2"
run_ok "reindex skips a task record of a newer format" mflow reindex
check_contains "... saying so" "2.0.json is of a newer format than the format 1 this mflow reads: skipped (reindex with a newer mflow)" "$OUT"
restore
run_ok "reindex after the record is restored" mflow reindex
run_ok "the restored task reads again" mflow get "$E" i_zero

# resume refuses an origin whose records are newer, naming the record, and runs nothing
G5=$DS/runs/FormatFlow/$R2/gather/5.0.json
cp "$G5" "$WORK/g5"
"$PY" -c "import json,sys; r=json.load(open(sys.argv[1])); r['format']=2; json.dump(r, open(sys.argv[1],'w'))" "$G5"
run_fails "resume names a newer task record of its origin" 1 "cannot resume: runs/FormatFlow/$R2/gather/5.0.json: task record format 2 is newer" \
  mflow resume "$FLOW" --origin-run-id "$R2"
cp "$WORK/g5" "$G5"
RR2=$DS/runs/FormatFlow/$R2/run.json
cp "$RR2" "$WORK/rr2"
"$PY" -c "import json,sys; r=json.load(open(sys.argv[1])); r['format']=2; json.dump(r, open(sys.argv[1],'w'))" "$RR2"
run_fails "resume names a newer run record of its origin" 1 "run.json is of a newer format than the format 1 this mflow reads" \
  mflow resume "$FLOW" --origin-run-id "$R2"
cp "$WORK/rr2" "$RR2"

RUNREC=$DS/runs/FormatFlow/$R1/run.json
cp "$RUNREC" "$WORK/runrec"
"$PY" -c "import json,sys; r=json.load(open(sys.argv[1])); r['format']=3; json.dump(r, open(sys.argv[1],'w'))" "$RUNREC"
run_fails "inspect: a run record of a newer format is named" 1 "is of a newer format than the format 1 this mflow reads" mflow inspect "FormatFlow/$R1"
run_fails "the reader names it" 1 "run record format 3 is newer" "$PY" "$FMT/reader.py" dump "$DS"
cp "$WORK/runrec" "$RUNREC"

# a blob of a newer format, and a value of a newer format (in a blob of its own)
KEY=$("$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))['artifacts']['i_neg']['key'])" "$REC")
BLOB=$DS/blobs/${KEY:0:2}/$KEY
cp "$BLOB" "$WORK/blob"
printf '2' | dd of="$BLOB" bs=1 seek=3 conv=notrunc status=none
run_fails "get: a blob of a newer format is named" 1 "has format version 2, newer than the version 1 this mflow reads" mflow get "$E" i_neg
run_fails "the reader names it" 1 "has format version 2, newer than version 1" "$PY" "$FMT/reader.py" get "$DS" "$E" i_neg
cp "$WORK/blob" "$BLOB"
NEWKEY=$("$PY" - "$DS" "$REC" <<'PY'
import hashlib, json, os, struct, sys
ds, rec = sys.argv[1], sys.argv[2]
enc = b"MFV\x02\x01\0\0\0" + struct.pack("<q", 7)
key = hashlib.sha256(enc).hexdigest()
os.makedirs(f"{ds}/blobs/{key[:2]}", exist_ok=True)
open(f"{ds}/blobs/{key[:2]}/{key}", "wb").write(b"MFB1\0\0\0\0" + struct.pack("<Q", len(enc)) + enc)
r = json.load(open(rec)); r["artifacts"]["i_neg"]["key"] = key; json.dump(r, open(rec, "w"))
print(key)
PY
)
run_fails "get: a value of a newer format is named" 1 "its value has format version 2, newer than the version 1 this mflow reads" mflow get "$E" i_neg
run_fails "the reader names it" 1 "value format version 2 is newer" "$PY" "$FMT/reader.py" get "$DS" "$E" i_neg
restore
# a value of a type this mflow does not know (12): a newer type, not damage
TYPEKEY=$("$PY" - "$DS" "$REC" <<'PY'
import hashlib, json, os, struct, sys
ds, rec = sys.argv[1], sys.argv[2]
enc = b"MFV\x01\x0c\0\0\0" + b"future"
key = hashlib.sha256(enc).hexdigest()
os.makedirs(f"{ds}/blobs/{key[:2]}", exist_ok=True)
open(f"{ds}/blobs/{key[:2]}/{key}", "wb").write(b"MFB1\0\0\0\0" + struct.pack("<Q", len(enc)) + enc)
r = json.load(open(rec)); r["artifacts"]["i_neg"]["key"] = key; r["artifacts"]["i_neg"]["size"] = len(enc)
json.dump(r, open(rec, "w"))
print(key)
PY
)
run_fails "get: a value of a newer type is named" 1 "its value is of a newer type (12) than this mflow knows: upgrade mflow to read it" mflow get "$E" i_neg
run_fails "the reader names it" 1 "the value is of a newer type (12) than this reader knows: upgrade" "$PY" "$FMT/reader.py" get "$DS" "$E" i_neg
restore
# a step that reads a value of a newer format fails naming it: resume run 2 at end, whose
# input (meet, cloned with its artifact map) now points "sides" at that value
M9=$DS/runs/FormatFlow/$R2/meet/9.0.json
cp "$M9" "$WORK/m9"
"$PY" -c "import json,sys; r=json.load(open(sys.argv[1])); r['artifacts']['sides']['key']=sys.argv[2]; json.dump(r, open(sys.argv[1],'w'))" "$M9" "$NEWKEY"
OUT=$(mflow resume "$FLOW" --origin-run-id "$R2" 2>&1)
check_eq "resume: end fails" 1 $?
check_contains "end names the newer value" "artifact 'sides' (blob $NEWKEY) has value format version 2, newer than the version 1 this mflow reads" "$OUT"
"$PY" -c "import json,sys; r=json.load(open(sys.argv[1])); r['artifacts']['sides']['key']=sys.argv[2]; json.dump(r, open(sys.argv[1],'w'))" "$M9" "$TYPEKEY"
OUT=$(mflow resume "$FLOW" --origin-run-id "$R2" 2>&1)
check_eq "resume: end fails on a newer type" 1 $?
check_contains "end names the newer type" "artifact 'sides' (blob $TYPEKEY) is of a newer type (12) than this mflow knows: upgrade mflow to read it" "$OUT"
cp "$WORK/m9" "$M9"

# the zstd expansion limit, exactly: length < 65536 x (compressed bytes + 1)
for side in over at; do
  "$PY" - "$DS" "$REC" "$side" <<'PY'
import hashlib, json, os, struct, sys
ds, rec, side = sys.argv[1:4]
body = b"\x28\xb5\x2f\xfd" + b"\0" * 6          # 10 bytes: a zstd magic and nothing useful
length = 65536 * (len(body) + 1) - (0 if side == "over" else 1)
key = hashlib.sha256(side.encode()).hexdigest()   # never reached: the header is refused first
os.makedirs(f"{ds}/blobs/{key[:2]}", exist_ok=True)
open(f"{ds}/blobs/{key[:2]}/{key}", "wb").write(b"MFB1\x01\0\0\0" + struct.pack("<Q", length) + body)
r = json.load(open(rec)); r["artifacts"]["i_neg"] = {"type": "i64", "key": key, "size": 16}
json.dump(r, open(rec, "w"))
PY
  OUT=$(mflow get "$E" i_neg 2>&1)
  ROUT=$("$PY" "$FMT/reader.py" get "$DS" "$E" i_neg 2>&1)
  if [ "$side" = over ]; then
    check_contains "mflow: 65536 x (n + 1) is past the limit" "its length is impossible for its compressed size" "$OUT"
    check_contains "reader: the same" "is impossible for 10 compressed bytes" "$ROUT"
  else
    check_eq "mflow: 65536 x (n + 1) - 1 passes the limit (then fails in zstd)" "" "$(printf '%s' "$OUT" | grep 'impossible')"
    check_contains "mflow: ... and is refused as corrupt" "is corrupt" "$OUT"
    check_eq "reader: passes the limit too" "" "$(printf '%s' "$ROUT" | grep 'impossible')"
  fi
  restore
done
finish
