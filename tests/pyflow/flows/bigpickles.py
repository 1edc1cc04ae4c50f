"""Large values that are not one buffer (a str, a dict of large bytes, an object holding a
numpy array, a list of arrays): per kind (a foreach), one task stores a value of --mib MiB
and the next reads it back, each taking its peak memory (VmHWM) and its RSS before; the
read checks the value (type, SHA-256 of its contents) before anything else touches it.
--kinds picks the kinds (numpy's need numpy)."""
import hashlib
import os
import sys

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


def size_of(v):
    """The memory the value's contents take."""
    if isinstance(v, str):
        return sys.getsizeof(v)
    if isinstance(v, (bytes, bytearray, memoryview)):
        return memoryview(v).nbytes
    if isinstance(v, dict):
        return sum(size_of(x) for x in v.values())
    if isinstance(v, (list, tuple)):
        return sum(size_of(x) for x in v)
    if isinstance(v, Holder):
        return v.arr.nbytes
    if type(v).__name__ == "ndarray":
        return v.nbytes
    return 0


def digest(v, h=None):
    """SHA-256 over the value's types and contents (a str in pieces: no copy of it whole)."""
    top = h is None
    h = h or hashlib.sha256()
    h.update(type(v).__name__.encode())
    if isinstance(v, str):
        for i in range(0, len(v), 1 << 22):
            h.update(v[i:i + (1 << 22)].encode("utf-8"))
    elif isinstance(v, (bytes, bytearray, memoryview)):
        h.update(memoryview(v).cast("B"))
    elif isinstance(v, dict):
        for k in sorted(v):
            h.update(k.encode())
            digest(v[k], h)
    elif isinstance(v, (list, tuple, frozenset, set)):
        for x in (sorted(v) if isinstance(v, (set, frozenset)) else v):
            digest(x, h)
    elif isinstance(v, Holder):
        h.update(v.label.encode())
        digest(v.arr, h)
    elif type(v).__name__ == "ndarray":
        h.update(("%s %s %s %s" % (v.dtype, v.shape, v.flags.writeable,
                                   v.flags.f_contiguous and not v.flags.c_contiguous)).encode())
        h.update(memoryview(v.tobytes("A")))
    else:
        h.update(repr(v).encode())
    return h.hexdigest() if top else None


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
        v = make(self.kind, self.mib << 20)
        self.sha = digest(v)
        self.size = size_of(v)
        reset_peak()
        base = mem("VmRSS")
        if self.kind == "oldpickle":
            # a large pickle as mflow wrote them before the container: plain, protocol 4
            set_plain(self, "value", v)
        else:
            self.value = v
        del v
        self._mflow_flush()      # stored here: the peak is the store's
        self.put_base = base
        self.put_peak = mem("VmHWM")
        self.next(self.get)

    @step
    def get(self):
        if self.kind in ("obj_array", "list_arrays"):
            import numpy  # noqa: F401
        reset_peak()
        base = mem("VmRSS")
        v = self.value
        self.get_peak = mem("VmHWM")
        self.get_base = base
        self.ok = digest(v) == self.sha
        self.got_type = type(v).__name__
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
