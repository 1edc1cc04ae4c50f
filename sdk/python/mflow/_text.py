"""A large str read back without a second copy of it whole (CPython).

Its UTF-8 is read into an anonymous mapping; the str is then made at its final size
(PyUnicode_New, as CPython's own decoder does) and filled a piece at a time, each piece of the
mapping let go (MADV_DONTNEED) once it is in the str. The peak is about the larger of the
UTF-8 and the str, plus a piece, where str(utf8) holds both whole. What it costs: text that
is all ASCII is checked, then copied; any other text is decoded twice (once to learn the
str's width, once to fill it), about 3x the CPU of one decode. Where the str's layout is not
what this expects (another Python), the text is decoded whole instead."""
import codecs
import contextlib
import ctypes
import mmap
import sys

from .codec import PIECE
_WIDTHS = ((127, 1, None), (255, 1, "latin-1"), (0xFFFF, 2, "utf-16-le"),
           (0x10FFFF, 4, "utf-32-le"))
_layout = []


def _offsets():
    """(header of an ASCII str, header of any other) of CPython's compact strs, checked on
    strs of each width; None when they do not read back."""
    if not _layout:
        got = None
        try:
            new = ctypes.pythonapi.PyUnicode_New
            new.restype = ctypes.py_object
            new.argtypes = [ctypes.c_ssize_t, ctypes.c_uint32]
            a, c = sys.getsizeof("") - 1, sys.getsizeof("\xe9") - 2
            ok = True
            for text, enc, hdr, width in (("abc", "latin-1", a, 1), ("\xe9bc", "latin-1", c, 1),
                                          ("\u20acb", "utf-16-le", c, 2),
                                          ("\U0001f600b", "utf-32-le", c, 4)):
                fresh = text[:1] + text[1:]        # made here, not a constant
                ok = ok and ctypes.string_at(id(fresh) + hdr, len(fresh) * width) == \
                    fresh.encode(enc)
            got = (a, c, new) if ok else None
        except Exception:
            got = None
        _layout.append(got)
    return _layout[0]


def _band(d):
    """Which of _WIDTHS a decoded piece needs."""
    if d.isascii():
        return 0
    try:
        d.encode("latin-1")
        return 1
    except UnicodeEncodeError:
        pass
    return 2 if len(d.encode("utf-16-le", "surrogatepass")) == 2 * len(d) else 3


@contextlib.contextmanager
def filled_map(n, fill):
    """(m, base): an anonymous mapping m of n bytes at address base that fill(base) wrote;
    closed when the block ends (fill raises when the read fails)."""
    m = mmap.mmap(-1, n)
    try:
        c = ctypes.c_char.from_buffer(m)
        try:
            base = ctypes.addressof(c)
            fill(base)
            yield m, base
        finally:
            del c               # the mapping cannot close while this export of it lives
    finally:
        m.close()


def read_str(n, fill):
    """The str whose UTF-8 (bytes that are not UTF-8 decoded with surrogateescape) is the n
    bytes fill(address) writes at address. fill raises when the read fails."""
    with filled_map(n, fill) as (m, base):
        layout = _offsets()
        if layout is None:
            return str(memoryview(m), "utf-8", "surrogateescape")
        return _build(m, base, n, layout)


def str_from_map(m, base, n):
    """The str whose UTF-8 (lone surrogates in it as UTF-8 encodes them: surrogatepass, how
    a pickle's str buffer is written) is the n bytes at base, the start of mapping m, which
    it lets go of as it goes."""
    layout = _offsets()
    if layout is None:
        with memoryview(m) as mv:
            return str(mv[:n], "utf-8", "surrogatepass")
    return _build(m, base, n, layout, "surrogatepass")


def _build(m, base, n, layout, errors="surrogateescape"):
    ascii_hdr, hdr, new = layout
    # pass 1: the number of characters and the widest one
    band, chars = 0, 0
    if all(m[off:off + PIECE].isascii() for off in range(0, n, PIECE)):
        chars = n
    else:
        dec = codecs.getincrementaldecoder("utf-8")(errors)
        for off in range(0, n, PIECE):
            d = dec.decode(m[off:off + PIECE], off + PIECE >= n)
            chars += len(d)
            if band < 3 and d:
                band = max(band, _band(d))
    maxchar, width, enc = _WIDTHS[band]
    s = new(chars, maxchar)
    data = id(s) + (ascii_hdr if band == 0 else hdr)
    page = mmap.PAGESIZE
    dropped = 0

    def let_go(upto):
        nonlocal dropped
        upto -= upto % page
        if upto > dropped:
            m.madvise(mmap.MADV_DONTNEED, dropped, upto - dropped)
            dropped = upto

    # pass 2: the str filled a piece at a time, the UTF-8 let go behind it
    if band == 0:
        for off in range(0, n, PIECE):
            k = min(PIECE, n - off)
            ctypes.memmove(data + off, base + off, k)
            let_go(off + k)
        return s
    dec = codecs.getincrementaldecoder("utf-8")(errors)
    at = 0
    for off in range(0, n, PIECE):
        d = dec.decode(m[off:off + PIECE], off + PIECE >= n)
        b = d.encode(enc, "surrogatepass")
        if at + len(d) > chars or len(b) != len(d) * width:
            raise ValueError("a str read back changed between its passes")
        ctypes.memmove(data + at * width, b, len(b))
        at += len(d)
        let_go(off + PIECE if off + PIECE < n else n)
    if at != chars:
        raise ValueError("a str read back changed between its passes")
    return s


def piece_width(d):
    """(band of _WIDTHS, width) of a str: its own layout, read off its size (CPython)."""
    if d.isascii():
        return 0, 1
    w = (sys.getsizeof(d) - sys.getsizeof("\xe9") + 2) // (len(d) + 1)
    return (1 if w == 1 else 2 if w == 2 else 3), w


def fill_str(chars, band, pieces, let_go):
    """A str of chars characters, the widest of them in band (of _WIDTHS), made at its final
    size and filled from the str pieces that pieces() yields, let_go(i) called once piece i
    is in it (a piece as wide as the str copied from its own memory, a narrower one widened
    first); None where the str's layout is not what this expects. ValueError when the pieces
    do not add up to chars characters of that band."""
    layout = _offsets()
    if layout is None:
        return None
    ascii_hdr, hdr, new = layout
    width = piece_width
    maxchar, wide, enc = _WIDTHS[band]
    s = new(chars, maxchar)
    data = id(s) + (ascii_hdr if band == 0 else hdr)
    at = 0
    for i, d in enumerate(pieces()):
        if at + len(d) > chars:
            raise ValueError("a str read back changed between its passes")
        if d:
            b, w = width(d)
            if b > band:
                raise ValueError("a str read back changed between its passes")
            if w == wide:
                ctypes.memmove(data + at * wide, id(d) + (ascii_hdr if b == 0 else hdr),
                               len(d) * wide)
            else:
                e = d.encode(enc, "surrogatepass")
                ctypes.memmove(data + at * wide, e, len(e))
        at += len(d)
        let_go(i)
    if at != chars:
        raise ValueError("a str read back changed between its passes")
    return s
