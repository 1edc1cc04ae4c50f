#include <mflow/flow.h>
#include <stdio.h>
#include <string.h>
/* Prints `mb` MiB to stdout: past the host's 4 MiB in memory, its log spills to a file. */
static void start(mf_task *t)
{
    static char line[1024];
    memset(line, 'x', sizeof line - 1);
    line[sizeof line - 1] = '\n';
    for (long i = 0; i < mf_get_i64(t, "mb") * 1024; i++)
        fwrite(line, 1, sizeof line, stdout);
    fflush(stdout);
}
static void end(mf_task *t) { (void)t; }
static const mf_step_def steps[] = {
    {.name = "start", .fn = start, .next = "end"},
    {.name = "end", .fn = end},
};
static const mf_param_def params[] = {
    {.name = "mb", .type = MF_I64, .default_value = "6"},
};
MF_FLOW("BigOutput", steps, params);
