#!/bin/bash
# Every option that takes a value, in both forms (--opt=V and --opt V): one parser, so a bad
# value is refused the same way (exit 2, the option and the value named) whichever form.
. "$(dirname "$0")/lib.sh"

run_flow "$FLOWS/linear.c" || fail "linear: $OUT"
R1=$RUN

# not numbers, negative, trailing junk, other notations; past the range per option below
BAD="abc -1 1e3 12abc +5 0x10 99999999999999999999"
# try_both OPT VALUE CMD...: --opt=VALUE and --opt VALUE are refused alike
try_both() {
  local opt=$1 val=$2; shift 2
  run_fails "$* $opt=$val" 2 "$opt must be a whole number" "$@" "$opt=$val"
  check_contains "$* $opt=$val names the value" "not '$val'" "$OUT"
  run_fails "$* $opt $val" 2 "$opt must be a whole number" "$@" "$opt" "$val"
  check_contains "$* $opt $val names the value" "not '$val'" "$OUT"
}

for v in $BAD "" 0 999999 100001; do
  try_both --max-workers "$v" mflow run "$FLOWS/linear.c"
  try_both --max-workers "$v" mflow resume "$FLOWS/linear.c" --origin-run-id "$R1"
done
for v in $BAD "" 0; do
  try_both --origin-run-id "$v" mflow resume "$FLOWS/linear.c"
done
for v in $BAD "" 1000001; do
  try_both --attempt "$v" mflow logs "LinearFlow/$R1/start"
done
# A value that is not the last argument still counts, and a missing value is named.
run_fails "run --max-workers (no value)" 2 "--max-workers needs a value" mflow run "$FLOWS/linear.c" --max-workers
run_fails "resume --origin-run-id (no value)" 2 "--origin-run-id needs a value" mflow resume "$FLOWS/linear.c" --origin-run-id
run_fails "logs --attempt (no value)" 2 "--attempt needs a value" mflow logs "LinearFlow/$R1/start" --attempt

# The good forms work, and mean the same.
run_ok "run --max-workers=3" mflow run "$FLOWS/linear.c" --max-workers=3
run_ok "run --max-workers 3" mflow run "$FLOWS/linear.c" --max-workers 3
run_ok "resume --origin-run-id=R" mflow resume "$FLOWS/linear.c" --origin-run-id="$R1" --max-workers=2
run_ok "resume --origin-run-id R" mflow resume "$FLOWS/linear.c" --origin-run-id "$R1" --max-workers 2
run_ok "logs --attempt=0" mflow logs "LinearFlow/$R1/start" --attempt=0
A=$OUT
run_ok "logs --attempt 0" mflow logs "LinearFlow/$R1/start" --attempt 0
check_eq "logs --attempt: both forms print the same" "$A" "$OUT"

# String options: an empty value is refused in both forms.
for opt in --tag --run-id-file; do
  run_fails "run $opt=" 2 "$opt needs a value" mflow run "$FLOWS/linear.c" "$opt="
  run_fails "run $opt ''" 2 "$opt needs a value" mflow run "$FLOWS/linear.c" "$opt" ""
done
run_fails "runs --tag=" 2 "--tag needs a value" mflow runs LinearFlow --tag=
run_fails "runs --tag ''" 2 "--tag needs a value" mflow runs LinearFlow --tag ""
check_eq "runs --tag=x and --tag x agree" "$(mflow runs LinearFlow --tag=nope --json)" "$(mflow runs LinearFlow --tag nope --json)"
for opt in --compute --storage --datastore-root --home; do
  run_fails "global $opt=" 2 "$opt needs a value" mflow "$opt=" runs
  run_fails "global $opt ''" 2 "$opt needs a value" mflow "$opt" "" runs
done

# The task command (what compute plugins launch) checks its numbers the same way.
for v in abc -5 12abc 1e3 ""; do
  for opt in --run-id --task-id --attempt; do
    run_fails "task $opt=$v" 2 "$opt must be a whole number" mflow task "$FLOWS/linear.c" start --run-id 1 --task-id 1 "$opt=$v"
    run_fails "task $opt $v" 2 "$opt must be a whole number" mflow task "$FLOWS/linear.c" start --run-id 1 --task-id 1 "$opt" "$v"
  done
done
run_fails "task --split-index=-2" 2 "--split-index must be a whole number from -1" mflow task "$FLOWS/linear.c" start --run-id 1 --task-id 1 --split-index=-2

finish
