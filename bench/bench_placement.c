/* What admission and placement cost per task, printed as a table.
 *
 *   bench_placement [PLUGIN.so] [N]
 *
 * 1. placement alone (plugins/common/placement.c): place + release under churn, and a
 *    refused attempt on a full machine, on this machine's topology and on big synthetic ones;
 * 2. with PLUGIN.so (the built mflow_compute_local.so, driven through the SDK's fake host):
 *    N runs of /bin/true through submit/wait/poll/release, one at a time, against a bare
 *    posix_spawn + waitpid of /bin/true; then N jobs submitted at once on this machine, so
 *    that all but a few wait in the plugin's queue and are admitted from wait(); then with a
 *    memory limit (a cgroup per job where this machine allows it). */
#include "fakehost.h"
#include "placement.h"

#include <mflow/plugin.h>

#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct placement *load(const char *synthetic, const char *xml)
{
    unsetenv("HWLOC_SYNTHETIC");
    unsetenv("HWLOC_XMLFILE");
    if (synthetic)
        setenv("HWLOC_SYNTHETIC", synthetic, 1);
    if (xml)
        setenv("HWLOC_XMLFILE", xml, 1);
    hwloc_topology_t topo;
    char err[512];
    double t0 = now();
    int rc = placement_topology_load(&topo, err, sizeof err);
    unsetenv("HWLOC_SYNTHETIC");
    unsetenv("HWLOC_XMLFILE");
    if (rc) {
        fprintf(stderr, "bench_placement: %s\n", err);
        return NULL;
    }
    struct placement *p = NULL;
    rc = placement_create(topo, NULL, 0, &p, err, sizeof err);
    hwloc_topology_destroy(topo);
    if (rc) {
        fprintf(stderr, "bench_placement: %s\n", err);
        return NULL;
    }
    printf("%-58s %10.3f\n", "  topology load + model (ms, once per run)", (now() - t0) * 1000);
    return p;
}

/* Random requests and releases over `slots` live tasks; ns per placement attempt (+ its
 * release when it fit), and the share that fit. */
static void churn(struct placement *p, const char *what, unsigned max_cpu, unsigned max_gpu)
{
    enum { SLOTS = 64, ROUNDS = 400000 };
    struct place_grant g[SLOTS];
    memset(g, 0, sizeof g);
    unsigned seed = 7;
    long fit = 0, tried = 0;
    double t0 = now();
    for (int r = 0; r < ROUNDS; r++) {
        seed = seed * 1103515245u + 12345u;
        unsigned slot = (seed >> 16) % SLOTS;
        if (g[slot].cpu) {
            placement_release(p, &g[slot]);
            continue;
        }
        seed = seed * 1103515245u + 12345u;
        struct place_req req = {.cpu = 1 + (seed >> 16) % max_cpu,
                                .gpu = max_gpu ? (seed >> 8) % (max_gpu + 1) : 0};
        tried++;
        fit += placement_place(p, &req, &g[slot]) == 0;
    }
    double took = now() - t0;
    for (int i = 0; i < SLOTS; i++)
        placement_release(p, &g[i]);
    char label[128];
    snprintf(label, sizeof label, "  %s: place+release (us), %.0f%% fit", what, 100.0 * (double)fit / (double)tried);
    printf("%-58s %10.3f\n", label, took * 1e6 / (double)tried);
}

/* A refused attempt: the machine is full (what a queued job costs each time it is looked at). */
static void refused(struct placement *p)
{
    const struct place_summary *s = placement_summary(p);
    struct place_grant all;
    struct place_req whole = {.cpu = s->pus};
    if (placement_place(p, &whole, &all) != 0)
        return;
    struct place_req one = {.cpu = 1};
    struct place_grant g;
    enum { N = 1000000 };
    double t0 = now();
    int again = 0;
    for (int i = 0; i < N; i++)
        again += placement_place(p, &one, &g) == EAGAIN;
    double took = now() - t0;
    placement_release(p, &all);
    printf("%-58s %10.3f\n", "  a queued job that does not fit yet (us per look)", took * 1e6 / N);
    (void)again;
}

static void bench_model(const char *title, const char *synthetic, const char *xml, unsigned max_cpu,
                        unsigned max_gpu)
{
    printf("%s\n", title);
    struct placement *p = load(synthetic, xml);
    if (!p)
        return;
    const struct place_summary *s = placement_summary(p);
    char what[64];
    snprintf(what, sizeof what, "%u cores/%u CPUs/%u GPUs, cpu 1-%u", s->cores, s->pus, s->gpus, max_cpu);
    churn(p, what, max_cpu, max_gpu < s->gpus ? max_gpu : s->gpus);
    refused(p);
    placement_destroy(p);
}

/* ------------------------------------------------------------------------------------------ */

static double bare_spawn(int n)
{
    char *args[] = {"/bin/true", NULL};
    double t0 = now();
    for (int i = 0; i < n; i++) {
        pid_t pid;
        if (posix_spawn(&pid, "/bin/true", NULL, NULL, args, environ) != 0)
            return -1;
        int st;
        waitpid(pid, &st, 0);
    }
    return (now() - t0) * 1000 / n;
}

/* ms per job: n jobs, `at_once` submitted before waiting (1 = one at a time). */
static double through_plugin(const struct mf_plugin_desc *d, int n, int at_once, uint64_t memory_mb,
                             const char *bind, int *failed)
{
    const struct mf_compute_ops *ops = d->ops;
    void *st;
    mf_fakehost_reset();
    mf_fakehost_set("local", "cpu_bind", bind);
    if (d->init(mf_fakehost(), &st) != 0) {
        fprintf(stderr, "bench_placement: init: %s\n", mf_fakehost_logs());
        return -1;
    }
    const char *argv[] = {"/bin/true", NULL};
    struct mf_resources res = {.struct_size = sizeof res, .cpu = 1, .memory_mb = memory_mb};
    mf_job **jobs = calloc((size_t)at_once, sizeof *jobs);
    struct mf_job_status *js = calloc((size_t)at_once, sizeof *js);
    *failed = 0;
    double t0 = now();
    for (int done = 0; done < n;) {
        int k = n - done < at_once ? n - done : at_once;
        for (int i = 0; i < k; i++) {
            struct mf_job_spec s = {.struct_size = sizeof s, .argv = argv, .pathspec = "B/1/s/1",
                                    .resources = &res};
            if (ops->submit(st, &s, &jobs[i]) != 0) {
                fprintf(stderr, "bench_placement: submit: %s\n", ops->last_error(st));
                return -1;
            }
        }
        for (int left = k; left > 0;) {
            ops->wait(st, 1000);
            ops->poll(st, jobs, (size_t)k, js);
            left = 0;
            for (int i = 0; i < k; i++)
                left += js[i].state == MF_JOB_QUEUED || js[i].state == MF_JOB_RUNNING;
        }
        for (int i = 0; i < k; i++) {
            *failed += js[i].state != MF_JOB_SUCCEEDED;
            ops->release(st, jobs[i]);
        }
        done += k;
    }
    double ms = (now() - t0) * 1000 / n;
    d->fini(st);
    free(jobs);
    free(js);
    return ms;
}

int main(int argc, char **argv)
{
    const char *plugin = argc > 1 ? argv[1] : NULL;
    int n = argc > 2 ? atoi(argv[2]) : 1000;
    const char *src = getenv("MFLOW_SOURCE_ROOT");
    char xml[4096];
    snprintf(xml, sizeof xml, "%s/tests/resources/topo-2numa-4gpu.xml", src ? src : ".");

    printf("%-58s %10s\n", "measure", "value");
    bench_model("placement, this machine", NULL, NULL, 2, 0);
    bench_model("placement, 2 packages x 2 NUMA x 32 cores x 2 threads", "pack:2 numa:2 core:32 pu:2", NULL, 16, 0);
    bench_model("placement, 8 NUMA x 64 cores x 2 threads (1024 CPUs)", "numa:8 core:64 pu:2", NULL, 32, 0);
    FILE *f = fopen(xml, "r");
    if (f) {
        fclose(f);
        bench_model("placement, XML: 2 NUMA x 4 cores x 2 threads, 4 GPUs", NULL, xml, 4, 2);
    }
    if (!plugin)
        return 0;

    const struct mf_plugin_desc *d = mf_fakehost_load(plugin);
    if (!d) {
        fprintf(stderr, "bench_placement: cannot load %s: %s", plugin, mf_fakehost_logs());
        return 1;
    }
    /* Rounds interleaved, best of each: other load on the machine only ever adds. */
    enum { ROUNDS = 5 };
    double floor = 1e9, one = 1e9, unbound = 1e9, queued = 1e9, mem = 1e9;
    int failed = 0, fl;
    for (int r = 0; r < ROUNDS; r++) {
        double x = bare_spawn(n);
        floor = x < floor ? x : floor;
        x = through_plugin(d, n, 1, 0, "on", &fl);
        one = x < one ? x : one;
        failed += fl;
        x = through_plugin(d, n, 1, 0, "off", &fl);
        unbound = x < unbound ? x : unbound;
        failed += fl;
        x = through_plugin(d, n, n < 200 ? n : 200, 0, "on", &fl);
        queued = x < queued ? x : queued;
        failed += fl;
        x = through_plugin(d, n / 4 ? n / 4 : 1, 1, 64, "on", &fl);
        mem = x < mem ? x : mem;
        failed += fl;
    }
    printf("local compute plugin, /bin/true x %d, best of %d rounds\n", n, ROUNDS);
    printf("%-58s %10.3f\n", "  bare posix_spawn + waitpid (ms per process)", floor);
    printf("%-58s %10.3f\n", "  plugin, one job at a time, placed and bound (ms per job)", one);
    printf("%-58s %10.3f\n", "    the same, cpu_bind=off (ms per job)", unbound);
    printf("%-58s %10.3f\n", "    plugin over the bare spawn (ms per job)", one - floor);
    printf("%-58s %10.3f\n", "  plugin, 200 submitted at once, admitted from wait (ms/job)", queued);
    printf("%-58s %10.3f\n", "  plugin, one at a time, memory_mb = 64 (ms per job)", mem);
    const char *logs = mf_fakehost_logs();
    const char *m = strstr(logs, "are enforced with ");
    if (m) {
        m += strlen("are enforced with ");
        printf("    (memory limits: %.*s)\n", (int)strcspn(m, "(;\n"), m);
    }
    if (failed)
        printf("  %d jobs failed\n", failed);
    return 0;
}
