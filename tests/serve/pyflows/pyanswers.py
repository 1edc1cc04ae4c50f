"""The serve suite's Python flow: end holds n, doubled and label from the parameters (a run's
pair a = b = n: an answer mixing two runs would show them apart), values of every Python type
(obj, a pickle of a class of this file, npy when numpy is there); --fail=1 fails end. Its
endpoints answer, fail and crash in every way a Python endpoint can."""
import os
import signal

from mflow import FlowSpec, HTTPError, Parameter, current, endpoint, step

try:
    import numpy
except ImportError:
    numpy = None


class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y

    def norm1(self):
        return abs(self.x) + abs(self.y)

    def __setstate__(self, state):
        # each unpickling noted (PYANSWERS_UNPICKLED): the serve tests count the reads
        self.__dict__.update(state)
        mark = os.environ.get("PYANSWERS_UNPICKLED")
        if mark:
            with open(mark, "a") as f:
                f.write("%d\n" % os.getpid())


class PyAnswersFlow(FlowSpec):
    n = Parameter("n", default=3)
    fail = Parameter("fail", default=0)
    label = Parameter("label", default="plain")

    @step
    def start(self):
        self.doubled = 2 * self.n
        self.next(self.end)

    @step
    def end(self):
        if self.fail:
            raise RuntimeError("end fails, as asked (--fail=1)")
        self.a = self.n
        self.b = self.doubled // 2
        self.result = self.n
        self.meta = {"n": self.n, "tags": ("x", None, True), "big": 2 ** 70}
        self.point = Point(self.n, -2 * self.n)
        if numpy is not None:
            self.matrix = numpy.arange(6, dtype=numpy.int32).reshape(2, 3) * self.n
        self.run_id = current.run_id

    @endpoint
    def show_data(self):
        """the result"""
        return {"result": self.result}

    @endpoint
    def pair(self):
        return {"run": self.run_id, "a": self.a, "b": self.b}

    @endpoint(name="label-of", help="the run's label")
    def label_of(self, request):
        return {"label": self.label, "method": request.method}

    @endpoint
    def add(self, request):
        x = request["x"]
        if not isinstance(x, int):
            try:
                x = int(x)
            except ValueError:
                raise HTTPError(422, "x must be a whole number")
        return {"sum": x + self.n, "name": request.get("name", "anon"),
                "method": request.method}

    @endpoint
    def echo(self, request):
        return {"json": request.json, "args": request.args, "method": request.method}

    @endpoint
    def teapot(self):
        raise HTTPError(418, "short and stout")

    @endpoint
    def boom(self):
        raise ValueError("boom, as this endpoint does")

    @endpoint
    def missing(self):
        return self.nowhere

    @endpoint
    def setter(self):
        self.result = 99
        return {"set": True}

    @endpoint
    def notjson(self):
        return {"values": {1, 2}}

    @endpoint
    def exits(self):
        os._exit(7)

    @endpoint
    def killed(self):
        os.kill(os.getpid(), signal.SIGKILL)

    @endpoint
    def segv(self):
        import ctypes
        return ctypes.string_at(0)

    @endpoint
    def sysexit(self):
        raise SystemExit(3)

    @endpoint
    def hangs(self):
        import time
        time.sleep(3600)

    @endpoint
    def pid(self):
        return os.getpid()

    @endpoint
    def values(self):
        out = {"meta": self.meta, "point": [type(self.point).__name__, self.point.x,
                                             self.point.y, self.point.norm1()]}
        if numpy is not None:
            out["matrix"] = self.matrix
            out["matrix_type"] = [str(self.matrix.dtype), list(self.matrix.shape)]
        return out


if __name__ == "__main__":
    PyAnswersFlow()
