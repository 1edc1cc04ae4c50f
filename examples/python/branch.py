"""Two branches computed in parallel, joined by keeping the larger result.
    mflow run examples/python/branch.py      (or: python3 examples/python/branch.py run)"""
from mflow import FlowSpec, step


class BranchFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.x = 1
        self.next(self.join)

    @step
    def b(self):
        self.x = 2
        self.next(self.join)

    @step
    def join(self, inputs):
        self.x = max(i.x for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        print("max x:", self.x)


if __name__ == "__main__":
    BranchFlow()
