/* The jobs of the s3 plugin: how each item of an operation becomes requests for the engine
 * (s3_http.c) and what is done with their answers.
 *
 *   put     HEAD first for MF_PUT_IF_ABSENT; one PUT up to the threshold (in a batch that
 *           fills the connection pool: up to batch_single_put_max); else a multipart upload:
 *           initiate, parallel parts read straight from the caller's buffers or file, complete
 *           (an <Error> in a 200 is an error), abort on failure, ETag checks on the way
 *   get     a first ranged GET learns the size, the rest in parallel ranges (If-Match the
 *           first ETag) into one buffer, or into a temporary file renamed into place
 *   exists  HEAD; a 404 is checked against the bucket (a missing bucket is its own error), a
 *           body-less 403/400 is asked again as a one-byte GET to learn why
 *
 * Files are opened when their first request starts, so a batch of many files holds few
 * descriptors. */
#include "s3_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_PARTS 10000     /* S3's limit on the parts of a multipart upload */

/* ---- jobs: one item of an operation ------------------------------------------------------------ */


void s3_job_fail(struct s3_job *j, int rc, const char *msg)
{
    if (j->rc)
        return;
    j->rc = rc ? rc : MF_EFAIL;
    j->failed = 1;
    free(j->msg);
    j->msg = strdup(msg ? msg : "s3 storage: failed");
}

void s3_job_fail_req(struct s3_job *j, struct s3_req *r)
{
    s3_job_fail(j, r->rc, r->msg);
}

void s3_job_failf(struct s3_job *j, int rc, const char *fmt, ...)
{
    char buf[S3_ERR_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    s3_job_fail(j, rc, buf);
}

void s3_job_init(struct s3_job *j, struct s3 *s, const char *key)
{
    memset(j, 0, sizeof *j);
    j->s = s;
    j->key = key;
    j->fd = -1;
    j->src_fd = -1;
    j->out_fd = -1;
}

void s3_job_clear(struct s3_job *j)
{
    s3_req_clear(&j->main);
    for (size_t i = 0; i < j->nparts; i++)
        s3_req_clear(&j->parts[i]);
    free(j->parts);
    j->parts = NULL;
    j->nparts = 0;
    free(j->upload_id);
    free(j->complete_xml);
    free(j->part_md5);
    free(j->msg);
    free(j->mem);
    if (j->out_fd >= 0)
        close(j->out_fd);
    if (j->tmp_path) {
        unlink(j->tmp_path);
        free(j->tmp_path);
    }
    if (j->fd >= 0)
        close(j->fd);
    j->fd = j->out_fd = -1;
    j->tmp_path = NULL;
    j->mem = NULL;
    j->msg = NULL;
    j->upload_id = j->complete_xml = NULL;
    j->part_md5 = NULL;
}

/* Fill the main request for a new s3_job_stage (what it owned before is freed). */
int s3_job_stage(struct s3_job *j, const char *method, const char *query)
{
    struct s3_req *r = &j->main;
    s3_req_clear(r);
    r->method = method;
    r->key = s3_dupkey(j->key);
    r->query = query ? strdup(query) : NULL;
    r->ud = j;
    r->cancel = NULL;
    if (!r->key || (query && !r->query)) {
        s3_job_failf(j, MF_ENOMEM, "s3 storage: out of memory for key '%s'", j->key);
        return MF_ENOMEM;
    }
    return 0;
}

static int put_src_start(struct s3_req *r);

/* The body of a request: a window of the job's data, or of its file (opened when the first
 * request that reads it starts, so that a batch of many files holds few descriptors). */
static void body_whole(struct s3_job *j, struct s3_req *r, struct s3_body *b, uint64_t off,
                       uint64_t len)
{
    if (j->src_path || j->src_fd >= 0) {
        b->kind = S3_BODY_FD;
        b->fd = -1;
        r->on_start = put_src_start;
    } else {
        b->kind = S3_BODY_IOV;
        b->iov = j->iov;
        b->niov = j->niov;
    }
    b->off = off;
    b->len = len;
}

/* ---- put --------------------------------------------------------------------------------------- */

static void mp_initiated(struct s3_exec *ex, struct s3_req *r);
static void mp_part_done(struct s3_exec *ex, struct s3_req *r);
static void mp_completed(struct s3_exec *ex, struct s3_req *r);
static void mp_checked(struct s3_exec *ex, struct s3_req *r);
static int complete_validate(struct s3_req *r);

static void put_upload(struct s3_exec *ex, struct s3_job *j)
{
    struct s3 *s = j->s;
    uint64_t single = s->cfg.multipart_threshold;
    if (j->single_put_max > single)
        single = j->single_put_max;
    if (j->size <= single) {
        if (s3_job_stage(j, "PUT", NULL))
            return;
        body_whole(j, &j->main, &j->main.body, 0, j->size);
        j->main.want_md5 = 1;
        j->main.on_done = s3_job_put_done;
    } else {
        if (s3_job_stage(j, "POST", "uploads="))
            return;
        j->main.sink = S3_SINK_GROW;
        j->main.on_done = mp_initiated;
    }
    s3_exec_add(ex, &j->main);
}

static void put_after_head(struct s3_exec *ex, struct s3_req *r)
{
    struct s3_job *j = r->ud;
    j->head_status = r->status;
    if (r->rc == 0)
        return;   /* present: put-if-absent succeeds without writing */
    if (r->rc == MF_ENOTFOUND && !r->msg) {
        put_upload(ex, j);
        return;
    }
    s3_job_fail_req(j, r);
}

static void src_close(struct s3_job *j)
{
    if (j->fd >= 0)
        close(j->fd);
    j->fd = -1;
}

void s3_job_put_done(struct s3_exec *ex, struct s3_req *r)
{
    (void)ex;
    struct s3_job *j = r->ud;
    src_close(j);
    if (r->rc)
        s3_job_fail_req(j, r);
}

static void mp_abort(struct s3_exec *ex, struct s3_job *j)
{
    if (!j->upload_id)
        return;
    char *q = s3_uri_encode(j->upload_id, 0);
    char buf[1200];
    snprintf(buf, sizeof buf, "uploadId=%s", q ? q : "");
    free(q);
    /* best effort, one attempt: the failure is already recorded */
    struct s3_req *r = &j->main;
    s3_req_clear(r);
    r->method = "DELETE";
    r->key = s3_dupkey(j->key);
    r->query = strdup(buf);
    r->ud = j;
    r->no_retry = 1;
    if (r->key && r->query)
        s3_exec_add(ex, r);
}

static void mp_initiated(struct s3_exec *ex, struct s3_req *r)
{
    struct s3_job *j = r->ud;
    struct s3 *s = j->s;
    if (r->rc) {
        s3_job_fail_req(j, r);
        return;
    }
    const char *v;
    size_t n;
    if (!r->buf || !s3_xml_get(r->buf, r->buf_len, "UploadId", &v, &n) || !n) {
        char *url = s3_object_url(s, j->key);
        s3_job_failf(j, MF_EIO,
                  "s3 storage: POST %s?uploads at %s: the answer names no UploadId; the server "
                  "does not support multipart uploads: raise MFLOW_S3_MULTIPART_THRESHOLD above "
                  "the object size (%llu bytes)",
                  url ? url : "?", s->cfg.endpoint, (unsigned long long)j->size);
        free(url);
        return;
    }
    j->upload_id = s3_xml_unescape(v, n);
    uint64_t part = s->cfg.part_size;
    if ((j->size + part - 1) / part > MAX_PARTS) {
        part = (j->size + MAX_PARTS - 1) / MAX_PARTS;
        part = (part + (1u << 20) - 1) & ~(uint64_t)((1u << 20) - 1);
    }
    size_t np = (size_t)((j->size + part - 1) / part);
    char *uq = j->upload_id ? s3_uri_encode(j->upload_id, 0) : NULL;
    j->parts = calloc(np, sizeof *j->parts);
    j->part_md5 = calloc(np, sizeof *j->part_md5);
    if (!uq || !j->parts || !j->part_md5) {
        free(uq);
        s3_job_failf(j, MF_ENOMEM, "s3 storage: out of memory uploading key '%s'", j->key);
        mp_abort(ex, j);
        return;
    }
    j->nparts = np;
    j->parts_left = np;
    for (size_t i = 0; i < np; i++) {
        struct s3_req *p = &j->parts[i];
        char q[1300];
        snprintf(q, sizeof q, "partNumber=%zu&uploadId=%s", i + 1, uq);   /* sorted */
        p->method = "PUT";
        p->key = s3_dupkey(j->key);
        p->query = strdup(q);
        p->ud = j;
        p->idx = i;
        p->want_md5 = 1;
        p->cancel = &j->failed;
        p->on_done = mp_part_done;
        uint64_t off = (uint64_t)i * part;
        body_whole(j, p, &p->body, off, off + part <= j->size ? part : j->size - off);
        if (!p->key || !p->query) {
            s3_job_failf(j, MF_ENOMEM, "s3 storage: out of memory uploading key '%s'", j->key);
            j->parts_left = 0;
            free(uq);
            mp_abort(ex, j);
            return;
        }
    }
    free(uq);
    for (size_t i = 0; i < np; i++)
        s3_exec_add(ex, &j->parts[i]);
}

static void mp_part_done(struct s3_exec *ex, struct s3_req *r)
{
    struct s3_job *j = r->ud;
    struct s3 *s = j->s;
    if (r->rc && r->rc != MF_ECANCELED)
        s3_job_fail_req(j, r);
    else if (!r->rc && !r->etag[0])
        s3_job_failf(j, MF_EIO, "s3 storage: PUT part %zu of key '%s' at %s: the answer has no "
                  "ETag; the server is not S3-compatible enough for multipart uploads (raise "
                  "MFLOW_S3_MULTIPART_THRESHOLD)", r->idx + 1, j->key, s->cfg.endpoint);
    else if (!r->rc) {
        /* the part's MD5, for checking the completed object's ETag */
        unsigned char d[16];
        for (int k = 0; k < 16; k++) {
            unsigned hi, lo;
            if (sscanf(r->md5_hex + 2 * k, "%1x%1x", &hi, &lo) != 2) {
                memset(d, 0, sizeof d);
                break;
            }
            d[k] = (unsigned char)(hi << 4 | lo);
        }
        memcpy(j->part_md5[r->idx], d, 16);
    }
    if (--j->parts_left)
        return;
    src_close(j);
    if (j->rc) {
        mp_abort(ex, j);
        return;
    }
    /* all parts stored: complete the upload */
    char *xml = NULL;
    size_t len = 0, cap = 0;
    int rc = s3_appendf(&xml, &len, &cap, "<CompleteMultipartUpload>");
    for (size_t i = 0; !rc && i < j->nparts; i++) {
        rc = s3_appendf(&xml, &len, &cap, "<Part><PartNumber>%zu</PartNumber><ETag>", i + 1);
        if (!rc)
            rc = s3_xml_escape_append(&xml, &len, &cap, "\"");
        if (!rc)
            rc = s3_xml_escape_append(&xml, &len, &cap, j->parts[i].etag);
        if (!rc)
            rc = s3_xml_escape_append(&xml, &len, &cap, "\"");
        if (!rc)
            rc = s3_appendf(&xml, &len, &cap, "</ETag></Part>");
    }
    if (!rc)
        rc = s3_appendf(&xml, &len, &cap, "</CompleteMultipartUpload>");
    if (rc) {
        free(xml);
        s3_job_failf(j, MF_ENOMEM, "s3 storage: out of memory completing the upload of '%s'", j->key);
        mp_abort(ex, j);
        return;
    }
    j->complete_xml = xml;
    j->complete_iov.base = xml;
    j->complete_iov.len = len;
    char *uq = s3_uri_encode(j->upload_id, 0);
    char q[1200];
    snprintf(q, sizeof q, "uploadId=%s", uq ? uq : "");
    free(uq);
    if (s3_job_stage(j, "POST", q))
        return;
    j->main.body.kind = S3_BODY_IOV;
    j->main.body.iov = &j->complete_iov;
    j->main.body.niov = 1;
    j->main.body.len = len;
    j->main.sink = S3_SINK_GROW;
    j->main.on_done = mp_completed;
    j->main.validate = complete_validate;
    s3_exec_add(ex, &j->main);
}

/* CompleteMultipartUpload may answer 200 and still fail: the error is in the body. */
static int complete_validate(struct s3_req *r)
{
    const char *v;
    size_t n;
    if (r->buf && s3_xml_get(r->buf, r->buf_len, "Error", &v, &n)) {
        const char *c;
        size_t cn;
        if (s3_xml_get(v, n, "Code", &c, &cn))
            snprintf(r->code, sizeof r->code, "%.*s", (int)(cn < 60 ? cn : 60), c);
        if (s3_xml_get(v, n, "Message", &c, &cn))
            snprintf(r->err_message, sizeof r->err_message, "%.*s", (int)(cn < 250 ? cn : 250),
                     c);
        return 1;   /* InternalError and friends: retried like a 5xx */
    }
    return 0;
}

static void mp_completed(struct s3_exec *ex, struct s3_req *r)
{
    struct s3_job *j = r->ud;
    struct s3 *s = j->s;
    if (r->rc) {
        if (!strcmp(r->code, "NoSuchUpload") && r->attempts > 1) {
            /* an earlier attempt completed it and the answer was lost: check the object */
            if (s3_job_stage(j, "HEAD", NULL))
                return;
            j->main.head_404_ok = 1;
            j->main.on_done = mp_checked;
            s3_exec_add(ex, &j->main);
            return;
        }
        s3_job_fail_req(j, r);
        if (strcmp(r->code, "NoSuchUpload"))
            mp_abort(ex, j);
        return;
    }
    /* the ETag of a completed upload is MD5(MD5(part 1) || ...)-N on S3 */
    const char *dash = strchr(r->etag, '-');
    if (s->cfg.verify_etag && !r->kms && dash && strlen(r->etag) == 32 + strlen(dash)) {
        EVP_MD_CTX *m = EVP_MD_CTX_new();
        unsigned char d[16];
        char hex[S3_MD5_HEX];
        if (m && EVP_DigestInit_ex(m, EVP_md5(), NULL)) {
            for (size_t i = 0; i < j->nparts; i++)
                EVP_DigestUpdate(m, j->part_md5[i], 16);
            EVP_DigestFinal_ex(m, d, NULL);
            s3_hex(d, 16, hex);
            if (strncasecmp(hex, r->etag, 32) != 0 || strtoul(dash + 1, NULL, 10) != j->nparts) {
                char *url = s3_object_url(s, j->key);
                s3_job_failf(j, MF_ECORRUPT,
                          "s3 storage: the multipart upload of %s at %s completed with ETag %s, "
                          "but its %zu parts give %s-%zu: the stored object does not match the "
                          "data sent; store it again",
                          url ? url : "?", s->cfg.endpoint, r->etag, j->nparts, hex, j->nparts);
                free(url);
            }
        }
        EVP_MD_CTX_free(m);
    }
}

static void mp_checked(struct s3_exec *ex, struct s3_req *r)
{
    (void)ex;
    struct s3_job *j = r->ud;
    if (r->rc == 0 && r->content_length == j->size)
        return;   /* completed by the earlier attempt */
    char *url = s3_object_url(j->s, j->key);
    s3_job_failf(j, MF_EIO,
              "s3 storage: completing the multipart upload of %s at %s failed: the upload "
              "vanished and the object is not there; store it again",
              url ? url : "?", j->s->cfg.endpoint);
    free(url);
}

static void put_start(struct s3_exec *ex, struct s3_job *j)
{
    if (j->flags & MF_PUT_IF_ABSENT) {
        if (s3_job_stage(j, "HEAD", NULL))
            return;
        j->main.head_404_ok = 1;
        j->main.on_done = put_after_head;
        s3_exec_add(ex, &j->main);
    } else {
        put_upload(ex, j);
    }
}

/* The size of a put_file job's file (it is opened when its first request starts). */
static int put_stat(struct s3_job *j)
{
    struct stat st;
    if (j->src_fd >= 0) {
        if (fstat(j->src_fd, &st) != 0) {
            int e = errno;
            s3_job_failf(j, e, "s3 storage: cannot read the temporary file of key '%s': %s",
                         j->key, strerror(e));
            return j->rc;
        }
        j->size = (uint64_t)st.st_size;
        return 0;
    }
    if (stat(j->src_path, &st) != 0) {
        int e = errno;
        s3_job_failf(j, e == ENOENT ? MF_ENOTFOUND : e,
                  "s3 storage: cannot open '%s' to store it as key '%s': %s", j->src_path, j->key,
                  strerror(e));
        return j->rc;
    }
    if (S_ISDIR(st.st_mode)) {
        s3_job_failf(j, MF_EINVAL,
                  "s3 storage: '%s' is a directory; put_file stores one file as key '%s'",
                  j->src_path, j->key);
        return j->rc;
    }
    if (!S_ISREG(st.st_mode)) {
        s3_job_failf(j, MF_EINVAL,
                  "s3 storage: '%s' is not a regular file; put_file stores one file as key '%s'",
                  j->src_path, j->key);
        return j->rc;
    }
    j->size = (uint64_t)st.st_size;
    return 0;
}

static int put_src_start(struct s3_req *r)
{
    struct s3_job *j = r->ud;
    if (j->src_fd >= 0) {
        r->body.fd = j->src_fd;   /* the writer's: it stays open */
        return 0;
    }
    if (j->fd < 0) {
        int fd = open(j->src_path, O_RDONLY | O_CLOEXEC);
        struct stat st;
        int e = fd < 0 ? errno : fstat(fd, &st) != 0 ? errno : 0;
        if (!e && (uint64_t)st.st_size != j->size)
            e = -1;
        if (e) {
            if (fd >= 0)
                close(fd);
            char buf[S3_ERR_LEN];
            if (e < 0)
                snprintf(buf, sizeof buf,
                         "s3 storage: '%s' changed size while being stored as key '%s'; store "
                         "it again when it is complete",
                         j->src_path, j->key);
            else
                snprintf(buf, sizeof buf, "s3 storage: cannot open '%s' to store it as key '%s': %s",
                         j->src_path, j->key, strerror(e));
            r->msg = strdup(buf);
            return e < 0 ? MF_EIO : e;
        }
        j->fd = fd;
    }
    r->body.fd = j->fd;
    return 0;
}

/* ---- get ---------------------------------------------------------------------------------------- */

static void get_first_done(struct s3_exec *ex, struct s3_req *r);
static void get_range_done(struct s3_exec *ex, struct s3_req *r);
static int get_dst_start(struct s3_req *r);
int s3_job_get_parts(struct s3_job *j, size_t np, s3_done_fn done,
                     int (*validate)(struct s3_req *r))
{
    j->parts = calloc(np, sizeof *j->parts);
    if (!j->parts) {
        s3_job_failf(j, MF_ENOMEM, "s3 storage: out of memory reading key '%s'", j->key);
        return -1;
    }
    j->nparts = np;
    j->parts_left = np;
    for (size_t i = 0; i < np; i++) {
        struct s3_req *p = &j->parts[i];
        p->method = "GET";
        p->key = s3_dupkey(j->key);   /* NULL: s3_part_range fails the job */
        p->ud = j;
        p->idx = i;
        p->cancel = &j->failed;
        p->on_done = done;
        p->validate = validate;
    }
    return 0;
}

/* A ranged part's request: its Range and, once the object's ETag is known, If-Match (so that
 * an object replaced while it is read fails instead of mixing two versions). 0, or the job
 * failed (out of memory) with no parts left. */
int s3_part_range(struct s3_req *p, struct s3_job *j, uint64_t off, uint64_t len)
{
    int rc = !p->key;
    if (!rc)
        rc = s3_req_header(p, "Range: bytes=%llu-%llu", (unsigned long long)off,
                           (unsigned long long)(off + len - 1));
    if (!rc && j->etag[0])
        rc = s3_req_header(p, "If-Match: \"%s\"", j->etag);
    if (rc) {
        s3_job_failf(j, MF_ENOMEM, "s3 storage: out of memory reading key '%s'", j->key);
        j->parts_left = 0;
        return -1;
    }
    return 0;
}

static void get_end(struct s3_job *j);

/* The first answer's headers: learn the object's size and make room for all of it. */
static int get_first_headers(struct s3_req *r)
{
    struct s3_job *j = r->ud;
    uint64_t total = UINT64_MAX;
    if (r->md5 && (r->kms || strlen(r->etag) != 32 ||
                   (r->status == 206 && r->range_end + 1 != r->range_total))) {
        /* no MD5 to check against (a multipart or encrypted object's ETag), or only part of
         * the object in this answer: do not hash for nothing */
        EVP_MD_CTX_free(r->md5);
        r->md5 = NULL;
    }
    if (r->status == 206 && r->range_total != UINT64_MAX)
        total = r->range_total;
    else if (r->status == 200 && r->content_length != UINT64_MAX)
        total = r->content_length;
    snprintf(j->etag, sizeof j->etag, "%s", r->etag);
    if (total == UINT64_MAX) {
        /* size unknown (chunked answer): collect it */
        j->total_known = 0;
        if (j->dst_path) {
            r->sink = S3_SINK_FD;
            r->sink_fd = j->out_fd;
            r->sink_off = 0;
        } else {
            if (r->sink != S3_SINK_GROW) {
                r->sink = S3_SINK_GROW;
                r->buf = NULL;
                r->buf_cap = 0;
            }
            r->buf_len = 0;
        }
        return 0;
    }
    j->total = total;
    j->total_known = 1;
    if (total == 0 && r->status == 206) {
        /* an empty object: "bytes 0-0/0" is all there is (some servers then announce a body
         * byte that never comes) */
        return S3_HEADERS_ENOUGH;
    }
    if (j->dst_path) {
        r->sink = S3_SINK_FD;
        r->sink_fd = j->out_fd;
        r->sink_off = 0;
        return 0;
    }
    if (r->sink == S3_SINK_GROW) {
        free(r->buf);
        r->buf = NULL;
    }
    if (total > SIZE_MAX - 1)
        return MF_ENOMEM;
    char *m = realloc(j->mem, total ? (size_t)total : 1);
    if (!m)
        return MF_ENOMEM;
    j->mem = m;
    r->sink = S3_SINK_FIXED;
    r->buf = m;
    r->buf_cap = (size_t)total;
    r->buf_len = 0;
    return 0;
}

/* The first answer is whole: it covers what it says it covers. */
static int get_first_validate(struct s3_req *r)
{
    if (r->status == 206) {
        if (r->range_start != 0 || r->range_end == UINT64_MAX || r->wr_pos != r->range_end + 1) {
            snprintf(r->code, sizeof r->code, "ShortRead");
            snprintf(r->err_message, sizeof r->err_message,
                     "the answer carried %llu bytes for its range", (unsigned long long)r->wr_pos);
            return 1;
        }
    } else if (r->content_length != UINT64_MAX && r->wr_pos != r->content_length) {
        snprintf(r->code, sizeof r->code, "ShortRead");
        snprintf(r->err_message, sizeof r->err_message,
                 "the answer carried %llu of %llu bytes", (unsigned long long)r->wr_pos,
                 (unsigned long long)r->content_length);
        return 1;
    }
    return 0;
}

static int get_range_validate(struct s3_req *r)
{
    uint64_t want = r->buf_cap;   /* ranges carry their length in buf_cap (FIXED and FD) */
    if (r->status != 206 || r->range_start != r->sink_off || r->wr_pos != want) {
        snprintf(r->code, sizeof r->code, "ShortRead");
        snprintf(r->err_message, sizeof r->err_message,
                 "a ranged read at %llu returned HTTP %ld with %llu of %llu bytes",
                 (unsigned long long)r->sink_off, r->status, (unsigned long long)r->wr_pos,
                 (unsigned long long)want);
        return 1;
    }
    return 0;
}

static void get_start(struct s3_exec *ex, struct s3_job *j, int ranged)
{
    struct s3 *s = j->s;
    if (s3_job_stage(j, "GET", NULL))
        return;
    if (ranged &&
        s3_req_header(&j->main, "Range: bytes=0-%llu",
                      (unsigned long long)(s->cfg.part_size - 1))) {
        s3_job_failf(j, MF_ENOMEM, "s3 storage: out of memory reading key '%s'", j->key);
        return;
    }
    j->main.sink = S3_SINK_GROW;
    if (j->dst_path)
        j->main.on_start = get_dst_start;
    j->main.get_verify = s->cfg.verify_etag;
    j->main.on_headers = get_first_headers;
    j->main.validate = get_first_validate;
    j->main.on_done = get_first_done;
    j->main.idx = (size_t)ranged;
    s3_exec_add(ex, &j->main);
}

static void get_first_done(struct s3_exec *ex, struct s3_req *r)
{
    struct s3_job *j = r->ud;
    struct s3 *s = j->s;
    if (r->rc) {
        if (r->status == 416 && r->idx) {
            get_start(ex, j, 0);   /* an empty object has no byte 0: read it plainly */
            return;
        }
        s3_job_fail_req(j, r);
        get_end(j);
        return;
    }
    if (!j->total_known) {
        j->total = r->wr_pos;
        if (!j->dst_path) {
            free(j->mem);
            j->mem = r->buf;   /* take the GROW buffer */
            r->buf = NULL;
            r->buf_len = r->buf_cap = 0;
            r->sink = S3_SINK_DISCARD;
        }
        get_end(j);
        return;
    }
    if (r->sink == S3_SINK_FIXED) {   /* the buffer is the job's */
        r->buf = NULL;
        r->sink = S3_SINK_DISCARD;
    }
    uint64_t have = r->wr_pos;
    if (have >= j->total) {
        get_end(j);
        return;
    }
    /* the rest in parallel ranges, each required to come from the same object version */
    uint64_t part = s->cfg.part_size;
    size_t np = (size_t)((j->total - have + part - 1) / part);
    if (s3_job_get_parts(j, np, get_range_done, get_range_validate)) {
        get_end(j);
        return;
    }
    for (size_t i = 0; i < np; i++) {
        struct s3_req *p = &j->parts[i];
        uint64_t off = have + (uint64_t)i * part;
        uint64_t len = off + part <= j->total ? part : j->total - off;
        p->sink_off = off;
        p->buf_cap = (size_t)len;
        if (j->dst_path) {
            p->sink = S3_SINK_FD;
            p->sink_fd = j->out_fd;
        } else {
            p->sink = S3_SINK_FIXED;
            p->buf = j->mem + off;
        }
        if (s3_part_range(p, j, off, len) != 0) {
            get_end(j);
            return;
        }
    }
    for (size_t i = 0; i < np; i++)
        s3_exec_add(ex, &j->parts[i]);
}

static void get_range_done(struct s3_exec *ex, struct s3_req *r)
{
    (void)ex;
    struct s3_job *j = r->ud;
    if (r->sink == S3_SINK_FIXED) {
        r->buf = NULL;   /* the job's buffer */
        r->sink = S3_SINK_DISCARD;
    }
    if (r->rc && r->rc != MF_ECANCELED)
        s3_job_fail_req(j, r);
    if (--j->parts_left == 0)
        get_end(j);
}

/* get_file: a temporary file beside the destination, created when the first request starts;
 * the object is renamed into place when it is whole. */
static int get_dst_start(struct s3_req *r)
{
    struct s3_job *j = r->ud;
    if (j->out_fd >= 0)
        return 0;
    size_t n = strlen(j->dst_path) + 48;
    char *tmp = malloc(n);
    if (!tmp)
        return MF_ENOMEM;
    for (int attempt = 0; attempt < 16; attempt++) {
        snprintf(tmp, n, "%s.tmp.%ld.%016llx", j->dst_path, (long)getpid(),
                 (unsigned long long)s3_random());
        j->out_fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (j->out_fd >= 0 || errno != EEXIST)
            break;
    }
    if (j->out_fd < 0) {
        int e = errno;
        free(tmp);
        char buf[S3_ERR_LEN];
        snprintf(buf, sizeof buf, "s3 storage: cannot create '%s' to receive key '%s': %s%s",
                 j->dst_path, j->key, strerror(e),
                 e == ENOENT ? " (its directory does not exist; create it first)" : "");
        r->msg = strdup(buf);
        return e;
    }
    j->tmp_path = tmp;
    return 0;
}

/* A get job is over: put its file in place, or remove what was written. */
static void get_end(struct s3_job *j)
{
    if (!j->dst_path || !j->tmp_path)
        return;
    int rc = 0;
    if (!j->rc && ftruncate(j->out_fd, (off_t)j->total) != 0)
        rc = errno;
    if (close(j->out_fd) != 0 && !rc && errno != EINTR)
        rc = errno;
    j->out_fd = -1;
    if (!j->rc && !rc && rename(j->tmp_path, j->dst_path) != 0)
        rc = errno;
    if (j->rc || rc)
        unlink(j->tmp_path);
    free(j->tmp_path);
    j->tmp_path = NULL;
    if (rc && !j->rc)
        s3_job_failf(j, rc, "s3 storage: cannot write key '%s' to '%s': %s%s", j->key, j->dst_path,
                  strerror(rc),
                  rc == ENOSPC || rc == EDQUOT ? "; the disk is full: free space and retry" : "");
}

/* ---- exists and delete ---------------------------------------------------------------------------- */

static void exists_done(struct s3_exec *ex, struct s3_req *r)
{
    (void)ex;
    struct s3_job *j = r->ud;
    j->head_status = r->status;
    if (r->rc == 0)
        j->exists = 1;
    else if (r->rc == MF_ENOTFOUND && !r->msg)
        j->head_absent = 1;
    else
        s3_job_fail_req(j, r);
}

void s3_job_head_start(struct s3_exec *ex, struct s3_job *j, s3_done_fn done)
{
    if (s3_job_stage(j, "HEAD", NULL))
        return;
    j->main.head_404_ok = 1;
    j->main.on_done = done;
    s3_exec_add(ex, &j->main);
}

/* A HEAD answer has no body, so a 403 or 400 says nothing of why: ask again with a GET of one
 * byte, whose error names the cause (a wrong secret, an unknown key id, a denied policy). */
static void explain_head_failure(struct s3 *s, struct s3_job *j)
{
    if (!j->rc || (j->head_status != 403 && j->head_status != 400))
        return;
    struct s3_req r;
    memset(&r, 0, sizeof r);
    r.method = "GET";
    r.label = "HEAD";   /* the message is about the HEAD it explains */
    r.key = s3_dupkey(j->key);
    r.no_retry = 1;
    if (!r.key || s3_req_header(&r, "Range: bytes=0-0")) {
        s3_req_clear(&r);
        return;
    }
    struct s3_exec ex;
    s3_exec_init(&ex, s);
    s3_exec_add(&ex, &r);
    if (s3_exec_run(&ex) == 0 && r.rc && r.msg && r.code[0]) {
        free(j->msg);
        j->msg = r.msg;
        j->rc = r.rc;
        r.msg = NULL;
    }
    s3_req_clear(&r);
}

/* HEADs answered 404: fine when the bucket exists; otherwise say that it does not. */
static void settle_absent(struct s3 *s, struct s3_job *jobs, size_t n)
{
    int any = 0;
    for (size_t i = 0; i < n; i++)
        any |= jobs[i].head_absent;
    if (!any || s->bucket_ok)
        return;
    int b = s3_check_bucket(s);
    if (b == 1)
        return;
    char msg[S3_ERR_LEN];
    int rc;
    if (b == 0) {
        snprintf(msg, sizeof msg,
                 "s3 storage: HEAD s3://%s at %s: HTTP 404 NoSuchBucket: bucket '%s' does not "
                 "exist at this endpoint; create it (aws s3 mb s3://%s%s%s) or fix the datastore "
                 "root (%s)",
                 s->cfg.bucket, s->cfg.endpoint, s->cfg.bucket, s->cfg.bucket,
                 s->cfg.endpoint_given ? " --endpoint-url " : "",
                 s->cfg.endpoint_given ? s->cfg.endpoint : "", s->cfg.root_url);
        rc = MF_EUNAVAIL;
    } else {
        snprintf(msg, sizeof msg, "%s", s3_last_error(s));
        rc = b;
    }
    for (size_t i = 0; i < n; i++) {
        if (jobs[i].head_absent) {
            jobs[i].head_absent = 0;
            s3_job_fail(&jobs[i], rc, msg);
        }
    }
}

static void explain_first(struct s3 *s, struct s3_job *jobs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (jobs[i].rc) {
            explain_head_failure(s, &jobs[i]);
            return;   /* the first failure is the one reported */
        }
    }
}

/* ---- running jobs -------------------------------------------------------------------------------- */

int s3_run(struct s3 *s, struct s3_exec *ex)
{
    int rc = s3_exec_run(ex);
    if (rc)
        return s3_fail(s, rc, "s3 storage: out of memory running requests");
    return 0;
}

/* The first failure of a batch becomes the call's result and message. */
int s3_settle(struct s3 *s, struct s3_job *jobs, size_t n)
{
    int first = 0;
    for (size_t i = 0; i < n; i++) {
        if (jobs[i].rc && !first) {
            first = jobs[i].rc;
            s3_fail(s, first, "%s", jobs[i].msg ? jobs[i].msg : "s3 storage: failed");
        }
    }
    return first;
}

/* put_batch and the single puts.
 *
 * Parts give one large object parallel transfers. A batch with at least max_concurrency
 * objects keeps every connection busy already, so there objects up to batch_single_put_max
 * go in one PUT each: no parts' round trips, no reassembly on the server, and the whole
 * object's Content-MD5 checked by the server. */
int s3_run_puts(struct s3 *s, struct s3_job *jobs, size_t n)
{
    struct s3_exec ex;
    s3_exec_init(&ex, s);
    size_t live = 0;
    for (size_t i = 0; i < n; i++) {
        struct s3_job *j = &jobs[i];
        if (j->rc)
            continue;
        if ((j->src_path || j->src_fd >= 0) && put_stat(j))
            continue;
        live++;
    }
    for (size_t i = 0; i < n; i++) {
        struct s3_job *j = &jobs[i];
        if (j->rc)
            continue;
        if (live >= s->cfg.max_concurrency)
            j->single_put_max = s->cfg.batch_single_put_max;
        put_start(&ex, j);
    }
    int rc = s3_run(s, &ex);
    if (rc)
        return rc;
    explain_first(s, jobs, n);
    return s3_settle(s, jobs, n);
}

int s3_run_gets(struct s3 *s, struct s3_job *jobs, size_t n)
{
    struct s3_exec ex;
    s3_exec_init(&ex, s);
    for (size_t i = 0; i < n; i++) {
        struct s3_job *j = &jobs[i];
        if (j->rc)
            continue;
        get_start(&ex, j, 1);
    }
    int rc = s3_run(s, &ex);
    if (rc)
        return rc;
    return s3_settle(s, jobs, n);
}

int s3_run_exists(struct s3 *s, struct s3_job *jobs, size_t n)
{
    struct s3_exec ex;
    s3_exec_init(&ex, s);
    for (size_t i = 0; i < n; i++)
        if (!jobs[i].rc)
            s3_job_head_start(&ex, &jobs[i], exists_done);
    int rc = s3_run(s, &ex);
    if (rc)
        return rc;
    settle_absent(s, jobs, n);
    explain_first(s, jobs, n);
    return s3_settle(s, jobs, n);
}
