#!/bin/bash
# Failures on Slurm: a failing task retried (a new job per attempt), a task that always
# fails, a task past its timeout_s, a job cancelled from outside (fails its attempt with
# Slurm's word for it, then the retry runs), Ctrl-C of `mflow run` (its jobs are cancelled).
. "$(dirname "$0")/lib.sh"
F=$SFLOWS/trouble.c
S=(--compute=slurm)
export WORK_MARK=$WORK/marks

# --- retried until it succeeds ------------------------------------------------------------------
: >"$WORK_MARK"
OUT=$(mflow "${S[@]}" run "$F" --how=flaky --run-id-file "$WORK/runid" 2>&1); rc=$?
r=$(cat "$WORK/runid")
check_eq "flaky: the run succeeds on the third attempt" 0 "$rc"
check_eq "flaky: the attempt that succeeded" 2 "$(mflow get TroubleFlow/$r/work attempt_seen)"
check_contains "flaky: first failure reported" "flaky failure on attempt 0" "$OUT"
check_contains "flaky: retry announced" "retrying work/" "$OUT"
check_eq "flaky: three attempt records" 3 "$(ls "$DS"/runs/TroubleFlow/$r/work/*.json | wc -l)"
check_eq "flaky: each attempt ran as its own Slurm job" 3 "$(awk '{print $4}' "$WORK_MARK" | grep -E '^[0-9]+$' | sort -u | wc -l)"
check_contains "flaky: a failed attempt's output is kept" "work attempt 1 (flaky)" \
  "$(cat "$DS"/runs/TroubleFlow/$r/work/*.1.stdout)"
check_eq "flaky: attempt 1's record says why" "flaky failure on attempt 1" \
  "$(record TroubleFlow "$r" work message 1)"

# --- always fails ---------------------------------------------------------------------------------
OUT=$(mflow "${S[@]}" run "$F" --how=always --run-id-file "$WORK/runid" 2>&1); rc=$?
r=$(cat "$WORK/runid")
check_eq "always: the run fails" 1 "$rc"
check_contains "always: the step's message" "work always fails" "$OUT"
check_eq "always: 1 + retry 2 attempts" 3 "$(ls "$DS"/runs/TroubleFlow/$r/work/*.json | wc -l)"
check_eq "always: the run is recorded failed" failed "$(mflow runs TroubleFlow --json | python3 -c "
import json,sys; runs=json.load(sys.stdin); runs=runs.get('runs', runs) if isinstance(runs, dict) else runs
print([x for x in runs if str(x.get('run_id'))=='$r'][0]['status'])")"

# --- past timeout_s -------------------------------------------------------------------------------
t0=$SECONDS
OUT=$(MFLOW_SLURM_KILL_GRACE_S=1 mflow "${S[@]}" run "$SFLOWS/timeout.c" --run-id-file "$WORK/runid" 2>&1); rc=$?
r=$(cat "$WORK/runid")
el=$((SECONDS - t0))
check_eq "timeout: the run fails" 1 "$rc"
check_contains "timeout: the attempt timed out" "timed out after 3 s (timeout_s)" "$OUT"
check_eq "timeout: both attempts recorded" 2 "$(ls "$DS"/runs/TimeoutFlow/$r/hang/*.json | wc -l)"
check_contains "timeout: the output before the kill is kept" "hang attempt 0 starts" \
  "$(cat "$DS"/runs/TimeoutFlow/$r/hang/*.0.stdout)"
CHECKS=$((CHECKS + 1))
if [ $el -le 40 ]; then echo "ok: timeout: two attempts of 3 s took ${el}s"; else fail "timeout: took ${el}s"; fi

# --- scancel from outside: the attempt fails with Slurm's reason, the retry runs --------------------
: >"$WORK_MARK"
"$MFLOW" "${S[@]}" run "$F" --how=slow --run-id-file "$WORK/runid" >"$WORK/slow.out" 2>&1 &
pid=$!
running_work() { slurm_jobs "TroubleFlow/" | grep '/work/' | grep -q '|RUNNING$' && grep -q 'attempt 0' "$WORK_MARK"; }
if wait_for 60 running_work; then
  id=$(slurm_jobs "TroubleFlow/" | grep '/work/' | grep '|RUNNING$' | head -1 | cut -d'|' -f1)
  scancel "$id"
  echo "cancelled Slurm job $id from outside"
else
  fail "scancel: the work job never ran: $(slurm_jobs TroubleFlow/) $(cat "$WORK/slow.out")"
fi
wait $pid; rc=$?
r=$(cat "$WORK/runid")
OUT=$(cat "$WORK/slow.out")
check_eq "scancel: the run recovers through the retry" 0 "$rc"
check_contains "scancel: the attempt failed with Slurm's reason" "CANCELLED: it was cancelled outside mflow" "$OUT"
check_contains "scancel: ...naming the job" "Slurm job $id CANCELLED" "$(record TroubleFlow "$r" work message 0)"
check_eq "scancel: attempt 1 succeeded" 1 "$(mflow get TroubleFlow/$r/work attempt_seen)"

# --- Ctrl-C of mflow run cancels its jobs -----------------------------------------------------------
"$MFLOW" "${S[@]}" run "$F" --how=long --run-id-file "$WORK/runid" >"$WORK/long.out" 2>&1 &
pid=$!
long_running() { slurm_jobs "TroubleFlow/" | grep '/work/' | grep -q '|RUNNING$'; }
wait_for 60 long_running || fail "ctrl-c: the work job never ran"
id=$(slurm_jobs "TroubleFlow/" | grep '/work/' | grep '|RUNNING$' | head -1 | cut -d'|' -f1)
kill -INT $pid
wait $pid; rc=$?
check_eq "ctrl-c: mflow exits 130" 130 "$rc"
check_contains "ctrl-c: says it cancels" "interrupted: cancelling 1 running task" "$(cat "$WORK/long.out")"
state_of() { squeue --noheader --states=all --jobs "$1" --format=%T 2>/dev/null; }
cancelled() { [ "$(state_of "$id")" = CANCELLED ]; }
wait_for 10 cancelled
check_eq "ctrl-c: the Slurm job was cancelled" CANCELLED "$(state_of "$id")"
r=$(cat "$WORK/runid")
check_eq "ctrl-c: the run is recorded cancelled" cancelled "$(mflow runs TroubleFlow --json | python3 -c "
import json,sys; runs=json.load(sys.stdin); runs=runs.get('runs', runs) if isinstance(runs, dict) else runs
print([x for x in runs if str(x.get('run_id'))=='$r'][0]['status'])")"
finish
