#!/usr/bin/env python3
"""Check every file of a local datastore after a soak: each run, graph and task record parses
and holds fields of the right types, each artifact a record names has its blob, and nothing
else lies in runs/ (a torn or left-over temporary file would). Prints counts; exits 1 naming
the first problems."""
import json
import os
import re
import sys

HEX64 = re.compile(r"[0-9a-f]{64}\Z")
TASK_FILE = re.compile(r"(\d+)\.(\d+)\.(json|stdout|stderr|inputs)\Z")
STATUS = {"pending", "running", "succeeded", "failed", "cancelled"}  # model.c status_names


root = sys.argv[1]
problems = []
counts = {"run": 0, "graph": 0, "task": 0, "log": 0, "artifact refs": 0}


def need(rec, name, typ, where):
    v = rec.get(name)
    # JSON true/false read as bool, which Python counts as an int: not a number here.
    if not isinstance(v, typ) or isinstance(v, bool):
        problems.append(f"{where}: field '{name}' missing or of the wrong type")


def check_artifacts(arts, where):
    if not isinstance(arts, dict):
        problems.append(f"{where}: 'artifacts' is not an object")
        return
    for name, a in arts.items():
        counts["artifact refs"] += 1
        if not isinstance(a, dict) or not isinstance(a.get("type"), str) \
                or not isinstance(a.get("size"), int) or not HEX64.match(str(a.get("key", ""))):
            problems.append(f"{where}: artifact '{name}' is malformed: {a!r}")
            continue
        blob = os.path.join(root, "blobs", a["key"][:2], a["key"])
        if not os.path.isfile(blob):
            problems.append(f"{where}: artifact '{name}' names blob {a['key']}, which is missing")


def load(path):
    try:
        with open(path, "rb") as f:
            return json.loads(f.read().decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        problems.append(f"{path}: not a whole JSON document ({e})")
        return None


runs_dir = os.path.join(root, "runs")
for dirpath, _dirs, files in os.walk(runs_dir):
    rel = os.path.relpath(dirpath, runs_dir).split(os.sep)
    for fn in files:
        path = os.path.join(dirpath, fn)
        if len(rel) == 2 and fn == "run.json":
            rec = load(path)
            if rec is None:
                continue
            counts["run"] += 1
            for k, t in (("format", int), ("flow", str), ("run_id", int), ("status", str)):
                need(rec, k, t, path)
            if rec.get("status") not in STATUS:
                problems.append(f"{path}: status {rec.get('status')!r}")
            check_artifacts(rec.get("parameters", {}), path)
        elif len(rel) == 2 and fn == "graph.json":
            if load(path) is not None:
                counts["graph"] += 1
        elif len(rel) == 3 and TASK_FILE.match(fn):
            kind = TASK_FILE.match(fn).group(3)
            if kind != "json":
                counts["log"] += 1
                continue
            rec = load(path)
            if rec is None:
                continue
            counts["task"] += 1
            for k, t in (("format", int), ("flow", str), ("run_id", int), ("step", str),
                         ("task_id", int), ("attempt", int), ("status", str)):
                need(rec, k, t, path)
            m = TASK_FILE.match(fn)
            if rec.get("task_id") != int(m.group(1)) or rec.get("attempt") != int(m.group(2)) \
                    or rec.get("step") != rel[2] or rec.get("flow") != rel[0]:
                problems.append(f"{path}: the record's flow/step/task/attempt disagree with its key")
            if rec.get("status") not in STATUS:
                problems.append(f"{path}: status {rec.get('status')!r}")
            check_artifacts(rec.get("artifacts", {}), path)
        else:
            problems.append(f"{path}: a file no mflow key names (a left-over temporary?)")

summary = ", ".join(f"{v} {k}" for k, v in counts.items())
if problems:
    print(f"{len(problems)} problem(s) in {summary}:")
    for p in problems[:20]:
        print("  " + p)
    sys.exit(1)
print(f"records whole: {summary}")
