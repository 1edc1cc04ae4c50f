#include <mflow/flow.h>
static void start(mf_task *t) { mf_set_i64(t, "x", 1); }
static void a(mf_task *t) { mf_set_i64(t, "x", mf_get_i64(t, "x") + 10); }
static void a1(mf_task *t) { mf_set_i64(t, "y", mf_get_i64(t, "x") + 1); }
static void a2(mf_task *t) { mf_set_i64(t, "y", mf_get_i64(t, "x") + 2); }
static void ajoin(mf_task *t) { mf_set_i64(t, "y", mf_input_i64(t, 0, "y") + mf_input_i64(t, 1, "y")); }
static void b(mf_task *t) { mf_set_i64(t, "y", 100); }
static void join(mf_task *t) { mf_set_i64(t, "total", mf_input_i64(t, 0, "y") + mf_input_i64(t, 1, "y")); }
static void end(mf_task *t) { (void)t; }
static const mf_step_def steps[] = {
    {.name = "start", .fn = start, .next = "a b"},
    {.name = "a", .fn = a, .next = "a1 a2"},
    {.name = "a1", .fn = a1, .next = "ajoin"},
    {.name = "a2", .fn = a2, .next = "ajoin"},
    {.name = "ajoin", .fn = ajoin, .next = "join", .join = 1},
    {.name = "b", .fn = b, .next = "join"},
    {.name = "join", .fn = join, .next = "end", .join = 1},
    {.name = "end", .fn = end},
};
MF_FLOW("NestedBranchFlow", steps, NULL);
