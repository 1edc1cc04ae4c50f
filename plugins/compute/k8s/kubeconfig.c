/* Kubernetes connection settings as kubectl finds them: KUBECONFIG / ~/.kube/config read with
 * libyaml, merged by kubectl's rules, or the in-cluster service account. See kubeconfig.h. */
#include "kubeconfig.h"
#include "k8s_msg.h"

#include <mflow/plugin.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <yaml.h>

extern char **environ;

#define SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"
#define EXEC_V1 "client.authentication.k8s.io/v1"
#define EXEC_V1BETA1 "client.authentication.k8s.io/v1beta1"
#define MAX_DEPTH 64


/* ---- base64, RFC 3339 ---- */

static int b64val(int c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

int k8s_base64_decode(const char *in, char **out, size_t *outlen)
{
    size_t n = strlen(in);
    char *buf = malloc(n / 4 * 3 + 4);
    if (!buf) return MF_ENOMEM;
    uint32_t acc = 0;
    int bits = 0, pad = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)in[i];
        if (isspace(c)) continue;              /* PEM-style line breaks are allowed */
        if (c == '=') { pad++; continue; }
        int v = b64val(c);
        if (v < 0 || pad) { free(buf); return MF_EINVAL; }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[o++] = (char)((acc >> bits) & 0xff);
        }
    }
    /* leftover bits must be padding zeros, and at most two '=' */
    if (pad > 2 || bits >= 6 || (acc & ((1u << bits) - 1))) { free(buf); return MF_EINVAL; }
    buf[o] = '\0';
    *out = buf;
    *outlen = o;
    return 0;
}

char *k8s_base64_encode(const void *in, size_t len)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *p = in;
    char *out = malloc((len + 2) / 3 * 4 + 1), *o = out;
    if (!out) return NULL;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < len ? (uint32_t)p[i + 1] << 8 : 0) |
                     (i + 2 < len ? p[i + 2] : 0);
        *o++ = tab[v >> 18 & 63];
        *o++ = tab[v >> 12 & 63];
        *o++ = i + 1 < len ? tab[v >> 6 & 63] : '=';
        *o++ = i + 2 < len ? tab[v & 63] : '=';
    }
    *o = '\0';
    return out;
}

int k8s_parse_rfc3339(const char *s, time_t *out)
{
    struct tm tm = {0};
    int consumed = 0;
    if (sscanf(s, "%4d-%2d-%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &consumed) != 3 ||
        consumed != 10)
        return MF_EINVAL;
    const char *p = s + 10;
    if (*p != 'T' && *p != 't' && *p != ' ') return MF_EINVAL;
    p++;
    if (sscanf(p, "%2d:%2d:%2d%n", &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 3 ||
        consumed != 8)
        return MF_EINVAL;
    p += 8;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p)) return MF_EINVAL;
        while (isdigit((unsigned char)*p)) p++;
    }
    long off = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int hh, mm;
        if (sscanf(p + 1, "%2d:%2d%n", &hh, &mm, &consumed) != 2 || consumed != 5) return MF_EINVAL;
        off = (hh * 3600L + mm * 60L) * (*p == '-' ? -1 : 1);
        p += 6;
    } else {
        return MF_EINVAL;
    }
    if (*p) return MF_EINVAL;
    if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
        tm.tm_min > 59 || tm.tm_sec > 60)
        return MF_EINVAL;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t t = timegm(&tm);
    *out = t - off;
    return 0;
}

/* ---- YAML into jansson ---- */

/* Plain scalars are typed as YAML 1.1 (what kubectl's yaml reader does); quoted ones stay text. */
static json_t *scalar_to_json(const yaml_node_t *n)
{
    const char *v = (const char *)n->data.scalar.value;
    if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
        static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON", NULL};
        static const char *const no[] = {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF", NULL};
        for (int i = 0; yes[i]; i++) if (!strcmp(v, yes[i])) return json_true();
        for (int i = 0; no[i]; i++) if (!strcmp(v, no[i])) return json_false();
        if (!*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") || !strcmp(v, "NULL"))
            return json_null();
    }
    return json_stringn(v, n->data.scalar.length);
}

static json_t *node_to_json(yaml_document_t *d, yaml_node_t *n, int depth)
{
    if (!n || depth > MAX_DEPTH) return NULL;
    switch (n->type) {
    case YAML_SCALAR_NODE:
        return scalar_to_json(n);
    case YAML_SEQUENCE_NODE: {
        json_t *a = json_array();
        for (yaml_node_item_t *it = n->data.sequence.items.start; a && it < n->data.sequence.items.top; it++) {
            json_t *v = node_to_json(d, yaml_document_get_node(d, *it), depth + 1);
            if (!v || json_array_append_new(a, v)) { json_decref(a); return NULL; }
        }
        return a;
    }
    case YAML_MAPPING_NODE: {
        json_t *o = json_object();
        for (yaml_node_pair_t *p = n->data.mapping.pairs.start; o && p < n->data.mapping.pairs.top; p++) {
            yaml_node_t *k = yaml_document_get_node(d, p->key);
            if (!k || k->type != YAML_SCALAR_NODE) { json_decref(o); return NULL; }
            json_t *v = node_to_json(d, yaml_document_get_node(d, p->value), depth + 1);
            if (!v || json_object_set_new(o, (const char *)k->data.scalar.value, v)) {
                json_decref(o);
                return NULL;
            }
        }
        return o;
    }
    default:
        return NULL;
    }
}

/* MF_ENOTFOUND when the file does not exist (KUBECONFIG entries may name missing files). */
static int load_yaml(const char *path, json_t **out, char *msg, size_t msglen)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT) return MF_ENOTFOUND;
        return k8s_fail(msg, msglen, MF_EIO, "kubeconfig %s: cannot read it (%s): fix its permissions "
                    "or remove it from KUBECONFIG", path, strerror(errno));
    }
    yaml_parser_t p;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&p)) { fclose(f); return MF_ENOMEM; }
    yaml_parser_set_input_file(&p, f);
    int rc = 0;
    if (!yaml_parser_load(&p, &doc)) {
        rc = k8s_fail(msg, msglen, MF_EINVAL, "kubeconfig %s: not valid YAML at line %zu column %zu (%s): "
                  "fix the file or remove it from KUBECONFIG", path, p.problem_mark.line + 1,
                  p.problem_mark.column + 1, p.problem ? p.problem : "parse error");
        yaml_parser_delete(&p);
        fclose(f);
        return rc;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root) {
        *out = json_object();                  /* an empty file is an empty config */
    } else {
        *out = node_to_json(&doc, root, 0);
        if (!*out || !json_is_object(*out)) {
            json_decref(*out);
            *out = NULL;
            rc = k8s_fail(msg, msglen, MF_EINVAL, "kubeconfig %s: not a kubeconfig (the top level must be "
                      "a mapping with clusters, users and contexts): fix the file or remove it from "
                      "KUBECONFIG", path);
        }
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&p);
    fclose(f);
    if (!rc && !*out) rc = MF_ENOMEM;
    return rc;
}

/* ---- paths ---- */

static char *abs_path(const char *path)
{
    if (path[0] == '/') return strdup(path);
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd)) return NULL;
    char *r;
    return asprintf(&r, "%s/%s", cwd, path) < 0 ? NULL : r;
}

static char *dir_of(const char *abs)
{
    const char *slash = strrchr(abs, '/');
    if (!slash || slash == abs) return strdup("/");
    return strndup(abs, (size_t)(slash - abs));
}

/* kubectl's rule: a relative path in a kubeconfig is relative to that file's directory. */
static int resolve_field(json_t *obj, const char *key, const char *dir, int only_with_slash)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_string(v)) return 0;
    const char *s = json_string_value(v);
    if (!*s || s[0] == '/') return 0;
    if (only_with_slash && !strchr(s, '/')) return 0;   /* a bare command is looked up in PATH */
    char *r;
    if (asprintf(&r, "%s/%s", dir, s) < 0) return MF_ENOMEM;
    int rc = json_object_set_new(obj, key, json_string(r)) ? MF_ENOMEM : 0;
    free(r);
    return rc;
}

static int read_small_file(const char *path, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return errno ? errno : EIO;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    if (!buf) { fclose(f); return MF_ENOMEM; }
    for (;;) {
        if (n == cap) {
            if (cap > (64u << 20)) { free(buf); fclose(f); return EFBIG; }
            char *nb = realloc(buf, cap * 2 + 1);
            if (!nb) { free(buf); fclose(f); return MF_ENOMEM; }
            buf = nb;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0) break;
    }
    int err = ferror(f);
    fclose(f);
    if (err) { free(buf); return EIO; }
    buf[n] = '\0';
    *out = buf;
    if (len) *len = n;
    return 0;
}

static void trim_right(char *s)
{
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) s[--n] = '\0';
}

/* ---- merge ---- */

struct merged {
    json_t *clusters, *users, *contexts;   /* name -> {"file": path, "v": object} */
    char *current;                          /* first non-empty current-context */
    char *current_file;
    char *files;                            /* the files read, ", "-joined, for messages */
};

static int merge_list(json_t *cfg, const char *list, const char *inner, json_t *into,
                      const char *file, const char *dir, char *msg, size_t msglen)
{
    json_t *arr = json_object_get(cfg, list);
    if (!arr || json_is_null(arr)) return 0;
    if (!json_is_array(arr))
        return k8s_fail(msg, msglen, MF_EINVAL, "kubeconfig %s: '%s' must be a list: fix the file", file, list);
    json_t *seen = json_object();          /* names in this file: a repeat is an error, as in kubectl */
    if (!seen) return MF_ENOMEM;
    size_t i;
    json_t *item;
    int rc = 0;
    json_array_foreach(arr, i, item) {
        const char *name = json_string_value(json_object_get(item, "name"));
        json_t *v = json_object_get(item, inner);
        if (!name || !*name) {
            rc = k8s_fail(msg, msglen, MF_EINVAL, "kubeconfig %s: %s[%zu] has no name: fix the file", file, list, i);
            break;
        }
        if (json_object_get(seen, name)) {
            rc = k8s_fail(msg, msglen, MF_EINVAL, "kubeconfig %s: %s has '%s' twice: remove one of them",
                      file, list, name);
            break;
        }
        json_object_set_new(seen, name, json_true());
        if (v && !json_is_object(v) && !json_is_null(v)) {
            rc = k8s_fail(msg, msglen, MF_EINVAL, "kubeconfig %s: %s '%s': '%s' must be a mapping: fix the file",
                      file, list, name, inner);
            break;
        }
        if (json_object_get(into, name)) continue;      /* the first file to define a name wins whole */
        json_t *copy = v && json_is_object(v) ? json_deep_copy(v) : json_object();
        if (!copy) { rc = MF_ENOMEM; break; }
        if (!strcmp(list, "clusters")) {
            rc = resolve_field(copy, "certificate-authority", dir, 0);
        } else if (!strcmp(list, "users")) {
            if (!rc) rc = resolve_field(copy, "client-certificate", dir, 0);
            if (!rc) rc = resolve_field(copy, "client-key", dir, 0);
            if (!rc) rc = resolve_field(copy, "tokenFile", dir, 0);
            json_t *ex = json_object_get(copy, "exec");
            if (!rc && json_is_object(ex)) rc = resolve_field(ex, "command", dir, 1);
        }
        if (!rc && json_object_set_new(into, name, json_pack("{s:s,s:o}", "file", file, "v", copy)))
            rc = MF_ENOMEM;
        if (rc) break;
    }
    json_decref(seen);
    return rc;
}

static int merge_file(struct merged *m, const char *path, char *msg, size_t msglen)
{
    json_t *cfg;
    char *ap = abs_path(path);
    if (!ap) return MF_ENOMEM;
    int rc = load_yaml(ap, &cfg, msg, msglen);
    if (rc) { free(ap); return rc; }
    char *dir = dir_of(ap);
    if (!dir) rc = MF_ENOMEM;
    if (!rc) rc = merge_list(cfg, "clusters", "cluster", m->clusters, ap, dir, msg, msglen);
    if (!rc) rc = merge_list(cfg, "users", "user", m->users, ap, dir, msg, msglen);
    if (!rc) rc = merge_list(cfg, "contexts", "context", m->contexts, ap, dir, msg, msglen);
    const char *cur = json_string_value(json_object_get(cfg, "current-context"));
    if (!rc && cur && *cur && !m->current) {
        m->current = strdup(cur);
        m->current_file = strdup(ap);
        if (!m->current || !m->current_file) rc = MF_ENOMEM;
    }
    if (!rc) {
        char *nf;
        if (asprintf(&nf, "%s%s%s", m->files ? m->files : "", m->files ? ", " : "", ap) < 0) {
            rc = MF_ENOMEM;
        } else {
            free(m->files);
            m->files = nf;
        }
    }
    free(dir);
    free(ap);
    json_decref(cfg);
    return rc;
}

static void merged_fini(struct merged *m)
{
    json_decref(m->clusters);
    json_decref(m->users);
    json_decref(m->contexts);
    free(m->current);
    free(m->current_file);
    free(m->files);
}

/* ---- building the connection ---- */

static int dup_opt(json_t *obj, const char *key, char **out)
{
    const char *s = json_string_value(json_object_get(obj, key));
    *out = NULL;
    if (!s || !*s) return 0;
    *out = strdup(s);
    return *out ? 0 : MF_ENOMEM;
}

static int decode_field(json_t *obj, const char *key, char **out, size_t *len, const char *what,
                        const char *name, const char *file, char *msg, size_t msglen)
{
    const char *s = json_string_value(json_object_get(obj, key));
    if (!s || !*s) return 0;
    int rc = k8s_base64_decode(s, out, len);
    if (rc == MF_EINVAL)
        return k8s_fail(msg, msglen, MF_EINVAL, "kubeconfig %s: %s of %s '%s' is not valid base64: "
                    "fix the file (kubectl config set ... --embed-certs writes it)", file, key, what, name);
    return rc;
}

static int need_readable(const char *path, const char *key, const char *what, const char *name,
                         const char *file, char *msg, size_t msglen)
{
    if (!path || access(path, R_OK) == 0) return 0;
    return k8s_fail(msg, msglen, MF_ENOTFOUND, "kubeconfig %s: %s '%s' names %s %s, which cannot be read "
                "(%s): fix the path (relative paths are relative to the kubeconfig's directory)",
                file, what, name, key, path, strerror(errno));
}

static int build_exec(json_t *ex, const char *name, const char *file, struct k8s_exec **out,
                      char *msg, size_t msglen)
{
    struct k8s_exec *e = calloc(1, sizeof *e);
    if (!e) return MF_ENOMEM;
    *out = e;
    if (dup_opt(ex, "apiVersion", &e->api_version) || dup_opt(ex, "command", &e->command))
        return MF_ENOMEM;
    if (!e->command)
        return k8s_fail(msg, msglen, MF_EINVAL, "kubeconfig %s: user '%s': exec has no command: "
                    "set users[].user.exec.command", file, name);
    if (!e->api_version || (strcmp(e->api_version, EXEC_V1) && strcmp(e->api_version, EXEC_V1BETA1)))
        return k8s_fail(msg, msglen, MF_ENOTSUP, "kubeconfig %s: user '%s': exec apiVersion '%s' is not "
                    "supported: use %s or %s", file, name, e->api_version ? e->api_version : "(none)",
                    EXEC_V1, EXEC_V1BETA1);
    const char *im = json_string_value(json_object_get(ex, "interactiveMode"));
    if (!im || !*im) {
        if (!strcmp(e->api_version, EXEC_V1))   /* required in v1, IfAvailable in v1beta1 */
            return k8s_fail(msg, msglen, MF_EINVAL, "kubeconfig %s: user '%s': exec interactiveMode must "
                        "be set for %s (Never, IfAvailable or Always)", file, name, EXEC_V1);
        e->interactive = K8S_EXEC_IF_AVAILABLE;
    } else if (!strcmp(im, "Never")) {
        e->interactive = K8S_EXEC_NEVER;
    } else if (!strcmp(im, "IfAvailable")) {
        e->interactive = K8S_EXEC_IF_AVAILABLE;
    } else if (!strcmp(im, "Always")) {
        e->interactive = K8S_EXEC_ALWAYS;
    } else {
        return k8s_fail(msg, msglen, MF_EINVAL, "kubeconfig %s: user '%s': exec interactiveMode '%s' is "
                    "not one of Never, IfAvailable, Always", file, name, im);
    }
    json_t *args = json_object_get(ex, "args");
    size_t na = json_is_array(args) ? json_array_size(args) : 0;
    e->args = calloc(na + 1, sizeof *e->args);
    if (!e->args) return MF_ENOMEM;
    for (size_t i = 0; i < na; i++) {
        const char *a = json_string_value(json_array_get(args, i));
        if (!a)
            return k8s_fail(msg, msglen, MF_EINVAL, "kubeconfig %s: user '%s': exec args[%zu] is not a "
                        "string: quote it", file, name, i);
        if (!(e->args[i] = strdup(a))) return MF_ENOMEM;
    }
    json_t *env = json_object_get(ex, "env");
    size_t ne = json_is_array(env) ? json_array_size(env) : 0;
    e->env = calloc(ne + 1, sizeof *e->env);
    if (!e->env) return MF_ENOMEM;
    for (size_t i = 0; i < ne; i++) {
        json_t *it = json_array_get(env, i);
        const char *k = json_string_value(json_object_get(it, "name"));
        const char *v = json_string_value(json_object_get(it, "value"));
        if (!k || !*k || strchr(k, '=') || !v)
            return k8s_fail(msg, msglen, MF_EINVAL, "kubeconfig %s: user '%s': exec env[%zu] needs a name "
                        "and a string value", file, name, i);
        if (asprintf(&e->env[i], "%s=%s", k, v) < 0) { e->env[i] = NULL; return MF_ENOMEM; }
    }
    return 0;
}

/* spec.cluster for an exec plugin that asks for it: the cluster's connection fields, its CA
 * as base64 PEM, and the extension named client.authentication.k8s.io/exec as config. */
static int exec_cluster_info(struct k8s_conn *c, json_t *cl, char *msg, size_t msglen)
{
    json_t *o = json_pack("{s:s}", "server", c->server);
    if (!o) return MF_ENOMEM;
    int rc = 0;
    if (c->tls_server_name) json_object_set_new(o, "tls-server-name", json_string(c->tls_server_name));
    if (c->insecure_skip_tls_verify) json_object_set_new(o, "insecure-skip-tls-verify", json_true());
    char *pem = NULL;
    size_t plen = 0;
    if (c->ca_pem) {
        pem = c->ca_pem;
        plen = c->ca_len;
    } else if (c->ca_file && (rc = read_small_file(c->ca_file, &pem, &plen))) {
        json_decref(o);
        return k8s_fail(msg, msglen, rc > 0 ? rc : MF_EIO, "kubeconfig %s: cluster '%s': cannot read "
                    "certificate-authority %s (%s)", c->source, c->cluster, c->ca_file,
                    rc > 0 ? strerror(rc) : "error");
    }
    if (pem) {
        char *b = k8s_base64_encode(pem, plen);
        if (!b || json_object_set_new(o, "certificate-authority-data", json_string(b))) rc = MF_ENOMEM;
        free(b);
        if (pem != c->ca_pem) free(pem);
    }
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(cl, "extensions"), i, it) {
        const char *n = json_string_value(json_object_get(it, "name"));
        json_t *ext = json_object_get(it, "extension");
        if (n && !strcmp(n, "client.authentication.k8s.io/exec") && ext)
            json_object_set(o, "config", ext);
    }
    if (!rc && !(c->exec->cluster_json = json_dumps(o, JSON_COMPACT))) rc = MF_ENOMEM;
    json_decref(o);
    return rc;
}

static int from_kubeconfig(struct merged *m, const char *want, struct k8s_conn *c, char *msg, size_t msglen)
{
    const char *ctxname = want && *want ? want : m->current;
    if (!ctxname)
        return k8s_fail(msg, msglen, MF_EINVAL, "kubeconfig %s: no current-context: choose one with "
                    "`kubectl config use-context NAME` or pass --k8s-context", m->files);
    json_t *ce = json_object_get(m->contexts, ctxname);
    if (!ce) {
        char known[512] = "";
        const char *k;
        json_t *v;
        json_object_foreach(m->contexts, k, v) {
            size_t l = strlen(known);
            snprintf(known + l, sizeof known - l, "%s%s", l ? ", " : "", k);
        }
        return k8s_fail(msg, msglen, MF_ENOTFOUND, "kubeconfig %s: context '%s' %s not found (contexts: %s): "
                    "pick one of them with --k8s-context or `kubectl config use-context`", m->files,
                    ctxname, want && *want ? "(from --k8s-context)" : "(the current-context)",
                    *known ? known : "none");
    }
    const char *cfile = json_string_value(json_object_get(ce, "file"));
    json_t *ctx = json_object_get(ce, "v");
    const char *clname = json_string_value(json_object_get(ctx, "cluster"));
    const char *uname = json_string_value(json_object_get(ctx, "user"));
    if (!clname || !*clname)
        return k8s_fail(msg, msglen, MF_EINVAL, "kubeconfig %s: context '%s' names no cluster: set "
                    "contexts[].context.cluster", cfile, ctxname);
    json_t *cle = json_object_get(m->clusters, clname);
    if (!cle)
        return k8s_fail(msg, msglen, MF_ENOTFOUND, "kubeconfig %s: context '%s' names cluster '%s', which "
                    "no kubeconfig file defines: add it or fix the context", m->files, ctxname, clname);
    const char *clfile = json_string_value(json_object_get(cle, "file"));
    json_t *cl = json_object_get(cle, "v");
    if (!(c->context = strdup(ctxname)) || !(c->cluster = strdup(clname)) ||
        !(c->user = strdup(uname ? uname : "")) || !(c->source = strdup(m->files)))
        return MF_ENOMEM;
    const char *ns = json_string_value(json_object_get(ctx, "namespace"));
    if (!(c->namespace_ = strdup(ns && *ns ? ns : "default"))) return MF_ENOMEM;

    int rc;
    if ((rc = dup_opt(cl, "server", &c->server))) return rc;
    if (!c->server)
        return k8s_fail(msg, msglen, MF_EINVAL, "kubeconfig %s: cluster '%s' has no server: set "
                    "clusters[].cluster.server (https://HOST:PORT)", clfile, clname);
    if ((rc = dup_opt(cl, "tls-server-name", &c->tls_server_name))) return rc;
    json_t *ins = json_object_get(cl, "insecure-skip-tls-verify");
    if (ins && !json_is_boolean(ins) && !json_is_null(ins))
        return k8s_fail(msg, msglen, MF_EINVAL, "kubeconfig %s: cluster '%s': insecure-skip-tls-verify "
                    "must be true or false", clfile, clname);
    c->insecure_skip_tls_verify = json_is_true(ins);
    if ((rc = decode_field(cl, "certificate-authority-data", &c->ca_pem, &c->ca_len, "cluster",
                           clname, clfile, msg, msglen)))
        return rc;
    if (!c->ca_pem) {      /* inline data wins over the file, as in client-go */
        if ((rc = dup_opt(cl, "certificate-authority", &c->ca_file))) return rc;
        if ((rc = need_readable(c->ca_file, "certificate-authority", "cluster", clname, clfile, msg, msglen)))
            return rc;
    }
    if (c->insecure_skip_tls_verify && (c->ca_pem || c->ca_file))
        return k8s_fail(msg, msglen, MF_EINVAL, "kubeconfig %s: cluster '%s' sets both a certificate "
                    "authority and insecure-skip-tls-verify: remove one of them", clfile, clname);

    if (!uname || !*uname) return 0;                   /* anonymous */
    json_t *ue = json_object_get(m->users, uname);
    if (!ue)
        return k8s_fail(msg, msglen, MF_ENOTFOUND, "kubeconfig %s: context '%s' names user '%s', which no "
                    "kubeconfig file defines: add it or fix the context", m->files, ctxname, uname);
    const char *ufile = json_string_value(json_object_get(ue, "file"));
    json_t *u = json_object_get(ue, "v");
    if (json_object_get(u, "auth-provider"))
        return k8s_fail(msg, msglen, MF_ENOTSUP, "kubeconfig %s: user '%s' uses an auth-provider, which "
                    "kubectl no longer supports: use the provider's exec plugin (e.g. "
                    "gke-gcloud-auth-plugin, kubelogin)", ufile, uname);
    if (json_object_get(u, "username") || json_object_get(u, "password"))
        return k8s_fail(msg, msglen, MF_ENOTSUP, "kubeconfig %s: user '%s' uses basic authentication "
                    "(username/password), which mflow does not support: use a token, a client "
                    "certificate or an exec plugin", ufile, uname);
    if ((rc = dup_opt(u, "token", &c->token)) || (rc = dup_opt(u, "tokenFile", &c->token_file)))
        return rc;
    if ((rc = need_readable(c->token_file, "tokenFile", "user", uname, ufile, msg, msglen))) return rc;
    if ((rc = decode_field(u, "client-certificate-data", &c->cert_pem, &c->cert_len, "user", uname,
                           ufile, msg, msglen)) ||
        (rc = decode_field(u, "client-key-data", &c->key_pem, &c->key_len, "user", uname, ufile,
                           msg, msglen)))
        return rc;
    if (!c->cert_pem) {
        if ((rc = dup_opt(u, "client-certificate", &c->cert_file))) return rc;
        if ((rc = need_readable(c->cert_file, "client-certificate", "user", uname, ufile, msg, msglen)))
            return rc;
    }
    if (!c->key_pem) {
        if ((rc = dup_opt(u, "client-key", &c->key_file))) return rc;
        if ((rc = need_readable(c->key_file, "client-key", "user", uname, ufile, msg, msglen)))
            return rc;
    }
    int has_cert = c->cert_pem || c->cert_file, has_key = c->key_pem || c->key_file;
    if (has_cert != has_key)
        return k8s_fail(msg, msglen, MF_EINVAL, "kubeconfig %s: user '%s' has a client %s but no client "
                    "%s: set both client-certificate(-data) and client-key(-data)", ufile, uname,
                    has_cert ? "certificate" : "key", has_cert ? "key" : "certificate");
    json_t *ex = json_object_get(u, "exec");
    if (json_is_object(ex) && (rc = build_exec(ex, uname, ufile, &c->exec, msg, msglen))) return rc;
    if (c->exec && json_is_true(json_object_get(ex, "provideClusterInfo")))
        return exec_cluster_info(c, cl, msg, msglen);
    return 0;
}

static int from_incluster(const struct k8s_load_opts *o, const char *host, const char *port,
                          struct k8s_conn *c, char *msg, size_t msglen)
{
    const char *dir = o->incluster_dir ? o->incluster_dir : SA_DIR;
    int v6 = strchr(host, ':') != NULL;
    if (asprintf(&c->server, "https://%s%s%s:%s", v6 ? "[" : "", host, v6 ? "]" : "", port) < 0) {
        c->server = NULL;
        return MF_ENOMEM;
    }
    if (asprintf(&c->token_file, "%s/token", dir) < 0) { c->token_file = NULL; return MF_ENOMEM; }
    if (asprintf(&c->ca_file, "%s/ca.crt", dir) < 0) { c->ca_file = NULL; return MF_ENOMEM; }
    if (!(c->source = strdup("in-cluster")) || !(c->context = strdup("")) ||
        !(c->cluster = strdup("")) || !(c->user = strdup("")))
        return MF_ENOMEM;
    const char *need[] = {c->token_file, c->ca_file};
    for (int i = 0; i < 2; i++)
        if (access(need[i], R_OK))
            return k8s_fail(msg, msglen, MF_ENOTFOUND, "in-cluster configuration (KUBERNETES_SERVICE_HOST "
                        "is set): %s cannot be read (%s): mount the pod's service-account token "
                        "(automountServiceAccountToken) or set KUBECONFIG", need[i], strerror(errno));
    char *nsfile, *ns = NULL;
    if (asprintf(&nsfile, "%s/namespace", dir) < 0) return MF_ENOMEM;
    if (read_small_file(nsfile, &ns, NULL) == 0) trim_right(ns);
    free(nsfile);
    if (ns && *ns) {
        c->namespace_ = ns;
    } else {
        free(ns);
        if (!(c->namespace_ = strdup("default"))) return MF_ENOMEM;
    }
    return 0;
}

int k8s_kubeconfig_load(const struct k8s_load_opts *opts, struct k8s_conn **out, char *msg, size_t msglen)
{
    static const struct k8s_load_opts none;
    const struct k8s_load_opts *o = opts ? opts : &none;
    *out = NULL;
    if (msg && msglen) msg[0] = '\0';
    struct k8s_conn *c = calloc(1, sizeof *c);
    if (!c) return MF_ENOMEM;
    struct merged m = {json_object(), json_object(), json_object(), NULL, NULL, NULL};
    int rc = 0, found = 0;
    if (!m.clusters || !m.users || !m.contexts) rc = MF_ENOMEM;

    const char *kc = o->kubeconfig_env ? o->kubeconfig_env : getenv("KUBECONFIG");
    char *tried = NULL;
    if (!rc && kc && *kc) {
        char *list = strdup(kc), *save = NULL;
        if (!list) rc = MF_ENOMEM;
        for (char *p = list ? strtok_r(list, ":", &save) : NULL; !rc && p; p = strtok_r(NULL, ":", &save)) {
            rc = merge_file(&m, p, msg, msglen);     /* empty entries are skipped by strtok */
            if (rc == MF_ENOTFOUND) rc = 0;          /* kubectl skips files that do not exist */
            else if (!rc) found++;
        }
        free(list);
        if (!rc && !found) tried = strdup(kc);
    } else if (!rc) {
        const char *home = o->home ? o->home : getenv("HOME");
        char *def = NULL;
        if (home && asprintf(&def, "%s/.kube/config", home) < 0) def = NULL;
        if (def) {
            rc = merge_file(&m, def, msg, msglen);
            if (rc == MF_ENOTFOUND) { rc = 0; tried = def; def = NULL; }
            else if (!rc) found++;
        }
        free(def);
    }

    if (!rc && !found) {
        const char *host = o->service_host ? o->service_host : getenv("KUBERNETES_SERVICE_HOST");
        const char *port = o->service_port ? o->service_port : getenv("KUBERNETES_SERVICE_PORT");
        if (host && *host && port && *port) {
            rc = from_incluster(o, host, port, c, msg, msglen);
        } else if (kc && *kc) {
            rc = k8s_fail(msg, msglen, MF_ENOTFOUND, "no kubeconfig: KUBECONFIG names %s, and none of "
                      "them exists: fix KUBECONFIG or create the file (kubectl config ...)", tried ? tried : kc);
        } else {
            rc = k8s_fail(msg, msglen, MF_ENOTFOUND, "no kubeconfig: %s does not exist, KUBECONFIG is not "
                      "set and this is not a pod (no KUBERNETES_SERVICE_HOST): set KUBECONFIG or "
                      "create ~/.kube/config (e.g. `kind create cluster`, `aws eks update-kubeconfig`)",
                      tried ? tried : "~/.kube/config");
        }
    } else if (!rc) {
        rc = from_kubeconfig(&m, o->context, c, msg, msglen);
    }
    free(tried);
    merged_fini(&m);
    if (rc) {
        if (rc == MF_ENOMEM && msg && msglen && !msg[0]) snprintf(msg, msglen, "out of memory reading kubeconfig");
        k8s_conn_destroy(c);
        return rc;
    }
    *out = c;
    return 0;
}

/* ---- credentials ---- */

static void cred_clear(struct k8s_cred *k)
{
    free(k->token);
    if (k->cert_pem) free(k->cert_pem);
    if (k->key_pem) { explicit_bzero(k->key_pem, k->key_len); free(k->key_pem); }
    memset(k, 0, sizeof *k);
}

static char *exec_info(const struct k8s_conn *c)
{
    json_t *spec = json_pack("{s:b}", "interactive", 0);
    if (spec && c->exec->cluster_json)
        json_object_set_new(spec, "cluster", json_loads(c->exec->cluster_json, 0, NULL));
    json_t *doc = json_pack("{s:s,s:s,s:o}", "apiVersion", c->exec->api_version, "kind",
                            "ExecCredential", "spec", spec);
    char *s = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    return s;
}

/* Environment for the plugin: ours, then the configured env, then KUBERNETES_EXEC_INFO (later
 * entries replace earlier ones with the same name, as in kubectl). */
static char **exec_env(const struct k8s_conn *c, char *info)
{
    size_t n = 0, ne = 0;
    while (environ[n]) n++;
    while (c->exec->env[ne]) ne++;
    char **env = calloc(n + ne + 2, sizeof *env);
    if (!env) return NULL;
    size_t k = 0;
    const char *add[ne + 1];
    for (size_t i = 0; i < ne; i++) add[i] = c->exec->env[i];
    add[ne] = info;
    for (size_t i = 0; i < n; i++) {
        size_t kl = strcspn(environ[i], "=");
        int replaced = 0;
        for (size_t j = 0; j <= ne; j++)
            if (!strncmp(add[j], environ[i], kl) && add[j][kl] == '=') replaced = 1;
        if (!replaced) env[k++] = environ[i];
    }
    for (size_t j = 0; j <= ne; j++) {
        int dup = 0;
        size_t kl = strcspn(add[j], "=");
        for (size_t l = j + 1; l <= ne; l++)
            if (!strncmp(add[l], add[j], kl) && add[l][kl] == '=') dup = 1;
        if (!dup) env[k++] = (char *)add[j];
    }
    env[k] = NULL;
    return env;
}

static int run_exec(struct k8s_conn *c, char **out, char *errtail, size_t errlen, int *status)
{
    char *json = exec_info(c), *info = NULL;
    if (!json || asprintf(&info, "KUBERNETES_EXEC_INFO=%s", json) < 0) { free(json); return MF_ENOMEM; }
    free(json);
    char **env = exec_env(c, info);
    size_t na = 0;
    while (c->exec->args[na]) na++;
    char **argv = calloc(na + 2, sizeof *argv);
    int po[2] = {-1, -1}, pe[2] = {-1, -1};
    int rc = 0;
    if (!env || !argv) { rc = MF_ENOMEM; goto out; }
    argv[0] = c->exec->command;
    for (size_t i = 0; i < na; i++) argv[i + 1] = c->exec->args[i];
    if (pipe2(po, O_CLOEXEC) || pipe2(pe, O_CLOEXEC)) { rc = errno; goto out; }
    pid_t pid = fork();
    if (pid < 0) { rc = errno; goto out; }
    if (pid == 0) {
        int nul = open("/dev/null", O_RDONLY);   /* never interactive: mflow has no terminal to lend */
        if (nul >= 0) dup2(nul, 0);
        dup2(po[1], 1);
        dup2(pe[1], 2);
        execvpe(argv[0], argv, env);
        _exit(127);
    }
    close(po[1]); po[1] = -1;
    close(pe[1]); pe[1] = -1;
    size_t cap = 4096, n = 0, en = 0;
    char *buf = malloc(cap + 1);
    if (!buf) rc = MF_ENOMEM;
    struct pollfd fds[2] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}};
    int open_fds = 2;
    while (open_fds > 0) {
        if (poll(fds, 2, -1) < 0) { if (errno == EINTR) continue; break; }
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            char tmp[4096];
            ssize_t r = read(fds[i].fd, tmp, sizeof tmp);
            if (r <= 0) { fds[i].fd = -1; open_fds--; continue; }
            if (i == 0 && buf) {
                if (n + (size_t)r > cap) {
                    size_t ncap = (n + (size_t)r) * 2;
                    char *nb = ncap < (16u << 20) ? realloc(buf, ncap + 1) : NULL;
                    if (!nb) { free(buf); buf = NULL; rc = MF_ENOMEM; continue; }
                    buf = nb;
                    cap = ncap;
                }
                memcpy(buf + n, tmp, (size_t)r);
                n += (size_t)r;
            } else if (i == 1 && en + 1 < errlen) {
                size_t take = (size_t)r < errlen - 1 - en ? (size_t)r : errlen - 1 - en;
                memcpy(errtail + en, tmp, take);
                en += take;
                errtail[en] = '\0';
            }
        }
    }
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    *status = st;
    if (buf) buf[n] = '\0';
    if (rc) { free(buf); goto out; }
    *out = buf;
out:
    for (int i = 0; i < 2; i++) {
        if (po[i] >= 0) close(po[i]);
        if (pe[i] >= 0) close(pe[i]);
    }
    if (info) explicit_bzero(info, strlen(info));
    free(info);
    free(env);
    free(argv);
    return rc;
}

static int exec_credentials(struct k8s_conn *c, struct k8s_cred *k, char *msg, size_t msglen)
{
    const char *u = c->user, *f = c->source, *cmd = c->exec->command;
    if (c->exec->interactive == K8S_EXEC_ALWAYS)
        return k8s_fail(msg, msglen, MF_EPERM, "kubeconfig %s: user '%s': exec plugin %s needs a terminal "
                    "(interactiveMode: Always) and mflow runs it without one: log in with the "
                    "provider's tool first, or set interactiveMode: IfAvailable", f, u, cmd);
    char *outp = NULL, errtail[256] = "";
    int st = 0;
    int rc = run_exec(c, &outp, errtail, sizeof errtail, &st);
    if (rc) return k8s_fail(msg, msglen, rc, "kubeconfig %s: user '%s': cannot run exec plugin %s (%s)",
                        f, u, cmd, rc > 0 ? strerror(rc) : "out of memory");
    c->exec_runs++;
    errtail[strcspn(errtail, "\n")] = '\0';    /* first line only: diagnostics, never the output */
    if (WIFEXITED(st) && WEXITSTATUS(st) == 127 && !outp[0]) {
        free(outp);
        return k8s_fail(msg, msglen, MF_EUNAVAIL, "kubeconfig %s: user '%s': exec plugin %s was not found: "
                    "install it or fix users[].user.exec.command (a command with '/' is relative to "
                    "the kubeconfig's directory)", f, u, cmd);
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        free(outp);
        return k8s_fail(msg, msglen, MF_EPERM, "kubeconfig %s: user '%s': exec plugin %s %s %d%s%s: "
                    "run it by hand to see why (it may need a login)", f, u, cmd,
                    WIFEXITED(st) ? "exited with status" : "was killed by signal",
                    WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st), errtail[0] ? ": " : "", errtail);
    }
    json_error_t je;
    json_t *doc = json_loads(outp, 0, &je);
    explicit_bzero(outp, strlen(outp));
    free(outp);
    if (!json_is_object(doc)) {
        json_decref(doc);
        return k8s_fail(msg, msglen, MF_EINVAL, "kubeconfig %s: user '%s': exec plugin %s did not print an "
                    "ExecCredential JSON object on stdout", f, u, cmd);
    }
    const char *kind = json_string_value(json_object_get(doc, "kind"));
    const char *av = json_string_value(json_object_get(doc, "apiVersion"));
    json_t *stt = json_object_get(doc, "status");
    const char *tok = json_string_value(json_object_get(stt, "token"));
    const char *crt = json_string_value(json_object_get(stt, "clientCertificateData"));
    const char *key = json_string_value(json_object_get(stt, "clientKeyData"));
    const char *exp = json_string_value(json_object_get(stt, "expirationTimestamp"));
    time_t expires = 0;
    if (!kind || strcmp(kind, "ExecCredential"))
        rc = k8s_fail(msg, msglen, MF_EINVAL, "kubeconfig %s: user '%s': exec plugin %s printed kind '%s', "
                  "not ExecCredential", f, u, cmd, kind ? kind : "(none)");
    else if (!av || strcmp(av, c->exec->api_version))
        rc = k8s_fail(msg, msglen, MF_EINVAL, "kubeconfig %s: user '%s': exec plugin %s answered apiVersion "
                  "'%s' where the kubeconfig asks for %s: make them agree", f, u, cmd,
                  av ? av : "(none)", c->exec->api_version);
    else if (!json_is_object(stt))
        rc = k8s_fail(msg, msglen, MF_EINVAL, "kubeconfig %s: user '%s': exec plugin %s returned no status",
                  f, u, cmd);
    else if ((crt && *crt) != (key && *key))
        rc = k8s_fail(msg, msglen, MF_EINVAL, "kubeconfig %s: user '%s': exec plugin %s returned a client "
                  "certificate without its key (or the reverse)", f, u, cmd);
    else if (!(tok && *tok) && !(crt && *crt))
        rc = k8s_fail(msg, msglen, MF_EINVAL, "kubeconfig %s: user '%s': exec plugin %s returned neither a "
                  "token nor a client certificate and key", f, u, cmd);
    else if (exp && *exp && k8s_parse_rfc3339(exp, &expires))
        rc = k8s_fail(msg, msglen, MF_EINVAL, "kubeconfig %s: user '%s': exec plugin %s returned an "
                  "expirationTimestamp that is not RFC 3339", f, u, cmd);
    if (!rc) {
        k->expires = expires;
        if (tok && *tok && !(k->token = strdup(tok))) rc = MF_ENOMEM;
        if (!rc && crt && *crt) {
            k->cert_len = strlen(crt);
            k->key_len = strlen(key);
            if (!(k->cert_pem = strdup(crt)) || !(k->key_pem = strdup(key))) rc = MF_ENOMEM;
        }
    }
    json_decref(doc);
    return rc;
}

static int read_pem(const char *path, char **out, size_t *len, const char *what, struct k8s_conn *c,
                    char *msg, size_t msglen)
{
    int rc = read_small_file(path, out, len);
    if (rc)
        return k8s_fail(msg, msglen, rc > 0 ? rc : MF_EIO, "kubeconfig %s: user '%s': cannot read %s %s "
                    "(%s): fix the path", c->source, c->user, what, path, rc > 0 ? strerror(rc) : "error");
    return 0;
}

int k8s_conn_credentials(struct k8s_conn *c, time_t now, const struct k8s_cred **out, char *msg, size_t msglen)
{
    if (!now) now = time(NULL);
    *out = NULL;
    int rc = 0;
    if (c->exec && !(c->exec_cached && (!c->cred.expires || now + 10 < c->cred.expires))) {
        struct k8s_cred fresh = {0};
        rc = exec_credentials(c, &fresh, msg, msglen);
        if (rc) { cred_clear(&fresh); return rc; }
        cred_clear(&c->cred);
        c->cred = fresh;
        c->exec_cached = 1;
    } else if (!c->exec) {
        cred_clear(&c->cred);
    }
    /* static credentials: a configured token wins over the plugin's (kubectl's precedence) */
    if (c->token || c->token_file) {
        char *t = NULL;
        if (c->token) {
            t = strdup(c->token);
            if (!t) return MF_ENOMEM;
        } else {
            rc = read_small_file(c->token_file, &t, NULL);
            if (rc)
                return k8s_fail(msg, msglen, rc > 0 ? rc : MF_EIO, "%s: cannot read token file %s (%s): "
                            "fix tokenFile", c->source, c->token_file, rc > 0 ? strerror(rc) : "error");
            trim_right(t);
            if (!*t) {
                free(t);
                return k8s_fail(msg, msglen, MF_EPERM, "%s: token file %s is empty: fix tokenFile",
                            c->source, c->token_file);
            }
        }
        if (c->cred.token) { explicit_bzero(c->cred.token, strlen(c->cred.token)); free(c->cred.token); }
        c->cred.token = t;
    }
    if (!c->cred.cert_pem && (c->cert_pem || c->cert_file)) {
        if (c->cert_pem) {
            c->cred.cert_pem = malloc(c->cert_len + 1);
            c->cred.key_pem = malloc(c->key_len + 1);
            if (!c->cred.cert_pem || !c->cred.key_pem) return MF_ENOMEM;
            memcpy(c->cred.cert_pem, c->cert_pem, c->cert_len + 1);
            memcpy(c->cred.key_pem, c->key_pem, c->key_len + 1);
            c->cred.cert_len = c->cert_len;
            c->cred.key_len = c->key_len;
        } else {
            if ((rc = read_pem(c->cert_file, &c->cred.cert_pem, &c->cred.cert_len, "client-certificate",
                               c, msg, msglen)) ||
                (rc = read_pem(c->key_file, &c->cred.key_pem, &c->cred.key_len, "client-key", c, msg, msglen)))
                return rc;
        }
    }
    *out = &c->cred;
    return 0;
}

void k8s_conn_invalidate(struct k8s_conn *c)
{
    if (c) c->exec_cached = 0;
}

static void free_strv(char **v)
{
    if (!v) return;
    for (size_t i = 0; v[i]; i++) free(v[i]);
    free(v);
}

void k8s_conn_destroy(struct k8s_conn *c)
{
    if (!c) return;
    cred_clear(&c->cred);
    free(c->source); free(c->context); free(c->cluster); free(c->user);
    free(c->server); free(c->namespace_); free(c->tls_server_name);
    free(c->ca_file); free(c->ca_pem);
    if (c->token) { explicit_bzero(c->token, strlen(c->token)); free(c->token); }
    free(c->token_file); free(c->cert_file); free(c->key_file);
    free(c->cert_pem);
    if (c->key_pem) { explicit_bzero(c->key_pem, c->key_len); free(c->key_pem); }
    if (c->exec) {
        free(c->exec->api_version);
        free(c->exec->command);
        free(c->exec->cluster_json);
        free_strv(c->exec->args);
        free_strv(c->exec->env);
        free(c->exec);
    }
    free(c);
}
