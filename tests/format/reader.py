#!/usr/bin/env python3
"""A reader of the mflow datastore written from sdk/DATASTORE.md alone (Python standard library
plus Debian's python3-zstandard). It is what the `format` suite checks the document by.

  reader.py dump ROOT                 every run parameter, artifact and foreach item of every
                                      run, one JSON object a line
  reader.py get ROOT PATHSPEC NAME [--json|--raw]
                                      one artifact, as `mflow get` prints it
  reader.py records ROOT              the key of every run, graph and task record

ROOT is a datastore root (a directory). Exit 1 with a message on anything the document says a
reader must refuse.
"""
import hashlib
import json
import math
import os
import re
import struct
import sys

RECORD_FORMAT = 1      # the "format" of run and task records this reader knows
VALUE_VERSION = 1      # byte 3 of an encoded value
BLOB_VERSION = b"1"    # byte 3 of a blob ("MFB1")
MAX_RATIO = 65536      # a zstd blob's length may not exceed 65536 x (compressed size + 1) - 1
TYPES = {1: "i64", 2: "f64", 3: "str", 4: "bytes", 5: "i64[]", 6: "f64[]", 7: "str[]",
         9: "obj", 10: "pickle", 11: "npy"}
NPY_MAGIC = b"\x93NUMPY"
OBJ_MAX_DEPTH = 500
KEY_RE = re.compile(r"^[0-9a-f]{64}$")
NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
TASK_RE = re.compile(r"^([1-9][0-9]*)\.(0|[1-9][0-9]*)\.json$")


class FormatError(Exception):
    pass


class NewerFormat(FormatError):
    pass


# ---- blobs and values ----------------------------------------------------------------------

def read_blob(root, key):
    """The encoded value of blob `key`, verified against its SHA-256."""
    if not KEY_RE.match(key):
        raise FormatError(f"blob key {key!r} is not 64 lowercase hex characters")
    with open(os.path.join(root, "blobs", key[:2], key), "rb") as f:
        blob = f.read()
    if len(blob) < 16:
        raise FormatError(f"blob {key}: shorter than its 16-byte header")
    if blob[:3] == b"MFB" and blob[3:4] != BLOB_VERSION and blob[3:4].isdigit() \
            and blob[3:4] > BLOB_VERSION:
        raise NewerFormat(f"blob {key} has format version {blob[3:4].decode()}, newer than "
                          f"version {BLOB_VERSION.decode()} that this reader knows")
    if blob[:4] != b"MFB1" or blob[5:8] != b"\0\0\0":
        raise FormatError(f"blob {key}: bad header")
    codec = blob[4]
    (length,) = struct.unpack_from("<Q", blob, 8)
    data = blob[16:]
    if codec == 0:
        if len(data) != length:
            raise FormatError(f"blob {key}: {len(data)} bytes of data, header says {length}")
        enc = data
    elif codec == 1:
        if not data or length // MAX_RATIO > len(data):
            raise FormatError(f"blob {key}: length {length} is impossible for {len(data)} "
                              "compressed bytes")
        import zstandard
        try:
            enc = zstandard.ZstdDecompressor().decompress(data, max_output_size=length)
        except zstandard.ZstdError as e:
            raise FormatError(f"blob {key}: zstd: {e}")
        if len(enc) != length:
            raise FormatError(f"blob {key}: decompresses to {len(enc)} bytes, not {length}")
    else:
        raise FormatError(f"blob {key}: unknown codec {codec}")
    if hashlib.sha256(enc).hexdigest() != key:
        raise FormatError(f"blob {key} is corrupt (its content has another SHA-256)")
    return enc


def decode(enc):
    """(type name, value): i64 int, f64 float, str bytes, bytes bytes, lists of those."""
    if len(enc) < 8 or enc[:3] != b"MFV":
        raise FormatError("not an mflow value")
    if enc[3] > VALUE_VERSION:
        raise NewerFormat(f"value format version {enc[3]} is newer than version "
                          f"{VALUE_VERSION} that this reader knows")
    if enc[3] != VALUE_VERSION or enc[5:8] != b"\0\0\0":
        raise FormatError("bad value header")
    if enc[4] > max(TYPES):
        raise NewerFormat(f"the value is of a newer type ({enc[4]}) than this reader knows: "
                          "upgrade")
    if enc[4] not in TYPES:
        raise FormatError("bad value header")
    t, p = TYPES[enc[4]], enc[8:]
    if t == "obj":
        return t, decode_obj(bytes(p))
    if t == "pickle":
        return t, bytes(p)
    if t == "npy":
        npy_header(p)
        return t, bytes(p)
    if t in ("i64", "f64"):
        if len(p) != 8:
            raise FormatError("a scalar payload is not 8 bytes")
        return t, struct.unpack("<q" if t == "i64" else "<d", p)[0]
    if t in ("str", "bytes"):
        return t, bytes(p)
    if len(p) < 8:
        raise FormatError("a list payload is shorter than its count")
    (n,) = struct.unpack_from("<Q", p)
    if t in ("i64[]", "f64[]"):
        if (len(p) - 8) % 8 or n != (len(p) - 8) // 8:
            raise FormatError("a list's count disagrees with its length")
        return t, list(struct.unpack_from(f"<{n}{'q' if t == 'i64[]' else 'd'}", p, 8))
    if n > (len(p) - 8) // 8:
        raise FormatError("a str[] count is impossible for its length")
    out, off = [], 8
    for _ in range(n):
        if len(p) - off < 8:
            raise FormatError("a str[] element has no length")
        (L,) = struct.unpack_from("<Q", p, off)
        off += 8
        if L > len(p) - off:
            raise FormatError("a str[] element runs past the payload")
        out.append(bytes(p[off:off + L]))
        off += L
    if off != len(p):
        raise FormatError("bytes left over after the last str[] element")
    return t, out


def _no_constant(name):
    raise FormatError(f"an obj holds {name}, which JSON (RFC 8259) does not have")


def _depth_and_text(v, depth=1):
    """Nesting at most OBJ_MAX_DEPTH, and every string well-formed (no lone surrogate)."""
    if isinstance(v, (list, dict)):
        if depth > OBJ_MAX_DEPTH:
            raise FormatError(f"an obj nests deeper than {OBJ_MAX_DEPTH}")
        for k, x in (v.items() if isinstance(v, dict) else enumerate(v)):
            _depth_and_text(k, depth) if isinstance(k, str) else None
            _depth_and_text(x, depth + 1)
    elif isinstance(v, str):
        try:
            v.encode("utf-8")
        except UnicodeEncodeError:
            raise FormatError("an obj holds a \\u escape of a lone surrogate")


def decode_obj(p):
    """An obj's JSON text as the JSON value it is (tags left as they are stored)."""
    try:
        text = p.decode("utf-8")
    except UnicodeDecodeError:
        raise FormatError("an obj's text is not UTF-8")
    try:
        v = json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError) as e:
        raise FormatError(f"an obj's text is not JSON: {e}")
    _depth_and_text(v)
    return v


def npy_header(p):
    """The header dict of an .npy payload (numpy's format: magic, version, header length)."""
    if len(p) < 10 or p[:6] != NPY_MAGIC or p[6] not in (1, 2, 3):
        raise FormatError("an npy value does not start with numpy's magic and version")
    if p[6] == 1:
        (hl,), off = struct.unpack_from("<H", p, 8), 10
    else:
        if len(p) < 12:
            raise FormatError("an npy header is cut short")
        (hl,), off = struct.unpack_from("<I", p, 8), 12
    if hl > len(p) - off:
        raise FormatError("an npy header runs past the payload")
    import ast
    try:
        h = ast.literal_eval(bytes(p[off:off + hl]).decode("latin-1"))
    except (ValueError, SyntaxError) as e:
        raise FormatError(f"an npy header is not a Python dict literal: {e}")
    if not isinstance(h, dict) or "descr" not in h or not isinstance(h.get("shape"), tuple):
        raise FormatError("an npy header lacks descr or shape")
    return h


def read_artifact(root, ref):
    """The value of an artifact reference {type, key, size} of a record."""
    enc = read_blob(root, ref["key"])
    t, v = decode(enc)
    if t != ref["type"]:
        raise FormatError(f"the record says {ref['type']} but blob {ref['key']} holds {t}")
    if ref.get("size") != len(enc):
        raise FormatError(f"the record says size {ref.get('size')} but the value is "
                          f"{len(enc)} bytes")
    return t, v


# ---- JSON encodings (as mflow get --json prints them) -----------------------------------------

def json_text(b):
    try:
        s = b.decode("utf-8")   # Python's decoder is RFC 3629: no overlongs, no surrogates
    except UnicodeDecodeError:
        return {"type": "str", "hex": b.hex()}
    return s


def json_f64(x):
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return x


def to_json(t, v):
    if t in ("i64", "i64[]"):
        return v
    if t == "f64":
        return json_f64(v)
    if t == "f64[]":
        return [json_f64(x) for x in v]
    if t == "str":
        return json_text(v)
    if t == "bytes":
        return {"type": "bytes", "hex": v.hex()}
    if t == "obj":
        return v
    if t == "pickle":
        return {"type": "pickle", "size": len(v), "hex": v.hex()}
    if t == "npy":
        h = npy_header(v)
        dtype = h["descr"] if isinstance(h["descr"], str) else "structured"
        return {"type": "npy", "dtype": dtype, "shape": list(h["shape"]), "size": len(v),
                "hex": v.hex()}
    return [json_text(x) for x in v]


def same_json(a, b):
    """Equal as the document defines JSON values: numbers of an f64 by their double (so 0.1
    printed with 17 digits equals 0.1), -0.0 apart from 0.0."""
    if isinstance(a, float) or isinstance(b, float):
        if isinstance(a, bool) or isinstance(b, bool) or not isinstance(a, (int, float)) \
                or not isinstance(b, (int, float)):
            return False
        fa, fb = float(a), float(b)
        return fa == fb and math.copysign(1, fa) == math.copysign(1, fb)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_json(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


# ---- records ---------------------------------------------------------------------------------

def load_record(path, kind):
    with open(path, "rb") as f:
        rec = json.loads(f.read())
    if not isinstance(rec, dict):
        raise FormatError(f"{path}: not a JSON object")
    fmt = rec.get("format")
    if isinstance(fmt, int) and fmt > RECORD_FORMAT:
        raise NewerFormat(f"{path}: {kind} record format {fmt} is newer than format "
                          f"{RECORD_FORMAT} that this reader knows")
    if fmt != RECORD_FORMAT:
        raise FormatError(f"{path}: {kind} record format {fmt!r} is not {RECORD_FORMAT}")
    return rec


def runs(root):
    """(flow, run id) of every run with a run record."""
    base = os.path.join(root, "runs")
    for flow in sorted(os.listdir(base)) if os.path.isdir(base) else []:
        if not NAME_RE.match(flow):
            continue
        for run in sorted(os.listdir(os.path.join(base, flow)), key=lambda r: (len(r), r)):
            if re.match(r"^[1-9][0-9]*$", run) and \
                    os.path.exists(os.path.join(base, flow, run, "run.json")):
                yield flow, int(run)


def run_dir(root, flow, run):
    return os.path.join(root, "runs", flow, str(run))


def tasks(root, flow, run):
    """{(step, task id): [attempts]} from the task record names of one run."""
    out = {}
    d = run_dir(root, flow, run)
    for step in sorted(os.listdir(d)):
        sd = os.path.join(d, step)
        if not os.path.isdir(sd) or not NAME_RE.match(step):
            continue
        for name in os.listdir(sd):
            m = TASK_RE.match(name)
            if m:
                out.setdefault((step, int(m.group(1))), []).append(int(m.group(2)))
    return {k: sorted(v) for k, v in sorted(out.items())}


def task_record(root, flow, run, step, task, attempt=None):
    """A task's record: the given attempt, else its latest (the highest attempt number)."""
    if attempt is None:
        attempt = tasks(root, flow, run)[(step, task)][-1]
    return load_record(os.path.join(run_dir(root, flow, run), step, f"{task}.{attempt}.json"),
                       "task")


def foreach_item(root, flow, run, rec, graph):
    """The item a task inside a foreach works on: element `index` of the list the foreach task
    of its innermost foreach frame fans out over. None outside a foreach."""
    frames = [f for f in rec["stack"] if f["kind"] == "foreach"]
    if not frames:
        return None
    f = frames[-1]
    var = next(s["foreach"] for s in graph["steps"] if s["name"] == f["step"])
    parent = task_record(root, flow, run, f["step"], f["task"])
    t, v = read_artifact(root, parent["artifacts"][var])
    is_list = t.endswith("[]") or (t == "obj" and isinstance(v, list))
    if not is_list or f["index"] >= len(v) or f["count"] != len(v):
        raise FormatError(f"foreach frame {f} does not fit the list '{var}'")
    return (t[:-2] if t != "obj" else t), v[f["index"]]


def dump(root):
    for flow, run in runs(root):
        rr = load_record(os.path.join(run_dir(root, flow, run), "run.json"), "run")
        for name, ref in rr["parameters"].items():
            t, v = read_artifact(root, ref)
            yield {"path": f"{flow}/{run}", "name": name, "type": t, "key": ref["key"],
                   "value": to_json(t, v)}
        with open(os.path.join(run_dir(root, flow, run), "graph.json")) as f:
            graph = json.load(f)
        for (step, task), attempts in tasks(root, flow, run).items():
            rec = task_record(root, flow, run, step, task, attempts[-1])
            path = f"{flow}/{run}/{step}/{task}"
            for name, ref in rec["artifacts"].items():
                t, v = read_artifact(root, ref)
                yield {"path": path, "name": name, "type": t, "key": ref["key"],
                       "value": to_json(t, v)}
            item = foreach_item(root, flow, run, rec, graph)
            if item is not None:
                yield {"path": path, "item": to_json(*item)}


def records(root):
    for flow, run in runs(root):
        d = run_dir(root, flow, run)
        yield ("run", os.path.join(d, "run.json"))
        yield ("graph", os.path.join(d, "graph.json"))
        for (step, task), attempts in tasks(root, flow, run).items():
            for a in attempts:
                yield ("task", os.path.join(d, step, f"{task}.{a}.json"))


def main(argv):
    try:
        if len(argv) == 3 and argv[1] == "dump":
            for line in dump(argv[2]):
                print(json.dumps(line, sort_keys=True))
            return 0
        if len(argv) == 3 and argv[1] == "records":
            for kind, path in records(argv[2]):
                print(kind, path)
            return 0
        if len(argv) in (5, 6) and argv[1] == "get":
            root, spec, name = argv[2:5]
            mode = argv[5] if len(argv) == 6 else "--json"
            flow, run, step, task = spec.split("/")
            rec = task_record(root, flow, int(run), step, int(task))
            t, v = read_artifact(root, rec["artifacts"][name])
            if mode == "--raw" and t in ("str", "bytes", "pickle", "npy"):
                sys.stdout.buffer.write(v)
            elif mode == "--raw" and t == "obj":
                sys.stdout.buffer.write(read_blob(root, rec["artifacts"][name]["key"])[8:])
            else:
                print(json.dumps(to_json(t, v), ensure_ascii=False))
            return 0
    except FormatError as e:
        print(f"reader: {e}", file=sys.stderr)
        return 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
