/* The Kubernetes API server's list answers as the k8s compute plugin reads them
 * (plugins/compute/k8s/lists.c): a run's JobList and PodList (each Job by name, the newest
 * pod of each Job, whether its container ran), the orphan sweep's JobList (the Jobs a killed
 * run on this host left), and the NodeList (what each node allocates, with its quantities).
 * The input is one JSON document read as every one of these lists; an object with "jobs",
 * "pods" or "nodes" members gives those lists instead. Checked: every indexed Job and pod is
 * an item of its list under its own name, candidates were made on this host by a live-looking
 * pid, offers hold whole counts >= 0 and a known state, quantities are -1 or finite. */
#include "lists.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const json_t *member_or(const json_t *doc, const char *key)
{
    const json_t *m = json_object_get(doc, key);
    return m ? m : doc;
}

static int in_items(const json_t *list, const json_t *v)
{
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(list, "items"), i, it)
        if (it == v)
            return 1;
    return 0;
}

static void check_quantity(const char *s)
{
    double q = k8s_quantity(s);
    if (q != -1 && !isfinite(q))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* the raw input (up to a NUL) as one quantity */
    char *text = strndup((const char *)data, size);
    check_quantity(text);
    free(text);

    json_t *doc = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
    if (!doc)
        return 0;
    const json_t *jl = member_or(doc, "jobs"), *pl = member_or(doc, "pods"),
                 *nl = member_or(doc, "nodes");
    json_t *jobs, *pods;
    if (k8s_lists_index(jl, pl, &jobs, &pods) == 0) {
        const char *k;
        json_t *v;
        json_object_foreach(jobs, k, v) {
            const char *n = json_string_value(json_object_get(json_object_get(v, "metadata"), "name"));
            if (!n || strcmp(n, k) || !in_items(jl, v))
                abort();
        }
        json_object_foreach(pods, k, v) {
            const char *jn = k8s_pod_job_name(v);
            if (!jn || strcmp(jn, k) || !in_items(pl, v))
                abort();
            (void)k8s_pod_ran(v);
        }
        json_decref(jobs);
        json_decref(pods);
    }
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(jl, "items"), i, it) {
        struct k8s_orphan o;
        if (k8s_orphan_candidate(it, "mflow/orchestrator", "r1", "box", &o) &&
            (!o.name || strcmp(o.host, "box") || o.pid <= 0))
            abort();
    }
    json_array_foreach(json_object_get(nl, "items"), i, it) {
        json_t *off = k8s_node_offer(it);
        if (!off)
            continue;   /* out of memory */
        static const char *const keys[] = {"cpus", "memory_mb", "gpus"};
        for (size_t k = 0; k < 3; k++) {
            json_t *c = json_object_get(off, keys[k]);
            if (!json_is_integer(c) || json_integer_value(c) < 0)
                abort();
        }
        const char *st = json_string_value(json_object_get(off, "state"));
        if (!st || (strcmp(st, "Ready") && strcmp(st, "NotReady") &&
                    strcmp(st, "SchedulingDisabled") && strcmp(st, "Unknown")))
            abort();
        if (!json_string_value(json_object_get(off, "name")))
            abort();
        const json_t *alloc = json_object_get(json_object_get(it, "status"), "allocatable");
        const char *ak;
        json_t *av;
        json_object_foreach((json_t *)alloc, ak, av)
            check_quantity(json_string_value(av));
        json_decref(off);
    }
    json_decref(doc);
    return 0;
}
