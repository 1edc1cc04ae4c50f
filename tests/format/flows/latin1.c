/* A flow whose text is not UTF-8 (Latin-1 "café"): in its table (a default, a help text, an
 * environment entry) and in a failure message. Its graph and records must keep the bytes, as
 * {"type": "str", "hex"}; the caught failure lets the run succeed. */
#include <mflow/flow.h>
#include <stdlib.h>

static void start(mf_task *t) { mf_set_str(t, "env", getenv("GREETING") ? getenv("GREETING") : "-"); }
static void oops(mf_task *t) { mf_fail(t, "no %s today", mf_get_str(t, "who")); }
static void end(mf_task *t) { (void)t; }

static const char *const env[] = {"GREETING=caf\xe9", NULL};
static const mf_step_def steps[] = {
    {.name = "start", .fn = start, .next = "oops", .env = env},
    {.name = "oops", .fn = oops, .next = "end", .catch_var = "err"},
    {.name = "end", .fn = end},
};
static const mf_param_def params[] = {
    {.name = "who", .type = MF_STR, .default_value = "caf\xe9", .help = "Latin-1 caf\xe9"},
};
MF_FLOW("Latin1Flow", steps, params);
