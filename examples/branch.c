/* Two branches run at once; the join sees each branch's artifacts and merges the rest.
 *   mflow run examples/branch.c */
#include <mflow/flow.h>

#include <stdio.h>

static void start(mf_task *t)
{
    mf_set_i64(t, "x", 10);
    mf_set_str(t, "label", "branch demo");
}

static void double_it(mf_task *t)
{
    mf_set_i64(t, "y", mf_get_i64(t, "x") * 2);
}

static void square_it(mf_task *t)
{
    int64_t x = mf_get_i64(t, "x");
    mf_set_i64(t, "y", x * x);
}

static void join(mf_task *t)
{
    int64_t sum = 0;
    for (size_t i = 0; i < mf_input_count(t); i++) {
        printf("%s gave %lld\n", mf_input_step(t, i), (long long)mf_input_i64(t, i, "y"));
        sum += mf_input_i64(t, i, "y");
    }
    mf_set_i64(t, "total", sum);
    mf_merge_artifacts(t, "y");   /* keeps x and label, which both inputs agree on */
}

static void end(mf_task *t)
{
    printf("%s: total %lld\n", mf_get_str(t, "label"), (long long)mf_get_i64(t, "total"));
}

static const mf_step_def steps[] = {
    {.name = "start", .fn = start, .next = "double_it square_it"},
    {.name = "double_it", .fn = double_it, .next = "join"},
    {.name = "square_it", .fn = square_it, .next = "join"},
    {.name = "join", .fn = join, .next = "end", .join = 1},
    {.name = "end", .fn = end},
};

MF_FLOW("BranchFlow", steps, NULL);
