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

Large values (1 MiB and more: a bytes, str, bytearray, memoryview, ndarray, or any value
pickled) go to libmflow in pieces, from their own memory where they have one (prepare(),
stream(), pickle_stream()), and are never encoded whole first; the pieces are exactly
encode()'s payload. A pickle whose large buffers (bytes, bytearray, an array's memory, a str's
UTF-8) add up to 1 MiB or more is a container (DATASTORE.md section 4): its buffers out of
band, each written from its own memory (a str's UTF-8 a piece at a time) and read back into
an object of its own (a str made a piece at a time). A portable value stays
`obj` whatever its size, so that C flows and other languages read it; when its large members
(a str or bytes of BIG_MEMBER and more) add up to 4 MiB or more, its JSON is written a piece
at a time, each member from its own memory (bytes base64'd, a str escaped, a piece at a time:
_obj_stream()), and a task reads it back with each member made in place (_objread.py).

Standard library only; numpy is imported when a value is an ndarray or a payload is npy.
Decoding a pickle runs whatever the pickle says: read only datastores you trust.
"""
import array
import base64
import binascii
import io
import json
import math
import os
import pickle
import struct
import sys

from json.encoder import encode_basestring as _esc    # json.dumps's own (ensure_ascii=False)

from .exceptions import MflowCorrupt, MflowInvalid, MflowNewerFormat

I64, F64, STR, BYTES, I64V, F64V, STRV = 1, 2, 3, 4, 5, 6, 7
OBJ, PICKLE, NPY = 9, 10, 11
TYPE_NAMES = {I64: "i64", F64: "f64", STR: "str", BYTES: "bytes", I64V: "i64[]",
              F64V: "f64[]", STRV: "str[]", OBJ: "obj", PICKLE: "pickle", NPY: "npy"}
VALUE_VERSION = 1
HEADER_LEN = 8
PICKLE_PROTOCOL = 5          # plain pickles; the container's pickle is protocol 5 too
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


def _tagged(v, depth, seen, big=False):
    """v as a JSON-ready value with the tags of DATASTORE.md section 4; _NotPortable when a
    part of it is not portable. depth: the JSON nesting v starts at. A portable value stays
    portable however large (C flows and other languages read it): its bytes are base64'd."""
    t = type(v)
    if v is None or t is bool or t is int:
        return v
    if t is str:
        if big and len(v) >= BIG_MEMBER:
            return _BigStr(v)       # checked for lone surrogates as it is written
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
                out.append(_tagged(x, depth + 1, seen, big))
            return out
        if t is tuple:
            if depth + 2 > OBJ_MAX_DEPTH:
                raise _NotPortable
            out = []
            for x in v:
                out.append(_tagged(x, depth + 2, seen, big))
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
                out[k] = _tagged(x, depth + 1, seen, big)
            return out
        if depth + 3 > OBJ_MAX_DEPTH:
            raise _NotPortable
        out = []
        for k, x in v.items():
            out.append([_tagged(k, depth + 3, seen, big), _tagged(x, depth + 3, seen, big)])
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


class _BigStr:
    __slots__ = ("s",)

    def __init__(self, s):
        self.s = s


def _obj_stream(v):
    """(OBJ, payload length, feed) of a portable value whose large members (a str or bytes of
    BIG_MEMBER and more) add up to TEXT_MIN or more: its JSON written a piece at a time,
    each large member from its own memory (bytes base64'd a piece at a time, a str escaped a
    piece at a time), byte for byte what _obj() gives. Otherwise the payload whole, as _obj()
    gives it; None when v is not portable."""
    bigs = []
    token = []        # made at the first large member: a small value costs no random bytes

    def mark(member):
        if not token:
            token.append("\0mflow:" + os.urandom(16).hex() + ":")
        bigs.append(member)
        return token[0] + "%d\0" % (len(bigs) - 1)

    def hook(o):
        if type(o) is _Bytes:
            if len(o.b) < BYTES_MEMBER:
                return _bytes_tag(o)
            return {"$bytes": mark(o.b)}
        if type(o) is _BigStr:
            return mark(o.s)
        raise TypeError(type(o).__name__)
    try:
        tree = _tagged(v, 0, set(), True)
        text = json.dumps(tree, ensure_ascii=False, allow_nan=False, separators=(",", ":"),
                          default=hook)
    except (_NotPortable, RecursionError, ValueError):
        return None
    if not bigs:
        return text.encode("utf-8")
    del tree
    token = token[0]
    # the text around the large members, each member's place found by its marker (a random
    # token: a member that held one by chance is seen as two places, and the value written
    # whole)
    parts, at = [], 0
    for i in range(len(bigs)):
        mark = json.dumps(token + "%d\0" % i, ensure_ascii=False)
        k = text.find(mark, at)
        if k < 0 or text.find(mark, k + 1) >= 0:
            return _obj(v)
        parts.append(text[at:k].encode("utf-8"))
        at = k + len(mark)
    parts.append(text[at:].encode("utf-8"))
    del text
    total = sum(map(len, parts))
    member = 0
    for b in bigs:
        if type(b) is bytes:
            n = 2 + (len(b) + 2) // 3 * 4
        else:
            n = 2
            try:
                for i in range(0, len(b), BIG_STEP):
                    e = _esc(b[i:i + BIG_STEP])
                    n += len(e) - 2 if e.isascii() else len(e.encode("utf-8")) - 2
            except UnicodeEncodeError:
                return None     # a lone surrogate: pickled
        member += len(b)
        total += n
    if member < TEXT_MIN:
        return _gather(_obj_feed(parts, bigs))
    return OBJ, total, _obj_feed(parts, bigs)


def _obj_feed(parts, bigs):
    def feed(write):
        for i, b in enumerate(bigs):
            write(parts[i] + b'"')
            if type(b) is bytes:
                mv = memoryview(b)
                step = PIECE // 4 * 3
                for off in range(0, len(b), step):
                    write(binascii.b2a_base64(mv[off:off + step], newline=False))
            else:
                for off in range(0, len(b), BIG_STEP):
                    write(_esc(b[off:off + BIG_STEP])[1:-1].encode("utf-8"))
            write(b'"')
        write(parts[-1])
    return feed


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


def _gather(feed):
    """The pieces a feed writes, as one bytes object."""
    out = []

    def put(piece):
        if type(piece) is tuple:
            import ctypes
            addr, n, _owner = piece
            out.append(ctypes.string_at(addr, n))
        else:
            out.append(bytes(piece))
    feed(put)
    return b"".join(out)


def _pickle(v):
    """The pickle payload of v, whole (a plain pickle, or the container: pickle_stream)."""
    if type(v) is memoryview and v.nbytes < STREAM_MIN:
        v = v.tobytes()    # pickle refuses a memoryview: its bytes, which come back as bytes
    return _gather(pickle_stream(v)[2])


def _pickle_pair(v):
    return PICKLE, _pickle(v)


def encode(value, _pickled=None, _objd=None):
    """(type, payload) of a Python value (see the module's doc for which type). _pickled:
    what a value to be pickled becomes instead of (PICKLE, its pickle); _objd: what makes
    an obj's payload instead of _obj() (a tuple it returns is returned as it is)."""
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
    p = (_objd or _obj)(value)
    if type(p) is tuple:
        return p
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
# a str, and an obj's large members in all, from this size on (MFLOW_PY_PIECES_MIN sets both):
# under 4 MiB a str's pieces read 1.4-1.6x slower than a whole str and peak higher (its
# mapping and the str both resident), an obj's 1.26-1.35x and 1.2-1.7x the memory
# (bench_python_limits.sh stream_str and stream_obj rows)
TEXT_MIN = STREAM_MIN if _pm else 4 << 20
PIECE = 1 << 20              # what is copied at a time (a str encoded, read-only memory)
BIG_MEMBER = 64 << 10       # a str in an obj this large is written and read in pieces
# a bytes in an obj this large likewise: its pieces store in a quarter of the whole path's CPU
# at any size, read in 1.0-1.2x from 16 KiB (1.4x at 4 KiB) with half the peak
# (bench_python_limits.sh's member_bytes rows); a str's read 1.3x the whole path's from
# 64 KiB, 1.6-1.8x at 16-32 KiB (member_str rows)
BYTES_MEMBER = 16 << 10
BIG_STEP = PIECE // 4       # the characters of a large str escaped at a time
SPOOL_MAX = 16 << 20         # pickle text kept while pickling; past it, pickled a second time


def _mem(write, addr, n, owner):
    for off in range(0, n, PIECE):
        write((addr + off, min(PIECE, n - off), owner))


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


# ---- pickles, and their container -----------------------------------------------------------
# A pickled value whose large buffers (bytes, bytearray, a numpy array's memory: OOB_MIN bytes
# and more) add up to STREAM_MIN or more is stored as a container (sdk/DATASTORE.md section
# 4): a fixed preamble, a table, a protocol 5 pickle that takes those buffers out of band, and
# the buffers, each written from its own memory and read back into an object of its own.

# A buffer this large goes out of band: each read into memory of its own (read peak 0.96x
# the value, 1.83x in band) at no cost in time from 16 KiB on; at 4 KiB the store takes 1.5x
# the CPU (bench_python_limits.sh, oob_bytes rows). A str this long (characters) goes out of
# band: under it, its UTF-8 buffer read and decoded costs 1.3x (32 Ki) to 3.2x (4 Ki) the
# in-band read (oob_str rows).
OOB_MIN = 16 << 10
STR_OOB_MIN = 64 << 10
# A pickle that a reader which does not know the container stops at: int() of this text
# raises a ValueError that says what to do. The container is the payload that starts so.
PREAMBLE_TEXT = b"mflow: a pickle with out-of-band buffers (written by a newer mflow): " \
                b"upgrade mflow to read it"
PREAMBLE = b"\x80\x02cbuiltins\nint\nX" + struct.pack("<I", len(PREAMBLE_TEXT)) + \
    PREAMBLE_TEXT + b"\x85R."
CONTAINER_HEAD = len(PREAMBLE) + 16      # the preamble, the buffer count, the pickle's length
KIND_BYTES, KIND_WRITABLE = 0, 1
STR_BUFFERS = "mflow:str-buffers:"      # the note of which buffers are a str's UTF-8


def str_buffers(stream):
    """The numbers of a container's buffers that are a str's UTF-8, from the note at the
    start of its pickle (pickle_stream); empty without one."""
    head = bytes(stream[:7])
    if head[:3] != b"\x80\x05X":
        return set()
    (k,) = struct.unpack_from("<I", head, 3)
    note = bytes(stream[7:7 + k])
    if k > 1 << 20 or bytes(stream[7 + k:8 + k]) != b"0" or \
            not note.startswith(STR_BUFFERS.encode()):
        return set()
    try:
        return set(int(x) for x in note[len(STR_BUFFERS):].split(b",") if x)
    except ValueError:
        return set()


class StrMade:
    """A buffer that a reader made into its str already (the str(...) the pickle calls
    returns it as it is)."""
    __slots__ = ("s",)

    def __init__(self, s):
        self.s = s


def _str_call(*args):
    if len(args) == 3 and type(args[0]) is StrMade:
        return args[0].s
    return str(*args)


class _Spool:
    """A pickler's file: keeps what it is given (large bytes objects by reference) until it
    holds SPOOL_MAX bytes of its own, then only counts."""

    def __init__(self):
        self.parts, self.own, self.n = [], 0, 0

    def write(self, b):
        n = len(b) if type(b) is bytes else memoryview(b).nbytes
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
    """A pickler's file whose write() hands each piece on (from its own memory)."""

    def __init__(self, write):
        self._w = write

    def write(self, b):
        if type(b) is bytes:
            self._w(b)
            return len(b)
        with _Export(b) as (addr, n):
            _mem(self._w, addr, n, b)
        return n


class _PyBuffer:
    pass


def _buffer_api():
    """ctypes' view of CPython's buffer protocol (Py_buffer, PyObject_GetBuffer)."""
    import ctypes
    if _PyBuffer.__dict__.get("api") is None:
        class PyBuf(ctypes.Structure):
            _fields_ = [("buf", ctypes.c_void_p), ("obj", ctypes.c_void_p),
                        ("len", ctypes.c_ssize_t), ("itemsize", ctypes.c_ssize_t),
                        ("readonly", ctypes.c_int), ("ndim", ctypes.c_int),
                        ("format", ctypes.c_char_p), ("shape", ctypes.c_void_p),
                        ("strides", ctypes.c_void_p), ("suboffsets", ctypes.c_void_p),
                        ("internal", ctypes.c_void_p)]
        get = ctypes.pythonapi.PyObject_GetBuffer
        get.argtypes = [ctypes.py_object, ctypes.POINTER(PyBuf), ctypes.c_int]
        get.restype = ctypes.c_int
        rel = ctypes.pythonapi.PyBuffer_Release
        rel.argtypes = [ctypes.POINTER(PyBuf)]
        rel.restype = None
        _PyBuffer.api = (PyBuf, get, rel)
    return _PyBuffer.api


class _Export:
    """with _Export(obj) as (address, length): the memory of a C-contiguous buffer, read-only
    or not, held exported (unmoved) until the block ends."""

    def __init__(self, obj):
        self.obj = obj

    def __enter__(self):
        import ctypes
        PyBuf, get, _ = _buffer_api()
        self.view = PyBuf()
        if get(self.obj, ctypes.byref(self.view), 0x8 | 0x10 | 0x20):   # C_CONTIGUOUS
            raise BufferError("not a contiguous buffer")
        return self.view.buf or 0, self.view.len

    def __exit__(self, *exc):
        import ctypes
        _buffer_api()[2](ctypes.byref(self.view))


class _Pickler(pickle.Pickler):
    """Protocol 5, its large buffers out of band: a bytes or bytearray of OOB_MIN bytes or
    more becomes a persistent id that is a PickleBuffer of it (a str of STR_OOB_MIN characters
    or more, one of its UTF-8; the loader's persistent_load hands the buffer back: the object
    itself), and the buffer callback keeps every
    PickleBuffer of OOB_MIN bytes or more (numpy's own, those) out of band. bufs:
    (PickleBuffer, kind) in the pickle's order, when collecting. (The callback is a closure,
    not a method: a pickler holding its own bound method is a cycle, and a cycle that holds
    PickleBuffers over memoryviews is cleared in an order CPython crashes on.)"""

    def __init__(self, file, bufs=None, as_bytes=(), strs=None):
        strs = {} if strs is None else strs
        super().__init__(file, protocol=5,
                         buffer_callback=_buffer_callback(bufs, as_bytes, strs))
        self.pids = {}
        self.strs = strs

    def persistent_id(self, obj):
        t = type(obj)
        if t is str and len(obj) >= STR_OOB_MIN:
            # a str: builtins.str(its UTF-8 out of band, "utf-8", "surrogatepass"), its
            # buffer a stand-in here that the callback knows it by (_StrPid)
            got = self.pids.get(id(obj))
            if got is not None:
                return got[1]
            self.pids[id(obj)] = (obj, len(self.pids))
            stand = bytearray()
            self.strs[id(stand)] = (stand, obj)
            return _StrPid(stand)
        if (t is bytes or t is bytearray) and len(obj) >= OOB_MIN:
            # met again: the integer k, the k-th such buffer of the pickle (one object)
            got = self.pids.get(id(obj))
            if got is not None:
                return got[1]
            self.pids[id(obj)] = (obj, len(self.pids))
            return pickle.PickleBuffer(obj)
        return None


class _StrPid:
    """A large str's persistent id: pickled as builtins.str(a writable buffer out of band,
    "utf-8", "surrogatepass"), which any reader of containers loads as the str."""
    __slots__ = ("stand",)

    def __init__(self, stand):
        self.stand = stand

    def __reduce__(self):
        return str, (pickle.PickleBuffer(self.stand), "utf-8", "surrogatepass")


class _StrBuf:
    """A container's buffer that is a str's UTF-8 (surrogatepass), written a piece at a time
    from the str."""
    __slots__ = ("s", "n")

    def __init__(self, s):
        self.s = s
        n = 0
        for i in range(0, len(s), PIECE // 4):
            n += len(s[i:i + PIECE // 4].encode("utf-8", "surrogatepass"))
        self.n = n


def _buffer_callback(bufs, as_bytes, strs):
    as_bytes = set(map(id, as_bytes))

    def callback(pb):
        with pb.raw() as m:
            got = strs.get(id(m.obj))
            if got is not None:
                if bufs is not None:
                    sb = _StrBuf(got[1])
                    bufs.append((sb, KIND_WRITABLE, sb.n))
                return False
            if m.nbytes < OOB_MIN:
                return True
            if bufs is not None:
                kind = KIND_BYTES if m.readonly or id(pb) in as_bytes else KIND_WRITABLE
                bufs.append((pb, kind, m.nbytes))
        return False
    return callback


class _Unpickler(pickle.Unpickler):
    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.seen = []

    def find_class(self, module, name):
        if module == "builtins" and name == "str":
            return _str_call     # a str made from its buffer already is taken as it is
        return super().find_class(module, name)

    def persistent_load(self, pid):
        if type(pid) is int:
            if not 0 <= pid < len(self.seen):
                raise pickle.UnpicklingError("a persistent id refers to buffer %d of %d"
                                             % (pid, len(self.seen)))
            return self.seen[pid]
        self.seen.append(pid)
        return pid       # a buffer the pickle took out of band: the object itself


def _refused(value, e):
    if isinstance(e, RecursionError):
        return MflowInvalid(f"cannot store a {type(value).__name__} nested this deeply: JSON "
                            f"takes {OBJ_MAX_DEPTH} levels and pickle ran out of recursion")
    return MflowInvalid(f"cannot store a {type(value).__name__}: it is not portable (None, "
                        f"bool, int, float, str, bytes, list, tuple, dict) and pickle refuses "
                        f"it ({e})")


def _dump(make, value, file):
    try:
        p = make(file)
        p.dump(value)
        p.clear_memo()
        if isinstance(p, _Pickler):
            p.pids = None
    except (RecursionError, pickle.PicklingError, TypeError, AttributeError, BufferError) as e:
        raise _refused(value, e)


def _write_buffer(write, pb):
    if type(pb) is _StrBuf:
        step = PIECE // 4
        for i in range(0, len(pb.s), step):
            write(pb.s[i:i + step].encode("utf-8", "surrogatepass"))
        return
    with pb.raw() as m:
        with _Export(m) as (addr, n):
            _mem(write, addr, n, m)


def pickle_stream(value):
    """(PICKLE, length, feed) of any value pickled: the container when out-of-band buffers
    add up to STREAM_MIN or more, else a plain protocol 5 pickle. The pickle itself (without
    the buffers) is kept while it stays under SPOOL_MAX bytes, else counted in a first pass
    and written to the writer in a second; the buffers are written from their own memory."""
    top = value
    as_bytes = ()
    if type(value) is memoryview:
        # a memoryview (pickle refuses one) is stored as its bytes, and comes back as bytes
        if not value.c_contiguous:
            value = value.tobytes()
        else:
            value = pickle.PickleBuffer(value.cast("B") if value.ndim != 1 or
                                        value.format != "B" else value)
            as_bytes = (value,)
    bufs = []
    sp = _Spool()
    _dump(lambda f: _Pickler(f, bufs, as_bytes), value, sp)
    total = sum(n for _, _, n in bufs)
    plain = bufs and total + sp.n < STREAM_MIN
    if plain:
        # small after all: a plain pickle, the buffers in it
        bufs, sp = [], _Spool()
        value = top.tobytes() if type(top) is memoryview else value
        _dump(lambda f: pickle.Pickler(f, protocol=PICKLE_PROTOCOL), value, sp)

    def again(file):
        # a second pass's pickler is the one that made sp (a plain pickle passes SPOOL_MAX
        # only when STREAM_MIN is over it, as MFLOW_PY_PIECES_MIN=off makes it)
        if plain:
            return pickle.Pickler(file, protocol=PICKLE_PROTOCOL)
        return _Pickler(file, None, as_bytes)
    parts = sp.parts
    # which buffers are a str's UTF-8: said at the pickle's start, in ops that any reader
    # runs to no effect (a string pushed and popped), for this reader to make them strs
    which = [i for i, (b, _, _) in enumerate(bufs) if type(b) is _StrBuf]
    prefix = b""
    if which:
        note = (STR_BUFFERS + ",".join(map(str, which))).encode("ascii")
        prefix = b"\x80\x05X" + struct.pack("<I", len(note)) + note + b"0"

    def pickled(write):
        if prefix:
            write(prefix)
        if parts is not None:
            for p in parts:
                write(p)
        else:
            _dump(lambda f: again(_Sink(write)), value, None)

    if not bufs:
        return PICKLE, sp.n, pickled
    lens = [n for _, _, n in bufs]
    head = PREAMBLE + _U64.pack(len(bufs)) + _U64.pack(len(prefix) + sp.n) + \
        b"".join(map(_U64.pack, lens)) + bytes(k for _, k, _ in bufs)

    def feed(write):
        write(head)
        pickled(write)
        for pb, _, _ in bufs:
            _write_buffer(write, pb)
    return PICKLE, len(head) + len(prefix) + sp.n + sum(lens), feed


def container_table(head, total):
    """(count, pickle length) from a container's first CONTAINER_HEAD bytes, checked against
    the payload's length; MflowCorrupt when they cannot be."""
    n, L = struct.unpack_from("<QQ", head, len(PREAMBLE))
    rest = total - CONTAINER_HEAD
    if n == 0 or n > rest // 9 or L > rest - 9 * n:
        raise _corrupt(PICKLE, f"its container's table ({n} buffers, a pickle of {L} bytes) "
                               f"does not fit its {total} bytes")
    return n, L


def container_buffers(table, n, left):
    """[(length, kind)] of a container's n buffers from its table (9n bytes), checked to add
    up to `left`, the bytes after the pickle."""
    lens = struct.unpack_from("<%dQ" % n, table)
    kinds = table[8 * n:9 * n]
    if sum(lens) != left or any(k > KIND_WRITABLE for k in kinds):
        raise _corrupt(PICKLE, "its container's buffers do not add up to its length (or one "
                               "has an unknown kind)")
    return list(zip(lens, kinds))


def unpickle(stream, buffers):
    """The value of a container's pickle, given its buffers (bytes or bytearray each)."""
    try:
        return _Unpickler(io.BytesIO(stream), buffers=buffers).load()
    except (pickle.UnpicklingError, EOFError) as e:
        raise _corrupt(PICKLE, f"{type(e).__name__}: {e}")


def _decode_container(p):
    mv = memoryview(p)
    if len(mv) < CONTAINER_HEAD:
        raise _corrupt(PICKLE, "its container is shorter than its head")
    n, L = container_table(mv[:CONTAINER_HEAD], len(mv))
    off = CONTAINER_HEAD + 9 * n
    spec = container_buffers(mv[CONTAINER_HEAD:off], n, len(mv) - off - L)
    stream, off = mv[off:off + L], off + L
    bufs = []
    for size, kind in spec:
        piece = mv[off:off + size]
        bufs.append(bytes(piece) if kind == KIND_BYTES else bytearray(piece))
        off += size
    return unpickle(stream, bufs)


def stream(value):
    """(type, payload length, feed) for a value stored in pieces, else None (encode() it): a
    bytes, bytearray, memoryview or ndarray of STREAM_MIN bytes or more, a str of TEXT_MIN
    (a bytes object as one piece, uncopied; other values are pickled in pieces only when
    encode() says pickle: see pickle_stream)."""
    t = type(value)
    if t is bytes:
        # handed over whole from its own memory, through the writer: compressed as it goes,
        # where a put compresses it into a buffer of its whole size
        return (BYTES, len(value), lambda write: write(value)) if len(value) >= STREAM_MIN \
            else None
    if t is str:
        if len(value) < TEXT_MIN // 4:
            return None     # under TEXT_MIN of UTF-8 whatever it holds
        if value.isascii():
            return (STR, len(value), _str_feed(value, PIECE)) if len(value) >= TEXT_MIN \
                else None
        step = PIECE // 4
        try:
            n = 0
            for i in range(0, len(value), step):
                n += len(value[i:i + step].encode("utf-8"))
        except UnicodeEncodeError:
            return pickle_stream(value)
        return (STR, n, _str_feed(value, step)) if n >= TEXT_MIN else None
    if t is bytearray or t is memoryview:
        mv = memoryview(value)
        if mv.nbytes < STREAM_MIN:
            return None
        # pickled, its memory out of band (a memoryview comes back as bytes)
        return pickle_stream(value)
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
        return ty, _gather(feed), None
    return ty, n, feed


def prepare(value):
    """How a value is to be stored: (type, payload, None) to be handed over whole (the
    payload as encode() gives it), or (type, payload length, feed) to be written in pieces
    (stream(); a value to be pickled is pickled in pieces when its pickle is large)."""
    s = stream(value)
    if s is not None:
        return s
    r = encode(value, _pickle_prepared, _obj_stream)
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
        if bytes(p[:len(PREAMBLE)]) == PREAMBLE:
            return _decode_container(p)
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
