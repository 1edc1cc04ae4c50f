#!/bin/bash
# The kubeconfig loader against kubectl itself: for each scenario (several KUBECONFIG files,
# their order, missing and empty entries, an explicit context, ~/.kube/config, relative paths
# in files of different directories, inline data, YAML booleans) `kubectl config view --minify
# --flatten` and k8s_conn_dump must name the same context, cluster, user, server, namespace,
# TLS settings, CA / client certificate / key contents, token and exec plugin; where kubectl
# refuses a configuration, the loader must refuse it too. kubectl reads the files only (no API
# server is contacted). Exits 77 (skipped) without kubectl or python3.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dump=${K8S_CONN_DUMP:?K8S_CONN_DUMP (the k8s_conn_dump program) is not set}
command -v kubectl >/dev/null || { echo "SKIP: kubectl is not installed (it is the reference here)"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: python3 is needed"; exit 77; }
w=$(mktemp -d /tmp/mflow-k8s-kubectl.XXXXXX)
trap 'rm -rf "$w"' EXIT
cd "$w"
unset KUBECONFIG KUBERNETES_SERVICE_HOST KUBERNETES_SERVICE_PORT
mkdir -p sub home/.kube certs
echo TOP-CA >ca.pem; echo SUB-CA >sub/ca.pem; echo HOME-CA >home/.kube/ca.pem
echo CERT >certs/c.crt; echo KEY >certs/c.key; echo sub-token >sub/tok

cat >sub/a.yaml <<'Y'
clusters:
- name: shared
  cluster:
    server: https://first:1
    certificate-authority: ca.pem
users:
- name: u
  user:
    tokenFile: tok
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: ./plug
      args: [a, "b c"]
      interactiveMode: Never
Y
cat >b.yaml <<'Y'
current-context: c2
clusters:
- name: shared
  cluster:
    server: https://second:2
    tls-server-name: from-b
    certificate-authority: ca.pem
- name: other
  cluster:
    server: https://other:3
    insecure-skip-tls-verify: true
contexts:
- name: c2
  context: {cluster: shared, user: u, namespace: n2}
- name: c3
  context: {cluster: other, user: cert-user}
users:
- name: u
  user: {token: b-token}
- name: cert-user
  user: {client-certificate: certs/c.crt, client-key: certs/c.key}
Y
cat >c.yaml <<'Y'
current-context: c3
contexts:
- name: c4
  context: {cluster: inline, user: inline-user, namespace: ""}
clusters:
- name: inline
  cluster:
    server: https://inline:4
    certificate-authority-data: SU5MSU5FLUNBCg==
users:
- name: inline-user
  user: {client-certificate-data: SU5MSU5FLUNFUlQK, client-key-data: SU5MSU5FLUtFWQo=, token: t4}
Y
cat >home/.kube/config <<'Y'
current-context: h
clusters:
- {name: hc, cluster: {server: "https://home:5", certificate-authority: ca.pem}}
contexts:
- {name: h, context: {cluster: hc, namespace: home-ns}}
Y
cat >bool.yaml <<'Y'
current-context: x
clusters:
- {name: c, cluster: {server: "https://b:6", insecure-skip-tls-verify: yes}}
contexts:
- {name: x, context: {cluster: c}}
Y
cat >nocur.yaml <<'Y'
clusters:
- {name: c, cluster: {server: "https://b:6"}}
contexts:
- {name: x, context: {cluster: c}}
Y
cat >dup.yaml <<'Y'
current-context: x
clusters:
- {name: c, cluster: {server: "https://a:1"}}
- {name: c, cluster: {server: "https://b:2"}}
contexts:
- {name: x, context: {cluster: c}}
Y

# scenario: KUBECONFIG | context | HOME
scenarios=(
  "sub/a.yaml:b.yaml||$w/nohome"
  "b.yaml:sub/a.yaml||$w/nohome"
  "::missing.yaml:b.yaml:sub/a.yaml:||$w/nohome"
  "c.yaml:b.yaml:sub/a.yaml||$w/nohome"
  "b.yaml:c.yaml|c4|$w/nohome"
  "sub/a.yaml:b.yaml|c3|$w/nohome"
  "$w/b.yaml:$w/sub/a.yaml||$w/nohome"
  "||$w/home"
  "bool.yaml||$w/nohome"
  "b.yaml|nosuch|$w/nohome"
  "nocur.yaml||$w/nohome"
  "sub/a.yaml||$w/nohome"
  "b.yaml:dup.yaml||$w/nohome"
)
fails=0
for s in "${scenarios[@]}"; do
  IFS='|' read -r kc ctx home <<<"$s"
  env_kc=(); [ -n "$kc" ] && env_kc=(KUBECONFIG="$kc")
  kargs=(config view --minify --flatten -o json); [ -n "$ctx" ] && kargs+=(--context "$ctx")
  set +e
  kout=$(env -u KUBECONFIG "${env_kc[@]}" HOME="$home" kubectl "${kargs[@]}" 2>"$w/kerr")
  krc=$?
  mout=$(env -u KUBECONFIG "${env_kc[@]}" HOME="$home" "$dump" $ctx 2>"$w/merr")
  mrc=$?
  set -e
  if [ $krc != 0 ] || [ $mrc != 0 ]; then
    if [ $krc != 0 ] && [ $mrc = 1 ] && grep -q "kubeconfig" "$w/merr"; then
      echo "ok   [$s] both refuse: kubectl: $(head -c 120 "$w/kerr") | mflow: $(head -c 160 "$w/merr")"
    else
      echo "FAIL [$s] kubectl rc $krc, mflow rc $mrc"; cat "$w/kerr" "$w/merr"; fails=$((fails+1))
    fi
    continue
  fi
  if python3 - "$kout" "$mout" "$home" <<'PY'
import json, os, subprocess, sys
k = json.loads(subprocess.run([sys.executable, os.environ["NORM"]], input=sys.argv[1], capture_output=True,
                              text=True, check=True).stdout)
m = json.loads(sys.argv[2])
# paths kubectl prints as written; the loader's are absolute: the loader's must end with
# kubectl's and exist (it resolved against the right directory)
for key, get in (("tokenFile", lambda d: d.get("tokenFile")), ("exec.command", lambda d: (d.get("exec") or {}).get("command"))):
    kv, mv = get(k), get(m)
    if kv is None and mv is None:
        continue
    if kv is None or mv is None or not (mv == kv or mv.endswith("/" + kv)) or (key == "tokenFile" and not os.path.exists(mv)):
        print(f"  {key}: kubectl {kv!r} mflow {mv!r}"); sys.exit(1)
    if key == "tokenFile": k.pop("tokenFile"); m.pop("tokenFile")
    else: k["exec"].pop("command"); m["exec"].pop("command")
if k != m:
    print("  kubectl:", json.dumps(k, sort_keys=True)); print("  mflow:  ", json.dumps(m, sort_keys=True)); sys.exit(1)
PY
  then
    echo "ok   [$s] $(echo "$mout" | tr -d '\n ' | head -c 150)"
  else
    echo "FAIL [$s]"; fails=$((fails+1))
  fi
done
[ $fails = 0 ] || { echo "FAIL: $fails of ${#scenarios[@]} scenarios differ from kubectl"; exit 1; }
echo "all ${#scenarios[@]} scenarios agree with kubectl $(kubectl version --client 2>/dev/null | head -1)"
