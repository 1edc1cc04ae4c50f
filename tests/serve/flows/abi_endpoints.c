/* Built against a copy of flow.h whose mf_endpoint_def may have a field of a newer minor
 * (ABI_LARGE_ENDPOINTS): mflow steps through the table by the recorded entry size. */
#include "abi_flow.h"

static void start(mf_task *t) { mf_set_i64(t, "v", 21); }
static void end(mf_task *t) { mf_set_i64(t, "w", 2 * mf_get_i64(t, "v")); }
static int first(mf_endpoint *e)
{
    return mf_reply_jsonf(e, "{\"v\": %lld}", (long long)mf_get_i64(mf_endpoint_task(e), "v"));
}
static int second(mf_endpoint *e)
{
    return mf_reply_jsonf(e, "{\"w\": %lld}", (long long)mf_get_i64(mf_endpoint_task(e), "w"));
}
static int third(mf_endpoint *e) { return mf_reply_json(e, "\"third\""); }

static const mf_step_def steps[] = {
    {.name = "start", .fn = start, .next = "end"},
    {.name = "end", .fn = end},
};
static const mf_endpoint_def endpoints[] = {
#ifdef ABI_LARGE_ENDPOINTS
    {.name = "first", .fn = first, .help = "one", .future = 1},
    {.name = "second", .fn = second, .help = "two", .future = 2},
    {.name = "third", .fn = third, .future = 3},
#else
    {.name = "first", .fn = first, .help = "one"},
    {.name = "second", .fn = second, .help = "two"},
    {.name = "third", .fn = third},
#endif
};
MF_FLOW_WITH_ENDPOINTS("AbiEndpointsFlow", steps, NULL, endpoints);
