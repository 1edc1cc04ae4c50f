#!/bin/bash
# The crash soak (`make soak`): kill -9 `mflow run` at random moments across a foreach of a few
# hundred tasks, resume each killed run to the end, and check every answer; then fill the
# datastore's filesystem mid-run, check the failure is clean, give space back and resume.
# At the end every blob is read back against its hash and every record is checked.
#
#   SOAK_KILLS (50)  rounds of run, kill -9, resume     SOAK_WIDTH (300) foreach width
#   SOAK_MS (2)      a task's base sleep in ms          SOAK_SEED (time) the random seed
#   SOAK_FULL (1)    also the full-filesystem part (needs root for a small tmpfs)
#   BUILD (build)    the build folder
set -u
cd "$(dirname "$0")/../.."
SRC=$PWD
BUILD=${BUILD:-build}
MFLOW=$SRC/$BUILD/core/mflow
VERIFY=$SRC/$BUILD/tests/e2e/verify_blobs
KILLS=${SOAK_KILLS:-50}
WIDTH=${SOAK_WIDTH:-300}
MS=${SOAK_MS:-2}
SEED=${SOAK_SEED:-$(date +%s)}
FLOW=$SRC/tests/soak/soak_flow.c
for f in "$MFLOW" "$VERIFY"; do
  [ -x "$f" ] || { echo "soak: $f is missing: build first (make build)" >&2; exit 2; }
done
RANDOM=$SEED
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mflow-soak.XXXXXX")
FULL_MNT=
cleanup() {
  [ -n "$FULL_MNT" ] && umount "$FULL_MNT" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
export MFLOW_HOME=$WORK/home
unset MFLOW_DATASTORE_ROOT MFLOW_NAMESPACE MFLOW_COMPUTE MFLOW_STORAGE
WANT=$(( (WIDTH - 1) * WIDTH * (2 * WIDTH - 1) / 6 ))
FAILS=0
fail() { echo "soak: FAIL: $*" >&2; FAILS=$((FAILS + 1)); }
mflow() { "$MFLOW" "$@"; }

# answer RUN: "ok" when the run's join holds the right sum and no bad block
answer() {
  local sum bad
  sum=$(mflow get "SoakFlow/$1/join" sum 2>&1) || { echo "no sum: $sum"; return; }
  bad=$(mflow get "SoakFlow/$1/join" bad_blocks 2>&1)
  if [ "$sum" = "$WANT" ] && [ "$bad" = 0 ]; then echo ok; else echo "sum $sum (want $WANT), bad blocks $bad"; fi
}

# start_killed LOG CMD...: start CMD, kill -9 it after a random delay in [0, KILL_MAX_MS)
start_killed() {
  local log=$1; shift
  "$@" >"$log" 2>&1 &
  local pid=$! ms=$(( (RANDOM * 32768 + RANDOM) % KILL_MAX_MS ))
  sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  echo "$ms"
}

echo "soak: seed $SEED, $KILLS rounds, foreach of $WIDTH tasks, work in $WORK"
t0=$(date +%s.%N)
if ! mflow run "$FLOW" --n="$WIDTH" --ms="$MS" --run-id-file "$WORK/rid" >"$WORK/first.log" 2>&1; then
  echo "soak: the first (unkilled) run failed:" >&2; cat "$WORK/first.log" >&2; exit 1
fi
t1=$(date +%s.%N)
FULL_MS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%d", (b - a) * 1000 }')
KILL_MAX_MS=$(( FULL_MS > 50 ? FULL_MS : 50 ))
[ "$(answer "$(cat "$WORK/rid")")" = ok ] || fail "the unkilled run's answer: $(answer "$(cat "$WORK/rid")")"
echo "soak: an unkilled run takes $FULL_MS ms; kills land in [0, $KILL_MAX_MS) ms"

right=0 wrong=0 reused=0 killed_resumes=0 early=0
for i in $(seq 1 "$KILLS"); do
  rm -f "$WORK/rid" "$WORK/rid2"
  ms=$(start_killed "$WORK/run.log" mflow run "$FLOW" --n="$WIDTH" --ms="$MS" --run-id-file "$WORK/rid")
  if [ ! -s "$WORK/rid" ]; then
    # Killed before the run had an id: nothing to resume, and nothing may be left half made.
    early=$((early + 1)); continue
  fi
  origin=$(cat "$WORK/rid")
  # One round in four also kills the first resume, then resumes that one.
  if [ $((RANDOM % 4)) = 0 ]; then
    start_killed "$WORK/resume0.log" mflow resume "$FLOW" --origin-run-id "$origin" \
      --run-id-file "$WORK/rid0" >/dev/null
    if [ -s "$WORK/rid0" ]; then origin=$(cat "$WORK/rid0"); killed_resumes=$((killed_resumes + 1)); fi
    rm -f "$WORK/rid0"
  fi
  if ! mflow resume "$FLOW" --origin-run-id "$origin" --run-id-file "$WORK/rid2" >"$WORK/resume.log" 2>&1; then
    wrong=$((wrong + 1)); fail "round $i (kill at $ms ms): resume of $origin failed: $(tail -3 "$WORK/resume.log")"
    continue
  fi
  a=$(answer "$(cat "$WORK/rid2")")
  if [ "$a" = ok ]; then right=$((right + 1)); else wrong=$((wrong + 1)); fail "round $i (kill at $ms ms): $a"; fi
  n=$(sed -n 's/.*(\([0-9]*\) cloned.*/\1/p' "$WORK/resume.log" | tail -1)
  reused=$((reused + ${n:-0}))
done

# check_store WHAT: every blob against its hash, every record parses and says what it must,
# no temporary file left, and the index rebuilt from the datastore agrees.
check_store() {
  local what=$1 out
  out=$("$VERIFY" "$MFLOW_HOME/datastore" 2>&1) || fail "$what: blobs: $out"
  echo "soak: $what: $out"
  out=$(python3 "$SRC/tests/soak/check_records.py" "$MFLOW_HOME/datastore" 2>&1) || fail "$what: records: $out"
  echo "soak: $what: $out"
  # On a full disk reindex may not find room for a new page: then it must say so, and keep
  # the index it has (not move it aside as damaged).
  if ! out=$(mflow reindex 2>&1); then
    case "$out" in
      *"no space left"*) [ "${2:-}" = full ] && echo "soak: $what: reindex: $out" || fail "$what: reindex: $out" ;;
      *) fail "$what: reindex: $out" ;;
    esac
    case "$out" in *aside*) fail "$what: reindex moved a sound index aside: $out" ;; esac
  fi
  out=$(mflow runs SoakFlow --json 2>&1) || fail "$what: runs after reindex: $out"
}
check_store "after $KILLS kills"

echo
echo "| crash soak (seed $SEED)                     | result |"
echo "|---|---|"
echo "| rounds: kill -9 of \`mflow run\`, then resume | $KILLS |"
echo "| killed before the run had an id            | $early |"
echo "| resumes also killed, then resumed again    | $killed_resumes |"
echo "| resumed runs with the right answer         | $right / $((KILLS - early)) |"
echo "| resumed runs with a wrong answer or failed | $wrong |"
echo "| tasks reused by the resumes                | $reused |"
echo "| unkilled run of $WIDTH tasks                  | $FULL_MS ms |"

if [ "${SOAK_FULL:-1}" = 1 ]; then
  echo
  if [ "$(id -u)" != 0 ]; then
    echo "soak: full filesystem part skipped: mounting a small tmpfs needs root"
  else
    FULL_MNT=$WORK/full
    mkdir -p "$FULL_MNT"
    # Room for the index and about half the tasks' 16 KiB blocks, not for the whole run.
    FULL_KB=$(( WIDTH * 8 > 1024 ? WIDTH * 8 : 1024 ))
    mount -t tmpfs -o size=${FULL_KB}k tmpfs "$FULL_MNT" || { fail "cannot mount a tmpfs"; FULL_MNT=; }
  fi
  if [ -n "$FULL_MNT" ]; then
    export MFLOW_HOME=$FULL_MNT/home
    rm -f "$WORK/rid"
    mflow run "$FLOW" --n="$WIDTH" --ms=0 --run-id-file "$WORK/rid" >"$WORK/full.log" 2>&1
    rc=$?
    msg=$(grep -i -m1 "space" "$WORK/full.log")
    if [ "$rc" = 0 ]; then fail "full filesystem: the run succeeded on $FULL_KB KiB"
    elif [ -z "$msg" ]; then fail "full filesystem: exit $rc without a message about space: $(tail -3 "$WORK/full.log")"
    else echo "soak: full filesystem: exit $rc, \"$msg\""; fi
    check_store "full filesystem, before space is back" full
    mount -o remount,size=256m "$FULL_MNT"
    origin=$(cat "$WORK/rid" 2>/dev/null)
    if [ -z "$origin" ]; then fail "full filesystem: the run had no id"
    elif mflow resume "$FLOW" --origin-run-id "$origin" --run-id-file "$WORK/rid2" >"$WORK/resume.log" 2>&1; then
      a=$(answer "$(cat "$WORK/rid2")")
      n=$(sed -n 's/.*(\([0-9]*\) cloned.*/\1/p' "$WORK/resume.log" | tail -1)
      if [ "$a" = ok ]; then echo "soak: full filesystem: resume with space back: right answer, ${n:-0} tasks reused"
      else fail "full filesystem: resume answer: $a"; fi
    else
      fail "full filesystem: resume with space back failed: $(tail -3 "$WORK/resume.log")"
    fi
    check_store "full filesystem, after the resume"
  fi
fi

echo
echo "soak: $FAILS failure(s)"
[ "$FAILS" = 0 ]
