/* The engine command lines of the container compute plugin (ct_int.h): `run` with the
 * container's name, labels, limits, GPUs, environment and mounts. Pure: no engine is
 * started here, so the tests check the words as generated (print_command). */
#include "ct_int.h"

#include <mflow/plugin.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

void strv_push(struct strv *s, const char *str)
{
    if (s->oom)
        return;
    if (s->n + 2 > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 32;
        char **g = realloc(s->v, cap * sizeof *g);
        if (!g) {
            s->oom = 1;
            return;
        }
        s->v = g;
        s->cap = cap;
    }
    char *d = strdup(str ? str : "");
    if (!d) {
        s->oom = 1;
        return;
    }
    s->v[s->n++] = d;
    s->v[s->n] = NULL;
}

void strv_pushf(struct strv *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *t = NULL;
    if (vasprintf(&t, fmt, ap) < 0)
        t = NULL;
    va_end(ap);
    if (!t) {
        s->oom = 1;
        return;
    }
    strv_push(s, t);
    free(t);
}

void strv_free(struct strv *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}

void ct_name(const char *pathspec, uint32_t attempt, char *buf, size_t len)
{
    size_t at = (size_t)snprintf(buf, len, "mflow-");
    for (const char *p = pathspec ? pathspec : "job"; *p && at + 1 < len; p++) {
        char ch = *p;
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                 ch == '_' || ch == '.' || ch == '-';
        buf[at++] = ok ? ch : '-';
    }
    buf[at < len ? at : len - 1] = '\0';
    if (at < len)
        snprintf(buf + at, len - at, "-a%u", attempt);
}

int ct_orchestrator_id(pid_t pid, char *buf, size_t len)
{
    char path[64], stat[1024], host[256] = "";
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return errno;
    size_t n = fread(stat, 1, sizeof stat - 1, f);
    fclose(f);
    stat[n] = '\0';
    /* Field 22 (starttime) counts from after the command name, which may hold blanks. */
    char *p = strrchr(stat, ')');
    unsigned long long start = 0;
    for (int field = 2; p && field < 22; field++)
        p = strchr(p + 1, ' ');
    if (!p || sscanf(p + 1, "%llu", &start) != 1)
        return EINVAL;
    gethostname(host, sizeof host - 1);
    snprintf(buf, len, "%s:%d:%llu", host, (int)pid, start);
    return 0;
}

void ct_global_args(const struct ct_conf *c, struct strv *out)
{
    strv_push(out, c->engine);
    if (c->root && *c->root) {
        strv_push(out, "--root");
        strv_push(out, c->root);
    }
    if (c->runroot && *c->runroot) {
        strv_push(out, "--runroot");
        strv_push(out, c->runroot);
    }
    if (c->runtime && *c->runtime) {
        strv_push(out, "--runtime");
        strv_push(out, c->runtime);
    }
}

/* Words of a blank-separated list. */
static void push_words(struct strv *out, const char *list)
{
    char *copy = strdup(list ? list : "");
    if (!copy) {
        out->oom = 1;
        return;
    }
    char *save = NULL;
    for (char *w = strtok_r(copy, " \t\n", &save); w; w = strtok_r(NULL, " \t\n", &save))
        strv_push(out, w);
    free(copy);
}

/* Host variables the task needs that the engine passes on from its own environment
 * (`-e NAME` without a value: credentials never appear on a command line). */
static int passed_through(const char *kv, int mflow_host, const char *extra)
{
    size_t kl = strcspn(kv, "=");
    for (const char *w = extra ? extra : ""; *w;) {
        size_t n = strcspn(w, " \t,");
        if (n == kl && !strncmp(w, kv, kl))
            return 1;
        w += n;
        w += strspn(w, " \t,");
    }
    static const char *const prefixes[] = {"MFLOW_", "AWS_"};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
        if (!strncmp(kv, prefixes[i], strlen(prefixes[i]))) {
            /* Host paths mean nothing in an image of its own. */
            if (!mflow_host && (!strncmp(kv, "MFLOW_PLUGIN_PATH=", 18) ||
                                !strncmp(kv, "MFLOW_LIBMFLOW=", 15) ||
                                !strncmp(kv, "MFLOW_PYTHON=", 13)))
                return 0;
            if (!strncmp(kv, "MFLOW_HOME=", 11))
                return 0;
            return 1;
        }
    return 0;
}

static void bind(struct strv *out, const char *path, const char *mode)
{
    strv_push(out, "-v");
    strv_pushf(out, "%s:%s:%s", path, path, mode);
}

/* A Python flow imports modules from its own directory and may read files beside it, as it
 * does under local compute: that directory is bound read-only. A flow lying in / or straight
 * in the home directory gets its file alone (a whole home is not handed to a container). */
static void bind_flow(struct strv *out, const char *path)
{
    size_t n = strlen(path);
    const char *slash = strrchr(path, '/');
    const char *home = getenv("HOME");
    char dir[4096];
    size_t dl = slash ? (size_t)(slash - path) : 0;
    if (n > 3 && !strcmp(path + n - 3, ".py") && dl > 0 && dl < sizeof dir) {
        memcpy(dir, path, dl);
        dir[dl] = '\0';
        size_t hl = home ? strlen(home) : 0;
        while (hl > 1 && home[hl - 1] == '/')
            hl--;
        if (!home || hl != dl || strncmp(home, dir, dl)) {
            bind(out, dir, "ro");
            return;
        }
    }
    bind(out, path, "ro");
}

int ct_run_argv(const struct ct_conf *c, const struct ct_run *r, struct strv *out)
{
    ct_global_args(c, out);
    strv_push(out, "run");
    strv_push(out, "--name");
    strv_push(out, r->name);
    strv_push(out, "--init");     /* signals reach the task; zombies are reaped */
    strv_pushf(out, "--label=mflow.orchestrator=%s", c->orchestrator);
    strv_pushf(out, "--label=mflow.flow=%s", r->flow ? r->flow : "");
    strv_pushf(out, "--label=mflow.run=%lld", (long long)r->run_id);
    strv_pushf(out, "--label=mflow.step=%s", r->step ? r->step : "");
    strv_pushf(out, "--label=mflow.task=%lld", (long long)r->task_id);
    strv_pushf(out, "--label=mflow.attempt=%u", r->attempt);
    strv_pushf(out, "--label=mflow.pathspec=%s", r->pathspec ? r->pathspec : "");
    if (r->cpu)
        strv_pushf(out, "--cpus=%u", r->cpu);
    if (r->cpuset)
        strv_pushf(out, "--cpuset-cpus=%s", r->cpuset);
    if (r->memory_mb) {
        strv_pushf(out, "--memory=%llum", (unsigned long long)r->memory_mb);
        strv_pushf(out, "--memory-swap=%llum", (unsigned long long)r->memory_mb);
    }
    if (r->ngpu && c->docker) {
        /* docker: one --gpus with the device list ('"device=0,1"' is docker's own quoting). */
        char list[256] = "";
        size_t at = 0;
        for (unsigned i = 0; i < r->ngpu && at < sizeof list; i++)
            at += (size_t)snprintf(list + at, sizeof list - at, "%s%d", i ? "," : "", r->gpus[i]);
        strv_pushf(out, r->ngpu > 1 ? "--gpus=\"device=%s\"" : "--gpus=device=%s", list);
    } else {
        /* podman: the CDI names of the NVIDIA container toolkit. */
        for (unsigned i = 0; i < r->ngpu; i++)
            strv_pushf(out, "--device=nvidia.com/gpu=%d", r->gpus[i]);
    }
    if (c->network && *c->network)
        strv_pushf(out, "--network=%s", c->network);
    if (c->shm_size && *c->shm_size)
        strv_pushf(out, "--shm-size=%s", c->shm_size);
    for (char **e = environ; e && *e; e++)
        if (passed_through(*e, c->mflow_host, c->pass_env)) {
            const char *eq = strchr(*e, '=');
            strv_push(out, "-e");
            strv_pushf(out, "%.*s", (int)(eq - *e), *e);
        }
    strv_pushf(out, "-e");
    strv_pushf(out, "MFLOW_CPUS=%u", r->cpu ? r->cpu : 1);
    strv_pushf(out, "-e");
    strv_pushf(out, "MFLOW_GPUS=%u", r->ngpu);
    for (const char *const *e = r->env; e && *e; e++) {
        strv_push(out, "-e");
        strv_push(out, *e);
    }
    if (r->datastore_dir)
        bind(out, r->datastore_dir, "rw");
    /* The flow's compiled object: `mflow task FLOW.so STEP ...` loads it from the host path;
     * a Python flow's source likewise, with its directory (below). */
    const char *const *a = r->argv;
    for (size_t i = 1; a && a[i]; i++)
        if (!strcmp(a[i], "task") && a[i + 1]) {
            if (a[i + 1][0] == '/' && access(a[i + 1], R_OK) == 0)
                bind_flow(out, a[i + 1]);
            break;
        }
    char cfg[4096];
    if (r->home && snprintf(cfg, sizeof cfg, "%s/config.json", r->home) < (int)sizeof cfg &&
        access(cfg, R_OK) == 0)
        bind(out, cfg, "ro");
    if (c->mflow_host && c->host_prefix)
        bind(out, c->host_prefix, "ro");
    if (r->workdir && *r->workdir) {
        strv_push(out, "-w");
        strv_push(out, r->workdir);
    }
    push_words(out, c->run_flags);
    strv_push(out, r->image);
    for (size_t i = 0; a && a[i]; i++)
        strv_push(out, i == 0 && !c->mflow_host ? "mflow" : a[i]);
    return out->oom ? MF_ENOMEM : 0;
}
