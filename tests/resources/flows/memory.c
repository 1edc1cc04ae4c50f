/* A step limited to 64 MB that allocates and touches --mb megabytes. */
#include <mflow/flow.h>

#include <stdio.h>
#include <stdlib.h>

static void start(mf_task *t) { (void)t; }

static void hog(mf_task *t)
{
    size_t mb = (size_t)mf_get_i64(t, "mb");
    char *p = malloc(mb << 20);
    if (!p)
        mf_fail(t, "could not allocate %zu MB", mb);
    for (size_t i = 0; i < mb << 20; i += 4096)
        p[i] = (char)i;
    mf_set_i64(t, "touched_mb", (int64_t)mb);
    free(p);
}

static void end(mf_task *t) { (void)t; }

static const mf_step_def steps[] = {
    {.name = "start", .fn = start, .next = "hog"},
    {.name = "hog", .fn = hog, .next = "end", .resources = {.memory_mb = 64}},
    {.name = "end", .fn = end},
};
static const mf_param_def params[] = {
    {.name = "mb", .type = MF_I64, .default_value = "256", .help = "megabytes to allocate"},
};
MF_FLOW("MemoryFlow", steps, params);
