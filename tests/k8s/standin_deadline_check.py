#!/usr/bin/env python3
"""The API stand-in's job controller and activeDeadlineSeconds, as the official Job docs say:
the deadline counts from status.startTime; on expiry the pods are terminated and the Job gets
FailureTarget, then Failed, with reason DeadlineExceeded; it is enforced whatever the timing of
the controller's timers (a timer that wakes early is re-armed: controller_timers_early_ms), for
many Jobs at once, and not while the fault ignore_deadlines holds (a late job controller).
Usage: standin_deadline_check.py DIR (a running stand-in, from up.sh DIR). Exits 1 when any
check failed."""
import sys
import time
from datetime import datetime

from standin_api_check import (ADM, API, FAILS, JOBS, check, conds, create, events_for, get_job, job,
                               job_done, pods_of, set_faults, wait)

DEADLINE_MSG = "Job was active longer than specified deadline"


def ts(s):
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").timestamp() if s else 0


def running(name):
    return [p for p in pods_of(name) if p["status"].get("phase") == "Running"]


def deadline_job(name, secs, cmd="sleep 30"):
    """Creates the Job; returns the time (here) just before it was created."""
    t0 = time.time()
    create(job(name, cmd, labels={"group": name.split("-")[0]}, spec={"activeDeadlineSeconds": secs}))
    return t0


def check_deadline(name, secs, t0, within):
    """The Job ends Failed/DeadlineExceeded no sooner than its deadline and within `within` s."""
    j = wait(lambda: job_done(name), within)
    took = time.time() - t0
    check(j is not None, f"{name}: Failed within {within} s (activeDeadlineSeconds {secs})", j and j.get("status"))
    if not j:
        return
    st = j["status"]
    check(conds(j) == [("FailureTarget", "DeadlineExceeded"), ("Failed", "DeadlineExceeded")]
          and st["conditions"][1]["message"] == DEADLINE_MSG, f"{name}: FailureTarget then Failed, DeadlineExceeded", st)
    check(took >= secs - 0.05, f"{name}: not before its deadline ({took:.2f} s >= {secs} s)")
    failed_at = ts(st["conditions"][0]["lastTransitionTime"])
    check(st.get("startTime") and failed_at - ts(st["startTime"]) >= secs - 1,
          f"{name}: counted from status.startTime ({st.get('startTime')} + {secs} s <= {st['conditions'][0]['lastTransitionTime']} + 1 s)")
    check(wait(lambda: not pods_of(name), 5) is not None, f"{name}: its pod is terminated and gone")
    check(("DeadlineExceeded", DEADLINE_MSG) in events_for(name), f"{name}: a DeadlineExceeded event")


def t_early_timers():
    # timers that wake 300 / 700 ms early: the sync that finds time left re-arms for the rest
    for name, secs, early in (("early-1", 1, 300), ("early-2", 2, 700)):
        set_faults({"controller_timers_early_ms": early})
        t0 = deadline_job(name, secs)
        check_deadline(name, secs, t0, secs + 4)
    set_faults({})


def t_many():
    # 40 Jobs at once, 1 s each: every one fails by its deadline (a timer that woke a ms early
    # left about one in forty running before the fix)
    n, made = 40, {}
    for i in range(n):
        create(job(f"many-{i}", "sleep 30", labels={"group": "many"}, spec={"activeDeadlineSeconds": 1}))
        made[f"many-{i}"] = time.time()
    # none fails before its own second: a look right after the last is created
    now = time.time()
    early = [x["metadata"]["name"] for x in API.req("GET", f"{JOBS}?labelSelector=group=many")[2]["items"]
             if ("Failed", "DeadlineExceeded") in conds(x) and now - made[x["metadata"]["name"]] < 0.95]
    check(not early, "no Job failed before its 1 s deadline", early)

    def all_failed():
        s, _, o = API.req("GET", f"{JOBS}?labelSelector=group=many")
        done = [x for x in o["items"] if ("Failed", "DeadlineExceeded") in conds(x)]
        return o["items"] if len(done) == n else None
    got = wait(all_failed, 15, 0.25)
    left = [] if got else [x["metadata"]["name"] for x in API.req("GET", f"{JOBS}?labelSelector=group=many")[2]["items"]
                           if ("Failed", "DeadlineExceeded") not in conds(x)]
    check(got is not None, f"{n} Jobs with activeDeadlineSeconds 1: all Failed/DeadlineExceeded within 15 s", f"still active: {left}")
    API.req("DELETE", f"{JOBS}?labelSelector=group=many&propagationPolicy=Background")


def t_ignored():
    # ignore_deadlines: the Job runs past its deadline; lifting it ends the Job at once
    set_faults({"ignore_deadlines": True})
    s, _, o = ADM.req("GET", "/standin/v1/faults")
    check(s == 200 and o.get("ignore_deadlines") is True, "the fault ignore_deadlines is set", o)
    deadline_job("ignored-1", 1)
    check(wait(lambda: running("ignored-1"), 10) is not None, "ignored-1: its pod runs")
    time.sleep(2.5)
    j = get_job("ignored-1")
    check(j and conds(j) == [] and j["status"].get("active") == 1 and running("ignored-1"),
          "ignore_deadlines: 2.5 s past activeDeadlineSeconds 1 the Job is active, no condition", j and j["status"])
    t1 = time.time()
    set_faults({})
    j = wait(lambda: job_done("ignored-1"), 5)
    check(j is not None and conds(j) == [("FailureTarget", "DeadlineExceeded"), ("Failed", "DeadlineExceeded")],
          f"the fault lifted: the overdue Job fails DeadlineExceeded ({time.time() - t1:.2f} s later)", j and j["status"])
    # a Job that ends by itself before its deadline is Complete, not failed later
    deadline_job("quick-1", 2, "sleep 0.2")
    j = wait(lambda: job_done("quick-1"), 10)
    time.sleep(2.2)
    j = get_job("quick-1")
    check(j and [t for t, _ in conds(j)] == ["SuccessCriteriaMet", "Complete"], "a Job done before its deadline stays Complete",
          j and j["status"])


def t_fault_values():
    for body, what in (({"controller_timers_early_ms": -1}, "controller_timers_early_ms must be an integer >= 0"),
                       ({"controller_timers_early_ms": 1.5}, "controller_timers_early_ms must be an integer >= 0"),
                       ({"ignore_deadlines": "yes"}, "ignore_deadlines must be true or false")):
        s, _, o = ADM.req("POST", "/standin/v1/faults", body)
        check(s == 400 and what in o.get("message", ""), f"faults {body} refused: {what}", (s, o))


for t in (t_fault_values, t_early_timers, t_ignored, t_many):
    print(f"---- {t.__name__[2:]}")
    try:
        t()
    except Exception as e:  # a crash fails that group; the others still run
        import traceback
        traceback.print_exc()
        check(False, f"{t.__name__} ran to its end", repr(e))
print(f"{len(FAILS)} failed" if FAILS else "all passed")
sys.exit(1 if FAILS else 0)
