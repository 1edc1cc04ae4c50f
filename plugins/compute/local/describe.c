/* The local plugin's description (the describe operation): the machine as local compute
 * sees it, from hwloc: packages, NUMA nodes, cores, hardware threads, GPUs and memory, and
 * which resource limits can be enforced here. Built from placement.c and memlimit.c, so it
 * shows exactly what admission and placement use. `mflow resources` prints its "text" and,
 * with --json, the rest. */
#include "local_int.h"
#include "memlimit.h"
#include "placement.h"

#include <mflow/plugin.h>

#include <hwloc/glibc-sched.h>
#include <jansson.h>

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* "0-3,8-11" from ascending numbers. */
static void ranges(const unsigned *v, size_t n, char *buf, size_t len)
{
    size_t at = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && at < len;) {
        size_t j = i;
        while (j + 1 < n && v[j + 1] == v[j] + 1)
            j++;
        int w = j > i ? snprintf(buf + at, len - at, "%s%u-%u", at ? "," : "", v[i], v[j])
                      : snprintf(buf + at, len - at, "%s%u", at ? "," : "", v[i]);
        if (w < 0)
            break;
        at += (size_t)w;
        i = j + 1;
    }
}

static int cmp_unsigned(const void *a, const void *b)
{
    unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
    return x < y ? -1 : x > y;
}

/* The CPUs of NUMA node n (model index), as ranges. */
static void node_cpus(const struct placement *p, unsigned n, char *buf, size_t len)
{
    const struct place_summary *s = placement_summary(p);
    unsigned *v = malloc(sizeof *v * (s->pus ? s->pus : 1));
    size_t k = 0;
    if (!v) {
        snprintf(buf, len, "?");
        return;
    }
    for (unsigned c = 0; c < s->cores; c++) {
        unsigned cnt;
        int numa;
        const unsigned *cpus = placement_core_cpus(p, c, &cnt, &numa);
        if (cpus && numa == (int)n)
            for (unsigned i = 0; i < cnt; i++)
                v[k++] = cpus[i];
    }
    qsort(v, k, sizeof *v, cmp_unsigned);
    ranges(v, k, buf, len);
    if (!k)
        snprintf(buf, len, "-");
    free(v);
}

static const char *mech_name(int mech)
{
    switch (mech) {
    case MEMLIMIT_CGROUP2: return "cgroup-v2";
    case MEMLIMIT_CGROUP1: return "cgroup-v1";
    case MEMLIMIT_RLIMIT: return "rlimit";
    default: return "none";
    }
}

struct view {
    struct placement *p;
    struct memlimit mem;
    char mem_how[1024];
    int bind;                 /* CPU binding is in force */
    const char *bind_opt;
    uint64_t hwloc_mb, kernel_mb, cgroup_mb;
    char hwloc_version[32];
};

static void print_text(FILE *f, const struct view *v)
{
    const struct placement *p = v->p;
    const struct place_summary *s = placement_summary(p);
    fprintf(f, "machine    %s (hwloc %s)\n", s->source, v->hwloc_version);
    fprintf(f, "packages   %u\n", s->packages);
    fprintf(f, "NUMA nodes %u\n", s->numa_nodes);
    fprintf(f, "cores      %u\n", s->cores);
    fprintf(f, "CPUs       %u hardware threads%s\n", s->pus,
               s->cores && s->pus > s->cores ? " (SMT: a task gets whole cores first)" : "");
    fprintf(f, "memory     %llu MB", (unsigned long long)s->memory_mb);
    if (v->cgroup_mb && v->cgroup_mb == s->memory_mb)
        fprintf(f, " (the limit of mflow's own cgroup)");
    else if (v->kernel_mb && v->kernel_mb == s->memory_mb && v->hwloc_mb < v->kernel_mb)
        fprintf(f, " (the kernel's count; hwloc's NUMA nodes hold %llu MB)", (unsigned long long)v->hwloc_mb);
    fprintf(f, "\nGPUs       %u%s\n", s->gpus,
               s->gpus ? "" : " (hwloc found none: it looked for CUDA/NVML, ROCm SMI, Level Zero and OpenCL devices and NVIDIA/AMD PCI display controllers)");

    fprintf(f, "\n%-5s %-6s %-20s %-6s %-8s %s\n", "NUMA", "os#", "CPUs", "cores", "threads", "memory");
    for (unsigned n = 0; n < s->numa_nodes; n++) {
        const struct place_numa *x = placement_numa(p, n);
        char cpus[512];
        node_cpus(p, n, cpus, sizeof cpus);
        fprintf(f, "%-5u %-6u %-20s %-6u %-8u %llu MB\n", n, x->os_index, cpus, x->ncores, x->npus,
                   (unsigned long long)x->memory_mb);
    }
    if (s->gpus) {
        fprintf(f, "\n%-4s %-10s %-13s %-5s %-34s %s\n", "GPU", "name", "PCI bus", "NUMA", "model", "selected with");
        for (unsigned g = 0; g < s->gpus; g++) {
            const struct place_gpu *x = placement_gpu(p, g);
            const char *env = placement_api_env(x->api);
            char sel[96], numa[16];
            if (env)
                snprintf(sel, sizeof sel, "%s=%d", env, x->ordinal);
            else
                snprintf(sel, sizeof sel, "MFLOW_GPU_LIST (%s)", placement_api_name(x->api));
            snprintf(numa, sizeof numa, x->numa >= 0 ? "%d" : "?", x->numa);
            fprintf(f, "%-4u %-10s %-13s %-5s %-34.34s %s\n", g, x->name, x->busid[0] ? x->busid : "-", numa,
                       x->model[0] ? x->model : "-", sel);
        }
    }
    fprintf(f, "\nlimits\n");
    if (v->bind)
        fprintf(f, "  cpu      each task is bound to its own cores (sched_setaffinity); OMP_NUM_THREADS and\n"
                   "           friends are set to its cpu count\n");
    else if (!s->this_system)
        fprintf(f, "  cpu      counted, not bound: the topology is not this machine's\n");
    else
        fprintf(f, "  cpu      counted, not bound (local.cpu_bind=%s)\n", v->bind_opt);
    fprintf(f, "  memory   %s\n", v->mem_how);
    if (s->gpus)
        fprintf(f, "  gpu      each task sees only its own GPUs through *_VISIBLE_DEVICES (set by mflow, not\n"
                   "           enforced by the driver); tasks without gpu see no CUDA device\n");
    else
        fprintf(f, "  gpu      no GPU here: steps with resources.gpu are refused before the run\n");
}

/* Today's document of `mflow resources --json`, plus the members every compute plugin's
 * description has (offers, enforced, text). */
static json_t *build_json(const struct view *v, const char *text)
{
    const struct placement *p = v->p;
    const struct place_summary *s = placement_summary(p);
    json_t *o = json_object();
    json_t *nodes = json_array(), *gpus = json_array(), *limits = json_object(), *mem = json_object();
    if (!o || !nodes || !gpus || !limits || !mem) {
        json_decref(o);
        json_decref(nodes);
        json_decref(gpus);
        json_decref(limits);
        json_decref(mem);
        return NULL;
    }
    json_object_set_new(o, "source", json_string(s->source));
    json_object_set_new(o, "this_system", json_boolean(s->this_system));
    json_object_set_new(o, "hwloc_version", json_string(v->hwloc_version));
    json_object_set_new(o, "packages", json_integer(s->packages));
    json_object_set_new(o, "cores", json_integer(s->cores));
    json_object_set_new(o, "pus", json_integer(s->pus));
    json_object_set_new(o, "memory_mb", json_integer((json_int_t)s->memory_mb));
    for (unsigned n = 0; n < s->numa_nodes; n++) {
        const struct place_numa *x = placement_numa(p, n);
        char cpus[4096];
        node_cpus(p, n, cpus, sizeof cpus);
        json_t *e = json_object();
        json_object_set_new(e, "index", json_integer(n));
        json_object_set_new(e, "os_index", json_integer(x->os_index));
        json_object_set_new(e, "cpus", json_string(cpus));
        json_object_set_new(e, "cores", json_integer(x->ncores));
        json_object_set_new(e, "pus", json_integer(x->npus));
        json_object_set_new(e, "memory_mb", json_integer((json_int_t)x->memory_mb));
        json_array_append_new(nodes, e);
    }
    json_object_set_new(o, "numa_nodes", nodes);
    for (unsigned g = 0; g < s->gpus; g++) {
        const struct place_gpu *x = placement_gpu(p, g);
        const char *env = placement_api_env(x->api);
        json_t *e = json_object();
        json_object_set_new(e, "index", json_integer(g));
        json_object_set_new(e, "name", json_string(x->name));
        json_object_set_new(e, "pci_bus", x->busid[0] ? json_string(x->busid) : json_null());
        json_object_set_new(e, "vendor", json_string(x->vendor));
        json_object_set_new(e, "model", json_string(x->model));
        json_object_set_new(e, "uuid", x->uuid[0] ? json_string(x->uuid) : json_null());
        json_object_set_new(e, "api", json_string(placement_api_name(x->api)));
        json_object_set_new(e, "env", env ? json_string(env) : json_null());
        json_object_set_new(e, "ordinal", json_integer(x->ordinal));
        json_object_set_new(e, "numa", x->numa >= 0 ? json_integer(x->numa) : json_null());
        json_array_append_new(gpus, e);
    }
    json_object_set_new(o, "gpus", gpus);
    json_object_set_new(limits, "cpu_binding", json_boolean(v->bind));
    json_object_set_new(mem, "mechanism", json_string(mech_name(v->mem.mech)));
    json_object_set_new(mem, "whole_task", json_boolean(v->mem.mech == MEMLIMIT_CGROUP1 ||
                                                        v->mem.mech == MEMLIMIT_CGROUP2));
    json_object_set_new(mem, "detail", json_string(v->mem_how));
    json_object_set_new(limits, "memory", mem);
    json_object_set_new(limits, "gpu_visibility", json_boolean(s->gpus > 0));
    json_object_set_new(o, "limits", limits);

    /* The same machine as the one place a task can run, for the host's admission. */
    json_t *offer = json_object(), *kinds = json_object(), *offers = json_array();
    for (unsigned g = 0; g < s->gpus; g++) {
        const struct place_gpu *x = placement_gpu(p, g);
        const char *k = x->model[0] ? x->model : x->name;
        json_t *c = json_object_get(kinds, k);
        json_object_set_new(kinds, k, json_integer(c ? json_integer_value(c) + 1 : 1));
    }
    char host[256] = "";
    if (!s->this_system || gethostname(host, sizeof host - 1) != 0)
        snprintf(host, sizeof host, "%s", s->this_system ? "this machine" : "topology");
    json_object_set_new(offer, "kind", json_string("machine"));
    json_object_set_new(offer, "name", json_string(host));
    json_object_set_new(offer, "cpus", json_integer(s->pus));
    json_object_set_new(offer, "memory_mb", json_integer((json_int_t)s->memory_mb));
    json_object_set_new(offer, "gpus", json_integer(s->gpus));
    json_object_set_new(offer, "gpu_kinds", kinds);
    json_array_append_new(offers, offer);
    json_object_set_new(o, "offers", offers);
    json_t *enf = json_object();
    json_object_set_new(enf, "cpu", json_string(v->bind ? "bound to its own cores (sched_setaffinity)"
                                                        : "counted, not bound"));
    json_object_set_new(enf, "memory", json_string(v->mem_how));
    json_object_set_new(enf, "gpu", json_string(s->gpus ? "*_VISIBLE_DEVICES (set by mflow, not enforced by the driver)"
                                                        : "none here"));
    json_object_set_new(o, "enforced", enf);
    json_object_set_new(o, "text", json_string(text));
    return o;
}


static void free_text(struct mf_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
}

int local_describe(const char *memopt, const char *bind_opt, const struct memlimit *live,
                   struct mf_buf *out, char *err, size_t errlen)
{
    struct view v;
    memset(&v, 0, sizeof v);
    if (live && live->prepared) {
        /* The instance's own jobs' cgroup directory is in use: its probe is done, and a probe
         * here would remove that directory when it ends. */
        v.mem = *live;
    } else {
        if (memlimit_open(&v.mem, memopt, err, errlen) != 0)
            return MF_EINVAL;
        /* Try it for real: make this process's job-cgroup directory, and remove it. */
        if (memlimit_prepare(&v.mem, !strcmp(memopt, "cgroup"), err, errlen) != 0) {
            memlimit_close(&v.mem);
            return MF_EUNAVAIL;
        }
        memlimit_close(&v.mem);
    }
    memlimit_describe(&v.mem, v.mem_how, sizeof v.mem_how);

    hwloc_topology_t topo;
    if (placement_topology_load(&topo, err, errlen) != 0)
        return MF_EUNAVAIL;
    /* The library's release when it discovered this machine; else its API version. */
    const char *release = hwloc_obj_get_info_by_name(hwloc_get_root_obj(topo), "hwlocVersion");
    unsigned api = hwloc_get_api_version();
    if (release && hwloc_topology_is_thissystem(topo))
        snprintf(v.hwloc_version, sizeof v.hwloc_version, "%s", release);
    else
        snprintf(v.hwloc_version, sizeof v.hwloc_version, "API %u.%u.%u", api >> 16, (api >> 8) & 0xff, api & 0xff);
    long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
    v.hwloc_mb = hwloc_get_root_obj(topo)->total_memory >> 20;
    v.kernel_mb = pages > 0 && psize > 0 ? (uint64_t)pages * (uint64_t)psize >> 20 : 0;
    v.cgroup_mb = memlimit_own_limit_mb(&v.mem);
    /* The same capacity the plugin uses (load_machine in local.c). */
    int rc = placement_create_here(topo, v.kernel_mb, v.cgroup_mb, &v.p, err, errlen);
    hwloc_topology_destroy(topo);
    if (rc)
        return rc;
    v.bind_opt = bind_opt;
    v.bind = placement_summary(v.p)->this_system && !strcmp(v.bind_opt, "on");

    char *text = NULL;
    size_t tlen = 0;
    FILE *f = open_memstream(&text, &tlen);
    json_t *doc = NULL;
    if (f) {
        print_text(f, &v);
        if (fclose(f) == 0)
            doc = build_json(&v, text);
    }
    free(text);
    placement_destroy(v.p);
    char *s = doc ? json_dumps(doc, JSON_PRESERVE_ORDER | JSON_COMPACT) : NULL;
    json_decref(doc);
    if (!s) {
        snprintf(err, errlen, "out of memory describing this machine");
        return MF_ENOMEM;
    }
    memset(out, 0, sizeof *out);
    out->struct_size = sizeof *out;
    out->data = s;
    out->len = strlen(s);
    out->release = free_text;
    return 0;
}

