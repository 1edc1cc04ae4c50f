"""sdk/python/mflow/codec.py in pieces: what stream(), pickle_stream() and prepare() hand to
libmflow a piece at a time is byte for byte the payload encode() gives (so a value has one
key however it was written), for every kind that is written in pieces; and what is left
whole is left whole."""
import ctypes
import pickle
import unittest

from mflow import codec, MflowInvalid

try:
    import numpy
except ImportError:
    numpy = None

MIB = 1 << 20


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


class TestPieces(unittest.TestCase):
    def check(self, v, want_type):
        ty, n, feed = codec.prepare(v)
        self.assertIsNotNone(feed, "%s was not written in pieces" % type(v).__name__)
        self.assertEqual(ty, want_type)
        got = gathered(feed)
        self.assertEqual(len(got), n)
        t0, p0 = codec.encode(v)
        self.assertEqual(ty, t0)
        self.assertEqual(got, bytes(p0))
        back = codec.decode(ty, got)
        return back

    def test_str(self):
        t = codec.TEXT_MIN
        for v in ("abcdefgh" * (t // 8 + 3), "h\u00e9llo \u20ac\U0001f600" * (t // 5),
                  "x" * (3 * t + 1)):
            self.assertEqual(self.check(v, codec.STR), v)
        # under TEXT_MIN a str is whole: its pieces read slower and peak higher there
        for v in ("x" * (t - 1), "\u00e9" * (t // 2 - 1), "y" * (2 * MIB)):
            self.assertIsNone(codec.stream(v))

    def test_large_bytes_in_one_piece(self):
        for v in (b"y" * (3 * MIB), bytes(MIB)):
            ty, n, feed = codec.prepare(v)
            pieces = []
            feed(pieces.append)
            self.assertEqual((ty, n), (codec.BYTES, len(v)))
            self.assertEqual(len(pieces), 1)
            self.assertIs(pieces[0], v, "handed over as it is, uncopied")

    def test_str_with_a_lone_surrogate_is_pickled(self):
        v = "ab\udc80" * MIB
        self.assertEqual(self.check(v, codec.PICKLE), v)

    def test_bytearray_and_memoryview(self):
        for n in (MIB, 3 * MIB + 7):
            ba = bytearray(range(256)) * (n // 256) + b"x" * (n % 256)
            self.assertEqual(self.check(ba, codec.PICKLE), ba)
            self.assertEqual(self.check(memoryview(ba), codec.PICKLE), bytes(ba))
            ro = memoryview(bytes(ba))       # read-only: copied a piece at a time
            self.assertEqual(self.check(ro, codec.PICKLE), bytes(ba))
            # a 2-D view is its bytes in C order
            mv2 = memoryview(ba[:MIB]).cast("B", (1024, 1024))
            self.assertEqual(self.check(mv2, codec.PICKLE), bytes(ba[:MIB]))

    def test_pickles_spooled_and_twice(self):
        big = {"blob": bytes(2 * MIB), "s": frozenset({1})}
        self.assertEqual(self.check(big, codec.PICKLE), big)
        old = codec.SPOOL_MAX
        codec.SPOOL_MAX = 4096              # past it: counted, then pickled again
        try:
            v = set(range(MIB // 4))
            self.assertEqual(self.check(v, codec.PICKLE), v)
        finally:
            codec.SPOOL_MAX = old

    def test_small_values_stay_whole(self):
        for v in ("x" * 1000, bytearray(10), memoryview(b"abc"), {1, 2}, b"y" * (MIB - 1),
                  list(range(MIB))):
            ty, payload, feed = codec.prepare(v)
            self.assertIsNone(feed, type(v).__name__)
            self.assertEqual((ty, bytes(payload)), tuple(map(lambda x: x if type(x) is int
                                                              else bytes(x), codec.encode(v))))

    def test_refused_value(self):
        import threading
        with self.assertRaises(MflowInvalid):
            codec.prepare({"lock": threading.Lock(), "x": {1}})

    @unittest.skipIf(numpy is None, "numpy is not installed")
    def test_arrays(self):
        a = numpy.arange(MIB // 4, dtype=numpy.float64)
        for v in (a, a.reshape(-1, 8).T, a[::3], a.astype(">i4"), a.reshape(256, -1)[:, 5:],
                  numpy.zeros((0, MIB), dtype=numpy.int8), numpy.ones(MIB, dtype=bool)):
            if v.nbytes < codec.STREAM_MIN:
                continue
            back = self.check(v, codec.NPY)
            self.assertEqual(back.dtype, v.dtype)
            self.assertEqual(back.shape, v.shape)
            self.assertTrue((back == v).all())
        obj = numpy.array([None, "x"] * MIB, dtype=object)
        back = self.check(obj, codec.PICKLE)
        self.assertTrue((back == obj).all())


if __name__ == "__main__":
    unittest.main()
