"""sdk/python/mflow/codec.py: which type each Python value is stored as, its exact payload,
the way back, and what a damaged or newer value does. The round trip against the C codec
(values a C flow wrote, read from the datastore's blobs; values this codec wrote, read by
`mflow get`) is in TestAgainstC."""
import collections
import enum
import json
import math
import os
import pickle
import struct
import subprocess
import sys
import tempfile
import unittest

from mflow import codec, MflowCorrupt, MflowNewerFormat, MflowInvalid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "format"))

try:
    import numpy
except ImportError:
    numpy = None


class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y

    def __eq__(self, o):
        return type(o) is Point and (o.x, o.y) == (self.x, self.y)


Pair = collections.namedtuple("Pair", "a b")


class Color(enum.IntEnum):
    RED = 1


def same(a, b):
    """Equal, with NaN equal to NaN, -0.0 apart from 0.0, and types exact (True is not 1)."""
    if type(a) is not type(b):
        return False
    if type(a) is float:
        return (math.isnan(a) and math.isnan(b)) or \
            (a == b and math.copysign(1, a) == math.copysign(1, b))
    if type(a) in (list, tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if type(a) is dict:
        return list(a.keys()) == list(b.keys()) and all(same(a[k], b[k]) for k in a)
    if type(a) in (set, frozenset):
        return a == b
    return a == b


class TestTypes(unittest.TestCase):
    def kind(self, v):
        return codec.encode(v)[0]

    def round_trip(self, v):
        t, p = codec.encode(v)
        self.assertIsInstance(p, bytes)
        back = codec.decode(t, p)
        self.assertTrue(same(back, v), f"{v!r} came back as {back!r} (type {t})")
        blob = codec.encode_blob(v)
        self.assertEqual(blob, b"MFV\x01" + bytes([t, 0, 0, 0]) + p)
        self.assertTrue(same(codec.decode_blob(blob), v))
        self.assertTrue(same(codec.decode_blob(bytearray(blob)), v))
        self.assertTrue(same(codec.decode_blob(memoryview(blob)), v))
        return t, p

    def test_ints(self):
        for v, t in [(0, 1), (1, 1), (-1, 1), (2**63 - 1, 1), (-2**63, 1), (2**63, 9),
                     (-2**63 - 1, 9), (10**40, 9), (-(10**40), 9)]:
            got, p = self.round_trip(v)
            self.assertEqual(got, t, v)
            if t == 1:
                self.assertEqual(p, struct.pack("<q", v))
            else:
                self.assertEqual(p, str(v).encode())

    def test_bool_is_not_an_int(self):
        for v, text in [(True, b"true"), (False, b"false")]:
            self.assertEqual(codec.encode(v), (9, text))
            self.assertIs(codec.decode(9, text), v)
        self.assertEqual(self.kind([True, False]), 9)
        self.assertEqual(self.kind([1, True]), 9)
        self.assertEqual(codec.decode(*codec.encode([1, True])), [1, True])
        self.assertIs(codec.decode(*codec.encode([1, True]))[1], True)

    def test_floats(self):
        for v in [0.0, -0.0, 1.5, 0.1, 5e-324, 1.7976931348623157e308, math.inf, -math.inf,
                  math.nan]:
            t, p = self.round_trip(v)
            self.assertEqual(t, 2)
            self.assertEqual(p, struct.pack("<d", v))
        # inside an obj, non-finite floats are tags and -0.0 stays -0.0
        t, p = self.round_trip([1, math.nan, math.inf, -math.inf, -0.0])
        self.assertEqual(t, 9)
        self.assertEqual(json.loads(p), [1, {"$float": "nan"}, {"$float": "inf"},
                                         {"$float": "-inf"}, -0.0])

    def test_strings(self):
        for v in ["", "a", "café ✓ 😀", "nul\0inside", "\udbff" + "x"[:0] + "ok"[:0]]:
            t, p = self.round_trip(v)
            if "\udbff" in v:
                self.assertEqual(t, 10, "a lone surrogate is pickled")
            else:
                self.assertEqual((t, p), (3, v.encode()))
        # a surrogate pair written as one code point is fine; lone halves are not
        self.assertEqual(self.kind("\U0001F600"), 3)
        self.assertEqual(self.kind("a\udc80b"), 10)
        # stored bytes that are not UTF-8 come back with surrogateescape, every byte kept
        s = codec.decode(3, b"ok\xff\xfe")
        self.assertEqual(s, "ok\udcff\udcfe")
        self.assertEqual(s.encode("utf-8", "surrogateescape"), b"ok\xff\xfe")

    def test_bytes(self):
        for v in [b"", b"\0", bytes(range(256))]:
            self.assertEqual(self.round_trip(v), (4, v))
        for v in [bytearray(b"ab"), memoryview(b"ab")]:
            t, p = codec.encode(v)
            self.assertEqual(t, 10, type(v))
            back = codec.decode(t, p)
            self.assertEqual(back, b"ab")
            self.assertIs(type(back), bytes if type(v) is memoryview else bytearray)
        t, p = self.round_trip([b"\x00\xff", b""])
        self.assertEqual((t, json.loads(p)), (9, [{"$bytes": "AP8="}, {"$bytes": ""}]))

    def test_lists(self):
        t, p = self.round_trip([1, -2, 2**63 - 1, -2**63])
        self.assertEqual(t, 5)
        self.assertEqual(p, struct.pack("<Q4q", 4, 1, -2, 2**63 - 1, -2**63))
        self.assertEqual(self.kind([1, 2**63]), 9, "an int out of range makes it an obj")
        t, p = self.round_trip([1.5, math.nan, -0.0])
        self.assertEqual(t, 6)
        self.assertEqual(p[:8], struct.pack("<Q", 3))
        t, p = self.round_trip(["a", "", "é"])
        self.assertEqual((t, p), (7, struct.pack("<QQ", 3, 1) + b"a" + struct.pack("<Q", 0)
                                  + struct.pack("<Q", 2) + "é".encode()))
        self.assertEqual(self.kind(["a", "\udc80"]), 10, "a lone surrogate in a str list")
        for v, t in [([], 9), ([1, 1.5], 9), ([1, "a"], 9), ([[1], [2]], 9), ([None], 9),
                     ([1.0, 2], 9)]:
            self.assertEqual(self.round_trip(v)[0], t, v)
        self.assertEqual(self.round_trip([])[1], b"[]")

    def test_tuples_dicts_none(self):
        cases = [
            (None, b"null"),
            ((), b'{"$tuple":[]}'),
            ((1, "a", (2.5,)), b'{"$tuple":[1,"a",{"$tuple":[2.5]}]}'),
            ({}, b"{}"),
            ({"a": 1, "b": [1, 2]}, b'{"a":1,"b":[1,2]}'),
            ({1: "one", (1, 2): "pair"}, b'{"$dict":[[1,"one"],[{"$tuple":[1,2]},"pair"]]}'),
            ({"$x": 1}, b'{"$dict":[["$x",1]]}'),
            ({"$x": 1, "y": 2}, b'{"$x":1,"y":2}'),
            ({"$bytes": "AA=="}, b'{"$dict":[["$bytes","AA=="]]}'),
            ({"a": {"$tuple": []}}, b'{"a":{"$dict":[["$tuple",[]]]}}'),
            ({None: 1, True: 2, 2.5: 3}, b'{"$dict":[[null,1],[true,2],[2.5,3]]}'),
            ([(1, 2), (1, 3)], b'[{"$tuple":[1,2]},{"$tuple":[1,3]}]'),
        ]
        for v, text in cases:
            t, p = self.round_trip(v)
            self.assertEqual((t, p), (9, text), v)

    def test_dict_order_and_text(self):
        v = {"z": 1, "a": 2, "é": "✓"}
        t, p = self.round_trip(v)
        self.assertEqual(list(codec.decode(t, p)), ["z", "a", "é"])
        self.assertEqual(p.decode("utf-8"), '{"z":1,"a":2,"é":"✓"}')
        self.assertEqual(codec.encode("a\0b"), (3, b"a\0b"))
        self.assertEqual(codec.encode(["a\0b", 1])[1], b'["a\\u0000b",1]')

    def test_not_portable_is_pickled(self):
        for v in [{1, 2}, frozenset([3]), Point(1, 2), Pair(1, 2), Color.RED, complex(1, 2),
                  [1, {2}], {"a": Point(0, 0)}, (1, bytearray(b"x")), {"k": "\udc80"},
                  {"\udc80": 1}, range(3), 1.5j]:
            t, p = codec.encode(v)
            self.assertEqual(t, 10, repr(v))
            self.assertEqual(p[:2], b"\x80\x05", "pickle protocol 5, without buffers: plain")
            back = codec.decode(t, p)
            self.assertEqual(type(back), type(v))
            self.assertEqual(back, v)

    def test_subclasses_are_pickled(self):
        class S(str):
            pass
        self.assertEqual(self.kind(Color.RED), 10)
        self.assertEqual(self.kind(True), 9)
        self.assertIs(type(codec.decode(*codec.encode(Color.RED))), Color)
        self.assertEqual(self.kind(Pair(1, 2)), 10)
        self.assertIs(type(codec.decode(*codec.encode(Pair(1, 2)))), Pair)

    def test_cycles_and_depth(self):
        a = [1]
        a.append(a)
        t, p = codec.encode(a)
        self.assertEqual(t, 10)
        back = codec.decode(t, p)
        self.assertIs(back[1], back)
        # the same object twice (no cycle) is portable
        x = [1, 2]
        self.assertEqual(codec.encode([x, x]), (9, b"[[1,2],[1,2]]"))
        deep = []
        for _ in range(codec.OBJ_MAX_DEPTH - 1):
            deep = [deep]
        t, p = codec.encode(deep)
        self.assertEqual(t, 9)
        self.assertEqual(p.count(b"["), codec.OBJ_MAX_DEPTH)
        self.assertEqual(codec.decode(t, p), deep)
        # one level past the limit is pickled, where pickle's own recursion reaches so deep
        # (Python 3.11's does not: then it is refused, naming why)
        try:
            t, p = codec.encode([deep])
            self.assertEqual(t, 10, "one level past the limit is pickled")
            self.assertEqual(codec.decode(t, p), [deep])
        except MflowInvalid as e:
            self.assertIn("nested this deeply: JSON takes 500 levels", str(e))
        # the same with a shallower value: a tag is the level too many
        shallow = [b"x"]
        for _ in range(codec.OBJ_MAX_DEPTH - 2):
            shallow = [shallow]
        self.assertEqual(codec.encode(shallow)[0], 9)
        shallow = [shallow]
        try:
            self.assertEqual(codec.encode(shallow)[0], 10)
        except MflowInvalid as e:
            self.assertIn("nested this deeply", str(e))
        # a tag is a level too: a tuple needs two
        tup = ()
        for _ in range(codec.OBJ_MAX_DEPTH // 2 - 1):
            tup = (tup,)
        t, p = codec.encode(tup)
        self.assertEqual(t, 9)
        self.assertEqual(p.count(b"["), codec.OBJ_MAX_DEPTH // 2)
        self.assertEqual(codec.decode(t, p), tup)
        t, p = codec.encode((tup,))
        self.assertEqual(t, 10, "a tuple past the limit is pickled (pickle goes as deep)")
        self.assertEqual(codec.decode(t, p), (tup,))
        very = []
        for _ in range(5000):
            very = [very]
        with self.assertRaises(MflowInvalid) as e:
            codec.encode(very)
        self.assertIn("nested this deeply", str(e.exception))

    def test_obj_decoding_refuses_damage(self):
        bad = [b"", b"nul", b"[1,", b"NaN", b"[Infinity]", b"\xff", b'"\xed\xa0\x80"',
               b'{"$float": "NAN"}', b'{"$float": 1}', b'{"$bytes": "***"}',
               b'{"$bytes": 5}', b'{"$tuple": {}}', b'{"$dict": [[1]]}', b'{"$dict": [1]}',
               b'{"$dict": [[[1], 2]]}', b'{"$unknown": 1}', b'{"a": 1, "a": 2}',
               b'[{"$set": [1]}]']
        for p in bad:
            with self.assertRaises(MflowCorrupt, msg=p) as e:
                codec.decode(9, p)
            self.assertIn("a stored obj value is damaged", str(e.exception))
        # whitespace and plain objects with a $ key among others are fine
        self.assertEqual(codec.decode(9, b' \n{"$a": 1, "b": 2}\t'), {"$a": 1, "b": 2})
        self.assertEqual(codec.decode(9, b"123456789012345678901234567890"),
                         123456789012345678901234567890)

    def test_list_decoding_refuses_damage(self):
        for t, p in [(1, b"\0" * 7), (2, b"\0" * 9), (5, b"\0" * 7),
                     (5, struct.pack("<Q", 2) + b"\0" * 8), (6, struct.pack("<Q", 1) + b"\0" * 9),
                     (5, struct.pack("<Q", 2**62) + b"\0" * 16),
                     (7, struct.pack("<Q", 1)), (7, struct.pack("<QQ", 1, 5) + b"abc"),
                     (7, struct.pack("<QQ", 1, 1) + b"ab"), (7, struct.pack("<Q", 2**63))]:
            with self.assertRaises(MflowCorrupt, msg=(t, p)):
                codec.decode(t, p)
        self.assertEqual(codec.decode(7, struct.pack("<Q", 0)), [])
        self.assertEqual(codec.decode(5, struct.pack("<Q", 0)), [])

    def test_headers(self):
        with self.assertRaises(MflowNewerFormat) as e:
            codec.decode_blob(b"MFV\x01\x0c\0\0\0xyz")
        self.assertIn("a newer type (12)", str(e.exception))
        with self.assertRaises(MflowNewerFormat) as e:
            codec.decode(200, b"")
        self.assertIn("newer type (200)", str(e.exception))
        with self.assertRaises(MflowNewerFormat) as e:
            codec.decode_blob(b"MFV\x02\x01\0\0\0" + b"\0" * 8)
        self.assertIn("format version 2", str(e.exception))
        for blob in [b"", b"MFV", b"XFV\x01\x01\0\0\0" + b"\0" * 8,
                     b"MFV\x00\x01\0\0\0" + b"\0" * 8, b"MFV\x01\x01\0\x01\0" + b"\0" * 8,
                     b"MFV\x01\x08\0\0\0" + b"\0" * 8, b"MFV\x01\x00\0\0\0"]:
            with self.assertRaises(MflowCorrupt, msg=blob):
                codec.decode_blob(blob)

    def test_unpicklable(self):
        import threading
        for v in [threading.Lock(), (x for x in [1]), [1, threading.Lock()]]:
            with self.assertRaises(MflowInvalid) as e:
                codec.encode(v)
            self.assertIn(f"cannot store a {type(v).__name__}: it is not portable",
                          str(e.exception))

    def test_pickle_of_a_class_instance(self):
        v = {"p": Point(1, [2, 3])}
        t, p = codec.encode(v)
        self.assertEqual(t, 10)
        self.assertEqual(codec.decode(t, p), v)
        self.assertEqual(pickle.loads(p), v)

    def test_numpy(self):
        if numpy is None:
            self.skipTest("numpy is not installed: the npy parts are not checked here")
        for a in [numpy.arange(6, dtype="<i8").reshape(2, 3), numpy.zeros(0, dtype="f4"),
                  numpy.array([1.5, numpy.nan]), numpy.asfortranarray(numpy.ones((3, 2))),
                  numpy.array(["ab", "c"]), numpy.array(7), numpy.arange(10)[::2],
                  numpy.zeros(2, dtype=[("x", "<i4"), ("y", "<f8")])]:
            t, p = codec.encode(a)
            self.assertEqual(t, 11, a)
            self.assertEqual(p[:6], b"\x93NUMPY")
            back = codec.decode(t, p)
            self.assertEqual(back.dtype, a.dtype)
            self.assertEqual(back.shape, a.shape)
            numpy.testing.assert_array_equal(back, a)
            self.assertTrue(codec.decode(t, bytearray(p)).flags.writeable)
        obj = numpy.array([1, "a", None], dtype=object)
        t, p = codec.encode(obj)
        self.assertEqual(t, 10, "object arrays are pickled")
        self.assertEqual(list(codec.decode(t, p)), [1, "a", None])
        self.assertEqual(codec.encode([numpy.zeros(2)])[0], 10, "an array inside a list")
        self.assertEqual(codec.encode(numpy.float64(1.5))[0], 10, "a numpy scalar")
        with self.assertRaises(MflowCorrupt):
            codec.decode(11, b"\x93NUMPY\x01\x00\x10\x00{'descr': '<f8',")   # header cut short

    def test_numpy_not_imported_for_plain_values(self):
        script = ("import sys; from mflow import codec; "
                  "[codec.decode(*codec.encode(v)) for v in (1, [1.5], {'a': (1,)}, {1})]; "
                  "print('numpy' in sys.modules)")
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                             env=dict(os.environ))
        self.assertEqual(out.stdout.strip(), "False", out.stderr)

    def test_npy_without_numpy(self):
        if numpy is not None:
            self.skipTest("numpy is installed: its absence is not checked here")
        with self.assertRaises(ImportError):
            codec.decode(11, b"\x93NUMPY\x01\x00\x10\x00{}")
        with self.assertRaises(MflowCorrupt):
            codec.decode(11, b"not numpy")


class TestAgainstC(unittest.TestCase):
    """A C flow writes values with the C codec; this codec reads their blobs. This codec writes
    values (obj, pickle, npy, and the C types); the C flow stores them with mf_set_value and
    `mflow get` reads them."""

    @classmethod
    def setUpClass(cls):
        import reader
        cls.reader = reader
        cls.mflow = os.environ.get("MFLOW_BIN")
        if not cls.mflow:
            raise unittest.SkipTest("MFLOW_BIN is not set (run through meson test)")
        work = os.environ.get("MFLOW_TEST_WORK") or tempfile.mkdtemp()
        cls.pydir = os.path.join(work, "pyvalues")
        os.makedirs(cls.pydir, exist_ok=True)
        cls.py_values = {
            "o_dict": {"a": (1, 2), "b": b"\x00\xff", 3: None, "n": math.inf},
            "o_big": -(10**30),
            "o_bool": True,
            "o_none": None,
            "o_tuples": [(1, "x"), (2, "y")],
            "o_empty": [],
            "p_set": {1, 2, 3},
            "p_point": Point(1, 2),
            "p_surrogate": "a\udc80",
            "c_i64": -7,
            "c_f64": -0.0,
            "c_str": "é",
            "c_bytes": b"\0\1",
            "c_i64v": [1, -2],
            "c_f64v": [0.5, math.nan],
            "c_strv": ["x", ""],
        }
        if numpy is not None:
            cls.py_values["a_f8"] = numpy.arange(6, dtype="<f8").reshape(2, 3)
        cls.py_encoded = {}
        for name, v in cls.py_values.items():
            t, p = codec.encode(v)
            cls.py_encoded[name] = (t, p)
            with open(os.path.join(cls.pydir, f"{name}.{t}"), "wb") as f:
                f.write(p)
        src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "flows", "roundtrip.c")
        runid = os.path.join(work, "runid")
        p = subprocess.run([cls.mflow, "run", src, f"--pydir={cls.pydir}", "--run-id-file",
                            runid], capture_output=True, text=True)
        if p.returncode != 0:
            raise AssertionError(f"mflow run failed: {p.stdout}{p.stderr}")
        cls.task = f"RoundTripFlow/{open(runid).read().strip()}/start/1"
        ds = os.path.join(os.environ["MFLOW_HOME"], "datastore")
        flow, run, step, task = cls.task.split("/")
        cls.record = reader.task_record(ds, flow, int(run), step, int(task))
        cls.ds = ds

    def blob(self, name):
        ref = self.record["artifacts"][name]
        return ref["type"], self.reader.read_blob(self.ds, ref["key"])

    def get(self, name, *opts):
        p = subprocess.run([self.mflow, "get", self.task, name, *opts], capture_output=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout

    def test_c_values_decode(self):
        want = {
            "i_zero": 0, "i_min": -2**63, "i_max": 2**63 - 1, "f_neg_zero": -0.0,
            "f_nan": math.nan, "f_inf": -math.inf, "f_sub": 5e-324, "f_tenth": 0.1,
            "s_empty": "", "s_utf8": "café 😀", "s_not_utf8": "ok\udcff\udcfe",
            "b_nul": b"\0a\0\xff", "b_empty": b"", "iv": [-2**63, -1, 0, 1, 2**63 - 1],
            "iv_empty": [], "fv": [1.5, math.nan, math.inf, -0.0, 1.7976931348623157e308],
            "sv": ["", "a", "é", "x\udcffy"], "sv_empty": [],
        }
        for name, v in want.items():
            t, enc = self.blob(name)
            got = codec.decode_blob(enc)
            self.assertTrue(same(got, v), f"{name} ({t}): {got!r}, want {v!r}")
            # and this codec writes the same bytes the C codec wrote (but for an empty list,
            # which Python stores as an obj, and strings that are not UTF-8)
            if name not in ("iv_empty", "sv_empty", "s_not_utf8", "sv"):
                self.assertEqual(codec.encode_blob(v), enc, name)

    def test_c_values_match_mflow_get_json(self):
        for name in ("i_min", "i_max", "f_tenth", "s_utf8", "iv", "sv_empty"):
            _, enc = self.blob(name)
            self.assertTrue(same(json.loads(self.get(name, "--json")), codec.decode_blob(enc)),
                            name)

    def test_python_values_read_by_mflow(self):
        for name, v in self.py_values.items():
            t, p = self.py_encoded[name]
            rt, enc = self.blob(name)
            self.assertEqual(rt, codec.TYPE_NAMES[t], name)
            self.assertEqual(enc, b"MFV\x01" + bytes([t, 0, 0, 0]) + p, name)
            back = codec.decode_blob(enc)
            if numpy is not None and isinstance(v, numpy.ndarray):
                numpy.testing.assert_array_equal(back, v)
            else:
                self.assertTrue(same(back, v), f"{name}: {back!r}")
            raw = self.get(name, "--raw") if t in (3, 4, 9, 10, 11) else None
            if raw is not None:
                self.assertEqual(raw, p, name)
            if t == 9:
                self.assertEqual(json.loads(self.get(name, "--json")), json.loads(p), name)
                self.assertEqual(self.get(name).decode(), p.decode() + "\n", name)
            elif t == 10:
                self.assertEqual(self.get(name).decode().strip(),
                                 f"<Python object, {len(p)} bytes: read it with the Python "
                                 "client>")
            elif t == 11:
                self.assertEqual(self.get(name).decode().strip(),
                                 f"<numpy array <f8 (2, 3), {len(p)} bytes: read it with the "
                                 "Python client>")
        # the C types from Python read by mflow as C values
        self.assertEqual(self.get("c_i64").decode(), "-7\n")
        self.assertEqual(self.get("c_f64", "--json").decode(), "-0.0\n")
        self.assertEqual(json.loads(self.get("c_f64v", "--json")), [0.5, "NaN"])
        self.assertEqual(json.loads(self.get("c_strv", "--json")), ["x", ""])
        self.assertEqual(json.loads(self.get("o_dict", "--json")),
                         {"a": {"$tuple": [1, 2]}, "b": {"$bytes": "AP8="},
                          "n": {"$float": "inf"}} if False else json.loads(
                             self.py_encoded["o_dict"][1]))
        self.assertEqual(self.get("o_big", "--json").decode(), "-1" + "0" * 30 + "\n")


if __name__ == "__main__":
    unittest.main()
