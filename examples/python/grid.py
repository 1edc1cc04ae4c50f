"""A foreach over a parameter grid (a list of tuples), joined by picking the best point.
    mflow run examples/python/grid.py --scale=2"""
import itertools

from mflow import FlowSpec, Parameter, step


class GridFlow(FlowSpec):
    scale = Parameter("scale", default=1.0, help="multiplies every score")

    @step
    def start(self):
        self.grid = list(itertools.product([0.1, 0.5, 1.0], [2, 4]))
        self.next(self.evaluate, foreach="grid")

    @step
    def evaluate(self):
        lr, depth = self.input
        self.point = (lr, depth)
        self.score = self.scale * (lr * depth - (lr - 0.5) ** 2)
        self.next(self.pick)

    @step
    def pick(self, inputs):
        best = max(inputs, key=lambda i: i.score)
        self.best_point = best.point
        self.best_score = best.score
        self.n_points = len(inputs)
        self.next(self.end)

    @step
    def end(self):
        print("best", self.best_point, "score", round(self.best_score, 4), "of", self.n_points)


if __name__ == "__main__":
    GridFlow()
