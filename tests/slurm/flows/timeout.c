/* A step past its timeout_s (3 s): stopped on the node, the attempt fails as timed out. */
#include <mflow/flow.h>

#include <stdio.h>
#include <unistd.h>

static void start(mf_task *t) { mf_set_i64(t, "x", 1); }
static void hang(mf_task *t)
{
    printf("hang attempt %d starts\n", mf_attempt(t));
    fflush(stdout);
    sleep(120);
    mf_set_i64(t, "never", 1);
}
static void end(mf_task *t) { (void)t; }

static const mf_step_def steps[] = {
    {.name = "start", .fn = start, .next = "hang"},
    {.name = "hang", .fn = hang, .next = "end", .timeout_s = 3, .retry = 1},
    {.name = "end", .fn = end},
};
MF_FLOW("TimeoutFlow", steps, NULL);
