#!/bin/bash
# Slurm's own time limit (--time=1 through sbatch_args; the step has no timeout_s): Slurm
# kills the job between 60 and 90 s after it starts (it checks limits every 30 s), and the
# attempt fails as timed out with Slurm's reason in its message. The slowest test of the
# suite (about 1.5 minutes).
. "$(dirname "$0")/lib.sh"

t0=$SECONDS
OUT=$(MFLOW_SLURM_SBATCH_ARGS="--time=1" mflow --compute=slurm run "$SFLOWS/timelimit.c" \
  --run-id-file "$WORK/runid" 2>&1); rc=$?
el=$((SECONDS - t0))
r=$(cat "$WORK/runid")
check_eq "the run fails" 1 "$rc"
check_contains "the attempt failed as timed out" "(attempt 0) failed: step 'slow' timed out" "$OUT"
check_contains "the task record says it timed out" "timed out" "$(record TimeLimitFlow "$r" slow message)"
check_contains "output before the kill is kept" "slow starts" "$(cat "$DS"/runs/TimeLimitFlow/$r/slow/*.0.stdout)"
check_contains "Slurm's own words are in the task's stored stderr" "DUE TO TIME LIMIT" \
  "$(cat "$DS"/runs/TimeLimitFlow/$r/slow/*.0.stderr)"
id=$(slurm_jobs "TimeLimitFlow/$r/slow/" | cut -d'|' -f1)
check_contains "Slurm agrees" "JobState=TIMEOUT" "$(scontrol -o show job "$id")"
CHECKS=$((CHECKS + 1))
if [ $el -ge 55 ] && [ $el -le 150 ]; then echo "ok: killed after ${el}s"; else fail "killed after ${el}s"; fi
finish
