/* A flow whose table holds text that is not UTF-8 (Latin-1 "café" in a default, a help text
 * and an environment entry): its graph must still be stored, as {"type": "str", "hex"}. */
#include <mflow/flow.h>
#include <stdlib.h>

static void start(mf_task *t) { mf_set_str(t, "env", getenv("GREETING") ? getenv("GREETING") : "-"); }
static void end(mf_task *t) { (void)t; }

static const char *const env[] = {"GREETING=caf\xe9", NULL};
static const mf_step_def steps[] = {
    {.name = "start", .fn = start, .next = "end", .env = env},
    {.name = "end", .fn = end},
};
static const mf_param_def params[] = {
    {.name = "who", .type = MF_STR, .default_value = "caf\xe9", .help = "Latin-1 caf\xe9"},
};
MF_FLOW("Latin1Flow", steps, params);
