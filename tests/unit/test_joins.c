/* Unit tests of join arrival bookkeeping (core/src/joins.c): a join is ready exactly when
 * the last input of its split arrives, in whatever order they come, with its input list in
 * position order; duplicates and positions outside the split are refused with nothing
 * changed. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mflow/plugin.h>

#include "joins.h"
#include "util.h"

static const char *const names[] = {"start", "a", "b", "c", "body", "inner", "join", "outer"};
enum { START, A, B, C, BODY, INNER, JOIN, OUTER };

static const char *name_of(void *ud, int s)
{
    (*(int *)ud)++;   /* counts the calls: names are asked only when a join is ready */
    return names[s];
}

static mf_joins *make(int *calls)
{
    mf_joins *j = NULL;
    assert_int_equal(mf_joins_create(name_of, calls, &j), 0);
    assert_non_null(j);
    assert_int_equal(mf_joins_waiting(j), 0);
    return j;
}

static int arrive(mf_joins *j, int64_t split, int join, uint32_t index, uint32_t count,
                  int step, int64_t task, uint32_t att, char **in)
{
    struct mf_join_arrival a = {.split_task = split, .join_step = join, .index = index,
                                .count = count, .step = step, .task = task, .attempt = att};
    return mf_joins_arrive(j, &a, in);
}

static void expect_waiting(mf_joins *j, size_t i, int64_t split, int join, uint32_t got,
                           uint32_t count)
{
    struct mf_join_waiting w;
    mf_joins_get(j, i, &w);
    assert_int_equal(w.split_task, split);
    assert_int_equal(w.join_step, join);
    assert_int_equal(w.got, got);
    assert_int_equal(w.count, count);
}

/* Every order of four foreach inputs gives the same ready list, on the last arrival. */
static void test_any_order(void **state)
{
    (void)state;
    static const int perms[][4] = {{0, 1, 2, 3}, {3, 2, 1, 0}, {2, 0, 3, 1}, {1, 3, 0, 2}};
    for (size_t p = 0; p < sizeof perms / sizeof perms[0]; p++) {
        int calls = 0;
        mf_joins *j = make(&calls);
        char *in = NULL;
        for (int k = 0; k < 4; k++) {
            int i = perms[p][k];
            int rc = arrive(j, 1, JOIN, (uint32_t)i, 4, BODY, 2 + i, 0, &in);
            if (k < 3) {
                assert_int_equal(rc, 0);
                assert_null(in);
                assert_int_equal(mf_joins_waiting(j), 1);
                expect_waiting(j, 0, 1, JOIN, (uint32_t)k + 1, 4);
            } else {
                assert_int_equal(rc, 1);
            }
        }
        assert_string_equal(in, "body/2-5");
        assert_int_equal(mf_joins_waiting(j), 0);
        assert_true(calls > 0);
        free(in);
        mf_joins_destroy(j);
    }
}

/* A position that arrived already is refused, the join keeps its first input. */
static void test_duplicates_refused(void **state)
{
    (void)state;
    int calls = 0;
    mf_joins *j = make(&calls);
    char *in = NULL;
    assert_int_equal(arrive(j, 1, JOIN, 1, 3, BODY, 3, 0, &in), 0);
    assert_int_equal(arrive(j, 1, JOIN, 1, 3, BODY, 3, 0, &in), MF_EEXIST);       /* again */
    assert_int_equal(arrive(j, 1, JOIN, 1, 3, BODY, 9, 2, &in), MF_EEXIST);       /* other task */
    assert_null(in);
    expect_waiting(j, 0, 1, JOIN, 1, 3);
    assert_int_equal(arrive(j, 1, JOIN, 0, 3, BODY, 2, 0, &in), 0);
    assert_int_equal(arrive(j, 1, JOIN, 0, 3, BODY, 2, 0, &in), MF_EEXIST);
    expect_waiting(j, 0, 1, JOIN, 2, 3);
    assert_int_equal(calls, 0);
    assert_int_equal(arrive(j, 1, JOIN, 2, 3, BODY, 4, 0, &in), 1);
    assert_string_equal(in, "body/2-4");
    free(in);
    /* after the join is ready, the split is no longer waited on: a late duplicate opens a
     * new wait rather than queueing the join twice */
    assert_int_equal(arrive(j, 1, JOIN, 2, 3, BODY, 4, 0, &in), 0);
    assert_null(in);
    expect_waiting(j, 0, 1, JOIN, 1, 3);
    mf_joins_destroy(j);
}

/* Positions past the split, a count or join that changed, a bad task id: refused, nothing
 * changed. */
static void test_refused(void **state)
{
    (void)state;
    int calls = 0;
    mf_joins *j = make(&calls);
    char *in = NULL;
    assert_int_equal(arrive(j, 1, JOIN, 3, 3, BODY, 5, 0, &in), MF_ECORRUPT);
    assert_int_equal(arrive(j, 1, JOIN, 0, 0, BODY, 5, 0, &in), MF_ECORRUPT);
    assert_int_equal(arrive(j, 1, JOIN, 0, 3, BODY, 0, 0, &in), MF_EINVAL);
    assert_int_equal(mf_joins_waiting(j), 0);   /* nothing made by a refused arrival */
    assert_int_equal(arrive(j, 1, JOIN, 0, 3, BODY, 2, 0, &in), 0);
    assert_int_equal(arrive(j, 1, JOIN, 1, 4, BODY, 3, 0, &in), MF_ECORRUPT);   /* count */
    assert_int_equal(arrive(j, 1, OUTER, 1, 3, BODY, 3, 0, &in), MF_ECORRUPT);  /* join */
    assert_int_equal(arrive(j, 1, JOIN, 5, 3, BODY, 3, 0, &in), MF_ECORRUPT);
    assert_null(in);
    assert_int_equal(mf_joins_waiting(j), 1);
    expect_waiting(j, 0, 1, JOIN, 1, 3);
    mf_joins_destroy(j);
    mf_joins_destroy(NULL);
}

/* A branch join: one input per branch step, each its own path. Attempts are written. */
static void test_branch_join(void **state)
{
    (void)state;
    int calls = 0;
    mf_joins *j = make(&calls);
    char *in = NULL;
    assert_int_equal(arrive(j, 1, JOIN, 2, 3, C, 4, 0, &in), 0);
    assert_int_equal(arrive(j, 1, JOIN, 0, 3, A, 2, 1, &in), 0);
    assert_int_equal(arrive(j, 1, JOIN, 1, 3, B, 3, 0, &in), 1);
    assert_string_equal(in, "a/2@1,b/3,c/4");
    free(in);
    /* consecutive ids of different steps are no range */
    assert_int_equal(arrive(j, 7, JOIN, 0, 2, A, 8, 0, &in), 0);
    assert_int_equal(arrive(j, 7, JOIN, 1, 2, B, 9, 0, &in), 1);
    assert_string_equal(in, "a/8,b/9");
    free(in);
    mf_joins_destroy(j);
}

/* Nested foreach: the inner joins of each outer item wait apart, keyed by their own split
 * task, and the outer join waits on the outer split meanwhile. */
static void test_nested_foreach(void **state)
{
    (void)state;
    int calls = 0;
    mf_joins *j = make(&calls);
    char *in = NULL;
    /* outer split task 1 fans out to body 2, 3; each fans out to inner tasks */
    assert_int_equal(arrive(j, 2, JOIN, 0, 2, INNER, 4, 0, &in), 0);
    assert_int_equal(arrive(j, 3, JOIN, 1, 2, INNER, 7, 0, &in), 0);
    assert_int_equal(arrive(j, 3, JOIN, 0, 2, INNER, 6, 0, &in), 1);
    assert_string_equal(in, "inner/6-7");
    free(in);
    assert_int_equal(mf_joins_waiting(j), 1);
    expect_waiting(j, 0, 2, JOIN, 1, 2);
    /* the inner join of item 1 reaches the outer join before item 0's has */
    assert_int_equal(arrive(j, 1, OUTER, 1, 2, JOIN, 8, 0, &in), 0);
    assert_int_equal(mf_joins_waiting(j), 2);
    assert_int_equal(arrive(j, 2, JOIN, 1, 2, INNER, 5, 2, &in), 1);
    assert_string_equal(in, "inner/4,inner/5@2");
    free(in);
    assert_int_equal(mf_joins_waiting(j), 1);
    expect_waiting(j, 0, 1, OUTER, 1, 2);
    assert_int_equal(arrive(j, 1, OUTER, 0, 2, JOIN, 9, 0, &in), 1);
    assert_string_equal(in, "join/9,join/8");   /* position order, not arrival order */
    free(in);
    assert_int_equal(mf_joins_waiting(j), 0);
    mf_joins_destroy(j);
}

/* Large splits: 100,000 inputs in reverse, as one range; with every 1000th retried, the
 * ranges break around each retry; many joins waiting at once. */
static void test_large(void **state)
{
    (void)state;
    enum { N = 100000 };
    int calls = 0;
    mf_joins *j = make(&calls);
    char *in = NULL;
    for (uint32_t i = N; i-- > 0;)
        assert_int_equal(arrive(j, 1, JOIN, i, N, BODY, 2 + i, 0, &in), i == 0 ? 1 : 0);
    assert_string_equal(in, "body/2-100001");
    free(in);

    for (uint32_t i = 0; i < N; i++)
        assert_int_equal(arrive(j, 1, JOIN, i, N, BODY, 2 + i, i % 1000 == 999 ? 1 : 0, &in),
                         i == N - 1 ? 1 : 0);
    struct mf_sbuf want = {0};
    for (uint32_t k = 0; k < N / 1000; k++)
        mf_sbuf_addf(&want, "%sbody/%u-%u,body/%u@1", k ? "," : "", 2 + k * 1000,
                     2 + k * 1000 + 998, 2 + k * 1000 + 999);
    assert_false(want.oom);
    assert_string_equal(in, want.data);
    mf_sbuf_free(&want);
    free(in);

    /* 1000 splits of 3, all waiting, then completed from the last to the first */
    for (int64_t s = 1; s <= 1000; s++)
        for (uint32_t i = 0; i < 2; i++)
            assert_int_equal(arrive(j, s * 10, JOIN, i, 3, BODY, s * 10 + 1 + i, 0, &in), 0);
    assert_int_equal(mf_joins_waiting(j), 1000);
    for (int64_t s = 1000; s >= 1; s--) {
        assert_int_equal(arrive(j, s * 10, JOIN, 2, 3, BODY, s * 10 + 3, 0, &in), 1);
        char want1[64];
        snprintf(want1, sizeof want1, "body/%lld-%lld", (long long)(s * 10 + 1),
                 (long long)(s * 10 + 3));
        assert_string_equal(in, want1);
        free(in);
        assert_int_equal(mf_joins_waiting(j), (size_t)s - 1);
    }
    mf_joins_destroy(j);
}

/* Destroying a table with joins still waiting frees them (run under valgrind/ASan). */
static void test_destroy_waiting(void **state)
{
    (void)state;
    int calls = 0;
    mf_joins *j = make(&calls);
    char *in = NULL;
    for (int64_t s = 1; s <= 50; s++)
        assert_int_equal(arrive(j, s, JOIN, 0, 5, BODY, 100 + s, 0, &in), 0);
    assert_int_equal(mf_joins_waiting(j), 50);
    mf_joins_destroy(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_any_order),
        cmocka_unit_test(test_duplicates_refused),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_branch_join),
        cmocka_unit_test(test_nested_foreach),
        cmocka_unit_test(test_large),
        cmocka_unit_test(test_destroy_waiting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
