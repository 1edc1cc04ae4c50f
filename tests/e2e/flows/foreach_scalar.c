#include <mflow/flow.h>
static void start(mf_task *t) { mf_set_i64(t, "items", 3); }
static void body(mf_task *t) { (void)t; }
static void join(mf_task *t) { (void)t; }
static void end(mf_task *t) { (void)t; }
static const mf_step_def steps[] = {
    {.name = "start", .fn = start, .next = "body", .foreach = "items"},
    {.name = "body", .fn = body, .next = "join"},
    {.name = "join", .fn = join, .next = "end", .join = 1},
    {.name = "end", .fn = end},
};
MF_FLOW("ForeachScalarFlow", steps, NULL);
