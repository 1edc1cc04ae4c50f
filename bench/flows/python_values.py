"""The flow bench_python_values.sh times: per kind of value (a foreach), one task stores a
value of --mib MiB and the next reads it back, each timing the store or the read and taking
its peak RSS (VmHWM) over its RSS before; the join gathers the figures.
With --limits (bench_python_limits.sh), the foreach runs over cells instead: a limit of the
Python SDK's (codec.py, _objread.py), one of the two paths it chooses between (forced in the
task by setting the limit just under or over the cell's size), a size and a repetition; each
task also takes its CPU time, and the store a floor (a plain write + fsync of as many bytes)."""
import os
import random
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


def reset_peak():
    """VmHWM from now on (Linux: 5 to clear_refs resets the peak RSS)."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


K, M = 1 << 10, 1 << 20
SMALL = [4 * K, 16 * K, 32 * K, 64 * K, 128 * K, 256 * K, M]       # around 64 KiB
MID = [64 * K, 256 * K, 512 * K, M, 2 * M, 4 * M, 16 * M]           # around 1 MiB
# limit: (the two paths, the sizes, what a size is)
PLAN = {
    "oob_bytes": (("oob", "inband"), SMALL, "each bytes in a pickled object of 8 MiB"),
    "oob_str": (("oob", "inband"), SMALL, "each str (chars) in a pickled object of 8 MiB"),
    "member_bytes": (("pieces", "whole"), SMALL, "each bytes member of an obj of 8 MiB"),
    "member_str": (("pieces", "whole"), SMALL, "each str member of an obj of 8 MiB"),
    "window": (("m64k", "m1m"), [4 * K, 16 * K, 32 * K, 64 * K, 256 * K, M],
               "_objread.WINDOW; an obj of 8 MiB of 64 KiB or 1 MiB str members"),
    "stream_bytes": (("pieces", "whole"), MID, "a bytes value"),
    "stream_str": (("pieces", "whole"), MID, "a str value (ASCII)"),
    "stream_npy": (("pieces", "whole"), MID, "a float64 array"),
    "stream_obj": (("pieces", "whole"), MID, "an obj holding one str of this many chars"),
    "stream_pickle": (("pieces", "whole"), MID, "an object holding one bytes"),
    "spool_str": (("keep", "twice"), [M, 4 * M, 16 * M, 64 * M, 256 * M],
                  "the pickle of a list of 1000-char strs"),
    "spool_int": (("keep", "twice"), [M, 4 * M, 16 * M, 64 * M],
                  "the pickle of a list of large ints"),
    "zstd": (("read",), [64 * M, 256 * M], "bytes that zstd takes to 0.5x (READ_PIECE: the lib)"),
}


def hexstr(n):
    return os.urandom((n + 1) // 2).hex()[:n]


def make_cell(lim, s):
    """The cell's value (its bytes random: no two cells store the same blob) and its size."""
    if lim in ("oob_bytes", "member_bytes"):
        v = [os.urandom(s) for _ in range(max(1, (8 * M) // s))]
        return ({"m": v, "t": frozenset({1})} if lim == "oob_bytes" else {"m": v}), 8 * M
    if lim in ("oob_str", "member_str"):
        h = hexstr(8 * M)
        v = [h[i:i + s] for i in range(0, len(h), s)]
        del h
        return ({"m": v, "t": frozenset({1})} if lim == "oob_str" else {"m": v}), 8 * M
    if lim == "window":
        return None, 8 * M                    # made by the path (the member's size)
    if lim == "stream_bytes":
        return os.urandom(s), s
    if lim == "stream_str":
        return hexstr(s), s
    if lim == "stream_npy":
        import numpy as np
        return np.random.default_rng().random(s // 8), s
    if lim == "stream_obj":
        return {"text": hexstr(s), "n": 1}, s
    if lim == "stream_pickle":
        return {"b": os.urandom(s), "t": frozenset({1})}, s
    if lim == "spool_str":
        h = hexstr(s)
        v = [h[i:i + 1000] for i in range(0, len(h), 1000)]
        return [v, frozenset({1})], s       # not portable: pickled (a flat list is str[])
    if lim == "spool_int":
        b = random.getrandbits(40) << 8          # LONG1 of 6 bytes: 8 pickled bytes an int
        return [list(range(b, b + s // 8)), frozenset({1})], s
    if lim == "zstd":
        return os.urandom(s // 2).hex().encode(), s
    raise ValueError(lim)


def configure(lim, path, s):
    """Force the cell's path: its limit set at (or just over) the cell's size; "default"
    leaves the limits as they are (the path the code takes: for a before and after)."""
    from mflow import codec, _objread
    if path == "default":
        return
    if lim.startswith("oob_"):
        if lim == "oob_str":
            codec.STR_OOB_MIN = s if path == "oob" else s + 1
        else:
            codec.OOB_MIN = s if path == "oob" else s + 1
    elif lim.startswith("member_"):
        if lim == "member_bytes":
            codec.BYTES_MEMBER = s if path == "pieces" else s + 1
            _objread._B64_LEAST = (codec.BYTES_MEMBER + 2) // 3 * 4
        else:
            codec.BIG_MEMBER = s if path == "pieces" else s + 1
        if path == "pieces":
            # found by the reader only when a window fits in the member's text
            _objread.WINDOW = min(_objread.WINDOW, s // 2)
    elif lim == "window":
        _objread.WINDOW = s
    elif lim.startswith("stream_"):
        codec.STREAM_MIN = codec.TEXT_MIN = s if path == "pieces" else 1 << 62
        codec.PIECES_OFF = path == "whole"
    elif lim.startswith("spool_"):
        codec.SPOOL_MAX = 1 << 62 if path == "keep" else 0


def cells(limits, reps):
    """limit:path:size:rep for every cell, the paths taking turns (the order flipped every
    other repetition). A limit given as LIMIT=PATH+PATH runs those paths ("default": none
    forced)."""
    out = []
    for rep in range(reps):
        for lim in limits:
            paths, sizes, _ = PLAN[lim.split("=")[0]]
            if "=" in lim:
                lim, want = lim.split("=")
                paths = tuple(want.split("+"))
            for s in sizes:
                for p in (paths if rep % 2 == 0 else paths[::-1]):
                    out.append("%s:%s:%d:%d" % (lim, p, s, rep))
    return out


def timed(fn):
    w, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w, time.process_time() - c


class ValueBenchFlow(FlowSpec):
    mib = Parameter("mib", default=16)
    kinds = Parameter("kinds", default="bytes,str,str-utf8,npy,pickle")
    limits = Parameter("limits", default="")
    reps = Parameter("reps", default=3)

    @step
    def start(self):
        if self.limits:
            self.plan = cells(self.limits.split(","), int(self.reps))
        else:
            self.plan = self.kinds.split(",")
        self.next(self.put, foreach="plan")

    @step
    def put(self):
        self.kind = self.input
        if ":" in self.kind:
            self._put_cell()
        else:
            self._put_kind()
        self.next(self.get)

    def _put_kind(self):
        if self.kind == "npy":
            import numpy  # noqa: F401  (its import is not the store's)
        v = make(self.kind, self.mib << 20)
        base = mem("VmRSS")
        self.value = v
        t0 = time.perf_counter()
        self._mflow_flush()
        self.put_s = time.perf_counter() - t0
        self.put_peak = mem("VmHWM") - base

    def _put_cell(self):
        lim, path, s, _ = self.kind.split(":")
        s = int(s)
        if lim == "stream_npy":
            import numpy  # noqa: F401
        self._mflow_flush()                     # the cell's name stored before the value's
        configure(lim, path, s)
        if lim == "window":
            member = 64 * K if path == "m64k" else M
            h = hexstr(8 * M)
            v, n = {"m": [h[i:i + member] for i in range(0, len(h), member)]}, 8 * M
            del h
        else:
            v, n = make_cell(lim, s)
        reset_peak()
        base = mem("VmRSS")
        self.value = v
        del v
        self.put_s, self.put_cpu = timed(self._mflow_flush)
        self.put_peak = mem("VmHWM") - base
        self.n = n
        # the floor: as many bytes written to a file of the datastore's file system, fsync'd
        b = bytes(n)
        f = os.path.join(os.environ["MFLOW_HOME"], "floor.%d" % os.getpid())

        def floor():
            with open(f, "wb") as o:
                o.write(b)
                o.flush()
                os.fsync(o.fileno())
        self.floor_s = timed(floor)[0]
        os.unlink(f)

    @step
    def get(self):
        if self.kind == "npy" or self.kind.startswith("stream_npy:"):
            import numpy  # noqa: F401
        if ":" in self.kind:
            lim, path, s, _ = self.kind.split(":")
            configure(lim, path, int(s))
            reset_peak()
        base = mem("VmRSS")
        t = [time.perf_counter(), time.process_time()]
        v = self.value
        self.get_s, self.get_cpu = time.perf_counter() - t[0], time.process_time() - t[1]
        self.get_peak = mem("VmHWM") - base
        del v
        self.next(self.join)

    @step
    def join(self, inputs):
        if self.limits:
            self.rows = [[i.kind, i.n, i.put_s, i.put_cpu, i.put_peak, i.get_s, i.get_cpu,
                          i.get_peak, i.floor_s] for i in inputs]
        else:
            self.rows = [[i.kind, i.put_s, i.put_peak, i.get_s, i.get_peak] for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ValueBenchFlow()
