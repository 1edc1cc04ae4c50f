#!/bin/bash
# Code packages of Python flows: `mflow package flow.py` holds the .py, the files its class
# lists (files = [...]) and the modules it imports from its directory, nothing else; bad
# entries are refused with a message; a task given --package runs the packaged source (its
# helper module and data files from the package) even after the working copy changed.
# With PKG_DATASTORE_ROOT set (the s3 suite runs it under s3-fixture.sh) all of it on S3.
. "$MFLOW_TEST_SOURCE_ROOT/tests/pyflow/lib.sh"
ROOT=${PKG_DATASTORE_ROOT:-}
m() { if [ -n "$ROOT" ]; then mflow --datastore-root="$ROOT" "$@"; else mflow "$@"; fi; }

D=$WORK/flow
mkdir -p "$D/data" "$D/helpers" "$D/other"
printf 'def scale(x):\n    return x * 10\n' > "$D/util.py"
printf 'OFFSET = 7\n' > "$D/helpers/__init__.py"
printf '1,2,3\n' > "$D/data/a.csv"
printf '4,5\n' > "$D/data/b.csv"
printf 'not listed\n' > "$D/notes.txt"
printf 'x\n' > "$D/other/o.txt"
cat > "$D/pkgflow.py" <<'PY'
import os
from mflow import FlowSpec, step
import util
from helpers import OFFSET


class PkgFlow(FlowSpec):
    files = ["data/*.csv"]

    @step
    def start(self):
        here = os.path.dirname(os.path.abspath(__file__))
        self.where = here
        self.nums = [int(v) for n in sorted(os.listdir(os.path.join(here, "data")))
                     for v in open(os.path.join(here, "data", n)).read().split(",")]
        self.scaled = util.scale(sum(self.nums)) + OFFSET
        self.next(self.end)

    @step
    def end(self):
        pass
PY
cp "$D/pkgflow.py" "$WORK/orig.py"
listing() { m package "$1" | awk 'NR > 3 {print $3}' | tr '\n' ' '; }

# What a package holds: the flow, its imports from its directory (helpers/ as a package),
# its listed files; never notes.txt nor other/, and no compiled object.
check_eq "package of a Python flow" ".mflow/ .mflow/package.json data/ data/a.csv data/b.csv helpers/ helpers/__init__.py pkgflow.py util.py " "$(listing "$D/pkgflow.py")"
A=$(m package "$D/pkgflow.py" | head -1)
if [ -n "$ROOT" ]; then
  check_contains "stored on S3" "stored in $ROOT" "$(m package "$D/pkgflow.py")"
fi
check_contains "package address" "packages/" "$A"
check_eq "same flow, same package" "$A" "$(m package "$D/pkgflow.py" | head -1)"
# a directory listed: its whole tree; a single file
sed 's|files = \["data/\*.csv"\]|files = ["data", "other/o.txt"]|' "$WORK/orig.py" > "$D/pkgflow.py"
check_eq "files names a directory and a file" ".mflow/ .mflow/package.json data/ data/a.csv data/b.csv helpers/ helpers/__init__.py other/ other/o.txt pkgflow.py util.py " "$(listing "$D/pkgflow.py")"
# no files attribute: the flow and its imports
sed '/    files = \[.*\]/d' "$WORK/orig.py" > "$D/pkgflow.py"
check_eq "no files attribute" ".mflow/ .mflow/package.json helpers/ helpers/__init__.py pkgflow.py util.py " "$(listing "$D/pkgflow.py")"

# Refused entries, each named.
bad() {
  sed "s|^class PkgFlow(FlowSpec):|class PkgFlow(FlowSpec):\n    files = $1|" "$D/pkgflow.py" > "$D/bad.py"
  run_fails "$2" 1 "$3" m package "$D/bad.py"
}
bad '["nothing/*.txt"]' "a pattern matching nothing" "'nothing/*.txt' matches no file in"
bad '["../x.py"]' "a path above the flow" "'../x.py' is a '..' component"
bad '["/etc/passwd"]' "an absolute path" "'/etc/passwd' is an absolute path"
bad '"util.py"' "files as a string" "files lists the paths its code package carries, as strings"
bad '[".mflow/x"]' "mflow's own name" "is reserved for mflow's own files"
ln -s /etc/hostname "$D/outside.txt"
bad '["outside.txt"]' "a link leading outside" "leads outside the flow's directory"
rm -f "$D/outside.txt" "$D/bad.py"
cp "$WORK/orig.py" "$D/pkgflow.py"
check_eq "the flow back as it was" "$A" "$(m package "$D/pkgflow.py" | head -1)"

# A run, then one task forced onto the package, after the working copy changed: the
# packaged util.py, helpers and data run, in the package's directory.
run_ok "run the flow" m run "$D/pkgflow.py" --run-id-file "$WORK/rid"
RUN=$(cat "$WORK/rid")
check_eq "value from the working copy" 157 "$(m get "PkgFlow/$RUN/start" scaled)"
sed -i 's/x \* 10/x * 1000/' "$D/util.py"
printf 'OFFSET = 1\n' > "$D/helpers/__init__.py"
printf '100\n' > "$D/data/b.csv"
run_ok "a task from the package" m task PkgFlow start --run-id "$RUN" --task-id 99 --package "$A"
run_ok "reindex" m reindex
SHA=${A#packages/}; SHA=${SHA%.tar.zst}
check_eq "packaged helper, module and data ran" 157 "$(m get "PkgFlow/$RUN/start/99" scaled)"
check_eq "packaged data files" "[1,2,3,4,5]" "$(m get "PkgFlow/$RUN/start/99" nums --json | tr -d ' \n')"
check_eq "it ran in the unpacked package" "$MFLOW_HOME/cache/packages/$SHA" "$(m get "PkgFlow/$RUN/start/99" where)"
check_eq "unpacked beside nothing else" "data helpers pkgflow.py util.py" "$(ls "$MFLOW_HOME/cache/packages/$SHA" | tr '\n' ' ' | sed 's/ $//')"
# the working copy's run sees the change (so the package really was another code)
run_ok "run the changed flow" m run "$D/pkgflow.py" --run-id-file "$WORK/rid2"
check_eq "value from the changed working copy" 106001 "$(m get "PkgFlow/$(cat "$WORK/rid2")/start" scaled)"
# a package address that is not stored, and one task given the flow's path still
if [ -n "$ROOT" ]; then
  check_eq "nothing in a local datastore" 0 "$(find "$MFLOW_HOME" -path '*datastore*' -type f | wc -l)"
fi
run_fails "a missing package" 1 "is not in the datastore" \
  m task PkgFlow start --run-id "$RUN" --task-id 98 --package "packages/$(printf '%064d' 0).tar.zst"
finish
