/* The `local` storage plugin's get_range (plugin ABI 1.4): every range of objects of several
 * sizes comes back byte for byte with the object's size (first, middle and last bytes, a range
 * past the end, one from the end on, an empty one), an absent key is MF_ENOTFOUND, and a
 * directory in a key's place is no object. */
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

#define LOCAL_STORE_FIXTURE_BYTES
#include "local_store_fixture.h"

static void test_ranges(void **state)
{
    struct fixture *f = *state;
    assert_true(MF_HAS_FIELD(ops, get_range));
    assert_non_null(ops->get_range);
    const size_t sizes[] = {0, 1, 4095, 65536, 300001};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        unsigned char *p = pattern(n, (unsigned)i);
        char key[64];
        snprintf(key, sizeof key, "runs/F/1/s/%zu.0.stdout", i);
        put_bytes(f, key, p, n);
        const uint64_t ranges[][2] = {{0, 10}, {n / 2, 1000}, {n > 7 ? n - 7 : 0, 100},
                                      {n, 10}, {n + 5, 10}, {0, n + 1}, {n / 3, 0}};
        for (size_t r = 0; r < sizeof ranges / sizeof ranges[0]; r++) {
            uint64_t off = ranges[r][0], len = ranges[r][1], size = 12345;
            struct mf_buf b = {.struct_size = sizeof b};
            int rc = ops->get_range(f->st, key, off, (size_t)len, &b, &size);
            if (rc)
                fail_msg("get_range %s %llu+%llu: %d %s", key, (unsigned long long)off,
                         (unsigned long long)len, rc, ops->last_error(f->st));
            size_t want = off >= n ? 0 : n - off < len ? n - (size_t)off : (size_t)len;
            assert_int_equal(size, n);
            assert_int_equal(b.len, want);
            if (want)
                assert_memory_equal(b.data, p + off, want);
            if (b.release)
                b.release(&b);
        }
        free(p);
    }
}

static void test_absent_and_directory(void **state)
{
    struct fixture *f = *state;
    struct mf_buf b = {.struct_size = sizeof b};
    uint64_t size = 0;
    assert_int_equal(ops->get_range(f->st, "runs/F/1/s/9.0.stdout", 0, 10, &b, &size),
                     MF_ENOTFOUND);
    put_bytes(f, "runs/F/1/s/1.0.stdout", "x", 1);
    assert_int_equal(ops->get_range(f->st, "runs/F/1/s", 0, 10, &b, &size), MF_ENOTFOUND);
    assert_non_null(strstr(ops->last_error(f->st), "directory"));
}

int main(void)
{
    int rc = load_local_plugin();
    if (rc)
        return rc;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ranges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_absent_and_directory, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
