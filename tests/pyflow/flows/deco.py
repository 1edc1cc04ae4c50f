from mflow import FlowSpec, step, resources, retry, catch, timeout, environment, compute
class DecoFlow(FlowSpec):
    @compute("local", image="python:3.11", cpu_bind="off")
    @environment(vars={"A": 1, "B": "two"})
    @timeout(minutes=1, seconds=5)
    @resources(cpu=2, memory=512, gpu=0)
    @catch(var="oops")
    @retry(times=4)
    @step
    def start(self):
        import os
        self.env_a = os.environ.get("A")
        self.next(self.end)
    @step
    def end(self):
        pass
