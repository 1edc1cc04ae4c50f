/* A step that asks for more than the stand-in's node allocates (2 CPUs, 4 GiB): refused by the
 * k8s plugin's check before anything is submitted. */
#include <mflow/flow.h>
static void start(mf_task *t) { mf_set_i64(t, "x", 1); }
static void end(mf_task *t) { (void)t; }
static const mf_step_def steps[] = {
    {.name = "start", .fn = start, .next = "end", .resources = {.cpu = 64, .memory_mb = 1024}},
    {.name = "end", .fn = end},
};
MF_FLOW("BigFlow", steps, NULL);
