/* Unit tests of the local compute plugin's placement (plugins/common/placement.c) on
 * hwloc synthetic and XML topologies: which cores, hardware threads and GPUs each task gets,
 * that concurrent tasks never overlap, that admission says "not now" when resources are
 * short, and the refusal messages. Nothing is spawned. */
#include "placement.h"

#include <mflow/plugin.h>

#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* 2 NUMA nodes x 4 cores x 2 hardware threads, numbered in order: core c has CPUs 2c, 2c+1. */
#define SYN_2x4x2 "numa:2 core:4 pu:2"

static char xml_4gpu[PATH_MAX], xml_mixed[PATH_MAX];

static struct placement *load(const char *synthetic, const char *xml, hwloc_const_cpuset_t allowed)
{
    unsetenv("HWLOC_SYNTHETIC");
    unsetenv("HWLOC_XMLFILE");
    if (synthetic)
        setenv("HWLOC_SYNTHETIC", synthetic, 1);
    if (xml)
        setenv("HWLOC_XMLFILE", xml, 1);
    hwloc_topology_t topo;
    char err[512];
    int rc = placement_topology_load(&topo, err, sizeof err);
    if (rc)
        fail_msg("loading the topology: %s", err);
    struct placement *p = NULL;
    rc = placement_create(topo, allowed, 0, &p, err, sizeof err);
    hwloc_topology_destroy(topo);
    unsetenv("HWLOC_SYNTHETIC");
    unsetenv("HWLOC_XMLFILE");
    if (rc)
        fail_msg("building the model: %s", err);
    return p;
}

static const char *cpus_of(const struct place_grant *g)
{
    static char buf[8][256];
    static int next;
    char *b = buf[next++ % 8];
    placement_cpu_list(g, b, 256);
    return b;
}

static const char *cuda_of(const struct placement *p, const struct place_grant *g)
{
    static char buf[8][256];
    static int next;
    char *b = buf[next++ % 8];
    placement_gpu_list(p, g, PLACE_API_CUDA, b, 256);
    return b;
}

/* Place and assert it fit. */
static void place_ok(struct placement *p, uint32_t cpu, uint32_t gpu, uint64_t mem, struct place_grant *g)
{
    struct place_req r = {.cpu = cpu, .gpu = gpu, .memory_mb = mem};
    int rc = placement_place(p, &r, g);
    if (rc)
        fail_msg("cpu=%u gpu=%u memory_mb=%llu did not fit: %d", cpu, gpu, (unsigned long long)mem, rc);
    assert_int_equal(g->ncpu, cpu ? cpu : 1);
    assert_int_equal(g->ngpu, gpu);
}

static int place_rc(struct placement *p, uint32_t cpu, uint32_t gpu, uint64_t mem)
{
    struct place_req r = {.cpu = cpu, .gpu = gpu, .memory_mb = mem};
    struct place_grant g;
    int rc = placement_place(p, &r, &g);
    if (rc == 0)
        placement_release(p, &g);
    return rc;
}

/* No two grants share a core, a CPU or a GPU, and every CPU of a grant is on one of its own
 * cores. */
static void assert_disjoint(const struct placement *p, const struct place_grant *g, size_t n)
{
    unsigned char core_seen[4096] = {0}, cpu_seen[4096] = {0}, gpu_seen[256] = {0};
    for (size_t i = 0; i < n; i++) {
        if (!g[i].cpu)
            continue;
        for (unsigned c = 0; c < g[i].ncore; c++) {
            assert_true(g[i].core[c] < 4096);
            if (core_seen[g[i].core[c]]++)
                fail_msg("core %u is given to two tasks", g[i].core[c]);
        }
        for (unsigned c = 0; c < g[i].ncpu; c++) {
            if (cpu_seen[g[i].cpu[c]]++)
                fail_msg("CPU %u is given to two tasks", g[i].cpu[c]);
            int mine = 0;
            for (unsigned k = 0; k < g[i].ncore && !mine; k++) {
                unsigned nc;
                const unsigned *cc = placement_core_cpus(p, g[i].core[k], &nc, NULL);
                for (unsigned x = 0; x < nc; x++)
                    mine |= cc[x] == g[i].cpu[c];
            }
            if (!mine)
                fail_msg("CPU %u is not on a core of its task", g[i].cpu[c]);
        }
        for (unsigned c = 0; c < g[i].ngpu; c++)
            if (gpu_seen[g[i].gpu[c]]++)
                fail_msg("GPU %u is given to two tasks", g[i].gpu[c]);
    }
}

/* ------------------------------------------------------------------------------------------ */

static void test_synthetic_model(void **ts)
{
    (void)ts;
    struct placement *p = load(SYN_2x4x2, NULL, NULL);
    const struct place_summary *s = placement_summary(p);
    assert_int_equal(s->numa_nodes, 2);
    assert_int_equal(s->cores, 8);
    assert_int_equal(s->pus, 16);
    assert_int_equal(s->gpus, 0);
    assert_int_equal(s->memory_mb, 2048);   /* hwloc gives a synthetic node 1 GiB */
    assert_int_equal(s->this_system, 0);
    assert_string_equal(s->source, "synthetic topology '" SYN_2x4x2 "'");
    for (unsigned n = 0; n < 2; n++) {
        assert_int_equal(placement_numa(p, n)->ncores, 4);
        assert_int_equal(placement_numa(p, n)->npus, 8);
        assert_int_equal(placement_numa(p, n)->memory_mb, 1024);
    }
    assert_null(placement_numa(p, 2));
    unsigned n;
    int numa;
    const unsigned *c = placement_core_cpus(p, 5, &n, &numa);
    assert_non_null(c);
    assert_int_equal(n, 2);
    assert_int_equal(c[0], 10);
    assert_int_equal(c[1], 11);
    assert_int_equal(numa, 1);
    assert_null(placement_core_cpus(p, 8, &n, &numa));
    placement_destroy(p);
}

/* cpu=1 tasks each get a core of their own (its first hardware thread), a node filled
 * before the next; the ninth waits; a freed core is reused. */
static void test_one_cpu_tasks_own_cores(void **ts)
{
    (void)ts;
    struct placement *p = load(SYN_2x4x2, NULL, NULL);
    struct place_grant g[9];
    const char *want[8] = {"0", "2", "4", "6", "8", "10", "12", "14"};
    for (int i = 0; i < 8; i++) {
        place_ok(p, i % 2 ? 1 : 0, 0, 0, &g[i]);   /* cpu = 0 means one */
        assert_string_equal(cpus_of(&g[i]), want[i]);
        assert_int_equal(g[i].ncore, 1);
    }
    assert_disjoint(p, g, 8);
    assert_int_equal(placement_free_cores(p), 0);
    assert_int_equal(place_rc(p, 1, 0, 0), EAGAIN);   /* 8 CPUs idle, but every core is taken */
    placement_release(p, &g[2]);
    assert_null(g[2].cpu);
    assert_int_equal(placement_free_cores(p), 1);
    place_ok(p, 1, 0, 0, &g[8]);
    assert_string_equal(cpus_of(&g[8]), "4");
    for (int i = 0; i < 9; i++)
        placement_release(p, &g[i]);
    assert_int_equal(placement_free_cores(p), 8);
    placement_destroy(p);
}

static void test_whole_node_packing(void **ts)
{
    (void)ts;
    struct placement *p = load(SYN_2x4x2, NULL, NULL);
    struct place_grant a, b;
    place_ok(p, 4, 0, 0, &a);
    assert_string_equal(cpus_of(&a), "0,2,4,6");
    place_ok(p, 4, 0, 0, &b);
    assert_string_equal(cpus_of(&b), "8,10,12,14");
    assert_int_equal(place_rc(p, 1, 0, 0), EAGAIN);
    placement_release(p, &a);
    placement_release(p, &b);
    placement_destroy(p);
}

/* The fullest node that fits takes the task; when no core is left whole, hardware threads. */
static void test_best_fit_then_threads(void **ts)
{
    (void)ts;
    struct placement *p = load(SYN_2x4x2, NULL, NULL);
    struct place_grant g[4];
    place_ok(p, 3, 0, 0, &g[0]);
    assert_string_equal(cpus_of(&g[0]), "0,2,4");
    place_ok(p, 2, 0, 0, &g[1]);   /* node 0 has one core left: node 1 */
    assert_string_equal(cpus_of(&g[1]), "8,10");
    place_ok(p, 2, 0, 0, &g[2]);   /* node 1 is now the fullest that fits */
    assert_string_equal(cpus_of(&g[2]), "12,14");
    place_ok(p, 2, 0, 0, &g[3]);   /* one core left: both its threads */
    assert_string_equal(cpus_of(&g[3]), "6,7");
    assert_int_equal(g[3].ncore, 1);
    assert_disjoint(p, g, 4);
    assert_int_equal(place_rc(p, 1, 0, 0), EAGAIN);
    for (int i = 0; i < 4; i++)
        placement_release(p, &g[i]);
    placement_destroy(p);
}

static void test_spread_and_threads(void **ts)
{
    (void)ts;
    struct placement *p = load(SYN_2x4x2, NULL, NULL);
    struct place_grant a, b;
    place_ok(p, 6, 0, 0, &a);   /* no node has 6 cores: 4 + 2 */
    assert_string_equal(cpus_of(&a), "0,2,4,6,8,10");
    assert_int_equal(a.ncore, 6);
    assert_int_equal(place_rc(p, 5, 0, 0), EAGAIN);   /* 2 cores = 4 threads */
    place_ok(p, 4, 0, 0, &b);
    assert_string_equal(cpus_of(&b), "12,13,14,15");
    placement_release(p, &a);
    placement_release(p, &b);

    place_ok(p, 12, 0, 0, &a);   /* more than the cores: all of them, threads too */
    assert_string_equal(cpus_of(&a), "0,1,2,3,4,5,6,7,8,10,12,14");
    assert_int_equal(a.ncore, 8);
    assert_int_equal(place_rc(p, 1, 0, 0), EAGAIN);   /* no core is shared */
    placement_release(p, &a);
    place_ok(p, 16, 0, 0, &a);
    assert_string_equal(cpus_of(&a), "0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15");
    placement_release(p, &a);
    assert_int_equal(place_rc(p, 17, 0, 0), MF_EINVAL);
    placement_destroy(p);
}

/* Thousands of random requests and releases: no overlap ever, and the books balance. */
static void test_random_churn(void **ts)
{
    (void)ts;
    struct placement *p = load(SYN_2x4x2, NULL, NULL);
    enum { SLOTS = 12 };
    struct place_grant g[SLOTS];
    memset(g, 0, sizeof g);
    unsigned seed = 12345;
    int placed = 0, refused = 0;
    for (int step = 0; step < 20000; step++) {
        seed = seed * 1103515245u + 12345u;
        unsigned slot = (seed >> 16) % SLOTS;
        if (g[slot].cpu) {
            placement_release(p, &g[slot]);
        } else {
            seed = seed * 1103515245u + 12345u;
            struct place_req r = {.cpu = 1 + (seed >> 16) % 6, .memory_mb = (seed >> 8) % 3 * 300};
            int rc = placement_place(p, &r, &g[slot]);
            if (rc == 0) {
                placed++;
                assert_int_equal(g[slot].ncpu, r.cpu);
            } else {
                assert_int_equal(rc, EAGAIN);
                assert_null(g[slot].cpu);
                refused++;
            }
        }
        unsigned held = 0;
        uint64_t mem = 0;
        for (int i = 0; i < SLOTS; i++) {
            held += g[i].ncore;
            mem += g[i].memory_mb;
        }
        assert_int_equal(held + placement_free_cores(p), 8);
        assert_int_equal(mem + placement_free_memory(p), 2048);
        assert_disjoint(p, g, SLOTS);
    }
    assert_true(placed > 1000 && refused > 100);
    for (int i = 0; i < SLOTS; i++)
        placement_release(p, &g[i]);
    placement_destroy(p);
}

static void test_refusal_messages(void **ts)
{
    (void)ts;
    struct placement *p = load(SYN_2x4x2, NULL, NULL);
    char msg[600];
    struct place_req r = {.gpu = 4};
    assert_int_equal(placement_check(p, "train", &r, msg, sizeof msg), MF_EINVAL);
    assert_string_equal(msg, "step 'train' asks for 4 GPUs but this machine has 0 (hwloc found none); run it on a GPU machine or with --compute=slurm");
    r = (struct place_req){.gpu = 1};
    assert_int_equal(placement_check(p, "one", &r, msg, sizeof msg), MF_EINVAL);
    assert_string_equal(msg, "step 'one' asks for 1 GPU but this machine has 0 (hwloc found none); run it on a GPU machine or with --compute=slurm");
    assert_int_equal(place_rc(p, 1, 1, 0), MF_EINVAL);

    r = (struct place_req){.cpu = 17};
    assert_int_equal(placement_check(p, "big", &r, msg, sizeof msg), MF_EINVAL);
    assert_non_null(strstr(msg, "step 'big' asks for 17 cpu but this machine has 16 CPUs (hwloc: 1 package, 8 cores, 16 hardware threads"));
    assert_non_null(strstr(msg, "resources.cpu"));

    r = (struct place_req){.cpu = 16, .memory_mb = 4096};
    assert_int_equal(placement_check(p, "fat", &r, msg, sizeof msg), MF_EINVAL);
    assert_string_equal(msg, "step 'fat' asks for 4096 MB of memory (resources.memory_mb) but this machine has 2048 MB; lower the step's resources.memory_mb or run it on a bigger machine (e.g. --compute=slurm)");

    r = (struct place_req){.cpu = 16, .memory_mb = 2048};
    assert_int_equal(placement_check(p, "fits", &r, msg, sizeof msg), 0);
    r = (struct place_req){0};
    assert_int_equal(placement_check(p, NULL, &r, msg, sizeof msg), 0);
    placement_destroy(p);
}

/* A step's resources as a request, read by the struct's size as the ABI asks, and the check a
 * plugin's `check` makes of them. */
static void test_resources_request(void **ts)
{
    (void)ts;
    struct place_req r;
    struct mf_resources res = {.struct_size = sizeof res, .cpu = 3, .memory_mb = 512, .gpu = 2};
    placement_req_of(&res, &r);
    assert_int_equal(r.cpu, 3);
    assert_int_equal(r.memory_mb, 512);
    assert_int_equal(r.gpu, 2);
    /* an older, shorter struct: the fields past its size are not read */
    res.struct_size = (uint32_t)offsetof(struct mf_resources, memory_mb);
    placement_req_of(&res, &r);
    assert_int_equal(r.cpu, 3);
    assert_int_equal(r.memory_mb, 0);
    assert_int_equal(r.gpu, 0);
    res.struct_size = (uint32_t)offsetof(struct mf_resources, gpu);
    placement_req_of(&res, &r);
    assert_int_equal(r.memory_mb, 512);
    assert_int_equal(r.gpu, 0);
    placement_req_of(NULL, &r);
    assert_int_equal(r.cpu + r.gpu + r.memory_mb, 0);

    struct placement *p = load(SYN_2x4x2, NULL, NULL);
    char msg[600] = "";
    res = (struct mf_resources){.struct_size = sizeof res, .cpu = 1, .gpu = 1};
    assert_int_equal(placement_check_resources(p, "one", &res, msg, sizeof msg), MF_EINVAL);
    assert_non_null(strstr(msg, "step 'one' asks for 1 GPU but this machine has 0"));
    res = (struct mf_resources){.struct_size = sizeof res, .cpu = 17};
    assert_int_equal(placement_check_resources(p, "big", &res, msg, sizeof msg), MF_EINVAL);
    assert_non_null(strstr(msg, "step 'big' asks for 17 cpu"));
    res = (struct mf_resources){.struct_size = sizeof res, .cpu = 16, .memory_mb = 2048};
    assert_int_equal(placement_check_resources(p, "fits", &res, msg, sizeof msg), 0);
    /* the GPU lies past an old struct's size: nothing asked that cannot fit */
    res = (struct mf_resources){.struct_size = (uint32_t)offsetof(struct mf_resources, gpu),
                                .cpu = 2, .gpu = 4};
    assert_int_equal(placement_check_resources(p, "old", &res, msg, sizeof msg), 0);
    /* too short to hold cpu, or no resources: nothing asked */
    res = (struct mf_resources){.struct_size = sizeof(uint32_t), .cpu = 99};
    assert_int_equal(placement_check_resources(p, "tiny", &res, msg, sizeof msg), 0);
    assert_int_equal(placement_check_resources(p, "none", NULL, msg, sizeof msg), 0);
    placement_destroy(p);
}

static void test_memory_admission(void **ts)
{
    (void)ts;
    struct placement *p = load(SYN_2x4x2, NULL, NULL);
    struct place_grant a, b;
    place_ok(p, 1, 0, 1500, &a);
    assert_int_equal(placement_free_memory(p), 548);
    assert_int_equal(place_rc(p, 1, 0, 600), EAGAIN);   /* cores are free, memory is not */
    place_ok(p, 1, 0, 548, &b);
    assert_int_equal(placement_free_memory(p), 0);
    placement_release(p, &a);
    assert_int_equal(place_rc(p, 1, 0, 600), 0);
    placement_release(p, &b);
    assert_int_equal(placement_free_memory(p), 2048);
    placement_destroy(p);
}

/* Only the CPUs the orchestrator may use are handed out. */
static void test_allowed_cpus(void **ts)
{
    (void)ts;
    hwloc_bitmap_t allowed = hwloc_bitmap_alloc();
    hwloc_bitmap_set_range(allowed, 8, 11);   /* cores 4 and 5 */
    struct placement *p = load(SYN_2x4x2, NULL, allowed);
    assert_int_equal(placement_summary(p)->cores, 2);
    assert_int_equal(placement_summary(p)->pus, 4);
    assert_int_equal(placement_numa(p, 0)->ncores, 0);
    assert_int_equal(placement_numa(p, 1)->ncores, 2);
    struct place_grant a, b;
    place_ok(p, 1, 0, 0, &a);
    assert_string_equal(cpus_of(&a), "8");
    place_ok(p, 1, 0, 0, &b);
    assert_string_equal(cpus_of(&b), "10");
    assert_int_equal(place_rc(p, 1, 0, 0), EAGAIN);
    placement_release(p, &a);
    placement_release(p, &b);
    assert_int_equal(place_rc(p, 5, 0, 0), MF_EINVAL);
    placement_destroy(p);

    hwloc_bitmap_only(allowed, 99);   /* none of the topology's */
    setenv("HWLOC_SYNTHETIC", SYN_2x4x2, 1);
    hwloc_topology_t topo;
    char err[512];
    assert_int_equal(placement_topology_load(&topo, err, sizeof err), 0);
    unsetenv("HWLOC_SYNTHETIC");
    struct placement *none = NULL;
    assert_int_equal(placement_create(topo, allowed, 0, &none, err, sizeof err), MF_EINVAL);
    assert_null(none);
    assert_non_null(strstr(err, "none of the topology's 16 CPUs may be used"));
    hwloc_topology_destroy(topo);
    hwloc_bitmap_free(allowed);
}

static void test_flat_model(void **ts)
{
    (void)ts;
    struct placement *p = NULL;
    assert_int_equal(placement_create_flat(3, 1000, &p), 0);
    assert_int_equal(placement_summary(p)->cores, 3);
    assert_int_equal(placement_summary(p)->gpus, 0);
    struct place_grant a, b;
    place_ok(p, 2, 0, 0, &a);
    assert_string_equal(cpus_of(&a), "0,1");
    assert_int_equal(place_rc(p, 2, 0, 0), EAGAIN);
    place_ok(p, 1, 0, 0, &b);
    assert_string_equal(cpus_of(&b), "2");
    placement_release(p, &a);
    placement_release(p, &b);
    placement_destroy(p);
}

/* ------------------------------------------------------------------------------------------ */
/* The XML fixture: 2 packages x (1 NUMA node, 4 cores x 2 threads numbered like Linux does:
 * core c has CPUs c and c+8) and 4 NVIDIA GPUs, two behind each package, plus the board's
 * VGA controller, which is not a GPU. */

static void test_xml_gpus_found(void **ts)
{
    (void)ts;
    struct placement *p = load(NULL, xml_4gpu, NULL);
    const struct place_summary *s = placement_summary(p);
    assert_int_equal(s->packages, 2);
    assert_int_equal(s->numa_nodes, 2);
    assert_int_equal(s->cores, 8);
    assert_int_equal(s->pus, 16);
    assert_int_equal(s->gpus, 4);
    assert_int_equal(s->memory_mb, 128 * 1024);
    assert_int_equal(s->this_system, 0);
    assert_non_null(strstr(s->source, "XML topology"));
    const char *bus[4] = {"0000:17:00.0", "0000:31:00.0", "0000:b1:00.0", "0000:ca:00.0"};
    for (unsigned i = 0; i < 4; i++) {
        const struct place_gpu *g = placement_gpu(p, i);
        char name[16], uuid[64];
        snprintf(name, sizeof name, "cuda%u", i);
        snprintf(uuid, sizeof uuid, "GPU-0000000%u-1111-2222-3333-444444444444", i);
        assert_string_equal(g->name, name);
        assert_string_equal(g->busid, bus[i]);
        assert_string_equal(g->model, "NVIDIA H100 80GB HBM3");
        assert_string_equal(g->vendor, "NVIDIA Corporation");
        assert_string_equal(g->uuid, uuid);
        assert_int_equal(g->api, PLACE_API_CUDA);
        assert_int_equal(g->ordinal, (int)i);
        assert_int_equal(g->numa, (int)i / 2);
    }
    assert_null(placement_gpu(p, 4));
    unsigned n;
    const unsigned *c = placement_core_cpus(p, 1, &n, NULL);
    assert_int_equal(n, 2);
    assert_int_equal(c[0], 1);
    assert_int_equal(c[1], 9);

    char msg[600];
    struct place_req r = {.gpu = 5};
    assert_int_equal(placement_check(p, "train", &r, msg, sizeof msg), MF_EINVAL);
    assert_string_equal(msg, "step 'train' asks for 5 GPUs but this machine has 4 (cuda0, cuda1, cuda2, cuda3); lower the step's resources.gpu or run it on a bigger GPU machine (e.g. --compute=slurm)");
    placement_destroy(p);
}

/* Each gpu=1 task gets a GPU of its own on its own node; the fifth waits while a CPU-only
 * task still fits. */
static void test_xml_one_gpu_each(void **ts)
{
    (void)ts;
    struct placement *p = load(NULL, xml_4gpu, NULL);
    struct place_grant g[6];
    const char *cpu[4] = {"0", "1", "4", "5"}, *gpu[4] = {"0", "1", "2", "3"};
    for (int i = 0; i < 4; i++) {
        place_ok(p, 1, 1, 0, &g[i]);
        assert_string_equal(cpus_of(&g[i]), cpu[i]);
        assert_string_equal(cuda_of(p, &g[i]), gpu[i]);
        char rocm[16];
        placement_gpu_list(p, &g[i], PLACE_API_ROCM, rocm, sizeof rocm);
        assert_string_equal(rocm, "");
    }
    assert_int_equal(placement_free_gpus(p), 0);
    assert_int_equal(place_rc(p, 1, 1, 0), EAGAIN);
    place_ok(p, 1, 0, 0, &g[4]);
    assert_string_equal(cpus_of(&g[4]), "2");
    assert_disjoint(p, g, 5);
    placement_release(p, &g[2]);
    place_ok(p, 1, 1, 0, &g[5]);   /* the freed GPU, with a core on its node */
    assert_string_equal(cuda_of(p, &g[5]), "2");
    assert_string_equal(cpus_of(&g[5]), "4");
    for (int i = 0; i < 6; i++)
        placement_release(p, &g[i]);
    placement_destroy(p);
}

/* A task with GPUs goes where both its cores and its GPUs are free; when its node's GPUs are
 * taken it gets a remote one rather than waiting. */
static void test_xml_gpu_locality(void **ts)
{
    (void)ts;
    struct placement *p = load(NULL, xml_4gpu, NULL);
    struct place_grant a, b, c;
    place_ok(p, 2, 2, 0, &a);
    assert_string_equal(cpus_of(&a), "0,1");
    assert_string_equal(cuda_of(p, &a), "0,1");
    place_ok(p, 4, 2, 0, &b);   /* node 0 has 2 cores left: node 1, with its GPUs */
    assert_string_equal(cpus_of(&b), "4,5,6,7");
    assert_string_equal(cuda_of(p, &b), "2,3");
    placement_release(p, &a);
    placement_release(p, &b);

    place_ok(p, 1, 2, 0, &a);          /* node 0: CPU 0, GPUs 0 and 1 */
    assert_string_equal(cuda_of(p, &a), "0,1");
    place_ok(p, 4, 0, 0, &b);          /* all of node 1's cores */
    assert_string_equal(cpus_of(&b), "4,5,6,7");
    place_ok(p, 1, 1, 0, &c);          /* a core on node 0, whose GPUs are taken */
    assert_string_equal(cpus_of(&c), "1");
    assert_string_equal(cuda_of(p, &c), "2");
    struct place_grant all[3] = {a, b, c};
    assert_disjoint(p, all, 3);
    placement_release(p, &a);
    placement_release(p, &b);
    placement_release(p, &c);
    assert_int_equal(placement_free_gpus(p), 4);
    assert_int_equal(placement_free_cores(p), 8);
    placement_destroy(p);
}

/* GPUs as an hwloc without vendor plugins sees them: PCI devices (with a DRM device or none),
 * Level Zero and ROCm SMI devices; an audio function and an integrated display are not
 * GPUs. Each API numbers its own GPUs in PCI bus order. */
static void test_xml_mixed_gpus(void **ts)
{
    (void)ts;
    struct placement *p = load(NULL, xml_mixed, NULL);
    assert_int_equal(placement_summary(p)->gpus, 4);
    struct {
        const char *name, *bus, *model;
        int api, ordinal;
    } want[4] = {
        {"card1", "0000:21:00.0", "AD102 [GeForce RTX 4090]", PLACE_API_CUDA, 0},
        {"pci", "0000:41:00.0", "GA100 [A100 PCIe 80GB]", PLACE_API_CUDA, 1},
        {"ze0", "0000:81:00.0", "Intel(R) Data Center GPU Max 1550", PLACE_API_LEVELZERO, 0},
        {"rsmi0", "0000:c1:00.0", "AMD Instinct MI210", PLACE_API_ROCM, 0},
    };
    for (unsigned i = 0; i < 4; i++) {
        const struct place_gpu *g = placement_gpu(p, i);
        assert_string_equal(g->name, want[i].name);
        assert_string_equal(g->busid, want[i].bus);
        assert_string_equal(g->model, want[i].model);
        assert_int_equal(g->api, want[i].api);
        assert_int_equal(g->ordinal, want[i].ordinal);
        assert_int_equal(g->numa, 0);
    }
    assert_string_equal(placement_gpu(p, 3)->uuid, "8c1a6f00-0000-0000-0000-000000000000");
    struct place_grant g;
    place_ok(p, 1, 4, 0, &g);
    char list[64];
    placement_gpu_list(p, &g, PLACE_API_CUDA, list, sizeof list);
    assert_string_equal(list, "0,1");
    placement_gpu_list(p, &g, PLACE_API_ROCM, list, sizeof list);
    assert_string_equal(list, "0");
    placement_gpu_list(p, &g, PLACE_API_LEVELZERO, list, sizeof list);
    assert_string_equal(list, "0");
    placement_gpu_list(p, &g, PLACE_API_OPENCL, list, sizeof list);
    assert_string_equal(list, "");
    assert_string_equal(placement_api_env(PLACE_API_ROCM), "ROCR_VISIBLE_DEVICES");
    assert_null(placement_api_env(PLACE_API_OPENCL));
    placement_release(p, &g);
    placement_destroy(p);
}

int main(void)
{
    const char *src = getenv("MFLOW_TEST_SOURCE_ROOT");
    if (!src) {
        fprintf(stderr, "MFLOW_TEST_SOURCE_ROOT is not set (meson sets it)\n");
        return 77;
    }
    snprintf(xml_4gpu, sizeof xml_4gpu, "%s/tests/resources/topo-2numa-4gpu.xml", src);
    snprintf(xml_mixed, sizeof xml_mixed, "%s/tests/resources/topo-mixed-gpus.xml", src);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_synthetic_model),
        cmocka_unit_test(test_one_cpu_tasks_own_cores),
        cmocka_unit_test(test_whole_node_packing),
        cmocka_unit_test(test_best_fit_then_threads),
        cmocka_unit_test(test_spread_and_threads),
        cmocka_unit_test(test_random_churn),
        cmocka_unit_test(test_refusal_messages),
        cmocka_unit_test(test_resources_request),
        cmocka_unit_test(test_memory_admission),
        cmocka_unit_test(test_allowed_cpus),
        cmocka_unit_test(test_flat_model),
        cmocka_unit_test(test_xml_gpus_found),
        cmocka_unit_test(test_xml_one_gpu_each),
        cmocka_unit_test(test_xml_gpu_locality),
        cmocka_unit_test(test_xml_mixed_gpus),
    };
    return cmocka_run_group_tests(tests, NULL, NULL) ? 1 : 0;
}
