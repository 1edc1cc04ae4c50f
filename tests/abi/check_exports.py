#!/usr/bin/env python3
"""abi suite: every plugin the project builds exports mf_plugin_entry_v1 and nothing else.

The plugins are every shared module meson builds under <build>/plugins (asked of
`meson introspect`, built here when missing) and every *.so lying there (which the loader
would load too). Nothing is filtered out of `nm -D --defined-only`: with -fvisibility=hidden
the linker exports no _init/_fini or other symbols of its own from a module.
The checker is first shown a module that exports the wrong symbol, to prove it can fail.
Environment: MFLOW_TEST_BUILD_ROOT, MFLOW_ABI_PLUGINS (set by tests/abi/meson.build).
"""
import json
import os
import shutil
import subprocess
import sys

ENTRY = "mf_plugin_entry_v1"


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def skip(msg):
    print("SKIP: " + msg)
    sys.exit(77)


def exported(path):
    """The defined dynamic symbols of path, as (type, name) pairs."""
    p = subprocess.run(["nm", "-D", "--defined-only", path], capture_output=True, text=True)
    if p.returncode != 0:
        fail(f"nm -D --defined-only {path} failed: {p.stderr.strip()}")
    syms = []
    for line in p.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3:
            syms.append((parts[1], parts[2]))
        elif parts:
            fail(f"unexpected nm output for {path}: {line!r}")
    return syms


def problem(path):
    """None when path exports exactly the entry function, else what is wrong."""
    syms = exported(path)
    if syms == [("T", ENTRY)]:
        return None
    return f"{path} must export only the function {ENTRY}; it exports " + (
        ", ".join(f"{name} ({kind})" for kind, name in syms) or "nothing")


def project_plugins(build):
    """Plugin files the build defines, building the missing ones."""
    plugins_dir = os.path.join(build, "plugins") + os.sep
    p = subprocess.run(["meson", "introspect", "--targets", build], capture_output=True,
                       text=True)
    if p.returncode != 0:
        fail(f"meson introspect --targets {build} failed: {p.stderr.strip()}")
    files = [f for t in json.loads(p.stdout) if t["type"] == "shared module"
             for f in t["filename"] if os.path.realpath(f).startswith(plugins_dir)]
    missing = [os.path.relpath(f, build) for f in files if not os.path.exists(f)]
    if missing:
        r = subprocess.run(["ninja", "-C", build, *missing], capture_output=True, text=True)
        if r.returncode != 0:
            fail(f"building {missing} failed:\n{r.stdout[-3000:]}{r.stderr[-2000:]}")
    found = {os.path.realpath(f) for f in files}
    for root, dirs, names in os.walk(plugins_dir):
        dirs[:] = [d for d in dirs if not d.endswith(".p")]   # meson's object directories
        found.update(os.path.realpath(os.path.join(root, n)) for n in names if n.endswith(".so"))
    return sorted(found)


def main():
    if not shutil.which("nm"):
        skip("nm (binutils) is not installed")
    build = os.path.realpath(os.environ.get("MFLOW_TEST_BUILD_ROOT", ""))
    abi = os.environ.get("MFLOW_ABI_PLUGINS", "")
    if not os.path.isdir(os.path.join(build, "plugins")) or not abi:
        skip("run this through `meson test --suite abi` (MFLOW_TEST_BUILD_ROOT, "
             "MFLOW_ABI_PLUGINS)")

    # The checker must catch a module exporting something else, and pass a good one.
    if not problem(os.path.join(abi, "mflow_compute_noentry.so")):
        fail("the checker accepted mflow_compute_noentry.so, which exports mf_plugin_entry")
    if problem(os.path.join(abi, "mflow_compute_abigood.so")):
        fail(problem(os.path.join(abi, "mflow_compute_abigood.so")))

    plugins = project_plugins(build)
    if not plugins:
        fail(f"the build defines no plugin under {build}/plugins")
    bad = []
    for p in plugins:
        msg = problem(p)
        print(("BAD: " if msg else "ok: ") + p)
        if msg:
            bad.append(msg)
    if bad:
        fail("\n".join(bad) + "\nmark only the entry MF_PLUGIN_EXPORT and build with "
             "-fvisibility=hidden (plugin_c_args), everything else static")
    print(f"ok: {len(plugins)} plugins export only {ENTRY}")


if __name__ == "__main__":
    main()
