from mflow import FlowSpec, step, current


class LinearFlow(FlowSpec):
    @step
    def start(self):
        self.x = 1
        self.name = "linear"
        self.next(self.middle)

    @step
    def middle(self):
        self.x = self.x + 41
        self.seen = current.step_name
        self.next(self.end)

    @step
    def end(self):
        print("x is", self.x, "from", self.seen, "in", current.pathspec)


if __name__ == "__main__":
    LinearFlow()
