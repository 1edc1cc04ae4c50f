"""The graph of a Python flow, read before anything runs: the class's steps and decorators,
and each step's self.next(...) from its source (ast), as the JSON document mflow turns into
its flow table (`python3 -m mflow graph flow.py`)."""
import importlib.util
import os
import sys

from .flowspec import FlowSpec, _flow_classes
from .parameter import Parameter

# ast, hashlib and json are imported where they are used: the task server and a task import
# this module for load_module and flow_class only, and those three were a third of its start.


class GraphError(Exception):
    def __init__(self, line, msg):
        super().__init__(msg)
        self.line = line


def load_module(path):
    """Import the flow file as a module named after it (so pickled objects of its classes name
    a module a notebook can import from the same directory)."""
    path = os.path.abspath(path)
    d = os.path.dirname(path)
    stem = os.path.splitext(os.path.basename(path))[0]
    name = stem
    if not stem.isidentifier() or stem in sys.modules:
        import hashlib
        name = "mflow_flow_" + hashlib.sha256(path.encode()).hexdigest()[:12]
    if d not in sys.path:
        sys.path.insert(0, d)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    FlowSpec._mflow_importing = True
    try:
        spec.loader.exec_module(module)
    finally:
        FlowSpec._mflow_importing = False
    return module


def flow_class(module, path):
    classes = _flow_classes(module)
    if not classes:
        raise GraphError(0, "%s defines no flow: define a class that subclasses FlowSpec "
                            "(from mflow import FlowSpec)" % path)
    if len(classes) > 1:
        raise GraphError(0, "%s defines %d flows (%s): keep one FlowSpec subclass per file"
                         % (path, len(classes), ", ".join(c.__name__ for c in classes)))
    return classes[0]


def _class_def(tree, name):
    """The class statement that defines the flow: the last of that name, as the module binds
    the name to the last (the first would give one class's graph and run the other's steps)."""
    import ast
    found = None
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == name:
            found = node
    return found


def _next_calls(fn_node):
    import ast
    for node in ast.walk(fn_node):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                node.func.attr == "next" and isinstance(node.func.value, ast.Name) and \
                node.func.value.id == "self":
            yield node


def _transition(step, fn_node):
    """(successors, foreach) of a step from its self.next calls."""
    import ast
    found = None
    for call in _next_calls(fn_node):
        succ = []
        for a in call.args:
            if not (isinstance(a, ast.Attribute) and isinstance(a.value, ast.Name) and
                    a.value.id == "self"):
                raise GraphError(call.lineno, "step '%s': self.next() takes steps as "
                                 "self.NAME, not %s" % (step, ast.unparse(a)))
            succ.append(a.attr)
        foreach = None
        for kw in call.keywords:
            if kw.arg != "foreach":
                raise GraphError(call.lineno, "step '%s': self.next() takes no %s= (only "
                                 "foreach=)" % (step, kw.arg))
            if not (isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str)):
                raise GraphError(call.lineno, "step '%s': foreach= names an artifact as a "
                                 "string literal, e.g. foreach=\"items\"" % step)
            foreach = kw.value.value
        t = (succ, foreach, call.lineno)
        if found and (found[0], found[1]) != (succ, foreach):
            raise GraphError(call.lineno, "step '%s' calls self.next() with other successors "
                             "than on line %d: a step has one transition (branch with "
                             "self.next(self.a, self.b))" % (step, found[2]))
        found = found or t
    return (found[0], found[1]) if found else ([], None)


def _positional_count(fn):
    code = getattr(fn, "__code__", None)
    if code is None:
        raise GraphError(0, "%r is not a plain function: steps and endpoints are methods "
                            "defined with def" % (fn,))
    return code.co_argcount


def build(path):
    """The graph document of the flow file at path."""
    import ast
    module = load_module(path)
    cls = flow_class(module, path)
    with open(path, "rb") as f:
        source = f.read()
    tree = ast.parse(source, filename=path)
    cdef = _class_def(tree, cls.__name__)
    if cdef is None:
        raise GraphError(0, "flow %s: its class is not defined at the top level of %s"
                         % (cls.__name__, path))
    fn_nodes = {n.name: n for n in cdef.body if isinstance(n, ast.FunctionDef)}
    steps = []
    for name, node in sorted(fn_nodes.items(), key=lambda kv: kv[1].lineno):
        fn = cls.__dict__.get(name)
        if not getattr(fn, "_mflow_step", False):
            continue
        attrs = getattr(fn, "_mflow_attrs", {})
        succ, foreach = _transition(name, node)
        nargs = _positional_count(fn)
        if nargs not in (1, 2):
            raise GraphError(node.lineno, "step '%s' takes %d arguments: a step is def %s(self)"
                             ", a join def %s(self, inputs)" % (name, nargs, name, name))
        res = attrs.get("resources", {})
        comp = attrs.get("compute") or {}
        steps.append({
            "name": name,
            "line": node.lineno,
            "next": succ,
            "foreach": foreach,
            "join": nargs == 2,
            "resources": {"cpu": res.get("cpu", 0), "memory": res.get("memory", 0),
                          "gpu": res.get("gpu", 0)},
            "retry": attrs.get("retry", 0),
            "catch": attrs.get("catch"),
            "timeout": attrs.get("timeout", 0),
            "compute": comp.get("name"),
            "image": comp.get("image"),
            "env": ["%s=%s" % kv for kv in sorted(attrs.get("environment", {}).items())],
            "settings": comp.get("settings", []),
        })
    endpoints = []
    for name, node in sorted(fn_nodes.items(), key=lambda kv: kv[1].lineno):
        fn = cls.__dict__.get(name)
        ep = getattr(fn, "_mflow_endpoint", None)
        if ep is None:
            continue
        nargs = _positional_count(fn)
        if nargs not in (1, 2):
            raise GraphError(node.lineno, "endpoint '%s' takes %d arguments: an endpoint is "
                             "def %s(self) or def %s(self, request)"
                             % (ep["name"], nargs, name, name))
        endpoints.append({"name": ep["name"], "attr": name, "line": node.lineno,
                          "help": ep["help"]})
    params = []
    lines = {}
    for node in cdef.body:
        if isinstance(node, ast.Assign):
            for t in node.targets:
                if isinstance(t, ast.Name):
                    lines[t.id] = node.lineno
    seen = set()
    for klass in reversed(cls.__mro__):
        for attr, v in vars(klass).items():
            if isinstance(v, Parameter) and attr not in seen:
                seen.add(attr)
                if v.name != attr:
                    raise GraphError(lines.get(attr, cdef.lineno),
                                     "parameter '%s' is assigned to attribute '%s': give both "
                                     "the same name" % (v.name, attr))
                params.append({"name": v.name, "line": lines.get(attr, cdef.lineno),
                               "type": v.type_name, "default": v.default_text(),
                               "help": v.help})
    return {"flow": cls.__name__, "file": os.path.abspath(path), "line": cdef.lineno,
            "steps": steps, "parameters": params, "endpoints": endpoints, "deps": _deps(path),
            "files": _files(cls, lines.get("files", cdef.lineno))}


def _files(cls, line):
    """The class's `files`: paths or glob patterns, relative to the flow's directory, that its
    code package carries besides the flow and the modules it imports from there."""
    files = getattr(cls, "files", [])
    if isinstance(files, str) or not isinstance(files, (list, tuple)) or \
            not all(isinstance(f, str) and f for f in files):
        raise GraphError(line, "flow %s: files lists the paths its code package carries, as "
                         "strings, e.g. files = [\"util.py\", \"data/*.csv\"]" % cls.__name__)
    return list(files)


def _deps(path):
    """Files besides the flow whose bytes the graph depends on: this SDK and the modules
    imported from the flow's own directory tree."""
    import hashlib
    here = os.path.dirname(os.path.abspath(__file__))
    top = os.path.dirname(os.path.abspath(path))
    flow = os.path.abspath(path)
    files = set()
    for m in list(sys.modules.values()):
        f = getattr(m, "__file__", None)
        if not f or not f.endswith(".py"):
            continue
        f = os.path.abspath(f)
        if f != flow and (f.startswith(here + os.sep) or f.startswith(top + os.sep)):
            files.add(f)
    out = []
    for f in sorted(files):
        try:
            with open(f, "rb") as fh:
                out.append([f, hashlib.sha256(fh.read()).hexdigest()])
        except OSError:
            pass
    return out


def main(argv):
    import json
    if len(argv) != 1:
        sys.stderr.write("usage: python3 -m mflow graph FLOW.py\n")
        return 2
    path = argv[0]
    try:
        doc = build(path)
    except GraphError as e:
        where = "%s:%d: " % (path, e.line) if e.line else ""
        sys.stderr.write("%s%s\n" % (where, e))
        return 1
    except SyntaxError as e:
        sys.stderr.write("%s:%s: %s: fix the syntax\n" % (path, e.lineno, e.msg))
        return 1
    except Exception:
        import traceback
        traceback.print_exc()
        sys.stderr.write("%s: the flow failed while it was imported (the traceback above)\n"
                         % path)
        return 1
    sys.stdout.write(json.dumps(doc))
    sys.stdout.write("\n")
    return 0
