from mflow import FlowSpec, MflowError, Parameter, step


class CoreErrorFlow(FlowSpec):
    mode = Parameter("mode", default="caught")

    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.x = 1
        self.next(self.join)

    @step
    def b(self):
        self.x = 2
        self.next(self.join)

    @step
    def join(self, inputs):
        if self.mode == "caught":
            # a failure of the core (an artifact name it refuses) is an exception the step
            # may catch, and the task goes on
            try:
                setattr(self, "bad name", 1)
                self._mflow_flush()
            except MflowError as e:
                self._mflow_pending.clear()
                self.caught = str(e)
            try:
                self.merge_artifacts(inputs)
            except MflowError as e:
                self.merge_error = str(e)
            self.merge_artifacts(inputs, exclude=["x"])
            self.x = sum(i.x for i in inputs)
        else:
            self.merge_artifacts(inputs)   # uncaught: the task fails with the core's message
        self.next(self.end)

    @step
    def end(self):
        pass
