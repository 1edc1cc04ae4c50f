import math

from mflow import FlowSpec, Parameter, step


class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y

    def __eq__(self, other):
        return isinstance(other, Point) and (self.x, self.y) == (other.x, other.y)


def expected():
    return {
        "an_int": 42, "neg": -7, "big": 2 ** 70, "a_float": 2.5, "a_str": "héllo",
        "a_bytes": b"\x00\x01\xff", "a_bool": True, "nothing": None,
        "ints": [1, 2, 3], "floats": [0.5, 1.5], "strs": ["a", "b"], "empty": [],
        "mixed": [1, "two", 3.0, None], "a_dict": {"k": [1, 2], "n": {"deep": True}},
        "int_keys": {1: "one", 2: "two"}, "a_tuple": (1, "x"), "tagged": {"$bytes": "no"},
        "a_set": {3, 1, 2}, "point": Point(1, 2), "grid": [(1, 2), (3, 4)],
    }


class ValuesFlow(FlowSpec):
    numpy = Parameter("numpy", default=False, type=bool)

    @step
    def start(self):
        for k, v in expected().items():
            setattr(self, k, v)
        self.not_a_number = float("nan")
        if self.numpy:
            import numpy as np
            self.arr = np.arange(6, dtype=np.float32).reshape(2, 3)
        self.next(self.check)

    @step
    def check(self):
        bad = [k for k, v in expected().items() if getattr(self, k) != v or
               type(getattr(self, k)) is not type(v)]
        if not math.isnan(self.not_a_number):
            bad.append("not_a_number")
        if self.numpy:
            import numpy as np
            if not (isinstance(self.arr, np.ndarray) and self.arr.dtype == np.float32 and
                    self.arr.shape == (2, 3) and float(self.arr.sum()) == 15.0):
                bad.append("arr")
        self.bad = ",".join(bad) or "none"
        self.ints.append(4)   # a mutated inherited value is not stored again unless set
        self.next(self.end)

    @step
    def end(self):
        self.ints_len = len(self.ints)
