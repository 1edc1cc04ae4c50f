/* catch_var: a failing step's error is stored and the flow goes on. */
#include <mflow/flow.h>
#include <signal.h>
#include <string.h>
static void start(mf_task *t) { mf_set_i64(t, "x", 5); }
static void risky(mf_task *t)
{
    if (!strcmp(mf_get_str(t, "how"), "fail"))
        mf_fail(t, "risky step gave up");
    raise(SIGSEGV);
}
static void end(mf_task *t) { mf_set_str(t, "seen", mf_get_str(t, "err")); mf_set_i64(t, "x2", mf_get_i64(t, "x") * 2); }
static const mf_step_def steps[] = {
    {.name = "start", .fn = start, .next = "risky"},
    {.name = "risky", .fn = risky, .next = "end", .retry = 1, .catch_var = "err"},
    {.name = "end", .fn = end},
};
static const mf_param_def params[] = {{.name = "how", .type = MF_STR, .default_value = "fail"}};
MF_FLOW("CaughtFlow", steps, params);
