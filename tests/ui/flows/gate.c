/* For the ui tests' live run: the middle step waits until the file --gate names exists. */
#include <mflow/flow.h>

#include <stdio.h>
#include <unistd.h>

static void start(mf_task *t)
{
    mf_set_i64(t, "x", 1);
}

static void wait_gate(mf_task *t)
{
    const char *gate = mf_get_str(t, "gate");
    for (int i = 0; i < 1200 && access(gate, F_OK) != 0; i++)
        usleep(50000);
    printf("gate open\n");
}

static void end(mf_task *t)
{
    (void)t;
}

static const mf_step_def steps[] = {
    {.name = "start", .fn = start, .next = "wait_gate"},
    {.name = "wait_gate", .fn = wait_gate, .next = "end"},
    {.name = "end", .fn = end},
};

static const mf_param_def params[] = {
    {.name = "gate", .type = MF_STR, .default_value = "/nonexistent", .help = "file to wait for"},
};

MF_FLOW("GateFlow", steps, params);
