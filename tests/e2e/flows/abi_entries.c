/* A flow compiled against a copy of <mflow/flow.h> whose entries are smaller (fields of a
 * later minor missing) or larger (fields of a newer minor mflow does not know) than this
 * mflow's: test_flow_abi.sh puts it beside the header it writes, abi_flow.h. */
#include "abi_flow.h"

#include <stdlib.h>

static void start(mf_task *t)
{
    mf_set_i64(t, "step_entry", (int64_t)sizeof(mf_step_def));
    mf_set_i64(t, "param_entry", (int64_t)sizeof(mf_param_def));
    mf_set_i64(t, "m", mf_get_i64(t, "n") + 1);
}

static void a(mf_task *t)
{
    const char *e = getenv("ABI_ENV");
    mf_set_str(t, "env", e ? e : "(unset)");
    mf_set_i64(t, "va", mf_get_i64(t, "m") * 10);
}

static void b(mf_task *t)
{
    mf_set_i64(t, "vb", mf_get_i64(t, "m") * 100);
}

static void join(mf_task *t)
{
    int64_t total = 0;
    for (size_t i = 0; i < mf_input_count(t); i++)
        total += mf_input_has(t, i, "va") ? mf_input_i64(t, i, "va") : mf_input_i64(t, i, "vb");
    mf_set_i64(t, "total", total);
    mf_merge_artifacts(t, "va vb");
}

static void end(mf_task *t)
{
    mf_set_str(t, "said", mf_get_str(t, "label"));
}

#ifdef ABI_LARGE_ENTRIES
static const char *const a_env[] = {"ABI_ENV=large", NULL};
static const mf_step_def steps[] = {
    {.name = "start", .fn = start, .next = "a b", .retry = 1, .k8s_namespace = "ns-start",
     .future_limit = 7},
    {.name = "a", .fn = a, .next = "join", .timeout_s = 60, .env = a_env,
     .k8s_namespace = "ns-a", .future_limit = -1},
    {.name = "b", .fn = b, .next = "join", .resources = {.cpu = 1}, .future_limit = 3},
    {.name = "join", .fn = join, .next = "end", .join = 1, .k8s_namespace = "ns-join"},
    {.name = "end", .fn = end, .k8s_namespace = "ns-end", .future_limit = 99},
};
static const mf_param_def params[] = {
    {.name = "n", .type = MF_I64, .default_value = "4", .help = "a number",
     .future_note = "ignored"},
    {.name = "label", .type = MF_STR, .default_value = "large", .future_note = "ignored too"},
};
MF_FLOW("AbiLargeFlow", steps, params);
#else
static const mf_step_def steps[] = {
    {.name = "start", .fn = start, .next = "a b", .retry = 1},
    {.name = "a", .fn = a, .next = "join", .timeout_s = 60},
    {.name = "b", .fn = b, .next = "join", .resources = {.cpu = 1}},
    {.name = "join", .fn = join, .next = "end", .join = 1},
    {.name = "end", .fn = end},
};
static const mf_param_def params[] = {
    {.name = "n", .type = MF_I64, .default_value = "4"},
    {.name = "label", .type = MF_STR, .default_value = "small"},
};
MF_FLOW("AbiSmallFlow", steps, params);
#endif
