/* The server of `mflow serve` (serve.h), in its own module (mflow-serve.so) with
 * libmicrohttpd; it reaches libmflow through the process that loads it.
 *
 * Processes. The command binds the socket, then forks worker processes that all accept on it,
 * and stays as their supervisor: a worker that dies is replaced. Each worker answers its
 * requests on one thread (libmicrohttpd's epoll loop), so an endpoint, which is the flow's own
 * C code, runs in one process at a time: a crash in it (SIGSEGV, abort...) is answered as a
 * 500 on that request, and that worker, whose memory can no longer be trusted, is replaced
 * after sending it; the other workers and their connections go on.
 *
 * What is served. Each worker looks in the index, at most every poll_s and only when a
 * request comes, for the latest successful run of the flow in the namespace. A newer one is
 * loaded (its `end` task's record) before the request is answered; as a worker answers one
 * request at a time, the switch falls between two requests: a request is answered wholly from
 * one run. The workers share the newest run any of them serves (one word of shared memory,
 * published before that run's first answer): a worker behind it catches up before answering,
 * so once an answer came from a run, no later request gets an older one from any worker.
 *
 * Python flows. Each worker owns one Python process that imported the flow once (serve_py.c),
 * started with the worker; the worker hands it the endpoint's name, the request and the end
 * task it chose, and relays the answer. The run is still chosen here, so the rules above hold
 * for Python too; a Python process that dies answers 500 for that request and is replaced. */
#include "serve.h"

#include "endpoint.h"
#include "flowload.h"
#include "host.h"
#include "record.h"
#include "serve_py.h"
#include "store.h"
#include "task.h"
#include "util.h"

#include <mflow/client.h>
#include <mflow/plugin.h>

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_BODY (1 << 20)    /* a request body larger than this is refused (413) */
#define MAX_WORKERS 256
#define WORKER_SETUP_FAILED 4 /* exit code of a worker that could not open the datastore */
#define WORKER_CRASHED 3      /* exit code of a worker that answered an endpoint's crash */

/* ---- one worker ------------------------------------------------------------------------- */

struct snapshot {
    int64_t run_id;
    char run_path[300];          /* "Flow/N", sent as X-Mflow-Run */
    char task_path[400];         /* "Flow/N/end/T", what a Python flow's endpoints read */
    mf_task *view;               /* the run's end task, read-only */
};

struct worker {
    const struct mf_serve_opts *o;
    _Atomic int64_t *newest;     /* shared by the workers: the newest run any of them serves */
    const char *flow;            /* the flow's name */
    struct mf_store st;
    mf_client *c;
    struct snapshot *snap;       /* NULL until a successful run is found */
    char *why_none;              /* what to say while there is none */
    double last_check;
    pthread_t main_thread;
    int dying;                   /* an endpoint crashed: go once the answer is sent */
    struct mf_serve_py *py;      /* a Python flow's endpoint process, else NULL */
};

struct request {
    struct mf_sbuf body;
    int too_large;
};

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void snapshot_free(struct snapshot *s)
{
    if (!s)
        return;
    mf_task_view_close(s->view);
    free(s);
}

static void set_none(struct worker *w, char *msg)
{
    free(w->why_none);
    w->why_none = msg;
}

/* The end task of run r as a snapshot, or NULL after saying why on stderr. */
static struct snapshot *snapshot_load(struct worker *w, mf_client_run *r)
{
    mf_client_tasks *l = NULL;
    struct snapshot *s = NULL;
    char *err = NULL;
    struct mf_task_record rec;
    mf_task_record_init(&rec);
    int rc = mf_client_list_tasks(r, "end", &l);
    mf_client_task *t = rc ? NULL : mf_client_tasks_at(l, 0);
    if (!t) {
        err = mf_strf("%s", rc ? mf_client_error(w->c) : "its end task is not in the index");
        goto out;
    }
    rc = mf_record_read(&w->st, w->flow, mf_client_run_id(r), "end", mf_client_task_id(t),
                        mf_client_task_attempt(t), &rec, &err);
    if (rc)
        goto out;
    s = calloc(1, sizeof *s);
    if (!s || mf_task_view_open(w->o->flow, &w->st, &rec, &s->view)) {
        free(s);
        s = NULL;
        err = mf_strf("out of memory");
        goto out;
    }
    s->run_id = mf_client_run_id(r);
    snprintf(s->run_path, sizeof s->run_path, "%s", mf_client_run_pathspec(r));
    snprintf(s->task_path, sizeof s->task_path, "%s", mf_client_task_pathspec(t));
out:
    if (!s)
        fprintf(stderr, "mflow serve: cannot load run %s (still serving %s): %s\n",
                mf_client_run_pathspec(r), w->snap ? w->snap->run_path : "nothing",
                err ? err : "out of memory");
    free(err);
    mf_task_record_free(&rec);
    mf_client_tasks_free(l);
    return s;
}

/* Look for a newer successful run, at most every poll_s. */
static void refresh(struct worker *w)
{
    double now = mono_now();
    int behind = atomic_load_explicit(w->newest, memory_order_acquire) >
                 (w->snap ? w->snap->run_id : 0);
    if (w->last_check && now - w->last_check < w->o->poll_s && !behind)
        return;
    w->last_check = now;
    mf_client_run *r = NULL;
    int rc = mf_client_run_latest(w->c, w->flow, 1, &r);
    if (rc == MF_ENOTFOUND) {
        if (!w->snap)
            set_none(w, mf_strf("no successful run of %s in namespace '%s' yet: run the flow "
                                "(mflow --namespace='%s' run %s) and ask again",
                                w->flow, w->o->ns, w->o->ns, w->o->flow_path));
        return;
    }
    if (rc) {
        if (!w->snap)
            set_none(w, mf_strf("cannot read the index: %s", mf_client_error(w->c)));
        return;
    }
    if (!w->snap || mf_client_run_id(r) != w->snap->run_id) {
        struct snapshot *s = snapshot_load(w, r);
        if (s) {
            /* Between two requests: nothing holds the old one any more. */
            snapshot_free(w->snap);
            w->snap = s;
            int64_t seen = atomic_load(w->newest);
            while (seen < s->run_id && !atomic_compare_exchange_weak(w->newest, &seen, s->run_id))
                ;
        } else if (!w->snap) {
            set_none(w, mf_strf("the latest successful run of %s, %s, cannot be read (see the "
                                "server's messages)",
                                w->flow, mf_client_run_pathspec(r)));
        }
    }
    mf_client_run_free(r);
}

static enum MHD_Result send_text(struct MHD_Connection *con, unsigned status, char *text,
                                 size_t len, const char *run, int auth)
{
    if (!text)
        return MHD_NO;
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    if (run)
        MHD_add_response_header(resp, "X-Mflow-Run", run);
    if (auth)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"mflow\"");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, POST");
    enum MHD_Result r = MHD_queue_response(con, status, resp);
    MHD_destroy_response(resp);
    return r;
}

static enum MHD_Result send_error(struct MHD_Connection *con, unsigned status, const char *msg,
                                  const char *run)
{
    size_t len = 0;
    char *text = mf_endpoint_error_json(msg, &len);
    return send_text(con, status, text, len, run, status == MHD_HTTP_UNAUTHORIZED);
}

/* Constant time in the token's length: the comparison says nothing of where they differ. */
static int token_ok(struct MHD_Connection *con, const char *token)
{
    const char *h = MHD_lookup_connection_value(con, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return 0;
    h += 7;
    while (*h == ' ')
        h++;
    size_t a = strlen(h), b = strlen(token);
    unsigned char diff = a != b;
    for (size_t i = 0; i < b; i++)
        diff |= (unsigned char)(h[i < a ? i : 0] ^ token[i]);
    return diff == 0;
}

static enum MHD_Result send_listing(struct worker *w, struct MHD_Connection *con)
{
    refresh(w);   /* the run it names is the one an endpoint would answer from */
    const mf_flow_def *d = w->o->flow->def;
    json_t *eps = json_array();
    for (size_t i = 0; eps && i < d->n_endpoints; i++) {
        char *path = mf_strf("/%s", d->endpoints[i].name);
        json_array_append_new(eps, json_pack("{s:s,s:s?,s:s?}", "name", d->endpoints[i].name,
                                             "path", path, "help", d->endpoints[i].help));
        free(path);
    }
    json_t *o = json_pack("{s:s,s:s,s:s?,s:o}", "flow", w->flow, "namespace", w->o->ns, "run",
                          w->snap ? w->snap->run_path : NULL, "endpoints", eps);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return send_text(con, MHD_HTTP_OK, text, text ? strlen(text) : 0,
                     w->snap ? w->snap->run_path : NULL, 0);
}

struct query_ctx {
    json_t *obj;
    const char *bad;             /* a name or value that is not UTF-8 */
};

static enum MHD_Result on_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                              const char *value)
{
    (void)kind;
    struct query_ctx *q = cls;
    json_t *v = json_string(value ? value : "");
    if (!v || !mf_utf8_valid(key, strlen(key))) {
        json_decref(v);
        q->bad = key;
        return MHD_NO;
    }
    json_object_set_new(q->obj, key, v);
    return MHD_YES;
}

/* ---- containing a crash in an endpoint ------------------------------------------------------ */

static sigjmp_buf crash_jmp;
static volatile sig_atomic_t in_endpoint;

static void on_crash(int sig)
{
    if (in_endpoint) {
        in_endpoint = 0;
        siglongjmp(crash_jmp, sig);
    }
    /* Not the flow's code: end as the fault would have. */
    signal(sig, SIG_DFL);
    raise(sig);
}

static const int crash_sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};

static void guard_crashes(void)
{
    /* An alternate stack, so that a stack overflow in an endpoint is caught too. Signal stacks
     * are per thread: this is called on the thread that runs the endpoints. */
    static int done;
    if (done)
        return;
    done = 1;
    /* Keep a signal stack the thread already has: a sanitizer's, which it unmaps when the
     * thread ends and must find still installed (the handler needs little: it jumps). Ours
     * is mapped, not malloc'd, and never given back. */
    stack_t old;
    if (sigaltstack(NULL, &old) != 0 || (old.ss_flags & SS_DISABLE)) {
        stack_t ss = {.ss_size = 1 << 16};
        ss.ss_sp = mmap(NULL, ss.ss_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                        -1, 0);
        if (ss.ss_sp != MAP_FAILED)
            sigaltstack(&ss, NULL);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_crash;
    sa.sa_flags = SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof crash_sigs / sizeof crash_sigs[0]; i++)
        sigaction(crash_sigs[i], &sa, NULL);
}

/* A Python flow's endpoint: the request, as JSON, to the worker's Python process. The body
 * is checked here (the same 400 as for C); the query arguments go along for GET and POST. */
static enum MHD_Result answer_python(struct worker *w, struct MHD_Connection *con,
                                     const mf_endpoint_def *ep, const char *method,
                                     struct request *q, json_t *query)
{
    const char *run = w->snap->run_path;
    json_t *body = json_null();
    if (q->body.len) {
        struct mf_endpoint e;
        char *err = NULL;
        int rc = mf_endpoint_start(&e, ep, NULL, method, q->body.data, q->body.len, NULL, &err);
        if (rc) {
            enum MHD_Result r = send_error(con, rc == MF_EINVAL ? MHD_HTTP_BAD_REQUEST
                                                                : MHD_HTTP_INTERNAL_SERVER_ERROR,
                                           err ? err : "out of memory", run);
            free(err);
            mf_endpoint_fini(&e);
            json_decref(query);
            return r;
        }
        body = json_incref(e.req);
        mf_endpoint_fini(&e);
    }
    json_t *msg = json_pack("{s:s,s:s,s:s,s:o,s:o}", "endpoint", ep->name, "task",
                            w->snap->task_path, "method", method, "body", body, "args", query);
    char *text = msg ? json_dumps(msg, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    json_decref(msg);
    int status = 0;
    char *answer = NULL, *why = NULL;
    size_t len = 0;
    int rc = text ? mf_serve_py_call(w->py, text, strlen(text), &status, &answer, &len, &why)
                  : MF_ENOMEM;
    free(text);
    if (!rc)
        return send_text(con, (unsigned)status, answer, len, run, 0);
    char *err = rc == MF_EIO ? mf_strf("endpoint %s crashed (%s) on run %s: the server goes on "
                                       "(a new Python process is started); fix the endpoint's "
                                       "code",
                                       ep->name, why ? why : "its Python process went", run)
              : rc == MF_ENOMEM ? NULL
                                : mf_strf("endpoint %s: cannot start Python (%s) for the flow's "
                                          "endpoints: %s (install python3 or set MFLOW_PYTHON)",
                                          ep->name, mf_python_exe(), strerror(rc));
    if (rc == MF_EIO)
        fprintf(stderr, "mflow serve: worker %d: %s\n", (int)getpid(), err ? err : "?");
    enum MHD_Result r = send_error(con, MHD_HTTP_INTERNAL_SERVER_ERROR, err, run);
    free(err);
    free(why);
    return r;
}

static enum MHD_Result answer_endpoint(struct worker *w, struct MHD_Connection *con,
                                       const mf_endpoint_def *ep, const char *method,
                                       struct request *q)
{
    refresh(w);
    if (!w->snap)
        return send_error(con, MHD_HTTP_SERVICE_UNAVAILABLE, w->why_none, NULL);
    const char *run = w->snap->run_path;
    if (w->py) {
        struct query_ctx qc = {json_object(), NULL};
        if (qc.obj)
            MHD_get_connection_values(con, MHD_GET_ARGUMENT_KIND, on_arg, &qc);
        if (qc.bad || !qc.obj) {
            json_decref(qc.obj);
            return send_error(con, qc.obj ? MHD_HTTP_BAD_REQUEST : MHD_HTTP_INTERNAL_SERVER_ERROR,
                              qc.obj ? "a query argument is not UTF-8 text: send UTF-8"
                                     : "out of memory", run);
        }
        return answer_python(w, con, ep, method, q, qc.obj);
    }
    json_t *query = NULL;
    if (!q->body.len) {
        struct query_ctx qc = {json_object(), NULL};
        if (qc.obj)
            MHD_get_connection_values(con, MHD_GET_ARGUMENT_KIND, on_arg, &qc);
        if (qc.bad) {
            json_decref(qc.obj);
            return send_error(con, MHD_HTTP_BAD_REQUEST,
                              "a query argument is not UTF-8 text: send UTF-8", run);
        }
        query = qc.obj;
    }
    static struct mf_endpoint e;   /* static: its state survives a jump back from a crash */
    char *err = NULL;
    int rc = mf_endpoint_start(&e, ep, w->snap->view, method, q->body.data, q->body.len, query,
                               &err);
    if (rc) {
        enum MHD_Result r = send_error(con, rc == MF_EINVAL ? MHD_HTTP_BAD_REQUEST
                                                            : MHD_HTTP_INTERNAL_SERVER_ERROR,
                                       err ? err : "out of memory", run);
        free(err);
        mf_endpoint_fini(&e);
        return r;
    }
    guard_crashes();
    int sig = sigsetjmp(crash_jmp, 1);
    if (sig == 0) {
        in_endpoint = 1;
        mf_endpoint_run(&e);
        in_endpoint = 0;
    } else {
        /* The flow's code crashed: say so, then let this worker go (its memory may be
         * damaged); nothing of e is touched again. */
        w->dying = 1;
        char *msg = mf_strf("endpoint %s crashed (%s) on run %s: the server goes on (this "
                            "worker process is replaced); fix the endpoint's code",
                            ep->name, strsignal(sig), run);
        enum MHD_Result r = send_error(con, MHD_HTTP_INTERNAL_SERVER_ERROR, msg, run);
        free(msg);
        return r;
    }
    size_t len = 0;
    char *text = mf_endpoint_answer(&e, &len);
    enum MHD_Result r = send_text(con, (unsigned)e.status, text, len, run, 0);
    mf_endpoint_fini(&e);
    return r;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *con, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_size, void **con_cls)
{
    (void)version;
    struct worker *w = cls;
    struct request *q = *con_cls;
    if (!q) {
        q = calloc(1, sizeof *q);
        if (!q)
            return MHD_NO;
        *con_cls = q;
        return MHD_YES;
    }
    if (*upload_size) {
        if (!q->too_large && q->body.len + *upload_size <= MAX_BODY)
            mf_sbuf_add(&q->body, upload_data, *upload_size);
        else
            q->too_large = 1;
        *upload_size = 0;
        return MHD_YES;
    }
    if (w->o->token && !token_ok(con, w->o->token))
        return send_error(con, MHD_HTTP_UNAUTHORIZED,
                          "this server needs its token: send `Authorization: Bearer TOKEN`", NULL);
    int get = !strcmp(method, MHD_HTTP_METHOD_GET), post = !strcmp(method, MHD_HTTP_METHOD_POST);
    if (!get && !post) {
        char *msg = mf_strf("method %.20s is not served: use GET or POST", method);
        enum MHD_Result r = send_error(con, MHD_HTTP_METHOD_NOT_ALLOWED, msg, NULL);
        free(msg);
        return r;
    }
    if (!strcmp(url, "/"))
        return send_listing(w, con);
    const mf_endpoint_def *ep =
        url[0] == '/' ? mf_endpoint_find(w->o->flow->def, url + 1, strlen(url + 1)) : NULL;
    if (!ep) {
        size_t n = strnlen(url, 101);
        char *shown = mf_escape(url, n > 100 ? 100 : n, 0);
        char *msg = mf_strf("no endpoint %s%s in flow %s: GET / lists them", shown ? shown : "?",
                            n > 100 ? "..." : "", w->flow);
        enum MHD_Result r = send_error(con, MHD_HTTP_NOT_FOUND, msg, NULL);
        free(msg);
        free(shown);
        return r;
    }
    if (q->too_large) {
        char *msg = mf_strf("the request body is larger than %d bytes", MAX_BODY);
        enum MHD_Result r = send_error(con, 413, msg, NULL);
        free(msg);
        return r;
    }
    if (q->body.oom)
        return send_error(con, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory", NULL);
    return answer_endpoint(w, con, ep, method, q);
}

static void completed(void *cls, struct MHD_Connection *con, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)con;
    (void)toe;
    struct worker *w = cls;
    struct request *q = *con_cls;
    if (q) {
        mf_sbuf_free(&q->body);
        free(q);
        *con_cls = NULL;
    }
    if (w->dying)
        pthread_kill(w->main_thread, SIGUSR1);
}

static void worker_main(const struct mf_serve_opts *o, int fd, pid_t parent,
                        _Atomic int64_t *newest)
{
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent)
        _exit(0);
    signal(SIGPIPE, SIG_IGN);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set, NULL);   /* for sigwait below; MHD's thread inherits it */
    struct worker w;
    memset(&w, 0, sizeof w);
    w.o = o;
    w.newest = newest;
    w.flow = o->flow->def->name;
    w.main_thread = pthread_self();
    char *err = NULL;
    if (mf_store_open(&w.st, &err)) {
        fprintf(stderr, "mflow serve: worker %d: %s\n", (int)getpid(), err ? err : "no datastore");
        _exit(WORKER_SETUP_FAILED);
    }
    struct mf_client_opts co = {.struct_size = sizeof co, .ns = o->ns};
    if (mf_client_open(&co, &w.c)) {
        fprintf(stderr, "mflow serve: worker %d: %s\n", (int)getpid(), mf_client_error(w.c));
        _exit(WORKER_SETUP_FAILED);
    }
    if (o->flow->py) {
        /* Started now, so that it imports the flow before the first request comes. */
        int rc = mf_serve_py_open(o->flow->so_path, o->ns, &w.py);
        if (rc && !w.py) {
            fprintf(stderr, "mflow serve: worker %d: out of memory\n", (int)getpid());
            _exit(WORKER_SETUP_FAILED);
        }
        if (rc)
            fprintf(stderr, "mflow serve: worker %d: cannot start Python (%s): %s; tried again "
                            "at the next request\n",
                    (int)getpid(), mf_python_exe(), strerror(rc));
    }
    /* ITC: stopping must not shut the listening socket down, which the other workers share. */
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_USE_TURBO, 0, NULL,
        NULL, handle, &w, MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_NOTIFY_COMPLETED, completed,
        &w, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)60, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned int)4096, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "mflow serve: worker %d: cannot start the HTTP server (libmicrohttpd)\n",
                (int)getpid());
        _exit(WORKER_SETUP_FAILED);
    }
    int sig = 0;
    sigwait(&set, &sig);
    mf_serve_py_interrupt(w.py);   /* a Python endpoint that never returns does not hold us */
    MHD_stop_daemon(d);
    mf_serve_py_close(w.py);
    _exit(sig == SIGUSR1 ? WORKER_CRASHED : 0);
}

/* ---- the supervisor -------------------------------------------------------------------------- */

static int is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_LOOPBACK(a))
            return 1;
        return IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127;
    }
    return 0;
}

static int open_socket(const struct mf_serve_opts *o, int *fd_out, char *shown, size_t shown_n,
                       char **err)
{
    char port[16];
    snprintf(port, sizeof port, "%d", o->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int g = getaddrinfo(o->host, port, &hints, &res);
    if (g) {
        *err = mf_strf("cannot use --host %s: %s", o->host, gai_strerror(g));
        return MF_EINVAL;
    }
    if (!is_loopback(res->ai_addr) && !o->token) {
        *err = mf_strf("--host %s listens beyond this machine: give a token (--token TOKEN or "
                       "MFLOW_SERVE_TOKEN) that clients send as `Authorization: Bearer TOKEN`, "
                       "or serve on 127.0.0.1",
                       o->host);
        freeaddrinfo(res);
        return MF_EPERM;
    }
    int fd = socket(res->ai_family, res->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    res->ai_protocol);
    int one = 1;
    int rc = fd < 0 ? errno : 0;
    if (!rc)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (!rc && (bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 4096) != 0))
        rc = errno;
    if (rc) {
        *err = mf_strf("cannot listen on %s port %d: %s%s", o->host, o->port, strerror(rc),
                       rc == EADDRINUSE ? " (another server has it: pick another with --port, or "
                                          "--port 0 for a free one)"
                                        : "");
        if (fd >= 0)
            close(fd);
        freeaddrinfo(res);
        return rc;
    }
    struct sockaddr_storage ss = {0};   /* read below even when getsockname fails */
    socklen_t sl = sizeof ss;
    char host[INET6_ADDRSTRLEN] = "?";
    int p = o->port;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET) {
            inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host, sizeof host);
            p = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        } else {
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, host, sizeof host);
            p = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        }
    }
    snprintf(shown, shown_n, ss.ss_family == AF_INET6 ? "http://[%s]:%d/" : "http://%s:%d/",
             host, p);
    freeaddrinfo(res);
    *fd_out = fd;
    return 0;
}

static pid_t spawn_worker(const struct mf_serve_opts *o, int fd, _Atomic int64_t *newest)
{
    pid_t parent = getpid();
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0)
        worker_main(o, fd, parent, newest);
    return pid;
}

__attribute__((visibility("default"))) int mf_serve_run_impl(const struct mf_serve_opts *o,
                                                             char **err);
int mf_serve_run_impl(const struct mf_serve_opts *o, char **err)
{
    *err = NULL;
    int n = o->workers < 1 ? 1 : o->workers > MAX_WORKERS ? MAX_WORKERS : o->workers;
    /* What every worker opens, tried here first: a refusal is said once, before listening. */
    struct mf_store st;
    int rc = mf_store_open(&st, err);
    if (rc)
        return rc;
    mf_store_close(&st);
    mf_client *c = NULL;
    struct mf_client_opts co = {.struct_size = sizeof co, .ns = o->ns};
    rc = mf_client_open(&co, &c);
    if (rc) {
        *err = mf_strf("%s", mf_client_error(c));
        mf_client_close(c);
        return rc;
    }
    mf_client_close(c);   /* lmdb: each worker opens its own, after the fork */
    if (o->flow->py) {
        /* What the workers' Python processes inherit: the SDK, this libmflow, the settings. */
        rc = mf_python_env();
        if (!rc && (setenv("MFLOW_HOME", mf_host_home(), 1) ||
                    setenv("MFLOW_DATASTORE_ROOT", mf_host_datastore_root(), 1) ||
                    (mf_host_storage() && setenv("MFLOW_STORAGE", mf_host_storage(), 1))))
            rc = errno;
        if (rc) {
            *err = mf_strf("cannot set the environment of the flow's Python: %s",
                           rc == MF_ENOMEM ? "out of memory" : strerror(rc));
            return rc;
        }
    }

    int fd;
    char shown[128];
    rc = open_socket(o, &fd, shown, sizeof shown, err);
    if (rc)
        return rc;
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, &old);
    pid_t *pids = calloc((size_t)n, sizeof *pids);
    _Atomic int64_t *newest = mmap(NULL, sizeof *newest, PROT_READ | PROT_WRITE,
                                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (!pids || newest == MAP_FAILED) {
        free(pids);
        if (newest != MAP_FAILED)
            munmap(newest, sizeof *newest);
        close(fd);
        sigprocmask(SIG_SETMASK, &old, NULL);
        return MF_ENOMEM;
    }
    for (int i = 0; i < n; i++)
        pids[i] = spawn_worker(o, fd, newest);
    const mf_flow_def *d = o->flow->def;
    printf("mflow serve: %s (%zu endpoint%s) from namespace '%s' on %s (%d worker%s)\n", d->name,
           d->n_endpoints, d->n_endpoints == 1 ? "" : "s", o->ns, shown, n, n == 1 ? "" : "s");
    fflush(stdout);
    double deaths[8] = {0};   /* when the last workers died: replacing them slows when many do */
    size_t nd = 0;            /* deaths so far */
    int stopping = 0;
    while (!stopping) {
        int sig = 0;
        if (sigwait(&set, &sig) != 0)
            continue;
        if (sig != SIGCHLD) {
            stopping = 1;
            break;
        }
        int status;
        pid_t pid;
        while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
            int k = 0;
            while (k < n && pids[k] != pid)
                k++;
            if (k == n)
                continue;
            if (WIFSIGNALED(status))
                fprintf(stderr, "mflow serve: worker %d ended by %s; starting another\n",
                        (int)pid, strsignal(WTERMSIG(status)));
            else if (WEXITSTATUS(status) == WORKER_CRASHED)
                fprintf(stderr, "mflow serve: worker %d answered an endpoint's crash and went; "
                                "starting another\n",
                        (int)pid);
            else
                fprintf(stderr, "mflow serve: worker %d exited with %d; starting another\n",
                        (int)pid, WEXITSTATUS(status));
            double now = mono_now();
            if (nd >= 8 && now - deaths[nd % 8] < 10)
                sleep(1);   /* eight deaths in ten seconds: do not spin */
            deaths[nd++ % 8] = now;
            pids[k] = spawn_worker(o, fd, newest);
        }
    }
    for (int i = 0; i < n; i++)
        if (pids[i] > 0)
            kill(pids[i], SIGTERM);
    for (int i = 0; i < n; i++)
        if (pids[i] > 0)
            waitpid(pids[i], NULL, 0);
    free(pids);
    munmap(newest, sizeof *newest);
    close(fd);
    sigprocmask(SIG_SETMASK, &old, NULL);
    return 0;
}
