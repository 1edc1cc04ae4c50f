#!/usr/bin/env python3
"""Compares tests/format/reader.py with mflow, and with an expected file.

  compare.py mflow ROOT        every artifact the reader finds under datastore ROOT, against
                               `mflow get --json` (and `--raw` for str, bytes, obj, pickle, npy) of the same
                               artifact; mflow is $MFLOW_BIN, run with the caller's
                               environment (MFLOW_HOME must index ROOT)
  compare.py expected ROOT FILE  the reader's dump of ROOT against FILE (one JSON object a line,
                               as `reader.py dump` prints)
  compare.py mflow-expected FILE [ROOT]  `mflow get --json` of every artifact in FILE against
                               FILE (and `--raw` against the reader's bytes from ROOT)

Prints one line per mismatch and a total; exit 1 on any mismatch or when nothing was compared.
"""
import hashlib
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reader  # noqa: E402

MFLOW = os.environ.get("MFLOW_BIN", "mflow")


def mflow(*args):
    p = subprocess.run([MFLOW, "--namespace=", *args], capture_output=True)
    return p.returncode, p.stdout, p.stderr.decode(errors="replace")


BIG = 1024


def short(v):
    """A long text value as its SHA-256 and length, so that expected.jsonl stays small."""
    if isinstance(v, str) and len(v) > BIG:
        return {"chars": len(v), "sha256": hashlib.sha256(v.encode()).hexdigest()}
    return v


def shorten(x):
    for k in ("value", "item"):
        if k in x:
            x[k] = short(x[k])
    return x


def artifacts(lines):
    return [x for x in lines if "name" in x]


def mflow_json(path, name):
    if path.count("/") == 1:   # a run parameter: read it from the run's start task
        return None
    rc, out, err = mflow("get", path, name, "--json")
    if rc != 0:
        return f"exit {rc}: {err.strip()}"
    return json.loads(out)


def check_mflow(lines):
    bad = n = 0
    for x in artifacts(lines):
        got = mflow_json(x["path"], x["name"])
        if got is None:
            continue
        n += 1
        if not reader.same_json(short(got), short(x["value"])):
            bad += 1
            print(f"MISMATCH {x['path']} {x['name']} ({x['type']}): reader {x['value']!r}, "
                  f"mflow get --json {got!r}")
        if x["type"] in ("str", "bytes", "obj", "pickle", "npy"):
            rc, out, err = mflow("get", x["path"], x["name"], "--raw")
            mine = reader.read_blob(ROOT, x["key"])[8:] if ROOT else None
            if rc != 0 or (mine is not None and out != mine):
                mine = mine or b""
                bad += 1
                print(f"MISMATCH {x['path']} {x['name']}: get --raw exit {rc}, "
                      f"{len(out)} bytes vs the reader's {len(mine)}")
    return bad, n


def main(argv):
    global ROOT
    ROOT = None
    if len(argv) == 3 and argv[1] == "mflow":
        ROOT = argv[2]
        bad, n = check_mflow(list(reader.dump(ROOT)))
    elif len(argv) == 4 and argv[1] == "expected":
        mine = [json.dumps(shorten(x), sort_keys=True) for x in reader.dump(argv[2])]
        with open(argv[3]) as f:
            want = [json.dumps(json.loads(line), sort_keys=True) for line in f if line.strip()]
        n, bad = len(want), 0
        for a, b in zip(mine, want):
            if not reader.same_json(json.loads(a), json.loads(b)):
                bad += 1
                print(f"MISMATCH reader {a}\n      expected {b}")
        if len(mine) != len(want):
            bad += 1
            print(f"MISMATCH the reader found {len(mine)} entries, the file has {len(want)}")
    elif len(argv) in (3, 4) and argv[1] == "mflow-expected":
        ROOT = argv[3] if len(argv) == 4 else None
        with open(argv[2]) as f:
            bad, n = check_mflow([json.loads(line) for line in f if line.strip()])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    print(f"{n} compared, {bad} mismatched")
    return 0 if n and not bad else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
