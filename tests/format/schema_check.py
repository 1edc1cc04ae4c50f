#!/usr/bin/env python3
"""Validates every run, graph and task record of a datastore against the installed JSON
Schemas (sdk/schema/). Python's standard library has no JSON Schema validator, so this holds a
small one for the subset the schemas use: $ref (to #/$defs), anyOf, type, properties,
required, additionalProperties, propertyNames, items, enum, pattern, minimum, maxLength.

  schema_check.py SCHEMA_DIR ROOT     every record under datastore ROOT; exit 1 on any error

Before the records, it checks itself: each schema must refuse a set of broken copies of the
first valid record of its kind (a validator that accepts anything would pass every record).
"""
import copy
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reader  # noqa: E402

TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}
KNOWN = {"anyOf", "$schema", "$id", "$defs", "$ref", "title", "description", "type", "properties",
         "required", "additionalProperties", "propertyNames", "items", "enum", "pattern",
         "minimum", "maxLength"}


def validate(v, s, root, where="$"):
    """The list of errors of value v against schema s (root: for $ref)."""
    unknown = set(s) - KNOWN
    if unknown:
        raise ValueError(f"schema keyword(s) {sorted(unknown)} at {where} are not supported")
    if "$ref" in s:
        ref = s["$ref"]
        if not ref.startswith("#/$defs/"):
            raise ValueError(f"unsupported $ref {ref}")
        return validate(v, root["$defs"][ref[len("#/$defs/"):]], root, where)
    errs = []
    if "anyOf" in s:
        alts = [validate(v, a, root, where) for a in s["anyOf"]]
        if all(alts):
            return [f"{where}: matches none of anyOf: " + "; ".join(a[0] for a in alts)]
    if "type" in s:
        ts = s["type"] if isinstance(s["type"], list) else [s["type"]]
        if not any(TYPES[t](v) for t in ts):
            return [f"{where}: {json.dumps(v)[:60]} is not of type {s['type']}"]
    if "enum" in s and v not in s["enum"]:
        errs.append(f"{where}: {v!r} is not one of {s['enum']}")
    if isinstance(v, str):
        if "pattern" in s and not re.search(s["pattern"], v):
            errs.append(f"{where}: {v!r} does not match {s['pattern']}")
        if "maxLength" in s and len(v) > s["maxLength"]:
            errs.append(f"{where}: longer than {s['maxLength']}")
    if TYPES["number"](v) and "minimum" in s and v < s["minimum"]:
        errs.append(f"{where}: {v} is below {s['minimum']}")
    if isinstance(v, list) and "items" in s:
        for i, x in enumerate(v):
            errs += validate(x, s["items"], root, f"{where}[{i}]")
    if isinstance(v, dict):
        for k in s.get("required", []):
            if k not in v:
                errs.append(f"{where}: '{k}' is required")
        props = s.get("properties", {})
        for k, x in v.items():
            if "propertyNames" in s:
                errs += validate(k, s["propertyNames"], root, f"{where} name {k!r}")
            if k in props:
                errs += validate(x, props[k], root, f"{where}.{k}")
            elif s.get("additionalProperties") is False:
                errs.append(f"{where}: '{k}' is not allowed")
            elif isinstance(s.get("additionalProperties"), dict):
                errs += validate(x, s["additionalProperties"], root, f"{where}.{k}")
    return errs


def broken_copies(kind, rec):
    """Copies of a valid record, each broken in one way the schema must refuse."""
    def edit(f):
        r = copy.deepcopy(rec)
        f(r)
        return r
    out = [
        edit(lambda r: r.pop("flow")),
        edit(lambda r: r.update(extra=1)),
        edit(lambda r: r.update(run_id="1")),
        edit(lambda r: r.update(run_id=0)),
        edit(lambda r: r.update(flow="a/b")),
    ]
    if kind in ("task", "run"):
        arts = "artifacts" if kind == "task" else "parameters"
        name = next(iter(rec[arts]), None)
        out += [
            edit(lambda r: r.update(format=2)),
            edit(lambda r: r.update(status="done")),
            edit(lambda r: r.update(start_time=True)),
        ]
        if name:
            out += [
                edit(lambda r: r[arts][name].update(type="int")),
                edit(lambda r: r[arts][name].update(key="ABC")),
                edit(lambda r: r[arts][name].update(size=-1)),
                edit(lambda r: r[arts][name].pop("key")),
                edit(lambda r: r[arts].update({"bad name": r[arts][name]})),
            ]
    if kind == "task":
        out += [edit(lambda r: r.update(inputs=[{"path": "x", "attempt": 0}])),
                edit(lambda r: r.update(stack=[{"step": "s", "task": 1, "kind": "loop",
                                                "index": 0, "count": 1}])),
                edit(lambda r: r.update(origin="F/1/s"))]
    if kind == "graph":
        out += [edit(lambda r: r["steps"][0].update(type="loop")),
                edit(lambda r: r["steps"][0]["resources"].update(cpu=-1))]
    return out


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    sdir, root = argv[1], argv[2]
    schemas = {}
    for kind, f in (("task", "task-record"), ("run", "run-record"), ("graph", "graph")):
        with open(os.path.join(sdir, f + ".schema.json")) as fp:
            schemas[kind] = json.load(fp)
    counts, bad, tested = {}, 0, set()
    for kind, path in reader.records(root):
        with open(path) as fp:
            rec = json.load(fp)
        errs = validate(rec, schemas[kind], schemas[kind])
        counts[kind] = counts.get(kind, 0) + 1
        for e in errs:
            bad += 1
            print(f"INVALID {path}: {e}")
        if not errs and kind not in tested:
            tested.add(kind)
            for i, b in enumerate(broken_copies(kind, rec)):
                if not validate(b, schemas[kind], schemas[kind]):
                    bad += 1
                    print(f"SELF-TEST: the {kind} schema accepts broken copy {i}: {b}")
    print(f"records: {counts}, {bad} errors; self-test on {sorted(tested)}")
    return 0 if counts and not bad and len(tested) == 3 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
