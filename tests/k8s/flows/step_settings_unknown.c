/* A step setting the k8s plugin does not know: refused before the Job is created. */
#include <mflow/flow.h>
static void start(mf_task *t) { mf_set_i64(t, "x", 1); }
static void end(mf_task *t) { (void)t; }
static const char *const bad[] = {"k8s.colour=blue", NULL};
static const mf_step_def steps[] = {
    {.name = "start", .fn = start, .next = "end", .settings = bad},
    {.name = "end", .fn = end},
};
MF_FLOW("StepSettingsUnknown", steps, NULL);
