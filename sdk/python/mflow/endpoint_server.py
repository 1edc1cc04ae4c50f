"""`python3 -m mflow __endpoint-server FLOW.py NAMESPACE`: the Python side of `mflow serve` for
a Python flow. Each of the server's worker processes (C, libmicrohttpd) starts one of these on
a socket pair (fd 3) and hands it, one at a time, the requests for the flow's @endpoint
methods; the flow is imported once, here.

Frames, both ways: a 4-byte big-endian length, then the payload. A request is a JSON object
{"endpoint", "task" (the served run's end task, Flow/R/end/T), "method", "body" (the POST's
JSON value, or null), "args" (the query arguments, strings)}; an answer is the status as three
ASCII digits followed by the JSON text of the body.

The served run's artifacts are read when an endpoint first touches one, through the client,
and kept while that run is served (the worker says which run each request is for; it alone
decides when to move to a newer one)."""
import json
import os
import socket
import struct
import sys
import traceback

from .exceptions import HTTPError
from .flowspec import FlowSpec

FD = 3
MAX_FRAME = 64 << 20
_MISSING = object()


class Request:
    """What an endpoint is asked: method ("GET" or "POST"), json (a POST's body, any JSON
    value, None without one) and args (the query arguments, strings, for GET and POST alike).
    request["x"] and request.get("x", default) read x from a JSON object body first, then
    from the query, so one endpoint answers both curl -d '{"x": 4}' and ?x=4; a missing
    request["x"] answers 400."""

    __slots__ = ("method", "json", "args")

    def __init__(self, method, body, args):
        self.method = method
        self.json = body
        self.args = args

    def get(self, name, default=None):
        b = self.json
        if isinstance(b, dict) and name in b:
            return b[name]
        return self.args.get(name, default)

    def __getitem__(self, name):
        v = self.get(name, _MISSING)
        if v is _MISSING:
            raise HTTPError(400, "the request has no '%s': give it in the JSON body "
                                 "({\"%s\": ...}) or as ?%s=" % (name, name, name))
        return v

    def __contains__(self, name):
        return self.get(name, _MISSING) is not _MISSING

    def __repr__(self):
        return "<Request %s json=%r args=%r>" % (self.method, self.json, self.args)


class _RunView:
    """The served run's end task as an endpoint's self reads it (read-only)."""

    step = "end"
    readonly = True

    def __init__(self, pathspec):
        from .client import Task
        self.pathspec = pathspec
        self.task = Task(pathspec)

    def has(self, name):
        return name in self.task._artifacts()

    def get(self, name):
        return self.task._read(name)


def _plain(v):
    # numpy arrays and scalars answer as lists and numbers
    tolist = getattr(v, "tolist", None)
    if callable(tolist):
        return tolist()
    raise TypeError("a value of type %s is not JSON" % type(v).__name__)


def _error(status, msg):
    return status, json.dumps({"error": msg}, ensure_ascii=False, separators=(",", ":"))


class Server:
    def __init__(self, cls):
        self.cls = cls
        self.endpoints = {}
        for attr, fn in vars(cls).items():
            ep = getattr(fn, "_mflow_endpoint", None)
            if ep is not None:
                self.endpoints[ep["name"]] = (fn, fn.__code__.co_argcount == 2)
        self.view = None
        self.cache = {}

    def answer(self, req):
        name = req.get("endpoint")
        found = self.endpoints.get(name)
        if found is None:
            return _error(404, "no endpoint /%s in flow %s" % (name, self.cls.__name__))
        fn, takes_request = found
        task = req["task"]
        if self.view is None or self.view.pathspec != task:
            self.view, self.cache = None, {}
            try:
                self.view = _RunView(task)
            except Exception as e:
                return _error(500, "endpoint %s: cannot read the served run's end task %s: %s"
                              % (name, task, e))
        flow = self.cls.__new__(self.cls)
        FlowSpec.__init__(flow, _mflow_task=self.view)
        object.__setattr__(flow, "_mflow_cache", self.cache)   # artifacts kept for the run
        try:
            if takes_request:
                out = fn(flow, Request(req.get("method"), req.get("body"), req.get("args") or {}))
            else:
                out = fn(flow)
        except HTTPError as e:
            return _error(e.status, e.message)
        except BaseException as e:   # SystemExit too: the process stays for the next request
            # the traceback from the endpoint's own frame on (not this server's)
            tb = e.__traceback__.tb_next if e.__traceback__ else None
            traceback.print_exception(type(e), e, tb or e.__traceback__)
            sys.stderr.flush()
            what = "%s: %s" % (type(e).__name__, e) if str(e) else type(e).__name__
            return _error(500, "endpoint %s failed: %s" % (name, what))
        try:
            return 200, json.dumps(out, default=_plain, allow_nan=False, ensure_ascii=False)
        except (TypeError, ValueError) as e:
            return _error(500, "endpoint %s returned a value that is not JSON (%s): return "
                               "dicts, lists, strings, numbers, booleans and None" % (name, e))


def _recv(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def serve(sock, server):
    while True:
        head = _recv(sock, 4)
        if head is None:
            return
        (n,) = struct.unpack(">I", head)
        if n > MAX_FRAME:
            return
        payload = _recv(sock, n)
        if payload is None:
            return
        try:
            status, text = server.answer(json.loads(payload))
            data = text.encode("utf-8")
        except Exception as e:   # a text the endpoint returned that is not UTF-8, ...
            traceback.print_exc()
            status, data = 500, _error(500, "cannot answer: %s" % e)[1].encode("utf-8",
                                                                                 "replace")
        if len(data) > MAX_FRAME - 3:
            status, data = 500, _error(500, "the answer is larger than %d bytes"
                                       % (MAX_FRAME - 3))[1].encode()
        sock.sendall(struct.pack(">I", len(data) + 3) + b"%03d" % status + data)


def main(argv):
    if len(argv) != 2:
        sys.stderr.write("usage: python3 -m mflow __endpoint-server FLOW.py NAMESPACE "
                         "(started by mflow serve, with its socket as fd 3)\n")
        return 2
    path, ns = argv
    try:
        sock = socket.socket(fileno=FD)
    except OSError as e:
        sys.stderr.write("mflow serve: the endpoint server has no socket on fd %d: %s\n"
                         % (FD, e))
        return 2
    try:
        from .graph import flow_class, load_module
        cls = flow_class(load_module(path), path)
        from . import client
        client.namespace(ns)
    except BaseException:
        traceback.print_exc()
        sys.stderr.write("mflow serve: cannot import the flow %s (the traceback above)\n" % path)
        sys.stderr.flush()
        os._exit(1)
    serve(sock, Server(cls))
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
