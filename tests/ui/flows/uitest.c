/* For the ui tests: a long log (multi-byte text across page edges), a value too large to show,
 * a step that fails its first attempt, and a run that fails when --fail=1. */
#include <mflow/flow.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void start(mf_task *t)
{
    /* 4,000 lines of 50 bytes, each with two-byte characters: 200,000 bytes of stdout */
    for (int i = 0; i < 4000; i++)
        printf("line %05d: caf\xc3\xa9 na\xc3\xafve \xc3\xa9t\xc3\xa9 ................\n", i);
    fprintf(stderr, "start: wrote 4000 lines\n");
    size_t n = 100000;
    char *big = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        big[i] = (char)('a' + i % 26);
    big[n] = '\0';
    mf_set_str(t, "big", big);
    free(big);
    mf_set_str(t, "greeting", "hello, ui");
    double fs[] = {0.5, 2.25};
    mf_set_f64v(t, "weights", fs, 2);
}

static void flaky(mf_task *t)
{
    if (mf_attempt(t) == 0) {
        fprintf(stderr, "flaky: failing the first attempt on purpose\n");
        mf_fail(t, "first attempt fails on purpose");
    }
    printf("flaky: attempt %u works\n", mf_attempt(t));
    mf_set_i64(t, "answer", 42);
}

static void end(mf_task *t)
{
    if (mf_get_i64(t, "fail"))
        mf_fail(t, "asked to fail (--fail=1)");
    printf("done: %lld\n", (long long)mf_get_i64(t, "answer"));
}

static const mf_step_def steps[] = {
    {.name = "start", .fn = start, .next = "flaky"},
    {.name = "flaky", .fn = flaky, .next = "end", .retry = 1},
    {.name = "end", .fn = end},
};

static const mf_param_def params[] = {
    {.name = "fail", .type = MF_I64, .default_value = "0", .help = "1: the end step fails"},
};

MF_FLOW("UiTestFlow", steps, params);
