/* mflow storage plugin `s3`: the datastore on Amazon S3 or any S3-compatible object store.
 * See README.md beside this file for its options and tests.
 *
 * A key is a '/'-separated relative path under the root s3://BUCKET/PREFIX; object
 * PREFIX/KEY holds it. S3 writes are atomic per object (a reader sees the old object or the
 * new one), and a multipart upload becomes visible only when it completes. put returns 0
 * only after the server has confirmed the object, so a caller that writes a record after its
 * blobs never leaves a record that names a missing blob.
 *
 * Every operation is built from requests run by the engine (s3_http.c): one request for a
 * small object, a multipart upload with parallel parts for a large one (above
 * multipart_threshold), a ranged first read followed by parallel ranged reads for a large
 * download, and the batch forms run all their items' requests together, max_concurrency at
 * a time over kept-alive connections. */
#include "s3_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_KEY 1024        /* S3's limit on an object name, in bytes */
#define MAX_PARTS 10000     /* S3's limit on the parts of a multipart upload */

/* ---- messages ------------------------------------------------------------------------------ */

static __thread char tls_err[S3_ERR_LEN];
static __thread const struct s3 *err_owner;

int s3_fail(struct s3 *s, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tls_err, sizeof tls_err, fmt, ap);
    va_end(ap);
    err_owner = s;
    pthread_mutex_lock(&s->err_lock);
    memcpy(s->err, tls_err, sizeof s->err);
    pthread_mutex_unlock(&s->err_lock);
    return rc;
}

const char *s3_last_error(struct s3 *s)
{
    if (!s)
        return "s3 storage: no instance";
    if (err_owner != s) {
        pthread_mutex_lock(&s->err_lock);
        memcpy(tls_err, s->err, sizeof tls_err);
        pthread_mutex_unlock(&s->err_lock);
        err_owner = s;
    }
    return tls_err[0] ? tls_err : "no error";
}

static void host_log_text(const struct mf_host_api *host, int level, const char *msg)
{
    if (host && MF_HAS_FIELD(host, log) && host->log)
        host->log(level, S3_NAME, "%s", msg);
    else if (level <= MF_LOG_WARN)
        fprintf(stderr, "mflow storage s3: %s\n", msg);
}

void s3_log(struct s3 *s, int level, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    host_log_text(s->host, level, msg);
}

/* ---- keys -------------------------------------------------------------------------------------- */

static int check_key(struct s3 *s, const char *what, const char *key, int allow_empty)
{
    if (!key)
        return s3_fail(s, MF_EINVAL, "s3 storage: no %s given; keys are relative paths like "
                       "'blobs/ab/abcd'", what);
    if (!*key) {
        if (allow_empty)
            return 0;
        return s3_fail(s, MF_EINVAL,
                       "s3 storage: empty %s; keys are relative paths like 'blobs/ab/abcd'", what);
    }
    if (key[0] == '/')
        return s3_fail(s, MF_EINVAL,
                       "s3 storage: %s '%s' starts with '/'; keys are relative to the datastore "
                       "root (%s)",
                       what, key, s->cfg.root_url);
    size_t len = strlen(key);
    if (strlen(s->cfg.prefix) + 1 + len > MAX_KEY)
        return s3_fail(s, MF_EINVAL,
                       "s3 storage: %s '%.80s...' is too long: S3 object names are at most %d "
                       "bytes with the prefix '%s'",
                       what, key, MAX_KEY, s->cfg.prefix);
    /* a prefix may end in a partial component ("runs/1" lists "runs/10/..."), so only the
     * components before its last '/' are checked; a key is checked whole */
    size_t end = len;
    if (allow_empty) {
        const char *slash = strrchr(key, '/');
        end = slash ? (size_t)(slash - key) : 0;
    }
    size_t start = 0;
    for (size_t i = 0; i <= end && end; i++) {
        if (i < end && key[i] != '/')
            continue;
        size_t n = i - start;
        if (n == 0)
            return s3_fail(s, MF_EINVAL,
                           "s3 storage: %s '%s' has an empty component (a trailing '/' or '//'); "
                           "keys are relative paths like 'blobs/ab/abcd'",
                           what, key);
        if ((n == 1 && key[start] == '.') ||
            (n == 2 && key[start] == '.' && key[start + 1] == '.'))
            return s3_fail(s, MF_EINVAL,
                           "s3 storage: %s '%s' has a '.' or '..' component; keys must stay "
                           "under the datastore root and name each level plainly",
                           what, key);
        start = i + 1;
    }
    return 0;
}

static char *dupkey(const char *key)
{
    return strdup(key ? key : "");
}

/* ---- jobs: one item of an operation ------------------------------------------------------------ */

enum { OP_PUT = 1, OP_GET = 2, OP_EXISTS = 3, OP_DEL = 4 };

struct job {
    struct s3 *s;
    int op;
    const char *key;
    uint32_t flags;

    /* put: the data (iov) or a file (fd) */
    const struct mf_iov *iov;
    size_t niov;
    struct mf_iov one;
    int fd;
    const char *src_path;
    uint64_t size;

    /* get: into memory (mem) or a file (dst_path via tmp_path / out_fd) */
    const char *dst_path;
    char *tmp_path;
    int out_fd;
    char *mem;
    uint64_t total;
    int total_known;
    char etag[96];

    struct s3_req main;           /* HEAD, PUT, POST ?uploads, first GET, DELETE */
    struct s3_req *parts;         /* upload parts or download ranges */
    size_t nparts, parts_left;
    char *upload_id;
    char *complete_xml;
    struct mf_iov complete_iov;
    unsigned char (*part_md5)[16];

    uint64_t single_put_max;      /* objects up to this size go in one PUT (else: the threshold) */
    int failed;                   /* set on the first failure: parts not yet sent are skipped */
    int rc;
    char *msg;
    int exists;
    int head_absent;              /* a HEAD said 404 (for the bucket check) */
    long head_status;
};

static void job_fail(struct job *j, int rc, const char *msg)
{
    if (j->rc)
        return;
    j->rc = rc ? rc : MF_EFAIL;
    j->failed = 1;
    free(j->msg);
    j->msg = strdup(msg ? msg : "s3 storage: failed");
}

static void job_fail_req(struct job *j, struct s3_req *r)
{
    job_fail(j, r->rc, r->msg);
}

static void job_failf(struct job *j, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void job_failf(struct job *j, int rc, const char *fmt, ...)
{
    char buf[S3_ERR_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    job_fail(j, rc, buf);
}

static void job_init(struct job *j, struct s3 *s, int op, const char *key)
{
    memset(j, 0, sizeof *j);
    j->s = s;
    j->op = op;
    j->key = key;
    j->fd = -1;
    j->out_fd = -1;
}

static void job_clear(struct job *j)
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

/* Fill the main request for a new stage (what it owned before is freed). */
static int stage(struct job *j, const char *method, const char *query)
{
    struct s3_req *r = &j->main;
    s3_req_clear(r);
    r->method = method;
    r->key = dupkey(j->key);
    r->query = query ? strdup(query) : NULL;
    r->ud = j;
    r->cancel = NULL;
    if (!r->key || (query && !r->query)) {
        job_failf(j, MF_ENOMEM, "s3 storage: out of memory for key '%s'", j->key);
        return MF_ENOMEM;
    }
    return 0;
}

static int put_src_start(struct s3_req *r);

/* The body of a request: a window of the job's data, or of its file (opened when the first
 * request that reads it starts, so that a batch of many files holds few descriptors). */
static void body_whole(struct job *j, struct s3_req *r, struct s3_body *b, uint64_t off,
                       uint64_t len)
{
    if (j->src_path) {
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

static void put_single_done(struct s3_exec *ex, struct s3_req *r);
static void mp_initiated(struct s3_exec *ex, struct s3_req *r);
static void mp_part_done(struct s3_exec *ex, struct s3_req *r);
static void mp_completed(struct s3_exec *ex, struct s3_req *r);
static void mp_checked(struct s3_exec *ex, struct s3_req *r);
static int complete_validate(struct s3_req *r);

static void put_upload(struct s3_exec *ex, struct job *j)
{
    struct s3 *s = j->s;
    uint64_t single = s->cfg.multipart_threshold;
    if (j->single_put_max > single)
        single = j->single_put_max;
    if (j->size <= single) {
        if (stage(j, "PUT", NULL))
            return;
        body_whole(j, &j->main, &j->main.body, 0, j->size);
        j->main.want_md5 = 1;
        j->main.on_done = put_single_done;
    } else {
        if (stage(j, "POST", "uploads="))
            return;
        j->main.sink = S3_SINK_GROW;
        j->main.on_done = mp_initiated;
    }
    s3_exec_add(ex, &j->main);
}

static void put_after_head(struct s3_exec *ex, struct s3_req *r)
{
    struct job *j = r->ud;
    j->head_status = r->status;
    if (r->rc == 0)
        return;   /* present: put-if-absent succeeds without writing */
    if (r->rc == MF_ENOTFOUND && !r->msg) {
        put_upload(ex, j);
        return;
    }
    job_fail_req(j, r);
}

static void src_close(struct job *j)
{
    if (j->fd >= 0)
        close(j->fd);
    j->fd = -1;
}

static void put_single_done(struct s3_exec *ex, struct s3_req *r)
{
    (void)ex;
    struct job *j = r->ud;
    src_close(j);
    if (r->rc)
        job_fail_req(j, r);
}

static void mp_abort(struct s3_exec *ex, struct job *j)
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
    r->key = dupkey(j->key);
    r->query = strdup(buf);
    r->ud = j;
    r->no_retry = 1;
    if (r->key && r->query)
        s3_exec_add(ex, r);
}

static void mp_initiated(struct s3_exec *ex, struct s3_req *r)
{
    struct job *j = r->ud;
    struct s3 *s = j->s;
    if (r->rc) {
        job_fail_req(j, r);
        return;
    }
    const char *v;
    size_t n;
    if (!r->buf || !s3_xml_get(r->buf, r->buf_len, "UploadId", &v, &n) || !n) {
        char *url = s3_object_url(s, j->key);
        job_failf(j, MF_EIO,
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
        job_failf(j, MF_ENOMEM, "s3 storage: out of memory uploading key '%s'", j->key);
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
        p->key = dupkey(j->key);
        p->query = strdup(q);
        p->ud = j;
        p->idx = i;
        p->want_md5 = 1;
        p->cancel = &j->failed;
        p->on_done = mp_part_done;
        uint64_t off = (uint64_t)i * part;
        body_whole(j, p, &p->body, off, off + part <= j->size ? part : j->size - off);
        if (!p->key || !p->query) {
            job_failf(j, MF_ENOMEM, "s3 storage: out of memory uploading key '%s'", j->key);
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
    struct job *j = r->ud;
    struct s3 *s = j->s;
    if (r->rc && r->rc != MF_ECANCELED)
        job_fail_req(j, r);
    else if (!r->rc && !r->etag[0])
        job_failf(j, MF_EIO, "s3 storage: PUT part %zu of key '%s' at %s: the answer has no "
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
        job_failf(j, MF_ENOMEM, "s3 storage: out of memory completing the upload of '%s'", j->key);
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
    if (stage(j, "POST", q))
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
    struct job *j = r->ud;
    struct s3 *s = j->s;
    if (r->rc) {
        if (!strcmp(r->code, "NoSuchUpload") && r->attempts > 1) {
            /* an earlier attempt completed it and the answer was lost: check the object */
            if (stage(j, "HEAD", NULL))
                return;
            j->main.head_404_ok = 1;
            j->main.on_done = mp_checked;
            s3_exec_add(ex, &j->main);
            return;
        }
        job_fail_req(j, r);
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
                job_failf(j, MF_ECORRUPT,
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
    struct job *j = r->ud;
    if (r->rc == 0 && r->content_length == j->size)
        return;   /* completed by the earlier attempt */
    char *url = s3_object_url(j->s, j->key);
    job_failf(j, MF_EIO,
              "s3 storage: completing the multipart upload of %s at %s failed: the upload "
              "vanished and the object is not there; store it again",
              url ? url : "?", j->s->cfg.endpoint);
    free(url);
}

static void put_start(struct s3_exec *ex, struct job *j)
{
    if (j->flags & MF_PUT_IF_ABSENT) {
        if (stage(j, "HEAD", NULL))
            return;
        j->main.head_404_ok = 1;
        j->main.on_done = put_after_head;
        s3_exec_add(ex, &j->main);
    } else {
        put_upload(ex, j);
    }
}

/* The size of a put_file job's file (it is opened when its first request starts). */
static int put_stat(struct job *j)
{
    struct stat st;
    if (stat(j->src_path, &st) != 0) {
        int e = errno;
        job_failf(j, e == ENOENT ? MF_ENOTFOUND : e,
                  "s3 storage: cannot open '%s' to store it as key '%s': %s", j->src_path, j->key,
                  strerror(e));
        return j->rc;
    }
    if (S_ISDIR(st.st_mode)) {
        job_failf(j, MF_EINVAL,
                  "s3 storage: '%s' is a directory; put_file stores one file as key '%s'",
                  j->src_path, j->key);
        return j->rc;
    }
    if (!S_ISREG(st.st_mode)) {
        job_failf(j, MF_EINVAL,
                  "s3 storage: '%s' is not a regular file; put_file stores one file as key '%s'",
                  j->src_path, j->key);
        return j->rc;
    }
    j->size = (uint64_t)st.st_size;
    return 0;
}

static int put_src_start(struct s3_req *r)
{
    struct job *j = r->ud;
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
static void get_end(struct job *j);

/* The first answer's headers: learn the object's size and make room for all of it. */
static int get_first_headers(struct s3_req *r)
{
    struct job *j = r->ud;
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

static void get_start(struct s3_exec *ex, struct job *j, int ranged)
{
    struct s3 *s = j->s;
    if (stage(j, "GET", NULL))
        return;
    if (ranged &&
        s3_req_header(&j->main, "Range: bytes=0-%llu",
                      (unsigned long long)(s->cfg.part_size - 1))) {
        job_failf(j, MF_ENOMEM, "s3 storage: out of memory reading key '%s'", j->key);
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
    struct job *j = r->ud;
    struct s3 *s = j->s;
    if (r->rc) {
        if (r->status == 416 && r->idx) {
            get_start(ex, j, 0);   /* an empty object has no byte 0: read it plainly */
            return;
        }
        job_fail_req(j, r);
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
    j->parts = calloc(np, sizeof *j->parts);
    if (!j->parts) {
        job_failf(j, MF_ENOMEM, "s3 storage: out of memory reading key '%s'", j->key);
        get_end(j);
        return;
    }
    j->nparts = np;
    j->parts_left = np;
    for (size_t i = 0; i < np; i++) {
        struct s3_req *p = &j->parts[i];
        uint64_t off = have + (uint64_t)i * part;
        uint64_t len = off + part <= j->total ? part : j->total - off;
        p->method = "GET";
        p->key = dupkey(j->key);
        p->ud = j;
        p->idx = i;
        p->cancel = &j->failed;
        p->on_done = get_range_done;
        p->validate = get_range_validate;
        p->sink_off = off;
        p->buf_cap = (size_t)len;
        if (j->dst_path) {
            p->sink = S3_SINK_FD;
            p->sink_fd = j->out_fd;
        } else {
            p->sink = S3_SINK_FIXED;
            p->buf = j->mem + off;
        }
        int rc = !p->key;
        if (!rc)
            rc = s3_req_header(p, "Range: bytes=%llu-%llu", (unsigned long long)off,
                               (unsigned long long)(off + len - 1));
        if (!rc && j->etag[0])
            rc = s3_req_header(p, "If-Match: \"%s\"", j->etag);
        if (rc) {
            job_failf(j, MF_ENOMEM, "s3 storage: out of memory reading key '%s'", j->key);
            j->parts_left = 0;
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
    struct job *j = r->ud;
    if (r->sink == S3_SINK_FIXED) {
        r->buf = NULL;   /* the job's buffer */
        r->sink = S3_SINK_DISCARD;
    }
    if (r->rc && r->rc != MF_ECANCELED)
        job_fail_req(j, r);
    if (--j->parts_left == 0)
        get_end(j);
}

/* get_file: a temporary file beside the destination, created when the first request starts;
 * the object is renamed into place when it is whole. */
static int get_dst_start(struct s3_req *r)
{
    struct job *j = r->ud;
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
static void get_end(struct job *j)
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
        job_failf(j, rc, "s3 storage: cannot write key '%s' to '%s': %s%s", j->key, j->dst_path,
                  strerror(rc),
                  rc == ENOSPC || rc == EDQUOT ? "; the disk is full: free space and retry" : "");
}

static void release_malloc(struct mf_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
}

/* ---- exists and delete ---------------------------------------------------------------------------- */

static void exists_done(struct s3_exec *ex, struct s3_req *r)
{
    (void)ex;
    struct job *j = r->ud;
    j->head_status = r->status;
    if (r->rc == 0)
        j->exists = 1;
    else if (r->rc == MF_ENOTFOUND && !r->msg)
        j->head_absent = 1;
    else
        job_fail_req(j, r);
}

static void exists_start(struct s3_exec *ex, struct job *j, s3_done_fn done)
{
    if (stage(j, "HEAD", NULL))
        return;
    j->main.head_404_ok = 1;
    j->main.on_done = done;
    s3_exec_add(ex, &j->main);
}

/* A HEAD answer has no body, so a 403 or 400 says nothing of why: ask again with a GET of one
 * byte, whose error names the cause (a wrong secret, an unknown key id, a denied policy). */
static void explain_head_failure(struct s3 *s, struct job *j)
{
    if (!j->rc || (j->head_status != 403 && j->head_status != 400))
        return;
    struct s3_req r;
    memset(&r, 0, sizeof r);
    r.method = "GET";
    r.key = dupkey(j->key);
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
static void settle_absent(struct s3 *s, struct job *jobs, size_t n)
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
            job_fail(&jobs[i], rc, msg);
        }
    }
}

static void explain_first(struct s3 *s, struct job *jobs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (jobs[i].rc) {
            explain_head_failure(s, &jobs[i]);
            return;   /* the first failure is the one reported */
        }
    }
}

/* ---- running jobs -------------------------------------------------------------------------------- */

static int run_jobs(struct s3 *s, struct s3_exec *ex)
{
    int rc = s3_exec_run(ex);
    if (rc)
        return s3_fail(s, rc, "s3 storage: out of memory running requests");
    return 0;
}

/* The first failure of a batch becomes the call's result and message. */
static int settle(struct s3 *s, struct job *jobs, size_t n)
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
static int do_puts(struct s3 *s, struct job *jobs, size_t n)
{
    struct s3_exec ex;
    s3_exec_init(&ex, s);
    size_t live = 0;
    for (size_t i = 0; i < n; i++) {
        struct job *j = &jobs[i];
        if (j->rc)
            continue;
        if (j->src_path && put_stat(j))
            continue;
        live++;
    }
    for (size_t i = 0; i < n; i++) {
        struct job *j = &jobs[i];
        if (j->rc)
            continue;
        if (live >= s->cfg.max_concurrency)
            j->single_put_max = s->cfg.batch_single_put_max;
        put_start(&ex, j);
    }
    int rc = run_jobs(s, &ex);
    if (rc)
        return rc;
    explain_first(s, jobs, n);
    return settle(s, jobs, n);
}

static int do_gets(struct s3 *s, struct job *jobs, size_t n)
{
    struct s3_exec ex;
    s3_exec_init(&ex, s);
    for (size_t i = 0; i < n; i++) {
        struct job *j = &jobs[i];
        if (j->rc)
            continue;
        get_start(&ex, j, 1);
    }
    int rc = run_jobs(s, &ex);
    if (rc)
        return rc;
    return settle(s, jobs, n);
}

static int do_exists(struct s3 *s, struct job *jobs, size_t n)
{
    struct s3_exec ex;
    s3_exec_init(&ex, s);
    for (size_t i = 0; i < n; i++)
        if (!jobs[i].rc)
            exists_start(&ex, &jobs[i], exists_done);
    int rc = run_jobs(s, &ex);
    if (rc)
        return rc;
    settle_absent(s, jobs, n);
    explain_first(s, jobs, n);
    return settle(s, jobs, n);
}

/* ---- the operations ---------------------------------------------------------------------------- */

static int op_put(void *state, const char *key, const struct mf_iov *iov, size_t niov,
                  uint32_t flags)
{
    struct s3 *s = state;
    int rc = check_key(s, "key", key, 0);
    if (rc)
        return rc;
    if (niov && !iov)
        return s3_fail(s, MF_EINVAL, "s3 storage: put of key '%s' was given no data", key);
    uint64_t size = 0;
    for (size_t i = 0; i < niov; i++) {
        if (iov[i].len && !iov[i].base)
            return s3_fail(s, MF_EINVAL, "s3 storage: put of key '%s': piece %zu has no data",
                           key, i);
        size += iov[i].len;
    }
    struct job j;
    job_init(&j, s, OP_PUT, key);
    j.iov = iov;
    j.niov = niov;
    j.size = size;
    j.flags = flags;
    rc = do_puts(s, &j, 1);
    job_clear(&j);
    return rc;
}

static int op_put_file(void *state, const char *key, const char *path, uint32_t flags)
{
    struct s3 *s = state;
    int rc = check_key(s, "key", key, 0);
    if (rc)
        return rc;
    if (!path || !*path)
        return s3_fail(s, MF_EINVAL, "s3 storage: put_file of key '%s' was given no file", key);
    struct job j;
    job_init(&j, s, OP_PUT, key);
    j.src_path = path;
    j.flags = flags;
    rc = do_puts(s, &j, 1);
    job_clear(&j);
    return rc;
}

static int op_get(void *state, const char *key, struct mf_buf *out)
{
    struct s3 *s = state;
    if (!out)
        return s3_fail(s, MF_EINVAL, "s3 storage: get of key '%s' was given no buffer",
                       key ? key : "(null)");
    memset(out, 0, sizeof *out);
    out->struct_size = sizeof *out;
    int rc = check_key(s, "key", key, 0);
    if (rc)
        return rc;
    struct job j;
    job_init(&j, s, OP_GET, key);
    rc = do_gets(s, &j, 1);
    if (!rc) {
        out->data = j.mem ? j.mem : malloc(1);
        out->len = (size_t)j.total;
        out->release = release_malloc;
        j.mem = NULL;
        if (!out->data)
            rc = s3_fail(s, MF_ENOMEM, "s3 storage: out of memory reading key '%s'", key);
    }
    job_clear(&j);
    return rc;
}

static int op_get_file(void *state, const char *key, const char *path)
{
    struct s3 *s = state;
    int rc = check_key(s, "key", key, 0);
    if (rc)
        return rc;
    if (!path || !*path || strlen(path) + 48 >= PATH_MAX)
        return s3_fail(s, MF_EINVAL, "s3 storage: get_file of key '%s' was given no usable path",
                       key);
    struct job j;
    job_init(&j, s, OP_GET, key);
    j.dst_path = path;
    rc = do_gets(s, &j, 1);
    job_clear(&j);
    return rc;
}

static int op_exists(void *state, const char *key)
{
    struct s3 *s = state;
    int rc = check_key(s, "key", key, 0);
    if (rc)
        return rc;
    struct job j;
    job_init(&j, s, OP_EXISTS, key);
    rc = do_exists(s, &j, 1);
    int ex = j.exists;
    job_clear(&j);
    if (rc)
        return rc < 0 ? rc : MF_EIO;   /* exists answers <0 on error (1 means present) */
    return ex;
}

static int op_del(void *state, const char *key)
{
    struct s3 *s = state;
    int rc = op_exists(state, key);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return s3_fail(s, MF_ENOTFOUND, "s3 storage: no object '%s' to delete under %s", key,
                       s->cfg.root_url);
    struct job j;
    job_init(&j, s, OP_DEL, key);
    struct s3_exec ex;
    s3_exec_init(&ex, s);
    if (!stage(&j, "DELETE", NULL)) {
        j.main.on_done = put_single_done;
        s3_exec_add(&ex, &j.main);
        rc = run_jobs(s, &ex);
    }
    if (!rc)
        rc = settle(s, &j, 1);
    job_clear(&j);
    return rc;
}

static int op_put_batch(void *state, struct mf_storage_item *items, size_t n)
{
    struct s3 *s = state;
    if (n && !items)
        return s3_fail(s, MF_EINVAL, "s3 storage: put_batch was given no items");
    if (!n)
        return 0;
    struct job *jobs = calloc(n, sizeof *jobs);
    if (!jobs)
        return s3_fail(s, MF_ENOMEM, "s3 storage: out of memory for a batch of %zu puts", n);
    for (size_t i = 0; i < n; i++) {
        struct mf_storage_item *it = &items[i];
        struct job *j = &jobs[i];
        job_init(j, s, OP_PUT, it->key);
        j->flags = it->flags;
        int rc = check_key(s, "key", it->key, 0);
        if (rc) {
            job_fail(j, rc, s3_last_error(s));
        } else if (!it->data && it->path) {
            j->src_path = it->path;
        } else if (!it->data && it->len) {
            job_failf(j, MF_EINVAL,
                      "s3 storage: put_batch item %zu (key '%s') has a length but no data or "
                      "path",
                      i, it->key);
        } else {
            j->one.base = it->data;
            j->one.len = it->len;
            j->iov = &j->one;
            j->niov = 1;
            j->size = it->len;
        }
    }
    int rc = do_puts(s, jobs, n);
    for (size_t i = 0; i < n; i++) {
        items[i].result = jobs[i].rc;
        job_clear(&jobs[i]);
    }
    free(jobs);
    return rc;
}

static int op_get_batch(void *state, struct mf_storage_item *items, size_t n)
{
    struct s3 *s = state;
    if (n && !items)
        return s3_fail(s, MF_EINVAL, "s3 storage: get_batch was given no items");
    if (!n)
        return 0;
    struct job *jobs = calloc(n, sizeof *jobs);
    if (!jobs)
        return s3_fail(s, MF_ENOMEM, "s3 storage: out of memory for a batch of %zu gets", n);
    for (size_t i = 0; i < n; i++) {
        struct mf_storage_item *it = &items[i];
        struct job *j = &jobs[i];
        job_init(j, s, OP_GET, it->key);
        memset(&it->out, 0, sizeof it->out);
        it->out.struct_size = sizeof it->out;
        int rc = check_key(s, "key", it->key, 0);
        if (rc)
            job_fail(j, rc, s3_last_error(s));
        else if (it->path && (!*it->path || strlen(it->path) + 48 >= PATH_MAX))
            job_failf(j, MF_EINVAL,
                      "s3 storage: get_batch item %zu (key '%s') has no usable path", i, it->key);
        else if (it->path)
            j->dst_path = it->path;
    }
    int rc = do_gets(s, jobs, n);
    for (size_t i = 0; i < n; i++) {
        struct job *j = &jobs[i];
        items[i].result = j->rc;
        if (!j->rc && !j->dst_path) {
            items[i].out.data = j->mem ? j->mem : malloc(1);
            items[i].out.len = (size_t)j->total;
            items[i].out.release = release_malloc;
            j->mem = NULL;
            if (!items[i].out.data) {
                items[i].result = MF_ENOMEM;
                if (!rc)
                    rc = s3_fail(s, MF_ENOMEM, "s3 storage: out of memory reading key '%s'",
                                 j->key);
            }
        }
        job_clear(j);
    }
    free(jobs);
    return rc;
}

static int op_exists_batch(void *state, struct mf_storage_item *items, size_t n)
{
    struct s3 *s = state;
    if (n && !items)
        return s3_fail(s, MF_EINVAL, "s3 storage: exists_batch was given no items");
    if (!n)
        return 0;
    struct job *jobs = calloc(n, sizeof *jobs);
    if (!jobs)
        return s3_fail(s, MF_ENOMEM, "s3 storage: out of memory for a batch of %zu checks", n);
    for (size_t i = 0; i < n; i++) {
        job_init(&jobs[i], s, OP_EXISTS, items[i].key);
        int rc = check_key(s, "key", items[i].key, 0);
        if (rc)
            job_fail(&jobs[i], rc, s3_last_error(s));
    }
    int rc = do_exists(s, jobs, n);
    for (size_t i = 0; i < n; i++) {
        items[i].exists = jobs[i].exists;
        items[i].result = jobs[i].rc;
        job_clear(&jobs[i]);
    }
    free(jobs);
    return rc;
}

/* ---- list ------------------------------------------------------------------------------------------ */

struct entry {
    char *key;
    uint64_t size;
};

/* One prefix being listed, page by page. */
struct lister {
    struct s3 *s;
    const char *prefix;           /* as the caller gave it */
    char *full;                   /* in the bucket */
    size_t strip;                 /* bytes of the root prefix ("pre/") to strip from keys */
    struct s3_req req;
    char *token;                  /* continuation token, or NULL */
    int done;
    int rc;
    char *msg;
    struct entry *e;              /* the entries of the last page (or all, for batches) */
    size_t n, cap;
    int keep_all;
};

static void lister_free_entries(struct lister *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->e[i].key);
    l->n = 0;
}

static int lister_page(struct s3_exec *ex, struct lister *l);

static int lister_fail(struct lister *l, int rc, const char *msg)
{
    if (!l->rc) {
        l->rc = rc;
        l->msg = strdup(msg ? msg : "s3 storage: list failed");
    }
    l->done = 1;
    return rc;
}

/* Parse one ListObjectsV2 page into l->e; queue the next page when truncated. */
static void lister_done(struct s3_exec *ex, struct s3_req *r)
{
    struct lister *l = r->ud;
    struct s3 *s = l->s;
    if (r->rc) {
        lister_fail(l, r->rc, r->msg);
        return;
    }
    const char *doc = r->buf ? r->buf : "";
    size_t len = r->buf ? r->buf_len : 0;
    const char *v;
    size_t vn;
    if (!s3_xml_get(doc, len, "ListBucketResult", &v, &vn)) {
        char *url = s3_object_url(s, NULL);
        char msg[1024];
        snprintf(msg, sizeof msg,
                 "s3 storage: GET %s?list-type=2 at %s: the answer is not a ListBucketResult; "
                 "the endpoint may not be an S3 server (check MFLOW_S3_ENDPOINT_URL)",
                 url ? url : "?", s->cfg.endpoint);
        free(url);
        lister_fail(l, MF_EIO, msg);
        return;
    }
    int url_encoded = 0;
    const char *et;
    size_t etn;
    if (s3_xml_get(v, vn, "EncodingType", &et, &etn) && etn == 3 && !memcmp(et, "url", 3))
        url_encoded = 1;
    size_t pos = 0;
    const char *c;
    size_t cn;
    while (s3_xml_next(v, vn, &pos, "Contents", &c, &cn)) {
        const char *k, *sz;
        size_t kn, szn;
        if (!s3_xml_get(c, cn, "Key", &k, &kn))
            continue;
        char *raw = s3_xml_unescape(k, kn);
        char *key = raw && url_encoded ? s3_url_decode(raw, strlen(raw)) : raw;
        if (key != raw)
            free(raw);
        if (!key) {
            lister_fail(l, MF_ENOMEM, "s3 storage: out of memory listing");
            return;
        }
        uint64_t size = 0;
        if (s3_xml_get(c, cn, "Size", &sz, &szn))
            for (size_t i = 0; i < szn && sz[i] >= '0' && sz[i] <= '9'; i++)
                size = size * 10 + (uint64_t)(sz[i] - '0');
        if (strlen(key) < l->strip || strncmp(key, l->full, l->strip) != 0) {
            free(key);   /* not under the root (cannot happen with a prefix query) */
            continue;
        }
        memmove(key, key + l->strip, strlen(key + l->strip) + 1);
        if (l->n == l->cap) {
            size_t nc = l->cap ? l->cap * 2 : 256;
            struct entry *ne = realloc(l->e, nc * sizeof *ne);
            if (!ne) {
                free(key);
                lister_fail(l, MF_ENOMEM, "s3 storage: out of memory listing");
                return;
            }
            l->e = ne;
            l->cap = nc;
        }
        l->e[l->n].key = key;
        l->e[l->n].size = size;
        l->n++;
    }
    free(l->token);
    l->token = NULL;
    const char *t;
    size_t tn;
    if (s3_xml_get(v, vn, "IsTruncated", &t, &tn) && tn == 4 && !memcmp(t, "true", 4)) {
        if (!s3_xml_get(v, vn, "NextContinuationToken", &t, &tn) || !tn) {
            lister_fail(l, MF_EIO,
                        "s3 storage: a truncated listing came without a NextContinuationToken; "
                        "the server does not support ListObjectsV2 paging");
            return;
        }
        l->token = s3_xml_unescape(t, tn);
        if (!l->token) {
            lister_fail(l, MF_ENOMEM, "s3 storage: out of memory listing");
            return;
        }
        if (l->keep_all)
            lister_page(ex, l);   /* batches: the next page now, in the same run */
        return;
    }
    l->done = 1;
}

static int lister_page(struct s3_exec *ex, struct lister *l)
{
    struct s3 *s = l->s;
    char *p = s3_uri_encode(l->full, 0);
    char *t = l->token ? s3_uri_encode(l->token, 0) : NULL;
    size_t n = (p ? strlen(p) : 0) + (t ? strlen(t) : 0) + 128;
    char *q = malloc(n);
    if (!p || (l->token && !t) || !q) {
        free(p);
        free(t);
        free(q);
        return lister_fail(l, MF_ENOMEM, "s3 storage: out of memory listing");
    }
    /* canonical: parameters sorted by name */
    snprintf(q, n, "%s%s%slist-type=2&max-keys=%u&prefix=%s", t ? "continuation-token=" : "",
             t ? t : "", t ? "&" : "", s->cfg.list_page_size, p);
    free(p);
    free(t);
    s3_req_clear(&l->req);
    l->req.method = "GET";
    l->req.query = q;
    l->req.sink = S3_SINK_GROW;
    l->req.ud = l;
    l->req.on_done = lister_done;
    s3_exec_add(ex, &l->req);
    return 0;
}

static int lister_init(struct s3 *s, struct lister *l, const char *prefix)
{
    memset(l, 0, sizeof *l);
    l->s = s;
    l->prefix = prefix;
    size_t rl = strlen(s->cfg.prefix);
    l->strip = rl ? rl + 1 : 0;
    l->full = malloc(rl + 1 + strlen(prefix) + 1);
    if (!l->full)
        return s3_fail(s, MF_ENOMEM, "s3 storage: out of memory listing '%s'", prefix);
    sprintf(l->full, "%s%s%s", s->cfg.prefix, rl ? "/" : "", prefix);
    return 0;
}

static void lister_clear(struct lister *l)
{
    lister_free_entries(l);
    free(l->e);
    free(l->full);
    free(l->token);
    free(l->msg);
    s3_req_clear(&l->req);
}

static int check_prefix(struct s3 *s, const char *prefix)
{
    return check_key(s, "prefix", prefix, 1);
}

static int op_list(void *state, const char *prefix, mf_list_cb cb, void *ud)
{
    struct s3 *s = state;
    if (!cb)
        return s3_fail(s, MF_EINVAL, "s3 storage: list was given no callback");
    if (!prefix)
        prefix = "";
    int rc = check_prefix(s, prefix);
    if (rc)
        return rc;
    struct lister l;
    if ((rc = lister_init(s, &l, prefix)))
        return rc;
    /* page by page, calling back between pages (outside the engine, so that the callback
     * may use this instance) */
    while (!rc && !l.done) {
        struct s3_exec ex;
        s3_exec_init(&ex, s);
        if (lister_page(&ex, &l))
            break;
        if ((rc = run_jobs(s, &ex)))
            break;
        if (!l.token)
            l.done = 1;
        for (size_t i = 0; i < l.n && !rc; i++)
            rc = cb(ud, l.e[i].key, l.e[i].size);
        lister_free_entries(&l);
        if (l.rc)
            break;
    }
    if (!rc && l.rc) {
        if (l.rc == MF_ENOTFOUND)
            l.rc = MF_EIO;   /* a listing never says "no such object" */
        rc = s3_fail(s, l.rc, "%s", l.msg);
    }
    lister_clear(&l);
    return rc;
}

static int op_list_batch(void *state, const char *const *prefixes, size_t n, mf_list_cb cb,
                         void *ud)
{
    struct s3 *s = state;
    if (n && !prefixes)
        return s3_fail(s, MF_EINVAL, "s3 storage: list_batch was given no prefixes");
    if (!cb)
        return s3_fail(s, MF_EINVAL, "s3 storage: list_batch was given no callback");
    if (!n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        int rc = check_prefix(s, prefixes[i] ? prefixes[i] : "");
        if (rc)
            return rc;
    }
    struct lister *ls = calloc(n, sizeof *ls);
    if (!ls)
        return s3_fail(s, MF_ENOMEM, "s3 storage: out of memory listing %zu prefixes", n);
    int rc = 0;
    struct s3_exec ex;
    s3_exec_init(&ex, s);
    size_t inited = 0;
    for (; inited < n && !rc; inited++) {
        rc = lister_init(s, &ls[inited], prefixes[inited] ? prefixes[inited] : "");
        if (!rc) {
            ls[inited].keep_all = 1;
            lister_page(&ex, &ls[inited]);
        }
    }
    if (!rc)
        rc = run_jobs(s, &ex);
    for (size_t i = 0; i < inited && !rc; i++) {
        if (ls[i].rc) {
            rc = s3_fail(s, ls[i].rc == MF_ENOTFOUND ? MF_EIO : ls[i].rc, "%s", ls[i].msg);
            break;
        }
    }
    for (size_t i = 0; i < inited && !rc; i++)
        for (size_t k = 0; k < ls[i].n && !rc; k++)
            rc = cb(ud, ls[i].e[k].key, ls[i].e[k].size);
    for (size_t i = 0; i < inited; i++)
        lister_clear(&ls[i]);
    free(ls);
    return rc;
}

static const char *op_last_error(void *state)
{
    return s3_last_error(state);
}

static const char *op_root(void *state)
{
    struct s3 *s = state;
    return s ? s->cfg.root_url : "";
}

/* ---- instance -------------------------------------------------------------------------------------- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static int curl_ok;

static void curl_init_once(void)
{
    curl_ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

static int plugin_init(const struct mf_host_api *host, void **state)
{
    if (!state)
        return MF_EINVAL;
    *state = NULL;
    pthread_once(&curl_once, curl_init_once);
    if (!curl_ok) {
        host_log_text(host, MF_LOG_ERROR, "libcurl could not be initialised");
        return MF_EUNAVAIL;
    }
    curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);
    if (!cv || cv->version_num < 0x074b00) {   /* 7.75.0: CURLOPT_AWS_SIGV4 */
        host_log_text(host, MF_LOG_ERROR,
                      "libcurl is older than 7.75.0 and cannot sign S3 requests (SigV4); "
                      "install a newer libcurl");
        return MF_EUNAVAIL;
    }
    struct s3 *s = calloc(1, sizeof *s);
    if (!s)
        return MF_ENOMEM;
    s->host = host;
    char why[S3_ERR_LEN];
    int rc = s3_config_load(host, &s->cfg, why, sizeof why);
    if (rc) {
        host_log_text(host, MF_LOG_ERROR, why);
        s3_config_free(&s->cfg);
        free(s);
        return rc;
    }
    snprintf(s->sigv4, sizeof s->sigv4, "aws:amz:%s:s3", s->cfg.region);
    s->multi = curl_multi_init();
    if (!s->multi) {
        s3_config_free(&s->cfg);
        free(s);
        return MF_ENOMEM;
    }
    curl_multi_setopt(s->multi, CURLMOPT_MAXCONNECTS, (long)s->cfg.max_concurrency * 2);
    pthread_mutex_init(&s->run_lock, NULL);
    pthread_mutex_init(&s->err_lock, NULL);
    s3_log(s, MF_LOG_DEBUG,
           "datastore %s at %s (%s addressing, region %s, credentials from %s)",
           s->cfg.root_url, s->cfg.endpoint, s->cfg.path_style ? "path-style" : "virtual-hosted",
           s->cfg.region, s->cfg.cred_source);
    *state = s;
    return 0;
}

static void plugin_fini(void *state)
{
    struct s3 *s = state;
    if (!s)
        return;
    if (err_owner == s)
        err_owner = NULL;
    s3_log(s, MF_LOG_DEBUG, "%llu requests, %llu retries",
           (unsigned long long)s->n_requests, (unsigned long long)s->n_retries);
    for (size_t i = 0; i < s->n_idle; i++)
        curl_easy_cleanup(s->idle[i]);
    free(s->idle);
    curl_multi_cleanup(s->multi);
    pthread_mutex_destroy(&s->run_lock);
    pthread_mutex_destroy(&s->err_lock);
    s3_config_free(&s->cfg);
    free(s);
}

static const struct mf_storage_ops storage_ops = {
    .struct_size = sizeof(struct mf_storage_ops),
    .put = op_put,
    .put_file = op_put_file,
    .get = op_get,
    .get_file = op_get_file,
    .exists = op_exists,
    .list = op_list,
    .del = op_del,
    .put_batch = op_put_batch,
    .get_batch = op_get_batch,
    .exists_batch = op_exists_batch,
    .list_batch = op_list_batch,
    .last_error = op_last_error,
    .root = op_root,
};

#define OPT(t, n, e, d, h)                                                                         \
    {                                                                                              \
        .struct_size = sizeof(struct mf_option_def), .type = t, .name = n, .env = e,               \
        .default_value = d, .help = h                                                              \
    }

const struct mf_option_def s3_options[] = {
    OPT(MF_OPT_STRING, "root", "MFLOW_DATASTORE_ROOT", NULL,
        "the datastore: s3://BUCKET/PREFIX (keys live under PREFIX/)"),
    OPT(MF_OPT_STRING, "endpoint_url", "MFLOW_S3_ENDPOINT_URL", NULL,
        "S3-compatible endpoint, e.g. http://127.0.0.1:9000 (else AWS_ENDPOINT_URL_S3, "
        "AWS_ENDPOINT_URL, the profile's endpoint_url, or AWS)"),
    OPT(MF_OPT_STRING, "region", "MFLOW_S3_REGION", NULL,
        "signing region (else AWS_REGION, AWS_DEFAULT_REGION, the profile's region, us-east-1)"),
    OPT(MF_OPT_STRING, "profile", "MFLOW_S3_PROFILE", NULL,
        "AWS profile for credentials and region (else AWS_PROFILE, then 'default'); when set, "
        "it wins over AWS_ACCESS_KEY_ID"),
    OPT(MF_OPT_STRING, "path_style", "MFLOW_S3_PATH_STYLE", "auto",
        "path-style URLs (endpoint/bucket/key): auto (when an endpoint is given), true, false"),
    OPT(MF_OPT_INT, "max_concurrency", "MFLOW_S3_MAX_CONCURRENCY", "16",
        "requests in flight at once (batches, parts, ranges)"),
    OPT(MF_OPT_STRING, "multipart_threshold", "MFLOW_S3_MULTIPART_THRESHOLD", "16MiB",
        "objects larger than this are uploaded in parallel parts"),
    OPT(MF_OPT_STRING, "part_size", "MFLOW_S3_PART_SIZE", "8MiB",
        "size of an upload part and of a download range (5MiB..5GiB)"),
    OPT(MF_OPT_STRING, "batch_single_put_max", "MFLOW_S3_BATCH_SINGLE_PUT_MAX", "256MiB",
        "in a batch of at least max_concurrency objects, objects up to this size go in one PUT "
        "each (the batch keeps the connections busy); 0: always use parts above the threshold"),
    OPT(MF_OPT_INT, "max_attempts", "MFLOW_S3_MAX_ATTEMPTS", "10",
        "tries of one request on 5xx, 429/SlowDown, timeouts and dropped connections"),
    OPT(MF_OPT_INT, "retry_base_ms", "MFLOW_S3_RETRY_BASE_MS", "100",
        "first backoff; doubles each retry, with jitter"),
    OPT(MF_OPT_INT, "retry_max_ms", "MFLOW_S3_RETRY_MAX_MS", "5000", "longest backoff"),
    OPT(MF_OPT_INT, "retry_total_s", "MFLOW_S3_RETRY_TOTAL_S", "120",
        "no retry starts after a request has spent this long"),
    OPT(MF_OPT_INT, "connect_timeout_s", "MFLOW_S3_CONNECT_TIMEOUT_S", "10",
        "connection timeout"),
    OPT(MF_OPT_INT, "stall_timeout_s", "MFLOW_S3_STALL_TIMEOUT_S", "30",
        "a transfer with no progress for this long is dropped and retried"),
    OPT(MF_OPT_INT, "list_page_size", "MFLOW_S3_LIST_PAGE_SIZE", "1000",
        "keys per ListObjectsV2 page (1..1000)"),
    OPT(MF_OPT_BOOL, "content_md5", "MFLOW_S3_CONTENT_MD5", "true",
        "send Content-MD5 with uploads so the server rejects damaged data"),
    OPT(MF_OPT_BOOL, "verify_etag", "MFLOW_S3_VERIFY_ETAG", "true",
        "check MD5 ETags of uploads and whole-object downloads (not for SSE-KMS objects)"),
    OPT(MF_OPT_BOOL, "sign_payload", "MFLOW_S3_SIGN_PAYLOAD", "false",
        "sign the SHA-256 of each body instead of UNSIGNED-PAYLOAD"),
    OPT(MF_OPT_BOOL, "no_sign_request", "MFLOW_S3_NO_SIGN_REQUEST", "false",
        "send unsigned requests (public buckets), like aws --no-sign-request"),
    OPT(MF_OPT_STRING, "ca_bundle", "MFLOW_S3_CA_BUNDLE", NULL,
        "CA certificates for an https endpoint (else AWS_CA_BUNDLE, else the system's)"),
};
const size_t s3_n_options = sizeof s3_options / sizeof s3_options[0];

static const struct mf_plugin_desc descriptor = {
    .struct_size = sizeof(struct mf_plugin_desc),
    .abi_major = MF_PLUGIN_ABI_MAJOR,
    .abi_minor = MF_PLUGIN_ABI_MINOR,
    .kind = MF_PLUGIN_STORAGE,
    .name = S3_NAME,
    .version = S3_VERSION,
    .description = "datastore on Amazon S3 or any S3-compatible store (SigV4, multipart, "
                   "parallel batches, retries)",
    .options = s3_options,
    .n_options = sizeof s3_options / sizeof s3_options[0],
    .init = plugin_init,
    .fini = plugin_fini,
    .ops = &storage_ops,
};

MF_PLUGIN_EXPORT const struct mf_plugin_desc *mf_plugin_entry_v1(const struct mf_host_api *host);
MF_PLUGIN_EXPORT const struct mf_plugin_desc *mf_plugin_entry_v1(const struct mf_host_api *host)
{
    (void)host;
    return &descriptor;
}
