/* A step's own k8s settings (flow ABI 1.2 mf_step_def.settings): `tuned` gets a pod overlay
 * (an environment variable of its container) and a node selector; `plain` has none. Each
 * records what its pod saw. step_settings_bad.c and
 * step_settings_unknown.c hold settings that are refused. */
#include <mflow/flow.h>
#include <stdlib.h>
static void start(mf_task *t) { mf_set_i64(t, "x", 1); }
static void record(mf_task *t)
{
    const char *v = getenv("FROM_OVERLAY");
    mf_set_str(t, "overlay", v ? v : "none");
}
static void end(mf_task *t) { (void)t; }
static const char *const tuned[] = {
    "slurm.qos=ignored-by-k8s",
    "k8s.pod_overlay={\"containers\":[{\"name\":\"main\",\"env\":[{\"name\":\"FROM_OVERLAY\",\"value\":\"step-overlay\"}]}]}",
    "k8s.node_selector=kubernetes.io/hostname=standin-node-1",
    NULL,
};
static const mf_step_def steps[] = {
    {.name = "start", .fn = start, .next = "tuned"},
    {.name = "tuned", .fn = record, .next = "plain", .settings = tuned},
    {.name = "plain", .fn = record, .next = "end"},
    {.name = "end", .fn = end},
};
MF_FLOW("StepSettings", steps, NULL);
