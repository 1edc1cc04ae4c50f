/* N trivial tasks in one foreach: measures mflow's per-task overhead. */
#include <mflow/flow.h>
#include <stdlib.h>
static void start(mf_task *t)
{
    int64_t n = mf_get_i64(t, "n");
    int64_t *v = malloc(sizeof *v * (size_t)n);
    for (int64_t i = 0; i < n; i++)
        v[i] = i;
    mf_set_i64v(t, "items", v, (size_t)n);
    free(v);
}
static void body(mf_task *t) { (void)t; }
static void join(mf_task *t) { mf_set_i64(t, "count", (int64_t)mf_input_count(t)); }
static void end(mf_task *t) { (void)t; }
static const mf_step_def steps[] = {
    {.name = "start", .fn = start, .next = "body", .foreach = "items"},
    {.name = "body", .fn = body, .next = "join"},
    {.name = "join", .fn = join, .next = "end", .join = 1},
    {.name = "end", .fn = end},
};
static const mf_param_def params[] = {{.name = "n", .type = MF_I64, .default_value = "1000"}};
MF_FLOW("TrivialForeach", steps, params);
