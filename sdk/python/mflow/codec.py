"""Python values in the mflow datastore (sdk/DATASTORE.md section 4).

    encode(value) -> (type, payload)     the type byte (enum mf_type) and the payload
    decode(type, payload) -> value
    encode_blob(value) -> bytes          the encoded value: 8-byte header + payload
    decode_blob(data) -> value

Which type a value is stored as, so that C flows and `mflow get` read the simple ones as
they are: bool -> obj; int in the int64 range -> i64, another int -> obj; float -> f64;
str -> str (one with lone surrogates -> pickle); bytes -> bytes; a non-empty list of ints
in range (not bools) -> i64[], of floats -> f64[], of strs -> str[]; every other portable
value (None, dict, tuple, an empty list, mixed or nested lists, and the above inside them) ->
obj, JSON text with tags for bytes, non-finite floats, tuples and dicts that are not plain
JSON objects; a numpy.ndarray (not of object dtype) -> npy; anything else -> pickle.
Exact types decide: a subclass (an IntEnum, a numpy.float64, a namedtuple) is pickled, so
that it comes back as itself. A memoryview is pickled as its bytes (it comes back as bytes);
a value pickle refuses (a lock, a generator) is an MflowInvalid naming its type.

Large values (1 MiB and more: a str, bytearray, memoryview, ndarray, or any value pickled)
go to libmflow in pieces, from their own memory where they have one (prepare(), stream(),
pickle_stream()), and are never encoded whole first; the pieces are exactly encode()'s
payload. A bytes value is handed over as it is, uncopied.

Standard library only; numpy is imported when a value is an ndarray or a payload is npy.
Decoding a pickle runs whatever the pickle says: read only datastores you trust.
"""
import array
import base64
import io
import json
import math
import os
import pickle
import struct
import sys

from .exceptions import MflowCorrupt, MflowInvalid, MflowNewerFormat

I64, F64, STR, BYTES, I64V, F64V, STRV = 1, 2, 3, 4, 5, 6, 7
OBJ, PICKLE, NPY = 9, 10, 11
TYPE_NAMES = {I64: "i64", F64: "f64", STR: "str", BYTES: "bytes", I64V: "i64[]",
              F64V: "f64[]", STRV: "str[]", OBJ: "obj", PICKLE: "pickle", NPY: "npy"}
VALUE_VERSION = 1
HEADER_LEN = 8
PICKLE_PROTOCOL = 4
OBJ_MAX_DEPTH = 500          # nesting of JSON arrays and objects (codec.h MF_OBJ_MAX_DEPTH)
I64_MIN, I64_MAX = -(1 << 63), (1 << 63) - 1
_LE = sys.byteorder == "little"
_U64 = struct.Struct("<Q")
_Q = struct.Struct("<q")
_D = struct.Struct("<d")
NPY_MAGIC = b"\x93NUMPY"


class _NotPortable(Exception):
    pass


# ---- encoding --------------------------------------------------------------------------------

def _utf8(s):
    """s as UTF-8, or None when it holds a lone surrogate."""
    try:
        return s.encode("utf-8")
    except UnicodeEncodeError:
        return None


def _words(code, values):
    a = array.array(code, values)
    if not _LE:
        a.byteswap()
    return _U64.pack(len(values)) + a.tobytes()


def _strv(enc):
    parts = [_U64.pack(len(enc))]
    for b in enc:
        parts.append(_U64.pack(len(b)))
        parts.append(b)
    return b"".join(parts)


def _tagged(v, depth, seen):
    """v as a JSON-ready value with the tags of DATASTORE.md section 4; _NotPortable when a
    part of it is not portable. depth: the JSON nesting v starts at."""
    t = type(v)
    if v is None or t is bool or t is int:
        return v
    if t is str:
        if _utf8(v) is None:
            raise _NotPortable
        return v
    if t is float:
        if math.isfinite(v):
            return v
        if depth + 1 > OBJ_MAX_DEPTH:
            raise _NotPortable
        return {"$float": "nan" if v != v else ("inf" if v > 0 else "-inf")}
    if t is bytes:
        if depth + 1 > OBJ_MAX_DEPTH:
            raise _NotPortable
        # its base64 text is made as the JSON is written: not at all when a later part of
        # the value turns out not to be portable (the value is then pickled)
        return _Bytes(v)
    if t not in (list, tuple, dict):
        raise _NotPortable
    # A container: one JSON level (a tag adds more), and never itself again (a cycle). Plain
    # loops, not comprehensions: one Python frame a level, so that 500 levels fit.
    if id(v) in seen:
        raise _NotPortable
    seen.add(id(v))
    try:
        if t is list:
            if depth + 1 > OBJ_MAX_DEPTH:
                raise _NotPortable
            out = []
            for x in v:
                out.append(_tagged(x, depth + 1, seen))
            return out
        if t is tuple:
            if depth + 2 > OBJ_MAX_DEPTH:
                raise _NotPortable
            out = []
            for x in v:
                out.append(_tagged(x, depth + 2, seen))
            return {"$tuple": out}
        plain = all(type(k) is str for k in v) and \
            not (len(v) == 1 and next(iter(v)).startswith("$"))
        if plain:
            if depth + 1 > OBJ_MAX_DEPTH:
                raise _NotPortable
            out = {}
            for k, x in v.items():
                if _utf8(k) is None:
                    raise _NotPortable
                out[k] = _tagged(x, depth + 1, seen)
            return out
        if depth + 3 > OBJ_MAX_DEPTH:
            raise _NotPortable
        out = []
        for k, x in v.items():
            out.append([_tagged(k, depth + 3, seen), _tagged(x, depth + 3, seen)])
        return {"$dict": out}
    finally:
        seen.discard(id(v))


class _Bytes:
    __slots__ = ("b",)

    def __init__(self, b):
        self.b = b


def _bytes_tag(o):
    if type(o) is _Bytes:
        return {"$bytes": base64.b64encode(o.b).decode("ascii")}
    raise TypeError(type(o).__name__)


def _obj(v):
    """The obj payload of v, or None when v is not portable."""
    try:
        tree = _tagged(v, 0, set())
        text = json.dumps(tree, ensure_ascii=False, allow_nan=False, separators=(",", ":"),
                          default=_bytes_tag)
    except (_NotPortable, RecursionError, ValueError):
        # ValueError: an int past Python's digit limit for text (sys.set_int_max_str_digits)
        return None
    return text.encode("utf-8")


def _is_ndarray(v):
    np = sys.modules.get("numpy")    # an ndarray means numpy is imported already
    return np is not None and isinstance(v, np.ndarray)


def _npy(v):
    """The .npy payload of an ndarray, or None for an object-dtype array (pickled)."""
    import numpy as np
    if v.dtype.hasobject:
        return None
    buf = io.BytesIO()
    np.save(buf, v, allow_pickle=False)
    return buf.getvalue()


def _pickle(v):
    if type(v) is memoryview:
        v = v.tobytes()    # pickle refuses a memoryview: its bytes, which come back as bytes
    try:
        return pickle.dumps(v, protocol=PICKLE_PROTOCOL)
    except RecursionError:
        raise MflowInvalid(f"cannot store a {type(v).__name__} nested this deeply: JSON takes "
                           f"{OBJ_MAX_DEPTH} levels and pickle ran out of recursion")
    except (pickle.PicklingError, TypeError, AttributeError) as e:
        raise MflowInvalid(f"cannot store a {type(v).__name__}: it is not portable (None, bool, "
                           f"int, float, str, bytes, list, tuple, dict) and pickle refuses it "
                           f"({e})")


def _pickle_pair(v):
    return PICKLE, _pickle(v)


def encode(value, _pickled=None):
    """(type, payload) of a Python value (see the module's doc for which type). _pickled:
    what a value to be pickled becomes instead of (PICKLE, its pickle)."""
    pk = _pickled or _pickle_pair
    t = type(value)
    if t is int and I64_MIN <= value <= I64_MAX:
        return I64, _Q.pack(value)
    if t is float:
        return F64, _D.pack(value)
    if t is str:
        b = _utf8(value)
        return (STR, b) if b is not None else pk(value)
    if t is bytes:
        return BYTES, value
    if t is list and value:
        # the item types in one pass in C; array() then refuses an int out of range
        types = set(map(type, value))
        if types == {int}:
            try:
                return I64V, _words("q", value)
            except OverflowError:
                pass
        elif types == {float}:
            return F64V, _words("d", value)
        elif types == {str}:
            try:
                return STRV, _strv([x.encode("utf-8") for x in value])
            except UnicodeEncodeError:
                pass
    if _is_ndarray(value):
        p = _npy(value)
        if p is not None:
            return NPY, p
        return pk(value)
    p = _obj(value)
    if p is not None:
        return OBJ, p
    return pk(value)


# ---- large values, in pieces ------------------------------------------------------------------
# A large value is handed to libmflow a piece at a time (mf_foreign_writer_*), from its own
# memory where it has one (an array, a bytearray), and is never encoded whole first: the bytes
# stored are those encode() gives. stream(value) -> (type, payload length, feed): feed(write)
# calls write(piece) for each piece in order, a piece being a bytes object or (address,
# length, owner) of memory that owner keeps alive.

# values from this size on go in pieces, and are read into place (MFLOW_PY_PIECES_MIN: for
# benchmarks, a size from which on, or "off" for the whole-value path of every value)
_pm = os.environ.get("MFLOW_PY_PIECES_MIN", "")
PIECES_OFF = _pm == "off"
STREAM_MIN = (1 << 62 if PIECES_OFF else int(_pm)) if _pm else 1 << 20
PIECE = 1 << 20              # what is copied at a time (a str encoded, read-only memory)
SPOOL_MAX = 16 << 20         # pickle text kept while pickling; past it, pickled a second time


def _mem(write, addr, n, owner):
    for off in range(0, n, PIECE):
        write((addr + off, min(PIECE, n - off), owner))


def _buffer_feed(mv):
    """feed of the bytes of a contiguous 'B' memoryview, from its own memory when writable."""
    def feed(write):
        if not mv.readonly:
            import ctypes
            c = (ctypes.c_char * mv.nbytes).from_buffer(mv)
            _mem(write, ctypes.addressof(c), mv.nbytes, c)
            return
        for off in range(0, mv.nbytes, PIECE):
            write(bytes(mv[off:off + PIECE]))     # read-only memory: a piece copied at a time
    return feed


def _str_feed(s, step):
    def feed(write):
        for i in range(0, len(s), step):
            write(s[i:i + step].encode("utf-8"))
    return feed


def _npy_stream(v):
    """(NPY, length, feed) of an ndarray, or None for an object-dtype array (pickled)."""
    import numpy as np
    from numpy.lib import format as npformat
    if v.dtype.hasobject:
        return None
    buf = io.BytesIO()
    npformat._write_array_header(buf, npformat.header_data_from_array_1_0(v), None)
    head = buf.getvalue()                   # the header np.save writes

    def feed(write):
        write(head)
        if v.flags.c_contiguous or v.flags.f_contiguous:
            # memory order is the file's (np.save writes a Fortran-ordered array transposed)
            _mem(write, v.ctypes.data, v.nbytes, v)
            return
        for chunk in np.nditer(v, flags=["external_loop", "buffered", "zerosize_ok"],
                               buffersize=max(PIECE // max(v.itemsize, 1), 1), order="C"):
            write(chunk.tobytes("C"))
    return NPY, len(head) + v.nbytes, feed


# The pickle (protocol 4) pickle.dumps writes for a bytes or a bytearray of 64 KiB to 4 GiB:
# the opcodes before the data and after it (the data is too large to be framed).
_BYTEARRAY_HEAD = b"\x80\x04\x95" + _U64.pack(25) + b"\x8c\x08builtins\x94\x8c\tbytearray\x94\x93\x94"
_TAILS = {bytes: b"\x94.", bytearray: b"\x95" + _U64.pack(6) + b"\x94\x85\x94R\x94."}


def _bytes_pickle(mv, kind):
    """(PICKLE, length, feed) of the pickle of kind(mv) (bytes or bytearray), mv's bytes taken
    from its own memory: what pickle.dumps(kind(mv), 4) gives, without making kind(mv)."""
    n = mv.nbytes
    op = b"B" + struct.pack("<I", n) if n <= 0xffffffff else b"\x8e" + _U64.pack(n)
    head = (b"\x80\x04" if kind is bytes else _BYTEARRAY_HEAD) + op
    tail = _TAILS[kind]
    data = _buffer_feed(mv)

    def feed(write):
        write(head)
        data(write)
        write(tail)
    return PICKLE, len(head) + n + len(tail), feed


class _Spool:
    """A pickler's file: keeps what it is given (large bytes objects by reference) until it
    holds SPOOL_MAX bytes of its own, then only counts."""

    def __init__(self):
        self.parts, self.own, self.n = [], 0, 0

    def write(self, b):
        n = len(b)
        self.n += n
        if self.parts is not None:
            if type(b) is bytes and n >= STREAM_MIN:
                self.parts.append(b)
            else:
                self.parts.append(bytes(b))
                self.own += n
                if self.own > SPOOL_MAX:
                    self.parts = None
        return n


class _Sink:
    def __init__(self, write):
        self.write = write


def pickle_stream(value):
    """(PICKLE, length, feed) of any value pickled: pickled once into memory when that stays
    under SPOOL_MAX bytes (large bytes objects inside it are not copied), else counted in a
    first pass and written in a second."""
    sp = _Spool()
    try:
        pickle.Pickler(sp, protocol=PICKLE_PROTOCOL).dump(value)
    except RecursionError:
        raise MflowInvalid(f"cannot store a {type(value).__name__} nested this deeply: JSON "
                           f"takes {OBJ_MAX_DEPTH} levels and pickle ran out of recursion")
    except (pickle.PicklingError, TypeError, AttributeError) as e:
        raise MflowInvalid(f"cannot store a {type(value).__name__}: it is not portable (None, "
                           f"bool, int, float, str, bytes, list, tuple, dict) and pickle "
                           f"refuses it ({e})")
    parts = sp.parts
    if parts is not None:
        def feed(write):
            for p in parts:
                write(p)
    else:
        def feed(write):
            pickle.Pickler(_Sink(write), protocol=PICKLE_PROTOCOL).dump(value)
    return PICKLE, sp.n, feed


def stream(value):
    """(type, payload length, feed) for a value stored in pieces, else None (encode() it): a
    str, bytearray, memoryview or ndarray of STREAM_MIN bytes or more. (A bytes object is
    handed over as it is, whole and uncopied; other values are pickled in pieces only when
    encode() says pickle: see pickle_stream.)"""
    t = type(value)
    if t is str:
        if len(value) < STREAM_MIN // 4:
            return None     # under 1 MiB of UTF-8 whatever it holds
        if value.isascii():
            return (STR, len(value), _str_feed(value, PIECE)) if len(value) >= STREAM_MIN \
                else None
        step = PIECE // 4
        try:
            n = 0
            for i in range(0, len(value), step):
                n += len(value[i:i + step].encode("utf-8"))
        except UnicodeEncodeError:
            return pickle_stream(value)
        return (STR, n, _str_feed(value, step)) if n >= STREAM_MIN else None
    if t is bytearray or t is memoryview:
        mv = memoryview(value)
        if mv.nbytes < STREAM_MIN:
            return None
        mv = mv.cast("B") if mv.c_contiguous else memoryview(mv.tobytes())
        # a memoryview is stored as the pickle of its bytes
        return _bytes_pickle(mv, bytearray if t is bytearray else bytes)
    if _is_ndarray(value):
        if value.nbytes < STREAM_MIN:
            return None
        return _npy_stream(value) or pickle_stream(value)
    return None


def _pickle_prepared(v):
    if type(v) is memoryview:
        v = v.tobytes()      # a small one (a large one is streamed): its bytes, pickled
    ty, n, feed = pickle_stream(v)
    if n < STREAM_MIN:
        out = []
        feed(out.append)
        return ty, b"".join(out), None
    return ty, n, feed


def prepare(value):
    """How a value is to be stored: (type, payload, None) to be handed over whole (the
    payload as encode() gives it), or (type, payload length, feed) to be written in pieces
    (stream(); a value to be pickled is pickled in pieces when its pickle is large)."""
    s = stream(value)
    if s is not None:
        return s
    r = encode(value, _pickle_prepared)
    return r if len(r) == 3 else (r[0], r[1], None)


def header(type_):
    """The 8-byte header of an encoded value of this type."""
    return b"MFV" + bytes((VALUE_VERSION, type_, 0, 0, 0))


def encode_blob(value):
    """The encoded value (header + payload), as the datastore's blobs hold it."""
    t, p = encode(value)
    return header(t) + p


# ---- decoding --------------------------------------------------------------------------------

def _corrupt(t, why):
    return MflowCorrupt(f"a stored {TYPE_NAMES.get(t, t)} value is damaged: {why}")


def _count(t, p):
    if len(p) < 8:
        raise _corrupt(t, "its payload is shorter than its 8-byte count")
    return _U64.unpack_from(p)[0]


def _fixed_list(t, code, p):
    n = _count(t, p)
    # divide rather than multiply: a huge count read from the data must not be trusted
    if (len(p) - 8) % 8 or n != (len(p) - 8) // 8:
        raise _corrupt(t, f"its count {n} disagrees with its {len(p)} bytes")
    a = array.array(code)
    a.frombytes(p[8:])
    if not _LE:
        a.byteswap()
    return a.tolist()


def _str_list(p):
    n = _count(STRV, p)
    if n > (len(p) - 8) // 8:
        raise _corrupt(STRV, f"its count {n} is impossible for {len(p)} bytes")
    out, off, end = [], 8, len(p)
    for _ in range(n):
        if end - off < 8:
            raise _corrupt(STRV, "an element has no length")
        (L,) = _U64.unpack_from(p, off)
        off += 8
        if L > end - off:
            raise _corrupt(STRV, "an element runs past the payload")
        out.append(str(p[off:off + L], "utf-8", "surrogateescape"))
        off += L
    if off != end:
        raise _corrupt(STRV, "bytes are left after the last element")
    return out


def _untag(pairs):
    """object_pairs_hook: a JSON object as a dict, or the value its tag stands for."""
    if len(pairs) == 1 and pairs[0][0].startswith("$"):
        tag, v = pairs[0]
        if tag == "$bytes" and type(v) is str:
            try:
                return base64.b64decode(v.encode("ascii"), validate=True)
            except (ValueError, UnicodeEncodeError):
                raise _corrupt(OBJ, "a $bytes tag does not hold base64 text")
        if tag == "$float" and v in ("nan", "inf", "-inf"):
            return float(v)
        if tag == "$tuple" and type(v) is list:
            return tuple(v)
        if tag == "$dict" and type(v) is list:
            out = {}
            for kv in v:
                if type(kv) is not list or len(kv) != 2:
                    raise _corrupt(OBJ, "a $dict entry is not a [key, value] pair")
                try:
                    out[kv[0]] = kv[1]
                except TypeError:
                    raise _corrupt(OBJ, f"a $dict key of type {type(kv[0]).__name__} "
                                        "cannot be a dict key")
            return out
        raise _corrupt(OBJ, f"unknown tag {tag!r} (or a tag whose value is of the wrong "
                            "kind): upgrade mflow if a newer one wrote it")
    d = dict(pairs)
    if len(d) != len(pairs):
        raise _corrupt(OBJ, "an object repeats a key")
    return d


def _no_constant(name):
    raise _corrupt(OBJ, f"it holds {name}, which JSON does not have")


def _decode_obj(p):
    try:
        text = str(p, "utf-8")
    except UnicodeDecodeError:
        raise _corrupt(OBJ, "its text is not UTF-8")
    try:
        return json.loads(text, object_pairs_hook=_untag, parse_constant=_no_constant)
    except (ValueError, RecursionError) as e:
        if isinstance(e, MflowCorrupt):
            raise
        raise _corrupt(OBJ, f"its text is not JSON ({e})")


def _decode_npy(p):
    if bytes(p[:6]) != NPY_MAGIC:
        raise _corrupt(NPY, "it does not start with numpy's magic \\x93NUMPY")
    import numpy as np
    from numpy.lib import format as npformat
    mv = memoryview(p)
    f = io.BytesIO(mv[:min(len(mv), 1 << 20)])   # the header: small, at the start
    try:
        major, minor = npformat.read_magic(f)
        if (major, minor) == (1, 0):
            shape, fortran, dtype = npformat.read_array_header_1_0(f)
        else:
            shape, fortran, dtype = npformat.read_array_header_2_0(f)
    except Exception as e:   # numpy's header parser raises ValueError, SyntaxError, TokenError...
        raise _corrupt(NPY, f"its header does not parse ({type(e).__name__}: {e})")
    if dtype.hasobject:
        raise _corrupt(NPY, "an object-dtype array is stored as a pickle, never as npy")
    count = 1
    for d in shape:
        count *= d
    off = f.tell()
    if len(mv) - off != count * dtype.itemsize:
        raise _corrupt(NPY, f"{len(mv) - off} bytes of data for {count} items of {dtype}")
    # No copy: the array uses the payload's memory (writable when the payload is).
    a = np.frombuffer(mv, dtype=dtype, count=count, offset=off) if count else \
        np.empty(0, dtype=dtype)
    return a.reshape(shape, order="F" if fortran else "C")


def decode(type_, payload):
    """The Python value of a payload of type `type_` (payload: any bytes-like object)."""
    p = payload
    if type_ == I64 or type_ == F64:
        if len(p) != 8:
            raise _corrupt(type_, f"a scalar is 8 bytes, not {len(p)}")
        return (_Q if type_ == I64 else _D).unpack_from(p)[0]
    if type_ == STR:
        return str(p, "utf-8", "surrogateescape")
    if type_ == BYTES:
        return bytes(p)
    if type_ == I64V:
        return _fixed_list(I64V, "q", p)
    if type_ == F64V:
        return _fixed_list(F64V, "d", p)
    if type_ == STRV:
        return _str_list(p)
    if type_ == OBJ:
        return _decode_obj(p)
    if type_ == PICKLE:
        try:
            return pickle.loads(p)
        except (pickle.UnpicklingError, EOFError) as e:
            # (a class that cannot be imported here is not damage: its error goes through)
            raise _corrupt(PICKLE, f"{type(e).__name__}: {e}")
    if type_ == NPY:
        return _decode_npy(p)
    if isinstance(type_, int) and type_ > NPY:
        raise MflowNewerFormat(f"the value is of a newer type ({type_}) than this mflow "
                               "knows: upgrade mflow to read it")
    raise MflowCorrupt(f"{type_!r} is not a type a stored value can have")


def decode_blob(data):
    """The value of an encoded value (header + payload), checked as sdk/DATASTORE.md says."""
    mv = memoryview(data)
    if len(mv) < HEADER_LEN or bytes(mv[:3]) != b"MFV":
        raise MflowCorrupt("not an mflow value (no MFV header)")
    if mv[3] > VALUE_VERSION:
        raise MflowNewerFormat(f"the value has format version {mv[3]}, newer than the version "
                               f"{VALUE_VERSION} this mflow reads: upgrade mflow to read it")
    if mv[3] != VALUE_VERSION or bytes(mv[5:8]) != b"\0\0\0":
        raise MflowCorrupt("the value's header is damaged")
    return decode(mv[4], mv[HEADER_LEN:])
