import os

from mflow import FlowSpec, Parameter, environment, step

# Every import of this module is logged: the Python task server imports it once for all tasks.
if os.environ.get("IMPORT_LOG"):
    with open(os.environ["IMPORT_LOG"], "a") as f:
        f.write("import %d\n" % os.getpid())


class ServedFlow(FlowSpec):
    n = Parameter("n", default=8)

    @step
    def start(self):
        self.items = list(range(self.n))
        self.next(self.work, foreach="items")

    @environment(vars={"GREETING": "hello from env"})
    @step
    def work(self):
        self.pid = os.getpid()
        self.group_leader = os.getpgrp() == os.getpid()
        self.greeting = os.environ.get("GREETING", "")
        self.cwd = os.getcwd()
        self.doubled = self.input * 2
        self.next(self.join)

    @step
    def join(self, inputs):
        self.pids = sorted(set(i.pid for i in inputs))
        self.leaders = all(i.group_leader for i in inputs)
        self.greetings = sorted(set(i.greeting for i in inputs))
        self.total = sum(i.doubled for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass
