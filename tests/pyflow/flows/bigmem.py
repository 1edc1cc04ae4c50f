"""What the big-value flows (bigpickles.py, bigstream.py, bigvalues.py) share: a task's memory
(its RSS, its peak since a reset), a SHA-256 over a value's types and contents, and a store and
a read of one value, each measured. A flow's own classes come in through `own` hooks. Imports
nothing large: a task's peak is the value's."""
import hashlib
import sys
import time


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


def size_of(v, own=None):
    """The memory the value's contents take; own(v) that of an object of the flow's class."""
    if isinstance(v, str):
        return sys.getsizeof(v)
    if isinstance(v, (bytes, bytearray, memoryview)):
        return memoryview(v).nbytes
    if isinstance(v, dict):
        return sum(size_of(x, own) for x in v.values())
    if isinstance(v, (list, tuple)):
        return sum(size_of(x, own) for x in v)
    if type(v).__name__ == "ndarray":
        return v.nbytes
    return own(v) if own else 0


def digest(v, h=None, own=None):
    """SHA-256 over the value's types and contents (a str in pieces: no copy of it whole);
    own(v, h) hashes an object of the flow's class into h and says True, else False."""
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
            digest(v[k], h, own)
    elif isinstance(v, (list, tuple, frozenset, set)):
        for x in (sorted(v) if isinstance(v, (set, frozenset)) else v):
            digest(x, h, own)
    elif own and own(v, h):
        pass
    elif type(v).__name__ == "ndarray":
        h.update(("%s %s %s %s" % (v.dtype, v.shape, v.flags.writeable,
                                   v.flags.f_contiguous and not v.flags.c_contiguous)).encode())
        h.update(memoryview(v.tobytes("A")))
    else:
        h.update(repr(v).encode())
    return h.hexdigest() if top else None


def put_measured(flow, make, own=None, store=None):
    """Store the value make() returns as flow.value (or with store(v)), flushed in the step so
    the peak is the store's: sets the flow's sha and size (of the value), put_base (RSS before
    the store), put_peak and put_s. Only this frame holds the value, and lets it go before the
    flush."""
    v = make()
    flow.sha = digest(v, own=own)
    flow.size = size_of(v, own)
    reset_peak()
    base = mem("VmRSS")
    t0 = time.perf_counter()
    if store:
        store(v)
    else:
        flow.value = v
    del v
    flow._mflow_flush()      # stored here: the peak is the store's
    flow.put_s = time.perf_counter() - t0
    flow.put_base = base
    flow.put_peak = mem("VmHWM")


def get_measured(flow, own=None):
    """Read flow.value back: sets get_base (RSS before), get_peak, get_s, ok (the value's
    digest is the stored sha) and got_type."""
    reset_peak()
    base = mem("VmRSS")
    t0 = time.perf_counter()
    v = flow.value
    flow.get_s = time.perf_counter() - t0
    flow.get_peak = mem("VmHWM")
    flow.get_base = base
    flow.ok = digest(v, own=own) == flow.sha
    flow.got_type = type(v).__name__
