#!/usr/bin/env python3
"""abi suite: a third party builds a plugin out of tree from an installed mflow.

1. `meson install --destdir TMP` the build, and check the installed tree holds what a user
   and a plugin author need (the mflow command, libmflow, the built-in plugins, the public
   headers, both .pc files, the plugin template and the fake host).
2. Run the installed mflow (with the installed libmflow) on the installed plugins.
3. Copy the installed template elsewhere and build it with nothing but
   `cc -shared $(pkg-config --cflags --libs mflow-plugin)`, and with its Makefile.
4. Check it exports only mf_plugin_entry_v1, that `mflow plugins --json` loads it through
   MFLOW_PLUGIN_PATH, and that its operations work under the installed fake host.
5. The installed mflow-plugin-check passes the template's tmpl storage and pool compute
   (`make conformance`), and a flow runs on the tmpl store through a tmpl:// root alone,
   after which `mflow get` finds the run's storage without --storage.

The installed tree lives under DESTDIR, so its .pc files name the real prefix:
PKG_CONFIG_SYSROOT_DIR maps their -I flags into DESTDIR, and the installed mflow's built-in
plugin directory (the real prefix's) is missing, so MFLOW_PLUGIN_PATH names the DESTDIR one.
Environment: MFLOW_BIN, MFLOW_TEST_BUILD_ROOT, MFLOW_ABI_SOURCE (set by meson.build).
"""
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

ENTRY = "mf_plugin_entry_v1"


def sdk_minor():
    """MF_PLUGIN_ABI_MINOR of the SDK the template is built against (this source tree's)."""
    src = os.environ.get("MFLOW_ABI_SOURCE", os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(src, "..", "..", "sdk", "include", "mflow", "plugin.h")) as f:
        return int(re.search(r"#define MF_PLUGIN_ABI_MINOR (\d+)", f.read()).group(1))


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def skip(msg):
    print("SKIP: " + msg)
    sys.exit(77)


def run(cmd, env=None, cwd=None, shell=False, timeout=300):
    p = subprocess.run(cmd, env=env, cwd=cwd, shell=shell, capture_output=True, text=True,
                       timeout=timeout)
    if p.returncode != 0:
        shown = cmd if shell else shlex.join(cmd)
        fail(f"`{shown}` exited {p.returncode}:\n{p.stdout[-4000:]}\n{p.stderr[-4000:]}")
    return p


def build_options(build):
    opts = json.loads(run(["meson", "introspect", "--buildoptions", build]).stdout)
    return {o["name"]: o["value"] for o in opts}


def exports_only_entry(path):
    out = run(["nm", "-D", "--defined-only", path]).stdout.split()
    syms = out[2::3]
    if syms != [ENTRY]:
        fail(f"{path} must export only {ENTRY}; it exports {syms}")


def expect_files(root, rel_paths):
    for rel in rel_paths:
        p = os.path.join(root, rel)
        if not os.path.isfile(p):
            fail(f"the installed tree lacks {rel} (looked for {p})")
        print(f"ok: installed {rel}")


def main():
    for tool in ("meson", "nm", "pkg-config", "cc", "make"):
        if not shutil.which(tool):
            skip(f"{tool} is not installed")
    build = os.path.realpath(os.environ.get("MFLOW_TEST_BUILD_ROOT", ""))
    mflow = os.environ.get("MFLOW_BIN", "")
    src = os.environ.get("MFLOW_ABI_SOURCE", "")
    if not os.path.isfile(os.path.join(build, "build.ninja")) or not os.access(mflow, os.X_OK):
        skip("run this through `meson test --suite abi` with mflow built")

    o = build_options(build)
    prefix, libdir, bindir = o["prefix"], o["libdir"], o["bindir"]
    lib = os.path.join(prefix, libdir)
    with tempfile.TemporaryDirectory(prefix="mflow-3p-") as tmp:
        destdir = os.path.join(tmp, "dest")
        run(["meson", "install", "-C", build, "--destdir", destdir, "--quiet"], timeout=600)
        root = destdir + prefix
        dlib = destdir + lib
        share = os.path.join(o["datadir"], "mflow")
        expect_files(root, [
            os.path.join(o["bindir"], "mflow"),
            os.path.join(libdir, "libmflow.so"),
            os.path.join(libdir, "mflow", "plugins", "mflow_compute_local.so"),
            os.path.join(libdir, "mflow", "plugins", "mflow_storage_local.so"),
            os.path.join(o["includedir"], "mflow", "plugin.h"),
            os.path.join(o["includedir"], "mflow", "flow.h"),
            os.path.join(o["includedir"], "mflow", "client.h"),
            os.path.join(libdir, "pkgconfig", "mflow.pc"),
            os.path.join(libdir, "pkgconfig", "mflow-plugin.pc"),
            os.path.join(share, "plugin-template", "myplugin.c"),
            os.path.join(share, "plugin-template", "mycompute.c"),
            os.path.join(share, "plugin-template", "mystore.c"),
            os.path.join(o["bindir"], "mflow-plugin-check"),
            os.path.join(o["datadir"], "doc", "mflow", "PLUGINS.md"),
            os.path.join(share, "plugin-template", "Makefile"),
            os.path.join(share, "plugin-template", "README.md"),
            os.path.join(share, "fakehost", "fakehost.c"),
            os.path.join(share, "fakehost", "fakehost.h"),
        ])
        for so in os.listdir(os.path.join(dlib, "mflow", "plugins")):
            exports_only_entry(os.path.join(dlib, "mflow", "plugins", so))

        # The installed mflow, on the installed libmflow and plugins. Run from outside the
        # build tree, its built-in directory is the (real) installed plugin directory.
        installed_plugins = os.path.join(dlib, "mflow", "plugins")
        env = dict(os.environ, LD_LIBRARY_PATH=dlib, MFLOW_PLUGIN_PATH=installed_plugins,
                   MFLOW_HOME=os.path.join(tmp, "home"))
        imflow = os.path.join(root, o["bindir"], "mflow")
        rep = json.loads(run([imflow, "plugins", "--json"], env=env).stdout)
        for kind in ("compute", "storage"):
            path = os.path.join(installed_plugins, f"mflow_{kind}_local.so")
            e = [x for x in rep if x["path"] == path]
            if not e or not e[0]["loaded"] or e[0]["name"] != "local":
                fail(f"the installed mflow does not load {path}: {e}")
        text = run([imflow, "plugins"], env=env).stdout
        searched = text.split("\nsearched:", 1)[-1].split(",")[0].strip()
        if not searched.startswith(os.path.join(lib, "mflow", "plugins")):
            fail(f"the installed mflow must search {lib}/mflow/plugins first, not {searched!r}")
        print("ok: the installed mflow loads the installed plugins")

        # pkg-config sees only the installed tree.
        pc_dir = os.path.join(dlib, "pkgconfig")
        pcenv = dict(os.environ, PKG_CONFIG_LIBDIR=pc_dir, PKG_CONFIG_PATH="",
                     PKG_CONFIG_SYSROOT_DIR=destdir)
        flags = run(["pkg-config", "--cflags", "--libs", "mflow-plugin"], env=pcenv).stdout
        if f"-I{root}/{o['includedir']}" not in flags or "-fvisibility=hidden" not in flags:
            fail(f"pkg-config --cflags --libs mflow-plugin gave {flags.strip()!r}; expected "
                 f"-I{root}/{o['includedir']} and -fvisibility=hidden")
        if "-lmflow" in flags:
            fail(f"a plugin must not link libmflow, but mflow-plugin.pc says {flags.strip()!r}")

        # A third party copies the template out of the installed tree and builds it.
        by_cc = os.path.join(tmp, "work", "by-cc")
        by_make = os.path.join(tmp, "work", "by-make")
        tpl = os.path.join(root, share, "plugin-template")
        shutil.copytree(tpl, by_cc)
        shutil.copytree(tpl, by_make)
        run("cc -Wall -Wextra -Werror -shared -o mflow_storage_memory.so myplugin.c "
            "$(pkg-config --cflags --libs mflow-plugin)", env=pcenv, cwd=by_cc, shell=True)
        run("cc -Wall -Wextra -Werror -shared -o mflow_compute_pool.so mycompute.c "
            "$(pkg-config --cflags --libs mflow-plugin)", env=pcenv, cwd=by_cc, shell=True)
        run("cc -Wall -Wextra -Werror -shared -o mflow_storage_tmpl.so mystore.c "
            "$(pkg-config --cflags --libs mflow-plugin)", env=pcenv, cwd=by_cc, shell=True)
        run(["make"], env=pcenv, cwd=by_make)
        made = run(["make", "check"], env=pcenv, cwd=by_make).stdout
        for so in ("mflow_storage_memory.so", "mflow_compute_pool.so", "mflow_storage_tmpl.so"):
            if f"{so}: exports only mf_plugin_entry_v1" not in made:
                fail(f"make check did not confirm the exports of {so}: {made!r}")
            for d in (by_cc, by_make):
                exports_only_entry(os.path.join(d, so))

        # Loaded through MFLOW_PLUGIN_PATH by mflow (the build tree's, see the docstring).
        env = dict(os.environ, MFLOW_PLUGIN_PATH=by_cc, MFLOW_HOME=os.path.join(tmp, "home"))
        rep = json.loads(run([mflow, "plugins", "--json"], env=env).stdout)
        path = os.path.realpath(os.path.join(by_cc, "mflow_storage_memory.so"))
        e = [x for x in rep if x["path"] == path]
        if not e:
            fail(f"mflow plugins --json does not list {path}: {[x['path'] for x in rep]}")
        e = e[0]
        want = {"loaded": True, "error": None, "kind": "storage", "name": "memory",
                "version": "1.0.0", "abi_major": 1, "abi_minor": sdk_minor()}
        for k, v in want.items():
            if e[k] != v:
                fail(f"{path}: {k} is {e[k]!r}, expected {v!r} ({e})")
        if [x.get("name") for x in e.get("options", [])] != ["max_mb"]:
            fail(f"{path}: options {e.get('options')!r}, expected max_mb")
        print("ok: mflow loads the out-of-tree plugin through MFLOW_PLUGIN_PATH")

        # The compute half: its description shows in `mflow resources --compute=pool`.
        cpath = os.path.realpath(os.path.join(by_cc, "mflow_compute_pool.so"))
        e = [x for x in rep if x["path"] == cpath]
        if not e or not e[0]["loaded"] or e[0]["kind"] != "compute" or \
                e[0]["abi_minor"] != sdk_minor():
            fail(f"mflow plugins --json should load {cpath} as compute 'pool': {e}")
        penv = dict(env, MFLOW_POOL_CPUS="3", MFLOW_POOL_MEMORY_MB="1500")
        doc = json.loads(run([mflow, "resources", "--compute=pool", "--json"], env=penv).stdout)
        o = doc.get("offers", [{}])[0]
        if (o.get("cpus"), o.get("memory_mb"), o.get("gpus"), doc.get("compute")) != \
                (3, 1500, 0, "pool"):
            fail(f"mflow resources --compute=pool --json: {doc}")
        text = run([mflow, "resources", "--compute=pool"], env=penv).stdout
        if "compute    pool\n" not in text or not re.search(r"\n\s*machine\s+\S+\s+3\s+1500 MB\s+0", text):
            fail(f"mflow resources --compute=pool: {text!r}")
        print("ok: the out-of-tree compute plugin's description shows in mflow resources")

        # Its operations, under the installed fake host.
        fh = os.path.join(root, share, "fakehost")
        driver = os.path.join(tmp, "driver")
        run(f"cc -Wall -Wextra -Werror -o {shlex.quote(driver)} "
            f"{shlex.quote(os.path.join(src, 'template_driver.c'))} "
            f"{shlex.quote(os.path.join(fh, 'fakehost.c'))} -I{shlex.quote(fh)} "
            "$(pkg-config --cflags mflow-plugin) -ldl", env=pcenv, shell=True)
        scratch = os.path.join(tmp, "scratch")
        os.makedirs(scratch)
        print(run([driver, path, scratch]).stdout.strip())

        # The installed conformance check on the template (its Makefile's target).
        checker = os.path.join(root, bindir, "mflow-plugin-check")
        conf = run(["make", "conformance", f"PLUGIN_CHECK={checker}"], env=pcenv, cwd=by_make,
                   timeout=600).stdout
        for want in ("plugin tmpl 1.0.0", "plugin pool 1.0.0"):
            if want not in conf:
                fail(f"make conformance did not check {want!r}: {conf[-3000:]}")
        if conf.count("PASSED: ") != 2 or "FAIL" in conf:
            fail(f"make conformance: the template does not pass the conformance check:\n"
                 f"{conf[-4000:]}")
        print("ok: the template's tmpl storage and pool compute pass mflow-plugin-check")

        # A flow on the out-of-tree store, selected by its scheme alone; then get finds it
        # from the run's record, without --storage or --datastore-root.
        flow = os.path.join(src, "..", "e2e", "flows", "linear.c")
        tds = os.path.join(tmp, "tmpl-ds")
        fenv = dict(env, MFLOW_HOME=os.path.join(tmp, "flowhome"))
        run([mflow, f"--datastore-root=tmpl://{tds}", "run", flow, "--base", "5"], env=fenv,
            timeout=300)
        with open(os.path.join(tds, "runs", "LinearFlow", "1", "run.json")) as f:
            rec = json.load(f)
        if rec.get("storage") != {"plugin": "tmpl", "root": f"tmpl://{tds}"}:
            fail(f"run.json of the tmpl run records storage {rec.get('storage')!r}")
        got = run([mflow, "get", "LinearFlow/1/b", "v"], env=fenv).stdout.strip()
        if got != "60":
            fail(f"mflow get LinearFlow/1/b v (no --storage) gave {got!r}, expected 60")
        if os.path.exists(os.path.join(fenv["MFLOW_HOME"], "datastore", "runs")):
            fail("the tmpl run wrote to the default local datastore too")
        print("ok: a flow ran on the out-of-tree tmpl:// store and mflow get found it without "
              "--storage")


if __name__ == "__main__":
    main()
