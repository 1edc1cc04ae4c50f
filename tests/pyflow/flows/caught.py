from mflow import FlowSpec, Parameter, step, retry, catch


class CaughtFlow(FlowSpec):
    how = Parameter("how", default="fail")

    @step
    def start(self):
        self.x = 5
        self.next(self.risky)

    @catch(var="err")
    @retry(times=1)
    @step
    def risky(self):
        if self.how == "fail":
            raise KeyError("risky step gave up")
        import os
        os.abort()
        self.next(self.end)

    @step
    def end(self):
        self.seen = self.err
        self.x2 = self.x * 2


if __name__ == "__main__":
    CaughtFlow()
