import ctypes
import os
import random

from mflow import FlowSpec, Parameter, environment, step


# what a child of the task server runs after its fork, as os.fork would run it
_forked = []
os.register_at_fork(after_in_child=lambda: _forked.append(os.getpid()))


def status(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return line.split()[1]
    return "?"


def shared_code(pid):
    """The file mappings of pid's executable and libmflow that hold a private page: the
    task server's children start with those mapped."""
    out, cur = set(), None
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            p = line.split()
            if "-" in p[0] and len(p) >= 5 and not p[0].endswith(":"):
                cur = p[5] if len(p) > 5 and "x" in p[1] else None
            elif cur and p[0] == "Anonymous:" and int(p[1]) > 0:
                out.update(m for m in ("python3", "libmflow")
                           if os.path.basename(cur).startswith(m))
    return " ".join(sorted(out))


def both(name):
    """name as os.environ and as the C library see it."""
    libc = ctypes.CDLL(None)
    libc.getenv.restype = ctypes.c_char_p
    c = libc.getenv(name.encode())
    return "%s|%s" % (os.environ.get(name, "-"), c.decode() if c else "-")


class ServedLeanFlow(FlowSpec):
    n = Parameter("n", default=4)

    @environment(vars={"LEAN_A": "start", "LEAN_B": "b"})
    @step
    def start(self):
        self.env = both("LEAN_A") + " " + both("LEAN_B")
        self.items = list(range(self.n))
        self.next(self.work, foreach="items")

    @environment(vars={"LEAN_A": "work"})
    @step
    def work(self):
        self.env = both("LEAN_A") + " " + both("LEAN_B")
        self.blocked = status("SigBlk")
        self.code = shared_code(os.getppid())
        self.hooked = _forked == [os.getpid()]
        self.rand = random.random()   # reseeded in each child by random's own hook
        self.next(self.join)

    @step
    def join(self, inputs):
        self.envs = sorted(set(i.env for i in inputs))
        self.blocked = sorted(set(i.blocked for i in inputs))
        self.codes = sorted(set(i.code for i in inputs))
        self.hooked = all(i.hooked for i in inputs)
        self.rands = len(set(i.rand for i in inputs))
        self.env = both("LEAN_A") + " " + both("LEAN_B")
        self.next(self.end)

    @step
    def end(self):
        pass
