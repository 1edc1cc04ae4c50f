/* A step that holds on: `wait` sleeps HOLD_S seconds (environment), for cancellation and
 * kill -9 + resume. */
#include <mflow/flow.h>

#include <stdlib.h>
#include <unistd.h>

static void start(mf_task *t) { mf_set_i64(t, "x", 7); }
static void wait_step(mf_task *t)
{
    const char *v = getenv("HOLD_S");
    sleep((unsigned)(v ? atoi(v) : 0));
    mf_set_i64(t, "y", mf_get_i64(t, "x") * 2);
}
static void end(mf_task *t) { (void)t; }
static const mf_step_def steps[] = {
    {.name = "start", .fn = start, .next = "wait"},
    {.name = "wait", .fn = wait_step, .next = "end"},
    {.name = "end", .fn = end},
};
MF_FLOW("HoldFlow", steps, NULL);
