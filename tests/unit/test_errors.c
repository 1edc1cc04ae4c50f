/* Unit tests of the error vocabulary: mf_strerror (<mflow/plugin.h>) names every MF_E* code
 * and errno value, mf_client_strerror is the same, and a storage plugin's refusal to start
 * comes out of mf_store_open as itself (EACCES, ENOENT, MF_EPERM), not as MF_EUNAVAIL.
 * The refusing plugins are built by tests/unit/meson.build, found through MFLOW_PLUGIN_PATH. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mflow/client.h>
#include <mflow/plugin.h>

#include "host.h"
#include "store.h"

static char home[] = "/tmp/mflow-errors.XXXXXX";

static void test_vocabulary(void **state)
{
    (void)state;
    assert_string_equal(mf_strerror(0), "success");
    assert_string_equal(mf_strerror(MF_ENOTFOUND), "not found");
    assert_string_equal(mf_strerror(MF_EPERM), "permission refused");
    assert_string_equal(mf_strerror(MF_EUNAVAIL), "backend unavailable");
    /* every code has its own words */
    for (int a = MF_EFAIL; a <= MF_EINVAL; a++) {
        const char *ta = mf_strerror(a);
        assert_non_null(ta);
        assert_string_not_equal(ta, "unknown error");
        for (int b = MF_EFAIL; b < a; b++)
            assert_string_not_equal(ta, mf_strerror(b));
    }
    /* errno values as the C library says them */
    assert_string_equal(mf_strerror(EACCES), strerror(EACCES));
    assert_string_equal(mf_strerror(ENOENT), strerror(ENOENT));
    assert_string_equal(mf_strerror(ENOSPC), strerror(ENOSPC));
    /* never NULL */
    assert_string_equal(mf_strerror(-999), "unknown error");
    assert_string_equal(mf_strerror(MF_EFAIL - 1), "unknown error");
    /* the client's name for it is the same vocabulary */
    for (int rc = -20; rc < 140; rc++)
        assert_string_equal(mf_client_strerror(rc), mf_strerror(rc));
}

/* A code that is neither mflow's nor a known errno reads "unknown error", and its text is
 * static: glibc's strerror frees the text of one unknown code at its next call, so the
 * first of two messages held at once was read after it was freed (ASan: heap-use-after-free). */
static void test_unknown_codes_static(void **state)
{
    (void)state;
    const int codes[] = {134, 135, 200, 4095, 1 << 30};
    const char *held[sizeof codes / sizeof codes[0]];
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        held[i] = mf_strerror(codes[i]);
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        assert_string_equal(held[i], "unknown error");
        assert_string_equal(mf_client_strerror(codes[i]), "unknown error");
    }
    /* known errno values keep their own text, and stay valid beside an unknown one */
    const char *a = mf_strerror(ENOSPC), *u = mf_strerror(150), *b = mf_strerror(EACCES);
    assert_string_equal(a, strerror(ENOSPC));
    assert_string_equal(u, "unknown error");
    assert_string_equal(b, strerror(EACCES));
}

/* Open the datastore through the storage plugin `name`; returns the code, *err the message. */
static int open_with(const char *name, char **err)
{
    struct mf_host_opts o = {.home = home, .storage = name};
    mf_host_fini();
    assert_int_equal(mf_host_init(&o), 0);
    struct mf_store st;
    *err = NULL;
    int rc = mf_store_open(&st, err);
    if (!rc)
        mf_store_close(&st);
    return rc;
}

static void expect_refusal(const char *name, int code, const char *words)
{
    char *err = NULL;
    int rc = open_with(name, &err);
    assert_int_equal(rc, code);
    assert_non_null(err);
    char want[256];
    snprintf(want, sizeof want, "storage plugin '%s' did not start: %s", name, words);
    if (!strstr(err, want))
        print_error("message: %s\nwanted: %s\n", err, want);
    assert_non_null(strstr(err, want));
    assert_null(strstr(err, "code "));
    free(err);
}

static void test_store_refusals(void **state)
{
    (void)state;
    const char *path = getenv("MFLOW_PLUGIN_PATH");
    if (!path || !*path) {
        print_message("MFLOW_PLUGIN_PATH is not set: run through meson test\n");
        skip();
    }
    expect_refusal("denied", EACCES, strerror(EACCES));
    expect_refusal("nodir", ENOENT, strerror(ENOENT));
    expect_refusal("nocreds", MF_EPERM, "permission refused");

    /* no such plugin: the backend is not installed */
    char *err = NULL;
    assert_int_equal(open_with("nosuchstore", &err), MF_EUNAVAIL);
    assert_non_null(err);
    assert_non_null(strstr(err, "nosuchstore"));
    free(err);

    /* and the local plugin still opens */
    assert_int_equal(open_with("local", &err), 0);
    assert_null(err);
    mf_host_fini();
}

int main(void)
{
    if (!mkdtemp(home)) {
        perror("mkdtemp");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vocabulary),
        cmocka_unit_test(test_unknown_codes_static),
        cmocka_unit_test(test_store_refusals),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", home);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", home);
    return rc;
}
