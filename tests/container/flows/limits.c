/* What a container task sees of its limits: `start` (cpu = 2, memory_mb = 128) and `one`
 * (cpu = 1) store the CPU quota and memory limit of their cgroup (v1 or v2); `hog`
 * (memory_mb = 64) allocates and touches HOG_MB megabytes (environment; 0: none). */
#include <mflow/flow.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The first number in the first file of paths that can be read, or -1. */
static long long read_num(const char *const *paths)
{
    for (; *paths; paths++) {
        FILE *f = fopen(*paths, "r");
        if (!f)
            continue;
        char buf[128] = "";
        if (!fgets(buf, sizeof buf, f))
            buf[0] = '\0';
        fclose(f);
        if (!strncmp(buf, "max", 3))
            return 0;
        return atoll(buf);
    }
    return -1;
}

static void limits(mf_task *t)
{
    static const char *const quota[] = {"/sys/fs/cgroup/cpu/cpu.cfs_quota_us",
                                        "/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us",
                                        "/sys/fs/cgroup/cpu.max", NULL};
    static const char *const mem[] = {"/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                      "/sys/fs/cgroup/memory.max", NULL};
    mf_set_i64(t, "quota", read_num(quota));
    mf_set_i64(t, "mem", read_num(mem));
    const char *cpus = getenv("MFLOW_CPUS");
    mf_set_str(t, "cpus", cpus ? cpus : "");
}

static void hog(mf_task *t)
{
    const char *v = getenv("HOG_MB");
    long mb = v ? atol(v) : 0;
    for (long i = 0; i < mb; i++) {
        char *p = malloc(1 << 20);
        if (!p)
            mf_fail(t, "malloc failed after %ld MB", i);
        memset(p, 1, 1 << 20);
    }
    mf_set_i64(t, "hogged", mb);
}

static void end(mf_task *t) { (void)t; }

static const mf_step_def steps[] = {
    {.name = "start", .fn = limits, .next = "one", .resources = {.cpu = 2, .memory_mb = 128}},
    {.name = "one", .fn = limits, .next = "hog", .resources = {.cpu = 1}},
    {.name = "hog", .fn = hog, .next = "end", .resources = {.memory_mb = 64}},
    {.name = "end", .fn = end},
};
MF_FLOW("LimitsFlow", steps, NULL);
