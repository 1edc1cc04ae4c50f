# Artifacts named like a plain value of the class body: the artifact is what self.NAME reads,
# in the step that sets it and in later ones; the class's value until one is set.
from mflow import FlowSpec, step


class ClassValuesFlow(FlowSpec):
    threshold = 0.5
    labels = None

    @step
    def start(self):
        self.before = self.threshold
        self.threshold = 0.9
        self.same_step = self.threshold
        self.next(self.a, self.b)

    @step
    def a(self):
        self.labels = ["a"]
        self.next(self.join)

    @step
    def b(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.from_a = inputs.a.labels
        self.merge_artifacts(inputs)
        self.next(self.end)

    @step
    def end(self):
        self.later = self.threshold
        self.merged = self.labels
        self.on_class = type(self).threshold
