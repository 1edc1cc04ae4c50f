"""A flow that fails half-way the first time (when the file named by FAIL_ONCE exists, it is
removed and the step fails), to show `mflow resume`: the finished steps are reused, the
failed step and those after it run again.
    FAIL_ONCE=/tmp/fail touch /tmp/fail; mflow run examples/python/resume.py; mflow resume examples/python/resume.py"""
import os

from mflow import FlowSpec, step, current


class ResumeFlow(FlowSpec):
    @step
    def start(self):
        self.data = list(range(10))
        self.loaded_in = current.run_id
        self.next(self.process)

    @step
    def process(self):
        marker = os.environ.get("FAIL_ONCE")
        if marker and os.path.exists(marker):
            os.remove(marker)
            raise RuntimeError("process failed on purpose (FAIL_ONCE)")
        self.total = sum(self.data)
        self.next(self.end)

    @step
    def end(self):
        print("total", self.total, "data loaded in run", self.loaded_in)


if __name__ == "__main__":
    ResumeFlow()
