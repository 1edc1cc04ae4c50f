/* Internals of the s3 storage plugin, shared by its files (all hidden: the plugin is built
 * with -fvisibility=hidden and exports only mf_plugin_entry_v1).
 *
 *   s3.c        descriptor, options, instance, keys, the storage operations
 *   s3_job.c    put, get and exists as requests: multipart uploads, ranged downloads
 *   s3_list.c   ListObjectsV2 paging and key unescaping
 *   s3_http.c   the transfer engine: requests on one curl multi handle, SigV4 through
 *               libcurl, bounded concurrency, retries with backoff, error descriptions
 *   s3_config.c datastore root, endpoint, region, profile and credentials resolution
 *   s3_util.c   percent-encoding, XML scanning, digests, sizes, time
 */
#ifndef MF_S3_INT_H
#define MF_S3_INT_H

#include <mflow/plugin.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define S3_NAME "s3"
#define S3_VERSION "0.1.0"
#define S3_ERR_LEN 2048
#define S3_MD5_HEX 33
#define S3_SHA256_HEX 65

/* ---- settings --------------------------------------------------------------------------- */

struct s3_config {
    char *bucket;
    char *prefix;               /* "" or "a/b" (no leading or trailing '/') */
    char *root_url;             /* "s3://bucket" or "s3://bucket/a/b" */
    char *endpoint;             /* "scheme://host[:port][/path]", no trailing '/' */
    int endpoint_given;         /* 0: AWS's own endpoint for the region */
    char *endpoint_source;      /* which setting named it, for messages */
    char *region;
    int path_style;             /* 1: endpoint/bucket/key, 0: bucket.host/key */
    char *profile;
    char *access_key, *secret_key, *session_token;   /* never printed */
    char *cred_source;          /* where the credentials came from, for messages */
    int anonymous;              /* no_sign_request */
    char *ca_bundle;
    char *spill_dir;            /* the streaming writer's temporary files */

    unsigned max_concurrency;
    unsigned max_attempts;
    unsigned retry_base_ms, retry_max_ms;
    unsigned retry_total_s;
    unsigned connect_timeout_s, stall_timeout_s;
    unsigned list_page_size;
    uint64_t multipart_threshold, part_size;
    uint64_t batch_single_put_max;  /* 0: off */
    int content_md5, sign_payload, verify_etag;
};

/* Resolve every setting (config_get, AWS_* variables, ~/.aws files). On failure returns an
 * MF_E* code with the reason in why. */
int s3_config_load(const struct mf_host_api *host, struct s3_config *c, char *why, size_t whysz);
void s3_config_free(struct s3_config *c);

/* ---- instance -------------------------------------------------------------------------------- */

struct s3 {
    const struct mf_host_api *host;
    struct s3_config cfg;
    char sigv4[160];            /* "aws:amz:<region>:s3" */
    pthread_mutex_t run_lock;   /* one engine run at a time on the multi handle */
    CURLM *multi;               /* kept: its connection cache is reused across calls */
    CURL **idle;                /* easy handles ready for reuse */
    size_t n_idle, cap_idle;
    int bucket_ok;              /* some request on the bucket succeeded */
    int answered;               /* the endpoint has answered at least once */
    pthread_mutex_t err_lock;
    char err[S3_ERR_LEN];
    /* counters (tests and the benchmark read them through the debug log) */
    uint64_t n_requests, n_retries;
};

/* Record a failure message on the instance (and this thread); returns rc. */
int s3_fail(struct s3 *s, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
const char *s3_last_error(struct s3 *s);
void s3_log(struct s3 *s, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- requests and the engine ------------------------------------------------------------ */

enum s3_body_kind { S3_BODY_NONE = 0, S3_BODY_IOV = 1, S3_BODY_FD = 2 };
enum s3_sink_kind { S3_SINK_DISCARD = 0, S3_SINK_GROW = 1, S3_SINK_FIXED = 2, S3_SINK_FD = 3 };

/* What a request sends: a window [off, off+len) of the concatenation of iov, or of a file. */
struct s3_body {
    int kind;
    const struct mf_iov *iov;
    size_t niov;
    int fd;
    uint64_t off, len;
};

struct s3_exec;
struct s3_req;
typedef void (*s3_done_fn)(struct s3_exec *ex, struct s3_req *r);
/* Called once the response headers of a successful (2xx) attempt are in, before the body:
 * may set the sink. Returns 0; S3_HEADERS_ENOUGH when the headers say all there is to know
 * (the transfer stops and counts as a success); or an MF_E* code that fails the request
 * without retry. */
#define S3_HEADERS_ENOUGH 1
typedef int (*s3_headers_fn)(struct s3_req *r);

struct s3_req {
    /* what to send (set by the caller) */
    const char *method;         /* "GET", "PUT", "HEAD", "DELETE", "POST" */
    const char *label;          /* the method messages name, when not this one (or NULL) */
    char *key;                  /* datastore key (relative to the root), NULL for the bucket */
    char *query;                /* canonical query: sorted, encoded ("uploadId=x&partNumber=1"
                                   is NOT canonical; "partNumber=1&uploadId=x" is) or NULL */
    struct curl_slist *headers; /* extra headers, owned */
    struct s3_body body;
    int want_md5;               /* send Content-MD5 and check the ETag of single PUTs */
    int head_404_ok;            /* a 404 is an answer ("absent"), not a failure */
    int get_verify;             /* GET of a whole object: check its MD5 against the ETag */
    int no_retry;               /* one attempt only (best-effort cleanups) */
    const int *cancel;          /* when *cancel is set, the request is not sent (ECANCELED) */

    /* where the response body goes (2xx only; error bodies are kept apart) */
    int sink;
    char *buf;                  /* GROW: malloc'd, grows; FIXED: caller's, cap bytes */
    size_t buf_len, buf_cap;
    int sink_fd;                /* FD: pwrite at sink_off + position */
    uint64_t sink_off;

    /* Called before each attempt is set up (e.g. to open a file only when it is needed);
     * 0, or an MF_E* / errno code that fails the request (with r->msg set, or a generic
     * message). */
    int (*on_start)(struct s3_req *r);
    s3_headers_fn on_headers;
    /* Called after a 2xx answer with its body in: 0 accept, 1 retry (set r->code to say
     * why), or an MF_E* code that fails the request. */
    int (*validate)(struct s3_req *r);
    s3_done_fn on_done;
    void *ud;                   /* the job */
    size_t idx;                 /* the job's own index (part number, item) */

    /* response (valid in on_headers and on_done) */
    long status;
    char etag[96];
    uint64_t content_length;    /* from Content-Length, or UINT64_MAX */
    uint64_t range_start, range_end, range_total;   /* from Content-Range, or UINT64_MAX */
    int kms;                    /* the ETag is not an MD5 (SSE-KMS, SSE-C) */
    char bucket_region[64];     /* x-amz-bucket-region */
    char *err_body;             /* an error response body (XML), NUL-terminated */
    size_t err_len;
    char code[64];              /* the S3 error code of the final answer, or "" */

    /* outcome (valid in on_done) */
    int rc;                     /* 0, or an MF_E* / errno code */
    int cc;                     /* the last transfer's CURLcode */
    char errbuf[CURL_ERROR_SIZE];
    char err_message[256];      /* the S3 <Message> of the final answer */
    int64_t elapsed_ms;         /* from the first attempt to the outcome */
    int corrupt;                /* the last attempt's data did not match its digest */
    char *msg;                  /* the failure message (malloc'd), NULL on success */
    unsigned attempts;

    /* engine state */
    CURL *easy;
    struct curl_slist *sent;    /* the headers of this attempt */
    char md5_b64[32], md5_hex[S3_MD5_HEX], sha256_hex[S3_SHA256_HEX];
    int digests_done;
    size_t rd_i;                /* body read cursor: iov index and offset in it */
    size_t rd_ioff;
    uint64_t rd_pos;            /* bytes of the body sent in this attempt */
    uint64_t wr_pos;            /* bytes of the body received in this attempt */
    int sink_err;               /* errno of a failed sink write */
    int body_err;               /* errno of a failed body read */
    int hdr_err;                /* on_headers refused */
    int enough;                 /* on_headers stopped the transfer: nothing more needed */
    EVP_MD_CTX *md5;            /* GET verification */
    int64_t first_ms, due_ms;
    double retry_after_s;
    struct s3_req *next;        /* queue link */
};

/* A run of the engine: requests added before or during the run are all carried out. */
struct s3_exec {
    struct s3 *s;
    struct s3_req *ready_head, *ready_tail;   /* FIFO of requests to start */
    struct s3_req *delayed;                   /* retries waiting for their time */
    size_t running;
};

void s3_exec_init(struct s3_exec *ex, struct s3 *s);
/* Queue a request (it may already have run: the engine resets its per-attempt state). */
void s3_exec_add(struct s3_exec *ex, struct s3_req *r);
/* Run until every queued request (and whatever their on_done queued) has finished; one run
 * at a time per instance (callers in other threads wait). Returns 0; each request's outcome
 * is in its rc and msg. */
int s3_exec_run(struct s3_exec *ex);

/* Reset a request's outcome and per-attempt state so that it can be queued again. */
void s3_req_reset(struct s3_req *r);
/* Free what the request owns (headers, key, query, buffers of GROW sinks, messages). */
void s3_req_clear(struct s3_req *r);
/* Add a header line ("Name: value"); 0 or MF_ENOMEM. */
int s3_req_header(struct s3_req *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "s3://bucket/prefix/key" of a key (NULL: the bucket), malloc'd. */
char *s3_object_url(struct s3 *s, const char *key);
/* The full object name in the bucket: prefix + "/" + key. malloc'd. */
char *s3_full_key(struct s3 *s, const char *key);
/* A message for a failed request (what, where, why, what to do); malloc'd. */
char *s3_describe(struct s3 *s, struct s3_req *r, int *rc);
/* HEAD of the bucket: 1 exists (or exists but listing is denied), 0 absent, <0 error. */
int s3_check_bucket(struct s3 *s);

/* ---- jobs (s3_job.c): one item of an operation, carried out as requests ------------------ */

struct s3_job {
    struct s3 *s;
    const char *key;
    uint32_t flags;

    /* put: the data (iov) or a file (fd) */
    const struct mf_iov *iov;
    size_t niov;
    struct mf_iov one;
    int fd;
    const char *src_path;
    int src_fd;                   /* or an open file (borrowed: the writer's spill file) */
    uint64_t size;

    /* get: into memory (mem) or a file (dst_path via tmp_path / out_fd) */
    const char *dst_path;
    char *tmp_path;
    int out_fd;
    char *mem;
    uint64_t total;
    int total_known;
    char etag[96];
    uint64_t range_off, range_len;  /* get_range: the bytes asked for */
    size_t range_got;             /* and how many of them the object has */

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

void s3_job_init(struct s3_job *j, struct s3 *s, const char *key);
void s3_job_clear(struct s3_job *j);
/* Record the job's first failure (later ones are dropped). */
void s3_job_fail(struct s3_job *j, int rc, const char *msg);
void s3_job_fail_req(struct s3_job *j, struct s3_req *r);
/* The release of an mf_buf whose data is the plugin's malloc'd memory. */
void s3_release_malloc(struct mf_buf *b);
/* The job's np parts as GETs of its key, done and validate set, each still to be given its
 * sink and s3_part_range: 0, or -1 with the job failed (out of memory). */
int s3_job_get_parts(struct s3_job *j, size_t np, s3_done_fn done,
                     int (*validate)(struct s3_req *r));
/* A ranged part's Range and If-Match headers: 0, or the job failed with no parts left. */
int s3_part_range(struct s3_req *p, struct s3_job *j, uint64_t off, uint64_t len);
void s3_job_failf(struct s3_job *j, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Fill the job's main request for a new step; 0 or MF_ENOMEM (the job failed). */
int s3_job_stage(struct s3_job *j, const char *method, const char *query);
/* Add the job's HEAD to ex (a 404 is an answer, not a failure), done seeing its outcome;
 * nothing when the job fails to stage it. */
void s3_job_head_start(struct s3_exec *ex, struct s3_job *j, s3_done_fn done);
/* on_done of a request whose failure fails its job (and that closes the job's file). */
void s3_job_put_done(struct s3_exec *ex, struct s3_req *r);
/* Run the engine; 0 or an error with the message on the instance. */
int s3_run(struct s3 *s, struct s3_exec *ex);
/* The first failed job's code and message become the call's; 0 when none failed. */
int s3_settle(struct s3 *s, struct s3_job *jobs, size_t n);
/* Carry out put, get and exists jobs together, max_concurrency requests at a time. */
int s3_run_puts(struct s3 *s, struct s3_job *jobs, size_t n);
int s3_run_gets(struct s3 *s, struct s3_job *jobs, size_t n);
int s3_run_exists(struct s3 *s, struct s3_job *jobs, size_t n);

/* ---- the streaming writer (s3_writer.c) and ranged reads (s3_range.c) ------------------ */

int s3_op_writer_open(void *state, mf_writer **out);
int s3_op_writer_write(void *state, mf_writer *w, const struct mf_iov *iov, size_t niov);
int s3_op_writer_commit(void *state, mf_writer *w, const char *key, uint32_t flags);
void s3_op_writer_abort(void *state, mf_writer *w);
int s3_op_get_range(void *state, const char *key, uint64_t offset, size_t len,
                    struct mf_buf *out, uint64_t *size);
/* put of iov (the `put` operation), for the writer's small values. */
int s3_op_put(void *state, const char *key, const struct mf_iov *iov, size_t niov,
              uint32_t flags);

/* ---- keys (s3.c) and listing (s3_list.c) ------------------------------------------------ */

/* Check a key (allow_empty: a list prefix) like the local plugin does: relative, no empty,
 * '.' or '..' components, within S3's 1024 bytes. 0 or MF_EINVAL with the message set. */
int s3_check_key(struct s3 *s, const char *what, const char *key, int allow_empty);
char *s3_dupkey(const char *key);
int s3_op_list(void *state, const char *prefix, mf_list_cb cb, void *ud);
int s3_op_list_batch(void *state, const char *const *prefixes, size_t n, mf_list_cb cb,
                     void *ud);

/* ---- helpers (s3_util.c) ------------------------------------------------------------------ */

int64_t s3_now_ms(void);
uint64_t s3_random(void);
/* Percent-encode for a URL path (keeps '/' when keep_slash) or a query value. malloc'd. */
char *s3_uri_encode(const char *s, int keep_slash);
char *s3_url_decode(const char *s, size_t len);
/* Find the text of the first element <tag>...</tag> in doc[0..len) from *pos; on success
 * val and vlen receive the raw text and *pos moves past the element. 1 found, 0 not. */
int s3_xml_next(const char *doc, size_t len, size_t *pos, const char *tag, const char **val,
                size_t *vlen);
/* Like s3_xml_next but does not move; searches the whole of doc[0..len). */
int s3_xml_get(const char *doc, size_t len, const char *tag, const char **val, size_t *vlen);
/* XML text to a string (entities and character references decoded); malloc'd. */
char *s3_xml_unescape(const char *s, size_t len);
/* Append s escaped for XML text to a growing buffer; 0 or MF_ENOMEM. */
int s3_xml_escape_append(char **buf, size_t *len, size_t *cap, const char *s);
int s3_append(char **buf, size_t *len, size_t *cap, const char *data, size_t n);
int s3_appendf(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void s3_hex(const unsigned char *in, size_t n, char *out);
void s3_base64(const unsigned char *in, size_t n, char *out);
/* MD5 (and SHA-256 when sha is set) of a body; 0 or an errno (reading a file). */
int s3_body_digest(const struct s3_body *b, unsigned char md5[16], unsigned char sha[32]);
/* Parse "123", "8M", "16MiB", "64k", "1G" into bytes; 0 ok, -1 bad. */
int s3_parse_size(const char *s, uint64_t *out);
/* Parse an unsigned decimal in [min, max]; 0 ok, -1 bad. */
int s3_parse_uint(const char *s, unsigned min, unsigned max, unsigned *out);
/* Parse a boolean ("1", "true", "yes", "on" / "0", "false", "no", "off"); -1 bad. */
int s3_parse_bool(const char *s);
/* Strip an ETag of its quotes into out (size outsz). */
void s3_etag_clean(const char *in, size_t n, char *out, size_t outsz);

#endif
