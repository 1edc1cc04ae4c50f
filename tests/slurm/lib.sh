# Shared helpers for the slurm suite: the e2e helpers (own MFLOW_HOME and work dir per test)
# plus what talking to the fixture's cluster needs. Run under slurm-fixture.sh.
. "${MFLOW_TEST_SOURCE_ROOT:?}/tests/e2e/lib.sh"
: "${SLURM_CONF:?run this test under tests/slurm/slurm-fixture.sh (SLURM_CONF is not set)}"
SFLOWS=$SRC/tests/slurm/flows
DS=$MFLOW_HOME/datastore
unset MFLOW_SLURM_PARTITION MFLOW_SLURM_ACCOUNT MFLOW_SLURM_QOS MFLOW_SLURM_SBATCH_ARGS \
  MFLOW_SLURM_ARRAY MFLOW_SLURM_ARRAY_MAX MFLOW_SLURM_KEEP_LOGS MFLOW_SLURM_LOG_DIR

# artifacts FLOW RUN: what the run computed, by task position (artifacts.py)
artifacts() { python3 "$SRC/tests/slurm/artifacts.py" "$DS" "$1" "$2"; }

# record FLOW RUN STEP FIELD [ATTEMPT]: a field of the step's task record (first task)
record() {
  python3 - "$DS" "$@" <<'PY'
import glob, json, os, sys
ds, flow, run, step, field = sys.argv[1:6]
att = sys.argv[6] if len(sys.argv) > 6 else "0"
paths = sorted(glob.glob(os.path.join(ds, "runs", flow, run, step, "*.%s.json" % att)))
print(json.load(open(paths[0])).get(field, "") if paths else "")
PY
}

# slurm_jobs NAME_PREFIX: "id|name|state" of this test's jobs (their script lies in this
# test's MFLOW_HOME) whose name starts with NAME_PREFIX
slurm_jobs() {
  squeue --noheader --array --states=all --format='%i|%j|%T|%o' |
    awk -F'|' -v p="$1" -v h="$MFLOW_HOME/" 'index($2, p) == 1 && index($4, h) == 1 { print $1 "|" $2 "|" $3 }'
}

# wait_for SECONDS CMD...: until CMD succeeds; 1 when it never did
wait_for() {
  local t=$1; shift
  local end=$((SECONDS + t))
  while [ $SECONDS -lt $end ]; do "$@" && return 0; sleep 0.2; done
  return 1
}
