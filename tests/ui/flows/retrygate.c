/* For the ui tests' running tasks: the middle step fails its first attempt, and its retry
 * waits until the file --gate names exists (so it is seen running, at attempt 1). */
#include <mflow/flow.h>

#include <stdio.h>
#include <unistd.h>

static void start(mf_task *t)
{
    mf_set_i64(t, "x", 1);
}

static void work(mf_task *t)
{
    if (mf_attempt(t) == 0) {
        printf("first try\n");
        mf_fail(t, "the first try fails");
    }
    const char *gate = mf_get_str(t, "gate");
    for (int i = 0; i < 1200 && access(gate, F_OK) != 0; i++)
        usleep(50000);
    printf("second try\n");
    mf_set_i64(t, "y", 2);
}

static void end(mf_task *t)
{
    (void)t;
}

static const mf_step_def steps[] = {
    {.name = "start", .fn = start, .next = "work"},
    {.name = "work", .fn = work, .next = "end", .retry = 1},
    {.name = "end", .fn = end},
};

static const mf_param_def params[] = {
    {.name = "gate", .type = MF_STR, .default_value = "/nonexistent", .help = "file to wait for"},
};

MF_FLOW("RetryGateFlow", steps, params);
