"""ui_api: every endpoint of `mflow ui` against runs made by `mflow run`: flows, runs with each
filter and paging, a run, its graph, steps and tasks, a task with attempts and artifacts, an
artifact's download, paged logs, the page's files, and the errors (400, 404, 405)."""
import json
import os
import struct
import subprocess

from uilib import (EXAMPLES, FLOWS, MFLOW, Client, check, check_eq, finish, mflow, run_flow, start)

# ---- runs to look at ------------------------------------------------------------------------
hello = run_flow(os.path.join(EXAMPLES, "hello.c"))
branch = run_flow(os.path.join(EXAMPLES, "branch.c"), "--tag", "team:a", "--tag", "exp1")
fe1 = run_flow(os.path.join(EXAMPLES, "foreach.c"), "--n=4")
fe2 = run_flow(os.path.join(EXAMPLES, "foreach.c"), "--n=3", "--tag", "exp1")
ui_ok = run_flow(os.path.join(FLOWS, "uitest.c"))
ui_bad = run_flow(os.path.join(FLOWS, "uitest.c"), "--fail=1", expect_ok=False)
mflow("--namespace=team:x", "run", os.path.join(EXAMPLES, "hello.c"))
ALL = 7

p, host, port = start()
c = Client(host, port)

# ---- the mflow executable stays lean -------------------------------------------------------
libs = subprocess.run(["ldd", MFLOW], capture_output=True, text=True).stdout
check("mflow does not link libmicrohttpd (the ui module does)", "libmicrohttpd" not in libs, libs)
check("mflow --help lists ui", "  ui " in mflow("--help").stdout.decode())

# ---- flows -----------------------------------------------------------------------------------
check_eq("flows: every flow with a run, sorted", ["BranchFlow", "ForeachFlow", "HelloFlow", "UiTestFlow"],
         c.get("/api/flows")["flows"])

# ---- runs, filters, paging -------------------------------------------------------------------
d = c.get("/api/runs")
runs = d["runs"]
check_eq("runs: total of every namespace", ALL, d["total"])
check_eq("runs: all listed", ALL, len(runs))
starts = [r["start_time"] for r in runs]
check("runs: newest first", starts == sorted(starts, reverse=True), starts)
check_eq("runs: the newest is the team:x hello run", ("HelloFlow", "team:x"),
         (runs[0]["flow"], runs[0]["namespace"]))
user = runs[-1]["user"]
check_eq("runs: the oldest is the first hello run", "HelloFlow/%d" % hello, runs[-1]["pathspec"])

def paths(q):
    return [r["pathspec"] for r in c.get("/api/runs?" + q)["runs"]]

check_eq("runs?flow=ForeachFlow: both, newest first",
         ["ForeachFlow/%d" % fe2, "ForeachFlow/%d" % fe1], paths("flow=ForeachFlow"))
check_eq("runs?status=failed", ["UiTestFlow/%d" % ui_bad], paths("status=failed"))
check_eq("runs?status=succeeded&flow=UiTestFlow", ["UiTestFlow/%d" % ui_ok],
         paths("status=succeeded&flow=UiTestFlow"))
check_eq("runs?tag=exp1: two flows", ["ForeachFlow/%d" % fe2, "BranchFlow/%d" % branch],
         paths("tag=exp1"))
check_eq("runs?tag=exp1&tag=team:a: both tags", ["BranchFlow/%d" % branch],
         paths("tag=exp1&tag=team%3Aa"))
check_eq("runs?tag=nope: none", [], paths("tag=nope"))
check_eq("runs?namespace=team:x", ["HelloFlow/%d" % (hello + 1)], paths("namespace=team%3Ax"))
check_eq("runs?namespace=user:USER: the six others", ALL - 1,
         len(paths("namespace=" + runs[-1]["namespace"])))
check_eq("runs?user=USER: all", ALL, len(paths("user=" + user)))
check_eq("runs?user=somebody_else: none", [], paths("user=somebody_else"))
full = [r["pathspec"] for r in runs]
pages = []
for off in range(0, ALL, 3):
    d = c.get("/api/runs?limit=3&offset=%d" % off)
    check_eq("runs page at %d: limit and offset echoed" % off, (3, off), (d["limit"], d["offset"]))
    pages += [r["pathspec"] for r in d["runs"]]
check_eq("runs: pages of 3 give the whole list in order", full, pages)
check_eq("runs: offset past the end is empty", [], paths("offset=100"))

# ---- a run -----------------------------------------------------------------------------------
r = c.get("/api/runs/BranchFlow/%d" % branch)
check_eq("run: pathspec", "BranchFlow/%d" % branch, r["pathspec"])
check_eq("run: status", "succeeded", r["status"])
check("run: user tags kept", "team:a" in r["tags"] and "exp1" in r["tags"], r["tags"])
check("run: times", r["start_time"] > 0 and r["end_time"] >= r["start_time"], r)
r = c.get("/api/runs/ForeachFlow/%d" % fe1)
check_eq("run: parameters with their values", [("n", "i64", 4)],
         [(a["name"], a["type"], a["value"]) for a in r["params"]])

show = json.loads(mflow("show", os.path.join(EXAMPLES, "branch.c"), "--json").stdout)
want_edges = sorted((s["name"], n) for s in show["steps"] for n in s["next"])
g = c.get("/api/runs/BranchFlow/%d/graph" % branch)
check_eq("graph: edges as `mflow show --json` gives", want_edges,
         sorted((e["from"], e["to"]) for e in g["edges"]))
check_eq("graph: steps in table order", [s["name"] for s in show["steps"]],
         [s["name"] for s in g["steps"]])
check_eq("graph: step kinds", [s["type"] for s in show["steps"]], [s["type"] for s in g["steps"]])
check_eq("graph: join marked", [s["join"] for s in show["steps"]], [s["join"] for s in g["steps"]])
g = c.get("/api/runs/ForeachFlow/%d/graph" % fe1)
sq = [s for s in g["steps"] if s["name"] == "square"][0]
check_eq("graph: a foreach's tasks counted", (4, 4), (sq["tasks"], sq["counts"]["succeeded"]))

# a run whose graph is gone (made before runs stored one): its steps from the index, no edges
os.remove(os.path.join(os.environ["MFLOW_HOME"], "datastore", "runs", "HelloFlow", str(hello), "graph.json"))
g = c.get("/api/runs/HelloFlow/%d/graph" % hello)
check_eq("graph: none stored, so no edges", (False, []), (g["stored"], g["edges"]))
check_eq("graph: none stored, the steps that ran", ["start", "shout", "end"], [s["name"] for s in g["steps"]])

st = c.get("/api/runs/UiTestFlow/%d/steps" % ui_bad)["steps"]
check_eq("steps: status of each", [("start", "succeeded"), ("flaky", "succeeded"), ("end", "failed")],
         [(s["name"], s["status"]) for s in st])

tasks = c.get("/api/runs/ForeachFlow/%d/tasks" % fe1)["tasks"]
check_eq("tasks: every task", 7, len(tasks))
check_eq("tasks: ordered by id", sorted(t["task_id"] for t in tasks), [t["task_id"] for t in tasks])
check("tasks: each with its host, start and end",
      all(t["host"] and 0 < t["start_time"] <= t["end_time"] for t in tasks), tasks)
check_eq("tasks: foreach positions", [(i, 4) for i in range(4)],
         [(t["foreach"]["index"], t["foreach"]["count"]) for t in tasks if t["step"] == "square"])
sq = c.get("/api/runs/ForeachFlow/%d/tasks?step=square" % fe1)["tasks"]
check_eq("tasks?step=square: only that step", ["square"] * 4, [t["step"] for t in sq])
ut = {t["step"]: t for t in c.get("/api/runs/UiTestFlow/%d/tasks" % ui_ok)["tasks"]}
check_eq("tasks: attempt of a retried task", 1, ut["flaky"]["attempt"])

# ---- a task, artifacts, download -------------------------------------------------------------
join = [t for t in tasks if t["step"] == "join"][0]
t = c.get("/api/tasks/ForeachFlow/%d/join/%d" % (fe1, join["task_id"]))
arts = {a["name"]: a for a in t["artifacts"]}
check_eq("task: the join's sum (1+4+9+16)", 30, arts["sum"]["value"])
check_eq("task: its inputs, one per split task", 4, len(t["inputs"]))
check_eq("task: one attempt", [0], [a["attempt"] for a in t["attempts"]])

fl = c.get("/api/tasks/UiTestFlow/%d/flaky/%d" % (ui_ok, ut["flaky"]["task_id"]))
check_eq("task: both attempts with their status", [(0, "failed"), (1, "succeeded")],
         [(a["attempt"], a["status"]) for a in fl["attempts"]])
check_eq("task: the failed attempt's message", "first attempt fails on purpose",
         fl["attempts"][0]["message"])
check_eq("task: artifact of the attempt that worked", 42,
         {a["name"]: a["value"] for a in fl["artifacts"]}["answer"])

sid = ut["start"]["task_id"]
base = "/api/tasks/UiTestFlow/%d/start/%d" % (ui_ok, sid)
s = c.get(base)
arts = {a["name"]: a for a in s["artifacts"]}
check_eq("artifact: small str shown", ("str", "hello, ui", True),
         (arts["greeting"]["type"], arts["greeting"]["value"], arts["greeting"]["value_shown"]))
check_eq("artifact: f64[] shown", [0.5, 2.25], arts["weights"]["value"])
check_eq("artifact: a large one has its size, no value", (100000, None, False),
         (arts["big"]["size"], arts["big"]["value"], arts["big"]["value_shown"]))
st_, hd, body = c.request(base + "/artifacts/big")
want = bytes(ord("a") + i % 26 for i in range(100000))
check_eq("download: status", 200, st_)
check("download: the value's bytes", body == want, len(body))
check_eq("download: content type", "application/octet-stream", hd.get("content-type"))
check_eq("download: file name", 'attachment; filename="UiTestFlow-%d-start-%d-big.bin"' % (ui_ok, sid),
         hd.get("content-disposition"))
st_, hd, body = c.request(base + "/artifacts/greeting")
check_eq("download: a small str, raw", b"hello, ui", body)
raw = mflow("get", "UiTestFlow/%d/start/%d" % (ui_ok, sid), "weights", "--json").stdout
body = c.request(base + "/artifacts/weights")[2]
check_eq("download: an f64[] payload (count, then the doubles) is what mflow get gives",
         [2] + json.loads(raw), list(struct.unpack("<Q2d", body)))

# ---- logs, paged -----------------------------------------------------------------------------
want = "".join("line %05d: caf\u00e9 na\u00efve \u00e9t\u00e9 ................\n" % i
               for i in range(4000)).encode()
d = c.get(base + "/logs")
check_eq("logs: total bytes", len(want), d["total"])
check_eq("logs: default page of 64 KiB (or less at a character's edge)", True,
         65533 <= d["length"] <= 65536 and d["next_offset"] == d["length"])
got = b""
off = 0
n_pages = 0
while True:
    d = c.get(base + "/logs?offset=%d&limit=10007" % off)
    if d["length"] == 0:
        break
    check("logs: page at %d is text" % off, isinstance(d["data"], str), d["data"])
    got += d["data"].encode() if isinstance(d["data"], str) else bytes.fromhex(d["data"]["hex"])
    off = d["next_offset"]
    n_pages += 1
check("logs: the pages put together are the log", got == want, len(got))
check("logs: about total/limit pages", 19 <= n_pages <= 21, n_pages)
d = c.get(base + "/logs?offset=0&limit=16")
check_eq("logs: a page never ends inside a character", (15, 15, "line 00000: caf"),
         (d["length"], d["next_offset"], d["data"]))
d = c.get(base + "/logs?offset=%d" % (len(want) + 10))
check_eq("logs: past the end, empty", (0, ""), (d["length"], d["data"]))
d = c.get(base + "/logs?stream=stderr")
check_eq("logs: stderr", "start: wrote 4000 lines\n", d["data"])
d = c.get("/api/tasks/UiTestFlow/%d/flaky/%d/logs?stream=stderr&attempt=0" % (ui_ok, ut["flaky"]["task_id"]))
check("logs: an earlier attempt's", "failing the first attempt on purpose" in d["data"], d)
d = c.get("/api/tasks/UiTestFlow/%d/flaky/%d/logs" % (ui_ok, ut["flaky"]["task_id"]))
check_eq("logs: the latest attempt by default", (1, "flaky: attempt 1 works\n"), (d["attempt"], d["data"]))

# ---- the page's files ------------------------------------------------------------------------
st_, hd, body = c.request("/")
check_eq("page: / is the html", (200, "text/html; charset=utf-8"), (st_, hd.get("content-type")))
check("page: loads app.js", b'src="/app.js"' in body)
st_, hd, body = c.request("/app.js")
check_eq("page: app.js", (200, "text/javascript; charset=utf-8"), (st_, hd.get("content-type")))
check("page: no inline scripts allowed", "default-src 'self'" in hd.get("content-security-policy", ""))
st_, hd, body = c.request("/style.css")
check_eq("page: style.css", 200, st_)

# ---- errors ----------------------------------------------------------------------------------
def err(what, path, status, needle, method="GET"):
    st_, doc = c.json(path, method=method)
    check_eq(what + ": status", status, st_)
    check(what + ": JSON error naming it", isinstance(doc, dict) and needle in doc.get("error", ""), doc)

err("bad flow name", "/api/runs/Bad-Name/1", 400, "flow name 'Bad-Name' is not valid")
err("flow name starting with a digit", "/api/runs/1Flow/1", 400, "flow name '1Flow'")
err("run id not a number", "/api/runs/HelloFlow/abc", 400, "run id 'abc' is not a number")
err("run id negative", "/api/runs/HelloFlow/-1", 400, "run id '-1'")
err("task id not a number", "/api/tasks/HelloFlow/1/start/x1", 400, "task id 'x1'")
err("bad step name", "/api/tasks/HelloFlow/1/st.art/1", 400, "step name 'st.art'")
err("bad artifact name", "/api/tasks/HelloFlow/1/start/1/artifacts/a.b", 400, "artifact name 'a.b'")
err("unknown run", "/api/runs/HelloFlow/99", 404, "no run HelloFlow/99")
err("unknown flow", "/api/runs/NoFlow/1", 404, "no run NoFlow/1")
err("unknown task", "/api/tasks/HelloFlow/1/start/77", 404, "HelloFlow/1/start/77")
err("unknown artifact", base + "/artifacts/nope", 404, "no artifact 'nope'")
err("unknown api", "/api/nothing", 404, "no such API path")
err("unknown run part", "/api/runs/HelloFlow/1/bogus", 404, "no such API path")
err("unknown page", "/nothing.html", 404, "no such page")
err("bad limit", "/api/runs?limit=x", 400, "limit=x")
err("limit too large", "/api/runs?limit=100000", 400, "limit=100000")
err("bad status", "/api/runs?status=bogus", 400, "status=bogus")
err("bad stream", base + "/logs?stream=stdin", 400, "stream=stdin")
err("attempt never made", base + "/logs?attempt=5", 404, "")
err("POST", "/api/runs", 405, "read-only", method="POST")
err("DELETE", "/api/runs/HelloFlow/1", 405, "read-only", method="DELETE")
st_, hd, _ = c.request("/api/runs", method="PUT")
check_eq("405 says what is allowed", "GET, HEAD", hd.get("allow"))

# ---- nothing outside the datastore -----------------------------------------------------------
for path in ["/api/runs/..%2F..%2F..%2F..%2Fetc%2Fpasswd/1",
             "/api/runs/%2Fetc%2Fpasswd/1",
             "/api/runs//etc/passwd",
             "/api/runs/HelloFlow/1/..",
             "/api/runs/HelloFlow/%2E%2E",
             "/api/runs/HelloFlow/1/../../../../etc/passwd",
             "/api/tasks/HelloFlow/1/..%2F..%2F..%2F..%2Fetc/passwd",
             "/api/tasks/HelloFlow/1/start/..%2F1",
             "/api/tasks/UiTestFlow/%d/start/%d/artifacts/..%%2F..%%2F..%%2Fetc%%2Fpasswd" % (ui_ok, sid),
             "/api/tasks/UiTestFlow/%d/start/%d/artifacts/%%2Fetc%%2Fpasswd" % (ui_ok, sid),
             "/api/tasks/UiTestFlow/%d/start/%d/logs/..%%2F..%%2Frun.json" % (ui_ok, sid),
             "/../../../../etc/passwd",
             "/%2E%2E/%2E%2E/%2E%2E/etc/passwd",
             "/app.js/../../../etc/passwd",
             "/api/runs/HelloFlow/1%00/",
             "/index.html%00.js"]:
    st_, hd, body = c.request(path)
    check("traversal %s refused (%d)" % (path, st_), st_ in (400, 404) and b"root:" not in body
          and b"\"steps\"" not in body and hd.get("content-type") == "application/json", body[:200])

st_, _ = c.json("/api/runs")
check_eq("server still answers after all that", 200, st_)

# ---- --namespace: one namespace's runs only --------------------------------------------------
p2, host2, port2 = start("--namespace", "team:x")
c2 = Client(host2, port2)
check_eq("--namespace team:x: its run only", ["HelloFlow/%d" % (hello + 1)],
         [r["pathspec"] for r in c2.get("/api/runs")["runs"]])
check_eq("--namespace team:x: its flows only", ["HelloFlow"], c2.get("/api/flows")["flows"])
st_, doc = c2.json("/api/runs/HelloFlow/%d" % hello)
check_eq("--namespace team:x: a run of another namespace is not found", 404, st_)
check("--namespace team:x: ... and the message says where it is", "namespace" in doc["error"], doc)
finish()
