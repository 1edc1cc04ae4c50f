/* A 5-step linear flow: measures a whole small run. */
#include <mflow/flow.h>
static void start(mf_task *t) { mf_set_i64(t, "x", 1); }
static void s(mf_task *t) { mf_set_i64(t, "x", mf_get_i64(t, "x") + 1); }
static void end(mf_task *t) { (void)mf_get_i64(t, "x"); }
static const mf_step_def steps[] = {
    {.name = "start", .fn = start, .next = "a"},
    {.name = "a", .fn = s, .next = "b"},
    {.name = "b", .fn = s, .next = "c"},
    {.name = "c", .fn = s, .next = "end"},
    {.name = "end", .fn = end},
};
MF_FLOW("Linear5", steps, NULL);
