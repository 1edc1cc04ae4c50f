"""Fit a linear model for several learning rates in parallel (resources per step), keep the
best one.
    mflow run examples/python/train.py --epochs=200"""
import random

from mflow import FlowSpec, Parameter, resources, step


class TrainFlow(FlowSpec):
    epochs = Parameter("epochs", default=300, help="gradient steps per model")

    @step
    def start(self):
        rnd = random.Random(42)
        self.x = [i / 256 for i in range(256)]
        self.y = [3.0 * v - 1.0 + (rnd.random() - 0.5) * 0.1 for v in self.x]
        self.rates = [0.01, 0.1, 0.5, 1.0]
        self.next(self.fit, foreach="rates")

    @resources(cpu=1, memory=256)
    @step
    def fit(self):
        lr, w, b, n = self.input, 0.0, 0.0, len(self.x)
        for _ in range(self.epochs):
            gw = gb = 0.0
            for xi, yi in zip(self.x, self.y):
                err = w * xi + b - yi
                gw += err * xi
                gb += err
            w -= lr * gw / n
            b -= lr * gb / n
        self.w, self.b, self.lr = w, b, lr
        self.mse = sum((w * xi + b - yi) ** 2 for xi, yi in zip(self.x, self.y)) / n
        print("lr %.2f: w=%.3f b=%.3f mse=%.5f" % (lr, w, b, self.mse))
        self.next(self.pick)

    @step
    def pick(self, inputs):
        best = min(inputs, key=lambda i: i.mse)
        self.w, self.b, self.mse, self.best_lr = best.w, best.b, best.mse, best.lr
        self.next(self.end)

    @step
    def end(self):
        print("best: lr %.2f, y = %.3f x %+.3f (mse %.5f)" % (self.best_lr, self.w, self.b,
                                                             self.mse))


if __name__ == "__main__":
    TrainFlow()
