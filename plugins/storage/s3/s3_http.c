/* The transfer engine of the s3 plugin.
 *
 * Every operation is a set of requests run on the instance's one curl multi handle: at most
 * max_concurrency transfers at a time, connections kept alive and reused across requests and
 * calls (the multi handle's connection cache), requests signed by libcurl's SigV4
 * (CURLOPT_AWS_SIGV4) with an explicit x-amz-content-sha256 header and canonical query
 * strings built by the caller. A request that fails in a way worth retrying (5xx, 429 or
 * SlowDown, a timeout, a dropped or refused connection, data that does not match its MD5)
 * is tried again after an exponential backoff with jitter, within max_attempts and
 * retry_total_s; then it fails with one message naming the request, the object, the endpoint,
 * the HTTP status and what to do. A request's on_done can queue more requests (the parts of a
 * multipart upload, the ranges of a large download) into the same run. */
#include "s3_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define ERR_BODY_MAX (64 * 1024)

/* ---- requests ----------------------------------------------------------------------------- */

int s3_req_header(struct s3_req *r, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof line)
        return MF_EINVAL;
    struct curl_slist *l = curl_slist_append(r->headers, line);
    if (!l)
        return MF_ENOMEM;
    r->headers = l;
    return 0;
}

/* Per-attempt state back to the start. */
static void attempt_reset(struct s3_req *r)
{
    r->status = 0;
    r->etag[0] = '\0';
    r->content_length = UINT64_MAX;
    r->range_start = r->range_end = r->range_total = UINT64_MAX;
    r->kms = 0;
    r->bucket_region[0] = '\0';
    r->retry_after_s = 0;
    free(r->err_body);
    r->err_body = NULL;
    r->err_len = 0;
    r->rd_i = 0;
    r->rd_ioff = 0;
    r->rd_pos = 0;
    r->wr_pos = 0;
    r->sink_err = 0;
    r->body_err = 0;
    r->hdr_err = 0;
    r->enough = 0;
    r->corrupt = 0;
    r->errbuf[0] = '\0';
    if (r->sink == S3_SINK_GROW)
        r->buf_len = 0;
    if (r->md5) {
        EVP_MD_CTX_free(r->md5);
        r->md5 = NULL;
    }
}

void s3_req_reset(struct s3_req *r)
{
    attempt_reset(r);
    r->rc = 0;
    r->cc = 0;
    free(r->msg);
    r->msg = NULL;
    r->code[0] = '\0';
    r->err_message[0] = '\0';
    r->attempts = 0;
    r->first_ms = 0;
    r->due_ms = 0;
    r->next = NULL;
}

void s3_req_clear(struct s3_req *r)
{
    if (!r)
        return;
    attempt_reset(r);
    curl_slist_free_all(r->headers);
    curl_slist_free_all(r->sent);
    free(r->key);
    free(r->query);
    free(r->msg);
    if (r->sink == S3_SINK_GROW)
        free(r->buf);
    memset(r, 0, sizeof *r);
}

char *s3_full_key(struct s3 *s, const char *key)
{
    const char *p = s->cfg.prefix;
    size_t pl = strlen(p), kl = key ? strlen(key) : 0;
    char *out = malloc(pl + 1 + kl + 1);
    if (!out)
        return NULL;
    if (pl && kl)
        sprintf(out, "%s/%s", p, key);
    else
        sprintf(out, "%s%s", p, key ? key : "");
    return out;
}

char *s3_object_url(struct s3 *s, const char *key)
{
    char *full = key ? s3_full_key(s, key) : NULL;
    if (key && !full)
        return NULL;
    size_t n = strlen(s->cfg.bucket) + (full ? strlen(full) : 0) + 8;
    char *out = malloc(n);
    if (out)
        snprintf(out, n, "s3://%s%s%s", s->cfg.bucket, full ? "/" : "", full ? full : "");
    free(full);
    return out;
}

/* The URL of a request: path-style endpoint/bucket/key or virtual-hosted bucket.host/key. */
static char *request_url(struct s3 *s, const struct s3_req *r)
{
    char *full = r->key ? s3_full_key(s, r->key) : NULL;
    char *enc = full ? s3_uri_encode(full, 1) : NULL;
    free(full);
    if (r->key && !enc)
        return NULL;
    const char *ep = s->cfg.endpoint;
    size_t n = strlen(ep) + strlen(s->cfg.bucket) + (enc ? strlen(enc) : 0) +
               (r->query ? strlen(r->query) : 0) + 16;
    char *url = malloc(n);
    if (!url) {
        free(enc);
        return NULL;
    }
    if (s->cfg.path_style) {
        snprintf(url, n, "%s/%s%s%s%s%s", ep, s->cfg.bucket, enc ? "/" : "", enc ? enc : "",
                 r->query ? "?" : "", r->query ? r->query : "");
    } else {
        const char *host = strstr(ep, "://") + 3;
        snprintf(url, n, "%.*s%s.%s/%s%s%s", (int)(host - ep), ep, s->cfg.bucket, host,
                 enc ? enc : "", r->query ? "?" : "", r->query ? r->query : "");
    }
    free(enc);
    return url;
}

/* ---- callbacks -------------------------------------------------------------------------------- */

static int header_is(const char *line, size_t len, const char *name, const char **val,
                     size_t *vlen)
{
    size_t n = strlen(name);
    if (len <= n || line[n] != ':' || strncasecmp(line, name, n) != 0)
        return 0;
    const char *v = line + n + 1;
    const char *e = line + len;
    while (v < e && (*v == ' ' || *v == '\t'))
        v++;
    while (e > v && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' '))
        e--;
    *val = v;
    *vlen = (size_t)(e - v);
    return 1;
}

static uint64_t parse_u64(const char *v, size_t n, const char **end)
{
    uint64_t x = 0;
    size_t i = 0;
    for (; i < n && v[i] >= '0' && v[i] <= '9'; i++)
        x = x * 10 + (uint64_t)(v[i] - '0');
    if (end)
        *end = v + i;
    return i ? x : UINT64_MAX;
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *ud)
{
    struct s3_req *r = ud;
    size_t len = size * nitems;
    if (len >= 5 && !strncmp(buf, "HTTP/", 5)) {
        /* a new response (a 100 Continue comes before the real one) */
        const char *sp = memchr(buf, ' ', len);
        r->status = sp ? (long)parse_u64(sp + 1, len - (size_t)(sp + 1 - buf), NULL) : 0;
        r->etag[0] = '\0';
        r->content_length = UINT64_MAX;
        r->range_start = r->range_end = r->range_total = UINT64_MAX;
        r->kms = 0;
        return len;
    }
    if (len <= 2 && (buf[0] == '\r' || buf[0] == '\n')) {
        if (r->status >= 100 && r->status < 200)
            return len;
        if (r->status >= 200 && r->status < 300) {
            if (r->get_verify && !r->md5) {
                r->md5 = EVP_MD_CTX_new();
                if (!r->md5 || !EVP_DigestInit_ex(r->md5, EVP_md5(), NULL)) {
                    r->hdr_err = MF_ENOMEM;
                    return 0;
                }
            }
            if (r->on_headers) {
                int rc = r->on_headers(r);
                if (rc == S3_HEADERS_ENOUGH) {
                    r->enough = 1;
                    return 0;
                }
                if (rc) {
                    r->hdr_err = rc;
                    return 0;
                }
            }
        }
        return len;
    }
    const char *v;
    size_t vl;
    if (header_is(buf, len, "ETag", &v, &vl)) {
        s3_etag_clean(v, vl, r->etag, sizeof r->etag);
    } else if (header_is(buf, len, "Content-Length", &v, &vl)) {
        r->content_length = parse_u64(v, vl, NULL);
    } else if (header_is(buf, len, "Content-Range", &v, &vl)) {
        /* bytes START-END/TOTAL */
        if (vl > 6 && !strncmp(v, "bytes ", 6)) {
            const char *p = v + 6, *e = v + vl, *q;
            uint64_t a = parse_u64(p, (size_t)(e - p), &q);
            if (q < e && *q == '-') {
                uint64_t b = parse_u64(q + 1, (size_t)(e - q - 1), &q);
                if (q < e && *q == '/') {
                    r->range_start = a;
                    r->range_end = b;
                    r->range_total = parse_u64(q + 1, (size_t)(e - q - 1), NULL);
                }
            }
        }
    } else if (header_is(buf, len, "x-amz-server-side-encryption", &v, &vl)) {
        if (vl >= 7 && !strncasecmp(v, "aws:kms", 7))
            r->kms = 1;
    } else if (header_is(buf, len, "x-amz-server-side-encryption-customer-algorithm", &v, &vl)) {
        r->kms = 1;
    } else if (header_is(buf, len, "x-amz-bucket-region", &v, &vl)) {
        snprintf(r->bucket_region, sizeof r->bucket_region, "%.*s", (int)vl, v);
    } else if (header_is(buf, len, "Retry-After", &v, &vl)) {
        uint64_t sec = parse_u64(v, vl, NULL);
        if (sec != UINT64_MAX)
            r->retry_after_s = (double)sec;
    }
    return len;
}

static size_t on_write(char *p, size_t size, size_t nmemb, void *ud)
{
    struct s3_req *r = ud;
    size_t len = size * nmemb;
    if (r->status < 200 || r->status >= 300) {
        if (r->err_len < ERR_BODY_MAX) {
            size_t take = len < ERR_BODY_MAX - r->err_len ? len : ERR_BODY_MAX - r->err_len;
            char *nb = realloc(r->err_body, r->err_len + take + 1);
            if (nb) {
                memcpy(nb + r->err_len, p, take);
                r->err_len += take;
                nb[r->err_len] = '\0';
                r->err_body = nb;
            }
        }
        return len;
    }
    if (r->md5)
        EVP_DigestUpdate(r->md5, p, len);
    switch (r->sink) {
    case S3_SINK_GROW:
        if (s3_append(&r->buf, &r->buf_len, &r->buf_cap, p, len)) {
            r->sink_err = ENOMEM;
            return 0;
        }
        break;
    case S3_SINK_FIXED:
        if (r->wr_pos + len > r->buf_cap) {
            r->sink_err = EOVERFLOW;   /* more than the object's announced size */
            return 0;
        }
        memcpy(r->buf + r->wr_pos, p, len);
        break;
    case S3_SINK_FD:
        for (size_t done = 0; done < len;) {
            ssize_t w = pwrite(r->sink_fd, p + done, len - done,
                               (off_t)(r->sink_off + r->wr_pos + done));
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                r->sink_err = w < 0 ? errno : EIO;
                return 0;
            }
            done += (size_t)w;
        }
        break;
    default:
        break;
    }
    r->wr_pos += len;
    return len;
}

/* Place the body cursor at position pos of the body window. */
static void body_seek(struct s3_req *r, uint64_t pos)
{
    r->rd_pos = pos;
    if (r->body.kind != S3_BODY_IOV)
        return;
    uint64_t skip = r->body.off + pos;
    size_t i = 0;
    while (i < r->body.niov && skip >= r->body.iov[i].len) {
        skip -= r->body.iov[i].len;
        i++;
    }
    r->rd_i = i;
    r->rd_ioff = (size_t)skip;
}

static size_t on_read(char *dst, size_t size, size_t nitems, void *ud)
{
    struct s3_req *r = ud;
    size_t want = size * nitems;
    uint64_t left = r->body.len - r->rd_pos;
    if (!left)
        return 0;
    if (want > left)
        want = (size_t)left;
    if (r->body.kind == S3_BODY_IOV) {
        size_t got = 0;
        while (got < want && r->rd_i < r->body.niov) {
            const struct mf_iov *v = &r->body.iov[r->rd_i];
            size_t avail = v->len - r->rd_ioff;
            size_t take = avail < want - got ? avail : want - got;
            memcpy(dst + got, (const char *)v->base + r->rd_ioff, take);
            got += take;
            r->rd_ioff += take;
            if (r->rd_ioff == v->len) {
                r->rd_i++;
                r->rd_ioff = 0;
            }
        }
        r->rd_pos += got;
        return got;
    }
    if (r->body.kind == S3_BODY_FD) {
        for (;;) {
            ssize_t n = pread(r->body.fd, dst, want, (off_t)(r->body.off + r->rd_pos));
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                r->body_err = n < 0 ? errno : EIO;   /* EIO: the file shrank meanwhile */
                return CURL_READFUNC_ABORT;
            }
            r->rd_pos += (uint64_t)n;
            return (size_t)n;
        }
    }
    return 0;
}

static int on_seek(void *ud, curl_off_t offset, int origin)
{
    struct s3_req *r = ud;
    if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > r->body.len)
        return CURL_SEEKFUNC_CANTSEEK;
    body_seek(r, (uint64_t)offset);
    return CURL_SEEKFUNC_OK;
}

/* ---- starting a transfer ------------------------------------------------------------------- */

static CURL *take_easy(struct s3 *s)
{
    if (s->n_idle)
        return s->idle[--s->n_idle];
    return curl_easy_init();
}

static void give_easy(struct s3 *s, CURL *e)
{
    if (!e)
        return;
    if (s->n_idle == s->cap_idle) {
        size_t nc = s->cap_idle ? s->cap_idle * 2 : 16;
        CURL **p = realloc(s->idle, nc * sizeof *p);
        if (!p) {
            curl_easy_cleanup(e);
            return;
        }
        s->idle = p;
        s->cap_idle = nc;
    }
    s->idle[s->n_idle++] = e;
}

static int compute_digests(struct s3 *s, struct s3_req *r)
{
    if (r->digests_done || r->body.kind == S3_BODY_NONE)
        return 0;
    int want_sha = s->cfg.sign_payload && !s->cfg.anonymous;
    int want_md5 = r->want_md5 && (s->cfg.content_md5 || s->cfg.verify_etag);
    if (!want_md5 && !want_sha)
        return 0;
    unsigned char md5[16], sha[32];
    int rc = s3_body_digest(&r->body, md5, want_sha ? sha : NULL);
    if (rc)
        return rc;
    s3_hex(md5, 16, r->md5_hex);
    s3_base64(md5, 16, r->md5_b64);
    if (want_sha)
        s3_hex(sha, 32, r->sha256_hex);
    r->digests_done = 1;
    return 0;
}

#define SET(opt, val)                                                                          \
    do {                                                                                       \
        if (curl_easy_setopt(e, opt, val) != CURLE_OK)                                         \
            goto nomem;                                                                        \
    } while (0)

/* Set up r's transfer on a pooled easy handle and add it to the multi handle. */
static int start(struct s3_exec *ex, struct s3_req *r)
{
    struct s3 *s = ex->s;
    attempt_reset(r);
    if (r->on_start) {
        int src = r->on_start(r);
        if (src)
            return src;
    }
    int rc = compute_digests(s, r);
    if (rc) {
        r->body_err = rc > 0 ? rc : ENOMEM;
        return rc;
    }
    CURL *e = take_easy(s);
    if (!e)
        return MF_ENOMEM;
    curl_easy_reset(e);
    r->easy = e;
    char *url = request_url(s, r);
    if (!url)
        goto nomem;
    CURLcode uc = curl_easy_setopt(e, CURLOPT_URL, url);
    free(url);
    if (uc != CURLE_OK)
        goto nomem;

    /* headers (all of them signed by libcurl's SigV4) */
    struct curl_slist *h = NULL;
    char line[1200];
    const char *payload = r->body.kind == S3_BODY_NONE ? EMPTY_SHA256
                          : r->sha256_hex[0]          ? r->sha256_hex
                                                      : "UNSIGNED-PAYLOAD";
    snprintf(line, sizeof line, "x-amz-content-sha256: %s", payload);
    h = curl_slist_append(h, line);
    if (h && s->cfg.session_token && !s->cfg.anonymous) {
        /* the token may be long: build the line on the heap */
        size_t n = strlen(s->cfg.session_token) + 32;
        char *t = malloc(n);
        struct curl_slist *h2 = NULL;
        if (t) {
            snprintf(t, n, "x-amz-security-token: %s", s->cfg.session_token);
            h2 = curl_slist_append(h, t);
            memset(t, 0, n);
            free(t);
        }
        if (!h2) {
            curl_slist_free_all(h);
            h = NULL;
        }
    }
    if (h && r->want_md5 && s->cfg.content_md5 && r->body.kind != S3_BODY_NONE && r->md5_b64[0]) {
        snprintf(line, sizeof line, "Content-MD5: %s", r->md5_b64);
        h = curl_slist_append(h, line);
    }
    for (struct curl_slist *l = r->headers; h && l; l = l->next)
        h = curl_slist_append(h, l->data);
    if (!h)
        goto nomem;
    r->sent = h;
    SET(CURLOPT_HTTPHEADER, h);

    if (!s->cfg.anonymous) {
        SET(CURLOPT_AWS_SIGV4, s->sigv4);
        SET(CURLOPT_USERNAME, s->cfg.access_key);
        SET(CURLOPT_PASSWORD, s->cfg.secret_key);
    }
    SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    SET(CURLOPT_PATH_AS_IS, 1L);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_TCP_KEEPALIVE, 1L);
    SET(CURLOPT_CONNECTTIMEOUT, (long)s->cfg.connect_timeout_s);
    SET(CURLOPT_LOW_SPEED_LIMIT, 1L);
    SET(CURLOPT_LOW_SPEED_TIME, (long)s->cfg.stall_timeout_s);
    SET(CURLOPT_BUFFERSIZE, 256L * 1024);
    SET(CURLOPT_UPLOAD_BUFFERSIZE, 1024L * 1024);
    SET(CURLOPT_ERRORBUFFER, r->errbuf);
    SET(CURLOPT_PRIVATE, r);
    SET(CURLOPT_HEADERFUNCTION, on_header);
    SET(CURLOPT_HEADERDATA, r);
    SET(CURLOPT_WRITEFUNCTION, on_write);
    SET(CURLOPT_WRITEDATA, r);
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    /* large bodies go with "Expect: 100-continue" (a header libcurl adds itself; removing it
     * with "Expect:" would put an empty header among the signed ones, which servers reject);
     * do not wait long for a server or proxy that ignores it */
    SET(CURLOPT_EXPECT_100_TIMEOUT_MS, 200L);
    if (s->cfg.ca_bundle)
        SET(CURLOPT_CAINFO, s->cfg.ca_bundle);

    if (!strcmp(r->method, "GET")) {
        SET(CURLOPT_HTTPGET, 1L);
    } else if (!strcmp(r->method, "HEAD")) {
        SET(CURLOPT_NOBODY, 1L);
    } else if (!strcmp(r->method, "DELETE")) {
        SET(CURLOPT_CUSTOMREQUEST, "DELETE");
    } else {
        /* PUT and POST send a body through the read callback (POST: an upload with its
         * method renamed, so that no form content type is added) */
        body_seek(r, 0);
        SET(CURLOPT_UPLOAD, 1L);
        SET(CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->body.len);
        SET(CURLOPT_READFUNCTION, on_read);
        SET(CURLOPT_READDATA, r);
        SET(CURLOPT_SEEKFUNCTION, on_seek);
        SET(CURLOPT_SEEKDATA, r);
        if (strcmp(r->method, "PUT"))
            SET(CURLOPT_CUSTOMREQUEST, r->method);
    }
    if (curl_multi_add_handle(s->multi, e) != CURLM_OK)
        goto nomem;
    if (!r->first_ms)
        r->first_ms = s3_now_ms();
    ex->running++;
    return 0;
nomem:
    curl_slist_free_all(r->sent);
    r->sent = NULL;
    give_easy(s, e);
    r->easy = NULL;
    return MF_ENOMEM;
}

/* ---- outcomes ---------------------------------------------------------------------------------- */

static int transient_curl(int cc)
{
    switch (cc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_UPLOAD_FAILED:
    case CURLE_SEND_FAIL_REWIND:
    case CURLE_WEIRD_SERVER_REPLY:
        return 1;
    default:
        return 0;
    }
}

static int connect_failure(int cc)
{
    return cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST;
}

static const char *const retry_codes[] = {
    "SlowDown", "InternalError", "ServiceUnavailable", "RequestTimeout", "BadDigest",
    "IncompleteBody", "OperationAborted", "Throttling", "ThrottlingException",
    "RequestLimitExceeded", "TooManyRequests", NULL,
};

static int retryable_code(const char *code)
{
    for (size_t i = 0; retry_codes[i]; i++)
        if (!strcmp(code, retry_codes[i]))
            return 1;
    return 0;
}

/* Code and message of an S3 error body into r->code / r->err_message. */
static void parse_error(struct s3_req *r)
{
    const char *v;
    size_t n;
    if (!r->err_body)
        return;
    if (s3_xml_get(r->err_body, r->err_len, "Code", &v, &n)) {
        char *t = s3_xml_unescape(v, n);
        if (t)
            snprintf(r->code, sizeof r->code, "%s", t);
        free(t);
    }
    if (s3_xml_get(r->err_body, r->err_len, "Message", &v, &n)) {
        char *t = s3_xml_unescape(v, n);
        if (t)
            snprintf(r->err_message, sizeof r->err_message, "%s", t);
        free(t);
    }
    if (!r->bucket_region[0] && s3_xml_get(r->err_body, r->err_len, "Region", &v, &n) && n < 60)
        snprintf(r->bucket_region, sizeof r->bucket_region, "%.*s", (int)n, v);
}

static int is_md5_etag(const char *etag)
{
    if (strlen(etag) != 32)
        return 0;
    for (const char *p = etag; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') || (*p >= 'A' && *p <= 'F')))
            return 0;
    return 1;
}

/* A 2xx answer: check what can be checked. 0 fine, 1 retry, <0 fail. */
static int check_answer(struct s3 *s, struct s3_req *r)
{
    if (s->cfg.verify_etag && !r->kms && is_md5_etag(r->etag)) {
        if (r->want_md5 && r->md5_hex[0] && strcasecmp(r->etag, r->md5_hex) != 0) {
            snprintf(r->code, sizeof r->code, "BadDigest");
            snprintf(r->err_message, sizeof r->err_message,
                     "the server stored data whose MD5 (%s) is not that of the data sent (%s)",
                     r->etag, r->md5_hex);
            r->corrupt = 1;
            return 1;
        }
        if (r->md5) {
            /* only a whole object can be checked against its ETag */
            int whole = r->status == 200 ||
                        (r->status == 206 && r->range_start == 0 &&
                         r->range_total != UINT64_MAX && r->range_end + 1 == r->range_total);
            if (whole) {
                unsigned char d[16];
                char hex[S3_MD5_HEX];
                EVP_DigestFinal_ex(r->md5, d, NULL);
                s3_hex(d, 16, hex);
                if (strcasecmp(hex, r->etag) != 0) {
                    snprintf(r->code, sizeof r->code, "ETagMismatch");
                    snprintf(r->err_message, sizeof r->err_message,
                             "the data received has MD5 %s, but its ETag says %s", hex, r->etag);
                    r->corrupt = 1;
                    return 1;
                }
            }
        }
    }
    if (r->validate)
        return r->validate(r);
    return 0;
}

static int64_t backoff_ms(struct s3 *s, struct s3_req *r)
{
    uint64_t d = s->cfg.retry_base_ms;
    for (unsigned i = 1; i < r->attempts && d < s->cfg.retry_max_ms; i++)
        d *= 2;
    if (d > s->cfg.retry_max_ms)
        d = s->cfg.retry_max_ms;
    /* jitter: anywhere in [d/2, d] */
    uint64_t half = d / 2;
    d = half + (half ? s3_random() % (d - half + 1) : 0);
    if (r->retry_after_s > 0) {
        uint64_t ra = (uint64_t)(r->retry_after_s * 1000);
        if (ra > s->cfg.retry_max_ms)
            ra = s->cfg.retry_max_ms;
        if (ra > d)
            d = ra;
    }
    return (int64_t)d;
}

static void push_ready(struct s3_exec *ex, struct s3_req *r)
{
    r->next = NULL;
    if (ex->ready_tail)
        ex->ready_tail->next = r;
    else
        ex->ready_head = r;
    ex->ready_tail = r;
}

static const char *why_retry(struct s3_req *r, char *buf, size_t n)
{
    if (r->cc != CURLE_OK)
        snprintf(buf, n, "%s", r->errbuf[0] ? r->errbuf : curl_easy_strerror((CURLcode)r->cc));
    else
        snprintf(buf, n, "HTTP %ld%s%s", r->status, r->code[0] ? " " : "", r->code);
    return buf;
}

/* A transfer ended: retry it, or settle its outcome and call its on_done. */
static void finish(struct s3_exec *ex, struct s3_req *r, CURL *e, CURLcode cc)
{
    struct s3 *s = ex->s;
    int64_t now = s3_now_ms();
    r->attempts++;
    r->cc = cc;
    s->n_requests++;
    long st = 0;
    if (curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &st) == CURLE_OK && st)
        r->status = st;
    if (r->status > 0)
        s->answered = 1;
    int retry = 0, rc = 0;
    r->code[0] = '\0';
    r->err_message[0] = '\0';

    if (r->enough) {
        s->bucket_ok = 1;   /* a 2xx answer whose headers said everything */
    } else if (r->hdr_err) {
        rc = r->hdr_err;
    } else if (r->body_err) {
        rc = r->body_err;
    } else if (r->sink_err) {
        rc = r->sink_err;
        if (r->sink_err == EOVERFLOW) {   /* the server sent more than it announced */
            snprintf(r->code, sizeof r->code, "TooMuchData");
            rc = MF_ECORRUPT;
            retry = 1;
        }
    } else if (cc != CURLE_OK) {
        rc = connect_failure(cc) ? MF_EUNAVAIL : cc == CURLE_OPERATION_TIMEDOUT ? MF_ETIMEOUT
                                                                                  : MF_EIO;
        retry = transient_curl(cc);
    } else if (r->status >= 200 && r->status < 300) {
        int v = check_answer(s, r);
        if (v == 1) {
            rc = r->corrupt ? MF_ECORRUPT : MF_EIO;
            retry = 1;
        } else if (v < 0) {
            rc = v;
        }
        if (v == 0 || v == 1)
            s->bucket_ok = 1;
    } else {
        parse_error(r);
        if (r->status == 404 && r->head_404_ok && !r->err_body) {
            rc = MF_ENOTFOUND;   /* an answer: absent */
        } else {
            rc = MF_EIO;
            retry = r->status >= 500 || r->status == 429 || r->status == 408 ||
                    retryable_code(r->code);
        }
        if (!strcmp(r->code, "NoSuchKey") || !strcmp(r->code, "NoSuchUpload"))
            s->bucket_ok = 1;
    }

    if (retry && !r->no_retry) {
        unsigned max = s->cfg.max_attempts;
        /* an endpoint that has never answered is more likely wrong than restarting */
        if (cc != CURLE_OK && connect_failure(cc) && !s->answered && max > 3)
            max = 3;
        int64_t delay = backoff_ms(s, r);
        int64_t spent = now - r->first_ms;
        if (r->attempts < max && spent + delay <= (int64_t)s->cfg.retry_total_s * 1000) {
            char why[CURL_ERROR_SIZE + 64];
            s->n_retries++;
            char *url = s3_object_url(s, r->key);
            s3_log(s, MF_LOG_DEBUG, "retrying %s %s after %s (attempt %u of %u, in %lld ms)",
                   r->method, url ? url : "?", why_retry(r, why, sizeof why), r->attempts + 1,
                   max, (long long)delay);
            free(url);
            r->due_ms = now + delay;
            r->next = ex->delayed;
            ex->delayed = r;
            return;
        }
    }
    r->elapsed_ms = now - (r->first_ms ? r->first_ms : now);
    r->rc = rc;
    if (rc && !(rc == MF_ENOTFOUND && r->head_404_ok && !r->err_body))
        r->msg = s3_describe(s, r, &r->rc);
    if (r->on_done)
        r->on_done(ex, r);
}

/* ---- the run --------------------------------------------------------------------------------- */

void s3_exec_init(struct s3_exec *ex, struct s3 *s)
{
    memset(ex, 0, sizeof *ex);
    ex->s = s;
}

void s3_exec_add(struct s3_exec *ex, struct s3_req *r)
{
    r->attempts = 0;
    r->first_ms = 0;
    r->rc = 0;
    free(r->msg);
    r->msg = NULL;
    push_ready(ex, r);
}

int s3_exec_run(struct s3_exec *ex)
{
    struct s3 *s = ex->s;
    pthread_mutex_lock(&s->run_lock);
    int rc = 0;
    while (ex->ready_head || ex->delayed || ex->running) {
        int64_t now = s3_now_ms();
        /* retries whose time has come go to the back of the queue */
        for (struct s3_req **pp = &ex->delayed; *pp;) {
            struct s3_req *r = *pp;
            if (r->due_ms <= now) {
                *pp = r->next;
                push_ready(ex, r);
            } else {
                pp = &r->next;
            }
        }
        while (ex->running < s->cfg.max_concurrency && ex->ready_head) {
            struct s3_req *r = ex->ready_head;
            ex->ready_head = r->next;
            if (!ex->ready_head)
                ex->ready_tail = NULL;
            r->next = NULL;
            if (r->cancel && *r->cancel) {
                /* its job has already failed: do not send it */
                r->attempts++;
                r->rc = MF_ECANCELED;
                if (r->on_done)
                    r->on_done(ex, r);
                continue;
            }
            int src = start(ex, r);
            if (src) {
                /* could not even start it: settle it now */
                r->attempts++;
                r->rc = src;
                char *url = s3_object_url(s, r->key);
                char buf[512];
                if (r->msg)
                    buf[0] = '\0';   /* on_start said why */
                else if (r->body_err)
                    snprintf(buf, sizeof buf,
                             "s3 storage: cannot read the data to store as %s: %s",
                             url ? url : "?", strerror(r->body_err));
                else
                    snprintf(buf, sizeof buf, "s3 storage: out of memory starting %s %s",
                             r->method, url ? url : "?");
                free(url);
                if (!r->msg)
                    r->msg = strdup(buf);
                if (r->on_done)
                    r->on_done(ex, r);
            }
        }
        int still = 0;
        curl_multi_perform(s->multi, &still);
        CURLMsg *m;
        int left;
        int finished = 0;
        while ((m = curl_multi_info_read(s->multi, &left))) {
            if (m->msg != CURLMSG_DONE)
                continue;
            CURL *e = m->easy_handle;
            CURLcode res = m->data.result;
            struct s3_req *r = NULL;
            curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&r);
            ex->running--;
            finished++;
            if (!r) {
                curl_multi_remove_handle(s->multi, e);
                give_easy(s, e);
                continue;
            }
            /* the transfer's resources are detached first: on_done may reuse r */
            curl_multi_remove_handle(s->multi, e);
            r->easy = NULL;
            curl_slist_free_all(r->sent);
            r->sent = NULL;
            finish(ex, r, e, res);
            give_easy(s, e);
        }
        if (finished || (ex->ready_head && ex->running < s->cfg.max_concurrency))
            continue;
        int timeout = 1000;
        now = s3_now_ms();
        for (struct s3_req *r = ex->delayed; r; r = r->next) {
            int64_t d = r->due_ms - now;
            if (d < timeout)
                timeout = d < 0 ? 0 : (int)d;
        }
        if (!ex->running && !ex->ready_head && !ex->delayed)
            break;
        curl_multi_poll(s->multi, NULL, 0, timeout, NULL);
    }
    pthread_mutex_unlock(&s->run_lock);
    return rc;
}

/* ---- messages ------------------------------------------------------------------------------------ */

char *s3_describe(struct s3 *s, struct s3_req *r, int *rcp)
{
    char *url = s3_object_url(s, r->key);
    char what[1400], why[1200], todo[900];
    int rc = *rcp;
    /* which step of an operation it was */
    char step[600] = "";
    const char *q = r->query ? r->query : "";
    const char *pn = strstr(q, "partNumber=");
    if (pn)
        snprintf(step, sizeof step, " (part %ld of a multipart upload)", strtol(pn + 11, NULL, 10));
    else if (!strcmp(q, "uploads="))
        snprintf(step, sizeof step, " (starting a multipart upload)");
    else if (!strncmp(q, "uploadId=", 9))
        snprintf(step, sizeof step, " (%s a multipart upload)",
                 strcmp(r->method, "DELETE") ? "completing" : "aborting");
    else if (strstr(q, "list-type=2")) {
        const char *p = strstr(q, "prefix=");
        char *pre = p ? s3_url_decode(p + 7, strcspn(p + 7, "&")) : NULL;
        snprintf(step, sizeof step, " (listing keys under '%.500s')", pre ? pre : "");
        free(pre);
    }
    snprintf(what, sizeof what, "s3 storage: %s %s%s at %s", r->label ? r->label : r->method,
             url ? url : "?", step, s->cfg.endpoint);
    free(url);
    todo[0] = '\0';
    char attempts[96];
    if (r->attempts > 1)
        snprintf(attempts, sizeof attempts, " (after %u attempts over %.1f s)", r->attempts,
                 (double)r->elapsed_ms / 1000.0);
    else
        attempts[0] = '\0';
    const char *code = r->code;
    char status[128];
    snprintf(status, sizeof status, "HTTP %ld%s%s", r->status, code[0] ? " " : "", code);
    const char *msg = r->err_message;
    char detail[400];
    if (msg[0])
        snprintf(detail, sizeof detail, " (%s)", msg);
    else
        detail[0] = '\0';

    if (r->hdr_err || r->sink_err || r->body_err) {
        int e = r->hdr_err ? r->hdr_err : r->sink_err ? r->sink_err : r->body_err;
        if (r->sink_err == EOVERFLOW) {
            snprintf(why, sizeof why, "the server sent more data than the object's size%s",
                     attempts);
            rc = MF_ECORRUPT;
        } else if (e > 0) {
            snprintf(why, sizeof why, "%s %s: %s", r->body_err ? "reading the data to send failed"
                                                               : "storing the data received failed",
                     attempts, strerror(e));
            if (e == ENOSPC || e == EDQUOT)
                snprintf(todo, sizeof todo, "; the local disk is full: free space and retry");
            rc = e;
        } else {
            snprintf(why, sizeof why, "%s", e == MF_ENOMEM ? "out of memory" : "the answer was refused");
            rc = e;
        }
    } else if (r->cc != CURLE_OK) {
        const char *cerr = r->errbuf[0] ? r->errbuf : curl_easy_strerror((CURLcode)r->cc);
        if (connect_failure(r->cc)) {
            snprintf(why, sizeof why, "cannot reach the S3 endpoint: %s%s", cerr, attempts);
            snprintf(todo, sizeof todo,
                     "; check that the server is running and that the endpoint (from %s) is "
                     "right",
                     s->cfg.endpoint_source);
            rc = MF_EUNAVAIL;
        } else if (r->cc == CURLE_OPERATION_TIMEDOUT) {
            snprintf(why, sizeof why, "timed out: %s%s", cerr, attempts);
            snprintf(todo, sizeof todo,
                     "; the endpoint stopped answering: check it, or raise "
                     "MFLOW_S3_STALL_TIMEOUT_S / MFLOW_S3_CONNECT_TIMEOUT_S");
            rc = MF_ETIMEOUT;
        } else {
            snprintf(why, sizeof why, "the connection failed: %s%s", cerr, attempts);
            snprintf(todo, sizeof todo,
                     "; the server dropped the connection: check it and retry (retries are "
                     "bounded by MFLOW_S3_MAX_ATTEMPTS and MFLOW_S3_RETRY_TOTAL_S)");
            rc = MF_EIO;
        }
    } else if (!strcmp(code, "SignatureDoesNotMatch")) {
        snprintf(why, sizeof why, "%s: the server refused the request signature", status);
        snprintf(todo, sizeof todo,
                 "; the secret access key does not match the access key id: check the secret "
                 "key (credentials from %s)",
                 s->cfg.cred_source);
        rc = MF_EPERM;
    } else if (!strcmp(code, "InvalidAccessKeyId")) {
        snprintf(why, sizeof why, "%s: the server does not know the access key id", status);
        snprintf(todo, sizeof todo,
                 "; check the access key id (credentials from %s) and that it belongs to this "
                 "endpoint",
                 s->cfg.cred_source);
        rc = MF_EPERM;
    } else if (!strcmp(code, "ExpiredToken") || !strcmp(code, "InvalidToken") ||
               !strcmp(code, "TokenRefreshRequired")) {
        snprintf(why, sizeof why, "%s: the session token is expired or invalid", status);
        snprintf(todo, sizeof todo, "; get fresh credentials (credentials from %s)",
                 s->cfg.cred_source);
        rc = MF_EPERM;
    } else if (!strcmp(code, "RequestTimeTooSkewed")) {
        snprintf(why, sizeof why, "%s: this machine's clock differs too much from the server's",
                 status);
        snprintf(todo, sizeof todo, "; set the clock right (NTP) and retry");
        rc = MF_EPERM;
    } else if (!strcmp(code, "NoSuchBucket")) {
        snprintf(why, sizeof why, "%s: bucket '%s' does not exist at this endpoint", status,
                 s->cfg.bucket);
        snprintf(todo, sizeof todo,
                 "; create it (aws s3 mb s3://%s%s%s) or fix the datastore root (%s)",
                 s->cfg.bucket, s->cfg.endpoint_given ? " --endpoint-url " : "",
                 s->cfg.endpoint_given ? s->cfg.endpoint : "", s->cfg.root_url);
        rc = MF_EUNAVAIL;
    } else if (r->status == 301 || r->status == 307 || !strcmp(code, "PermanentRedirect") ||
               !strcmp(code, "AuthorizationHeaderMalformed") ||
               (r->status == 400 && r->bucket_region[0] &&
                strcmp(r->bucket_region, s->cfg.region))) {
        if (r->bucket_region[0])
            snprintf(why, sizeof why, "%s: bucket '%s' is in region %s, not %s", status,
                     s->cfg.bucket, r->bucket_region, s->cfg.region);
        else
            snprintf(why, sizeof why, "%s%s: the bucket is not served at this region's endpoint",
                     status, detail);
        snprintf(todo, sizeof todo, "; set AWS_REGION%s%s (or MFLOW_S3_REGION)",
                 r->bucket_region[0] ? "=" : " to the bucket's region",
                 r->bucket_region[0] ? r->bucket_region : "");
        rc = MF_EINVAL;
    } else if (r->status == 403) {
        snprintf(why, sizeof why, "%s%s: access denied", status, detail);
        snprintf(todo, sizeof todo,
                 "; the credentials (from %s) lack permission for this request on bucket '%s'",
                 s->cfg.cred_source, s->cfg.bucket);
        rc = MF_EPERM;
    } else if (r->status == 404) {
        snprintf(why, sizeof why, "%s: no such object", status);
        rc = MF_ENOTFOUND;
    } else if (r->status == 412) {
        snprintf(why, sizeof why, "%s: the object changed while it was being read", status);
        snprintf(todo, sizeof todo, "; read it again");
        rc = MF_EIO;
    } else if (r->corrupt) {
        snprintf(why, sizeof why, "%s: %s%s", code, msg, attempts);
        snprintf(todo, sizeof todo,
                 "; the data was damaged in transit every time: check the network or proxy "
                 "between here and the endpoint");
        rc = MF_ECORRUPT;
    } else if (r->status >= 500 || r->status == 429 || retryable_code(code)) {
        snprintf(why, sizeof why, "%s%s%s", status, detail, attempts);
        snprintf(todo, sizeof todo,
                 "; the server kept failing: try again later, or allow more retries with "
                 "MFLOW_S3_MAX_ATTEMPTS / MFLOW_S3_RETRY_TOTAL_S");
        rc = MF_EIO;
    } else if (r->status >= 200 && r->status < 300) {
        snprintf(why, sizeof why, "HTTP %ld%s%s%s: unexpected answer%s", r->status,
                 code[0] ? " " : "", code, detail, attempts);
        if (!rc)
            rc = MF_EIO;
    } else {
        snprintf(why, sizeof why, "%s%s%s", status, detail, attempts);
        if (r->status == 400 && !strcmp(code, "InvalidBucketName"))
            snprintf(todo, sizeof todo, "; fix the bucket name in the datastore root (%s)",
                     s->cfg.root_url);
        if (!rc || rc == MF_EIO)
            rc = r->status == 400 ? MF_EINVAL : MF_EIO;
    }
    *rcp = rc;
    size_t n = strlen(what) + strlen(why) + strlen(todo) + 4;
    char *out = malloc(n);
    if (out)
        snprintf(out, n, "%s: %s%s", what, why, todo);
    return out;
}

/* ---- the bucket ------------------------------------------------------------------------------- */

int s3_check_bucket(struct s3 *s)
{
    if (s->bucket_ok)
        return 1;
    struct s3_req r;
    memset(&r, 0, sizeof r);
    r.method = "HEAD";
    r.head_404_ok = 1;
    struct s3_exec ex;
    s3_exec_init(&ex, s);
    s3_exec_add(&ex, &r);
    int rc = s3_exec_run(&ex);
    int out;
    if (rc) {
        out = s3_fail(s, rc, "s3 storage: out of memory checking bucket '%s'", s->cfg.bucket);
    } else if (r.rc == 0 || r.status == 403 || r.status == 301) {
        s->bucket_ok = 1;   /* it exists (403: listing it is not allowed; 301: elsewhere) */
        out = 1;
    } else if (r.rc == MF_ENOTFOUND && r.status == 404) {
        out = 0;
    } else {
        out = s3_fail(s, r.rc, "%s", r.msg ? r.msg : "s3 storage: bucket check failed");
    }
    s3_req_clear(&r);
    return out;
}
