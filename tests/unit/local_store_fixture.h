/* The fixture of the unit tests that drive the `local` storage plugin alone, through the SDK's
 * fake host (test_storage_local.c, _read.c, _range.c, _prepare.c): each test gets a fresh
 * datastore root in a temporary directory, removed afterwards. Include after <cmocka.h> and
 * "fakehost.h". Option: define LOCAL_STORE_FIXTURE_SCRATCH before including it for a second
 * temporary directory outside the root (f->other), made and removed with it; define
 * LOCAL_STORE_FIXTURE_BYTES for pattern() and put_bytes(), test bytes and a checked put. */
#ifndef MFLOW_TEST_LOCAL_STORE_FIXTURE_H
#define MFLOW_TEST_LOCAL_STORE_FIXTURE_H

#include <mflow/plugin.h>

#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const struct mf_plugin_desc *desc;
static const struct mf_storage_ops *ops;

struct fixture {
    char dir[PATH_MAX];      /* the root */
#ifdef LOCAL_STORE_FIXTURE_SCRATCH
    char other[PATH_MAX];    /* a scratch directory outside the root */
#endif
    void *st;
};

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void rm_rf(const char *path)
{
    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    strcpy(f->dir, "/tmp/mflow-test-local.XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
#ifdef LOCAL_STORE_FIXTURE_SCRATCH
    strcpy(f->other, "/tmp/mflow-test-scratch.XXXXXX");
    if (!mkdtemp(f->other))
        return -1;
#endif
    mf_fakehost_reset();
    mf_fakehost_set("local", "root", f->dir);
    if (desc->init(mf_fakehost(), &f->st) != 0) {
        fprintf(stderr, "init failed: %s\n", mf_fakehost_logs());
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    desc->fini(f->st);
    rm_rf(f->dir);
#ifdef LOCAL_STORE_FIXTURE_SCRATCH
    rm_rf(f->other);
#endif
    free(f);
    mf_fakehost_reset();
    return 0;
}

#ifdef LOCAL_STORE_FIXTURE_BYTES
/* n bytes that differ from one size and seed to the next (free them). */
static unsigned char *pattern(size_t n, unsigned seed)
{
    unsigned char *p = malloc(n ? n : 1);
    assert_non_null(p);
    uint32_t x = 2654435761u * (seed + 1) ^ (uint32_t)n;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (unsigned char)x;
    }
    return p;
}

/* Put n bytes under key, failing the test with the plugin's message if the put fails. */
static void put_bytes(struct fixture *f, const char *key, const void *data, size_t n)
{
    struct mf_iov v = {data, n};
    int rc = ops->put(f->st, key, &v, 1, 0);
    if (rc)
        fail_msg("put %s: %d %s", key, rc, ops->last_error(f->st));
}
#endif

/* Loads the plugin MFLOW_TEST_PLUGIN names into desc and ops: 0, or main's exit code (77:
 * not set, 1: it does not load). */
static int load_local_plugin(void)
{
    const char *path = getenv("MFLOW_TEST_PLUGIN");
    if (!path || !*path) {
        fprintf(stderr, "MFLOW_TEST_PLUGIN is not set: point it at mflow_storage_local.so "
                        "(meson test sets it)\n");
        return 77;
    }
    desc = mf_fakehost_load(path);
    if (!desc) {
        fprintf(stderr, "cannot load %s: %s\n", path, mf_fakehost_logs());
        return 1;
    }
    ops = desc->ops;
    return 0;
}

#endif
