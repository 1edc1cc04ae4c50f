# A step that leaves a thread running: the task waits for it, as python3 waits at exit.
import os
import threading
import time
from mflow import FlowSpec, step


class ThreadsFlow(FlowSpec):
    @step
    def start(self):
        self.path = os.path.join(os.environ["MFLOW_TEST_WORK"], "thread-out")

        def late():
            time.sleep(1)
            with open(self.path, "w") as f:
                f.write("written")
            print("thread finished")
        threading.Thread(target=late).start()
        # a daemon thread is not waited for (as at python3's exit)
        threading.Thread(target=time.sleep, args=(3600,), daemon=True).start()
        self.next(self.end)

    @step
    def end(self):
        with open(self.path) as f:
            self.seen = f.read()
