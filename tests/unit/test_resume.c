/* Unit tests of resume (core/src/resume.c): which run a resume starts from (the latest run
 * of the namespace that has a run record; an explicit id), and the origin map by position.
 * The fixture is a local datastore and an index in a temporary MFLOW_HOME, written through
 * record.h and index.h the way the runtime writes them. */
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

#include <mflow/plugin.h>

#include "host.h"
#include "index.h"
#include "record.h"
#include "resume.h"
#include "store.h"
#include "util.h"

static char home[512];
static struct mf_store st;
static mf_index *ix;

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* A run of `flow` in namespace ns: in the index always, in the datastore when recorded (a
 * run without a record is what early set-up failures left in older versions). */
static int add_run(const char *flow, int64_t id, const char *ns, int recorded, double alpha_size)
{
    struct mf_run_rec r;
    memset(&r, 0, sizeof r);
    snprintf(r.flow, sizeof r.flow, "%s", flow);
    r.run_id = id;
    r.status = MF_STATUS_FAILED;
    r.pid = 1;
    snprintf(r.user, sizeof r.user, "tester");
    snprintf(r.ns, sizeof r.ns, "%s", ns);
    snprintf(r.host, sizeof r.host, "here");
    r.start_time = mf_now() - 100 + (double)id;
    r.end_time = r.start_time + 1;
    int rc = 0;
    if (recorded) {
        struct mf_task_record params;
        mf_task_record_init(&params);
        rc = mf_record_set_art(&params, "alpha", MF_F64,
                               "0000000000000000000000000000000000000000000000000000000000000000",
                               (uint64_t)alpha_size);
        if (!rc)
            rc = mf_run_record_write(&st, &r, &params);
        mf_task_record_free(&params);
    }
    int64_t got = 0;
    if (!rc)
        rc = mf_index_new_run_id(ix, flow, id, &got);
    if (!rc)
        rc = mf_index_put_run(ix, &r);
    return rc;
}

static int group_setup(void **state)
{
    (void)state;
    const char *tmp = getenv("TMPDIR");
    snprintf(home, sizeof home, "%s/mf-resume-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(home))
        return -1;
    unsetenv("MFLOW_NAMESPACE");
    unsetenv("MFLOW_DATASTORE_ROOT");
    unsetenv("MFLOW_STORAGE");
    struct mf_host_opts o;
    memset(&o, 0, sizeof o);
    o.home = home;
    char *err = NULL;
    if (mf_host_init(&o) || mf_store_open(&st, &err)) {
        fprintf(stderr, "set-up: %s\n", err ? err : "host");
        free(err);
        return -1;
    }
    char *dir = mf_strf("%s/index", home);
    int rc = dir ? mf_index_open(dir, &ix) : MF_ENOMEM;
    free(dir);
    if (rc) {
        fprintf(stderr, "index: %s\n", mf_index_error(ix));
        return -1;
    }
    /* ManyFlow: 1..3 in user:a, 4 in user:a without a record (a phantom), 5 in user:b,
     * 6 in user:a again (the one being set up in some tests). */
    rc = add_run("ManyFlow", 1, "user:a", 1, 1);
    if (!rc)
        rc = add_run("ManyFlow", 2, "user:a", 1, 2);
    if (!rc)
        rc = add_run("ManyFlow", 3, "user:a", 1, 3);
    if (!rc)
        rc = add_run("ManyFlow", 4, "user:a", 0, 0);
    if (!rc)
        rc = add_run("ManyFlow", 5, "user:b", 1, 5);
    if (!rc)
        rc = add_run("ManyFlow", 6, "user:a", 1, 6);
    /* PhantomFlow: only a run without a record. OtherFlow: one run in user:b. */
    if (!rc)
        rc = add_run("PhantomFlow", 1, "user:a", 0, 0);
    if (!rc)
        rc = add_run("OtherFlow", 1, "user:b", 1, 1);
    if (rc)
        fprintf(stderr, "fixture: %d %s\n", rc, mf_index_error(ix));
    return rc ? -1 : 0;
}

static int group_teardown(void **state)
{
    (void)state;
    mf_index_close(ix);
    mf_store_close(&st);
    mf_host_fini();
    if (home[0] && !getenv("MFLOW_TEST_KEEP"))
        nftw(home, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

static int64_t pick_ok(const char *flow, const char *ns, int64_t self)
{
    int64_t origin = -1;
    char *err = NULL;
    int rc = mf_resume_pick_origin(ix, &st, flow, ns, self, &origin, &err);
    if (rc)
        print_error("pick %s in '%s': %d %s\n", flow, ns, rc, err ? err : "(no message)");
    assert_int_equal(rc, 0);
    assert_null(err);
    return origin;
}

static void pick_fails(const char *flow, const char *ns, int64_t self, const char *want)
{
    int64_t origin = -1;
    char *err = NULL;
    assert_int_equal(mf_resume_pick_origin(ix, &st, flow, ns, self, &origin, &err),
                     MF_ENOTFOUND);
    assert_int_equal(origin, -1);
    assert_non_null(err);
    assert_string_equal(err, want);
    free(err);
}

/* The latest run of the namespace; the run being set up is never its own origin. */
static void test_pick_latest(void **state)
{
    (void)state;
    assert_int_equal(pick_ok("ManyFlow", "user:a", 7), 6);
    assert_int_equal(pick_ok("ManyFlow", "user:a", 6), 3);   /* 5: user:b, 4: phantom */
    assert_int_equal(pick_ok("ManyFlow", "user:b", 7), 5);
    assert_int_equal(pick_ok("OtherFlow", "user:b", 2), 1);
}

/* A run the index lists without a run record is passed over, in any namespace. */
static void test_pick_skips_phantom(void **state)
{
    (void)state;
    /* "" is every namespace: 6 is the latest, 5 (user:b) the one before it */
    assert_int_equal(pick_ok("ManyFlow", "", 7), 6);
    assert_int_equal(pick_ok("ManyFlow", "", 6), 5);
    /* in user:a, the phantom 4 is passed over for 3 */
    assert_int_equal(pick_ok("ManyFlow", "user:a", 6), 3);
    /* a flow whose only run is a phantom has no origin */
    pick_fails("PhantomFlow", "user:a", 2,
               "no earlier run of PhantomFlow in namespace 'user:a' to resume (see `mflow runs "
               "PhantomFlow`, or give --origin-run-id)");
    pick_fails("PhantomFlow", "", 2,
               "no earlier run of PhantomFlow in namespace '' to resume (see `mflow runs "
               "PhantomFlow`, or give --origin-run-id)");
}

/* Runs of other namespaces, other flows, or none at all are no origin. */
static void test_pick_other_namespace(void **state)
{
    (void)state;
    pick_fails("OtherFlow", "user:a", 2,
               "no earlier run of OtherFlow in namespace 'user:a' to resume (see `mflow runs "
               "OtherFlow`, or give --origin-run-id)");
    pick_fails("ManyFlow", "user:c", 7,
               "no earlier run of ManyFlow in namespace 'user:c' to resume (see `mflow runs "
               "ManyFlow`, or give --origin-run-id)");
    pick_fails("NoFlow", "user:a", 1,
               "no earlier run of NoFlow in namespace 'user:a' to resume (see `mflow runs "
               "NoFlow`, or give --origin-run-id)");
    /* the only run of the namespace is the one being set up */
    pick_fails("OtherFlow", "user:b", 1,
               "no earlier run of OtherFlow in namespace 'user:b' to resume (see `mflow runs "
               "OtherFlow`, or give --origin-run-id)");
}

/* An explicit origin is read as given (any namespace); a missing one says so. */
static void test_read_origin(void **state)
{
    (void)state;
    struct {
        int64_t id;
        uint64_t alpha_size;   /* tells the runs' parameters apart */
        const char *ns;
    } ok[] = {{1, 1, "user:a"}, {3, 3, "user:a"}, {5, 5, "user:b"}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        struct mf_run_rec r;
        struct mf_task_record params;
        mf_task_record_init(&params);
        char *err = NULL;
        assert_int_equal(mf_resume_read_origin(&st, "ManyFlow", ok[i].id, &r, &params, &err), 0);
        assert_null(err);
        assert_int_equal(r.run_id, ok[i].id);
        assert_string_equal(r.ns, ok[i].ns);
        assert_int_equal(params.n_arts, 1);
        assert_string_equal(params.arts[0].name, "alpha");
        assert_int_equal(params.arts[0].size, ok[i].alpha_size);
        mf_task_record_free(&params);
    }
    struct {
        const char *flow;
        int64_t id;
    } missing[] = {{"ManyFlow", 99}, {"ManyFlow", 4}, {"PhantomFlow", 1}, {"NoFlow", 1}};
    for (size_t i = 0; i < sizeof missing / sizeof missing[0]; i++) {
        struct mf_run_rec r;
        struct mf_task_record params;
        mf_task_record_init(&params);
        char *err = NULL;
        assert_int_equal(mf_resume_read_origin(&st, missing[i].flow, missing[i].id, &r, &params,
                                               &err),
                         MF_ENOTFOUND);
        char want[200];
        snprintf(want, sizeof want,
                 "cannot read run %s/%lld to resume it: no such run (see `mflow runs`)",
                 missing[i].flow, (long long)missing[i].id);
        assert_non_null(err);
        assert_string_equal(err, want);
        free(err);
        mf_task_record_free(&params);
    }
}

/* The origin map: every task found by its position, nothing else; growth keeps them all. */
static void test_origin_map(void **state)
{
    (void)state;
    mf_origin_map *m = NULL;
    assert_null(mf_origin_map_find(NULL, "start|"));
    assert_int_equal(mf_origin_map_size(NULL), 0);
    assert_int_equal(mf_origin_map_create(42, &m), 0);
    assert_int_equal(mf_origin_map_run(m), 42);
    assert_null(mf_origin_map_find(m, "start|"));
    enum { N = 5000 };
    for (int i = 0; i < N; i++) {
        char *pos = mf_strf("body|1:%d", i);
        assert_non_null(pos);
        assert_int_equal(mf_origin_map_add(m, pos, i % 2 ? "body" : "other", 2 + i,
                                           (uint32_t)(i % 3)),
                         0);
    }
    assert_int_equal(mf_origin_map_size(m), N);
    for (int i = 0; i < N; i++) {
        char pos[64];
        snprintf(pos, sizeof pos, "body|1:%d", i);
        const struct mf_origin_task *t = mf_origin_map_find(m, pos);
        assert_non_null(t);
        assert_string_equal(t->pos, pos);
        assert_string_equal(t->step, i % 2 ? "body" : "other");
        assert_int_equal(t->task, 2 + i);
        assert_int_equal(t->attempt, (uint32_t)(i % 3));
    }
    assert_null(mf_origin_map_find(m, "body|1:5000"));
    assert_null(mf_origin_map_find(m, "body|1:"));
    assert_null(mf_origin_map_find(m, "body|2:0"));
    mf_origin_map_destroy(m);
    mf_origin_map_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pick_latest),
        cmocka_unit_test(test_pick_skips_phantom),
        cmocka_unit_test(test_pick_other_namespace),
        cmocka_unit_test(test_read_origin),
        cmocka_unit_test(test_origin_map),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
