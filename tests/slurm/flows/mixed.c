/* One step on Slurm (compute = "slurm"), the others wherever --compute says (local by
 * default). Each step records where it ran; the Slurm step also what Slurm gave it. */
#include <mflow/flow.h>

#include <stdio.h>
#include <stdlib.h>

static const char *env_or(const char *k, const char *d)
{
    const char *v = getenv(k);
    return v && *v ? v : d;
}

static void where(mf_task *t) { mf_set_str(t, "job", env_or("SLURM_JOB_ID", "none")); }

static void start(mf_task *t)
{
    where(t);
    mf_set_i64(t, "x", 20);
}

static void remote(mf_task *t)
{
    where(t);
    mf_set_str(t, "cpus", env_or("SLURM_CPUS_PER_TASK", "unset"));
    mf_set_str(t, "mem", env_or("SLURM_MEM_PER_NODE", "unset"));
    mf_set_str(t, "jobname", env_or("SLURM_JOB_NAME", "unset"));
    mf_set_str(t, "var", env_or("MIXED_VAR", "unset"));
    mf_set_str(t, "omp", env_or("OMP_NUM_THREADS", "unset"));
    mf_set_i64(t, "y", mf_get_i64(t, "x") + 1);
    printf("remote says hello\n");
}

static void end(mf_task *t)
{
    where(t);
    mf_set_i64(t, "z", mf_get_i64(t, "y") * 2);
}

static const char *const remote_env[] = {"MIXED_VAR=a b;$(touch /tmp/mflow-pwned)'\"", NULL};
static const mf_step_def steps[] = {
    {.name = "start", .fn = start, .next = "remote"},
    {.name = "remote", .fn = remote, .next = "end", .compute = "slurm",
     .resources = {.cpu = 2, .memory_mb = 300}, .env = remote_env},
    {.name = "end", .fn = end},
};
MF_FLOW("MixedFlow", steps, NULL);
