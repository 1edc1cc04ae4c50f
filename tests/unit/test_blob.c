/* Unit tests of core/src/blob.c over an in-memory storage plugin written here, which counts
 * what the blob layer asks of it and lets a test damage what it holds; the streaming writer
 * (write while hashing) also over the built local storage plugin, when it is found. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "blob.h"
#include "codec.h"

#include <zstd.h>

#include <dirent.h>
#include <dlfcn.h>
#include <sched.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- an in-memory store ------------------------------------------------------------------- */

#define MAX_OBJS 64

struct mem_obj {
    char key[128];
    uint8_t *data;
    size_t len;
};

struct mem_store {
    struct mem_obj objs[MAX_OBJS];
    size_t n;
    int puts, exists_calls, gets, releases;
    uint32_t last_flags;
    int fail_put;          /* next puts fail with MF_EIO */
    char err[256];
    /* the streaming writer (mem_stream_ops); writes run in the blob layer's second thread,
     * so they only count and never assert */
    int opens, commits, aborts, live;
    int writes;            /* writer_write calls */
    int fail_open;         /* writer_open fails with MF_EIO */
    int fail_write;        /* writer_write fails with MF_EIO */
    int exists_fails;      /* exists answers MF_EIO */
    long write_delay_ms;   /* each writer_write sleeps this long first */
    char werr[256];        /* the message of a failed write (its own thread) */
};

static struct mem_obj *mem_find(struct mem_store *m, const char *key)
{
    for (size_t i = 0; i < m->n; i++)
        if (!strcmp(m->objs[i].key, key))
            return &m->objs[i];
    return NULL;
}

static void mem_set(struct mem_store *m, const char *key, const void *data, size_t len)
{
    struct mem_obj *o = mem_find(m, key);
    if (!o) {
        assert_true(m->n < MAX_OBJS);
        o = &m->objs[m->n++];
        snprintf(o->key, sizeof o->key, "%s", key);
    } else {
        free(o->data);
    }
    o->data = malloc(len ? len : 1);
    assert_non_null(o->data);
    if (len)
        memcpy(o->data, data, len);
    o->len = len;
}

static int mem_put(void *state, const char *key, const struct mf_iov *iov, size_t niov,
                   uint32_t flags)
{
    struct mem_store *m = state;
    m->last_flags = flags;
    if (m->fail_put) {
        snprintf(m->err, sizeof m->err, "mem: disk on fire writing %s", key);
        return MF_EIO;
    }
    if ((flags & MF_PUT_IF_ABSENT) && mem_find(m, key))
        return 0;
    m->puts++;
    size_t total = 0;
    for (size_t i = 0; i < niov; i++)
        total += iov[i].len;
    uint8_t *buf = malloc(total ? total : 1), *p = buf;
    assert_non_null(buf);
    for (size_t i = 0; i < niov; i++) {
        memcpy(p, iov[i].base, iov[i].len);
        p += iov[i].len;
    }
    mem_set(m, key, buf, total);
    free(buf);
    return 0;
}

static struct mem_store *releaser_store;

static void mem_release(struct mf_buf *b)
{
    releaser_store->releases++;
    free(b->opaque);
    b->data = b->opaque = NULL;
}

/* Hands out a private copy, as a mapping would be: the test checks pointers into it. */
static int mem_get(void *state, const char *key, struct mf_buf *out)
{
    struct mem_store *m = state;
    struct mem_obj *o = mem_find(m, key);
    if (!o) {
        snprintf(m->err, sizeof m->err, "mem: no object %s", key);
        return MF_ENOTFOUND;
    }
    m->gets++;
    releaser_store = m;
    void *copy = malloc(o->len ? o->len : 1);
    assert_non_null(copy);
    memcpy(copy, o->data, o->len);
    out->struct_size = sizeof *out;
    out->data = copy;
    out->len = o->len;
    out->release = mem_release;
    out->opaque = copy;
    return 0;
}

static int mem_exists(void *state, const char *key)
{
    struct mem_store *m = state;
    m->exists_calls++;
    if (m->exists_fails) {
        snprintf(m->err, sizeof m->err, "mem: cannot look up %s", key);
        return MF_EIO;
    }
    return mem_find(m, key) != NULL;
}

static const char *mem_last_error(void *state)
{
    struct mem_store *m = state;
    return m->werr[0] ? m->werr : m->err;
}

struct mf_writer {
    uint8_t *data;
    size_t len;
};

static int mem_writer_open(void *state, mf_writer **out)
{
    struct mem_store *m = state;
    if (m->fail_open) {
        snprintf(m->err, sizeof m->err, "mem: no writer today");
        return MF_EIO;
    }
    *out = calloc(1, sizeof **out);
    if (!*out)
        return MF_ENOMEM;
    m->opens++;
    m->live++;
    return 0;
}

static int mem_writer_write(void *state, mf_writer *w, const struct mf_iov *iov, size_t niov)
{
    struct mem_store *m = state;
    m->writes++;
    if (m->write_delay_ms) {
        struct timespec ts = {m->write_delay_ms / 1000, m->write_delay_ms % 1000 * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (m->fail_write) {
        snprintf(m->werr, sizeof m->werr, "mem: disk on fire while streaming");
        return MF_EIO;
    }
    size_t add = 0;
    for (size_t i = 0; i < niov; i++)
        add += iov[i].len;
    uint8_t *p = realloc(w->data, w->len + add + 1);
    if (!p)
        return MF_ENOMEM;
    w->data = p;
    for (size_t i = 0; i < niov; i++) {
        memcpy(w->data + w->len, iov[i].base, iov[i].len);
        w->len += iov[i].len;
    }
    return 0;
}

static void mem_writer_free(struct mem_store *m, mf_writer *w)
{
    m->live--;
    free(w->data);
    free(w);
}

static int mem_writer_commit(void *state, mf_writer *w, const char *key, uint32_t flags)
{
    struct mem_store *m = state;
    m->commits++;
    m->last_flags = flags;
    if (!((flags & MF_PUT_IF_ABSENT) && mem_find(m, key)))
        mem_set(m, key, w->data, w->len);
    mem_writer_free(m, w);
    return 0;
}

static void mem_writer_abort(void *state, mf_writer *w)
{
    struct mem_store *m = state;
    m->aborts++;
    mem_writer_free(m, w);
}

static const struct mf_storage_ops mem_ops = {
    .struct_size = sizeof(struct mf_storage_ops),
    .put = mem_put,
    .get = mem_get,
    .exists = mem_exists,
    .last_error = mem_last_error,
};

/* The same store with the 1.1 streaming writer. */
static const struct mf_storage_ops mem_stream_ops = {
    .struct_size = sizeof(struct mf_storage_ops),
    .put = mem_put,
    .get = mem_get,
    .exists = mem_exists,
    .last_error = mem_last_error,
    .writer_open = mem_writer_open,
    .writer_write = mem_writer_write,
    .writer_commit = mem_writer_commit,
    .writer_abort = mem_writer_abort,
};

struct fixture {
    struct mem_store mem;
    struct mf_store st;
    struct mf_storage_ops ops;   /* a private table, for tests that change it */
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    f->st.ops = &mem_ops;
    f->st.state = &f->mem;
    *state = f;
    return 0;
}

/* Streaming from 1 MiB, so that tests stay small, and on one CPU too (a CI machine may have
 * one; the default wants two). */
#define TEST_STREAM_FROM ((size_t)1 << 20)

static int setup_stream(void **state)
{
    if (setup(state))
        return -1;
    struct fixture *f = *state;
    f->st.ops = &mem_stream_ops;
    mf_blob_set_stream(TEST_STREAM_FROM, 1);
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    for (size_t i = 0; i < f->mem.n; i++)
        free(f->mem.objs[i].data);
    free(f);
    mf_blob_set_stream(0, 0);   /* back to the default */
    mf_blob_set_verify(0);
    return 0;
}

/* ---- helpers ---------------------------------------------------------------------------- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static void fill_random(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        p[i] = (uint8_t)(rng_state >> 24);
    }
}

static uint8_t *compressible(size_t n)
{
    uint8_t *p = malloc(n);
    assert_non_null(p);
    static const char text[] = "step start -> a b; artifact alpha=0.01; foreach item in list; ";
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)text[(i * 7 / 5) % (sizeof text - 1)];
    return p;
}

static struct mem_obj *stored_blob(struct fixture *f, const char *key)
{
    char path[9 + MF_BLOB_KEY_LEN + 1];
    mf_blob_path(key, path, sizeof path);
    struct mem_obj *o = mem_find(&f->mem, path);
    assert_non_null(o);
    return o;
}

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void put_value(struct fixture *f, const void *data, size_t len, char key[65],
                      uint64_t *stored)
{
    struct mf_iov v = {data, len};
    assert_int_equal(mf_blob_put(&f->st, &v, 1, key, stored), 0);
}

static void expect_corrupt_at(struct fixture *f, const char *key, int line)
{
    struct mf_blob b;
    int releases = f->mem.releases, gets = f->mem.gets;
    int rc = mf_blob_get(&f->st, key, &b);
    if (rc != MF_ECORRUPT)
        fail_msg("line %d: blob %s: expected MF_ECORRUPT, got %d (%s)", line, key, rc,
                 mf_blob_error());
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_non_null(strstr(mf_blob_error(), key));
    assert_non_null(strstr(mf_blob_error(), "corrupt"));
    /* the store's buffer was given back */
    assert_int_equal(f->mem.gets - gets, f->mem.releases - releases);
    mf_blob_release(&b);   /* harmless on a failed get */
}
#define expect_corrupt(f, key) expect_corrupt_at((f), (key), __LINE__)

/* The blob under key reads back as exactly the n bytes at v. */
static void expect_reads_back_at(struct fixture *f, const char *key, const void *v, size_t n,
                                 int line)
{
    struct mf_blob b;
    int rc = mf_blob_get(&f->st, key, &b);
    if (rc)
        fail_msg("line %d: blob %s: %d (%s)", line, key, rc, mf_blob_error());
    assert_int_equal(b.len, n);
    assert_memory_equal(b.data, v, n);
    mf_blob_release(&b);
}
#define expect_reads_back(f, key, v, n) expect_reads_back_at((f), (key), (v), (n), __LINE__)

/* ---- tests ------------------------------------------------------------------------------- */

static void test_sha256_known_vectors(void **state)
{
    (void)state;
    char hex[MF_BLOB_KEY_LEN + 1];
    struct mf_iov abc[3] = {{"a", 1}, {"", 0}, {"bc", 2}};
    mf_sha256_hex(abc, 3, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    mf_sha256_hex(NULL, 0, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void test_blob_path(void **state)
{
    (void)state;
    const char *key = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    char path[9 + MF_BLOB_KEY_LEN + 1];
    mf_blob_path(key, path, sizeof path);
    assert_string_equal(path,
                        "blobs/ba/ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void round_trip(struct fixture *f, const struct mf_iov *iov, size_t niov, mf_type type)
{
    size_t total = 0;
    for (size_t i = 0; i < niov; i++)
        total += iov[i].len;
    uint8_t *flat = malloc(total), *p = flat;
    for (size_t i = 0; i < niov; i++) {
        memcpy(p, iov[i].base, iov[i].len);
        p += iov[i].len;
    }
    char key[MF_BLOB_KEY_LEN + 1], want[MF_BLOB_KEY_LEN + 1];
    uint64_t stored = 0;
    assert_int_equal(mf_blob_put(&f->st, iov, niov, key, &stored), 0);
    struct mf_iov whole = {flat, total};
    mf_sha256_hex(&whole, 1, want);
    assert_string_equal(key, want);
    assert_true(stored > 16);
    assert_int_equal(f->mem.last_flags, MF_PUT_IF_ABSENT);

    struct mem_obj *o = stored_blob(f, key);
    assert_int_equal(o->len, stored);
    assert_memory_equal(o->data, "MFB1", 4);
    assert_true(o->data[4] == 0 || o->data[4] == 1);
    assert_int_equal(o->data[5] | o->data[6] | o->data[7], 0);
    assert_int_equal(le64(o->data + 8), total);

    struct mf_blob b;
    assert_int_equal(mf_blob_get(&f->st, key, &b), 0);
    assert_int_equal(b.len, total);
    assert_memory_equal(b.data, flat, total);
    mf_type t;
    const uint8_t *pl;
    size_t plen;
    assert_int_equal(mf_codec_parse(b.data, b.len, &t, &pl, &plen), 0);
    assert_int_equal(t, type);
    mf_blob_release(&b);
    assert_null(b.data);
    assert_int_equal(f->mem.gets, f->mem.releases);
    free(flat);
}

static void test_round_trip_every_type(void **state)
{
    struct fixture *f = *state;
    uint8_t *enc;
    size_t len;

    assert_int_equal(mf_codec_encode_i64(-42, &enc, &len), 0);
    round_trip(f, &(struct mf_iov){enc, len}, 1, MF_I64);
    free(enc);

    assert_int_equal(mf_codec_encode_f64(2.5, &enc, &len), 0);
    round_trip(f, &(struct mf_iov){enc, len}, 1, MF_F64);
    free(enc);

    /* str and bytes: the header and the caller's buffer as two pieces, no copy */
    uint8_t hdr[MF_CODEC_HDR_LEN];
    mf_codec_header(hdr, MF_STR);
    const char *s = "hello, artifact";
    struct mf_iov str_iov[2] = {{hdr, sizeof hdr}, {s, strlen(s)}};
    round_trip(f, str_iov, 2, MF_STR);

    uint8_t bytes[300];
    fill_random(bytes, sizeof bytes);
    uint8_t bhdr[MF_CODEC_HDR_LEN];
    mf_codec_header(bhdr, MF_BYTES);
    struct mf_iov bytes_iov[2] = {{bhdr, sizeof bhdr}, {bytes, sizeof bytes}};
    round_trip(f, bytes_iov, 2, MF_BYTES);

    const int64_t iv[] = {1, 2, 3, -4};
    assert_int_equal(mf_codec_encode_i64v(iv, 4, &enc, &len), 0);
    round_trip(f, &(struct mf_iov){enc, len}, 1, MF_I64V);
    free(enc);

    const double fv[] = {0.25, -8.0};
    assert_int_equal(mf_codec_encode_f64v(fv, 2, &enc, &len), 0);
    round_trip(f, &(struct mf_iov){enc, len}, 1, MF_F64V);
    free(enc);

    const char *sv[] = {"x", "", "yz"};
    assert_int_equal(mf_codec_encode_strv(sv, 3, &enc, &len), 0);
    round_trip(f, &(struct mf_iov){enc, len}, 1, MF_STRV);
    free(enc);

    /* each distinct value made its own blob */
    assert_int_equal(f->mem.n, 7);
}

static void test_raw_large_is_not_copied(void **state)
{
    struct fixture *f = *state;
    size_t n = 1 << 20;
    uint8_t *v = malloc(n);
    fill_random(v, n);
    char key[65];
    uint64_t stored;
    put_value(f, v, n, key, &stored);
    assert_int_equal(stored, 16 + n);
    struct mem_obj *o = stored_blob(f, key);
    assert_int_equal(o->data[4], 0);   /* raw */
    assert_memory_equal(o->data + 16, v, n);

    struct mf_blob b;
    assert_int_equal(mf_blob_get(&f->st, key, &b), 0);
    /* handed out the store's own buffer, past the header */
    assert_ptr_equal(b.data, (const uint8_t *)b.buf.data + 16);
    assert_int_equal(b.len, n);
    assert_memory_equal(b.data, v, n);
    mf_blob_release(&b);
    assert_int_equal(f->mem.releases, 1);
    free(v);
}

static void test_zstd_path(void **state)
{
    struct fixture *f = *state;
    size_t n = 3u << 20;
    uint8_t *v = compressible(n);
    char key[65];
    uint64_t stored;
    put_value(f, v, n, key, &stored);
    struct mem_obj *o = stored_blob(f, key);
    assert_int_equal(o->data[4], 1);   /* zstd */
    assert_int_equal(le64(o->data + 8), n);
    assert_int_equal(stored, o->len);
    assert_true(stored < n / 10);
    assert_true(ZSTD_getFrameContentSize(o->data + 16, o->len - 16) == n);

    struct mf_blob b;
    assert_int_equal(mf_blob_get(&f->st, key, &b), 0);
    assert_int_equal(b.len, n);
    assert_memory_equal(b.data, v, n);
    /* the store's buffer is given back at once; the value lives in its own buffer */
    assert_int_equal(f->mem.releases, 1);
    mf_blob_release(&b);
    free(v);

    /* a small compressible value goes through zstd as well */
    uint8_t zeros[4096] = {0};
    put_value(f, zeros, sizeof zeros, key, &stored);
    assert_int_equal(stored_blob(f, key)->data[4], 1);
    assert_true(stored < 200);
    expect_reads_back(f, key, zeros, sizeof zeros);
}

static void test_incompressible_stays_raw(void **state)
{
    struct fixture *f = *state;
    /* random data with a compressible head: the first sampled window fools the sample, but
     * the whole value saves far less than 10%, so it is stored raw */
    size_t n = 8u << 20;
    uint8_t *v = malloc(n);
    fill_random(v, n);
    memset(v, 'a', 64 * 1024);
    char key[65];
    uint64_t stored;
    put_value(f, v, n, key, &stored);
    assert_int_equal(stored_blob(f, key)->data[4], 0);
    assert_int_equal(stored, n + 16);
    free(v);
}

static void test_many_pieces(void **state)
{
    struct fixture *f = *state;
    uint8_t data[2000];
    fill_random(data, sizeof data);
    struct mf_iov pieces[20];
    for (int i = 0; i < 20; i++)
        pieces[i] = (struct mf_iov){data + i * 100, 100};
    char k1[65], k2[65];
    assert_int_equal(mf_blob_put(&f->st, pieces, 20, k1, NULL), 0);
    put_value(f, data, sizeof data, k2, NULL);
    assert_string_equal(k1, k2);
    expect_reads_back(f, k1, data, sizeof data);
}

static void test_put_twice_writes_once(void **state)
{
    struct fixture *f = *state;
    uint8_t v[5000];
    fill_random(v, sizeof v);
    char k1[65], k2[65];
    uint64_t s1 = 0, s2 = 99;
    put_value(f, v, sizeof v, k1, &s1);
    assert_int_equal(f->mem.puts, 1);
    assert_int_equal(s1, sizeof v + 16);
    put_value(f, v, sizeof v, k2, &s2);
    assert_string_equal(k1, k2);
    assert_int_equal(f->mem.puts, 1);          /* no second write */
    assert_int_equal(f->mem.exists_calls, 2);  /* one existence check each */
    assert_int_equal(s2, 0);
    assert_int_equal(f->mem.n, 1);
}

static void test_flipped_byte_raw(void **state)
{
    struct fixture *f = *state;
    uint8_t v[4096];
    fill_random(v, sizeof v);
    char key[65];
    put_value(f, v, sizeof v, key, NULL);
    struct mem_obj *o = stored_blob(f, key);
    assert_int_equal(o->data[4], 0);
    size_t positions[] = {16, 17, 1000, 16 + sizeof v - 1};
    for (size_t i = 0; i < sizeof positions / sizeof positions[0]; i++) {
        o->data[positions[i]] ^= 0x01;
        expect_corrupt(f, key);
        o->data[positions[i]] ^= 0x01;
    }
    /* and intact again, it reads fine */
    expect_reads_back(f, key, v, sizeof v);
}

static void test_flipped_byte_zstd(void **state)
{
    struct fixture *f = *state;
    size_t n = 200000;
    uint8_t *v = compressible(n);
    char key[65];
    put_value(f, v, n, key, NULL);
    struct mem_obj *o = stored_blob(f, key);
    assert_int_equal(o->data[4], 1);
    for (size_t pos = 16; pos < o->len; pos += (o->len - 16) / 13 + 1) {
        uint8_t keep = o->data[pos];
        o->data[pos] ^= 0x20;
        expect_corrupt(f, key);
        o->data[pos] = keep;
    }
    o->data[o->len - 1] ^= 0x80;
    expect_corrupt(f, key);
    o->data[o->len - 1] ^= 0x80;
    expect_reads_back(f, key, v, n);
    free(v);
}

static void test_truncated(void **state)
{
    struct fixture *f = *state;
    uint8_t v[3000];
    fill_random(v, sizeof v);
    char raw_key[65], z_key[65];
    put_value(f, v, sizeof v, raw_key, NULL);
    uint8_t *c = compressible(100000);
    put_value(f, c, 100000, z_key, NULL);
    free(c);
    const char *keys[2] = {raw_key, z_key};
    for (int k = 0; k < 2; k++) {
        struct mem_obj *o = stored_blob(f, keys[k]);
        size_t full = o->len;
        const size_t cuts[] = {full - 1, full / 2, 17, 16, 15, 4, 0};
        for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
            o->len = cuts[i];
            expect_corrupt(f, keys[k]);
        }
        o->len = full;
        struct mf_blob b;
        assert_int_equal(mf_blob_get(&f->st, keys[k], &b), 0);
        mf_blob_release(&b);
    }
    /* a raw blob with bytes after its value */
    struct mem_obj *o = stored_blob(f, raw_key);
    uint8_t *longer = malloc(o->len + 1);
    memcpy(longer, o->data, o->len);
    longer[o->len] = 0;
    char path[80];
    mf_blob_path(raw_key, path, sizeof path);
    mem_set(&f->mem, path, longer, o->len + 1);
    free(longer);
    expect_corrupt(f, raw_key);
}

static void test_bad_header(void **state)
{
    struct fixture *f = *state;
    uint8_t v[1000];
    fill_random(v, sizeof v);
    char key[65];
    put_value(f, v, sizeof v, key, NULL);
    struct mem_obj *o = stored_blob(f, key);
    const struct {
        int at;
        uint8_t val;
    } damage[] = {{0, 'X'}, {3, '0'}, {3, 'A'}, {4, 2}, {4, 0xff}, {5, 1}, {7, 1}, {8, 0xe9}, {15, 1}};
    for (size_t i = 0; i < sizeof damage / sizeof damage[0]; i++) {
        uint8_t keep = o->data[damage[i].at];
        o->data[damage[i].at] = damage[i].val;
        expect_corrupt(f, key);
        o->data[damage[i].at] = keep;
    }
    /* "MFB" and a larger digit is a newer blob format: named, not called damage */
    for (uint8_t ver = '2'; ver <= '9'; ver += 7) {
        o->data[3] = ver;
        struct mf_blob b;
        assert_int_equal(mf_blob_get(&f->st, key, &b), MF_ENOTSUP);
        assert_null(b.data);
        char want[64];
        snprintf(want, sizeof want, "has format version %c, newer than the version 1", ver);
        assert_non_null(strstr(mf_blob_error(), want));
        assert_non_null(strstr(mf_blob_error(), key));
    }
    o->data[3] = '1';
    /* a zstd blob whose header claims an impossible length is refused before allocating */
    uint8_t *c = compressible(50000);
    char zkey[65];
    put_value(f, c, 50000, zkey, NULL);
    free(c);
    o = stored_blob(f, zkey);
    assert_int_equal(o->data[4], 1);
    uint8_t keep[8];
    memcpy(keep, o->data + 8, 8);
    memset(o->data + 8, 0xff, 8);
    expect_corrupt(f, zkey);
    o->data[15] = 0x40;   /* 2^62-ish */
    expect_corrupt(f, zkey);
    memcpy(o->data + 8, keep, 8);
    o->data[8] ^= 1;      /* off by one from the frame's size */
    expect_corrupt(f, zkey);
    memcpy(o->data + 8, keep, 8);
    /* a raw value stored under the zstd codec byte */
    o->data[4] = 0;
    expect_corrupt(f, zkey);
}

/* A frame written without its content size (another writer may do that) takes the streaming
 * path; its length must still match the header exactly. */
static void test_zstd_frame_without_size(void **state)
{
    struct fixture *f = *state;
    size_t n = 300000;
    uint8_t *v = compressible(n);
    char key[65];
    struct mf_iov whole = {v, n};
    mf_sha256_hex(&whole, 1, key);

    ZSTD_CCtx *cctx = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 0);
    size_t cap = ZSTD_compressBound(n);
    uint8_t *blob = malloc(16 + cap);
    ZSTD_outBuffer out = {blob + 16, cap, 0};
    ZSTD_inBuffer in = {v, n, 0};
    size_t zr = ZSTD_compressStream2(cctx, &out, &in, ZSTD_e_end);
    if (zr != 0)
        fail_msg("zstd: %s", ZSTD_isError(zr) ? ZSTD_getErrorName(zr) : "not flushed");
    ZSTD_freeCCtx(cctx);
    assert_true(ZSTD_getFrameContentSize(blob + 16, out.pos) == ZSTD_CONTENTSIZE_UNKNOWN);
    memcpy(blob, "MFB1\x01\0\0\0", 8);
    for (int i = 0; i < 8; i++)
        blob[8 + i] = (uint8_t)((uint64_t)n >> (8 * i));
    char path[80];
    mf_blob_path(key, path, sizeof path);
    mem_set(&f->mem, path, blob, 16 + out.pos);

    expect_reads_back(f, key, v, n);

    blob[8] ^= 1;   /* header one off: longer or shorter than the frame */
    mem_set(&f->mem, path, blob, 16 + out.pos);
    expect_corrupt(f, key);
    blob[8] ^= 1;
    mem_set(&f->mem, path, blob, 16 + out.pos - 3);   /* frame cut */
    expect_corrupt(f, key);
    free(blob);
    free(v);
}

static void test_missing_and_bad_keys(void **state)
{
    struct fixture *f = *state;
    struct mf_blob b;
    const char *missing = "0000000000000000000000000000000000000000000000000000000000000000";
    assert_int_equal(mf_blob_get(&f->st, missing, &b), MF_ENOTFOUND);
    assert_non_null(strstr(mf_blob_error(), missing));
    assert_null(b.data);
    const char *bad[] = {"", "abc", "../etc/passwd",
                         "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD",
                         "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad0"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(mf_blob_get(&f->st, bad[i], &b), MF_EINVAL);
    assert_int_equal(mf_blob_get(&f->st, NULL, &b), MF_EINVAL);
    assert_int_equal(f->mem.gets, 0);
}

static void test_store_failure_is_reported(void **state)
{
    struct fixture *f = *state;
    f->mem.fail_put = 1;
    uint8_t v[100];
    fill_random(v, sizeof v);
    char key[65];
    struct mf_iov iov = {v, sizeof v};
    uint64_t stored = 7;
    assert_int_equal(mf_blob_put(&f->st, &iov, 1, key, &stored), MF_EIO);
    assert_int_equal(stored, 0);
    assert_non_null(strstr(mf_blob_error(), key));
    assert_non_null(strstr(mf_blob_error(), "disk on fire"));
    assert_int_equal(f->mem.n, 0);
}

/* ---- streaming: a large raw value written while it is hashed --------------------------------- */

static uint8_t *random_value(size_t n)
{
    uint8_t *v = malloc(n);
    assert_non_null(v);
    fill_random(v, n);
    return v;
}

/* What the hash-first path stores for value v: the bytes the streamed blob must equal. */
static struct mem_obj *hash_first_copy(struct mem_store *m, const struct mf_iov *iov, size_t niov,
                                       char key[65])
{
    struct mf_store st = {.ops = &mem_ops, .state = m};
    assert_int_equal(mf_blob_put(&st, iov, niov, key, NULL), 0);
    char path[9 + MF_BLOB_KEY_LEN + 1];
    mf_blob_path(key, path, sizeof path);
    struct mem_obj *o = mem_find(m, path);
    assert_non_null(o);
    return o;
}

static void test_stream_large_raw(void **state)
{
    struct fixture *f = *state;
    size_t n = 3u << 20;
    uint8_t *v = random_value(n);
    uint8_t hdr[MF_CODEC_HDR_LEN];
    mf_codec_header(hdr, MF_BYTES);
    struct mf_iov iov[2] = {{hdr, sizeof hdr}, {v, n}};
    char key[65];
    uint64_t stored = 0;
    assert_int_equal(mf_blob_put(&f->st, iov, 2, key, &stored), 0);
    /* written through the writer, committed under its key, never through put */
    assert_int_equal(f->mem.opens, 1);
    assert_true(f->mem.writes >= 1);
    assert_int_equal(f->mem.commits, 1);
    assert_int_equal(f->mem.aborts, 0);
    assert_int_equal(f->mem.live, 0);
    assert_int_equal(f->mem.puts, 0);
    assert_int_equal(f->mem.exists_calls, 1);
    assert_int_equal(f->mem.last_flags, MF_PUT_IF_ABSENT);
    assert_int_equal(stored, 16 + sizeof hdr + n);

    /* byte for byte what the hash-first path stores, under the same key */
    struct mem_store *other = calloc(1, sizeof *other);
    assert_non_null(other);
    char key2[65];
    mf_blob_set_stream(SIZE_MAX, 1);
    struct mem_obj *want = hash_first_copy(other, iov, 2, key2);
    mf_blob_set_stream(TEST_STREAM_FROM, 1);
    assert_string_equal(key, key2);
    struct mem_obj *o = stored_blob(f, key);
    assert_int_equal(o->len, want->len);
    assert_memory_equal(o->data, want->data, want->len);
    assert_int_equal(o->data[4], 0);   /* raw */
    free(want->data);
    free(other);

    struct mf_blob b;
    assert_int_equal(mf_blob_get(&f->st, key, &b), 0);
    assert_int_equal(b.len, sizeof hdr + n);
    assert_memory_equal(b.data, hdr, sizeof hdr);
    assert_memory_equal(b.data + sizeof hdr, v, n);
    mf_blob_release(&b);

    /* stored again: found by the existence check, the writer's bytes dropped */
    stored = 99;
    char again[65];
    assert_int_equal(mf_blob_put(&f->st, iov, 2, again, &stored), 0);
    assert_string_equal(again, key);
    assert_int_equal(stored, 0);
    assert_int_equal(f->mem.commits, 1);
    assert_int_equal(f->mem.aborts, 1);
    assert_int_equal(f->mem.live, 0);
    assert_int_equal(f->mem.n, 1);
    free(v);
}

/* A blob that exists stops the writing thread at its next piece: a value of three pieces
 * (8 MiB each), each write slow, is dropped after the first. */
static void test_stream_stops_when_stored(void **state)
{
    struct fixture *f = *state;
    size_t n = 20u << 20;
    uint8_t *v = random_value(n);
    struct mf_iov iov = {v, n};
    char key[65];
    mf_blob_set_stream(SIZE_MAX, 1);
    hash_first_copy(&f->mem, &iov, 1, key);   /* stored before */
    mf_blob_set_stream(TEST_STREAM_FROM, 1);
    f->mem.write_delay_ms = 300;
    char again[65];
    uint64_t stored = 1;
    assert_int_equal(mf_blob_put(&f->st, &iov, 1, again, &stored), 0);
    assert_string_equal(again, key);
    assert_int_equal(stored, 0);
    assert_int_equal(f->mem.opens, 1);
    assert_int_equal(f->mem.aborts, 1);
    assert_int_equal(f->mem.commits, 0);
    assert_int_equal(f->mem.live, 0);
    assert_true(f->mem.writes < 3);   /* 1 unless this machine is very slow */
    free(v);
}

static void test_stream_flipped_byte(void **state)
{
    struct fixture *f = *state;
    size_t n = 2u << 20;
    uint8_t *v = random_value(n);
    char key[65];
    put_value(f, v, n, key, NULL);
    assert_int_equal(f->mem.commits, 1);
    struct mem_obj *o = stored_blob(f, key);
    size_t positions[] = {16, 17, 16 + n / 2, 16 + n - 1};
    for (size_t i = 0; i < sizeof positions / sizeof positions[0]; i++) {
        o->data[positions[i]] ^= 0x01;
        expect_corrupt(f, key);
        o->data[positions[i]] ^= 0x01;
    }
    o->len--;
    expect_corrupt(f, key);
    o->len++;
    expect_reads_back(f, key, v, n);
    free(v);
}

/* Small or compressible values keep the hash-first path (and zstd), writer or not. */
static void test_stream_only_large_raw(void **state)
{
    struct fixture *f = *state;
    uint8_t *small = random_value(TEST_STREAM_FROM - 1);
    char key[65];
    put_value(f, small, TEST_STREAM_FROM - 1, key, NULL);
    assert_int_equal(f->mem.puts, 1);
    assert_int_equal(f->mem.opens, 0);
    free(small);
    size_t n = 3u << 20;
    uint8_t *c = compressible(n);
    uint64_t stored;
    put_value(f, c, n, key, &stored);
    assert_int_equal(f->mem.puts, 2);
    assert_int_equal(f->mem.opens, 0);
    assert_int_equal(stored_blob(f, key)->data[4], 1);   /* zstd */
    free(c);

    /* a thread bound to one CPU (a cpu = 1 task) hashes first, by default */
    cpu_set_t was, one;
    assert_int_equal(sched_getaffinity(0, sizeof was, &was), 0);
    CPU_ZERO(&one);
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
        if (CPU_ISSET(cpu, &was)) {
            CPU_SET(cpu, &one);
            break;
        }
    assert_int_equal(sched_setaffinity(0, sizeof one, &one), 0);
    mf_blob_set_stream(TEST_STREAM_FROM, 0);
    uint8_t *v = random_value(n);
    put_value(f, v, n, key, NULL);
    assert_int_equal(f->mem.puts, 3);
    assert_int_equal(f->mem.opens, 0);
    assert_int_equal(sched_setaffinity(0, sizeof was, &was), 0);
    /* and a thread that may use as many CPUs as asked streams */
    if (CPU_COUNT(&was) >= 2) {
        v[0] ^= 1;
        put_value(f, v, n, key, NULL);
        assert_int_equal(f->mem.opens, 1);
        assert_int_equal(f->mem.puts, 3);
    }
    free(v);
}

static void test_stream_write_failure(void **state)
{
    struct fixture *f = *state;
    size_t n = 2u << 20;
    uint8_t *v = random_value(n);
    f->mem.fail_write = 1;
    struct mf_iov iov = {v, n};
    char key[65];
    uint64_t stored = 7;
    assert_int_equal(mf_blob_put(&f->st, &iov, 1, key, &stored), MF_EIO);
    assert_int_equal(stored, 0);
    assert_non_null(strstr(mf_blob_error(), key));
    assert_non_null(strstr(mf_blob_error(), "disk on fire while streaming"));
    assert_int_equal(f->mem.aborts, 1);
    assert_int_equal(f->mem.commits, 0);
    assert_int_equal(f->mem.live, 0);
    assert_int_equal(f->mem.n, 0);

    /* the existence check failing: aborted, and said so */
    f->mem.fail_write = 0;
    f->mem.werr[0] = '\0';
    f->mem.exists_fails = 1;
    assert_int_equal(mf_blob_put(&f->st, &iov, 1, key, &stored), MF_EIO);
    assert_non_null(strstr(mf_blob_error(), "cannot check whether"));
    assert_non_null(strstr(mf_blob_error(), "mem: cannot look up"));
    assert_int_equal(f->mem.aborts, 2);
    assert_int_equal(f->mem.live, 0);
    assert_int_equal(f->mem.n, 0);
    free(v);
}

/* A writer that cannot start costs nothing but the attempt: the value is put as before. */
static void test_stream_open_failure_falls_back(void **state)
{
    struct fixture *f = *state;
    size_t n = 2u << 20;
    uint8_t *v = random_value(n);
    f->mem.fail_open = 1;
    char key[65];
    uint64_t stored;
    put_value(f, v, n, key, &stored);
    assert_int_equal(stored, 16 + n);
    assert_int_equal(f->mem.puts, 1);
    assert_int_equal(f->mem.opens, 0);
    expect_reads_back(f, key, v, n);
    free(v);
}

/* A storage plugin built against 1.0 declares the 1.0 table size: the host must not read the
 * writer fields past it, whatever lies there. */
static int trap_open(void *state, mf_writer **out)
{
    (void)state;
    (void)out;
    fail_msg("writer_open read past a 1.0 operations table");
    return MF_EFAIL;
}

static void test_stream_not_from_a_1_0_table(void **state)
{
    struct fixture *f = *state;
    f->ops = mem_stream_ops;
    f->ops.struct_size = MF_STORAGE_OPS_V1_0_SIZE;
    f->ops.writer_open = trap_open;
    f->st.ops = &f->ops;
    size_t n = 2u << 20;
    uint8_t *v = random_value(n);
    char key[65];
    uint64_t stored;
    put_value(f, v, n, key, &stored);
    assert_int_equal(stored, 16 + n);
    assert_int_equal(f->mem.puts, 1);
    /* and a 1.1 table with the writer left NULL */
    f->ops = mem_ops;
    v[0] ^= 1;
    put_value(f, v, n, key, &stored);
    assert_int_equal(f->mem.puts, 2);
    assert_int_equal(f->mem.opens, 0);
    free(v);
}

/* ---- streaming through the real local storage plugin ---------------------------------------- */

static const char *local_root;

static const char *local_config(const char *name, const char *key)
{
    return !strcmp(name, "local") && !strcmp(key, "root") ? local_root : NULL;
}

/* Files in dir (0 when it does not exist). */
static int files_in(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

static void test_stream_local_plugin(void **state)
{
    (void)state;
    const char *build = getenv("MFLOW_TEST_BUILD_ROOT");
    char so[PATH_MAX];
    snprintf(so, sizeof so, "%s/plugins/storage/local/mflow_storage_local.so", build ? build : ".");
    void *h = build ? dlopen(so, RTLD_NOW | RTLD_LOCAL) : NULL;
    if (!h) {
        print_message("skipped: the local storage plugin is not built (%s)\n", so);
        skip();
    }
    mf_plugin_entry_fn entry = (mf_plugin_entry_fn)dlsym(h, MF_PLUGIN_ENTRY_SYMBOL);
    assert_non_null(entry);
    struct mf_host_api host = {.struct_size = sizeof host,
                               .abi_major = MF_PLUGIN_ABI_MAJOR,
                               .abi_minor = MF_PLUGIN_ABI_MINOR,
                               .version = "test",
                               .config_get = local_config};
    const struct mf_plugin_desc *d = entry(&host);
    assert_non_null(d);
    char root[] = "/tmp/mflow-test-blob.XXXXXX";
    assert_non_null(mkdtemp(root));
    local_root = root;
    struct mf_store st = {.ops = d->ops, .desc = d};
    assert_int_equal(d->init(&host, &st.state), 0);
    mf_blob_set_stream(TEST_STREAM_FROM, 1);

    size_t n = 5u << 20;
    uint8_t *v = random_value(n);
    struct mf_iov iov = {v, n};
    char key[65];
    uint64_t stored = 0;
    int rc = mf_blob_put(&st, &iov, 1, key, &stored);
    if (rc)
        fail_msg("put: %d %s", rc, mf_blob_error());
    assert_int_equal(stored, 16 + n);
    char tmpdir[PATH_MAX], file[PATH_MAX];
    snprintf(tmpdir, sizeof tmpdir, "%s/tmp", root);
    snprintf(file, sizeof file, "%s/blobs/%.2s/%s", root, key, key);
    assert_int_equal(files_in(tmpdir), 0);   /* the temp became the blob */

    /* the file is the header then the value, as the hash-first path writes it */
    int fd = open(file, O_RDWR);
    assert_true(fd >= 0);
    uint8_t head[16];
    assert_int_equal(pread(fd, head, 16, 0), 16);
    assert_memory_equal(head, "MFB1\0\0\0\0", 8);
    uint64_t len = 0;
    for (int i = 0; i < 8; i++)
        len |= (uint64_t)head[8 + i] << (8 * i);
    assert_int_equal(len, n);
    struct mf_blob b;
    assert_int_equal(mf_blob_get(&st, key, &b), 0);
    assert_int_equal(b.len, n);
    assert_memory_equal(b.data, v, n);
    mf_blob_release(&b);

    /* stored again: dropped after the existence check, nothing left in <root>/tmp */
    char again[65];
    assert_int_equal(mf_blob_put(&st, &iov, 1, again, &stored), 0);
    assert_string_equal(again, key);
    assert_int_equal(stored, 0);
    assert_int_equal(files_in(tmpdir), 0);

    /* a flipped byte on disk is found on read, as before */
    uint8_t byte;
    assert_int_equal(pread(fd, &byte, 1, 16 + n / 3), 1);
    byte ^= 0x10;
    assert_int_equal(pwrite(fd, &byte, 1, 16 + n / 3), 1);
    close(fd);
    rc = mf_blob_get(&st, key, &b);
    assert_int_equal(rc, MF_ECORRUPT);
    assert_non_null(strstr(mf_blob_error(), key));

    d->fini(st.state);
    unlink(file);
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/blobs/%.2s", root, key);
    rmdir(dir);
    snprintf(dir, sizeof dir, "%s/blobs", root);
    rmdir(dir);
    rmdir(tmpdir);
    assert_int_equal(rmdir(root), 0);   /* nothing else was left behind */
    free(v);
    dlclose(h);
}

/* ---- a put repairs a damaged blob ---------------------------------------------------------- */

static int mem_list(void *state, const char *prefix, mf_list_cb cb, void *ud)
{
    struct mem_store *m = state;
    for (size_t i = 0; i < m->n; i++)
        if (!strncmp(m->objs[i].key, prefix, strlen(prefix))) {
            int rc = cb(ud, m->objs[i].key, m->objs[i].len);
            if (rc)
                return rc;
        }
    return 0;
}

enum damage { FLIP, TRUNCATE, EMPTY, OTHER, HEADER_ONLY, LONGER };

/* Damage the stored blob `key` (OTHER: give it the bytes of blob `other`). */
static void damage_blob(struct fixture *f, const char *key, const char *other, enum damage d)
{
    struct mem_obj *o = stored_blob(f, key);
    switch (d) {
    case FLIP:
        o->data[o->len - 3] ^= 0x10;
        break;
    case TRUNCATE:
        o->len /= 2;
        break;
    case EMPTY:
        o->len = 0;
        break;
    case HEADER_ONLY:
        o->len = 16;
        break;
    case OTHER: {
        struct mem_obj *src = stored_blob(f, other);
        uint8_t *copy = malloc(src->len);
        assert_non_null(copy);
        memcpy(copy, src->data, src->len);
        free(o->data);
        o->data = copy;
        o->len = src->len;
        break;
    }
    case LONGER: {
        uint8_t *p = realloc(o->data, o->len + 100);
        assert_non_null(p);
        memset(p + o->len, 'x', 100);
        o->data = p;
        o->len += 100;
        break;
    }
    }
}

/* Put the value again: the damaged blob is replaced (a write without MF_PUT_IF_ABSENT) and
 * reads back as the value. */
static void expect_repaired_at(struct fixture *f, const void *v, size_t n, const char *key,
                               int line)
{
    int puts = f->mem.puts + f->mem.commits;
    char again[65];
    uint64_t stored = 0;
    struct mf_iov iov = {v, n};
    assert_int_equal(mf_blob_put(&f->st, &iov, 1, again, &stored), 0);
    assert_string_equal(again, key);
    if (f->mem.puts + f->mem.commits != puts + 1)
        fail_msg("line %d: the damaged blob was not written again", line);
    assert_int_equal(f->mem.last_flags & MF_PUT_IF_ABSENT, 0);
    assert_true(stored > 16);
    struct mf_blob b;
    int rc = mf_blob_get(&f->st, key, &b);
    if (rc)
        fail_msg("line %d: blob %s still fails after the repair: %s", line, key, mf_blob_error());
    assert_int_equal(b.len, n);
    assert_memory_equal(b.data, v, n);
    mf_blob_release(&b);
}
#define expect_repaired(f, v, n, key) expect_repaired_at((f), (v), (n), (key), __LINE__)

static void test_put_repairs_damaged(void **state)
{
    struct fixture *f = *state;
    uint8_t raw[5000];
    fill_random(raw, sizeof raw);
    size_t zn = 100000;
    uint8_t *z = compressible(zn);
    char rk[65], zk[65];
    put_value(f, raw, sizeof raw, rk, NULL);
    put_value(f, z, zn, zk, NULL);
    assert_int_equal(stored_blob(f, rk)->data[4], 0);
    assert_int_equal(stored_blob(f, zk)->data[4], 1);
    /* intact: read back, not written again */
    int puts = f->mem.puts, gets = f->mem.gets;
    put_value(f, raw, sizeof raw, rk, NULL);
    put_value(f, z, zn, zk, NULL);
    assert_int_equal(f->mem.puts, puts);
    assert_int_equal(f->mem.gets, gets + 2);
    const enum damage kinds[] = {FLIP, TRUNCATE, EMPTY, OTHER, HEADER_ONLY, LONGER};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        damage_blob(f, rk, zk, kinds[i]);
        expect_corrupt(f, rk);
        expect_repaired(f, raw, sizeof raw, rk);
        damage_blob(f, zk, rk, kinds[i]);
        expect_corrupt(f, zk);
        expect_repaired(f, z, zn, zk);
    }
    free(z);
}

/* Above the full-verification size only the stored size is checked (through list). */
static void test_put_repairs_large_by_size(void **state)
{
    struct fixture *f = *state;
    f->ops = mem_ops;
    f->ops.list = mem_list;
    f->st.ops = &f->ops;
    mf_blob_set_verify(1024);
    uint8_t raw[5000];
    fill_random(raw, sizeof raw);
    size_t zn = 100000;
    uint8_t *z = compressible(zn);
    char rk[65], zk[65];
    put_value(f, raw, sizeof raw, rk, NULL);
    put_value(f, z, zn, zk, NULL);
    int gets = f->mem.gets;
    const enum damage raw_kinds[] = {TRUNCATE, EMPTY, OTHER, HEADER_ONLY, LONGER};
    for (size_t i = 0; i < sizeof raw_kinds / sizeof raw_kinds[0]; i++) {
        damage_blob(f, rk, zk, raw_kinds[i]);
        expect_repaired(f, raw, sizeof raw, rk);
    }
    /* a compressed blob's size is only bounded: emptied, cut to its header, or longer than
     * the value stored raw */
    const enum damage z_kinds[] = {EMPTY, HEADER_ONLY};
    for (size_t i = 0; i < sizeof z_kinds / sizeof z_kinds[0]; i++) {
        damage_blob(f, zk, rk, z_kinds[i]);
        expect_repaired(f, z, zn, zk);
    }
    struct mem_obj *o = stored_blob(f, zk);
    uint8_t *big = calloc(1, 16 + zn + 1);
    assert_non_null(big);
    memcpy(big, o->data, 16);
    char path[80];
    mf_blob_path(zk, path, sizeof path);
    mem_set(&f->mem, path, big, 16 + zn + 1);
    free(big);
    expect_repaired(f, z, zn, zk);
    /* the size checks read nothing back */
    assert_int_equal(f->mem.gets, gets + 8);   /* the reads of expect_repaired */
    /* a flipped byte keeps the size: not seen by a large put (documented), seen on read */
    int puts = f->mem.puts;
    damage_blob(f, rk, zk, FLIP);
    put_value(f, raw, sizeof raw, rk, NULL);
    assert_int_equal(f->mem.puts, puts);
    expect_corrupt(f, rk);
    mf_blob_set_verify(0);
    free(z);
}

/* The streamed put (a large raw value written while hashed) replaces a damaged blob too. */
static void test_stream_repairs_damaged(void **state)
{
    struct fixture *f = *state;
    f->ops = mem_stream_ops;
    f->ops.list = mem_list;
    f->st.ops = &f->ops;
    size_t n = 2u << 20;
    uint8_t *v = random_value(n);
    char key[65];
    put_value(f, v, n, key, NULL);
    assert_int_equal(f->mem.commits, 1);
    /* read back in full (2 MiB is under 16 MiB), then by size only */
    const size_t limits[] = {0, 1024};
    for (size_t l = 0; l < 2; l++) {
        mf_blob_set_verify(limits[l]);
        const enum damage kinds[] = {FLIP, TRUNCATE, EMPTY, LONGER};
        for (size_t i = l; i < sizeof kinds / sizeof kinds[0]; i++) {
            damage_blob(f, key, NULL, kinds[i]);
            int commits = f->mem.commits;
            expect_repaired(f, v, n, key);
            assert_int_equal(f->mem.commits, commits + 1);
            assert_int_equal(f->mem.live, 0);
        }
    }
    /* intact: dropped, not committed */
    int commits = f->mem.commits;
    put_value(f, v, n, key, NULL);
    assert_int_equal(f->mem.commits, commits);
    mf_blob_set_verify(0);
    free(v);
}

static int teardown_threshold(void **state)
{
    (void)state;
    mf_blob_set_stream(0, 0);
    return 0;
}

/* ---- a value written in pieces, and read into the caller's memory ------------------------ */

/* Write v (n bytes) through the blob writer in pieces of `piece` bytes. */
static int write_pieces(struct fixture *f, const uint8_t *v, size_t n, size_t piece,
                        char key[65], uint64_t *stored)
{
    mf_blob_writer *w;
    assert_int_equal(mf_blob_writer_open(&f->st, n, &w), 0);
    for (size_t off = 0; off < n; off += piece)
        assert_int_equal(mf_blob_writer_write(w, v + off, n - off < piece ? n - off : piece), 0);
    return mf_blob_writer_close(w, key, stored);
}

/* The writer stores what put stores, under the same key, whichever path it takes (gathered
 * below 1 MiB, raw or zstd past it), and read_into gives the value back in two parts. */
static void test_writer_stores_what_put_stores(void **state)
{
    struct fixture *f = *state;
    struct { size_t n; int zstd; } cases[] = {{100, -1}, {(3u << 20) + 5, 0}, {(3u << 20) + 5, 1},
                                               {(1u << 20) + 1, 0}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        size_t n = cases[c].n;
        uint8_t *v = cases[c].zstd == 1 ? compressible(n) : random_value(n);
        char key[65], want[65];
        uint64_t stored = 0;
        int opens = f->mem.opens, puts = f->mem.puts;
        assert_int_equal(write_pieces(f, v, n, 7777, key, &stored), 0);
        struct mf_iov iov = {v, n};
        mf_sha256_hex(&iov, 1, want);
        assert_string_equal(key, want);
        struct mem_obj *o = stored_blob(f, key);
        assert_int_equal(stored, o->len);
        if (cases[c].zstd >= 0) {
            /* streamed: through the store's writer, never put */
            assert_int_equal(f->mem.opens, opens + 1);
            assert_int_equal(f->mem.puts, puts);
            assert_int_equal(o->data[4], cases[c].zstd);
        } else {
            assert_int_equal(f->mem.puts, puts + 1);
        }
        assert_int_equal(le64(o->data + 8), n);
        uint8_t head[8];
        uint8_t *back = malloc(n);
        assert_non_null(back);
        memset(back, 0xee, n);
        assert_int_equal(mf_blob_read_into(&f->st, key, head, 8, back, n - 8), 0);
        assert_memory_equal(head, v, 8);
        assert_memory_equal(back, v + 8, n - 8);
        /* the value must be exactly the two parts */
        assert_int_equal(mf_blob_read_into(&f->st, key, head, 8, back, n - 9), MF_ECORRUPT);
        assert_non_null(strstr(mf_blob_error(), "task record says"));
        /* stored again: found stored, the written bytes dropped */
        assert_int_equal(write_pieces(f, v, n, 1u << 20, key, &stored), 0);
        assert_string_equal(key, want);
        assert_int_equal(stored, 0);
        assert_int_equal(f->mem.live, 0);
        free(back);
        free(v);
    }
}

static void test_writer_wrong_length(void **state)
{
    struct fixture *f = *state;
    size_t n = 2u << 20;
    uint8_t *v = random_value(n);
    char key[65];
    /* fewer bytes than announced */
    mf_blob_writer *w;
    assert_int_equal(mf_blob_writer_open(&f->st, n + 1, &w), 0);
    assert_int_equal(mf_blob_writer_write(w, v, n), 0);
    assert_int_equal(mf_blob_writer_close(w, key, NULL), MF_EINVAL);
    assert_non_null(strstr(mf_blob_error(), "announced"));
    /* more */
    assert_int_equal(mf_blob_writer_open(&f->st, n - 1, &w), 0);
    assert_int_equal(mf_blob_writer_write(w, v, n), MF_EINVAL);
    assert_int_equal(mf_blob_writer_close(w, key, NULL), MF_EINVAL);
    /* aborted: nothing stored, no writer left open */
    assert_int_equal(mf_blob_writer_open(&f->st, n, &w), 0);
    assert_int_equal(mf_blob_writer_write(w, v, n / 2), 0);
    mf_blob_writer_abort(w);
    mf_blob_writer_abort(NULL);
    assert_int_equal(f->mem.n, 0);
    assert_int_equal(f->mem.live, 0);
    assert_int_equal(f->mem.commits, 0);
    free(v);
}

/* A flipped byte, raw or zstd, fails read_into with the key named. */
static void test_read_into_flipped_byte(void **state)
{
    struct fixture *f = *state;
    for (int z = 0; z < 2; z++) {
        size_t n = 3u << 20;
        uint8_t *v = z ? compressible(n) : random_value(n);
        char key[65];
        assert_int_equal(write_pieces(f, v, n, 1u << 20, key, NULL), 0);
        struct mem_obj *o = stored_blob(f, key);
        if (z)
            o->data[o->len - 40] ^= 1;   /* inside the last zstd block */
        else
            o->data[16 + n / 2] ^= 1;
        uint8_t *back = malloc(n);
        assert_non_null(back);
        int rc = mf_blob_read_into(&f->st, key, NULL, 0, back, n);
        assert_int_equal(rc, MF_ECORRUPT);
        assert_non_null(strstr(mf_blob_error(), key));
        assert_int_equal(f->mem.gets, f->mem.releases);
        free(back);
        free(v);
    }
}

/* mf_blob_read_spans: spans of odd sizes (and empty ones) asked for one at a time, raw and
 * zstd, fill back the value exactly; a reader that stops, or gives too little room, fails the
 * read with MF_EINVAL. */
struct spans {
    uint8_t *buf;
    size_t sizes[8], n, i, off;
    int stop_at;                 /* the span at which next() says stop; -1: never */
    int asked;
};

static int next_span(void *ud, void **dst, size_t *len)
{
    struct spans *s = ud;
    s->asked++;
    if (s->i == s->n || (int)s->i == s->stop_at)
        return -1;
    *dst = s->buf + s->off;
    *len = s->sizes[s->i];
    s->off += s->sizes[s->i++];
    return 0;
}

static void test_read_spans(void **state)
{
    struct fixture *f = *state;
    for (int z = 0; z < 2; z++) {
        size_t n = (3u << 20) + 5;
        uint8_t *v = z ? compressible(n) : random_value(n);
        char key[65];
        assert_int_equal(write_pieces(f, v, n, 1u << 20, key, NULL), 0);
        assert_int_equal(stored_blob(f, key)->data[4], z);
        uint8_t *back = malloc(n);
        assert_non_null(back);
        for (int stop = -1; stop < 3; stop++) {
            memset(back, 0xee, n);
            struct spans s = {.buf = back, .n = 6, .stop_at = stop,
                              .sizes = {1, 0, 7, (1u << 20) + 3, 0, n - 11 - (1u << 20)}};
            int rc = mf_blob_read_spans(&f->st, key, n, next_span, &s);
            if (stop < 0) {
                assert_int_equal(rc, 0);
                assert_memory_equal(back, v, n);
                assert_int_equal(s.i, 6);
            } else {
                assert_int_equal(rc, MF_EINVAL);
                assert_non_null(strstr(mf_blob_error(), "stopped by its reader"));
                assert_int_equal((int)s.i, stop);
            }
            assert_int_equal(f->mem.gets, f->mem.releases);
        }
        /* spans short of the value: the read stops when they run out */
        struct spans s = {.buf = back, .n = 2, .stop_at = -1, .sizes = {10, n - 20}};
        assert_int_equal(mf_blob_read_spans(&f->st, key, n, next_span, &s), MF_EINVAL);
        /* a length other than the value's is the record's damage */
        struct spans s2 = {.buf = back, .n = 1, .stop_at = -1, .sizes = {n}};
        assert_int_equal(mf_blob_read_spans(&f->st, key, n - 1, next_span, &s2), MF_ECORRUPT);
        assert_int_equal(s2.asked, 0);
        free(back);
        free(v);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256_known_vectors),
        cmocka_unit_test_setup_teardown(test_writer_stores_what_put_stores, setup_stream, teardown),
        cmocka_unit_test_setup_teardown(test_writer_wrong_length, setup_stream, teardown),
        cmocka_unit_test_setup_teardown(test_read_into_flipped_byte, setup_stream, teardown),
        cmocka_unit_test_setup_teardown(test_read_spans, setup_stream, teardown),
        cmocka_unit_test(test_blob_path),
        cmocka_unit_test_setup_teardown(test_round_trip_every_type, setup, teardown),
        cmocka_unit_test_setup_teardown(test_raw_large_is_not_copied, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zstd_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_incompressible_stays_raw, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_pieces, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_twice_writes_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flipped_byte_raw, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flipped_byte_zstd, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_header, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zstd_frame_without_size, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_and_bad_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_failure_is_reported, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_large_raw, setup_stream, teardown),
        cmocka_unit_test_setup_teardown(test_stream_stops_when_stored, setup_stream, teardown),
        cmocka_unit_test_setup_teardown(test_stream_flipped_byte, setup_stream, teardown),
        cmocka_unit_test_setup_teardown(test_stream_only_large_raw, setup_stream, teardown),
        cmocka_unit_test_setup_teardown(test_stream_write_failure, setup_stream, teardown),
        cmocka_unit_test_setup_teardown(test_stream_open_failure_falls_back, setup_stream,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_stream_not_from_a_1_0_table, setup_stream, teardown),
        cmocka_unit_test_setup_teardown(test_stream_local_plugin, NULL, teardown_threshold),
        cmocka_unit_test_setup_teardown(test_put_repairs_damaged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_repairs_large_by_size, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_repairs_damaged, setup_stream, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
