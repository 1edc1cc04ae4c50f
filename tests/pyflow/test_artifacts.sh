#!/bin/bash
# Artifacts of Python flows: each portable type read back by mflow get and by a later step;
# other objects pickled, numpy arrays stored as npy; foreach over a value that is not a list.
. "$(dirname "$0")/lib.sh"
F=$PYFLOWS/values.py
np=false
if "${MFLOW_PYTHON:-python3}" -c "import numpy" 2>/dev/null; then np=true; else echo "numpy is not installed: its checks are skipped"; fi

run_flow "$F" --numpy=$np; rc=$?
check_eq "values: exit" 0 "$rc"
check_eq "every value read back as it was set, with its type" none "$(mflow get "ValuesFlow/$RUN/check" bad)"
check_eq "a mutated inherited list is not stored" 3 "$(mflow get "ValuesFlow/$RUN/end" ints_len)"
T=ValuesFlow/$RUN/start
check_eq "int" 42 "$(mflow get "$T" an_int)"
check_eq "negative int" -7 "$(mflow get "$T" neg)"
check_eq "big int (obj)" 1180591620717411303424 "$(mflow get "$T" big)"
check_eq "float" 2.5 "$(mflow get "$T" a_float)"
check_eq "str" héllo "$(mflow get "$T" a_str)"
check_eq "bytes" 0001ff "$(mflow get "$T" a_bytes --raw | od -An -tx1 | tr -d ' \n')"
check_eq "bool (obj)" true "$(mflow get "$T" a_bool)"
check_eq "None (obj)" null "$(mflow get "$T" nothing)"
check_eq "list of ints (i64[])" "1 2 3" "$(mflow get "$T" ints | tr '\n' ' ' | sed 's/ $//')"
check_eq "list of strs (str[])" "a b" "$(mflow get "$T" strs | tr '\n' ' ' | sed 's/ $//')"
check_eq "dict (obj)" '{"k":[1,2],"n":{"deep":true}}' "$(mflow get "$T" a_dict | tr -d ' \n')"
check_eq "tuple (obj tag)" '{"$tuple":[1,"x"]}' "$(mflow get "$T" a_tuple | tr -d ' \n')"
check_contains "set (pickle)" "Python object" "$(mflow get "$T" a_set)"
check_contains "class instance (pickle)" "read it with the Python client" "$(mflow get "$T" point)"
J=$(mflow inspect "$T/1" --json)
# art_type NAME: the type the task's record gives the artifact
art_type() { printf '%s' "$J" | python3 -c "import json,sys; print([a['type'] for a in json.load(sys.stdin)['artifacts'] if a['name'] == sys.argv[1]][0])" "$1" 2>&1; }
for pair in an_int:i64 a_float:f64 a_str:str a_bytes:bytes ints:i64[] floats:f64[] strs:str[] \
            big:obj a_bool:obj nothing:obj a_dict:obj empty:obj mixed:obj a_tuple:obj \
            a_set:pickle point:pickle; do
  name=${pair%%:*} ty=${pair#*:}
  check_eq "$name is stored as $ty" "$ty" "$(art_type "$name")"
done
if [ "$np" = true ]; then
  check_contains "numpy array (npy)" "<numpy array <f4 (2, 3)" "$(mflow get "$T" arr)"
  check_eq "numpy array is npy" npy "$(art_type arr)"
fi

# a foreach over a value that is not a list fails the step and names it
cat > "$WORK/badforeach.py" <<'PY'
from mflow import FlowSpec, step
class BadForeach(FlowSpec):
    @step
    def start(self):
        self.items = {1, 2}
        self.next(self.body, foreach="items")
    @step
    def body(self):
        self.next(self.join)
    @step
    def join(self, inputs):
        self.next(self.end)
    @step
    def end(self):
        pass
PY
run_fails "foreach over a set" 1 "step 'start' fans out over 'items', which is a pickled Python object, not a list" mflow run "$WORK/badforeach.py"
check_contains "foreach over a set: what to do" "make it a list of portable values" "$OUT"
# an artifact named like a plain value of the class body is read back, not the class's value
# (the class attribute hid it: every read gave 0.5 while 0.9 was stored)
run_flow "$PYFLOWS/classvalues.py"; rc=$?
check_eq "classvalues: exit" 0 "$rc"
T=ClassValuesFlow/$RUN
check_eq "the class's value before one is set" 0.5 "$(mflow get "$T/start" before)"
check_eq "read in the step that set it" 0.90000000000000002 "$(mflow get "$T/start" same_step)"
check_eq "read in a later step" 0.90000000000000002 "$(mflow get "$T/end" later)"
check_eq "inputs.a.labels" a "$(mflow get "$T/join" from_a)"
check_eq "merged into the join" a "$(mflow get "$T/end" merged)"
check_eq "the class keeps its value" 0.5 "$(mflow get "$T/end" on_class)"
# a list the join changes after merge_artifacts is stored as the step ends (was: as it was at
# the merge, [] here, with nothing said)
run_flow "$PYFLOWS/merge_then_change.py"; rc=$?
check_eq "merge_then_change: exit" 0 "$rc"
check_eq "the list changed after the merge" '[3,"same"]' "$(mflow get "MergeThenChangeFlow/$RUN/end" results | tr -d ' \n')"
check_eq "an int set again after the merge" 1 "$(mflow get "MergeThenChangeFlow/$RUN/end" count)"
check_eq "a merged artifact" same "$(mflow get "MergeThenChangeFlow/$RUN/end" common)"
finish
