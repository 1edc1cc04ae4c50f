/* The serve suite's flow: end holds n (a parameter) as `result`, and as `a` and `b` (always
 * equal: an answer mixing two runs would show them apart); --fail=1 fails end. Its endpoints
 * answer, fail and crash in every way an endpoint can. */
#include <mflow/flow.h>

#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void start(mf_task *t) { mf_set_i64(t, "doubled", 2 * mf_get_i64(t, "n")); }

static void end(mf_task *t)
{
    if (mf_get_i64(t, "fail"))
        mf_fail(t, "end fails, as asked (--fail=1)");
    int64_t n = mf_get_i64(t, "n");
    mf_set_i64(t, "a", n);
    mf_set_i64(t, "result", n);
    mf_set_str(t, "label", mf_get_str(t, "label"));
    mf_set_i64(t, "b", n);
}

static int show_data(mf_endpoint *e)
{
    return mf_reply_jsonf(e, "{\"result\": %lld}",
                          (long long)mf_get_i64(mf_endpoint_task(e), "result"));
}

/* a and b and the run, read one after the other (the switch test checks they agree). */
static int pair(mf_endpoint *e)
{
    mf_task *t = mf_endpoint_task(e);
    long long a = (long long)mf_get_i64(t, "a");
    long long b = (long long)mf_get_i64(t, "b");
    return mf_reply_jsonf(e, "{\"a\": %lld, \"b\": %lld, \"run\": %lld}", a, b,
                          (long long)mf_run_id(t));
}

/* POST {"x": X, "name": S, "scale": F}: uses each of the request getters. */
static int add(mf_endpoint *e)
{
    int64_t x;
    int rc = mf_req_i64(e, "x", &x);
    if (rc == -3)
        return mf_reply_error(e, 400, "give x");
    if (rc)
        return mf_reply_error(e, 422, "x must be a whole number");
    const char *name = "anon";
    if (mf_req_str(e, "name", &name) == -1)
        return mf_reply_error(e, 400, "name must be text");
    double scale = 1;
    mf_req_f64(e, "scale", &scale);
    mf_task *t = mf_endpoint_task(e);
    return mf_reply_jsonf(e, "{\"sum\": %lld, \"name\": \"%s\", \"scaled\": %g, \"method\": \"%s\"}",
                          (long long)(x + mf_get_i64(t, "result")), name,
                          scale * (double)mf_get_i64(t, "doubled"), mf_req_method(e));
}

static int echo(mf_endpoint *e) { return mf_reply_json(e, mf_req_json(e)); }
static int label(mf_endpoint *e)
{
    return mf_reply_jsonf(e, "{\"label\": \"%s\", \"endpoint\": \"%s\"}",
                          mf_get_str(mf_endpoint_task(e), "label"), mf_endpoint_name(e));
}

static int boom(mf_endpoint *e) { mf_fail(mf_endpoint_task(e), "boom, as this endpoint does"); }
static int missing(mf_endpoint *e)
{
    return mf_reply_jsonf(e, "%lld", (long long)mf_get_i64(mf_endpoint_task(e), "nowhere"));
}
static int setter(mf_endpoint *e)
{
    mf_set_i64(mf_endpoint_task(e), "result", 99);
    return mf_reply_json(e, "{}");
}
static int wrongtype(mf_endpoint *e)
{
    return mf_reply_json(e, mf_get_str(mf_endpoint_task(e), "result"));
}
static int teapot(mf_endpoint *e) { return mf_reply_error(e, 418, "short and stout"); }
static int notjson(mf_endpoint *e) { return mf_reply_json(e, "{\"a\": "); }
static int silent(mf_endpoint *e) { (void)e; return 0; }
static int refuses(mf_endpoint *e) { (void)e; return 7; }
static int crash(mf_endpoint *e)
{
    (void)e;
    volatile int *p = NULL;
    *p = 1;
    return 0;
}
static int aborts(mf_endpoint *e) { (void)e; abort(); }

static const mf_step_def steps[] = {
    {.name = "start", .fn = start, .next = "end"},
    {.name = "end", .fn = end},
};
static const mf_param_def params[] = {
    {.name = "n", .type = MF_I64, .default_value = "3"},
    {.name = "fail", .type = MF_I64, .default_value = "0"},
    {.name = "label", .type = MF_STR, .default_value = "plain"},
};
static const mf_endpoint_def endpoints[] = {
    {.name = "show_data", .fn = show_data, .help = "the result"},
    {.name = "pair", .fn = pair},
    {.name = "add", .fn = add},
    {.name = "echo", .fn = echo},
    {.name = "label-of", .fn = label},
    {.name = "boom", .fn = boom},
    {.name = "missing", .fn = missing},
    {.name = "setter", .fn = setter},
    {.name = "wrongtype", .fn = wrongtype},
    {.name = "teapot", .fn = teapot},
    {.name = "notjson", .fn = notjson},
    {.name = "silent", .fn = silent},
    {.name = "refuses", .fn = refuses},
    {.name = "crash", .fn = crash},
    {.name = "aborts", .fn = aborts},
};
MF_FLOW_WITH_ENDPOINTS("AnswersFlow", steps, params, endpoints);
