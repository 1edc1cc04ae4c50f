from mflow import FlowSpec, step


class ForeachFlow(FlowSpec):
    @step
    def start(self):
        self.items = [3, 5, 7]
        self.next(self.square, foreach="items")

    @step
    def square(self):
        self.sq = self.input * self.input
        self.pos = self.index
        self.next(self.join)

    @step
    def join(self, inputs):
        self.squares = [i.sq for i in inputs]
        self.positions = [i.pos for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        print("squares", self.squares, "total", sum(self.squares))


if __name__ == "__main__":
    ForeachFlow()
