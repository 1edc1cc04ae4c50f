/* Placement: the machine model and the admission decision. See placement.h. */
#include "placement.h"

#include <hwloc/glibc-sched.h>
#include <sched.h>

#include <mflow/plugin.h>
#include <mflow/plugin_util.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct pcore {
    unsigned first;    /* its hardware threads: pu_os[first .. first + npu) */
    unsigned npu;
    unsigned numa;     /* model index of its NUMA node */
};

struct placement {
    unsigned ncore, npu, nnuma, ngpu;
    struct pcore *core;
    unsigned *pu_os;
    struct place_numa *numa;
    unsigned *node_first;        /* node n's cores: node_core[node_first[n] .. + numa[n].ncores) */
    unsigned *node_core;
    struct place_gpu *gpu;
    /* what is in use */
    unsigned char *core_busy, *gpu_busy;
    unsigned *node_free;         /* free cores per node */
    unsigned *node_free_gpus;
    unsigned free_cores, free_gpus;
    uint64_t memory_free;
    /* scratch for one placement */
    unsigned *pick;              /* chosen cores, up to ncore */
    unsigned *order;             /* node order, nnuma */
    unsigned *task_in_node;      /* chosen cores per node, nnuma */
    struct place_summary sum;
};

/* ------------------------------------------------------------------------------------------ */
/* Building the model */

/* A message into the caller's buffer (buf, len; either may be NULL/0). */
#define say(buf, len, ...) ((void)mf_plugin_fail((buf), (len), 0, __VA_ARGS__))

static int is_gpu_class(unsigned short class_id);

/* Whether an entry's class file (CLASS as 0xBBSSPP) names a GPU's PCI class: 1, 0, or -1
 * when it cannot be read. */
static int pci_entry_is_gpu(int dir, const char *entry)
{
    char path[300], buf[32];
    snprintf(path, sizeof path, "%s/class", entry);
    int fd = openat(dir, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    char *end;
    unsigned long v = strtoul(buf, &end, 16);
    if (end == buf)
        return -1;
    return is_gpu_class((unsigned short)(v >> 8));
}

int placement_gpu_possible(const char *pci_dir, const char *dev_dir)
{
    static const char *const devs[] = {"nvidiactl", "nvidia0", "kfd", "dri"};
    for (size_t i = 0; i < sizeof devs / sizeof devs[0]; i++) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", dev_dir, devs[i]);
        if (access(path, F_OK) == 0)
            return 1;
    }
    DIR *d = opendir(pci_dir);
    if (!d)
        return 1;
    int seen = 0, gpu = 0;
    for (struct dirent *e; !gpu && (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        int g = pci_entry_is_gpu(dirfd(d), e->d_name);
        gpu = g != 0;   /* a class that cannot be read counts as a GPU */
        seen++;
    }
    closedir(d);
    return gpu || !seen;
}

int placement_topology_load(hwloc_topology_t *out, char *err, size_t errlen)
{
    *out = NULL;
    hwloc_topology_t topo;
    if (hwloc_topology_init(&topo) != 0) {
        int e = errno ? errno : ENOMEM;
        say(err, errlen, "hwloc: cannot initialise a topology: %s", strerror(e));
        return e;
    }
    /* GPUs are I/O devices, which hwloc leaves out unless asked: keep the PCI devices and OS
     * devices that matter (GPUs, co-processors, and what leads to them). */
    /* Finding them costs more than the rest of the topology (15.7 of 16.8 ms of CPU here,
     * most of a 5-step run's start): where no PCI device is a GPU and no GPU driver's device
     * exists, no GPU can be found, so hwloc is not asked to look. A topology from a file or
     * a description is not this machine's and is always read whole. */
    const char *fx = getenv("HWLOC_XMLFILE"), *fs = getenv("HWLOC_SYNTHETIC"),
               *fr = getenv("HWLOC_FSROOT");
    int elsewhere = (fx && *fx) || (fs && *fs) || (fr && *fr);
    hwloc_topology_set_io_types_filter(topo, elsewhere || placement_gpu_possible("/sys/bus/pci/devices", "/dev")
                                                 ? HWLOC_TYPE_FILTER_KEEP_IMPORTANT
                                                 : HWLOC_TYPE_FILTER_KEEP_NONE);
#if HWLOC_API_VERSION >= 0x00020100
    /* On Linux the kernel's topology files give the cores, packages and NUMA nodes that
     * placement uses; hwloc's x86 backend only adds caches and CPU models from cpuid, which it
     * reads by binding this process to each CPU in turn (a migration per CPU, and a wait for
     * each CPU on a busy machine, at the start of every run). Left out where those files are
     * there and the user chose no components (HWLOC_COMPONENTS). */
    const char *comp = getenv("HWLOC_COMPONENTS");
    if (!elsewhere && !(comp && *comp) &&
        access("/sys/devices/system/cpu/cpu0/topology/core_id", R_OK) == 0)
        hwloc_topology_set_components(topo, HWLOC_TOPOLOGY_COMPONENTS_FLAG_BLACKLIST, "x86");
#endif
    if (hwloc_topology_load(topo) != 0) {
        int e = errno ? errno : MF_EUNAVAIL;
        const char *xml = getenv("HWLOC_XMLFILE"), *syn = getenv("HWLOC_SYNTHETIC");
        if (xml && *xml)
            say(err, errlen, "hwloc: cannot load the XML topology '%s' (HWLOC_XMLFILE): %s", xml,
                strerror(e));
        else if (syn && *syn)
            say(err, errlen, "hwloc: cannot build the synthetic topology '%s' (HWLOC_SYNTHETIC): %s",
                syn, strerror(e));
        else
            say(err, errlen, "hwloc: cannot discover this machine's topology: %s", strerror(e));
        hwloc_topology_destroy(topo);
        return e;
    }
    *out = topo;
    return 0;
}

/* Name kinds of the OS devices that tell a GPU apart. */
enum {
    DEV_CUDA = 1 << 0,
    DEV_NVML = 1 << 1,
    DEV_RSMI = 1 << 2,
    DEV_ZE = 1 << 3,
    DEV_OPENCL = 1 << 4,
    DEV_DRM = 1 << 5,
    DEV_COMPUTE = DEV_CUDA | DEV_NVML | DEV_RSMI | DEV_ZE | DEV_OPENCL,
};

static int prefix_num(const char *name, const char *prefix)
{
    size_t n = strlen(prefix);
    return strncmp(name, prefix, n) == 0 && isdigit((unsigned char)name[n]);
}

static int osdev_kind(hwloc_obj_t o)
{
    const char *name = o->name ? o->name : "";
    if (prefix_num(name, "cuda"))
        return DEV_CUDA;
    if (prefix_num(name, "nvml"))
        return DEV_NVML;
    if (prefix_num(name, "rsmi"))
        return DEV_RSMI;
    if (prefix_num(name, "ze"))
        return DEV_ZE;
    if (prefix_num(name, "opencl"))
        return DEV_OPENCL;
    if (prefix_num(name, "card") || prefix_num(name, "renderD") || prefix_num(name, "controlD"))
        return DEV_DRM;
    /* An OS device of another backend that says what it is. */
    if (o->subtype && !strcasecmp(o->subtype, "CUDA"))
        return DEV_CUDA;
    if (o->subtype && !strcasecmp(o->subtype, "OpenCL"))
        return DEV_OPENCL;
    return o->attr && o->attr->osdev.type == HWLOC_OBJ_OSDEV_COPROC ? DEV_OPENCL : DEV_DRM;
}

/* Preference when several OS devices name one GPU: the one closest to how tasks select it. */
static int name_rank(int kind)
{
    switch (kind) {
    case DEV_CUDA: return 0;
    case DEV_NVML: return 1;
    case DEV_RSMI: return 2;
    case DEV_ZE: return 3;
    case DEV_OPENCL: return 4;
    default: return 5;
    }
}

struct cand {
    hwloc_obj_t pci;      /* or NULL */
    hwloc_obj_t anchor;   /* for locality */
    int kinds;
    int name_rank;
    int name_num;         /* digits of the OS device name, for GPUs without PCI */
    struct place_gpu g;
};

static void copy_str(char *dst, size_t len, const char *src)
{
    snprintf(dst, len, "%s", src ? src : "");
}

static int cand_cmp(const void *a, const void *b)
{
    const struct cand *x = a, *y = b;
    if (!x->pci != !y->pci)
        return x->pci ? -1 : 1;
    if (x->pci) {
        const struct hwloc_pcidev_attr_s *p = &x->pci->attr->pcidev, *q = &y->pci->attr->pcidev;
        unsigned long kx = ((unsigned long)p->domain << 24) | ((unsigned long)p->bus << 16) |
                           ((unsigned long)p->dev << 8) | p->func;
        unsigned long ky = ((unsigned long)q->domain << 24) | ((unsigned long)q->bus << 16) |
                           ((unsigned long)q->dev << 8) | q->func;
        return kx < ky ? -1 : kx > ky;
    }
    return x->name_num < y->name_num ? -1 : x->name_num > y->name_num;
}

static int is_gpu_class(unsigned short class_id)
{
    unsigned base = class_id >> 8;
    return base == 0x03 || base == 0x12 || class_id == 0x0b40;
}

/* The model index of the NUMA node an object is local to, or -1. */
static int locality(const struct placement *p, hwloc_topology_t topo, hwloc_obj_t anchor)
{
    hwloc_obj_t a = anchor ? hwloc_get_non_io_ancestor_obj(topo, anchor) : NULL;
    if (!a || !a->nodeset || hwloc_bitmap_weight(a->nodeset) != 1)
        return -1;
    unsigned os = (unsigned)hwloc_bitmap_first(a->nodeset);
    for (unsigned n = 0; n < p->nnuma; n++)
        if (p->numa[n].os_index == os)
            return (int)n;
    return -1;
}

static int find_gpus(struct placement *p, hwloc_topology_t topo)
{
    int npci = 0, nos = 0;
    for (hwloc_obj_t o = NULL; (o = hwloc_get_next_pcidev(topo, o));)
        npci++;
    for (hwloc_obj_t o = NULL; (o = hwloc_get_next_osdev(topo, o));)
        nos++;
    if (npci + nos == 0)
        return 0;
    struct cand *c = calloc((size_t)(npci + nos), sizeof *c);
    if (!c)
        return MF_ENOMEM;
    size_t n = 0;
    for (hwloc_obj_t o = NULL; (o = hwloc_get_next_pcidev(topo, o));) {
        if (!is_gpu_class(o->attr->pcidev.class_id))
            continue;
        c[n].pci = o;
        c[n].anchor = o;
        c[n].name_rank = 99;
        n++;
    }
    for (hwloc_obj_t o = NULL; (o = hwloc_get_next_osdev(topo, o));) {
        if (o->attr->osdev.type != HWLOC_OBJ_OSDEV_GPU && o->attr->osdev.type != HWLOC_OBJ_OSDEV_COPROC)
            continue;
        int kind = osdev_kind(o);
        hwloc_obj_t pci = o->parent && o->parent->type == HWLOC_OBJ_PCI_DEVICE ? o->parent : NULL;
        struct cand *x = NULL;
        for (size_t i = 0; pci && i < n && !x; i++)
            if (c[i].pci == pci)
                x = &c[i];
        if (!x) {
            if (!pci && !(kind & DEV_COMPUTE))
                continue;   /* a display without compute and without PCI: not a GPU to hand out */
            x = &c[n++];
            x->pci = pci;
            x->anchor = pci ? pci : o->parent;
            x->name_rank = 99;
        }
        x->kinds |= kind;
        if (name_rank(kind) < x->name_rank) {
            x->name_rank = name_rank(kind);
            copy_str(x->g.name, sizeof x->g.name, o->name);
            const char *digits = o->name ? o->name : "";
            while (*digits && !isdigit((unsigned char)*digits))
                digits++;
            x->name_num = atoi(digits);
        }
        const char *v;
        if (!x->g.model[0] && (v = hwloc_obj_get_info_by_name(o, "GPUModel")))
            copy_str(x->g.model, sizeof x->g.model, v);
        if (!x->g.vendor[0] && (v = hwloc_obj_get_info_by_name(o, "GPUVendor")))
            copy_str(x->g.vendor, sizeof x->g.vendor, v);
        if (!x->g.uuid[0] && ((v = hwloc_obj_get_info_by_name(o, "NVIDIAUUID")) ||
                              (v = hwloc_obj_get_info_by_name(o, "AMDUUID"))))
            copy_str(x->g.uuid, sizeof x->g.uuid, v);
    }

    /* Which candidates are GPUs to hand out: those a compute runtime sees, and NVIDIA and
     * AMD display or accelerator devices where hwloc has no runtime plugin (a board's VGA
     * controller, with only a DRM device, is not one). */
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned vendor = c[i].pci ? c[i].pci->attr->pcidev.vendor_id : 0;
        int nv = vendor == 0x10de, amd = vendor == 0x1002;
        if (!(c[i].kinds & DEV_COMPUTE) && !nv && !amd)
            continue;
        struct cand *x = &c[kept];
        if (x != &c[i])
            *x = c[i];
        if (x->kinds & (DEV_CUDA | DEV_NVML) || nv)
            x->g.api = PLACE_API_CUDA;
        else if (x->kinds & DEV_RSMI || amd)
            x->g.api = PLACE_API_ROCM;
        else if (x->kinds & DEV_ZE)
            x->g.api = PLACE_API_LEVELZERO;
        else if (x->kinds & DEV_OPENCL)
            x->g.api = PLACE_API_OPENCL;
        else
            x->g.api = PLACE_API_OTHER;
        if (!x->g.name[0])
            copy_str(x->g.name, sizeof x->g.name, "pci");
        if (x->pci) {
            const struct hwloc_pcidev_attr_s *a = &x->pci->attr->pcidev;
            snprintf(x->g.busid, sizeof x->g.busid, "%04x:%02x:%02x.%01x", (unsigned)a->domain,
                     (unsigned)a->bus, (unsigned)a->dev, (unsigned)a->func);
            const char *v;
            if (!x->g.vendor[0] && (v = hwloc_obj_get_info_by_name(x->pci, "PCIVendor")))
                copy_str(x->g.vendor, sizeof x->g.vendor, v);
            if (!x->g.model[0] && (v = hwloc_obj_get_info_by_name(x->pci, "PCIDevice")))
                copy_str(x->g.model, sizeof x->g.model, v);
        }
        x->g.numa = locality(p, topo, x->anchor);
        kept++;
    }
    /* PCI bus order: the order CUDA (with CUDA_DEVICE_ORDER=PCI_BUS_ID), NVML, ROCm and
     * Level Zero number devices in, so each API's ordinal is the GPU's rank in it. */
    qsort(c, kept, sizeof *c, cand_cmp);
    int rc = 0;
    if (kept) {
        p->gpu = calloc(kept, sizeof *p->gpu);
        if (!p->gpu)
            rc = MF_ENOMEM;
    }
    int next[PLACE_API_OTHER + 1] = {0};
    for (size_t i = 0; !rc && i < kept; i++) {
        p->gpu[i] = c[i].g;
        p->gpu[i].ordinal = c[i].pci ? next[c[i].g.api]++ : c[i].name_num;
    }
    if (!rc)
        p->ngpu = (unsigned)kept;
    free(c);
    return rc;
}

static int alloc_state(struct placement *p)
{
    p->core_busy = calloc(p->ncore ? p->ncore : 1, 1);
    p->gpu_busy = calloc(p->ngpu ? p->ngpu : 1, 1);
    p->node_free = calloc(p->nnuma, sizeof *p->node_free);
    p->node_free_gpus = calloc(p->nnuma, sizeof *p->node_free_gpus);
    p->node_first = calloc(p->nnuma, sizeof *p->node_first);
    p->node_core = calloc(p->ncore ? p->ncore : 1, sizeof *p->node_core);
    p->pick = calloc(p->ncore ? p->ncore : 1, sizeof *p->pick);
    p->order = calloc(p->nnuma, sizeof *p->order);
    p->task_in_node = calloc(p->nnuma, sizeof *p->task_in_node);
    if (!p->core_busy || !p->gpu_busy || !p->node_free || !p->node_free_gpus || !p->node_first ||
        !p->node_core || !p->pick || !p->order || !p->task_in_node)
        return MF_ENOMEM;
    /* Cores grouped by node, each group in the topology's (logical) order. */
    unsigned at = 0;
    for (unsigned n = 0; n < p->nnuma; n++) {
        p->node_first[n] = at;
        p->numa[n].ncores = p->numa[n].npus = 0;
        for (unsigned i = 0; i < p->ncore; i++) {
            if (p->core[i].numa != n)
                continue;
            p->node_core[at++] = i;
            p->numa[n].ncores++;
            p->numa[n].npus += p->core[i].npu;
        }
        p->node_free[n] = p->numa[n].ncores;
    }
    for (unsigned g = 0; g < p->ngpu; g++)
        if (p->gpu[g].numa >= 0)
            p->node_free_gpus[p->gpu[g].numa]++;
    p->free_cores = p->ncore;
    p->free_gpus = p->ngpu;
    p->memory_free = p->sum.memory_mb;
    p->sum.cores = p->ncore;
    p->sum.pus = p->npu;
    p->sum.numa_nodes = p->nnuma;
    p->sum.gpus = p->ngpu;
    return 0;
}

int placement_create(hwloc_topology_t topo, hwloc_const_cpuset_t allowed, uint64_t memory_mb,
                     struct placement **out, char *err, size_t errlen)
{
    *out = NULL;
    struct placement *p = calloc(1, sizeof *p);
    if (!p)
        return MF_ENOMEM;
    int rc = MF_ENOMEM;
    int npu_all = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PU);
    int nnuma = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE);
    if (npu_all <= 0) {
        say(err, errlen, "hwloc: the topology has no CPU (processing unit)");
        rc = MF_EINVAL;
        goto error;
    }
    if (nnuma <= 0)
        nnuma = 1;
    p->nnuma = (unsigned)nnuma;
    p->numa = calloc(p->nnuma, sizeof *p->numa);
    p->core = calloc((size_t)npu_all, sizeof *p->core);
    p->pu_os = calloc((size_t)npu_all, sizeof *p->pu_os);
    if (!p->numa || !p->core || !p->pu_os)
        goto error;
    hwloc_obj_t *nodes = calloc(p->nnuma, sizeof *nodes);
    if (!nodes)
        goto error;
    for (unsigned n = 0; n < p->nnuma; n++) {
        hwloc_obj_t o = hwloc_get_obj_by_type(topo, HWLOC_OBJ_NUMANODE, n);
        nodes[n] = o;
        p->numa[n].os_index = o ? o->os_index : n;
        p->numa[n].memory_mb = o ? o->attr->numanode.local_memory >> 20 : 0;
    }

    /* Hardware threads in logical order: those of one core are consecutive. */
    hwloc_obj_t last_core = NULL;
    for (int i = 0; i < npu_all; i++) {
        hwloc_obj_t pu = hwloc_get_obj_by_type(topo, HWLOC_OBJ_PU, (unsigned)i);
        if (!pu || (allowed && !hwloc_bitmap_isset(allowed, pu->os_index)))
            continue;
        hwloc_obj_t core = hwloc_get_ancestor_obj_by_type(topo, HWLOC_OBJ_CORE, pu);
        if (!core)
            core = pu;   /* no core level: each hardware thread is its own core */
        if (core != last_core || !p->ncore) {
            struct pcore *c = &p->core[p->ncore++];
            c->first = p->npu;
            c->npu = 0;
            c->numa = 0;
            for (unsigned n = 0; n < p->nnuma; n++)
                if (nodes[n] && nodes[n]->cpuset && hwloc_bitmap_isset(nodes[n]->cpuset, pu->os_index)) {
                    c->numa = n;
                    break;
                }
            last_core = core;
        }
        p->pu_os[p->npu++] = pu->os_index;
        p->core[p->ncore - 1].npu++;
    }
    free(nodes);
    if (!p->npu) {
        say(err, errlen, "none of the topology's %d CPUs may be used by this process (its CPU affinity or cgroup cpuset excludes them all)",
            npu_all);
        rc = MF_EINVAL;
        goto error;
    }

    hwloc_obj_t root = hwloc_get_root_obj(topo);
    uint64_t total = root->total_memory >> 20;
    p->sum.memory_mb = memory_mb ? memory_mb : total;
    int npkg = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PACKAGE);
    p->sum.packages = npkg > 0 ? (unsigned)npkg : 1;
    p->sum.this_system = hwloc_topology_is_thissystem(topo);
    const char *backend = hwloc_obj_get_info_by_name(root, "Backend");
    const char *xml = getenv("HWLOC_XMLFILE");
    if (backend && !strcmp(backend, "Synthetic")) {
        const char *d = hwloc_obj_get_info_by_name(root, "SyntheticDescription");
        say(p->sum.source, sizeof p->sum.source, "synthetic topology '%s'", d ? d : "?");
    } else if (!p->sum.this_system && xml && *xml) {
        say(p->sum.source, sizeof p->sum.source, "XML topology '%s'", xml);
    } else if (!p->sum.this_system) {
        say(p->sum.source, sizeof p->sum.source, "a topology that is not this machine's");
    } else {
        say(p->sum.source, sizeof p->sum.source, "this machine");
    }

    rc = find_gpus(p, topo);
    if (rc)
        goto error;
    rc = alloc_state(p);
    if (rc)
        goto error;
    *out = p;
    return 0;

error:
    if (rc == MF_ENOMEM)
        say(err, errlen, "out of memory building the machine model");
    placement_destroy(p);
    return rc;
}

int placement_create_here(hwloc_topology_t topo, uint64_t kernel_mb, uint64_t own_mb,
                          struct placement **out, char *err, size_t errlen)
{
    hwloc_bitmap_t allowed = NULL;
    uint64_t mem = 0;
    if (hwloc_topology_is_thissystem(topo)) {
        cpu_set_t self;
        allowed = hwloc_bitmap_alloc();
        if (allowed && sched_getaffinity(0, sizeof self, &self) == 0)
            hwloc_cpuset_from_glibc_sched_affinity(topo, allowed, &self, sizeof self);
        else if (allowed) {
            hwloc_bitmap_free(allowed);
            allowed = NULL;
        }
        mem = hwloc_get_root_obj(topo)->total_memory >> 20;
        if (kernel_mb > mem)
            mem = kernel_mb;
        if (own_mb && own_mb < mem)
            mem = own_mb;
    }
    int rc = placement_create(topo, allowed, mem, out, err, errlen);
    if (allowed)
        hwloc_bitmap_free(allowed);
    return rc;
}

int placement_create_flat(unsigned ncpu, uint64_t memory_mb, struct placement **out)
{
    *out = NULL;
    if (!ncpu)
        ncpu = 1;
    struct placement *p = calloc(1, sizeof *p);
    if (!p)
        return MF_ENOMEM;
    p->nnuma = 1;
    p->numa = calloc(1, sizeof *p->numa);
    p->core = calloc(ncpu, sizeof *p->core);
    p->pu_os = calloc(ncpu, sizeof *p->pu_os);
    if (!p->numa || !p->core || !p->pu_os) {
        placement_destroy(p);
        return MF_ENOMEM;
    }
    for (unsigned i = 0; i < ncpu; i++) {
        p->core[i] = (struct pcore){.first = i, .npu = 1, .numa = 0};
        p->pu_os[i] = i;
    }
    p->ncore = p->npu = ncpu;
    p->numa[0].memory_mb = memory_mb;
    p->sum.memory_mb = memory_mb;
    p->sum.packages = 1;
    p->sum.this_system = 1;
    say(p->sum.source, sizeof p->sum.source, "this machine (without hwloc: %u CPUs, no GPU)", ncpu);
    if (alloc_state(p) != 0) {
        placement_destroy(p);
        return MF_ENOMEM;
    }
    *out = p;
    return 0;
}

void placement_destroy(struct placement *p)
{
    if (!p)
        return;
    free(p->core);
    free(p->pu_os);
    free(p->numa);
    free(p->node_first);
    free(p->node_core);
    free(p->gpu);
    free(p->core_busy);
    free(p->gpu_busy);
    free(p->node_free);
    free(p->node_free_gpus);
    free(p->pick);
    free(p->order);
    free(p->task_in_node);
    free(p);
}

const struct place_summary *placement_summary(const struct placement *p)
{
    return &p->sum;
}

const struct place_numa *placement_numa(const struct placement *p, unsigned i)
{
    return i < p->nnuma ? &p->numa[i] : NULL;
}

const struct place_gpu *placement_gpu(const struct placement *p, unsigned i)
{
    return i < p->ngpu ? &p->gpu[i] : NULL;
}

const unsigned *placement_core_cpus(const struct placement *p, unsigned i, unsigned *n, int *numa)
{
    if (i >= p->ncore)
        return NULL;
    if (n)
        *n = p->core[i].npu;
    if (numa)
        *numa = (int)p->core[i].numa;
    return &p->pu_os[p->core[i].first];
}

unsigned placement_free_cores(const struct placement *p)
{
    return p->free_cores;
}

unsigned placement_free_gpus(const struct placement *p)
{
    return p->free_gpus;
}

uint64_t placement_free_memory(const struct placement *p)
{
    return p->memory_free;
}

/* ------------------------------------------------------------------------------------------ */
/* Checking and placing */

static size_t gpu_names(const struct placement *p, char *buf, size_t len)
{
    size_t at = 0;
    buf[0] = '\0';
    for (unsigned g = 0; g < p->ngpu && at < len; g++) {
        int w = snprintf(buf + at, len - at, "%s%s", g ? ", " : "", p->gpu[g].name);
        if (w < 0)
            break;
        at += (size_t)w;
    }
    return at;
}

int placement_check(const struct placement *p, const char *step, const struct place_req *r,
                    char *msg, size_t msglen)
{
    char who[160];
    if (step)
        snprintf(who, sizeof who, "step '%s'", step);
    else
        snprintf(who, sizeof who, "this task");
    uint32_t cpu = r->cpu ? r->cpu : 1;
    if (cpu > p->npu) {
        say(msg, msglen,
            "%s asks for %u cpu but this machine has %u CPUs (hwloc: %u package%s, %u cores, %u hardware threads%s); lower the step's resources.cpu or run it where machines are bigger (e.g. --compute=slurm)",
            who, cpu, p->npu, p->sum.packages, p->sum.packages == 1 ? "" : "s", p->ncore, p->npu,
            p->sum.this_system ? "" : ", from a topology that is not this machine's");
        return MF_EINVAL;
    }
    if (r->gpu > p->ngpu) {
        if (!p->ngpu) {
            say(msg, msglen,
                "%s asks for %u GPU%s but this machine has 0 (hwloc found none); run it on a GPU machine or with --compute=slurm",
                who, r->gpu, r->gpu == 1 ? "" : "s");
        } else {
            char names[256];
            gpu_names(p, names, sizeof names);
            say(msg, msglen,
                "%s asks for %u GPUs but this machine has %u (%s); lower the step's resources.gpu or run it on a bigger GPU machine (e.g. --compute=slurm)",
                who, r->gpu, p->ngpu, names);
        }
        return MF_EINVAL;
    }
    if (r->memory_mb > p->sum.memory_mb) {
        say(msg, msglen,
            "%s asks for %llu MB of memory (resources.memory_mb) but this machine has %llu MB; lower the step's resources.memory_mb or run it on a bigger machine (e.g. --compute=slurm)",
            who, (unsigned long long)r->memory_mb, (unsigned long long)p->sum.memory_mb);
        return MF_EINVAL;
    }
    return 0;
}

/* The node that should hold all n cores of a task, or -1 when no node has n free. A task with
 * GPUs prefers a node that also has g of them free. Among fitting nodes, the fullest (best
 * fit), then the lowest. */
static int pick_node(const struct placement *p, unsigned n, unsigned g)
{
    for (int pass = g ? 0 : 1; pass < 2; pass++) {
        int best = -1;
        for (unsigned i = 0; i < p->nnuma; i++) {
            if (p->node_free[i] < n || (pass == 0 && p->node_free_gpus[i] < g))
                continue;
            if (best < 0 || p->node_free[i] < p->node_free[best])
                best = (int)i;
        }
        if (best >= 0)
            return best;
    }
    return -1;
}

/* Up to want free cores of node n into p->pick from *k on. */
static void take_from_node(struct placement *p, unsigned n, unsigned want, unsigned *k)
{
    const unsigned *cores = &p->node_core[p->node_first[n]];
    for (unsigned i = 0; i < p->numa[n].ncores && want; i++) {
        if (p->core_busy[cores[i]])
            continue;
        p->pick[(*k)++] = cores[i];
        want--;
    }
}

static int cmp_unsigned(const void *a, const void *b)
{
    unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
    return x < y ? -1 : x > y;
}

int placement_place(struct placement *p, const struct place_req *r, struct place_grant *g)
{
    memset(g, 0, sizeof *g);
    unsigned want = r->cpu ? r->cpu : 1;
    if (want > p->npu || r->gpu > p->ngpu || r->memory_mb > p->sum.memory_mb)
        return MF_EINVAL;
    if (r->gpu > p->free_gpus || r->memory_mb > p->memory_free || !p->free_cores)
        return EAGAIN;

    /* Cores: n whole ones while there are, else all that are free with their siblings. */
    unsigned k = 0;
    if (want <= p->free_cores) {
        int node = pick_node(p, want, r->gpu);
        if (node >= 0) {
            take_from_node(p, (unsigned)node, want, &k);
        } else {
            /* Spread over the fewest nodes: those with the most free cores first. */
            unsigned nn = 0;
            for (unsigned i = 0; i < p->nnuma; i++) {
                if (!p->node_free[i])
                    continue;
                unsigned j = nn++;
                while (j > 0 && p->node_free[p->order[j - 1]] < p->node_free[i]) {
                    p->order[j] = p->order[j - 1];
                    j--;
                }
                p->order[j] = i;
            }
            for (unsigned i = 0; i < nn && k < want; i++)
                take_from_node(p, p->order[i], want - k, &k);
        }
    } else {
        unsigned threads = 0;
        for (unsigned i = 0; i < p->ncore; i++)
            if (!p->core_busy[i])
                threads += p->core[i].npu;
        if (threads < want)
            return EAGAIN;
        for (unsigned n = 0; n < p->nnuma; n++)
            take_from_node(p, n, p->node_free[n], &k);
    }

    unsigned *mem = malloc(sizeof(unsigned) * (want + k + r->gpu + 1));
    if (!mem)
        return MF_ENOMEM;
    g->cpu = mem;
    g->core = mem + want;
    g->gpu = mem + want + k;

    /* Hardware threads: the first of every core, then the second, ... */
    for (unsigned round = 0; g->ncpu < want; round++)
        for (unsigned i = 0; i < k && g->ncpu < want; i++) {
            const struct pcore *c = &p->core[p->pick[i]];
            if (round < c->npu)
                g->cpu[g->ncpu++] = p->pu_os[c->first + round];
        }
    qsort(g->cpu, g->ncpu, sizeof *g->cpu, cmp_unsigned);

    for (unsigned n = 0; n < p->nnuma; n++)
        p->task_in_node[n] = 0;
    for (unsigned i = 0; i < k; i++) {
        unsigned c = p->pick[i];
        g->core[g->ncore++] = c;
        p->core_busy[c] = 1;
        p->node_free[p->core[c].numa]--;
        p->task_in_node[p->core[c].numa]++;
    }
    p->free_cores -= k;

    /* GPUs: on the nodes holding most of the task's cores first, then those of unknown
     * locality, then the others; lowest index among equals. */
    for (unsigned taken = 0; taken < r->gpu; taken++) {
        int best = -1;
        long best_key = 0;
        for (unsigned i = 0; i < p->ngpu; i++) {
            if (p->gpu_busy[i])
                continue;
            int node = p->gpu[i].numa;
            long key = node < 0                       ? 1000000L
                       : p->task_in_node[node] > 0 ? -(long)p->task_in_node[node]
                                                      : 2000000L;
            if (best < 0 || key < best_key) {
                best = (int)i;
                best_key = key;
            }
        }
        p->gpu_busy[best] = 1;
        if (p->gpu[best].numa >= 0)
            p->node_free_gpus[p->gpu[best].numa]--;
        g->gpu[g->ngpu++] = (unsigned)best;
    }
    p->free_gpus -= r->gpu;
    qsort(g->gpu, g->ngpu, sizeof *g->gpu, cmp_unsigned);

    g->memory_mb = r->memory_mb;
    p->memory_free -= r->memory_mb;
    return 0;
}

void placement_release(struct placement *p, struct place_grant *g)
{
    if (!p || !g || !g->cpu)
        return;
    for (unsigned i = 0; i < g->ncore; i++) {
        unsigned c = g->core[i];
        if (c < p->ncore && p->core_busy[c]) {
            p->core_busy[c] = 0;
            p->node_free[p->core[c].numa]++;
            p->free_cores++;
        }
    }
    for (unsigned i = 0; i < g->ngpu; i++) {
        unsigned x = g->gpu[i];
        if (x < p->ngpu && p->gpu_busy[x]) {
            p->gpu_busy[x] = 0;
            if (p->gpu[x].numa >= 0)
                p->node_free_gpus[p->gpu[x].numa]++;
            p->free_gpus++;
        }
    }
    p->memory_free += g->memory_mb;
    if (p->memory_free > p->sum.memory_mb)
        p->memory_free = p->sum.memory_mb;
    free(g->cpu);
    memset(g, 0, sizeof *g);
}

/* ------------------------------------------------------------------------------------------ */
/* Formatting */

static size_t join_numbers(const unsigned *v, size_t n, char *buf, size_t len)
{
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        char num[16];
        int w = snprintf(num, sizeof num, "%s%u", i ? "," : "", v[i]);
        if (w > 0 && at + (size_t)w < len)
            memcpy(buf + at, num, (size_t)w + 1);
        at += (size_t)(w > 0 ? w : 0);
    }
    if (len)
        buf[at < len ? at : len - 1] = '\0';
    return at;
}

size_t placement_cpu_list(const struct place_grant *g, char *buf, size_t len)
{
    return join_numbers(g->cpu, g->ncpu, buf, len);
}

size_t placement_gpu_list(const struct placement *p, const struct place_grant *g, int api,
                          char *buf, size_t len)
{
    unsigned ord[64];
    size_t n = 0;
    for (unsigned i = 0; i < g->ngpu && n < sizeof ord / sizeof ord[0]; i++) {
        const struct place_gpu *x = &p->gpu[g->gpu[i]];
        if (x->api == api)
            ord[n++] = (unsigned)x->ordinal;
    }
    qsort(ord, n, sizeof *ord, cmp_unsigned);
    return join_numbers(ord, n, buf, len);
}

const char *placement_api_env(int api)
{
    switch (api) {
    case PLACE_API_CUDA: return "CUDA_VISIBLE_DEVICES";
    case PLACE_API_ROCM: return "ROCR_VISIBLE_DEVICES";
    case PLACE_API_LEVELZERO: return "ZE_AFFINITY_MASK";
    default: return NULL;
    }
}

const char *placement_api_name(int api)
{
    switch (api) {
    case PLACE_API_CUDA: return "CUDA";
    case PLACE_API_ROCM: return "ROCm";
    case PLACE_API_LEVELZERO: return "Level Zero";
    case PLACE_API_OPENCL: return "OpenCL";
    default: return "other";
    }
}

void placement_req_of(const struct mf_resources *res, struct place_req *r)
{
    memset(r, 0, sizeof *r);
    if (res && MF_HAS_FIELD(res, cpu))
        r->cpu = res->cpu;
    if (res && MF_HAS_FIELD(res, memory_mb))
        r->memory_mb = res->memory_mb;
    if (res && MF_HAS_FIELD(res, gpu))
        r->gpu = res->gpu;
}

int placement_check_resources(const struct placement *p, const char *step,
                              const struct mf_resources *res, char *msg, size_t msglen)
{
    if (!res || !MF_HAS_FIELD(res, cpu))
        return 0;
    struct place_req r;
    placement_req_of(res, &r);
    return placement_check(p, step, &r, msg, msglen);
}
