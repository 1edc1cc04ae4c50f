#!/usr/bin/env python3
"""Print the artifacts of a run, one line per (task position, artifact): what a run computed,
independent of task ids, attempts and timing, so two runs of a flow can be compared.

usage: artifacts.py DATASTORE_DIR FLOW RUN
A task's position is its step plus the index of every split frame around it; of its attempts
the succeeded one counts."""
import glob
import json
import os
import sys

ds, flow, run = sys.argv[1:4]
best = {}
for path in glob.glob(os.path.join(ds, "runs", flow, run, "*", "*.json")):
    with open(path) as f:
        r = json.load(f)
    if r.get("status") != "succeeded":
        continue
    pos = r["step"] + "".join("/%s:%d" % (fr["step"], fr["index"]) for fr in r.get("stack", []))
    best[pos] = r
for pos in sorted(best):
    arts = best[pos].get("artifacts", {})
    for name in sorted(arts):
        print("%s %s %s %s" % (pos, name, arts[name]["type"], arts[name]["key"]))
