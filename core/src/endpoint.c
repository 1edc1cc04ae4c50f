/* Endpoints: checking a flow's table, one request's life, and the flow API's mf_req_* and
 * mf_reply_* (endpoint.h). */
#include "endpoint.h"

#include "task.h"
#include "util.h"

#include <mflow/plugin.h>

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

const mf_endpoint_def *mf_endpoint_find(const mf_flow_def *def, const char *name, size_t n)
{
    for (size_t i = 0; i < def->n_endpoints; i++)
        if (!strncmp(def->endpoints[i].name, name, n) && def->endpoints[i].name[n] == '\0')
            return &def->endpoints[i];
    return NULL;
}

int mf_endpoint_start(struct mf_endpoint *e, const mf_endpoint_def *def, mf_task *task,
                      const char *method, const char *body, size_t body_len, json_t *query,
                      char **err)
{
    memset(e, 0, sizeof *e);
    e->def = def;
    e->task = task;
    e->method = method;
    *err = NULL;
    if (body_len) {
        json_decref(query);
        json_error_t je;
        e->req = json_loadb(body, body_len, JSON_DECODE_ANY, &je);
        if (!e->req) {
            *err = mf_strf("the request body is not JSON (line %d, column %d: %s): send a JSON "
                           "value, e.g. {\"x\": 1}",
                           je.line, je.column, je.text);
            return *err ? MF_EINVAL : MF_ENOMEM;
        }
        return 0;
    }
    e->req = query ? query : json_object();
    return e->req ? 0 : MF_ENOMEM;
}

void mf_endpoint_fini(struct mf_endpoint *e)
{
    json_decref(e->req);
    free(e->req_text);
    free(e->reply);
    free(e->error);
    memset(e, 0, sizeof *e);
}

static void set_error(struct mf_endpoint *e, int status, char *msg)
{
    free(e->reply);
    e->reply = NULL;
    free(e->error);
    e->error = msg;
    e->status = status;
}

void mf_endpoint_run(struct mf_endpoint *e)
{
    int ret = 0;
    char *msg = NULL;
    const char *name = e->def->name;
    if (mf_task_view_call(e->task, e->def->fn, e, &ret, &msg)) {
        set_error(e, 500, mf_strf("endpoint %s failed: %s", name, msg ? msg : "out of memory"));
        free(msg);
        return;
    }
    if (e->status >= 400)
        return;   /* mf_reply_error's answer, whatever the endpoint returned */
    if (ret) {
        set_error(e, 500, mf_strf("endpoint %s failed (it returned %d without an error answer)",
                                  name, ret));
        return;
    }
    if (!e->reply) {
        set_error(e, 500, mf_strf("endpoint %s returned without an answer: it must call "
                                  "mf_reply_json or mf_reply_error",
                                  name));
        return;
    }
    json_error_t je;
    json_t *v = json_loads(e->reply, JSON_DECODE_ANY, &je);
    if (!v) {
        set_error(e, 500, mf_strf("endpoint %s answered text that is not JSON (column %d: %s)",
                                  name, je.column, je.text));
        return;
    }
    json_decref(v);
    e->status = 200;
}

char *mf_endpoint_error_json(const char *message, size_t *len)
{
    const char *m = message ? message : "out of memory";
    char *esc = NULL;
    if (!mf_utf8_valid(m, strlen(m)))
        m = esc = mf_escape(m, strlen(m), 0);
    json_t *o = m ? json_pack("{s:s}", "error", m) : NULL;
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    free(esc);
    if (text && len)
        *len = strlen(text);
    return text;
}

char *mf_endpoint_answer(const struct mf_endpoint *e, size_t *len)
{
    if (e->status == 200 && e->reply) {
        char *text = strdup(e->reply);
        if (text && len)
            *len = strlen(text);
        return text;
    }
    return mf_endpoint_error_json(e->error, len);
}

/* ---- the flow API ------------------------------------------------------------------------- */

mf_task *mf_endpoint_task(mf_endpoint *e) { return e->task; }
const char *mf_endpoint_name(mf_endpoint *e) { return e->def->name; }
const char *mf_req_method(mf_endpoint *e) { return e->method; }

const char *mf_req_json(mf_endpoint *e)
{
    if (!e->req_text)
        e->req_text = json_dumps(e->req, JSON_COMPACT | JSON_ENCODE_ANY);
    return e->req_text ? e->req_text : "{}";
}

static json_t *member(mf_endpoint *e, const char *name)
{
    return name && json_is_object(e->req) ? json_object_get(e->req, name) : NULL;
}

int mf_req_i64(mf_endpoint *e, const char *name, int64_t *v)
{
    json_t *m = member(e, name);
    if (!m)
        return MF_ENOTFOUND;
    if (json_is_integer(m)) {
        *v = (int64_t)json_integer_value(m);
        return 0;
    }
    if (json_is_string(m)) {
        const char *s = json_string_value(m);
        char *end;
        errno = 0;
        long long x = strtoll(s, &end, 10);
        if (*s && !*end && !errno) {
            *v = x;
            return 0;
        }
    }
    return MF_EINVAL;
}

int mf_req_f64(mf_endpoint *e, const char *name, double *v)
{
    json_t *m = member(e, name);
    if (!m)
        return MF_ENOTFOUND;
    if (json_is_number(m)) {
        *v = json_number_value(m);
        return 0;
    }
    if (json_is_string(m)) {
        const char *s = json_string_value(m);
        char *end;
        errno = 0;
        double x = strtod(s, &end);
        if (*s && !*end && !errno) {
            *v = x;
            return 0;
        }
    }
    return MF_EINVAL;
}

int mf_req_str(mf_endpoint *e, const char *name, const char **v)
{
    json_t *m = member(e, name);
    if (!m)
        return MF_ENOTFOUND;
    if (!json_is_string(m))
        return MF_EINVAL;
    *v = json_string_value(m);
    return 0;
}

int mf_reply_json(mf_endpoint *e, const char *json)
{
    char *copy = strdup(json ? json : "null");
    if (!copy)
        return MF_ENOMEM;
    free(e->reply);
    e->reply = copy;
    return 0;
}

int mf_reply_jsonf(mf_endpoint *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *text = mf_vstrf(fmt, ap);
    va_end(ap);
    if (!text)
        return MF_ENOMEM;
    free(e->reply);
    e->reply = text;
    return 0;
}

int mf_reply_error(mf_endpoint *e, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = mf_vstrf(fmt, ap);
    va_end(ap);
    if (status < 400 || status > 599)
        status = 500;
    set_error(e, status, msg ? msg : strdup("out of memory"));
    return status;
}
