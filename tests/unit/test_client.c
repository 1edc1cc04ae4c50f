/* Unit tests of the client API (sdk/include/mflow/client.h, core/src/client.c).
 *
 * The fixture is real: the mflow binary (MFLOW_BIN) runs a few flows into a temporary
 * MFLOW_HOME — a foreach, a retried step, a failed run, every artifact type, tags, a run in
 * another namespace — and one run whose orchestrator died is written by hand through record.h
 * and index.h. Then every client function is exercised, with its errors. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mflow/client.h>

#include "host.h"
#include "index.h"
#include "record.h"
#include "store.h"
#include "util.h"

static char home[512];
static char user_ns[100];

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int sh(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *cmd = mf_vstrf(fmt, ap);
    va_end(ap);
    int rc = cmd ? system(cmd) : -1;
    free(cmd);
    return rc == -1 ? -1 : WEXITSTATUS(rc);
}

/* A run recorded as running by a process that is gone, written the way the runtime does. */
static int write_dead_run(void)
{
    pid_t pid = fork();
    if (pid == 0)
        _exit(0);
    if (pid < 0 || waitpid(pid, NULL, 0) != pid)
        return -1;
    struct mf_host_opts o;
    memset(&o, 0, sizeof o);
    o.home = home;
    if (mf_host_init(&o))
        return -1;
    struct mf_store st;
    char *err = NULL;
    if (mf_store_open(&st, &err)) {
        fprintf(stderr, "store: %s\n", err);
        free(err);
        return -1;
    }
    struct mf_run_rec r;
    memset(&r, 0, sizeof r);
    snprintf(r.flow, sizeof r.flow, "DeadFlow");
    r.run_id = 1;
    r.status = MF_STATUS_RUNNING;
    r.pid = (int32_t)pid;
    snprintf(r.user, sizeof r.user, "%s", mf_host_user());
    snprintf(r.ns, sizeof r.ns, "%s", user_ns);
    gethostname(r.host, sizeof r.host - 1);
    r.start_time = mf_now() - 10;
    snprintf(r.tags, sizeof r.tags, "user:%s\nmflow_version:0", mf_host_user());
    int rc = mf_run_record_write(&st, &r, NULL);
    /* a second one, alive (this process), and a third on another host */
    struct mf_run_rec alive = r;
    alive.run_id = 2;
    alive.pid = (int32_t)getpid();
    alive.start_time = mf_now(); /* after this process started: the same process */
    struct mf_run_rec reused = r; /* this pid, but the run is older than the process */
    reused.run_id = 4;
    reused.pid = (int32_t)getpid();
    reused.start_time = mf_now() - 3600;
    struct mf_run_rec away = r;
    away.run_id = 3;
    snprintf(away.host, sizeof away.host, "elsewhere-%d", (int)getpid());
    mf_index *ix = NULL;
    char *dir = mf_strf("%s/index", home);
    if (!rc)
        rc = mf_index_open(dir, &ix);
    if (!rc)
        rc = mf_index_put_run(ix, &r);
    if (!rc)
        rc = mf_index_put_run(ix, &alive);
    if (!rc)
        rc = mf_index_put_run(ix, &away);
    if (!rc)
        rc = mf_index_put_run(ix, &reused);
    /* Two tasks its orchestrator recorded before it died: the later ended 7 s after the start. */
    struct mf_task_rec t;
    memset(&t, 0, sizeof t);
    snprintf(t.flow, sizeof t.flow, "DeadFlow");
    t.run_id = 4;
    snprintf(t.step, sizeof t.step, "start");
    t.task_id = 1;
    t.status = MF_STATUS_SUCCEEDED;
    t.start_time = reused.start_time + 1;
    t.end_time = reused.start_time + 2;
    if (!rc)
        rc = mf_index_put_task(ix, &t);
    t.task_id = 2;
    snprintf(t.step, sizeof t.step, "work");
    t.start_time = reused.start_time + 5;
    t.end_time = reused.start_time + 7;
    if (!rc)
        rc = mf_index_put_task(ix, &t);
    mf_index_close(ix);
    free(dir);
    mf_store_close(&st);
    return rc;
}

static int group_setup(void **state)
{
    (void)state;
    const char *bin = getenv("MFLOW_BIN"), *src = getenv("MFLOW_TEST_SOURCE_ROOT");
    if (!bin || !src) {
        fprintf(stderr, "MFLOW_BIN and MFLOW_TEST_SOURCE_ROOT are not set: run through meson test\n");
        return -1;
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(home, sizeof home, "%s/mf-client-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(home))
        return -1;
    const char *user = getenv("USER");
    snprintf(user_ns, sizeof user_ns, "user:%s", user && *user ? user : "unknown");
    if (!user || !*user)
        setenv("USER", "unknown", 1);
    unsetenv("MFLOW_NAMESPACE");
    unsetenv("MFLOW_DATASTORE_ROOT");
    unsetenv("MFLOW_STORAGE");
    const char *q = ">/dev/null 2>&1";
    int bad = 0;
    bad |= sh("'%s' --home '%s' run '%s/examples/foreach.c' --n=3 %s", bin, home, src, q) != 0;
    bad |= sh("'%s' --home '%s' run '%s/tests/e2e/flows/failing.c' --mode=flaky %s", bin, home, src,
              q) != 0;
    bad |= sh("'%s' --home '%s' run '%s/tests/e2e/flows/failing.c' --mode=fail %s", bin, home, src,
              q) != 1;
    bad |= sh("'%s' --home '%s' run '%s/tests/e2e/flows/linear.c' %s", bin, home, src, q) != 0;
    bad |= sh("'%s' --home '%s' run '%s/examples/branch.c' --tag t1 --tag t2 %s", bin, home, src,
              q) != 0;
    bad |= sh("'%s' --home '%s' run '%s/examples/branch.c' --tag t1 %s", bin, home, src, q) != 0;
    bad |= sh("'%s' --home '%s' --namespace user:other run '%s/examples/hello.c' %s", bin, home,
              src, q) != 0;
    if (bad) {
        fprintf(stderr, "could not make the fixture runs in %s\n", home);
        return -1;
    }
    return write_dead_run();
}

static int group_teardown(void **state)
{
    (void)state;
    mf_host_fini();
    if (home[0] && !getenv("MFLOW_TEST_KEEP"))
        nftw(home, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

static mf_client *open_ns(const char *ns)
{
    struct mf_client_opts o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.home = home;
    o.ns = ns;
    mf_client *c = NULL;
    int rc = mf_client_open(&o, &c);
    if (rc)
        fprintf(stderr, "open: %s\n", mf_client_error(c));
    assert_int_equal(rc, 0);
    assert_string_equal(mf_client_namespace(c), ns ? ns : user_ns);
    return c;
}

static int setup(void **state)
{
    *state = open_ns(NULL);
    return 0;
}

static int teardown(void **state)
{
    mf_client_close(*state);
    return 0;
}

/* ---- opening -------------------------------------------------------------------------------- */

static void test_open_errors(void **state)
{
    (void)state;
    mf_client *c = NULL;
    struct mf_client_opts o;
    memset(&o, 0, sizeof o);
    assert_int_equal(mf_client_open(&o, &c), MF_EINVAL);
    assert_non_null(strstr(mf_client_error(c), "struct_size"));
    mf_client_close(c);

    o.struct_size = sizeof o;
    o.home = "";
    assert_int_equal(mf_client_open(&o, &c), MF_EINVAL);
    assert_non_null(strstr(mf_client_error(c), "empty home"));
    mf_client_close(c);
    assert_int_equal(mf_client_open(NULL, NULL), MF_EINVAL);

    /* a second client on the same home, and one on other settings, while one is open */
    mf_client *first = open_ns(NULL);
    o.home = home;
    assert_int_equal(mf_client_open(&o, &c), MF_EINVAL);
    assert_non_null(strstr(mf_client_error(c), "already open"));
    mf_client_close(c);
    o.home = "/nonexistent/other-home";
    assert_int_equal(mf_client_open(&o, &c), MF_EINVAL);
    assert_non_null(strstr(mf_client_error(c), "close it before"));
    mf_client_close(c);
    /* a failed client serves nothing */
    assert_int_equal(mf_client_list_runs(NULL, "X", NULL, 0, NULL), MF_EINVAL);
    mf_client_close(first);

    /* an index of another format is refused with a way out */
    char *dir = mf_strf("%s/badhome/index", home);
    assert_int_equal(mf_mkdir_p(dir, 0755), 0);
    char *f = mf_strf("%s/data.mdb", dir);
    assert_int_equal(mf_write_file_atomic(f, "not lmdb at all, not lmdb at all", 32), 0);
    o.home = mf_strf("%s/badhome", home);
    assert_int_not_equal(mf_client_open(&o, &c), 0);
    assert_non_null(c);
    assert_non_null(strstr(mf_client_error(c), "reindex"));
    assert_int_equal(mf_client_list_runs(c, "X", NULL, 0, &(mf_client_runs *){NULL}), MF_EINVAL);
    mf_client_close(c);
    free((char *)o.home);
    free(f);
    free(dir);
    /* back on the fixture's settings */
    mf_client_close(open_ns(NULL));

    assert_string_equal(mf_client_error(NULL), "mflow client: out of memory");
    assert_string_equal(mf_client_strerror(MF_ENOTFOUND), "not found");
    assert_string_equal(mf_client_strerror(0), "success");
    assert_non_null(mf_client_strerror(-999));
    assert_string_equal(mf_client_status_name(MF_CLIENT_FAILED), "failed");
    assert_string_equal(mf_client_status_name(77), "unknown");
    assert_string_equal(mf_client_type_name(MF_STRV), "str[]");
}

/* ---- flows and runs ------------------------------------------------------------------------- */

static void test_flows(void **state)
{
    mf_client *c = *state;
    char **names;
    size_t n;
    assert_int_equal(mf_client_flows(c, &names, &n), 0);
    assert_int_equal(n, 5);
    const char *want[] = {"BranchFlow", "DeadFlow", "FailingFlow", "ForeachFlow", "LinearFlow"};
    for (size_t i = 0; i < n; i++)
        assert_string_equal(names[i], want[i]);
    assert_null(names[n]);
    free(names);
    assert_int_equal(mf_client_flows(c, NULL, &n), MF_EINVAL);

    mf_client_close(c);
    *state = c = open_ns("");
    assert_int_equal(mf_client_flows(c, &names, &n), 0);
    assert_int_equal(n, 6);
    assert_string_equal(names[4], "HelloFlow");
    free(names);

    mf_client_close(c);
    *state = c = open_ns("user:other");
    assert_int_equal(mf_client_flows(c, &names, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(names[0], "HelloFlow");
    free(names);
}

static void test_runs(void **state)
{
    mf_client *c = *state;
    mf_client_runs *l;
    assert_int_equal(mf_client_list_runs(c, "FailingFlow", NULL, 0, &l), 0);
    assert_int_equal(mf_client_runs_count(l), 2);
    mf_client_run *r = mf_client_runs_at(l, 0);
    assert_int_equal(mf_client_run_id(r), 2); /* newest first */
    assert_int_equal(mf_client_run_status(r), MF_CLIENT_FAILED);
    assert_int_equal(mf_client_run_id(mf_client_runs_at(l, 1)), 1);
    assert_int_equal(mf_client_run_status(mf_client_runs_at(l, 1)), MF_CLIENT_SUCCEEDED);
    assert_null(mf_client_runs_at(l, 2));
    assert_string_equal(mf_client_run_flow(r), "FailingFlow");
    assert_string_equal(mf_client_run_pathspec(r), "FailingFlow/2");
    assert_string_equal(mf_client_run_namespace(r), user_ns);
    assert_string_equal(mf_client_run_user(r), user_ns + 5);
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    assert_string_equal(mf_client_run_host(r), host);
    assert_true(mf_client_run_pid(r) > 0);
    assert_true(mf_client_run_start_time(r) > 1e9);
    assert_true(mf_client_run_end_time(r) >= mf_client_run_start_time(r));
    assert_int_equal(mf_client_run_origin_run_id(r), 0);
    assert_int_equal(mf_client_run_task_count(r), 2);   /* start, work (end never ran) */
    assert_int_equal(mf_client_run_failed_count(r), 1);
    assert_int_equal(mf_client_run_dead(r), 0);
    assert_int_equal(mf_client_run_tag_count(r), 2);
    char utag[256];
    snprintf(utag, sizeof utag, "user:%s", user_ns + 5);
    assert_string_equal(mf_client_run_tag(r, 0), utag);
    assert_non_null(strstr(mf_client_run_tag(r, 1), "mflow_version:"));
    assert_null(mf_client_run_tag(r, 2));
    mf_client_run_free(r); /* borrowed: ignored */
    mf_client_runs_free(l);

    /* tags are ANDed */
    const char *t1[] = {"t1"}, *t12[] = {"t1", "t2"}, *tx[] = {"t1", "nope"};
    assert_int_equal(mf_client_list_runs(c, "BranchFlow", t1, 1, &l), 0);
    assert_int_equal(mf_client_runs_count(l), 2);
    assert_int_equal(mf_client_run_has_tag(mf_client_runs_at(l, 1), "t2"), 1);
    assert_int_equal(mf_client_run_has_tag(mf_client_runs_at(l, 0), "t2"), 0);
    mf_client_runs_free(l);
    assert_int_equal(mf_client_list_runs(c, "BranchFlow", t12, 2, &l), 0);
    assert_int_equal(mf_client_runs_count(l), 1);
    assert_int_equal(mf_client_run_id(mf_client_runs_at(l, 0)), 1);
    mf_client_runs_free(l);
    assert_int_equal(mf_client_list_runs(c, "BranchFlow", tx, 2, &l), 0);
    assert_int_equal(mf_client_runs_count(l), 0);
    mf_client_runs_free(l);

    /* other namespaces are hidden; an unknown flow is an empty list */
    assert_int_equal(mf_client_list_runs(c, "HelloFlow", NULL, 0, &l), 0);
    assert_int_equal(mf_client_runs_count(l), 0);
    mf_client_runs_free(l);
    assert_int_equal(mf_client_list_runs(c, "NoSuchFlow", NULL, 0, &l), 0);
    assert_int_equal(mf_client_runs_count(l), 0);
    mf_client_runs_free(l);
    assert_int_equal(mf_client_list_runs(c, NULL, NULL, 0, &l), MF_EINVAL);
    mf_client_runs_free(NULL);
    assert_int_equal(mf_client_runs_count(NULL), 0);
}

static void test_run_get(void **state)
{
    mf_client *c = *state;
    mf_client_run *r;
    assert_int_equal(mf_client_run_get(c, "ForeachFlow", 1, &r), 0);
    assert_int_equal(mf_client_run_status(r), MF_CLIENT_SUCCEEDED);
    assert_int_equal(mf_client_run_task_count(r), 6);
    mf_client_run_free(r);
    assert_int_equal(mf_client_run_open(c, "ForeachFlow/1", &r), 0);
    assert_int_equal(mf_client_run_id(r), 1);
    mf_client_run_free(r);

    assert_int_equal(mf_client_run_get(c, "ForeachFlow", 99, &r), MF_ENOTFOUND);
    assert_null(r);
    assert_non_null(strstr(mf_client_error(c), "no run ForeachFlow/99"));
    assert_int_equal(mf_client_run_get(c, "HelloFlow", 1, &r), MF_ENOTFOUND);
    assert_non_null(strstr(mf_client_error(c), "namespace 'user:other'"));
    assert_non_null(strstr(mf_client_error(c), "--namespace="));
    const char *bad[] = {"ForeachFlow", "ForeachFlow/x", "ForeachFlow/0", "ForeachFlow/1/start",
                         "/1", "ForeachFlow/1/", "ForeachFlow/9223372036854775808",
                         "ForeachFlow/9999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(mf_client_run_open(c, bad[i], &r), MF_EINVAL);
        assert_non_null(strstr(mf_client_error(c), "not a run pathspec"));
    }
    assert_int_equal(mf_client_run_get(c, NULL, 1, &r), MF_EINVAL);

    /* latest, and latest successful */
    assert_int_equal(mf_client_run_latest(c, "FailingFlow", 0, &r), 0);
    assert_int_equal(mf_client_run_id(r), 2);
    mf_client_run_free(r);
    assert_int_equal(mf_client_run_latest(c, "FailingFlow", 1, &r), 0);
    assert_int_equal(mf_client_run_id(r), 1);
    mf_client_run_free(r);
    assert_int_equal(mf_client_run_latest(c, "HelloFlow", 0, &r), MF_ENOTFOUND);
    assert_non_null(strstr(mf_client_error(c), "no run in namespace"));
    assert_int_equal(mf_client_run_latest(c, "NoSuchFlow", 1, &r), MF_ENOTFOUND);
    assert_non_null(strstr(mf_client_error(c), "no successful run"));
}

static void test_dead(void **state)
{
    mf_client *c = *state;
    mf_client_run *r;
    assert_int_equal(mf_client_run_get(c, "DeadFlow", 1, &r), 0);
    assert_int_equal(mf_client_run_status(r), MF_CLIENT_RUNNING);
    assert_int_equal(mf_client_run_dead(r), 1);
    mf_client_run_free(r);
    assert_int_equal(mf_client_run_get(c, "DeadFlow", 2, &r), 0); /* this process: alive */
    assert_int_equal(mf_client_run_dead(r), 0);
    mf_client_run_free(r);
    assert_int_equal(mf_client_run_get(c, "DeadFlow", 3, &r), 0); /* another host: unknown */
    assert_int_equal(mf_client_run_dead(r), 0);
    mf_client_run_free(r);
    assert_int_equal(mf_client_run_get(c, "DeadFlow", 4, &r), 0); /* pid reused since */
    assert_int_equal(mf_client_run_dead(r), 1);
    mf_client_run_free(r);
    assert_int_equal(mf_client_run_get(c, "ForeachFlow", 1, &r), 0); /* ended */
    assert_int_equal(mf_client_run_dead(r), 0);
    mf_client_run_free(r);
    assert_int_equal(mf_client_run_dead(NULL), 0);
}

/* A dead run's duration ends at its last known activity; an ended run's at its end; a live
 * one has none yet. */
static void test_last_active(void **state)
{
    mf_client *c = *state;
    mf_client_run *r;
    assert_int_equal(mf_client_run_get(c, "DeadFlow", 4, &r), 0); /* dead, with tasks */
    double s = mf_client_run_start_time(r);
    assert_true(mf_client_run_last_active(r) == s + 7);
    assert_true(mf_client_run_last_active(r) == s + 7); /* the same on a second look */
    mf_client_run_free(r);
    assert_int_equal(mf_client_run_get(c, "DeadFlow", 1, &r), 0); /* dead, no task recorded */
    assert_true(mf_client_run_last_active(r) == mf_client_run_start_time(r));
    mf_client_run_free(r);
    assert_int_equal(mf_client_run_get(c, "DeadFlow", 2, &r), 0); /* alive: still going */
    assert_true(mf_client_run_last_active(r) == 0);
    mf_client_run_free(r);
    assert_int_equal(mf_client_run_get(c, "DeadFlow", 3, &r), 0); /* elsewhere: unknown */
    assert_true(mf_client_run_last_active(r) == 0);
    mf_client_run_free(r);
    assert_int_equal(mf_client_run_get(c, "ForeachFlow", 1, &r), 0); /* ended */
    assert_true(mf_client_run_end_time(r) > 0);
    assert_true(mf_client_run_last_active(r) == mf_client_run_end_time(r));
    mf_client_run_free(r);
    assert_true(mf_client_run_last_active(NULL) == 0);
}

static void test_params(void **state)
{
    mf_client *c = *state;
    mf_client_run *r;
    assert_int_equal(mf_client_run_get(c, "LinearFlow", 1, &r), 0);
    assert_int_equal(mf_client_run_param_count(r), 0); /* not loaded yet */
    assert_int_equal(mf_client_run_load_params(r), 0);
    assert_int_equal(mf_client_run_load_params(r), 0);
    assert_int_equal(mf_client_run_param_count(r), 4);
    int64_t i;
    double f;
    char *s;
    const mf_client_artifact *a = mf_client_run_param_find(r, "base");
    assert_int_equal(mf_client_artifact_i64(a, &i), 0);
    assert_int_equal(i, 1);
    assert_int_equal(mf_client_artifact_f64(mf_client_run_param_find(r, "scale"), &f), 0);
    assert_true(f == 2.0);
    assert_int_equal(mf_client_artifact_i64(mf_client_run_param_find(r, "flag"), &i), 0);
    assert_int_equal(i, 0);
    assert_int_equal(mf_client_artifact_str(mf_client_run_param_find(r, "label"), &s, NULL), 0);
    assert_string_equal(s, "none");
    free(s);
    assert_null(mf_client_run_param_find(r, "nope"));
    assert_string_equal(mf_client_artifact_name(mf_client_run_param_at(r, 0)), "base");
    assert_null(mf_client_run_param_at(r, 4));
    /* the owner is named in errors */
    assert_int_equal(mf_client_artifact_str(a, &s, NULL), MF_EINVAL);
    assert_non_null(strstr(mf_client_error(c), "artifact 'base' of LinearFlow/1 is i64, not str"));
    mf_client_run_free(r);

    /* a run in the index whose run record is missing from the datastore */
    assert_int_equal(mf_client_run_get(c, "DeadFlow", 2, &r), 0);
    assert_int_equal(mf_client_run_load_params(r), MF_ENOTFOUND);
    assert_non_null(strstr(mf_client_error(c), "reindex"));
    mf_client_run_free(r);
}

/* ---- steps and tasks ------------------------------------------------------------------------ */

static void test_steps(void **state)
{
    mf_client *c = *state;
    mf_client_run *r;
    mf_client_steps *l;
    assert_int_equal(mf_client_run_get(c, "ForeachFlow", 1, &r), 0);
    assert_int_equal(mf_client_list_steps(r, &l), 0);
    assert_int_equal(mf_client_steps_count(l), 4);
    const char *names[] = {"start", "square", "join", "end"};
    const size_t counts[] = {1, 3, 1, 1};
    int64_t prev = 0;
    for (size_t i = 0; i < 4; i++) {
        const mf_client_step *s = mf_client_steps_at(l, i);
        assert_string_equal(mf_client_step_name(s), names[i]);
        assert_int_equal(mf_client_step_task_count(s), counts[i]);
        assert_int_equal(mf_client_step_status_count(s, MF_CLIENT_SUCCEEDED), counts[i]);
        assert_int_equal(mf_client_step_status_count(s, MF_CLIENT_FAILED), 0);
        assert_int_equal(mf_client_step_status(s), MF_CLIENT_SUCCEEDED);
        assert_true(mf_client_step_first_task_id(s) > prev);
        prev = mf_client_step_first_task_id(s);
        assert_true(mf_client_step_start_time(s) > 1e9);
        assert_true(mf_client_step_end_time(s) >= mf_client_step_start_time(s));
    }
    assert_null(mf_client_steps_at(l, 4));
    mf_client_steps_free(l);
    mf_client_run_free(r);

    /* a failed run: the step that never ran is listed with no tasks */
    assert_int_equal(mf_client_run_get(c, "FailingFlow", 2, &r), 0);
    assert_int_equal(mf_client_list_steps(r, &l), 0);
    assert_int_equal(mf_client_steps_count(l), 3);
    const mf_client_step *work = mf_client_steps_at(l, 1), *end = mf_client_steps_at(l, 2);
    assert_string_equal(mf_client_step_name(work), "work");
    assert_int_equal(mf_client_step_status(work), MF_CLIENT_FAILED);
    assert_int_equal(mf_client_step_status_count(work, MF_CLIENT_FAILED), 1);
    assert_string_equal(mf_client_step_name(end), "end");
    assert_int_equal(mf_client_step_task_count(end), 0);
    assert_int_equal(mf_client_step_status(end), MF_CLIENT_PENDING);
    assert_int_equal(mf_client_step_first_task_id(end), -1);
    mf_client_steps_free(l);
    mf_client_run_free(r);
    assert_int_equal(mf_client_list_steps(NULL, &l), MF_EINVAL);
}

static void test_tasks(void **state)
{
    mf_client *c = *state;
    mf_client_run *r;
    mf_client_tasks *l;
    assert_int_equal(mf_client_run_get(c, "ForeachFlow", 1, &r), 0);
    assert_int_equal(mf_client_list_tasks(r, "square", &l), 0);
    assert_int_equal(mf_client_tasks_count(l), 3);
    for (size_t i = 0; i < 3; i++) {
        mf_client_task *t = mf_client_tasks_at(l, i);
        assert_int_equal(mf_client_task_id(t), (int64_t)i + 2);
        assert_string_equal(mf_client_task_step(t), "square");
        assert_string_equal(mf_client_task_flow(t), "ForeachFlow");
        assert_int_equal(mf_client_task_run_id(t), 1);
        assert_int_equal(mf_client_task_foreach_index(t), i);
        assert_int_equal(mf_client_task_foreach_count(t), 3);
        assert_int_equal(mf_client_task_status(t), MF_CLIENT_SUCCEEDED);
        assert_int_equal(mf_client_task_attempt(t), 0);
        assert_int_equal(mf_client_task_exit_code(t), 0);
        assert_null(mf_client_task_origin(t));
        /* not loaded: record fields are empty until loaded */
        assert_int_equal(mf_client_task_loaded(t), 0);
        assert_int_equal(mf_client_task_artifact_count(t), 0);
        assert_int_equal(mf_client_task_load(t), 0);
        assert_int_equal(mf_client_task_loaded(t), 1);
        int64_t sq;
        assert_int_equal(mf_client_artifact_i64(mf_client_task_artifact_find(t, "sq"), &sq), 0);
        assert_int_equal(sq, (int64_t)(i + 1) * (int64_t)(i + 1));
        mf_client_task_free(t); /* borrowed: ignored */
    }
    char path[64];
    snprintf(path, sizeof path, "ForeachFlow/1/square/%lld",
             (long long)mf_client_task_id(mf_client_tasks_at(l, 1)));
    assert_string_equal(mf_client_task_pathspec(mf_client_tasks_at(l, 1)), path);
    mf_client_tasks_free(l);

    assert_int_equal(mf_client_list_tasks(r, NULL, &l), 0);
    assert_int_equal(mf_client_tasks_count(l), 6);
    for (size_t i = 1; i < 6; i++)
        assert_true(mf_client_task_id(mf_client_tasks_at(l, i)) >
                    mf_client_task_id(mf_client_tasks_at(l, i - 1)));
    assert_string_equal(mf_client_task_step(mf_client_tasks_at(l, 0)), "start");
    assert_string_equal(mf_client_task_step(mf_client_tasks_at(l, 5)), "end");
    mf_client_tasks_free(l);
    assert_int_equal(mf_client_list_tasks(r, "nope", &l), 0);
    assert_int_equal(mf_client_tasks_count(l), 0);
    mf_client_tasks_free(l);
    assert_int_equal(mf_client_list_tasks(r, "", &l), MF_EINVAL);
    mf_client_run_free(r);
}

static void test_task_open(void **state)
{
    mf_client *c = *state;
    mf_client_task *t;
    assert_int_equal(mf_client_task_open(c, "ForeachFlow/1/square", &t), MF_EINVAL);
    assert_null(t);
    assert_non_null(strstr(mf_client_error(c), "has 3 tasks (2, 3, 4): name one"));
    assert_int_equal(mf_client_task_open(c, "ForeachFlow/1/nope", &t), MF_ENOTFOUND);
    assert_non_null(strstr(mf_client_error(c), "no task ForeachFlow/1/nope"));
    assert_int_equal(mf_client_task_open(c, "ForeachFlow/1/square/99", &t), MF_ENOTFOUND);
    assert_int_equal(mf_client_task_open(c, "ForeachFlow/7/square/2", &t), MF_ENOTFOUND);
    assert_non_null(strstr(mf_client_error(c), "no run ForeachFlow/7"));
    assert_int_equal(mf_client_task_open(c, "HelloFlow/1/end", &t), MF_ENOTFOUND);
    assert_non_null(strstr(mf_client_error(c), "namespace 'user:other'"));
    assert_int_equal(mf_client_task_open(c, "ForeachFlow/1", &t), MF_EINVAL);
    assert_non_null(strstr(mf_client_error(c), "not a pathspec"));
    assert_int_equal(mf_client_task_open(c, "ForeachFlow/1/square/x", &t), MF_EINVAL);
    assert_int_equal(mf_client_task_open(c, "ForeachFlow/1/square/2/9", &t), MF_EINVAL);
    assert_int_equal(mf_client_task_open(c, "ForeachFlow/1/square/9999999999999999999", &t),
                     MF_EINVAL);
    assert_non_null(strstr(mf_client_error(c), "not a pathspec"));

    /* a step with one task, loaded */
    assert_int_equal(mf_client_task_open(c, "ForeachFlow/1/join", &t), 0);
    assert_int_equal(mf_client_task_loaded(t), 1);
    assert_int_equal(mf_client_task_id(t), 5);
    assert_int_equal(mf_client_task_input_count(t), 3);
    assert_string_equal(mf_client_task_input(t, 0), "square/2");
    assert_string_equal(mf_client_task_input(t, 2), "square/4");
    assert_null(mf_client_task_input(t, 3));
    assert_int_equal(mf_client_task_frame_count(t), 0);
    assert_int_equal(mf_client_task_foreach_count(t), 0);
    assert_int_equal(mf_client_task_foreach_items(t), -1);
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    assert_string_equal(mf_client_task_host(t), host);
    assert_null(mf_client_task_message(t));
    assert_true(mf_client_task_end_time(t) >= mf_client_task_start_time(t));
    int64_t sum;
    assert_int_equal(mf_client_artifact_i64(mf_client_task_artifact_find(t, "sum"), &sum), 0);
    assert_int_equal(sum, 14);
    mf_client_task_free(t);

    /* a foreach item: its frame; the split step: its item count */
    assert_int_equal(mf_client_task_get(c, "ForeachFlow", 1, "square", 3, &t), 0);
    assert_int_equal(mf_client_task_frame_count(t), 1);
    const char *split;
    int64_t split_task;
    int fe;
    uint32_t idx, cnt;
    assert_int_equal(mf_client_task_frame(t, 0, &split, &split_task, &fe, &idx, &cnt), 0);
    assert_string_equal(split, "start");
    assert_int_equal(split_task, 1);
    assert_int_equal(fe, 1);
    assert_int_equal(idx, 1);
    assert_int_equal(cnt, 3);
    assert_int_equal(mf_client_task_frame(t, 1, NULL, NULL, NULL, NULL, NULL), MF_EINVAL);
    mf_client_task_free(t);
    assert_int_equal(mf_client_task_get(c, "ForeachFlow", 1, "start", 1, &t), 0);
    assert_int_equal(mf_client_task_foreach_items(t), 3);
    assert_int_equal(mf_client_task_input_count(t), 0);
    mf_client_task_free(t);
    assert_int_equal(mf_client_task_get(c, "ForeachFlow", 1, NULL, 1, &t), MF_EINVAL);
    mf_client_task_free(NULL);
}

static void test_artifacts(void **state)
{
    mf_client *c = *state;
    mf_client_task *t;
    assert_int_equal(mf_client_task_open(c, "LinearFlow/1/end", &t), 0);
    /* inherited and own artifacts, in record order */
    assert_int_equal(mf_client_task_artifact_count(t), 11);
    const mf_client_artifact *fs = mf_client_task_artifact_find(t, "fs");
    const mf_client_artifact *ss = mf_client_task_artifact_find(t, "ss");
    const mf_client_artifact *raw = mf_client_task_artifact_find(t, "raw");
    const mf_client_artifact *s = mf_client_task_artifact_find(t, "s");
    const mf_client_artifact *v = mf_client_task_artifact_find(t, "v");
    const mf_client_artifact *f = mf_client_task_artifact_find(t, "f");
    assert_non_null(fs);
    assert_null(mf_client_task_artifact_find(t, "nope"));
    assert_null(mf_client_task_artifact_at(t, 11));
    assert_int_equal(mf_client_artifact_type(fs), MF_F64V);
    assert_int_equal(mf_client_artifact_type(raw), MF_BYTES);
    assert_int_equal(mf_client_artifact_size(raw), 3);
    assert_int_equal(mf_client_artifact_size(v), 8);
    assert_int_equal(mf_client_artifact_size(s), 6);
    assert_int_equal(strlen(mf_client_artifact_key(raw)), 64);

    double *dv;
    size_t n;
    assert_int_equal(mf_client_artifact_f64v(fs, &dv, &n), 0);
    assert_int_equal(n, 2);
    assert_true(dv[0] == 1.5 && dv[1] == 2.5);
    free(dv);
    char **sv;
    assert_int_equal(mf_client_artifact_strv(ss, &sv, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(sv[0], "x");
    assert_string_equal(sv[1], "y z");
    free(sv);
    unsigned char *b;
    assert_int_equal(mf_client_artifact_bytes(raw, (void **)&b, &n), 0);
    assert_int_equal(n, 3);
    assert_true(b[0] == 0 && b[1] == 1 && b[2] == 2);
    free(b);
    char *str;
    size_t sl;
    assert_int_equal(mf_client_artifact_str(s, &str, &sl), 0);
    assert_string_equal(str, "from a");
    assert_int_equal(sl, 6);
    free(str);
    assert_int_equal(mf_client_artifact_bytes(s, (void **)&b, &n), 0); /* str as bytes */
    assert_int_equal(n, 6);
    assert_memory_equal(b, "from a", 6);
    free(b);
    int64_t i;
    assert_int_equal(mf_client_artifact_i64(v, &i), 0);
    assert_int_equal(i, 20);
    double d;
    assert_int_equal(mf_client_artifact_f64(f, &d), 0);
    assert_true(d == 1.0);
    mf_type ty;
    void *p;
    assert_int_equal(mf_client_artifact_value(v, &ty, &p, &n), 0);
    assert_int_equal(ty, MF_I64);
    assert_int_equal(n, 8);
    assert_int_equal(((unsigned char *)p)[0], 20);
    free(p);

    /* wrong types */
    int64_t *iv;
    assert_int_equal(mf_client_artifact_i64v(fs, &iv, &n), MF_EINVAL);
    assert_non_null(strstr(mf_client_error(c), "artifact 'fs' of LinearFlow/1/end/4 is f64[], not i64[]"));
    assert_int_equal(mf_client_artifact_f64(v, &d), MF_EINVAL);
    assert_int_equal(mf_client_artifact_strv(raw, &sv, &n), MF_EINVAL);
    assert_int_equal(mf_client_artifact_bytes(v, (void **)&b, &n), MF_EINVAL);
    assert_int_equal(mf_client_artifact_i64(NULL, &i), MF_EINVAL);
    assert_null(mf_client_artifact_name(NULL));

    /* a flipped byte in a blob is an error, never a wrong value */
    char *path = mf_strf("%s/datastore/blobs/%.2s/%s", home, mf_client_artifact_key(s),
                         mf_client_artifact_key(s));
    char *data;
    size_t len;
    assert_int_equal(mf_read_file(path, &data, &len), 0);
    data[len - 1] ^= 0x20;
    assert_int_equal(mf_write_file_atomic(path, data, len), 0);
    assert_int_equal(mf_client_artifact_str(s, &str, &sl), MF_ECORRUPT);
    assert_non_null(strstr(mf_client_error(c), "artifact 's' of LinearFlow/1/end/4"));
    data[len - 1] ^= 0x20;
    assert_int_equal(mf_write_file_atomic(path, data, len), 0);
    assert_int_equal(mf_client_artifact_str(s, &str, &sl), 0);
    free(str);
    /* a missing blob */
    char *aside = mf_strf("%s.aside", path);
    assert_int_equal(rename(path, aside), 0);
    assert_int_equal(mf_client_artifact_str(s, &str, &sl), MF_ENOTFOUND);
    assert_non_null(strstr(mf_client_error(c), "not found"));
    assert_int_equal(rename(aside, path), 0);
    free(aside);
    free(data);
    free(path);
    mf_client_task_free(t);
}

static void test_attempts_and_logs(void **state)
{
    mf_client *c = *state;
    mf_client_task *t, *a0, *a1;
    assert_int_equal(mf_client_task_open(c, "FailingFlow/1/work", &t), 0);
    assert_int_equal(mf_client_task_attempt(t), 1);
    assert_int_equal(mf_client_task_status(t), MF_CLIENT_SUCCEEDED);
    assert_int_equal(mf_client_task_get_attempt(t, 0, &a0), 0);
    assert_int_equal(mf_client_task_attempt(a0), 0);
    assert_int_equal(mf_client_task_status(a0), MF_CLIENT_FAILED);
    assert_string_equal(mf_client_task_message(a0), "first attempt fails");
    assert_int_equal(mf_client_task_exit_code(a0), 1);
    assert_string_equal(mf_client_task_pathspec(a0), mf_client_task_pathspec(t));
    int64_t done;
    assert_null(mf_client_task_artifact_find(a0, "done")); /* the failed attempt set nothing */
    assert_int_equal(mf_client_task_get_attempt(t, 1, &a1), 0);
    assert_int_equal(mf_client_artifact_i64(mf_client_task_artifact_find(a1, "done"), &done), 0);
    assert_int_equal(done, 1);
    mf_client_task_free(a1);
    assert_int_equal(mf_client_task_get_attempt(t, 2, &a1), MF_ENOTFOUND);
    assert_non_null(strstr(mf_client_error(c), "attempts 0 to 1"));

    char *log;
    size_t len;
    assert_int_equal(mf_client_task_log(t, 0, MF_CLIENT_STDERR, &log, &len), 0);
    assert_non_null(strstr(log, "work attempt 0"));
    assert_int_equal(len, strlen(log));
    free(log);
    assert_int_equal(mf_client_task_log(t, 1, MF_CLIENT_STDERR, &log, &len), 0);
    assert_non_null(strstr(log, "work attempt 1"));
    assert_null(strstr(log, "work attempt 0"));
    free(log);
    assert_int_equal(mf_client_task_log(t, 1, MF_CLIENT_STDOUT, &log, &len), 0);
    assert_string_equal(log, ""); /* wrote nothing */
    assert_int_equal(len, 0);
    free(log);
    assert_int_equal(mf_client_task_log(t, 2, MF_CLIENT_STDOUT, &log, &len), MF_ENOTFOUND);
    assert_int_equal(mf_client_task_log(t, 0, 7, &log, &len), MF_EINVAL);
    mf_client_task_free(a0);
    mf_client_task_free(t);

    /* stdout of the end step of the foreach */
    assert_int_equal(mf_client_task_open(c, "ForeachFlow/1/end", &t), 0);
    assert_int_equal(mf_client_task_log(t, 0, MF_CLIENT_STDOUT, &log, NULL), 0);
    assert_string_equal(log, "sum of squares: 14\n");
    free(log);
    mf_client_task_free(t);

    /* an attempt record that is damaged */
    char *rec = mf_strf("%s/datastore/runs/FailingFlow/2/work/2.1.json", home);
    char *keep;
    size_t klen;
    assert_int_equal(mf_read_file(rec, &keep, &klen), 0);
    assert_int_equal(mf_write_file_atomic(rec, "{\"format\":1", 11), 0);
    assert_int_equal(mf_client_task_open(c, "FailingFlow/2/work/2", &t), MF_ECORRUPT);
    assert_non_null(strstr(mf_client_error(c), "FailingFlow/2/work/2"));
    assert_int_equal(mf_write_file_atomic(rec, keep, klen), 0);
    free(keep);
    free(rec);
}

static void test_parents_children(void **state)
{
    mf_client *c = *state;
    mf_client_task *t;
    mf_client_tasks *l;
    assert_int_equal(mf_client_task_open(c, "ForeachFlow/1/join", &t), 0);
    assert_int_equal(mf_client_task_parents(t, &l), 0);
    assert_int_equal(mf_client_tasks_count(l), 3);
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(mf_client_task_step(mf_client_tasks_at(l, i)), "square");
        assert_int_equal(mf_client_task_id(mf_client_tasks_at(l, i)), (int64_t)i + 2);
    }
    mf_client_tasks_free(l);
    assert_int_equal(mf_client_task_children(t, &l), 0);
    assert_int_equal(mf_client_tasks_count(l), 1);
    assert_string_equal(mf_client_task_pathspec(mf_client_tasks_at(l, 0)), "ForeachFlow/1/end/6");
    /* children come loaded, with artifacts that name them */
    mf_client_task *end = mf_client_tasks_at(l, 0);
    assert_int_equal(mf_client_task_loaded(end), 1);
    char *s;
    assert_int_equal(mf_client_artifact_str(mf_client_task_artifact_find(end, "sum"), &s, NULL),
                     MF_EINVAL);
    assert_non_null(strstr(mf_client_error(c), "of ForeachFlow/1/end/6 is i64"));
    mf_client_tasks_free(l);
    mf_client_task_free(t);

    assert_int_equal(mf_client_task_open(c, "ForeachFlow/1/start", &t), 0);
    assert_int_equal(mf_client_task_parents(t, &l), 0);
    assert_int_equal(mf_client_tasks_count(l), 0);
    mf_client_tasks_free(l);
    assert_int_equal(mf_client_task_children(t, &l), 0);
    assert_int_equal(mf_client_tasks_count(l), 3);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(mf_client_task_foreach_index(mf_client_tasks_at(l, i)), i);
    mf_client_tasks_free(l);
    mf_client_task_free(t);

    /* a branch: start's children are both branches; the join's parents are both */
    assert_int_equal(mf_client_task_open(c, "BranchFlow/1/start", &t), 0);
    assert_int_equal(mf_client_task_children(t, &l), 0);
    assert_int_equal(mf_client_tasks_count(l), 2);
    assert_string_not_equal(mf_client_task_step(mf_client_tasks_at(l, 0)),
                            mf_client_task_step(mf_client_tasks_at(l, 1)));
    mf_client_tasks_free(l);
    mf_client_task_free(t);

    assert_int_equal(mf_client_task_open(c, "ForeachFlow/1/end", &t), 0);
    assert_int_equal(mf_client_task_children(t, &l), 0);
    assert_int_equal(mf_client_tasks_count(l), 0);
    mf_client_tasks_free(l);
    mf_client_task_free(t);
    assert_int_equal(mf_client_task_children(NULL, &l), MF_EINVAL);
}

static json_t *run_json_tags(const char *flow, int run)
{
    char *p = mf_strf("%s/datastore/runs/%s/%d/run.json", home, flow, run);
    json_t *j = json_load_file(p, 0, NULL);
    free(p);
    json_t *tags = json_incref(json_object_get(j, "tags"));
    json_decref(j);
    return tags;
}

static int json_has(json_t *arr, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) if (!strcmp(json_string_value(v), s)) return 1;
    return 0;
}

static void test_tags(void **state)
{
    mf_client *c = *state;
    mf_client_run *r;
    assert_int_equal(mf_client_run_get(c, "BranchFlow", 2, &r), 0);
    assert_int_equal(mf_client_run_tag_add(r, "best model"), 0);
    assert_int_equal(mf_client_run_tag_add(r, "best model"), 0); /* again: no change */
    assert_int_equal(mf_client_run_has_tag(r, "best model"), 1);
    assert_int_equal(mf_client_run_tag_count(r), 4);
    json_t *tags = run_json_tags("BranchFlow", 2);
    assert_true(json_has(tags, "best model"));
    assert_int_equal(json_array_size(tags), 4);
    json_decref(tags);
    /* a fresh handle sees it (index), and so does a tag-filtered listing */
    mf_client_run *r2;
    assert_int_equal(mf_client_run_get(c, "BranchFlow", 2, &r2), 0);
    assert_int_equal(mf_client_run_has_tag(r2, "best model"), 1);
    mf_client_run_free(r2);
    const char *want[] = {"best model"};
    mf_client_runs *l;
    assert_int_equal(mf_client_list_runs(c, "BranchFlow", want, 1, &l), 0);
    assert_int_equal(mf_client_runs_count(l), 1);
    /* tags through a borrowed handle */
    assert_int_equal(mf_client_run_tag_remove(mf_client_runs_at(l, 0), "best model"), 0);
    assert_int_equal(mf_client_run_has_tag(mf_client_runs_at(l, 0), "best model"), 0);
    mf_client_runs_free(l);
    assert_int_equal(mf_client_run_tag_remove(r, "best model"), 0); /* missing: no change */
    assert_int_equal(mf_client_run_has_tag(r, "best model"), 0);
    tags = run_json_tags("BranchFlow", 2);
    assert_false(json_has(tags, "best model"));
    assert_true(json_has(tags, "t1"));
    json_decref(tags);

    /* system tags stay; bad tags are refused before anything changes */
    char utag[256];
    snprintf(utag, sizeof utag, "user:%s", user_ns + 5);
    assert_int_equal(mf_client_run_tag_remove(r, utag), MF_EINVAL);
    assert_non_null(strstr(mf_client_error(c), "system tag"));
    assert_int_equal(mf_client_run_has_tag(r, utag), 1);
    assert_int_equal(mf_client_run_tag_add(r, "mflow_version:9"), MF_EINVAL);
    assert_int_equal(mf_client_run_tag_add(r, ""), MF_EINVAL);
    assert_int_equal(mf_client_run_tag_add(r, "a\nb"), MF_EINVAL);
    assert_int_equal(mf_client_tag_is_system("user:x"), 1);
    assert_int_equal(mf_client_tag_is_system("mflow_version:1"), 1);
    assert_int_equal(mf_client_tag_is_system("users"), 0);
    assert_int_equal(mf_client_tag_is_system(NULL), 0);
    /* too many tags */
    char big[1500];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    assert_int_equal(mf_client_run_tag_add(r, big), 0);
    big[0] = 'y';
    assert_int_equal(mf_client_run_tag_add(r, big), MF_EINVAL);
    assert_non_null(strstr(mf_client_error(c), "remove some first"));
    big[0] = 'x';
    assert_int_equal(mf_client_run_tag_remove(r, big), 0);
    assert_int_equal(mf_client_run_tag_count(r), 3);
    mf_client_run_free(r);

    /* a run whose run record is missing from the datastore cannot be tagged */
    assert_int_equal(mf_client_run_get(c, "DeadFlow", 2, &r), 0);
    assert_int_equal(mf_client_run_tag_add(r, "x"), MF_ENOTFOUND);
    assert_non_null(strstr(mf_client_error(c), "reindex"));
    assert_int_equal(mf_client_run_has_tag(r, "x"), 0);
    mf_client_run_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test_setup_teardown(test_flows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_runs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dead, setup, teardown),
        cmocka_unit_test_setup_teardown(test_last_active, setup, teardown),
        cmocka_unit_test_setup_teardown(test_params, setup, teardown),
        cmocka_unit_test_setup_teardown(test_steps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tasks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_task_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_artifacts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_attempts_and_logs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parents_children, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tags, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
