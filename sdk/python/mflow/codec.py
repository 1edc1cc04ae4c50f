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

Standard library only; numpy is imported when a value is an ndarray or a payload is npy.
Decoding a pickle runs whatever the pickle says: read only datastores you trust.
"""
import array
import base64
import io
import json
import math
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
        return {"$bytes": base64.b64encode(v).decode("ascii")}
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


def _obj(v):
    """The obj payload of v, or None when v is not portable."""
    try:
        tree = _tagged(v, 0, set())
        text = json.dumps(tree, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
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


def encode(value):
    """(type, payload) of a Python value (see the module's doc for which type)."""
    t = type(value)
    if t is int and I64_MIN <= value <= I64_MAX:
        return I64, _Q.pack(value)
    if t is float:
        return F64, _D.pack(value)
    if t is str:
        b = _utf8(value)
        return (STR, b) if b is not None else (PICKLE, _pickle(value))
    if t is bytes:
        return BYTES, value
    if t is list and value:
        t0 = type(value[0])
        if t0 is int and all(type(x) is int and I64_MIN <= x <= I64_MAX for x in value):
            return I64V, _words("q", value)
        if t0 is float and all(type(x) is float for x in value):
            return F64V, _words("d", value)
        if t0 is str and all(type(x) is str for x in value):
            enc = [_utf8(x) for x in value]
            if all(b is not None for b in enc):
                return STRV, _strv(enc)
    if _is_ndarray(value):
        p = _npy(value)
        if p is not None:
            return NPY, p
        return PICKLE, _pickle(value)
    p = _obj(value)
    if p is not None:
        return OBJ, p
    return PICKLE, _pickle(value)


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
    mv = memoryview(p)
    f = io.BytesIO(mv[:min(len(mv), 1 << 20)])   # the header: small, at the start
    try:
        major, minor = np.lib.format.read_magic(f)
        if (major, minor) == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
    except ValueError as e:
        raise _corrupt(NPY, str(e))
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
