"""Large values stored and read back by separate tasks, each measuring its own peak memory
(VmHWM) against its memory when the step began (VmRSS): --mib sets the size of each value;
--numpy=false leaves the array out. Every value's SHA-256 is kept beside it."""
import hashlib
import os

from bigmem import mem
from mflow import FlowSpec, Parameter, step


def sha(v):
    h = hashlib.sha256()
    if isinstance(v, str):
        for i in range(0, len(v), 1 << 22):
            h.update(v[i:i + (1 << 22)].encode("utf-8"))
    else:
        h.update(memoryview(v).cast("B"))
    return h.hexdigest()


def mixed(n, with_numpy):
    """Values of about n bytes, of every kind that is stored in pieces, made the same way by
    the task that stores them and the one that checks them."""
    rnd = hashlib.sha256(b"mflow").digest() * (n // 32)     # compresses: stored as zstd
    v = {
        "zbytes": rnd,
        "ascii": "abcdefgh" * (n // 8),
        "utf8": "h\u00e9llo \u20ac\U0001f600 " * (n // 20),
        "barr": bytearray(rnd),
        "mview": memoryview(bytearray(b"0123456789abcdef" * (n // 16))),
        "bigdict": {"blob": rnd, "s": frozenset({3})},   # pickled: the bytes inside not copied
        "bigset": set(range(n // 5)),              # pickled twice: its text is counted first
        "surrogate": "x\udc80" * (n // 8),          # a lone surrogate: pickled
    }
    if with_numpy:
        import numpy as np
        v["farr"] = np.arange(n // 8, dtype=np.float64).reshape(-1, 8).T   # Fortran order
        v["strided"] = np.arange(n // 4, dtype=np.int32)[::2]              # not contiguous
        v["objarr"] = np.array([None, "x"] * (n // 160), dtype=object)     # pickled
        # under 1 MiB, random (a raw blob, which the store maps read-only): still its own
        v["small_arr"] = np.random.default_rng(3).random(100000)
    return v


class BigValuesFlow(FlowSpec):
    mib = Parameter("mib", default=8)
    numpy = Parameter("numpy", default="true")
    mix = Parameter("mix", default="false")

    def _put(self, name, make):
        base = mem("VmRSS")
        v = make(self.mib << 20)
        setattr(self, name, v)
        setattr(self, name + "_sha", sha(v))
        del v
        self._mflow_flush()      # stored here, not after the step: the peak is measured now
        setattr(self, name + "_base", base)
        setattr(self, name + "_peak", mem("VmHWM"))

    def _get(self, name, got):
        base = mem("VmRSS")
        v = getattr(self, name)
        if type(v).__name__ == "ndarray":
            v[0] = v[0]          # its own memory: writable (not the store's read-only mapping)
        setattr(self, name + "_ok", sha(v) == getattr(self, name + "_sha"))
        setattr(self, name + "_type", type(v).__name__)
        if type(v).__name__ == "ndarray":
            setattr(self, name + "_type", "ndarray %s %s %s" % (v.dtype, v.shape,
                                                                 v.flags.writeable))
        setattr(self, name + "_base", base)
        setattr(self, name + "_peak", mem("VmHWM"))

    @step
    def start(self):
        self.next(self.put_bytes)

    @step
    def put_bytes(self):
        self._put("raw", os.urandom)
        if self.mix == "true":
            for name, v in mixed(self.mib << 20, self.numpy == "true").items():
                setattr(self, name, v)
        self.next(self.put_array)

    @step
    def put_array(self):
        if self.numpy == "true":
            import numpy as np
            self._put("arr", lambda n: np.random.default_rng(7).random(n // 8))
        self.next(self.get_bytes)

    @step
    def get_bytes(self):
        self._get("raw", bytes)
        if self.mix == "true":
            bad = []
            for name, want in mixed(self.mib << 20, self.numpy == "true").items():
                got = getattr(self, name)
                if type(want) is memoryview:
                    want = want.tobytes()          # a memoryview comes back as bytes
                if type(got).__name__ == "ndarray" and got.size and got.dtype != object:
                    got.flat[0] = got.flat[0]      # an array read back is writable memory
                same = type(got) is type(want) and (
                    bool((got == want).all()) if type(want).__name__ == "ndarray" else got == want)
                if not same:
                    bad.append(name)
            self.mix_bad = " ".join(bad) or "none"
        self.next(self.get_array)

    @step
    def get_array(self):
        if self.numpy == "true":
            self._get("arr", None)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    BigValuesFlow()
