/* The batch/v1 Job for one task attempt. See manifest.h for the fields and the overlay rules. */
#include "manifest.h"
#include "k8s_msg.h"

#include <mflow/plugin.h>

#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HASH_LEN 10
#define LABEL_PREFIX "mflow/"


/* FNV-1a 64 of the parts, each followed by a NUL so ("ab","c") and ("a","bc") differ. */
static uint64_t hash_parts(const char *const *parts, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        for (const unsigned char *p = (const unsigned char *)(parts[i] ? parts[i] : ""); ; p++) {
            h ^= *p;
            h *= 1099511628211ULL;
            if (!*p) break;
        }
    }
    return h;
}

static void hash_hex(uint64_t h, char out[HASH_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < HASH_LEN; i++) out[i] = hex[(h >> (60 - 4 * i)) & 0xf];
    out[HASH_LEN] = '\0';
}

int k8s_job_name(const struct k8s_job_input *in, char *buf, size_t buflen)
{
    if (!in || !buf || buflen < K8S_NAME_MAX + 1) return MF_EINVAL;
    if (!in->flow || !*in->flow || !in->run_id || !*in->run_id || !in->step || !*in->step ||
        !in->task_id || !*in->task_id)
        return MF_EINVAL;
    char attempt[16];
    snprintf(attempt, sizeof attempt, "%" PRIu32, in->attempt);
    char *raw;
    if (asprintf(&raw, "mflow-%s-%s-%s-%s-%s", in->flow, in->run_id, in->step, in->task_id, attempt) < 0)
        return MF_ENOMEM;
    size_t n = strlen(raw);
    char *s = malloc(n + 1);
    if (!s) { free(raw); return MF_ENOMEM; }
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = (char)tolower((unsigned char)raw[i]);
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) c = '-';
        if (c == '-' && o && s[o - 1] == '-') continue;      /* no runs of '-' */
        s[o++] = c;
    }
    while (o && s[o - 1] == '-') o--;
    s[o] = '\0';
    if (o <= K8S_NAME_MAX && !strcmp(s, raw)) {
        memcpy(buf, s, o + 1);
    } else {
        const char *parts[] = {in->flow, in->run_id, in->step, in->task_id, attempt};
        char hx[HASH_LEN + 1];
        hash_hex(hash_parts(parts, 5), hx);
        size_t keep = o < K8S_NAME_MAX - HASH_LEN - 1 ? o : K8S_NAME_MAX - HASH_LEN - 1;
        while (keep && s[keep - 1] == '-') keep--;
        snprintf(buf, buflen, "%.*s-%s", (int)keep, s, hx);
    }
    free(s);
    free(raw);
    return 0;
}

static int label_char(char c)
{
    return isalnum((unsigned char)c) || c == '-' || c == '_' || c == '.';
}

static int label_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0) return 1;
    if (n > K8S_NAME_MAX || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1])) return 0;
    for (size_t i = 0; i < n; i++)
        if (!label_char(s[i]) || (s[i] & 0x80)) return 0;
    return 1;
}

int k8s_label_value(const char *in, char *buf, size_t buflen)
{
    if (!in || !buf || buflen < K8S_NAME_MAX + 1) return MF_EINVAL;
    if (label_ok(in)) {
        snprintf(buf, buflen, "%s", in);
        return 0;
    }
    char hx[HASH_LEN + 1];
    const char *parts[] = {in};
    hash_hex(hash_parts(parts, 1), hx);
    size_t limit = K8S_NAME_MAX - HASH_LEN - 1, o = 0;
    for (const char *p = in; *p && o < limit; p++) {
        char c = (*p & 0x80) ? '_' : *p;
        if (!label_char(c)) c = '_';
        if (o == 0 && !isalnum((unsigned char)c)) continue;   /* alphanumeric first */
        buf[o++] = c;
    }
    while (o && !isalnum((unsigned char)buf[o - 1])) o--;
    if (o)
        snprintf(buf + o, buflen - o, "-%s", hx);
    else
        snprintf(buf, buflen, "%s", hx);
    return 0;
}

/* ---- overlay ---- */

static int named_list(const json_t *a)
{
    if (!json_is_array(a) || json_array_size(a) == 0) return 0;
    size_t i;
    json_t *it;
    json_array_foreach(a, i, it)
        if (!json_is_string(json_object_get(it, "name"))) return 0;
    return 1;
}

static json_t *find_named(json_t *a, const char *name)
{
    size_t i;
    json_t *it;
    json_array_foreach(a, i, it)
        if (!strcmp(json_string_value(json_object_get(it, "name")), name)) return it;
    return NULL;
}

static int merge_depth(json_t *dst, const json_t *ov, int depth)
{
    if (depth > 64) return MF_EINVAL;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)ov, k, v) {
        json_t *d = json_object_get(dst, k);
        int rc = 0;
        if (json_is_null(v)) {
            json_object_del(dst, k);
        } else if (json_is_object(v) && json_is_object(d)) {
            rc = merge_depth(d, v, depth + 1);
        } else if (named_list(v) && named_list(d)) {
            size_t i;
            json_t *it;
            json_array_foreach(v, i, it) {
                json_t *match = find_named(d, json_string_value(json_object_get(it, "name")));
                if (match) rc = merge_depth(match, it, depth + 1);
                else rc = json_array_append_new(d, json_deep_copy(it)) ? MF_ENOMEM : 0;
                if (rc) break;
            }
        } else {
            rc = json_object_set_new(dst, k, json_deep_copy(v)) ? MF_ENOMEM : 0;
        }
        if (rc) return rc;
    }
    return 0;
}

int k8s_overlay_merge(json_t *dst, const json_t *overlay)
{
    if (!json_is_object(dst) || !json_is_object(overlay)) return MF_EINVAL;
    return merge_depth(dst, overlay, 0);
}

/* ---- the Job ---- */

static int add_meta(json_t *labels, json_t *annots, const char *key, const char *value)
{
    char lv[K8S_NAME_MAX + 1], full[128];
    if (!value) return 0;
    snprintf(full, sizeof full, LABEL_PREFIX "%s", key);
    if (k8s_label_value(value, lv, sizeof lv)) return MF_EINVAL;
    if (json_object_set_new(labels, full, json_string(lv)) ||
        json_object_set_new(annots, full, json_string(value)))
        return MF_ENOMEM;
    return 0;
}

static int argv_has_package(const char *const *argv)
{
    for (size_t i = 0; argv[i]; i++)
        if ((!strcmp(argv[i], "--package") && argv[i + 1]) || !strncmp(argv[i], "--package=", 10))
            return 1;
    return 0;
}

static const char *const mflow_env_names[] = {"MFLOW_FLOW", "MFLOW_RUN_ID", "MFLOW_STEP",
    "MFLOW_TASK_ID", "MFLOW_ATTEMPT", "MFLOW_K8S_POD", "MFLOW_K8S_NAMESPACE", NULL};

static int is_mflow_env(const char *name)
{
    for (int i = 0; mflow_env_names[i]; i++)
        if (!strcmp(name, mflow_env_names[i])) return 1;
    return 0;
}

static json_t *mflow_env(const struct k8s_job_input *in)
{
    char attempt[16];
    snprintf(attempt, sizeof attempt, "%" PRIu32, in->attempt);
    return json_pack("[{s:s,s:s},{s:s,s:s},{s:s,s:s},{s:s,s:s},{s:s,s:s},"
                     "{s:s,s:{s:{s:s}}},{s:s,s:{s:{s:s}}}]",
                     "name", "MFLOW_FLOW", "value", in->flow,
                     "name", "MFLOW_RUN_ID", "value", in->run_id,
                     "name", "MFLOW_STEP", "value", in->step,
                     "name", "MFLOW_TASK_ID", "value", in->task_id,
                     "name", "MFLOW_ATTEMPT", "value", attempt,
                     "name", "MFLOW_K8S_POD", "valueFrom", "fieldRef", "fieldPath", "metadata.name",
                     "name", "MFLOW_K8S_NAMESPACE", "valueFrom", "fieldRef", "fieldPath",
                     "metadata.namespace");
}

/* Whether s is UTF-8 (no overlongs, surrogates or code points past U+10FFFF): JSON, and so the
 * API, takes nothing else, and jansson's refusal would read as out of memory. */
static int utf8_ok(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p++;
        int n = c < 0x80 ? 0 : (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2 : (c & 0xf8) == 0xf0 ? 3 : -1;
        if (n < 0) return 0;
        unsigned cp = n == 0 ? c : n == 1 ? (c & 0x1f) : n == 2 ? (c & 0x0f) : (c & 0x07);
        for (int i = 0; i < n; i++, p++) {
            if ((*p & 0xc0) != 0x80) return 0;
            cp = (cp << 6) | (*p & 0x3f);
        }
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
    }
    return 1;
}

/* The step's env (later duplicates win), without the names mflow sets. */
static int step_env(const struct k8s_job_input *in, json_t *env, char *msg, size_t msglen)
{
    if (!in->env) return 0;
    for (size_t i = 0; in->env[i]; i++) {
        const char *eq = strchr(in->env[i], '=');
        if (!eq || eq == in->env[i])
            return k8s_fail(msg, msglen, MF_EINVAL, "step %s: env entry %zu is not NAME=VALUE: fix the "
                        "step's env", in->step, i);
        if (!utf8_ok(in->env[i]))
            return k8s_fail(msg, msglen, MF_EINVAL, "step %s: env %.*s is not UTF-8 text, the only "
                        "text the Kubernetes API takes: fix its value (or leave it out of k8s "
                        "pass_env)", in->step, (int)(eq - in->env[i] < 64 ? eq - in->env[i] : 64),
                        in->env[i]);
        char *name = strndup(in->env[i], (size_t)(eq - in->env[i]));
        if (!name) return MF_ENOMEM;
        if (!is_mflow_env(name)) {
            size_t j;
            json_t *it;
            json_array_foreach(env, j, it)
                if (!strcmp(json_string_value(json_object_get(it, "name")), name)) {
                    json_array_remove(env, j);
                    break;
                }
            if (json_array_append_new(env, json_pack("{s:s,s:s}", "name", name, "value", eq + 1))) {
                free(name);
                return MF_ENOMEM;
            }
        }
        free(name);
    }
    return 0;
}

static int check_settings(const struct k8s_job_settings *s, char *msg, size_t msglen)
{
    if (!s->namespace_ || !*s->namespace_)
        return k8s_fail(msg, msglen, MF_EINVAL, "k8s: no namespace: set the namespace setting or the "
                    "kubeconfig context's namespace");
    if (s->pull_policy && *s->pull_policy && strcmp(s->pull_policy, "Always") &&
        strcmp(s->pull_policy, "IfNotPresent") && strcmp(s->pull_policy, "Never"))
        return k8s_fail(msg, msglen, MF_EINVAL, "k8s: image pull policy '%s' is not Always, IfNotPresent "
                    "or Never", s->pull_policy);
    for (size_t i = 0; s->node_selector && s->node_selector[i]; i++) {
        const char *eq = strchr(s->node_selector[i], '=');
        if (!eq || eq == s->node_selector[i])
            return k8s_fail(msg, msglen, MF_EINVAL, "k8s: node selector '%s' is not KEY=VALUE",
                        s->node_selector[i]);
    }
    for (size_t i = 0; i < s->n_tolerations; i++) {
        const struct k8s_toleration *t = &s->tolerations[i];
        const char *op = t->op && *t->op ? t->op : "Equal";
        const char *eff = t->effect ? t->effect : "";
        if (strcmp(op, "Equal") && strcmp(op, "Exists"))
            return k8s_fail(msg, msglen, MF_EINVAL, "k8s: toleration %zu: operator '%s' is not Equal or "
                        "Exists", i, op);
        if (!strcmp(op, "Exists") && t->value && *t->value)
            return k8s_fail(msg, msglen, MF_EINVAL, "k8s: toleration %zu: operator Exists takes no value", i);
        if ((!t->key || !*t->key) && strcmp(op, "Exists"))
            return k8s_fail(msg, msglen, MF_EINVAL, "k8s: toleration %zu: an empty key needs operator Exists", i);
        if (*eff && strcmp(eff, "NoSchedule") && strcmp(eff, "PreferNoSchedule") && strcmp(eff, "NoExecute"))
            return k8s_fail(msg, msglen, MF_EINVAL, "k8s: toleration %zu: effect '%s' is not NoSchedule, "
                        "PreferNoSchedule or NoExecute", i, eff);
        if (t->has_seconds && strcmp(eff, "NoExecute"))
            return k8s_fail(msg, msglen, MF_EINVAL, "k8s: toleration %zu: tolerationSeconds needs effect "
                        "NoExecute", i);
    }
    return 0;
}

static json_t *main_container(json_t *pod)
{
    json_t *cs = json_object_get(pod, "containers");
    if (!json_is_array(cs)) {
        cs = json_array();
        if (!cs || json_object_set_new(pod, "containers", cs)) return NULL;
    }
    size_t i;
    json_t *it;
    json_array_foreach(cs, i, it)
        if (json_is_object(it) && !strcmp(json_string_value(json_object_get(it, "name")) ?: "", K8S_MAIN_CONTAINER))
            return it;
    it = json_pack("{s:s}", "name", K8S_MAIN_CONTAINER);
    if (!it || json_array_insert_new(cs, 0, it)) return NULL;
    return it;
}

/* mflow's own fields, set after the overlay so that they win. */
static int enforce(json_t *pod, const char *image, json_t *command, json_t *menv, json_t *res)
{
    if (json_object_set_new(pod, "restartPolicy", json_string("Never"))) return MF_ENOMEM;
    json_t *c = main_container(pod);
    if (!c) return MF_ENOMEM;
    if (json_object_set_new(c, "image", json_string(image)) ||
        json_object_set(c, "command", command))
        return MF_ENOMEM;
    json_object_del(c, "args");
    json_t *env = json_object_get(c, "env");
    if (!json_is_array(env)) {
        env = json_array();
        if (!env || json_object_set_new(c, "env", env)) return MF_ENOMEM;
    }
    for (size_t i = json_array_size(env); i-- > 0;) {
        const char *n = json_string_value(json_object_get(json_array_get(env, i), "name"));
        if (n && is_mflow_env(n)) json_array_remove(env, i);
    }
    if (json_array_extend(env, menv)) return MF_ENOMEM;
    if (json_object_size(res)) {
        json_t *r = json_object_get(c, "resources");
        if (!json_is_object(r)) {
            r = json_object();
            if (!r || json_object_set_new(c, "resources", r)) return MF_ENOMEM;
        }
        const char *const kinds[] = {"requests", "limits"};
        for (int k = 0; k < 2; k++) {
            json_t *d = json_object_get(r, kinds[k]);
            if (!json_is_object(d)) {
                d = json_object();
                if (!d || json_object_set_new(r, kinds[k], d)) return MF_ENOMEM;
            }
            if (json_object_update(d, res)) return MF_ENOMEM;
        }
    }
    return 0;
}

/* step: NULL for the settings' overlay, else the step whose overlay it is (for messages) */
static int apply_overlay(json_t *pod, const char *text, const char *step, char *msg, size_t msglen)
{
    char whose[256] = "the pod overlay";
    if (step) snprintf(whose, sizeof whose, "step %s: the pod overlay", step);
    json_error_t je;
    json_t *ov = json_loads(text, 0, &je);
    if (!ov)
        return k8s_fail(msg, msglen, MF_EINVAL, "k8s: %s is not valid JSON (line %d, column %d: %s): "
                    "fix it", whose, je.line, je.column, je.text);
    if (!json_is_object(ov)) {
        json_decref(ov);
        return k8s_fail(msg, msglen, MF_EINVAL, "k8s: %s must be a JSON object of pod spec fields "
                    "(e.g. {\"hostNetwork\": true})", whose);
    }
    int rc = k8s_overlay_merge(pod, ov);
    json_decref(ov);
    if (rc) k8s_fail(msg, msglen, rc, "k8s: cannot merge %s (nested too deeply?)", whose);
    return rc;
}

static int build(const struct k8s_job_settings *s, const struct k8s_job_input *in, json_t *job,
                 char *msg, size_t msglen)
{
    int rc;
    char name[K8S_NAME_MAX + 1];
    if ((rc = k8s_job_name(in, name, sizeof name)))
        return rc == MF_EINVAL ? k8s_fail(msg, msglen, rc, "k8s: a task needs a flow, run, step and task "
                                      "id to be named") : rc;
    const char *image = in->image && *in->image ? in->image : s->default_image;
    if (!image || !*image)
        return k8s_fail(msg, msglen, MF_EINVAL, "k8s: step %s names no image and no default image is "
                    "set: set the k8s image setting (an image with mflow installed) or the step's image",
                    in->step);
    if (!in->argv || !in->argv[0])
        return k8s_fail(msg, msglen, MF_EINVAL, "k8s: step %s: no task command to run", in->step);
    int has_pkg = argv_has_package(in->argv);
    if (!has_pkg && (!in->package_url || !*in->package_url))
        return k8s_fail(msg, msglen, MF_EINVAL, "k8s: step %s: a pod cannot read local code: the task "
                    "needs a code package address (use an S3 datastore)", in->step);

    json_t *labels = json_object(), *annots = json_object();
    json_t *command = json_array(), *env = json_array(), *res = json_object();
    json_t *menv = mflow_env(in), *pod = NULL;
    rc = (!labels || !annots || !command || !env || !res || !menv) ? MF_ENOMEM : 0;
    char attempt[16];
    snprintf(attempt, sizeof attempt, "%" PRIu32, in->attempt);
    if (!rc && json_object_set_new(labels, "app.kubernetes.io/managed-by", json_string("mflow")))
        rc = MF_ENOMEM;
    if (!rc) rc = add_meta(labels, annots, "flow", in->flow);
    if (!rc) rc = add_meta(labels, annots, "run", in->run_id);
    if (!rc) rc = add_meta(labels, annots, "step", in->step);
    if (!rc) rc = add_meta(labels, annots, "task", in->task_id);
    if (!rc) rc = add_meta(labels, annots, "attempt", attempt);
    if (!rc) rc = add_meta(labels, annots, "user", in->user && *in->user ? in->user : NULL);
    if (!rc) rc = add_meta(labels, annots, "version", s->mflow_version);

    for (size_t i = 0; !rc && in->argv[i]; i++)
        if (json_array_append_new(command, json_string(in->argv[i]))) rc = MF_ENOMEM;
    if (!rc && !has_pkg &&
        (json_array_append_new(command, json_string("--package")) ||
         json_array_append_new(command, json_string(in->package_url))))
        rc = MF_ENOMEM;
    if (!rc) rc = step_env(in, env, msg, msglen);

    char q[32];
    if (!rc && in->cpu) {
        snprintf(q, sizeof q, "%" PRIu32, in->cpu);
        if (json_object_set_new(res, "cpu", json_string(q))) rc = MF_ENOMEM;
    }
    if (!rc && in->memory_mb) {
        snprintf(q, sizeof q, "%" PRIu64 "Mi", in->memory_mb);
        if (json_object_set_new(res, "memory", json_string(q))) rc = MF_ENOMEM;
    }
    if (!rc && in->gpu) {
        snprintf(q, sizeof q, "%" PRIu32, in->gpu);
        if (json_object_set_new(res, "nvidia.com/gpu", json_string(q))) rc = MF_ENOMEM;
    }
    if (rc) goto out;

    json_t *container = json_pack("{s:s,s:s,s:O,s:O}", "name", K8S_MAIN_CONTAINER, "image", image,
                                  "command", command, "env", env);
    pod = json_pack("{s:s,s:[o]}", "restartPolicy", "Never", "containers", container);
    if (!pod) { rc = MF_ENOMEM; goto out; }
    if (s->pull_policy && *s->pull_policy)
        json_object_set_new(container, "imagePullPolicy", json_string(s->pull_policy));
    if (s->env_secrets && s->env_secrets[0]) {
        json_t *ef = json_array();
        for (size_t i = 0; ef && s->env_secrets[i]; i++)
            json_array_append_new(ef, json_pack("{s:{s:s}}", "secretRef", "name", s->env_secrets[i]));
        if (!ef || json_object_set_new(container, "envFrom", ef)) { rc = MF_ENOMEM; goto out; }
    }
    if (s->service_account && *s->service_account)
        json_object_set_new(pod, "serviceAccountName", json_string(s->service_account));
    if (s->node_selector && s->node_selector[0]) {
        json_t *ns = json_object();
        for (size_t i = 0; ns && s->node_selector[i]; i++) {
            const char *eq = strchr(s->node_selector[i], '=');
            char *k = strndup(s->node_selector[i], (size_t)(eq - s->node_selector[i]));
            if (!k || json_object_set_new(ns, k, json_string(eq + 1))) rc = MF_ENOMEM;
            free(k);
        }
        if (!ns || json_object_set_new(pod, "nodeSelector", ns)) rc = MF_ENOMEM;
    }
    if (s->n_tolerations) {
        json_t *ts = json_array();
        for (size_t i = 0; ts && i < s->n_tolerations; i++) {
            const struct k8s_toleration *t = &s->tolerations[i];
            json_t *o = json_object();
            if (!o) { rc = MF_ENOMEM; break; }
            if (t->key && *t->key) json_object_set_new(o, "key", json_string(t->key));
            json_object_set_new(o, "operator", json_string(t->op && *t->op ? t->op : "Equal"));
            if (t->value && *t->value) json_object_set_new(o, "value", json_string(t->value));
            if (t->effect && *t->effect) json_object_set_new(o, "effect", json_string(t->effect));
            if (t->has_seconds) json_object_set_new(o, "tolerationSeconds", json_integer(t->seconds));
            json_array_append_new(ts, o);
        }
        if (!ts || json_object_set_new(pod, "tolerations", ts)) rc = MF_ENOMEM;
    }
    if (s->image_pull_secrets && s->image_pull_secrets[0]) {
        json_t *ps = json_array();
        for (size_t i = 0; ps && s->image_pull_secrets[i]; i++)
            json_array_append_new(ps, json_pack("{s:s}", "name", s->image_pull_secrets[i]));
        if (!ps || json_object_set_new(pod, "imagePullSecrets", ps)) rc = MF_ENOMEM;
    }
    if (rc) goto out;
    const char *overlays[2] = {s->pod_overlay_json, in->step_pod_overlay_json};
    for (int i = 0; i < 2 && !rc; i++)
        if (overlays[i] && *overlays[i])
            rc = apply_overlay(pod, overlays[i], i ? in->step : NULL, msg, msglen);
    if (rc) goto out;
    if ((rc = enforce(pod, image, command, menv, res))) goto out;

    json_t *tmeta = json_pack("{s:O,s:O}", "labels", labels, "annotations", annots);
    json_t *spec = json_pack("{s:i,s:{s:o,s:O}}", "backoffLimit", 0, "template", "metadata", tmeta,
                             "spec", pod);
    if (!spec) { rc = MF_ENOMEM; goto out; }
    if (s->ttl_after_finished_s >= 0)
        json_object_set_new(spec, "ttlSecondsAfterFinished", json_integer(s->ttl_after_finished_s));
    if (in->timeout_s)
        json_object_set_new(spec, "activeDeadlineSeconds", json_integer(in->timeout_s));
    if (json_object_set_new(job, "apiVersion", json_string("batch/v1")) ||
        json_object_set_new(job, "kind", json_string("Job")) ||
        json_object_set_new(job, "metadata", json_pack("{s:s,s:s,s:O,s:O}", "name", name, "namespace",
                                                       s->namespace_, "labels", labels,
                                                       "annotations", annots)) ||
        json_object_set_new(job, "spec", spec))
        rc = MF_ENOMEM;
out:
    json_decref(pod);
    json_decref(labels);
    json_decref(annots);
    json_decref(command);
    json_decref(env);
    json_decref(res);
    json_decref(menv);
    return rc;
}

int k8s_manifest_build(const struct k8s_job_settings *s, const struct k8s_job_input *in,
                       json_t **out, char *msg, size_t msglen)
{
    *out = NULL;
    if (msg && msglen) msg[0] = '\0';
    if (!s || !in) return MF_EINVAL;
    int rc = check_settings(s, msg, msglen);
    if (rc) return rc;
    json_t *job = json_object();
    if (!job) return MF_ENOMEM;
    rc = build(s, in, job, msg, msglen);
    if (rc) {
        json_decref(job);
        if (rc == MF_ENOMEM && msg && msglen && !msg[0]) snprintf(msg, msglen, "out of memory");
        return rc;
    }
    *out = job;
    return 0;
}
