"""A portable value with large members (obj), written and read in pieces against whole (how
every obj went before), in one process, same minute: seconds (best of ROUNDS, the two paths
taking turns) and the peak memory each adds (VmHWM of a child per cell, reset once the value
is made) over the large member's own memory.
    python3 bench/python_obj_stream.py [MIB] [ROUNDS]     (PYTHONPATH=sdk/python)
Write: encode() whole, against prepare()'s pieces handed to a writer that drops them. Read:
decode() of the payload copied into a fresh mapping, against _objread.read_obj() filling its
mapping from the same payload (in a task, the blob's mapping is faulted in, or read into the
mapping)."""
import ctypes
import mmap
import os
import resource
import sys
import time

from mflow import codec, _objread

MIB = int(sys.argv[1]) if len(sys.argv) > 1 else 64
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 3


def make(kind, n):
    if kind == "bytes":
        return {"weights": os.urandom(n), "name": "x"}
    if kind == "str-utf8":
        return {"text": "ab\"c\\d\n\u00e9\u20ac\U0001f600 " * (n // 24), "n": 1}
    if kind == "str-latin1":
        return {"text": "abc\u00e9" * (n // 5)}
    if kind == "str-ascii":
        return {"text": "abcdefgh" * (n // 8)}
    raise ValueError(kind)


def write_whole(v):
    return codec.encode(v)


def write_pieces(v):
    ty, n, feed = codec.prepare(v)
    feed(lambda piece: None)


def read_whole(p):
    # the payload brought into memory first, as both paths do in a task (the blob's mapping
    # faulted in, or the read into the mapping of its own)
    m = mmap.mmap(-1, len(p))
    m.write(p)
    with memoryview(m) as mv:
        v = codec.decode(codec.OBJ, mv)
    m.close()
    return v


def read_pieces(p):
    return _objread.read_obj(len(p), lambda a: ctypes.memmove(a, p, len(p)))


def status(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return -1


def child_peak(kind, op):
    """The peak RSS (VmHWM, reset first) a child adds doing op once, over what it held with
    the value (and for a read, the payload) made."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        v = make(kind, MIB << 20)
        size = max(sys.getsizeof(x) for x in v.values())      # the large member's memory
        p = codec.encode(v)[1] if op.startswith("read") else None
        if p is not None:
            del v
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        base = status("VmRSS")
        x = globals()[op](p if p is not None else v)
        peak = status("VmHWM")
        del x
        os.write(w, b"%f" % ((peak - base) / size))
        os._exit(0)
    os.close(w)
    got = os.read(r, 64)
    os.close(r)
    os.waitpid(pid, 0)
    return float(got or b"-1")


def main():
    print(f"obj values of {MIB} MiB, load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} CPUs")
    print(f"{'member':<11} {'op':<6} {'whole s':>8} {'pieces s':>9} {'ratio':>6} "
          f"{'whole +peak/v':>14} {'pieces +peak/v':>15}")
    n = MIB << 20
    for kind in ("bytes", "str-utf8", "str-latin1", "str-ascii"):
        v = make(kind, n)
        p = codec.encode(v)[1]
        for op, whole, pieces, arg in (("write", write_whole, write_pieces, v),
                                       ("read", read_whole, read_pieces, p)):
            tw = tp = None
            for _ in range(ROUNDS):
                t0 = time.perf_counter()
                x = whole(arg)
                t1 = time.perf_counter()
                del x
                y = pieces(arg)
                t2 = time.perf_counter()
                del y
                tw = t1 - t0 if tw is None else min(tw, t1 - t0)
                tp = t2 - t1 if tp is None else min(tp, t2 - t1)
            mw = child_peak(kind, op + "_whole")
            mp = child_peak(kind, op + "_pieces")
            print(f"{kind:<11} {op:<6} {tw:>8.2f} {tp:>9.2f} {tp / tw:>6.2f} {mw:>14.2f} "
                  f"{mp:>15.2f}")
        del v, p
    print()
    print(f"{'small obj':<24} {'encode us':>10} {'prepare us':>11}")
    for v in ({"a": 1, "b": [1, 2]}, [b"x" * 100, "y", (1, 2)], {"k%d" % i: "v" * 50 for i in range(50)}):
        te = tp = None
        for _ in range(ROUNDS):
            t0 = time.perf_counter()
            for _ in range(2000):
                codec.encode(v)
            t1 = time.perf_counter()
            for _ in range(2000):
                codec.prepare(v)
            t2 = time.perf_counter()
            te = (t1 - t0) / 2000 if te is None else min(te, (t1 - t0) / 2000)
            tp = (t2 - t1) / 2000 if tp is None else min(tp, (t2 - t1) / 2000)
        print(f"{repr(v)[:24]:<24} {te * 1e6:>10.1f} {tp * 1e6:>11.1f}")


main()
