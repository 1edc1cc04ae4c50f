# A flow class defined twice: Python runs the second, so its graph is the second one's.
from mflow import FlowSpec, step
class Redefined(FlowSpec):
    @step
    def start(self):
        self.v = 1
        self.next(self.end)
    @step
    def end(self):
        print("first end")
class Redefined(FlowSpec):
    @step
    def start(self):
        self.v = 2
        self.next(self.check)
    @step
    def check(self):
        print("check runs")
        self.ok = True
        self.next(self.end)
    @step
    def end(self):
        print("second end", self.v, getattr(self, "ok", "NO CHECK"))
