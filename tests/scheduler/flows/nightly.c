/* A flow to deploy: its result depends on a parameter and on VERSION_MARK (the tests edit
 * the working copy after deploying, to tell the packaged code from the working copy);
 * sleep_s makes a firing slow (overlap), fail makes it fail. */
#include <mflow/flow.h>
#include <unistd.h>

#define VERSION_MARK 1

static void start(mf_task *t)
{
    mf_set_i64(t, "x", mf_get_i64(t, "n") * 10 + VERSION_MARK);
}

static void train(mf_task *t)
{
    double s = mf_get_f64(t, "sleep_s");
    if (s > 0)
        usleep((useconds_t)(s * 1e6));
    if (mf_get_i64(t, "fail"))
        mf_fail(t, "asked to fail");
    mf_set_i64(t, "y", mf_get_i64(t, "x") + 1);
}

static void end(mf_task *t)
{
    mf_set_str(t, "label", mf_get_str(t, "label"));
}

static const mf_step_def steps[] = {
    {.name = "start", .fn = start, .next = "train"},
    {.name = "train", .fn = train, .next = "end"},
    {.name = "end", .fn = end},
};
static const mf_param_def params[] = {
    {.name = "n", .type = MF_I64, .default_value = "2", .help = "a number"},
    {.name = "sleep_s", .type = MF_F64, .default_value = "0", .help = "seconds train sleeps"},
    {.name = "fail", .type = MF_BOOL, .default_value = "false", .help = "train fails"},
    {.name = "label", .type = MF_STR, .default_value = "none", .help = "a label"},
};
MF_FLOW("NightlyFlow", steps, params);
