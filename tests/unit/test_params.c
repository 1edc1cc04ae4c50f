/* Unit tests of a run's parameters (core/src/params.c): arguments matched against the flow's
 * table, defaults, types, and every mistake with its message. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mflow/plugin.h>

#include "params.h"

#define N(arr) (sizeof(arr) / sizeof((arr)[0]))

static const mf_param_def params[] = {
    {.name = "alpha", .type = MF_F64, .default_value = "0.01", .help = "learning rate"},
    {.name = "epochs", .type = MF_I64, .default_value = "3"},
    {.name = "label", .type = MF_STR, .default_value = "run"},
    {.name = "verbose", .type = MF_BOOL, .default_value = "no"},
    {.name = "seed", .type = MF_I64, .help = "random seed"},
    {.name = "tag", .type = MF_STR},
};

static mf_flow_def make_def(const mf_param_def *p, size_t np)
{
    mf_flow_def d = {sizeof(mf_flow_def), MF_FLOW_ABI_VERSION, "ParamFlow", NULL, 0, p, np,
                     MF_FLOW_ABI_MINOR, sizeof(mf_step_def), sizeof(mf_param_def), NULL, 0, 0};
    return d;
}

static struct mf_param_value *parse_ok(const mf_flow_def *def, const char *const *args, size_t n)
{
    struct mf_param_value *v = (struct mf_param_value *)0x1;
    char *err = NULL;
    int rc = mf_params_parse(def, args, n, &v, &err);
    if (rc)
        print_error("unexpected failure %d: %s\n", rc, err ? err : "(no message)");
    assert_int_equal(rc, 0);
    assert_null(err);
    return v;
}

static void expect_error(const mf_flow_def *def, const char *const *args, size_t n,
                         const char *want)
{
    struct mf_param_value *v = (struct mf_param_value *)0x1;
    char *err = NULL;
    assert_int_equal(mf_params_parse(def, args, n, &v, &err), MF_EINVAL);
    assert_null(v);
    assert_non_null(err);
    if (strcmp(err, want) != 0)
        print_error("message:\n  %s\nwanted:\n  %s\n", err, want);
    assert_string_equal(err, want);
    free(err);
}

static void test_defaults_and_given(void **state)
{
    (void)state;
    mf_flow_def def = make_def(params, N(params));
    const char *args[] = {"seed=42", "tag=x=y", "alpha=0.5", "verbose=YES", "label="};
    struct mf_param_value *v = parse_ok(&def, args, N(args));
    assert_non_null(v);
    for (size_t k = 0; k < N(params); k++)
        assert_ptr_equal(v[k].def, &params[k]);
    assert_int_equal(v[0].type, MF_F64);
    assert_true(v[0].f == 0.5);
    assert_string_equal(v[0].text, "0.5");
    assert_int_equal(v[1].type, MF_I64);
    assert_int_equal(v[1].i, 3);                 /* the default */
    assert_string_equal(v[1].text, "3");
    assert_int_equal(v[2].type, MF_STR);
    assert_string_equal(v[2].text, "");          /* given empty: not the default */
    assert_int_equal(v[3].type, MF_I64);         /* a bool is stored as an integer */
    assert_int_equal(v[3].i, 1);
    assert_int_equal(v[4].i, 42);
    assert_string_equal(v[5].text, "x=y");       /* only the first '=' separates */
    free(v);

    /* given twice: the last one counts; bools in each spelling */
    const char *again[] = {"seed=1", "seed=-7", "tag=t", "verbose=false"};
    v = parse_ok(&def, again, N(again));
    assert_int_equal(v[4].i, -7);
    assert_int_equal(v[3].i, 0);
    free(v);
}

static void test_no_params(void **state)
{
    (void)state;
    mf_flow_def def = make_def(NULL, 0);
    assert_null(parse_ok(&def, NULL, 0));
    const char *args[] = {"alpha=1"};
    expect_error(&def, args, 1, "flow ParamFlow has no parameter 'alpha' (see `mflow show FLOW`)");
}

static void test_unknown(void **state)
{
    (void)state;
    mf_flow_def def = make_def(params, N(params));
    const char *near[] = {"seed=1", "tag=a", "alpah=1"};
    expect_error(&def, near, N(near),
                 "flow ParamFlow has no parameter 'alpah' (did you mean 'alpha'?) (see `mflow "
                 "show FLOW`)");
    const char *far[] = {"learning_rate=1"};
    expect_error(&def, far, 1,
                 "flow ParamFlow has no parameter 'learning_rate' (see `mflow show FLOW`)");
    const char *prefix[] = {"see=1"};   /* a prefix of a name is not the name */
    expect_error(&def, prefix, 1,
                 "flow ParamFlow has no parameter 'see' (did you mean 'seed'?) (see `mflow show "
                 "FLOW`)");
    /* arguments are checked before missing parameters are */
    const char *first[] = {"nope"};
    expect_error(&def, first, 1, "flow ParamFlow has no parameter 'nope' (see `mflow show FLOW`)");
}

static void test_no_value(void **state)
{
    (void)state;
    mf_flow_def def = make_def(params, N(params));
    const char *a[] = {"seed"};
    expect_error(&def, a, 1, "parameter 'seed' needs a value: --seed=VALUE");
    const char *b[] = {"seed=1", "tag=t", "verbose"};
    expect_error(&def, b, N(b), "parameter 'verbose' needs a value: --verbose=VALUE");
}

static void test_missing(void **state)
{
    (void)state;
    mf_flow_def def = make_def(params, N(params));
    expect_error(&def, NULL, 0,
                 "flow ParamFlow needs parameter 'seed': add --seed=VALUE (random seed)");
    const char *a[] = {"seed=1"};
    expect_error(&def, a, 1, "flow ParamFlow needs parameter 'tag': add --tag=VALUE");
}

static void test_bad_values(void **state)
{
    (void)state;
    mf_flow_def def = make_def(params, N(params));
    struct {
        const char *arg, *want;
    } cases[] = {
        {"seed=1.5", "parameter 'seed' must be an integer, not '1.5'"},
        {"seed=", "parameter 'seed' must be an integer, not ''"},
        {"seed= 3", "parameter 'seed' must be an integer, not ' 3'"},
        {"epochs=99999999999999999999", "parameter 'epochs' must be an integer, not "
                                        "'99999999999999999999'"},
        {"alpha=fast", "parameter 'alpha' must be a number, not 'fast'"},
        {"alpha=nan", "parameter 'alpha' must be a number, not 'nan'"},
        {"verbose=maybe", "parameter 'verbose' must be true or false, not 'maybe'"},
    };
    for (size_t i = 0; i < N(cases); i++) {
        const char *args[] = {"seed=1", "tag=t", cases[i].arg};
        expect_error(&def, args, N(args), cases[i].want);
    }
    /* a bad default is reported as the value it is (graph.c refuses it before a run) */
    static const mf_param_def bad[] = {{.name = "n", .type = MF_I64, .default_value = "ten"}};
    mf_flow_def bdef = make_def(bad, 1);
    expect_error(&bdef, NULL, 0, "parameter 'n' must be an integer, not 'ten'");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_given),
        cmocka_unit_test(test_no_params),
        cmocka_unit_test(test_unknown),
        cmocka_unit_test(test_no_value),
        cmocka_unit_test(test_missing),
        cmocka_unit_test(test_bad_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
