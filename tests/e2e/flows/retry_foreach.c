/* A foreach of n items whose body may be retried once, a join that sums, an end without
 * retries: for making one task's start fail and seeing what its retry and a resume do. */
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
static void body(mf_task *t) { mf_set_i64(t, "y", mf_item_i64(t) * 2); }
static void join(mf_task *t)
{
    int64_t sum = 0;
    for (size_t i = 0; i < mf_input_count(t); i++)
        sum += mf_input_i64(t, i, "y");
    mf_set_i64(t, "sum", sum);
}
static void end(mf_task *t) { mf_set_i64(t, "total", mf_get_i64(t, "sum")); }

static const mf_step_def steps[] = {
    {.name = "start", .fn = start, .next = "body", .foreach = "items"},
    {.name = "body", .fn = body, .next = "join", .retry = 1},
    {.name = "join", .fn = join, .next = "end", .join = 1},
    {.name = "end", .fn = end},
};
static const mf_param_def params[] = {{.name = "n", .type = MF_I64, .default_value = "4"}};
MF_FLOW("RetryForeach", steps, params);
