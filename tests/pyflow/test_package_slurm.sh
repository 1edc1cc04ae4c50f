#!/bin/bash
# A Python flow with a helper module and data files on Slurm (run under
# tests/slurm/slurm-fixture.sh): the run stores the flow's code package, every task runs the
# packaged source from the unpacked package, and a changed working copy makes a new package.
. "$MFLOW_TEST_SOURCE_ROOT/tests/pyflow/lib.sh"
: "${SLURM_CONF:?run this test under tests/slurm/slurm-fixture.sh (SLURM_CONF is not set)}"
D=$WORK/flow
mkdir -p "$D/data"
printf 'def scale(x):\n    return x * 10\n' > "$D/util.py"
printf '1,2,3\n' > "$D/data/a.csv"
printf '4,5\n' > "$D/data/b.csv"
cat > "$D/slurmpkg.py" <<'PY'
import os
from mflow import FlowSpec, step
import util


def here():
    return os.path.dirname(os.path.abspath(__file__))


class SlurmPkgFlow(FlowSpec):
    files = ["data/*.csv"]

    @step
    def start(self):
        self.where = here()
        self.nums = [int(v) for n in sorted(os.listdir(os.path.join(here(), "data")))
                     for v in open(os.path.join(here(), "data", n)).read().split(",")]
        self.next(self.double, foreach="nums")

    @step
    def double(self):
        self.v = util.scale(self.input)
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.v for i in inputs)
        self.wheres = sorted(set([i.where for i in inputs]))
        self.next(self.end)

    @step
    def end(self):
        self.end_where = here()
PY
OUT=$(mflow --compute=slurm run "$D/slurmpkg.py" --run-id-file "$WORK/rid" 2>&1); rc=$?
check_eq "slurm run exit code" 0 "$rc"
[ $rc = 0 ] || echo "$OUT" >&2
RUN=$(cat "$WORK/rid")
addr=$(echo "$OUT" | sed -n 's/^mflow: code package //p')
check_eq "the run stored one package" 1 "$(echo "$OUT" | grep -c '^mflow: code package ')"
check_eq "mflow package gives the run's package" "$addr" "$(mflow package "$D/slurmpkg.py" | head -1)"
sha=$(basename "$addr" .tar.zst)
check_eq "helper module and data on Slurm" 150 "$(mflow get "SlurmPkgFlow/$RUN/join" total)"
check_eq "start ran in the unpacked package" "$MFLOW_HOME/cache/packages/$sha" "$(mflow get "SlurmPkgFlow/$RUN/start" where)"
check_eq "end ran in the unpacked package" "$MFLOW_HOME/cache/packages/$sha" "$(mflow get "SlurmPkgFlow/$RUN/end" end_where)"
# a changed working copy: a new package, and its code runs
sed -i 's/x \* 10/x * 100/' "$D/util.py"
OUT=$(mflow --compute=slurm run "$D/slurmpkg.py" --run-id-file "$WORK/rid" 2>&1) || echo "$OUT" >&2
addr2=$(echo "$OUT" | sed -n 's/^mflow: code package //p')
check_eq "a new package for the changed module" 1 "$([ -n "$addr2" ] && [ "$addr2" != "$addr" ] && echo 1)"
check_eq "the changed module ran" 1500 "$(mflow get "SlurmPkgFlow/$(cat "$WORK/rid")/join" total)"
finish
