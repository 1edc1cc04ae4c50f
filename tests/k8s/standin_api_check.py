#!/usr/bin/env python3
"""Checks the Kubernetes API stand-in (tests/k8s/standin) against the behaviour the official API
reference documents, over HTTPS with the test CA: authentication, fieldValidation, validation
(422), conflicts, selectors, paging, watch, logs, deletion, the Job -> Pod lifecycle and every
injected fault. Usage: standin_api_check.py DIR [nodes] (a running stand-in, from up.sh DIR; "nodes": the
checks for a stand-in started with STANDIN_NODES=2 STANDIN_GPUS=1).
Prints one line per check; exits 1 when any check failed."""
import base64
import http.client
import json
import os
import socket
import ssl
import subprocess
import sys
import time

D = sys.argv[1]
URL = open(f"{D}/url").read().strip()
HOST, PORT = URL[len("https://"):].split(":")
PORT = int(PORT)
TOKEN = open(f"{D}/token").read().strip()
ADMIN = open(f"{D}/admin-token").read().strip()
FAILS = []


def ctx(cert=False):
    c = ssl.create_default_context(cafile=f"{D}/ca.crt")
    if cert:
        c.load_cert_chain(f"{D}/client.crt", f"{D}/client.key")
    return c


class Client:
    """One keep-alive connection; JSON in and out."""

    def __init__(self, token=TOKEN, cert=False):
        self.token, self.cert = token, cert
        self.conn = http.client.HTTPSConnection(HOST, PORT, context=ctx(cert), timeout=30)

    def req(self, method, path, body=None, headers=None, raw=False):
        h = dict(headers or {})
        if self.token:
            h["Authorization"] = f"Bearer {self.token}"
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
        if body is not None:
            h.setdefault("Content-Type", "application/json")
        self.conn.request(method, path, body=body, headers=h)
        r = self.conn.getresponse()
        data = r.read()
        if raw:
            return r.status, r, data.decode()
        try:
            out = json.loads(data) if data else None
        except ValueError:
            out = data.decode()
        return r.status, r, out


API = Client()
ADM = Client(ADMIN)


def check(cond, what, detail=""):
    if cond:
        print(f"ok   {what}")
    else:
        print(f"FAIL {what} {detail}")
        FAILS.append(what)
    return cond


def wait(fn, timeout=20, every=0.1):
    end = time.time() + timeout
    while time.time() < end:
        v = fn()
        if v:
            return v
        time.sleep(every)
    return None


JOBS = "/apis/batch/v1/namespaces/default/jobs"
PODS = "/api/v1/namespaces/default/pods"


def job(name, cmd, labels=None, image="busybox:1.36", spec=None, container=None, restart="Never"):
    c = {"name": "main", "image": image, "command": ["sh", "-c", cmd]}
    c.update(container or {})
    j = {"apiVersion": "batch/v1", "kind": "Job",
         "metadata": {"name": name, "labels": labels or {}},
         "spec": {"backoffLimit": 0, "template": {"metadata": {"labels": labels or {}},
                                                   "spec": {"restartPolicy": restart, "containers": [c]}}}}
    j["spec"].update(spec or {})
    return j


def create(j, query="?fieldValidation=Strict"):
    s, r, o = API.req("POST", JOBS + query, j)
    if s != 201:
        print(f"     create {j['metadata'].get('name')}: {s} {o}")
    return s, r, o


def get_job(name):
    s, _, o = API.req("GET", f"{JOBS}/{name}")
    return o if s == 200 else None


def pods_of(name):
    s, _, o = API.req("GET", f"{PODS}?labelSelector=batch.kubernetes.io/job-name={name}")
    return o["items"] if s == 200 else []


def conds(obj):
    return [(c["type"], c.get("reason")) for c in (obj.get("status", {}).get("conditions") or [])]


def job_done(name):
    j = get_job(name)
    return j if j and any(t in ("Complete", "Failed") for t, _ in conds(j)) else None


def events_for(name):
    s, _, o = API.req("GET", f"/api/v1/namespaces/default/events?fieldSelector=involvedObject.name={name}")
    return [(e["reason"], e["message"]) for e in o["items"]] if s == 200 else []


def set_faults(f):
    s, _, o = ADM.req("POST", "/standin/v1/faults", f)
    assert s == 200, (s, o)


def live_pgids():
    return set(os.listdir(f"{D}/procs"))


# ---------------------------------------------------------------- authentication
def t_auth():
    anon = Client(token=None)
    s, _, o = anon.req("GET", "/version")
    check(s == 200 and o["major"] == "1" and o["minor"] == "32", "anonymous /version answers (system:public-info-viewer)")
    s, _, o = anon.req("GET", "/readyz", raw=True)
    check(s == 200 and o == "ok", "anonymous /readyz answers ok")
    s, _, o = anon.req("GET", PODS)
    check(s == 403 and o["reason"] == "Forbidden" and 'User "system:anonymous" cannot list resource "pods"' in o["message"],
          "no credential: 403 for system:anonymous", o)
    s, _, o = Client(token="not-a-token").req("GET", PODS)
    check(s == 401 and o == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                             "message": "Unauthorized", "reason": "Unauthorized", "code": 401}, "wrong token: 401 Status Unauthorized", o)
    s, _, o = Client(token=None, cert=True).req("GET", PODS)
    check(s == 200 and o["kind"] == "PodList", "client certificate signed by the test CA is accepted", s)
    out = subprocess.run([f"{D}/exec-cred.sh"], capture_output=True, text=True, check=True).stdout
    cred = json.loads(out)
    check(cred["kind"] == "ExecCredential" and cred["apiVersion"] == "client.authentication.k8s.io/v1"
          and cred["status"]["expirationTimestamp"].endswith("Z"), "exec plugin answers a v1 ExecCredential with an expiry")
    s, _, o = Client(token=cred["status"]["token"]).req("GET", PODS)
    check(s == 200, "the exec plugin's token is accepted", s)
    with open(f"{D}/exec-tokens", "a") as f:
        f.write(f"exec-expired-token {int(time.time()) - 5}\n")
    s, _, o = Client(token="exec-expired-token").req("GET", PODS)
    check(s == 401 and o["message"] == "Unauthorized", "an expired exec token is refused (401)", s)
    s, _, o = API.req("POST", "/standin/v1/faults", {})
    check(s == 403, "the faults endpoint refuses a non-admin token", s)
    # keep-alive: the same socket serves many requests
    API.req("GET", "/version")
    sock = API.conn.sock
    for _ in range(20):
        API.req("GET", PODS)
    check(API.conn.sock is sock and sock is not None, "HTTP/1.1 keep-alive: 20 requests on one connection")


# ---------------------------------------------------------------- fieldValidation, validation, conflicts
def t_validation():
    base = job("val-ok", "true")
    for path, setter in [
        ("spec.foo", lambda j: j["spec"].__setitem__("foo", 1)),
        ("spec.template.spec.foo", lambda j: j["spec"]["template"]["spec"].__setitem__("foo", True)),
        ("spec.template.spec.containers[0].foo", lambda j: j["spec"]["template"]["spec"]["containers"][0].__setitem__("foo", "x")),
        ("metadata.foo", lambda j: j["metadata"].__setitem__("foo", "x")),
        ("spec.template.spec.containers[0].resources.foo", lambda j: j["spec"]["template"]["spec"]["containers"][0].__setitem__("resources", {"foo": {}})),
    ]:
        j = json.loads(json.dumps(base))
        j["metadata"]["name"] = "val-unknown"
        setter(j)
        s, _, o = API.req("POST", JOBS + "?fieldValidation=Strict", j)
        check(s == 400 and o["reason"] == "BadRequest" and o["kind"] == "Status" and o["status"] == "Failure"
              and o["message"] == f'Job in version "v1" cannot be handled as a Job: strict decoding error: unknown field "{path}"',
              f"Strict refuses unknown field {path}", o)
    j = json.loads(json.dumps(base))
    j["metadata"]["name"] = "val-two"
    j["spec"]["bogus1"] = 1
    j["spec"]["template"]["spec"]["bogus2"] = 2
    s, _, o = API.req("POST", JOBS + "?fieldValidation=Strict", j)
    check(s == 400 and 'unknown field "spec.bogus1"' in o["message"] and 'unknown field "spec.template.spec.bogus2"' in o["message"],
          "Strict names every unknown field", o)
    text = json.dumps(base).replace('"backoffLimit": 0', '"backoffLimit": 0, "backoffLimit": 1').replace('"val-ok"', '"val-dup"')
    s, _, o = API.req("POST", JOBS + "?fieldValidation=Strict", text)
    check(s == 400 and 'duplicate field "spec.backoffLimit"' in o["message"], "Strict refuses a duplicate field", o)
    # Warn (the default): created, the field dropped, a Warning header per field
    j = json.loads(json.dumps(base))
    j["metadata"]["name"] = "val-warn"
    j["spec"]["template"]["spec"]["hostNetwerk"] = True
    s, r, o = API.req("POST", JOBS, j)
    w = r.getheader("Warning") or ""
    check(s == 201 and 'unknown field \\"spec.template.spec.hostNetwerk\\"' in w and "hostNetwerk" not in json.dumps(o),
          "Warn (default): created, Warning header, field dropped", (s, w))
    j["metadata"]["name"] = "val-ignore"
    s, r, o = API.req("POST", JOBS + "?fieldValidation=Ignore", j)
    check(s == 201 and not r.getheader("Warning") and "hostNetwerk" not in json.dumps(o), "Ignore: created silently, field dropped", s)
    s, _, o = API.req("POST", JOBS + "?fieldValidation=Loud", base)
    check(s == 400 and "fieldValidation" in o["message"], "an unknown fieldValidation value is refused", o)
    # types: the decoder's 400
    j = json.loads(json.dumps(base))
    j["metadata"]["name"] = "val-type"
    j["spec"]["backoffLimit"] = "none"
    s, _, o = API.req("POST", JOBS + "?fieldValidation=Strict", j)
    check(s == 400 and "cannot unmarshal string into Go struct field" in o["message"] and "spec.backoffLimit" in o["message"],
          "a wrong type is refused by the decoder (400)", o)
    # 422 Invalid with causes
    cases = [
        ("Bad_Name", lambda j: None, "metadata.name", "a lowercase RFC 1123 subdomain"),
        ("val-always", lambda j: j["spec"]["template"]["spec"].__setitem__("restartPolicy", "Always"),
         "spec.template.spec.restartPolicy", 'Unsupported value: "Always": supported values: "OnFailure", "Never"'),
        ("val-norestart", lambda j: j["spec"]["template"]["spec"].pop("restartPolicy"),
         "spec.template.spec.restartPolicy", 'Unsupported value: "Always"'),
        ("val-nocontainers", lambda j: j["spec"]["template"]["spec"].__setitem__("containers", []),
         "spec.template.spec.containers", "Required value"),
        ("val-label", lambda j: j["metadata"].__setitem__("labels", {"mflow/run": "bad value!"}),
         "metadata.labels", "a valid label must be an empty string"),
        ("val-" + "x" * 60, lambda j: None, "spec.template.labels", "must be no more than 63 characters"),
        ("val-cname", lambda j: j["spec"]["template"]["spec"]["containers"][0].__setitem__("name", "Main_1"),
         "spec.template.spec.containers[0].name", "RFC 1123 label"),
        ("val-noimage", lambda j: j["spec"]["template"]["spec"]["containers"][0].pop("image"),
         "spec.template.spec.containers[0].image", "Required value"),
        ("val-neg", lambda j: j["spec"].__setitem__("backoffLimit", -1), "spec.backoffLimit", "must be greater than or equal to 0"),
    ]
    for name, mut, field, msg in cases:
        j = json.loads(json.dumps(base))
        j["metadata"]["name"] = name
        mut(j)
        s, _, o = API.req("POST", JOBS + "?fieldValidation=Strict", j)
        causes = (o.get("details") or {}).get("causes") or [] if isinstance(o, dict) else []
        check(s == 422 and o["reason"] == "Invalid" and o["code"] == 422 and o["details"]["kind"] == "Job"
              and o["details"]["group"] == "batch" and o["message"].startswith(f'Job.batch "{name}" is invalid: ')
              and any(c["field"] == field and msg in c["message"] for c in causes),
              f"422 Invalid: {field} ({msg[:40]})", o)
    # 409 and 404
    s, _, o = create(job("val-conflict", "true"))
    s, _, o = API.req("POST", JOBS + "?fieldValidation=Strict", job("val-conflict", "true"))
    check(s == 409 and o["reason"] == "AlreadyExists" and o["message"] == 'jobs.batch "val-conflict" already exists'
          and o["details"] == {"name": "val-conflict", "group": "batch", "kind": "jobs"}, "409 AlreadyExists", o)
    s, _, o = API.req("POST", "/apis/batch/v1/namespaces/nope/jobs", job("val-nons", "true"))
    check(s == 404 and o["reason"] == "NotFound" and o["message"] == 'namespaces "nope" not found', "404 for a missing namespace", o)
    s, _, o = API.req("GET", f"{JOBS}/no-such-job")
    check(s == 404 and o["message"] == 'jobs.batch "no-such-job" not found' and o["details"]["kind"] == "jobs", "404 for a missing Job", o)
    s, _, o = API.req("POST", "/api/v1/namespaces/default/secrets", {"metadata": {"name": "s1"}, "data": {"k": "!!"}})
    check(s == 400 and "illegal base64" in o["message"], "Secret data that is not base64 is refused", o)
    s, _, o = API.req("PUT", f"{JOBS}/val-conflict", job("val-conflict", "true"))
    check(s == 405 and o["reason"] == "MethodNotAllowed", "an unserved verb gets 405", o)
    # dryRun
    s, _, o = API.req("POST", JOBS + "?dryRun=All&fieldValidation=Strict", job("val-dry", "true"))
    check(s == 201 and o["metadata"]["name"] == "val-dry" and get_job("val-dry") is None, "dryRun=All: answered, not stored", s)
    s, _, o = API.req("POST", JOBS + "?dryRun=Some", job("val-dry", "true"))
    check(s in (400, 422) and "dryRun" in o["message"], "an unknown dryRun value is refused", o)


# ---------------------------------------------------------------- selectors, paging, watch
def t_lists():
    for name, labels in [("sel-a", {"sel": "x", "run": "r1", "step": "s1"}), ("sel-b", {"sel": "x", "run": "r1", "step": "s2"}),
                         ("sel-c", {"sel": "x", "run": "r2", "step": "s1"}), ("sel-d", {"sel": "x", "step": "s3"})]:
        create(job(name, "true", labels))
    q = lambda sel: sorted(i["metadata"]["name"] for i in API.req("GET", f"{JOBS}?labelSelector={sel}")[2]["items"])
    from urllib.parse import quote
    cases = [("sel=x,run=r1", ["sel-a", "sel-b"]), ("sel=x,run==r1,step!=s1", ["sel-b"]),
             ("sel=x,step in (s1,s2),run notin (r1)", ["sel-c"]), ("sel=x,run", ["sel-a", "sel-b", "sel-c"]),
             ("sel=x,!run", ["sel-d"]), ("sel=x,step in (s3)", ["sel-d"]), ("sel=x,run!=r1", ["sel-c", "sel-d"])]
    for sel, want in cases:
        got = q(quote(sel))
        check(got == want, f"labelSelector {sel}", got)
    s, _, o = API.req("GET", f"{JOBS}?labelSelector={quote('run in (r1')}")
    check(s == 400 and o["reason"] == "BadRequest", "a malformed labelSelector is refused (400)", o)
    s, _, o = API.req("GET", f"{JOBS}?fieldSelector=metadata.name=sel-b")
    check(s == 200 and [i["metadata"]["name"] for i in o["items"]] == ["sel-b"], "fieldSelector metadata.name", o.get("items"))
    s, _, o = API.req("GET", f"{JOBS}?fieldSelector=metadata.name!=sel-b&labelSelector=sel=x")
    check(sorted(i["metadata"]["name"] for i in o["items"]) == ["sel-a", "sel-c", "sel-d"], "fieldSelector !=")
    s, _, o = API.req("GET", f"{PODS}?fieldSelector=spec.bogus=1")
    check(s == 400 and "field label not supported: spec.bogus" in o["message"], "an unknown field selector is refused", o)
    wait(lambda: all(job_done(n) for n in ["sel-a", "sel-b", "sel-c", "sel-d"]))
    s, _, o = API.req("GET", f"{PODS}?labelSelector=sel=x&fieldSelector=status.phase=Succeeded")
    check(len(o["items"]) == 4, "pods fieldSelector status.phase=Succeeded", len(o["items"]))
    s, _, o = API.req("GET", f"{PODS}?labelSelector=sel=x&fieldSelector=status.phase=Running")
    check(len(o["items"]) == 0, "pods fieldSelector status.phase=Running (none)")
    ev = events_for("sel-a")
    check(("SuccessfulCreate", ev[0][1] if ev else "") in ev and any(r == "Completed" for r, _ in ev),
          "events fieldSelector involvedObject.name: SuccessfulCreate and Completed", ev)
    # paging
    s, _, p1 = API.req("GET", f"{JOBS}?labelSelector=sel=x&limit=3")
    cont = p1["metadata"].get("continue")
    s, _, p2 = API.req("GET", f"{JOBS}?labelSelector=sel=x&limit=3&continue={quote(cont or '')}")
    names = [i["metadata"]["name"] for i in p1["items"] + p2["items"]]
    check(len(p1["items"]) == 3 and cont and len(p2["items"]) == 1 and "continue" not in p2["metadata"]
          and names == ["sel-a", "sel-b", "sel-c", "sel-d"], "limit/continue pages through a list", names)
    s, _, o = API.req("GET", f"{JOBS}?limit=1")
    check(o["metadata"].get("remainingItemCount", 0) >= 1 and o["metadata"]["resourceVersion"].isdigit(),
          "an unselected page carries remainingItemCount and resourceVersion", o["metadata"])
    s, _, o = API.req("GET", f"{JOBS}?limit=1&continue=garbage")
    check(s == 400, "a bad continue token is refused", s)
    check(o["kind"] == "Status", "as a Status")


def watch(path, timeout=10, until=None, headers=None):
    """Reads watch events until `until(events)` is true or the stream ends."""
    c = http.client.HTTPSConnection(HOST, PORT, context=ctx(), timeout=timeout)
    c.request("GET", path, headers={"Authorization": f"Bearer {TOKEN}", **(headers or {})})
    r = c.getresponse()
    evs = []
    end = time.time() + timeout
    try:
        while time.time() < end:
            line = r.readline()
            if not line:
                break
            evs.append(json.loads(line))
            if until and until(evs):
                break
    except socket.timeout:
        pass
    c.close()
    return r.status, evs


def t_watch():
    s, _, o = API.req("GET", f"{JOBS}?labelSelector=w=1")
    rv = o["metadata"]["resourceVersion"]
    create(job("watch-a", "echo hi", {"w": "1"}))
    create(job("watch-other", "true", {"w": "2"}))
    s, evs = watch(f"{JOBS}?watch=true&resourceVersion={rv}&labelSelector=w=1",
                   until=lambda e: any(x["type"] == "MODIFIED" and any(c["type"] == "Complete" for c in x["object"]["status"].get("conditions", [])) for x in e))
    types = [e["type"] for e in evs]
    names = {e["object"]["metadata"]["name"] for e in evs}
    check(s == 200 and types[:1] == ["ADDED"] and "MODIFIED" in types and names == {"watch-a"}
          and all(e["object"]["kind"] == "Job" for e in evs), "watch from a resourceVersion: ADDED then MODIFIED to Complete, selector honoured", types)
    rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in evs]
    check(rvs == sorted(rvs) and rvs[0] > int(rv), "watch events carry increasing resourceVersions")
    last = evs[-1]["object"]["metadata"]["resourceVersion"]
    API.req("DELETE", f"{JOBS}/watch-a", {"propagationPolicy": "Background"})
    s, evs = watch(f"{JOBS}?watch=1&resourceVersion={last}&labelSelector=w=1", until=lambda e: any(x["type"] == "DELETED" for x in e))
    check(any(e["type"] == "DELETED" and e["object"]["metadata"]["name"] == "watch-a" for e in evs), "watch sees DELETED", [e["type"] for e in evs])
    s, evs = watch(f"{JOBS}?watch=1&labelSelector=w=2", until=lambda e: len(e) >= 1)
    check(evs and evs[0]["type"] == "ADDED" and evs[0]["object"]["metadata"]["name"] == "watch-other", "watch without resourceVersion starts with ADDED for what exists")
    t0 = time.time()
    s, evs = watch(f"{PODS}?watch=1&labelSelector=nothing=here&timeoutSeconds=1&allowWatchBookmarks=true", timeout=10)
    dt = time.time() - t0
    check(0.9 < dt < 5, "timeoutSeconds ends the watch", dt)
    check(any(e["type"] == "BOOKMARK" and e["object"]["metadata"]["resourceVersion"].isdigit() for e in evs) or True,
          "bookmarks are well-formed when sent")
    # the watch window: a resourceVersion older than it gets 410 Expired
    for i in range(15):
        API.req("POST", "/api/v1/namespaces/default/secrets", {"metadata": {"name": f"churn-{i}"}, "stringData": {"a": "b"}})
        API.req("DELETE", f"/api/v1/namespaces/default/secrets/churn-{i}")
    s, evs = watch(f"{JOBS}?watch=1&resourceVersion=2", until=lambda e: True)
    check(s == 200 and evs and evs[0]["type"] == "ERROR" and evs[0]["object"]["code"] == 410
          and evs[0]["object"]["reason"] == "Expired" and evs[0]["object"]["message"].startswith("too old resource version: 2 ("),
          "a too-old resourceVersion: ERROR event 410 Expired", evs[:1])
    # Table, as kubectl asks
    s, _, o = API.req("GET", f"{JOBS}?labelSelector=w=2", headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"})
    cols = [c["name"] for c in o.get("columnDefinitions", [])]
    check(o["kind"] == "Table" and cols[:5] == ["Name", "Status", "Completions", "Duration", "Age"]
          and o["rows"][0]["cells"][0] == "watch-other" and o["rows"][0]["object"]["kind"] == "PartialObjectMetadata", "Table for jobs", cols)


# ---------------------------------------------------------------- lifecycle, logs, deletion
def t_lifecycle():
    create(job("life-ok", "echo one; echo two >&2; sleep 0.3; echo three", {"life": "1"}))
    j = wait(lambda: job_done("life-ok"))
    check(j and [t for t, _ in conds(j)] == ["SuccessCriteriaMet", "Complete"] and conds(j)[1][1] == "CompletionsReached"
          and j["status"].get("succeeded") == 1 and j["status"].get("completionTime") and j["status"].get("startTime")
          and "active" not in j["status"] and j["status"]["uncountedTerminatedPods"] == {}, "a Job that succeeds: SuccessCriteriaMet then Complete", j and j["status"])
    p = pods_of("life-ok")[0]
    cs = p["status"]["containerStatuses"][0]
    check(p["metadata"]["name"].startswith("life-ok-") and len(p["metadata"]["name"]) == len("life-ok-") + 5
          and p["metadata"]["generateName"] == "life-ok-" and p["metadata"]["ownerReferences"][0]["kind"] == "Job"
          and p["metadata"]["labels"]["batch.kubernetes.io/job-name"] == "life-ok" and p["metadata"]["labels"]["life"] == "1"
          and p["metadata"]["labels"]["batch.kubernetes.io/controller-uid"] == j["metadata"]["uid"], "the Job's pod: name, labels, owner", p["metadata"])
    check(p["status"]["phase"] == "Succeeded" and cs["state"]["terminated"]["exitCode"] == 0 and cs["state"]["terminated"]["reason"] == "Completed"
          and cs["state"]["terminated"]["startedAt"] and cs["state"]["terminated"]["finishedAt"], "pod Succeeded, container terminated Completed 0", cs)
    s, _, text = API.req("GET", f"{PODS}/{p['metadata']['name']}/log", raw=True)
    check(s == 200 and text == "one\ntwo\nthree\n", "log: stdout and stderr in order", repr(text))
    s, _, text = API.req("GET", f"{PODS}/{p['metadata']['name']}/log?tailLines=1", raw=True)
    check(text == "three\n", "log tailLines=1", repr(text))
    s, _, text = API.req("GET", f"{PODS}/{p['metadata']['name']}/log?timestamps=true&limitBytes=200", raw=True)
    first = text.split("\n")[0]
    check(first.endswith(" one") and first[:4].isdigit() and first[19] == "." and first.split(" ")[0].endswith("Z"), "log timestamps=true (RFC3339Nano)", first)
    s, _, o = API.req("GET", f"{PODS}/{p['metadata']['name']}/log?container=other")
    check(s == 400 and o["message"] == f"container other is not valid for pod {p['metadata']['name']}", "log of an unknown container: 400", o)
    # follow: streams while the process prints, ends when it ends
    create(job("life-follow", "for i in 1 2 3; do echo tick $i; sleep 0.4; done"))
    pod = wait(lambda: [x for x in pods_of("life-follow") if x["status"].get("phase") == "Running"])
    c = http.client.HTTPSConnection(HOST, PORT, context=ctx(), timeout=20)
    c.request("GET", f"{PODS}/{pod[0]['metadata']['name']}/log?follow=true", headers={"Authorization": f"Bearer {TOKEN}"})
    r = c.getresponse()
    t0 = time.time()
    lines = []
    while True:
        line = r.readline()
        if not line:
            break
        lines.append((round(time.time() - t0, 1), line.decode().strip()))
    check([l for _, l in lines] == ["tick 1", "tick 2", "tick 3"] and lines[-1][0] >= 0.5, "log follow streams live and ends with the container", lines)
    # exit code, BackoffLimitExceeded
    create(job("life-fail", "echo bad; exit 3"))
    j = wait(lambda: job_done("life-fail"))
    check(j and conds(j) == [("FailureTarget", "BackoffLimitExceeded"), ("Failed", "BackoffLimitExceeded")]
          and j["status"]["conditions"][1]["message"] == "Job has reached the specified backoff limit" and j["status"].get("failed") == 1,
          "exit 3 with backoffLimit 0: FailureTarget then Failed BackoffLimitExceeded", j and j["status"])
    p = pods_of("life-fail")[0]
    t = p["status"]["containerStatuses"][0]["state"]["terminated"]
    check(p["status"]["phase"] == "Failed" and t["exitCode"] == 3 and t["reason"] == "Error", "pod Failed, terminated Error exitCode 3", t)
    # a command that does not exist
    create(job("life-noexec", "true", container={"command": ["no-such-program-xyz"]}))
    j = wait(lambda: job_done("life-noexec"))
    t = pods_of("life-noexec")[0]["status"]["containerStatuses"][0]["state"]["terminated"]
    check(t["reason"] == "StartError" and t["exitCode"] == 128 and 'exec: "no-such-program-xyz": executable file not found in $PATH' in t["message"],
          "a missing executable: StartError 128 as runc says it", t)
    # retries: backoffLimit 1 makes a second pod
    create(job("life-retry", "exit 1", spec={"backoffLimit": 1}))
    j = wait(lambda: job_done("life-retry"), timeout=30)
    check(j and j["status"].get("failed") == 2 and len(pods_of("life-retry")) == 2 and conds(j)[-1] == ("Failed", "BackoffLimitExceeded"),
          "backoffLimit 1: a second pod after the back-off, then Failed", j and j["status"])
    # env and Secrets
    API.req("POST", "/api/v1/namespaces/default/secrets", {"metadata": {"name": "creds"}, "stringData": {"TOKEN_A": "s3cret", "other": "v"}})
    create(job("life-env", 'echo "$PLAIN $TOKEN_A $FROMKEY $MYPOD"', container={
        "env": [{"name": "PLAIN", "value": "plain"}, {"name": "FROMKEY", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "other"}}},
                {"name": "MYPOD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
        "envFrom": [{"secretRef": {"name": "creds"}}]}))
    wait(lambda: job_done("life-env"))
    p = pods_of("life-env")[0]
    s, _, text = API.req("GET", f"{PODS}/{p['metadata']['name']}/log", raw=True)
    check(text == f"plain s3cret v {p['metadata']['name']}\n", "env, envFrom.secretRef, secretKeyRef, fieldRef reach the process", repr(text))
    # deletion
    before = live_pgids()
    create(job("life-del", "sleep 300", {"del": "1"}))
    wait(lambda: [x for x in pods_of("life-del") if x["status"].get("phase") == "Running"])
    check(len(live_pgids() - before) == 1, "a running pod has a live process group")
    s, r, o = API.req("DELETE", f"{JOBS}/life-del")
    check(s == 200 and "child pods are preserved by default when jobs are deleted" in (r.getheader("Warning") or ""),
          "DELETE without propagationPolicy: batch/v1 orphans the pods, with the warning", r.getheader("Warning"))
    p = pods_of("life-del")
    check(len(p) == 1 and "ownerReferences" not in p[0]["metadata"] and p[0]["status"]["phase"] == "Running", "Orphan: the pod runs on, without owner")
    s, _, o = API.req("DELETE", f"{PODS}/{p[0]['metadata']['name']}?gracePeriodSeconds=0")
    check(s == 200 and o["kind"] == "Pod", "DELETE pod answers the Pod", s)
    check(wait(lambda: not pods_of("life-del")) is not None or not pods_of("life-del"), "the pod is gone")
    check(wait(lambda: live_pgids() <= before, 5) is not None, "its process group is gone")
    create(job("life-bg", "trap 'echo TERM; exit 0' TERM; while true; do sleep 0.1; done"))
    wait(lambda: [x for x in pods_of("life-bg") if x["status"].get("phase") == "Running"])
    s, _, o = API.req("DELETE", f"{JOBS}/life-bg", {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"})
    check(s == 200 and o["kind"] == "Status" and o["status"] == "Success" and o["details"]["name"] == "life-bg", "Background: Status Success", o)
    check(get_job("life-bg") is None, "Background: the Job is gone at once")
    check(wait(lambda: not pods_of("life-bg"), 10) is not None, "Background: then its pod (SIGTERM honoured)")
    create(job("life-fg", "sleep 300"))
    wait(lambda: [x for x in pods_of("life-fg") if x["status"].get("phase") == "Running"])
    s, _, o = API.req("DELETE", f"{JOBS}/life-fg?propagationPolicy=Foreground")
    j = get_job("life-fg")
    check(s == 200 and o["kind"] == "Job" and o["metadata"].get("deletionTimestamp") and "foregroundDeletion" in o["metadata"]["finalizers"],
          "Foreground: the Job stays, marked, while its pods go", o.get("metadata"))
    check(wait(lambda: get_job("life-fg") is None, 40) is not None and not pods_of("life-fg"), "Foreground: the Job goes after its pods")
    s, _, o = API.req("DELETE", f"{JOBS}/life-ok?propagationPolicy=Sideways")
    check(s == 422 and "propagationPolicy" in o["message"], "an unknown propagationPolicy is refused", o)
    s, _, o = API.req("DELETE", f"{JOBS}/life-ok?dryRun=All&propagationPolicy=Background")
    check(s == 200 and get_job("life-ok") is not None, "DELETE dryRun=All deletes nothing")
    s, _, o = API.req("DELETE", f"{JOBS}?labelSelector=sel=x&propagationPolicy=Background")
    check(s == 200 and o["kind"] == "JobList" and sorted(i["metadata"]["name"] for i in o["items"]) == ["sel-a", "sel-b", "sel-c", "sel-d"]
          and not API.req("GET", f"{JOBS}?labelSelector=sel=x")[2]["items"], "deletecollection with a labelSelector", o.get("items") and len(o["items"]))
    # ttlSecondsAfterFinished
    create(job("life-ttl", "true", spec={"ttlSecondsAfterFinished": 1}))
    t0 = time.time()
    wait(lambda: job_done("life-ttl"))
    gone = wait(lambda: get_job("life-ttl") is None and not pods_of("life-ttl"), 10)
    check(gone and time.time() - t0 >= 1, "ttlSecondsAfterFinished deletes the Job and its pods", time.time() - t0)


# ---------------------------------------------------------------- faults
def t_faults():
    set_faults({"missing_images": ["ghcr.io/example/missing:1.0"]})
    create(job("f-image", "true", image="ghcr.io/example/missing:1.0"))
    seen = set()

    def img_state():
        for p in pods_of("f-image"):
            w = p["status"].get("containerStatuses", [{}])[0].get("state", {}).get("waiting", {})
            if w.get("reason") in ("ErrImagePull", "ImagePullBackOff"):
                seen.add(w["reason"])
                if w["reason"] == "ErrImagePull":
                    check.img_msg = w.get("message", "")
        return "ImagePullBackOff" in seen and "ErrImagePull" in seen
    check.img_msg = ""
    wait(img_state, 10, 0.05)
    check(seen == {"ErrImagePull", "ImagePullBackOff"} and 'failed to pull and unpack image "ghcr.io/example/missing:1.0"' in check.img_msg,
          "missing image: ErrImagePull (naming the image) then ImagePullBackOff", (seen, check.img_msg))
    ev = events_for(pods_of("f-image")[0]["metadata"]["name"])
    check(('Failed', 'Error: ErrImagePull') in ev and ("BackOff", 'Back-off pulling image "ghcr.io/example/missing:1.0"') in ev
          and any(m.startswith('Failed to pull image "ghcr.io/example/missing:1.0"') for _, m in ev), "missing image: kubelet events", ev)
    s, _, o = API.req("GET", f"{PODS}/{pods_of('f-image')[0]['metadata']['name']}/log")
    check(s == 400 and "is waiting to start: image can't be pulled" in o["message"], "log of a pod that cannot pull: 400 waiting to start", o)
    set_faults({"unschedulable": True})
    create(job("f-sched", "echo scheduled"))

    def unsched():
        p = pods_of("f-sched")
        c = [x for x in (p[0]["status"].get("conditions") or []) if x["type"] == "PodScheduled"] if p else []
        return c[0] if c and c[0]["status"] == "False" else None
    c = wait(unsched)
    check(c and c["reason"] == "Unschedulable" and c["message"].startswith("0/1 nodes are available: 1 node(s) were unschedulable."),
          "unschedulable: PodScheduled False Unschedulable with the scheduler's message", c)
    check(pods_of("f-sched")[0]["status"]["phase"] == "Pending", "unschedulable: the pod stays Pending")
    set_faults({})
    check(wait(lambda: job_done("f-sched")) is not None, "the fault lifted: the pending pod is scheduled and runs")
    for name, res, short in [("f-cpu", {"cpu": "64"}, "1 Insufficient cpu"), ("f-mem", {"memory": "100Gi"}, "1 Insufficient memory"),
                             ("f-gpu", {"nvidia.com/gpu": "1"}, "1 Insufficient nvidia.com/gpu")]:
        create(job(name, "true", container={"resources": {"limits": res}}))
        c = wait(lambda: (lambda p: [x for x in (p[0]["status"].get("conditions") or []) if x["type"] == "PodScheduled" and x["status"] == "False"] if p else None)(pods_of(name)))
        check(c and c[0]["message"] == f"0/1 nodes are available: {short}. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.",
              f"a pod asking more than any node has: {short}", c)
        API.req("DELETE", f"{JOBS}/{name}?propagationPolicy=Background")
    # eviction
    set_faults({"evict_next": 1})
    create(job("f-evict", "sleep 30"))
    j = wait(lambda: job_done("f-evict"))
    p = pods_of("f-evict")[0]
    dt = [c for c in p["status"]["conditions"] if c["type"] == "DisruptionTarget"]
    check(p["status"]["phase"] == "Failed" and p["status"]["reason"] == "Evicted"
          and p["status"]["message"].startswith("The node was low on resource: memory.") and dt and dt[0]["reason"] == "TerminationByKubelet",
          "evict_next: pod Failed, reason Evicted, kubelet's message, DisruptionTarget", p["status"].get("message"))
    check(j and conds(j)[-1] == ("Failed", "BackoffLimitExceeded"), "evicted pod fails the Job (backoffLimit 0)")
    check(wait(lambda: not any(open(f"{D}/procs/{f}").read().startswith(f"default/{p['metadata']['name']} ") for f in live_pgids()), 3) is not None,
          "the evicted pod's process is gone")
    # node lost
    set_faults({"node_lost_next": 1})
    create(job("f-lost", "sleep 30"))
    s, evs = watch(f"{PODS}?watch=1&labelSelector=batch.kubernetes.io/job-name=f-lost", timeout=15,
                   until=lambda e: any(x["type"] == "DELETED" for x in e))
    dts = [c for e in evs for c in (e["object"]["status"].get("conditions") or []) if c["type"] == "DisruptionTarget"]
    check(dts and dts[0]["reason"] == "DeletionByTaintManager" and any(e["type"] == "DELETED" and e["object"]["status"]["phase"] == "Failed" for e in evs)
          and any(e["object"]["metadata"].get("deletionTimestamp") for e in evs), "node_lost_next: DisruptionTarget DeletionByTaintManager, Failed, deleted", [e["type"] for e in evs])
    j = wait(lambda: job_done("f-lost"))
    check(j and conds(j)[-1] == ("Failed", "BackoffLimitExceeded") and j["status"].get("failed") == 1, "node lost fails the Job", j and j["status"])
    ev = events_for(evs[0]["object"]["metadata"]["name"]) if evs else []
    check(("NodeNotReady", "Node is not ready") in ev and any(r == "TaintManagerEviction" for r, _ in ev), "node lost: node-controller and taint-manager events", ev)
    check(wait(lambda: (lambda r: r[0] == 200 and r[2]["status"]["conditions"][0]["status"] == "True")(API.req("GET", "/api/v1/nodes/standin-node-1")), 10),
          "a node registers again after the loss")
    # OOM
    create(job("f-oom", "python3 -c 'import time; b = b\"x\" * (300 << 20); time.sleep(20)'", container={"resources": {"limits": {"memory": "64Mi"}}}))
    j = wait(lambda: job_done("f-oom"), 20)
    t = pods_of("f-oom")[0]["status"]["containerStatuses"][0]["state"].get("terminated", {})
    check(t.get("reason") == "OOMKilled" and t.get("exitCode") == 137 and j and conds(j)[-1][0] == "Failed", "past limits.memory: OOMKilled, exit 137", t)
    create(job("f-fits", "python3 -c 'b = b\"x\" * (20 << 20); print(len(b))'", container={"resources": {"limits": {"memory": "256Mi"}}}))
    j = wait(lambda: job_done("f-fits"), 20)
    check(j and conds(j)[-1][0] == "Complete", "under limits.memory: runs to completion")
    # deadline
    create(job("f-deadline", "sleep 30", spec={"activeDeadlineSeconds": 1}))
    t0 = time.time()
    j = wait(lambda: job_done("f-deadline"), 20)
    check(j and conds(j) == [("FailureTarget", "DeadlineExceeded"), ("Failed", "DeadlineExceeded")]
          and j["status"]["conditions"][1]["message"] == "Job was active longer than specified deadline" and time.time() - t0 >= 0.9,
          "activeDeadlineSeconds: FailureTarget then Failed DeadlineExceeded", j and j["status"])
    check(wait(lambda: not pods_of("f-deadline"), 5) is not None, "activeDeadlineSeconds: the pod is deleted")
    check(("DeadlineExceeded", "Job was active longer than specified deadline") in events_for("f-deadline"), "DeadlineExceeded event")
    # a missing Secret
    create(job("f-secret", "echo $X", container={"envFrom": [{"secretRef": {"name": "later"}}]}))
    w = wait(lambda: (lambda p: p and p[0]["status"].get("containerStatuses") and p[0]["status"]["containerStatuses"][0]["state"].get("waiting", {}).get("reason") == "CreateContainerConfigError" and p[0])(pods_of("f-secret")))
    check(w and w["status"]["containerStatuses"][0]["state"]["waiting"]["message"] == 'secret "later" not found',
          "a missing Secret: CreateContainerConfigError 'secret \"later\" not found'", w and w["status"]["containerStatuses"])
    create(job("f-key", "echo $X", container={"env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "nokey"}}}]}))
    w = wait(lambda: (lambda p: p and p[0]["status"].get("containerStatuses") and p[0]["status"]["containerStatuses"][0]["state"].get("waiting", {}).get("reason") == "CreateContainerConfigError" and p[0])(pods_of("f-key")))
    check(w and w["status"]["containerStatuses"][0]["state"]["waiting"]["message"] == "couldn't find key nokey in Secret default/creds",
          "a missing Secret key: CreateContainerConfigError", w and w["status"]["containerStatuses"])
    API.req("POST", "/api/v1/namespaces/default/secrets", {"metadata": {"name": "later"}, "stringData": {"X": "arrived"}})
    check(wait(lambda: job_done("f-secret"), 10) is not None, "the Secret created: the kubelet's retry starts the container")
    # HTTP errors, dropped connections, latency
    set_faults({"http_errors": [{"method": "GET", "path_regex": "/jobs$", "status": 429, "count": 2, "retry_after": 2}]})
    got = [API.req("GET", JOBS) for _ in range(3)]
    check([g[0] for g in got] == [429, 429, 200] and got[0][1].getheader("Retry-After") == "2" and got[0][2]["reason"] == "TooManyRequests"
          and got[0][2]["details"]["retryAfterSeconds"] == 2 and got[0][2]["kind"] == "Status", "http_errors 429 with Retry-After, count 2", [g[0] for g in got])
    set_faults({"http_errors": [{"method": "POST", "path_regex": "/jobs", "status": 500, "count": 1}]})
    s, _, o = API.req("POST", JOBS, job("f-500", "true"))
    s2, _, _ = API.req("POST", JOBS, job("f-500", "true"))
    check(s == 500 and o["reason"] == "InternalError" and s2 == 201, "http_errors 500 once, then the create succeeds", (s, s2))
    set_faults({"drop_connections": 1})
    c = Client()
    try:
        c.req("GET", JOBS)
        dropped = False
    except (http.client.RemoteDisconnected, ConnectionError, http.client.BadStatusLine):
        dropped = True
    s, _, _ = Client().req("GET", JOBS)
    check(dropped and s == 200, "drop_connections 1: one request gets no answer, the next one does")
    set_faults({"latency_ms": 300})
    t0 = time.time()
    API.req("GET", "/api/v1/namespaces")
    dt = time.time() - t0
    set_faults({})
    check(dt >= 0.3, "latency_ms delays answers", dt)
    set_faults({"pod_start_delay_ms": 800})
    create(job("f-delay", "true"))
    p = wait(lambda: pods_of("f-delay"), 5, 0.02)
    t0 = time.time()
    check(p and p[0]["status"]["phase"] == "Pending" and "containerStatuses" not in p[0]["status"], "pod_start_delay_ms: the new pod waits, Pending")
    wait(lambda: (lambda q: q and q[0]["status"].get("containerStatuses"))(pods_of("f-delay")), 5, 0.02)
    check(time.time() - t0 >= 0.5, "pod_start_delay_ms: its containers start after the delay", time.time() - t0)
    set_faults({})
    check(wait(lambda: job_done("f-delay")) is not None, "pod_start_delay_ms: then it runs")
    s, _, o = ADM.req("POST", "/standin/v1/faults", {"evict_nxt": 1})
    check(s == 400 and "evict_nxt" in o["message"], "an unknown fault is refused", o)


def t_stats():
    ADM.req("POST", "/standin/v1/stats/reset")
    for _ in range(3):
        API.req("GET", f"{PODS}?labelSelector=a=b")
    API.req("GET", f"{JOBS}/nothing")
    watch(f"{PODS}?watch=1&timeoutSeconds=1", timeout=5)
    s, _, o = ADM.req("GET", "/standin/v1/stats")
    check(s == 200 and o == {"GET /api/v1/namespaces/{ns}/pods": 3, "GET /apis/batch/v1/namespaces/{ns}/jobs/{name}": 1,
                             "GET /api/v1/namespaces/{ns}/pods?watch": 1}, "stats count requests by method and path template", o)
    s, _, o = API.req("GET", "/standin/v1/stats")
    check(s == 403, "stats need the admin token")


def t_nodes():
    """Run against a stand-in started with STANDIN_NODES=2 STANDIN_GPUS=1."""
    s, _, o = API.req("GET", "/api/v1/nodes")
    check(s == 200 and [n["metadata"]["name"] for n in o["items"]] == ["standin-node-1", "standin-node-2"]
          and all(n["status"]["allocatable"]["nvidia.com/gpu"] == "1" and n["status"]["capacity"]["cpu"] == "2"
                  and n["status"]["allocatable"]["memory"] == "4Gi" for n in o["items"]), "STANDIN_NODES=2 STANDIN_GPUS=1: two nodes with a GPU each")
    for i in range(3):
        create(job(f"gpu-{i}", "sleep 20", container={"resources": {"limits": {"nvidia.com/gpu": "1"}}}))
    time.sleep(0.5)
    running = wait(lambda: (lambda ps: ps if len(ps) == 2 else None)([p for i in range(3) for p in pods_of(f"gpu-{i}") if p["status"].get("phase") == "Running"]))
    check(running and sorted(p["spec"]["nodeName"] for p in running) == ["standin-node-1", "standin-node-2"], "two GPU pods run, one per node",
          running and [p["spec"]["nodeName"] for p in running])
    pending = [p for i in range(3) for p in pods_of(f"gpu-{i}") if p["status"].get("phase") == "Pending"]
    c = [x for x in pending[0]["status"].get("conditions", []) if x["type"] == "PodScheduled"] if pending else []
    check(c and c[0]["reason"] == "Unschedulable" and c[0]["message"] == "0/2 nodes are available: 2 Insufficient nvidia.com/gpu. preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod.",
          "the third GPU pod waits: 2 Insufficient nvidia.com/gpu", c)
    API.req("DELETE", f"{JOBS}/{running[0]['metadata']['labels']['batch.kubernetes.io/job-name']}?propagationPolicy=Background" if running else f"{JOBS}/gpu-0")
    check(wait(lambda: pending and [p for p in pods_of(pending[0]["metadata"]["labels"]["batch.kubernetes.io/job-name"]) if p["status"].get("phase") == "Running"], 10),
          "a GPU freed: the waiting pod is scheduled")


def main():
    groups = (t_nodes,) if sys.argv[2:] == ["nodes"] else (t_auth, t_validation, t_lists, t_watch, t_lifecycle, t_faults, t_stats)
    for t in groups:
        print(f"---- {t.__name__[2:]}")
        try:
            t()
        except Exception as e:  # a crash is a failure of that group, the others still run
            import traceback
            traceback.print_exc()
            check(False, f"{t.__name__} ran to its end", repr(e))
    print(f"{len(FAILS)} failed" if FAILS else "all passed")
    sys.exit(1 if FAILS else 0)


if __name__ == "__main__":   # standin_deadline_check.py imports the helpers
    main()
