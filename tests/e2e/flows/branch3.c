#include <mflow/flow.h>
static void start(mf_task *t) { mf_set_i64(t, "x", 2); mf_set_str(t, "same", "kept"); }
static void a(mf_task *t) { mf_set_i64(t, "y", mf_get_i64(t, "x") + 1); }
static void b(mf_task *t) { mf_set_i64(t, "y", mf_get_i64(t, "x") + 2); }
static void c(mf_task *t) { mf_set_i64(t, "y", mf_get_i64(t, "x") + 3); }
static void join(mf_task *t) {
    int64_t s = 0;
    for (size_t i = 0; i < mf_input_count(t); i++) s = s * 10 + mf_input_i64(t, i, "y");
    mf_set_i64(t, "digits", s);
    mf_set_str(t, "order", mf_input_step(t, 0));
    mf_merge_artifacts(t, "y");
}
static void end(mf_task *t) { (void)t; }
static const mf_step_def steps[] = {
    {.name = "start", .fn = start, .next = "a b c"},
    {.name = "a", .fn = a, .next = "join"},
    {.name = "b", .fn = b, .next = "join"},
    {.name = "c", .fn = c, .next = "join"},
    {.name = "join", .fn = join, .next = "end", .join = 1},
    {.name = "end", .fn = end},
};
MF_FLOW("Branch3Flow", steps, NULL);
