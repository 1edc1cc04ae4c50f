/* A foreach whose split FAIL_ITEM fails (environment), and which logs every execution to
 * COUNT_FILE, so tests can tell what ran and what was cloned. */
#include <mflow/flow.h>
#include <stdio.h>
#include <stdlib.h>

static void note(mf_task *t, long long item)
{
    const char *f = getenv("COUNT_FILE");
    FILE *fp = f ? fopen(f, "a") : NULL;
    if (fp) {
        fprintf(fp, "%s %lld\n", mf_step_name(t), item);
        fclose(fp);
    }
}

static void start(mf_task *t)
{
    int64_t n = mf_get_i64(t, "n");
    int64_t *v = malloc(sizeof *v * (size_t)n);
    for (int64_t i = 0; i < n; i++)
        v[i] = i;
    mf_set_i64v(t, "items", v, (size_t)n);
    free(v);
    note(t, -1);
}

static void body(mf_task *t)
{
    int64_t v = mf_item_i64(t);
    const char *fail = getenv("FAIL_ITEM");
    note(t, v);
    if (fail && atoll(fail) == v)
        mf_fail(t, "item %lld fails on purpose", (long long)v);
    mf_set_i64(t, "sq", v * v);
}

static void join(mf_task *t)
{
    int64_t s = 0;
    for (size_t i = 0; i < mf_input_count(t); i++)
        s += mf_input_i64(t, i, "sq");
    mf_set_i64(t, "sum", s);
    note(t, -1);
    if (getenv("FAIL_JOIN"))
        mf_fail(t, "join fails on purpose");
}

static void end(mf_task *t)
{
    note(t, -1);
}

static const mf_step_def steps[] = {
    {.name = "start", .fn = start, .next = "body", .foreach = "items"},
    {.name = "body", .fn = body, .next = "join"},
    {.name = "join", .fn = join, .next = "end", .join = 1},
    {.name = "end", .fn = end},
};
static const mf_param_def params[] = {{.name = "n", .type = MF_I64, .default_value = "6"}};
MF_FLOW("ResumableFlow", steps, params);
