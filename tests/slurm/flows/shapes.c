/* Branch + foreach + join: the shapes every backend must run the same. Deterministic: the
 * local run and the Slurm run must store the same artifacts. shapes.files lists a data file
 * the code package must carry. FAIL_ITEM (environment) makes that split fail, for resume. */
#include <mflow/flow.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void start(mf_task *t)
{
    int64_t n = mf_get_i64(t, "n");
    int64_t *v = malloc(sizeof *v * (size_t)n);
    for (int64_t i = 0; i < n; i++)
        v[i] = i + 1;
    mf_set_i64v(t, "items", v, (size_t)n);
    free(v);
    mf_set_str(t, "label", "shapes");
    printf("start: %lld items\n", (long long)n);
    fprintf(stderr, "start: a line on stderr\n");
}

static void fan(mf_task *t) { mf_set_i64(t, "base", 100); }

static void sq(mf_task *t)
{
    int64_t v = mf_item_i64(t);
    const char *fail = getenv("FAIL_ITEM");
    if (fail && atoll(fail) == v)
        mf_fail(t, "item %lld fails on purpose", (long long)v);
    mf_set_i64(t, "sq", v * v + mf_get_i64(t, "base"));
    printf("item %lld of %zu\n", (long long)v, mf_item_count(t));
}

static void fjoin(mf_task *t)
{
    int64_t s = 0;
    for (size_t i = 0; i < mf_input_count(t); i++)
        s += mf_input_i64(t, i, "sq");
    mf_set_i64(t, "total", s);
    mf_set_i64(t, "count", (int64_t)mf_input_count(t));
}

static void other(mf_task *t) { mf_set_f64(t, "w", 2.5); }

static void join(mf_task *t)
{
    int64_t total = mf_input_step(t, 0)[0] == 'f' ? mf_input_i64(t, 0, "total") : mf_input_i64(t, 1, "total");
    double w = mf_input_has(t, 0, "w") ? mf_input_f64(t, 0, "w") : mf_input_f64(t, 1, "w");
    mf_set_f64(t, "result", (double)total * w);
    mf_merge_artifacts(t, "total w");
}

static void end(mf_task *t) { printf("result %.1f\n", mf_get_f64(t, "result")); }

static const mf_step_def steps[] = {
    {.name = "start", .fn = start, .next = "fan other"},
    {.name = "fan", .fn = fan, .next = "sq", .foreach = "items"},
    {.name = "sq", .fn = sq, .next = "fjoin", .resources = {.cpu = 1, .memory_mb = 200}},
    {.name = "fjoin", .fn = fjoin, .next = "join", .join = 1},
    {.name = "other", .fn = other, .next = "join"},
    {.name = "join", .fn = join, .next = "end", .join = 1},
    {.name = "end", .fn = end},
};
static const mf_param_def params[] = {{.name = "n", .type = MF_I64, .default_value = "6"}};
MF_FLOW("ShapesFlow", steps, params);
