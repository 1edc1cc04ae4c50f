"""ui_running: a task is seen while it runs (the orchestrator records its start in the index):
its step, id, attempt, start time and status `running` in the run's task list, its graph
step and its own page (no record yet: no artifacts, not ended), its failed first attempt
beside it; then the same task as it ended. A run whose orchestrator was killed (kill -9)
leaves its running task shown as the run shows itself: running, dead, not live."""
import os
import signal
import subprocess
import time

from uilib import FLOWS, MFLOW, WORK, Client, check, check_eq, finish, start, wait_for

p, host, port = start()
c = Client(host, port)
flow = os.path.join(FLOWS, "retrygate.c")
subprocess.run([MFLOW, "check", flow], check=True, capture_output=True)   # compiled once


def running_task(run_popen, want_attempt):
    def probe():
        d = c.get("/api/runs?flow=RetryGateFlow")
        rs = [r for r in d["runs"] if r["pid"] == run_popen.pid]
        if not rs:
            return None
        rid = rs[0]["run_id"]
        ts = c.get("/api/runs/RetryGateFlow/%d/tasks" % rid)["tasks"]
        w = [t for t in ts if t["step"] == "work" and t["status"] == "running"
             and t["attempt"] == want_attempt]
        return (rid, w[0], ts) if w else None
    return probe


gate = os.path.join(WORK, "gate1")
t0 = time.time()
run = subprocess.Popen([MFLOW, "run", flow, "--gate=" + gate], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
seen = wait_for("the retried task appears, running its second attempt", running_task(run, 1))
if seen:
    rid, w, ts = seen
    check_eq("list: the start succeeded, work runs", [("start", "succeeded", 0), ("work", "running", 1)],
             [(t["step"], t["status"], t["attempt"]) for t in ts])
    check("list: started now, not ended", t0 - 1 <= w["start_time"] <= time.time() and w["end_time"] == 0, w)
    check_eq("list: not dead", False, w["dead"])
    check_eq("list: its pathspec", "RetryGateFlow/%d/work/%d" % (rid, w["task_id"]), w["pathspec"])
    g = {s["name"]: s for s in c.get("/api/runs/RetryGateFlow/%d/graph" % rid)["steps"]}
    check_eq("graph: work is running", "running", g["work"]["status"])
    check_eq("graph: one task running", 1, g["work"]["counts"]["running"])
    base = "/api/tasks/RetryGateFlow/%d/work/%d" % (rid, w["task_id"])
    st, d = c.json(base)
    check_eq("task page: answered while it runs", 200, st)
    if st == 200:
        check_eq("task page: running, not ended", ("running", False, False),
                 (d["status"], d["ended"], d["dead"]))
        check_eq("task page: attempts, the first failed", [(0, "failed"), (1, "running")],
                 [(a["attempt"], a["status"]) for a in d["attempts"]])
        check_eq("task page: no artifacts yet", [], d["artifacts"])
    check_eq("logs: the failed attempt's", "first try\n",
             c.get(base + "/logs?attempt=0")["data"])
    lg = c.get(base + "/logs")
    check_eq("logs: the running attempt has none stored yet", (1, 0, ""),
             (lg["attempt"], lg["total"], lg["data"]))
    open(gate, "w").close()
    done = wait_for("the task ends, by the same server",
                    lambda: c.get(base)["status"] == "succeeded")
    if done:
        d = c.get(base)
        check_eq("ended: attempt 1, ended, artifacts", (1, True, ["gate", "x", "y"]),
                 (d["attempt"], d["ended"], [a["name"] for a in d["artifacts"]]))
        check("ended: its host and end time", d["host"] and d["end_time"] >= d["start_time"] > 0, d)
check_eq("mflow run exits 0", 0, run.wait(60))

# kill -9 the orchestrator while its task runs
gate2 = os.path.join(WORK, "gate2")
run2 = subprocess.Popen([MFLOW, "run", flow, "--gate=" + gate2], stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL)
seen = wait_for("the second run's task runs", running_task(run2, 1))
if seen:
    rid, w, ts = seen
    run2.send_signal(signal.SIGKILL)
    run2.wait()
    r = c.get("/api/runs/RetryGateFlow/%d" % rid)
    check_eq("killed run: running and dead", ("running", True), (r["status"], r["dead"]))
    w2 = [t for t in c.get("/api/runs/RetryGateFlow/%d/tasks" % rid)["tasks"] if t["step"] == "work"][0]
    check_eq("killed run: its task as the run shows it", ("running", True), (w2["status"], w2["dead"]))
    d = c.get("/api/tasks/RetryGateFlow/%d/work/%d" % (rid, w2["task_id"]))
    check_eq("killed run: the task page says dead", (True, False), (d["dead"], d["ended"]))
open(gate2, "w").close()   # let an orphaned task end
finish()
