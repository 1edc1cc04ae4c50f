/* The s3 plugin's get_range (plugin ABI 1.4): at most len bytes of an object from offset on,
 * and the object's size, for a reader that pages through a large object (the UI's logs, a
 * value read piece by piece into the caller's memory).
 *
 * A first ranged GET (`Range: bytes=offset-end`, at most part_size bytes) learns the size;
 * the rest of the range, when there is more, comes in parallel ranged GETs with If-Match on
 * the first answer's ETag, so that a page is never mixed from two versions of an object. Every
 * answer must be a 206 for exactly the bytes asked (clipped at the object's end); a 200 (a
 * server that ignores Range) is accepted only when it is the whole object and that is what was
 * asked. As the local plugin does, a range from the object's end on gives no bytes and the
 * size (S3 answers 416 there: a HEAD then gives the size), and len 0 gives the size. */
#include "s3_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The first answer's headers: the object's size, and whether the answer is what was asked. */
static int first_headers(struct s3_req *r)
{
    struct s3_job *j = r->ud;
    if (r->status == 206 && r->range_total != UINT64_MAX) {
        j->total = r->range_total;
    } else if (r->status == 200 && r->content_length != UINT64_MAX && j->range_off == 0 &&
               r->content_length <= r->buf_cap) {
        j->total = r->content_length;   /* the whole object, and all of it was asked */
    } else {
        return MF_EIO;   /* on_done says why */
    }
    j->total_known = 1;
    snprintf(j->etag, sizeof j->etag, "%s", r->etag);
    return 0;
}

/* An answer covers exactly the bytes asked for, clipped at the object's end. */
static int part_validate(struct s3_req *r)
{
    struct s3_job *j = r->ud;
    uint64_t off = j->range_off + r->sink_off;   /* sink_off: the part's place in the page */
    uint64_t want = r->buf_cap;
    if (j->total_known && off + want > j->total)
        want = off < j->total ? j->total - off : 0;
    int ok = r->wr_pos == want;
    if (r->status == 206)
        ok = ok && r->range_start == off && r->range_end == off + want - 1 &&
             r->range_total == j->total;
    else
        ok = ok && off == 0 && r->content_length == j->total;
    if (!ok) {
        snprintf(r->code, sizeof r->code, "ShortRead");
        snprintf(r->err_message, sizeof r->err_message,
                 "a ranged read at %llu returned HTTP %ld with %llu of %llu bytes",
                 (unsigned long long)off, r->status, (unsigned long long)r->wr_pos,
                 (unsigned long long)want);
        return 1;   /* retried */
    }
    return 0;
}

static void part_done(struct s3_exec *ex, struct s3_req *r)
{
    (void)ex;
    struct s3_job *j = r->ud;
    r->buf = NULL;   /* the job's: the parts write straight into j->mem */
    r->sink = S3_SINK_DISCARD;
    if (r->rc && r->rc != MF_ECANCELED)
        s3_job_fail_req(j, r);
    j->parts_left--;
}

static void size_done(struct s3_exec *ex, struct s3_req *r)
{
    (void)ex;
    struct s3_job *j = r->ud;
    if (r->rc == MF_ENOTFOUND && !r->msg) {
        char *url = s3_object_url(j->s, j->key);
        s3_job_failf(j, MF_ENOTFOUND, "s3 storage: no object %s at %s", url ? url : j->key,
                     j->s->cfg.endpoint);
        free(url);
    } else if (r->rc) {
        s3_job_fail_req(j, r);
    } else if (r->content_length == UINT64_MAX) {
        s3_job_failf(j, MF_EIO, "s3 storage: HEAD of key '%s' at %s gave no Content-Length",
                     j->key, j->s->cfg.endpoint);
    } else if (j->range_len && r->content_length > j->range_off) {
        s3_job_failf(j, MF_EIO, "s3 storage: key '%s' changed while it was read; read it again",
                     j->key);
    } else {
        j->total = r->content_length;
        j->total_known = 1;
        j->range_got = 0;
    }
}

static void first_done(struct s3_exec *ex, struct s3_req *r)
{
    struct s3_job *j = r->ud;
    struct s3 *s = j->s;
    r->buf = NULL;   /* j->mem */
    r->sink = S3_SINK_DISCARD;
    if (r->rc) {
        if (r->status == 416) {
            s3_job_head_start(ex, j, size_done);   /* from the end on (or empty): its size */
            return;
        }
        if (r->hdr_err == MF_EIO && (r->status == 200 || r->status == 206)) {
            char *url = s3_object_url(s, j->key);
            s3_job_failf(j, MF_EIO,
                         "s3 storage: GET %s at %s with Range bytes=%llu-%llu answered HTTP %ld "
                         "without the range; the server does not support ranged reads",
                         url ? url : j->key, s->cfg.endpoint, (unsigned long long)j->range_off,
                         (unsigned long long)(j->range_off + r->buf_cap - 1), r->status);
            free(url);
            return;
        }
        s3_job_fail_req(j, r);
        return;
    }
    uint64_t avail = j->total > j->range_off ? j->total - j->range_off : 0;
    size_t n = (size_t)(avail < j->range_len ? avail : j->range_len);
    j->range_got = n;
    if (n <= r->wr_pos)
        return;   /* all of it came in the first answer */
    char *m = realloc(j->mem, n);
    if (!m) {
        s3_job_failf(j, MF_ENOMEM, "s3 storage: out of memory reading %zu bytes of key '%s'", n,
                     j->key);
        return;
    }
    j->mem = m;
    uint64_t part = s->cfg.part_size;
    size_t have = (size_t)r->wr_pos;
    size_t np = (size_t)((n - have + part - 1) / part);
    if (s3_job_get_parts(j, np, part_done, part_validate))
        return;
    for (size_t i = 0; i < np; i++) {
        struct s3_req *p = &j->parts[i];
        uint64_t at = have + (uint64_t)i * part;   /* in the page */
        uint64_t len = at + part <= n ? part : n - at;
        uint64_t off = j->range_off + at;
        p->sink = S3_SINK_FIXED;
        p->buf = j->mem + at;
        p->buf_cap = (size_t)len;
        p->sink_off = at;
        if (s3_part_range(p, j, off, len) != 0)
            return;
    }
    for (size_t i = 0; i < np; i++)
        s3_exec_add(ex, &j->parts[i]);
}

static void range_start(struct s3_exec *ex, struct s3_job *j)
{
    struct s3 *s = j->s;
    uint64_t first = j->range_len < s->cfg.part_size ? j->range_len : s->cfg.part_size;
    j->mem = malloc((size_t)first);
    if (!j->mem || s3_job_stage(j, "GET", NULL) ||
        s3_req_header(&j->main, "Range: bytes=%llu-%llu", (unsigned long long)j->range_off,
                      (unsigned long long)(j->range_off + first - 1))) {
        s3_job_failf(j, MF_ENOMEM, "s3 storage: out of memory reading key '%s'", j->key);
        return;
    }
    struct s3_req *r = &j->main;
    r->sink = S3_SINK_FIXED;
    r->buf = j->mem;
    r->buf_cap = (size_t)first;
    r->sink_off = 0;
    r->get_verify = s->cfg.verify_etag;   /* checked when the answer is the whole object */
    r->on_headers = first_headers;
    r->validate = part_validate;
    r->on_done = first_done;
    s3_exec_add(ex, r);
}

int s3_op_get_range(void *state, const char *key, uint64_t offset, size_t len,
                    struct mf_buf *out, uint64_t *size)
{
    struct s3 *s = state;
    if (!out || !size)
        return s3_fail(s, MF_EINVAL, "s3 storage: get_range of key '%s' was given no buffer",
                       key ? key : "(null)");
    memset(out, 0, sizeof *out);
    out->struct_size = sizeof *out;
    *size = 0;
    int rc = s3_check_key(s, "key", key, 0);
    if (rc)
        return rc;
    if (len > UINT64_MAX - offset)
        len = (size_t)(UINT64_MAX - offset);   /* "to the end": no range ends past 2^64 */
    struct s3_job j;
    s3_job_init(&j, s, key);
    j.range_off = offset;
    j.range_len = len;
    struct s3_exec ex;
    s3_exec_init(&ex, s);
    if (len)
        range_start(&ex, &j);
    else
        s3_job_head_start(&ex, &j, size_done);   /* the object's size alone */
    rc = j.rc ? 0 : s3_run(s, &ex);
    if (!rc)
        rc = s3_settle(s, &j, 1);
    if (!rc) {
        out->data = j.mem && j.range_got ? j.mem : malloc(1);
        if (out->data == j.mem)
            j.mem = NULL;
        out->len = j.range_got;
        out->release = s3_release_malloc;
        *size = j.total;
        if (!out->data)
            rc = s3_fail(s, MF_ENOMEM, "s3 storage: out of memory reading key '%s'", key);
    }
    s3_job_clear(&j);
    return rc;
}
