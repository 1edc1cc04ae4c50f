"""A portable value with large members (obj) in pieces: what prepare() hands to libmflow a
piece at a time is byte for byte encode()'s payload (nested, escapes, non-ASCII, empty, at the
thresholds; a lone surrogate is pickled as before), and _objread reads such text back into the
same value, large members made in place (not read whole), damage named as such."""
import ctypes
import json
import random
import unittest

from mflow import codec, _objread, MflowCorrupt

B = codec.BIG_MEMBER
BB = codec.BYTES_MEMBER
U = "a\"\\\n\x00\x1f\x7f\u00e9\u2028\u20ac\U0001f600/ "


def gathered(feed):
    out = []

    def write(p):
        out.append(ctypes.string_at(p[0], p[1]) if type(p) is tuple else bytes(p))
    feed(write)
    return b"".join(out)


def shapes():
    r = random.Random(5)
    return [
        {"w": r.randbytes(2 << 20), "n": "x", "s": [3, 4]},
        [r.randbytes(B), U * (B // 4), (1, r.randbytes(B + 1), "z" * (B + 2), None)],
        {"$k": "z" * (4 * B)}, {1: "y" * (4 * B), (1, 2): r.randbytes(4 * B)},
        {"e": "", "f": b"", "g": [r.randbytes(3 * B), U * B]},
        {"l": ["q" * (B - 1)] * 20}, [r.randbytes(BB - 1)] * 70,  # just under: whole members
        {"l": ["q" * B] * 17}, [r.randbytes(BB)] * 65,             # at: members, 1 MiB and more
        {"l": ["\U0001f600" * (B // 4 + 1)] * 20}, [[[[["\\" * (3 * B)]]]]],
        {"text": "\"" * (3 * B), "x": 1.5, "inf": float("inf")},
    ]


class Write(unittest.TestCase):
    def test_pieces_are_encode_payload(self):
        # the shapes' members add up to 1 MiB and more: in pieces from there
        old = codec.TEXT_MIN
        codec.TEXT_MIN = 1 << 20
        self.addCleanup(setattr, codec, "TEXT_MIN", old)
        streamed = 0
        for v in shapes():
            t, p = codec.encode(v)
            self.assertEqual(t, codec.OBJ)
            ty, n, feed = codec.prepare(v)
            self.assertEqual(ty, codec.OBJ)
            if feed is None:
                self.assertEqual(n, p)
                continue
            streamed += 1
            self.assertEqual(n, len(p))
            # (a comparison, not assertEqual: its diff of megabytes would take minutes)
            self.assertTrue(gathered(feed) == p, "the pieces differ from encode()'s payload")
        self.assertGreaterEqual(streamed, 4)

    def test_every_shape_in_pieces(self):
        # members of any total written in pieces: the same bytes again
        old = codec.TEXT_MIN
        codec.TEXT_MIN = 1
        self.addCleanup(setattr, codec, "TEXT_MIN", old)
        streamed = 0
        for v in shapes():
            t, p = codec.encode(v)
            ty, n, feed = codec.prepare(v)
            if feed is not None:
                streamed += 1
                self.assertEqual((ty, n), (t, len(p)))
                self.assertTrue(gathered(feed) == p, "the pieces differ from encode()'s payload")
        self.assertEqual(streamed, 9)      # all but the three without a member

    def test_bytes_members_from_16_kib(self):
        # written in pieces (a quarter of the whole path's CPU): bench_python_limits.sh
        old = codec.TEXT_MIN
        codec.TEXT_MIN = 1
        self.addCleanup(setattr, codec, "TEXT_MIN", old)
        r = random.Random(9)
        v = {"l": [r.randbytes(16 << 10) for _ in range(3)], "s": "q" * ((16 << 10) + 1)}
        ty, n, feed = codec.prepare(v)
        self.assertIsNotNone(feed, "16 KiB bytes members in pieces")
        self.assertTrue(gathered(feed) == codec.encode(v)[1])
        ty, p, feed = codec.prepare({"s": "q" * (B - 1)})
        self.assertIsNone(feed, "a str member under 64 KiB whole")

    def test_small_values_stay_whole(self):
        # (members of 4 MiB in all stay whole under TEXT_MIN: the whole read is faster and
        # peaks lower there, bench_python_limits.sh's stream_obj rows)
        for v in ({"a": 1}, [b"x" * 100, "y"], {"w": b"z" * (B - 1)},
                  {"l": ["q" * B] * (codec.TEXT_MIN // B - 1)}, {"l": ["q" * B] * 32}):
            ty, p, feed = codec.prepare(v)
            self.assertIsNone(feed)
            self.assertEqual((ty, p), codec.encode(v))

    def test_lone_surrogate_in_a_large_str_is_pickled(self):
        v = {"s": "a\ud800" * B * 8}
        ty, n, feed = codec.prepare(v)
        self.assertEqual(ty, codec.PICKLE)
        self.assertEqual(codec.decode(ty, gathered(feed) if feed else n), v)


def read(text):
    return _objread.read_obj(len(text), lambda a: ctypes.memmove(a, text, len(text)))


class Read(unittest.TestCase):
    def setUp(self):
        self.whole = []
        orig = _objread._read

        def spy(m, base, n):
            r = orig(m, base, n)
            self.whole.append(r is None)
            return r
        _objread._read = spy
        self.addCleanup(setattr, _objread, "_read", orig)

    def test_values_read_back_members_in_place(self):
        for v in shapes():
            t, p = codec.encode(v)
            got = read(p)
            self.assertTrue(got == v, "read back differently")
            self.assertEqual(type(got), type(v))
        # every shape with a member of 2 windows or more was read with its members in place
        self.assertGreaterEqual(sum(1 for w in self.whole if not w), 8)

    def test_members_at_the_threshold_are_found(self):
        # a member of BIG_MEMBER and more is written in pieces: it is read in place too (a
        # whole window lies in its text wherever it starts)
        r = random.Random(7)
        for v in ({"l": ["q" * B] * 17}, [r.randbytes(B)] * 17, [r.randbytes(BB)] * 17,
                  {"l": [U * (B // len(U) + 1)] * 17}, {"l": ["k" * (B + B // 2)] * 17}):
            p = codec.encode(v)[1]
            self.assertEqual(len(_objread._strings(p, len(p))), 17, repr(v)[:20])
        # a str under BIG_MEMBER (longer than a bytes member's text) is parsed with the rest
        p = codec.encode({"l": ["q" * (B - 1)] * 17})[1]
        self.assertEqual(_objread._strings(p, len(p)), [])

    def test_hand_made_text(self):
        big = "\U0001f600\u00e9" * B
        b64 = codec.base64.b64encode(b"q" * (3 * B)).decode()
        for text in ['{ "a" : "%s" , "b" : { "$bytes" : "%s" } }' % (json.dumps(big)[1:-1], b64),
                     '{"a":"%s","b":{"$bytes":"%s"}}' % (json.dumps(big, ensure_ascii=True)[1:-1],
                                                        b64.replace("/", "\\/")),
                     '["%s", {"%s": 1}]' % ("k" * (3 * B), "k" * (3 * B))]:
            t = text.encode()
            self.assertEqual(read(t), codec.decode(codec.OBJ, t))

    def test_a_gap_between_strings_is_not_a_string(self):
        t = ('["a",%s"b"]' % (" " * (4 * B))).encode()
        self.assertEqual(read(t), ["a", "b"])
        self.assertEqual(self.whole, [True])      # read whole: the guess did not parse

    def test_damage(self):
        for bad, why in [(b'{"a":{"$bytes":"' + b"A" * (4 * B) + b'*AAA"}}', "base64"),
                         (b'["' + b"a" * (3 * B) + b'\xff"]', "UTF-8"),
                         (b'["' + b"a" * (3 * B) + b'\x01"]', "JSON"),
                         (b'["' + b"a" * (3 * B) + b'\\x"]', "JSON")]:
            with self.assertRaises(MflowCorrupt) as e:
                read(bad)
            self.assertIn(why, str(e.exception))


if __name__ == "__main__":
    unittest.main()
