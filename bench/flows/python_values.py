"""The flow bench_python_values.sh times: per kind of value (a foreach), one task stores a
value of --mib MiB and the next reads it back, each timing the store or the read and taking
its peak RSS (VmHWM) over its RSS before; the join gathers the figures."""
import os
import time

from mflow import FlowSpec, Parameter, step


def mem(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return -1


def make(kind, n):
    if kind == "bytes":
        return os.urandom(n)
    if kind == "str":
        return "abcdefgh" * (n // 8)
    if kind == "str-utf8":
        return "h\u00e9llo \u20ac " * (n // 12)
    if kind == "npy":
        import numpy as np
        return np.random.default_rng(7).random(n // 8)
    if kind == "pickle":
        return {"blob": os.urandom(n), "tag": frozenset({1})}
    raise ValueError(kind)


class ValueBenchFlow(FlowSpec):
    mib = Parameter("mib", default=16)
    kinds = Parameter("kinds", default="bytes,str,str-utf8,npy,pickle")

    @step
    def start(self):
        self.todo = self.kinds.split(",")
        self.next(self.put, foreach="todo")

    @step
    def put(self):
        self.kind = self.input
        if self.kind == "npy":
            import numpy  # noqa: F401  (its import is not the store's)
        v = make(self.kind, self.mib << 20)
        base = mem("VmRSS")
        self.value = v
        t0 = time.perf_counter()
        self._mflow_flush()
        self.put_s = time.perf_counter() - t0
        self.put_peak = mem("VmHWM") - base
        self.next(self.get)

    @step
    def get(self):
        if self.kind == "npy":
            import numpy  # noqa: F401
        base = mem("VmRSS")
        t0 = time.perf_counter()
        v = self.value
        self.get_s = time.perf_counter() - t0
        self.get_peak = mem("VmHWM") - base
        del v
        self.next(self.join)

    @step
    def join(self, inputs):
        self.rows = [[i.kind, i.put_s, i.put_peak, i.get_s, i.get_peak] for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ValueBenchFlow()
