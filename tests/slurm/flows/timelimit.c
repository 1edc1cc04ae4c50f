/* A step that runs past Slurm's own time limit (the test sets --time=1 through
 * MFLOW_SLURM_SBATCH_ARGS; the step has no timeout_s of its own). */
#include <mflow/flow.h>

#include <stdio.h>
#include <unistd.h>

static void start(mf_task *t) { mf_set_i64(t, "x", 1); }
static void slow(mf_task *t)
{
    printf("slow starts\n");
    fflush(stdout);
    sleep(600);
    mf_set_i64(t, "never", 1);
}
static void end(mf_task *t) { (void)t; }

static const mf_step_def steps[] = {
    {.name = "start", .fn = start, .next = "slow"},
    {.name = "slow", .fn = slow, .next = "end"},
    {.name = "end", .fn = end},
};
MF_FLOW("TimeLimitFlow", steps, NULL);
