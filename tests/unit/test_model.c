/* Unit tests of the datastore model (core/src/model.c): every key builder makes the layout's
 * key, and the record key parser takes exactly the keys the builders make and refuses every
 * other spelling. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mflow/plugin.h>

#include "model.h"

#define SHA "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void expect_key(char *got, const char *want)
{
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void test_builders(void **state)
{
    (void)state;
    expect_key(mf_key_run("BranchFlow", 12), "runs/BranchFlow/12/run.json");
    expect_key(mf_key_graph("BranchFlow", 12), "runs/BranchFlow/12/graph.json");
    expect_key(mf_key_run_prefix("BranchFlow", 12), "runs/BranchFlow/12/");
    expect_key(mf_key_task("BranchFlow", 12, "a", 4, 0), "runs/BranchFlow/12/a/4.0.json");
    expect_key(mf_key_task("F", 1, "join", 9000000000LL, 4294967295u),
               "runs/F/1/join/9000000000.4294967295.json");
    expect_key(mf_key_log("F", 3, "b", 7, 2, 0), "runs/F/3/b/7.2.stdout");
    expect_key(mf_key_log("F", 3, "b", 7, 2, 1), "runs/F/3/b/7.2.stderr");
    expect_key(mf_key_inputs("F", 3, "join", 10), "runs/F/3/join/10.0.inputs");
    expect_key(mf_key_package(SHA), "packages/" SHA ".tar.zst");
    char path[MF_BLOB_PATH_SIZE];
    mf_blob_path(SHA, path, sizeof path);
    assert_string_equal(path, "blobs/01/" SHA);
    assert_int_equal(strlen(path) + 1, MF_BLOB_PATH_SIZE);
    /* the run prefix covers exactly the run's keys */
    char *prefix = mf_key_run_prefix("F", 1);
    char *task = mf_key_task("F", 1, "a", 2, 0);
    char *other = mf_key_task("F", 10, "a", 2, 0);
    assert_int_equal(strncmp(task, prefix, strlen(prefix)), 0);
    assert_int_not_equal(strncmp(other, prefix, strlen(prefix)), 0);
    free(prefix);
    free(task);
    free(other);
}

static void test_parse_records(void **state)
{
    (void)state;
    struct mf_key_parts k;
    assert_int_equal(mf_key_parse("runs/BranchFlow/12/run.json", &k), MF_KEY_RUN);
    assert_int_equal(k.kind, MF_KEY_RUN);
    assert_string_equal(k.flow, "BranchFlow");
    assert_int_equal(k.run, 12);
    assert_string_equal(k.step, "");
    assert_int_equal(mf_key_parse("runs/F_2/1/_a9/30.0.json", &k), MF_KEY_TASK);
    assert_string_equal(k.flow, "F_2");
    assert_int_equal(k.run, 1);
    assert_string_equal(k.step, "_a9");
    assert_int_equal(k.task, 30);
    assert_int_equal(k.attempt, 0);
    /* the largest values */
    assert_int_equal(mf_key_parse("runs/F/9223372036854775807/a/9223372036854775807."
                                  "4294967295.json", &k),
                     MF_KEY_TASK);
    assert_int_equal(k.run, INT64_MAX);
    assert_int_equal(k.task, INT64_MAX);
    assert_int_equal(k.attempt, UINT32_MAX);
    /* a name of MF_NAME_MAX - 1 characters */
    char key[512], name[MF_NAME_MAX + 1];
    memset(name, 'n', MF_NAME_MAX - 1);
    name[MF_NAME_MAX - 1] = '\0';
    snprintf(key, sizeof key, "runs/%s/2/%s/3.1.json", name, name);
    assert_int_equal(mf_key_parse(key, &k), MF_KEY_TASK);
    assert_string_equal(k.flow, name);
    assert_string_equal(k.step, name);

    /* what a builder makes, the parser gives back */
    char *built = mf_key_task("Flow", 77, "step_x", 1234, 5);
    assert_int_equal(mf_key_parse(built, &k), MF_KEY_TASK);
    char *again = mf_key_task(k.flow, k.run, k.step, k.task, k.attempt);
    assert_string_equal(again, built);
    free(built);
    free(again);
    built = mf_key_run("Flow", 8);
    assert_int_equal(mf_key_parse(built, &k), MF_KEY_RUN);
    again = mf_key_run(k.flow, k.run);
    assert_string_equal(again, built);
    free(built);
    free(again);
}

static void test_parse_refuses(void **state)
{
    (void)state;
    static const char *const bad[] = {
        NULL,
        "",
        "runs/",
        "runs/F",
        "runs/F/1",
        "runs/F/1/",
        /* not records */
        "runs/F/1/graph.json",
        "runs/F/1/a/2.0.stdout",
        "runs/F/1/a/2.0.stderr",
        "runs/F/1/join/2.0.inputs",
        "blobs/01/" SHA,
        "packages/" SHA ".tar.zst",
        /* prefix and suffix */
        "Runs/F/1/run.json",
        "xruns/F/1/run.json",
        "/runs/F/1/run.json",
        "runs/F/1/run.json.tmp",
        "runs/F/1/run.json/",
        "runs/F/1/run.jsonx",
        "runs/F/1/a/2.0.jsonx",
        "runs/F/1/a/2.0.json/",
        "runs/F/1/a/2.0.json.tmp.123",
        "runs/F/1/a/2.0.JSON",
        "runs/F/1/a/2.json",
        "runs/F/1/a/2..json",
        "runs/F/1/a/.0.json",
        "runs/F/1/a/2.0.1.json",
        /* names */
        "runs//1/run.json",
        "runs/F/1//2.0.json",
        "runs/1F/1/run.json",
        "runs/F-x/1/run.json",
        "runs/F x/1/run.json",
        "runs/F/1/a-b/2.0.json",
        "runs/F/1/a/b/2.0.json",
        "runs/F/1/a.b/2.0.json",
        /* numbers: signs, spaces, leading zeros, zero ids, overflow */
        "runs/F/0/run.json",
        "runs/F/01/run.json",
        "runs/F/-1/run.json",
        "runs/F/+1/run.json",
        "runs/F/ 1/run.json",
        "runs/F/1 /run.json",
        "runs/F/0x1/run.json",
        "runs/F/9223372036854775808/run.json",
        "runs/F/99999999999999999999/run.json",
        "runs/F/1/a/0.0.json",
        "runs/F/1/a/02.0.json",
        "runs/F/1/a/-2.0.json",
        "runs/F/1/a/+2.0.json",
        "runs/F/1/a/ 2.0.json",
        "runs/F/1/a/2.00.json",
        "runs/F/1/a/2.01.json",
        "runs/F/1/a/2.-1.json",
        "runs/F/1/a/2.4294967296.json",
        "runs/F/1/a/9223372036854775808.0.json",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct mf_key_parts k;
        int rc = mf_key_parse(bad[i], &k);
        if (rc != MF_EINVAL)
            print_error("taken: '%s' (%d)\n", bad[i] ? bad[i] : "(null)", rc);
        assert_int_equal(rc, MF_EINVAL);
    }
    /* a name of MF_NAME_MAX characters does not fit the parts */
    char key[512], name[MF_NAME_MAX + 1];
    memset(name, 'n', MF_NAME_MAX);
    name[MF_NAME_MAX] = '\0';
    struct mf_key_parts k;
    snprintf(key, sizeof key, "runs/%s/2/run.json", name);
    assert_int_equal(mf_key_parse(key, &k), MF_EINVAL);
    snprintf(key, sizeof key, "runs/F/2/%s/3.1.json", name);
    assert_int_equal(mf_key_parse(key, &k), MF_EINVAL);
}

static void test_package_keys(void **state)
{
    (void)state;
    char sha[65];
    assert_int_equal(mf_key_package_parse("packages/" SHA ".tar.zst", sha), 0);
    assert_string_equal(sha, SHA);
    char *key = mf_key_package(SHA);
    assert_int_equal(mf_key_package_parse(key, sha), 0);
    free(key);
    static const char *const bad[] = {
        NULL,
        "",
        "packages/" SHA,
        "packages/" SHA ".tar",
        "packages/" SHA ".tar.zstx",
        "package/" SHA ".tar.zst",
        "packages/0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef.tar.zst",
        "packages/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde.tar.zst",
        "packages/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdefa.tar.zst",
        "packages/g123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.tar.zst",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(mf_key_package_parse(bad[i], sha), MF_EINVAL);
}

static void test_status_names(void **state)
{
    (void)state;
    assert_string_equal(mf_status_name(MF_STATUS_RUNNING), "running");
    assert_string_equal(mf_status_name(-1), "unknown");
    for (int s = MF_STATUS_PENDING; s <= MF_STATUS_CANCELLED; s++)
        assert_int_equal(mf_status_from_name(mf_status_name(s)), s);
    assert_int_equal(mf_status_from_name("unknown"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builders),
        cmocka_unit_test(test_parse_records),
        cmocka_unit_test(test_parse_refuses),
        cmocka_unit_test(test_package_keys),
        cmocka_unit_test(test_status_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
