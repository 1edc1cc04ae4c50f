#include <mflow/flow.h>
static void start(mf_task *t) { const int64_t v[] = {1, 2, 3}; mf_set_i64v(t, "vs", v, 3); }
static void item(mf_task *t) { mf_set_i64(t, "v", mf_item_i64(t)); }
static void plus(mf_task *t) { mf_set_i64(t, "r", mf_get_i64(t, "v") + 100); }
static void times(mf_task *t) { mf_set_i64(t, "r", mf_get_i64(t, "v") * 1000); }
static void bjoin(mf_task *t) { mf_set_i64(t, "r", mf_input_i64(t, 0, "r") + mf_input_i64(t, 1, "r")); }
static void fjoin(mf_task *t) { int64_t s = 0; for (size_t i = 0; i < mf_input_count(t); i++) s += mf_input_i64(t, i, "r"); mf_set_i64(t, "total", s); }
static void end(mf_task *t) { (void)t; }
static const mf_step_def steps[] = {
    {.name = "start", .fn = start, .next = "item", .foreach = "vs"},
    {.name = "item", .fn = item, .next = "plus times"},
    {.name = "plus", .fn = plus, .next = "bjoin"},
    {.name = "times", .fn = times, .next = "bjoin"},
    {.name = "bjoin", .fn = bjoin, .next = "fjoin", .join = 1},
    {.name = "fjoin", .fn = fjoin, .next = "end", .join = 1},
    {.name = "end", .fn = end},
};
MF_FLOW("BranchInForeachFlow", steps, NULL);
