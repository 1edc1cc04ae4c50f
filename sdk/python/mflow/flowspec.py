"""FlowSpec: a flow is a class of steps. Every attribute set on self in a step is an artifact
(names starting with '_' stay private to the step); parameters read as attributes."""
import sys

from .exceptions import MflowException


class MflowError(MflowException):
    """A failure the task reported (a missing artifact, a value that cannot be stored...)."""


_IMMUTABLE = (int, float, bool, str, bytes, type(None), complex, frozenset)


class _ClassValue:
    """A plain value assigned in the flow's class body (threshold = 0.5). An artifact of the
    same name is an instance's value, so it has to win over the class's: a class attribute
    would hide it from __getattr__ (the step that set it, and every later one, read 0.5).
    Read through the class, it is the value."""

    def __init__(self, name, value):
        self.name = name
        self.value = value

    def __get__(self, obj, cls=None):
        if obj is None:
            return self.value
        if obj._mflow_task is None:
            return obj.__dict__.get(self.name, self.value)
        try:
            return obj._mflow_read(self.name)
        except AttributeError:
            obj._mflow_cache[self.name] = self.value   # not asked of the task again
            return self.value

    def __set__(self, obj, value):
        if obj._mflow_task is None:
            obj.__dict__[self.name] = value
        else:
            obj._mflow_set(self.name, value)


class FlowSpec:
    # Set by the SDK while it imports a flow module: MyFlow() at the module's top level then
    # does nothing (the flow's own `if __name__ == "__main__"` is the usual guard).
    _mflow_importing = False

    def __init__(self, _mflow_task=None):
        object.__setattr__(self, "_mflow_task", _mflow_task)
        object.__setattr__(self, "_mflow_pending", {})
        object.__setattr__(self, "_mflow_cache", {})
        object.__setattr__(self, "_mflow_next", None)
        if _mflow_task is None and not FlowSpec._mflow_importing:
            from .cli import main
            main(type(self))

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        for name, v in list(vars(cls).items()):
            # plain values only: steps, methods, parameters and properties are descriptors
            if not name.startswith("_") and not hasattr(type(v), "__get__"):
                setattr(cls, name, _ClassValue(name, v))

    # ---- artifacts --------------------------------------------------------------------------
    def __setattr__(self, name, value):
        if name.startswith("_"):
            object.__setattr__(self, name, value)
            return
        cls_attr = getattr(type(self), name, None)
        if hasattr(cls_attr, "__set__"):
            cls_attr.__set__(self, value)
            return
        if self._mflow_task is None:
            object.__setattr__(self, name, value)
            return
        self._mflow_set(name, value)

    def _mflow_set(self, name, value):
        if getattr(self._mflow_task, "readonly", False):
            raise AttributeError("artifact '%s' cannot be set here: an endpoint reads the served "
                                 "run's artifacts (keep request state in local variables, or in "
                                 "self._NAME)" % name)
        self._mflow_pending[name] = value
        self._mflow_cache.pop(name, None)

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return self._mflow_read(name)

    def __delattr__(self, name):
        raise AttributeError("artifact '%s' cannot be deleted" % name)

    def _mflow_read(self, name):
        if name in self._mflow_pending:
            return self._mflow_pending[name]
        if name in self._mflow_cache:
            return self._mflow_cache[name]
        task = self._mflow_task
        if task is None or not task.has(name):
            raise AttributeError("step '%s': no artifact '%s' (set it in an earlier step)"
                                 % (task.step if task else "?", name))
        v = task.get(name)
        self._mflow_cache[name] = v
        return v

    def _mflow_flush(self):
        task = self._mflow_task
        for name, value in self._mflow_pending.items():
            task.set(name, value)
            self._mflow_cache[name] = value
        self._mflow_pending.clear()

    # ---- transitions ------------------------------------------------------------------------
    def next(self, *steps, foreach=None):
        """self.next(self.a), self.next(self.a, self.b), self.next(self.a, foreach="items").
        The graph is read from the source before the run; here the call only checks that the
        step ends with one."""
        names = []
        for s in steps:
            n = getattr(s, "__name__", None)
            if n is None or not getattr(s, "_mflow_step", False):
                raise TypeError("self.next() takes steps, as self.name: got %r" % (s,))
            names.append(n)
        if not names:
            raise TypeError("self.next() needs at least one step")
        object.__setattr__(self, "_mflow_next", (tuple(names), foreach))

    # ---- joins --------------------------------------------------------------------------------
    def merge_artifacts(self, inputs, exclude=None, include=None):
        """Keep every artifact the inputs agree on (or that only some have); fail on one they
        disagree on unless excluded. What the join set itself before wins."""
        task = self._mflow_task
        if include:
            raise TypeError("merge_artifacts(include=...) is not supported: use exclude=")
        # what the join set is stored first (the merge keeps it), and stays what self.NAME
        # reads: a list the join goes on changing is stored again at the step's end, as it
        # ends (it was read back as a copy from the store, and a later append lost)
        kept = {k: v for k, v in self._mflow_pending.items() if type(v) not in _IMMUTABLE}
        self._mflow_flush()
        self._mflow_cache.clear()
        names = " ".join(exclude or [])
        task.merge(names)
        self._mflow_pending.update(kept)

    # ---- foreach ----------------------------------------------------------------------------
    @property
    def input(self):
        """The item of the innermost foreach this task runs for."""
        return self._mflow_task.item()[0]

    @property
    def index(self):
        """Its position in the foreach list."""
        return self._mflow_task.item()[1]


class Input:
    """One input of a join: its artifacts as attributes."""

    def __init__(self, task, i):
        self._task = task
        self._i = i
        self._cache = {}

    @property
    def step_name(self):
        return self._task.input_step(self._i)

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in self._cache:
            if not self._task.input_has(self._i, name):
                raise AttributeError("input %d (step '%s') has no artifact '%s'"
                                     % (self._i, self.step_name, name))
            self._cache[name] = self._task.input_get(self._i, name)
        return self._cache[name]

    def __repr__(self):
        return "<input %d of step '%s'>" % (self._i, self.step_name)


class Inputs:
    """A join's inputs: iterate, index, len(), or inputs.a for the input from step a."""

    def __init__(self, task):
        self._items = [Input(task, i) for i in range(task.input_count())]

    def __len__(self):
        return len(self._items)

    def __iter__(self):
        return iter(self._items)

    def __getitem__(self, i):
        return self._items[i]

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        for inp in self._items:
            if inp.step_name == name:
                return inp
        raise AttributeError("no input from step '%s'" % name)


def _flow_classes(module):
    """The FlowSpec subclasses defined in module, in source order."""
    out = []
    for v in vars(module).values():
        if isinstance(v, type) and issubclass(v, FlowSpec) and v is not FlowSpec and \
                v.__module__ == module.__name__:
            out.append(v)
    return out


def _stderr(msg):
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()
