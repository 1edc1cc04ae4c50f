"""The task server for flows written in Python (`python3 -m mflow __task-server`).

mflow's own task server (`mflow __task-server`, <mflow/task_server.h>) execs this one on the
same sockets when its first request runs a task of a .py flow, the hello already sent. This
one speaks the same protocol: it imports the flow module and loads libmflow, the flow's
graph and the storage plugin once, then forks a child per request. The child applies the
set-up mflow's server applies (the same C function: process group, stdio, working directory,
CPUs, cgroup, RLIMIT_DATA, no other fd), takes the request's environment and runs the task
in-process, as `mflow task` would in a fresh python3, without the interpreter's start, the
imports or the loading. It never writes to stdout (the event socket), and exits when the
plugin closes the request socket."""
import _signal
import ctypes
import errno
import gc
import os
import signal
import socket
import struct
import sys

REQ_FD, EVT_FD = 0, 1
MAGIC = 0x4d465453
MAX_MSG = 256 * 1024
MAX_FDS = 4
REQUEST = struct.Struct("=IIIIIIQ")   # struct mf_ts_request
PAIR = struct.Struct("=ii")           # mf_ts_reply and mf_ts_event
# the settings a task's command line gives before `task`, as the variables mflow reads
GLOBALS = {"--home": "MFLOW_HOME", "--storage": "MFLOW_STORAGE",
           "--datastore-root": "MFLOW_DATASTORE_ROOT", "--compute": "MFLOW_COMPUTE",
           "--namespace": "MFLOW_NAMESPACE"}
STEPS = {1: "cannot set up the task's process group or stdin/stdout/stderr",
         2: "cannot enter the task's working directory (create it or fix the step's workdir)",
         3: "cannot bind the task to its CPUs (set local.cpu_bind=off to run unbound)",
         4: "cannot move the task into its memory cgroup (set local.memory_limit=rlimit "
            "instead)",
         5: "cannot set the task's memory limit (RLIMIT_DATA)"}


def split_command(argv):
    """mflow ARGV -> (environment from its global options, the task's own argv from `task`),
    or None when it is not a task command."""
    env, i = {}, 1
    while i < len(argv) and argv[i] != "task":
        a = argv[i]
        name, eq, val = a.partition("=")
        if name in GLOBALS:
            if not eq:
                i += 1
                val = argv[i] if i < len(argv) else ""
            env[GLOBALS[name]] = val
        elif not a.startswith("-"):
            return None
        i += 1
    if i >= len(argv):
        return None
    return env, argv[i:]


def env_of(envp, extra):
    """The environment envp (NAME=VALUE bytes) with extra (names and values) over it."""
    env = {}
    for kv in envp:
        k, _, v = kv.partition(b"=")
        env[k] = v
    for k, v in extra.items():
        env[os.fsencode(k)] = os.fsencode(v)
    return env


def env_changes(target, base):
    """(the variables of target that base lacks or holds otherwise, the names of base that
    target lacks): what a child changes to go from base to target."""
    put = [(k, v) for k, v in target.items() if base.get(k) != v]
    drop = [k for k in base if k not in target]
    return put, drop


def apply_env(target, base):
    """Make os.environ target. base: what it is now (None: read os.environ). Only variables
    that differ are touched: in a child each one touched costs copied pages."""
    env = os.environb
    put, drop = env_changes(target, env if base is None else base)
    for k in drop:
        del env[k]
    for k, v in put:
        env[k] = v


def parse(data, fds):
    if len(data) < REQUEST.size:
        raise ValueError
    magic, argc, envc, nfds, cpuset_size, has_workdir, data_limit = REQUEST.unpack_from(data)
    if magic != MAGIC or nfds != len(fds) or nfds < 3 or argc < 1:
        raise ValueError
    off = REQUEST.size
    cpuset = data[off:off + cpuset_size] if cpuset_size else None
    if cpuset_size and len(cpuset) != cpuset_size:
        raise ValueError
    off += cpuset_size
    strings = data[off:].split(b"\0")
    want = argc + envc + (1 if has_workdir else 0)
    if len(strings) < want + 1:
        raise ValueError
    argv = [s.decode("utf-8", "surrogateescape") for s in strings[:argc]]
    envp = strings[argc:argc + envc]
    workdir = strings[argc + envc] if has_workdir else None
    return argv, envp, workdir, cpuset, data_limit


class Server:
    def __init__(self):
        self.req = socket.socket(fileno=REQ_FD)
        self.pending = []
        self.loaded = False
        self.cls = None
        self.lib = None
        self.setup_lib = None
        self.step_fn = None
        self.stdio = None
        self.env = None   # os.environ after preload, as bytes
        self.taskmod = None
        self.evt = socket.socket(fileno=EVT_FD)
        self.forked = 0

    def preload(self, argv, envp):
        """What every task of the run loads, loaded once here."""
        self.loaded = True
        from . import task as taskmod
        self.taskmod = taskmod
        from .graph import flow_class, load_module
        split = split_command(argv)
        if not split:
            return
        env, targv = split
        os.environ.update(env)
        try:
            self.lib = taskmod.libmflow()
            self.lib.mf_task_foreign_preload.argtypes = [ctypes.c_int,
                                                         ctypes.POINTER(ctypes.c_char_p)]
            self.lib.mf_task_foreign_preload.restype = None
            # the same library, through a handle that keeps errno for the set-up's message
            self.setup_lib = ctypes.CDLL(os.environ["MFLOW_LIBMFLOW"], use_errno=True)
            self.setup_lib.mf_task_foreign_child_setup.argtypes = [
                ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_char_p,
                ctypes.c_size_t, ctypes.c_int, ctypes.c_ulonglong]
            self.setup_lib.mf_task_foreign_child_setup.restype = ctypes.c_int
            path = targv[1] if len(targv) > 1 else ""
            if path.endswith(".py"):
                self.cls = flow_class(load_module(path), path)
            cargv = (ctypes.c_char_p * (len(targv) + 1))(
                *[a.encode("utf-8", "surrogateescape") for a in targv], None)
            self.lib.mf_task_foreign_preload(len(targv), cargv)
            if self.cls is not None:
                # libffi's first closure reads /proc and maps a page: once here, not per task
                self.step_fn = taskmod.STEP_FN(taskmod.step_runner(self.lib, self.cls))
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
        # the first task's environment: the children change only what differs in theirs
        self.env = env_of(envp, env)
        apply_env(self.env, None)
        if self.lib is not None:
            # the children start with the server's code mapped (core/src/foreign_ts.h)
            self.lib.mf_foreign_ts_share_code.argtypes = []
            self.lib.mf_foreign_ts_share_code.restype = None
            self.lib.mf_foreign_ts_share_code()
        # what was loaded stays as it is: the children's collector does not touch it
        gc.freeze()

    def prepare(self, argv, envp):
        """In the server, before the fork: the task's argv from `task` and the changes to
        the server's environment, or None when it is not a task command. Done here, a child
        touches no page for the (mostly equal) environment it is handed."""
        split = split_command(argv)
        if not split:
            return None
        env, targv = split
        cargv = self.taskmod.command_array(targv) if self.taskmod else None
        return targv, cargv, env_changes(env_of(envp, env), self.env)

    def child(self, prepared, workdir, cpuset, data_limit, fds):
        code = 127
        try:
            # a child lives for one task: a collection would only walk (and copy) pages
            gc.disable()
            signal.set_wakeup_fd(-1)
            # _signal's own: signal.signal's enum conversion costs every child a few pages
            _signal.signal(_signal.SIGCHLD, _signal.SIG_DFL)
            step = self.setup_lib.mf_task_foreign_child_setup(
                fds[0], fds[1], fds[2], workdir, cpuset, len(cpuset) if cpuset else 0,
                fds[3] if len(fds) > 3 else -1, data_limit)
            if step:
                e = ctypes.get_errno() or errno.EIO
                os.write(2, ("mflow: task server: %s: %s\n" % (STEPS.get(step, "set-up"),
                                                               os.strerror(e))).encode())
                os._exit(127)
            if prepared is None:
                os.write(2, b"mflow: task server: not a task command\n")
                os._exit(2)
            targv, cargv, (put, drop) = prepared
            env = os.environb
            for k in drop:
                del env[k]
            for k, v in put:
                env[k] = v
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
            code = taskmod.run_task(targv, self.cls, self.step_fn, cargv)
            taskmod._flush_stdio()
        except BaseException:
            import traceback
            traceback.print_exc()
        os._exit(code)

    def serve(self):
        if self.lib is None:
            from . import task as taskmod
            try:
                self.lib = taskmod.libmflow()
            except BaseException as e:
                sys.stderr.write("mflow: python task server: %s\n" % e)
                return 1
        rpipe, wpipe = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(wpipe)
        signal.signal(signal.SIGCHLD, lambda *a: None)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGCHLD])
        import select
        poller = select.poll()
        poller.register(REQ_FD, select.POLLIN)
        poller.register(rpipe, select.POLLIN)
        while True:
            if self.pending:
                poller.register(EVT_FD, select.POLLOUT)
            else:
                try:
                    poller.unregister(EVT_FD)
                except KeyError:
                    pass
            try:
                ready = dict(poller.poll())
            except InterruptedError:
                continue
            if rpipe in ready:
                try:
                    while os.read(rpipe, 512):
                        pass
                except BlockingIOError:
                    pass
            self.reap()
            if self.pending and not self.flush_events():
                break
            if REQ_FD not in ready:
                continue
            try:
                data, anc, flags, _ = self.req.recvmsg(MAX_MSG,
                                                       socket.CMSG_SPACE(MAX_FDS * 4))
            except InterruptedError:
                continue
            except ConnectionResetError:
                break
            if not data and not anc:
                break
            fds = []
            for level, kind, cdata in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    n = len(cdata) - len(cdata) % 4
                    fds.extend(struct.unpack("%di" % (n // 4), cdata[:n]))
            try:
                if flags & (socket.MSG_TRUNC | socket.MSG_CTRUNC):
                    raise ValueError
                argv, envp, workdir, cpuset, data_limit = parse(data, fds)
            except ValueError:
                for fd in fds:
                    os.close(fd)
                self.reply(-1, errno.EPROTO)
                continue
            if not self.loaded:
                self.preload(argv, envp)
            prepared = self.prepare(argv, envp)
            try:
                pid = os.fork()
            except OSError as e:
                pid, err = -1, e.errno
            else:
                err = 0
            if pid == 0 and self.setup_lib is None:
                os.write(2, b"mflow: task server: libmflow could not be loaded\n")
                os._exit(127)
            if pid == 0:
                self.child(prepared, workdir, cpuset, data_limit, fds)
            if pid > 0:
                self.forked += 1
            for fd in fds:
                os.close(fd)
            self.reply(pid if pid > 0 else -1, err)
        return 0

    def reap(self):
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self.pending.append(PAIR.pack(pid, status))

    def flush_events(self):
        while self.pending:
            try:
                self.evt.send(self.pending[0], socket.MSG_DONTWAIT | socket.MSG_NOSIGNAL)
            except BlockingIOError:
                return True
            except InterruptedError:
                continue
            except OSError:
                return False
            self.pending.pop(0)
        return True

    def reply(self, pid, err):
        while True:
            try:
                self.req.send(PAIR.pack(pid, err))
                return
            except InterruptedError:
                continue
            except OSError:
                return


def main(argv):
    # stdout is the event socket: nothing may be printed to it
    sys.stdout = sys.stderr
    stats = os.environ.get("MFLOW_PY_TS_STATS")
    server = Server()
    code = server.serve()
    if stats:
        report_children(stats, server.forked)
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
