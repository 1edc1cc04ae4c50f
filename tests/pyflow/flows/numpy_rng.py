# numpy's global generator in the children of a foreach: each task draws its own numbers, as
# a python3 of its own would (the task server forks them all from one that imported numpy).
import numpy as np
from mflow import FlowSpec, step


class NumpyRngFlow(FlowSpec):
    @step
    def start(self):
        self.items = list(range(6))
        self.next(self.body, foreach="items")

    @step
    def body(self):
        self.r = float(np.random.rand())
        self.next(self.join)

    @step
    def join(self, inputs):
        self.distinct = len(set(i.r for i in inputs))
        self.next(self.end)

    @step
    def end(self):
        pass
