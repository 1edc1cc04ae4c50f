"""Large values stored and read back by separate tasks, each measuring its own peak memory
(VmHWM) against its memory when the step began (VmRSS): --mib sets the size of each value;
--numpy=false leaves the array out. Every value's SHA-256 is kept beside it."""
import hashlib
import os

from mflow import FlowSpec, Parameter, step


def mem(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return -1


def sha(v):
    h = hashlib.sha256()
    if isinstance(v, str):
        for i in range(0, len(v), 1 << 22):
            h.update(v[i:i + (1 << 22)].encode("utf-8"))
    else:
        h.update(memoryview(v).cast("B"))
    return h.hexdigest()


class BigValuesFlow(FlowSpec):
    mib = Parameter("mib", default=8)
    numpy = Parameter("numpy", default="true")

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
