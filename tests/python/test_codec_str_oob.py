"""A large str inside a pickled value goes out of band in the container: written from the str
a piece at a time, named at the pickle's start, and loaded as builtins.str(buffer, "utf-8",
"surrogatepass"), so that a reader of containers that knows nothing of it (DATASTORE.md
section 4's rules alone) still gets the value; mflow's reader takes the str it made."""
import io
import pickle
import struct
import unittest

from mflow import codec

MIB = 1 << 20


class Holder:
    def __init__(self, text, label):
        self.text, self.label = text, label

    def __eq__(self, o):
        return type(o) is Holder and (self.text, self.label) == (o.text, o.label)


class SpecReader(pickle.Unpickler):
    """A container reader written from the document alone (no find_class of its own)."""

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.seen = []

    def persistent_load(self, pid):
        if type(pid) is int:
            return self.seen[pid]
        self.seen.append(pid)
        return pid


def parts(p):
    mv = memoryview(p)
    n, L = codec.container_table(mv[:codec.CONTAINER_HEAD], len(mv))
    off = codec.CONTAINER_HEAD + 9 * n
    spec = codec.container_buffers(mv[codec.CONTAINER_HEAD:off], n, len(mv) - off - L)
    stream, off = mv[off:off + L], off + L
    bufs = []
    for size, kind in spec:
        piece = mv[off:off + size]
        bufs.append(bytes(piece) if kind == codec.KIND_BYTES else bytearray(piece))
        off += size
    return stream, bufs, spec


def values():
    s = "ab\u00e9\u20ac\U0001f600" * (MIB // 4)
    return [
        (Holder("h\u00e9llo " * (MIB // 4), "doc"), [0]),
        (Holder("abc" * MIB, "x"), [0]),
        ({"s": "a\ud800b" * MIB, "t": frozenset({1})}, [0]),      # a lone surrogate
        ("x\udcff" * MIB, [0]),                                    # a str pickled itself
        ([(s, s), {1}], [0]),                                      # one str twice: one buffer
        ({"b": b"z" * MIB, "a": "q" * MIB, "set": {1}}, [1]),      # beside a bytes buffer
        ({"a": "q" * (codec.STR_OOB_MIN - 1), "b": b"z" * MIB, "s": {2}}, []),   # under: in band
    ]


class StrOutOfBand(unittest.TestCase):
    def test_written_and_read(self):
        for v, want in values():
            ty, n, feed = codec.pickle_stream(v)
            p = codec._gather(feed)
            self.assertEqual((ty, len(p)), (codec.PICKLE, n))
            self.assertTrue(p.startswith(codec.PREAMBLE))
            stream, bufs, spec = parts(p)
            self.assertEqual(sorted(codec.str_buffers(stream)), want)
            for i in want:
                self.assertEqual(spec[i][1], codec.KIND_WRITABLE)
            # (comparisons, not assertEqual: its diff of megabytes would take minutes)
            self.assertTrue(codec.decode(ty, p) == v, "mflow reads it back differently")
            # a reader that knows only the document's rules gets the same value
            self.assertTrue(SpecReader(io.BytesIO(stream), buffers=bufs).load() == v,
                            "a reader of the document's rules reads it differently")

    def test_made_str_taken_as_it_is(self):
        v = Holder("abc\u20ac" * MIB, "t")
        p = codec._gather(codec.pickle_stream(v)[2])
        stream, bufs, _ = parts(p)
        made = "made here" * 3
        bufs[0] = codec.StrMade(made)
        self.assertEqual(codec.unpickle(stream, bufs).text, made)

    def test_str_from_a_mapping_any_cut(self):
        # a lone surrogate's three bytes (and a 4-byte character) across each piece's end
        import ctypes
        import mmap
        from mflow._text import str_from_map
        for shift in range(5):
            v = "x" * shift + "a\ud800\U0001f600b" * (MIB // 4)
            b = v.encode("utf-8", "surrogatepass")
            m = mmap.mmap(-1, len(b))
            c = ctypes.c_char.from_buffer(m)
            base = ctypes.addressof(c)
            ctypes.memmove(base, b, len(b))
            self.assertTrue(str_from_map(m, base, len(b)) == v, "shift %d" % shift)
            del c
            m.close()

    def test_note_is_checked(self):
        self.assertEqual(codec.str_buffers(b"\x80\x05X\x03\x00\x00\x00abc0"), set())
        note = codec.STR_BUFFERS.encode() + b"1,x"
        self.assertEqual(codec.str_buffers(b"\x80\x05X" + struct.pack("<I", len(note)) + note +
                                           b"0"), set())
        note = codec.STR_BUFFERS.encode() + b"0,2"
        self.assertEqual(codec.str_buffers(b"\x80\x05X" + struct.pack("<I", len(note)) + note +
                                           b"0"), {0, 2})
        self.assertEqual(codec.str_buffers(pickle.dumps("x" * 100, 5)), set())


if __name__ == "__main__":
    unittest.main()
