from mflow import FlowSpec, step


class BranchFlow(FlowSpec):
    @step
    def start(self):
        self.base = 10
        self.next(self.a, self.b)

    @step
    def a(self):
        self.x = self.base + 1
        self.next(self.join)

    @step
    def b(self):
        self.x = self.base + 2
        self.next(self.join)

    @step
    def join(self, inputs):
        self.x = max(i.x for i in inputs)
        self.from_a = inputs.a.x
        self.n_inputs = len(inputs)
        self.merge_artifacts(inputs, exclude=["x"])
        self.next(self.end)

    @step
    def end(self):
        print("max", self.x, "a", self.from_a, "base", self.base)


if __name__ == "__main__":
    BranchFlow()
