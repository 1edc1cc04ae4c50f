# A step that leaves threads running: the task waits for them, as python3 waits at exit, after
# the hooks python3 calls first (an executor's idle workers stop; they are not waited for).
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from mflow import FlowSpec, step

POOL = None


class ThreadsFlow(FlowSpec):
    @step
    def start(self):
        global POOL
        self.path = os.path.join(os.environ["MFLOW_TEST_WORK"], "thread-out")

        def late():
            time.sleep(2)
            with open(self.path, "w") as f:
                f.write("written")
            print("thread finished")
        threading.Thread(target=late, name="late-writer").start()
        # a daemon thread is not waited for (as at python3's exit)
        threading.Thread(target=time.sleep, args=(3600,), daemon=True).start()
        # an executor never shut down, kept alive: its idle workers are stopped, not waited for
        POOL = ThreadPoolExecutor(2)
        self.squares = sum(POOL.map(lambda x: x * x, range(5)))
        self.next(self.end)

    @step
    def end(self):
        with open(self.path) as f:
            self.seen = f.read()
