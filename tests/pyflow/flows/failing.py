from mflow import FlowSpec, step, retry, catch, timeout, current
import os
import time


class FailingFlow(FlowSpec):
    @step
    def start(self):
        self.count = 3
        self.next(self.boom)

    @step
    def boom(self):
        self.partial = 1
        helper(self.count)
        self.next(self.end)

    @step
    def end(self):
        pass


def helper(n):
    raise ValueError("bad value %d" % n)


if __name__ == "__main__":
    FailingFlow()
