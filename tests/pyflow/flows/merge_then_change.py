# A join that sets a list, merges its inputs, then goes on changing the list: the list is
# stored as the step ends (merge_artifacts stores what the join set so far).
from mflow import FlowSpec, step


class MergeThenChangeFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.v = 1
        self.common = "same"
        self.next(self.join)

    @step
    def b(self):
        self.v = 2
        self.common = "same"
        self.next(self.join)

    @step
    def join(self, inputs):
        self.results = []
        self.count = 0
        self.merge_artifacts(inputs, exclude=["v"])
        self.results.append(sum(i.v for i in inputs))
        self.results.append(self.common)
        self.count += 1
        self.next(self.end)

    @step
    def end(self):
        pass
