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

int s3_check_key(struct s3 *s, const char *what, const char *key, int allow_empty)
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

char *s3_dupkey(const char *key)
{
    return strdup(key ? key : "");
}

void s3_release_malloc(struct mf_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
}

/* ---- the operations ---------------------------------------------------------------------------- */

int s3_op_put(void *state, const char *key, const struct mf_iov *iov, size_t niov,
              uint32_t flags)
{
    struct s3 *s = state;
    int rc = s3_check_key(s, "key", key, 0);
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
    struct s3_job j;
    s3_job_init(&j, s, key);
    j.iov = iov;
    j.niov = niov;
    j.size = size;
    j.flags = flags;
    rc = s3_run_puts(s, &j, 1);
    s3_job_clear(&j);
    return rc;
}

static int op_put_file(void *state, const char *key, const char *path, uint32_t flags)
{
    struct s3 *s = state;
    int rc = s3_check_key(s, "key", key, 0);
    if (rc)
        return rc;
    if (!path || !*path)
        return s3_fail(s, MF_EINVAL, "s3 storage: put_file of key '%s' was given no file", key);
    struct s3_job j;
    s3_job_init(&j, s, key);
    j.src_path = path;
    j.flags = flags;
    rc = s3_run_puts(s, &j, 1);
    s3_job_clear(&j);
    return rc;
}

/* Hand the bytes a get downloaded into j's memory to out (an empty object gets a 1-byte
 * buffer: out->data is never NULL). 0, or MF_ENOMEM with out->data NULL. */
static int take_download(struct s3_job *j, struct mf_buf *out)
{
    out->data = j->mem ? j->mem : malloc(1);
    out->len = (size_t)j->total;
    out->release = s3_release_malloc;
    j->mem = NULL;
    return out->data ? 0 : MF_ENOMEM;
}

static int op_get(void *state, const char *key, struct mf_buf *out)
{
    struct s3 *s = state;
    if (!out)
        return s3_fail(s, MF_EINVAL, "s3 storage: get of key '%s' was given no buffer",
                       key ? key : "(null)");
    memset(out, 0, sizeof *out);
    out->struct_size = sizeof *out;
    int rc = s3_check_key(s, "key", key, 0);
    if (rc)
        return rc;
    struct s3_job j;
    s3_job_init(&j, s, key);
    rc = s3_run_gets(s, &j, 1);
    if (!rc && take_download(&j, out))
        rc = s3_fail(s, MF_ENOMEM, "s3 storage: out of memory reading key '%s'", key);
    s3_job_clear(&j);
    return rc;
}

static int op_get_file(void *state, const char *key, const char *path)
{
    struct s3 *s = state;
    int rc = s3_check_key(s, "key", key, 0);
    if (rc)
        return rc;
    if (!path || !*path || strlen(path) + 48 >= PATH_MAX)
        return s3_fail(s, MF_EINVAL, "s3 storage: get_file of key '%s' was given no usable path",
                       key);
    struct s3_job j;
    s3_job_init(&j, s, key);
    j.dst_path = path;
    rc = s3_run_gets(s, &j, 1);
    s3_job_clear(&j);
    return rc;
}

static int op_exists(void *state, const char *key)
{
    struct s3 *s = state;
    int rc = s3_check_key(s, "key", key, 0);
    if (rc)
        return rc;
    struct s3_job j;
    s3_job_init(&j, s, key);
    rc = s3_run_exists(s, &j, 1);
    int ex = j.exists;
    s3_job_clear(&j);
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
    struct s3_job j;
    s3_job_init(&j, s, key);
    struct s3_exec ex;
    s3_exec_init(&ex, s);
    if (!s3_job_stage(&j, "DELETE", NULL)) {
        j.main.on_done = s3_job_put_done;
        s3_exec_add(&ex, &j.main);
        rc = s3_run(s, &ex);
    }
    if (!rc)
        rc = s3_settle(s, &j, 1);
    s3_job_clear(&j);
    return rc;
}

/* The jobs of a batch `op` of n items (`what`: "puts" for the out-of-memory message), one per
 * item, each with its key checked: a bad key fails its own job, not the batch. 0 with *jobs
 * (NULL when n is 0: nothing to do), or the failure on s. */
static int batch_open(struct s3 *s, const char *op, const char *what,
                      const struct mf_storage_item *items, size_t n, struct s3_job **jobs)
{
    *jobs = NULL;
    if (n && !items)
        return s3_fail(s, MF_EINVAL, "s3 storage: %s was given no items", op);
    if (!n)
        return 0;
    *jobs = calloc(n, sizeof **jobs);
    if (!*jobs)
        return s3_fail(s, MF_ENOMEM, "s3 storage: out of memory for a batch of %zu %s", n, what);
    for (size_t i = 0; i < n; i++) {
        s3_job_init(&(*jobs)[i], s, items[i].key);
        int rc = s3_check_key(s, "key", items[i].key, 0);
        if (rc)
            s3_job_fail(&(*jobs)[i], rc, s3_last_error(s));
    }
    return 0;
}

/* Each item's result from its job, then the jobs freed. Returns rc, the batch's outcome. */
static int batch_close(struct s3_job *jobs, struct mf_storage_item *items, size_t n, int rc)
{
    for (size_t i = 0; i < n; i++) {
        items[i].result = jobs[i].rc;
        s3_job_clear(&jobs[i]);
    }
    free(jobs);
    return rc;
}

static int op_put_batch(void *state, struct mf_storage_item *items, size_t n)
{
    struct s3 *s = state;
    struct s3_job *jobs;
    int rc = batch_open(s, "put_batch", "puts", items, n, &jobs);
    if (rc || !jobs)
        return rc;
    for (size_t i = 0; i < n; i++) {
        struct mf_storage_item *it = &items[i];
        struct s3_job *j = &jobs[i];
        j->flags = it->flags;
        if (j->rc)
            continue;   /* its key */
        if (!it->data && it->path) {
            j->src_path = it->path;
        } else if (!it->data && it->len) {
            s3_job_failf(j, MF_EINVAL,
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
    return batch_close(jobs, items, n, s3_run_puts(s, jobs, n));
}

static int op_get_batch(void *state, struct mf_storage_item *items, size_t n)
{
    struct s3 *s = state;
    struct s3_job *jobs;
    int rc = batch_open(s, "get_batch", "gets", items, n, &jobs);
    if (rc || !jobs)
        return rc;
    for (size_t i = 0; i < n; i++) {
        struct mf_storage_item *it = &items[i];
        struct s3_job *j = &jobs[i];
        memset(&it->out, 0, sizeof it->out);
        it->out.struct_size = sizeof it->out;
        if (j->rc)
            continue;   /* its key */
        if (it->path && (!*it->path || strlen(it->path) + 48 >= PATH_MAX))
            s3_job_failf(j, MF_EINVAL,
                      "s3 storage: get_batch item %zu (key '%s') has no usable path", i, it->key);
        else if (it->path)
            j->dst_path = it->path;
    }
    rc = s3_run_gets(s, jobs, n);
    for (size_t i = 0; i < n; i++) {
        struct s3_job *j = &jobs[i];
        if (!j->rc && !j->dst_path && take_download(j, &items[i].out)) {
            j->rc = MF_ENOMEM;   /* the item's result */
            if (!rc)
                rc = s3_fail(s, MF_ENOMEM, "s3 storage: out of memory reading key '%s'", j->key);
        }
    }
    return batch_close(jobs, items, n, rc);
}

static int op_exists_batch(void *state, struct mf_storage_item *items, size_t n)
{
    struct s3 *s = state;
    struct s3_job *jobs;
    int rc = batch_open(s, "exists_batch", "checks", items, n, &jobs);
    if (rc || !jobs)
        return rc;
    rc = s3_run_exists(s, jobs, n);
    for (size_t i = 0; i < n; i++)
        items[i].exists = jobs[i].exists;
    return batch_close(jobs, items, n, rc);
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

/* An s3:// root selects this plugin without --storage (ABI 1.3). */
static const char *const schemes[] = {"s3", NULL};

static const struct mf_storage_ops storage_ops = {
    .struct_size = sizeof(struct mf_storage_ops),
    .put = s3_op_put,
    .put_file = op_put_file,
    .get = op_get,
    .get_file = op_get_file,
    .exists = op_exists,
    .list = s3_op_list,
    .del = op_del,
    .put_batch = op_put_batch,
    .get_batch = op_get_batch,
    .exists_batch = op_exists_batch,
    .list_batch = s3_op_list_batch,
    .last_error = op_last_error,
    .root = op_root,
    .writer_open = s3_op_writer_open,
    .writer_write = s3_op_writer_write,
    .writer_commit = s3_op_writer_commit,
    .writer_abort = s3_op_writer_abort,
    .schemes = schemes,
    .get_range = s3_op_get_range,
    /* a get downloads into memory, and the writer spills to a file (s3_writer.c) */
    .flags = MF_STORAGE_GET_COPIES | MF_STORAGE_WRITER_COPIES,
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
    OPT(MF_OPT_STRING, "spill_dir", "MFLOW_S3_SPILL_DIR", NULL,
        "where a value written in pieces waits, in an unnamed file, until its key is known and "
        "it is uploaded (else TMPDIR, else /tmp)"),
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
