/* Admission against a compute plugin's description (admit.h). */
#include "admit.h"

#include "util.h"

#include <jansson.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The member as a count; -1 when absent or not a number (not judged). */
static long long figure(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (json_is_integer(v))
        return (long long)json_integer_value(v);
    if (json_is_real(v))
        return (long long)json_real_value(v);
    return -1;
}

static int fits(json_t *o, uint32_t cpu, uint64_t mem, uint32_t gpu)
{
    long long c = figure(o, "cpus"), m = figure(o, "memory_mb"), g = figure(o, "gpus");
    return (c < 0 || (uint64_t)c >= cpu) && (m < 0 || (uint64_t)m >= mem) &&
           (g < 0 || (uint64_t)g >= gpu);
}

/* Larger: more CPUs, then more memory, then more GPUs. */
static int larger(json_t *a, json_t *b)
{
    static const char *const keys[] = {"cpus", "memory_mb", "gpus"};
    for (int i = 0; i < 3; i++) {
        long long x = figure(a, keys[i]), y = figure(b, keys[i]);
        if (x != y)
            return x > y;
    }
    return 0;
}

int mf_admit_offers(json_t *doc, const char *compute, const char *step,
                    const struct mf_resources *res, char **err)
{
    json_t *offers = json_object_get(doc, "offers");
    if (!json_is_array(offers) || !json_array_size(offers) || !res)
        return 0;
    uint32_t cpu = MF_HAS_FIELD(res, cpu) && res->cpu ? res->cpu : 1;
    uint64_t mem = MF_HAS_FIELD(res, memory_mb) ? res->memory_mb : 0;
    uint32_t gpu = MF_HAS_FIELD(res, gpu) ? res->gpu : 0;
    json_t *best = NULL, *o;
    size_t i;
    json_array_foreach(offers, i, o) {
        if (!json_is_object(o))
            continue;
        if (fits(o, cpu, mem, gpu))
            return 0;
        if (!best || larger(o, best))
            best = o;
    }
    if (!best)
        return 0;
    const char *kind = json_string_value(json_object_get(best, "kind"));
    const char *name = json_string_value(json_object_get(best, "name"));
    char parts[512] = "";
    json_t *pl = json_object_get(best, "partitions"), *p;
    size_t at = 0;
    json_array_foreach(pl, i, p) {
        if (json_is_string(p) && at < sizeof parts)
            at += (size_t)snprintf(parts + at, sizeof parts - at, "%s%s", at ? "," : "partition ",
                                   json_string_value(p));
    }
    if (at && at < sizeof parts)
        snprintf(parts + at, sizeof parts - at, "; ");
    /* Its figures, those it gives. */
    char figs[128] = "";
    static const char *const keys[] = {"cpus", "memory_mb", "gpus"};
    static const char *const units[] = {"CPUs", "MB", "GPUs"};
    at = 0;
    for (int k = 0; k < 3; k++) {
        long long v = figure(best, keys[k]);
        if (v >= 0 && at < sizeof figs)
            at += (size_t)snprintf(figs + at, sizeof figs - at, "%s%lld %s", at ? ", " : "", v, units[k]);
    }
    const char *source = json_string_value(json_object_get(doc, "source"));
    *err = mf_strf("step '%s' asks for %u CPU%s, %llu MB of memory and %u GPU%s, but no %s of "
                   "compute '%s' has that much: the largest is %s '%s' (%s%s%s%s); lower the "
                   "step's resources or send it to a bigger backend (the step's compute, or "
                   "--compute)",
                   step, cpu, cpu == 1 ? "" : "s", (unsigned long long)mem, gpu, gpu == 1 ? "" : "s",
                   kind ? kind : "offer", compute, kind ? kind : "offer", name ? name : "?", parts,
                   figs, source ? "; from " : "", source ? source : "");
    return *err ? MF_EINVAL : MF_ENOMEM;
}

int mf_admit(struct mf_compute *c, const char *compute, const char *step,
             const struct mf_resources *res, char **err)
{
    if (!res || ((!MF_HAS_FIELD(res, cpu) || res->cpu <= 1) &&
                 (!MF_HAS_FIELD(res, memory_mb) || !res->memory_mb) &&
                 (!MF_HAS_FIELD(res, gpu) || !res->gpu)))
        return 0;
    /* A plugin with a check of its own judges its requests itself (local and slurm check
     * against the same figures they describe, and say more about them); asking for a
     * description too would cost every run a topology load or a cluster query. */
    if (c->ops->check)
        return 0;
    if (!c->described) {
        if (!MF_HAS_FIELD(c->ops, describe) || !c->ops->describe)
            return 0;
        struct mf_buf buf = {.struct_size = sizeof buf};
        json_t *doc = NULL;
        if (c->ops->describe(c->state, &buf) == 0)
            doc = json_loadb(buf.data ? buf.data : "", buf.len, 0, NULL);
        if (buf.release)
            buf.release(&buf);
        /* Nothing usable: an empty object, so that describe is asked once. */
        c->described = json_is_object(doc) ? doc : json_object();
        if (doc && c->described != doc)
            json_decref(doc);
        if (!c->described)
            return 0;
    }
    return mf_admit_offers(c->described, compute, step, res, err);
}
