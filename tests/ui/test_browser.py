"""ui_browser: the page in a real browser (tests/ui/browser.js: Debian's headless Chromium
driven by playwright-core from npm, installed on first use by scripts/setup-ui-deps.sh).
Skipped (77) without node, npm or chromium. Screenshots: <build>/meson-logs/ui-browser-*.png"""
import os
import shutil
import subprocess
import sys

from uilib import EXAMPLES, FLOWS, SRC, check_eq, finish, run_flow, start

chromium = os.environ.get("MFLOW_CHROMIUM", "/usr/bin/chromium")
missing = [n for n in ("node", "npm") if not shutil.which(n)]
if not os.access(chromium, os.X_OK):
    missing.append(chromium)
if missing:
    print("skipped: the browser test needs %s (apt-get install nodejs npm chromium)" % ", ".join(missing))
    sys.exit(77)
deps = os.environ.get("MFLOW_UI_DEPS_DIR") or os.path.join(SRC, "build", "ui-deps")
p = subprocess.run(["bash", os.path.join(SRC, "scripts", "setup-ui-deps.sh"), deps],
                   capture_output=True, text=True)
if p.returncode != 0:
    print("skipped: playwright-core could not be installed: " + p.stderr.strip())
    sys.exit(77)
node_path = p.stdout.strip().splitlines()[-1]
shots = os.environ.get("MFLOW_UI_SHOT_DIR") or os.environ["MFLOW_HOME"]
os.makedirs(shots, exist_ok=True)

run_flow(os.path.join(EXAMPLES, "foreach.c"), "--n=4", "--tag", "nightly")
run_flow(os.path.join(FLOWS, "uitest.c"))
token = "browser-token-42"
srv, host, port = start("--token", token)
env = dict(os.environ, NODE_PATH=node_path)
b = subprocess.run(["node", os.path.join(SRC, "tests", "ui", "browser.js"),
                    "http://%s:%d/" % (host, port), token, shots], env=env, timeout=240)
check_eq("the browser script passes (see its lines above)", 0, b.returncode)
for shot in ("ui-browser-run.png", "ui-browser-live-running.png", "ui-browser-live-ended.png"):
    f = os.path.join(shots, shot)
    check_eq("a screenshot kept: " + shot, True, os.path.exists(f) and os.path.getsize(f) > 1000)
finish()
