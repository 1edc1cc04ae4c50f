/* Unit tests of reading a flow's definition (core/src/flowload.c, mf_flow_def_read): tables
 * are walked by the entry sizes the flow recorded, so flows whose entries are smaller (an
 * older minor) or larger (a newer minor) than this mflow's read right, and definitions of
 * another major or too small are refused with a message. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mflow/plugin.h>

#include "flowload.h"

static void fn_a(mf_task *t)
{
    (void)t;
}

static void fn_b(mf_task *t)
{
    (void)t;
}

/* A step entry as a flow of an older minor might have had it: no fields past `next`. */
struct small_step {
    const char *name;
    void (*fn)(mf_task *t);
    const char *next;
};

/* A parameter entry with only the fields every entry needs. */
struct small_param {
    const char *name;
    mf_type type;
};

/* Entries of a newer minor: this mflow's fields, then fields it does not know. */
struct big_step {
    mf_step_def base;
    const char *k8s_namespace;
    int64_t future;
};

struct big_param {
    mf_param_def base;
    const char *future;
};

static mf_flow_def make_def(const void *steps, size_t n, uint32_t step_size, const void *params,
                            size_t np, uint32_t param_size)
{
    mf_flow_def d = {sizeof(mf_flow_def), MF_FLOW_ABI_MAJOR, "AbiFlow", steps, n, params, np,
                     MF_FLOW_ABI_MINOR, step_size, param_size, NULL, 0, 0};
    return d;
}

/* Read def, which must be refused with MF_EABI and a message holding each of the needles. */
static void expect_refused(const mf_flow_def *def, const char *n1, const char *n2)
{
    mf_flow_def out;
    char *err = NULL;
    assert_int_equal(mf_flow_def_read(def, "/x/abi.so", &out, &err), MF_EABI);
    assert_non_null(err);
    if (!strstr(err, n1) || (n2 && !strstr(err, n2)))
        print_error("message: %s\nwanted: %s / %s\n", err, n1, n2 ? n2 : "");
    assert_non_null(strstr(err, "/x/abi.so"));
    assert_non_null(strstr(err, n1));
    if (n2)
        assert_non_null(strstr(err, n2));
    assert_null(out.steps);
    assert_null(out.params);
    free(err);
}

static void test_smaller_entries(void **state)
{
    (void)state;
    static const struct small_step steps[] = {
        {"start", fn_a, "mid"},
        {"mid", fn_b, "end"},
        {"end", fn_a, NULL},
    };
    static const struct small_param params[] = {{"alpha", MF_F64}, {"n", MF_I64}};
    mf_flow_def raw = make_def(steps, 3, sizeof steps[0], params, 2, sizeof params[0]);
    mf_flow_def d;
    char *err = NULL;
    assert_int_equal(mf_flow_def_read(&raw, "/x/abi.so", &d, &err), 0);
    assert_null(err);
    assert_int_equal(d.n_steps, 3);
    assert_int_equal(d.step_size, sizeof(mf_step_def));
    assert_int_equal(d.param_size, sizeof(mf_param_def));
    assert_int_equal(d.abi_minor, MF_FLOW_ABI_MINOR);
    const char *names[] = {"start", "mid", "end"};
    const char *next[] = {"mid", "end", NULL};
    for (int i = 0; i < 3; i++) {
        const mf_step_def *s = &d.steps[i];
        assert_string_equal(s->name, names[i]);
        assert_ptr_equal(s->fn, i == 1 ? fn_b : fn_a);
        if (next[i])
            assert_string_equal(s->next, next[i]);
        else
            assert_null(s->next);
        /* the fields the entries lack read as zero */
        assert_null(s->foreach);
        assert_int_equal(s->join, 0);
        assert_int_equal(s->resources.cpu, 0);
        assert_int_equal(s->resources.gpu, 0);
        assert_int_equal(s->retry, 0);
        assert_null(s->catch_var);
        assert_int_equal(s->timeout_s, 0);
        assert_null(s->compute);
        assert_null(s->image);
        assert_null(s->env);
    }
    assert_int_equal(d.n_params, 2);
    assert_string_equal(d.params[0].name, "alpha");
    assert_int_equal(d.params[0].type, MF_F64);
    assert_string_equal(d.params[1].name, "n");
    assert_int_equal(d.params[1].type, MF_I64);
    assert_null(d.params[1].default_value);
    assert_null(d.params[1].help);
    /* and the copy is a graph like any other */
    mf_graph *g = NULL;
    assert_int_equal(mf_graph_build(&d, &g, &err), 0);
    assert_int_equal(g->n, 3);
    assert_string_equal(g->steps[g->steps[g->start].next[0]].name, "mid");
    mf_graph_destroy(g);
    mf_flow_def_free(&d);
    assert_null(d.steps);
    mf_flow_def_free(NULL);
}

static void test_larger_entries(void **state)
{
    (void)state;
    static const char *const env[] = {"A=1", NULL};
    static const struct big_step steps[] = {
        {{.name = "start", .fn = fn_a, .next = "end", .retry = 2, .timeout_s = 30,
          .compute = "local", .env = env},
         "ns-start", 111},
        {{.name = "end", .fn = fn_b, .resources = {.cpu = 3, .memory_mb = 64, .gpu = 1},
          .image = "img:1"},
         "ns-end", 222},
    };
    static const struct big_param params[] = {
        {{.name = "alpha", .type = MF_F64, .default_value = "0.5", .help = "rate"}, "x"},
        {{.name = "flag", .type = MF_BOOL, .default_value = "yes"}, "y"},
    };
    mf_flow_def raw = make_def(steps, 2, sizeof steps[0], params, 2, sizeof params[0]);
    raw.abi_minor = MF_FLOW_ABI_MINOR + 5;   /* a newer minor loads: extra fields ignored */
    mf_flow_def d;
    char *err = NULL;
    assert_int_equal(mf_flow_def_read(&raw, "/x/abi.so", &d, &err), 0);
    assert_string_equal(d.steps[0].name, "start");
    assert_string_equal(d.steps[0].next, "end");
    assert_int_equal(d.steps[0].retry, 2);
    assert_int_equal(d.steps[0].timeout_s, 30);
    assert_string_equal(d.steps[0].compute, "local");
    assert_ptr_equal(d.steps[0].env, env);
    assert_string_equal(d.steps[1].name, "end");
    assert_ptr_equal(d.steps[1].fn, fn_b);
    assert_null(d.steps[1].next);
    assert_int_equal(d.steps[1].resources.cpu, 3);
    assert_int_equal(d.steps[1].resources.memory_mb, 64);
    assert_int_equal(d.steps[1].resources.gpu, 1);
    assert_string_equal(d.steps[1].image, "img:1");
    assert_null(d.steps[1].compute);
    assert_string_equal(d.params[0].name, "alpha");
    assert_string_equal(d.params[0].default_value, "0.5");
    assert_string_equal(d.params[0].help, "rate");
    assert_string_equal(d.params[1].name, "flag");
    assert_int_equal(d.params[1].type, MF_BOOL);
    assert_string_equal(d.params[1].default_value, "yes");
    assert_null(d.params[1].help);
    mf_flow_def_free(&d);
}

/* A flow of minor 0 recorded no entry sizes: whatever lies past its 1.0 definition is not
 * read, and its entries are the 1.0 sizes. */
static void test_minor0(void **state)
{
    (void)state;
    static const mf_step_def steps[] = {
        {.name = "start", .fn = fn_a, .next = "end", .retry = 1},
        {.name = "end", .fn = fn_b, .timeout_s = 9},
    };
    static const mf_param_def params[] = {{.name = "p", .type = MF_STR, .default_value = "v"}};
    /* A 1.0 flow's entries are MF_STEP_DEF_V1_0_SIZE apart (mf_step_def grew since). */
    static char steps10[2 * MF_STEP_DEF_V1_0_SIZE];
    memcpy(steps10, &steps[0], MF_STEP_DEF_V1_0_SIZE);
    memcpy(steps10 + MF_STEP_DEF_V1_0_SIZE, &steps[1], MF_STEP_DEF_V1_0_SIZE);
    mf_flow_def raw = make_def(steps10, 2, 8, params, 1, 4);   /* sizes past struct_size */
    raw.struct_size = (uint32_t)MF_FLOW_DEF_V1_0_SIZE;
    raw.abi_minor = 77;
    mf_flow_def d;
    char *err = NULL;
    assert_int_equal(mf_flow_def_read(&raw, "/x/abi.so", &d, &err), 0);
    assert_int_equal(d.abi_minor, 0);
    assert_string_equal(d.steps[1].name, "end");
    assert_int_equal(d.steps[1].timeout_s, 9);
    assert_int_equal(d.steps[0].retry, 1);
    assert_string_equal(d.params[0].default_value, "v");
    mf_flow_def_free(&d);

    /* no parameter table: none copied */
    raw = make_def(steps, 2, sizeof steps[0], NULL, 0, sizeof(mf_param_def));
    assert_int_equal(mf_flow_def_read(&raw, "/x/abi.so", &d, &err), 0);
    assert_null(d.params);
    assert_int_equal(d.n_params, 0);
    mf_flow_def_free(&d);
}

static void test_refused(void **state)
{
    (void)state;
    static const mf_step_def steps[] = {
        {.name = "start", .fn = fn_a, .next = "end"},
        {.name = "end", .fn = fn_b},
    };
    static const mf_param_def params[] = {{.name = "p", .type = MF_STR}};
    mf_flow_def raw = make_def(steps, 2, sizeof steps[0], params, 1, sizeof params[0]);

    /* another major, whatever its sizes */
    raw.abi_version = 2;
    char want1[64], want2[64];
    snprintf(want1, sizeof want1, "built for flow ABI 2.%d", MF_FLOW_ABI_MINOR);
    snprintf(want2, sizeof want2, "this mflow reads flow ABI 1.%d", MF_FLOW_ABI_MINOR);
    expect_refused(&raw, want1, want2);
    raw.abi_version = 0;
    raw.abi_minor = 3;
    expect_refused(&raw, "built for flow ABI 0.3", "rebuild it");
    raw.abi_version = MF_FLOW_ABI_MAJOR;

    /* definitions too small */
    raw.struct_size = 4;
    expect_refused(&raw, "is 4 bytes, too small to hold even the ABI version", NULL);
    raw.struct_size = (uint32_t)MF_FLOW_DEF_V1_0_SIZE - 8;
    expect_refused(&raw, "smaller than the", "of flow ABI 1.0");
    raw.struct_size = sizeof raw;

    /* entries too small to hold what every entry needs */
    raw.step_size = 0;
    expect_refused(&raw, "its step entries are 0 bytes", "name and fn");
    raw.step_size = sizeof(void *);
    expect_refused(&raw, "its step entries are 8 bytes", "name and fn");
    raw.step_size = sizeof steps[0];
    raw.param_size = sizeof(void *);
    expect_refused(&raw, "its parameter entries are 8 bytes", "name and type");
    /* ... which does not matter when there are no parameters */
    raw.n_params = 0;
    raw.params = NULL;
    mf_flow_def d;
    char *err = NULL;
    assert_int_equal(mf_flow_def_read(&raw, "/x/abi.so", &d, &err), 0);
    mf_flow_def_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_smaller_entries),
        cmocka_unit_test(test_larger_entries),
        cmocka_unit_test(test_minor0),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
