#!/bin/bash
# Artifact names, and stored text on the terminal and in JSON:
# - mf_set_* refuses a name that is not an identifier (newline, ESC, CR, BEL, ../, empty,
#   a leading digit or dot, a dash, too long), naming it escaped;
# - inspect, get, runs and tag list escape control characters and bytes that are not UTF-8
#   in what they print from stored data, even from a record made by hand;
# - every --json output carries text that is not UTF-8 as {"type": "str", "hex": ...}, and
#   no message reads "no error".
. "$(dirname "$0")/lib.sh"
FLOW=$FLOWS/names.c

# The checks over what commands printed run in one python3 at the end, not one python3 per
# check (about 70 starts): clean_later and py_later keep a copy of the output and
# the check; checks_now runs them all and reports each with check_eq, in order.
Q=$WORK/checks
mkdir -p "$Q"
NQ=0
# clean_later WHAT FILE: no raw control character (other than newline), no C1 control, valid
# UTF-8 in FILE ("clean")
clean_later() { NQ=$((NQ + 1)); cp "$2" "$Q/$NQ.in"; printf '%s' "$1" >"$Q/$NQ.what"; printf clean >"$Q/$NQ.want"; : >"$Q/$NQ.clean"; }
# py_later WHAT EXPECTED FILE EXPR: EXPR over the JSON in FILE as j prints EXPECTED
py_later() { NQ=$((NQ + 1)); cp "$3" "$Q/$NQ.in"; printf '%s' "$1" >"$Q/$NQ.what"; printf '%s' "$2" >"$Q/$NQ.want"; printf '%s' "$4" >"$Q/$NQ.expr"; }
checks_now() {
  python3 - "$Q" "$NQ" <<'PY'
import json, os, sys
q, n = sys.argv[1], int(sys.argv[2])
def clean(b):
    try:
        s = b.decode("utf-8")
    except UnicodeDecodeError as e:
        return f"not UTF-8 at byte {e.start}: {b[max(0, e.start - 20):e.start + 20]!r}"
    bad = [c for c in s if (ord(c) < 0x20 and c != "\n") or 0x7f <= ord(c) <= 0x9f]
    return f"raw controls {bad!r} in {s[:300]!r}" if bad else "clean"
for i in range(1, n + 1):
    path = os.path.join(q, f"{i}.in")
    try:
        if os.path.exists(os.path.join(q, f"{i}.clean")):
            got = clean(open(path, "rb").read())
        else:
            expr = open(os.path.join(q, f"{i}.expr"), encoding="utf-8").read()
            j = json.load(open(path))
            got = str(eval(expr, {"j": j}))
    except Exception as e:
        got = f"check failed: {e!r}"
    with open(os.path.join(q, f"{i}.got"), "w", encoding="utf-8") as f:
        f.write(got)
PY
  local i
  for i in $(seq 1 "$NQ"); do
    check_eq "$(cat "$Q/$i.what")" "$(cat "$Q/$i.want")" "$(cat "$Q/$i.got" 2>/dev/null)"
  done
}
ESC=$'\e'

# ---- the writer refuses names that are not identifiers ----------------------------------
LONG=$(printf 'n%.0s' $(seq 101))
i=0
for name in $'a\nb' "${ESC}[31mred" $'x\ry' $'bell\a' '../x' '' '9lives' '.hidden' 'a-b' 'a b' "$LONG" $'caf\xc3\xa9'; do
  i=$((i + 1))
  OUT=$(MFLOW_TEST_NAME=$name mflow run "$FLOW" --run-id-file "$WORK/rid" 2>&1); rc=$?
  check_eq "bad name $i: the run fails" 1 "$rc"
  check_contains "bad name $i: the rule is stated" "is not valid: an artifact name is 1 to 100 letters" "$OUT"
  printf '%s' "$OUT" >"$WORK/out"
  clean_later "bad name $i: the message is clean" "$WORK/out"
  mflow inspect "NamesFlow/$(cat "$WORK/rid")/start/1" >"$WORK/out" 2>&1
  clean_later "bad name $i: inspect of the failed task is clean" "$WORK/out"
done
OUT=$(MFLOW_TEST_NAME=$'a\nb' mflow run "$FLOW" 2>&1)
check_contains "a newline is shown as \\n" "artifact name 'a\\nb' is not valid" "$OUT"
OUT=$(MFLOW_TEST_NAME="${ESC}[31mred" mflow run "$FLOW" 2>&1)
check_contains "ESC is shown as \\x1b" "artifact name '\\x1b[31mred' is not valid" "$OUT"
OUT=$(MFLOW_TEST_NAME='../x' mflow run "$FLOW" 2>&1)
check_contains "../x is named" "artifact name '../x' is not valid" "$OUT"
for name in value x _x X9 "$(printf 'n%.0s' $(seq 100))"; do
  MFLOW_TEST_NAME=$name run_flow "$FLOW"
  check_eq "good name '${name:0:12}': the run succeeds" 0 $?
done

# ---- stored text with control characters is escaped on the terminal ----------------------
run_flow "$FLOW" --label="${ESC}]0;title${ESC}\\ and ${ESC}[2J" --tag "${ESC}[31mtag" --tag $'two\rlines' || fail "control label: $OUT"
R=$RUN
MFLOW_TEST_VALUE=$'line1\nline2\e[0m\a' run_flow "$FLOW" || fail "control value: $OUT"
RV=$RUN
for cmd in "inspect NamesFlow/$R" "inspect NamesFlow/$R/start" "inspect NamesFlow/$R/start/1" \
           "runs NamesFlow" "runs" "tag list NamesFlow/$R" "get NamesFlow/$R/start label" \
           "get NamesFlow/$RV/start value" "get NamesFlow/$RV/start list" \
           "inspect NamesFlow/$RV/start/1"; do
  # shellcheck disable=SC2086
  mflow $cmd >"$WORK/out" 2>&1
  check_eq "$cmd: exit 0" 0 $?
  clean_later "$cmd: clean" "$WORK/out"
done
check_contains "tag list shows the tag escaped" '\x1b[31mtag' "$(mflow tag list "NamesFlow/$R")"
check_contains "runs shows the tag escaped" 'two\rlines' "$(mflow runs NamesFlow)"
check_eq "get keeps a value's newline, escapes the rest" $'line1\nline2\\x1b[0m\\x07' "$(mflow get "NamesFlow/$RV/start" value)"
mflow get "NamesFlow/$RV/start" value --raw >"$WORK/raw"
check_eq "get --raw writes the exact bytes" "$(printf 'line1\nline2\e[0m\a' | od -An -tx1)" "$(od -An -tx1 <"$WORK/raw")"
mflow tag list "NamesFlow/$R" --json >"$WORK/j"
py_later "tag list --json keeps the exact text" "True" "$WORK/j" "'\x1b[31mtag' in j and 'two\rlines' in j"

# ---- a record made by hand: the reader escapes what the writer would have refused --------
run_flow "$FLOW" || fail "plain: $OUT"
RH=$RUN
DS=$MFLOW_HOME/datastore
python3 - "$DS" "$DS/runs/NamesFlow/$RH/start/1.0.json" <<'PY'
import hashlib, json, os, struct, sys
ds, rec_path = sys.argv[1], sys.argv[2]
def blob(payload, t=3):
    enc = b"MFV\x01" + bytes([t]) + b"\0\0\0" + payload
    key = hashlib.sha256(enc).hexdigest()
    d = os.path.join(ds, "blobs", key[:2]); os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, key), "wb") as f:
        f.write(b"MFB1\0\0\0\0" + struct.pack("<Q", len(enc)) + enc)
    return {"type": "str", "key": key, "size": len(enc)}
rec = json.load(open(rec_path))
for name in ["a\nb", "\x1b[31mred", "x\ry", "bell\x07", "../x", "", "\u009b2J"]:
    rec["artifacts"][name] = blob(b"v\x1b[1m")
# values that are not UTF-8 (item: JSON output)
rec["artifacts"]["invalid"] = blob(b"\xff\xfe")
rec["artifacts"]["overlong"] = blob(b"\xc0\xaf")
rec["artifacts"]["surrogate"] = blob(b"\xed\xa0\x80")
rec["artifacts"]["truncated"] = blob(b"ok\xe2\x82")
rec["artifacts"]["too_big"] = blob(b"\xf4\x90\x80\x80")
rec["artifacts"]["with_nul"] = blob(b"a\0b")
rec["artifacts"]["utf8"] = blob("café ✓".encode())
rec["artifacts"]["list_bad"] = {**blob(struct.pack("<Q", 2) + struct.pack("<Q", 2) + b"ok" + struct.pack("<Q", 2) + b"\xff\xfe", 7), "type": "str[]"}
json.dump(rec, open(rec_path, "w"))
PY
for cmd in "inspect NamesFlow/$RH/start/1" "get NamesFlow/$RH/start invalid" "get NamesFlow/$RH/start nope" \
           "get NamesFlow/$RH/start list_bad"; do
  # shellcheck disable=SC2086
  mflow $cmd >"$WORK/out" 2>&1
  clean_later "hand-made record, $cmd: clean" "$WORK/out"
  check_eq "hand-made record, $cmd: no 'no error'" "" "$(grep -i 'no error' "$WORK/out")"
done
check_contains "inspect names a newline artifact escaped" 'a\nb' "$(mflow inspect "NamesFlow/$RH/start/1")"
check_contains "inspect names an ESC artifact escaped" '\x1b[31mred' "$(mflow inspect "NamesFlow/$RH/start/1")"
check_contains "inspect names a C1 artifact escaped" '\xc2\x9b2J' "$(mflow inspect "NamesFlow/$RH/start/1")"
check_contains "get with no such artifact lists the names escaped" 'bell\x07' "$(mflow get "NamesFlow/$RH/start" nope 2>&1)"

# ---- JSON: text that is not UTF-8 is {"type": "str", "hex": ...}, exactly ------------------
for pair in invalid:fffe overlong:c0af surrogate:eda080 truncated:6f6be282 too_big:f4908080; do
  name=${pair%%:*} hex=${pair#*:}
  OUT=$(mflow get "NamesFlow/$RH/start" "$name" --json 2>&1)
  check_eq "get --json $name" '{"type": "str", "hex": "'"$hex"'"}' "$OUT"
done
mflow get "NamesFlow/$RH/start" with_nul --json >"$WORK/j"
py_later "get --json: a NUL is \\u0000 in a string" "'a\\x00b'" "$WORK/j" 'repr(j)'
mflow get "NamesFlow/$RH/start" utf8 --json >"$WORK/j"
py_later "get --json: UTF-8 stays a string" "café ✓" "$WORK/j" 'j'
mflow get "NamesFlow/$RH/start" list_bad --json >"$WORK/j"
py_later "get --json: a list element that is not UTF-8" "['ok', {'type': 'str', 'hex': 'fffe'}]" "$WORK/j" 'j'
mflow inspect "NamesFlow/$RH/start/1" --json >"$WORK/j" 2>"$WORK/err"
check_eq "inspect --json of the hand-made task: exit 0" 0 $?
check_eq "inspect --json: no message" "" "$(cat "$WORK/err")"
py_later "inspect --json: the invalid value as hex" "{'type': 'str', 'hex': 'fffe'}" \
  "$WORK/j" '[a["value"] for a in j["artifacts"] if a["name"] == "invalid"][0]'
py_later "inspect --json: the names, exactly" "True" \
  "$WORK/j" 'all(n in [a["name"] for a in j["artifacts"]] for n in ["a\nb", "\x1b[31mred", "x\rbell"[:0] + "x\ry", "../x", ""])'

# A parameter and tags given as bytes that are not UTF-8.
for val in $'\xff\xfe' $'\xc0\xaf' $'\xed\xa0\x80' $'ok\xe2\x82'; do
  hex=$(printf '%s' "$val" | od -An -tx1 | tr -d ' \n')
  run_flow "$FLOW" --label="$val" --tag "t$val" || fail "label $hex: $OUT"
  RB=$RUN
  OUT=$(mflow get "NamesFlow/$RB/start" label --json 2>&1)
  check_eq "param $hex: get --json" '{"type": "str", "hex": "'"$hex"'"}' "$OUT"
  mflow inspect "NamesFlow/$RB" --json >"$WORK/j" 2>&1
  py_later "param $hex: inspect --json" "{'type': 'str', 'hex': '$hex'}" "$WORK/j" 'j["parameters"]["label"]["value"]'
  py_later "param $hex: inspect --json tag" "{'type': 'str', 'hex': '74$hex'}" "$WORK/j" 'j["tags"][-1]'
  mflow runs NamesFlow --json >"$WORK/j" 2>&1
  py_later "param $hex: runs --json tag" "{'type': 'str', 'hex': '74$hex'}" "$WORK/j" 'j[0]["tags"][-1]'
  mflow tag list "NamesFlow/$RB" --json >"$WORK/j" 2>&1
  py_later "param $hex: tag list --json" "{'type': 'str', 'hex': '74$hex'}" "$WORK/j" 'j[-1]'
  mflow inspect "NamesFlow/$RB" >"$WORK/out" 2>&1
  check_eq "param $hex: inspect exits 0" 0 $?
  clean_later "param $hex: inspect is clean" "$WORK/out"
  check_eq "param $hex: no 'no error'" "" "$(grep -i 'no error' "$WORK/out")"
  mflow get "NamesFlow/$RB/start" label >"$WORK/out" 2>&1
  clean_later "param $hex: get is clean" "$WORK/out"
done

checks_now
finish
