"""ui_live: a run seen while it runs (running, its running task in the graph and the task list)
and then seen changing to succeeded, by the same server, with no restart."""
import os
import subprocess

from uilib import FLOWS, MFLOW, WORK, Client, check, check_eq, finish, start, wait_for

p, host, port = start()
c = Client(host, port)
check_eq("no runs yet", 0, c.get("/api/runs")["total"])

gate = os.path.join(WORK, "gate")
run = subprocess.Popen([MFLOW, "run", os.path.join(FLOWS, "gate.c"), "--gate=" + gate],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def running():
    d = c.get("/api/runs?flow=GateFlow")
    if not d["runs"]:
        return None
    r = d["runs"][0]
    st = {s["name"]: s["status"] for s in c.get("/api/runs/GateFlow/%d/graph" % r["run_id"])["steps"]}
    # the index records a task when it starts and again when it ends
    return (r, st) if st.get("wait_gate") == "running" else None


seen = wait_for("the run appears, running, with its first step done", running)
if seen:
    r, st = seen
    rid = r["run_id"]
    check_eq("run: running", "running", r["status"])
    check_eq("run: no end time yet", 0, r["end_time"])
    check_eq("graph: step by step, as it stands", {"start": "succeeded", "wait_gate": "running",
                                                    "end": "pending"}, st)
    g = c.get("/api/runs/GateFlow/%d/graph" % rid)
    check_eq("graph: edges known before the steps run", [("start", "wait_gate"), ("wait_gate", "end")],
             sorted((e["from"], e["to"]) for e in g["edges"]))
    check_eq("tasks: the finished one and the running one so far",
             [("start", "succeeded"), ("wait_gate", "running")],
             [(t["step"], t["status"]) for t in c.get("/api/runs/GateFlow/%d/tasks" % rid)["tasks"]])
    check_eq("runs?status=running finds it", ["GateFlow/%d" % rid],
             [x["pathspec"] for x in c.get("/api/runs?status=running")["runs"]])
    check_eq("runs?status=succeeded does not", [],
             [x["pathspec"] for x in c.get("/api/runs?status=succeeded")["runs"]])
    open(gate, "w").close()
    done = wait_for("the run changes to succeeded",
                    lambda: c.get("/api/runs/GateFlow/%d" % rid)["status"] == "succeeded")
    if done:
        r = c.get("/api/runs/GateFlow/%d" % rid)
        check("run: an end time now", r["end_time"] >= r["start_time"] > 0, r)
        st = {s["name"]: s["status"] for s in c.get("/api/runs/GateFlow/%d/graph" % rid)["steps"]}
        check_eq("graph: every step succeeded", {"start": "succeeded", "wait_gate": "succeeded",
                                                  "end": "succeeded"}, st)
        ts = c.get("/api/runs/GateFlow/%d/tasks" % rid)["tasks"]
        wt = [t for t in ts if t["step"] == "wait_gate"][0]
        check("task: ended, with its host", wt["end_time"] >= wt["start_time"] > 0 and wt["host"], wt)
        d = c.get("/api/tasks/GateFlow/%d/wait_gate/%d/logs" % (rid, wt["task_id"]))
        check_eq("task: its log", "gate open\n", d["data"])
check_eq("mflow run exits 0", 0, run.wait(60))
finish()
