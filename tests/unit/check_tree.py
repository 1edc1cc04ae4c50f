#!/usr/bin/env python3
"""unit suite: the core knows no plugin, and its files call each other in no circle.

1. No file under core/ includes a file of plugins/ (by path, or by a name that only a
   plugin's directory holds).
2. core/meson.build names no path under plugins/.
3. No two files of core/ call each other in a circle, directly or through others: the
   graph "file A uses a symbol file B defines" over the built objects (nm) has no cycle.
   Calls through function pointers (the host services) are not edges, by design.
Environment: MFLOW_TEST_SOURCE_ROOT, MFLOW_TEST_BUILD_ROOT (set by meson).
"""
import collections
import glob
import os
import re
import shutil
import subprocess
import sys

SRC = os.environ.get("MFLOW_TEST_SOURCE_ROOT") or os.path.join(os.path.dirname(__file__), "..", "..")
BUILD = os.environ.get("MFLOW_TEST_BUILD_ROOT", "")
FAILS = []


def fail(msg):
    FAILS.append(msg)
    print("FAIL: " + msg)


def check_includes():
    core = os.path.join(SRC, "core")
    own = set()
    for d in (core, os.path.join(SRC, "sdk", "include")):
        for root, _, files in os.walk(d):
            own.update(files)
    plugin_files = set()
    for root, _, files in os.walk(os.path.join(SRC, "plugins")):
        plugin_files.update(files)
    n = 0
    for root, _, files in os.walk(core):
        for f in files:
            if not f.endswith((".c", ".h")):
                continue
            path = os.path.join(root, f)
            for i, line in enumerate(open(path, encoding="utf-8", errors="replace"), 1):
                m = re.match(r'\s*#\s*include\s*[<"]([^>"]+)[>"]', line)
                if not m:
                    continue
                n += 1
                inc = m.group(1)
                base = os.path.basename(inc)
                rel = os.path.relpath(path, SRC)
                if "plugins/" in inc:
                    fail(f"{rel}:{i} includes {inc}, a path under plugins/")
                elif base in plugin_files and base not in own:
                    fail(f"{rel}:{i} includes {inc}, a file of plugins/ (the plugin ABI is "
                         f"sdk/include/mflow/plugin.h)")
    print(f"ok: {n} includes under core/ checked")


def check_meson():
    path = os.path.join(SRC, "core", "meson.build")
    for i, line in enumerate(open(path), 1):
        code = line.split("#", 1)[0]
        for s in re.findall(r"'([^']*)'", code):
            if re.search(r"(^|/)plugins(/|$)", s):
                fail(f"core/meson.build:{i} names {s!r}, a path under plugins/")
    print("ok: core/meson.build checked")


def check_cycles():
    objs = glob.glob(os.path.join(BUILD, "core", "*.p", "*.o"))
    if not shutil.which("nm") or not objs:
        print("skip: no built objects of core/ or no nm; the call graph is not checked")
        return
    defs, uses = {}, collections.defaultdict(set)
    for o in objs:
        # meson names them <target>.p/<dir>_<file>.c.o; the same source in two targets is one node
        name = re.sub(r"\.o$", "", os.path.basename(o))
        out = subprocess.run(["nm", o], capture_output=True, text=True).stdout
        for line in out.splitlines():
            p = line.split()
            if len(p) == 3 and p[1] in "TDBRCVW":
                defs[p[2]] = name
            elif len(p) == 2 and p[0] == "U":
                uses[name].add(p[1])
    graph = {a: {defs[s] for s in ss if s in defs and defs[s] != a} for a, ss in uses.items()}
    # Tarjan's strongly connected components: any with two files or more is a circle.
    index, low, stack, on, comps, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    for comp in comps:
        edges = []
        for a in comp:
            for b in sorted(graph[a] & set(comp)):
                syms = sorted(s for s in uses[a] if defs.get(s) == b)
                edges.append(f"{a} -> {b} ({', '.join(syms[:3])})")
        fail("files of core/ call each other in a circle: " + "; ".join(edges))
    print(f"ok: call graph of {len(objs)} objects checked")


check_includes()
check_meson()
check_cycles()
if FAILS:
    print(f"{len(FAILS)} problem(s)")
    sys.exit(1)
print("ok: the core knows no plugin and has no circle")
