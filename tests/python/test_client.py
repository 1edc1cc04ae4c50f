"""The notebook client (mflow.client) on runs the mflow command made from C flows: a foreach
(examples/foreach.c), branches (tests/e2e/flows/branch3.c), tags, namespaces, failed runs
(tests/e2e/flows/failing.c), logs, parameters and the Python value types (ValuesFlow)."""
import datetime
import os
import subprocess
import unittest

import mflow
from mflow import (Flow, MflowInvalid, MflowNamespaceMismatch, MflowNotFound, Run, Step, Task,
                   default_namespace, get_namespace, namespace)
from mflow import client as client_module

SRC = os.environ.get("MFLOW_TEST_SOURCE_ROOT", "")
MFLOW = os.environ.get("MFLOW_BIN")
USER_NS = "user:" + (os.environ.get("USER") or "root")


def run(flow, *args, env=None, ok=True):
    """mflow run; the run id."""
    work = os.environ["MFLOW_TEST_WORK"]
    rid = os.path.join(work, "runid")
    if os.path.exists(rid):
        os.unlink(rid)
    p = subprocess.run([MFLOW, "run", os.path.join(SRC, flow), "--run-id-file", rid, *args],
                       capture_output=True, text=True, env={**os.environ, **(env or {})})
    if (p.returncode == 0) != ok:
        raise AssertionError(f"mflow run {flow} {args}: exit {p.returncode}: {p.stderr}")
    return open(rid).read().strip()


class TestClient(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not MFLOW:
            raise unittest.SkipTest("MFLOW_BIN is not set (run through meson test)")
        # the foreach example twice (n=3, n=5), tagged; branches; a failed run; a run of
        # another namespace; the value types
        cls.fe1 = run("examples/foreach.c", "--n=3", "--tag", "small")
        cls.fe2 = run("examples/foreach.c", "--n=5", "--tag", "big", "--tag", "nightly")
        cls.br = run("tests/e2e/flows/branch3.c")
        cls.bad = run("tests/e2e/flows/failing.c", "--mode=fail", ok=False)
        cls.good = run("tests/e2e/flows/failing.c")
        cls.other = run("examples/foreach.c", "--n=2", env={"MFLOW_NAMESPACE": "team:ml"})
        cls.values = run("tests/python/flows/values.c")
        default_namespace()

    def tearDown(self):
        default_namespace()

    def test_flow_runs_and_latest(self):
        f = Flow("ForeachFlow")
        runs = f.runs()
        self.assertEqual([r.id for r in runs], [self.fe2, self.fe1], "newest first, own ns")
        self.assertEqual([r.id for r in f], [self.fe2, self.fe1])
        self.assertEqual(f.latest_run.id, self.fe2)
        self.assertEqual(f.latest_run, Run(f"ForeachFlow/{self.fe2}"))
        self.assertEqual(f[self.fe1].pathspec, f"ForeachFlow/{self.fe1}")
        self.assertEqual(Flow("FailingFlow").latest_run.id, self.good)
        self.assertEqual(Flow("FailingFlow").latest_successful_run.id, self.good)
        self.assertIn("ForeachFlow", mflow.flows())
        self.assertNotIn("NoSuchFlow", mflow.flows())
        with self.assertRaises(MflowNotFound) as e:
            Flow("NoSuchFlow").latest_run
        self.assertIn("flow NoSuchFlow has no run in namespace", str(e.exception))
        self.assertEqual(Flow("NoSuchFlow").runs(), [])

    def test_tags(self):
        f = Flow("ForeachFlow")
        self.assertEqual([r.id for r in f.runs("small")], [self.fe1])
        self.assertEqual([r.id for r in f.runs("big", "nightly")], [self.fe2])
        self.assertEqual(f.runs("big", "small"), [])
        self.assertEqual([r.id for r in f.runs(USER_NS)], [self.fe2, self.fe1])
        r = Run(f"ForeachFlow/{self.fe2}")
        self.assertEqual(r.user_tags, {"big", "nightly"})
        self.assertIn(USER_NS, r.system_tags)
        self.assertEqual(r.tags, r.user_tags | r.system_tags)
        r.add_tag("keep")
        self.assertEqual(r.user_tags, {"big", "nightly", "keep"})
        self.assertEqual(Run(r.pathspec).user_tags, {"big", "nightly", "keep"})
        self.assertEqual([x.id for x in f.runs("keep")], [self.fe2])
        r.remove_tag("keep")
        self.assertEqual(Run(r.pathspec).user_tags, {"big", "nightly"})
        with self.assertRaises(MflowInvalid):
            r.add_tag("user:someone")

    def test_run(self):
        r = Run(f"ForeachFlow/{self.fe2}")
        self.assertEqual((r.id, r.pathspec, r.flow_name), (self.fe2, f"ForeachFlow/{self.fe2}",
                                                          "ForeachFlow"))
        self.assertTrue(r.successful)
        self.assertTrue(r.finished)
        self.assertEqual(r.status, "succeeded")
        self.assertEqual(r.namespace, USER_NS)
        self.assertIsInstance(r.created_at, datetime.datetime)
        self.assertLessEqual(r.created_at, r.finished_at)
        self.assertLess(datetime.datetime.now(datetime.timezone.utc) - r.finished_at,
                        datetime.timedelta(minutes=30))
        self.assertEqual([s.id for s in r], ["start", "square", "join", "end"])
        self.assertEqual(r.parameters, {"n": 5})
        self.assertEqual(r.data.sum, 1 + 4 + 9 + 16 + 25)
        self.assertIn("square", r)
        self.assertNotIn("nope", r)
        with self.assertRaises(MflowNotFound) as e:
            r["nope"]
        self.assertIn("has no step 'nope' (it has: start, square, join, end)", str(e.exception))

    def test_foreach_tasks(self):
        r = Run(f"ForeachFlow/{self.fe2}")
        sq = r["square"]
        self.assertIsInstance(sq, Step)
        tasks = list(sq)
        self.assertEqual(len(tasks), 5)
        self.assertEqual(sorted(t.index for t in tasks), [0, 1, 2, 3, 4])
        self.assertEqual(sorted(t.data.sq for t in tasks), [1, 4, 9, 16, 25])
        self.assertEqual(sq.task, tasks[0])
        self.assertEqual(r["start"].task.data.items, [1, 2, 3, 4, 5])
        self.assertIsNone(r["start"].task.index)
        t = tasks[2]
        self.assertEqual(Task(t.pathspec).data.sq, t.data.sq)
        self.assertEqual(sq[t.id], t)
        self.assertEqual(Step(sq.pathspec).task_count, 5)

    def test_branches(self):
        r = Run(f"Branch3Flow/{self.br}")
        self.assertEqual([s.id for s in r], ["start", "a", "b", "c", "join", "end"])
        self.assertEqual({s: r[s].task.data.y for s in "abc"}, {"a": 3, "b": 4, "c": 5})
        j = r["join"].task
        self.assertEqual(j.data.digits, 345)
        self.assertEqual(j.data.same, "kept")
        self.assertEqual(j["digits"].data, 345)
        self.assertEqual(j["digits"].type, "i64")
        self.assertEqual(j["same"].size, 4)
        self.assertEqual(len(j["same"].sha), 64)
        self.assertIn("digits", j)
        self.assertIn("same", j.data)
        self.assertEqual(sorted(a.id for a in j), sorted(["x", "same", "digits", "order"]))
        self.assertFalse(hasattr(j.data, "y"), "y was excluded from the merge")
        with self.assertRaises(MflowNotFound):
            j["y"]

    def test_failed_run(self):
        r = Run(f"FailingFlow/{self.bad}")
        self.assertFalse(r.successful)
        self.assertTrue(r.finished)
        self.assertEqual(r.status, "failed")
        w = r["work"].task
        self.assertEqual(w.status, "failed")
        self.assertFalse(w.successful)
        self.assertEqual(w.attempt, 1, "retry = 1: the latest attempt is read")
        self.assertIn("bad input 42", w.exception)
        self.assertEqual(w.stderr.count("work attempt 1"), 1)
        self.assertNotIn("work attempt 0", w.stderr)
        self.assertIsInstance(w.stderr_bytes, bytes)
        self.assertEqual(w.stdout, "")
        self.assertNotIn("end", r)
        with self.assertRaises(MflowNotFound) as e:
            r["end"]
        self.assertIn("step 'end' of run FailingFlow/%s has no task (it did not run; the run "
                      "failed)" % self.bad, str(e.exception))
        self.assertEqual([s.id for s in r], ["start", "work"])
        self.assertEqual(r["start"].task.data.ok, 1)
        self.assertIsNone(r["start"].task.exception)
        self.assertEqual(r.parameters, {"mode": "fail"})

    def test_logs(self):
        r = Run(f"ForeachFlow/{self.fe1}")
        self.assertEqual(r["end"].task.stdout, "sum of squares: 14\n")
        self.assertEqual(r["end"].task.stderr, "")
        self.assertEqual(r["end"].task.exit_code, 0)

    def test_namespaces(self):
        self.assertEqual(get_namespace(), USER_NS)
        with self.assertRaises(MflowNamespaceMismatch) as e:
            Run(f"ForeachFlow/{self.other}")
        self.assertIn("is in namespace 'team:ml'", str(e.exception))
        self.assertIsInstance(e.exception, MflowNotFound)
        namespace("team:ml")
        self.assertEqual(get_namespace(), "team:ml")
        self.assertEqual([r.id for r in Flow("ForeachFlow")], [self.other])
        self.assertEqual(Run(f"ForeachFlow/{self.other}").data.sum, 5)
        with self.assertRaises(MflowNamespaceMismatch):
            Run(f"ForeachFlow/{self.fe1}")
        self.assertEqual(mflow.flows(), ["ForeachFlow"])
        namespace(None)
        self.assertIsNone(get_namespace())
        self.assertEqual([r.id for r in Flow("ForeachFlow")], [self.other, self.fe2, self.fe1])
        self.assertEqual(Run(f"ForeachFlow/{self.other}").namespace, "team:ml")
        self.assertEqual(default_namespace(), USER_NS)
        self.assertEqual(len(Flow("ForeachFlow").runs()), 2)
        with self.assertRaises(MflowInvalid):
            namespace(5)

    def test_objects_hold_no_handle(self):
        t = Run(f"Branch3Flow/{self.br}")["a"].task
        namespace("team:ml")     # the client is reopened: the task reads through the new one
        namespace(None)
        self.assertEqual(t.data.y, 3)
        self.assertEqual(repr(t), f"Task('Branch3Flow/{self.br}/a/{t.id}')")
        self.assertEqual(len({t, Task(t.pathspec)}), 1)

    def test_bad_pathspecs(self):
        for cls, spec in [(Run, "Flow"), (Run, "Flow/1/x"), (Task, "Flow/1/step"),
                          (Step, "Flow/1"), (Run, "/1"), (Task, 5)]:
            with self.assertRaises(MflowInvalid, msg=(cls, spec)):
                cls(spec)
        with self.assertRaises(MflowNotFound) as e:
            Run("ForeachFlow/9999")
        self.assertIn("no run ForeachFlow/9999", str(e.exception))
        with self.assertRaises(MflowNotFound):
            Task(f"ForeachFlow/{self.fe1}/square/9999")

    def test_value_types(self):
        t = Run(f"ValuesFlow/{self.values}")["start"].task
        self.assertEqual(t.data.o, {"k": [1, 2.5, None, True], "$t": "é"})
        self.assertEqual(t.data.big, 123456789012345678901234567890)
        self.assertEqual(t.data.items, [(1, 2), [3], "x"])
        self.assertEqual(t["items"].type, "obj")
        self.assertEqual(t["p"].type, "pickle")
        with self.assertRaises(mflow.MflowCorrupt):
            t.data.p            # four bytes that are not a whole pickle
        if mflow.codec.sys.modules.get("numpy") or _has_numpy():
            a = t.data.a
            self.assertEqual(a.tolist(), [1, 2, 3])
            self.assertTrue(a.flags.writeable)
        each = sorted(Run(f"ValuesFlow/{self.values}")["each"], key=lambda x: x.index)
        self.assertEqual([x.data.idx for x in each], [0, 1, 2])
        self.assertEqual(Run(f"ValuesFlow/{self.values}").data.sum, 3)


def _has_numpy():
    try:
        import numpy  # noqa: F401
        return True
    except ImportError:
        return False


if __name__ == "__main__":
    unittest.main()
