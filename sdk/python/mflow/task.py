"""Running a Python step: `mflow task flow.py STEP ...` execs `python3 -m mflow task flow.py
STEP ...`; this imports the flow, loads the libmflow.so of that mflow (MFLOW_LIBMFLOW) and
hands the task to it (mf_task_run_foreign), which does everything a C task does and calls
back here for the step's body. Artifacts go through codec.py's encoding."""
import ctypes
import mmap
import os
import sys
import traceback

from . import codec
from .current import current
from .flowspec import FlowSpec, Inputs, MflowError

STEP_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p)
# mf_foreign_span_fn: (ud, void **dst, size_t *len) -> 0, or non-zero to stop the read
SPAN_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p),
                           ctypes.POINTER(ctypes.c_size_t))

_lib = None


def libmflow():
    """libmflow.so of the mflow that started this task, with the calls used here declared."""
    global _lib
    if _lib is not None:
        return _lib
    from ._lib import load
    # `mflow task` set MFLOW_LIBMFLOW to its own libmflow, which _lib loads first
    lib = load()
    P, S, I = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int
    SZ, U64 = ctypes.c_size_t, ctypes.c_uint64
    sig = {
        "mf_task_run_foreign": (I, [I, ctypes.POINTER(S), STEP_FN, P]),
        "mf_task_foreign_fail": (None, [P, S]),
        "mf_foreign_error": (S, [P]),
        "mf_foreign_set": (I, [P, S, I, ctypes.c_char_p, SZ]),
        "mf_foreign_get": (I, [P, S, ctypes.POINTER(I), ctypes.POINTER(P), ctypes.POINTER(SZ)]),
        "mf_foreign_input_get": (I, [P, SZ, S, ctypes.POINTER(I), ctypes.POINTER(P),
                                     ctypes.POINTER(SZ)]),
        "mf_foreign_merge": (I, [P, S]),
        "mf_foreign_writer_open": (I, [P, I, U64, ctypes.POINTER(P)]),
        "mf_foreign_writer_write": (I, [P, P, P, SZ]),
        "mf_foreign_writer_close": (I, [P, P, S]),
        "mf_foreign_writer_abort": (None, [P, P]),
        "mf_foreign_stat": (I, [P, ctypes.c_int64, S, ctypes.POINTER(I), ctypes.POINTER(U64)]),
        "mf_foreign_read": (I, [P, ctypes.c_int64, S, P, SZ]),
        "mf_foreign_read_spans": (I, [P, ctypes.c_int64, S, SPAN_FN, P]),
        "mf_foreign_item": (I, [P, ctypes.POINTER(S), ctypes.POINTER(U64), ctypes.POINTER(U64)]),
        "mf_has": (I, [P, S]),
        "mf_input_count": (SZ, [P]),
        "mf_input_has": (I, [P, SZ, S]),
        "mf_input_step": (S, [P, SZ]),
        "mf_flow_name": (S, [P]),
        "mf_run_id": (ctypes.c_int64, [P]),
        "mf_step_name": (S, [P]),
        "mf_task_id": (ctypes.c_int64, [P]),
        "mf_attempt": (I, [P]),
    }
    for name, (res, args) in sig.items():
        f = getattr(lib, name)
        f.restype = res
        f.argtypes = args
    _lib = lib
    return lib


# the types read into memory of their own from STREAM_MIN bytes on (str and obj from
# TEXT_MIN, npy always)
_INTO = (codec.BYTES, codec.STR, codec.PICKLE, codec.OBJ)
# a bytes object of n bytes, uninitialized, to be filled in place (CPython's own call)
_new_bytes = ctypes.pythonapi.PyBytes_FromStringAndSize
_new_bytes.restype = ctypes.py_object
_new_bytes.argtypes = [ctypes.c_void_p, ctypes.c_ssize_t]
# a bytearray of n bytes, uninitialized, likewise
_new_bytearray = ctypes.pythonapi.PyByteArray_FromStringAndSize
_new_bytearray.restype = ctypes.py_object
_new_bytearray.argtypes = [ctypes.c_void_p, ctypes.c_ssize_t]


class _Mapped:
    """A container's buffer that is a str's UTF-8 (codec.str_buffers): read into a mapping of
    its own, then made into the str a piece at a time (_text.str_from_map)."""

    def __init__(self, n):
        self.m = mmap.mmap(-1, n)
        self.c = ctypes.c_char.from_buffer(self.m)
        self.addr = ctypes.addressof(self.c)

    def __len__(self):
        return len(self.m)

    def made(self):
        from ._text import str_from_map
        try:
            return codec.StrMade(str_from_map(self.m, self.addr, len(self.m)))
        finally:
            self.close()

    def close(self):
        self.c = None
        self.m.close()


def _addr(buf):
    """The address of the memory of a bytes or bytearray object made to be filled."""
    if type(buf) is _Mapped:
        return buf.addr
    if type(buf) is bytes:
        return ctypes.cast(ctypes.c_char_p(buf), ctypes.c_void_p).value
    return ctypes.addressof((ctypes.c_char * len(buf)).from_buffer(buf)) if len(buf) else 0


class _Container:
    """The spans of a pickle's container (codec.py), each asked for as the read reaches it:
    the head, then the table, then the pickle, then each buffer into an object of its own.
    A payload that does not start with the preamble is a plain pickle: into one bytes."""

    def __init__(self, total):
        self.total = total
        self.head = bytearray(min(codec.CONTAINER_HEAD, total))
        self.stage = 0
        self.error = None
        self.plain = None
        self.stream = None
        self.bufs = []
        self.spec = []
        self.strs = set()

    def span(self, _ud, dst, n):
        try:
            buf = self.next()
        except BaseException as e:      # said by the caller once the read has stopped
            self.error = e
            return 1
        if buf is None:
            return 1
        dst[0] = _addr(buf) + self._off
        n[0] = len(buf) - self._off
        return 0

    def next(self):
        self._off = 0
        self.stage += 1
        if self.stage == 1:
            return self.head
        if self.stage == 2:
            if bytes(self.head[:len(codec.PREAMBLE)]) != codec.PREAMBLE:
                # a plain pickle: the rest after what the head took
                self.plain = _new_bytes(None, self.total)
                ctypes.memmove(_addr(self.plain), bytes(self.head), len(self.head))
                self._off = len(self.head)
                return self.plain
            self.n, L = codec.container_table(self.head, self.total)
            self.L = L
            self.table = bytearray(9 * self.n)
            return self.table
        if self.stage == 3:
            left = self.total - codec.CONTAINER_HEAD - len(self.table) - self.L
            self.spec = codec.container_buffers(self.table, self.n, left)
            self.stream = _new_bytes(None, self.L)
            if self.L:
                return self.stream
            self.stage += 1
        i = self.stage - 4
        if i == 0:
            self.strs = codec.str_buffers(self.stream)
        if i >= len(self.spec):
            return None
        size, kind = self.spec[i]
        if i in self.strs and kind == codec.KIND_WRITABLE and size:
            buf = _Mapped(size)
        else:
            buf = _new_bytes(None, size) if kind == codec.KIND_BYTES else \
                _new_bytearray(None, size)
        self.bufs.append(buf)
        return buf

    def value(self):
        if self.plain is not None:
            return codec.decode(codec.PICKLE, self.plain)
        if len(self.bufs) != len(self.spec):
            raise codec._corrupt(codec.PICKLE, "its container was cut short")
        stream, self.stream = self.stream, None
        bufs, self.bufs = self.bufs, []
        for i, b in enumerate(bufs):
            if type(b) is _Mapped:
                bufs[i] = b.made()      # its mapping let go as the str is made
        return codec.unpickle(stream, bufs)


def _b(name):
    return name.encode("utf-8", "surrogateescape")


class Task:
    """The running task, as the step's self and inputs see it."""

    def __init__(self, lib, t, step):
        self.lib = lib
        self.t = t
        self.step = step
        self._item = None

    def _error(self):
        return MflowError(self.lib.mf_foreign_error(self.t).decode("utf-8", "replace"))

    def info(self, what):
        lib, t = self.lib, self.t
        if what == "flow_name":
            return lib.mf_flow_name(t).decode()
        if what == "run_id":
            return lib.mf_run_id(t)
        if what == "step_name":
            return lib.mf_step_name(t).decode()
        if what == "task_id":
            return lib.mf_task_id(t)
        if what == "retry_count":
            return lib.mf_attempt(t)
        raise KeyError(what)

    def has(self, name):
        return bool(self.lib.mf_has(self.t, _b(name)))

    @staticmethod
    def _value(ty, p, n):
        # decoded straight from the blob libmflow holds (until the step returns): the value
        # is not copied into Python bytes first
        data = memoryview((ctypes.c_char * n.value).from_address(p.value)) if n.value else b""
        value = codec.decode(ty.value, data)
        if isinstance(value, memoryview):
            value = value.tobytes()   # never a view of memory the task frees
        return value

    def _read(self, i, name):
        """The value, read into memory of its own when it is large or an array (the blob's
        pages let go as they are copied); None when it is small and read as it is held."""
        ty, n = ctypes.c_int(), ctypes.c_uint64()
        if self.lib.mf_foreign_stat(self.t, i, name, ctypes.byref(ty), ctypes.byref(n)):
            raise self._error()
        ty, n = ty.value, n.value
        least = codec.TEXT_MIN if ty == codec.STR or ty == codec.OBJ else codec.STREAM_MIN
        if (ty != codec.NPY or codec.PIECES_OFF) and (n < least or ty not in _INTO):
            return None
        if ty == codec.PICKLE:
            c = _Container(n)
            fn = SPAN_FN(c.span)
            if self.lib.mf_foreign_read_spans(self.t, i, name, fn, None):
                if c.error is not None:
                    raise c.error
                raise self._error()
            return c.value()
        if ty == codec.STR or ty == codec.OBJ:
            def fill(addr):
                if self.lib.mf_foreign_read(self.t, i, name, addr, n):
                    raise self._error()
            if ty == codec.OBJ:
                from ._objread import read_obj    # its large members made in place
                return read_obj(n, fill)
            from ._text import read_str
            return read_str(n, fill)
        if ty == codec.NPY:
            import numpy as np
            buf = np.empty(n, dtype=np.uint8)   # the array's own memory: no copy after this
            addr = buf.ctypes.data
        else:
            buf = _new_bytes(None, n)           # filled in place before anything sees it
            addr = ctypes.cast(ctypes.c_char_p(buf), ctypes.c_void_p).value
        if self.lib.mf_foreign_read(self.t, i, name, addr, n):
            raise self._error()
        if ty == codec.BYTES:
            return buf
        return codec.decode(ty, memoryview(buf))

    def get(self, name):
        b = _b(name)
        v = self._read(-1, b)
        if v is not None:
            return v
        ty, p, n = ctypes.c_int(), ctypes.c_void_p(), ctypes.c_size_t()
        if self.lib.mf_foreign_get(self.t, b, ctypes.byref(ty), ctypes.byref(p),
                                   ctypes.byref(n)):
            raise self._error()
        return self._value(ty, p, n)

    def set(self, name, value):
        ty, payload, feed = codec.prepare(value)
        if feed is not None:
            self._set_pieces(name, ty, payload, feed)
            return
        if not isinstance(payload, bytes):
            payload = bytes(payload)
        if self.lib.mf_foreign_set(self.t, _b(name), ty, payload, len(payload)):
            raise self._error()

    def _set_pieces(self, name, ty, n, feed):
        lib, t = self.lib, self.t
        w = ctypes.c_void_p()
        if lib.mf_foreign_writer_open(t, ty, n, ctypes.byref(w)):
            raise self._error()
        try:
            def write(piece):
                if type(piece) is tuple:
                    addr, size, _owner = piece
                    rc = lib.mf_foreign_writer_write(t, w, addr, size)
                else:
                    rc = lib.mf_foreign_writer_write(t, w, piece, len(piece))
                if rc:
                    raise self._error()
            feed(write)
        except BaseException:
            lib.mf_foreign_writer_abort(t, w)
            raise
        if lib.mf_foreign_writer_close(t, w, _b(name)):
            raise self._error()

    def merge(self, exclude):
        if self.lib.mf_foreign_merge(self.t, _b(exclude)):
            raise self._error()

    def input_count(self):
        return self.lib.mf_input_count(self.t)

    def input_step(self, i):
        return self.lib.mf_input_step(self.t, i).decode()

    def input_has(self, i, name):
        return bool(self.lib.mf_input_has(self.t, i, _b(name)))

    def input_get(self, i, name):
        b = _b(name)
        v = self._read(i, b)
        if v is not None:
            return v
        ty, p, n = ctypes.c_int(), ctypes.c_void_p(), ctypes.c_size_t()
        if self.lib.mf_foreign_input_get(self.t, i, b, ctypes.byref(ty),
                                         ctypes.byref(p), ctypes.byref(n)):
            raise self._error()
        return self._value(ty, p, n)

    def item(self):
        """(item, index) of the innermost foreach."""
        if self._item is None:
            var, idx, cnt = ctypes.c_char_p(), ctypes.c_uint64(), ctypes.c_uint64()
            if self.lib.mf_foreign_item(self.t, ctypes.byref(var), ctypes.byref(idx),
                                        ctypes.byref(cnt)):
                raise MflowError("step '%s' is not inside a foreach: self.input and "
                                 "self.index need a foreach" % self.step)
            items = self.get(var.value.decode())
            self._item = (items[idx.value], idx.value)
        return self._item


def _fail(lib, t, e):
    msg = "%s: %s" % (type(e).__name__, e) if str(e) else type(e).__name__
    lib.mf_task_foreign_fail(t, msg.encode("utf-8", "replace"))


def _flush_stdio():
    for s in (sys.stdout, sys.stderr):
        try:
            s.flush()
        except Exception:
            pass


def step_runner(lib, cls):
    """The callback mf_task_foreign_step calls: run one step of cls on task t. What its first
    call needs is made here (the task server makes it before its fork): each object a
    served child creates, or looks up through the class, is pages it writes."""
    task = Task(lib, None, None)
    first = [task, cls(_mflow_task=task)]
    steps = {}
    for name in dir(cls):
        fn = getattr(cls, name, None)
        if getattr(fn, "_mflow_step", False):
            steps[name.encode()] = (name, fn, fn.__code__.co_argcount == 2)

    def run(t, step, ud):
        name, fn, join = steps.get(step) or (step.decode(), None, False)
        if first:
            task, flow = first
            first.clear()
            task.t, task.step = t, name
        else:
            task, flow = Task(lib, t, name), None
        try:
            current._bind(task)
            if fn is None:
                flow = cls(_mflow_task=task)
                fn = getattr(cls, name)
                join = fn.__code__.co_argcount == 2
            elif flow is None:
                flow = cls(_mflow_task=task)
            if join:
                fn(flow, Inputs(task))
            else:
                fn(flow)
            if flow._mflow_next is None and name != "end":
                raise MflowError("step '%s' returned without calling self.next(...)" % name)
            flow._mflow_flush()
            return 0
        except BaseException as e:   # SystemExit and KeyboardInterrupt fail the step too
            # the traceback from the step's own frame on (not this runner's)
            tb = e.__traceback__.tb_next if e.__traceback__ else None
            traceback.print_exception(type(e), e, tb or e.__traceback__)
            _fail(lib, t, e)
            return 1
        finally:
            _join_threads()
            current._bind(None)
            _flush_stdio()

    return run


def _join_threads():
    """Wait for the threads a step left running, as python3 waits for them at exit: the task
    ends with os._exit, which would kill them half done, their output and files lost. Only
    when threading is imported already: importing it in the task server would cost each forked
    child its at-fork hook (~80 pages written, pyflow_served_lean)."""
    threading = sys.modules.get("threading")
    if threading is None:
        return
    # first what python3's exit calls before it waits (threading._shutdown): the hooks that
    # stop a ThreadPoolExecutor's idle workers, which would otherwise be waited for forever
    hooks = getattr(threading, "_threading_atexits", None)
    if hooks:
        threading._SHUTTING_DOWN = True
        for hook in reversed(hooks):
            try:
                hook()
            except Exception:
                traceback.print_exc()
        hooks.clear()
    me = threading.current_thread()
    left = [th for th in threading.enumerate() if th is not me and not th.daemon]
    try:
        if left:
            # a thread still running after a second is said, so that a task that does not
            # end says why
            left[0].join(1.0)
            left = [th for th in left if th.is_alive()]
            if left:
                sys.stderr.write("mflow: the step left %d thread(s) running (%s): the task "
                                 "waits for them, as python3 does at exit (daemon threads it "
                                 "does not wait for)\n"
                                 % (len(left), ", ".join(th.name for th in left[:3])))
                _flush_stdio()
        for th in left:
            th.join()
    except BaseException:   # a KeyboardInterrupt while waiting: stop waiting
        pass


def command_array(argv):
    """argv as the NULL-terminated char ** mf_task_run_foreign takes (it holds the bytes)."""
    return (ctypes.c_char_p * (len(argv) + 1))(*[_b(a) for a in argv], None)


def run_task(argv, cls=None, step_fn=None, cargv=None):
    """argv: ["task", FLOW, STEP, options...]; step_fn: STEP_FN(step_runner(lib, cls)) and
    cargv: command_array(argv), when the caller made them already (the task server, before
    its fork: a child that builds them copies the pages they touch). Returns the exit code."""
    lib = libmflow()
    if cls is None:
        from .graph import load_module, flow_class
        if len(argv) < 3:
            sys.stderr.write("usage: python3 -m mflow task FLOW.py STEP --run-id R ...\n")
            return 2
        path = argv[1]
        try:
            cls = flow_class(load_module(path), path)
        except BaseException:
            traceback.print_exc()
            sys.stderr.write("mflow task: cannot import the flow %s (the traceback above)\n"
                             % path)
            return 1
    cb = step_fn if step_fn is not None else STEP_FN(step_runner(lib, cls))
    if cargv is None:
        cargv = command_array(argv)
    code = lib.mf_task_run_foreign(len(argv), cargv, cb, None)
    _flush_stdio()
    return code


def main(argv):
    # Line by line: what a step printed is in its log even when the task is killed.
    try:
        sys.stdout.reconfigure(line_buffering=True)
    except Exception:
        pass
    code = run_task(["task"] + argv)
    _flush_stdio()
    os._exit(code)
