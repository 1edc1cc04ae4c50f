"""The Python twin of linear5.c: five steps in a line, each setting one artifact."""
from mflow import FlowSpec, step


class Linear5Py(FlowSpec):
    @step
    def start(self):
        self.x = 1
        self.next(self.a)

    @step
    def a(self):
        self.x += 1
        self.next(self.b)

    @step
    def b(self):
        self.x += 1
        self.next(self.c)

    @step
    def c(self):
        self.x += 1
        self.next(self.end)

    @step
    def end(self):
        self.x += 1
