/* Unit tests of the cron plugin's crontab editing (plugins/scheduler/cron/crontab.c): on many
 * shapes of a user's crontab, installing a deployment's line changes nothing else byte for
 * byte, installing it again replaces it in place, and removing it gives back the exact
 * crontab the user had. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crontab.h"

#define L1 "0 3 * * * '/usr/bin/mflow' deployments fire Nightly --version 1 " CT_MARK "Nightly flow=F version=1"
#define L2 "*/5 * * * * '/usr/bin/mflow' deployments fire Nightly --version 2 " CT_MARK "Nightly flow=F version=2"
#define OTHER "@daily '/usr/bin/mflow' deployments fire Nightly2 --version 1 " CT_MARK "Nightly2 flow=G version=1"

/* Shapes of a user's crontab, each kept byte for byte around our line. */
static const char *const shapes[] = {
    "",
    "\n",
    "# only a comment\n",
    "# no final newline",
    "MAILTO=\"\"\nSHELL=/bin/bash\nPATH=/usr/local/bin:/usr/bin:/bin\n\n# backups\n15 2 * * * /usr/local/bin/backup --all\n",
    "15 2 * * * /usr/local/bin/backup\n30 4 * * 1 echo weekly",
    "# Edit this file to introduce tasks to be run by cron.\n#\n# m h  dom mon dow   command\n",
    "0 * * * * echo one\r\n0 1 * * * echo crlf\r\n",
    "\n\n\n   \t\n",
    "@reboot /usr/bin/start-thing\n@hourly date >> /tmp/log 2>&1 # comment with # mflow in it\n",
    "* * * * * echo 'a % sign\\%' # trailing\n",
    "0 0 * * * x " CT_MARK "Nightlyish flow=X version=3\n",          /* another name */
    "0 0 * * * echo #" CT_MARK "Nightly not ours: no space before\n",  /* not a marker */
    OTHER "\n# mine\n",
    "CRON_TZ=Europe/Paris\n0 9 * * 1-5 /bin/true\n\xc3\xa9t\xc3\xa9 \xff bytes\n",
};
#define N_SHAPES (sizeof shapes / sizeof shapes[0])

static char *upsert(const char *text, size_t len, const char *name, const char *line,
                    size_t *out)
{
    char *r = ct_upsert(text, len, name, line, out);
    assert_non_null(r);
    return r;
}

static void test_insert_keeps_everything(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_SHAPES; i++) {
        const char *t = shapes[i];
        size_t tl = strlen(t), n;
        char *r = upsert(t, tl, "Nightly", L1, &n);
        /* our line first, then the crontab exactly as it was */
        assert_int_equal(n, strlen(L1) + 1 + tl);
        assert_memory_equal(r, L1 "\n", strlen(L1) + 1);
        assert_memory_equal(r + strlen(L1) + 1, t, tl);
        free(r);
    }
}

static void test_round_trip(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_SHAPES; i++) {
        const char *t = shapes[i];
        size_t tl = strlen(t), n1, n2, n3;
        char *a = upsert(t, tl, "Nightly", L1, &n1);
        char *b = upsert(a, n1, "Nightly", L2, &n2);   /* a new version replaces it */
        int found = 0;
        char *c = ct_remove(b, n2, "Nightly", &n3, &found);
        assert_non_null(c);
        assert_int_equal(found, 1);
        assert_int_equal(n3, tl);
        assert_memory_equal(c, t, tl);
        free(a);
        free(b);
        free(c);
    }
}

static void test_replace_in_place(void **state)
{
    (void)state;
    const char *t = "# top\n" L1 "\n# between\n" OTHER "\n5 5 * * * tail";
    size_t n;
    char *r = upsert(t, strlen(t), "Nightly", L2, &n);
    const char *want = "# top\n" L2 "\n# between\n" OTHER "\n5 5 * * * tail";
    assert_int_equal(n, strlen(want));
    assert_memory_equal(r, want, n);
    free(r);
    /* the same line again: the same bytes (idempotent) */
    r = upsert(want, strlen(want), "Nightly", L2, &n);
    assert_int_equal(n, strlen(want));
    assert_memory_equal(r, want, n);
    free(r);
    /* as the last line without a newline: replaced, still without one */
    t = "# top\n" L1;
    r = upsert(t, strlen(t), "Nightly", L2, &n);
    assert_int_equal(n, strlen("# top\n" L2));
    assert_memory_equal(r, "# top\n" L2, n);
    free(r);
    /* a CRLF line keeps its CR */
    t = "a\r\n" L1 "\r\nb\r\n";
    r = upsert(t, strlen(t), "Nightly", L2, &n);
    assert_int_equal(n, strlen("a\r\n" L2 "\r\nb\r\n"));
    assert_memory_equal(r, "a\r\n" L2 "\r\nb\r\n", n);
    free(r);
}

static void test_duplicates_and_others(void **state)
{
    (void)state;
    /* two lines of ours (a hand copy): one is left, the other deployment is untouched */
    const char *t = L1 "\n" OTHER "\n" L1 "\n";
    size_t n;
    char *r = upsert(t, strlen(t), "Nightly", L2, &n);
    const char *want = L2 "\n" OTHER "\n";
    assert_int_equal(n, strlen(want));
    assert_memory_equal(r, want, n);
    free(r);
    int found;
    r = ct_remove(t, strlen(t), "Nightly", &n, &found);
    assert_int_equal(found, 2);
    assert_int_equal(n, strlen(OTHER "\n"));
    assert_memory_equal(r, OTHER "\n", n);
    free(r);
    /* removing a name that has no line changes nothing */
    r = ct_remove(t, strlen(t), "Nightly3", &n, &found);
    assert_int_equal(found, 0);
    assert_int_equal(n, strlen(t));
    assert_memory_equal(r, t, n);
    free(r);
}

static void test_line_name(void **state)
{
    (void)state;
    char name[64];
    assert_int_equal(ct_line_name(L1, strlen(L1), name, sizeof name), 1);
    assert_string_equal(name, "Nightly");
    assert_int_equal(ct_line_name(OTHER, strlen(OTHER), name, sizeof name), 1);
    assert_string_equal(name, "Nightly2");
    const char *bare = "x " CT_MARK "D";
    assert_int_equal(ct_line_name(bare, strlen(bare), name, sizeof name), 1);
    assert_string_equal(name, "D");
    const char *no_space = "x #" CT_MARK "D";
    assert_int_equal(ct_line_name(no_space, strlen(no_space), name, sizeof name), 0);
    const char *empty = "x " CT_MARK;
    assert_int_equal(ct_line_name(empty, strlen(empty), name, sizeof name), 0);
    const char *plain = "0 0 * * * echo hi";
    assert_int_equal(ct_line_name(plain, strlen(plain), name, sizeof name), 0);
    char small[4];
    assert_int_equal(ct_line_name(L1, strlen(L1), small, sizeof small), 0);
}

static void test_find_and_command(void **state)
{
    (void)state;
    const char *t = "# x\n" OTHER "\n" L1 "\n";
    const char *line;
    size_t ll, cl;
    assert_int_equal(ct_find(t, strlen(t), "Nightly", &line, &ll), 1);
    assert_int_equal(ll, strlen(L1));
    assert_memory_equal(line, L1, ll);
    const char *cmd = ct_command(line, ll, &cl);
    assert_non_null(cmd);
    assert_memory_equal(cmd, "'/usr/bin/mflow' deployments fire Nightly", 41);
    assert_int_equal(ct_find(t, strlen(t), "Nightly2", &line, &ll), 1);
    cmd = ct_command(line, ll, &cl);
    assert_non_null(cmd);
    assert_memory_equal(cmd, "'/usr/bin/mflow' deployments fire Nightly2", 42);
    assert_int_equal(ct_find(t, strlen(t), "Nope", &line, &ll), 0);
    assert_null(ct_command("* * * * *", 9, &cl));
    assert_null(ct_command("@daily", 6, &cl));
    cmd = ct_command("  1 2 3 4 5   run it", 20, &cl);
    assert_non_null(cmd);
    assert_int_equal(cl, 6);
    assert_memory_equal(cmd, "run it", 6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_insert_keeps_everything),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_replace_in_place),
        cmocka_unit_test(test_duplicates_and_others),
        cmocka_unit_test(test_line_name),
        cmocka_unit_test(test_find_and_command),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
