/* For the ui tests' large downloads: the file --src names, whole, as a bytes artifact. */
#include <mflow/flow.h>

#include <stdio.h>
#include <stdlib.h>

static void start(mf_task *t)
{
    const char *src = mf_get_str(t, "src");
    FILE *f = fopen(src, "rb");
    if (!f)
        mf_fail(t, "cannot open %s", src);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc(n > 0 ? (size_t)n : 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n)
        mf_fail(t, "cannot read %s", src);
    fclose(f);
    mf_set_bytes(t, "blob", buf, (size_t)n);
    free(buf);
    printf("stored %ld bytes\n", n);
}

static void end(mf_task *t)
{
    (void)t;
}

static const mf_step_def steps[] = {
    {.name = "start", .fn = start, .next = "end"},
    {.name = "end", .fn = end},
};

static const mf_param_def params[] = {
    {.name = "src", .type = MF_STR, .default_value = "/nonexistent", .help = "file to store"},
};

MF_FLOW("BigValueFlow", steps, params);
