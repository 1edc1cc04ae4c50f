/* mflow ui: the HTTP server (libmicrohttpd), its access token, the page's files, and the
 * command's options. Built as mflow-ui.so and loaded by `mflow ui` only, so that no task
 * process pays for loading libmicrohttpd. */
#include "ui.h"

#include "cli.h"
#include "util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define DEFAULT_PORT "8420"
#define TOKEN_MIN 8
#define COOKIE "mflow_ui_token"

static const char usage[] =
    "ui [--host H] [--port P] [--token T] [--namespace NS]\n"
    "  Serve a web page and a JSON API (/api/...) over the runs in the index and the datastore.\n"
    "  --host H       address to listen on (default 127.0.0.1, loopback only)\n"
    "  --port P       port (default " DEFAULT_PORT "; 0 picks a free one; the URL is printed)\n"
    "  --token T      access token (or MFLOW_UI_TOKEN), needed when H is not loopback;\n"
    "                 clients send 'Authorization: Bearer T', or open the page with ?token=T\n"
    "  --namespace NS show only the runs of NS (default: every namespace)";

/* Requests are answered by a pool of threads. The client (index read transaction, open
 * store, message) serves one thread at a time: `lock` is held while an API answer is made,
 * which is index reads and small records, and for each piece of a download, not while
 * anything is sent, so a large or slow transfer does not hold up other requests. */
#define POOL_MAX 8
#define PIECE (256 * 1024)

struct server {
    mf_client *c;
    const char *token;         /* NULL: none required (loopback without a token) */
    pthread_mutex_t lock;
};

struct stream {
    struct server *s;
    struct ui_reply r;
};

/* ---- access ----------------------------------------------------------------------------- */

/* Compare without stopping at the first difference, so timing tells nothing of the token. */
static int token_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char d = la != lb;
    for (size_t i = 0; i < la; i++)
        d |= (unsigned char)a[i] ^ (unsigned char)b[i % (lb ? lb : 1)];
    return d == 0;
}

/* A token is kept in a cookie and compared as text: printable ASCII with no space, quote,
 * comma, semicolon or backslash. */
static int token_valid(const char *t)
{
    if (strlen(t) < TOKEN_MIN)
        return 0;
    for (const char *p = t; *p; p++)
        if (*p <= ' ' || *p >= 127 || strchr("\",;\\", *p))
            return 0;
    return 1;
}

/* 1 when the request carries the token (header, query or cookie); *from_query set when it came
 * in the query, so that the page keeps it in a cookie. */
static int authorized(struct server *s, struct MHD_Connection *conn, int *from_query)
{
    *from_query = 0;
    if (!s->token)
        return 1;
    const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    if (h && !strncasecmp(h, "Bearer ", 7) && token_equal(h + 7, s->token))
        return 1;
    const char *q = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "token");
    if (q && token_equal(q, s->token)) {
        *from_query = 1;
        return 1;
    }
    const char *k = MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, COOKIE);
    return k && token_equal(k, s->token);
}

/* Decode %XX in the path and the query as usual, except that %00 becomes DEL: a NUL would
 * cut the decoded text short ("/index.html%00.js" read as "/index.html"); DEL is in no name,
 * so such a request is refused as one with a bad name. */
static size_t unescape(void *cls, struct MHD_Connection *conn, char *s)
{
    char *w = s;
    for (const char *r = s; *r; r++) {
        unsigned v;
        if (r[0] == '%' && isxdigit((unsigned char)r[1]) && isxdigit((unsigned char)r[2]) &&
            sscanf(r + 1, "%2x", &v) == 1) {
            *w++ = v ? (char)v : 0x7f;
            r += 2;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
    return (size_t)(w - s);
}

/* Without a token the server is on loopback, and a page of any web site open in a browser
 * could still reach it under a name of its own that resolves to 127.0.0.1 (DNS rebinding):
 * answer only requests addressed to a loopback name. */
static int loopback_host(const char *h)
{
    if (!h)
        return 0;
    size_t n = strlen(h);
    if (h[0] == '[') {                         /* [::1] or [::1]:port */
        const char *e = strchr(h, ']');
        if (!e)
            return 0;
        n = (size_t)(e - h - 1);
        h++;
        return n == 3 && !strncmp(h, "::1", 3);
    }
    const char *colon = strchr(h, ':');
    if (colon)
        n = (size_t)(colon - h);
    if (n == 9 && !strncasecmp(h, "localhost", 9))
        return 1;
    if (n < 7 || n > 15 || strncmp(h, "127.", 4))
        return 0;
    for (size_t i = 4; i < n; i++)
        if (!isdigit((unsigned char)h[i]) && h[i] != '.')
            return 0;
    return 1;
}

/* ---- answering -------------------------------------------------------------------------- */

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    struct ui_query *q = cls;
    if (q->n == UI_QUERY_MAX)
        return MHD_NO;
    q->key[q->n] = key;
    q->val[q->n] = value ? value : "";
    q->n++;
    return MHD_YES;
}

/* A piece of a streamed download, read under the lock. The value's hash is checked with its
 * last piece: when it fails, the connection is closed before that piece, so the client never
 * gets the whole length (a short body, not a wrong file). */
static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct stream *st = cls;
    (void)pos;   /* MHD asks for the pieces in order */
    size_t got = 0;
    pthread_mutex_lock(&st->s->lock);
    int rc = mf_client_artifact_reader_read(st->r.reader, buf, max, &got);
    pthread_mutex_unlock(&st->s->lock);
    if (rc)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    return got ? (ssize_t)got : MHD_CONTENT_READER_END_OF_STREAM;
}

static void stream_free(void *cls)
{
    struct stream *st = cls;
    pthread_mutex_lock(&st->s->lock);
    ui_stream_free(&st->r);
    pthread_mutex_unlock(&st->s->lock);
    free(st);
}

static enum MHD_Result send_reply(struct MHD_Connection *conn, struct ui_reply *r,
                                  const char *cookie, int is_static, struct server *s)
{
    struct MHD_Response *resp;
    if (r->reader) {
        struct stream *st = malloc(sizeof *st);
        resp = st ? MHD_create_response_from_callback(r->stream_len, PIECE, stream_read, st,
                                                      stream_free)
                  : NULL;
        if (st && resp) {
            st->s = s;
            st->r = *r;
        } else {
            free(st);
            pthread_mutex_lock(&s->lock);
            ui_stream_free(r);
            pthread_mutex_unlock(&s->lock);
        }
    } else if (is_static)
        resp = MHD_create_response_from_buffer(r->len, r->body, MHD_RESPMEM_PERSISTENT);
    else
        resp = MHD_create_response_from_buffer(r->len, r->body, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        if (!is_static && !r->reader)
            free(r->body);
        free(r->disposition);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", r->type);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "Content-Security-Policy",
                            "default-src 'self'; style-src 'self'; img-src 'self' data:");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    if (r->disposition)
        MHD_add_response_header(resp, "Content-Disposition", r->disposition);
    if (r->status == 401)
        MHD_add_response_header(resp, "WWW-Authenticate", "Bearer realm=\"mflow ui\"");
    if (r->status == 405)
        MHD_add_response_header(resp, "Allow", "GET, HEAD");
    if (cookie)
        MHD_add_response_header(resp, "Set-Cookie", cookie);
    enum MHD_Result ret = MHD_queue_response(conn, r->status, resp);
    MHD_destroy_response(resp);
    free(r->disposition);
    return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **con_cls)
{
    struct server *s = cls;
    struct ui_reply r;
    memset(&r, 0, sizeof r);
    /* answered at once, on the first call: the API takes no request body */
    if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
        ui_error(&r, 405, "%s is not served: the API is read-only (GET)", method);
        return send_reply(conn, &r, NULL, 0, s);
    }
    int from_query;
    if (!s->token &&
        !loopback_host(MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Host"))) {
        ui_error(&r, 403, "this server answers only requests to a loopback address "
                          "(127.0.0.1, localhost, [::1]); give --token to serve others");
        return send_reply(conn, &r, NULL, 0, s);
    }
    if (!authorized(s, conn, &from_query)) {
        ui_error(&r, 401, "an access token is needed: send 'Authorization: Bearer TOKEN', or "
                          "open the page with ?token=TOKEN");
        return send_reply(conn, &r, NULL, 0, s);
    }
    char cookie[512];
    const char *set_cookie = NULL;
    if (from_query) {
        snprintf(cookie, sizeof cookie, COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict",
                 s->token);
        set_cookie = cookie;
    }
    if (!strncmp(url, "/api/", 5)) {
        struct ui_query q = {0};
        MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_arg, &q);
        pthread_mutex_lock(&s->lock);
        ui_api(s->c, url, &q, &r);
        pthread_mutex_unlock(&s->lock);
        return send_reply(conn, &r, set_cookie, 0, s);
    }
    const char *path = !strcmp(url, "/") ? "/index.html" : url;
    for (size_t i = 0; i < ui_asset_count; i++)
        if (!strcmp(path, ui_assets[i].path)) {
            r.status = 200;
            r.type = ui_assets[i].type;
            r.body = (char *)ui_assets[i].data;
            r.len = ui_assets[i].len;
            return send_reply(conn, &r, set_cookie, 1, s);
        }
    ui_error(&r, 404, "no such page: %s", url);
    return send_reply(conn, &r, set_cookie, 0, s);
}

/* ---- listening -------------------------------------------------------------------------- */

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

/* Resolve host:port and listen on its first address. 0, or 1 after printing why. */
static int listen_on(const char *host, const char *port, int *fd_out, int *loopback,
                     char *url, size_t url_len)
{
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int g = getaddrinfo(host, port, &hints, &ai);
    if (g) {
        cli_error("ui: --host %s: %s (give an address or a name this machine resolves)", host,
                  gai_strerror(g));
        return 1;
    }
    *loopback = is_loopback(ai->ai_addr);
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 128)) {
        int e = errno;
        cli_error("ui: cannot listen on %s port %s: %s%s", host, port, strerror(e),
                  e == EADDRINUSE ? " (give another --port, or --port 0 for a free one)" : "");
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return 1;
    }
    freeaddrinfo(ai);
    struct sockaddr_storage ss = {0};   /* read below even when getsockname fails */
    socklen_t sl = sizeof ss;
    char addr[INET6_ADDRSTRLEN] = "?";
    unsigned p = 0;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET) {
            struct sockaddr_in *in = (struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &in->sin_addr, addr, sizeof addr);
            p = ntohs(in->sin_port);
        } else {
            struct sockaddr_in6 *in = (struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &in->sin6_addr, addr, sizeof addr);
            p = ntohs(in->sin6_port);
        }
    }
    snprintf(url, url_len, "http://%s%s%s:%u/", ss.ss_family == AF_INET6 ? "[" : "", addr,
             ss.ss_family == AF_INET6 ? "]" : "", p);
    *fd_out = fd;
    return 0;
}

int mf_ui_main(int argc, char **argv)
{
    if (cli_wants_help(argc, argv, usage))
        return 0;
    const char *host = "127.0.0.1", *token = NULL, *ns = "";
    long long port = -1;
    for (int i = 1; i < argc; i++) {
        int r;
        if ((r = cli_str_opt(argc, argv, &i, "--host", &host)) ||
            (r = cli_int_opt(argc, argv, &i, "--port", 0, 65535, &port)) ||
            (r = cli_str_opt(argc, argv, &i, "--token", &token))) {
            if (r < 0)
                return 2;
        } else if ((r = cli_match_opt(argc, argv, &i, "--namespace", &ns))) {
            if (r < 0) {
                cli_error("ui: --namespace needs a value");
                return 2;
            }
        } else {
            cli_error("ui: unexpected argument '%s' (usage: mflow %.*s)", argv[i],
                      (int)strcspn(usage, "\n"), usage);
            return 2;
        }
    }
    if (!token) {
        const char *e = getenv("MFLOW_UI_TOKEN");
        token = e && *e ? e : NULL;
    }
    if (token && !token_valid(token)) {
        cli_error("ui: the access token must be at least %d characters of printable ASCII "
                  "with no space, quote, comma, semicolon or backslash",
                  TOKEN_MIN);
        return 2;
    }
    char portbuf[16];
    snprintf(portbuf, sizeof portbuf, "%lld", port < 0 ? atoll(DEFAULT_PORT) : port);
    int fd, loopback;
    char url[128];
    if (listen_on(host, portbuf, &fd, &loopback, url, sizeof url))
        return 1;
    if (!loopback && !token) {
        close(fd);
        cli_error("ui: --host %s is not a loopback address, so anyone who can reach it could "
                  "read every run: give an access token with --token T or MFLOW_UI_TOKEN "
                  "(nothing was started)",
                  host);
        return 2;
    }

    mf_client *c;
    struct mf_client_opts co;
    memset(&co, 0, sizeof co);
    co.struct_size = sizeof co;
    co.ns = ns;
    if (mf_client_open(&co, &c)) {
        cli_error("ui: %s", mf_client_error(c));
        mf_client_close(c);
        close(fd);
        return 1;
    }
    struct server s = {.c = c, .token = token};
    pthread_mutex_init(&s.lock, NULL);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned pool = ncpu < 2 ? 2 : ncpu > POOL_MAX ? POOL_MAX : (unsigned)ncpu;

    /* the server's thread inherits this mask, so SIGINT and SIGTERM come to sigwait below */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_AUTO_INTERNAL_THREAD, 0, NULL, NULL, handle, &s, MHD_OPTION_LISTEN_SOCKET, fd,
        MHD_OPTION_THREAD_POOL_SIZE, pool,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_CONNECTION_LIMIT, (unsigned)512,
        MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL,
        MHD_OPTION_END);
    if (!d) {
        cli_error("ui: the HTTP server (libmicrohttpd) did not start on %s", url);
        mf_client_close(c);
        close(fd);
        return 1;
    }
    printf("mflow ui: serving %s%s (Ctrl-C stops)\n", url,
           token ? " (open it with ?token=<your token>)" : "");
    fflush(stdout);
    int sig = 0;
    sigwait(&set, &sig);
    MHD_stop_daemon(d);   /* closes the listening socket too */
    mf_client_close(c);
    pthread_mutex_destroy(&s.lock);
    return 0;
}
