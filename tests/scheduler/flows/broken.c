/* Does not validate: start names a successor that does not exist. */
#include <mflow/flow.h>
static void start(mf_task *t) { (void)t; }
static void end(mf_task *t) { (void)t; }
static const mf_step_def steps[] = {
    {.name = "start", .fn = start, .next = "jion"},
    {.name = "end", .fn = end},
};
MF_FLOW("BrokenFlow", steps, NULL);
