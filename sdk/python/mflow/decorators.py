"""Step decorators: what a step needs (resources, retries, ...), read by the graph before
anything runs. Each decorator records its arguments on the step's function, above or below
@step; the graph (graph.py) turns them into the step's entry of the flow's table."""


def _attrs(fn):
    d = getattr(fn, "_mflow_attrs", None)
    if d is None:
        d = {}
        fn._mflow_attrs = d
    return d


def _decorator(key, value):
    def apply(fn):
        if not callable(fn):
            raise TypeError("@%s goes on a step method" % key)
        attrs = _attrs(fn)
        if key in attrs:
            raise TypeError("step '%s' has @%s twice: give it once" % (fn.__name__, key))
        attrs[key] = value
        return fn
    return apply


def step(fn):
    """Mark a method of a FlowSpec as a step."""
    if not callable(fn):
        raise TypeError("@step goes on a method of a FlowSpec")
    if hasattr(fn, "_mflow_endpoint"):
        raise TypeError("'%s' is marked both @step and @endpoint: a method is one or the other"
                        % fn.__name__)
    flags = getattr(getattr(fn, "__code__", None), "co_flags", 0)
    if flags & (_GENERATOR | _COROUTINE):
        # calling it only makes a generator or coroutine: its body would never run (an end
        # step's task succeeded having done nothing)
        raise TypeError("step '%s' is a %s function: a step is a plain def (no yield, no "
                        "async)" % (fn.__name__,
                                    "generator" if flags & _GENERATOR else "coroutine"))
    fn._mflow_step = True
    _attrs(fn)
    return fn


# code flags of functions a call does not run (inspect's CO_* values, without importing it):
# CO_GENERATOR | CO_ASYNC_GENERATOR, CO_COROUTINE | CO_ITERABLE_COROUTINE
_GENERATOR = 0x20 | 0x200
_COROUTINE = 0x80 | 0x100


def _whole(name, v, what):
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise TypeError("%s=%r: %s must be a whole number, 0 or more" % (name, v, what))
    return v


def resources(cpu=0, memory=0, gpu=0):
    """Cores, memory in MB and GPUs the step asks of its compute backend."""
    return _decorator("resources", {"cpu": _whole("cpu", cpu, "cores"),
                                    "memory": _whole("memory", memory, "MB"),
                                    "gpu": _whole("gpu", gpu, "GPUs")})


def retry(times=3):
    """Run the step again, up to `times` extra attempts, when it fails."""
    return _decorator("retry", _whole("times", times, "extra attempts"))


def catch(var="exception"):
    """After the last failed attempt, store the error in artifact `var` and go on."""
    if not isinstance(var, str) or not var:
        raise TypeError("catch(var=%r): var is the name of an artifact" % (var,))
    return _decorator("catch", var)


def timeout(seconds=0, minutes=0, hours=0):
    """Stop the step after this long (each attempt)."""
    total = _whole("seconds", seconds, "seconds") + 60 * _whole("minutes", minutes, "minutes") + \
        3600 * _whole("hours", hours, "hours")
    if total <= 0:
        raise TypeError("timeout() needs seconds=, minutes= or hours= above 0")
    return _decorator("timeout", total)


def environment(vars=None):
    """Extra environment variables of the step's task."""
    vars = dict(vars or {})
    for k, v in vars.items():
        if not isinstance(k, str) or not k or "=" in k:
            raise TypeError("environment(vars=...): %r is not a variable name" % (k,))
    return _decorator("environment", {k: str(v) for k, v in vars.items()})


def compute(name, image=None, **settings):
    """The compute plugin that runs this step (overriding --compute), the container image for
    container and k8s compute, and the plugin's own settings: compute("k8s", image="py:3.11",
    node_selector="gpu=a100") gives the step the setting "k8s.node_selector=gpu=a100"."""
    if not isinstance(name, str) or not name:
        raise TypeError("compute(name): name is a compute plugin, e.g. 'k8s' or 'slurm'")
    return _decorator("compute", {"name": name, "image": image,
                                  "settings": ["%s.%s=%s" % (name, k, v)
                                               for k, v in sorted(settings.items())]})


def endpoint(fn=None, *, name=None, help=None):
    """Mark a method of a FlowSpec as an endpoint that `mflow serve` answers at /NAME (GET or
    POST) from the artifacts of the served run's end task: def show(self) or
    def show(self, request). @endpoint, or @endpoint(name="show-data", help="one line");
    help defaults to the first line of the docstring."""
    if isinstance(fn, str) or (fn is not None and not callable(fn)):
        raise TypeError("@endpoint takes its name as a keyword: @endpoint(name=%r)" % (fn,))

    def apply(f):
        if not callable(f):
            raise TypeError("@endpoint goes on a method of a FlowSpec")
        if getattr(f, "_mflow_step", False):
            raise TypeError("'%s' is marked both @step and @endpoint: a method is one or the "
                            "other" % f.__name__)
        if hasattr(f, "_mflow_endpoint"):
            raise TypeError("endpoint '%s' has @endpoint twice: give it once" % f.__name__)
        if name is not None and not isinstance(name, str):
            raise TypeError("@endpoint(name=%r): the name is a string, the URL path /NAME"
                            % (name,))
        h = help
        if h is None and f.__doc__:
            h = f.__doc__.strip().split("\n")[0].strip() or None
        f._mflow_endpoint = {"name": name or f.__name__, "help": h}
        return f

    return apply if fn is None else apply(fn)
