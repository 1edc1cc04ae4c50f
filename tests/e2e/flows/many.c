/* A few hundred short tasks, for crash and interrupt tests. */
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
    struct timespec ts = {0, mf_get_i64(t, "sleep_ms") * 1000000L};
    nanosleep(&ts, NULL);
    int64_t v = mf_item_i64(t);
    mf_set_i64(t, "v", v * 3);
    char blob[2048];
    for (size_t i = 0; i < sizeof blob; i++)
        blob[i] = (char)(v + i);
    mf_set_bytes(t, "blob", blob, sizeof blob);
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
static const mf_param_def params[] = {
    {.name = "n", .type = MF_I64, .default_value = "300"},
    {.name = "sleep_ms", .type = MF_I64, .default_value = "5"},
};
MF_FLOW("ManyFlow", steps, params);
