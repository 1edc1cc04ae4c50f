from mflow import FlowSpec, Parameter, step


class ParamFlow(FlowSpec):
    alpha = Parameter("alpha", default=0.5, help="learning rate")
    epochs = Parameter("epochs", default=3, help="passes over the data")
    label = Parameter("label", default="base")
    verbose = Parameter("verbose", default=False, type=bool)
    seed = Parameter("seed", type=int, required=True, help="random seed")

    @step
    def start(self):
        self.score = self.alpha * self.epochs + self.seed
        self.kind = "%s:%s:%s" % (type(self.alpha).__name__, type(self.epochs).__name__,
                                  type(self.verbose).__name__)
        self.flag = "on" if self.verbose else "off"
        self.next(self.end)

    @step
    def end(self):
        self.shown = "%s %s %s" % (self.label, self.score, self.flag)


if __name__ == "__main__":
    ParamFlow()
