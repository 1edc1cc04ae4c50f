/* The `local` storage plugin's `prepare` (plugin ABI 1.5): the places a run's objects will be
 * put are created ahead, and puts into them then have no directory to create. Loaded from its
 * built .so (MFLOW_TEST_PLUGIN) into the SDK's fake host, each test on a fresh root. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fakehost.h"

#include <mflow/plugin.h>

#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "local_store_fixture.h"

/* root/rel is a directory (1), something else (2) or nothing (0). */
static int dir_kind(struct fixture *f, const char *rel)
{
    char p[PATH_MAX + 256];
    struct stat sb;
    snprintf(p, sizeof p, "%s/%s", f->dir, rel);
    if (stat(p, &sb) != 0)
        return 0;
    return S_ISDIR(sb.st_mode) ? 1 : 2;
}

static int count_key(void *ud, const char *key, uint64_t size)
{
    (void)key;
    (void)size;
    (*(int *)ud)++;
    return 0;
}

static void test_creates_each_prefix(void **state)
{
    struct fixture *f = *state;
    assert_true(MF_HAS_FIELD(ops, prepare));
    assert_non_null(ops->prepare);
    /* A new run (several levels new), then a second call for more steps of it. */
    const char *first[] = {"runs/F/7/start/", "runs/F/7/a/", "runs/F/7/end/"};
    assert_int_equal(ops->prepare(f->st, first, 3), 0);
    const char *second[] = {"runs/F/7/b/", "runs/G/1/deep/er/"};
    assert_int_equal(ops->prepare(f->st, second, 2), 0);
    const char *dirs[] = {"runs/F/7/start", "runs/F/7/a", "runs/F/7/end", "runs/F/7/b",
                          "runs/G/1/deep/er"};
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(dir_kind(f, dirs[i]), 1);
    /* Nothing is listed for an empty place; objects put there are. */
    int n = 0;
    assert_int_equal(ops->list(f->st, "runs/", count_key, &n), 0);
    assert_int_equal(n, 0);
    struct mf_iov v = {"{}", 2};
    assert_int_equal(ops->put(f->st, "runs/F/7/a/2.0.json", &v, 1, 0), 0);
    assert_int_equal(ops->put(f->st, "runs/G/1/deep/er/1.0.json", &v, 1, 0), 0);
    assert_int_equal(ops->list(f->st, "runs/", count_key, &n), 0);
    assert_int_equal(n, 2);
}

static void test_existing_left_alone(void **state)
{
    struct fixture *f = *state;
    struct mf_iov v = {"abc", 3};
    assert_int_equal(ops->put(f->st, "runs/F/3/start/1.0.json", &v, 1, 0), 0);
    const char *p[] = {"runs/F/3/start/", "runs/F/3/start/", "runs/F/3/next/"};
    assert_int_equal(ops->prepare(f->st, p, 3), 0);
    struct mf_buf b = {.struct_size = sizeof b};
    assert_int_equal(ops->get(f->st, "runs/F/3/start/1.0.json", &b), 0);
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.data, "abc", 3);
    if (b.release)
        b.release(&b);
    assert_int_equal(dir_kind(f, "runs/F/3/next"), 1);
    assert_int_equal(ops->prepare(f->st, NULL, 0), 0);
}

static void test_refused(void **state)
{
    struct fixture *f = *state;
    struct {
        const char *prefix, *says;
    } bad[] = {
        {"runs/F/1/start", "does not end in '/'"},
        {"/etc/x/", "starts with '/'"},
        {"runs/../../x/", ".."},
        {"/", "does not end in '/'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *p[] = {bad[i].prefix};
        int rc = ops->prepare(f->st, p, 1);
        if (rc == 0)
            fail_msg("prefix '%s' was accepted", bad[i].prefix);
        if (!strstr(ops->last_error(f->st), bad[i].says))
            fail_msg("prefix '%s': message '%s' does not say '%s'", bad[i].prefix,
                     ops->last_error(f->st), bad[i].says);
    }
    /* A file where a directory must go: the call fails and says which prefix. */
    struct mf_iov v = {"x", 1};
    assert_int_equal(ops->put(f->st, "runs/F/2/start", &v, 1, 0), 0);
    const char *p[] = {"runs/F/2/other/", "runs/F/2/start/"};
    assert_int_not_equal(ops->prepare(f->st, p, 2), 0);
    assert_non_null(strstr(ops->last_error(f->st), "runs/F/2/start/"));
    assert_int_equal(dir_kind(f, "runs/F/2/other"), 1);
    assert_int_equal(dir_kind(f, "runs/F/2/start"), 2);
}

int main(void)
{
    int rc = load_local_plugin();
    if (rc)
        return rc;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_creates_each_prefix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_existing_left_alone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
