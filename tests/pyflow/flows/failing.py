from mflow import FlowSpec, Parameter, step, retry, catch, timeout, current
import os
import signal
import time


class FailingFlow(FlowSpec):
    mode = Parameter("mode", default="raise", help="raise, flaky, sleep, exit, kill, ok")

    @step
    def start(self):
        self.count = 3
        self.next(self.boom)

    @retry(times=2)
    @timeout(seconds=2)
    @step
    def boom(self):
        self.attempts_seen = current.retry_count
        if self.mode == "raise":
            helper(self.count)
        elif self.mode == "flaky" and current.retry_count < 2:
            raise RuntimeError("flaky attempt %d" % current.retry_count)
        elif self.mode == "sleep":
            time.sleep(30)
        elif self.mode == "exit":
            os._exit(3)
        elif self.mode == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        self.next(self.end)

    @step
    def end(self):
        self.done = "after %d" % self.attempts_seen


def helper(n):
    raise ValueError("bad value %d" % n)


if __name__ == "__main__":
    FailingFlow()
