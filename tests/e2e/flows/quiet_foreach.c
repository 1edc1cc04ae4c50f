/* Trivial foreach tasks that end with output still in stdio's buffers (no newline, no
 * flush, a file left open when QUIET_DIR is set): what a forked task must not lose when it exits. For the task cost tests. */
#include <mflow/flow.h>
#include <stdio.h>
#include <stdlib.h>
static void start(mf_task *t)
{
    int64_t n = mf_get_i64(t, "n");
    int64_t *v = malloc(sizeof *v * (size_t)n);
    for (int64_t i = 0; i < n; i++)
        v[i] = i * 7;
    mf_set_i64v(t, "items", v, (size_t)n);
    free(v);
}
static void body(mf_task *t)
{
    int64_t v = mf_item_i64(t);
    printf("item %lld unflushed", (long long)v);   /* a pipe: fully buffered */
    fprintf(stderr, "err %lld", (long long)v);
    /* A file of its own, left open: exit flushes it. */
    const char *dir = getenv("QUIET_DIR");
    if (dir) {
        char path[4096];
        snprintf(path, sizeof path, "%s/item-%lld.txt", dir, (long long)v);
        FILE *f = fopen(path, "w");
        if (!f)
            mf_fail(t, "cannot create %s", path);
        fprintf(f, "value %lld", (long long)v);
    }
    mf_set_i64(t, "v", v);
}
static void join(mf_task *t)
{
    int64_t s = 0;
    for (size_t i = 0; i < mf_input_count(t); i++)
        s += mf_input_i64(t, i, "v");
    mf_set_i64(t, "sum", s);
}
static void end(mf_task *t) { (void)t; }
static const mf_step_def steps[] = {
    {.name = "start", .fn = start, .next = "body", .foreach = "items"},
    {.name = "body", .fn = body, .next = "join"},
    {.name = "join", .fn = join, .next = "end", .join = 1},
    {.name = "end", .fn = end},
};
static const mf_param_def params[] = {{.name = "n", .type = MF_I64, .default_value = "6"}};
MF_FLOW("QuietForeach", steps, params);
