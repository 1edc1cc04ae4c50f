/* The API server's list answers as the k8s plugin reads them (lists.h). Field names follow
 * the API reference: metadata {name, labels, annotations, ownerReferences[] {kind, name},
 * creationTimestamp, deletionTimestamp}; Job .status.conditions[] {type, status}; Pod
 * .status.containerStatuses[] {state {running, terminated}}; Node .status {allocatable,
 * conditions[] {type Ready, status}}, .spec.unschedulable. */
#include "lists.h"

#include <mflow/plugin.h>

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static const json_t *meta(const json_t *o)
{
    return json_object_get(o, "metadata");
}

const char *k8s_pod_job_name(const json_t *pod)
{
    const json_t *lb = json_object_get(meta(pod), "labels");
    const char *n = str(lb, "batch.kubernetes.io/job-name");
    if (!n)
        n = str(lb, "job-name");
    if (n)
        return n;
    size_t i;
    json_t *o;
    json_array_foreach(json_object_get(meta(pod), "ownerReferences"), i, o) {
        const char *kind = str(o, "kind");
        if (kind && !strcmp(kind, "Job") && str(o, "name"))
            return str(o, "name");
    }
    return NULL;
}

int k8s_lists_index(const json_t *jobs_list, const json_t *pods_list, json_t **jobs,
                    json_t **pods)
{
    *jobs = json_object();
    *pods = json_object();
    if (!*jobs || !*pods)
        goto oom;
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(jobs_list, "items"), i, it) {
        const char *n = str(meta(it), "name");
        if (n && json_object_set(*jobs, n, it))
            goto oom;
    }
    json_array_foreach(json_object_get(pods_list, "items"), i, it) {
        const char *jn = k8s_pod_job_name(it);
        if (!jn)
            continue;
        json_t *have = json_object_get(*pods, jn);
        /* several pods of one Job (a replacement): the newest tells */
        if (have) {
            const char *a = str(meta(have), "creationTimestamp");
            const char *b = str(meta(it), "creationTimestamp");
            if (a && b && strcmp(b, a) < 0)
                continue;
        }
        if (json_object_set(*pods, jn, it))
            goto oom;
    }
    return 0;
oom:
    json_decref(*jobs);
    json_decref(*pods);
    *jobs = *pods = NULL;
    return MF_ENOMEM;
}

int k8s_pod_ran(const json_t *pod)
{
    const json_t *cs = json_object_get(json_object_get(pod, "status"), "containerStatuses");
    size_t i;
    json_t *c;
    json_array_foreach(cs, i, c) {
        json_t *s = json_object_get(c, "state");
        if (json_object_get(s, "running") || json_object_get(s, "terminated"))
            return 1;
    }
    return 0;
}

/* "HOST PID START", as the plugin writes it; 0 or -1. */
static int parse_creator(const char *s, struct k8s_orphan *o)
{
    size_t n = strcspn(s, " ");
    if (!n || n >= sizeof o->host || s[n] != ' ')
        return -1;
    memcpy(o->host, s, n);
    o->host[n] = '\0';
    char *e;
    errno = 0;
    long pid = strtol(s + n + 1, &e, 10);
    if (errno || e == s + n + 1 || *e != ' ' || pid <= 0 || pid > INT_MAX)
        return -1;
    const char *q = e + 1;
    if (*q < '0' || *q > '9')
        return -1;
    unsigned long long start = strtoull(q, &e, 10);
    if (errno || *e)
        return -1;
    o->pid = pid;
    o->start = start;
    return 0;
}

int k8s_orphan_candidate(const json_t *job, const char *annotation, const char *run_label,
                         const char *myhost, struct k8s_orphan *o)
{
    const json_t *md = meta(job);
    const char *name = str(md, "name");
    const char *orch = str(json_object_get(md, "annotations"), annotation);
    const char *run = str(json_object_get(md, "labels"), "mflow/run");
    if (!name || !orch || (run && run_label && !strcmp(run, run_label)))
        return 0;
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(json_object_get(job, "status"), "conditions"), i, c) {
        const char *t = str(c, "type"), *s = str(c, "status");
        if (t && s && !strcmp(s, "True") && (!strcmp(t, "Complete") || !strcmp(t, "Failed")))
            return 0;
    }
    if (json_object_get(md, "deletionTimestamp"))
        return 0;
    if (parse_creator(orch, o) || strcmp(o->host, myhost))
        return 0;
    o->name = name;
    return 1;
}

double k8s_quantity(const char *s)
{
    if (!s)
        return -1;
    /* a number as Kubernetes writes one: no "inf", "nan", hex or leading blanks */
    const char *d = s + (*s == '+' || *s == '-');
    if (!((*d >= '0' && *d <= '9') || (*d == '.' && d[1] >= '0' && d[1] <= '9')))
        return -1;
    char *end;
    double v = strtod(s, &end);
    if (end == s || !isfinite(v) || (d[0] == '0' && (d[1] == 'x' || d[1] == 'X')))
        return -1;
    static const struct {
        const char *suf;
        double mul;
    } sufs[] = {{"Ki", 1024.0}, {"Mi", 1048576.0}, {"Gi", 1073741824.0},
                {"Ti", 1099511627776.0}, {"Pi", 1125899906842624.0}, {"Ei", 1152921504606846976.0},
                {"n", 1e-9}, {"u", 1e-6}, {"m", 1e-3}, {"k", 1e3}, {"M", 1e6}, {"G", 1e9},
                {"T", 1e12}, {"P", 1e15}, {"E", 1e18}, {"", 1}};
    for (size_t i = 0; i < sizeof sufs / sizeof sufs[0]; i++)
        if (!strcmp(end, sufs[i].suf)) {
            double r = v * sufs[i].mul;
            return isfinite(r) ? r : -1;
        }
    return -1;
}

/* A count for JSON: whole, 0 for nothing or unreadable, at most 2^53 (exact in a double and
 * far inside json_int_t: a cast of a larger double would be undefined). */
static json_int_t whole(double v)
{
    if (!(v > 0))
        return 0;
    if (v >= 9007199254740992.0)
        return (json_int_t)9007199254740992LL;
    return (json_int_t)floor(v);
}

json_t *k8s_node_offer(const json_t *n)
{
    const json_t *st = json_object_get(n, "status");
    const json_t *alloc = json_object_get(st, "allocatable");
    double cpu = k8s_quantity(str(alloc, "cpu"));
    double mem = k8s_quantity(str(alloc, "memory"));
    double gpu = k8s_quantity(str(alloc, "nvidia.com/gpu"));
    const char *ready = "Unknown";
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(st, "conditions"), i, c) {
        const char *t = str(c, "type"), *s = str(c, "status");
        if (t && s && !strcmp(t, "Ready"))
            ready = !strcmp(s, "True") ? "Ready" : "NotReady";
    }
    if (json_is_true(json_object_get(json_object_get(n, "spec"), "unschedulable")))
        ready = "SchedulingDisabled";
    const char *name = str(meta(n), "name");
    return json_pack("{s:s,s:s,s:I,s:I,s:I,s:s}", "kind", "node", "name", name ? name : "?",
                     "cpus", whole(cpu), "memory_mb", whole(mem > 0 ? mem / 1048576.0 : 0),
                     "gpus", whole(gpu), "state", ready);
}
