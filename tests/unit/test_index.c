/* Unit tests of the lmdb metadata index (core/src/index.c). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mflow/plugin.h>

#include "index.h"

struct fixture {
    char dir[256];
    mf_index *ix;
};

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    chmod(path, 0700);
    return remove(path);
}

static void rm_rf(const char *dir)
{
    chmod(dir, 0700);
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    const char *tmp = getenv("TMPDIR");
    snprintf(f->dir, sizeof f->dir, "%s/mf-index-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    mf_index_close(f->ix);
    rm_rf(f->dir);
    free(f);
    return 0;
}

/* The fixture's index, in <tmp>/ix (a directory the open creates). */
static mf_index *open_ix(struct fixture *f)
{
    char path[300];
    snprintf(path, sizeof path, "%s/ix", f->dir);
    mf_index *ix = NULL;
    int rc = mf_index_open(path, &ix);
    if (rc)
        print_error("open %s: %d %s\n", path, rc, mf_index_error(ix));
    assert_int_equal(rc, 0);
    assert_non_null(ix);
    f->ix = ix;
    return ix;
}

static void reopen(struct fixture *f)
{
    mf_index_close(f->ix);
    f->ix = NULL;
    open_ix(f);
}

static struct mf_run_rec make_run(const char *flow, int64_t id)
{
    struct mf_run_rec r;
    memset(&r, 0, sizeof r);
    snprintf(r.flow, sizeof r.flow, "%s", flow);
    r.run_id = id;
    r.status = MF_STATUS_RUNNING;
    r.pid = 4242 + (int32_t)id;
    snprintf(r.user, sizeof r.user, "alice");
    snprintf(r.ns, sizeof r.ns, "user:alice");
    snprintf(r.host, sizeof r.host, "host%lld", (long long)id);
    r.start_time = 1700000000.25 + (double)id;
    r.end_time = 0;
    r.origin_run_id = id > 1 ? id - 1 : 0;
    r.n_tasks = (uint32_t)id * 3;
    r.n_failed = (uint32_t)id % 2;
    return r;
}

static struct mf_task_rec make_task(const char *flow, int64_t run, const char *step, int64_t id)
{
    struct mf_task_rec t;
    memset(&t, 0, sizeof t);
    snprintf(t.flow, sizeof t.flow, "%s", flow);
    t.run_id = run;
    snprintf(t.step, sizeof t.step, "%s", step);
    t.task_id = id;
    t.attempt = (uint32_t)id % 3;
    t.status = MF_STATUS_SUCCEEDED;
    t.start_time = 1700000000.5;
    t.end_time = 1700000001.75;
    t.exit_code = (int32_t)id % 5;
    t.term_signal = id == 7 ? 9 : 0;
    t.foreach_index = (uint32_t)id;
    t.foreach_count = 100;
    snprintf(t.origin, sizeof t.origin, "%s", id == 3 ? "F/1/a/3" : "");
    snprintf(t.artifacts, sizeof t.artifacts, "x\ny\nname_%lld", (long long)id);
    return t;
}

static void assert_run_equal(const struct mf_run_rec *a, const struct mf_run_rec *b)
{
    assert_string_equal(a->flow, b->flow);
    assert_int_equal(a->run_id, b->run_id);
    assert_int_equal(a->status, b->status);
    assert_int_equal(a->pid, b->pid);
    assert_string_equal(a->user, b->user);
    assert_string_equal(a->ns, b->ns);
    assert_string_equal(a->host, b->host);
    assert_true(a->start_time == b->start_time);
    assert_true(a->end_time == b->end_time);
    assert_int_equal(a->origin_run_id, b->origin_run_id);
    assert_int_equal(a->n_tasks, b->n_tasks);
    assert_int_equal(a->n_failed, b->n_failed);
    assert_string_equal(a->tags, b->tags);
}

static void assert_task_equal(const struct mf_task_rec *a, const struct mf_task_rec *b)
{
    assert_string_equal(a->flow, b->flow);
    assert_int_equal(a->run_id, b->run_id);
    assert_string_equal(a->step, b->step);
    assert_int_equal(a->task_id, b->task_id);
    assert_int_equal(a->attempt, b->attempt);
    assert_int_equal(a->status, b->status);
    assert_true(a->start_time == b->start_time);
    assert_true(a->end_time == b->end_time);
    assert_int_equal(a->exit_code, b->exit_code);
    assert_int_equal(a->term_signal, b->term_signal);
    assert_int_equal(a->foreach_index, b->foreach_index);
    assert_int_equal(a->foreach_count, b->foreach_count);
    assert_string_equal(a->origin, b->origin);
    assert_string_equal(a->artifacts, b->artifacts);
}

/* Collects run ids (and checks each record against make_run) or task pathspecs. */
struct collect {
    int64_t ids[64];
    char names[64][300];
    size_t n;
    size_t stop_after;   /* 0: never */
    mf_index *ix;        /* for re-entrant reads from the callback */
};

static int collect_run(void *ud, const struct mf_run_rec *r)
{
    struct collect *c = ud;
    if (c->n < 64)
        c->ids[c->n] = r->run_id;
    c->n++;
    struct mf_run_rec want = make_run(r->flow, r->run_id);
    assert_run_equal(r, &want);
    if (c->ix) {
        struct mf_run_rec again;
        assert_int_equal(mf_index_get_run(c->ix, r->flow, r->run_id, &again), 0);
        assert_int_equal(again.run_id, r->run_id);
    }
    return c->stop_after && c->n == c->stop_after ? 7 : 0;
}

static int collect_task(void *ud, const struct mf_task_rec *t)
{
    struct collect *c = ud;
    if (c->n < 64) {
        snprintf(c->names[c->n], sizeof c->names[0], "%s/%lld/%s/%lld", t->flow,
                 (long long)t->run_id, t->step, (long long)t->task_id);
        struct mf_task_rec want = make_task(t->flow, t->run_id, t->step, t->task_id);
        assert_task_equal(t, &want);
    }
    c->n++;
    return 0;
}

static int collect_flow(void *ud, const char *flow, int64_t last)
{
    struct collect *c = ud;
    if (c->n < 64) {
        snprintf(c->names[c->n], sizeof c->names[0], "%s", flow);
        c->ids[c->n] = last;
    }
    c->n++;
    return 0;
}

/* Run fn(arg) in a child process and return its verdict (0 = passed). The verdict comes
 * through a pipe rather than the exit status, so that a leak checker's exit code for the
 * child (which inherits the parent's heap and open index) does not count. */
static int in_child(int (*fn)(void *), void *arg)
{
    int fds[2];
    if (pipe(fds))
        return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        close(fds[0]);
        unsigned char v = (unsigned char)fn(arg);
        if (write(fds[1], &v, 1) != 1)
            _exit(1);
        _exit(0);
    }
    close(fds[1]);
    unsigned char v = 255;
    ssize_t n = read(fds[0], &v, 1);
    close(fds[0]);
    int st;
    waitpid(pid, &st, 0);
    return n == 1 ? v : -1;
}

/* ---- tests --------------------------------------------------------------------------------- */

static void test_status_names(void **state)
{
    (void)state;
    assert_string_equal(mf_status_name(MF_STATUS_PENDING), "pending");
    assert_string_equal(mf_status_name(MF_STATUS_CANCELLED), "cancelled");
    assert_string_equal(mf_status_name(0), "unknown");
    assert_string_equal(mf_status_name(99), "unknown");
    assert_int_equal(mf_status_from_name("succeeded"), MF_STATUS_SUCCEEDED);
    assert_int_equal(mf_status_from_name("failed"), MF_STATUS_FAILED);
    assert_int_equal(mf_status_from_name("nope"), 0);
    assert_int_equal(mf_status_from_name(NULL), 0);
    assert_non_null(mf_index_error(NULL));
}

static void test_run_ids(void **state)
{
    struct fixture *f = *state;
    mf_index *ix = open_ix(f);
    int64_t id = 0;
    for (int64_t want = 1; want <= 3; want++) {
        assert_int_equal(mf_index_new_run_id(ix, "FlowA", 0, &id), 0);
        assert_int_equal(id, want);
    }
    assert_int_equal(mf_index_new_run_id(ix, "FlowB", 0, &id), 0);
    assert_int_equal(id, 1);
    /* min is respected, and later ids continue above it */
    assert_int_equal(mf_index_new_run_id(ix, "FlowA", 10, &id), 0);
    assert_int_equal(id, 10);
    assert_int_equal(mf_index_new_run_id(ix, "FlowA", 5, &id), 0);
    assert_int_equal(id, 11);
    /* a run stored without an allocated id (reindex) is never reused */
    struct mf_run_rec r = make_run("FlowB", 40);
    assert_int_equal(mf_index_put_run(ix, &r), 0);
    assert_int_equal(mf_index_new_run_id(ix, "FlowB", 0, &id), 0);
    assert_int_equal(id, 41);
    /* counters persist */
    reopen(f);
    assert_int_equal(mf_index_new_run_id(f->ix, "FlowA", 0, &id), 0);
    assert_int_equal(id, 12);
    /* bad input */
    assert_int_equal(mf_index_new_run_id(f->ix, "", 0, &id), MF_EINVAL);
    assert_int_equal(mf_index_new_run_id(f->ix, NULL, 0, &id), MF_EINVAL);
    char longname[200];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    assert_int_equal(mf_index_new_run_id(f->ix, longname, 0, &id), MF_EINVAL);
    assert_non_null(strstr(mf_index_error(f->ix), "longer than 127 bytes"));
}

static void test_runs(void **state)
{
    struct fixture *f = *state;
    mf_index *ix = open_ix(f);
    /* flows whose names are prefixes of each other must not mix */
    const char *flows[] = {"Flow", "FlowX", "Flo", "Flow_2", "Flov"};
    for (size_t k = 0; k < 5; k++) {
        for (int64_t id = 1; id <= (int64_t)(k + 2); id++) {
            struct mf_run_rec r = make_run(flows[k], id);
            assert_int_equal(mf_index_put_run(ix, &r), 0);
        }
    }
    /* ids above 255 and 65535 sort numerically */
    int64_t big[] = {300, 70000, 256};
    for (size_t k = 0; k < 3; k++) {
        struct mf_run_rec r = make_run("Flow", big[k]);
        assert_int_equal(mf_index_put_run(ix, &r), 0);
    }
    struct mf_run_rec got;
    assert_int_equal(mf_index_get_run(ix, "Flow", 2, &got), 0);
    struct mf_run_rec want = make_run("Flow", 2);
    assert_run_equal(&got, &want);
    /* overwrite */
    want.status = MF_STATUS_SUCCEEDED;
    want.end_time = 1700000100.5;
    snprintf(want.tags, sizeof want.tags, "t1\nt2");
    assert_int_equal(mf_index_put_run(ix, &want), 0);
    assert_int_equal(mf_index_get_run(ix, "Flow", 2, &got), 0);
    assert_run_equal(&got, &want);
    want = make_run("Flow", 2);
    assert_int_equal(mf_index_put_run(ix, &want), 0);

    assert_int_equal(mf_index_get_run(ix, "Flow", 99, &got), MF_ENOTFOUND);
    assert_non_null(strstr(mf_index_error(ix), "no run Flow/99"));
    assert_int_equal(mf_index_get_run(ix, "Nope", 1, &got), MF_ENOTFOUND);

    struct collect c = {0};
    c.ix = ix; /* reads from inside the callback */
    assert_int_equal(mf_index_list_runs(ix, "Flow", collect_run, &c), 0);
    int64_t order[] = {70000, 300, 256, 2, 1};
    assert_int_equal(c.n, 5);
    for (size_t k = 0; k < 5; k++)
        assert_int_equal(c.ids[k], order[k]);
    memset(&c, 0, sizeof c);
    assert_int_equal(mf_index_list_runs(ix, "FlowX", collect_run, &c), 0);
    assert_int_equal(c.n, 3);
    assert_int_equal(c.ids[0], 3);
    assert_int_equal(c.ids[2], 1);
    memset(&c, 0, sizeof c);
    assert_int_equal(mf_index_list_runs(ix, "Flow_2", collect_run, &c), 0);
    assert_int_equal(c.n, 5); /* the last flow in key order */
    assert_int_equal(c.ids[0], 5);
    memset(&c, 0, sizeof c);
    assert_int_equal(mf_index_list_runs(ix, "Absent", collect_run, &c), 0);
    assert_int_equal(c.n, 0);
    memset(&c, 0, sizeof c);
    assert_int_equal(mf_index_list_runs(ix, "Zzz", collect_run, &c), 0);
    assert_int_equal(c.n, 0);
    /* a callback stops the listing with its code */
    memset(&c, 0, sizeof c);
    c.stop_after = 2;
    assert_int_equal(mf_index_list_runs(ix, "Flow", collect_run, &c), 7);
    assert_int_equal(c.n, 2);

    memset(&c, 0, sizeof c);
    assert_int_equal(mf_index_list_flows(ix, collect_flow, &c), 0);
    assert_int_equal(c.n, 5);
    assert_string_equal(c.names[0], "Flo");
    assert_int_equal(c.ids[0], 4);
    assert_string_equal(c.names[1], "Flov");
    assert_int_equal(c.ids[1], 6);
    assert_string_equal(c.names[2], "Flow");
    assert_int_equal(c.ids[2], 70000);
    assert_string_equal(c.names[3], "FlowX");
    assert_int_equal(c.ids[3], 3);
    assert_string_equal(c.names[4], "Flow_2");
    assert_int_equal(c.ids[4], 5);

    /* bad records */
    struct mf_run_rec bad = make_run("Flow", 0);
    assert_int_equal(mf_index_put_run(ix, &bad), MF_EINVAL);
    assert_non_null(strstr(mf_index_error(ix), "run id 0 is out of range"));
    bad = make_run("", 3);
    assert_int_equal(mf_index_put_run(ix, &bad), MF_EINVAL);
}

static void test_full_fields(void **state)
{
    struct fixture *f = *state;
    mf_index *ix = open_ix(f);
    /* every string field at its largest */
    struct mf_run_rec r = make_run("F", 1);
    memset(r.user, 'u', sizeof r.user - 1);
    memset(r.ns, 'n', sizeof r.ns - 1);
    memset(r.host, 'h', sizeof r.host - 1);
    memset(r.tags, 't', sizeof r.tags - 1);
    assert_int_equal(mf_index_put_run(ix, &r), 0);
    struct mf_run_rec got;
    assert_int_equal(mf_index_get_run(ix, "F", 1, &got), 0);
    assert_run_equal(&got, &r);
    struct mf_task_rec t = make_task("F", 1, "s", 1);
    memset(t.origin, 'o', sizeof t.origin - 1);
    memset(t.artifacts, 'a', sizeof t.artifacts - 1);
    assert_int_equal(mf_index_put_task(ix, &t), 0);
    struct mf_task_rec gt;
    assert_int_equal(mf_index_get_task(ix, "F", 1, "s", 1, &gt), 0);
    assert_task_equal(&gt, &t);
}

static void test_tags(void **state)
{
    struct fixture *f = *state;
    mf_index *ix = open_ix(f);
    struct mf_run_rec r = make_run("TagFlow", 1);
    assert_int_equal(mf_index_put_run(ix, &r), 0);
    struct mf_run_rec got;
    assert_int_equal(mf_index_add_tag(ix, "TagFlow", 1, "alpha"), 0);
    assert_int_equal(mf_index_add_tag(ix, "TagFlow", 1, "b"), 0);
    assert_int_equal(mf_index_add_tag(ix, "TagFlow", 1, "bb"), 0);
    assert_int_equal(mf_index_add_tag(ix, "TagFlow", 1, "alpha"), 0); /* already there */
    assert_int_equal(mf_index_add_tag(ix, "TagFlow", 1, "with space"), 0);
    assert_int_equal(mf_index_get_run(ix, "TagFlow", 1, &got), 0);
    assert_string_equal(got.tags, "alpha\nb\nbb\nwith space");
    assert_int_equal(got.pid, r.pid); /* the rest of the record is kept */
    assert_string_equal(got.host, r.host);
    assert_int_equal(mf_index_remove_tag(ix, "TagFlow", 1, "b"), 0);
    assert_int_equal(mf_index_get_run(ix, "TagFlow", 1, &got), 0);
    assert_string_equal(got.tags, "alpha\nbb\nwith space");
    assert_int_equal(mf_index_remove_tag(ix, "TagFlow", 1, "missing"), 0);
    assert_int_equal(mf_index_remove_tag(ix, "TagFlow", 1, "with space"), 0);
    assert_int_equal(mf_index_get_run(ix, "TagFlow", 1, &got), 0);
    assert_string_equal(got.tags, "alpha\nbb");
    assert_int_equal(mf_index_remove_tag(ix, "TagFlow", 1, "alpha"), 0);
    assert_int_equal(mf_index_get_run(ix, "TagFlow", 1, &got), 0);
    assert_string_equal(got.tags, "bb");
    assert_int_equal(mf_index_remove_tag(ix, "TagFlow", 1, "bb"), 0);
    assert_int_equal(mf_index_get_run(ix, "TagFlow", 1, &got), 0);
    assert_string_equal(got.tags, "");
    /* errors */
    assert_int_equal(mf_index_add_tag(ix, "TagFlow", 1, "two\nlines"), MF_EINVAL);
    assert_int_equal(mf_index_add_tag(ix, "TagFlow", 1, ""), MF_EINVAL);
    assert_int_equal(mf_index_add_tag(ix, "TagFlow", 2, "x"), MF_ENOTFOUND);
    assert_non_null(strstr(mf_index_error(ix), "no run TagFlow/2"));
    assert_int_equal(mf_index_remove_tag(ix, "TagFlow", 2, "x"), MF_ENOTFOUND);
    /* the tag space is bounded */
    char tag[1000];
    memset(tag, 'x', sizeof tag - 1);
    tag[sizeof tag - 1] = 0;
    tag[0] = '1';
    assert_int_equal(mf_index_add_tag(ix, "TagFlow", 1, tag), 0);
    tag[0] = '2';
    assert_int_equal(mf_index_add_tag(ix, "TagFlow", 1, tag), 0);
    tag[0] = '3';
    assert_int_equal(mf_index_add_tag(ix, "TagFlow", 1, tag), MF_EINVAL);
    assert_non_null(strstr(mf_index_error(ix), "remove some first"));
    /* a failed tag inside a batch does not spoil the batch */
    assert_int_equal(mf_index_begin(ix), 0);
    assert_int_equal(mf_index_add_tag(ix, "TagFlow", 9, "x"), MF_ENOTFOUND);
    assert_int_equal(mf_index_remove_tag(ix, "TagFlow", 1, tag + 0), 0);
    tag[0] = '1';
    assert_int_equal(mf_index_remove_tag(ix, "TagFlow", 1, tag), 0);
    assert_int_equal(mf_index_add_tag(ix, "TagFlow", 1, "after"), 0);
    assert_int_equal(mf_index_commit(ix), 0);
    assert_int_equal(mf_index_get_run(ix, "TagFlow", 1, &got), 0);
    assert_int_equal(strlen(got.tags), 999 + 1 + 5);
    assert_non_null(strstr(got.tags, "\nafter"));
}

static void test_tasks(void **state)
{
    struct fixture *f = *state;
    mf_index *ix = open_ix(f);
    struct {
        const char *step;
        int64_t id;
    } tasks[] = {{"start", 1}, {"a", 10}, {"a", 2}, {"ab", 5}, {"b", 4}, {"a", 3}, {"end", 300}};
    for (size_t k = 0; k < sizeof tasks / sizeof tasks[0]; k++) {
        struct mf_task_rec t = make_task("TFlow", 1, tasks[k].step, tasks[k].id);
        assert_int_equal(mf_index_put_task(ix, &t), 0);
    }
    /* another run and another flow must not show */
    struct mf_task_rec other = make_task("TFlow", 2, "a", 1);
    assert_int_equal(mf_index_put_task(ix, &other), 0);
    other = make_task("TFlowX", 1, "a", 1);
    assert_int_equal(mf_index_put_task(ix, &other), 0);

    struct collect c = {0};
    assert_int_equal(mf_index_list_tasks(ix, "TFlow", 1, NULL, collect_task, &c), 0);
    const char *all[] = {"TFlow/1/a/2",  "TFlow/1/a/3",  "TFlow/1/a/10",    "TFlow/1/ab/5",
                         "TFlow/1/b/4",  "TFlow/1/end/300", "TFlow/1/start/1"};
    assert_int_equal(c.n, 7);
    for (size_t k = 0; k < 7; k++)
        assert_string_equal(c.names[k], all[k]);
    memset(&c, 0, sizeof c);
    assert_int_equal(mf_index_list_tasks(ix, "TFlow", 1, "a", collect_task, &c), 0);
    assert_int_equal(c.n, 3);
    assert_string_equal(c.names[0], "TFlow/1/a/2");
    assert_string_equal(c.names[2], "TFlow/1/a/10");
    memset(&c, 0, sizeof c);
    assert_int_equal(mf_index_list_tasks(ix, "TFlow", 1, "zz", collect_task, &c), 0);
    assert_int_equal(c.n, 0);
    memset(&c, 0, sizeof c);
    assert_int_equal(mf_index_list_tasks(ix, "TFlow", 3, NULL, collect_task, &c), 0);
    assert_int_equal(c.n, 0);

    struct mf_task_rec got, want = make_task("TFlow", 1, "a", 3);
    assert_int_equal(mf_index_get_task(ix, "TFlow", 1, "a", 3, &got), 0);
    assert_task_equal(&got, &want);
    assert_int_equal(mf_index_get_task(ix, "TFlow", 1, "a", 4, &got), MF_ENOTFOUND);
    assert_non_null(strstr(mf_index_error(ix), "no task TFlow/1/a/4"));
    /* update in place */
    want.status = MF_STATUS_FAILED;
    want.attempt = 2;
    assert_int_equal(mf_index_put_task(ix, &want), 0);
    assert_int_equal(mf_index_get_task(ix, "TFlow", 1, "a", 3, &got), 0);
    assert_int_equal(got.status, MF_STATUS_FAILED);
    assert_int_equal(got.attempt, 2);
    struct mf_task_rec bad = make_task("TFlow", 1, "", 1);
    assert_int_equal(mf_index_put_task(ix, &bad), MF_EINVAL);
    bad = make_task("TFlow", 1, "a", -1);
    assert_int_equal(mf_index_put_task(ix, &bad), MF_EINVAL);
}

static void test_clear_keeps_counters(void **state)
{
    struct fixture *f = *state;
    mf_index *ix = open_ix(f);
    int64_t id;
    for (int k = 0; k < 3; k++) {
        assert_int_equal(mf_index_new_run_id(ix, "CFlow", 0, &id), 0);
        struct mf_run_rec r = make_run("CFlow", id);
        assert_int_equal(mf_index_put_run(ix, &r), 0);
        struct mf_task_rec t = make_task("CFlow", id, "start", 1);
        assert_int_equal(mf_index_put_task(ix, &t), 0);
    }
    assert_int_equal(mf_index_clear(ix), 0);
    struct mf_run_rec got;
    assert_int_equal(mf_index_get_run(ix, "CFlow", 1, &got), MF_ENOTFOUND);
    struct collect c = {0};
    assert_int_equal(mf_index_list_runs(ix, "CFlow", collect_run, &c), 0);
    assert_int_equal(c.n, 0);
    assert_int_equal(mf_index_list_tasks(ix, "CFlow", 1, NULL, collect_task, &c), 0);
    assert_int_equal(c.n, 0);
    assert_int_equal(mf_index_list_flows(ix, collect_flow, &c), 0);
    assert_int_equal(c.n, 0);
    assert_int_equal(mf_index_new_run_id(ix, "CFlow", 0, &id), 0);
    assert_int_equal(id, 4);
}

static int reader_sees_no_batch(void *arg)
{
    struct fixture *f = arg;
    char path[300];
    snprintf(path, sizeof path, "%s/ix", f->dir);
    mf_index *other = NULL;
    struct mf_run_rec got;
    int code = 0;
    if (mf_index_open(path, &other))
        code = 2;
    else if (mf_index_get_run(other, "BFlow", 10, &got) != MF_ENOTFOUND)
        code = 3;
    mf_index_close(other);
    return code;
}

static void test_batching(void **state)
{
    struct fixture *f = *state;
    mf_index *ix = open_ix(f);
    struct mf_run_rec got;
    int64_t id;
    assert_int_equal(mf_index_commit(ix), MF_EINVAL);
    mf_index_abort(ix); /* no batch: nothing happens */

    /* aborted batch: nothing stays, not even the run id */
    assert_int_equal(mf_index_begin(ix), 0);
    assert_int_equal(mf_index_begin(ix), MF_EINVAL);
    assert_int_equal(mf_index_new_run_id(ix, "BFlow", 0, &id), 0);
    assert_int_equal(id, 1);
    struct mf_run_rec r = make_run("BFlow", 1);
    assert_int_equal(mf_index_put_run(ix, &r), 0);
    assert_int_equal(mf_index_get_run(ix, "BFlow", 1, &got), 0); /* the batch sees itself */
    mf_index_abort(ix);
    assert_int_equal(mf_index_get_run(ix, "BFlow", 1, &got), MF_ENOTFOUND);
    assert_int_equal(mf_index_new_run_id(ix, "BFlow", 0, &id), 0);
    assert_int_equal(id, 1);

    /* a committed batch of many writes */
    assert_int_equal(mf_index_begin(ix), 0);
    for (int64_t k = 1; k <= 50; k++) {
        r = make_run("BFlow", k);
        assert_int_equal(mf_index_put_run(ix, &r), 0);
        struct mf_task_rec t = make_task("BFlow", k, "start", 1);
        assert_int_equal(mf_index_put_task(ix, &t), 0);
    }
    /* another process sees none of it before the commit, and is not blocked */
    assert_int_equal(in_child(reader_sees_no_batch, f), 0);
    assert_int_equal(mf_index_commit(ix), 0);
    assert_int_equal(mf_index_commit(ix), MF_EINVAL);

    reopen(f);
    struct collect c = {0};
    assert_int_equal(mf_index_list_runs(f->ix, "BFlow", collect_run, &c), 0);
    assert_int_equal(c.n, 50);
    assert_int_equal(c.ids[0], 50);
    /* a batch left open at close is rolled back */
    assert_int_equal(mf_index_begin(f->ix), 0);
    r = make_run("BFlow", 51);
    assert_int_equal(mf_index_put_run(f->ix, &r), 0);
    reopen(f);
    assert_int_equal(mf_index_get_run(f->ix, "BFlow", 51, &got), MF_ENOTFOUND);
}

/* A full index: the message says what to do, and a failed batch is rolled back whole. */
static void test_map_full(void **state)
{
    struct fixture *f = *state;
    char path[300];
    snprintf(path, sizeof path, "%s/small", f->dir);
    mf_index *ix = NULL;
    assert_int_equal(mf_index_open_map(path, (size_t)256 << 10, &ix), 0);
    f->ix = ix;
    struct mf_run_rec r = make_run("Keep", 1);
    assert_int_equal(mf_index_put_run(ix, &r), 0);
    assert_int_equal(mf_index_begin(ix), 0);
    int rc = 0;
    int64_t k;
    for (k = 1; k < 100000 && !rc; k++) {
        r = make_run("Full", k);
        memset(r.tags, 't', 1500); /* big records fill the map quickly */
        rc = mf_index_put_run(ix, &r);
    }
    if (rc != ENOSPC)
        print_error("rc %d after %lld runs: %s\n", rc, (long long)k, mf_index_error(ix));
    assert_int_equal(rc, ENOSPC);
    assert_non_null(strstr(mf_index_error(ix), path));
    assert_non_null(strstr(mf_index_error(ix), "the index is full"));
    assert_non_null(strstr(mf_index_error(ix), "run `mflow reindex`"));
    /* the batch is dead: further writes fail, commit reports it, nothing was stored */
    r = make_run("Full", 1);
    assert_int_equal(mf_index_put_run(ix, &r), ENOSPC);
    assert_non_null(strstr(mf_index_error(ix), "rolled back"));
    struct mf_run_rec got;
    assert_int_equal(mf_index_get_run(ix, "Keep", 1, &got), 0); /* reads still work */
    assert_int_equal(mf_index_commit(ix), ENOSPC);
    assert_int_equal(mf_index_get_run(ix, "Full", 1, &got), MF_ENOTFOUND);
    assert_int_equal(mf_index_get_run(ix, "Keep", 1, &got), 0);
    /* and the handle goes on working */
    r = make_run("Keep", 2);
    assert_int_equal(mf_index_put_run(ix, &r), 0);
    assert_int_equal(mf_index_get_run(ix, "Keep", 2, &got), 0);
}

static void test_reopen_persists(void **state)
{
    struct fixture *f = *state;
    mf_index *ix = open_ix(f);
    int64_t id;
    assert_int_equal(mf_index_new_run_id(ix, "PFlow", 0, &id), 0);
    struct mf_run_rec r = make_run("PFlow", id);
    snprintf(r.tags, sizeof r.tags, "keep");
    assert_int_equal(mf_index_put_run(ix, &r), 0);
    struct mf_task_rec t = make_task("PFlow", id, "end", 9);
    assert_int_equal(mf_index_put_task(ix, &t), 0);
    reopen(f);
    struct mf_run_rec got;
    assert_int_equal(mf_index_get_run(f->ix, "PFlow", 1, &got), 0);
    assert_run_equal(&got, &r);
    struct mf_task_rec gt;
    assert_int_equal(mf_index_get_task(f->ix, "PFlow", 1, "end", 9, &gt), 0);
    assert_task_equal(&gt, &t);
    assert_int_equal(mf_index_new_run_id(f->ix, "PFlow", 0, &id), 0);
    assert_int_equal(id, 2);
}

/* A failed open: code, and a message naming the directory and what to do. */
static void expect_open_fails(const char *dir, int code, const char *want)
{
    mf_index *ix = NULL;
    int rc = mf_index_open(dir, &ix);
    const char *msg = mf_index_error(ix);
    if (rc != code || !strstr(msg, want) || !strstr(msg, dir))
        print_error("open %s: %d (wanted %d): %s\n", dir, rc, code, msg);
    assert_int_equal(rc, code);
    assert_non_null(strstr(msg, dir));
    assert_non_null(strstr(msg, want));
    /* the failed handle refuses everything but error and close */
    int64_t id;
    assert_int_equal(mf_index_new_run_id(ix, "F", 0, &id), MF_EINVAL);
    mf_index_close(ix);
}

static void test_foreign_lmdb(void **state)
{
    struct fixture *f = *state;
    char path[300];
    snprintf(path, sizeof path, "%s/other", f->dir);
    mkdir(path, 0755);
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_open(env, path, 0, 0644), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, NULL, 0, &dbi), 0);
    MDB_val k = {5, "hello"}, v = {5, "world"};
    assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    expect_open_fails(path, MF_ECORRUPT, "not an mflow index (it holds a key 'hello')");
    expect_open_fails(path, MF_ECORRUPT, "run `mflow reindex`");

    /* a file that is not lmdb at all */
    snprintf(path, sizeof path, "%s/garbage", f->dir);
    mkdir(path, 0755);
    char file[400];
    snprintf(file, sizeof file, "%s/data.mdb", path);
    FILE *fp = fopen(file, "w");
    assert_non_null(fp);
    for (int i = 0; i < 2000; i++)
        fputs("not an lmdb file ", fp);
    fclose(fp);
    expect_open_fails(path, MF_ECORRUPT, "the index is damaged or not an mflow index");
    expect_open_fails(path, MF_ECORRUPT, "run `mflow reindex`");
}

/* Open the index at path behind its back (flags: 0 or MDB_RDONLY) and begin a transaction on
 * its database db in *dbi; commit or abort it, then close *env. */
static MDB_txn *raw_begin(const char *path, unsigned flags, const char *db, MDB_env **env,
                          MDB_dbi *dbi)
{
    MDB_txn *txn;
    assert_int_equal(mdb_env_create(env), 0);
    assert_int_equal(mdb_env_set_maxdbs(*env, 8), 0);
    /* a small map: room enough, and valgrind cannot map the index's 64 GiB */
    assert_int_equal(mdb_env_set_mapsize(*env, (size_t)1 << 30), 0);
    assert_int_equal(mdb_env_open(*env, path, flags, 0644), 0);
    assert_int_equal(mdb_txn_begin(*env, NULL, flags, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, db, 0, dbi), 0);
    return txn;
}

static void test_wrong_format(void **state)
{
    struct fixture *f = *state;
    mf_index *ix = open_ix(f);
    struct mf_run_rec r = make_run("F", 1);
    assert_int_equal(mf_index_put_run(ix, &r), 0);
    mf_index_close(ix);
    f->ix = NULL;
    char path[300];
    snprintf(path, sizeof path, "%s/ix", f->dir);
    MDB_env *env;
    MDB_dbi dbi;
    MDB_txn *txn = raw_begin(path, 0, "meta", &env, &dbi);
    MDB_val k = {6, "format"}, v = {3, "999"};
    assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    expect_open_fails(path, MF_ECORRUPT,
                      "the index has format '999' but this mflow reads format 3");
    expect_open_fails(path, MF_ECORRUPT, "run `mflow reindex`");
}

/* ---- damage: what lmdb would hand out from a damaged page ------------------------------------ */

/* Change the index's files behind its back: in database `db`, the value of the n-th record
 * (n < 0: the key `key`) gets byte `at` xored with 0x10, or is replaced by `with` when given. */
static void poke(const char *path, const char *db, int n, const char *key, size_t at,
                 const MDB_val *with)
{
    MDB_env *env;
    MDB_dbi dbi;
    MDB_cursor *cur;
    MDB_txn *txn = raw_begin(path, 0, db, &env, &dbi);
    MDB_val k, v;
    if (n < 0) {
        k = (MDB_val){strlen(key), (void *)key};
        assert_int_equal(mdb_get(txn, dbi, &k, &v), 0);
    } else {
        assert_int_equal(mdb_cursor_open(txn, dbi, &cur), 0);
        assert_int_equal(mdb_cursor_get(cur, &k, &v, MDB_FIRST), 0);
        for (int i = 0; i < n; i++)
            assert_int_equal(mdb_cursor_get(cur, &k, &v, MDB_NEXT), 0);
        mdb_cursor_close(cur);
    }
    uint8_t kb[512], vb[8192];
    memcpy(kb, k.mv_data, k.mv_size);
    k.mv_data = kb;
    if (with) {
        v = *with;
    } else {
        memcpy(vb, v.mv_data, v.mv_size);
        vb[at] ^= 0x10;
        v.mv_data = vb;
    }
    assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
    if (strcmp(db, "meta") != 0) {
        /* stamp this commit as the index does, so only the poked record is wrong */
        MDB_dbi meta;
        uint8_t b[8];
        uint64_t id = (uint64_t)mdb_txn_id(txn);
        for (int j = 0; j < 8; j++)
            b[j] = (uint8_t)(id >> (8 * j));
        MDB_val sk = {3, "txn"}, sv = {8, b};
        assert_int_equal(mdb_dbi_open(txn, "meta", 0, &meta), 0);
        assert_int_equal(mdb_put(txn, meta, &sk, &sv, 0), 0);
    }
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

static int count_damaged_run(void *ud, const struct mf_run_rec *r)
{
    (void)r;
    /* a listing's callback runs outside the index: a fault here is not the index's */
    assert_null(mf_index_fault_dir(NULL));
    ++*(int *)ud;
    return 0;
}

static void expect_damaged_at(mf_index *ix, int rc, int line)
{
    if (rc != MF_ECORRUPT || !strstr(mf_index_error(ix), "damaged") ||
        !strstr(mf_index_error(ix), "`mflow reindex`"))
        fail_msg("line %d: expected a damaged index, got %d: %s", line, rc, mf_index_error(ix));
}
#define expect_damaged(ix, rc) expect_damaged_at((ix), (rc), __LINE__)

/* A record whose bytes changed (a digit of a time, a letter of a name, its length) is
 * "damaged", never a wrong answer; so is one out of its database. */
/* The value of the first or last record (op: MDB_FIRST, MDB_LAST) of the index's runs, copied
 * into buf: its size. */
static size_t peek_runs(const char *path, MDB_cursor_op op, uint8_t *buf, size_t cap)
{
    MDB_env *env;
    MDB_dbi dbi;
    MDB_cursor *cur;
    MDB_val k, v;
    MDB_txn *txn = raw_begin(path, MDB_RDONLY, "runs", &env, &dbi);
    assert_int_equal(mdb_cursor_open(txn, dbi, &cur), 0);
    assert_int_equal(mdb_cursor_get(cur, &k, &v, op), 0);
    assert_true(v.mv_size <= cap);
    memcpy(buf, v.mv_data, v.mv_size);
    size_t n = v.mv_size;
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return n;
}

/* Remove the index's files at path: the next open makes a new one. */
static void remove_index(const char *path)
{
    char file[400];
    snprintf(file, sizeof file, "%s/data.mdb", path);
    unlink(file);
    snprintf(file, sizeof file, "%s/lock.mdb", path);
    unlink(file);
}

static void test_damaged_records(void **state)
{
    struct fixture *f = *state;
    char path[300];
    snprintf(path, sizeof path, "%s/ix", f->dir);
    /* byte offsets into a run value: status, pid, start time, a letter of the user, the
     * checksum; into a task value: attempt, end time, a letter of the artifacts */
    const size_t run_at[] = {0, 5, 12, 43, 0};
    const size_t task_at[] = {0, 20, 50};
    for (size_t i = 0; i < sizeof run_at / sizeof run_at[0] + 1; i++) {
        mf_index *ix = open_ix(f);
        struct mf_run_rec r = make_run("DFlow", 1);
        assert_int_equal(mf_index_put_run(ix, &r), 0);
        r = make_run("DFlow", 2);
        assert_int_equal(mf_index_put_run(ix, &r), 0);
        mf_index_close(ix);
        f->ix = NULL;
        if (i < sizeof run_at / sizeof run_at[0] - 1) {
            poke(path, "runs", 1, NULL, run_at[i], NULL);
        } else if (i == sizeof run_at / sizeof run_at[0] - 1) {
            /* the last byte: the checksum itself */
            uint8_t copy[4096];
            poke(path, "runs", 1, NULL, peek_runs(path, MDB_LAST, copy, sizeof copy) - 1, NULL);
        } else {
            /* run 1's record, whole and sealed, under run 2's key */
            uint8_t copy[4096];
            MDB_val with = {peek_runs(path, MDB_FIRST, copy, sizeof copy), copy};
            poke(path, "runs", 1, NULL, 0, &with);
        }
        ix = open_ix(f);
        struct mf_run_rec got;
        expect_damaged(ix, mf_index_get_run(ix, "DFlow", 2, &got));
        int n = 0;
        expect_damaged(ix, mf_index_list_runs(ix, "DFlow", count_damaged_run, &n));
        assert_int_equal(n, 0);   /* run 2 comes first: nothing was handed out */
        expect_damaged(ix, mf_index_check(ix));
        assert_int_equal(mf_index_get_run(ix, "DFlow", 1, &got), 0);   /* the other is fine */
        mf_index_close(ix);
        f->ix = NULL;
        remove_index(path);
    }
    for (size_t i = 0; i < sizeof task_at / sizeof task_at[0]; i++) {
        mf_index *ix = open_ix(f);
        struct mf_task_rec t = make_task("DFlow", 1, "a", 7);
        assert_int_equal(mf_index_put_task(ix, &t), 0);
        mf_index_close(ix);
        f->ix = NULL;
        poke(path, "tasks", 0, NULL, task_at[i], NULL);
        ix = open_ix(f);
        struct mf_task_rec got;
        expect_damaged(ix, mf_index_get_task(ix, "DFlow", 1, "a", 7, &got));
        expect_damaged(ix, mf_index_check(ix));
        mf_index_close(ix);
        f->ix = NULL;
        remove_index(path);
    }
}

/* lmdb serves the newer of its two meta pages; a damaged transaction id there serves an older
 * snapshot. The id each commit records must be the snapshot's. */
static void test_stale_snapshot(void **state)
{
    struct fixture *f = *state;
    mf_index *ix = open_ix(f);
    struct mf_run_rec r = make_run("SFlow", 1);
    assert_int_equal(mf_index_put_run(ix, &r), 0);
    assert_int_equal(mf_index_check(ix), 0);
    mf_index_close(ix);
    f->ix = NULL;
    char path[300];
    snprintf(path, sizeof path, "%s/ix", f->dir);
    const uint64_t ids[] = {1, 12345};
    for (size_t i = 0; i < 2; i++) {
        uint8_t b[8];
        for (int j = 0; j < 8; j++)
            b[j] = (uint8_t)(ids[i] >> (8 * j));
        MDB_val with = {8, b};
        poke(path, "meta", -1, "txn", 0, &with);
        mf_index *bad = NULL;
        int rc = mf_index_open(path, &bad);
        expect_damaged(bad, rc);
        assert_non_null(strstr(mf_index_error(bad), "meta page"));
        mf_index_close(bad);
    }
}

/* Permission checks, run as an ordinary user: returns 0 or the number of the failed check. */
static int permission_checks(const char *base)
{
    char parent[300], path[320], file[400];
    snprintf(parent, sizeof parent, "%s/locked", base);
    if (mkdir(parent, 0500))
        return 1;
    snprintf(path, sizeof path, "%s/ix", parent);
    mf_index *ix = NULL;
    int rc = mf_index_open(path, &ix);
    fprintf(stderr, "  (as uid %u: %s)\n", (unsigned)geteuid(), mf_index_error(ix));
    int bad = rc != EACCES || !strstr(mf_index_error(ix), "permission denied") ||
              !strstr(mf_index_error(ix), parent);
    mf_index_close(ix);
    if (bad)
        return 2;
    /* an index whose files we cannot write */
    chmod(parent, 0700);
    if (mf_index_open(path, &ix))
        return 3;
    mf_index_close(ix);
    snprintf(file, sizeof file, "%s/lock.mdb", path);
    chmod(file, 0400);
    snprintf(file, sizeof file, "%s/data.mdb", path);
    chmod(file, 0400);
    rc = mf_index_open(path, &ix);
    fprintf(stderr, "  (as uid %u: %s)\n", (unsigned)geteuid(), mf_index_error(ix));
    bad = rc != EACCES || !strstr(mf_index_error(ix), "permission denied");
    mf_index_close(ix);
    return bad ? 4 : 0;
}

static int as_nobody(void *arg)
{
    const char *dir = arg;
    char base[300], rootix[300];
    snprintf(base, sizeof base, "%s/nobody", dir);
    snprintf(rootix, sizeof rootix, "%s/rootix", dir);
    if (setgid(65534) || setuid(65534))
        return 90;
    int code = permission_checks(base);
    if (code)
        return code;
    mf_index *ix = NULL;
    int rc = mf_index_open(rootix, &ix);
    fprintf(stderr, "  (as uid %u: %s)\n", (unsigned)geteuid(), mf_index_error(ix));
    if (rc != EACCES || !strstr(mf_index_error(ix), "lock.mdb belongs to user") ||
        !strstr(mf_index_error(ix), "uid 0"))
        code = 10;
    mf_index_close(ix);
    return code;
}

static void test_permission_denied(void **state)
{
    struct fixture *f = *state;
    if (geteuid() != 0) {
        assert_int_equal(permission_checks(f->dir), 0);
        return;
    }
    /* root passes every permission check: run them as nobody, on a directory of its own */
    char base[300];
    snprintf(base, sizeof base, "%s/nobody", f->dir);
    assert_int_equal(mkdir(base, 0755), 0);
    assert_int_equal(chown(base, 65534, 65534), 0);
    assert_int_equal(chmod(f->dir, 0755), 0);
    /* and an index of root's that nobody may not write: the lock file of another user */
    char rootix[300];
    snprintf(rootix, sizeof rootix, "%s/rootix", f->dir);
    mf_index *ix = NULL;
    assert_int_equal(mf_index_open(rootix, &ix), 0);
    mf_index_close(ix);
    /* the index directory is created private (0700); opened up, its files are still root's */
    assert_int_equal(chmod(rootix, 0755), 0);
    assert_int_equal(in_child(as_nobody, f->dir), 0);
}

static int count_run(void *ud, const struct mf_run_rec *r)
{
    (void)r;
    (*(size_t *)ud)++;
    return 0;
}

static int count_task(void *ud, const struct mf_task_rec *t)
{
    (void)t;
    (*(size_t *)ud)++;
    return 0;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Printed, not asserted: `mflow runs` over 10,000 runs needs to stay well under 50 ms. */
static void test_speed(void **state)
{
    struct fixture *f = *state;
    mf_index *ix = open_ix(f);
    const size_t n = 10000;
    double t0 = now();
    assert_int_equal(mf_index_begin(ix), 0);
    for (size_t k = 1; k <= n; k++) {
        int64_t id;
        assert_int_equal(mf_index_new_run_id(ix, "SpeedFlow", 0, &id), 0);
        struct mf_run_rec r = make_run("SpeedFlow", id);
        assert_int_equal(mf_index_put_run(ix, &r), 0);
        struct mf_task_rec t = make_task("SpeedFlow", 1, k % 2 ? "a" : "b", (int64_t)k);
        assert_int_equal(mf_index_put_task(ix, &t), 0);
    }
    assert_int_equal(mf_index_commit(ix), 0);
    double t1 = now();
    mf_index_close(ix);
    f->ix = NULL;

    double t2 = now();
    open_ix(f);
    size_t count = 0;
    assert_int_equal(mf_index_list_runs(f->ix, "SpeedFlow", count_run, &count), 0);
    double t3 = now();
    assert_int_equal(count, n);
    size_t tcount = 0;
    assert_int_equal(mf_index_list_tasks(f->ix, "SpeedFlow", 1, NULL, count_task, &tcount), 0);
    double t4 = now();
    assert_int_equal(tcount, n);
    print_message("[  SPEED   ] %zu runs + %zu tasks written in one batch: %.1f ms\n", n, n,
                  (t1 - t0) * 1e3);
    print_message("[  SPEED   ] open + list %zu runs: %.2f ms (budget 50 ms for the command)\n",
                  n, (t3 - t2) * 1e3);
    print_message("[  SPEED   ] list a %zu-task run: %.2f ms (budget 200 ms)\n", n,
                  (t4 - t3) * 1e3);
    /* one write each outside a batch: every one commits (and syncs) on its own */
    double t5 = now();
    for (int k = 0; k < 20; k++) {
        struct mf_run_rec r = make_run("Single", k + 1);
        assert_int_equal(mf_index_put_run(f->ix, &r), 0);
    }
    print_message("[  SPEED   ] unbatched put_run: %.2f ms each\n", (now() - t5) * 1e3 / 20);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_names),
        cmocka_unit_test_setup_teardown(test_run_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_runs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tags, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tasks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clear_keeps_counters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batching, setup, teardown),
        cmocka_unit_test_setup_teardown(test_map_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_persists, setup, teardown),
        cmocka_unit_test_setup_teardown(test_foreign_lmdb, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_format, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged_records, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_snapshot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_permission_denied, setup, teardown),
        cmocka_unit_test_setup_teardown(test_speed, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
