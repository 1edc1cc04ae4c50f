/* What a task process sees of how it was started: its name, process group, environment,
 * stdin, and whether state leaks between tasks (the task server forks each task from one
 * preloaded process; every task must still start from a clean copy). */
#include <mflow/flow.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int calls;   /* 1 in every task when nothing is shared between tasks */

static void start(mf_task *t)
{
    int64_t v[6] = {0, 1, 2, 3, 4, 5};
    mf_set_i64v(t, "items", v, 6);
}

static void body(mf_task *t)
{
    char comm[32] = "";
    FILE *f = fopen("/proc/self/comm", "r");
    if (f) {
        if (fgets(comm, sizeof comm, f))
            comm[strcspn(comm, "\n")] = '\0';
        fclose(f);
    }
    calls++;
    const char *v = getenv("TASK_ENV_VAR");
    const char *cpus = getenv("MFLOW_CPUS");
    char c;
    mf_set_str(t, "comm", comm);
    mf_set_str(t, "var", v ? v : "(unset)");
    mf_set_str(t, "cpus", cpus ? cpus : "(unset)");
    mf_set_i64(t, "own_group", getpgrp() == getpid());
    mf_set_i64(t, "stdin_eof", read(0, &c, 1) == 0);
    mf_set_i64(t, "calls", calls);
    mf_set_i64(t, "server_env_leaked", getenv("LD_BIND_NOW") != NULL);
    printf("task %lld says hello\n", (long long)mf_item_index(t));
    fflush(stdout);
    fprintf(stderr, "task %lld on stderr\n", (long long)mf_item_index(t));
}

static void join(mf_task *t)
{
    int64_t sum = 0;
    for (size_t i = 0; i < mf_input_count(t); i++)
        sum += mf_input_i64(t, i, "calls");
    mf_set_i64(t, "calls_sum", sum);
}

static void end(mf_task *t) { (void)t; }

static const char *const body_env[] = {"TASK_ENV_VAR=from-the-step", NULL};
static const mf_step_def steps[] = {
    {.name = "start", .fn = start, .next = "body", .foreach = "items"},
    {.name = "body", .fn = body, .next = "join", .env = body_env},
    {.name = "join", .fn = join, .next = "end", .join = 1},
    {.name = "end", .fn = end},
};
MF_FLOW("TaskEnv", steps, NULL);
