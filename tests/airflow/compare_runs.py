#!/usr/bin/env python3
"""Compare the artifacts of two runs of one flow, task by task: a task is known by its step
and its place in the run (the split frames around it: split step, kind, index), not by its
id, since `mflow run` counts ids up and `mflow dag-task` derives them. Values are those `mflow get
--json` prints (inline in `mflow inspect TASK --json` where it shows them). Prints the differences and exits 1 when there are any.

usage: compare_runs.py MFLOW Flow/RUN_A Flow/RUN_B"""
import json
import subprocess
import sys


def mflow(exe, *args):
    out = subprocess.run([exe, "--namespace=", *args], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    if out.returncode:
        raise SystemExit(f"mflow {' '.join(args)} failed: {out.stderr}")
    return json.loads(out.stdout)


def tasks(exe, run):
    res = {}
    for step in mflow(exe, "inspect", run, "--json")["steps"]:
        for t in mflow(exe, "inspect", f"{run}/{step['name']}", "--json")["tasks"]:
            if t["status"] != "succeeded":
                continue
            info = mflow(exe, "inspect", t["pathspec"], "--json")
            where = tuple((f["split_step"], f["kind"], f["index"], f["count"])
                          for f in info["frames"])
            arts = {}
            for a in info["artifacts"]:
                # inspect --json carries a small value as get --json prints it (the same
                # conversion): one process per task instead of one per artifact. An obj (get
                # prints its stored text as it is) and a value not shown inline are got.
                if "value" in a and a["type"] != "obj":
                    arts[a["name"]] = (a["type"], a["value"])
                else:
                    arts[a["name"]] = (a["type"], mflow(exe, "get", t["pathspec"], a["name"],
                                                        "--json"))
            res[(step["name"], where)] = arts
    return res


def main(exe, a, b):
    ta, tb = tasks(exe, a), tasks(exe, b)
    diffs = []
    for k in sorted(set(ta) | set(tb), key=str):
        if k not in ta or k not in tb:
            diffs.append(f"task {k} only in {a if k in ta else b}")
        elif ta[k] != tb[k]:
            diffs.append(f"task {k}: {ta[k]} != {tb[k]}")
    for d in diffs:
        print(d)
    print(f"{len(ta)} tasks compared, {len(diffs)} differences")
    return 1 if diffs or not ta else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
