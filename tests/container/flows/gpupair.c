/* One step asking for two GPUs, two CPUs and memory, with an env of its own: for the engine
 * command line as generated. */
#include <mflow/flow.h>
#include <stdlib.h>

static const char *const pair_env[] = {"STEP_VAR=from step", NULL};
static void start(mf_task *t) { mf_set_i64(t, "x", 1); }
static void pair(mf_task *t)
{
    const char *v = getenv("STEP_VAR");
    mf_set_str(t, "v", v ? v : "unset");
}
static void end(mf_task *t) { (void)t; }
static const mf_step_def steps[] = {
    {.name = "start", .fn = start, .next = "pair"},
    {.name = "pair", .fn = pair, .next = "end", .image = "registry.example/train:3",
     .resources = {.cpu = 2, .memory_mb = 100, .gpu = 2}, .env = pair_env},
    {.name = "end", .fn = end},
};
MF_FLOW("GpuPairFlow", steps, NULL);
