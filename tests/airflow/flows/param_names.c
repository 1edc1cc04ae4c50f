/* Parameters named like a dict's methods and with a leading '_': the DAG must pass their
 * values, not `params.items` (ParamsDict's method) or `params._x` (refused by the sandbox). */
#include <mflow/flow.h>
static void start(mf_task *t)
{
    mf_set_i64(t, "v", mf_get_i64(t, "items") * 10 + mf_get_i64(t, "keys"));
    mf_set_str(t, "u", mf_get_str(t, "_under"));
}
static void end(mf_task *t) { (void)t; }
static const mf_step_def steps[] = {
    {.name = "start", .fn = start, .next = "end"},
    {.name = "end", .fn = end},
};
static const mf_param_def params[] = {
    {.name = "items", .type = MF_I64, .default_value = "3"},
    {.name = "keys", .type = MF_I64, .default_value = "4"},
    {.name = "_under", .type = MF_STR, .default_value = "low"},
};
MF_FLOW("ParamNames", steps, params);
