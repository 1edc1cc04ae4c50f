#!/bin/bash
# Starts the Kubernetes API stand-in (server.mjs; NOT a cluster: pods run as local processes)
# on 127.0.0.1 with a port the OS picks, with a test CA, and writes into DIR:
#   url  pid  server.log  ca.crt  admin-token  token  kubeconfig  exec-cred.sh  exec-calls
#   kubeconfig contexts: token (current; bearer token), cert (client certificate + key files),
#                        exec (exec-cred.sh, client.authentication.k8s.io/v1), wrong (a wrong token)
# Environment: STANDIN_NODES (1), STANDIN_NODE_CPU ("2"), STANDIN_NODE_MEMORY ("4Gi"),
#   STANDIN_GPUS (0: no nvidia.com/gpu), STANDIN_PATH (PATH of pod processes; default $PATH),
#   STANDIN_EXEC_TTL (seconds an exec token lives, 3600), STANDIN_BOOKMARK_MS (5000: watch bookmarks),
#   STANDIN_WATCH_WINDOW (50000: change events kept for watches that resume; older ones get 410),
#   MFLOW_K8S_VALIDATOR_DIR (where kubernetes-models is, see tests/k8s/validate-up.sh).
# Exit 0: running (stop it with down.sh DIR); 77: node, openssl or kubernetes-models missing.
# Usage: tests/k8s/standin/up.sh DIR
set -euo pipefail
dir=${1:?usage: up.sh DIR}
here=$(cd "$(dirname "$0")" && pwd)
command -v node >/dev/null || { echo "standin: node is needed (scripts/setup-deps.sh --test installs it)" >&2; exit 77; }
command -v openssl >/dev/null || { echo "standin: openssl is needed to make the test certificates" >&2; exit 77; }
command -v curl >/dev/null || { echo "standin: curl is needed to check the server answers" >&2; exit 77; }
models=$(bash "$here/../validate-up.sh" 2>"$dir.validate-up.err" | tail -1) || models=
if [ -z "$models" ]; then
  echo "standin: npm kubernetes-models (the schema behind fieldValidation) is not installed and could not be:" >&2
  cat "$dir.validate-up.err" >&2; rm -f "$dir.validate-up.err"; exit 77
fi
rm -f "$dir.validate-up.err"
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
if [ -f "$dir/pid" ] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
  echo "standin: already running in $dir (pid $(cat "$dir/pid")); stop it with down.sh $dir" >&2; exit 1
fi
rm -f "$dir/port" "$dir/url" "$dir/exec-tokens" "$dir/exec-calls"

# ---- certificates: a test CA, the server's (127.0.0.1, localhost), a client's ----
ossl() { openssl "$@" 2>>"$dir/openssl.log" >/dev/null; }
umask 077
ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$dir/ca.key" -out "$dir/ca.crt" \
  -days 2 -subj "/CN=mflow-k8s-standin-ca"
ossl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$dir/server.key" -out "$dir/server.csr" \
  -subj "/CN=kube-apiserver"
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >"$dir/server.ext"
ossl x509 -req -in "$dir/server.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial -days 2 \
  -extfile "$dir/server.ext" -out "$dir/server.crt"
ossl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$dir/client.key" -out "$dir/client.csr" \
  -subj "/O=system:masters/CN=standin-cert-user"
printf 'extendedKeyUsage=clientAuth\n' >"$dir/client.ext"
ossl x509 -req -in "$dir/client.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial -days 2 \
  -extfile "$dir/client.ext" -out "$dir/client.crt"
rm -f "$dir"/*.csr "$dir"/*.ext

# ---- tokens ----
rand() { openssl rand -hex 16; }
token=$(rand); admin=$(rand)
printf '%s' "$token" >"$dir/token"
printf '%s' "$admin" >"$dir/admin-token"
printf '%s standin-user\n%s standin-admin\n' "$token" "$admin" >"$dir/tokens"

# ---- the exec credential plugin: a fresh token per run, valid STANDIN_EXEC_TTL seconds ----
cat >"$dir/exec-cred.sh" <<SH
#!/bin/sh
# Exec credential plugin of the API stand-in: prints an ExecCredential with a new token that the
# server accepts until its expirationTimestamp; every run appends a line to exec-calls.
set -e
tok=exec-\$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
exp=\$((\$(date +%s) + ${STANDIN_EXEC_TTL:-3600}))
echo "\$tok \$exp" >>"$dir/exec-tokens"
printf "%s %s\\n" "\$(date -u +%Y-%m-%dT%H:%M:%SZ)" "\$(printf %s "\${KUBERNETES_EXEC_INFO:-no-exec-info}" | tr -d "\\n")" >>"$dir/exec-calls"
api=client.authentication.k8s.io/v1
case "\${KUBERNETES_EXEC_INFO:-}" in *v1beta1*) api=client.authentication.k8s.io/v1beta1;; esac
printf '{"apiVersion":"%s","kind":"ExecCredential","status":{"token":"%s","expirationTimestamp":"%s"}}\n' \\
  "\$api" "\$tok" "\$(date -u -d @\$exp +%Y-%m-%dT%H:%M:%SZ)"
SH
chmod 700 "$dir/exec-cred.sh"
umask 022

# ---- the server ----
# STANDIN_NODE_ARGS: extra node options (e.g. --cpu-prof) for looking into the server itself
# shellcheck disable=SC2086
STANDIN_PATH=${STANDIN_PATH:-$PATH} setsid node ${STANDIN_NODE_ARGS:-} "$here/server.mjs" "$dir" "$models" >"$dir/server.log" 2>&1 </dev/null &
echo $! >"$dir/pid"
for _ in $(seq 1 300); do
  [ -s "$dir/port" ] && break
  kill -0 "$(cat "$dir/pid")" 2>/dev/null || { echo "standin: the server exited at start:" >&2; tail -20 "$dir/server.log" >&2; exit 1; }
  sleep 0.05
done
[ -s "$dir/port" ] || { echo "standin: the server wrote no port in 15 s (see $dir/server.log)" >&2; bash "$here/down.sh" "$dir"; exit 1; }
url="https://127.0.0.1:$(cat "$dir/port")"
for _ in $(seq 1 100); do
  curl -sf --cacert "$dir/ca.crt" "$url/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -sf --cacert "$dir/ca.crt" "$url/readyz" >/dev/null ||
  { echo "standin: $url/readyz does not answer (see $dir/server.log)" >&2; bash "$here/down.sh" "$dir"; exit 1; }
printf '%s' "$url" >"$dir/url"

cat >"$dir/kubeconfig" <<YAML
apiVersion: v1
kind: Config
current-context: token
clusters:
- name: standin
  cluster:
    server: $url
    certificate-authority: $dir/ca.crt
users:
- name: token
  user:
    token: $token
- name: cert
  user:
    client-certificate: $dir/client.crt
    client-key: $dir/client.key
- name: exec
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: $dir/exec-cred.sh
      interactiveMode: Never
- name: wrong
  user:
    token: wrong-$(rand)
contexts:
- name: token
  context: {cluster: standin, user: token, namespace: default}
- name: cert
  context: {cluster: standin, user: cert, namespace: default}
- name: exec
  context: {cluster: standin, user: exec, namespace: default}
- name: wrong
  context: {cluster: standin, user: wrong, namespace: default}
YAML
chmod 600 "$dir/kubeconfig"
echo "$url"
