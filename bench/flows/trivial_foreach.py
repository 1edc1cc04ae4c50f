"""The Python twin of trivial_foreach.c: a foreach of n tasks that do nothing."""
from mflow import FlowSpec, Parameter, step


class TrivialForeachPy(FlowSpec):
    n = Parameter("n", default=10)

    @step
    def start(self):
        self.items = list(range(self.n))
        self.next(self.work, foreach="items")

    @step
    def work(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
