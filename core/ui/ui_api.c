/* mflow ui: the JSON API over the index and the datastore, through the client API.
 *
 * Every name taken from a request is checked before use (flows, steps and artifacts are
 * identifiers, runs and tasks decimal numbers), and only reaches the datastore as an argument
 * of the client API, which makes its keys: no request text is ever joined into a path. */
#include "ui.h"

#include "cli.h"
#include "util.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Artifact values up to this size are given in the task's JSON; larger ones by download. */
#define SMALL_VALUE 65536
#define RUNS_LIMIT_DEFAULT 50
#define RUNS_LIMIT_MAX 1000
#define LOG_LIMIT_DEFAULT 65536
#define LOG_LIMIT_MAX (4 << 20)
#define MAX_SEGS 10

const char *ui_query_get(const struct ui_query *q, const char *key)
{
    for (size_t i = 0; i < q->n; i++)
        if (!strcmp(q->key[i], key))
            return q->val[i];
    return NULL;
}

static void reply_json(struct ui_reply *out, unsigned status, json_t *v)
{
    out->status = status;
    out->type = "application/json";
    out->body = v ? json_dumps(v, JSON_COMPACT | JSON_REAL_PRECISION(17))
                  : NULL;
    json_decref(v);
    if (!out->body) {
        out->status = 500;
        out->body = strdup("{\"error\":\"out of memory\"}");
    }
    out->len = out->body ? strlen(out->body) : 0;
}

void ui_error(struct ui_reply *out, unsigned status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = mf_vstrf(fmt, ap);
    va_end(ap);
    reply_json(out, status, json_pack("{s:o}", "error", cli_json_text(msg ? msg : "out of memory")));
    free(msg);
}

/* A client failure as an answer: not found is 404, a bad argument 400, the rest 500. */
static void client_error(struct ui_reply *out, mf_client *c, int rc)
{
    unsigned st = rc == MF_ENOTFOUND ? 404 : rc == MF_EINVAL ? 400 : 500;
    ui_error(out, st, "%s", mf_client_error(c));
}

/* A decimal number in [0, max]; 0 ok, -1 not one. */
static int parse_num(const char *s, long long max, long long *v)
{
    if (!s || !*s || strlen(s) > 18)
        return -1;
    long long x = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        x = x * 10 + (*p - '0');
    }
    if (x > max)
        return -1;
    *v = x;
    return 0;
}

static int bad_name(struct ui_reply *out, const char *what, const char *s)
{
    if (mf_name_valid(s))
        return 0;
    ui_error(out, 400, "%s name '%s' is not valid (letters, digits and _, not starting with a digit)",
             what, s);
    return 1;
}

static int bad_id(struct ui_reply *out, const char *what, const char *s, long long *v)
{
    if (!parse_num(s, INT64_MAX / 2, v))
        return 0;
    ui_error(out, 400, "%s id '%s' is not a number", what, s);
    return 1;
}

/* A query number: absent gives def; 0 ok, 1 after answering 400. */
static int query_num(struct ui_reply *out, const struct ui_query *q, const char *key,
                     long long def, long long max, long long *v)
{
    const char *s = ui_query_get(q, key);
    *v = def;
    if (!s)
        return 0;
    if (!parse_num(s, max, v))
        return 0;
    ui_error(out, 400, "%s=%s: give a whole number from 0 to %lld", key, s, max);
    return 1;
}

/* ---- runs ------------------------------------------------------------------------------- */

static int newest_first(const void *x, const void *y)
{
    mf_client_run *a = *(mf_client_run *const *)x, *b = *(mf_client_run *const *)y;
    double ta = mf_client_run_start_time(a), tb = mf_client_run_start_time(b);
    if (ta != tb)
        return ta < tb ? 1 : -1;
    int f = strcmp(mf_client_run_flow(a), mf_client_run_flow(b));
    if (f)
        return f;
    int64_t ia = mf_client_run_id(a), ib = mf_client_run_id(b);
    return ia < ib ? 1 : ia > ib ? -1 : 0;
}

static void api_flows(mf_client *c, struct ui_reply *out)
{
    char **names;
    size_t n;
    int rc = mf_client_flows(c, &names, &n);
    if (rc) {
        client_error(out, c, rc);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, cli_json_text(names[i]));
    free(names);
    reply_json(out, 200, json_pack("{s:o}", "flows", arr));
}

static int keep_run(mf_client_run *r, const char *user, const char *status, const char *ns)
{
    if (user && strcmp(mf_client_run_user(r), user))
        return 0;
    if (ns && strcmp(mf_client_run_namespace(r), ns))
        return 0;
    return !status || !strcmp(mf_client_status_name(mf_client_run_status(r)), status);
}

static void api_runs(mf_client *c, const struct ui_query *q, struct ui_reply *out)
{
    const char *flow = ui_query_get(q, "flow"), *user = ui_query_get(q, "user");
    const char *status = ui_query_get(q, "status"), *ns = ui_query_get(q, "namespace");
    long long limit, offset;
    if (query_num(out, q, "limit", RUNS_LIMIT_DEFAULT, RUNS_LIMIT_MAX, &limit) ||
        query_num(out, q, "offset", 0, INT32_MAX, &offset))
        return;
    if (flow && *flow && bad_name(out, "flow", flow))
        return;
    static const char *const statuses[] = {"pending", "running", "succeeded", "failed",
                                           "cancelled"};
    if (status && *status) {
        size_t k = 0;
        while (k < 5 && strcmp(status, statuses[k]))
            k++;
        if (k == 5) {
            ui_error(out, 400, "status=%s: give pending, running, succeeded, failed or cancelled",
                     status);
            return;
        }
    }
    user = user && *user ? user : NULL;
    status = status && *status ? status : NULL;
    ns = ns && *ns ? ns : NULL;
    const char *tags[UI_QUERY_MAX];
    size_t n_tags = 0;
    for (size_t i = 0; i < q->n; i++)
        if (!strcmp(q->key[i], "tag") && *q->val[i])
            tags[n_tags++] = q->val[i];

    char **flows = NULL;
    size_t n_flows = 1;
    int rc = 0;
    if (!flow || !*flow)
        rc = mf_client_flows(c, &flows, &n_flows);
    if (rc) {
        client_error(out, c, rc);
        return;
    }
    mf_client_runs **lists = calloc(n_flows ? n_flows : 1, sizeof *lists);
    mf_client_run **sel = NULL;
    size_t n_sel = 0, cap = 0;
    if (!lists)
        rc = MF_ENOMEM;
    for (size_t f = 0; !rc && f < n_flows; f++) {
        rc = mf_client_list_runs(c, flows ? flows[f] : flow, tags, n_tags, &lists[f]);
        for (size_t i = 0; !rc && i < mf_client_runs_count(lists[f]); i++) {
            mf_client_run *r = mf_client_runs_at(lists[f], i);
            if (!keep_run(r, user, status, ns))
                continue;
            if (n_sel == cap) {
                cap = cap ? cap * 2 : 64;
                mf_client_run **m = realloc(sel, cap * sizeof *m);
                if (!m) {
                    rc = MF_ENOMEM;
                    break;
                }
                sel = m;
            }
            sel[n_sel++] = r;
        }
    }
    if (rc) {
        if (rc == MF_ENOMEM)
            ui_error(out, 500, "out of memory");
        else
            client_error(out, c, rc);
    } else {
        if (n_sel)
            qsort(sel, n_sel, sizeof *sel, newest_first);
        json_t *arr = json_array();
        for (size_t i = (size_t)offset; i < n_sel && i < (size_t)(offset + limit); i++)
            json_array_append_new(arr, cli_run_json(sel[i]));
        reply_json(out, 200, json_pack("{s:I,s:I,s:I,s:o}", "total", (json_int_t)n_sel,
                                       "offset", (json_int_t)offset, "limit", (json_int_t)limit,
                                       "runs", arr));
    }
    free(sel);
    for (size_t f = 0; lists && f < n_flows; f++)
        mf_client_runs_free(lists[f]);
    free(lists);
    free(flows);
}

/* ---- one run ---------------------------------------------------------------------------- */

static json_t *artifact_json(const mf_client_artifact *a)
{
    uint64_t size = mf_client_artifact_size(a);
    json_t *o = json_object();
    json_object_set_new(o, "name", cli_json_text(mf_client_artifact_name(a)));
    json_object_set_new(o, "type", json_string(mf_client_type_name(mf_client_artifact_type(a))));
    json_object_set_new(o, "size", json_integer((json_int_t)size));
    json_object_set_new(o, "key", json_string(mf_client_artifact_key(a)));
    json_t *v = size <= SMALL_VALUE ? cli_artifact_json(a) : NULL;
    json_object_set_new(o, "value", v ? v : json_null());
    /* too large, or unreadable (a missing or corrupt blob): the download says which */
    json_object_set_new(o, "value_shown", json_boolean(v != NULL));
    return o;
}

static json_t *step_json(const mf_client_step *s)
{
    json_t *o = json_object();
    json_object_set_new(o, "name", cli_json_text(mf_client_step_name(s)));
    json_object_set_new(o, "status", json_string(mf_client_status_name(mf_client_step_status(s))));
    json_object_set_new(o, "tasks", json_integer((json_int_t)mf_client_step_task_count(s)));
    json_t *counts = json_object();
    for (int st = MF_CLIENT_PENDING; st <= MF_CLIENT_CANCELLED; st++)
        json_object_set_new(counts, mf_client_status_name(st),
                            json_integer((json_int_t)mf_client_step_status_count(s, st)));
    json_object_set_new(o, "counts", counts);
    json_object_set_new(o, "first_task_id", json_integer(mf_client_step_first_task_id(s)));
    json_object_set_new(o, "start_time", json_real(mf_client_step_start_time(s)));
    json_object_set_new(o, "end_time", json_real(mf_client_step_end_time(s)));
    return o;
}

/* Hosts of finished task attempts, "Flow/run/step/task.attempt" -> host: an attempt's record
 * never changes once it ended, and reading records is most of what a run page's task list
 * costs (a live page asks every second). Requests are answered by one thread. */
#define HOST_CACHE_MAX 200000
static json_t *host_cache;

/* The task's host: from the cache, else from its record (loading t), kept once it ended. */
static json_t *task_host(mf_client_task *t, int load)
{
    int st = mf_client_task_status(t);
    int ended = st == MF_CLIENT_SUCCEEDED || st == MF_CLIENT_FAILED || st == MF_CLIENT_CANCELLED;
    char *key = load && ended ? mf_strf("%s.%u", mf_client_task_pathspec(t),
                                        (unsigned)mf_client_task_attempt(t))
                              : NULL;
    json_t *h = key && host_cache ? json_object_get(host_cache, key) : NULL;
    if (h) {
        free(key);
        return json_incref(h);
    }
    /* a task that has not ended has no record yet to read its host from */
    if (load && ended)
        mf_client_task_load(t);
    h = cli_json_text(mf_client_task_host(t));
    if (key && h && !json_is_null(h) && mf_client_task_loaded(t)) {
        if (!host_cache || json_object_size(host_cache) >= HOST_CACHE_MAX) {
            json_decref(host_cache);
            host_cache = json_object();
        }
        json_object_set(host_cache, key, h);
    }
    free(key);
    return h;
}

/* A task as listed: what the index knows, and its host once its record can be read (a task
 * still running has none yet). dead: the run's orchestrator died, so a task it left running
 * or pending will not end (the page stops showing it as live). */
static json_t *task_json(mf_client_task *t, int load, int dead)
{
    json_t *host = task_host(t, load);
    json_t *o = json_object();
    json_object_set_new(o, "pathspec", cli_json_text(mf_client_task_pathspec(t)));
    json_object_set_new(o, "step", cli_json_text(mf_client_task_step(t)));
    json_object_set_new(o, "task_id", json_integer(mf_client_task_id(t)));
    json_object_set_new(o, "attempt", json_integer(mf_client_task_attempt(t)));
    json_object_set_new(o, "status", json_string(mf_client_status_name(mf_client_task_status(t))));
    json_object_set_new(o, "start_time", json_real(mf_client_task_start_time(t)));
    json_object_set_new(o, "end_time", json_real(mf_client_task_end_time(t)));
    json_object_set_new(o, "exit_code", json_integer(mf_client_task_exit_code(t)));
    json_object_set_new(o, "host", host);
    uint32_t fc = mf_client_task_foreach_count(t);
    json_object_set_new(o, "foreach", fc ? json_pack("{s:i,s:i}", "index",
                                                     (int)mf_client_task_foreach_index(t),
                                                     "count", (int)fc)
                                         : json_null());
    json_object_set_new(o, "origin", cli_json_text(mf_client_task_origin(t)));
    int st = mf_client_task_status(t);
    json_object_set_new(o, "dead", json_boolean(dead && (st == MF_CLIENT_RUNNING ||
                                                         st == MF_CLIENT_PENDING)));
    return o;
}

static void api_run(mf_client_run *r, struct ui_reply *out)
{
    json_t *o = cli_run_json(r);
    json_t *params = json_array();
    if (mf_client_run_load_params(r) == 0)
        for (size_t i = 0; i < mf_client_run_param_count(r); i++)
            json_array_append_new(params, artifact_json(mf_client_run_param_at(r, i)));
    json_object_set_new(o, "params", params);
    reply_json(out, 200, o);
}

static void api_steps(mf_client *c, mf_client_run *r, struct ui_reply *out)
{
    mf_client_steps *l;
    int rc = mf_client_list_steps(r, &l);
    if (rc) {
        client_error(out, c, rc);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < mf_client_steps_count(l); i++)
        json_array_append_new(arr, step_json(mf_client_steps_at(l, i)));
    mf_client_steps_free(l);
    reply_json(out, 200, json_pack("{s:o}", "steps", arr));
}

/* Steps with their status and kind, and edges from each step to its successors, as the graph
 * the run stored says (a run without a stored graph: the steps that ran, no edges). */
static void api_graph(mf_client *c, mf_client_run *r, struct ui_reply *out)
{
    mf_client_steps *l;
    int rc = mf_client_list_steps(r, &l);
    if (rc) {
        client_error(out, c, rc);
        return;
    }
    char *text = NULL;
    json_t *g = mf_client_run_graph(r, &text, NULL) == 0 ? json_loads(text, 0, NULL) : NULL;
    free(text);
    json_t *gsteps = json_object_get(g, "steps");
    json_t *steps = json_array(), *edges = json_array();
    for (size_t i = 0; i < mf_client_steps_count(l); i++) {
        const mf_client_step *s = mf_client_steps_at(l, i);
        json_t *o = step_json(s);
        size_t k;
        json_t *gs;
        json_array_foreach(gsteps, k, gs) {
            const char *name = json_string_value(json_object_get(gs, "name"));
            if (!name || strcmp(name, mf_client_step_name(s)))
                continue;
            json_t *ty = json_object_get(gs, "type"), *fe = json_object_get(gs, "foreach");
            json_object_set(o, "type", ty ? ty : json_null());
            json_object_set(o, "foreach", fe ? fe : json_null());
            json_object_set(o, "join", json_is_true(json_object_get(gs, "join")) ? json_true()
                                                                                 : json_false());
            size_t j;
            json_t *nx;
            json_array_foreach(json_object_get(gs, "next"), j, nx)
                if (json_is_string(nx))
                    json_array_append_new(edges, json_pack("{s:O,s:O}", "from",
                                                           json_object_get(gs, "name"), "to", nx));
        }
        json_array_append_new(steps, o);
    }
    mf_client_steps_free(l);
    json_decref(g);
    reply_json(out, 200, json_pack("{s:o,s:o,s:b}", "steps", steps, "edges", edges, "stored",
                                   gsteps != NULL));
}

static void api_tasks(mf_client *c, mf_client_run *r, const struct ui_query *q,
                      struct ui_reply *out)
{
    const char *step = ui_query_get(q, "step");
    if (step && *step && bad_name(out, "step", step))
        return;
    mf_client_tasks *l;
    int rc = mf_client_list_tasks(r, step && *step ? step : NULL, &l);
    if (rc) {
        client_error(out, c, rc);
        return;
    }
    int dead = mf_client_run_dead(r);
    json_t *arr = json_array();
    for (size_t i = 0; i < mf_client_tasks_count(l); i++)
        json_array_append_new(arr, task_json(mf_client_tasks_at(l, i), 1, dead));
    mf_client_tasks_free(l);
    reply_json(out, 200, json_pack("{s:o}", "tasks", arr));
}

/* ---- one task --------------------------------------------------------------------------- */

static json_t *attempt_json(mf_client_task *t)
{
    json_t *o = json_object();
    json_object_set_new(o, "attempt", json_integer(mf_client_task_attempt(t)));
    json_object_set_new(o, "status", json_string(mf_client_status_name(mf_client_task_status(t))));
    json_object_set_new(o, "start_time", json_real(mf_client_task_start_time(t)));
    json_object_set_new(o, "end_time", json_real(mf_client_task_end_time(t)));
    json_object_set_new(o, "exit_code", json_integer(mf_client_task_exit_code(t)));
    json_object_set_new(o, "signal", json_integer(mf_client_task_signal(t)));
    json_object_set_new(o, "host", cli_json_text(mf_client_task_host(t)));
    json_object_set_new(o, "message", cli_json_text(mf_client_task_message(t)));
    return o;
}

static void api_task(mf_client *c, mf_client_task *t, struct ui_reply *out)
{
    mf_client_run *r = NULL;
    int dead = mf_client_run_get(c, mf_client_task_flow(t), mf_client_task_run_id(t), &r) == 0 &&
               mf_client_run_dead(r);
    mf_client_run_free(r);
    json_t *o = task_json(t, 0, dead);
    json_object_set_new(o, "message", cli_json_text(mf_client_task_message(t)));
    json_t *inputs = json_array();
    for (size_t i = 0; i < mf_client_task_input_count(t); i++)
        json_array_append_new(inputs, cli_json_text(mf_client_task_input(t, i)));
    json_object_set_new(o, "inputs", inputs);
    json_t *attempts = json_array();
    for (uint32_t a = 0; a < mf_client_task_attempt(t); a++) {
        mf_client_task *at;
        if (mf_client_task_get_attempt(t, a, &at) == 0) {
            json_array_append_new(attempts, attempt_json(at));
            mf_client_task_free(at);
        }
    }
    json_array_append_new(attempts, attempt_json(t));
    json_object_set_new(o, "attempts", attempts);
    /* no record yet: the task runs (or waits for its retry), and has no artifacts so far */
    json_object_set_new(o, "ended", json_boolean(mf_client_task_loaded(t)));
    json_t *arts = json_array();
    for (size_t i = 0; i < mf_client_task_artifact_count(t); i++)
        json_array_append_new(arts, artifact_json(mf_client_task_artifact_at(t, i)));
    json_object_set_new(o, "artifacts", arts);
    reply_json(out, 200, o);
}

void ui_stream_free(struct ui_reply *r)
{
    mf_client_artifact_reader_close(r->reader);
    mf_client_task_free(r->task);
    r->reader = NULL;
    r->task = NULL;
}

/* The value's payload: sent piece by piece from the datastore when it can be (a raw blob in
 * a store that reads ranges; the reply then owns t: *keep cleared), else read whole. */
static void api_artifact(mf_client *c, mf_client_task *t, const char *name, struct ui_reply *out,
                         int *keep)
{
    const mf_client_artifact *a = mf_client_task_artifact_find(t, name);
    if (!a) {
        ui_error(out, 404, "task %s has no artifact '%s'", mf_client_task_pathspec(t), name);
        return;
    }
    mf_client_reader *rd;
    uint64_t n;
    int rc = mf_client_artifact_reader_open(a, &rd, &n);
    if (rc == 0) {
        out->reader = rd;
        out->task = t;
        out->stream_len = n;
        *keep = 0;
    } else if (rc != MF_ENOTSUP) {
        client_error(out, c, rc);
        return;
    } else {
        mf_type ty;
        void *data;
        size_t len;
        rc = mf_client_artifact_value(a, &ty, &data, &len);
        if (rc) {
            client_error(out, c, rc);
            return;
        }
        out->body = data;
        out->len = len;
    }
    out->status = 200;
    out->type = "application/octet-stream";
    /* names are identifiers (checked), so the file name needs no quoting */
    out->disposition = mf_strf("attachment; filename=\"%s-%lld-%s-%lld-%s.bin\"",
                               mf_client_task_flow(t), (long long)mf_client_task_run_id(t),
                               mf_client_task_step(t), (long long)mf_client_task_id(t), name);
}

static void api_logs(mf_client *c, mf_client_task *t, const struct ui_query *q,
                     struct ui_reply *out)
{
    const char *sname = ui_query_get(q, "stream");
    int stream = !sname || !strcmp(sname, "stdout") ? MF_CLIENT_STDOUT
               : !strcmp(sname, "stderr")          ? MF_CLIENT_STDERR
                                                   : 0;
    if (!stream) {
        ui_error(out, 400, "stream=%s: give stdout or stderr", sname);
        return;
    }
    long long attempt, offset, limit;
    if (query_num(out, q, "attempt", mf_client_task_attempt(t), UINT32_MAX, &attempt) ||
        query_num(out, q, "offset", 0, INT64_MAX / 2, &offset) ||
        query_num(out, q, "limit", LOG_LIMIT_DEFAULT, LOG_LIMIT_MAX, &limit))
        return;
    /* only the page is read (and 3 bytes more, to see whether the limit cut a character) */
    char *data;
    size_t got;
    uint64_t total;
    int rc = mf_client_task_log_page(t, (uint32_t)attempt, stream, (uint64_t)offset,
                                     (size_t)limit + 3, &data, &got, &total);
    if (rc) {
        client_error(out, c, rc);
        return;
    }
    uint64_t off = (uint64_t)offset < total ? (uint64_t)offset : total;
    size_t end = got > (size_t)limit ? (size_t)limit : got;   /* within data */
    /* a page ends on a character's boundary, so that each page is text on its own: back up
     * over a sequence the limit cut (the next page starts there) */
    if (end < got && end > 0) {
        size_t b = end;
        while (b > 0 && end - b < 4 && ((unsigned char)data[b] & 0xC0) == 0x80)
            b--;
        if (b > 0 && b < end && mf_utf8_seq((unsigned char *)data + b, got - b) > end - b)
            end = b;
    }
    json_t *o = json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:o}", "stream",
                          stream == MF_CLIENT_STDOUT ? "stdout" : "stderr", "attempt",
                          (json_int_t)attempt, "total", (json_int_t)total, "offset",
                          (json_int_t)off, "length", (json_int_t)end, "next_offset",
                          (json_int_t)(off + end), "data", cli_json_textn(data, end));
    free(data);
    reply_json(out, 200, o);
}

/* ---- routing ---------------------------------------------------------------------------- */

void ui_api(mf_client *c, const char *url, const struct ui_query *q, struct ui_reply *out)
{
    memset(out, 0, sizeof *out);
    /* split the path into its segments; an empty one (//, a trailing /) is refused below */
    char *copy = strdup(url);
    if (!copy) {
        ui_error(out, 500, "out of memory");
        return;
    }
    char *seg[MAX_SEGS];
    size_t n = 0;
    char *p = copy + 1;
    int too_many = 0;
    for (;;) {
        char *slash = strchr(p, '/');
        if (slash)
            *slash = '\0';
        if (n == MAX_SEGS) {
            too_many = 1;
            break;
        }
        seg[n++] = p;
        if (!slash)
            break;
        p = slash + 1;
    }
    int empty = 0;
    for (size_t i = 0; i < n; i++)
        empty |= !*seg[i];
    if (too_many || empty) {
        ui_error(out, too_many ? 404 : 400, "no such API path: %s", url);
        free(copy);
        return;
    }
    /* seg[0] is "api" */
    const char *what = n > 1 ? seg[1] : "";
    if (!strcmp(what, "flows") && n == 2) {
        api_flows(c, out);
    } else if (!strcmp(what, "runs") && n == 2) {
        api_runs(c, q, out);
    } else if (!strcmp(what, "runs") && (n == 4 || n == 5)) {
        long long id;
        if (bad_name(out, "flow", seg[2]) || bad_id(out, "run", seg[3], &id))
            goto done;
        const char *sub = n == 5 ? seg[4] : "";
        if (n == 5 && strcmp(sub, "graph") && strcmp(sub, "steps") && strcmp(sub, "tasks")) {
            ui_error(out, 404, "no such API path: %s (a run has graph, steps and tasks)", url);
            goto done;
        }
        mf_client_run *r;
        int rc = mf_client_run_get(c, seg[2], id, &r);
        if (rc) {
            client_error(out, c, rc);
            goto done;
        }
        if (n == 4)
            api_run(r, out);
        else if (!strcmp(sub, "graph"))
            api_graph(c, r, out);
        else if (!strcmp(sub, "steps"))
            api_steps(c, r, out);
        else
            api_tasks(c, r, q, out);
        mf_client_run_free(r);
    } else if (!strcmp(what, "tasks") && n >= 6 && n <= 8) {
        long long run, task;
        if (bad_name(out, "flow", seg[2]) || bad_id(out, "run", seg[3], &run) ||
            bad_name(out, "step", seg[4]) || bad_id(out, "task", seg[5], &task))
            goto done;
        int art = n == 8 && !strcmp(seg[6], "artifacts");
        int logs = n == 7 && !strcmp(seg[6], "logs");
        if (n > 6 && !art && !logs) {
            ui_error(out, 404, "no such API path: %s (a task has logs and artifacts/NAME)", url);
            goto done;
        }
        if (art && bad_name(out, "artifact", seg[7]))
            goto done;
        mf_client_task *t;
        int rc = mf_client_task_get(c, seg[2], run, seg[4], task, &t);
        if (rc) {
            client_error(out, c, rc);
            goto done;
        }
        int keep = 1;
        if (art)
            api_artifact(c, t, seg[7], out, &keep);
        else if (logs)
            api_logs(c, t, q, out);
        else
            api_task(c, t, out);
        if (keep)
            mf_client_task_free(t);
    } else {
        ui_error(out, 404, "no such API path: %s", url);
    }
done:
    free(copy);
}
