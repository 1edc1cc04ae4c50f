/* The s3 storage plugin against a real, signature-verifying S3 server on loopback
 * (s3-fixture.sh): every operation, its batch form, the layout of keys, settings, credentials
 * and the messages for a wrong secret, an unknown key id, a missing bucket and an
 * unreachable endpoint. The plugin is loaded from its .so into the SDK's fake host. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "s3test.h"

#include <dirent.h>
#include <sys/socket.h>
#include <netinet/in.h>

/* ---- basic operations ----------------------------------------------------------------------- */

static void test_put_get_iov(void **state)
{
    (void)state;
    void *st = open_store(NULL, "iov");
    char root[512];
    snprintf(root, sizeof root, "s3://%s/%s/iov", bucket, run_tag);
    assert_string_equal(ops->root(st), root);

    struct mf_iov v[4] = {{"MFB1", 4}, {"", 0}, {"hello, ", 7}, {"world", 5}};
    assert_ok(st, ops->put(st, "blobs/ab/abcdef", v, 4, 0));
    assert_object(st, "blobs/ab/abcdef", "MFB1hello, world", 16);
    assert_int_equal(ops->exists(st, "blobs/ab/abcdef"), 1);
    assert_ok(st, ops->exists(st, "blobs/ab/abcde"));   /* a prefix of it is not it */
    assert_ok(st, ops->exists(st, "blobs/ab"));

    /* replace */
    struct mf_iov w = {"second", 6};
    assert_ok(st, ops->put(st, "blobs/ab/abcdef", &w, 1, 0));
    assert_object(st, "blobs/ab/abcdef", "second", 6);
    desc->fini(st);
}

static void test_files(void **state)
{
    (void)state;
    void *st = open_store(NULL, "files");
    char dir[PATH_MAX], src[PATH_MAX + 16], dst[PATH_MAX + 16], bad[PATH_MAX + 32];
    scratch_dir(dir, sizeof dir);
    snprintf(src, sizeof src, "%s/src", dir);
    snprintf(dst, sizeof dst, "%s/dst", dir);
    size_t n = 300 * 1024 + 7;
    unsigned char *data = make_data(n, 1);
    write_file(src, data, n);
    assert_ok(st, ops->put_file(st, "runs/F/1/start/1/0.stdout", src, 0));
    assert_object(st, "runs/F/1/start/1/0.stdout", data, n);
    assert_ok(st, ops->get_file(st, "runs/F/1/start/1/0.stdout", dst));
    size_t m;
    unsigned char *got = slurp(dst, &m);
    assert_int_equal(m, n);
    assert_memory_equal(got, data, n);
    free(got);
    /* nothing but src and dst in the directory: the temporary file was renamed */
    DIR *d = opendir(dir);
    int entries = 0;
    for (struct dirent *e; (e = readdir(d));)
        entries += e->d_name[0] != '.';
    closedir(d);
    assert_int_equal(entries, 2);

    /* a missing source file, a directory, a destination in a missing directory */
    assert_rc(st, ops->put_file(st, "x", "/nonexistent/file", 0), MF_ENOTFOUND);
    assert_contains(ops->last_error(st), "/nonexistent/file");
    assert_rc(st, ops->put_file(st, "x", dir, 0), MF_EINVAL);
    assert_contains(ops->last_error(st), "is a directory");
    snprintf(bad, sizeof bad, "%s/no/such/dir/f", dir);
    assert_rc(st, ops->get_file(st, "runs/F/1/start/1/0.stdout", bad), ENOENT);
    assert_contains(ops->last_error(st), "does not exist");
    /* a missing object leaves no file behind */
    assert_rc(st, ops->get_file(st, "runs/missing", dst), MF_ENOTFOUND);
    got = slurp(dst, &m);
    assert_int_equal(m, n);
    free(got);
    free(data);
    desc->fini(st);
}

static void test_missing_and_delete(void **state)
{
    (void)state;
    void *st = open_store(NULL, "missing");
    struct mf_buf b;
    assert_rc(st, ops->get(st, "no/such/key", &b), MF_ENOTFOUND);
    const char *e = ops->last_error(st);
    assert_contains(e, "s3://");
    assert_contains(e, bucket);
    assert_contains(e, "/missing/no/such/key");
    assert_contains(e, "404");
    assert_contains(e, getenv("S3FIX_ENDPOINT"));
    assert_ok(st, ops->exists(st, "no/such/key"));
    assert_rc(st, ops->del(st, "no/such/key"), MF_ENOTFOUND);
    assert_contains(ops->last_error(st), "no/such/key");

    struct mf_iov v = {"x", 1};
    assert_ok(st, ops->put(st, "d/one", &v, 1, 0));
    assert_int_equal(ops->exists(st, "d/one"), 1);
    assert_ok(st, ops->del(st, "d/one"));
    assert_ok(st, ops->exists(st, "d/one"));
    assert_rc(st, ops->get(st, "d/one", &b), MF_ENOTFOUND);
    desc->fini(st);
}

static void test_if_absent(void **state)
{
    (void)state;
    void *st = open_store(NULL, "absent");
    struct mf_iov a = {"first", 5}, b = {"second", 6}, c = {"third", 5};
    assert_ok(st, ops->put(st, "blobs/00/k", &a, 1, MF_PUT_IF_ABSENT));
    assert_object(st, "blobs/00/k", "first", 5);
    assert_ok(st, ops->put(st, "blobs/00/k", &b, 1, MF_PUT_IF_ABSENT));
    assert_object(st, "blobs/00/k", "first", 5);   /* kept */
    assert_ok(st, ops->put(st, "blobs/00/k", &c, 1, 0));
    assert_object(st, "blobs/00/k", "third", 5);

    char dir[PATH_MAX], src[PATH_MAX + 8];
    scratch_dir(dir, sizeof dir);
    snprintf(src, sizeof src, "%s/f", dir);
    write_file(src, "from file", 9);
    assert_ok(st, ops->put_file(st, "blobs/00/k", src, MF_PUT_IF_ABSENT));
    assert_object(st, "blobs/00/k", "third", 5);
    assert_ok(st, ops->put_file(st, "blobs/00/new", src, MF_PUT_IF_ABSENT));
    assert_object(st, "blobs/00/new", "from file", 9);
    desc->fini(st);
}

static void test_empty_object(void **state)
{
    (void)state;
    void *st = open_store(NULL, "empty");
    assert_ok(st, ops->put(st, "e/0", NULL, 0, 0));
    struct mf_buf b;
    assert_ok(st, ops->get(st, "e/0", &b));
    assert_int_equal(b.len, 0);
    assert_non_null(b.data);
    if (b.release)
        b.release(&b);
    char dir[PATH_MAX], dst[PATH_MAX + 8];
    scratch_dir(dir, sizeof dir);
    snprintf(dst, sizeof dst, "%s/e", dir);
    assert_ok(st, ops->get_file(st, "e/0", dst));
    struct stat sb;
    assert_int_equal(stat(dst, &sb), 0);
    assert_int_equal(sb.st_size, 0);
    desc->fini(st);
}

/* ---- listing -------------------------------------------------------------------------------- */

struct seen {
    char keys[64][256];
    uint64_t sizes[64];
    int n;
    int stop_after;
};

static int remember(void *ud, const char *key, uint64_t size)
{
    struct seen *s = ud;
    if (s->n < 64) {
        snprintf(s->keys[s->n], sizeof s->keys[0], "%s", key);
        s->sizes[s->n] = size;
    }
    s->n++;
    if (s->stop_after && s->n >= s->stop_after)
        return 42;
    return 0;
}

static int find(const struct seen *s, const char *key)
{
    for (int i = 0; i < s->n && i < 64; i++)
        if (!strcmp(s->keys[i], key))
            return i;
    return -1;
}

static void test_list_pages(void **state)
{
    (void)state;
    /* 7 keys a page: 23 keys take 4 pages (continuation tokens) */
    void *st = open_store(NULL, "list", "list_page_size", "7", NULL);
    char keys[25][32];
    char data[32];
    struct mf_storage_item items[25];
    memset(items, 0, sizeof items);
    for (int i = 0; i < 25; i++) {
        if (i < 23)
            snprintf(keys[i], sizeof keys[i], "lp/k%02d", i);
        else
            snprintf(keys[i], sizeof keys[i], i == 23 ? "lp2/x" : "other/y");
        items[i].struct_size = sizeof items[i];
        items[i].key = keys[i];
        items[i].data = data;
        items[i].len = (size_t)i;   /* size = index */
    }
    memset(data, 'z', sizeof data);
    assert_ok(st, ops->put_batch(st, items, 25));

    struct seen s = {0};
    assert_ok(st, ops->list(st, "lp/", remember, &s));
    assert_int_equal(s.n, 23);
    for (int i = 0; i < 23; i++) {
        int at = find(&s, keys[i]);
        if (at < 0)
            fail_msg("key %s missing from the listing", keys[i]);
        assert_int_equal(s.sizes[at], (uint64_t)i);
    }
    memset(&s, 0, sizeof s);
    assert_ok(st, ops->list(st, "lp", remember, &s));   /* string prefix: lp/ and lp2/ */
    assert_int_equal(s.n, 24);
    memset(&s, 0, sizeof s);
    assert_ok(st, ops->list(st, "", remember, &s));
    assert_int_equal(s.n, 25);
    assert_true(find(&s, "other/y") >= 0);
    memset(&s, 0, sizeof s);
    assert_ok(st, ops->list(st, "nothing/", remember, &s));
    assert_int_equal(s.n, 0);

    /* a callback that stops the listing: its value comes back, no more calls */
    memset(&s, 0, sizeof s);
    s.stop_after = 3;
    assert_int_equal(ops->list(st, "lp/", remember, &s), 42);
    assert_int_equal(s.n, 3);
    memset(&s, 0, sizeof s);
    s.stop_after = 10;   /* across a page boundary */
    assert_int_equal(ops->list(st, "lp/", remember, &s), 42);
    assert_int_equal(s.n, 10);

    /* several prefixes at once */
    const char *prefixes[] = {"lp/k1", "lp2/", "other/"};
    memset(&s, 0, sizeof s);
    assert_ok(st, ops->list_batch(st, prefixes, 3, remember, &s));
    assert_int_equal(s.n, 10 + 1 + 1);
    assert_true(find(&s, "lp/k15") >= 0);
    assert_true(find(&s, "lp2/x") >= 0);
    assert_true(find(&s, "other/y") >= 0);

    /* the root prefix is not part of the keys, and other roots are not seen */
    void *st2 = open_store(NULL, "list2", NULL);
    memset(&s, 0, sizeof s);
    struct mf_iov v = {"q", 1};
    assert_ok(st2, ops->put(st2, "lp/k00x", &v, 1, 0));
    assert_ok(st2, ops->list(st2, "", remember, &s));
    assert_int_equal(s.n, 1);
    assert_string_equal(s.keys[0], "lp/k00x");
    desc->fini(st2);
    desc->fini(st);
}

static void test_odd_keys(void **state)
{
    (void)state;
    void *st = open_store(NULL, "odd keys", "list_page_size", "2", NULL);
    const char *keys[] = {
        "x/a b&c<d>e'f\"g",
        "x/plus+equals=semi;colon:comma,at@dollar$",
        "x/t~i(l)d*e!hash#pct%20q?",
        "x/\xc3\xa9t\xc3\xa9/\xe2\x82\xac/\xf0\x9f\x98\x80.txt",
        "x/tab\there",
        "x/.hidden/..dots../a.b",
    };
    size_t nk = sizeof keys / sizeof keys[0];
    for (size_t i = 0; i < nk; i++) {
        struct mf_iov v = {keys[i], strlen(keys[i])};
        int rc = ops->put(st, keys[i], &v, 1, 0);
        if (rc)
            fail_msg("put '%s': %s", keys[i], ops->last_error(st));
        assert_object(st, keys[i], keys[i], strlen(keys[i]));
        assert_int_equal(ops->exists(st, keys[i]), 1);
    }
    struct seen s = {0};
    assert_ok(st, ops->list(st, "x/", remember, &s));
    assert_int_equal(s.n, (int)nk);
    for (size_t i = 0; i < nk; i++) {
        int at = find(&s, keys[i]);
        if (at < 0)
            fail_msg("key '%s' not listed back exactly", keys[i]);
        assert_int_equal(s.sizes[at], strlen(keys[i]));
    }
    desc->fini(st);
}

static void test_bad_keys(void **state)
{
    (void)state;
    void *st = open_store(NULL, "bad");
    struct mf_iov v = {"x", 1};
    const char *bad[] = {"", "/abs", "a//b", "a/../b", "./a", "a/", "a/.", NULL};
    for (int i = 0; bad[i]; i++) {
        assert_rc(st, ops->put(st, bad[i], &v, 1, 0), MF_EINVAL);
        assert_contains(ops->last_error(st), "s3 storage:");
    }
    assert_rc(st, ops->put(st, NULL, &v, 1, 0), MF_EINVAL);
    assert_rc(st, ops->exists(st, "a//b"), MF_EINVAL);
    assert_contains(ops->last_error(st), "empty component");
    char longkey[1200];
    memset(longkey, 'k', sizeof longkey - 1);
    longkey[sizeof longkey - 1] = '\0';
    assert_rc(st, ops->put(st, longkey, &v, 1, 0), MF_EINVAL);
    assert_contains(ops->last_error(st), "too long");
    struct seen s = {0};
    assert_rc(st, ops->list(st, "/x", remember, &s), MF_EINVAL);
    assert_rc(st, ops->list(st, "a/../", remember, &s), MF_EINVAL);
    desc->fini(st);
}

/* ---- large objects -------------------------------------------------------------------------- */

static void test_multipart(void **state)
{
    (void)state;
    /* through the proxy (no faults), to see the requests: 5 MiB parts */
    const char *px = getenv("S3FIX_PROXY_URL");
    void *st = open_store(px, "mp", "multipart_threshold", "5MiB", "part_size", "5MiB",
                          "max_concurrency", "4", NULL);
    size_t n = 23 * 1024 * 1024 + 12345;
    unsigned char *data = make_data(n, 7);
    /* pieces that do not line up with the parts */
    struct mf_iov v[4] = {{data, 16}, {data + 16, 3 * 1024 * 1024},
                          {data + 16 + 3 * 1024 * 1024, 9 * 1024 * 1024 + 1},
                          {data + 16 + 12 * 1024 * 1024 + 1, n - (16 + 12 * 1024 * 1024 + 1)}};
    proxy_do("reset");
    assert_ok(st, ops->put(st, "blobs/mp/big", v, 4, 0));
    char *stats = proxy("stats");
    assert_int_equal(count_of(stats, "?uploads= -> 200"), 1);
    assert_int_equal(count_of(stats, "partNumber="), 5);
    assert_int_equal(count_of(stats, "partNumber=5&"), 1);
    assert_int_equal(count_of(stats, "POST /"), 2);   /* initiate and complete */
    free(stats);

    proxy_do("reset");
    assert_object(st, "blobs/mp/big", data, n);
    stats = proxy("stats");
    assert_int_equal(count_of(stats, "\"GET /"), 5);   /* a first range, then 4 in parallel */
    free(stats);

    char dir[PATH_MAX], path[PATH_MAX + 8], back[PATH_MAX + 8];
    scratch_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/big", dir);
    snprintf(back, sizeof back, "%s/back", dir);
    write_file(path, data, n);
    assert_ok(st, ops->put_file(st, "blobs/mp/file", path, 0));
    assert_ok(st, ops->get_file(st, "blobs/mp/file", back));
    size_t m;
    unsigned char *got = slurp(back, &m);
    assert_int_equal(m, n);
    assert_memory_equal(got, data, n);
    free(got);

    /* exactly the threshold is one PUT; one byte more is multipart */
    proxy_do("reset");
    struct mf_iov t = {data, 5 * 1024 * 1024};
    assert_ok(st, ops->put(st, "blobs/mp/edge", &t, 1, 0));
    t.len++;
    assert_ok(st, ops->put(st, "blobs/mp/edge1", &t, 1, 0));
    stats = proxy("stats");
    assert_int_equal(count_of(stats, "partNumber="), 2);
    free(stats);
    assert_object(st, "blobs/mp/edge1", data, t.len);
    desc->fini(st);

    /* a batch that fills the connection pool sends objects up to batch_single_put_max in one
     * PUT each; with it off, in parts */
    for (int mode = 0; mode < 2; mode++) {
        st = open_store(px, "mpbatch", "multipart_threshold", "5MiB", "part_size", "5MiB",
                        "max_concurrency", "2", "batch_single_put_max", mode ? "0" : "64MiB",
                        NULL);
        struct mf_storage_item it[2];
        memset(it, 0, sizeof it);
        it[0].key = "b/one";
        it[1].key = "b/two";
        for (int i = 0; i < 2; i++) {
            it[i].struct_size = sizeof it[i];
            it[i].data = data + i;
            it[i].len = 6 * 1024 * 1024;
        }
        proxy_do("reset");
        assert_ok(st, ops->put_batch(st, it, 2));
        stats = proxy("stats");
        assert_int_equal(count_of(stats, "partNumber="), mode ? 4 : 0);
        assert_int_equal(count_of(stats, "\"PUT /"), mode ? 4 : 2);
        free(stats);
        assert_object(st, "b/two", data + 1, 6 * 1024 * 1024);
        desc->fini(st);
    }
    free(data);
}

/* ---- batches -------------------------------------------------------------------------------- */

static int counter(void *ud, const char *key, uint64_t size)
{
    (void)key;
    (void)size;
    ((int *)ud)[0]++;
    return 0;
}

static void test_batches(void **state)
{
    (void)state;
    void *st = open_store(NULL, "batch", "max_concurrency", "8", NULL);
    enum { N = 300 };
    char dir[PATH_MAX];
    scratch_dir(dir, sizeof dir);
    static char keys[N][64], paths[N][PATH_MAX + 32], outs[N][PATH_MAX + 32];
    static unsigned char *data[N];
    static size_t len[N];
    struct mf_storage_item *items = calloc(N, sizeof *items);
    for (int i = 0; i < N; i++) {
        snprintf(keys[i], sizeof keys[i], "b/%c/obj%03d", i % 2 ? 'a' : 'b', i);
        len[i] = (size_t)(i * 37 % 5000);
        data[i] = make_data(len[i], (uint64_t)i + 100);
        items[i].struct_size = sizeof items[i];
        items[i].key = keys[i];
        if (i % 2) {
            snprintf(paths[i], sizeof paths[i], "%s/in%03d", dir, i);
            write_file(paths[i], data[i], len[i]);
            items[i].path = paths[i];
        } else {
            items[i].data = data[i];
            items[i].len = len[i];
        }
        items[i].result = 12345;
    }
    items[7].key = "b//bad";   /* one bad item: it fails, the others are stored */
    assert_rc(st, ops->put_batch(st, items, N), MF_EINVAL);
    assert_contains(ops->last_error(st), "b//bad");
    for (int i = 0; i < N; i++)
        assert_int_equal(items[i].result, i == 7 ? MF_EINVAL : 0);

    /* exists_batch: all but the bad one, plus two that are not there */
    struct mf_storage_item *q = calloc(N + 2, sizeof *q);
    for (int i = 0; i < N; i++) {
        q[i].struct_size = sizeof q[i];
        q[i].key = keys[i];
        q[i].exists = -1;
    }
    q[N].key = "b/none1";
    q[N + 1].key = "b/a/none2";
    assert_ok(st, ops->exists_batch(st, q, N + 2));
    for (int i = 0; i < N + 2; i++) {
        assert_int_equal(q[i].result, 0);
        assert_int_equal(q[i].exists, i == 7 || i >= N ? 0 : 1);
    }

    /* get_batch: half into memory, half into files; one missing */
    for (int i = 0; i < N; i++) {
        memset(&q[i], 0, sizeof q[i]);
        q[i].struct_size = sizeof q[i];
        q[i].key = keys[i];
        if (i % 3 == 0) {
            snprintf(outs[i], sizeof outs[i], "%s/out%03d", dir, i);
            q[i].path = outs[i];
        }
    }
    assert_rc(st, ops->get_batch(st, q, N), MF_ENOTFOUND);   /* item 7 */
    assert_contains(ops->last_error(st), "obj007");
    for (int i = 0; i < N; i++) {
        if (i == 7) {
            assert_int_equal(q[i].result, MF_ENOTFOUND);
            continue;
        }
        assert_int_equal(q[i].result, 0);
        if (q[i].path) {
            size_t m;
            unsigned char *got = slurp(q[i].path, &m);
            assert_int_equal(m, len[i]);
            if (m)
                assert_memory_equal(got, data[i], m);
            free(got);
        } else {
            assert_int_equal(q[i].out.len, len[i]);
            if (len[i])
                assert_memory_equal(q[i].out.data, data[i], len[i]);
            q[i].out.release(&q[i].out);
        }
    }

    /* list_batch over both halves */
    int c = 0;
    const char *prefixes[] = {"b/a/", "b/b/"};
    assert_ok(st, ops->list_batch(st, prefixes, 2, counter, &c));
    assert_int_equal(c, N - 1);

    /* empty batches are fine */
    assert_ok(st, ops->put_batch(st, items, 0));
    assert_ok(st, ops->get_batch(st, items, 0));
    for (int i = 0; i < N; i++)
        free(data[i]);
    free(items);
    free(q);
    desc->fini(st);
}

/* ---- settings ------------------------------------------------------------------------------- */

static void test_signed_payload(void **state)
{
    (void)state;
    /* the SHA-256 of each body in the signature, with and without Content-MD5 */
    void *st = open_store(NULL, "signed", "sign_payload", "true", "multipart_threshold", "5MiB",
                          "part_size", "5MiB", NULL);
    size_t n = 6 * 1024 * 1024;
    unsigned char *data = make_data(n, 3);
    struct mf_iov v = {data, n};
    assert_ok(st, ops->put(st, "s/big", &v, 1, 0));
    assert_object(st, "s/big", data, n);
    v.len = 1000;
    assert_ok(st, ops->put(st, "s/small", &v, 1, 0));
    assert_object(st, "s/small", data, 1000);
    desc->fini(st);
    st = open_store(NULL, "signed", "content_md5", "false", "verify_etag", "false", NULL);
    assert_ok(st, ops->put(st, "s/nomd5", &v, 1, 0));
    assert_object(st, "s/nomd5", data, 1000);
    desc->fini(st);
    free(data);
}

static void test_bad_settings(void **state)
{
    (void)state;
    void *st = NULL;
    struct {
        const char *root, *key, *value, *expect;
    } cases[] = {
        {"file:///tmp/x", NULL, NULL, "not an s3:// URL"},
        {"s3://", NULL, NULL, "does not name a valid bucket"},
        {"s3://b/../x", NULL, NULL, "'.' or '..'"},
        {"s3://b/p", "part_size", "1MiB", "part_size"},
        {"s3://b/p", "max_concurrency", "0", "max_concurrency"},
        {"s3://b/p", "content_md5", "maybe", "true or false"},
        {"s3://b/p", "endpoint_url", "127.0.0.1:9000", "not an http:// or https:// URL"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mf_fakehost_reset();
        mf_fakehost_set("s3", "root", cases[i].root);
        if (cases[i].key)
            mf_fakehost_set("s3", cases[i].key, cases[i].value);
        assert_int_not_equal(desc->init(mf_fakehost(), &st), 0);
        assert_null(st);
        assert_contains(mf_fakehost_logs(), cases[i].expect);
    }
    /* no root at all */
    mf_fakehost_reset();
    char *saved = getenv("MFLOW_DATASTORE_ROOT") ? strdup(getenv("MFLOW_DATASTORE_ROOT")) : NULL;
    unsetenv("MFLOW_DATASTORE_ROOT");
    assert_int_equal(desc->init(mf_fakehost(), &st), MF_EINVAL);
    assert_contains(mf_fakehost_logs(), "--datastore-root=s3://");
    if (saved) {
        setenv("MFLOW_DATASTORE_ROOT", saved, 1);
        free(saved);
    }
    /* the root's prefix is normalised */
    mf_fakehost_reset();
    mf_fakehost_set("s3", "root", "s3://bkt//a/b/");
    mf_fakehost_set("s3", "endpoint_url", "http://127.0.0.1:9");
    assert_int_equal(desc->init(mf_fakehost(), &st), 0);
    assert_string_equal(ops->root(st), "s3://bkt/a/b");
    desc->fini(st);
}

/* Run f with the AWS_* credentials variables replaced (NULL unsets). */
struct envsave {
    char *ak, *sk, *tok, *prof, *cred, *conf;
};

static char *dupenv(const char *n)
{
    const char *v = getenv(n);
    return v ? strdup(v) : NULL;
}

static void env_save(struct envsave *e)
{
    e->ak = dupenv("AWS_ACCESS_KEY_ID");
    e->sk = dupenv("AWS_SECRET_ACCESS_KEY");
    e->tok = dupenv("AWS_SESSION_TOKEN");
    e->prof = dupenv("AWS_PROFILE");
    e->cred = dupenv("AWS_SHARED_CREDENTIALS_FILE");
    e->conf = dupenv("AWS_CONFIG_FILE");
}

static void put_env(const char *n, char *v)
{
    if (v)
        setenv(n, v, 1);
    else
        unsetenv(n);
    free(v);
}

static void env_restore(struct envsave *e)
{
    put_env("AWS_ACCESS_KEY_ID", e->ak);
    put_env("AWS_SECRET_ACCESS_KEY", e->sk);
    put_env("AWS_SESSION_TOKEN", e->tok);
    put_env("AWS_PROFILE", e->prof);
    put_env("AWS_SHARED_CREDENTIALS_FILE", e->cred);
    put_env("AWS_CONFIG_FILE", e->conf);
}

static void test_profiles(void **state)
{
    (void)state;
    struct envsave saved;
    env_save(&saved);
    const char *ak = getenv("AWS_ACCESS_KEY_ID"), *sk = getenv("AWS_SECRET_ACCESS_KEY");
    char dir[PATH_MAX], cred[PATH_MAX + 16], conf[PATH_MAX + 16], text[1024];
    scratch_dir(dir, sizeof dir);
    snprintf(cred, sizeof cred, "%s/credentials", dir);
    snprintf(conf, sizeof conf, "%s/config", dir);
    snprintf(text, sizeof text,
             "# test\n[default]\naws_access_key_id = WRONGDEFAULT\naws_secret_access_key = x\n\n"
             "[mflowtest]\naws_access_key_id = %s\naws_secret_access_key = %s\n"
             "[halfway]\naws_access_key_id = %s\n",
             ak, sk, ak);
    write_file(cred, text, strlen(text));
    snprintf(text, sizeof text,
             "[profile cfgonly]\nregion = us-east-1\ns3 =\n  addressing_style = path\n"
             "aws_access_key_id = %s\naws_secret_access_key = %s\n"
             "[profile assumer]\nrole_arn = arn:aws:iam::1:role/x\nsource_profile = default\n",
             ak, sk);
    write_file(conf, text, strlen(text));
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    setenv("AWS_SHARED_CREDENTIALS_FILE", cred, 1);
    setenv("AWS_CONFIG_FILE", conf, 1);

    /* AWS_PROFILE from ~/.aws/credentials */
    setenv("AWS_PROFILE", "mflowtest", 1);
    void *st = open_store(NULL, "prof", NULL);
    assert_contains(mf_fakehost_logs(), "profile 'mflowtest'");
    struct mf_iov v = {"p", 1};
    assert_ok(st, ops->put(st, "k", &v, 1, 0));
    assert_object(st, "k", "p", 1);
    desc->fini(st);

    /* the profile option, from ~/.aws/config */
    unsetenv("AWS_PROFILE");
    st = open_store(NULL, "prof", "profile", "cfgonly", NULL);
    assert_object(st, "k", "p", 1);
    desc->fini(st);

    /* the default profile is used when nothing names one, and its wrong key is refused */
    st = open_store(NULL, "prof", NULL);
    assert_rc(st, ops->put(st, "k", &v, 1, 0), MF_EPERM);
    assert_contains(ops->last_error(st), "InvalidAccessKeyId");
    assert_contains(ops->last_error(st), "profile 'default'");
    assert_not_contains(ops->last_error(st), "WRONGDEFAULT");
    desc->fini(st);

    /* messages for profiles that cannot work */
    struct {
        const char *profile, *expect;
    } bad[] = {
        {"nope", "AWS profile 'nope' is not in"},
        {"halfway", "has aws_access_key_id but not aws_secret_access_key"},
        {"assumer", "role_arn"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char root[256];
        snprintf(root, sizeof root, "s3://%s/p", bucket);
        mf_fakehost_reset();
        mf_fakehost_set("s3", "root", root);
        setenv("AWS_PROFILE", bad[i].profile, 1);
        void *s2 = NULL;
        assert_int_equal(desc->init(mf_fakehost(), &s2), MF_EPERM);
        assert_contains(mf_fakehost_logs(), bad[i].expect);
    }

    /* no credentials anywhere */
    unsetenv("AWS_PROFILE");
    write_file(cred, "", 0);
    write_file(conf, "", 0);
    char root[256];
    snprintf(root, sizeof root, "s3://%s/p", bucket);
    mf_fakehost_reset();
    mf_fakehost_set("s3", "root", root);
    void *s3 = NULL;
    assert_int_equal(desc->init(mf_fakehost(), &s3), MF_EPERM);
    assert_contains(mf_fakehost_logs(), "no AWS credentials");
    assert_contains(mf_fakehost_logs(), "AWS_ACCESS_KEY_ID");
    /* half of them in the environment */
    setenv("AWS_ACCESS_KEY_ID", ak, 1);
    mf_fakehost_reset();
    mf_fakehost_set("s3", "root", root);
    assert_int_equal(desc->init(mf_fakehost(), &s3), MF_EPERM);
    assert_contains(mf_fakehost_logs(), "AWS_SECRET_ACCESS_KEY is not");
    /* anonymous requests need no credentials (the test server accepts them) */
    mf_fakehost_reset();
    s3 = open_store(NULL, "prof", "no_sign_request", "true", NULL);
    assert_object(s3, "k", "p", 1);
    desc->fini(s3);
    env_restore(&saved);
}

static void test_endpoint_from_aws_variables(void **state)
{
    (void)state;
    /* no endpoint option: AWS_ENDPOINT_URL_S3 wins over AWS_ENDPOINT_URL */
    char root[256];
    snprintf(root, sizeof root, "s3://%s/%s/envep", bucket, run_tag);
    setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9", 1);
    setenv("AWS_ENDPOINT_URL_S3", getenv("S3FIX_ENDPOINT"), 1);
    mf_fakehost_reset();
    mf_fakehost_set("s3", "root", root);
    void *st = NULL;
    assert_int_equal(desc->init(mf_fakehost(), &st), 0);
    assert_contains(mf_fakehost_logs(), "path-style");
    struct mf_iov v = {"e", 1};
    assert_ok(st, ops->put(st, "k", &v, 1, 0));
    desc->fini(st);
    unsetenv("AWS_ENDPOINT_URL_S3");
    mf_fakehost_reset();
    mf_fakehost_set("s3", "root", root);
    mf_fakehost_set("s3", "max_attempts", "1");
    assert_int_equal(desc->init(mf_fakehost(), &st), 0);
    assert_rc(st, ops->exists(st, "k"), MF_EUNAVAIL);
    assert_contains(ops->last_error(st), "http://127.0.0.1:9");
    assert_contains(ops->last_error(st), "AWS_ENDPOINT_URL");
    desc->fini(st);
    unsetenv("AWS_ENDPOINT_URL");
}

/* ---- failures with their own messages --------------------------------------------------------- */

#define SECRET "WRONG-secret-0123456789abcdef"

static void test_wrong_secret(void **state)
{
    (void)state;
    struct envsave saved;
    env_save(&saved);
    setenv("AWS_SECRET_ACCESS_KEY", SECRET, 1);
    void *st = open_store(NULL, "secret", NULL);
    struct mf_iov v = {"data", 4};
    assert_rc(st, ops->put(st, "k/1", &v, 1, 0), MF_EPERM);
    const char *e = ops->last_error(st);
    assert_contains(e, "SignatureDoesNotMatch");
    assert_contains(e, "403");
    assert_contains(e, "secret access key");
    assert_contains(e, bucket);
    assert_contains(e, "/secret/k/1");
    assert_contains(e, getenv("S3FIX_ENDPOINT"));
    assert_contains(e, "AWS_SECRET_ACCESS_KEY");   /* where the credentials came from */
    assert_not_contains(e, SECRET);
    /* a HEAD has no body: the message still says why */
    assert_rc(st, ops->exists(st, "k/1"), MF_EPERM);
    assert_contains(ops->last_error(st), "SignatureDoesNotMatch");
    assert_contains(ops->last_error(st), "s3 storage: HEAD s3://");
    struct mf_buf b;
    assert_rc(st, ops->get(st, "k/1", &b), MF_EPERM);
    assert_contains(ops->last_error(st), "SignatureDoesNotMatch");
    struct seen s = {0};
    assert_rc(st, ops->list(st, "", remember, &s), MF_EPERM);
    /* put-if-absent starts with a HEAD too */
    assert_rc(st, ops->put(st, "k/2", &v, 1, MF_PUT_IF_ABSENT), MF_EPERM);
    assert_contains(ops->last_error(st), "SignatureDoesNotMatch");
    desc->fini(st);
    assert_not_contains(mf_fakehost_logs(), SECRET);
    env_restore(&saved);
}

static void test_session_token(void **state)
{
    (void)state;
    /* a session token travels as the signed x-amz-security-token header; never in a message */
    struct envsave saved;
    env_save(&saved);
    setenv("AWS_SESSION_TOKEN", "TOKEN-abcdef-0123456789", 1);
    void *st = open_store(NULL, "token", NULL);
    struct mf_iov v = {"t", 1};
    assert_ok(st, ops->put(st, "k", &v, 1, 0));
    assert_object(st, "k", "t", 1);
    desc->fini(st);
    setenv("AWS_SECRET_ACCESS_KEY", SECRET, 1);
    st = open_store(NULL, "token", NULL);
    assert_rc(st, ops->put(st, "k", &v, 1, 0), MF_EPERM);
    assert_not_contains(ops->last_error(st), "TOKEN-abcdef");
    assert_not_contains(ops->last_error(st), SECRET);
    desc->fini(st);
    assert_not_contains(mf_fakehost_logs(), "TOKEN-abcdef");
    env_restore(&saved);
}

static void test_unknown_key_id(void **state)
{
    (void)state;
    struct envsave saved;
    env_save(&saved);
    setenv("AWS_ACCESS_KEY_ID", "NOSUCHKEYID", 1);
    void *st = open_store(NULL, "keyid", NULL);
    struct mf_iov v = {"data", 4};
    assert_rc(st, ops->put(st, "k", &v, 1, 0), MF_EPERM);
    assert_contains(ops->last_error(st), "InvalidAccessKeyId");
    assert_contains(ops->last_error(st), "access key id");
    assert_rc(st, ops->exists(st, "k"), MF_EPERM);
    assert_contains(ops->last_error(st), "InvalidAccessKeyId");
    desc->fini(st);
    env_restore(&saved);
}

static void test_missing_bucket(void **state)
{
    (void)state;
    char root[256];
    snprintf(root, sizeof root, "s3://no-such-bucket-%s/p", run_tag);
    mf_fakehost_reset();
    mf_fakehost_set("s3", "root", root);
    mf_fakehost_set("s3", "endpoint_url", getenv("S3FIX_ENDPOINT"));
    void *st = NULL;
    assert_int_equal(desc->init(mf_fakehost(), &st), 0);
    struct mf_iov v = {"data", 4};
    char name[128];
    snprintf(name, sizeof name, "bucket 'no-such-bucket-%s' does not exist", run_tag);
    assert_rc(st, ops->put(st, "k", &v, 1, 0), MF_EUNAVAIL);
    assert_contains(ops->last_error(st), name);
    assert_contains(ops->last_error(st), "NoSuchBucket");
    assert_contains(ops->last_error(st), "aws s3 mb");
    assert_contains(ops->last_error(st), getenv("S3FIX_ENDPOINT"));
    assert_rc(st, ops->exists(st, "k"), MF_EUNAVAIL);   /* a HEAD's 404: the bucket is checked */
    assert_contains(ops->last_error(st), name);
    struct mf_buf b;
    assert_rc(st, ops->get(st, "k", &b), MF_EUNAVAIL);
    assert_contains(ops->last_error(st), name);
    assert_rc(st, ops->put(st, "k", &v, 1, MF_PUT_IF_ABSENT), MF_EUNAVAIL);
    assert_contains(ops->last_error(st), name);
    struct seen s = {0};
    assert_rc(st, ops->list(st, "", remember, &s), MF_EUNAVAIL);
    assert_contains(ops->last_error(st), name);
    desc->fini(st);
}

static int unused_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(fd, (struct sockaddr *)&a, sizeof a);
    socklen_t l = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &l);
    close(fd);   /* nothing listens there now */
    return ntohs(a.sin_port);
}

static void test_unreachable(void **state)
{
    (void)state;
    char ep[64];
    snprintf(ep, sizeof ep, "http://127.0.0.1:%d", unused_port());
    void *st = open_store(ep, "unreach", NULL);   /* default retry settings */
    double t0 = now_s();
    assert_rc(st, ops->exists(st, "k"), MF_EUNAVAIL);
    double took = now_s() - t0;
    const char *e = ops->last_error(st);
    assert_contains(e, "cannot reach the S3 endpoint");
    assert_contains(e, ep);
    assert_contains(e, "after 3 attempts");   /* an endpoint that never answered: fail fast */
    assert_contains(e, "check that the server is running");
    assert_true(took < 5.0);
    struct mf_iov v = {"x", 1};
    assert_rc(st, ops->put(st, "k", &v, 1, 0), MF_EUNAVAIL);
    assert_contains(ops->last_error(st), "PUT");
    desc->fini(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_get_iov),
        cmocka_unit_test(test_files),
        cmocka_unit_test(test_missing_and_delete),
        cmocka_unit_test(test_if_absent),
        cmocka_unit_test(test_empty_object),
        cmocka_unit_test(test_list_pages),
        cmocka_unit_test(test_odd_keys),
        cmocka_unit_test(test_bad_keys),
        cmocka_unit_test(test_multipart),
        cmocka_unit_test(test_batches),
        cmocka_unit_test(test_signed_payload),
        cmocka_unit_test(test_bad_settings),
        cmocka_unit_test(test_profiles),
        cmocka_unit_test(test_endpoint_from_aws_variables),
        cmocka_unit_test(test_wrong_secret),
        cmocka_unit_test(test_session_token),
        cmocka_unit_test(test_unknown_key_id),
        cmocka_unit_test(test_missing_bucket),
        cmocka_unit_test(test_unreachable),
    };
    return cmocka_run_group_tests(tests, suite_setup, NULL);
}
