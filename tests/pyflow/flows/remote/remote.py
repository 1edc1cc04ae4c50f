"""Every shape a remote backend must carry for a Python flow: parameters, a branch, a foreach
inside it, joins, an obj and a pickled class from a module beside the flow, a data file the
class lists, a retried step and one that fails with a traceback (mode=raise)."""
import os

from mflow import FlowSpec, Parameter, current, retry, step

from shapes import Point, scale


class RemoteFlow(FlowSpec):
    files = ["data/nums.txt"]
    n = Parameter("n", default=3, help="foreach width")
    label = Parameter("label", default="x", help="a string parameter")
    mode = Parameter("mode", default="ok", help="ok, flaky (a fails once) or raise")

    @step
    def start(self):
        here = os.path.dirname(os.path.abspath(__file__))
        with open(os.path.join(here, "data", "nums.txt")) as f:
            self.nums = [int(v) for v in f.read().split()]
        self.items = list(range(self.n))
        self.meta = {"label": self.label, "nested": [1, [2, None], True], "t": (1.5, "z")}
        self.pt = Point(self.n, len(self.label))
        self.next(self.a, self.b)

    @retry(times=1)
    @step
    def a(self):
        self.tries = current.retry_count
        if self.mode == "flaky" and current.retry_count == 0:
            raise RuntimeError("a fails on its first attempt")
        if self.mode == "raise":
            explode(self.n)
        self.x = scale(sum(self.nums))
        self.next(self.join)

    @step
    def b(self):
        self.next(self.sq, foreach="items")

    @step
    def sq(self):
        self.sq = self.input * self.input + self.index
        self.next(self.bjoin)

    @step
    def bjoin(self, inputs):
        self.sqs = [i.sq for i in inputs]
        self.x = sum(self.sqs)
        self.next(self.join)

    @step
    def join(self, inputs):
        self.best = max(i.x for i in inputs)
        self.from_a = inputs.a.x
        self.merge_artifacts(inputs, exclude=["x", "tries"])
        self.next(self.end)

    @step
    def end(self):
        self.summary = "%s:%d:%r" % (self.label, self.best, self.pt)
        print("summary", self.summary)


def explode(n):
    raise ValueError("remote step fails on purpose with n=%d" % n)


if __name__ == "__main__":
    RemoteFlow()
