"""Large values that used to be held twice: a portable dict/list holding large bytes or a large
str (stored as obj, its JSON written and read in pieces), an object of a class holding a large
str (a pickle, the str's UTF-8 out of band), and zstd-compressible bytes whose compressible
part comes first. Per kind (a foreach), one task stores a value of --mib MiB and the next reads
it back, each taking its peak memory (VmHWM) and its RSS before, and the seconds each took;
the read checks the value (type, SHA-256 of its contents)."""
import hashlib
import random
import sys
import time

from mflow import FlowSpec, Parameter, step


def reset_peak():
    """VmHWM from now on (Linux: 5 to clear_refs resets the peak RSS)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def mem(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return -1


class Doc:
    """A class of the flow's own holding a large str (pickled)."""

    def __init__(self, text, label):
        self.text = text
        self.label = label


def make(kind, n, seed=7):
    """A value of about n bytes in memory (made by the storing task only; the same for the
    same seed)."""
    rnd = random.Random(seed)

    def rbytes(k):
        return b"".join(rnd.randbytes(min(1 << 20, k - i)) for i in range(0, k, 1 << 20))
    if kind == "obj_bytes":
        return {"weights": rbytes(n), "name": "x", "shape": [3, 4]}
    if kind == "obj_bytes2":
        # two large bytes in a list, a tuple and a tag-like key around them
        return [{"a": rbytes(n // 2)}, (rbytes(n // 2), 1.5), {"$k": None}]
    if kind == "obj_str":
        return {"text": "ab\"c\\d\n\u00e9\u20ac\U0001f600 " * (n // 24), "n": 1}
    if kind == "obj_ascii":
        return {"text": "abcdefgh" * (n // 8), "n": 1}
    if kind == "pickled_str":
        return Doc("h\u00e9llo \u20ac " * (n // 16), "doc")
    if kind == "pickled_ascii":
        return Doc("abcdefgh" * (n // 8), "doc")
    if kind == "zfirst":
        # the compressible half first, then random bytes (zstd)
        return hashlib.sha256(b"z").digest() * (n // 64) + rbytes(n // 2)
    raise ValueError(kind)


def size_of(v):
    """The memory the value's contents take."""
    if isinstance(v, str):
        return sys.getsizeof(v)
    if isinstance(v, (bytes, bytearray)):
        return len(v)
    if isinstance(v, dict):
        return sum(size_of(x) for x in v.values())
    if isinstance(v, (list, tuple)):
        return sum(size_of(x) for x in v)
    if isinstance(v, Doc):
        return size_of(v.text)
    return 0


def digest(v, h=None):
    """SHA-256 over the value's types and contents (a str in pieces: no copy of it whole)."""
    top = h is None
    h = h or hashlib.sha256()
    h.update(type(v).__name__.encode())
    if isinstance(v, str):
        for i in range(0, len(v), 1 << 22):
            h.update(v[i:i + (1 << 22)].encode("utf-8"))
    elif isinstance(v, bytes):
        h.update(v)
    elif isinstance(v, dict):
        for k in sorted(v):
            h.update(k.encode())
            digest(v[k], h)
    elif isinstance(v, (list, tuple)):
        for x in v:
            digest(x, h)
    elif isinstance(v, Doc):
        h.update(v.label.encode())
        digest(v.text, h)
    else:
        h.update(repr(v).encode())
    return h.hexdigest() if top else None


class BigStreamFlow(FlowSpec):
    mib = Parameter("mib", default=8)
    kinds = Parameter("kinds", default="obj_bytes,obj_str,pickled_str,zfirst")

    @step
    def start(self):
        self.todo = self.kinds.split(",")
        self.next(self.put, foreach="todo")

    @step
    def put(self):
        self.kind = self.input
        v = make(self.kind, self.mib << 20)
        self.sha = digest(v)
        self.size = size_of(v)
        reset_peak()
        base = mem("VmRSS")
        t0 = time.perf_counter()
        self.value = v
        del v
        self._mflow_flush()      # stored here: the peak is the store's
        self.put_s = time.perf_counter() - t0
        self.put_base = base
        self.put_peak = mem("VmHWM")
        self.next(self.get)

    @step
    def get(self):
        reset_peak()
        base = mem("VmRSS")
        t0 = time.perf_counter()
        v = self.value
        self.get_s = time.perf_counter() - t0
        self.get_peak = mem("VmHWM")
        self.get_base = base
        self.ok = digest(v) == self.sha
        self.got_type = type(v).__name__
        self.next(self.join)

    @step
    def join(self, inputs):
        self.rows = [[i.kind, i.size, i.put_base, i.put_peak, i.get_base, i.get_peak, i.ok,
                      i.got_type, i.put_s, i.get_s] for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    BigStreamFlow()
