/* mf_blob_read_into over a store with get_range (plugin ABI 1.4): the value is read piece by
 * piece straight into the caller's buffers, raw or zstd, with the hash checked as it goes, and
 * the store's whole-object get is never called. An in-memory store written here counts each
 * ranged read and its length, and lets a test damage what it holds or change it between
 * reads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "blob.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_OBJS 16

struct obj {
    char key[128];
    uint8_t *data;
    size_t len;
};

struct rstore {
    struct obj objs[MAX_OBJS];
    size_t n;
    int gets;               /* whole-object gets */
    int ranges;             /* get_range calls */
    size_t max_asked;       /* the largest len asked of get_range */
    size_t fetched;         /* bytes get_range handed out */
    int grow_after;         /* after this many ranges, the object grows by a byte (0: never) */
    size_t overfill;        /* a broken plugin: hands out this many bytes more than asked */
    char err[256];
};

static struct obj *find(struct rstore *m, const char *key)
{
    for (size_t i = 0; i < m->n; i++)
        if (!strcmp(m->objs[i].key, key))
            return &m->objs[i];
    return NULL;
}

static int r_put(void *state, const char *key, const struct mf_iov *iov, size_t niov,
                 uint32_t flags)
{
    struct rstore *m = state;
    struct obj *o = find(m, key);
    if (o && (flags & MF_PUT_IF_ABSENT))
        return 0;
    if (!o) {
        assert_true(m->n < MAX_OBJS);
        o = &m->objs[m->n++];
        snprintf(o->key, sizeof o->key, "%s", key);
    }
    size_t total = 0;
    for (size_t i = 0; i < niov; i++)
        total += iov[i].len;
    free(o->data);
    o->data = malloc(total + 1);
    assert_non_null(o->data);
    o->len = 0;
    for (size_t i = 0; i < niov; i++) {
        memcpy(o->data + o->len, iov[i].base, iov[i].len);
        o->len += iov[i].len;
    }
    return 0;
}

static void free_data(struct mf_buf *b)
{
    free(b->data);
    b->data = NULL;
}

static int r_get(void *state, const char *key, struct mf_buf *out)
{
    struct rstore *m = state;
    struct obj *o = find(m, key);
    if (!o) {
        snprintf(m->err, sizeof m->err, "rstore: no object %s", key);
        return MF_ENOTFOUND;
    }
    m->gets++;
    out->data = malloc(o->len + 1);
    assert_non_null(out->data);
    memcpy(out->data, o->data, o->len);
    out->len = o->len;
    out->release = free_data;
    return 0;
}

/* As the local plugin answers: at most len bytes from offset, none from the end on. */
static int r_get_range(void *state, const char *key, uint64_t offset, size_t len,
                       struct mf_buf *out, uint64_t *size)
{
    struct rstore *m = state;
    struct obj *o = find(m, key);
    if (!o) {
        snprintf(m->err, sizeof m->err, "rstore: no object %s", key);
        return MF_ENOTFOUND;
    }
    m->ranges++;
    if (len > m->max_asked)
        m->max_asked = len;
    if (m->grow_after && m->ranges == m->grow_after + 1) {
        o->data = realloc(o->data, o->len + 1);
        assert_non_null(o->data);
        o->data[o->len++] = 'x';
    }
    size_t want = len + m->overfill;
    size_t n = offset >= o->len ? 0 : o->len - offset < want ? (size_t)(o->len - offset) : want;
    out->data = malloc(n + 1);
    assert_non_null(out->data);
    memcpy(out->data, o->data + offset, n);
    out->len = n;
    out->release = free_data;
    *size = o->len;
    m->fetched += n;
    return 0;
}

static int r_exists(void *state, const char *key)
{
    return find(state, key) != NULL;
}

static const char *r_last_error(void *state)
{
    struct rstore *m = state;
    return m->err;
}

static const struct mf_storage_ops ranged_ops = {
    .struct_size = sizeof(struct mf_storage_ops),
    .put = r_put,
    .get = r_get,
    .exists = r_exists,
    .last_error = r_last_error,
    .get_range = r_get_range,
    .flags = MF_STORAGE_GET_COPIES,
};

/* The same store as a 1.3 plugin sees it, or one whose get maps (flags 0). */
static struct mf_storage_ops old_ops;

struct fixture {
    struct rstore m;
    struct mf_store st;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->st.ops = &ranged_ops;
    f->st.state = &f->m;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    for (size_t i = 0; i < f->m.n; i++)
        free(f->m.objs[i].data);
    free(f);
    mf_blob_set_range_piece(0);
    return 0;
}

static uint64_t rng = 88172645463325252ull;

static uint8_t *random_value(size_t n)
{
    uint8_t *v = malloc(n + 1);
    assert_non_null(v);
    for (size_t i = 0; i < n; i++) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        v[i] = (uint8_t)rng;
    }
    return v;
}

static uint8_t *compressible(size_t n)
{
    uint8_t *p = malloc(n + 1);
    assert_non_null(p);
    static const char text[] = "step start -> a b; artifact alpha=0.01; foreach item in list; ";
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)text[(i * 7 / 5) % (sizeof text - 1)];
    return p;
}

static struct obj *blob_of(struct fixture *f, const char *key)
{
    char path[9 + MF_BLOB_KEY_LEN + 1];
    mf_blob_path(key, path, sizeof path);
    struct obj *o = find(&f->m, path);
    assert_non_null(o);
    return o;
}

static void store(struct fixture *f, const uint8_t *v, size_t n, char key[65])
{
    struct mf_iov iov = {v, n};
    int rc = mf_blob_put(&f->st, &iov, 1, key, NULL);
    if (rc)
        fail_msg("put: %d %s", rc, mf_blob_error());
}

/* Raw and zstd values of several sizes, read with several piece sizes and head lengths: the
 * exact bytes, no whole-object get, no read longer than a piece, and the stored bytes read
 * once each (raw) or in as many reads as the pieces need. */
static void test_ranged_round_trip(void **state)
{
    struct fixture *f = *state;
    const size_t sizes[] = {0, 1, 15, 16, 17, 4095, 100000, (3u << 20) + 7};
    const size_t pieces[] = {17, 1000, 65536, 1u << 20, 0};
    const size_t skips[] = {0, 8, 5000};
    for (int z = 0; z < 2; z++) {
        for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
            size_t n = sizes[si];
            uint8_t *v = z ? compressible(n) : random_value(n);
            char key[65];
            store(f, v, n, key);
            struct obj *o = blob_of(f, key);
            int zstd = o->data[4] == 1;
            if (z && n >= 100000)
                assert_true(zstd);   /* the compressible ones of some size are zstd */
            if (!z)
                assert_false(zstd);
            for (size_t pi = 0; pi < sizeof pieces / sizeof *pieces; pi++) {
                mf_blob_set_range_piece(pieces[pi]);
                size_t piece = pieces[pi] ? pieces[pi] : (size_t)32 << 20;
                for (size_t ki = 0; ki < sizeof skips / sizeof *skips; ki++) {
                    size_t skip = skips[ki] <= n ? skips[ki] : n;
                    uint8_t *head = malloc(skip + 1), *dst = malloc(n - skip + 1);
                    assert_non_null(head);
                    assert_non_null(dst);
                    f->m.gets = f->m.ranges = 0;
                    f->m.max_asked = f->m.fetched = 0;
                    int rc = mf_blob_read_into(&f->st, key, head, skip, dst, n - skip);
                    if (rc)
                        fail_msg("read_into %zu bytes (zstd %d) piece %zu skip %zu: %d %s", n,
                                 zstd, piece, skip, rc, mf_blob_error());
                    assert_memory_equal(head, v, skip);
                    assert_memory_equal(dst, v + skip, n - skip);
                    assert_int_equal(f->m.gets, 0);
                    assert_true(f->m.max_asked <= piece);
                    assert_int_equal(f->m.fetched, o->len);   /* every stored byte once */
                    assert_int_equal(f->m.ranges, (o->len + piece - 1) / piece);
                    free(head);
                    free(dst);
                }
            }
            free(v);
        }
    }
}

/* A damaged blob fails with MF_ECORRUPT and the key named, whatever the piece size: a flipped
 * byte (raw: the hash; zstd: the frame or the hash), cut short, a byte too many, a header that
 * disagrees with the record's length, a zstd frame followed by junk. */
static void test_ranged_damage(void **state)
{
    struct fixture *f = *state;
    const size_t pieces[] = {17, 4096, 0};
    for (int z = 0; z < 2; z++) {
        size_t n = 300000;
        uint8_t *v = z ? compressible(n) : random_value(n);
        char key[65];
        store(f, v, n, key);
        struct obj *o = blob_of(f, key);
        uint8_t *good = malloc(o->len);
        assert_non_null(good);
        memcpy(good, o->data, o->len);
        size_t good_len = o->len;
        uint8_t *dst = malloc(n + 2);
        assert_non_null(dst);
        for (int d = 0; d < 4; d++) {
            for (size_t pi = 0; pi < sizeof pieces / sizeof *pieces; pi++) {
                mf_blob_set_range_piece(pieces[pi]);
                memcpy(o->data, good, good_len);
                o->len = good_len;
                if (d == 0)
                    o->data[good_len - 40] ^= 1;
                else if (d == 1)
                    o->len = good_len - 1;
                else if (d == 2)
                    o->data[o->len++] = 0;   /* room: put allocated one more */
                else
                    o->data[5] = 1;          /* a non-zero reserved header byte */
                int rc = mf_blob_read_into(&f->st, key, NULL, 0, dst, n);
                if (rc != MF_ECORRUPT)
                    fail_msg("damage %d (zstd %d, piece %zu): rc %d %s", d, z, pieces[pi], rc,
                             mf_blob_error());
                assert_non_null(strstr(mf_blob_error(), key));
                assert_int_equal(f->m.gets, 0);
            }
        }
        /* the record's length must be the header's */
        memcpy(o->data, good, good_len);
        o->len = good_len;
        mf_blob_set_range_piece(4096);
        assert_int_equal(mf_blob_read_into(&f->st, key, NULL, 0, dst, n - 1), MF_ECORRUPT);
        assert_non_null(strstr(mf_blob_error(), "task record says"));
        assert_int_equal(mf_blob_read_into(&f->st, key, NULL, 0, dst, n), 0);
        assert_memory_equal(dst, v, n);
        free(dst);
        free(good);
        free(v);
    }
}

/* An object that changes size between two ranged reads fails rather than mixing. */
static void test_ranged_changed_size(void **state)
{
    struct fixture *f = *state;
    size_t n = 100000;
    uint8_t *v = random_value(n);
    char key[65];
    store(f, v, n, key);
    uint8_t *dst = malloc(n);
    assert_non_null(dst);
    mf_blob_set_range_piece(10000);
    f->m.grow_after = 3;
    assert_int_equal(mf_blob_read_into(&f->st, key, NULL, 0, dst, n), MF_ECORRUPT);
    assert_non_null(strstr(mf_blob_error(), "changed size"));
    assert_int_equal(f->m.ranges, 4);   /* stopped at the read that saw it */
    free(dst);
    free(v);
}

/* A missing blob is MF_ENOTFOUND with the store's message; a bad key MF_EINVAL. */
static void test_ranged_missing(void **state)
{
    struct fixture *f = *state;
    uint8_t dst[8];
    const char *key = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    assert_int_equal(mf_blob_read_into(&f->st, key, NULL, 0, dst, 8), MF_ENOTFOUND);
    assert_non_null(strstr(mf_blob_error(), "rstore: no object blobs/01/"));
    assert_int_equal(mf_blob_read_into(&f->st, "ABC", NULL, 0, dst, 8), MF_EINVAL);
    assert_int_equal(f->m.ranges, 0);
}

/* A table too short for get_range (a 1.3 plugin) is read whole with get, as before. */
static void test_without_get_range(void **state)
{
    struct fixture *f = *state;
    old_ops = ranged_ops;
    old_ops.struct_size = offsetof(struct mf_storage_ops, get_range);
    f->st.ops = &old_ops;
    size_t n = 200000;
    uint8_t *v = random_value(n);
    char key[65];
    store(f, v, n, key);
    uint8_t *dst = malloc(n);
    assert_non_null(dst);
    assert_int_equal(mf_blob_read_into(&f->st, key, NULL, 0, dst, n), 0);
    assert_memory_equal(dst, v, n);
    assert_int_equal(f->m.gets, 1);
    assert_int_equal(f->m.ranges, 0);
    free(dst);
    free(v);
}

/* A store whose get maps the object (no MF_STORAGE_GET_COPIES, as the local plugin) is read
 * through get, though it has get_range. */
static void test_mapping_store_reads_whole(void **state)
{
    struct fixture *f = *state;
    old_ops = ranged_ops;
    old_ops.flags = 0;
    f->st.ops = &old_ops;
    size_t n = 200000;
    uint8_t *v = random_value(n);
    char key[65];
    store(f, v, n, key);
    uint8_t *dst = malloc(n);
    assert_non_null(dst);
    assert_int_equal(mf_blob_read_into(&f->st, key, NULL, 0, dst, n), 0);
    assert_memory_equal(dst, v, n);
    assert_int_equal(f->m.gets, 1);
    assert_int_equal(f->m.ranges, 0);
    free(dst);
    free(v);
}

/* The piecewise reader (mf_blob_reader_*, what the client streams an artifact with) reads a
 * value whole and checked; a plugin whose get_range hands out more than it was asked fails
 * the read with MF_EIO, and the bytes past the caller's buffer are not touched. */
static void test_reader_overfilling_plugin(void **state)
{
    struct fixture *f = *state;
    size_t n = 5000;
    uint8_t *v = random_value(n);
    char key[65];
    store(f, v, n, key);
    assert_int_equal(blob_of(f, key)->data[4], 0);   /* raw: what the reader reads */

    mf_blob_reader *r;
    uint64_t len = 0;
    assert_int_equal(mf_blob_reader_open(&f->st, key, &r, &len), 0);
    assert_int_equal(len, n);
    uint8_t *dst = malloc(n);
    assert_non_null(dst);
    size_t done = 0, got;
    while (done < n) {
        assert_int_equal(mf_blob_reader_read(r, dst + done, 700, &got), 0);
        assert_true(got > 0 && got <= 700);
        done += got;
    }
    assert_memory_equal(dst, v, n);
    mf_blob_reader_close(r);

    f->m.overfill = 40;
    assert_int_equal(mf_blob_reader_open(&f->st, key, &r, &len), MF_EIO);
    assert_non_null(strstr(mf_blob_error(), "56 bytes"));
    assert_non_null(strstr(mf_blob_error(), "where 16 were asked"));

    f->m.overfill = 0;
    assert_int_equal(mf_blob_reader_open(&f->st, key, &r, &len), 0);
    f->m.overfill = 40;
    struct {
        uint8_t buf[100];
        uint8_t canary[64];
    } out;
    memset(&out, 0xa5, sizeof out);
    assert_int_equal(mf_blob_reader_read(r, out.buf, sizeof out.buf, &got), MF_EIO);
    assert_int_equal(got, 0);
    for (size_t i = 0; i < sizeof out.canary; i++)
        assert_int_equal(out.canary[i], 0xa5);
    assert_non_null(strstr(mf_blob_error(), "140 bytes"));
    mf_blob_reader_close(r);
    free(dst);
    free(v);
}

/* ---- MF_STORAGE_WRITER_COPIES: a value held whole is put, not written while it is hashed */

static int w_opens;

struct mf_writer {
    int unused;
};

static int w_open(void *state, mf_writer **out)
{
    (void)state;
    w_opens++;
    *out = calloc(1, sizeof **out);
    return *out ? 0 : MF_ENOMEM;
}

static int w_write(void *state, mf_writer *w, const struct mf_iov *iov, size_t niov)
{
    (void)state, (void)w, (void)iov, (void)niov;
    return 0;
}

static int w_commit(void *state, mf_writer *w, const char *key, uint32_t flags)
{
    (void)state, (void)key, (void)flags;
    free(w);
    return MF_EIO;   /* never the way the value should go here */
}

static void w_abort(void *state, mf_writer *w)
{
    (void)state;
    free(w);
}

static void test_writer_copies_means_put(void **state)
{
    struct fixture *f = *state;
    static struct mf_storage_ops wops;
    wops = ranged_ops;
    wops.writer_open = w_open;
    wops.writer_write = w_write;
    wops.writer_commit = w_commit;
    wops.writer_abort = w_abort;
    wops.flags = MF_STORAGE_GET_COPIES | MF_STORAGE_WRITER_COPIES;
    f->st.ops = &wops;
    mf_blob_set_stream(1u << 20, 1);
    for (int copies = 1; copies >= 0; copies--) {
        if (!copies)
            wops.flags = MF_STORAGE_GET_COPIES;
        w_opens = 0;
        size_t n = (2u << 20) + (size_t)copies;
        uint8_t *v = random_value(n);
        struct mf_iov iov = {v, n};
        char key[65];
        int rc = mf_blob_put(&f->st, &iov, 1, key, NULL);
        if (copies) {
            assert_int_equal(rc, 0);   /* put, from the caller's memory */
            assert_int_equal(w_opens, 0);
            uint8_t *dst = malloc(n);
            assert_non_null(dst);
            assert_int_equal(mf_blob_read_into(&f->st, key, NULL, 0, dst, n), 0);
            assert_memory_equal(dst, v, n);
            free(dst);
        } else {
            assert_int_equal(w_opens, 1);   /* written while hashed: this writer fails it */
            assert_int_equal(rc, MF_EIO);
        }
        free(v);
    }
    mf_blob_set_stream(0, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ranged_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ranged_damage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ranged_changed_size, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ranged_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_without_get_range, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mapping_store_reads_whole, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writer_copies_means_put, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reader_overfilling_plugin, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
