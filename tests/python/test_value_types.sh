#!/bin/bash
# The value types the Python SDK writes (obj, pickle, npy), written by a C flow through
# mf_set_value / read through mf_get_value and mf_input_value: mflow get and inspect show them,
# a foreach fans out over an obj that is a JSON array, and every other foreach list, and every
# payload that is not valid, fails the task with a message that says what to do.
. "$MFLOW_TEST_SOURCE_ROOT/tests/e2e/lib.sh"
F=$SRC/tests/python/flows/values.c

run_flow "$F" || fail "ValuesFlow: $OUT"
R=$RUN
S=ValuesFlow/$R/start

# mflow get: obj as its JSON text (also with --json, exactly, big integers included)
check_eq "get obj" '{"k": [1, 2.5, null, true], "$t": "\u00e9"}' "$(mflow get $S o)"
check_eq "get --json obj" '{"k": [1, 2.5, null, true], "$t": "\u00e9"}' "$(mflow get --json $S o)"
check_eq "get --json big obj" "123456789012345678901234567890" "$(mflow get --json $S big)"
check_eq "get --raw obj" '[{"$tuple": [1, 2]}, [3], "x"]' "$(mflow get --raw $S items)"
check_eq "get pickle" "<Python object, 4 bytes: read it with the Python client>" "$(mflow get $S p)"
check_eq "get --json pickle" '{"type": "pickle", "size": 4, "hex": "80049500"}' \
  "$(mflow get --json $S p)"
check_eq "get npy" "<numpy array <i8 (3,), 152 bytes: read it with the Python client>" \
  "$(mflow get $S a)"
J=$(mflow get --json $S a)
check_eq "get --json npy" '<i8 [3] 152 True' "$(python3 -c '
import json, sys
d = json.loads(sys.argv[1])
b = bytes.fromhex(d["hex"])
print(d["dtype"], d["shape"], d["size"], b[:6] == b"\x93NUMPY" and b[128] == 1 and len(b) == d["size"])' "$J")"
mflow get --raw $S a > "$WORK/a.npy"
check_eq "get --raw npy: the .npy bytes" "152 934e554d5059" \
  "$(stat -c %s "$WORK/a.npy") $(head -c 6 "$WORK/a.npy" | od -An -tx1 | tr -d ' \n')"
check_eq "get raw i64 set through mf_set_value" "7" "$(mflow get $S i)"

# inspect: the type names, the value or the note
I=$(mflow inspect $S/1)
check_contains "inspect obj" 'o      obj            43  {"k": [1, 2.5, null, true], "$t": "\u00e9"}' "$I"
check_contains "inspect big obj exact" "big    obj            30  123456789012345678901234567890" "$I"
check_contains "inspect pickle" "p      pickle           4  <Python object, 4 bytes" "$I"
check_contains "inspect npy" "a      npy           152  <numpy array <i8 (3,)" "$I"
check_contains "inspect split" "splits     into 3 items" "$I"
check_eq "inspect --json" "obj {'k': [1, 2.5, None, True], '\$t': 'é'}|pickle -|npy -|{'type': 'obj', 'json': '123456789012345678901234567890'}" \
  "$(mflow inspect --json $S/1 | python3 -c '
import json, sys
a = {x["name"]: x for x in json.load(sys.stdin)["artifacts"]}
print("|".join([a["o"]["type"] + " " + repr(a["o"]["value"]), a["p"]["type"] + " " + a["p"].get("value", "-"),
                a["a"]["type"] + " " + repr(a["a"].get("value", "-"))[1:-1] , repr(a["big"]["value"])]))')"

# the foreach over the obj array: 3 tasks, each saw the whole list, index and count
check_eq "each tasks" "3" "$(mflow inspect --json ValuesFlow/$R/each | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["tasks"]))')"
check_eq "join: sum of indexes" "3" "$(mflow get ValuesFlow/$R/join sum)"
check_eq "join: mf_input_value npy" "11 152 1" \
  "$(mflow get ValuesFlow/$R/join a_type) $(mflow get ValuesFlow/$R/join a_len) $(mflow get ValuesFlow/$R/join a_first)"
check_eq "end: mf_get_value obj" '9:43:{"k":' "$(mflow get ValuesFlow/$R/end o_seen)"
check_eq "end: mf_get_value i64" "7108" "$(mflow get ValuesFlow/$R/end i_type)"

# other lengths, nested values as items
for list in '[1]' '[[1, 2], {"a": 1}, null, true, 2.5]' '[1,2,3,4,5,6,7]'; do
  n=$(python3 -c 'import json,sys; print(len(json.loads(sys.argv[1])))' "$list")
  run_flow "$F" --list="$list" || fail "list $list: $OUT"
  check_eq "foreach over $list: tasks" "$n" "$(mflow inspect --json ValuesFlow/$RUN/each | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["tasks"]))')"
  check_eq "foreach over $list: sum" "$((n * (n - 1) / 2))" "$(mflow get ValuesFlow/$RUN/join sum)"
  check_eq "foreach over $list: count seen" "$n" "$(mflow get ValuesFlow/$RUN/each/$(mflow inspect --json ValuesFlow/$RUN/each | python3 -c 'import json,sys; print(json.load(sys.stdin)["tasks"][0]["task_id"])') n)"
done

# what a foreach refuses, and payloads that are not valid
run_fails "foreach over a pickle" 1 "fans out over 'items', which is a pickled Python object, not a list: make it a list of portable values" \
  mflow run "$F" --kind=pickle
run_fails "foreach over an obj that is not an array" 1 "fans out over 'items', which is an obj but not a list (its JSON is not an array): make it a list of portable values" \
  mflow run "$F" --kind=notarray
run_fails "foreach over an empty obj array" 1 "fans out over 'items', which is empty" \
  mflow run "$F" --list='[]'
run_fails "foreach over a str" 1 "fans out over 'items', which is str, not a list" \
  mflow run "$F" --kind=str
run_fails "invalid obj" 1 "mf_set_value('items'): the 7 bytes are not a valid obj value" \
  mflow run "$F" --kind=badjson
run_fails "obj that is not JSON (list param)" 1 "are not a valid obj value" \
  mflow run "$F" --list='[1, NaN]'
run_fails "invalid npy" 1 "mf_set_value('items'): the 5 bytes are not a valid npy value" \
  mflow run "$F" --kind=badnpy
run_fails "unknown type" 1 "mf_set_value('items'): 12 is not a type an artifact can have" \
  mflow run "$F" --kind=badtype
run_fails "mf_item_i64 over an obj" 1 "the foreach list 'items' is an obj (a JSON array): read it with mf_get_value" \
  mflow run "$F" --kind=itemi64

finish
