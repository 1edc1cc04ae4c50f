#!/usr/bin/env python3
"""abi suite: put some of the ABI test plugins in a fresh directory, run `mflow plugins` with
MFLOW_PLUGIN_PATH pointing at it, and check each file's verdict and message.

usage: check_plugins.py CASE   (the cases are the keys of REFUSALS, plus good, duplicate,
                                all, depth and text)
Environment (set by tests/abi/meson.build): MFLOW_BIN, MFLOW_ABI_PLUGINS (where the test
plugins were built), MFLOW_TEST_BUILD_ROOT, MFLOW_VERSION.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

GOOD = "mflow_compute_abigood.so"
VERSION = re.escape(os.environ.get("MFLOW_VERSION", "0.1.0"))
REBUILD = rf"rebuild it against mflow {VERSION}'s SDK"


def host_abi():
    """The ABI this mflow speaks, "1.N", from sdk/include/mflow/plugin.h (the test plugins
    themselves claim 1.0: they stand for plugins built against the first minor)."""
    src = os.environ.get("MFLOW_ABI_SOURCE", os.path.dirname(os.path.abspath(__file__)))
    header = os.path.join(src, "..", "..", "sdk", "include", "mflow", "plugin.h")
    with open(header) as f:
        text = f.read()
    major = re.search(r"#define MF_PLUGIN_ABI_MAJOR (\d+)", text).group(1)
    minor = re.search(r"#define MF_PLUGIN_ABI_MINOR (\d+)", text).group(1)
    return f"{major}.{minor}"


SPEAKS = re.escape(host_abi())

# file -> (patterns its error must match, JSON fields it must show)
REFUSALS = {
    "wrong_major": ("mflow_compute_major2.so",
                    [rf"built for plugin ABI 2\.0, this mflow speaks {SPEAKS}", REBUILD],
                    {"abi_major": 2, "abi_minor": 0, "kind": "compute", "name": "major2"}),
    "entry_v2": ("mflow_compute_entryv2.so",
                 [r"exports mf_plugin_entry_v2 instead of mf_plugin_entry_v1",
                  rf"built for plugin ABI 2, this mflow speaks {SPEAKS}", REBUILD],
                 {"abi_major": 2}),
    "short_desc": ("mflow_compute_shortdesc.so",
                   [r"its descriptor is (\d+) bytes, smaller than the (\d+) bytes of plugin "
                    rf"ABI 1\.0 \(it claims ABI 1\.0, this mflow speaks {SPEAKS}\)", REBUILD],
                   {"abi_major": 1, "abi_minor": 0}),
    "short_ops": ("mflow_compute_shortops.so",
                  [r"compute plugin 'shortops': its operations table is (\d+) bytes, smaller "
                   r"than the (\d+) bytes of plugin ABI 1\.0", REBUILD],
                  {"name": "shortops", "kind": "compute", "version": "1.2.3"}),
    "no_entry": ("mflow_compute_noentry.so",
                 [r"has no entry symbol mf_plugin_entry_v1",
                  r"another ABI major would export mf_plugin_entry_vN", r"MF_PLUGIN_EXPORT"],
                 {"abi_major": None}),
    "entry_null": ("mflow_compute_entrynull.so",
                   [r"mf_plugin_entry_v1 returned no descriptor"], {}),
    "bad_kind": ("mflow_compute_badkind.so",
                 [r"plugin kind 7 is unknown to this mflow"], {}),
    "bad_name": ("mflow_compute_badname.so",
                 [r"plugin name 'Bad-Name' is not valid: use only lower-case letters, digits "
                  r"and '_'"], {}),
    "no_ops": ("mflow_compute_noops.so",
               [r"compute plugin 'noops' has no operations table"], {}),
    "no_init": ("mflow_compute_noinit.so",
                [r"compute plugin 'noinit' has no init function"], {}),
    # A required operation left NULL: refused at load time, naming the file and the
    # operation (the core would call it without looking).
    **{f"null_{op}": (f"mflow_{kind}_null{op.replace('_', '')}.so",
                      [rf"{kind} plugin 'null{op.replace('_', '')}' leaves the required "
                       rf"operation '{op}' NULL"],
                      {"kind": kind, "name": f"null{op.replace('_', '')}"})
       for kind, op in [("compute", "submit"), ("compute", "poll"), ("compute", "wait"),
                        ("compute", "release"), ("compute", "last_error"),
                        ("storage", "put"), ("storage", "put_file"), ("storage", "get"),
                        ("storage", "list"), ("storage", "del"),
                        ("scheduler", "trigger"), ("scheduler", "deploy")]},
    "not_elf": ("mflow_compute_text.so",
                [r"is not a loadable shared object: .*(invalid ELF header|file too short)"],
                {"abi_major": None, "kind": "compute", "name": "text", "version": ""}),
}


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def skip(msg):
    print("SKIP: " + msg)
    sys.exit(77)


def place(dest, name):
    """Copy a built test plugin (or write the text file) into dest; return its path."""
    os.makedirs(dest, exist_ok=True)
    path = os.path.join(dest, name)
    if name == "mflow_compute_text.so":
        with open(path, "w") as f:
            f.write("This is a text file that happens to be named like a plugin.\n" * 4)
    else:
        src = os.path.join(os.environ["MFLOW_ABI_PLUGINS"], name)
        if not os.path.exists(src):
            fail(f"test plugin {src} was not built")
        shutil.copy(src, path)
    return os.path.realpath(path)


def run_plugins(plugin_path, home, *args):
    env = dict(os.environ, MFLOW_PLUGIN_PATH=plugin_path, MFLOW_HOME=home)
    return subprocess.run([os.environ["MFLOW_BIN"], "plugins", *args], env=env,
                          capture_output=True, text=True, timeout=60)


def report(plugin_path, home):
    p = run_plugins(plugin_path, home, "--json")
    if p.returncode != 0:
        fail(f"mflow plugins --json exited {p.returncode} (a report exits 0):\n{p.stderr}")
    try:
        entries = json.loads(p.stdout)
    except ValueError as e:
        fail(f"mflow plugins --json printed no JSON ({e}):\n{p.stdout}")
    if not isinstance(entries, list):
        fail("mflow plugins --json must print an array")
    keys = {"path", "name", "kind", "version", "abi_major", "abi_minor", "loaded", "error",
            "description"}
    for e in entries:
        missing = keys - set(e)
        if missing:
            fail(f"entry {e} lacks {sorted(missing)}")
    return {e["path"]: e for e in entries}


def under(entries, d):
    return {p: e for p, e in entries.items() if p.startswith(d + os.sep)}


def expect_loaded(e, kind, name):
    if not e["loaded"] or e["error"] is not None:
        fail(f"{e['path']} should load, got error: {e['error']}")
    want = {"kind": kind, "name": name, "version": "1.2.3", "abi_major": 1, "abi_minor": 0,
            "description": "mflow ABI test plugin"}
    for k, v in want.items():
        if e[k] != v:
            fail(f"{e['path']}: {k} is {e[k]!r}, expected {v!r}")
    want_opts = [{"name": "greeting", "type": "string", "env": "MFLOW_ABITEST_GREETING",
                  "default": "hello", "help": "what init says"}]
    if e.get("options") != want_opts:
        fail(f"{e['path']}: options are {e.get('options')!r}, expected {want_opts!r}")


def expect_refused(e, patterns, fields):
    if e["loaded"]:
        fail(f"{e['path']} should be refused but loaded")
    err = e["error"] or ""
    if not err.startswith(e["path"]):
        fail(f"the message must start with the file's path {e['path']}: {err!r}")
    for pat in patterns:
        if not re.search(pat, err):
            fail(f"{e['path']}: message {err!r} does not match {pat!r}")
    for k, v in fields.items():
        if e[k] != v:
            fail(f"{e['path']}: {k} is {e[k]!r}, expected {v!r}")
    if err.count("\n"):
        fail(f"a refusal is a single line: {err!r}")
    return err


def check_sizes(case, err):
    """The sizes quoted must be the plugin's smaller one, then the 1.0 one."""
    m = re.search(r"is (\d+) bytes, smaller than the (\d+) bytes", err)
    if case in ("short_desc", "short_ops") and (not m or int(m.group(1)) >= int(m.group(2))):
        fail(f"sizes in {err!r} are not smaller-than")


def case_refusal(case, tmp, home):
    name, patterns, fields = REFUSALS[case]
    d = os.path.join(tmp, "plugins")
    bad = place(d, name)
    good = place(d, GOOD)
    entries = under(report(d, home), d)
    if set(entries) != {bad, good}:
        fail(f"expected exactly {bad} and {good} in the report, got {sorted(entries)}")
    # A refused plugin never stops the others from loading.
    expect_loaded(entries[good], "compute", "abigood")
    err = expect_refused(entries[bad], patterns, fields)
    check_sizes(case, err)
    print(f"ok: {err}")


def case_good(tmp, home):
    d = os.path.join(tmp, "plugins")
    a = place(d, GOOD)
    b = place(d, "mflow_storage_abigood.so")
    entries = report(d, home)
    mine = under(entries, d)
    if set(mine) != {a, b}:
        fail(f"expected {a} and {b}, got {sorted(mine)}")
    # Same name, different kind: both load. Both are 1.0 plugins (minor 0, 1.0-sized tables:
    # the storage one without the 1.1 streaming writer) under this newer host.
    expect_loaded(mine[a], "compute", "abigood")
    expect_loaded(mine[b], "storage", "abigood")
    # The project's own plugins are found in the build tree and load like any other.
    builtin = os.path.join(os.path.realpath(os.environ["MFLOW_TEST_BUILD_ROOT"]), "plugins")
    for root, dirs, files in os.walk(builtin):
        dirs[:] = [x for x in dirs if not x.endswith(".p")]
        for f in files:
            if f.endswith(".so"):
                p = os.path.join(root, f)
                if p not in entries:
                    fail(f"built-in plugin {p} is missing from the report")
                if not entries[p]["loaded"]:
                    fail(f"built-in plugin {p} is refused: {entries[p]['error']}")
                print(f"ok: built-in {entries[p]['kind']} {entries[p]['name']} loads")
    print("ok: both good plugins load")


def case_null_optional(tmp, home):
    """An optional operation left NULL (compute logs and check, storage get_file and the
    batch forms) is fine: the host does without it."""
    d = os.path.join(tmp, "plugins")
    paths = {n: place(d, f"mflow_{k}_{n}.so")
             for k, n in [("compute", "nulllogs"), ("compute", "nullcheck"),
                          ("storage", "nullgetfile"), ("storage", "nullputbatch")]}
    entries = under(report(d, home), d)
    for n, p in paths.items():
        e = entries.get(p)
        if not e or not e["loaded"] or e["error"] is not None:
            fail(f"{p} leaves only an optional operation NULL and should load: "
                 f"{e and e['error']}")
        print(f"ok: {n} loads")


def case_duplicate(tmp, home):
    d = os.path.join(tmp, "plugins")
    first = place(d, "mflow_storage_abidup.so")
    second = place(d, "mflow_storage_abidup2.so")
    place(d, GOOD)
    entries = under(report(d, home), d)
    if not entries[first]["loaded"]:
        fail(f"the first of two duplicates should load: {entries[first]['error']}")
    err = expect_refused(entries[second],
                         [rf"a storage plugin named 'abidup' is already loaded from "
                          rf"{re.escape(first)}; this one is refused"],
                         {"name": "abidup", "kind": "storage"})
    print(f"ok: {err}")


def case_all(tmp, home):
    """Every file in one directory: each refused with its own message, the good ones load."""
    d = os.path.join(tmp, "plugins")
    bad = {case: place(d, spec[0]) for case, spec in REFUSALS.items()}
    good = [place(d, GOOD), place(d, "mflow_storage_abigood.so")]
    dups = [place(d, "mflow_storage_abidup.so"), place(d, "mflow_storage_abidup2.so")]
    entries = under(report(d, home), d)
    if len(entries) != len(bad) + len(good) + len(dups):
        fail(f"expected {len(bad) + len(good) + len(dups)} files, got {len(entries)}")
    for p in good + dups[:1]:
        if not entries[p]["loaded"]:
            fail(f"{p} should load: {entries[p]['error']}")
    messages = set()
    for case, path in bad.items():
        _, patterns, fields = REFUSALS[case]
        messages.add(expect_refused(entries[path], patterns, fields))
    expect_refused(entries[dups[1]], [r"already loaded from"], {})
    if len(messages) != len(bad):
        fail("each refusal must have its own message")
    print(f"ok: {len(bad) + 1} refused, {len(good) + 1} loaded")


def case_depth(tmp, home):
    """Subdirectories are searched 3 levels deep, no deeper; a missing directory is skipped."""
    d = os.path.join(tmp, "plugins")
    deep3 = place(os.path.join(d, "a", "b", "c"), GOOD)
    deep4 = place(os.path.join(d, "a", "b", "c", "d"), "mflow_storage_abigood.so")
    missing = os.path.join(tmp, "no-such-dir")
    entries = under(report(missing + ":" + d, home), d)
    if deep3 not in entries or not entries[deep3]["loaded"]:
        fail(f"{deep3} (3 levels down) should be found and load")
    if deep4 in entries:
        fail(f"{deep4} is 4 levels down and should not be searched")
    p = run_plugins(missing + ":" + d, home)
    if p.returncode != 0 or f"{missing} (missing)" not in p.stdout:
        fail(f"the text report should name {missing} as missing:\n{p.stdout}{p.stderr}")
    print("ok: depth 3 searched, depth 4 not, missing directory reported")


def case_text(tmp, home):
    d = os.path.join(tmp, "plugins")
    good = place(d, GOOD)
    bad = place(d, "mflow_compute_major2.so")
    p = run_plugins(d, home)
    if p.returncode != 0:
        fail(f"mflow plugins exited {p.returncode} (a report exits 0 even with refusals):\n"
             f"{p.stderr}")
    lines = p.stdout.splitlines()
    if not lines or not re.match(r"KIND\s+NAME\s+VERSION\s+ABI\s+STATUS\s+PATH$", lines[0]):
        fail(f"no table header:\n{p.stdout}")
    if not any(re.match(rf"compute\s+abigood\s+1\.2\.3\s+1\.0\s+ok\s+{re.escape(good)}$", l)
               for l in lines):
        fail(f"no 'ok' row for {good}:\n{p.stdout}")
    if not any(re.match(rf"compute\s+major2\s+-\s+2\.0\s+refused\s+{re.escape(bad)}$", l)
               for l in lines):
        fail(f"no 'refused' row for {bad}:\n{p.stdout}")
    refused = p.stdout.split("\nrefused:\n", 1)
    if len(refused) != 2 or not re.search(
            rf"{re.escape(bad)}: built for plugin ABI 2\.0, this mflow speaks {SPEAKS}",
            refused[1]):
        fail(f"the refusal message is not printed below the table:\n{p.stdout}")
    if "greeting (string, env MFLOW_ABITEST_GREETING, default hello): what init says" \
            not in p.stdout:
        fail(f"the options of the loaded plugin are not shown:\n{p.stdout}")
    if d not in p.stdout.split("\nsearched:", 1)[-1]:
        fail(f"the searched directories are not shown:\n{p.stdout}")
    h = run_plugins(d, home, "--help")
    if h.returncode != 0 or "usage: mflow plugins [--json]" not in h.stdout + h.stderr:
        fail(f"mflow plugins --help: exit {h.returncode}\n{h.stdout}{h.stderr}")
    u = run_plugins(d, home, "--bogus")
    if u.returncode != 2 or "--bogus" not in u.stderr:
        fail(f"mflow plugins --bogus should exit 2 naming the argument: exit {u.returncode} "
             f"{u.stderr!r}")
    print("ok: table, refusals, options, directories, --help, usage error")


def main():
    if len(sys.argv) != 2:
        fail("usage: check_plugins.py CASE")
    case = sys.argv[1]
    mflow = os.environ.get("MFLOW_BIN", "")
    if not os.access(mflow, os.X_OK):
        skip(f"the mflow command is not built (MFLOW_BIN={mflow!r})")
    if not os.environ.get("MFLOW_ABI_PLUGINS"):
        skip("MFLOW_ABI_PLUGINS is not set; run this through `meson test --suite abi`")
    with tempfile.TemporaryDirectory(prefix="mflow-abi-") as tmp:
        tmp = os.path.realpath(tmp)
        home = os.path.join(tmp, "home")
        os.makedirs(home)
        if case in REFUSALS:
            case_refusal(case, tmp, home)
        elif case in ("good", "duplicate", "all", "depth", "text", "null_optional"):
            globals()["case_" + case](tmp, home)
        else:
            fail(f"unknown case {case!r}")


if __name__ == "__main__":
    main()
