/* The SDK's optional plugin helpers (sdk/include/mflow/plugin_util.h), used as a plugin uses
 * them: an error kept for last_error, a formatted string, a log line through host tables of
 * several sizes, the clocks. */
#include <mflow/plugin.h>
#include <mflow/plugin_util.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static void fail_keeps_message(void **s)
{
    (void)s;
    char err[16];
    memset(err, 'x', sizeof err);
    assert_int_equal(mf_plugin_fail(err, sizeof err, MF_EINVAL, "step '%s' %d", "a", 7), MF_EINVAL);
    assert_string_equal(err, "step 'a' 7");
    /* cut at the buffer, still a string */
    assert_int_equal(mf_plugin_fail(err, sizeof err, 42, "%s", "0123456789abcdefghij"), 42);
    assert_string_equal(err, "0123456789abcde");
    /* no instance yet: only the code */
    assert_int_equal(mf_plugin_fail(NULL, 0, MF_ENOMEM, "out of %s", "memory"), MF_ENOMEM);
    memset(err, 'x', sizeof err);
    assert_int_equal(mf_plugin_fail(err, 0, -3, "ignored"), -3);
    assert_int_equal(err[0], 'x');
}

static void strf_formats(void **s)
{
    (void)s;
    char *a = mf_plugin_strf("/api/v1/namespaces/%s/pods?limit=%d", "ns", 500);
    assert_string_equal(a, "/api/v1/namespaces/ns/pods?limit=500");
    free(a);
    char big[5000];
    memset(big, 'q', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    char *b = mf_plugin_strf("<%s>", big);
    assert_int_equal(strlen(b), sizeof big + 1);
    assert_int_equal(b[0], '<');
    assert_int_equal(b[sizeof big], '>');
    free(b);
    char *e = mf_plugin_strf("%s", "");
    assert_string_equal(e, "");
    free(e);
}

static int n_logged;
static char logged[256];

__attribute__((format(printf, 3, 4)))
static void log_fn(int level, const char *name, const char *fmt, ...)
{
    n_logged++;
    va_list ap;
    va_start(ap, fmt);
    int n = snprintf(logged, sizeof logged, "%d %s: ", level, name);
    vsnprintf(logged + n, sizeof logged - (size_t)n, fmt, ap);
    va_end(ap);
}

static void log_checks_the_table(void **s)
{
    (void)s;
    struct mf_host_api h;
    memset(&h, 0, sizeof h);
    h.struct_size = sizeof h;
    h.log = log_fn;
    n_logged = 0;
    MF_PLUGIN_LOG(&h, "k8s", MF_LOG_WARN, "%zu Job(s) of %s", (size_t)3, "F");
    assert_int_equal(n_logged, 1);
    char want[64];
    snprintf(want, sizeof want, "%d k8s: 3 Job(s) of F", MF_LOG_WARN);
    assert_string_equal(logged, want);
    /* a host table too short to hold log: not called, though the bytes past it are set */
    h.struct_size = (uint32_t)offsetof(struct mf_host_api, log);
    MF_PLUGIN_LOG(&h, "k8s", MF_LOG_WARN, "never");
    assert_int_equal(n_logged, 1);
    /* a NULL log, and no host at all */
    h.struct_size = sizeof h;
    h.log = NULL;
    MF_PLUGIN_LOG(&h, "k8s", MF_LOG_WARN, "never");
    const struct mf_host_api *none = NULL;
    MF_PLUGIN_LOG(none, "k8s", MF_LOG_WARN, "never");
    assert_int_equal(n_logged, 1);
}

static void clocks(void **s)
{
    (void)s;
    double w = mf_plugin_wall_now(), m0 = mf_plugin_mono_now();
    assert_true(w > 1.7e9 && w < 1e11);   /* seconds since 1970, not ms or ns */
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
    double m1 = mf_plugin_mono_now();
    assert_true(m1 - m0 >= 0.019 && m1 - m0 < 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fail_keeps_message), cmocka_unit_test(strf_formats),
        cmocka_unit_test(log_checks_the_table), cmocka_unit_test(clocks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
