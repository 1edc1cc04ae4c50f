from mflow import FlowSpec, step


class NestedFlow(FlowSpec):
    @step
    def start(self):
        self.outer = ["a", "b"]
        self.next(self.mid, foreach="outer")

    @step
    def mid(self):
        self.letter = self.input
        self.inner = [1, 2, 3]
        self.next(self.leaf, foreach="inner")

    @step
    def leaf(self):
        self.tag = "%s%d" % (self.letter, self.input)
        self.next(self.join_inner)

    @step
    def join_inner(self, inputs):
        self.tags = [i.tag for i in inputs]
        self.next(self.join_outer)

    @step
    def join_outer(self, inputs):
        self.all_tags = sorted(t for i in inputs for t in i.tags)
        self.next(self.end)

    @step
    def end(self):
        print(",".join(self.all_tags))


if __name__ == "__main__":
    NestedFlow()
