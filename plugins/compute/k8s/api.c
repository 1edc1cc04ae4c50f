/* The Kubernetes REST client: libcurl multi, one connection pool, retries (api.h). */
#include "api.h"

#include "k8s_msg.h"

#include <mflow/plugin.h>

#include <curl/curl.h>
#include <jansson.h>

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct k8s_api {
    struct k8s_conn *conn;
    CURLM *multi;
    char *base;                  /* scheme://host[:port][/prefix] used in URLs */
    char *connect_to;            /* tls-server-name: "NAME:PORT:HOST:PORT", or NULL */
    struct curl_slist *connect_list;
    char *user_agent;
    unsigned tries, max_active;
    double backoff_s;
    long timeout_s;
    struct k8s_req *head, *tail; /* every request, queued or running */
    size_t n_active_calls, n_reqs, n_calls;
    /* credentials as last read (a copy: the conn's change on each read) */
    char *auth_header;           /* "Authorization: Bearer ..." or NULL */
    char *cert, *key;
    size_t cert_len, key_len;
    double cred_at;
    int cred_stale;
    char cred_err[512];
    unsigned long long sent, retried;
};

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void wipe_free(char *p, size_t n)
{
    if (!p)
        return;
    explicit_bzero(p, n);
    free(p);
}

static void cred_drop(struct k8s_api *a)
{
    if (a->auth_header)
        wipe_free(a->auth_header, strlen(a->auth_header));
    wipe_free(a->cert, a->cert_len);
    wipe_free(a->key, a->key_len);
    a->auth_header = a->cert = a->key = NULL;
    a->cert_len = a->key_len = 0;
}

/* The credentials, re-read at most once a second (a token file can change; an exec
 * credential is cached by the conn until it expires). */
static int cred_refresh(struct k8s_api *a)
{
    double now = mono();
    if (!a->cred_stale && a->cred_at && now - a->cred_at < 1.0)
        return 0;
    const struct k8s_cred *c = NULL;
    char msg[512] = "";
    int rc = k8s_conn_credentials(a->conn, 0, &c, msg, sizeof msg);
    if (rc) {
        snprintf(a->cred_err, sizeof a->cred_err, "%s", msg[0] ? msg : mf_strerror(rc));
        return rc;
    }
    cred_drop(a);
    if (c->token && *c->token) {
        size_t n = strlen(c->token) + 32;
        a->auth_header = malloc(n);
        if (!a->auth_header)
            return MF_ENOMEM;
        snprintf(a->auth_header, n, "Authorization: Bearer %s", c->token);
    }
    if (c->cert_pem && c->key_pem) {
        a->cert = malloc(c->cert_len + 1);
        a->key = malloc(c->key_len + 1);
        if (!a->cert || !a->key)
            return MF_ENOMEM;
        memcpy(a->cert, c->cert_pem, c->cert_len);
        memcpy(a->key, c->key_pem, c->key_len);
        a->cert_len = c->cert_len;
        a->key_len = c->key_len;
    }
    a->cred_at = now;
    a->cred_stale = 0;
    return 0;
}

/* Split "https://host:port/prefix" into the pieces a tls-server-name needs. */
static int server_parts(const char *server, char **scheme_end, char *host, size_t hostsz,
                        char *port, size_t portsz, const char **rest)
{
    const char *p = strstr(server, "://");
    if (!p)
        return MF_EINVAL;
    *scheme_end = (char *)p + 3;
    const char *h = p + 3;
    const char *end = h + strcspn(h, "/");
    const char *colon = NULL;
    if (*h == '[') {
        const char *rb = memchr(h, ']', (size_t)(end - h));
        if (!rb)
            return MF_EINVAL;
        colon = rb + 1 < end && rb[1] == ':' ? rb + 1 : NULL;
    } else {
        colon = memchr(h, ':', (size_t)(end - h));
    }
    const char *hend = colon ? colon : end;
    if ((size_t)(hend - h) >= hostsz)
        return MF_EINVAL;
    memcpy(host, h, (size_t)(hend - h));
    host[hend - h] = 0;
    if (colon)
        snprintf(port, portsz, "%.*s", (int)(end - colon - 1), colon + 1);
    else
        snprintf(port, portsz, "%s", strncmp(server, "http://", 7) ? "443" : "80");
    *rest = end;
    return 0;
}

int k8s_api_create(struct k8s_conn *conn, const struct k8s_api_opts *o, struct k8s_api **out,
                   char *msg, size_t msglen)
{
    *out = NULL;
    if (!conn || !conn->server)
        return k8s_fail(msg, msglen, MF_EINVAL, "k8s: no API server in the connection");
    static int global_done;
    if (!global_done) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            return k8s_fail(msg, msglen, MF_EUNAVAIL, "k8s: libcurl could not start");
        global_done = 1;
    }
    struct k8s_api *a = calloc(1, sizeof *a);
    if (!a)
        return k8s_fail(msg, msglen, MF_ENOMEM, "k8s: out of memory");
    a->conn = conn;
    a->tries = o && o->tries ? o->tries : 6;
    a->max_active = o && o->max_active ? o->max_active : 32;
    a->backoff_s = o && o->backoff_s > 0 ? o->backoff_s : 0.2;
    a->timeout_s = o && o->timeout_s > 0 ? o->timeout_s : 60;
    a->user_agent = strdup(o && o->user_agent ? o->user_agent : "mflow");
    a->cred_stale = 1;
    size_t sl = strlen(conn->server);
    while (sl && conn->server[sl - 1] == '/')
        sl--;
    if (conn->tls_server_name && *conn->tls_server_name) {
        /* curl checks the certificate against the URL's host: put the TLS name there and
         * connect to the real address (the Host header then names it too, which the API
         * server does not look at). */
        char *se, host[256], port[16];
        const char *rest;
        char *srv = strndup(conn->server, sl);
        if (!srv || server_parts(srv, &se, host, sizeof host, port, sizeof port, &rest)) {
            free(srv);
            k8s_api_destroy(a);
            return k8s_fail(msg, msglen, MF_EINVAL, "k8s: %s: cannot read server '%s' of cluster '%s'",
                            conn->source, conn->server, conn->cluster);
        }
        size_t n = strlen(srv) + strlen(conn->tls_server_name) + 32;
        a->base = malloc(n);
        a->connect_to = malloc(strlen(host) + strlen(conn->tls_server_name) + 48);
        if (a->base && a->connect_to) {
            snprintf(a->base, n, "%.*s%s:%s%s", (int)(se - srv), srv, conn->tls_server_name,
                     port, rest);
            snprintf(a->connect_to, strlen(host) + strlen(conn->tls_server_name) + 48,
                     "%s:%s:%s:%s", conn->tls_server_name, port, host, port);
            a->connect_list = curl_slist_append(NULL, a->connect_to);
        }
        free(srv);
    } else {
        a->base = strndup(conn->server, sl);
    }
    a->multi = curl_multi_init();
    if (!a->base || !a->multi || !a->user_agent || (a->connect_to && !a->connect_list)) {
        k8s_api_destroy(a);
        return k8s_fail(msg, msglen, MF_ENOMEM, "k8s: out of memory");
    }
    curl_multi_setopt(a->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    curl_multi_setopt(a->multi, CURLMOPT_MAXCONNECTS, 256L);
    *out = a;
    return 0;
}

/* The header list holds the token: wiped before it is freed. */
static void free_hdrs(struct k8s_req *r)
{
    for (struct curl_slist *h = r->hdrs; h; h = h->next)
        if (h->data)
            explicit_bzero(h->data, strlen(h->data));
    curl_slist_free_all(r->hdrs);
    r->hdrs = NULL;
}

static void req_free(struct k8s_req *r)
{
    struct k8s_api *a = r->api;
    if (r->easy) {
        if (r->active)
            curl_multi_remove_handle(a->multi, r->easy);
        curl_easy_cleanup(r->easy);
    }
    free_hdrs(r);
    if (r->active && !r->stream && a->n_active_calls)
        a->n_active_calls--;
    if (r->prev)
        r->prev->next = r->next;
    else if (a->head == r)
        a->head = r->next;
    if (r->next)
        r->next->prev = r->prev;
    else if (a->tail == r)
        a->tail = r->prev;
    a->n_reqs--;
    if (!r->stream)
        a->n_calls--;
    free(r->method);
    free(r->url_path);
    free(r->what);
    free(r->payload);
    free(r->body);
    free(r);
}

void k8s_api_destroy(struct k8s_api *a)
{
    if (!a)
        return;
    while (a->head)
        req_free(a->head);
    if (a->multi)
        curl_multi_cleanup(a->multi);
    curl_slist_free_all(a->connect_list);
    cred_drop(a);
    free(a->connect_to);
    free(a->base);
    free(a->user_agent);
    free(a);
}

struct k8s_req *k8s_api_start(struct k8s_api *a, const char *method, const char *path_query,
                              const char *body, const char *what, k8s_req_done_fn done,
                              k8s_req_data_fn data, void *ud)
{
    struct k8s_req *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->api = a;
    r->method = strdup(method);
    r->url_path = strdup(path_query);
    r->what = strdup(what ? what : path_query);
    r->payload = body ? strdup(body) : NULL;
    r->done = done;
    r->data = data;
    r->ud = ud;
    r->stream = data != NULL;
    r->retry_after = -1;
    if (!r->method || !r->url_path || !r->what || (body && !r->payload)) {
        free(r->method);
        free(r->url_path);
        free(r->what);
        free(r->payload);
        free(r);
        return NULL;
    }
    r->prev = a->tail;
    if (a->tail)
        a->tail->next = r;
    else
        a->head = r;
    a->tail = r;
    a->n_reqs++;
    if (!r->stream)
        a->n_calls++;
    return r;
}

void k8s_api_drop(struct k8s_req *r)
{
    if (r)
        req_free(r);
}

size_t k8s_api_pending(const struct k8s_api *a)
{
    return a->n_reqs;
}

size_t k8s_api_pending_calls(const struct k8s_api *a)
{
    return a->n_calls;
}

unsigned long long k8s_api_sent(const struct k8s_api *a)
{
    return a->sent;
}

unsigned long long k8s_api_retried(const struct k8s_api *a)
{
    return a->retried;
}

char *k8s_url_escape(const char *s)
{
    size_t n = strlen(s);
    char *o = malloc(n * 3 + 1), *p = o;
    if (!o)
        return NULL;
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (isalnum(*c) || *c == '-' || *c == '.' || *c == '_' || *c == '~') {
            *p++ = (char)*c;
        } else {
            snprintf(p, 4, "%%%02X", *c);
            p += 3;
        }
    }
    *p = 0;
    return o;
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct k8s_req *r = ud;
    size_t n = size * nmemb;
    long code = 0;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
    if (r->stream && code >= 200 && code < 300) {
        /* Skip what an earlier answer already handed over (a resumed stream starts over). */
        const char *d = ptr;
        size_t len = n;
        if (r->seen < r->delivered) {
            unsigned long long skip = r->delivered - r->seen;
            if (skip > len)
                skip = len;
            d += skip;
            len -= (size_t)skip;
            r->seen += skip;
        }
        if (len) {
            r->seen += len;
            r->delivered += len;
            if (r->data)
                r->data(r, d, len, r->ud);
        }
        return n;
    }
    if (r->len + n + 1 > r->cap) {
        size_t cap = r->cap ? r->cap : 4096;
        while (cap < r->len + n + 1)
            cap *= 2;
        char *b = realloc(r->body, cap);
        if (!b)
            return 0;
        r->body = b;
        r->cap = cap;
    }
    memcpy(r->body + r->len, ptr, n);
    r->len += n;
    r->body[r->len] = 0;
    return n;
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *ud)
{
    struct k8s_req *r = ud;
    size_t n = size * nitems;
    if (n > 12 && !strncasecmp(buf, "Retry-After:", 12)) {
        char tmp[64];
        size_t l = n - 12 < sizeof tmp - 1 ? n - 12 : sizeof tmp - 1;
        memcpy(tmp, buf + 12, l);
        tmp[l] = 0;
        char *end;
        double s = strtod(tmp, &end);
        /* Only delta-seconds: the API server sends those (an HTTP date is ignored). */
        if (end != tmp && s >= 0)
            r->retry_after = s > 60 ? 60 : s;
    }
    return n;
}

static int req_launch(struct k8s_req *r)
{
    struct k8s_api *a = r->api;
    int rc = cred_refresh(a);
    if (rc) {
        snprintf(r->msg, sizeof r->msg, "k8s: %s: no credentials: %s", r->what, a->cred_err);
        return rc;
    }
    CURL *e = curl_easy_init();
    if (!e)
        return MF_ENOMEM;
    r->easy = e;
    size_t ul = strlen(a->base) + strlen(r->url_path) + 1;
    char *url = malloc(ul);
    if (!url)
        return MF_ENOMEM;
    snprintf(url, ul, "%s%s", a->base, r->url_path);
    curl_easy_setopt(e, CURLOPT_URL, url);
    free(url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)r);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r->method);
    curl_easy_setopt(e, CURLOPT_USERAGENT, a->user_agent);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, 15L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
    if (!r->stream)
        curl_easy_setopt(e, CURLOPT_TIMEOUT, a->timeout_s);
    if (a->connect_list)
        curl_easy_setopt(e, CURLOPT_CONNECT_TO, a->connect_list);
    struct k8s_conn *c = a->conn;
    if (c->insecure_skip_tls_verify) {
        /* Only when the kubeconfig says so (the loader refuses it beside a CA). */
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    } else if (c->ca_pem) {
        struct curl_blob b = {c->ca_pem, c->ca_len, CURL_BLOB_COPY};
        curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &b);
    } else if (c->ca_file) {
        curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file);
    }
    if (a->cert && a->key) {
        struct curl_blob cb = {a->cert, a->cert_len, CURL_BLOB_COPY};
        struct curl_blob kb = {a->key, a->key_len, CURL_BLOB_COPY};
        curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
        curl_easy_setopt(e, CURLOPT_SSLCERT_BLOB, &cb);
        curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
        curl_easy_setopt(e, CURLOPT_SSLKEY_BLOB, &kb);
    }
    struct curl_slist *h = NULL, *t;
    h = curl_slist_append(h, "Accept: application/json");
    if (h && r->payload)
        h = (t = curl_slist_append(h, "Content-Type: application/json")) ? t : NULL;
    if (h && a->auth_header)
        h = (t = curl_slist_append(h, a->auth_header)) ? t : NULL;
    if (!h)
        return MF_ENOMEM;
    /* The header list (it holds the token) lives until the handle is detached. */
    r->hdrs = h;
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    r->cap = 0;
    if (r->payload) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->payload);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(r->payload));
    }
    free(r->body);
    r->body = NULL;
    r->len = 0;
    r->seen = 0;
    r->retry_after = -1;
    if (curl_multi_add_handle(a->multi, e) != CURLM_OK)
        return MF_EIO;
    r->active = 1;
    if (!r->stream)
        a->n_active_calls++;
    a->sent++;
    return 0;
}

void k8s_status_message(const char *what, long status, const char *body, size_t len, char *msg,
                        size_t msglen)
{
    json_error_t je;
    json_t *doc = body && len ? json_loadb(body, len, 0, &je) : NULL;
    const char *kind = json_string_value(json_object_get(doc, "kind"));
    const char *m = json_string_value(json_object_get(doc, "message"));
    const char *reason = json_string_value(json_object_get(doc, "reason"));
    if (kind && !strcmp(kind, "Status") && (m || reason)) {
        snprintf(msg, msglen, "k8s: %s: %ld %s%s%s", what, status, reason ? reason : "",
                 reason && m ? ": " : "", m ? m : "");
    } else {
        char line[200] = "";
        if (body && len) {
            /* the first line, within len: the body need not end with a NUL */
            size_t l = 0;
            while (l < len && l < sizeof line - 1 && body[l] != '\r' && body[l] != '\n' &&
                   body[l] != '\0')
                l++;
            memcpy(line, body, l);
            line[l] = 0;
        }
        snprintf(msg, msglen, "k8s: %s: HTTP %ld%s%s", what, status, line[0] ? ": " : "", line);
    }
    json_decref(doc);
}

/* Detach the easy handle after an answer; the request can be launched again. */
static void detach(struct k8s_req *r)
{
    struct k8s_api *a = r->api;
    curl_multi_remove_handle(a->multi, r->easy);
    curl_easy_cleanup(r->easy);
    r->easy = NULL;
    free_hdrs(r);
    r->active = 0;
    if (!r->stream && a->n_active_calls)
        a->n_active_calls--;
}

static double backoff(struct k8s_req *r)
{
    double d = r->api->backoff_s * pow(2, r->tries_used > 1 ? r->tries_used - 1 : 0);
    if (d > 10)
        d = 10;
    /* a little spread so that many requests do not come back together */
    return d * (0.75 + 0.5 * (double)(rand() % 1000) / 1000.0);
}

/* What to do with a finished transfer: 1 done (callback), 0 retried later. */
static int finish(struct k8s_req *r, CURLcode cc)
{
    struct k8s_api *a = r->api;
    long status = 0;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
    detach(r);
    r->status = status;
    r->tries_used++;
    int transport = cc != CURLE_OK;
    if (transport) {
        int final = r->tries_used >= a->tries;
        /* A certificate problem does not go away on its own. */
        if (cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CACERT_BADFILE ||
            cc == CURLE_SSL_CERTPROBLEM || cc == CURLE_SSL_CONNECT_ERROR ||
            cc == CURLE_URL_MALFORMAT || cc == CURLE_UNSUPPORTED_PROTOCOL)
            final = 1;
        if (!final) {
            a->retried++;
            r->not_before = mono() + backoff(r);
            return 0;
        }
        snprintf(r->msg, sizeof r->msg, "k8s: %s: cannot reach the API server %s (context '%s' "
                 "in %s): %s%s", r->what, a->conn->server, a->conn->context, a->conn->source,
                 curl_easy_strerror(cc),
                 cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CACERT_BADFILE
                     ? " (check certificate-authority and tls-server-name)" : "");
        r->rc = MF_EUNAVAIL;
        return 1;
    }
    if (status >= 200 && status < 300) {
        r->rc = 0;
        return 1;
    }
    if (status == 401 && !r->reauthed) {
        /* An expired exec credential or token: ask for a fresh one, once. */
        r->reauthed = 1;
        k8s_conn_invalidate(a->conn);
        a->cred_stale = 1;
        a->retried++;
        free(r->body);
        r->body = NULL;
        r->len = r->cap = 0;
        r->not_before = 0;
        return 0;
    }
    if ((status == 429 || status >= 500) && r->tries_used < a->tries) {
        a->retried++;
        r->not_before = mono() + (r->retry_after >= 0 ? r->retry_after : backoff(r));
        free(r->body);
        r->body = NULL;
        r->len = r->cap = 0;
        return 0;
    }
    k8s_status_message(r->what, status, r->body, r->len, r->msg, sizeof r->msg);
    if (status == 401) {
        size_t l = strlen(r->msg);
        snprintf(r->msg + l, sizeof r->msg - l,
                 " (the API server %s refused the credentials of user '%s' in context '%s' of "
                 "%s: renew the token or check the user's entry)",
                 a->conn->server, a->conn->user, a->conn->context, a->conn->source);
    } else if (status == 403) {
        size_t l = strlen(r->msg);
        snprintf(r->msg + l, sizeof r->msg - l, " (user '%s' of context '%s' lacks the "
                 "permission: ask for a Role that allows it)", a->conn->user, a->conn->context);
    }
    r->rc = status == 401 || status == 403 ? MF_EPERM
            : status == 404                 ? MF_ENOTFOUND
            : status == 409                 ? MF_EEXIST
            : status == 422 || status == 400 ? MF_EINVAL
                                             : MF_EFAIL;
    return 1;
}

int k8s_api_run(struct k8s_api *a, int timeout_ms)
{
    double deadline = mono() + (timeout_ms > 0 ? timeout_ms / 1000.0 : 0);
    int finished = 0;
    for (;;) {
        /* start what may start */
        double now = mono(), next_retry = INFINITY;
        for (struct k8s_req *r = a->head, *nx; r; r = nx) {
            nx = r->next;
            if (r->active)
                continue;
            if (r->not_before > now) {
                if (r->not_before < next_retry)
                    next_retry = r->not_before;
                continue;
            }
            if (!r->stream && a->n_active_calls >= a->max_active)
                continue;
            int rc = req_launch(r);
            if (rc) {
                if (r->easy) {
                    curl_easy_cleanup(r->easy);
                    r->easy = NULL;
                }
                free_hdrs(r);
                r->rc = rc;
                if (!r->msg[0])
                    snprintf(r->msg, sizeof r->msg, "k8s: %s: %s", r->what, mf_strerror(rc));
                if (r->done)
                    r->done(r, r->ud);
                req_free(r);
                finished++;
            }
        }
        int running = 0;
        curl_multi_perform(a->multi, &running);
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(a->multi, &left))) {
            if (m->msg != CURLMSG_DONE)
                continue;
            struct k8s_req *r = NULL;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
            if (!r)
                continue;
            if (finish(r, m->data.result)) {
                if (r->done)
                    r->done(r, r->ud);
                req_free(r);
                finished++;
            }
        }
        now = mono();
        if (finished || now >= deadline)
            return finished;
        double until = deadline - now;
        if (next_retry - now < until)
            until = next_retry - now;
        int ms = (int)ceil(until * 1000);
        if (ms < 1)
            ms = 1;
        if (ms > 1000)
            ms = 1000;
        int nfds;
        if (curl_multi_poll(a->multi, NULL, 0, ms, &nfds) != CURLM_OK)
            return MF_EIO;
    }
}

struct call_ctx {
    int done;
    long status;
    int rc;
    char *body;
    char msg[768];
};

static void call_done(struct k8s_req *r, void *ud)
{
    struct call_ctx *c = ud;
    c->done = 1;
    c->status = r->status;
    c->rc = r->rc;
    c->body = r->body;
    r->body = NULL;
    snprintf(c->msg, sizeof c->msg, "%s", r->msg);
}

int k8s_api_call(struct k8s_api *a, const char *method, const char *path_query,
                 const char *payload, const char *what, long *status, char **body, char *msg,
                 size_t msglen)
{
    struct call_ctx c = {0};
    if (body)
        *body = NULL;
    if (!k8s_api_start(a, method, path_query, payload, what, call_done, NULL, &c))
        return k8s_fail(msg, msglen, MF_ENOMEM, "k8s: out of memory");
    while (!c.done)
        if (k8s_api_run(a, 1000) < 0)
            break;
    if (status)
        *status = c.status;
    if (body)
        *body = c.body;
    else
        free(c.body);
    if (!c.done)
        return k8s_fail(msg, msglen, MF_EIO, "k8s: %s: the transfer loop failed", what);
    if (c.rc)
        k8s_fail(msg, msglen, c.rc, "%s", c.msg);
    return c.rc;
}
