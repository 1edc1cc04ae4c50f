/* The Kubernetes REST client of the k8s plugin: libcurl's multi interface over one connection
 * pool (connections are reused; HTTP/2 is used when the server offers it), TLS and
 * credentials from a k8s_conn (kubeconfig.h).
 *
 * Requests are queued and driven by k8s_api_run from the caller's thread; a request's
 * callback runs once, when it is done for good. Retried inside, before the callback:
 *   - a transport failure (refused or dropped connection, a reset, an empty answer): up to
 *     `tries` times with a growing pause; a streamed GET resumes where it was (the bytes the
 *     caller already has are skipped in the new answer);
 *   - 401: once, after k8s_conn_invalidate (a fresh exec credential);
 *   - 429 and 5xx: up to `tries` times, after Retry-After when the server sends one.
 * Not thread-safe: one instance belongs to one thread. */
#ifndef MFLOW_K8S_API_H
#define MFLOW_K8S_API_H

#include "kubeconfig.h"

#include <stddef.h>

struct k8s_api;
struct k8s_req;

/* Called once per request when it is done (r is freed after it returns). */
typedef void (*k8s_req_done_fn)(struct k8s_req *r, void *ud);
/* A streamed request's bytes as they come (never a byte twice across a resume). */
typedef void (*k8s_req_data_fn)(struct k8s_req *r, const char *data, size_t len, void *ud);

struct k8s_req {
    /* the outcome, valid in the done callback */
    long status;                 /* HTTP status of the last answer; 0 when none came */
    int rc;                      /* 0 when status is 2xx, else an MF_E* code */
    char *body;                  /* the answer (NUL-terminated; NULL when streamed/empty) */
    size_t len;
    char msg[768];               /* on failure: the operation, the object, the server's words */
    unsigned tries_used;
    /* private */
    struct k8s_api *api;
    struct k8s_req *prev, *next;
    void *easy;
    void *hdrs;                  /* curl_slist of the running transfer */
    char *method, *url_path, *what, *payload;
    k8s_req_done_fn done;
    k8s_req_data_fn data;
    void *ud;
    size_t cap;
    unsigned long long delivered, seen;  /* streamed bytes handed over / seen in this answer */
    double not_before;           /* monotonic time before which a retry does not start */
    double retry_after;          /* from the last answer's Retry-After, seconds; <0 none */
    int reauthed, stream, active, cancelled;
};

struct k8s_api_opts {
    unsigned tries;              /* attempts for a retried failure (default 6) */
    unsigned max_active;         /* requests in flight, streams not counted (default 32) */
    double backoff_s;            /* first pause (default 0.2 s, doubled each try, at most 10 s) */
    long timeout_s;              /* one non-streamed request (default 60) */
    const char *user_agent;      /* e.g. "mflow/0.3.0" */
};

/* A client for conn (borrowed; it must outlive the client). */
int k8s_api_create(struct k8s_conn *conn, const struct k8s_api_opts *o, struct k8s_api **out,
                   char *msg, size_t msglen);
void k8s_api_destroy(struct k8s_api *a);

/* Queue a request. path_query starts with '/' ("/api/v1/namespaces/ns/pods?labelSelector=...");
 * body is JSON or NULL; what names the operation and the object for messages ("create Job X
 * in namespace Y"). data != NULL makes it a streamed GET (no timeout; body stays NULL).
 * NULL when out of memory. */
struct k8s_req *k8s_api_start(struct k8s_api *a, const char *method, const char *path_query,
                              const char *body, const char *what, k8s_req_done_fn done,
                              k8s_req_data_fn data, void *ud);

/* Drop a queued or running request without calling its callback. */
void k8s_api_drop(struct k8s_req *r);

/* Drive transfers for up to timeout_ms (0: only what is ready now) and run the callbacks of
 * requests that finished. Returns how many finished (>= 0) or <0 on a multi failure. */
int k8s_api_run(struct k8s_api *a, int timeout_ms);

/* Requests queued or running (streams included). */
size_t k8s_api_pending(const struct k8s_api *a);
/* Non-streamed requests queued or running. */
size_t k8s_api_pending_calls(const struct k8s_api *a);

/* One request, waited for (driving every other request meanwhile). The answer's body is
 * handed over in *body (free it; may be NULL); msg gets the failure. Returns r->rc. */
int k8s_api_call(struct k8s_api *a, const char *method, const char *path_query,
                 const char *payload, const char *what, long *status, char **body, char *msg,
                 size_t msglen);

/* Counters (tests, the benchmark): HTTP requests sent, retried. */
unsigned long long k8s_api_sent(const struct k8s_api *a);
unsigned long long k8s_api_retried(const struct k8s_api *a);

/* Percent-encode s for a query value (malloc'd; NULL when out of memory). */
char *k8s_url_escape(const char *s);

/* The message of a failed answer: "<what>: <status> <reason>: <Status.message>" from a v1
 * Status body (or the body's first line when it is no Status). Exposed for tests. */
void k8s_status_message(const char *what, long status, const char *body, size_t len, char *msg,
                        size_t msglen);

#endif
