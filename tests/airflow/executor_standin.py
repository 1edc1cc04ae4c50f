#!/usr/bin/env python3
"""EXECUTOR STAND-IN for tests only: NOT Airflow.

Airflow cannot be installed on the machines that run mflow's tests, so this script stands in
for it: it loads a generated DAG file with minimal stand-in modules for the airflow names the
file imports, and runs one DAG run of it the way Airflow 2.7 would with a sequential
executor.

The stand-in modules record the DAG's structure and refuse what real Airflow 2.7 refuses at parse time
(from its documented signatures): `schedule` together with `schedule_interval` or
`timetable`, an argument an operator does not take, `.partial()`/`.expand()` with unknown
arguments, an argument both in partial and in expand, a value to expand that is not a
list, dict or XCom, a `retry_delay` or `execution_timeout` of the wrong type, a task id that
is not `[A-Za-z0-9_.-]+`, a duplicate task id, a scheduled DAG with a parameter that has no
default.

The run: tasks in topological order; BashOperator commands through bash with Jinja templates
rendered (`{{ run_id }}`, `{{ ti.map_index }}`, `{{ params['x'] }}`, with StrictUndefined in
Airflow's sandbox), `env`/`append_env` as BashOperator applies them, the last line of stdout pushed as
the XCom when do_xcom_push; mapped tasks expanded over their XCom (one instance per element,
map_index from 0); a PythonOperator's XCom arguments resolved as Airflow does (a mapped
upstream's values as one list in map index order); `retries` retried; a task runs only when
every upstream task (every mapped instance) succeeded. KubernetesPodOperator DAGs are loaded
and checked, not run.

usage: executor_standin.py DAG.py [--run-id ID] [--conf JSON] [--repeat TASK[:MAP_INDEX]]...
                           [--structure] [--report FILE]
  --structure  print the recorded structure as JSON and exit (0 when the file loads)
  --repeat     run that task's command a second time after it succeeded (an Airflow retry
               or clear of a finished task)
Exits 0 when the DAG run succeeded, 1 when a task failed, 3 when the file does not load.
"""
import datetime
import importlib.abc
import json
import os
import re
import subprocess
import sys
import traceback
import types

import jinja2
import jinja2.sandbox

TASK_ID_RE = re.compile(r"^[\w.-]+$")
DAG_ID_RE = re.compile(r"^[\w.-]+$")


class AirflowException(Exception):
    pass


# ---- stand-in airflow modules ------------------------------------------------------------------------

BASE_ARGS = {
    "task_id", "owner", "email", "email_on_retry", "email_on_failure", "retries", "retry_delay",
    "retry_exponential_backoff", "max_retry_delay", "start_date", "end_date", "depends_on_past",
    "ignore_first_depends_on_past", "wait_for_past_depends_before_skipping",
    "wait_for_downstream", "dag", "params", "default_args", "priority_weight", "weight_rule",
    "queue", "pool", "pool_slots", "sla", "execution_timeout", "on_execute_callback",
    "on_failure_callback", "on_success_callback", "on_retry_callback", "pre_execute",
    "post_execute", "trigger_rule", "resources", "run_as_user", "task_concurrency",
    "max_active_tis_per_dag", "max_active_tis_per_dagrun", "executor_config", "do_xcom_push",
    "inlets", "outlets", "task_group", "doc", "doc_md", "doc_json", "doc_yaml", "doc_rst",
}

DAG_ARGS = {
    "dag_id", "description", "schedule_interval", "timetable", "start_date", "end_date",
    "full_filepath", "template_searchpath", "template_undefined", "user_defined_macros",
    "user_defined_filters", "default_args", "concurrency", "max_active_tasks",
    "max_active_runs", "dagrun_timeout", "sla_miss_callback", "default_view", "orientation",
    "catchup", "on_success_callback", "on_failure_callback", "doc_md", "params",
    "access_control", "is_paused_upon_creation", "jinja_environment_kwargs",
    "render_template_as_native_obj", "tags", "owner_links", "auto_register", "fail_stop",
    "schedule",
}

_current_dag = []


class Param:
    """airflow.models.param.Param(default=NOTSET, description=None, **schema)."""
    _NOTSET = object()

    def __init__(self, default=_NOTSET, description=None, **schema):
        allowed = {"type", "minimum", "maximum", "enum", "format", "title", "const",
                   "minLength", "maxLength", "pattern", "items", "values_display", "examples",
                   "multipleOf", "exclusiveMinimum", "exclusiveMaximum"}
        for k in schema:
            if k not in allowed:
                raise TypeError(f"Param: unknown JSON schema keyword {k!r}")
        self.value = default
        self.description = description
        self.schema = schema
        types_ok = {"integer": int, "number": (int, float), "boolean": bool, "string": str}
        t = schema.get("type")
        if t is not None and t not in types_ok and not isinstance(t, list):
            raise AirflowException(f"Param type {t!r} is not a JSON schema type")
        if default is not Param._NOTSET and t in types_ok:
            if not isinstance(default, types_ok[t]) or (t in ("integer", "number")
                                                        and isinstance(default, bool)):
                raise AirflowException(f"Param default {default!r} is not of type {t}")

    @property
    def has_value(self):
        return self.value is not Param._NOTSET


class XComArg:
    def __init__(self, operator, key="return_value"):
        self.operator = operator
        self.key = key


def _check_base_types(kwargs, where):
    rd = kwargs.get("retry_delay")
    if rd is not None and not isinstance(rd, (datetime.timedelta, int, float)):
        raise TypeError(f"{where}: retry_delay must be a timedelta or seconds, not "
                        f"{type(rd).__name__}")
    et = kwargs.get("execution_timeout")
    if et is not None and not isinstance(et, datetime.timedelta):
        raise ValueError(f"{where}: execution_timeout must be timedelta object but passed as "
                         f"type: {type(et)}")
    if "retries" in kwargs and kwargs["retries"] is not None:
        int(kwargs["retries"])
    tid = kwargs.get("task_id")
    if tid is None:
        raise TypeError(f"{where}: missing required argument 'task_id'")
    if not isinstance(tid, str) or not TASK_ID_RE.match(tid) or len(tid) > 250:
        raise AirflowException(f"The key {tid!r} has to be made of alphanumeric characters, "
                               "dashes, dots and underscores exclusively")


class BaseOperator:
    OWN_ARGS = set()
    REQUIRED = set()

    def __init__(self, **kwargs):
        self._init(kwargs, mapped=False)

    def _init(self, kwargs, mapped, expand=None):
        name = type(self).__name__
        unknown = set(kwargs) - self.OWN_ARGS - BASE_ARGS
        if unknown:
            raise AirflowException(f"Invalid arguments were passed to {name} (task_id: "
                                   f"{kwargs.get('task_id')}). Invalid arguments were:\n"
                                   f"**kwargs: {sorted(unknown)}")
        _check_base_types(kwargs, name)
        missing = self.REQUIRED - set(kwargs) - set(expand or {})
        if missing:
            raise TypeError(f"{name}: missing required argument(s) {sorted(missing)}")
        if not _current_dag:
            raise AirflowException(f"task {kwargs['task_id']} is not in a DAG context")
        self.dag = _current_dag[-1]
        self.task_id = kwargs["task_id"]
        self.kwargs = dict(kwargs)
        self.mapped = mapped
        self.expand_kwargs = expand or {}
        self.upstream = set()
        self.downstream = set()
        self.dag._add(self)
        for v in list(kwargs.values()) + list(self.expand_kwargs.values()):
            for x in _xcomargs(v):
                self.set_upstream(x.operator)

    @classmethod
    def partial(cls, **kwargs):
        unknown = set(kwargs) - cls.OWN_ARGS - BASE_ARGS
        if unknown:
            raise TypeError(f"{cls.__name__}.partial() got an unexpected keyword argument "
                            f"{sorted(unknown)[0]!r}")
        _check_base_types(kwargs, cls.__name__ + ".partial()")
        return _Partial(cls, kwargs)

    @property
    def output(self):
        return XComArg(self)

    def set_upstream(self, other):
        for o in other if isinstance(other, list) else [other]:
            self.upstream.add(o.task_id)
            o.downstream.add(self.task_id)

    def set_downstream(self, other):
        for o in other if isinstance(other, list) else [other]:
            o.set_upstream(self)

    def __rshift__(self, other):
        self.set_downstream(other)
        return other

    def __lshift__(self, other):
        self.set_upstream(other)
        return other


def _xcomargs(v):
    if isinstance(v, XComArg):
        yield v
    elif isinstance(v, (list, tuple)):
        for e in v:
            yield from _xcomargs(e)
    elif isinstance(v, dict):
        for e in v.values():
            yield from _xcomargs(e)


class _Partial:
    def __init__(self, cls, kwargs):
        self.cls = cls
        self.kwargs = kwargs
        self.expanded = False

    def expand(self, **mapped):
        if self.expanded:
            raise RuntimeError("expand() called twice")
        self.expanded = True
        name = self.cls.__name__
        if not mapped:
            raise TypeError("no arguments to expand against")
        for k, v in mapped.items():
            if k not in self.cls.OWN_ARGS and k not in BASE_ARGS:
                raise TypeError(f"{name}.expand() got an unexpected keyword argument {k!r}")
            if k in self.kwargs:
                raise TypeError(f"{name}.expand() got an unexpected keyword argument {k!r} "
                                "(unmappable or already specified)")
            if not isinstance(v, (XComArg, list, dict)):
                raise ValueError(f"{name}.expand() got an unexpected type "
                                 f"{type(v).__name__!r} for keyword argument {k}")
        op = self.cls.__new__(self.cls)
        op._init(self.kwargs, mapped=True, expand=mapped)
        return op


class BashOperator(BaseOperator):
    OWN_ARGS = {"bash_command", "env", "append_env", "output_encoding", "skip_exit_code",
                "skip_on_exit_code", "cwd"}
    REQUIRED = {"bash_command"}


class PythonOperator(BaseOperator):
    OWN_ARGS = {"python_callable", "op_args", "op_kwargs", "templates_dict", "templates_exts",
                "show_return_value_in_logs"}
    REQUIRED = {"python_callable"}


class KubernetesPodOperator(BaseOperator):
    OWN_ARGS = {
        "kubernetes_conn_id", "namespace", "image", "name", "random_name_suffix", "cmds",
        "arguments", "ports", "volume_mounts", "volumes", "env_vars", "env_from", "secrets",
        "in_cluster", "cluster_context", "labels", "reattach_on_restart",
        "startup_timeout_seconds", "startup_check_interval_seconds", "get_logs",
        "container_logs", "image_pull_policy", "annotations", "container_resources",
        "affinity", "config_file", "node_selector", "image_pull_secrets",
        "service_account_name", "hostnetwork", "tolerations", "security_context",
        "container_security_context", "dnspolicy", "dns_config", "hostname", "subdomain",
        "schedulername", "full_pod_spec", "init_containers", "log_events_on_failure",
        "do_xcom_push", "pod_template_file", "pod_template_dict", "priority_class_name",
        "pod_runtime_info_envs", "termination_grace_period", "configmaps",
        "skip_on_exit_code", "base_container_name", "deferrable", "poll_interval",
        "log_pod_spec_on_failure", "on_finish_action", "is_delete_operator_pod",
        "termination_message_policy", "active_deadline_seconds", "progress_callback",
    }


class V1ResourceRequirements:
    def __init__(self, limits=None, requests=None, claims=None):
        for what, d in (("limits", limits), ("requests", requests)):
            if d is not None and not isinstance(d, dict):
                raise TypeError(f"V1ResourceRequirements {what} must be a dict")
        self.limits = limits
        self.requests = requests


class DAG:
    def __init__(self, dag_id=None, **kwargs):
        unknown = set(kwargs) - DAG_ARGS
        if unknown:
            raise TypeError(f"DAG.__init__() got an unexpected keyword argument "
                            f"{sorted(unknown)[0]!r}")
        given = [k for k in ("schedule", "schedule_interval", "timetable") if k in kwargs]
        if len(given) > 1:
            raise ValueError("At most one allowed for args 'schedule_interval', 'timetable', "
                             "and 'schedule'")
        if not isinstance(dag_id, str) or not DAG_ID_RE.match(dag_id) or len(dag_id) > 250:
            raise AirflowException(f"The key {dag_id!r} has to be made of alphanumeric "
                                   "characters, dashes, dots and underscores exclusively")
        sd = kwargs.get("start_date")
        if sd is not None and not isinstance(sd, datetime.datetime):
            raise TypeError("start_date must be a datetime")
        sched = kwargs.get("schedule", kwargs.get("schedule_interval"))
        if sched is not None and not isinstance(sched, (str, datetime.timedelta)):
            raise TypeError(f"schedule of type {type(sched).__name__} is not supported here")
        for tag in kwargs.get("tags") or []:
            if len(tag) > 100:
                raise AirflowException(f"tag cannot be longer than 100 characters: {tag}")
        self.params = kwargs.get("params") or {}
        if sched is not None:
            for k, p in self.params.items():
                if isinstance(p, Param) and not p.has_value:
                    raise AirflowException("DAG Schedule must be None, if there are any required "
                                           "params without default values")
        self.dag_id = dag_id
        self.kwargs = kwargs
        self.tasks = {}

    def _add(self, op):
        if op.task_id in self.tasks:
            raise AirflowException(f"Task id {op.task_id!r} has already been added to the DAG")
        self.tasks[op.task_id] = op

    def __enter__(self):
        _current_dag.append(self)
        return self

    def __exit__(self, *exc):
        _current_dag.pop()
        return False


def install_airflow_modules():
    if getattr(install_airflow_modules, "done", False):
        return
    install_airflow_modules.done = True

    def mod(name, **attrs):
        m = types.ModuleType(name)
        m.__path__ = []   # a package: imports of names below it reach the finder below
        m.__dict__.update(attrs)
        sys.modules[name] = m
        return m
    mod("airflow", DAG=DAG, AirflowException=AirflowException)
    mod("airflow.models", DAG=DAG, BaseOperator=BaseOperator)
    mod("airflow.models.param", Param=Param)
    mod("airflow.operators")
    mod("airflow.operators.bash", BashOperator=BashOperator)
    mod("airflow.operators.python", PythonOperator=PythonOperator)
    for n in ("airflow.providers", "airflow.providers.cncf", "airflow.providers.cncf.kubernetes",
              "airflow.providers.cncf.kubernetes.operators"):
        mod(n)
    mod("airflow.providers.cncf.kubernetes.operators.pod",
        KubernetesPodOperator=KubernetesPodOperator)
    mod("kubernetes")
    mod("kubernetes.client")
    mod("kubernetes.client.models", V1ResourceRequirements=V1ResourceRequirements)
    sys.modules["kubernetes.client"].models = sys.modules["kubernetes.client.models"]

    # Only the stand-in modules: a DAG that imports any other airflow name fails to load, as it would
    # show an import error when the name is wrong.
    class Refuse(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name.split(".")[0] in ("airflow", "kubernetes", "pendulum"):
                raise ImportError(f"the executor stand-in has no stand-in module for {name}")
            return None
    sys.meta_path.insert(0, Refuse())


def load(path):
    install_airflow_modules()
    g = {"__name__": "generated_dag", "__file__": path}
    with open(path) as f:
        code = compile(f.read(), path, "exec")
    exec(code, g)
    dags = [v for v in g.values() if isinstance(v, DAG)]
    if len(dags) != 1:
        raise AirflowException(f"{path} defines {len(dags)} DAGs, expected one")
    return dags[0]


def structure(dag):
    def plain(v):
        if isinstance(v, XComArg):
            return {"xcom": v.operator.task_id}
        if isinstance(v, datetime.timedelta):
            return {"seconds": v.total_seconds()}
        if isinstance(v, datetime.datetime):
            return v.isoformat()
        if isinstance(v, V1ResourceRequirements):
            return {"requests": v.requests, "limits": v.limits}
        if isinstance(v, Param):
            return {"default": None if not v.has_value else v.value, "schema": v.schema}
        if isinstance(v, (list, tuple)):
            return [plain(e) for e in v]
        if isinstance(v, dict):
            return {k: plain(e) for k, e in v.items()}
        if callable(v):
            return {"callable": getattr(v, "__name__", "?")}
        return v
    return {
        "dag_id": dag.dag_id,
        "dag": {k: plain(v) for k, v in dag.kwargs.items()},
        "tasks": {
            t.task_id: {
                "operator": type(t).__name__,
                "mapped": t.mapped,
                "kwargs": {k: plain(v) for k, v in t.kwargs.items()},
                "expand": {k: plain(v) for k, v in t.expand_kwargs.items()},
                "upstream": sorted(t.upstream),
            } for t in dag.tasks.values()
        },
    }


# ---- the run -----------------------------------------------------------------------------

class TI:
    def __init__(self, task_id, map_index, try_number):
        self.task_id = task_id
        self.map_index = map_index
        self.try_number = try_number


def topo(dag):
    order, seen = [], set()
    pending = dict(dag.tasks)
    while pending:
        ready = sorted(t for t, op in pending.items() if op.upstream <= seen)
        if not ready:
            raise AirflowException("the DAG has a cycle")
        for t in ready:
            order.append(pending.pop(t))
            seen.add(t)
    return order


class Run:
    def __init__(self, dag, run_id, conf, repeat, log):
        self.dag = dag
        self.run_id = run_id
        self.xcom = {}            # task_id -> list of values by map index, or a value
        self.state = {}
        self.repeat = repeat
        self.log = log
        # Airflow renders in a sandbox (airflow.templates.SandboxedEnvironment): no '_' names
        self.env = jinja2.sandbox.SandboxedEnvironment(undefined=jinja2.StrictUndefined)
        self.params = {}
        for k, p in dag.params.items():
            self.params[k] = p.value if isinstance(p, Param) else p
        for k, v in (conf or {}).items():
            if k not in self.params:
                raise AirflowException(f"conf names no param of the DAG: {k}")
            self.params[k] = v
        for k, v in self.params.items():
            if v is Param._NOTSET:
                raise AirflowException(f"param {k} has no value: give it in --conf")

    def render(self, v, ti):
        ctx = {"run_id": self.run_id, "params": self.params, "ti": ti, "task_instance": ti,
               "dag": self.dag, "ds": "2024-01-01"}
        if isinstance(v, str):
            return self.env.from_string(v).render(**ctx)
        if isinstance(v, list):
            return [self.render(e, ti) for e in v]
        if isinstance(v, dict):
            return {k: self.render(e, ti) for k, e in v.items()}
        return v

    def resolve(self, v):
        if isinstance(v, XComArg):
            tid = v.operator.task_id
            if tid not in self.xcom:
                raise AirflowException(f"XCom of {tid} was never pushed")
            return self.xcom[tid]
        if isinstance(v, list):
            return [self.resolve(e) for e in v]
        if isinstance(v, dict):
            return {k: self.resolve(e) for k, e in v.items()}
        return v

    def run_bash(self, op, kwargs, ti):
        cmd = self.render(kwargs["bash_command"], ti)
        env = kwargs.get("env")
        if env is not None:
            env = {str(k): str(v) for k, v in self.render(env, ti).items()}
            if kwargs.get("append_env"):
                env = {**os.environ, **env}
        else:
            env = dict(os.environ)
        env.update({"AIRFLOW_CTX_DAG_ID": self.dag.dag_id, "AIRFLOW_CTX_TASK_ID": op.task_id,
                    "AIRFLOW_CTX_DAG_RUN_ID": self.run_id})
        # stderr joins stdout, as BashOperator's subprocess hook reads them: the XCom is the
        # last line of both.
        p = subprocess.run(["bash", "-c", cmd], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        self.log.write(f"--- {op.task_id}[{ti.map_index}] try {ti.try_number}: exit "
                       f"{p.returncode}\n{p.stdout}")
        if p.returncode != 0:
            return False, None
        lines = p.stdout.rstrip("\n").split("\n") if p.stdout else [""]
        return True, lines[-1]

    def run_one(self, op, kwargs, map_index):
        retries = int(kwargs.get("retries") or 0)
        for attempt in range(retries + 1):
            ti = TI(op.task_id, map_index, attempt + 1)
            if isinstance(op, BashOperator):
                ok, out = self.run_bash(op, kwargs, ti)
            elif isinstance(op, PythonOperator):
                args = self.resolve(kwargs.get("op_args") or [])
                try:
                    out = kwargs["python_callable"](*args)
                    ok = True
                except Exception:
                    self.log.write(traceback.format_exc())
                    ok, out = False, None
            else:
                raise AirflowException(f"the stand-in does not run {type(op).__name__}")
            if ok:
                key = op.task_id if map_index < 0 else f"{op.task_id}:{map_index}"
                if key in self.repeat or op.task_id in self.repeat:
                    # The same task once more (a retry or clear after it succeeded).
                    ok, out = (self.run_bash(op, kwargs, TI(op.task_id, map_index, attempt + 2))
                               if isinstance(op, BashOperator) else (ok, out))
                if ok:
                    return True, out
        return False, None

    def execute(self):
        for op in topo(self.dag):
            if any(self.state.get(u) != "success" for u in op.upstream):
                self.state[op.task_id] = "upstream_failed"
                continue
            push = op.kwargs.get("do_xcom_push", True)
            if not op.mapped:
                ok, out = self.run_one(op, op.kwargs, -1)
                if ok and push:
                    self.xcom[op.task_id] = out
                self.state[op.task_id] = "success" if ok else "failed"
                continue
            (name, arg), = op.expand_kwargs.items()
            values = self.resolve(arg)
            if isinstance(values, dict):
                values = list(values.items())
            if not isinstance(values, list):
                raise AirflowException(f"{op.task_id}: expand over {type(values).__name__}, "
                                       "which is not a list or dict (an XCom must be one)")
            outs, all_ok = [], True
            for i, v in enumerate(values):
                ok, out = self.run_one(op, {**op.kwargs, name: v}, i)
                all_ok = all_ok and ok
                outs.append(out)
            if push:
                self.xcom[op.task_id] = outs
            self.state[op.task_id] = "success" if all_ok else "failed"
        return all(s == "success" for s in self.state.values())


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(description="executor stand-in for tests (not Airflow)")
    ap.add_argument("dag")
    ap.add_argument("--run-id", default="manual__2024-01-01T00:00:00+00:00")
    ap.add_argument("--conf", default="{}")
    ap.add_argument("--repeat", action="append", default=[])
    ap.add_argument("--structure", action="store_true")
    ap.add_argument("--report")
    a = ap.parse_args(argv)
    try:
        dag = load(a.dag)
    except Exception as e:
        print(f"executor stand-in: {a.dag} does not load: {type(e).__name__}: {e}",
              file=sys.stderr)
        return 3
    if a.structure:
        print(json.dumps(structure(dag), indent=1, sort_keys=True))
        return 0
    log = open(a.report, "w") if a.report else sys.stderr
    run = Run(dag, a.run_id, json.loads(a.conf), set(a.repeat), log)
    ok = run.execute()
    print(json.dumps(run.state, sort_keys=True))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
