#!/bin/bash
# Flows on Slurm: the same artifacts as a local run, a foreach as one job array (throttled on
# request), job names and resources from the flow, logs in the datastore, the code package
# stored once and carried to the task, a step mixed local/slurm, requests refused up front.
. "$(dirname "$0")/lib.sh"
F=$SFLOWS/shapes.c

# --- the same flow, locally and on Slurm -----------------------------------------------------
run_flow "$F" || fail "local run failed: $OUT"
local_run=$RUN
# (global options go before the command: mflow directly, not run_flow)
OUT=$(mflow --compute=slurm run "$F" --max-workers 64 --run-id-file "$WORK/runid" 2>&1); rc=$?
slurm_run=$(cat "$WORK/runid")
check_eq "slurm run exit code" 0 "$rc"
[ $rc = 0 ] || echo "$OUT" >&2
check_eq "slurm run result" 1727.5 "$(mflow get ShapesFlow/$slurm_run/end result)"
a_local=$(artifacts ShapesFlow "$local_run")
a_slurm=$(artifacts ShapesFlow "$slurm_run")
check_eq "artifact lines of the local run" 54 "$(echo "$a_local" | wc -l)"
check_eq "same artifacts (names, types, blob keys) as the local run" "$a_local" "$a_slurm"

# One package per run, announced, and the same as `mflow package` gives.
addr=$(echo "$OUT" | sed -n 's/^mflow: code package //p')
check_eq "the run stored one package" 1 "$(echo "$OUT" | grep -c '^mflow: code package ')"
P1=$(mflow package "$F")
check_eq "mflow package gives the run's package" "$addr" "$(echo "$P1" | head -1)"
P2=$(mflow package "$F" --json)
check_contains "package lists the manifest's data file" '"path": "data/offset.txt"' "$P2"
check_eq "package bytes stored under their hash" "$(basename "$addr" .tar.zst)" \
  "$(sha256sum "$DS/$addr" | cut -d' ' -f1)"
sha=$(basename "$addr" .tar.zst)
check_eq "the task extracted the package with its data file" 7 \
  "$(cat "$MFLOW_HOME/cache/packages/$sha/data/offset.txt" 2>/dev/null)"

# The foreach went out as one array; every job is named after its pathspec.
jobs=$(slurm_jobs "ShapesFlow/$slurm_run/")
sq_jobs=$(echo "$jobs" | awk -F'|' '$2 == "ShapesFlow/'"$slurm_run"'/sq"')
check_eq "six foreach splits" 6 "$(echo "$sq_jobs" | grep -c .)"
check_eq "...as elements of one array job" 1 "$(echo "$sq_jobs" | cut -d'|' -f1 | cut -d_ -f1 | sort -u | wc -l)"
check_eq "...indexed 0-5" "0 1 2 3 4 5" "$(echo "$sq_jobs" | cut -d'|' -f1 | cut -d_ -f2 | sort -n | tr '\n' ' ' | sed 's/ $//')"
start_id=$(record ShapesFlow "$slurm_run" start task_id)
check_contains "a single task is a plain job named Flow/run/step/task" \
  "|ShapesFlow/$slurm_run/start/$start_id|COMPLETED" "$jobs"
check_eq "all twelve Slurm jobs completed" 12 "$(echo "$jobs" | grep -c '|COMPLETED$')"
sq_array=$(echo "$sq_jobs" | head -1 | cut -d'|' -f1 | cut -d_ -f1)
check_contains "the split's memory request reached Slurm" "mem=200M" \
  "$(scontrol -o show job "${sq_array}_0")"

# Logs end up in the datastore like a local task's; the job files are cleaned up.
sdir=$DS/runs/ShapesFlow/$slurm_run
check_eq "start's stdout stored" "start: 6 items" "$(cat "$sdir/start/$start_id.0.stdout")"
check_eq "start's stderr stored" "start: a line on stderr" "$(cat "$sdir/start/$start_id.0.stderr")"
check_eq "every split's stdout stored" 6 "$(cat "$sdir"/sq/*.0.stdout | grep -c '^item [1-6] of 6$')"
check_contains "output shown with the pathspec" "[ShapesFlow/$slurm_run/end/" "$OUT"
check_eq "job files removed after the run" "" "$(find "$MFLOW_HOME/slurm-logs" -mindepth 1 -type d)"

# Throttled array: --array=0-5%2.
OUT=$(MFLOW_SLURM_ARRAY_MAX=2 mflow --compute=slurm run "$F" --max-workers 64 --run-id-file "$WORK/runid" 2>&1) ||
  fail "throttled run: $OUT"
r=$(cat "$WORK/runid")
arr=$(slurm_jobs "ShapesFlow/$r/sq" | head -1 | cut -d'|' -f1 | cut -d_ -f1)
check_contains "array throttled to 2 at once" "ArrayTaskThrottle=2" "$(scontrol -o show job "${arr}_0")"
check_eq "throttled run's result" 1727.5 "$(mflow get ShapesFlow/$r/end result)"

# Without arrays: one job per split.
OUT=$(MFLOW_SLURM_ARRAY=false mflow --compute=slurm run "$F" --n=3 --max-workers 64 --run-id-file "$WORK/runid" 2>&1) ||
  fail "run without arrays: $OUT"
r=$(cat "$WORK/runid")
check_eq "array=false: three plain jobs for three splits" 3 \
  "$(slurm_jobs "ShapesFlow/$r/sq/" | grep -vc '_')"

# --- a step mixed local/slurm -------------------------------------------------------------------
rm -f /tmp/mflow-pwned
run_flow "$SFLOWS/mixed.c" || fail "mixed run failed: $OUT"
check_eq "mixed: result" 42 "$(mflow get MixedFlow/$RUN/end z)"
check_eq "mixed: start ran locally" none "$(mflow get MixedFlow/$RUN/start job)"
check_eq "mixed: end ran locally" none "$(mflow get MixedFlow/$RUN/end job)"
job=$(mflow get MixedFlow/$RUN/remote job)
case "$job" in ''|none|*[!0-9]*) fail "mixed: remote did not run in a Slurm job: [$job]" ;; *) echo "ok: remote ran as Slurm job $job" ;; esac
check_eq "mixed: --cpus-per-task from resources.cpu" 2 "$(mflow get MixedFlow/$RUN/remote cpus)"
check_eq "mixed: --mem from resources.memory_mb" 300 "$(mflow get MixedFlow/$RUN/remote mem)"
check_eq "mixed: OMP_NUM_THREADS follows the CPUs" 2 "$(mflow get MixedFlow/$RUN/remote omp)"
check_eq "mixed: job name" "MixedFlow/$RUN/remote/$(record MixedFlow "$RUN" remote task_id)" \
  "$(mflow get MixedFlow/$RUN/remote jobname)"
check_eq "mixed: the step's env arrives literally" "a b;\$(touch /tmp/mflow-pwned)'\"" \
  "$(mflow get MixedFlow/$RUN/remote var)"
CHECKS=$((CHECKS + 1))
if [ -e /tmp/mflow-pwned ]; then fail "a step's env value was run by a shell"; else echo "ok: env never reaches a shell"; fi
check_contains "mixed: remote output stored" "remote says hello" \
  "$(cat "$DS"/runs/MixedFlow/$RUN/remote/*.0.stdout)"

# --- requests refused before anything runs -----------------------------------------------------
n_jobs=$(slurm_jobs "ShapesFlow/" | wc -l)
run_fails "unknown partition refused up front" 1 "partition 'nope'" \
  env MFLOW_SLURM_PARTITION=nope "$MFLOW" --compute=slurm run "$F"
cpus=$(sinfo --noheader --format=%c | sort -n | tail -1)
sed "s/.cpu = 2, .memory_mb = 300/.cpu = $((cpus * 8)), .memory_mb = 300/" "$SFLOWS/mixed.c" >"$WORK/big.c"
run_fails "more CPUs than any node refused" 1 "asks for $((cpus * 8)) CPUs but the largest node" \
  mflow run "$WORK/big.c"
run_fails "bad sbatch option refused up front" 1 "sbatch --test-only says" \
  env MFLOW_SLURM_SBATCH_ARGS=--constraint=nosuchfeature "$MFLOW" --compute=slurm run "$F"
check_eq "no job was submitted by the refused runs" "$n_jobs" "$(slurm_jobs "ShapesFlow/" | wc -l)"
finish
