#include <mflow/flow.h>
static void start(mf_task *t) { mf_set_i64(t, "k", 7); }
static void fan(mf_task *t) { const double v[] = {0.5, 1.5}; mf_set_f64v(t, "ws", v, 2); }
static void work(mf_task *t) { mf_set_f64(t, "w", mf_item_f64(t) * (double)mf_get_i64(t, "k")); }
static void wjoin(mf_task *t) { double s = 0; for (size_t i = 0; i < mf_input_count(t); i++) s += mf_input_f64(t, i, "w"); mf_set_f64(t, "res", s); }
static void other(mf_task *t) { mf_set_f64(t, "res", 1.25); }
static void join(mf_task *t) { mf_set_f64(t, "total", mf_input_f64(t, 0, "res") + mf_input_f64(t, 1, "res")); }
static void end(mf_task *t) { (void)t; }
static const mf_step_def steps[] = {
    {.name = "start", .fn = start, .next = "fan other"},
    {.name = "fan", .fn = fan, .next = "work", .foreach = "ws"},
    {.name = "work", .fn = work, .next = "wjoin"},
    {.name = "wjoin", .fn = wjoin, .next = "join", .join = 1},
    {.name = "other", .fn = other, .next = "join"},
    {.name = "join", .fn = join, .next = "end", .join = 1},
    {.name = "end", .fn = end},
};
MF_FLOW("ForeachInBranchFlow", steps, NULL);
