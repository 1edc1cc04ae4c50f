/* Unit tests of the step graph (core/src/graph.c): every shape a flow can take validates with
 * the right split structure, every mistake gets its message, and the renderings hold the
 * graph. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mflow/plugin.h>

#include "graph.h"

static void fn(mf_task *t)
{
    (void)t;
}

#define N(arr) (sizeof(arr) / sizeof((arr)[0]))

static mf_flow_def make_def(const char *name, const mf_step_def *steps, size_t n,
                            const mf_param_def *params, size_t np)
{
    mf_flow_def d = {sizeof(mf_flow_def), MF_FLOW_ABI_VERSION, name, steps, n, params, np,
                     MF_FLOW_ABI_MINOR, sizeof(mf_step_def), sizeof(mf_param_def), NULL, 0, 0};
    return d;
}

/* Build a flow that must validate; returns the graph (caller destroys). */
static mf_graph *build_ok(const mf_step_def *steps, size_t n, const mf_param_def *params,
                          size_t np, mf_flow_def *def)
{
    *def = make_def("TestFlow", steps, n, params, np);
    mf_graph *g = NULL;
    char *err = NULL;
    int rc = mf_graph_build(def, &g, &err);
    if (rc)
        print_error("unexpected failure %d: %s\n", rc, err ? err : "(no message)");
    assert_int_equal(rc, 0);
    assert_null(err);
    assert_non_null(g);
    assert_int_equal(g->n, n);
    return g;
}

/* Build a flow that must fail with a message containing `want` after the flow prefix. */
static void expect_error(const mf_step_def *steps, size_t n, const mf_param_def *params,
                         size_t np, const char *want)
{
    mf_flow_def def = make_def("TestFlow", steps, n, params, np);
    mf_graph *g = (mf_graph *)0x1;
    char *err = NULL;
    int rc = mf_graph_build(&def, &g, &err);
    assert_int_equal(rc, MF_EINVAL);
    assert_null(g);
    assert_non_null(err);
    if (strncmp(err, "flow TestFlow: ", 15) || !strstr(err, want))
        print_error("message: %s\nwanted:  %s\n", err, want);
    assert_int_equal(strncmp(err, "flow TestFlow: ", 15), 0);
    assert_non_null(strstr(err, want));
    free(err);
}

static const struct mf_graph_step *step(const mf_graph *g, const char *name)
{
    int k = mf_graph_find(g, name);
    if (k < 0)
        print_error("no step %s\n", name);
    assert_true(k >= 0);
    return &g->steps[k];
}

static void assert_split(const mf_graph *g, const char *split, const char *join)
{
    int s = mf_graph_find(g, split), j = mf_graph_find(g, join);
    assert_true(s >= 0 && j >= 0);
    assert_int_equal(g->steps[s].join_of, j);
    assert_int_equal(g->steps[j].split_of, s);
}

static void assert_depth(const mf_graph *g, const char *name, int depth)
{
    const struct mf_graph_step *s = step(g, name);
    if (s->depth != depth)
        print_error("step %s: depth %d, wanted %d\n", name, s->depth, depth);
    assert_int_equal(s->depth, depth);
}

/* ---- shapes that validate ------------------------------------------------------------------ */

static void test_linear(void **state)
{
    (void)state;
    static const mf_step_def steps[] = {
        {.name = "start", .fn = fn, .next = "a"},
        {.name = "a", .fn = fn, .next = "end"},
        {.name = "end", .fn = fn},
    };
    mf_flow_def def;
    mf_graph *g = build_ok(steps, N(steps), NULL, 0, &def);
    assert_int_equal(g->start, 0);
    assert_int_equal(g->end, 2);
    assert_int_equal(step(g, "start")->type, MF_STEP_LINEAR);
    assert_int_equal(step(g, "end")->type, MF_STEP_END);
    assert_int_equal(step(g, "a")->n_prev, 1);
    assert_int_equal(step(g, "a")->prev[0], 0);
    assert_int_equal(step(g, "a")->next[0], 2);
    for (size_t k = 0; k < g->n; k++) {
        assert_int_equal(g->steps[k].depth, 0);
        assert_int_equal(g->steps[k].split_of, -1);
        assert_int_equal(g->steps[k].join_of, -1);
    }
    assert_int_equal(mf_graph_find(g, "nope"), -1);
    mf_graph_destroy(g);
    mf_graph_destroy(NULL);
}

static void test_branch2(void **state)
{
    (void)state;
    static const mf_step_def steps[] = {
        {.name = "start", .fn = fn, .next = "a b"},
        {.name = "a", .fn = fn, .next = "join"},
        {.name = "b", .fn = fn, .next = "join"},
        {.name = "join", .fn = fn, .next = "end", .join = 1},
        {.name = "end", .fn = fn},
    };
    mf_flow_def def;
    mf_graph *g = build_ok(steps, N(steps), NULL, 0, &def);
    assert_int_equal(step(g, "start")->type, MF_STEP_BRANCH);
    assert_int_equal(step(g, "start")->n_next, 2);
    assert_int_equal(step(g, "join")->is_join, 1);
    assert_int_equal(step(g, "join")->n_prev, 2);
    assert_split(g, "start", "join");
    assert_depth(g, "start", 0);
    assert_depth(g, "a", 1);
    assert_depth(g, "b", 1);
    assert_depth(g, "join", 0);
    assert_depth(g, "end", 0);
    mf_graph_destroy(g);
}

static void test_branch3(void **state)
{
    (void)state;
    static const mf_step_def steps[] = {
        {.name = "start", .fn = fn, .next = "a  b\tc"},
        {.name = "a", .fn = fn, .next = "j"},
        {.name = "b", .fn = fn, .next = "b2"},
        {.name = "b2", .fn = fn, .next = "j"},
        {.name = "c", .fn = fn, .next = "j"},
        {.name = "j", .fn = fn, .next = "end", .join = 1},
        {.name = "end", .fn = fn},
    };
    mf_flow_def def;
    mf_graph *g = build_ok(steps, N(steps), NULL, 0, &def);
    assert_int_equal(step(g, "start")->n_next, 3);
    assert_int_equal(step(g, "j")->n_prev, 3);
    assert_split(g, "start", "j");
    assert_depth(g, "b2", 1);
    assert_depth(g, "j", 0);
    mf_graph_destroy(g);
}

static void test_nested_branches(void **state)
{
    (void)state;
    static const mf_step_def steps[] = {
        {.name = "start", .fn = fn, .next = "a b"},
        {.name = "a", .fn = fn, .next = "a1 a2"},
        {.name = "a1", .fn = fn, .next = "ja"},
        {.name = "a2", .fn = fn, .next = "ja"},
        {.name = "ja", .fn = fn, .next = "after_a", .join = 1},
        {.name = "after_a", .fn = fn, .next = "j"},
        {.name = "b", .fn = fn, .next = "b1 b2 b3"},
        {.name = "b1", .fn = fn, .next = "jb"},
        {.name = "b2", .fn = fn, .next = "jb"},
        {.name = "b3", .fn = fn, .next = "jb"},
        {.name = "jb", .fn = fn, .next = "j", .join = 1},
        {.name = "j", .fn = fn, .next = "end", .join = 1},
        {.name = "end", .fn = fn},
    };
    mf_flow_def def;
    mf_graph *g = build_ok(steps, N(steps), NULL, 0, &def);
    assert_split(g, "start", "j");
    assert_split(g, "a", "ja");
    assert_split(g, "b", "jb");
    assert_depth(g, "a", 1);
    assert_depth(g, "a1", 2);
    assert_depth(g, "ja", 1);
    assert_depth(g, "after_a", 1);
    assert_depth(g, "b3", 2);
    assert_depth(g, "jb", 1);
    assert_depth(g, "j", 0);
    mf_graph_destroy(g);
}

static void test_foreach(void **state)
{
    (void)state;
    static const mf_step_def steps[] = {
        {.name = "start", .fn = fn, .next = "body", .foreach = "items"},
        {.name = "body", .fn = fn, .next = "body2"},
        {.name = "body2", .fn = fn, .next = "join"},
        {.name = "join", .fn = fn, .next = "end", .join = 1},
        {.name = "end", .fn = fn},
    };
    mf_flow_def def;
    mf_graph *g = build_ok(steps, N(steps), NULL, 0, &def);
    assert_int_equal(step(g, "start")->type, MF_STEP_FOREACH);
    assert_split(g, "start", "join");
    assert_depth(g, "body", 1);
    assert_depth(g, "body2", 1);
    assert_depth(g, "join", 0);
    mf_graph_destroy(g);
}

static void test_err_foreach_straight_to_join(void **state)
{
    (void)state;
    /* The runtime fans a foreach out into its body; with no body there is nothing to run
     * per item, so this is refused. */
    static const mf_step_def steps[] = {
        {.name = "start", .fn = fn, .next = "j", .foreach = "items"},
        {.name = "j", .fn = fn, .next = "end", .join = 1},
        {.name = "end", .fn = fn},
    };
    expect_error(steps, N(steps), NULL, 0, "foreach step 'start' goes straight to join 'j'");
}

static void test_nested_foreach(void **state)
{
    (void)state;
    static const mf_step_def steps[] = {
        {.name = "start", .fn = fn, .next = "outer"},
        {.name = "outer", .fn = fn, .next = "inner", .foreach = "xs"},
        {.name = "inner", .fn = fn, .next = "work", .foreach = "ys"},
        {.name = "work", .fn = fn, .next = "join_inner"},
        {.name = "join_inner", .fn = fn, .next = "join_outer", .join = 1},
        {.name = "join_outer", .fn = fn, .next = "end", .join = 1},
        {.name = "end", .fn = fn},
    };
    mf_flow_def def;
    mf_graph *g = build_ok(steps, N(steps), NULL, 0, &def);
    assert_split(g, "inner", "join_inner");
    assert_split(g, "outer", "join_outer");
    assert_depth(g, "outer", 0);
    assert_depth(g, "inner", 1);
    assert_depth(g, "work", 2);
    assert_depth(g, "join_inner", 1);
    assert_depth(g, "join_outer", 0);
    mf_graph_destroy(g);
}

static void test_branch_inside_foreach(void **state)
{
    (void)state;
    static const mf_step_def steps[] = {
        {.name = "start", .fn = fn, .next = "body", .foreach = "xs"},
        {.name = "body", .fn = fn, .next = "a b"},
        {.name = "a", .fn = fn, .next = "jb"},
        {.name = "b", .fn = fn, .next = "jb"},
        {.name = "jb", .fn = fn, .next = "jf", .join = 1},
        {.name = "jf", .fn = fn, .next = "end", .join = 1},
        {.name = "end", .fn = fn},
    };
    mf_flow_def def;
    mf_graph *g = build_ok(steps, N(steps), NULL, 0, &def);
    assert_split(g, "body", "jb");
    assert_split(g, "start", "jf");
    assert_depth(g, "body", 1);
    assert_depth(g, "a", 2);
    assert_depth(g, "jb", 1);
    assert_depth(g, "jf", 0);
    mf_graph_destroy(g);
}

static void test_foreach_inside_branch(void **state)
{
    (void)state;
    static const mf_step_def steps[] = {
        {.name = "start", .fn = fn, .next = "a b"},
        {.name = "a", .fn = fn, .next = "x", .foreach = "items"},
        {.name = "x", .fn = fn, .next = "ja"},
        {.name = "ja", .fn = fn, .next = "j", .join = 1},
        {.name = "b", .fn = fn, .next = "j"},
        {.name = "j", .fn = fn, .next = "end", .join = 1},
        {.name = "end", .fn = fn},
    };
    mf_flow_def def;
    mf_graph *g = build_ok(steps, N(steps), NULL, 0, &def);
    assert_split(g, "a", "ja");
    assert_split(g, "start", "j");
    assert_depth(g, "x", 2);
    assert_depth(g, "ja", 1);
    assert_depth(g, "b", 1);
    mf_graph_destroy(g);
}

static void test_foreach_and_join(void **state)
{
    (void)state;
    /* 'mid' closes the first foreach and opens a second one */
    static const mf_step_def steps[] = {
        {.name = "start", .fn = fn, .next = "body", .foreach = "xs"},
        {.name = "body", .fn = fn, .next = "mid"},
        {.name = "mid", .fn = fn, .next = "body2", .foreach = "ys", .join = 1},
        {.name = "body2", .fn = fn, .next = "j2"},
        {.name = "j2", .fn = fn, .next = "end", .join = 1},
        {.name = "end", .fn = fn},
    };
    mf_flow_def def;
    mf_graph *g = build_ok(steps, N(steps), NULL, 0, &def);
    assert_int_equal(step(g, "mid")->type, MF_STEP_FOREACH);
    assert_int_equal(step(g, "mid")->is_join, 1);
    assert_split(g, "start", "mid");
    assert_split(g, "mid", "j2");
    assert_depth(g, "mid", 0);
    assert_depth(g, "body2", 1);
    assert_depth(g, "j2", 0);
    mf_graph_destroy(g);
}

static void test_join_that_branches_and_end_join(void **state)
{
    (void)state;
    /* a join that opens a branch; 'end' itself joins the last split */
    static const mf_step_def steps[] = {
        {.name = "start", .fn = fn, .next = "a b"},
        {.name = "a", .fn = fn, .next = "j"},
        {.name = "b", .fn = fn, .next = "j"},
        {.name = "j", .fn = fn, .next = "c d", .join = 1},
        {.name = "c", .fn = fn, .next = "end"},
        {.name = "d", .fn = fn, .next = "end"},
        {.name = "end", .fn = fn, .join = 1},
    };
    mf_flow_def def;
    mf_graph *g = build_ok(steps, N(steps), NULL, 0, &def);
    assert_int_equal(step(g, "j")->type, MF_STEP_BRANCH);
    assert_split(g, "start", "j");
    assert_split(g, "j", "end");
    assert_depth(g, "c", 1);
    assert_depth(g, "end", 0);
    mf_graph_destroy(g);
}

/* ---- mistakes ------------------------------------------------------------------------------ */

static void test_err_unknown_successor(void **state)
{
    (void)state;
    static const mf_step_def typo[] = {
        {.name = "start", .fn = fn, .next = "a b"},
        {.name = "a", .fn = fn, .next = "jion"},
        {.name = "b", .fn = fn, .next = "join"},
        {.name = "join", .fn = fn, .next = "end", .join = 1},
        {.name = "end", .fn = fn},
    };
    expect_error(typo, N(typo), NULL, 0,
                 "step 'a' names unknown successor 'jion' (did you mean 'join'?)");
    static const mf_step_def far[] = {
        {.name = "start", .fn = fn, .next = "zzzzzz"},
        {.name = "end", .fn = fn},
    };
    expect_error(far, N(far), NULL, 0,
                 "step 'start' names unknown successor 'zzzzzz': add a step named 'zzzzzz'");
    static const mf_step_def twice[] = {
        {.name = "start", .fn = fn, .next = "end end"},
        {.name = "end", .fn = fn},
    };
    expect_error(twice, N(twice), NULL, 0, "step 'start' names successor 'end' twice");
}

static void test_err_cycle(void **state)
{
    (void)state;
    static const mf_step_def steps[] = {
        {.name = "start", .fn = fn, .next = "a"},
        {.name = "a", .fn = fn, .next = "b"},
        {.name = "b", .fn = fn, .next = "a end"},
        {.name = "end", .fn = fn},
    };
    expect_error(steps, N(steps), NULL, 0, "steps form a cycle (a -> b -> a)");
    static const mf_step_def self[] = {
        {.name = "start", .fn = fn, .next = "a"},
        {.name = "a", .fn = fn, .next = "a end"},
        {.name = "end", .fn = fn},
    };
    expect_error(self, N(self), NULL, 0, "steps form a cycle (a -> a)");
    static const mf_step_def back[] = {
        {.name = "start", .fn = fn, .next = "a"},
        {.name = "a", .fn = fn, .next = "start end"},
        {.name = "end", .fn = fn},
    };
    expect_error(back, N(back), NULL, 0, "step 'a' leads back to 'start'");
}

static void test_err_unreachable(void **state)
{
    (void)state;
    static const mf_step_def steps[] = {
        {.name = "start", .fn = fn, .next = "end"},
        {.name = "orphan", .fn = fn, .next = "end"},
        {.name = "end", .fn = fn},
    };
    expect_error(steps, N(steps), NULL, 0, "step 'orphan' is unreachable from 'start'");
}

static void test_err_missing_start_end(void **state)
{
    (void)state;
    static const mf_step_def nostart[] = {
        {.name = "begin", .fn = fn, .next = "end"},
        {.name = "end", .fn = fn},
    };
    expect_error(nostart, N(nostart), NULL, 0, "no step named 'start'");
    static const mf_step_def noend[] = {
        {.name = "start", .fn = fn, .next = "finish"},
        {.name = "finish", .fn = fn},
    };
    expect_error(noend, N(noend), NULL, 0, "no step named 'end'");
}

static void test_err_names(void **state)
{
    (void)state;
    static const mf_step_def dup[] = {
        {.name = "start", .fn = fn, .next = "a"},
        {.name = "a", .fn = fn, .next = "end"},
        {.name = "a", .fn = fn, .next = "end"},
        {.name = "end", .fn = fn},
    };
    expect_error(dup, N(dup), NULL, 0, "step 'a' is defined twice (table entries 2 and 3)");
    static const mf_step_def dash[] = {
        {.name = "start", .fn = fn, .next = "end"},
        {.name = "my-step", .fn = fn, .next = "end"},
        {.name = "end", .fn = fn},
    };
    expect_error(dash, N(dash), NULL, 0, "step 'my-step' has a bad name");
    static const mf_step_def digit[] = {
        {.name = "start", .fn = fn, .next = "end"},
        {.name = "1st", .fn = fn, .next = "end"},
        {.name = "end", .fn = fn},
    };
    expect_error(digit, N(digit), NULL, 0, "step '1st' has a bad name");
    static char longname[102];
    memset(longname, 'x', 101);
    mf_step_def lng[] = {
        {.name = "start", .fn = fn, .next = "end"},
        {.name = longname, .fn = fn, .next = "end"},
        {.name = "end", .fn = fn},
    };
    expect_error(lng, N(lng), NULL, 0, "has a bad name: use letters, digits and _");
    longname[100] = 0; /* exactly 100 characters is fine */
    mf_step_def ok100[] = {
        {.name = "start", .fn = fn, .next = longname},
        {.name = longname, .fn = fn, .next = "end"},
        {.name = "end", .fn = fn},
    };
    mf_flow_def def;
    mf_graph *g = build_ok(ok100, N(ok100), NULL, 0, &def);
    mf_graph_destroy(g);
    static const mf_step_def noname[] = {
        {.name = "start", .fn = fn, .next = "end"},
        {.fn = fn, .next = "end"},
        {.name = "end", .fn = fn},
    };
    expect_error(noname, N(noname), NULL, 0, "step 2 of the table has no name: set .name");

    /* a bad flow name is reported plainly */
    mf_flow_def bad = make_def("Bad Flow", dup, N(dup), NULL, 0);
    mf_graph *gg = NULL;
    char *err = NULL;
    assert_int_equal(mf_graph_build(&bad, &gg, &err), MF_EINVAL);
    assert_non_null(err);
    assert_non_null(strstr(err, "flow Bad Flow: the flow name 'Bad Flow' is not valid"));
    free(err);
    bad.name = NULL;
    assert_int_equal(mf_graph_build(&bad, &gg, &err), MF_EINVAL);
    assert_non_null(err);
    assert_non_null(strstr(err, "flow (unnamed): the flow has no name"));
    free(err);
    assert_int_equal(mf_graph_build(NULL, &gg, &err), MF_EINVAL);
}

static void test_err_step_fields(void **state)
{
    (void)state;
    static const mf_step_def nofn[] = {
        {.name = "start", .fn = fn, .next = "a"},
        {.name = "a", .next = "end"},
        {.name = "end", .fn = fn},
    };
    expect_error(nofn, N(nofn), NULL, 0, "step 'a' has no function: set .fn");
    static const mf_step_def retry[] = {
        {.name = "start", .fn = fn, .next = "end", .retry = -1},
        {.name = "end", .fn = fn},
    };
    expect_error(retry, N(retry), NULL, 0, "step 'start' has .retry = -1");
    static const char *const env[] = {"GOOD=1", "BAD", NULL};
    static const mf_step_def badenv[] = {
        {.name = "start", .fn = fn, .next = "end", .env = env},
        {.name = "end", .fn = fn},
    };
    expect_error(badenv, N(badenv), NULL, 0, "step 'start' has .env entry 'BAD'");
    static const mf_step_def nonext[] = {
        {.name = "start", .fn = fn, .next = "a"},
        {.name = "a", .fn = fn, .next = "  "},
        {.name = "end", .fn = fn},
    };
    expect_error(nonext, N(nonext), NULL, 0,
                 "step 'a' has no successors: set its .next (only 'end' finishes the flow)");
    static const mf_step_def endnext[] = {
        {.name = "start", .fn = fn, .next = "end"},
        {.name = "end", .fn = fn, .next = "start"},
    };
    expect_error(endnext, N(endnext), NULL, 0, "step 'end' has successors (start)");
}

static void test_err_foreach_successors(void **state)
{
    (void)state;
    static const mf_step_def two[] = {
        {.name = "start", .fn = fn, .next = "a b", .foreach = "items"},
        {.name = "a", .fn = fn, .next = "j"},
        {.name = "b", .fn = fn, .next = "j"},
        {.name = "j", .fn = fn, .next = "end", .join = 1},
        {.name = "end", .fn = fn},
    };
    expect_error(two, N(two), NULL, 0,
                 "step 'start' has .foreach = 'items' and 2 successors (a b): a foreach step "
                 "needs exactly one successor");
    static const mf_step_def onend[] = {
        {.name = "start", .fn = fn, .next = "end"},
        {.name = "end", .fn = fn, .foreach = "items"},
    };
    expect_error(onend, N(onend), NULL, 0, "step 'end' has .foreach = 'items'");
    static const mf_step_def badvar[] = {
        {.name = "start", .fn = fn, .next = "end", .foreach = "my items"},
        {.name = "end", .fn = fn},
    };
    expect_error(badvar, N(badvar), NULL, 0, "not a valid artifact name");
}

static void test_err_not_a_join(void **state)
{
    (void)state;
    static const mf_step_def steps[] = {
        {.name = "start", .fn = fn, .next = "a b"},
        {.name = "a", .fn = fn, .next = "x"},
        {.name = "b", .fn = fn, .next = "x"},
        {.name = "x", .fn = fn, .next = "end"},
        {.name = "end", .fn = fn},
    };
    expect_error(steps, N(steps), NULL, 0,
                 "step 'x' has 2 inputs (a, b) but is not a join: set .join = 1");
    static const mf_step_def toend[] = {
        {.name = "start", .fn = fn, .next = "a b c"},
        {.name = "a", .fn = fn, .next = "end"},
        {.name = "b", .fn = fn, .next = "end"},
        {.name = "c", .fn = fn, .next = "end"},
        {.name = "end", .fn = fn},
    };
    expect_error(toend, N(toend), NULL, 0,
                 "step 'end' has 3 inputs (a, b, c) but is not a join: set .join = 1");
}

static void test_err_join_one_input(void **state)
{
    (void)state;
    /* each branch ends in its own join */
    static const mf_step_def steps[] = {
        {.name = "start", .fn = fn, .next = "a b"},
        {.name = "a", .fn = fn, .next = "ja"},
        {.name = "b", .fn = fn, .next = "jb"},
        {.name = "ja", .fn = fn, .next = "end", .join = 1},
        {.name = "jb", .fn = fn, .next = "end", .join = 1},
        {.name = "end", .fn = fn, .join = 1},
    };
    expect_error(steps, N(steps), NULL, 0,
                 "has only one input ('a'): it closes branch 'start', whose 2 branches (a, b) "
                 "must all lead to 'ja'");
    /* a join with nothing open */
    static const mf_step_def nosplit[] = {
        {.name = "start", .fn = fn, .next = "a"},
        {.name = "a", .fn = fn, .next = "end", .join = 1},
        {.name = "end", .fn = fn},
    };
    expect_error(nosplit, N(nosplit), NULL, 0,
                 "step 'a' is a join but no split is open before it");
    static const mf_step_def startjoin[] = {
        {.name = "start", .fn = fn, .next = "end", .join = 1},
        {.name = "end", .fn = fn},
    };
    expect_error(startjoin, N(startjoin), NULL, 0, "step 'start' is a join");
}

static void test_err_split_two_joins(void **state)
{
    (void)state;
    /* start's branches end in two different joins */
    static const mf_step_def steps[] = {
        {.name = "start", .fn = fn, .next = "a b c d"},
        {.name = "a", .fn = fn, .next = "j1"},
        {.name = "b", .fn = fn, .next = "j1"},
        {.name = "c", .fn = fn, .next = "j2"},
        {.name = "d", .fn = fn, .next = "j2"},
        {.name = "j1", .fn = fn, .next = "end", .join = 1},
        {.name = "j2", .fn = fn, .next = "end", .join = 1},
        {.name = "end", .fn = fn, .join = 1},
    };
    expect_error(steps, N(steps), NULL, 0, "of split 'start' does not reach join 'j");
    /* a third branch that never joins */
    static const mf_step_def three[] = {
        {.name = "start", .fn = fn, .next = "a b c"},
        {.name = "a", .fn = fn, .next = "j"},
        {.name = "b", .fn = fn, .next = "j"},
        {.name = "c", .fn = fn, .next = "end"},
        {.name = "j", .fn = fn, .next = "end", .join = 1},
        {.name = "end", .fn = fn},
    };
    expect_error(three, N(three), NULL, 0,
                 "branch 'c' of split 'start' does not reach join 'j': every branch must lead "
                 "to the join that closes its split");
}

static void test_err_never_joined(void **state)
{
    (void)state;
    static const mf_step_def steps[] = {
        {.name = "start", .fn = fn, .next = "body", .foreach = "items"},
        {.name = "body", .fn = fn, .next = "end"},
        {.name = "end", .fn = fn},
    };
    expect_error(steps, N(steps), NULL, 0,
                 "step 'end' runs inside split 'start', which is never joined: add a join step");
    /* a nested foreach joined once only */
    static const mf_step_def nested[] = {
        {.name = "start", .fn = fn, .next = "outer"},
        {.name = "outer", .fn = fn, .next = "inner", .foreach = "xs"},
        {.name = "inner", .fn = fn, .next = "work", .foreach = "ys"},
        {.name = "work", .fn = fn, .next = "j"},
        {.name = "j", .fn = fn, .next = "end", .join = 1},
        {.name = "end", .fn = fn},
    };
    expect_error(nested, N(nested), NULL, 0, "step 'end' runs inside split 'outer'");
}

static void test_err_mixed_splits(void **state)
{
    (void)state;
    /* the join gets one input from inside a foreach and one from outside it */
    static const mf_step_def steps[] = {
        {.name = "start", .fn = fn, .next = "a b"},
        {.name = "a", .fn = fn, .next = "x", .foreach = "items"},
        {.name = "x", .fn = fn, .next = "j"},
        {.name = "b", .fn = fn, .next = "j"},
        {.name = "j", .fn = fn, .next = "end", .join = 1},
        {.name = "end", .fn = fn},
    };
    expect_error(steps, N(steps), NULL, 0,
                 "join 'j' gets inputs from different splits: 'x' runs inside 'start' > 'a' "
                 "but 'b' runs inside 'start'");
}

static void test_err_branch_straight_to_join(void **state)
{
    (void)state;
    static const mf_step_def steps[] = {
        {.name = "start", .fn = fn, .next = "a j"},
        {.name = "a", .fn = fn, .next = "j"},
        {.name = "j", .fn = fn, .next = "end", .join = 1},
        {.name = "end", .fn = fn},
    };
    expect_error(steps, N(steps), NULL, 0, "branch 'start' goes straight to its join 'j'");
}

static void test_err_params(void **state)
{
    (void)state;
    static const mf_step_def steps[] = {
        {.name = "start", .fn = fn, .next = "end"},
        {.name = "end", .fn = fn},
    };
    static const mf_param_def good[] = {
        {.name = "alpha", .type = MF_F64, .default_value = "0.01", .help = "learning rate"},
        {.name = "n", .type = MF_I64, .default_value = "-3"},
        {.name = "s", .type = MF_STR, .default_value = ""},
        {.name = "flag", .type = MF_BOOL, .default_value = "yes"},
        {.name = "required", .type = MF_I64},
    };
    mf_flow_def def;
    mf_graph *g = build_ok(steps, N(steps), good, N(good), &def);
    mf_graph_destroy(g);

    static const mf_param_def badname[] = {{.name = "a-b", .type = MF_I64}};
    expect_error(steps, N(steps), badname, 1, "parameter 'a-b' has a bad name");
    static const mf_param_def noname[] = {{.name = "", .type = MF_I64}};
    expect_error(steps, N(steps), noname, 1, "parameter 1 of the table has no name");
    static const mf_param_def dup[] = {
        {.name = "x", .type = MF_I64},
        {.name = "x", .type = MF_F64},
    };
    expect_error(steps, N(steps), dup, 2, "parameter 'x' is defined twice");
    static const mf_param_def badtype[] = {{.name = "x", .type = MF_BYTES}};
    expect_error(steps, N(steps), badtype, 1,
                 "parameter 'x' has unknown type 4: use MF_I64, MF_F64, MF_STR or MF_BOOL");
    static const mf_param_def badi[] = {{.name = "n", .type = MF_I64, .default_value = "12x"}};
    expect_error(steps, N(steps), badi, 1,
                 "parameter 'n' has default '12x', which is not a valid i64");
    static const mf_param_def badf[] = {{.name = "f", .type = MF_F64, .default_value = "fast"}};
    expect_error(steps, N(steps), badf, 1, "which is not a valid f64");
    static const mf_param_def badb[] = {{.name = "b", .type = MF_BOOL, .default_value = "maybe"}};
    expect_error(steps, N(steps), badb, 1, "which is not a valid bool");
}

static void test_param_parse(void **state)
{
    (void)state;
    mf_param_def pi = {.name = "i", .type = MF_I64};
    mf_param_def pf = {.name = "f", .type = MF_F64};
    mf_param_def pb = {.name = "b", .type = MF_BOOL};
    mf_param_def ps = {.name = "s", .type = MF_STR};
    int64_t i = 0;
    double f = 0;
    assert_int_equal(mf_param_parse(&pi, "42", &i, &f), 0);
    assert_int_equal(i, 42);
    assert_int_equal(mf_param_parse(&pi, "-9223372036854775808", &i, NULL), 0);
    assert_true(i == INT64_MIN);
    assert_int_equal(mf_param_parse(&pi, "9223372036854775808", &i, NULL), MF_EINVAL);
    assert_int_equal(mf_param_parse(&pi, "1.5", &i, NULL), MF_EINVAL);
    assert_int_equal(mf_param_parse(&pi, "", &i, NULL), MF_EINVAL);
    assert_int_equal(mf_param_parse(&pi, " 1", &i, NULL), MF_EINVAL);
    assert_int_equal(mf_param_parse(&pf, "1e-3", NULL, &f), 0);
    assert_true(f == 1e-3);
    assert_int_equal(mf_param_parse(&pf, "nan", NULL, &f), MF_EINVAL);
    assert_int_equal(mf_param_parse(&pf, "1.0.0", NULL, &f), MF_EINVAL);
    assert_int_equal(mf_param_parse(&pb, "TRUE", &i, NULL), 0);
    assert_int_equal(i, 1);
    assert_int_equal(mf_param_parse(&pb, "no", &i, NULL), 0);
    assert_int_equal(i, 0);
    assert_int_equal(mf_param_parse(&pb, "1", &i, NULL), 0);
    assert_int_equal(i, 1);
    assert_int_equal(mf_param_parse(&pb, "2", &i, NULL), MF_EINVAL);
    assert_int_equal(mf_param_parse(&ps, "anything at all", NULL, NULL), 0);
    assert_int_equal(mf_param_parse(&ps, NULL, NULL, NULL), MF_EINVAL);
}

/* ---- renderings ---------------------------------------------------------------------------- */

static const char *const a_env[] = {"MODE=fast", NULL};
static const mf_step_def render_steps[] = {
    {.name = "start", .fn = fn, .next = "a b"},
    {.name = "a", .fn = fn, .next = "join", .resources = {.cpu = 2, .memory_mb = 512},
     .env = a_env, .image = "python:3.11"},
    {.name = "b", .fn = fn, .next = "fan", .retry = 2, .catch_var = "err"},
    {.name = "fan", .fn = fn, .next = "item", .foreach = "items"},
    {.name = "item", .fn = fn, .next = "fjoin", .timeout_s = 60, .compute = "k8s"},
    {.name = "fjoin", .fn = fn, .next = "join", .join = 1},
    {.name = "join", .fn = fn, .next = "end", .join = 1},
    {.name = "end", .fn = fn},
};
static const mf_param_def render_params[] = {
    {.name = "alpha", .type = MF_F64, .default_value = "0.01", .help = "learning rate"},
    {.name = "name", .type = MF_STR},
};

static void test_render_json(void **state)
{
    (void)state;
    mf_flow_def def;
    mf_graph *g = build_ok(render_steps, N(render_steps), render_params, N(render_params), &def);
    char *js = mf_graph_render_json(g);
    assert_non_null(js);
    json_error_t jerr;
    json_t *root = json_loads(js, 0, &jerr);
    if (!root)
        print_error("bad JSON: %s\n%s\n", jerr.text, js);
    assert_non_null(root);
    assert_string_equal(json_string_value(json_object_get(root, "flow")), "TestFlow");
    json_t *steps = json_object_get(root, "steps");
    assert_true(json_is_array(steps));
    assert_int_equal(json_array_size(steps), N(render_steps));
    for (size_t k = 0; k < N(render_steps); k++) {
        json_t *s = json_array_get(steps, k);
        assert_string_equal(json_string_value(json_object_get(s, "name")),
                            render_steps[k].name);
        json_t *next = json_object_get(s, "next");
        assert_true(json_is_array(next));
        /* "next" lists exactly the successors of the table, in order */
        char joined[256] = "";
        for (size_t j = 0; j < json_array_size(next); j++) {
            if (j)
                strcat(joined, " ");
            strcat(joined, json_string_value(json_array_get(next, j)));
        }
        assert_string_equal(joined, render_steps[k].next ? render_steps[k].next : "");
        assert_int_equal(json_is_true(json_object_get(s, "join")), render_steps[k].join);
    }
    json_t *start = json_array_get(steps, 0);
    assert_string_equal(json_string_value(json_object_get(start, "type")), "branch");
    assert_true(json_is_null(json_object_get(start, "foreach")));
    json_t *a = json_array_get(steps, 1);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(a, "resources"), "cpu")),
                     2);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(a, "resources"), "memory_mb")), 512);
    assert_string_equal(json_string_value(json_array_get(json_object_get(a, "env"), 0)),
                        "MODE=fast");
    assert_string_equal(json_string_value(json_object_get(a, "image")), "python:3.11");
    json_t *b = json_array_get(steps, 2);
    assert_int_equal(json_integer_value(json_object_get(b, "retry")), 2);
    assert_string_equal(json_string_value(json_object_get(b, "catch_var")), "err");
    json_t *fan = json_array_get(steps, 3);
    assert_string_equal(json_string_value(json_object_get(fan, "type")), "foreach");
    assert_string_equal(json_string_value(json_object_get(fan, "foreach")), "items");
    assert_string_equal(json_string_value(json_object_get(fan, "join_of")), "fjoin");
    json_t *item = json_array_get(steps, 4);
    assert_int_equal(json_integer_value(json_object_get(item, "timeout_s")), 60);
    assert_string_equal(json_string_value(json_object_get(item, "compute")), "k8s");
    assert_int_equal(json_integer_value(json_object_get(item, "depth")), 2);
    json_t *join = json_array_get(steps, 6);
    assert_string_equal(json_string_value(json_object_get(join, "split_of")), "start");
    json_t *end = json_array_get(steps, 7);
    assert_string_equal(json_string_value(json_object_get(end, "type")), "end");
    json_t *params = json_object_get(root, "parameters");
    assert_int_equal(json_array_size(params), 2);
    json_t *p0 = json_array_get(params, 0);
    assert_string_equal(json_string_value(json_object_get(p0, "name")), "alpha");
    assert_string_equal(json_string_value(json_object_get(p0, "type")), "f64");
    assert_string_equal(json_string_value(json_object_get(p0, "default")), "0.01");
    assert_string_equal(json_string_value(json_object_get(p0, "help")), "learning rate");
    assert_true(json_is_null(json_object_get(json_array_get(params, 1), "default")));
    json_decref(root);
    free(js);
    mf_graph_destroy(g);
}

static void test_render_dot(void **state)
{
    (void)state;
    mf_flow_def def;
    mf_graph *g = build_ok(render_steps, N(render_steps), render_params, N(render_params), &def);
    char *dot = mf_graph_render_dot(g);
    assert_non_null(dot);
    assert_int_equal(strncmp(dot, "digraph \"TestFlow\" {\n", 21), 0);
    assert_non_null(strstr(dot, "\"start\" -> \"a\";"));
    assert_non_null(strstr(dot, "\"start\" -> \"b\";"));
    assert_non_null(strstr(dot, "\"b\" -> \"fan\";"));
    assert_non_null(strstr(dot, "\"fan\" -> \"item\" [style=dashed"));
    assert_non_null(strstr(dot, "\"join\" -> \"end\";"));
    assert_non_null(strstr(dot, "\"join\" [shape=invtrapezium"));
    assert_non_null(strstr(dot, "\"fjoin\" [shape=invtrapezium"));
    assert_null(strstr(dot, "\"a\" [shape=invtrapezium"));
    /* one edge line per successor, braces balanced */
    size_t edges = 0;
    for (const char *p = dot; (p = strstr(p, " -> ")); p++)
        edges++;
    assert_int_equal(edges, 8);
    assert_string_equal(dot + strlen(dot) - 2, "}\n");
    free(dot);
    mf_graph_destroy(g);
}

static void test_render_text(void **state)
{
    (void)state;
    mf_flow_def def;
    mf_graph *g = build_ok(render_steps, N(render_steps), render_params, N(render_params), &def);
    char *txt = mf_graph_render_text(g);
    assert_non_null(txt);
    /* one line per step in table order, then the parameters */
    const char *p = txt;
    for (size_t k = 0; k < N(render_steps); k++) {
        char want[64];
        snprintf(want, sizeof want, "\n  %s ", render_steps[k].name);
        const char *q = strstr(p, want);
        if (!q)
            print_error("missing line for %s in:\n%s", render_steps[k].name, txt);
        assert_non_null(q);
        p = q + 1;
    }
    assert_non_null(strstr(txt, "\n  start  branch   → a b\n  a      linear   → join   resources cpu=2 memory=512MB"));
    assert_non_null(strstr(txt, "cpu=2 memory=512MB"));
    assert_non_null(strstr(txt, "retry=2"));
    assert_non_null(strstr(txt, "foreach items"));
    assert_non_null(strstr(txt, "joins start"));
    assert_non_null(strstr(txt, "joins fan"));
    assert_non_null(strstr(txt, "Parameters:\n  --alpha  f64   default 0.01  learning rate\n"));
    assert_non_null(strstr(txt, "--name   str   required"));
    free(txt);
    mf_graph_destroy(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_linear),
        cmocka_unit_test(test_branch2),
        cmocka_unit_test(test_branch3),
        cmocka_unit_test(test_nested_branches),
        cmocka_unit_test(test_foreach),
        cmocka_unit_test(test_err_foreach_straight_to_join),
        cmocka_unit_test(test_nested_foreach),
        cmocka_unit_test(test_branch_inside_foreach),
        cmocka_unit_test(test_foreach_inside_branch),
        cmocka_unit_test(test_foreach_and_join),
        cmocka_unit_test(test_join_that_branches_and_end_join),
        cmocka_unit_test(test_err_unknown_successor),
        cmocka_unit_test(test_err_cycle),
        cmocka_unit_test(test_err_unreachable),
        cmocka_unit_test(test_err_missing_start_end),
        cmocka_unit_test(test_err_names),
        cmocka_unit_test(test_err_step_fields),
        cmocka_unit_test(test_err_foreach_successors),
        cmocka_unit_test(test_err_not_a_join),
        cmocka_unit_test(test_err_join_one_input),
        cmocka_unit_test(test_err_split_two_joins),
        cmocka_unit_test(test_err_never_joined),
        cmocka_unit_test(test_err_mixed_splits),
        cmocka_unit_test(test_err_branch_straight_to_join),
        cmocka_unit_test(test_err_params),
        cmocka_unit_test(test_param_parse),
        cmocka_unit_test(test_render_json),
        cmocka_unit_test(test_render_dot),
        cmocka_unit_test(test_render_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
