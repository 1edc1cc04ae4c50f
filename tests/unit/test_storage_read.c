/* The `local` storage plugin's get on both sides of the size up to which an object is read
 * into the heap rather than mapped (64 KiB): every size comes back byte for byte, the buffer
 * stays valid after the object is replaced or deleted, and a damaged object (a directory in
 * its place, a file that cannot be read) is an error, never a short value. */
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

static void test_sizes_round_trip(void **state)
{
    struct fixture *f = *state;
    static const size_t sizes[] = {1, 2, 474, 4095, 4096, 4097, 65535, 65536, 65537, 200000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char key[64];
        snprintf(key, sizeof key, "runs/F/1/s/%zu.0.json", i);
        unsigned char *want = pattern(sizes[i], (unsigned)i);
        put_bytes(f, key, want, sizes[i]);
        struct mf_buf b = {.struct_size = sizeof b};
        assert_int_equal(ops->get(f->st, key, &b), 0);
        assert_int_equal(b.len, sizes[i]);
        assert_memory_equal(b.data, want, sizes[i]);
        assert_non_null(b.release);
        b.release(&b);
        assert_null(b.data);
        assert_int_equal(b.len, 0);
        free(want);
    }
}

/* What get returned stays as it was when the object is replaced, then deleted. */
static void test_buffer_outlives_object(void **state)
{
    struct fixture *f = *state;
    static const size_t sizes[] = {100, 65536, 70000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        unsigned char *a = pattern(sizes[i], 10 + (unsigned)i);
        unsigned char *b2 = pattern(sizes[i], 20 + (unsigned)i);
        put_bytes(f, "k/obj", a, sizes[i]);
        struct mf_buf b = {.struct_size = sizeof b};
        assert_int_equal(ops->get(f->st, "k/obj", &b), 0);
        put_bytes(f, "k/obj", b2, sizes[i]);
        assert_int_equal(ops->del(f->st, "k/obj"), 0);
        assert_int_equal(b.len, sizes[i]);
        assert_memory_equal(b.data, a, sizes[i]);
        b.release(&b);
        free(a);
        free(b2);
    }
}

/* A small object that cannot be read is an error naming it, not an empty or short value. */
static void test_unreadable_small_object(void **state)
{
    struct fixture *f = *state;
    if (geteuid() == 0)
        skip();   /* root reads a file of mode 000 */
    unsigned char *a = pattern(300, 3);
    put_bytes(f, "u/obj", a, 300);
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/u/obj", f->dir);
    assert_int_equal(chmod(path, 0), 0);
    struct mf_buf b = {.struct_size = sizeof b};
    int rc = ops->get(f->st, "u/obj", &b);
    assert_int_not_equal(rc, 0);
    assert_null(b.data);
    assert_non_null(strstr(ops->last_error(f->st), "u/obj"));
    chmod(path, 0600);
    free(a);
}

/* A directory where the object would be is "no object", whatever is inside. */
static void test_directory_is_no_object(void **state)
{
    struct fixture *f = *state;
    unsigned char *a = pattern(10, 4);
    put_bytes(f, "d/x/inner", a, 10);
    struct mf_buf b = {.struct_size = sizeof b};
    assert_int_equal(ops->get(f->st, "d/x", &b), MF_ENOTFOUND);
    assert_null(b.data);
    free(a);
}

int main(void)
{
    int rc = load_local_plugin();
    if (rc)
        return rc;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sizes_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_buffer_outlives_object, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unreadable_small_object, setup, teardown),
        cmocka_unit_test_setup_teardown(test_directory_is_no_object, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
