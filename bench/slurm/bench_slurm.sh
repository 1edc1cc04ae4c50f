#!/bin/bash
# Slurm throughput and end-notice latency, printed as a table.
#   bench/slurm/bench_slurm.sh BUILD_DIR [N]        (ninja -C BUILD bench-slurm)
#
# Starts a private single-node Slurm on loopback (tests/slurm/slurm-fixture.sh; apt installs
# it when missing), then runs one N-task foreach (bench/flows/trivial_foreach.c, N=200) with
# --compute=slurm in three ways:
#   mflow                the slurm plugin as shipped: the foreach as one job array, each job's
#                        end noticed from the status file its script leaves (inotify), and one
#                        squeue for all jobs every 0.1 s backing off to 0.8 s
#   mflow, squeue only   the same without the status file (fast_notify=false): what a
#                        cluster whose shared filesystem gives no inotify events sees
#   per-task sbatch, 5 s one sbatch per task and squeue every 5 s (array=false,
#                        fast_notify=false, poll 5000 ms): what other workflow tools do
# and reports, from the task records and the plugin's debug log (MFLOW_DEBUG=1 prints when
# each job's end was noticed):
#   tasks/s    N / (join's start - foreach step's end): submission, scheduling, running,
#              noticing every end, submitting and starting the join
#   notice     noticed-at minus the task's own end (its record's end_time), over the N tasks
#   sbatch, squeue   calls made (counted by wrappers around the real commands)
#
# Settings: BENCH_CPUS (default 32): CPUs the test node declares (slurmd's config_overrides),
# so that scheduling, not this machine's core count, bounds the jobs that run at once; the
# tasks are tiny and mostly wait. BENCH_REPEAT (default 1): runs per mode (the table shows
# the median of each column).
set -uo pipefail
BUILD=$(cd "${1:-build}" && pwd)
N=${2:-200}
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
MFLOW=$BUILD/core/mflow
FLOW=$SRC/bench/flows/trivial_foreach.c
REPEAT=${BENCH_REPEAT:-1}
export SLURMFIX_CPUS=${BENCH_CPUS:-32}

WORK=$(mktemp -d "${TMPDIR:-/tmp}"/mflow-bench-slurm.XXXXXX)
chmod 755 "$WORK"   # the munge user runs the fixture's munged
export SLURMFIX_DIR=$WORK/slurm
cleanup() { "$SRC/tests/slurm/slurm-fixture.sh" stop >/dev/null 2>&1; rm -rf "$WORK"; }
trap cleanup EXIT
"$SRC/tests/slurm/slurm-fixture.sh" start >"$WORK/fixture.log" 2>&1
rc=$?
if [ $rc != 0 ]; then
  cat "$WORK/fixture.log" >&2
  echo "bench-slurm: no Slurm cluster (fixture exit $rc): nothing measured" >&2
  exit $rc
fi
. "$SLURMFIX_DIR/env"

# Wrappers that count the calls and run the real commands.
mkdir -p "$WORK/bin"
for c in sbatch squeue scontrol scancel sinfo sacct; do
  real=$(command -v "$c") || continue
  printf '#!/bin/sh\necho >>"%s/count.%s"\nexec %s "$@"\n' "$WORK" "$c" "$real" >"$WORK/bin/$c"
  chmod +x "$WORK/bin/$c"
done
export MFLOW_SLURM_BIN_DIR=$WORK/bin

run_mode() { # NAME ENV...: one run; prints "wall tasks_per_s notice_median notice_p90 notice_max sbatch squeue"
  local name=$1; shift
  local home=$WORK/home
  rm -f "$WORK"/count.*
  local t0 t1
  t0=$(date +%s.%N)
  env "$@" MFLOW_HOME="$home" MFLOW_DEBUG=1 "$MFLOW" --compute=slurm run "$FLOW" --n="$N" \
    --max-workers $((N + 16)) --run-id-file "$WORK/runid" >"$WORK/out" 2>"$WORK/err"
  local rc=$?
  t1=$(date +%s.%N)
  if [ $rc != 0 ]; then
    echo "bench-slurm: $name: the run failed" >&2
    tail -20 "$WORK/err" >&2
    return 1
  fi
  local calls_sbatch calls_squeue
  calls_sbatch=$(cat "$WORK/count.sbatch" 2>/dev/null | wc -l)
  calls_squeue=$(cat "$WORK/count.squeue" 2>/dev/null | wc -l)
  python3 - "$home/datastore" "$(cat "$WORK/runid")" "$WORK/err" "$t0" "$t1" "$calls_sbatch" \
    "$calls_squeue" "$N" <<'PY'
import glob, json, os, re, statistics, sys
ds, run, errf, t0, t1, nsb, nsq, n = sys.argv[1:9]
recs = {}
for p in glob.glob(os.path.join(ds, "runs", "TrivialForeach", run, "*", "*.json")):
    r = json.load(open(p))
    recs["%s/%d" % (r["step"], r["task_id"])] = r
start = [r for k, r in recs.items() if r["step"] == "start"][0]
join = [r for k, r in recs.items() if r["step"] == "join"][0]
body = {k: r for k, r in recs.items() if r["step"] == "body"}
noticed = {}
for line in open(errf):
    m = re.search(r"slurm: debug: TrivialForeach/\d+/(\w+/\d+) ended \(state \d+\); noticed at ([0-9.]+)", line)
    if m:
        noticed[m.group(1)] = float(m.group(2))
delays = sorted((noticed[k] - r["end_time"]) * 1000 for k, r in body.items() if k in noticed)
tps = int(n) / (join["start_time"] - start["end_time"])
p90 = delays[int(0.9 * (len(delays) - 1))] if delays else float("nan")
print("%.2f %.1f %.0f %.0f %.0f %s %s %d" % (float(t1) - float(t0), tps,
      statistics.median(delays) if delays else float("nan"), p90, delays[-1] if delays else float("nan"),
      nsb, nsq, len(delays)))
PY
}

# Compile the flow once, and let the cluster settle.
MFLOW_HOME=$WORK/home "$MFLOW" check "$FLOW" >/dev/null

declare -a NAMES=("mflow (array, status file, squeue 0.1-0.8 s)"
                  "mflow, squeue only (array, 0.1-0.8 s)"
                  "per-task sbatch, squeue every 5 s")
declare -a ENVS=("MFLOW_SLURM_ARRAY=true"
                 "MFLOW_SLURM_FAST_NOTIFY=false"
                 "MFLOW_SLURM_ARRAY=false MFLOW_SLURM_FAST_NOTIFY=false MFLOW_SLURM_POLL_MIN_MS=5000 MFLOW_SLURM_POLL_MAX_MS=5000")
results=()
for i in 0 1 2; do
  rows=()
  for r in $(seq 1 "$REPEAT"); do
    # shellcheck disable=SC2086
    row=$(run_mode "${NAMES[$i]}" ${ENVS[$i]}) || exit 1
    rows+=("$row")
  done
  results+=("$(printf '%s\n' "${rows[@]}" | python3 -c "
import sys, statistics
rows = [list(map(float, l.split())) for l in sys.stdin if l.strip()]
print(' '.join('%g' % statistics.median(c) for c in zip(*rows)))")")
done

echo "Slurm $(sinfo --version | cut -d' ' -f2) on loopback: 1 node declaring $SLURMFIX_CPUS CPUs (this machine: $(nproc));"
echo "a foreach of $N trivial tasks (bench/flows/trivial_foreach.c), median of $REPEAT run(s) per row"
printf '%-48s %8s %8s %26s %7s %7s\n' "mode" "wall s" "tasks/s" "end noticed after (ms)" "sbatch" "squeue"
printf '%-48s %8s %8s %26s %7s %7s\n' "" "" "" "median / p90 / max" "calls" "calls"
for i in 0 1 2; do
  read -r wall tps med p90 max nsb nsq nd <<<"${results[$i]}"
  printf '%-48s %8.1f %8.1f %26s %7d %7d\n' "${NAMES[$i]}" "$wall" "$tps" \
    "$(printf '%.0f / %.0f / %.0f' "$med" "$p90" "$max")" "$nsb" "$nsq"
  [ "$nd" = "$N" ] || echo "  (notice times seen for $nd of $N tasks)"
done
echo "tasks/s: $N / (join start - foreach step end), from the task records; noticed: when the"
echo "plugin saw each end (MFLOW_DEBUG log) minus the end_time the task recorded."
