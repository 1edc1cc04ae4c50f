"""s3_ui_logs: `mflow ui` pages a large log of an S3 datastore by ranged reads: a 64 MiB log is
paged exactly at its boundaries (first page, a middle one, the last, its end, past its end) and
the S3 server sends each page, not the log (the fault proxy counts the bytes it relays). Run
under s3-fixture.sh with S3FIX_PROXY=1."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.environ["MFLOW_TEST_SOURCE_ROOT"], "tests", "ui"))
from uilib import FLOWS, WORK, Client, check, check_eq, finish, run_flow, start  # noqa: E402

import json  # noqa: E402
import urllib.request  # noqa: E402

LOG_MIB = 64
LINE = 11                                   # "%010d\n"
PROXY = os.environ["S3FIX_PROXY_URL"]
S3TOOL = os.environ["S3TOOL"]
# uilib cleared the datastore settings: this test's datastore is on the fixture's server
os.environ["MFLOW_DATASTORE_ROOT"] = "s3://%s/uilogs" % os.environ["S3FIX_BUCKET"]


def log_bytes(a, b):
    """Bytes [a, b) of the generated log: line i is the 10-digit i and a newline."""
    first, last = a // LINE, (b + LINE - 1) // LINE
    s = "".join("%010d\n" % i for i in range(first, last)).encode()
    return s[a - first * LINE:b - first * LINE]


def proxy(what):
    with urllib.request.urlopen(PROXY + "/__fault/" + what, timeout=30) as r:
        return r.read()


src = os.path.join(WORK, "value.bin")
with open(src, "wb") as f:
    f.write(b"small value")
rid = run_flow(os.path.join(FLOWS, "bigvalue.c"), "--src=" + src)

# the start task's stdout, replaced by a large generated log
key = "runs/BigValueFlow/%d/start/1.0.stdout" % rid
listed = subprocess.run([S3TOOL, "ls", key], capture_output=True, text=True).stdout
check("the task's log is where the datastore keeps it", key in listed, listed)
nlines = LOG_MIB * (1 << 20) // LINE
total = nlines * LINE
big = os.path.join(WORK, "log")
with open(big, "wb") as f:
    for i in range(0, nlines, 100000):
        f.write("".join("%010d\n" % k for k in range(i, min(i + 100000, nlines))).encode())
subprocess.run([S3TOOL, "put", key, big], check=True)
os.unlink(big)

# the server reads the datastore through the proxy, which counts what S3 sends
env = dict(os.environ)
env["MFLOW_S3_ENDPOINT_URL"] = PROXY
p, host, port = start(env=env)
c = Client(host, port)
base = "/api/tasks/BigValueFlow/%d/start/1" % rid
c.get(base)

mid = total // 2 + 5
pages = [  # offset, limit, the bytes the page holds
    (0, 65536, (0, 65536)),
    (mid, 65536, (mid, mid + 65536)),
    (total - 1000, 65536, (total - 1000, total)),
    (total, 65536, (total, total)),
    (total + 5, 10, (total, total)),
    (mid, 1 << 20, (mid, mid + (1 << 20))),
]
for off, lim, (a, b) in pages:
    proxy("reset")
    d = c.get(base + "/logs?offset=%d&limit=%d" % (off, lim))
    check_eq("log page at %d (limit %d): total, offset, length, next" % (off, lim),
             (total, a, b - a, b), (d["total"], d["offset"], d["length"], d["next_offset"]))
    check("log page at %d (limit %d): its bytes exactly" % (off, lim),
          d["data"].encode() == log_bytes(a, b), "first bytes %r" % d["data"][:40])
    st = json.loads(proxy("stats"))
    log_gets = [x for x in st["log"] if x.startswith("GET ") and key.split("/")[-1] in x]
    sent = st["bytes_out"]
    # the page (and the 3 bytes the UI reads past it), plus the small records it looks up
    check("log page at %d (limit %d): S3 sent %d bytes, about the page, not the %d MiB log"
          % (off, lim, sent, LOG_MIB), (b - a) <= sent < (b - a) + 64 * 1024, st["log"])
    check("log page at %d (limit %d): one ranged GET of the log" % (off, lim),
          len(log_gets) == 1, log_gets)
finish()
