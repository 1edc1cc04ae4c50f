"""Large values that are not one buffer (a str, a dict of large bytes, an object holding a
numpy array, a list of arrays): per kind (a foreach), one task stores a value of --mib MiB
and the next reads it back, each taking its peak memory (VmHWM) and its RSS before; the
read checks the value (type, SHA-256 of its contents) before anything else touches it.
--kinds picks the kinds (numpy's need numpy)."""
import hashlib
import os

from bigmem import digest as _digest, get_measured, put_measured
from mflow import FlowSpec, Parameter, step


def set_plain(flow, name, v):
    """Store v as a plain protocol 4 pickle, through the task's own call (what mflow did)."""
    import pickle
    from mflow import codec
    task = flow._mflow_task
    p = pickle.dumps(v, 4)
    if task.lib.mf_foreign_set(task.t, name.encode(), codec.PICKLE, p, len(p)):
        raise RuntimeError(task.lib.mf_foreign_error(task.t).decode())


class Holder:
    """A class of the flow's own, pickled by reference to this module."""

    def __init__(self, arr, label):
        self.arr = arr
        self.label = label


def make(kind, n):
    """A value of about n bytes in memory: made by the storing task only (urandom)."""
    if kind == "str":
        return "abcdefgh" * (n // 8)
    if kind == "str_utf8":
        # 2 bytes a character in memory (U+20AC), 11 bytes of UTF-8 a repeat of 8 characters
        return "h\u00e9llo \u20ac " * (n // 16)
    if kind == "dict_bytes":
        # large bytes in a dict with a part that is not portable (a set): a pickle
        return {"k%d" % i: os.urandom(n // 4) for i in range(4)} | {"tags": {"raw", "v1"}}
    if kind == "plain_dict_bytes":
        # portable: stored as obj (its bytes base64'd) for other languages to read
        return {"k%d" % i: os.urandom(n // 4) for i in range(2)}
    if kind == "mixed_bytes":
        # compressible (zstd) bytes, a bytearray and bytes beside small things
        z = hashlib.sha256(b"z").digest() * (n // 128)
        return {"z": z, "ba": bytearray(os.urandom(n // 4)), "set": frozenset({1, 2}),
                "b": os.urandom(n // 4), "t": (1, "x")}
    if kind == "zdict":
        return {"z": hashlib.sha256(b"z").digest() * (n // 32), "s": frozenset({1})}
    if kind == "oldpickle":
        return {"s": set(range(n // 64)), "b": os.urandom(n // 2)}
    import numpy as np
    rng = np.random.default_rng(11)
    if kind == "obj_array":
        return Holder(rng.random(n // 8), "weights")
    if kind == "list_arrays":
        return [rng.random(n // 32), rng.integers(0, 99, n // 32, dtype=np.int64).reshape(-1, 4),
                np.asfortranarray(rng.random(n // 16).reshape(1024, -1)), "tail", 3]
    raise ValueError(kind)


def own(v, h=None):
    """The Holder hook of bigmem's size_of (h None) and digest."""
    if not isinstance(v, Holder):
        return 0 if h is None else False
    if h is None:
        return v.arr.nbytes
    h.update(v.label.encode())
    _digest(v.arr, h)
    return True


def digest(v):
    """SHA-256 over the value's types and contents, a Holder's label and array included."""
    return _digest(v, own=own)


class BigPicklesFlow(FlowSpec):
    mib = Parameter("mib", default=8)
    kinds = Parameter("kinds", default="str,str_utf8,dict_bytes,mixed_bytes")

    @step
    def start(self):
        self.todo = self.kinds.split(",")
        self.next(self.put, foreach="todo")

    @step
    def put(self):
        self.kind = self.input
        if self.kind in ("obj_array", "list_arrays"):
            import numpy  # noqa: F401  (its import is not the store's)
        # oldpickle: a large pickle as mflow wrote them before the container: plain, protocol 4
        put_measured(self, lambda: make(self.kind, self.mib << 20), own,
                     (lambda v: set_plain(self, "value", v)) if self.kind == "oldpickle" else None)
        self.next(self.get)

    @step
    def get(self):
        if self.kind in ("obj_array", "list_arrays"):
            import numpy  # noqa: F401
        get_measured(self, own)
        self.next(self.join)

    @step
    def join(self, inputs):
        self.rows = [[i.kind, i.size, i.put_base, i.put_peak, i.get_base, i.get_peak, i.ok,
                      i.got_type] for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    BigPicklesFlow()
