#!/usr/bin/env python3
"""Reduce `kubectl config view --minify --flatten -o json` (stdin) to the fields k8s_conn_dump
prints, so that the two compare as JSON. kubectl prints tokenFile and the exec command as
written in the file, k8s_conn_dump prints them resolved, so test_k8s_kubectl.sh compares those
two by suffix itself."""
import json
import sys

v = json.load(sys.stdin)
ctx = v["contexts"][0]
cl = v["clusters"][0]["cluster"]
out = {
    "context": ctx["name"],
    "cluster": ctx["context"]["cluster"],
    "user": ctx["context"].get("user", ""),
    "server": cl["server"],
    "namespace": ctx["context"].get("namespace") or "default",
    "insecure": bool(cl.get("insecure-skip-tls-verify", False)),
}
if cl.get("tls-server-name"):
    out["tls-server-name"] = cl["tls-server-name"]
if cl.get("certificate-authority-data"):
    out["ca"] = cl["certificate-authority-data"]
users = v.get("users") or []
u = users[0]["user"] if users else {}
if u.get("token"):
    out["token"] = u["token"]
if u.get("tokenFile"):
    out["tokenFile"] = u["tokenFile"]
if u.get("client-certificate-data"):
    out["cert"] = u["client-certificate-data"]
if u.get("client-key-data"):
    out["key"] = u["client-key-data"]
if u.get("exec"):
    e = u["exec"]
    out["exec"] = {"apiVersion": e["apiVersion"], "command": e["command"], "args": e.get("args") or []}
print(json.dumps(out, sort_keys=True, indent=1))
