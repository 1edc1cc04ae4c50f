/* A foreach whose steps each leak one allocation of their own size (start 6 bytes, body 7,
 * join 8, end 9): what a sanitized build's leak check must find (test_leak_check.sh). */
#include <mflow/flow.h>
#include <stdlib.h>

static void *volatile keep;   /* volatile: the compiler keeps each malloc */

static void leak(size_t n)
{
    keep = malloc(n);
    keep = NULL;
}

static void start(mf_task *t)
{
    int64_t n = mf_get_i64(t, "n");
    int64_t *v = malloc(sizeof *v * (size_t)n);
    for (int64_t i = 0; i < n; i++)
        v[i] = i;
    mf_set_i64v(t, "items", v, (size_t)n);
    free(v);
    leak(6);
}

static void body(mf_task *t)
{
    leak(7);
    mf_set_i64(t, "square", mf_item_i64(t) * mf_item_i64(t));
}

static void join(mf_task *t)
{
    int64_t sum = 0;
    for (size_t i = 0; i < mf_input_count(t); i++)
        sum += mf_input_i64(t, i, "square");
    mf_set_i64(t, "sum", sum);
    leak(8);
}

static void end(mf_task *t)
{
    (void)t;
    leak(9);
}

static const mf_step_def steps[] = {
    {.name = "start", .fn = start, .next = "body", .foreach = "items"},
    {.name = "body", .fn = body, .next = "join"},
    {.name = "join", .fn = join, .next = "end", .join = 1},
    {.name = "end", .fn = end},
};
static const mf_param_def params[] = {
    {.name = "n", .type = MF_I64, .default_value = "40"},
};
MF_FLOW("LeakyForeach", steps, params);
