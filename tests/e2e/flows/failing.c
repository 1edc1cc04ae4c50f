/* Failure modes, chosen by the `mode` parameter. */
#include <mflow/flow.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
static void start(mf_task *t) { mf_set_i64(t, "ok", 1); }
static void work(mf_task *t) {
    const char *m = mf_get_str(t, "mode");
    fprintf(stderr, "work attempt %d\n", mf_attempt(t));
    if (!strcmp(m, "fail")) mf_fail(t, "bad input %d", 42);
    if (!strcmp(m, "segv")) raise(SIGSEGV);
    if (!strcmp(m, "abort")) raise(SIGABRT);
    if (!strcmp(m, "exit")) _exit(3);
    if (!strcmp(m, "sleep")) sleep(30);
    if (!strcmp(m, "flaky") && mf_attempt(t) == 0) mf_fail(t, "first attempt fails");
    if (!strcmp(m, "missing")) mf_get_i64(t, "nope");
    if (!strcmp(m, "wrongtype")) mf_get_str(t, "ok");
    int64_t count = -5;   /* a negative count reaching a size_t */
    if (!strcmp(m, "negcount")) mf_set_i64v(t, "v", NULL, (size_t)count);
    if (!strcmp(m, "nullvec")) mf_set_f64v(t, "v", NULL, 3);
    if (!strcmp(m, "nullstrv")) mf_set_strv(t, "v", NULL, 2);
    mf_set_i64(t, "done", mf_attempt(t));
}
static void end(mf_task *t) { (void)t; }
static const mf_step_def steps[] = {
    {.name = "start", .fn = start, .next = "work"},
    {.name = "work", .fn = work, .next = "end", .retry = 1, .timeout_s = 2},
    {.name = "end", .fn = end},
};
static const mf_param_def params[] = {
    {.name = "mode", .type = MF_STR, .default_value = "ok"},
};
MF_FLOW("FailingFlow", steps, params);
