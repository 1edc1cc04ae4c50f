#include <mflow/flow.h>
static void start(mf_task *t) { mf_set_i64(t, "v", mf_get_i64(t, "base")); mf_set_f64(t, "f", 0.5); }
static void a(mf_task *t) { mf_set_i64(t, "v", mf_get_i64(t, "v") + 1); mf_set_str(t, "s", "from a"); }
static void b(mf_task *t) { mf_set_i64(t, "v", mf_get_i64(t, "v") * 10); mf_set_f64(t, "f", mf_get_f64(t, "f") * mf_get_f64(t, "scale")); }
static void end(mf_task *t) { const double xs[] = {1.5, 2.5}; mf_set_f64v(t, "fs", xs, 2);
    const char *ss[] = {"x", "y z"}; mf_set_strv(t, "ss", ss, 2); mf_set_bytes(t, "raw", "\x00\x01\x02", 3);
    mf_set_i64(t, "on", mf_get_i64(t, "flag")); }
static const mf_step_def steps[] = {
    {.name = "start", .fn = start, .next = "a"},
    {.name = "a", .fn = a, .next = "b"},
    {.name = "b", .fn = b, .next = "end"},
    {.name = "end", .fn = end},
};
static const mf_param_def params[] = {
    {.name = "base", .type = MF_I64, .default_value = "1"},
    {.name = "scale", .type = MF_F64, .default_value = "2.0"},
    {.name = "flag", .type = MF_BOOL, .default_value = "false"},
    {.name = "label", .type = MF_STR, .default_value = "none"},
};
MF_FLOW("LinearFlow", steps, params);
