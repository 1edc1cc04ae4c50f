/* Two cpu = 1 steps that run at the same time (each waits for the other's marker in --dir)
 * and record the CPUs they may run on (sched_getaffinity) and what mflow told them. */
#define _GNU_SOURCE   /* sched_getaffinity */
#include <mflow/flow.h>

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void start(mf_task *t) { (void)t; }

static void cpus_of_self(char *buf, size_t len)
{
    cpu_set_t set;
    size_t at = 0;
    buf[0] = '\0';
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return;
    for (int c = 0; c < CPU_SETSIZE && at < len; c++)
        if (CPU_ISSET(c, &set))
            at += (size_t)snprintf(buf + at, len - at, "%s%d", at ? "," : "", c);
}

/* Leave a marker, wait (up to 20 s) until the other branch left its own. */
static void side(mf_task *t, const char *me, const char *other)
{
    const char *dir = mf_get_str(t, "dir");
    char mine[4096], theirs[4096], cpus[1024];
    snprintf(mine, sizeof mine, "%s/%s", dir, me);
    snprintf(theirs, sizeof theirs, "%s/%s", dir, other);
    FILE *f = fopen(mine, "w");
    if (!f)
        mf_fail(t, "cannot write %s", mine);
    fclose(f);
    int overlapped = 0;
    for (int i = 0; i < 2000 && !overlapped; i++) {
        overlapped = access(theirs, F_OK) == 0;
        if (!overlapped)
            usleep(10000);
    }
    cpus_of_self(cpus, sizeof cpus);
    const char *told = getenv("MFLOW_CPU_LIST");
    mf_set_str(t, "cpus", cpus);
    mf_set_str(t, "told", told ? told : "");
    mf_set_i64(t, "overlapped", overlapped);
}

static void a(mf_task *t) { side(t, "a", "b"); }
static void b(mf_task *t) { side(t, "b", "a"); }

static void join(mf_task *t)
{
    char both[2048];
    snprintf(both, sizeof both, "%s|%s", mf_input_str(t, 0, "cpus"), mf_input_str(t, 1, "cpus"));
    mf_set_str(t, "both", both);
}

static void end(mf_task *t) { (void)t; }

static const mf_step_def steps[] = {
    {.name = "start", .fn = start, .next = "a b"},
    {.name = "a", .fn = a, .next = "join", .resources = {.cpu = 1}},
    {.name = "b", .fn = b, .next = "join", .resources = {.cpu = 1}},
    {.name = "join", .fn = join, .next = "end", .join = 1},
    {.name = "end", .fn = end},
};
static const mf_param_def params[] = {
    {.name = "dir", .type = MF_STR, .help = "where the branches leave their markers"},
};
MF_FLOW("AffinityFlow", steps, params);
