#!/bin/bash
# Makes the conformance corpus, tests/format/corpus/: a datastore written by the mflow given
# (default build/core/mflow) from flows/everything.c — run 1 succeeds (a foreach whose last
# item is retried, a join, a branch with a caught failure), run 2 fails at its end, run 3
# resumes it (every other task cloned) — flows/latin1.c (text that is not UTF-8 in its
# graph, a tag and a failure message) and flows/pyvalues.c (the types the Python SDK writes),
# and expected.jsonl, the value of every parameter,
# artifact and foreach item as `mflow get --json` prints it (sdk/DATASTORE.md, section 7).
#
# The corpus is committed and never regenerated casually: it is old data that every later
# mflow (and every reader written from the document) must keep reading the same. Regenerate
# only for a deliberate format change, and say so in the commit.
#
#   tests/format/make_corpus.sh [MFLOW]
set -eu
SRC=$(cd "$(dirname "$0")/../.." && pwd)
MFLOW=$(realpath "${1:-$SRC/build/core/mflow}")
PY=
for p in /usr/bin/python3 python3; do
  if "$p" -c 'import zstandard' 2>/dev/null; then PY=$p; break; fi
done
[ -n "$PY" ] || { echo "make_corpus: no python3 with zstandard" >&2; exit 1; }
OUTDIR=$SRC/tests/format/corpus
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export MFLOW_HOME=$WORK/home
unset MFLOW_DATASTORE_ROOT MFLOW_NAMESPACE MFLOW_COMPUTE MFLOW_STORAGE
FLOW=$SRC/tests/format/flows/everything.c

"$MFLOW" run "$FLOW" --tag corpus >/dev/null 2>&1
FORMAT_FAIL_END=1 "$MFLOW" run "$FLOW" --label=$'two\nlines \xff' --tag $'tag\xff' >/dev/null 2>&1 && { echo "run 2 should fail" >&2; exit 1; }
"$MFLOW" resume "$FLOW" >/dev/null 2>&1
# text that is not UTF-8 in a graph, a run record's tag and a task record's message
"$MFLOW" run "$SRC/tests/format/flows/latin1.c" --tag $'caf\xe9' >/dev/null 2>&1
# the types the Python SDK writes (obj, pickle, npy) and a foreach over an obj array
"$MFLOW" run "$SRC/tests/format/flows/pyvalues.c" >/dev/null 2>&1

DS=$MFLOW_HOME/datastore
# the reader must agree with mflow before anything is kept
MFLOW_BIN=$MFLOW "$PY" "$SRC/tests/format/compare.py" mflow "$DS"

# expected.jsonl: every entry the reader finds, with its value from mflow itself
"$PY" "$SRC/tests/format/reader.py" dump "$DS" >"$WORK/dump"
FMT=$SRC/tests/format MFLOW_BIN=$MFLOW "$PY" - "$WORK/dump" >"$WORK/expected.jsonl" <<'PY'
import json, os, subprocess, sys
sys.path.insert(0, os.environ["FMT"])
from compare import shorten
mflow = os.environ["MFLOW_BIN"]
def get(*args):
    return json.loads(subprocess.run([mflow, "--namespace=", *args], check=True,
                                     capture_output=True).stdout)
runs = {}
for line in open(sys.argv[1]):
    x = json.loads(line)
    if "item" in x:        # the flow stores its item as the artifact "item"
        x["item"] = get("get", x["path"], "item", "--json")
    elif x["path"].count("/") == 1:
        if x["path"] not in runs:
            runs[x["path"]] = get("inspect", x["path"], "--json")["parameters"]
        x["value"] = runs[x["path"]][x["name"]]["value"]
    else:
        x["value"] = get("get", x["path"], x["name"], "--json")
    print(json.dumps(shorten(x), sort_keys=True, ensure_ascii=False))
PY

rm -rf "$OUTDIR"
mkdir -p "$OUTDIR"
cp -r "$DS" "$OUTDIR/datastore"
cp "$WORK/expected.jsonl" "$OUTDIR/expected.jsonl"
chmod -R u+rwX,go+rX "$OUTDIR"
echo "corpus: $(find "$OUTDIR/datastore" -type f | wc -l) files, $(du -sb "$OUTDIR" | cut -f1) bytes," \
     "$(wc -l <"$OUTDIR/expected.jsonl") expected values"
