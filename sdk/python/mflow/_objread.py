"""A large obj value read back without a second copy of its large members (CPython).

Its JSON text is read into an anonymous mapping. The large strings in it (a str's text of
BIG_MEMBER bytes and more, a bytes member's base64 of BYTES_MEMBER bytes and more) are found
without parsing the text in Python: a window (about 10 KiB) with no unescaped quote lies inside a string (or in a long run of whitespace between two strings, which the parse below refuses),
and the string runs from the unescaped quote before such windows to the one after. Each one is
made straight into its final object a piece at a time (the base64 of a {"$bytes": ...} tag
into a bytes object, any other string into a str made at its final size), its text let go
(MADV_DONTNEED) behind it; the text left, with a small tag in each one's place, is parsed by
json with codec's tags. Where a string is not found so, it is parsed with the rest; where the
text left does not parse with the tags in place, the value is read whole (codec.decode)."""
import binascii
import ctypes
import json
import mmap
import os
import re
from json.decoder import scanstring

from . import codec
from ._text import fill_str, filled_map, piece_width

# half the least member's text written in pieces: the text of every such member holds a whole
# window, so each is found (at 64 KiB, a str member of 64 KiB to 128 KiB mostly was not, and
# was parsed with the rest: 1.6x its size read, bench_python_limits.sh's window rows)
_B64_LEAST = (codec.BYTES_MEMBER + 2) // 3 * 4    # the text of the least bytes member
WINDOW = min(codec.BIG_MEMBER, _B64_LEAST) // 2
_BYTES_BEFORE = re.compile(rb'\{[ \t\n\r]*"\$bytes"[ \t\n\r]*:[ \t\n\r]*\Z')
_CLOSE_AFTER = re.compile(rb'\A[ \t\n\r]*\}')
_KEY_AFTER = re.compile(rb'\A[ \t\n\r]*:')
_B64 = re.compile(rb'[A-Za-z0-9+/]*')
_B64_LAST = re.compile(rb'[A-Za-z0-9+/]*={0,2}')
_CONT = bytes(range(0x80, 0xC0))              # UTF-8's continuation bytes
_UNDER_C4 = bytes(range(0xC4))                 # bytes that start no character past U+00FF
_UNDER_F0 = bytes(range(0xF0))                 # bytes that start no character past U+FFFF
_LOW_ESC = re.compile(rb'\\u[dD][c-fC-F][0-9a-fA-F]{2}')
_new_bytes = ctypes.pythonapi.PyBytes_FromStringAndSize
_new_bytes.restype = ctypes.py_object
_new_bytes.argtypes = [ctypes.c_void_p, ctypes.c_ssize_t]


def _escaped(m, j):
    """1 when the quote at j is escaped (an odd run of backslashes before it)."""
    k = j
    while k > 0 and m[k - 1] == 0x5c:
        k -= 1
    return (j - k) & 1


def _free(m, a, b):
    """True when [a, b) holds no unescaped quote (runs of up to 8 backslashes told apart)."""
    s = min(a, 16)              # the backslashes before a quote at a are looked at too
    chunk = m[a - s:b]
    c = [chunk.count(b'"', s)]
    if c[0] == 0:
        return True
    for k in range(1, 10):
        # the quotes at a and after that k backslashes or more come before
        c.append(chunk.count(b"\\" * k + b'"', s - k if s >= k else 0))
        if c[k] == 0:
            break
    else:
        return False
    unescaped = c[0]
    for k in range(1, len(c)):
        unescaped += -c[k] if k & 1 else c[k]
    return unescaped == 0


def _quote(m, j, back):
    """The unescaped quote before j (back) or at or after j, or -1."""
    while True:
        j = m.rfind(b'"', 0, j) if back else m.find(b'"', j)
        if j < 0 or not _escaped(m, j):
            return j
        if not back:
            j += 1


def _strings(m, n):
    """[(q0, q1)]: the quotes around each large string found, in order."""
    out, w = [], 0
    while w < n:
        if not _free(m, w, min(w + WINDOW, n)):
            w += WINDOW
            continue
        rs = w
        while w < n and _free(m, w, min(w + WINDOW, n)):
            w += WINDOW
        q0, q1 = _quote(m, rs, True), _quote(m, min(w, n), False)
        if q0 < 0 or q1 < 0 or (out and q0 <= out[-1][1]):
            continue
        if q1 - q0 - 1 < codec.BIG_MEMBER and (q1 - q0 - 1 < _B64_LEAST or not
                                               _BYTES_BEFORE.search(m[max(q0 - 64, 0):q0])):
            continue       # a str under BIG_MEMBER, a bytes under BYTES_MEMBER: with the rest
        if _KEY_AFTER.match(m[q1 + 1:q1 + 65]):
            continue       # an object's key: parsed with the rest
        out.append((q0, q1))
        w = max(w, q1 + 1)
    return out


def _cuts(m, a, b):
    """Where to cut the string text [a, b) into pieces of about PIECE bytes: never inside a
    UTF-8 sequence, an escape or a surrogate pair's two escapes."""
    cuts = [a]
    while cuts[-1] < b:
        c = cuts[-1] + codec.PIECE
        if c >= b:
            cuts.append(b)
            break
        while m[c] & 0xC0 == 0x80:
            c -= 1
        j = m.rfind(b"\\", c - 12, c)
        if j >= 0:
            while m[j - 1] == 0x5c:
                j -= 1
            c = j                       # an escape starts here (a run's first backslash)
            if _LOW_ESC.match(m[c:c + 6]):
                c += 6                  # the pair's low half stays with its high half
        cuts.append(c)
    return cuts


def read_obj(n, fill):
    """The value of an obj payload of n bytes that fill(address) writes at address."""
    with filled_map(n, fill) as (m, base):
        v = _read(m, base, n)
        if v is None:
            mv = memoryview(m)
            try:
                return codec.decode(codec.OBJ, mv)
            finally:
                mv.release()
        return v[0]


def _read(m, base, n):
    found = _strings(m, n)
    if not found:
        return None
    token = "$mflowbig" + os.urandom(16).hex()
    members, parts, at = [], [], 0
    for q0, q1 in found:
        kind = "str"
        a, b = q0, q1 + 1                   # what the tag stands in for
        body = q1 - q0 - 1
        if m.find(b"\\", q0 + 1, q1) < 0 and body % 4 == 0:
            before = _BYTES_BEFORE.search(m[max(q0 - 64, 0):q0])
            after = _CLOSE_AFTER.match(m[q1 + 1:q1 + 65])
            if before and after:
                kind = "bytes"
                a = q0 - (len(before.group(0)))
                b = q1 + 1 + len(after.group(0))
        if a < at:
            return None
        parts.append(m[at:a])
        parts.append(b'{"%s":%d}' % (token.encode(), len(members)))
        members.append((kind, q0 + 1, q1))
        at = b
    parts.append(m[at:n])
    try:
        text = str(b"".join(parts), "utf-8")
    except UnicodeDecodeError:
        raise codec._corrupt(codec.OBJ, "its text is not UTF-8")
    del parts
    values = [None] * len(members)

    def hook(pairs):
        if len(pairs) == 1 and pairs[0][0] == token and type(pairs[0][1]) is int:
            return values[pairs[0][1]]
        return codec._untag(pairs)
    # the text left parses with the tags in place (else a string was not one: read whole)
    try:
        json.loads(text, object_pairs_hook=lambda p: None, parse_constant=codec._no_constant)
    except (ValueError, RecursionError):
        return None
    page = mmap.PAGESIZE
    for i, (kind, a, b) in enumerate(members):
        def let_go(lo, hi):
            lo = (lo + page - 1) // page * page
            hi = hi // page * page
            if hi > lo:
                m.madvise(mmap.MADV_DONTNEED, lo, hi - lo)
        values[i] = _bytes(m, base, a, b, let_go) if kind == "bytes" else \
            _str(m, a, b, let_go)
    try:
        return (json.loads(text, object_pairs_hook=hook, parse_constant=codec._no_constant),)
    except (ValueError, RecursionError) as e:
        if isinstance(e, codec.MflowCorrupt):
            raise
        raise codec._corrupt(codec.OBJ, f"its text is not JSON ({e})")


def _bytes(m, base, a, b, let_go):
    """The bytes whose base64 text is [a, b) of m."""
    pad = (m[b - 1] == 0x3d) + (m[b - 2] == 0x3d)
    out = _new_bytes(None, (b - a) // 4 * 3 - pad)
    dst = ctypes.cast(ctypes.c_char_p(out), ctypes.c_void_p).value
    step = codec.PIECE // 4 * 4
    at = 0
    for off in range(a, b, step):
        end = min(off + step, b)
        piece = m[off:end]
        if not (_B64_LAST if end == b else _B64).fullmatch(piece):
            raise codec._corrupt(codec.OBJ, "a $bytes tag does not hold base64 text")
        try:
            d = binascii.a2b_base64(piece)
        except binascii.Error:
            raise codec._corrupt(codec.OBJ, "a $bytes tag does not hold base64 text")
        if at + len(d) > len(out):
            raise codec._corrupt(codec.OBJ, "a $bytes tag does not hold base64 text")
        ctypes.memmove(dst + at, d, len(d))
        at += len(d)
        let_go(off, end)
    if at != len(out):
        raise codec._corrupt(codec.OBJ, "a $bytes tag does not hold base64 text")
    return out


def _measure(t):
    """(characters, band of _text._WIDTHS) of JSON string text t (bytes), read off its bytes
    where it has no \\u escape (each other escape is 2 bytes for 1 character), else None."""
    bs = t.count(b"\\")
    if bs and b"\\u" in t:
        return None
    escapes = bs - t.count(b"\\\\") if bs else 0
    if t.isascii():
        return len(t) - escapes, 0
    lead = t.translate(None, _CONT)              # one byte a character
    wide = lead.translate(None, _UNDER_C4)
    if not wide:
        return len(lead) - escapes, 1
    return len(lead) - escapes, 3 if wide.translate(None, _UNDER_F0) else 2


def _str(m, a, b, let_go):
    """The str whose JSON string text (between its quotes) is [a, b) of m."""
    cuts = _cuts(m, a, b)
    buf = bytearray(codec.PIECE + 16)     # a piece is at most 6 bytes over PIECE
    view = memoryview(buf)

    def piece(i):
        # the piece and a closing quote, for json's own string scanner
        k = cuts[i + 1] - cuts[i]
        buf[:k] = m[cuts[i]:cuts[i + 1]]
        buf[k] = 0x22
        try:
            t = str(view[:k + 1], "utf-8")
        except UnicodeDecodeError:
            raise codec._corrupt(codec.OBJ, "its text is not UTF-8")
        try:
            s, end = scanstring(t, 0, True)
        except ValueError as e:
            raise codec._corrupt(codec.OBJ, f"its text is not JSON ({e})")
        if end != len(t):
            raise codec._corrupt(codec.OBJ, "a string's text was cut in a wrong place")
        return s

    def pieces():
        for i in range(len(cuts) - 1):
            yield piece(i)
    # the length and the widest character: off the bytes, or (a piece with a \u escape)
    # off the piece decoded
    chars, band = 0, 0
    for i in range(len(cuts) - 1):
        got = _measure(m[cuts[i]:cuts[i + 1]])
        if got is None:
            d = piece(i)
            got = len(d), piece_width(d)[0] if d else 0
        chars += got[0]
        band = max(band, got[1])
    try:
        s = fill_str(chars, band, pieces, lambda i: let_go(cuts[i], cuts[i + 1]))
    except ValueError as e:
        if isinstance(e, codec.MflowCorrupt):
            raise
        raise codec._corrupt(codec.OBJ, f"its text is not JSON or not UTF-8 ({e})")
    if s is None:
        s = "".join(pieces())
    view.release()
    return s
