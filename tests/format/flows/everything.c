/* Every artifact type with its edge values, and every shape a record can take: a foreach and
 * its join, a branch and its join, a retried task, a caught failure, and (with FORMAT_FAIL_END
 * set) a failing end that `mflow resume` completes by cloning every other task.
 * The values are what tests/format checks a reader against (tests/format/corpus/). */
#include <mflow/flow.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void start(mf_task *t)
{
    mf_set_i64(t, "i_zero", 0);
    mf_set_i64(t, "i_min", INT64_MIN);
    mf_set_i64(t, "i_max", INT64_MAX);
    mf_set_i64(t, "i_neg", -2);
    mf_set_f64(t, "f_neg_zero", -0.0);
    mf_set_f64(t, "f_subnormal", 4.9406564584124654e-324);
    mf_set_f64(t, "f_max", DBL_MAX);
    mf_set_f64(t, "f_min_normal", DBL_MIN);
    mf_set_f64(t, "f_nan", NAN);
    mf_set_f64(t, "f_inf", INFINITY);
    mf_set_f64(t, "f_neg_inf", -INFINITY);
    mf_set_f64(t, "f_tenth", 0.1);
    mf_set_str(t, "s_empty", "");
    mf_set_str(t, "s_utf8", "caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80");
    mf_set_str(t, "s_control", "tab\there\nnew line\x1b[0m");
    mf_set_str(t, "s_not_utf8", "ok\xff\xfe\xc0\xaf");
    mf_set_str(t, "s_surrogate", "\xed\xa0\x80");
    static const uint8_t raw[] = {0, 1, 2, 0xff, 0xfe, 'M', 'F', 'V', 0};
    mf_set_bytes(t, "b_raw", raw, sizeof raw);
    mf_set_bytes(t, "b_empty", "", 0);
    /* Large values that compress: a long run (near zstd's largest ratio) and a pattern. */
    size_t big = (size_t)4 << 20;
    char *s = malloc(big + 1);
    memset(s, 'a', big);
    s[big] = '\0';
    mf_set_str(t, "z_run", s);
    size_t pat = 200000;
    for (size_t i = 0; i < pat; i++)
        s[i] = "0123456789abcdef mflow\n"[(i * 7 + i / 23) % 23];
    s[pat] = '\0';
    mf_set_str(t, "z_pattern", s);
    free(s);
    static const int64_t iv[] = {1, -1, INT64_MIN, INT64_MAX, 0};
    mf_set_i64v(t, "iv", iv, 5);
    mf_set_i64v(t, "iv_empty", NULL, 0);
    const double fv[] = {1.0, NAN, INFINITY, -INFINITY, -0.0, 5e-324, DBL_MAX, 0.1};
    mf_set_f64v(t, "fv", fv, 8);
    mf_set_f64v(t, "fv_empty", NULL, 0);
    const double fv_short[] = {1.0, NAN};
    mf_set_f64v(t, "fv_short", fv_short, 2);
    static const char *const sv[] = {"", "a", "caf\xc3\xa9", "bad\xff", "line\nbreak"};
    mf_set_strv(t, "sv", sv, 5);
    mf_set_strv(t, "sv_empty", NULL, 0);
    static const char *const items[] = {"alpha", "b\xff", "gamma"};
    mf_set_strv(t, "items", items, 3);
}

static void fan(mf_task *t)
{
    mf_set_str(t, "item", mf_item_str(t));
    mf_set_i64(t, "index", (int64_t)mf_item_index(t));
    /* the first attempt of the last item fails: its task is retried */
    if (mf_item_index(t) == 2 && mf_attempt(t) == 0)
        mf_fail(t, "attempt 0 of item 2 fails on purpose");
}

static void gather(mf_task *t)
{
    int64_t s = 0;
    for (size_t i = 0; i < mf_input_count(t); i++)
        s += mf_input_i64(t, i, "index");
    mf_set_i64(t, "index_sum", s);
    mf_set_i64(t, "inputs", (int64_t)mf_input_count(t));
}

static void split(mf_task *t) { mf_set_i64(t, "branches", 2); }

static void left(mf_task *t) { mf_set_str(t, "side", "left"); }

/* fails every attempt: catch_var keeps the error and the run goes on */
static void right(mf_task *t) { mf_fail(t, "right fails on purpose"); }

static void meet(mf_task *t)
{
    mf_set_str(t, "sides", mf_input_has(t, 0, "side") ? mf_input_str(t, 0, "side") : "?");
    mf_set_str(t, "caught", mf_input_str(t, 1, "error"));
}

static void end(mf_task *t)
{
    if (getenv("FORMAT_FAIL_END"))
        mf_fail(t, "end fails on purpose (FORMAT_FAIL_END)");
    mf_set_i64(t, "done", (int64_t)strlen(mf_get_str(t, "sides")));   /* reads an input's value */
}

static const mf_step_def steps[] = {
    {.name = "start", .fn = start, .next = "fan", .foreach = "items"},
    {.name = "fan", .fn = fan, .next = "gather", .retry = 1},
    {.name = "gather", .fn = gather, .next = "split", .join = 1},
    {.name = "split", .fn = split, .next = "left right"},
    {.name = "left", .fn = left, .next = "meet"},
    {.name = "right", .fn = right, .next = "meet", .catch_var = "error"},
    {.name = "meet", .fn = meet, .next = "end", .join = 1},
    {.name = "end", .fn = end},
};

static const mf_param_def params[] = {
    {.name = "alpha", .type = MF_F64, .default_value = "0.5", .help = "a parameter"},
    {.name = "label", .type = MF_STR, .default_value = "corpus", .help = "a text parameter"},
};
MF_FLOW("FormatFlow", steps, params);
