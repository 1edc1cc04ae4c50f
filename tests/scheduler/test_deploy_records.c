/* Unit tests of deployment records: their datastore keys (core/src/model.c: built, and
 * parsed strictly) and their index database (core/src/index.c: put, list in order, delete,
 * cleared by mf_index_clear, checked by mf_index_check). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mflow/plugin.h>

#include "index.h"
#include "model.h"

static void test_keys(void **state)
{
    (void)state;
    char *k = mf_key_deployment("nightly", 12);
    assert_string_equal(k, "deployments/nightly/12.json");
    free(k);
    k = mf_key_deployment_current("my-dep_2");
    assert_string_equal(k, "deployments/my-dep_2/current.json");
    free(k);
    k = mf_key_deployment_prefix("a");
    assert_string_equal(k, "deployments/a/");
    free(k);
    char name[MF_NAME_MAX];
    int64_t v = -1;
    assert_int_equal(mf_key_deployment_parse("deployments/nightly/12.json", name, &v), 0);
    assert_string_equal(name, "nightly");
    assert_int_equal(v, 12);
    assert_int_equal(mf_key_deployment_parse("deployments/x-1/current.json", name, &v), 0);
    assert_string_equal(name, "x-1");
    assert_int_equal(v, 0);
    static const char *const bad[] = {
        "deployments/nightly/0.json",  "deployments/nightly/012.json", "deployments/nightly/1.jsonx",
        "deployments/nightly/-1.json", "deployments/nightly/+1.json",  "deployments/nightly/1",
        "deployments//1.json",         "deployments/a b/1.json",       "deployments/-a/1.json",
        "deployments/nightly/x/1.json", "deployments/nightly/current.json.tmp",
        "deployment/nightly/1.json",   "deployments/nightly/99999999999999999999.json",
        "deployments/nightly",         "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (mf_key_deployment_parse(bad[i], name, &v) != MF_EINVAL)
            fail_msg("'%s' was taken", bad[i]);
}

static void test_names(void **state)
{
    (void)state;
    assert_true(mf_deploy_name_valid("nightly"));
    assert_true(mf_deploy_name_valid("Nightly_Flow-2"));
    assert_true(mf_deploy_name_valid("2nd"));
    assert_false(mf_deploy_name_valid(""));
    assert_false(mf_deploy_name_valid(NULL));
    assert_false(mf_deploy_name_valid("-x"));
    assert_false(mf_deploy_name_valid("a b"));
    assert_false(mf_deploy_name_valid("a/b"));
    assert_false(mf_deploy_name_valid("a.b"));
    assert_false(mf_deploy_name_valid("a\nb"));
    char longname[MF_DEPLOY_NAME_MAX + 2];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_false(mf_deploy_name_valid(longname));
    longname[MF_DEPLOY_NAME_MAX] = '\0';
    assert_true(mf_deploy_name_valid(longname));
}

struct seen {
    char text[2048];
};

static int collect(void *ud, const char *name, int64_t version, const char *json)
{
    struct seen *s = ud;
    size_t n = strlen(s->text);
    snprintf(s->text + n, sizeof s->text - n, "%s/%lld=%s;", name, (long long)version, json);
    return 0;
}

static int stop_at_first(void *ud, const char *name, int64_t version, const char *json)
{
    (void)name, (void)version, (void)json;
    (*(int *)ud)++;
    return 42;
}

static void test_index(void **state)
{
    (void)state;
    char dir[] = "/tmp/mflow-deploy-records.XXXXXX";
    assert_non_null(mkdtemp(dir));
    mf_index *ix;
    assert_int_equal(mf_index_open(dir, &ix), 0);
    /* versions past 255 and names that prefix each other keep their order */
    assert_int_equal(mf_index_put_deployment(ix, "b", 1, "{\"v\":1}"), 0);
    assert_int_equal(mf_index_put_deployment(ix, "a", 300, "{\"v\":300}"), 0);
    assert_int_equal(mf_index_put_deployment(ix, "a", 2, "{\"v\":2}"), 0);
    assert_int_equal(mf_index_put_deployment(ix, "ab", 1, "{\"x\":1}"), 0);
    assert_int_equal(mf_index_put_deployment(ix, "a", 2, "{\"v\":\"2b\"}"), 0);   /* replaced */
    struct seen s = {""};
    assert_int_equal(mf_index_list_deployments(ix, NULL, collect, &s), 0);
    assert_string_equal(s.text, "a/2={\"v\":\"2b\"};a/300={\"v\":300};ab/1={\"x\":1};b/1={\"v\":1};");
    memset(&s, 0, sizeof s);
    assert_int_equal(mf_index_list_deployments(ix, "a", collect, &s), 0);
    assert_string_equal(s.text, "a/2={\"v\":\"2b\"};a/300={\"v\":300};");
    memset(&s, 0, sizeof s);
    assert_int_equal(mf_index_list_deployments(ix, "c", collect, &s), 0);
    assert_string_equal(s.text, "");
    int calls = 0;
    assert_int_equal(mf_index_list_deployments(ix, NULL, stop_at_first, &calls), 42);
    assert_int_equal(calls, 1);
    assert_int_equal(mf_index_check(ix), 0);
    /* refusals */
    assert_int_equal(mf_index_put_deployment(ix, "a", 0, "{}"), MF_EINVAL);
    assert_int_equal(mf_index_put_deployment(ix, "a", 1, ""), MF_EINVAL);
    assert_int_equal(mf_index_put_deployment(ix, "", 1, "{}"), MF_EINVAL);
    /* delete takes every version of one name only */
    assert_int_equal(mf_index_delete_deployment(ix, "a"), 0);
    memset(&s, 0, sizeof s);
    assert_int_equal(mf_index_list_deployments(ix, NULL, collect, &s), 0);
    assert_string_equal(s.text, "ab/1={\"x\":1};b/1={\"v\":1};");
    assert_int_equal(mf_index_delete_deployment(ix, "a"), MF_ENOTFOUND);
    assert_non_null(strstr(mf_index_error(ix), "no deployment named a"));
    /* a batch sees its own writes; clear (reindex) empties the database */
    assert_int_equal(mf_index_begin(ix), 0);
    assert_int_equal(mf_index_put_deployment(ix, "c", 1, "{}"), 0);
    assert_int_equal(mf_index_clear(ix), 0);
    assert_int_equal(mf_index_put_deployment(ix, "d", 7, "{}"), 0);
    assert_int_equal(mf_index_commit(ix), 0);
    memset(&s, 0, sizeof s);
    assert_int_equal(mf_index_list_deployments(ix, NULL, collect, &s), 0);
    assert_string_equal(s.text, "d/7={};");
    mf_index_close(ix);
    /* reopened: still there */
    assert_int_equal(mf_index_open(dir, &ix), 0);
    memset(&s, 0, sizeof s);
    assert_int_equal(mf_index_list_deployments(ix, NULL, collect, &s), 0);
    assert_string_equal(s.text, "d/7={};");
    mf_index_close(ix);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_index),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
