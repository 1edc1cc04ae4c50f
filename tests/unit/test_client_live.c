/* Unit tests of how the client shows tasks that started and have not ended: the orchestrator
 * records a task's start in the index (status running, or pending while it waits for a
 * retry) and its record replaces it when it ends. A task left so by a run that ended anyway
 * (its orchestrator stopped without seeing it end) is shown as the run ended; a live run's
 * started task is shown running, and can be opened before it has a record.
 *
 * The index is written by hand through index.h, the way the runtime writes it. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mflow/client.h>

#include "index.h"
#include "util.h"

static char home[512];

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void put_run(mf_index *ix, int64_t id, int status)
{
    struct mf_run_rec r;
    memset(&r, 0, sizeof r);
    snprintf(r.flow, sizeof r.flow, "LiveFlow");
    r.run_id = id;
    r.status = status;
    r.pid = (int32_t)getpid();   /* alive: this process */
    snprintf(r.user, sizeof r.user, "tester");
    snprintf(r.ns, sizeof r.ns, "user:tester");
    gethostname(r.host, sizeof r.host - 1);
    r.start_time = mf_now();
    r.end_time = status == MF_STATUS_RUNNING ? 0 : r.start_time + 1;
    assert_int_equal(mf_index_put_run(ix, &r), 0);
}

static void put_task(mf_index *ix, int64_t run, const char *step, int64_t id, uint32_t attempt,
                     int status)
{
    struct mf_task_rec t;
    memset(&t, 0, sizeof t);
    snprintf(t.flow, sizeof t.flow, "LiveFlow");
    t.run_id = run;
    snprintf(t.step, sizeof t.step, "%s", step);
    t.task_id = id;
    t.attempt = attempt;
    t.status = status;
    t.start_time = status == MF_STATUS_PENDING ? 0 : mf_now();
    t.end_time = status == MF_STATUS_SUCCEEDED ? t.start_time + 1 : 0;
    t.exit_code = -1;
    assert_int_equal(mf_index_put_task(ix, &t), 0);
}

/* Run 1 still runs (this process); runs 2 and 3 ended cancelled and failed with tasks left
 * started; run 4 succeeded with one left running (what no run should leave). */
static int group_setup(void **state)
{
    (void)state;
    snprintf(home, sizeof home, "%s/mflow-client-live.XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(home))
        return -1;
    char *dir = mf_strf("%s/index", home);
    mf_index *ix = NULL;
    if (!dir || mf_index_open(dir, &ix)) {
        free(dir);
        mf_index_close(ix);
        return -1;
    }
    free(dir);
    put_run(ix, 1, MF_STATUS_RUNNING);
    put_task(ix, 1, "start", 1, 0, MF_STATUS_SUCCEEDED);
    put_task(ix, 1, "work", 2, 1, MF_STATUS_RUNNING);
    put_task(ix, 1, "work", 3, 2, MF_STATUS_PENDING);
    put_run(ix, 2, MF_STATUS_CANCELLED);
    put_task(ix, 2, "start", 1, 0, MF_STATUS_SUCCEEDED);
    put_task(ix, 2, "work", 2, 0, MF_STATUS_RUNNING);
    put_task(ix, 2, "work", 3, 1, MF_STATUS_PENDING);
    put_run(ix, 3, MF_STATUS_FAILED);
    put_task(ix, 3, "work", 2, 0, MF_STATUS_RUNNING);
    put_task(ix, 3, "work", 3, 0, MF_STATUS_FAILED);
    put_run(ix, 4, MF_STATUS_SUCCEEDED);
    put_task(ix, 4, "work", 2, 0, MF_STATUS_RUNNING);
    mf_index_close(ix);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    nftw(home, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

static mf_client *open_client(void)
{
    struct mf_client_opts o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.home = home;
    o.ns = "";
    mf_client *c = NULL;
    int rc = mf_client_open(&o, &c);
    if (rc)
        fprintf(stderr, "open: %s\n", mf_client_error(c));
    assert_int_equal(rc, 0);
    return c;
}

/* The statuses of run `run`'s tasks by id, as "id:status ..." */
static char *listed(mf_client *c, int64_t run)
{
    mf_client_run *r;
    assert_int_equal(mf_client_run_get(c, "LiveFlow", run, &r), 0);
    mf_client_tasks *l;
    assert_int_equal(mf_client_list_tasks(r, NULL, &l), 0);
    struct mf_sbuf b = {0};
    for (size_t i = 0; i < mf_client_tasks_count(l); i++) {
        mf_client_task *t = mf_client_tasks_at(l, i);
        mf_sbuf_addf(&b, "%s%lld:%s@%u", i ? " " : "", (long long)mf_client_task_id(t),
                     mf_client_status_name(mf_client_task_status(t)), mf_client_task_attempt(t));
    }
    mf_client_tasks_free(l);
    mf_client_run_free(r);
    return b.data ? b.data : strdup("");
}

static void test_listed(void **state)
{
    (void)state;
    mf_client *c = open_client();
    struct {
        int64_t run;
        const char *want;
    } cases[] = {
        {1, "1:succeeded@0 2:running@1 3:pending@2"},   /* live: as recorded */
        {2, "1:succeeded@0 2:cancelled@0 3:cancelled@1"},
        {3, "2:failed@0 3:failed@0"},
        {4, "2:failed@0"},                                /* a succeeded run cannot run it */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = listed(c, cases[i].run);
        assert_string_equal(got, cases[i].want);
        free(got);
    }
    mf_client_close(c);
}

static void test_steps(void **state)
{
    (void)state;
    mf_client *c = open_client();
    struct {
        int64_t run;
        size_t running, pending, cancelled, failed;
    } cases[] = {
        {1, 1, 1, 0, 0},
        {2, 0, 0, 2, 0},
        {3, 0, 0, 0, 2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mf_client_run *r;
        assert_int_equal(mf_client_run_get(c, "LiveFlow", cases[i].run, &r), 0);
        mf_client_steps *l;
        assert_int_equal(mf_client_list_steps(r, &l), 0);
        const mf_client_step *w = NULL;
        for (size_t k = 0; k < mf_client_steps_count(l); k++)
            if (!strcmp(mf_client_step_name(mf_client_steps_at(l, k)), "work"))
                w = mf_client_steps_at(l, k);
        assert_non_null(w);
        assert_int_equal(mf_client_step_status_count(w, MF_CLIENT_RUNNING), cases[i].running);
        assert_int_equal(mf_client_step_status_count(w, MF_CLIENT_PENDING), cases[i].pending);
        assert_int_equal(mf_client_step_status_count(w, MF_CLIENT_CANCELLED), cases[i].cancelled);
        assert_int_equal(mf_client_step_status_count(w, MF_CLIENT_FAILED), cases[i].failed);
        mf_client_steps_free(l);
        mf_client_run_free(r);
    }
    mf_client_close(c);
}

/* A started task opens before it has a record: what the index knows, not loaded. */
static void test_open_started(void **state)
{
    (void)state;
    mf_client *c = open_client();
    struct {
        int64_t run, task;
        int status;
        uint32_t attempt;
    } cases[] = {
        {1, 2, MF_CLIENT_RUNNING, 1},
        {1, 3, MF_CLIENT_PENDING, 2},
        {2, 2, MF_CLIENT_CANCELLED, 0},
        {3, 2, MF_CLIENT_FAILED, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mf_client_task *t;
        int rc = mf_client_task_get(c, "LiveFlow", cases[i].run, "work", cases[i].task, &t);
        if (rc)
            fprintf(stderr, "%s\n", mf_client_error(c));
        assert_int_equal(rc, 0);
        assert_int_equal(mf_client_task_status(t), cases[i].status);
        assert_int_equal(mf_client_task_attempt(t), cases[i].attempt);
        assert_int_equal(mf_client_task_loaded(t), 0);
        assert_int_equal(mf_client_task_artifact_count(t), 0);
        assert_null(mf_client_task_host(t));
        mf_client_task_free(t);
    }
    /* a task the index holds as ended still needs its record */
    mf_client_task *t = NULL;
    assert_int_equal(mf_client_task_get(c, "LiveFlow", 1, "start", 1, &t), MF_ENOTFOUND);
    assert_null(t);
    assert_non_null(strstr(mf_client_error(c), "no record of attempt 0"));
    assert_int_equal(mf_client_task_get(c, "LiveFlow", 3, "work", 3, &t), MF_ENOTFOUND);
    mf_client_close(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_listed),
        cmocka_unit_test(test_steps),
        cmocka_unit_test(test_open_started),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
