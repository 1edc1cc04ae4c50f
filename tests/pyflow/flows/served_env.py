import os
import sys

from mflow import FlowSpec, Parameter, environment, step

# Every import of this module is logged: a run's tasks share one import in the task server.
if os.environ.get("IMPORT_LOG"):
    with open(os.environ["IMPORT_LOG"], "a") as f:
        f.write("import %d\n" % os.getpid())


def seen():
    return "/".join(os.environ.get(k, "-") for k in ("ONLY_START", "SHARED", "ONLY_WORK"))


class ServedEnvFlow(FlowSpec):
    """Each step's own environment: the server's children start from the first task's."""
    n = Parameter("n", default=4)

    @environment(vars={"ONLY_START": "s", "SHARED": "from start"})
    @step
    def start(self):
        self.env_start = seen()
        self.client_loaded = "mflow.client" in sys.modules
        self.graph_modules = " ".join(m for m in ("ast", "hashlib") if m in sys.modules) or "none"
        self.items = list(range(self.n))
        self.next(self.work, foreach="items")

    @environment(vars={"SHARED": "from work", "ONLY_WORK": "w"})
    @step
    def work(self):
        self.env_work = seen()
        self.client_loaded = "mflow.client" in sys.modules
        print("out %d" % self.input)
        print("err %d" % self.input, file=sys.stderr)
        self.next(self.join)

    @step
    def join(self, inputs):
        self.env_works = sorted(set(i.env_work for i in inputs))
        self.env_join = seen()
        self.next(self.end)

    @step
    def end(self):
        self.env_end = seen()
