#!/usr/bin/env python3
"""Read a generated DAG file back (python's ast: no Airflow, nothing executed) and check it
against the flow's graph (`mflow show --json`): one task per step with the step's retries,
execution_timeout and command, foreach bodies mapped with .partial(...).expand(...) over
the items task of their innermost foreach, the edges of the graph and no others, the DAG's
schedule, catchup, start_date and Params.

usage: check_dag.py GRAPH.json DAG.py --package ADDR [--k8s] [--schedule CRON]
                    [--param NAME=VALUE]... [--image IMG]
Prints each problem; exits 1 when there is any."""
import argparse
import ast
import json
import shlex
import sys

problems = []


def problem(msg):
    problems.append(msg)


def const(node):
    try:
        return ast.literal_eval(node)
    except Exception:
        return node


def kwargs_of(call):
    return {k.arg: k.value for k in call.keywords}


def contexts(graph):
    """Enclosing foreach splits of every step, outermost first (graph order from start)."""
    steps = {s["name"]: s for s in graph["steps"]}
    ctx = {"start": ([], [])}
    queue = ["start"]
    while queue:
        s = queue.pop(0)
        splits, fe = ctx[s]
        for t in steps[s]["next"]:
            if t in ctx:
                continue
            ns = list(splits)
            if steps[s]["type"] in ("branch", "foreach"):
                ns.append(s)
            if steps[t]["join"]:
                ns = ns[:-1]
            ctx[t] = (ns, [x for x in ns if steps[x]["type"] == "foreach"])
            queue.append(t)
    return {k: v[1] for k, v in ctx.items()}


def timedelta_seconds(node):
    if (isinstance(node, ast.Call) and ast.unparse(node.func) == "datetime.timedelta"
            and not node.args):
        kw = kwargs_of(node)
        if set(kw) == {"seconds"}:
            return const(kw["seconds"])
    return None


def main(argv):
    ap = argparse.ArgumentParser()
    ap.add_argument("graph")
    ap.add_argument("dag")
    ap.add_argument("--package", required=True)
    ap.add_argument("--k8s", action="store_true")
    ap.add_argument("--schedule")
    ap.add_argument("--param", action="append", default=[])
    ap.add_argument("--image")
    ap.add_argument("--retry-delay", type=int, default=30)
    a = ap.parse_args(argv)
    graph = json.load(open(a.graph))
    tree = ast.parse(open(a.dag).read(), a.dag)
    steps = {s["name"]: s for s in graph["steps"]}
    ctx = contexts(graph)
    flow = graph["flow"]

    # imports: exactly the Airflow 2.7 names the form needs
    imports = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.ImportFrom):
            for al in n.names:
                imports.add(f"{n.module}.{al.name}")
        elif isinstance(n, ast.Import):
            for al in n.names:
                imports.add(al.name)
    want = {"datetime", "json", "airflow.DAG", "airflow.models.param.Param",
            "airflow.operators.python.PythonOperator"}
    if a.k8s:
        want |= {"airflow.providers.cncf.kubernetes.operators.pod.KubernetesPodOperator",
                 "kubernetes.client.models"}
    else:
        want |= {"airflow.operators.bash.BashOperator"}
    if imports != want:
        problem(f"imports {sorted(imports)} != {sorted(want)}")

    # the DAG
    withs = [n for n in ast.walk(tree) if isinstance(n, ast.With)]
    if len(withs) != 1:
        problem(f"{len(withs)} with-statements, expected one DAG context")
        return
    call = withs[0].items[0].context_expr
    if ast.unparse(call.func) != "DAG":
        problem("the with-statement is not DAG(...)")
    dk = kwargs_of(call)
    for gone in ("schedule_interval", "timetable"):
        if gone in dk:
            problem(f"DAG has {gone}= (removed in favour of schedule=)")
    if const(dk.get("schedule")) != a.schedule:
        problem(f"schedule {ast.unparse(dk['schedule'])} != {a.schedule!r}")
    if const(dk.get("catchup")) is not False:
        problem("catchup is not False")
    sd = dk.get("start_date")
    if sd is None or "datetime.datetime(" not in ast.unparse(sd) or "tzinfo" not in ast.unparse(sd):
        problem("start_date is not a fixed aware datetime")
    # params
    overrides = dict(p.split("=", 1) for p in a.param)
    atype = {"i64": "integer", "f64": "number", "bool": "boolean", "str": "string"}
    pd = dk.get("params")
    got_params = {}
    if isinstance(pd, ast.Dict):
        for k, v in zip(pd.keys, pd.values):
            got_params[const(k)] = v
    if set(got_params) != {p["name"] for p in graph["parameters"]}:
        problem(f"params {sorted(got_params)} != the flow's parameters")
    for p in graph["parameters"]:
        v = got_params.get(p["name"])
        if v is None:
            continue
        if not (isinstance(v, ast.Call) and ast.unparse(v.func) == "Param"):
            problem(f"param {p['name']} is not Param(...)")
            continue
        kw = kwargs_of(v)
        if const(kw.get("type")) != atype[p["type"]]:
            problem(f"param {p['name']} type {ast.unparse(kw.get('type'))} != {atype[p['type']]}")
        text = overrides.get(p["name"], p["default"])
        want_v = {"i64": int, "f64": float, "str": str,
                  "bool": lambda t: t.lower() in ("true", "yes", "1")}[p["type"]](text) \
            if text is not None else None
        got_v = const(v.args[0]) if v.args else None
        if got_v != want_v or type(got_v) is not type(want_v):
            problem(f"param {p['name']} default {got_v!r} != {want_v!r}")

    # the tasks
    body = withs[0].body
    assigns = {}
    edges = set()
    for st in body:
        if isinstance(st, ast.Assign) and len(st.targets) == 1:
            assigns[st.targets[0].id] = st.value
        elif isinstance(st, ast.Expr) and isinstance(st.value, ast.BinOp) and \
                isinstance(st.value.op, ast.RShift):
            edges.add((st.value.left.id, st.value.right.id))
        else:
            problem(f"unexpected statement in the DAG: {ast.unparse(st)[:80]}")
    op = "KubernetesPodOperator" if a.k8s else "BashOperator"
    want_vars = set()
    for name, s in steps.items():
        var = f"s_{name}"
        want_vars.add(var)
        v = assigns.get(var)
        if v is None:
            problem(f"step {name}: no task {var}")
            continue
        mapped = bool(ctx[name])
        if mapped:
            # OP.partial(...).expand(env=i_<split>.output)
            ok = (isinstance(v, ast.Call) and isinstance(v.func, ast.Attribute)
                  and v.func.attr == "expand" and isinstance(v.func.value, ast.Call)
                  and ast.unparse(v.func.value.func) == f"{op}.partial")
            if not ok:
                problem(f"step {name} is inside a foreach but not {op}.partial(...).expand(...)")
                continue
            ek = kwargs_of(v)
            key = "env_vars" if a.k8s else "env"
            if set(ek) != {key} or ast.unparse(ek[key]) != f"i_{ctx[name][-1]}.output" or v.args:
                problem(f"step {name}: expand({ast.unparse(v)[-60:]}) is not over "
                        f"{key}=i_{ctx[name][-1]}.output")
            kw = kwargs_of(v.func.value)
        else:
            if not (isinstance(v, ast.Call) and ast.unparse(v.func) == op):
                problem(f"step {name} is not a plain {op}(...)")
                continue
            kw = kwargs_of(v)
        if const(kw.get("task_id")) != name:
            problem(f"step {name}: task_id {ast.unparse(kw.get('task_id'))}")
        if const(kw.get("retries")) != s["retry"]:
            problem(f"step {name}: retries {ast.unparse(kw.get('retries'))} != {s['retry']}")
        if timedelta_seconds(kw.get("retry_delay")) != a.retry_delay:
            problem(f"step {name}: retry_delay is not timedelta(seconds={a.retry_delay})")
        et = kw.get("execution_timeout")
        if s["timeout_s"]:
            if timedelta_seconds(et) != s["timeout_s"] + 60:
                problem(f"step {name}: execution_timeout is not timeout_s + 60 s")
        elif et is not None:
            problem(f"step {name}: execution_timeout without a timeout_s")
        if const(kw.get("do_xcom_push")) != (s["type"] == "foreach"):
            problem(f"step {name}: do_xcom_push should be {s['type'] == 'foreach'}")
        # the command
        if a.k8s:
            words = [const(e) for e in kw["arguments"].elts] if "arguments" in kw else []
            if [const(e) for e in kw.get("cmds", ast.List(elts=[])).elts] != ["mflow"]:
                problem(f"step {name}: cmds is not ['mflow']")
            img = s["image"] or a.image
            if const(kw.get("image")) != img:
                problem(f"step {name}: image {ast.unparse(kw.get('image'))} != {img!r}")
            res = s["resources"]
            cr = kw.get("container_resources")
            if res["cpu"] or res["memory_mb"] or res["gpu"]:
                rk = kwargs_of(cr) if isinstance(cr, ast.Call) else {}
                req, lim = const(rk.get("requests")), const(rk.get("limits"))
                wreq, wlim = {}, {}
                if res["cpu"]:
                    wreq["cpu"] = str(res["cpu"])
                if res["memory_mb"]:
                    wreq["memory"] = wlim["memory"] = f"{res['memory_mb']}Mi"
                if res["gpu"]:
                    wlim["nvidia.com/gpu"] = str(res["gpu"])
                if ast.unparse(cr.func) != "k8s.V1ResourceRequirements" or req != wreq or \
                        lim != wlim:
                    problem(f"step {name}: container_resources {ast.unparse(cr)} != "
                            f"requests {wreq} limits {wlim}")
            elif cr is not None:
                problem(f"step {name}: container_resources without resources")
        else:
            words = shlex.split(const(kw.get("bash_command")))[1:]
            want_ae = True if mapped or (name == "start" and graph["parameters"]) else None
            got_ae = const(kw["append_env"]) if "append_env" in kw else None
            if got_ae != want_ae:
                problem(f"step {name}: append_env {got_ae} != {want_ae}")
        try:
            i = words.index("dag-task")
        except ValueError:
            problem(f"step {name}: the command does not run dag-task: {words}")
            continue
        if words[i + 1:i + 3] != [flow, name]:
            problem(f"step {name}: dag-task {words[i + 1:i + 3]} != {[flow, name]}")
        opts = dict(zip(words[i + 3::2], words[i + 4::2]))
        if opts.get("--dag-run") != "{{ run_id }}" or opts.get("--package") != a.package or \
                "--dag-id" not in opts:
            problem(f"step {name}: command options {opts}")
        if (opts.get("--timeout-s") == str(s["timeout_s"])) != bool(s["timeout_s"]):
            problem(f"step {name}: --timeout-s {opts.get('--timeout-s')} for timeout_s "
                    f"{s['timeout_s']}")
        if a.k8s and (("--xcom-file" in opts) != (s["type"] == "foreach") or
                      opts.get("--xcom-file", "/airflow/xcom/return.json")
                      != "/airflow/xcom/return.json"):
            problem(f"step {name}: --xcom-file {opts.get('--xcom-file')}")
        envk = "env_vars" if a.k8s else "env"
        if name == "start" and graph["parameters"]:
            env = const(kw.get(envk))
            want_env = {f"MFLOW_PARAM_{p['name']}": "{{ params['%s']%s }}" % (
                p["name"], " | string | lower" if p["type"] == "bool" else "")
                for p in graph["parameters"]}
            if env != want_env:
                problem(f"step start: {envk} {env} != {want_env}")
        elif not mapped and envk in kw:
            problem(f"step {name}: unexpected {envk}")
        # the items task of a foreach
        if s["type"] == "foreach":
            iv = assigns.get(f"i_{name}")
            want_vars.add(f"i_{name}")
            if not (isinstance(iv, ast.Call) and ast.unparse(iv.func) == "PythonOperator"):
                problem(f"foreach {name}: no PythonOperator i_{name}")
            else:
                ik = kwargs_of(iv)
                if const(ik.get("task_id")) != f"{name}-items" or \
                        ast.unparse(ik.get("python_callable")) != "_mflow_items" or \
                        ast.unparse(ik.get("op_args")) != f"[s_{name}.output]":
                    problem(f"foreach {name}: items task {ast.unparse(iv)}")
    if set(assigns) != want_vars:
        problem(f"task variables {sorted(assigns)} != {sorted(want_vars)}")
    # edges: every graph edge, through the items task after a foreach
    want_edges = set()
    for name, s in steps.items():
        if s["type"] == "foreach":
            continue
        for t in s["next"]:
            want_edges.add((f"s_{name}", f"s_{t}"))
    if edges != want_edges:
        problem(f"edges: missing {sorted(want_edges - edges)}, extra {sorted(edges - want_edges)}")


def check(argv):
    """The problems of one DAG (check_dag.py's arguments), as a list of messages."""
    problems.clear()
    main(argv)
    return list(problems)


if __name__ == "__main__":
    for p in check(sys.argv[1:]):
        print(p)
    sys.exit(1 if problems else 0)
