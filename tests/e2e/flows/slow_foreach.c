/* A foreach of n tasks that each sleep ms milliseconds and may be retried: long enough for
 * something to happen to the run while its tasks are running. */
#include <mflow/flow.h>
#include <stdlib.h>
#include <time.h>

static void start(mf_task *t)
{
    int64_t n = mf_get_i64(t, "n");
    int64_t *v = malloc(sizeof *v * (size_t)n);
    for (int64_t i = 0; i < n; i++)
        v[i] = i;
    mf_set_i64v(t, "items", v, (size_t)n);
    free(v);
}

static void body(mf_task *t)
{
    int64_t ms = mf_get_i64(t, "ms");
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
    mf_set_i64(t, "square", mf_item_i64(t) * mf_item_i64(t));
}

static void join(mf_task *t)
{
    int64_t sum = 0;
    for (size_t i = 0; i < mf_input_count(t); i++)
        sum += mf_input_i64(t, i, "square");
    mf_set_i64(t, "sum", sum);
}

static void end(mf_task *t) { (void)t; }

static const mf_step_def steps[] = {
    {.name = "start", .fn = start, .next = "body", .foreach = "items"},
    {.name = "body", .fn = body, .next = "join", .retry = 2},
    {.name = "join", .fn = join, .next = "end", .join = 1},
    {.name = "end", .fn = end},
};
static const mf_param_def params[] = {
    {.name = "n", .type = MF_I64, .default_value = "20"},
    {.name = "ms", .type = MF_I64, .default_value = "200"},
};
MF_FLOW("SlowForeach", steps, params);
