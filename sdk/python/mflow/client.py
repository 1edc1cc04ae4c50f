"""The notebook client: past runs, their steps, tasks, artifacts and logs, over libmflow's
client API (<mflow/client.h>) through ctypes.

    from mflow import Flow, Run, Step, Task, namespace
    run = Flow("BranchFlow").latest_successful_run
    run["a"].task.data.x          # an artifact's value, decoded (mflow.codec)
    Task("BranchFlow/12/a/3")["x"].data
    namespace(None)               # every namespace; namespace("user:alice") one

Objects hold what they were made with (a snapshot: status, times, tags) and no C handle: each
read opens what it needs and frees it, so objects can be kept, compared and pickled freely.
A run that is still going is seen as it was when its Run was made: make a new one to see
more. Errors are exceptions (mflow.MflowNotFound, ...) with the C client's message, which
names the thing and says what to do.

Not thread-safe beyond a lock around each call into the library (one client per process).
"""
import ctypes as C
import datetime
import threading

from . import _lib, codec
from .exceptions import (MflowCorrupt, MflowException, MflowInvalid, MflowNamespaceMismatch,
                         MflowNewerFormat, MflowNotFound)

__all__ = ["Flow", "Run", "Step", "Task", "DataArtifact", "namespace", "get_namespace",
           "default_namespace", "flows"]

# enum mf_client_status, MF_E* (<mflow/plugin.h>), streams
PENDING, RUNNING, SUCCEEDED, FAILED, CANCELLED = 1, 2, 3, 4, 5
_STATUS = {PENDING: "pending", RUNNING: "running", SUCCEEDED: "succeeded", FAILED: "failed",
           CANCELLED: "cancelled"}
_EINVAL, _ENOTFOUND, _ECORRUPT, _ENOTSUP = -1, -3, -5, -12
_STDOUT, _STDERR = 1, 2

P = C.c_void_p
S = C.c_char_p
SZ = C.c_size_t
I64 = C.c_int64
U32 = C.c_uint32


class _Opts(C.Structure):
    _fields_ = [("struct_size", C.c_uint32), ("reserved", C.c_uint32), ("home", S),
                ("datastore_root", S), ("storage", S), ("ns", S)]


_SIGNATURES = {
    "mf_client_open": (C.c_int, [C.POINTER(_Opts), C.POINTER(P)]),
    "mf_client_close": (None, [P]),
    "mf_client_error": (S, [P]),
    "mf_client_namespace": (S, [P]),
    "mf_client_flows": (C.c_int, [P, C.POINTER(C.POINTER(S)), C.POINTER(SZ)]),
    "mf_client_list_runs": (C.c_int, [P, S, C.POINTER(S), SZ, C.POINTER(P)]),
    "mf_client_runs_count": (SZ, [P]),
    "mf_client_runs_at": (P, [P, SZ]),
    "mf_client_runs_free": (None, [P]),
    "mf_client_run_open": (C.c_int, [P, S, C.POINTER(P)]),
    "mf_client_run_latest": (C.c_int, [P, S, C.c_int, C.POINTER(P)]),
    "mf_client_run_free": (None, [P]),
    "mf_client_run_flow": (S, [P]),
    "mf_client_run_id": (I64, [P]),
    "mf_client_run_pathspec": (S, [P]),
    "mf_client_run_status": (C.c_int, [P]),
    "mf_client_run_user": (S, [P]),
    "mf_client_run_namespace": (S, [P]),
    "mf_client_run_start_time": (C.c_double, [P]),
    "mf_client_run_end_time": (C.c_double, [P]),
    "mf_client_run_origin_run_id": (I64, [P]),
    "mf_client_run_dead": (C.c_int, [P]),
    "mf_client_run_tag_count": (SZ, [P]),
    "mf_client_run_tag": (S, [P, SZ]),
    "mf_client_run_load_params": (C.c_int, [P]),
    "mf_client_run_param_count": (SZ, [P]),
    "mf_client_run_param_at": (P, [P, SZ]),
    "mf_client_run_tag_add": (C.c_int, [P, S]),
    "mf_client_run_tag_remove": (C.c_int, [P, S]),
    "mf_client_tag_is_system": (C.c_int, [S]),
    "mf_client_list_steps": (C.c_int, [P, C.POINTER(P)]),
    "mf_client_steps_count": (SZ, [P]),
    "mf_client_steps_at": (P, [P, SZ]),
    "mf_client_steps_free": (None, [P]),
    "mf_client_step_name": (S, [P]),
    "mf_client_step_task_count": (SZ, [P]),
    "mf_client_step_status": (C.c_int, [P]),
    "mf_client_step_start_time": (C.c_double, [P]),
    "mf_client_step_end_time": (C.c_double, [P]),
    "mf_client_list_tasks": (C.c_int, [P, S, C.POINTER(P)]),
    "mf_client_tasks_count": (SZ, [P]),
    "mf_client_tasks_at": (P, [P, SZ]),
    "mf_client_tasks_free": (None, [P]),
    "mf_client_task_open": (C.c_int, [P, S, C.POINTER(P)]),
    "mf_client_task_free": (None, [P]),
    "mf_client_task_pathspec": (S, [P]),
    "mf_client_task_attempt": (U32, [P]),
    "mf_client_task_status": (C.c_int, [P]),
    "mf_client_task_start_time": (C.c_double, [P]),
    "mf_client_task_end_time": (C.c_double, [P]),
    "mf_client_task_exit_code": (C.c_int, [P]),
    "mf_client_task_signal": (C.c_int, [P]),
    "mf_client_task_foreach_index": (U32, [P]),
    "mf_client_task_foreach_count": (U32, [P]),
    "mf_client_task_origin": (S, [P]),
    "mf_client_task_message": (S, [P]),
    "mf_client_task_host": (S, [P]),
    "mf_client_task_artifact_count": (SZ, [P]),
    "mf_client_task_artifact_at": (P, [P, SZ]),
    "mf_client_task_artifact_find": (P, [P, S]),
    "mf_client_task_log": (C.c_int, [P, U32, C.c_int, C.POINTER(P), C.POINTER(SZ)]),
    "mf_client_artifact_name": (S, [P]),
    "mf_client_artifact_type": (C.c_int, [P]),
    "mf_client_artifact_size": (C.c_uint64, [P]),
    "mf_client_artifact_key": (S, [P]),
    "mf_client_artifact_value": (C.c_int, [P, C.POINTER(C.c_int), C.POINTER(P), C.POINTER(SZ)]),
}

_lock = threading.RLock()
_L = None
_open = None          # (namespace asked for, handle): one client at a time (one lmdb open)
_DEFAULT = object()
_ns = _DEFAULT        # namespace(): _DEFAULT (user:$USER or MFLOW_NAMESPACE), None (all) or one


def _lib_():
    global _L
    if _L is None:
        lib = _lib.load()
        for name, (res, args) in _SIGNATURES.items():
            f = getattr(lib, name)
            f.restype = res
            f.argtypes = args
        _L = lib
    return _L


def _b(s):
    return s.encode("utf-8", "surrogateescape") if isinstance(s, str) else s


def _s(b):
    return None if b is None else b.decode("utf-8", "surrogateescape")


def _time(t):
    return datetime.datetime.fromtimestamp(t, tz=datetime.timezone.utc) if t and t > 0 else None


def _raise(c, rc):
    msg = _s(_lib_().mf_client_error(c)) or f"mflow client error {rc}"
    if rc == _ENOTFOUND:
        raise (MflowNamespaceMismatch if " is in namespace " in msg else MflowNotFound)(msg)
    if rc == _EINVAL:
        raise MflowInvalid(msg)
    if rc == _ECORRUPT:
        raise MflowCorrupt(msg)
    if rc == _ENOTSUP:
        raise MflowNewerFormat(msg)
    raise MflowException(msg)


def _client(ns=_DEFAULT):
    """The open client of namespace ns (_DEFAULT: the current one); reopened when it changes."""
    global _open
    if ns is _DEFAULT:
        ns = _ns
    want = None if ns is _DEFAULT else ("" if ns is None else ns)
    if _open is not None and _open[0] == want:
        return _open[1]
    L = _lib_()
    if _open is not None:
        L.mf_client_close(_open[1])
        _open = None
    opts = _Opts(C.sizeof(_Opts), 0, None, None, None, _b(want))
    h = P()
    rc = L.mf_client_open(C.byref(opts), C.byref(h))
    if rc:
        try:
            _raise(h, rc)
        finally:
            L.mf_client_close(h)
    _open = (want, h)
    return h


def _close():
    """Close the client (tests, and a change of MFLOW_HOME)."""
    global _open
    with _lock:
        if _open is not None:
            _lib_().mf_client_close(_open[1])
            _open = None


# ---- namespaces ---------------------------------------------------------------------------

def namespace(ns):
    """See the runs of namespace ns ("user:alice"), or of every namespace (None). Objects made
    from then on use it; returns ns."""
    global _ns
    if ns is not None and not isinstance(ns, str):
        raise MflowInvalid(f"a namespace is a str like 'user:alice' or None, not {ns!r}")
    with _lock:
        _ns = ns
    return ns


def default_namespace():
    """Go back to the default namespace (user:$USER, or MFLOW_NAMESPACE); returns it."""
    global _ns
    with _lock:
        _ns = _DEFAULT
        return _s(_lib_().mf_client_namespace(_client()))


def get_namespace():
    """The current namespace; None when every namespace is seen."""
    with _lock:
        ns = _s(_lib_().mf_client_namespace(_client()))
    return ns or None


def flows():
    """Names of the flows with runs in the current namespace, sorted."""
    with _lock:
        L, c = _lib_(), _client()
        names, n = C.POINTER(S)(), SZ()
        rc = L.mf_client_flows(c, C.byref(names), C.byref(n))
        if rc:
            _raise(c, rc)
        try:
            return [_s(names[i]) for i in range(n.value)]
        finally:
            _lib.libc_free(C.cast(names, P))


# ---- objects --------------------------------------------------------------------------------

def _split(pathspec, parts, what):
    if not isinstance(pathspec, str):
        raise MflowInvalid(f"a {what} pathspec is a str, not {pathspec!r}")
    p = pathspec.split("/")
    if len(p) != parts or not all(p):
        shape = "/".join(["Flow", "run", "step", "task"][:parts])
        raise MflowInvalid(f"'{pathspec}' is not a {what} pathspec: use {shape}")
    return p


class _Object:
    _kind = ""

    def __repr__(self):
        return f"{type(self).__name__}('{self.pathspec}')"

    def __eq__(self, o):
        return type(o) is type(self) and o.pathspec == self.pathspec

    def __hash__(self):
        return hash((type(self).__name__, self.pathspec))


class Flow(_Object):
    """A flow: its runs in the current namespace, newest first."""

    def __init__(self, name):
        if not isinstance(name, str) or not name or "/" in name:
            raise MflowInvalid(f"a flow is named by a str without '/', not {name!r}")
        self.name = self.id = name
        self.pathspec = name

    def runs(self, *tags):
        """Runs that carry every tag given (none: all), newest first."""
        with _lock:
            L, c = _lib_(), _client()
            arr = (S * max(1, len(tags)))(*[_b(t) for t in tags])
            lst = P()
            rc = L.mf_client_list_runs(c, _b(self.name), arr, len(tags), C.byref(lst))
            if rc:
                _raise(c, rc)
            try:
                return [Run._of(L.mf_client_runs_at(lst, i))
                        for i in range(L.mf_client_runs_count(lst))]
            finally:
                L.mf_client_runs_free(lst)

    def __iter__(self):
        return iter(self.runs())

    def __getitem__(self, run_id):
        return Run(f"{self.name}/{run_id}")

    def _latest(self, successful):
        with _lock:
            L, c = _lib_(), _client()
            h = P()
            rc = L.mf_client_run_latest(c, _b(self.name), int(successful), C.byref(h))
            if rc:
                _raise(c, rc)
            try:
                return Run._of(h)
            finally:
                L.mf_client_run_free(h)

    @property
    def latest_run(self):
        return self._latest(False)

    @property
    def latest_successful_run(self):
        return self._latest(True)


def _with_handle(kind, pathspec, fn):
    """fn(lib, client, handle) on a freshly opened run or task handle (kind "run" or "task"),
    freed after."""
    with _lock:
        L, c = _lib_(), _client()
        h = P()
        rc = getattr(L, f"mf_client_{kind}_open")(c, _b(pathspec), C.byref(h))
        if rc:
            _raise(c, rc)
        try:
            return fn(L, c, h)
        finally:
            getattr(L, f"mf_client_{kind}_free")(h)


class Run(_Object):
    """A run, as it was when this object was made."""

    def __init__(self, pathspec):
        _split(pathspec, 2, "run")
        _with_handle("run", pathspec, lambda L, c, h: self._fill(h))

    @classmethod
    def _of(cls, h):
        r = cls.__new__(cls)
        r._fill(h)
        return r

    def _fill(self, h):
        L = _lib_()
        self.pathspec = _s(L.mf_client_run_pathspec(h))
        self.flow_name = _s(L.mf_client_run_flow(h))
        self.id = str(L.mf_client_run_id(h))
        self.status = _STATUS.get(L.mf_client_run_status(h), "unknown")
        self.dead = bool(L.mf_client_run_dead(h))
        self.user = _s(L.mf_client_run_user(h))
        self.namespace = _s(L.mf_client_run_namespace(h))
        self.created_at = _time(L.mf_client_run_start_time(h))
        self.finished_at = _time(L.mf_client_run_end_time(h))
        self.origin_run_id = L.mf_client_run_origin_run_id(h) or None
        tags = [_s(L.mf_client_run_tag(h, i)) for i in range(L.mf_client_run_tag_count(h))]
        self.tags = frozenset(tags)
        self.system_tags = frozenset(t for t in tags if L.mf_client_tag_is_system(_b(t)))
        self.user_tags = self.tags - self.system_tags

    @property
    def successful(self):
        return self.status == "succeeded"

    @property
    def finished(self):
        return self.status in ("succeeded", "failed", "cancelled")

    def _with(self, fn):
        """fn(lib, client, run handle) on a freshly opened handle of this run."""
        return _with_handle("run", self.pathspec, fn)

    def _steps(self):
        def read(L, c, h):
            lst = P()
            rc = L.mf_client_list_steps(h, C.byref(lst))
            if rc:
                _raise(c, rc)
            try:
                out = []
                for i in range(L.mf_client_steps_count(lst)):
                    s = L.mf_client_steps_at(lst, i)
                    out.append(Step._of(self, s))
                return out
            finally:
                L.mf_client_steps_free(lst)
        return self._with(read)

    def steps(self):
        """The steps that ran, in the order of the graph."""
        return [s for s in self._steps() if s.task_count]

    def __iter__(self):
        return iter(self.steps())

    def __getitem__(self, name):
        steps = self._steps()
        for s in steps:
            if s.id == name and s.task_count:
                return s
            if s.id == name:
                raise MflowNotFound(f"step '{name}' of run {self.pathspec} has no task (it "
                                    f"did not run; the run {self.status})")
        names = ", ".join(s.id for s in steps) or "none"
        raise MflowNotFound(f"run {self.pathspec} has no step '{name}' (it has: {names})")

    def __contains__(self, name):
        """Whether step `name` ran in this run."""
        return any(s.id == name and s.task_count for s in self._steps())

    @property
    def parameters(self):
        """The run's parameters: {name: value}."""
        def read(L, c, h):
            rc = L.mf_client_run_load_params(h)
            if rc:
                _raise(c, rc)
            return {_s(L.mf_client_artifact_name(a)): _value(L, c, a)
                    for a in (L.mf_client_run_param_at(h, i)
                              for i in range(L.mf_client_run_param_count(h)))}
        return self._with(read)

    @property
    def end_task(self):
        return self["end"].task

    @property
    def data(self):
        """The artifacts of the end step's task (what the run ended with)."""
        return self.end_task.data

    def _tag(self, tag, add):
        def change(L, c, h):
            rc = (L.mf_client_run_tag_add if add else L.mf_client_run_tag_remove)(h, _b(tag))
            if rc:
                _raise(c, rc)
            self._fill(h)
        self._with(change)

    def add_tag(self, tag):
        self._tag(tag, True)

    def remove_tag(self, tag):
        self._tag(tag, False)


class Step(_Object):
    """A step of a run: its tasks."""

    def __init__(self, pathspec):
        flow, run, name = _split(pathspec, 3, "step")
        s = Run(f"{flow}/{run}")[name]
        self.__dict__.update(s.__dict__)

    @classmethod
    def _of(cls, run, h):
        L = _lib_()
        s = cls.__new__(cls)
        s.id = _s(L.mf_client_step_name(h))
        s.pathspec = f"{run.pathspec}/{s.id}"
        s.run_pathspec = run.pathspec
        s.task_count = L.mf_client_step_task_count(h)
        s.status = _STATUS.get(L.mf_client_step_status(h), "unknown")
        s.created_at = _time(L.mf_client_step_start_time(h))
        s.finished_at = _time(L.mf_client_step_end_time(h))
        return s

    def tasks(self):
        """The step's tasks (the latest attempt of each), by task id."""
        def read(L, c, h):
            lst = P()
            rc = L.mf_client_list_tasks(h, _b(self.id), C.byref(lst))
            if rc:
                _raise(c, rc)
            try:
                return [Task._of(L.mf_client_tasks_at(lst, i))
                        for i in range(L.mf_client_tasks_count(lst))]
            finally:
                L.mf_client_tasks_free(lst)
        return Run._with(_RunRef(self.run_pathspec), read)

    def __iter__(self):
        return iter(self.tasks())

    def __getitem__(self, task_id):
        return Task(f"{self.pathspec}/{task_id}")

    @property
    def task(self):
        """The step's task: the first one when it has several (a foreach body)."""
        t = self.tasks()
        if not t:
            raise MflowNotFound(f"step {self.pathspec} has no task (it did not run)")
        return t[0]


class _RunRef:
    """Enough of a Run for Run._with: its pathspec."""

    def __init__(self, pathspec):
        self.pathspec = pathspec


def _value(L, c, a):
    """The decoded value of an artifact handle."""
    t, ptr, n = C.c_int(), P(), SZ()
    rc = L.mf_client_artifact_value(a, C.byref(t), C.byref(ptr), C.byref(n))
    if rc:
        _raise(c, rc)
    try:
        if t.value == codec.NPY:
            buf = bytearray(n.value)      # writable, so the array is (numpy shares it)
            if n.value:
                C.memmove((C.c_char * n.value).from_buffer(buf), ptr, n.value)
        else:
            buf = C.string_at(ptr, n.value)
    finally:
        _lib.libc_free(ptr)
    return codec.decode(t.value, buf)


class DataArtifact:
    """One artifact of a task: name, type, size (payload bytes), sha (blob key), data."""

    def __init__(self, task, name, type_name, size, sha):
        self._task, self.id = task, name
        self.type, self.size, self.sha = type_name, size, sha
        self.pathspec = f"{task.pathspec}/{name}"

    def __repr__(self):
        return f"DataArtifact('{self.pathspec}')"

    @property
    def data(self):
        return self._task._read(self.id)


class _Data:
    """task.data.NAME: an artifact's value."""

    def __init__(self, task):
        object.__setattr__(self, "_task", task)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        t = object.__getattribute__(self, "_task")
        if name not in t._artifacts():
            raise AttributeError(f"task {t.pathspec} has no artifact '{name}' (it has: "
                                 f"{', '.join(t._artifacts()) or 'none'})")
        return t._read(name)

    def __dir__(self):
        return list(object.__getattribute__(self, "_task")._artifacts())

    def __contains__(self, name):
        return name in object.__getattribute__(self, "_task")._artifacts()

    def __repr__(self):
        return f"<data of {object.__getattribute__(self, '_task').pathspec}>"


class Task(_Object):
    """A task (its latest attempt): status, artifacts, logs."""

    def __init__(self, pathspec):
        _split(pathspec, 4, "task")
        self._with(self._fill, pathspec)

    @classmethod
    def _of(cls, h):
        t = cls.__new__(cls)
        t._fill(_lib_(), None, h)
        return t

    def _fill(self, L, c, h):
        self.pathspec = _s(L.mf_client_task_pathspec(h))
        self.flow_name, run, self.step_name, self.id = self.pathspec.split("/")
        self.run_id = run
        self.attempt = L.mf_client_task_attempt(h)
        self.status = _STATUS.get(L.mf_client_task_status(h), "unknown")
        self.created_at = _time(L.mf_client_task_start_time(h))
        self.finished_at = _time(L.mf_client_task_end_time(h))
        count = L.mf_client_task_foreach_count(h)
        self.index = L.mf_client_task_foreach_index(h) if count else None
        self.origin = _s(L.mf_client_task_origin(h))
        self._arts = None
        self._cache = {}

    def _with(self, fn, pathspec=None):
        return _with_handle("task", pathspec or self.pathspec, fn)

    def _load(self):
        if self._arts is not None:
            return

        def read(L, c, h):
            self._fill(L, c, h)
            self.exit_code = L.mf_client_task_exit_code(h)
            self.signal = L.mf_client_task_signal(h)
            self.message = _s(L.mf_client_task_message(h))
            self.host = _s(L.mf_client_task_host(h))
            arts = {}
            for i in range(L.mf_client_task_artifact_count(h)):
                a = L.mf_client_task_artifact_at(h, i)
                name = _s(L.mf_client_artifact_name(a))
                ty = L.mf_client_artifact_type(a)
                arts[name] = (codec.TYPE_NAMES.get(ty, str(ty)),
                              L.mf_client_artifact_size(a), _s(L.mf_client_artifact_key(a)))
            self._arts = arts
        self._with(read)

    def _artifacts(self):
        self._load()
        return self._arts

    def _read(self, name):
        if name in self._cache:
            return self._cache[name]

        def read(L, c, h):
            a = L.mf_client_task_artifact_find(h, _b(name))
            if not a:
                raise MflowNotFound(f"task {self.pathspec} has no artifact '{name}'")
            return _value(L, c, a)
        v = self._with(read)
        self._cache[name] = v
        return v

    def __getattr__(self, name):
        # exit_code, signal, message, host: known once the record is read
        if name in ("exit_code", "signal", "message", "host"):
            self._load()
            return self.__dict__[name]
        raise AttributeError(name)

    @property
    def successful(self):
        return self.status == "succeeded"

    @property
    def finished(self):
        return self.status in ("succeeded", "failed", "cancelled")

    @property
    def exception(self):
        """The failure message of a failed task, else None."""
        return self.message if self.status == "failed" else None

    @property
    def data(self):
        return _Data(self)

    def artifacts(self):
        return [DataArtifact(self, n, *v) for n, v in self._artifacts().items()]

    def __iter__(self):
        return iter(self.artifacts())

    def __getitem__(self, name):
        v = self._artifacts().get(name)
        if v is None:
            raise MflowNotFound(f"task {self.pathspec} has no artifact '{name}' (it has: "
                                f"{', '.join(self._artifacts()) or 'none'})")
        return DataArtifact(self, name, *v)

    def __contains__(self, name):
        return name in self._artifacts()

    def _log(self, stream):
        def read(L, c, h):
            ptr, n = P(), SZ()
            rc = L.mf_client_task_log(h, L.mf_client_task_attempt(h), stream, C.byref(ptr),
                                      C.byref(n))
            if rc:
                _raise(c, rc)
            try:
                return C.string_at(ptr, n.value)
            finally:
                _lib.libc_free(ptr)
        return self._with(read)

    @property
    def stdout_bytes(self):
        return self._log(_STDOUT)

    @property
    def stderr_bytes(self):
        return self._log(_STDERR)

    @property
    def stdout(self):
        """The latest attempt's standard output (bytes that are not UTF-8 shown as U+FFFD:
        stdout_bytes has them exactly)."""
        return self.stdout_bytes.decode("utf-8", "replace")

    @property
    def stderr(self):
        return self.stderr_bytes.decode("utf-8", "replace")
