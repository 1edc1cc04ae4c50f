#!/usr/bin/env python3
"""abi suite: compute descriptions (plugin ABI 1.2's describe).

A compute plugin with describe (mflow_compute_described, from testplugin.c -DDESCRIBE) shows
up in `mflow resources --compute=NAME` (text and --json), its offers are what a run's steps
are admitted against, and a describe that fails or returns bad JSON is named. A plugin built
against 1.1 (mflow_compute_minor1) still loads and runs through the same paths, with no
description: `mflow resources` says so, and its steps are not admitted against anything.
Environment (set by tests/abi/meson.build): MFLOW_BIN, MFLOW_ABI_PLUGINS, MFLOW_ABI_SOURCE.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

CHECKS = 0


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def ok(msg):
    global CHECKS
    CHECKS += 1
    print("ok: " + msg)


def host_minor():
    src = os.environ.get("MFLOW_ABI_SOURCE", os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(src, "..", "..", "sdk", "include", "mflow", "plugin.h")) as f:
        return int(re.search(r"#define MF_PLUGIN_ABI_MINOR (\d+)", f.read()).group(1))


def mflow(env, *args):
    return subprocess.run([os.environ["MFLOW_BIN"], *args], env=env, capture_output=True,
                          text=True, timeout=120)


def expect(p, code, needles, what):
    out = p.stdout + p.stderr
    if p.returncode != code:
        fail(f"{what}: exit {p.returncode}, expected {code}:\n{out}")
    for n in needles:
        if n not in out:
            fail(f"{what}: expected {n!r} in:\n{out}")
    ok(what)
    return out


FLOW = """#include <mflow/flow.h>
static void start(mf_task *t) { (void)t; }
static void work(mf_task *t) { (void)t; }
static void end(mf_task *t) { (void)t; }
static const mf_step_def steps[] = {
    {.name = "start", .fn = start, .next = "work"},
    {.name = "work", .fn = work, .next = "end", .resources = {CPU_MEM_GPU}},
    {.name = "end", .fn = end},
};
MF_FLOW("AdmitFlow", steps, NULL);
"""


def main():
    if not os.access(os.environ.get("MFLOW_BIN", ""), os.X_OK) or \
            not os.environ.get("MFLOW_ABI_PLUGINS"):
        print("SKIP: run this through `meson test --suite abi`")
        sys.exit(77)
    with tempfile.TemporaryDirectory(prefix="mflow-describe-") as tmp:
        d = os.path.join(tmp, "plugins")
        os.makedirs(d)
        for name in ("mflow_compute_described.so", "mflow_compute_minor1.so"):
            shutil.copy(os.path.join(os.environ["MFLOW_ABI_PLUGINS"], name), d)
        env = dict(os.environ, MFLOW_PLUGIN_PATH=d, MFLOW_HOME=os.path.join(tmp, "home"))
        env.pop("MFLOW_ABITEST_DESCRIBE", None)
        env.pop("MFLOW_COMPUTE", None)

        rep = {e["name"]: e for e in json.loads(mflow(env, "plugins", "--json").stdout)
               if e["path"].startswith(d)}
        if not rep.get("described", {}).get("loaded") or \
                rep["described"]["abi_minor"] != host_minor():
            fail(f"the 1.{host_minor()} plugin with describe should load: {rep.get('described')}")
        if not rep.get("minor1", {}).get("loaded") or rep["minor1"]["abi_minor"] != 1:
            fail(f"the 1.1 plugin should load: {rep.get('minor1')}")
        ok("a 1.1 and a 1.%d compute plugin both load" % host_minor())

        # --json: the plugin's document, with the compute named.
        p = mflow(env, "resources", "--compute=described", "--json")
        expect(p, 0, [], "resources --compute=described --json")
        doc = json.loads(p.stdout)
        if [o["name"] for o in doc["offers"]] != ["small", "big"] or doc["compute"] != "described":
            fail(f"unexpected document: {doc}")
        if doc["offers"][1]["gpu_kinds"] != {"a100": 2} or "text" in doc:
            fail(f"unexpected document: {doc}")
        ok("--json shows the plugin's offers")

        # Text: the host's table of offers and limits.
        for args in (["resources", "--compute=described"], ["resources", "--compute", "described"],
                     ["--compute=described", "resources"]):
            out = expect(mflow(env, *args), 0, [
                "compute    described\n",
                "source     the abi test plugin's fixed figures\n",
                "offers     2\n",
                "\nlimits\n  cpu      not at all\n"], "text of " + " ".join(args))
            rows = [l.split() for l in out.splitlines() if l.startswith("node ")]
            if rows != [["node", "small", "2", "1024", "MB", "0", "-", "-"],
                        ["node", "big", "8", "4096", "MB", "2", "(a100:2)", "idle", "gpu"]]:
                fail(f"offer rows: {rows}\n{out}")
            ok("offer rows of " + " ".join(args))

        # The plugin's own text, when it gives one, is printed as it is (and not in --json).
        own = dict(env, MFLOW_ABITEST_DESCRIBE=json.dumps(
            {"offers": [], "text": "my own view\nof things\n", "extra": 1}))
        p = expect(mflow(own, "resources", "--compute=described"), 0, [], "a plugin's own text")
        if p != "my own view\nof things\n":
            fail(f"the plugin's text should be printed as it is: {p!r}")
        j = json.loads(mflow(own, "resources", "--compute=described", "--json").stdout)
        if "text" in j or j.get("extra") != 1:
            fail(f"--json drops only the text: {j}")
        ok("--json keeps what the host does not know, drops text")

        # Failures are named.
        expect(mflow(dict(env, MFLOW_ABITEST_DESCRIBE="fail"), "resources", "--compute=described"),
               1, ["resources: compute plugin 'described': abi test plugin"], "a failing describe")
        expect(mflow(dict(env, MFLOW_ABITEST_DESCRIBE="{not json"), "resources",
                     "--compute=described"), 1,
               ["compute plugin 'described' described itself with invalid JSON"], "invalid JSON")
        expect(mflow(dict(env, MFLOW_ABITEST_DESCRIBE="[1, 2]"), "resources",
                     "--compute=described"), 1,
               ["described itself with JSON that is not an object"], "JSON that is no object")
        expect(mflow(env, "resources", "--compute=minor1"), 1,
               ["compute plugin 'minor1' (plugin ABI 1.1) does not describe what it offers",
                "added in plugin ABI 1.2"], "a 1.1 plugin has no description")
        expect(mflow(env, "resources", "--compute=nosuch"), 1, ["nosuch"], "an unknown plugin")
        expect(mflow(env, "resources", "--bogus"), 2, ["unknown argument '--bogus'"],
               "an unknown argument")

        # Admission: a step that fits no offer is refused before anything is submitted.
        flows = os.path.join(tmp, "flows")
        os.makedirs(flows)

        def flow(name, res):
            path = os.path.join(flows, name + ".c")
            with open(path, "w") as f:
                f.write(FLOW.replace("CPU_MEM_GPU", res))
            return path

        refused = [
            (flow("wide", ".cpu = 16"), "asks for 16 CPUs, 0 MB of memory and 0 GPUs"),
            (flow("fat", ".cpu = 2, .memory_mb = 8192"), "asks for 2 CPUs, 8192 MB of memory"),
            (flow("gpus", ".gpu = 3"), "asks for 1 CPU, 0 MB of memory and 3 GPUs"),
            # each figure fits some node, the whole request none
            (flow("mixed", ".cpu = 4, .memory_mb = 512, .gpu = 0"), None),
        ]
        largest = ("but no node of compute 'described' has that much: the largest is node 'big' "
                   "(partition gpu; 8 CPUs, 4096 MB, 2 GPUs; from the abi test plugin's fixed "
                   "figures)")
        for path, asks in refused[:3]:
            p = mflow(env, "--compute=described", "run", path)
            expect(p, 1, ["flow AdmitFlow: step 'work' " + asks, largest],
                   "refused before the run: " + os.path.basename(path))
            if "submit" in p.stderr.lower() or os.path.isdir(os.path.join(tmp, "home", "datastore", "runs")):
                fail(f"a refused run must not start: {p.stderr}")
        # Fits node 'big': admitted, and then the plugin's submit (MF_ENOTSUP) fails the run.
        p = mflow(env, "--compute=described", "run", refused[3][0])
        if p.returncode == 0 or "has that much" in p.stderr:
            fail(f"a request that fits node 'big' must be admitted:\n{p.stderr}")
        ok("a request that fits one offer is admitted")
        # The 1.1 plugin has no offers: the same request passes admission.
        p = mflow(env, "--compute=minor1", "run", refused[0][0])
        if p.returncode == 0 or "has that much" in p.stderr:
            fail(f"a 1.1 plugin's steps are not admitted against a description:\n{p.stderr}")
        ok("a 1.1 plugin runs without admission by description")
    print(f"{CHECKS} checks passed")


if __name__ == "__main__":
    main()
