#!/bin/bash
# Every graph shape runs and gives the right artifacts.
. "$(dirname "$0")/lib.sh"

run_flow "$FLOWS/linear.c" --base=4 --flag=true || fail "linear run: $OUT"
check_eq "linear v" 50 "$(mflow get LinearFlow/$RUN/end v)"
check_eq "linear f (param scale)" 1 "$(mflow get LinearFlow/$RUN/end f)"
check_eq "linear str inherited" "from a" "$(mflow get LinearFlow/$RUN/end s)"
check_eq "linear param visible" none "$(mflow get LinearFlow/$RUN/b label)"
check_eq "linear bool param" 1 "$(mflow get LinearFlow/$RUN/end on)"
check_eq "linear f64 list json" "[1.5, 2.5]" "$(mflow get LinearFlow/$RUN/end fs --json)"
check_eq "linear str list json" '["x", "y z"]' "$(mflow get LinearFlow/$RUN/end ss --json)"
check_eq "linear bytes raw" "000102" "$(mflow get LinearFlow/$RUN/end raw --raw | od -An -tx1 | tr -d ' \n')"
check_eq "linear start keeps its own v" 4 "$(mflow get LinearFlow/$RUN/start v)"

run_flow "$FLOWS/branch3.c" || fail "branch3 run: $OUT"
check_eq "branch3 join order" 345 "$(mflow get Branch3Flow/$RUN/join digits)"
check_eq "branch3 first input" a "$(mflow get Branch3Flow/$RUN/join order)"
check_eq "branch3 merged" kept "$(mflow get Branch3Flow/$RUN/end same)"
check_eq "branch3 merged x" 2 "$(mflow get Branch3Flow/$RUN/end x)"

run_flow "$FLOWS/nested_branch.c" || fail "nested branch run: $OUT"
check_eq "nested branch total" 125 "$(mflow get NestedBranchFlow/$RUN/join total)"

run_flow "$FLOWS/nested_foreach.c" --max-workers 2 || fail "nested foreach run: $OUT"
check_eq "nested foreach total" 120 "$(mflow get NestedForeachFlow/$RUN/outer_join total)"
check_eq "nested foreach order" "a1a2a3a4|b1b2b3b4|c1c2c3c4|" "$(mflow get NestedForeachFlow/$RUN/end all)"

run_flow "$FLOWS/branch_in_foreach.c" || fail "branch in foreach run: $OUT"
check_eq "branch in foreach" 6306 "$(mflow get BranchInForeachFlow/$RUN/end total)"

run_flow "$FLOWS/foreach_in_branch.c" || fail "foreach in branch run: $OUT"
check_eq "foreach in branch" 15.25 "$(mflow get ForeachInBranchFlow/$RUN/end total)"

# An empty foreach fails the run at the foreach step with a clear message (documented).
run_fails "empty foreach" 1 "fans out over 'items', which is empty" mflow run "$FLOWS/empty_foreach.c"
run_fails "foreach over a scalar" 1 "fans out over 'items', which is i64, not a list" mflow run "$FLOWS/foreach_scalar.c"

finish
