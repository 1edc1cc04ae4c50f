"""Encode + decode throughput of mflow.codec per type and size, beside the floors of the same
machine and minute (one copy of the bytes; the stdlib's json and pickle on the same data),
and the peak Python memory of encode and decode against the payload's size (tracemalloc).
    python3 bench/python_values.py [MAX_MIB]      (PYTHONPATH=sdk/python)"""
import gc
import json
import pickle
import random
import sys
import time
import tracemalloc

from mflow import codec

MAX = int(sys.argv[1]) if len(sys.argv) > 1 else 8
SIZES = [s for s in (1 << 10, 1 << 20, MAX << 20) if s <= MAX << 20]
rnd = random.Random(1)


def values(kind, size):
    """A value of about `size` payload bytes."""
    if kind == "bytes":
        return rnd.randbytes(size)
    if kind == "str":
        return "".join(rnd.choice("abcdefghé") for _ in range(min(size, 1 << 16))) * \
            max(1, size // (1 << 16))
    if kind == "i64[]":
        return [rnd.randrange(-2**63, 2**63) for _ in range(size // 8)]
    if kind == "f64[]":
        return [rnd.random() for _ in range(size // 8)]
    if kind == "str[]":
        return ["item%06d" % i for i in range(size // 18)]
    if kind == "obj":
        return [{"id": i, "name": "n%d" % i, "w": (i, 0.5)} for i in range(size // 40)]
    if kind == "pickle":
        return {i for i in range(size // 10)}
    if kind == "npy":
        import numpy
        return numpy.arange(size // 8, dtype="f8")
    raise ValueError(kind)


def timed(fn, budget=0.3):
    """Seconds per call: repeat until budget seconds, best of the rounds."""
    best, spent = None, 0.0
    while spent < budget or best is None:
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        spent += dt
        best = dt if best is None else min(best, dt)
    return best


def peak(fn):
    gc.collect()
    tracemalloc.start()
    r = fn()
    p = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    del r
    return p


def mbs(n, s):
    return n / s / 1e6


def main():
    kinds = ["bytes", "str", "i64[]", "f64[]", "str[]", "obj", "pickle"]
    try:
        import numpy  # noqa: F401
        kinds.append("npy")
    except ImportError:
        print("(numpy is not installed: no npy row)")
    print(f"{'type':<7} {'size':>7} {'stored as':>9} {'payload':>10} {'encode MB/s':>12} "
          f"{'decode MB/s':>12} {'enc peak/size':>14} {'dec peak/size':>14}")
    for kind in kinds:
        for size in SIZES:
            v = values(kind, size)
            t, p = codec.encode(v)
            n = len(p)
            te = timed(lambda: codec.encode(v))
            td = timed(lambda: codec.decode(t, p))
            pe = peak(lambda: codec.encode(v)) / n
            pd = peak(lambda: codec.decode(t, p)) / n
            label = "%d KiB" % (size >> 10) if size < 1 << 20 else "%d MiB" % (size >> 20)
            same = " (no copy: the value is the payload)" if p is v else ""
            print(f"{kind:<7} {label:>7} {codec.TYPE_NAMES[t]:>9} {n:>10} {mbs(n, te):>12.0f} "
                  f"{mbs(n, td):>12.0f} {pe:>14.2f} {pd:>14.2f}{same}")
    # floors, same machine and minute
    big = SIZES[-1]
    b = rnd.randbytes(big)
    print()
    print(f"{'floor (' + str(big >> 20) + ' MiB)':<44} {'MB/s':>10}")
    print(f"{'one copy of the bytes (bytes(bytearray))':<44} "
          f"{mbs(big, timed(lambda: bytes(bytearray(b)))):>10.0f}")
    o = values("obj", big)
    text = json.dumps(o)
    print(f"{'json.dumps of the obj row value (text MB/s)':<44} "
          f"{mbs(len(text), timed(lambda: json.dumps(o))):>10.0f}")
    print(f"{'json.loads of the same text':<44} "
          f"{mbs(len(text), timed(lambda: json.loads(text))):>10.0f}")
    s = values("pickle", big)
    pk = pickle.dumps(s, 4)
    print(f"{'pickle.dumps of the pickle row value':<44} "
          f"{mbs(len(pk), timed(lambda: pickle.dumps(s, 4))):>10.0f}")
    print(f"{'pickle.loads of the same':<44} {mbs(len(pk), timed(lambda: pickle.loads(pk))):>10.0f}")
    small = [(1, "i64"), (1.5, "f64"), ("abc", "str"), (True, "bool (obj)"), ((1, 2), "tuple")]
    print()
    print(f"{'small value':<12} {'encode+decode, us':>18}")
    for v, name in small:
        t, p = codec.encode(v)
        us = timed(lambda: [codec.decode(*codec.encode(v)) for _ in range(1000)], 0.2) * 1000
        print(f"{name:<12} {us:>18.2f}")


main()
