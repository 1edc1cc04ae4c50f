"""The task server for flows written in Python (`python3 -m mflow __task-server`).

mflow's own task server (`mflow __task-server`, <mflow/task_server.h>) execs this one on the
same sockets when its first request runs a task of a .py flow, the hello already sent. This
one speaks the same protocol: it imports the flow module and loads libmflow, the flow's
graph and the storage plugin once, then forks a child per request. The child applies the
set-up mflow's server applies (the same C function: process group, stdio, working directory,
CPUs, cgroup, RLIMIT_DATA, no other fd), takes the request's environment and runs the task
in-process, as `mflow task` would in a fresh python3, without the interpreter's start, the
imports or the loading. It never writes to stdout (the event socket), and exits when the
plugin closes the request socket.

The loop itself (requests, replies, reaping, exit events, the environment's changes) is
libmflow's (core/src/foreign_ts.c): between two forks the server runs no Python at all, as
each page it writes after a fork is a copied page, and the child turns no request into
Python objects but the few variables its environment changes."""
import ctypes
import gc
import os
import sys

REQ_FD, EVT_FD = 0, 1
STEPS = {1: "cannot set up the task's process group or stdin/stdout/stderr",
         2: "cannot enter the task's working directory (create it or fix the step's workdir)",
         3: "cannot bind the task to its CPUs (set local.cpu_bind=off to run unbound)",
         4: "cannot move the task into its memory cgroup (set local.memory_limit=rlimit "
            "instead)",
         5: "cannot set the task's memory limit (RLIMIT_DATA)"}


def declare(lib):
    """The server's calls (core/src/foreign_ts.h): the loop is libmflow's, so that between
    two forks the server writes few pages (each fork write-protects them all, and each page
    written after it is copied)."""
    P, I = ctypes.c_void_p, ctypes.c_int
    V = ctypes.POINTER(ctypes.c_char_p)
    sig = {
        "mf_foreign_ts_share_code": (None, []),
        "mf_foreign_ts_open": (I, [I, I, ctypes.POINTER(P)]),
        "mf_foreign_ts_task_argc": (I, [P]),
        "mf_foreign_ts_task_argv": (V, [P]),
        "mf_foreign_ts_env_set": (V, [P]),
        "mf_foreign_ts_env_unset": (V, [P]),
        "mf_foreign_ts_count": (ctypes.c_ulong, [P]),
        "mf_foreign_ts_child": (I, [P, ctypes.POINTER(I), ctypes.POINTER(I)]),
        "mf_task_foreign_preload": (None, [I, V]),
    }
    for name, (res, args) in sig.items():
        f = getattr(lib, name)
        f.restype = res
        f.argtypes = args


def strings(v, n=None):
    """A NULL-terminated char ** (or its first n) as a list of bytes."""
    if n is not None:
        return v[:n] if n else []
    out, i = [], 0
    while v[i] is not None:
        out.append(v[i])
        i += 1
    return out


class Server:
    def __init__(self):
        self.cls = None
        self.lib = None
        self.ts = None
        self.step_fn = None
        self.stdio = None
        self.taskmod = None
        # the child's out-arguments, made here: a child touches no allocator for them
        self.err, self.changes = ctypes.c_int(), ctypes.c_int()
        self.child_args = (ctypes.byref(self.err), ctypes.byref(self.changes))

    def apply_env(self):
        """Make os.environ the held request's environment. Only variables that differ are
        touched: in a child each one touched costs copied pages."""
        lib, ts = self.lib, self.ts
        put = lib.mf_foreign_ts_env_set(ts)
        if not put:
            raise MemoryError("the task's environment")
        put = strings(put)
        drop = [kv.partition(b"=")[0] for kv in strings(lib.mf_foreign_ts_env_unset(ts))]
        env = os.environb
        for k in drop:
            if k in env:
                del env[k]
            else:
                os.unsetenv(k)
        for kv in put:
            k, _, v = kv.partition(b"=")
            env[k] = v

    def task_argv(self):
        lib, ts = self.lib, self.ts
        return [a.decode("utf-8", "surrogateescape") for a in
                strings(lib.mf_foreign_ts_task_argv(ts), lib.mf_foreign_ts_task_argc(ts))]

    def preload(self):
        """What every task of the run loads, loaded once here, with the first request's
        environment (the children change only what differs in theirs)."""
        from . import task as taskmod
        self.taskmod = taskmod
        from .graph import flow_class, load_module
        lib, ts = self.lib, self.ts
        targc = lib.mf_foreign_ts_task_argc(ts)
        if not targc:
            return
        try:
            self.apply_env()
            targv = self.task_argv()
            path = targv[1] if len(targv) > 1 else ""
            if path.endswith(".py"):
                self.cls = flow_class(load_module(path), path)
            lib.mf_task_foreign_preload(targc, lib.mf_foreign_ts_task_argv(ts))
            if self.cls is not None:
                # libffi's first closure reads /proc and maps a page: once here, not per task
                self.step_fn = taskmod.STEP_FN(taskmod.step_runner(lib, self.cls))
        except BaseException:
            # each task meets the failure itself, and says so in its own log
            self.cls = None
            self.step_fn = None
        try:
            # the task's stdout and stderr (fds 1 and 2 once the child has set them up),
            # made here so that no child builds them; the server never writes to them
            self.stdio = (open(1, "w", buffering=1, closefd=False),
                          open(2, "w", buffering=1, closefd=False))
        except OSError:
            self.stdio = None
        # with MFLOW_TS_SHARE_CODE=1 the children start with its code mapped (foreign_ts.h)
        lib.mf_foreign_ts_share_code()
        # what was loaded stays as it is: the children's collector does not touch it; nor
        # does anyone's after this: a child lives for one task (a collection would only walk
        # and copy pages), and the server's loop makes no cycles
        gc.freeze()
        gc.disable()

    def child(self):
        code = 127
        try:
            lib, ts = self.lib, self.ts
            step = lib.mf_foreign_ts_child(ts, *self.child_args)
            if step:
                os.write(2, ("mflow: task server: %s: %s\n" % (
                    STEPS.get(step, "set-up"), os.strerror(self.err.value))).encode())
                os._exit(127)
            targc = lib.mf_foreign_ts_task_argc(ts)
            if not targc:
                os.write(2, b"mflow: task server: not a task command\n")
                os._exit(2)
            if self.changes.value:
                self.apply_env()
            reseed()
            taskmod = self.taskmod
            if taskmod is None:
                from . import task as taskmod
            if self.stdio:
                sys.stdout, sys.stderr = self.stdio
            else:
                try:
                    sys.stdout = open(1, "w", buffering=1, closefd=False)
                    sys.stderr = open(2, "w", buffering=1, closefd=False)
                except OSError:
                    pass
            if self.step_fn is not None:
                code = lib.mf_task_run_foreign(targc, lib.mf_foreign_ts_task_argv(ts),
                                               self.step_fn, None)
            else:
                code = taskmod.run_task(self.task_argv())
            taskmod._flush_stdio()
        except BaseException:
            import traceback
            traceback.print_exc()
        os._exit(code)

    def serve(self):
        from . import task as taskmod
        try:
            self.lib = lib = taskmod.libmflow()
            declare(lib)
        except BaseException as e:
            sys.stderr.write("mflow: python task server: %s\n" % e)
            return 1
        ts = ctypes.c_void_p()
        e = lib.mf_foreign_ts_open(REQ_FD, EVT_FD, ctypes.byref(ts))
        if e:
            sys.stderr.write("mflow: python task server: cannot start: %s\n" % os.strerror(e))
            return 1
        self.ts = ts
        # The whole loop is libmflow's, called holding the interpreter's lock (PyDLL) as
        # os.fork forks, Python's own after-fork call made in each child: between two forks
        # the server runs no Python at all. It returns here to load what the first request
        # loads, and in each child.
        loop = ctypes.PyDLL(lib._name, mode=ctypes.RTLD_GLOBAL).mf_foreign_ts_serve
        loop.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
        loop.restype = ctypes.c_int
        after = ctypes.cast(ctypes.pythonapi.PyOS_AfterFork_Child, ctypes.c_void_p)
        r = loop(ts, 0, after)
        if r == 2:
            self.preload()
            r = loop(ts, 1, after)
        if r == 0:
            self.child()
        return 0


def reseed():
    """numpy's global generator, seeded when the flow imported numpy, afresh in each child:
    random reseeds itself at a fork, numpy does not, and every task the server forked drew
    the same numbers (every foreach child the same sample) where a python3 of its own
    draws its own."""
    np_random = sys.modules.get("numpy.random")
    if np_random is not None:
        try:
            np_random.seed()
        except Exception:
            pass


def main(argv):
    # stdout is the event socket: nothing may be printed to it
    sys.stdout = sys.stderr
    stats = os.environ.get("MFLOW_PY_TS_STATS")
    server = Server()
    code = server.serve()
    if stats:
        report_children(stats, server.lib.mf_foreign_ts_count(server.ts) if server.ts else 0)
    os._exit(code)


def report_children(path, forked):
    """MFLOW_PY_TS_STATS=FILE: one line appended for the children this server forked and
    reaped (their page faults and CPU: figures that load does not change much, for tuning)."""
    import resource
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    s = resource.getrusage(resource.RUSAGE_SELF)
    # the server's own share too: each fork copies its page tables, and its next writes
    # copy the pages it shares with the children it forked
    line = "children %d minflt %d majflt %d utime_ms %.1f stime_ms %.1f " \
           "server minflt %d utime_ms %.1f stime_ms %.1f\n" % (
               forked, r.ru_minflt, r.ru_majflt, r.ru_utime * 1000, r.ru_stime * 1000,
               s.ru_minflt, s.ru_utime * 1000, s.ru_stime * 1000)
    try:
        with open(path, "a") as f:
            f.write(line)
    except OSError:
        pass
