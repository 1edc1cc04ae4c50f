/* A flow whose results are served as a microservice (flow ABI 1.3 endpoints):
 *   mflow run examples/serve.c
 *   mflow serve examples/serve.c --port 8080 &
 *   curl http://127.0.0.1:8080/show_data                  {"result": 3}
 *   curl -d '{"x": 4}' http://127.0.0.1:8080/scale        {"x": 4, "y": 12}
 *   curl http://127.0.0.1:8080/                           the endpoints
 * The server answers from the latest successful run, and moves to a newer one by itself. */
#include <mflow/flow.h>

#include <stdio.h>

static void start(mf_task *t)
{
    mf_set_i64(t, "a", 1);
    mf_set_i64(t, "b", 2);
}

static void end(mf_task *t)
{
    mf_set_i64(t, "result", mf_get_i64(t, "a") + mf_get_i64(t, "b"));
    printf("result %lld\n", (long long)mf_get_i64(t, "result"));
}

/* GET /show_data: the result the run computed. */
static int show_data(mf_endpoint *e)
{
    mf_task *t = mf_endpoint_task(e);
    return mf_reply_jsonf(e, "{\"result\": %lld}", (long long)mf_get_i64(t, "result"));
}

/* POST /scale {"x": 4}, or GET /scale?x=4: x times the result. */
static int scale(mf_endpoint *e)
{
    int64_t x;
    if (mf_req_i64(e, "x", &x) != 0)
        return mf_reply_error(e, 400, "give x, a whole number: {\"x\": 4}");
    int64_t r = mf_get_i64(mf_endpoint_task(e), "result");
    return mf_reply_jsonf(e, "{\"x\": %lld, \"y\": %lld}", (long long)x, (long long)(x * r));
}

static const mf_step_def steps[] = {
    {.name = "start", .fn = start, .next = "end"},
    {.name = "end", .fn = end},
};
static const mf_endpoint_def endpoints[] = {
    {.name = "show_data", .fn = show_data, .help = "the result of the latest run"},
    {.name = "scale", .fn = scale, .help = "x times the result: {\"x\": 4}"},
};
MF_FLOW_WITH_ENDPOINTS("ServeFlow", steps, NULL, endpoints);
