/* The slurm plugin's description (the describe operation): the cluster's nodes as
 * `scontrol --oneliner show node` reports them and its partitions as `sinfo` lists them,
 * turned into the JSON document of plugin.h. Pure text in, text out: slurm.c runs the
 * commands. */
#include "slurm_int.h"

#include <jansson.h>
#include <limits.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The value of `key=` in a one-line record of Key=Value words (up to the next space), into
 * buf; NULL when absent. */
static const char *field(const char *line, const char *key, char *buf, size_t len)
{
    size_t k = strlen(key);
    for (const char *p = line; (p = strstr(p, key)); p += k) {
        if ((p != line && p[-1] != ' ') || p[k] != '=')
            continue;
        const char *v = p + k + 1;
        size_t n = strcspn(v, " \n");
        if (n >= len)
            n = len - 1;
        memcpy(buf, v, n);
        buf[n] = '\0';
        return buf;
    }
    return NULL;
}

/* GPUs of a Gres value ("gpu:a100:4(S:0-1),gpu:2,shard:8"): their sum, and their count by
 * type ("gpu" when untyped) into kinds. */
static long long gres_gpus(const char *g, json_t *kinds)
{
    long long total = 0;
    char *copy = strdup(g ? g : "");
    char *save = NULL;
    for (char *e = copy ? strtok_r(copy, ",", &save) : NULL; e; e = strtok_r(NULL, ",", &save)) {
        if (strncmp(e, "gpu", 3) != 0 || (e[3] != ':' && e[3] != '\0'))
            continue;
        e[strcspn(e, "(")] = '\0';
        char *last = strrchr(e, ':');
        long long n = last ? strtoll(last + 1, NULL, 10) : 1;
        char *type = e[3] == ':' ? e + 4 : NULL;
        if (type && last && last > type) {
            *last = '\0';
        } else {
            type = "gpu";
        }
        if (n <= 0)
            continue;
        /* Counts as Slurm prints them (any digits): sums saturate rather than overflow. */
        if (!strchr(type, ':')) {
            json_t *c = json_object_get(kinds, type);
            long long had = c ? json_integer_value(c) : 0;
            json_object_set_new(kinds, type, json_integer(had > LLONG_MAX - n ? LLONG_MAX : had + n));
        }
        total = total > LLONG_MAX - n ? LLONG_MAX : total + n;
    }
    free(copy);
    return total;
}

static int in_list(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; p && (p = strstr(p, name)); p += n)
        if ((p == list || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
            return 1;
    return 0;
}

char *sl_describe_json(const char *nodes, const char *parts, const char *partition,
                       const char *source)
{
    json_t *doc = json_object(), *offers = json_array(), *plist = json_array(),
           *enf = json_object();
    if (!doc || !offers || !plist || !enf) {
        json_decref(doc);
        json_decref(offers);
        json_decref(plist);
        json_decref(enf);
        return NULL;
    }
    json_object_set_new(doc, "source", json_string(source));
    if (partition)
        json_object_set_new(doc, "partition", json_string(partition));

    /* sinfo --noheader --format=%P|%a|%l|%D|%N: one line a partition, "*" marks the default. */
    char *pc = strdup(parts ? parts : "");
    char *save = NULL;
    for (char *l = pc ? strtok_r(pc, "\n", &save) : NULL; l; l = strtok_r(NULL, "\n", &save)) {
        char *f[5] = {0};
        int nf = 0;
        for (char *p = l; nf < 5; nf++) {
            f[nf] = p;
            char *bar = strchr(p, '|');
            if (!bar) {
                nf++;
                break;
            }
            *bar = '\0';
            p = bar + 1;
        }
        if (nf < 5 || !*f[0])
            continue;
        size_t n = strlen(f[0]);
        int dflt = f[0][n - 1] == '*';
        if (dflt)
            f[0][n - 1] = '\0';
        json_t *p = json_object();
        json_object_set_new(p, "name", json_string(f[0]));
        json_object_set_new(p, "default", json_boolean(dflt));
        json_object_set_new(p, "state", json_string(f[1]));
        json_object_set_new(p, "time_limit", json_string(f[2]));
        json_object_set_new(p, "node_count", json_integer(strtoll(f[3], NULL, 10)));
        json_object_set_new(p, "nodes", json_string(f[4]));
        json_array_append_new(plist, p);
    }
    free(pc);
    json_object_set_new(doc, "partitions", plist);

    /* scontrol --oneliner show node: one line a node. Each node is a place one task can run
     * (a task is one job of one node); only the nodes of the configured partition count. */
    char *nc = strdup(nodes ? nodes : "");
    save = NULL;
    for (char *l = nc ? strtok_r(nc, "\n", &save) : NULL; l; l = strtok_r(NULL, "\n", &save)) {
        char name[256], cpus[32], mem[32], gres[512], state[128], pl[1024];
        if (!field(l, "NodeName", name, sizeof name))
            continue;
        if (!field(l, "Partitions", pl, sizeof pl))
            pl[0] = '\0';
        if (partition && !in_list(pl, partition))
            continue;
        json_t *o = json_object(), *kinds = json_object(), *pa = json_array();
        json_object_set_new(o, "kind", json_string("node"));
        json_object_set_new(o, "name", json_string(name));
        json_object_set_new(o, "cpus", json_integer(field(l, "CPUTot", cpus, sizeof cpus) ? strtoll(cpus, NULL, 10) : 0));
        json_object_set_new(o, "memory_mb", json_integer(field(l, "RealMemory", mem, sizeof mem) ? strtoll(mem, NULL, 10) : 0));
        const char *g = field(l, "Gres", gres, sizeof gres);
        if (g && !strcmp(g, "(null)"))
            g = NULL;
        json_object_set_new(o, "gpus", json_integer(gres_gpus(g, kinds)));
        json_object_set_new(o, "gpu_kinds", kinds);
        json_object_set_new(o, "gres", g ? json_string(g) : json_null());
        json_object_set_new(o, "state", json_string(field(l, "State", state, sizeof state) ? state : "?"));
        char *s2 = NULL;
        for (char *p = strtok_r(pl, ",", &s2); p; p = strtok_r(NULL, ",", &s2))
            json_array_append_new(pa, json_string(p));
        json_object_set_new(o, "partitions", pa);
        json_array_append_new(offers, o);
    }
    free(nc);
    json_object_set_new(doc, "offers", offers);

    json_object_set_new(enf, "cpu", json_string("--cpus-per-task per task; binding as the cluster's TaskPlugin does"));
    json_object_set_new(enf, "memory", json_string("--mem per task; enforced where the cluster constrains RAM (cgroup.conf)"));
    json_object_set_new(enf, "gpu", json_string("--gres=gpu:N per task"));
    json_object_set_new(enf, "time", json_string("--time from the step's timeout_s (mflow's own kill comes first)"));
    json_object_set_new(doc, "enforced", enf);
    char *s = json_dumps(doc, JSON_PRESERVE_ORDER | JSON_COMPACT);
    json_decref(doc);
    return s;
}
