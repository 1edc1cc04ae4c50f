#!/bin/bash
# The Python examples (examples/python) run and compute what they say.
. "$(dirname "$0")/lib.sh"
EX=$SRC/examples/python

run_flow "$EX/branch.py"; rc=$?
check_eq "branch: exit" 0 "$rc"
check_eq "branch: max(i.x for i in inputs)" 2 "$(mflow get "BranchFlow/$RUN/join" x)"
check_contains "branch: printed" "max x: 2" "$(mflow logs "BranchFlow/$RUN/end")"

run_flow "$EX/train.py" --epochs=60; rc=$?
check_eq "train: exit" 0 "$rc"
check_eq "train: the best rate" 1 "$(mflow get "TrainFlow/$RUN/end" best_lr)"
check_eq "train: four fits" 4 "$(mflow inspect "TrainFlow/$RUN/fit" --json | grep -c '"task_id"')"
w=$(mflow get "TrainFlow/$RUN/end" w)
check_eq "train: w near 3" ok "$(python3 -c "print('ok' if abs($w - 3) < 0.5 else $w)")"
OUT=$(mflow show "$EX/train.py")
check_contains "train: resources per step" "resources cpu=1 memory=256MB" "$OUT"

run_flow "$EX/grid.py" --scale=2; rc=$?
check_eq "grid: exit" 0 "$rc"
check_eq "grid: one task per point" 6 "$(mflow inspect "GridFlow/$RUN/evaluate" --json | grep -c '"task_id"')"
check_eq "grid: points" 6 "$(mflow get "GridFlow/$RUN/pick" n_points)"
check_eq "grid: best point (a tuple)" '{"$tuple":[1.0,4]}' "$(mflow get "GridFlow/$RUN/pick" best_point | tr -d ' \n')"
check_eq "grid: best score" 7.5 "$(mflow get "GridFlow/$RUN/pick" best_score)"
check_contains "grid: printed" "best (1.0, 4) score 7.5 of 6" "$(mflow logs "GridFlow/$RUN/end")"
finish
