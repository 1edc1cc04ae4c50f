"""Large values that used to be held twice: a portable dict/list holding large bytes or a large
str (stored as obj, its JSON written and read in pieces), an object of a class holding a large
str (a pickle, the str's UTF-8 out of band), and zstd-compressible bytes whose compressible
part comes first. Per kind (a foreach), one task stores a value of --mib MiB and the next reads
it back, each taking its peak memory (VmHWM) and its RSS before, and the seconds each took;
the read checks the value (type, SHA-256 of its contents)."""
import hashlib
import random

from bigmem import digest as _digest, get_measured, put_measured, size_of
from mflow import FlowSpec, Parameter, step


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


def own(v, h=None):
    """The Doc hook of bigmem's size_of (h None) and digest."""
    if not isinstance(v, Doc):
        return 0 if h is None else False
    if h is None:
        return size_of(v.text)
    h.update(v.label.encode())
    _digest(v.text, h)
    return True


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
        put_measured(self, lambda: make(self.kind, self.mib << 20), own)
        self.next(self.get)

    @step
    def get(self):
        get_measured(self, own)
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
