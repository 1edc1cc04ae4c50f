/* A parameter without a default: Airflow refuses a scheduled DAG that has one. */
#include <mflow/flow.h>
static void start(mf_task *t) { mf_set_i64(t, "v", mf_get_i64(t, "n") * 2); }
static void end(mf_task *t) { (void)t; }
static const mf_step_def steps[] = {
    {.name = "start", .fn = start, .next = "end"},
    {.name = "end", .fn = end},
};
static const mf_param_def params[] = {{.name = "n", .type = MF_I64, .default_value = NULL}};
MF_FLOW("RequiredFlow", steps, params);
