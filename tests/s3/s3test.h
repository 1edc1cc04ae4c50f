/* Helpers shared by the s3 suite's C tests: the plugin loaded into the SDK's fake host and
 * pointed at the fixture's server (s3-fixture.sh exports S3FIX_* and AWS_*), data, and the
 * fault proxy's control interface. Include after <cmocka.h>. */
#ifndef MF_S3TEST_H
#define MF_S3TEST_H

#include "fakehost.h"

#include <mflow/plugin.h>

#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const struct mf_plugin_desc *desc;
static const struct mf_storage_ops *ops;
static const char *bucket;
static char run_tag[64];   /* keeps the keys of one run of the suite apart */

#define assert_contains(hay, needle)                                                           \
    do {                                                                                       \
        const char *h_ = (hay), *n_ = (needle);                                                \
        if (!h_ || !strstr(h_, n_))                                                            \
            fail_msg("expected \"%s\" in: %s", n_, h_ ? h_ : "(null)");                        \
    } while (0)

#define assert_not_contains(hay, needle)                                                       \
    do {                                                                                       \
        const char *h_ = (hay), *n_ = (needle);                                                \
        if (h_ && strstr(h_, n_))                                                              \
            fail_msg("did not expect \"%s\" in: %s", n_, h_);                                  \
    } while (0)

/* A storage call that must succeed; on failure the plugin's message is shown. */
#define assert_ok(st, call)                                                                    \
    do {                                                                                       \
        int rc_ = (call);                                                                      \
        if (rc_ != 0)                                                                          \
            fail_msg("%s returned %d: %s", #call, rc_, ops->last_error(st));                   \
    } while (0)

/* A storage call that must fail with code; on a mismatch the plugin's message is shown. */
#define assert_rc(st, call, code)                                                              \
    do {                                                                                       \
        int rc_ = (call);                                                                      \
        if (rc_ != (code))                                                                     \
            fail_msg("%s returned %d, not %d: %s", #call, rc_, (int)(code),                    \
                     ops->last_error(st));                                                     \
    } while (0)

static inline double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Load the plugin once (MFLOW_TEST_PLUGIN) and check the fixture is there. */
static inline int suite_setup(void **state)
{
    (void)state;
    const char *so = getenv("MFLOW_TEST_PLUGIN");
    bucket = getenv("S3FIX_BUCKET");
    if (!so || !bucket || !getenv("S3FIX_ENDPOINT")) {
        fprintf(stderr, "run this test through tests/s3/s3-fixture.sh run (meson test --suite s3)\n");
        return -1;
    }
    desc = mf_fakehost_load(so);
    if (!desc) {
        fprintf(stderr, "%s\n", mf_fakehost_logs());
        return -1;
    }
    ops = desc->ops;
    snprintf(run_tag, sizeof run_tag, "r%ld-%ld", (long)getpid(), (long)time(NULL));
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return 0;
}

/* Settings for a new instance: the fixture's endpoint (or another), root s3://bucket/prefix,
 * then "key", "value" pairs ending with NULL. Returns the state, or NULL (the log says why). */
static inline void *open_store_v(const char *endpoint, const char *root, va_list ap)
{
    mf_fakehost_reset();
    mf_fakehost_set("s3", "root", root);
    mf_fakehost_set("s3", "endpoint_url", endpoint ? endpoint : getenv("S3FIX_ENDPOINT"));
    for (;;) {
        const char *k = va_arg(ap, const char *);
        if (!k)
            break;
        const char *v = va_arg(ap, const char *);
        mf_fakehost_set("s3", k, v);
    }
    void *st = NULL;
    if (desc->init(mf_fakehost(), &st) != 0)
        return NULL;
    return st;
}

static inline void *open_store(const char *endpoint, const char *prefix, ...)
{
    char root[512];
    snprintf(root, sizeof root, "s3://%s/%s/%s", bucket, run_tag, prefix);
    va_list ap;
    va_start(ap, prefix);
    void *st = open_store_v(endpoint, root, ap);
    va_end(ap);
    if (!st)
        fail_msg("init failed: %s", mf_fakehost_logs());
    return st;
}

/* Deterministic pseudo-random bytes. */
static inline unsigned char *make_data(size_t n, uint64_t seed)
{
    unsigned char *p = malloc(n ? n : 1);
    assert_non_null(p);
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (unsigned char)(x >> 24);
    }
    return p;
}

static inline void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static inline unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s: %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *p = malloc(len > 0 ? (size_t)len : 1);
    assert_non_null(p);
    assert_int_equal(fread(p, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return p;
}

static inline void scratch_dir(char *out, size_t n)
{
    const char *base = getenv("S3FIX_DIR");
    snprintf(out, n, "%s/scratch.XXXXXX", base ? base : "/tmp");
    assert_non_null(mkdtemp(out));
}

/* Get key and compare with data. */
static inline void assert_object(void *st, const char *key, const void *data, size_t n)
{
    struct mf_buf b;
    int rc = ops->get(st, key, &b);
    if (rc)
        fail_msg("get %s: %d %s", key, rc, ops->last_error(st));
    assert_int_equal(b.len, n);
    assert_non_null(b.data);
    if (n)
        assert_memory_equal(b.data, data, n);
    if (b.release)
        b.release(&b);
}

/* ---- the fault proxy (S3FIX_PROXY_URL) ---------------------------------------------------- */

struct grow {
    char *p;
    size_t n;
};

static inline size_t grow_write(char *d, size_t s, size_t n, void *ud)
{
    struct grow *g = ud;
    char *np = realloc(g->p, g->n + s * n + 1);
    if (!np)
        return 0;
    memcpy(np + g->n, d, s * n);
    g->n += s * n;
    np[g->n] = '\0';
    g->p = np;
    return s * n;
}

/* GET proxy/__fault/<what>; returns the body (malloc'd). */
static inline char *proxy(const char *what)
{
    const char *base = getenv("S3FIX_PROXY_URL");
    if (!base)
        fail_msg("no fault proxy: run with S3FIX_PROXY=1");
    char url[1024];
    snprintf(url, sizeof url, "%s/__fault/%s", base, what);
    CURL *e = curl_easy_init();
    struct grow g = {NULL, 0};
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, grow_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &g);
    CURLcode cc = curl_easy_perform(e);
    long code = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(e);
    if (cc != CURLE_OK || code != 200)
        fail_msg("proxy %s: %s (HTTP %ld)", what, curl_easy_strerror(cc), code);
    return g.p ? g.p : strdup("");
}

static inline void proxy_do(const char *what)
{
    free(proxy(what));
}

/* Occurrences of needle in hay. */
static inline int count_of(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* The number after "\"<kind>\": " in the stats' injected map (0 when absent). */
static inline int injected(const char *stats, const char *kind)
{
    char k[64];
    snprintf(k, sizeof k, "\"%s\": ", kind);
    const char *inj = strstr(stats, "\"injected\"");
    const char *p = inj ? strstr(inj, k) : NULL;
    return p ? atoi(p + strlen(k)) : 0;
}

#endif
