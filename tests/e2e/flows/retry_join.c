/* A foreach whose first item fails on its first attempt and is retried, then a join: what
 * the orchestrator queues (split items, a retry, the join, end) for fault injection. The step
 * named by TRIGGER_STEP (start, retry: item 0's failing attempt, last: the last item) creates
 * the file TRIGGER, so the test can aim at what the orchestrator does right after it. */
#include <mflow/flow.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void trigger(const char *when)
{
    const char *step = getenv("TRIGGER_STEP"), *path = getenv("TRIGGER");
    FILE *f = step && path && !strcmp(step, when) ? fopen(path, "w") : NULL;
    if (f)
        fclose(f);
}

static void start(mf_task *t)
{
    int64_t n = mf_get_i64(t, "n");
    int64_t *v = malloc(sizeof *v * (size_t)n);
    for (int64_t i = 0; i < n; i++)
        v[i] = i;
    mf_set_i64v(t, "items", v, (size_t)n);
    free(v);
    trigger("start");
}

static void body(mf_task *t)
{
    if (mf_item_index(t) == 0 && mf_attempt(t) == 0) {
        trigger("retry");
        mf_fail(t, "the first item fails on its first attempt");
    }
    if (mf_item_index(t) + 1 == mf_item_count(t))
        trigger("last");
    mf_set_i64(t, "v", mf_item_i64(t));
}

static void join(mf_task *t)
{
    int64_t s = 0;
    for (size_t i = 0; i < mf_input_count(t); i++)
        s += mf_input_i64(t, i, "v");
    mf_set_i64(t, "sum", s);
}

static void end(mf_task *t) { mf_set_i64(t, "total", mf_get_i64(t, "sum")); }

static const mf_step_def steps[] = {
    {.name = "start", .fn = start, .next = "body", .foreach = "items"},
    {.name = "body", .fn = body, .next = "join", .retry = 1},
    {.name = "join", .fn = join, .next = "end", .join = 1},
    {.name = "end", .fn = end},
};
static const mf_param_def params[] = {{.name = "n", .type = MF_I64, .default_value = "63"}};
MF_FLOW("RetryJoinFlow", steps, params);
