/* A data-parallel fan-out: one task per item, then a join over all of them.
 *   mflow run examples/foreach.c --n=8 */
#include <mflow/flow.h>

#include <stdio.h>
#include <stdlib.h>

static void start(mf_task *t)
{
    int64_t n = mf_get_i64(t, "n");
    int64_t *items = malloc(sizeof *items * (size_t)(n > 0 ? n : 1));
    for (int64_t i = 0; i < n; i++)
        items[i] = i + 1;
    mf_set_i64v(t, "items", items, (size_t)n);
    free(items);
}

static void square(mf_task *t)
{
    int64_t v = mf_item_i64(t);
    mf_set_i64(t, "sq", v * v);
}

static void join(mf_task *t)
{
    int64_t sum = 0;
    for (size_t i = 0; i < mf_input_count(t); i++)
        sum += mf_input_i64(t, i, "sq");
    mf_set_i64(t, "sum", sum);
}

static void end(mf_task *t)
{
    printf("sum of squares: %lld\n", (long long)mf_get_i64(t, "sum"));
}

static const mf_step_def steps[] = {
    {.name = "start", .fn = start, .next = "square", .foreach = "items"},
    {.name = "square", .fn = square, .next = "join"},
    {.name = "join", .fn = join, .next = "end", .join = 1},
    {.name = "end", .fn = end},
};

static const mf_param_def params[] = {
    {.name = "n", .type = MF_I64, .default_value = "5", .help = "how many items"},
};

MF_FLOW("ForeachFlow", steps, params);
