"""`python3 flow.py run|resume|show|check ARGS`: the same as `mflow run|... flow.py ARGS`, by
exec'ing that mflow (so options, output and exit codes are the same). Options before the
command are mflow's global options: `python3 flow.py --compute=k8s run`."""
import inspect
import os
import shutil
import sys

COMMANDS = ("run", "resume", "show", "check", "serve")
# mflow's global options that take a value (--home DIR as well as --home=DIR)
GLOBAL_WITH_VALUE = ("--compute", "--storage", "--datastore-root", "--home", "--namespace")


def mflow_bin():
    """MFLOW_BIN, else the mflow this SDK was installed with, else mflow on PATH."""
    b = os.environ.get("MFLOW_BIN")
    if b:
        return b
    try:
        from . import _config
        b = getattr(_config, "MFLOW", None)
        if b and os.access(b, os.X_OK):
            return b
    except ImportError:
        pass
    return shutil.which("mflow")


def usage(cls, path, out):
    out.write("usage: python3 %s [MFLOW-OPTIONS] run|resume|show|check|serve [ARGS]\n"
              "  run [--PARAM=VALUE...] [--max-workers N] [--tag T...]  run the flow\n"
              "  resume [STEP] [--origin-run-id R]                       resume a failed run\n"
              "  show [--dot] | check                                    the graph\n"
              "  serve [--port P] [--namespace NS] [--host H]            answer its endpoints\n"
              "the same as `mflow COMMAND %s ARGS`\n" % (os.path.basename(path), path))
    from .parameter import Parameter
    params = [v for k, v in inspect.getmembers(cls) if isinstance(v, Parameter)]
    if params:
        out.write("parameters of %s:\n" % cls.__name__)
        for p in params:
            d = "required" if p.required else "default %s" % p.default_text()
            out.write("  --%s=%s  %s (%s)\n" % (p.name, p.type_name.upper(), p.help or "", d))


def main(cls):
    path = os.path.abspath(inspect.getfile(cls))
    args = sys.argv[1:]
    glob = []
    while args and args[0].startswith("-") and args[0] not in ("--help", "-h"):
        opt = args.pop(0)
        glob.append(opt)
        if opt in GLOBAL_WITH_VALUE and args:
            glob.append(args.pop(0))
    if not args or args[0] in ("--help", "-h", "help"):
        usage(cls, path, sys.stdout if args else sys.stderr)
        sys.exit(0 if args else 2)
    cmd, rest = args[0], args[1:]
    if cmd not in COMMANDS:
        sys.stderr.write("mflow: unknown command '%s' for a flow (run, resume, show, check, "
                         "serve)\n" % cmd)
        sys.exit(2)
    exe = mflow_bin()
    if not exe:
        sys.stderr.write("mflow: cannot find the mflow command: install mflow or set "
                         "MFLOW_BIN\n")
        sys.exit(127)
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execv(exe, [exe] + glob + [cmd, path] + rest)
    except OSError as e:
        sys.stderr.write("mflow: cannot run %s: %s (install mflow or set MFLOW_BIN)\n"
                         % (exe, e.strerror))
        sys.exit(127)
