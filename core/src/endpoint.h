/* Endpoints (flow ABI 1.3): one request to a flow's endpoint, as `mflow serve` hands it over,
 * and the flow API side of it (mf_req_*, mf_reply_* in <mflow/flow.h>). The HTTP server lives
 * in its own module (serve.c); this part is in libmflow because flows call it. */
#ifndef MF_ENDPOINT_H
#define MF_ENDPOINT_H

#include <mflow/flow.h>

#include <stddef.h>

struct json_t;

struct mf_endpoint {
    const mf_endpoint_def *def;
    mf_task *task;               /* the served run's end task (a read-only view), borrowed */
    const char *method;
    struct json_t *req;          /* the request (an object for GET), owned */
    char *req_text;              /* mf_req_json's text, made on first use */
    int status;                  /* 0 until an answer or an error is set */
    char *reply;                 /* the endpoint's JSON text */
    char *error;                 /* the error message when status >= 400 */
};

/* The longest name an endpoint may have. */
#define MF_ENDPOINT_NAME_MAX 100

/* mf_endpoints_check, which checks a flow's endpoint table, is graph.c's (graph.h). */
/* The endpoint named name (a name of n bytes), or NULL. */
const mf_endpoint_def *mf_endpoint_find(const mf_flow_def *def, const char *name, size_t n);

/* Start a request: a POST's body (body_len bytes, not NUL-terminated) must be JSON; a GET's
 * query is `query` (an object; taken, may be NULL). 0, MF_EINVAL with *err (malloc'd) saying
 * why the body is not JSON, or MF_ENOMEM. Finish with mf_endpoint_fini in every case. */
int mf_endpoint_start(struct mf_endpoint *e, const mf_endpoint_def *def, mf_task *task,
                      const char *method, const char *body, size_t body_len,
                      struct json_t *query, char **err);
/* Run the endpoint and settle its answer: afterwards status is 200 with reply set, or an
 * error status with error set (a failing getter or mf_fail: 500 naming the endpoint; an
 * answer that is not JSON or no answer: 500). */
void mf_endpoint_run(struct mf_endpoint *e);
/* The answer's body: the reply, or {"error": message}. Malloc'd; NULL when out of memory. */
char *mf_endpoint_answer(const struct mf_endpoint *e, size_t *len);
/* {"error": message} as JSON text (malloc'd), for errors found before an endpoint runs. */
char *mf_endpoint_error_json(const char *message, size_t *len);
void mf_endpoint_fini(struct mf_endpoint *e);

#endif
