/* Failures on Slurm, chosen by the parameter `how`:
 *   flaky     step `work` fails on attempts 0 and 1, succeeds on attempt 2 (retry = 2)
 *   always    step `work` always fails
 *   slow      step `work` sleeps 60 s on attempt 0 (for scancel from outside; retry = 2)
 *   long      step `work` sleeps 300 s (for Slurm's own time limit and for Ctrl-C)
 * WORK_MARK (environment), when set, is a file each attempt of `work` appends to. */
#include <mflow/flow.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void start(mf_task *t) { mf_set_i64(t, "x", 1); }

static void route(mf_task *t) { (void)t; }

static void work(mf_task *t)
{
    const char *how = mf_get_str(t, "how");
    const char *mark = getenv("WORK_MARK");
    if (mark) {
        FILE *f = fopen(mark, "a");
        if (f) {
            fprintf(f, "attempt %d job %s\n", mf_attempt(t), getenv("SLURM_JOB_ID") ? getenv("SLURM_JOB_ID") : "none");
            fclose(f);
        }
    }
    printf("work attempt %d (%s)\n", mf_attempt(t), how);
    fflush(stdout);
    if (!strcmp(how, "flaky") && mf_attempt(t) < 2)
        mf_fail(t, "flaky failure on attempt %d", mf_attempt(t));
    if (!strcmp(how, "always"))
        mf_fail(t, "work always fails");
    if (!strcmp(how, "slow") && mf_attempt(t) == 0)
        sleep(60);
    if (!strcmp(how, "long"))
        sleep(300);
    mf_set_i64(t, "attempt_seen", mf_attempt(t));
}

static void end(mf_task *t) { (void)t; }

static const mf_step_def steps[] = {
    {.name = "start", .fn = start, .next = "work"},
    {.name = "work", .fn = work, .next = "end", .retry = 2},
    {.name = "end", .fn = end},
};
static const mf_param_def params[] = {{.name = "how", .type = MF_STR, .default_value = "flaky"}};
MF_FLOW("TroubleFlow", steps, params);
