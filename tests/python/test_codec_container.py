"""sdk/python/mflow/codec.py: pickles whose large buffers go out of band (the container of
sdk/DATASTORE.md section 4): which values become one, exact round trips with each buffer in
an object of its own, the same bytes however the pickle was written, old plain pickles still
read, a reader that does not know the container told to upgrade, damage refused."""
import ctypes
import fractions
import os
import pickle
import struct
import unittest

from mflow import codec, MflowCorrupt

try:
    import numpy
except ImportError:
    numpy = None

MIB = 1 << 20

# Written by mflow before the container (protocol 4): {'blob': bytes(range(40)),
# 'ratio': Fraction(3, 7), 'tags': frozenset({'a'})}
OLD_PICKLE = bytes.fromhex(
    "8004956e000000000000007d94288c04626c6f62944328000102030405060708090a0b0c0d0e0f10111213"
    "1415161718191a1b1c1d1e1f2021222324252627948c05726174696f948c096672616374696f6e73948c08"
    "4672616374696f6e9493944b034b07869452948c047461677394288c0161949194752e")


def gathered(feed):
    out = []

    def write(p):
        if type(p) is tuple:
            addr, n, _owner = p
            out.append(ctypes.string_at(addr, n))
        else:
            out.append(bytes(p))
    feed(write)
    return b"".join(out)


def table(payload):
    """(buffer lengths, kinds, pickle length) of a container."""
    n, L = struct.unpack_from("<QQ", payload, len(codec.PREAMBLE))
    lens = struct.unpack_from("<%dQ" % n, payload, codec.CONTAINER_HEAD)
    kinds = payload[codec.CONTAINER_HEAD + 8 * n:codec.CONTAINER_HEAD + 9 * n]
    return list(lens), list(kinds), L


class TestContainer(unittest.TestCase):
    def store(self, v):
        """The payload as prepare() writes it in pieces; checked equal to encode()'s."""
        ty, n, feed = codec.prepare(v)
        self.assertEqual(ty, codec.PICKLE)
        self.assertIsNotNone(feed, "%s was not written in pieces" % type(v).__name__)
        got = gathered(feed)
        self.assertEqual(len(got), n)
        self.assertEqual(codec.encode(v), (codec.PICKLE, got))
        self.assertTrue(got.startswith(codec.PREAMBLE), "a container")
        return got

    def test_bytes_heavy_values(self):
        a, b = os.urandom(MIB), os.urandom(3 * MIB + 1)
        cases = [
            # a dict of large bytes beside a part that is not portable
            ({"a": a, "b": b, "s": {1, 2}}, [MIB, 3 * MIB + 1], [0, 0]),
            # one buffer an object, however often the value holds it
            ({"a": a, "b": b, "s": frozenset({1}), "again": b}, [MIB, 3 * MIB + 1], [0, 0]),
            (bytearray(b), [3 * MIB + 1], [1]),
            (memoryview(bytearray(b)), [3 * MIB + 1], [0]),             # back as bytes
            ([bytearray(a), 7, (b, "x")], [MIB, 3 * MIB + 1], [1, 0]),
        ]
        for v, lens, kinds in cases:
            p = self.store(v)
            self.assertEqual(table(p)[:2], (lens, kinds), type(v).__name__)
            back = codec.decode(codec.PICKLE, p)
            want = bytes(v) if type(v) is memoryview else v
            self.assertEqual(type(back), type(want))
            self.assertTrue(back == want, "%s read back equal" % type(v).__name__)
            if type(v) is dict and "again" in v:
                self.assertIs(back["b"], back["again"], "one object, as pickled")

    def test_buffers_from_16_kib_go_out_of_band(self):
        # read back each into memory of its own (bench_python_limits.sh's oob_bytes rows)
        k = codec.OOB_MIN
        self.assertEqual(k, 16 << 10)
        v = {"l": [os.urandom(k) for _ in range(70)], "u": [os.urandom(k - 1)] * 3, "s": {1}}
        p = self.store(v)
        self.assertEqual(table(p)[0], [k] * 70, "the buffers under OOB_MIN stay in band")
        self.assertEqual(codec.decode(codec.PICKLE, p), v)

    def test_small_values_stay_plain(self):
        # buffers out of band, but under STREAM_MIB in all: a plain pickle, buffers in it
        for v in ({"a": os.urandom(100 << 10), "s": {1}}, bytearray(200 << 10), {1, 2},
                  [b"x" * (MIB // 2 - 100), {3}]):
            ty, p = codec.encode(v)
            self.assertEqual(ty, codec.PICKLE)
            self.assertEqual(bytes(p[:2]), b"\x80\x05")
            self.assertEqual(pickle.loads(p), v, "plain: pickle alone reads it")

    def test_portable_values_stay_obj_however_large(self):
        # C flows and other languages read them: the bytes base64'd into the JSON
        a, b = os.urandom(MIB), os.urandom(3 * MIB + 1)
        for v in ({"a": a, "b": b}, [a, (b, "x")], {"k": [a], "n": None}):
            ty, p = codec.encode(v)
            self.assertEqual(ty, codec.OBJ, type(v).__name__)
            self.assertEqual(codec.decode(ty, p), v)

    def test_old_pickles_still_read(self):
        v = codec.decode(codec.PICKLE, OLD_PICKLE)
        self.assertEqual(v, {"blob": bytes(range(40)), "ratio": fractions.Fraction(3, 7),
                             "tags": frozenset({"a"})})
        big = pickle.dumps({"s": set(range(300000)), "b": bytes(2 * MIB)}, 4)
        self.assertEqual(codec.decode(codec.PICKLE, big)["b"], bytes(2 * MIB))

    def test_a_reader_without_the_container_is_told_to_upgrade(self):
        p = self.store({"a": os.urandom(2 * MIB), "s": {1}})
        with self.assertRaises(ValueError) as e:
            pickle.loads(p)
        self.assertIn("upgrade mflow", str(e.exception))

    def test_pickled_twice_gives_the_same_bytes(self):
        v = {"a": os.urandom(2 * MIB), "big": set(range(200000)), "ba": bytearray(MIB)}
        once = self.store(v)
        old = codec.SPOOL_MAX
        codec.SPOOL_MAX = 4096          # the pickle counted first, then written
        try:
            twice = self.store(v)
        finally:
            codec.SPOOL_MAX = old
        self.assertEqual(once, twice)
        self.assertEqual(codec.decode(codec.PICKLE, twice), v)

    def test_plain_pickle_past_spool_max(self):
        # the whole path of every value (STREAM_MIN over SPOOL_MAX: MFLOW_PY_PIECES_MIN=off)
        # pickles a value with large buffers plain; past SPOOL_MAX it is pickled again, plain
        # too (it was once pickled the second time with its buffers out of band: no container
        # to hold them, a pickle that does not load, of another length than said)
        v = {"a": os.urandom(MIB), "s": frozenset({1})}
        saved = codec.STREAM_MIN, codec.SPOOL_MAX
        codec.STREAM_MIN, codec.SPOOL_MAX = 1 << 62, 4096
        try:
            ty, n, feed = codec.pickle_stream(v)
            got = gathered(feed)
            whole = codec.encode(v)
        finally:
            codec.STREAM_MIN, codec.SPOOL_MAX = saved
        self.assertEqual(len(got), n)
        self.assertEqual(whole, (codec.PICKLE, got))
        self.assertEqual(pickle.loads(got), v, "plain: pickle alone reads it")

    def test_damage_is_refused(self):
        p = self.store({"a": os.urandom(2 * MIB), "s": {1}})
        h = codec.CONTAINER_HEAD
        lens, _, L = table(p)
        n_at, l_at = len(codec.PREAMBLE), len(codec.PREAMBLE) + 8
        bad = {
            "cut": p[:-1],
            "short head": p[:h - 1],
            "no buffers": p[:n_at] + struct.pack("<Q", 0) + p[n_at + 8:],
            "huge count": p[:n_at] + struct.pack("<Q", 1 << 60) + p[n_at + 8:],
            "huge pickle": p[:l_at] + struct.pack("<Q", len(p)) + p[l_at + 8:],
            "lengths": p[:h] + struct.pack("<Q", lens[0] - 1) + p[h + 8:],
            "kind": p[:h + 8] + b"\x07" + p[h + 9:],
            "pickle": p[:h + 9] + b"\xff" * L + p[h + 9 + L:],
        }
        for why, q in bad.items():
            with self.assertRaises(MflowCorrupt, msg=why):
                codec.decode(codec.PICKLE, q)

    @unittest.skipIf(numpy is None, "numpy is not installed")
    def test_arrays_in_objects(self):
        a = numpy.arange(MIB // 4, dtype=numpy.float64)
        ro = numpy.arange(MIB // 2, dtype=numpy.int32)
        ro.flags.writeable = False
        v = {"list": [a, numpy.asfortranarray(a.reshape(512, -1)), "x"], "ro": ro,
             "obj": fractions.Fraction(1, 3)}
        p = self.store(v)
        self.assertEqual(table(p)[:2], ([a.nbytes, a.nbytes, ro.nbytes], [1, 1, 0]))
        back = codec.decode(codec.PICKLE, p)
        self.assertTrue((back["list"][0] == a).all())
        self.assertTrue(back["list"][0].flags.writeable, "a writable array stays writable")
        self.assertTrue(back["list"][1].flags.f_contiguous)
        self.assertTrue((back["list"][1] == a.reshape(512, -1)).all())
        self.assertFalse(back["ro"].flags.writeable, "a read-only array stays read-only")
        self.assertTrue((back["ro"] == ro).all())
        # an array of objects: in the pickle (no buffer out of band)
        obj = numpy.array([None, "x"] * MIB, dtype=object)
        ty, p = codec.encode(obj)
        self.assertFalse(bytes(p[:len(codec.PREAMBLE)]) == codec.PREAMBLE)


if __name__ == "__main__":
    unittest.main()
