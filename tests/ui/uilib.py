"""Helpers of the ui suite: a fresh MFLOW_HOME, runs made with `mflow run`, an `mflow ui`
started on a free loopback port (and stopped), requests through http.client, and checks that
count their failures like tests/e2e/lib.sh."""
import atexit
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

MFLOW = os.environ["MFLOW_BIN"]
SRC = os.environ["MFLOW_TEST_SOURCE_ROOT"]
FLOWS = os.path.join(SRC, "tests", "ui", "flows")
EXAMPLES = os.path.join(SRC, "examples")

WORK = tempfile.mkdtemp(prefix="mflow-ui.", dir=os.environ.get("TMPDIR", "/tmp"))
os.environ["MFLOW_HOME"] = os.path.join(WORK, "home")
for k in ("MFLOW_DATASTORE_ROOT", "MFLOW_NAMESPACE", "MFLOW_COMPUTE", "MFLOW_STORAGE",
          "MFLOW_UI_TOKEN"):
    os.environ.pop(k, None)

_servers = []
fails = 0
checks = 0


def _cleanup():
    for p in list(_servers):   # stop() takes each off the list
        stop(p)
    shutil.rmtree(WORK, ignore_errors=True)


atexit.register(_cleanup)


def check(what, cond, detail=""):
    global fails, checks
    checks += 1
    if cond:
        print("ok: " + what)
    else:
        fails += 1
        d = str(detail)
        print("FAIL: %s %s" % (what, d if len(d) < 400 else d[:400] + "..."), file=sys.stderr)


def check_eq(what, expected, actual):
    check(what, expected == actual, "expected [%r], got [%r]" % (expected, actual))


def finish():
    print("%d checks, %d failed" % (checks, fails))
    sys.exit(1 if fails else 0)


def mflow(*args, env=None, check_rc=True):
    p = subprocess.run([MFLOW] + list(args), capture_output=True, env=env)
    if check_rc and p.returncode != 0:
        raise RuntimeError("mflow %s: exit %d: %s" % (" ".join(args), p.returncode,
                                                       p.stderr.decode(errors="replace")))
    return p


def run_flow(path, *args, expect_ok=True):
    """Run a flow and give its run id."""
    idf = os.path.join(WORK, "runid")
    p = mflow("run", path, "--run-id-file", idf, *args, check_rc=expect_ok)
    with open(idf) as f:
        return int(f.read().strip())


def start(*args, env=None):
    """Start `mflow ui --port 0 ARGS`; give (process, host, port)."""
    p = subprocess.Popen([MFLOW, "ui", "--port", "0"] + list(args), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env)
    line = p.stdout.readline().decode()
    if "serving http://" not in line:
        err = p.stderr.read().decode() if p.poll() is not None else ""
        raise RuntimeError("mflow ui did not start: %r %s" % (line, err))
    _servers.append(p)
    url = line.split("serving ")[1].split()[0]
    hostport = url[len("http://"):].rstrip("/")
    host, port = hostport.rsplit(":", 1)
    return p, host.strip("[]"), int(port)


def stop(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    if p in _servers:
        _servers.remove(p)
    return p.returncode


class Client:
    def __init__(self, host, port, headers=None):
        self.host, self.port = host, port
        self.headers = headers or {}

    def request(self, path, method="GET", headers=None):
        """(status, headers dict with lower-case names, body bytes)"""
        c = http.client.HTTPConnection(self.host, self.port, timeout=30)
        h = dict(self.headers)
        h.update(headers or {})
        c.request(method, path, headers=h)
        r = c.getresponse()
        body = r.read()
        hd = {k.lower(): v for k, v in r.getheaders()}
        c.close()
        return r.status, hd, body

    def json(self, path, **kw):
        st, hd, body = self.request(path, **kw)
        try:
            doc = json.loads(body)
        except ValueError:
            doc = None
        return st, doc

    def get(self, path):
        """GET that must answer 200 with JSON."""
        st, doc = self.json(path)
        if st != 200:
            raise RuntimeError("GET %s: %d %r" % (path, st, doc))
        return doc


def wait_for(what, fn, timeout=30.0):
    end = time.time() + timeout
    while time.time() < end:
        v = fn()
        if v:
            return v
        time.sleep(0.1)
    check(what, False, "(timed out after %gs)" % timeout)
    return None
