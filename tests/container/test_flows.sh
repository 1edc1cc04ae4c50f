#!/bin/bash
# The local e2e flows give the same artifacts with --compute=container as with local compute:
# linear, branch/join, foreach, retry, catch, timeout, resume.
. "$(dirname "$0")/lib.sh"

# same WHAT PATHSPEC_SUFFIX NAME: the artifact of the container run ($CRUN) equals the local one ($LRUN)
same() {
  local flow=$1 rest=$2 name=$3
  local want got
  want=$(mflow get "$flow/$LRUN/$rest" "$name" --json 2>&1)
  got=$(mflow get "$flow/$CRUN/$rest" "$name" --json 2>&1)
  check_eq "$flow $rest $name (local: $want)" "$want" "$got"
}
both() {   # both FILE ARGS...: a local run (LRUN) and a container run (CRUN); both must succeed
  run_flow "$@" || fail "local run of $1: $OUT"; LRUN=$RUN
  run_cflow "$@" || fail "container run of $1: $OUT"; CRUN=$RUN
}

both "$FLOWS/linear.c" --base=4 --flag=true
check_eq "linear v" 50 "$(mflow get LinearFlow/$CRUN/end v)"
for a in v f s on fs ss raw; do same LinearFlow end $a; done
same LinearFlow start v

both "$FLOWS/branch3.c"
check_eq "branch3 join digits" 345 "$(mflow get Branch3Flow/$CRUN/join digits)"
for a in digits order; do same Branch3Flow join $a; done
for a in same x; do same Branch3Flow end $a; done

# Up to here only what the plugin binds (the datastore, the flow's object) was seen inside.
# The count file is seen at the same path inside the containers through run_flags.
export MFLOW_CONTAINER_RUN_FLAGS="-v $WORK:$WORK"
export COUNT_FILE=$WORK/count MFLOW_CONTAINER_PASS_ENV="COUNT_FILE FAIL_ITEM"
both "$FLOWS/resumable.c" --n 4
check_eq "foreach sum" 14 "$(mflow get ResumableFlow/$CRUN/join sum)"
same ResumableFlow join sum
check_eq "foreach bodies ran in containers and wrote the bound count file" 2 \
  "$(grep -c '^body 3$' "$COUNT_FILE")"

# retry: the first attempt fails, the second succeeds
both "$FLOWS/failing.c" --mode=flaky
check_eq "retry: done on attempt 1" 1 "$(mflow get FailingFlow/$CRUN/work done)"
same FailingFlow work done
check_contains "attempt 0 named in the log" "work attempt 0" "$(mflow logs FailingFlow/$CRUN/work --stderr --attempt 0 2>&1)"

# catch: the error is stored and the flow goes on
both "$FLOWS/caught.c"
check_contains "caught message" "risky step gave up" "$(mflow get CaughtFlow/$CRUN/end seen)"
same CaughtFlow end x2

# timeout: timeout_s = 2 on a step that sleeps 30 s, twice (retry = 1)
SECONDS=0
run_cflow "$FLOWS/failing.c" --mode=sleep && fail "the sleeping step should time out"
check_contains "timeout named" "timed out" "$OUT"
[ "$SECONDS" -lt 25 ] && echo "ok: timed out in ${SECONDS}s" || fail "timeout took ${SECONDS}s"
CHECKS=$((CHECKS + 1))
check_eq "timed-out containers removed" "" "$(containers_of FailingFlow)"
# With no start allowance the plugin's own kill comes first: the container is killed.
MFLOW_CONTAINER_START_ALLOWANCE_S=0 run_cflow "$FLOWS/failing.c" --mode=sleep && fail "timeout without allowance should fail"
check_contains "the plugin killed the container" "killing container mflow-FailingFlow-$RUN-work-" "$OUT"
check_eq "killed containers removed" "" "$(containers_of FailingFlow)"

# resume: item 1 fails; the resume clones start and runs every split of body again
FAIL_ITEM=1 run_cflow "$FLOWS/resumable.c" --n 3 && fail "the run with a failing item should fail"
check_contains "failing item named" "item 1 fails on purpose" "$OUT"
: >"$COUNT_FILE"
OUT=$("$MFLOW" --compute=container resume "$FLOWS/resumable.c" --run-id-file "$WORK/runid" 2>&1) || fail "resume: $OUT"
RUN=$(cat "$WORK/runid")
check_eq "resumed sum" 5 "$(mflow get ResumableFlow/$RUN/join sum)"
check_contains "resume names its step" "from step 'body'" "$OUT"
check_eq "start was not run again" 0 "$(grep -c '^start' "$COUNT_FILE")"
check_eq "every split of body ran again" 3 "$(grep -c '^body' "$COUNT_FILE")"
check_eq "no container left" "" "$(containers_of ResumableFlow)"
finish
