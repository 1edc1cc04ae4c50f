#!/bin/bash
# The committed corpus (tests/format/corpus/, made once by make_corpus.sh) is old data:
# - the reader written from sdk/DATASTORE.md reads every parameter, artifact and foreach item
#   of it as expected.jsonl says;
# - every record in it still validates against the schemas;
# - this mflow reads it the same: `mflow get --json` of every artifact equals expected.jsonl
#   and `get --raw` the reader's bytes, through MFLOW_HOME and through --datastore-root.
# A change to mflow's writer or reader that breaks old data fails here.
. "$(dirname "$0")/lib.sh"
CORPUS=$FMT/corpus

OUT=$("$PY" "$FMT/compare.py" expected "$CORPUS/datastore" "$CORPUS/expected.jsonl" 2>&1)
check_contains "the reader reads the corpus as expected" " 0 mismatched" "$OUT"
N=$(printf '%s\n' "$OUT" | tail -1 | cut -d' ' -f1)
CHECKS=$((CHECKS + 1))
if [ "${N:-0}" -ge 450 ]; then echo "ok: $N expected entries"; else fail "only ${N:-0} entries: $OUT"; fi

OUT=$("$PY" "$FMT/schema_check.py" "$SRC/sdk/schema" "$CORPUS/datastore" 2>&1)
check_contains "the corpus records validate" ", 0 errors; self-test on ['graph', 'run', 'task']" "$OUT"

# mflow, with the corpus as the datastore of its home (a copy: mflow may write beside it)
mkdir -p "$MFLOW_HOME"
cp -r "$CORPUS/datastore" "$MFLOW_HOME/datastore"
run_ok "reindex the corpus" mflow reindex
check_contains "reindex finds the five runs" "reindexed 5 runs" "$OUT"
OUT=$("$PY" "$FMT/compare.py" mflow-expected "$CORPUS/expected.jsonl" "$CORPUS/datastore" 2>&1)
check_contains "mflow get --json reads the corpus as expected, get --raw as the reader" " 0 mismatched" "$OUT"
run_ok "inspect a retried task of the corpus" mflow --namespace= inspect FormatFlow/1/fan/4
check_contains "its two attempts are listed" "attempts   2" "$OUT"
run_ok "inspect a cloned task of the corpus" mflow --namespace= inspect FormatFlow/3/gather/5 --json
check_contains "its origin is shown" '"origin": "FormatFlow/2/gather/5"' "$OUT"

# text that is not UTF-8 in records: a tag, a failure message (hex objects in the JSON)
run_ok "tag list of the corpus" mflow --namespace= tag list FormatFlow/2
check_contains "a tag that is not UTF-8 survives" 'tag\xff' "$OUT"
run_ok "inspect a caught failure of the corpus" mflow --namespace= inspect Latin1Flow/1/oops/2
check_contains "its message that is not UTF-8" 'no caf\xe9 today' "$OUT"
run_ok "show the corpus graph's text" "$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))['parameters'][0]['help'])" "$MFLOW_HOME/datastore/runs/Latin1Flow/1/graph.json"
check_eq "the graph's help text as hex" "{'type': 'str', 'hex': '4c6174696e2d3120636166e9'}" "$OUT"

# the same through --datastore-root, with a fresh home
DS2=$WORK/ds2
cp -r "$CORPUS/datastore" "$DS2"
run_ok "reindex through --datastore-root" mflow --home="$WORK/home2" --datastore-root="$DS2" reindex
run_ok "get through --datastore-root" mflow --home="$WORK/home2" --datastore-root="$DS2" --namespace= get FormatFlow/1/fan/2 fv --json
check_eq "the f64[] of the corpus" '[1.0, "NaN", "Infinity", "-Infinity", -0.0, 4.9406564584124654e-324, 1.7976931348623157e308, 0.10000000000000001]' "$OUT"
run_ok "get a cloned task's value through --datastore-root" mflow --home="$WORK/home2" --datastore-root="$DS2" --namespace= get FormatFlow/3/fan/3 item --json
check_eq "its item" '{"type": "str", "hex": "62ff"}' "$OUT"
finish
