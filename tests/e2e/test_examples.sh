#!/bin/bash
# The examples run and compute what they say.
. "$(dirname "$0")/lib.sh"

run_flow "$SRC/examples/hello.c" --name=mflow || fail "hello: $OUT"
check_eq "hello greeting" "hello, mflow" "$(mflow get HelloFlow/$RUN/end greeting)"
check_eq "hello count" 2 "$(mflow get HelloFlow/$RUN/end count)"
check_contains "hello output prefixed" "[HelloFlow/$RUN/shout/2] hello, mflow!" "$OUT"

run_flow "$SRC/examples/branch.c" || fail "branch: $OUT"
check_eq "branch total" 120 "$(mflow get BranchFlow/$RUN/end total)"

run_flow "$SRC/examples/foreach.c" --n=10 || fail "foreach: $OUT"
check_eq "foreach sum of squares" 385 "$(mflow get ForeachFlow/$RUN/end sum)"
check_eq "foreach item task" 49 "$(mflow get ForeachFlow/$RUN/square/8 sq)"
run_fails "step with many tasks needs a task id" 1 "has 10 tasks" mflow get ForeachFlow/$RUN/square sq

run_flow "$SRC/examples/train.c" --epochs=500 || fail "train: $OUT"
check_eq "train best lr" 1 "$(mflow get TrainFlow/$RUN/end best_lr)"
w=$(mflow get TrainFlow/$RUN/end w)
check_eq "train slope near 3" 1 "$(python3 -c "print(int(abs($w - 3) < 0.2))")"

# Run ids count up per flow.
run_flow "$SRC/examples/hello.c" || fail "hello again: $OUT"
check_eq "second hello run id" 2 "$RUN"
finish
