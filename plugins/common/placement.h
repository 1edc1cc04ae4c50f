/* Placement for the local and container compute plugins: a model of the machine built once
 * from an hwloc topology (cores, hardware threads, NUMA nodes, GPUs, memory), and the
 * admission decision for one task: which cores, hardware threads and GPUs it gets, or "not
 * now".
 *
 * Pure: after placement_create nothing here touches hwloc, the kernel or the clock, so it is
 * tested on synthetic and XML topologies (HWLOC_SYNTHETIC, HWLOC_XMLFILE) without spawning
 * anything, and one placement costs a few microseconds. Not thread-safe: one model is used by
 * one thread. A static library (plugins/common/meson.build) each of them links.
 *
 * Policy (README.md says it for users):
 *  - resources.cpu = N asks for N logical CPUs (hardware threads, what nproc counts); 0 means
 *    one. A task owns every core it is given: two tasks never share a core.
 *  - While at least N cores are free, the task gets N whole cores and is bound to one
 *    hardware thread of each (the siblings stay idle), all in one NUMA node when one has N
 *    free cores (the fullest such node, to keep room for big tasks), else spread over the
 *    fewest nodes. With fewer than N free cores it takes all of them and uses their sibling
 *    threads too, if that makes N.
 *  - resources.gpu = G takes G free GPUs, those on the task's own NUMA node first; a task
 *    with GPUs prefers a node that has both the cores and the GPUs free.
 *  - resources.memory_mb is counted against the machine's memory.
 */
#ifndef MF_COMPUTE_LOCAL_PLACEMENT_H
#define MF_COMPUTE_LOCAL_PLACEMENT_H

#include <hwloc.h>

#include <stddef.h>
#include <stdint.h>

/* Which *_VISIBLE_DEVICES variable selects a GPU. */
enum place_api {
    PLACE_API_CUDA = 1,        /* CUDA_VISIBLE_DEVICES (with CUDA_DEVICE_ORDER=PCI_BUS_ID) */
    PLACE_API_ROCM = 2,        /* ROCR_VISIBLE_DEVICES */
    PLACE_API_LEVELZERO = 3,   /* ZE_AFFINITY_MASK */
    PLACE_API_OPENCL = 4,      /* none standard: only MFLOW_GPU_LIST */
    PLACE_API_OTHER = 5,
};

struct place_gpu {
    char name[32];     /* the hwloc OS device that names it ("cuda0", "nvml1", "rsmi0", "ze0",
                        * "opencl0d1", "card1"), or "pci" when only the PCI device was seen */
    char busid[16];    /* "0000:65:00.0", or "" when hwloc saw no PCI device for it */
    char vendor[48];   /* "NVIDIA Corporation", or "" */
    char model[96];    /* "NVIDIA H100 80GB HBM3", or "" */
    char uuid[64];     /* NVIDIAUUID / AMDUUID when hwloc has it, or "" */
    int api;           /* enum place_api */
    int ordinal;       /* its number in that API's *_VISIBLE_DEVICES */
    int numa;          /* index of its NUMA node (placement_numa), -1 when hwloc does not know */
};

struct place_numa {
    unsigned os_index;
    uint64_t memory_mb;
    unsigned ncores;     /* cores whose CPUs are in this node */
    unsigned npus;
};

struct place_summary {
    unsigned packages, numa_nodes, cores, pus, gpus;
    uint64_t memory_mb;          /* what memory_mb requests are counted against */
    int this_system;             /* the topology is this machine's: binding means something */
    char source[160];            /* "this machine", "synthetic topology '...'", "XML topology '...'" */
};

/* One task's request and what it was given. */
struct place_req {
    uint32_t cpu;          /* 0 = one */
    uint32_t gpu;
    uint64_t memory_mb;
};

struct place_grant {
    unsigned ncpu;         /* hardware threads the task is bound to (= its request) */
    unsigned *cpu;         /* their OS indices (what sched_setaffinity takes), ascending */
    unsigned ncore;        /* cores it owns */
    unsigned *core;        /* model indices of those cores */
    unsigned ngpu;
    unsigned *gpu;         /* model indices of its GPUs (placement_gpu), ascending */
    uint64_t memory_mb;
};

struct placement;

/* Load this machine's topology, or the one HWLOC_XMLFILE or HWLOC_SYNTHETIC describes, with
 * the I/O devices that matter for GPUs (hwloc's "important" PCI and OS devices; none on a
 * machine of this kind where placement_gpu_possible says no GPU can be there). Returns 0,
 * or a positive errno / MF_EUNAVAIL with the message in err. Destroy with
 * hwloc_topology_destroy. */
int placement_topology_load(hwloc_topology_t *out, char *err, size_t errlen);

/* Whether this machine may have a GPU hwloc would find: 1 when some PCI device under
 * pci_dir (/sys/bus/pci/devices) has a GPU's class (display, processing accelerator,
 * co-processor), when a GPU driver's device (nvidiactl, nvidia0, kfd, dri) is under dev_dir,
 * or when the PCI devices cannot be listed or read; else 0. placement_topology_load leaves
 * hwloc's I/O discovery out when it is 0. */
int placement_gpu_possible(const char *pci_dir, const char *dev_dir);

/* Build the model from a loaded topology (which may be destroyed afterwards).
 * allowed: CPUs (OS indices) tasks may be bound to, or NULL for all of the topology's
 * (the plugin passes its own affinity on this machine). memory_mb: the memory capacity, or 0
 * for the topology's total. Returns 0, MF_ENOMEM, or MF_EINVAL when no usable CPU is left
 * (message in err). */
int placement_create(hwloc_topology_t topo, hwloc_const_cpuset_t allowed, uint64_t memory_mb,
                     struct placement **out, char *err, size_t errlen);

/* placement_create for the machine the plugin runs on: when topo is this system, only the CPUs
 * this process may run on (taskset, a Slurm step, a container), and memory the larger of
 * hwloc's and the kernel's (kernel_mb: hot-plugged memory hwloc can miss), no more than
 * own_mb when that is set (this process's cgroup limit); a topology of another machine as it
 * is. Takes nothing of topo (the caller destroys it). */
int placement_create_here(hwloc_topology_t topo, uint64_t kernel_mb, uint64_t own_mb,
                          struct placement **out, char *err, size_t errlen);

/* A model without hwloc: ncpu single-threaded cores on one NUMA node, no GPU (what the plugin
 * falls back to when hwloc cannot load a topology). */
int placement_create_flat(unsigned ncpu, uint64_t memory_mb, struct placement **out);

void placement_destroy(struct placement *p);

const struct place_summary *placement_summary(const struct placement *p);
const struct place_numa *placement_numa(const struct placement *p, unsigned i);
const struct place_gpu *placement_gpu(const struct placement *p, unsigned i);
/* OS indices of the hardware threads of core i (n of them); NULL past the last core. */
const unsigned *placement_core_cpus(const struct placement *p, unsigned i, unsigned *n,
                                    int *numa);

/* Could the request ever run here (on an empty machine)? 0, or MF_EINVAL with a message
 * naming the step, the request and the capacity ("step 'train' asks for 4 GPUs but this
 * machine has 0 (hwloc found none); ..."). step may be NULL ("this task"). */
int placement_check(const struct placement *p, const char *step, const struct place_req *r,
                    char *msg, size_t msglen);

struct mf_resources;
/* A step's resources as a request: the fields inside res->struct_size, the others 0 (cpu 0
 * is one); NULL: an empty request. */
void placement_req_of(const struct mf_resources *res, struct place_req *r);

/* placement_check of a step's resources (placement_req_of): what a compute plugin's `check`
 * does. 0 when res is NULL or too short to hold cpu (nothing asked). */
int placement_check_resources(const struct placement *p, const char *step,
                              const struct mf_resources *res, char *msg, size_t msglen);

/* Place one task. 0: *g is filled (release it with placement_release); EAGAIN: it does not
 * fit in what is free now (nothing changed); MF_EINVAL: it can never fit (see
 * placement_check); MF_ENOMEM. */
int placement_place(struct placement *p, const struct place_req *r, struct place_grant *g);

/* Give a grant's cores, GPUs and memory back; the grant is emptied. NULL or empty: no-op. */
void placement_release(struct placement *p, struct place_grant *g);

/* What is free now. */
unsigned placement_free_cores(const struct placement *p);
unsigned placement_free_gpus(const struct placement *p);
uint64_t placement_free_memory(const struct placement *p);

/* Comma-separated ascending OS indices of the grant's CPUs ("0,2,4"); what was written
 * (without the NUL), or the length needed when it did not fit. */
size_t placement_cpu_list(const struct place_grant *g, char *buf, size_t len);

/* The value of the *_VISIBLE_DEVICES variable of api for the grant's GPUs ("0,3"; "" when it
 * has none of that API). Same return as placement_cpu_list. */
size_t placement_gpu_list(const struct placement *p, const struct place_grant *g, int api,
                          char *buf, size_t len);

/* Name of an enum place_api's variable ("CUDA_VISIBLE_DEVICES"), or NULL for none. */
const char *placement_api_env(int api);
/* "CUDA", "ROCm", "Level Zero", "OpenCL", "other". */
const char *placement_api_name(int api);

#endif
