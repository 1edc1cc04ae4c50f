/* A step overlay with a field the Pod API does not have: the server's Strict field validation
 * refuses the Job, and the message says which field. */
#include <mflow/flow.h>
static void start(mf_task *t) { mf_set_i64(t, "x", 1); }
static void end(mf_task *t) { (void)t; }
static const char *const bad[] = {"k8s.pod_overlay={\"noSuchPodField\":1}", NULL};
static const mf_step_def steps[] = {
    {.name = "start", .fn = start, .next = "end", .settings = bad},
    {.name = "end", .fn = end},
};
MF_FLOW("StepSettingsBad", steps, NULL);
