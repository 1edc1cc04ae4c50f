/* The datastore's model (model.h): status names, and every datastore key built and parsed. */
#include "model.h"

#include "util.h"

#include <mflow/plugin.h>

#include <stdio.h>
#include <string.h>

/* ---- status names --------------------------------------------------------------------------- */

static const char *const status_names[] = {
    NULL, "pending", "running", "succeeded", "failed", "cancelled",
};

const char *mf_status_name(int status)
{
    if (status >= MF_STATUS_PENDING && status <= MF_STATUS_CANCELLED)
        return status_names[status];
    return "unknown";
}

int mf_status_from_name(const char *s)
{
    if (!s)
        return 0;
    for (int k = MF_STATUS_PENDING; k <= MF_STATUS_CANCELLED; k++)
        if (!strcmp(s, status_names[k]))
            return k;
    return 0;
}

/* ---- builders ------------------------------------------------------------------------------- */

char *mf_key_run(const char *flow, int64_t run)
{
    return mf_strf(MF_KEY_RUNS "%s/%lld/run.json", flow, (long long)run);
}

char *mf_key_graph(const char *flow, int64_t run)
{
    return mf_strf(MF_KEY_RUNS "%s/%lld/graph.json", flow, (long long)run);
}

char *mf_key_run_prefix(const char *flow, int64_t run)
{
    return mf_strf(MF_KEY_RUNS "%s/%lld/", flow, (long long)run);
}

static char *task_key(const char *flow, int64_t run, const char *step, int64_t task,
                      uint32_t attempt, const char *ext)
{
    return mf_strf(MF_KEY_RUNS "%s/%lld/%s/%lld.%u.%s", flow, (long long)run, step,
                   (long long)task, attempt, ext);
}

char *mf_key_task(const char *flow, int64_t run, const char *step, int64_t task, uint32_t attempt)
{
    return task_key(flow, run, step, task, attempt, "json");
}

char *mf_key_log(const char *flow, int64_t run, const char *step, int64_t task, uint32_t attempt,
                 int is_stderr)
{
    return task_key(flow, run, step, task, attempt, is_stderr ? "stderr" : "stdout");
}

char *mf_key_inputs(const char *flow, int64_t run, const char *step, int64_t task)
{
    return task_key(flow, run, step, task, 0, "inputs");
}

char *mf_key_package(const char *sha256)
{
    return mf_strf(MF_KEY_PACKAGES "%s" MF_KEY_PACKAGE_EXT, sha256);
}

char *mf_key_deployment(const char *name, int64_t version)
{
    return mf_strf(MF_KEY_DEPLOYMENTS "%s/%lld.json", name, (long long)version);
}

char *mf_key_deployment_current(const char *name)
{
    return mf_strf(MF_KEY_DEPLOYMENTS "%s/current.json", name);
}

char *mf_key_deployment_prefix(const char *name)
{
    return mf_strf(MF_KEY_DEPLOYMENTS "%s/", name);
}

void mf_blob_path(const char *key, char *buf, size_t bufsz)
{
    if (!buf || !bufsz)
        return;
    snprintf(buf, bufsz, "blobs/%.2s/%s", key ? key : "", key ? key : "");
}

/* ---- parsers -------------------------------------------------------------------------------- */

/* A name of letters, digits and '_', not starting with a digit, ending at '/': its length, or
 * 0 when it is not one. */
static size_t name_len(const char *s)
{
    size_t n = 0;
    for (; s[n] && s[n] != '/'; n++) {
        char c = s[n];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                 (n > 0 && c >= '0' && c <= '9');
        if (!ok)
            return 0;
    }
    return s[n] == '/' && n < MF_NAME_MAX ? n : 0;
}

/* Decimal digits without sign or leading zero up to `max`; the number of characters taken, 0
 * when there is no such number. */
static size_t number(const char *s, uint64_t max, uint64_t *out)
{
    size_t n = 0;
    uint64_t v = 0;
    while (s[n] >= '0' && s[n] <= '9') {
        if (n == 1 && s[0] == '0')
            return 0;   /* a leading zero */
        uint64_t d = (uint64_t)(s[n] - '0');
        if (v > (max - d) / 10)
            return 0;
        v = v * 10 + d;
        n++;
    }
    *out = v;
    return n;
}

int mf_key_parse(const char *key, struct mf_key_parts *out)
{
    memset(out, 0, sizeof *out);
    size_t pl = strlen(MF_KEY_RUNS);
    if (!key || strncmp(key, MF_KEY_RUNS, pl) != 0)
        return MF_EINVAL;
    const char *p = key + pl;
    size_t n = name_len(p);
    if (!n)
        return MF_EINVAL;
    memcpy(out->flow, p, n);
    p += n + 1;
    uint64_t run, task, att;
    n = number(p, INT64_MAX, &run);
    if (!n || run < 1 || p[n] != '/')
        return MF_EINVAL;
    out->run = (int64_t)run;
    p += n + 1;
    if (!strcmp(p, "run.json")) {
        out->kind = MF_KEY_RUN;
        return MF_KEY_RUN;
    }
    n = name_len(p);
    if (!n)
        return MF_EINVAL;
    memcpy(out->step, p, n);
    p += n + 1;
    n = number(p, INT64_MAX, &task);
    if (!n || task < 1 || p[n] != '.')
        return MF_EINVAL;
    p += n + 1;
    n = number(p, UINT32_MAX, &att);
    if (!n || strcmp(p + n, ".json") != 0)
        return MF_EINVAL;
    out->task = (int64_t)task;
    out->attempt = (uint32_t)att;
    out->kind = MF_KEY_TASK;
    return MF_KEY_TASK;
}

int mf_key_deployment_parse(const char *key, char name[MF_NAME_MAX], int64_t *version)
{
    size_t pl = strlen(MF_KEY_DEPLOYMENTS);
    if (!key || strncmp(key, MF_KEY_DEPLOYMENTS, pl) != 0)
        return MF_EINVAL;
    const char *p = key + pl, *slash = strchr(p, '/');
    if (!slash || (size_t)(slash - p) >= MF_NAME_MAX)
        return MF_EINVAL;
    memcpy(name, p, (size_t)(slash - p));
    name[slash - p] = '\0';
    if (!mf_deploy_name_valid(name))
        return MF_EINVAL;
    p = slash + 1;
    if (!strcmp(p, "current.json")) {
        *version = 0;
        return 0;
    }
    uint64_t v;
    size_t n = number(p, INT64_MAX, &v);
    if (!n || v < 1 || strcmp(p + n, ".json") != 0)
        return MF_EINVAL;
    *version = (int64_t)v;
    return 0;
}

int mf_deploy_name_valid(const char *s)
{
    /* letters, digits, '_' and '-', not starting with '-': it names a namespace, files
     * under $MFLOW_HOME and a crontab marker */
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > MF_DEPLOY_NAME_MAX || s[0] == '-')
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

int mf_key_package_parse(const char *key, char sha256[65])
{
    size_t pl = strlen(MF_KEY_PACKAGES), el = strlen(MF_KEY_PACKAGE_EXT);
    if (!key || strlen(key) != pl + 64 + el || strncmp(key, MF_KEY_PACKAGES, pl) != 0 ||
        strcmp(key + pl + 64, MF_KEY_PACKAGE_EXT) != 0)
        return MF_EINVAL;
    for (int i = 0; i < 64; i++) {
        char c = key[pl + i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return MF_EINVAL;
        sha256[i] = c;
    }
    sha256[64] = '\0';
    return 0;
}
