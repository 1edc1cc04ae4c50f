/* Steps held to their own limits (timeout_s, memory_mb), with or without their orchestrator.
 * What each step does comes from the environment (tasks inherit the orchestrator's), so a
 * resume can change it; each step writes its pid to $PID_DIR/<step> when PID_DIR is set.
 *   WORK_MODE  what `work` (timeout_s = 2) does: sleep (12 s), busy (a busy loop), fork (a
 *              child that sleeps 30 s, its pid in $PID_DIR/child, while work sleeps 12 s),
 *              threads (three threads spin while work waits for them), anything else:
 *              return at once
 *   HOLD_S     seconds `hold` (no timeout) sleeps
 *   MEM_WAIT_S seconds `mem` (memory_mb = 64) sleeps before it allocates and touches MEM_MB
 *              megabytes (0 none); it writes $PID_DIR/allocated when that worked */
#include <mflow/flow.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void note(const char *name, long pid)
{
    const char *dir = getenv("PID_DIR");
    if (!dir)
        return;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f) {
        fprintf(f, "%ld\n", pid);
        fclose(f);
    }
}

static long env_num(const char *name)
{
    const char *v = getenv(name);
    return v ? atol(v) : 0;
}

static void start(mf_task *t) { mf_set_i64(t, "x", 1); }

static void *spin(void *arg)
{
    volatile unsigned long n = 0;
    for (;;)
        n++;
    return arg;
}

static void work(mf_task *t)
{
    const char *m = getenv("WORK_MODE");
    note("work", (long)getpid());
    if (m && !strcmp(m, "sleep")) {
        sleep(12);
    } else if (m && !strcmp(m, "busy")) {
        volatile unsigned long n = 0;
        for (;;)
            n++;
    } else if (m && !strcmp(m, "fork")) {
        pid_t c = fork();
        if (c == 0) {
            note("child", (long)getpid());
            sleep(30);
            _exit(0);
        }
        sleep(12);
    } else if (m && !strcmp(m, "threads")) {
        pthread_t th[3];
        for (int i = 0; i < 3; i++)
            pthread_create(&th[i], NULL, spin, NULL);
        for (int i = 0; i < 3; i++)
            pthread_join(th[i], NULL);
    }
    mf_set_i64(t, "y", 2);
}

static void hold(mf_task *t)
{
    note("hold", (long)getpid());
    sleep((unsigned)env_num("HOLD_S"));
    mf_set_i64(t, "z", 3);
}

static void mem(mf_task *t)
{
    note("mem", (long)getpid());
    sleep((unsigned)env_num("MEM_WAIT_S"));
    size_t mb = (size_t)env_num("MEM_MB");
    if (mb) {
        char *p = malloc(mb << 20);
        if (!p)
            mf_fail(t, "could not allocate %zu MB", mb);
        for (size_t i = 0; i < mb << 20; i += 4096)
            p[i] = (char)i;
        note("allocated", (long)mb);
        free(p);
    }
}

static void end(mf_task *t) { (void)t; }

static const mf_step_def steps[] = {
    {.name = "start", .fn = start, .next = "work"},
    {.name = "work", .fn = work, .next = "hold", .timeout_s = 2},
    {.name = "hold", .fn = hold, .next = "mem"},
    {.name = "mem", .fn = mem, .next = "end", .resources = {.memory_mb = 64}},
    {.name = "end", .fn = end},
};
MF_FLOW("DeadlineFlow", steps, NULL);
