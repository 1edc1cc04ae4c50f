"""ui_token: loopback by default; any other address only with an access token (--token or
MFLOW_UI_TOKEN), checked on every request as a Bearer header, a ?token= query (kept in a
cookie) or that cookie."""
import os
import subprocess

from uilib import EXAMPLES, MFLOW, Client, check, check_eq, finish, run_flow, start, stop

run_flow(os.path.join(EXAMPLES, "hello.c"))
TOKEN = "s3cret-token-0123"


def refused(what, args, env_token=None, needle=""):
    env = dict(os.environ)
    if env_token is not None:
        env["MFLOW_UI_TOKEN"] = env_token
    try:
        p = subprocess.run([MFLOW, "ui", "--port", "0"] + args, capture_output=True, timeout=10, env=env)
    except subprocess.TimeoutExpired:
        check(what + ": refused at once", False, "(it started serving)")
        return
    err = p.stderr.decode()
    check_eq(what + ": exit 2", 2, p.returncode)
    check(what + ": says why", needle in err, err)
    check(what + ": serves nothing", b"serving" not in p.stdout, p.stdout)


refused("0.0.0.0 without a token", ["--host", "0.0.0.0"], needle="not a loopback address")
refused("0.0.0.0 without a token names the way out", ["--host", "0.0.0.0"], needle="--token T or MFLOW_UI_TOKEN")
refused("an empty MFLOW_UI_TOKEN is none", ["--host", "0.0.0.0"], env_token="", needle="not a loopback")
refused("a token too short", ["--host", "0.0.0.0", "--token", "short"], needle="at least 8 characters")
refused("a token with a space", ["--token", "has a space in it"], needle="no space")

# the loopback default needs nothing
p, host, port = start()
check_eq("loopback without a token: open", 200, Client(host, port).json("/api/runs")[0])
check_eq("loopback: listens on 127.0.0.1", "127.0.0.1", host)
lc = Client(host, port)
for h in ["localhost:%d" % port, "LOCALHOST", "127.0.0.1:%d" % port, "127.1.2.3", "[::1]:%d" % port]:
    check_eq("loopback: Host %s answered" % h, 200, lc.request("/api/flows", headers={"Host": h})[0])
for h in ["evil.example", "evil.example:%d" % port, "localhost.evil.example", "127.0.0.1.evil.example",
          "[::2]:%d" % port, "10.0.0.1"]:
    st, hd, body = lc.request("/api/flows", headers={"Host": h})
    check_eq("loopback: Host %s refused (DNS rebinding)" % h, 403, st)
    check(("loopback: Host %s: says why" % h), b"loopback address" in body, body)
stop(p)


def guarded(what, p, port):
    anon = Client("127.0.0.1", port)
    st, hd, body = anon.request("/api/runs")
    check_eq(what + ": no token, 401", 401, st)
    check(what + ": says how to give one", b"Authorization: Bearer" in body, body)
    check(what + ": the token is in no answer", TOKEN.encode() not in body)
    check_eq(what + ": WWW-Authenticate", 'Bearer realm="mflow ui"', hd.get("www-authenticate"))
    check_eq(what + ": the page needs it too", 401, anon.request("/")[0])
    check_eq(what + ": a wrong bearer, 401", 401,
             anon.request("/api/runs", headers={"Authorization": "Bearer " + TOKEN + "x"})[0])
    check_eq(what + ": a prefix of it, 401", 401,
             anon.request("/api/runs", headers={"Authorization": "Bearer " + TOKEN[:-1]})[0])
    check_eq(what + ": its last character changed, 401", 401,
             anon.request("/api/runs", headers={"Authorization": "Bearer " + TOKEN[:-1] + "X"})[0])
    check_eq(what + ": its first character changed, 401", 401,
             anon.request("/api/runs", headers={"Authorization": "Bearer X" + TOKEN[1:]})[0])
    check_eq(what + ": the bearer token, 200", 200,
             anon.request("/api/runs", headers={"Authorization": "Bearer " + TOKEN})[0])
    check_eq(what + ": lower-case bearer, 200", 200,
             anon.request("/api/flows", headers={"Authorization": "bearer " + TOKEN})[0])
    st, hd, body = anon.request("/?token=" + TOKEN)
    check_eq(what + ": ?token= opens the page", 200, st)
    cookie = hd.get("set-cookie", "")
    check(what + ": and keeps the token in a cookie", cookie.startswith("mflow_ui_token=" + TOKEN + ";"), cookie)
    check(what + ": an HttpOnly, SameSite cookie", "HttpOnly" in cookie and "SameSite=Strict" in cookie, cookie)
    check_eq(what + ": ?token=wrong, 401", 401, anon.request("/?token=nope-nope-nope")[0])
    check_eq(what + ": the cookie, 200", 200,
             anon.request("/api/flows", headers={"Cookie": "mflow_ui_token=" + TOKEN})[0])
    check_eq(what + ": a wrong cookie, 401", 401,
             anon.request("/api/flows", headers={"Cookie": "mflow_ui_token=" + TOKEN[::-1]})[0])


env = dict(os.environ)
env["MFLOW_UI_TOKEN"] = TOKEN
p, host, port = start("--host", "0.0.0.0", env=env)
check_eq("0.0.0.0 with MFLOW_UI_TOKEN: listens there", "0.0.0.0", host)
guarded("MFLOW_UI_TOKEN", p, port)
stop(p)

p, host, port = start("--host", "0.0.0.0", "--token", TOKEN)
guarded("--token", p, port)
check_eq("stops on SIGTERM with 0", 0, stop(p))

p, host, port = start("--token", TOKEN)
guarded("loopback with a token given", p, port)
stop(p)
finish()
