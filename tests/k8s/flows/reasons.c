/* The failure reasons of the k8s e2e tests: `work` (64 MB, 6 s, one retry) allocates past its
 * memory limit (--mode=oom), sleeps past its deadline (--mode=deadline), or sleeps a little
 * (--mode=nap: long enough for an eviction or a lost node to land; start naps too, and is the
 * pod the stand-in's evict_next / node_lost_next hits) and records its mode. */
#include <mflow/flow.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
static void start(mf_task *t)
{
    /* the stand-in evicts or loses the next pod that starts: this one, while it naps */
    if (!strcmp(mf_get_str(t, "mode"), "nap"))
        sleep(2);
    mf_set_i64(t, "x", 1);
}
static void work(mf_task *t)
{
    const char *mode = mf_get_str(t, "mode");
    if (!strcmp(mode, "oom")) {
        size_t n = (size_t)512 << 20;
        char *p = malloc(n);
        for (size_t i = 0; p && i < n; i += 4096)
            p[i] = 1;
        sleep(10);
        free(p);
    } else if (!strcmp(mode, "deadline")) {
        sleep(30);
    } else if (!strcmp(mode, "nap")) {
        sleep(2);
    }
    mf_set_str(t, "done", mode);
}
static void end(mf_task *t) { mf_set_str(t, "mode", mf_get_str(t, "done")); }
static const mf_step_def steps[] = {
    {.name = "start", .fn = start, .next = "work", .retry = 1},
    {.name = "work", .fn = work, .next = "end", .retry = 1, .timeout_s = 6,
     .resources = {.memory_mb = 64}},
    {.name = "end", .fn = end},
};
static const mf_param_def params[] = {{.name = "mode", .type = MF_STR, .default_value = "ok"}};
MF_FLOW("ReasonsFlow", steps, params);
