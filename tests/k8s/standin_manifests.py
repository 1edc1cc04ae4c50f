#!/usr/bin/env python3
"""Sends every Job manifest k8s_manifest_gen writes to the API stand-in with
fieldValidation=Strict and dryRun=All (validated and defaulted as on create, not run): each must
be accepted (201), and a manifest given an unknown field must be refused (400).
Usage: standin_manifests.py DIR MANIFEST_DIR"""
import glob
import http.client
import json
import ssl
import sys

D, GEN = sys.argv[1], sys.argv[2]
host, port = open(f"{D}/url").read().strip()[len("https://"):].split(":")
conn = http.client.HTTPSConnection(host, int(port), context=ssl.create_default_context(cafile=f"{D}/ca.crt"))
H = {"Authorization": "Bearer " + open(f"{D}/token").read().strip(), "Content-Type": "application/json"}


def post(path, body):
    conn.request("POST", path, json.dumps(body), H)
    r = conn.getresponse()
    return r.status, json.loads(r.read())


files = sorted(glob.glob(f"{GEN}/*.json"))
bad = 0
namespaces = set()
for f in files:
    job = json.load(open(f))
    ns = job["metadata"].get("namespace", "default")
    if ns not in namespaces:
        post("/api/v1/namespaces", {"metadata": {"name": ns}})
        namespaces.add(ns)
    s, o = post(f"/apis/batch/v1/namespaces/{ns}/jobs?fieldValidation=Strict&dryRun=All", job)
    if s != 201:
        bad += 1
        print(f"REFUSED {f}: {s} {o.get('message')}")
print(f"{len(files) - bad}/{len(files)} manifests accepted under Strict validation")
# the same path refuses what it must
job = json.load(open(files[-1]))
job["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
s, o = post(f"/apis/batch/v1/namespaces/{job['metadata'].get('namespace', 'default')}/jobs?fieldValidation=Strict&dryRun=All", job)
ok = s == 400 and 'unknown field "spec.template.spec.containers[0].imagePullPolicyy"' in o["message"]
print(("ok" if ok else "FAIL") + f"   an unknown field in a generated manifest is refused: {s} {o.get('message')}")
sys.exit(0 if bad == 0 and len(files) >= 700 and ok else 1)
