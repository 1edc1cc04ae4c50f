/* Each body task records how many page faults its process took before its step ran
 * (/proc/self/stat's minflt, the task's own): what a task forked by the task server repeats
 * of loading. For e2e_fork_cost. */
#include <mflow/flow.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
static void start(mf_task *t)
{
    int64_t n = mf_get_i64(t, "n");
    int64_t *v = malloc(sizeof *v * (size_t)n);
    for (int64_t i = 0; i < n; i++)
        v[i] = i;
    mf_set_i64v(t, "items", v, (size_t)n);
    free(v);
}
static void body(mf_task *t)
{
    char buf[1024] = "";
    FILE *f = fopen("/proc/self/stat", "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    /* minflt is the 10th field; the 2nd, the command name, ends at the last ')'. */
    char *p = strrchr(buf, ')');
    long long minflt = -1;
    if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %lld", &minflt) != 1)
        minflt = -1;
    mf_set_i64(t, "minflt", minflt);
}
static void join(mf_task *t)
{
    size_t n = mf_input_count(t);
    int64_t *v = malloc(sizeof *v * n);
    for (size_t i = 0; i < n; i++)
        v[i] = mf_input_i64(t, i, "minflt");
    mf_set_i64v(t, "faults", v, n);
    free(v);
}
static void end(mf_task *t) { (void)t; }
static const mf_step_def steps[] = {
    {.name = "start", .fn = start, .next = "body", .foreach = "items"},
    {.name = "body", .fn = body, .next = "join"},
    {.name = "join", .fn = join, .next = "end", .join = 1},
    {.name = "end", .fn = end},
};
static const mf_param_def params[] = {{.name = "n", .type = MF_I64, .default_value = "8"}};
MF_FLOW("FaultCount", steps, params);
