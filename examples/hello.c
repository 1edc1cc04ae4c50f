/* The smallest useful flow: a parameter, one value computed, one printed.
 *   mflow run examples/hello.c --name=world
 *   mflow get HelloFlow/1/end greeting        (the run id is printed by `mflow run`) */
#include <mflow/flow.h>

#include <stdio.h>

static void start(mf_task *t)
{
    char buf[256];
    snprintf(buf, sizeof buf, "hello, %s", mf_get_str(t, "name"));
    mf_set_str(t, "greeting", buf);
    mf_set_i64(t, "count", 1);
}

static void shout(mf_task *t)
{
    printf("%s!\n", mf_get_str(t, "greeting"));
    mf_set_i64(t, "count", mf_get_i64(t, "count") + 1);
}

static void end(mf_task *t)
{
    printf("%s (%lld steps counted)\n", mf_get_str(t, "greeting"), (long long)mf_get_i64(t, "count"));
}

static const mf_step_def steps[] = {
    {.name = "start", .fn = start, .next = "shout"},
    {.name = "shout", .fn = shout, .next = "end"},
    {.name = "end", .fn = end},
};

static const mf_param_def params[] = {
    {.name = "name", .type = MF_STR, .default_value = "world", .help = "who to greet"},
};

MF_FLOW("HelloFlow", steps, params);
