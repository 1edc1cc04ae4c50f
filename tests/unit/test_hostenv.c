/* The prepared host's key (host.c, envrec.c): what the host's set-up read of the environment,
 * noted read by read, and nothing else. Each noted variable changed in turn (another value,
 * unset, set) makes a forked task set up its own host; a variable the set-up did not read does
 * not; a record whole only when every read was noted, and none for a relative directory.
 * MFLOW_TEST_WARNED_DIR: a directory whose storage plugin "hostenv_warned" exports a symbol
 * beside its entry (its load reads MFLOW_PLUGIN_WARNED, which the old hand-kept list of
 * variables did not name). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "envrec.h"
#include "host.h"

#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char home[PATH_MAX];

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* What the set-up reads, as a task's environment from the orchestrator gives it. */
static void base_env(void)
{
    static const char *const drop[] = {"MFLOW_COMPUTE", "MFLOW_STORAGE", "MFLOW_DATASTORE_ROOT",
                                       "MFLOW_NAMESPACE", "MFLOW_PLUGIN_PATH", "MFLOW_PLUGIN_WARNED",
                                       "MFLOW_CONFIG_WARNED", "MFLOW_DEBUG", "MFLOW_TEST_HOSTENV_A",
                                       "MFLOW_TEST_HOSTENV_B", "MFLOW_TEST_HOSTENV_C"};
    for (size_t i = 0; i < sizeof drop / sizeof drop[0]; i++)
        unsetenv(drop[i]);
    setenv("MFLOW_HOME", home, 1);
    setenv("HOME", home, 1);
    setenv("USER", "hostenv-tester", 1);
}

static int setup(void **state)
{
    (void)state;
    strcpy(home, "/tmp/mflow-test-hostenv.XXXXXX");
    if (!mkdtemp(home))
        return -1;
    base_env();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    mf_host_fini();
    nftw(home, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

static const char *noted(const struct mf_envrec *r, const char *name, int *found)
{
    *found = 0;
    for (size_t i = 0; r && i < r->n; i++)
        if (!strcmp(r->v[i].name, name)) {
            *found = 1;
            return r->v[i].value;
        }
    return NULL;
}

/* ---- the record itself ---------------------------------------------------------------- */

static void test_record_notes_reads(void **state)
{
    (void)state;
    struct mf_envrec outer = {0}, inner = {0};
    setenv("MFLOW_TEST_HOSTENV_A", "one", 1);
    mf_host_getenv("MFLOW_TEST_HOSTENV_C");   /* no record being made: noted nowhere */
    assert_int_equal(mf_envrec_begin(&outer), 0);
    assert_string_equal(mf_host_getenv("MFLOW_TEST_HOSTENV_A"), "one");
    assert_null(mf_host_getenv("MFLOW_TEST_HOSTENV_B"));
    assert_int_equal(mf_envrec_begin(&inner), 0);
    /* a read added to the set-up later, nested (the registry's inside the host's) */
    setenv("MFLOW_TEST_HOSTENV_C", "three", 1);
    assert_string_equal(mf_host_getenv("MFLOW_TEST_HOSTENV_C"), "three");
    /* the set-up's own change: the record keeps the value from before it */
    assert_int_equal(mf_host_setenv("MFLOW_TEST_HOSTENV_A", "changed"), 0);
    assert_int_equal(mf_envrec_end(&inner), 0);
    assert_int_equal(mf_envrec_end(&outer), 0);
    mf_host_getenv("MFLOW_TEST_HOSTENV_D");   /* after: noted nowhere */

    int found;
    assert_int_equal(outer.n, 3);
    assert_string_equal(noted(&outer, "MFLOW_TEST_HOSTENV_A", &found), "one");
    assert_null(noted(&outer, "MFLOW_TEST_HOSTENV_B", &found));
    assert_int_equal(found, 1);   /* noted unset */
    assert_string_equal(noted(&outer, "MFLOW_TEST_HOSTENV_C", &found), "three");
    assert_int_equal(inner.n, 2);
    assert_string_equal(noted(&inner, "MFLOW_TEST_HOSTENV_C", &found), "three");
    assert_string_equal(noted(&inner, "MFLOW_TEST_HOSTENV_A", &found), "one");
    assert_null(noted(&inner, "MFLOW_TEST_HOSTENV_B", &found));
    assert_int_equal(found, 0);

    setenv("MFLOW_TEST_HOSTENV_A", "one", 1);
    assert_int_equal(mf_envrec_same(&outer), 1);
    assert_int_equal(mf_envrec_same(&inner), 1);
    setenv("MFLOW_TEST_HOSTENV_D", "not read in the record", 1);
    assert_int_equal(mf_envrec_same(&outer), 1);
    /* each noted variable broken in turn */
    setenv("MFLOW_TEST_HOSTENV_A", "two", 1);
    assert_int_equal(mf_envrec_same(&outer), 0);
    assert_int_equal(mf_envrec_same(&inner), 0);
    unsetenv("MFLOW_TEST_HOSTENV_A");
    assert_int_equal(mf_envrec_same(&outer), 0);
    setenv("MFLOW_TEST_HOSTENV_A", "one", 1);
    setenv("MFLOW_TEST_HOSTENV_B", "", 1);   /* set, even empty, is not unset */
    assert_int_equal(mf_envrec_same(&outer), 0);
    assert_int_equal(mf_envrec_same(&inner), 1);
    unsetenv("MFLOW_TEST_HOSTENV_B");
    setenv("MFLOW_TEST_HOSTENV_C", "threE", 1);
    assert_int_equal(mf_envrec_same(&outer), 0);
    assert_int_equal(mf_envrec_same(&inner), 0);
    setenv("MFLOW_TEST_HOSTENV_C", "three", 1);
    assert_int_equal(mf_envrec_same(&outer), 1);

    /* a relative path resolved against the working directory: never the same elsewhere */
    assert_int_equal(mf_envrec_begin(&inner), 0);
    assert_int_equal(inner.n, 0);
    mf_host_note_cwd();
    assert_int_equal(mf_envrec_end(&inner), 0);
    assert_int_equal(mf_envrec_same(&inner), 0);
    mf_envrec_free(&outer);
    mf_envrec_free(&inner);
}

/* ---- the prepared host ---------------------------------------------------------------- */

/* Each variable the prepared host's set-up noted, changed in turn (another value; unset when
 * it was set, set when it was not), makes the host not taken; put back, it is taken again. */
static void break_each(const struct mf_envrec *r)
{
    assert_non_null(r);
    assert_int_equal(mf_host_take_prepared(), 1);
    for (size_t i = 0; i < r->n; i++) {
        const char *name = r->v[i].name, *was = r->v[i].value;
        char other[PATH_MAX + 8];
        snprintf(other, sizeof other, "%s-other", was ? was : "");
        setenv(name, other, 1);
        if (mf_host_take_prepared() != 0)
            fail_msg("%s changed to %s: the prepared host was still taken", name, other);
        if (was) {
            unsetenv(name);
            if (mf_host_take_prepared() != 0)
                fail_msg("%s unset: the prepared host was still taken", name);
            setenv(name, was, 1);
        } else {
            unsetenv(name);
        }
        if (mf_host_take_prepared() != 1)
            fail_msg("%s put back: the prepared host was not taken", name);
    }
}

static void test_prepared_key_is_what_was_read(void **state)
{
    (void)state;
    struct mf_host_opts o = {0};
    assert_int_equal(mf_host_prepare(&o), 0);
    const struct mf_envrec *r = mf_host_prepared_env();
    assert_non_null(r);
    /* what mf_host_init and the registry read, each found in the record (HOME not: the home
     * is MFLOW_HOME's) */
    static const char *const read[] = {"MFLOW_HOME", "USER", "MFLOW_COMPUTE", "MFLOW_DATASTORE_ROOT",
                                       "MFLOW_STORAGE", "MFLOW_NAMESPACE", "MFLOW_PLUGIN_PATH"};
    int found;
    for (size_t i = 0; i < sizeof read / sizeof read[0]; i++) {
        noted(r, read[i], &found);
        if (!found)
            fail_msg("%s was read by the host's set-up but is not in its record", read[i]);
    }
    assert_string_equal(noted(r, "MFLOW_HOME", &found), home);
    assert_string_equal(noted(r, "USER", &found), "hostenv-tester");
    assert_null(noted(r, "MFLOW_STORAGE", &found));
    noted(r, "HOME", &found);
    assert_int_equal(found, 0);
    break_each(r);
    /* a variable the set-up did not read changes nothing: HOME, with MFLOW_HOME set */
    setenv("HOME", "/nonexistent-home", 1);
    assert_int_equal(mf_host_take_prepared(), 1);
    setenv("HOME", home, 1);

    /* with settings set and MFLOW_HOME unset, the same: HOME is read now, and the others
     * are noted with their values */
    unsetenv("MFLOW_HOME");
    setenv("MFLOW_NAMESPACE", "team:x", 1);
    setenv("MFLOW_COMPUTE", "local", 1);
    char root[PATH_MAX + 16];
    snprintf(root, sizeof root, "%s/datastore", home);
    setenv("MFLOW_DATASTORE_ROOT", root, 1);
    assert_int_equal(mf_host_prepare(&o), 0);
    r = mf_host_prepared_env();
    assert_non_null(r);
    assert_string_equal(noted(r, "HOME", &found), home);
    assert_null(noted(r, "MFLOW_HOME", &found));
    assert_int_equal(found, 1);
    assert_string_equal(noted(r, "MFLOW_NAMESPACE", &found), "team:x");
    assert_string_equal(noted(r, "MFLOW_DATASTORE_ROOT", &found), root);
    assert_string_equal(mf_host_namespace(), "team:x");
    break_each(r);

    /* a global option given: its variable is not read, so not in the key */
    base_env();
    o.ns = "given";
    o.ns_given = 1;
    assert_int_equal(mf_host_prepare(&o), 0);
    r = mf_host_prepared_env();
    noted(r, "MFLOW_NAMESPACE", &found);
    assert_int_equal(found, 0);
    setenv("MFLOW_NAMESPACE", "ignored", 1);
    assert_int_equal(mf_host_take_prepared(), 1);
    unsetenv("MFLOW_NAMESPACE");
    break_each(r);
}

static void test_prepared_config_and_relative(void **state)
{
    (void)state;
    struct mf_host_opts o = {0};
    assert_int_equal(mf_host_prepare(&o), 0);
    assert_int_equal(mf_host_take_prepared(), 1);
    /* config.json written after: not taken */
    char cfg[PATH_MAX + 16];
    snprintf(cfg, sizeof cfg, "%s/config.json", home);
    FILE *f = fopen(cfg, "w");
    assert_non_null(f);
    fputs("{\"namespace\": \"from-config\"}\n", f);
    fclose(f);
    assert_int_equal(mf_host_take_prepared(), 0);
    /* prepared with it: taken, and it was read */
    assert_int_equal(mf_host_prepare(&o), 0);
    assert_int_equal(mf_host_take_prepared(), 1);
    assert_string_equal(mf_host_namespace(), "from-config");
    unlink(cfg);
    assert_int_equal(mf_host_take_prepared(), 0);

    /* a relative home or plugin directory: no prepared host to take */
    char cwd[PATH_MAX];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(home), 0);
    setenv("MFLOW_HOME", "relhome", 1);
    assert_int_equal(mf_host_prepare(&o), 0);
    assert_null(mf_host_prepared_env());
    assert_int_equal(mf_host_take_prepared(), 0);
    setenv("MFLOW_HOME", home, 1);
    setenv("MFLOW_PLUGIN_PATH", "relplugins", 1);
    assert_int_equal(mf_host_prepare(&o), 0);
    assert_null(mf_host_prepared_env());
    setenv("MFLOW_PLUGIN_PATH", home, 1);
    assert_int_equal(mf_host_prepare(&o), 0);
    assert_non_null(mf_host_prepared_env());
    assert_int_equal(chdir(cwd), 0);
}

/* A storage plugin whose load warns: its set-up reads MFLOW_PLUGIN_WARNED (the old list did
 * not name it), which joins the key by itself. */
static void test_prepared_plugin_warned(void **state)
{
    (void)state;
    const char *dir = getenv("MFLOW_TEST_WARNED_DIR");
    if (!dir || !*dir)
        skip();
    setenv("MFLOW_PLUGIN_PATH", dir, 1);
    setenv("MFLOW_STORAGE", "hostenv_warned", 1);
    struct mf_host_opts o = {0};
    assert_int_equal(mf_host_prepare(&o), 0);
    const struct mf_envrec *r = mf_host_prepared_env();
    int found;
    assert_null(noted(r, "MFLOW_PLUGIN_WARNED", &found));
    assert_int_equal(found, 1);
    /* the set-up named the plugin in MFLOW_PLUGIN_WARNED; the task server's environment is
     * put back after it (cmd_task_server.c), as here */
    const char *w = getenv("MFLOW_PLUGIN_WARNED");
    assert_non_null(w);
    assert_non_null(strstr(w, "mflow_storage_hostenv_warned"));
    unsetenv("MFLOW_PLUGIN_WARNED");
    break_each(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_record_notes_reads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prepared_key_is_what_was_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prepared_config_and_relative, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prepared_plugin_warned, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
