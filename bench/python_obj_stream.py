"""A portable value with large members (obj), written and read in pieces against whole (how
every obj went before), in one process, same minute: seconds (best of ROUNDS, the two paths
taking turns) and the peak memory each adds over the value (ru_maxrss of a child per row).
    python3 bench/python_obj_stream.py [MIB] [ROUNDS]     (PYTHONPATH=sdk/python)
Write: encode() whole, against prepare()'s pieces handed to a writer that drops them. Read:
decode() of the payload held whole, against _objread.read_obj() filling its mapping from the
same payload (the task's read fills it from the blob)."""
import ctypes
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
    return codec.decode(codec.OBJ, p)


def read_pieces(p):
    return _objread.read_obj(len(p), lambda a: ctypes.memmove(a, p, len(p)))


def child_peak(kind, op):
    """ru_maxrss (bytes) a child adds doing op once, over the value (and payload) it made."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        v = make(kind, MIB << 20)
        p = codec.encode(v)[1] if op.startswith("read") else None
        if p is not None:
            del v
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        x = globals()[op](p if p is not None else v)
        del x
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        os.write(w, b"%d" % ((peak - base) * 1024))
        os._exit(0)
    os.close(w)
    got = os.read(r, 64)
    os.close(r)
    os.waitpid(pid, 0)
    return int(got or b"-1")


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
            mw = child_peak(kind, op + "_whole") / n
            mp = child_peak(kind, op + "_pieces") / n
            print(f"{kind:<11} {op:<6} {tw:>8.2f} {tp:>9.2f} {tp / tw:>6.2f} {mw:>14.2f} "
                  f"{mp:>15.2f}")
        del v, p


main()
