/* A train step that asks for 4 GPUs; start leaves a marker in --dir if it ever runs. */
#include <mflow/flow.h>

#include <stdio.h>

static void start(mf_task *t)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/started", mf_get_str(t, "dir"));
    FILE *f = fopen(path, "w");
    if (f)
        fclose(f);
}
static void train(mf_task *t) { (void)t; }
static void end(mf_task *t) { (void)t; }

static const mf_step_def steps[] = {
    {.name = "start", .fn = start, .next = "train"},
    {.name = "train", .fn = train, .next = "end", .resources = {.cpu = 2, .gpu = 4}},
    {.name = "end", .fn = end},
};
static const mf_param_def params[] = {
    {.name = "dir", .type = MF_STR},
};
MF_FLOW("TooBigFlow", steps, params);
