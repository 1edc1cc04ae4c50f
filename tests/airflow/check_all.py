#!/usr/bin/env python3
"""Many DAGs at once (one python for all, so the suite stays fast): for each job of the JSON
file (a list of [what, GRAPH.json, DAG.py, check_dag.py options...]) compile the DAG
(py_compile), read it back (check_dag.py) and load it under the executor stand-in's airflow modules.
Prints "ok: what" or "FAIL: what: why" per job; exits 1 when any failed."""
import json
import os
import py_compile
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_dag  # noqa: E402
import executor_standin  # noqa: E402


def main(path):
    failed = 0
    for what, graph, dag, *opts in json.load(open(path)):
        try:
            py_compile.compile(dag, doraise=True)
        except py_compile.PyCompileError as e:
            print(f"FAIL: {what}: does not compile: {e}")
            failed += 1
            continue
        problems = check_dag.check([graph, dag, *opts])
        if problems:
            print(f"FAIL: {what}: structure: {'; '.join(problems)}")
            failed += 1
            continue
        try:
            executor_standin.load(dag)
        except Exception as e:
            print(f"FAIL: {what}: the stand-in's airflow modules refuse it: "
                  f"{type(e).__name__}: {e}")
            failed += 1
            continue
        print(f"ok: {what}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
