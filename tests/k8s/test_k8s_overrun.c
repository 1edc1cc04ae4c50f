/* mflow's own backstop to the Job's activeDeadlineSeconds (plugins/compute/k8s/status.c): a task
 * still pending or running timeout_s + deadline_grace_s after its Job was created is FAILED,
 * timed out, and its Job is to be deleted; before that, without timeout_s, with grace -1, or
 * when the Job has ended by itself, what the Job and pod say stands. */
#include "status.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define T0 1714557600.0 /* 2024-05-01T10:00:00Z */
#define NAME "mflow-f-1-s-2-0"

static json_t *J(const char *text)
{
    json_error_t je;
    json_t *v = json_loads(text, 0, &je);
    if (!v)
        fail_msg("bad test JSON: %s: %s", je.text, text);
    return v;
}

struct res {
    struct mf_job_status st;
    int verdict;
};

/* The Job created at T0; now, timeout_s and grace as given. */
static struct res eval(const char *job, const char *pod, double now, double timeout_s, double grace)
{
    json_t *jj = job ? J(job) : NULL, *pp = pod ? J(pod) : NULL;
    struct k8s_obs o = {.job_name = NAME, .job = jj, .pod = pp, .job_seen_before = 1,
                        .pod_seen_before = pod != NULL, .now = now, .created = T0,
                        .pending_limit_s = 300, .appear_grace_s = 60, .timeout_s = timeout_s,
                        .deadline_grace_s = grace};
    struct res r = {{.struct_size = sizeof r.st}, 0};
    r.verdict = k8s_status_eval(&o, &r.st);
    json_decref(jj);
    json_decref(pp);
    return r;
}

#define JOB_ACTIVE "{\"metadata\":{\"name\":\"" NAME "\"},\"status\":{\"active\":1,\"startTime\":\"2024-05-01T10:00:01Z\"}}"
#define JOB_TARGET "{\"metadata\":{\"name\":\"" NAME "\"},\"status\":{\"active\":1,\"startTime\":\"2024-05-01T10:00:01Z\"," \
    "\"conditions\":[{\"type\":\"FailureTarget\",\"status\":\"True\",\"reason\":\"DeadlineExceeded\"," \
    "\"message\":\"Job was active longer than specified deadline\"}]}}"
#define POD(status) "{\"metadata\":{\"name\":\"" NAME "-x7k2p\"},\"spec\":{\"containers\":[{\"name\":\"main\"," \
    "\"image\":\"reg.example/mflow:1\"}]},\"status\":" status "}"
#define RUNNING POD("{\"phase\":\"Running\",\"containerStatuses\":[{\"name\":\"main\",\"state\":{\"running\":" \
    "{\"startedAt\":\"2024-05-01T10:00:02Z\"}}}]}")
#define PENDING POD("{\"phase\":\"Pending\"}")

static void running_past_the_deadline(void **s)
{
    (void)s;
    /* timeout 10 s, grace 5 s: at 14.9 s it still runs, at 15 s mflow ends it */
    struct res r = eval(JOB_ACTIVE, RUNNING, T0 + 14.9, 10, 5);
    assert_int_equal(r.st.state, MF_JOB_RUNNING);
    assert_int_equal(r.st.timed_out, 0);
    assert_int_equal(r.verdict, K8S_V_NONE);
    r = eval(JOB_ACTIVE, RUNNING, T0 + 15, 10, 5);
    assert_int_equal(r.st.state, MF_JOB_FAILED);
    assert_int_equal(r.st.timed_out, 1);
    assert_int_equal(r.st.exit_code, -1);
    assert_int_equal(r.verdict, K8S_V_DELETE);
    assert_true(r.st.end_time == T0 + 15);
    assert_true(r.st.start_time == T0 + 2);
    assert_string_equal(r.st.reason, "Job " NAME " still running 15 s after it was created, past its "
                        "activeDeadlineSeconds (10 s) and k8s deadline_grace_s (5 s): mflow deleted the Job");
    /* other figures: 2 s and a grace of 0 */
    r = eval(JOB_ACTIVE, RUNNING, T0 + 2.5, 2, 0);
    assert_int_equal(r.verdict, K8S_V_DELETE);
    assert_non_null(strstr(r.st.reason, "still running 2 s after it was created, past its "
                                        "activeDeadlineSeconds (2 s) and k8s deadline_grace_s (0 s)"));
    r = eval(JOB_ACTIVE, RUNNING, T0 + 1.9, 2, 0);
    assert_int_equal(r.st.state, MF_JOB_RUNNING);
}

static void pending_counts_too(void **s)
{
    (void)s;
    /* activeDeadlineSeconds counts while the pod waits: so does mflow */
    struct res r = eval(JOB_ACTIVE, PENDING, T0 + 70, 5, 60);
    assert_int_equal(r.st.state, MF_JOB_FAILED);
    assert_int_equal(r.st.timed_out, 1);
    assert_int_equal(r.verdict, K8S_V_DELETE);
    assert_non_null(strstr(r.st.reason, "still pending 70 s after it was created"));
    /* a Job not listed yet (no pod): the same */
    r = eval(JOB_ACTIVE, NULL, T0 + 64, 3, 60);
    assert_int_equal(r.st.state, MF_JOB_FAILED);
    assert_int_equal(r.verdict, K8S_V_DELETE);
    r = eval(JOB_ACTIVE, NULL, T0 + 62, 3, 60);
    assert_int_equal(r.st.state, MF_JOB_QUEUED);
}

static void failure_target_without_end(void **s)
{
    (void)s;
    /* the controller marked it, but the pod has not ended (it ignores SIGTERM): said so */
    struct res r = eval(JOB_TARGET, RUNNING, T0 + 40, 10, 30);
    assert_int_equal(r.st.state, MF_JOB_FAILED);
    assert_int_equal(r.verdict, K8S_V_DELETE);
    assert_non_null(strstr(r.st.reason, "(the job controller marked it DeadlineExceeded; its pod "
                                        "has not ended): mflow deleted the Job"));
    r = eval(JOB_TARGET, RUNNING, T0 + 39, 10, 30);
    assert_int_equal(r.st.state, MF_JOB_RUNNING);
}

static void off_and_ended(void **s)
{
    (void)s;
    /* no timeout_s, or grace -1: the Job's deadline alone */
    struct res r = eval(JOB_ACTIVE, RUNNING, T0 + 100000, 0, 5);
    assert_int_equal(r.st.state, MF_JOB_RUNNING);
    assert_int_equal(r.verdict, K8S_V_NONE);
    r = eval(JOB_ACTIVE, RUNNING, T0 + 100000, 10, -1);
    assert_int_equal(r.st.state, MF_JOB_RUNNING);
    /* ended by itself late: its own end stands (success, exit code, DeadlineExceeded) */
    r = eval(JOB_ACTIVE, POD("{\"phase\":\"Succeeded\",\"containerStatuses\":[{\"name\":\"main\",\"state\":"
                             "{\"terminated\":{\"exitCode\":0,\"reason\":\"Completed\"}}}]}"), T0 + 500, 10, 5);
    assert_int_equal(r.st.state, MF_JOB_SUCCEEDED);
    assert_int_equal(r.st.timed_out, 0);
    r = eval(JOB_ACTIVE, POD("{\"phase\":\"Failed\",\"containerStatuses\":[{\"name\":\"main\",\"state\":"
                             "{\"terminated\":{\"exitCode\":3,\"reason\":\"Error\"}}}]}"), T0 + 500, 10, 5);
    assert_int_equal(r.st.state, MF_JOB_FAILED);
    assert_int_equal(r.st.exit_code, 3);
    assert_int_equal(r.st.timed_out, 0);
    assert_int_equal(r.verdict, K8S_V_NONE);
    r = eval("{\"metadata\":{\"name\":\"" NAME "\"},\"status\":{\"failed\":1,\"conditions\":[{\"type\":"
             "\"Failed\",\"status\":\"True\",\"reason\":\"DeadlineExceeded\",\"message\":\"Job was active "
             "longer than specified deadline\"}]}}", NULL, T0 + 500, 10, 5);
    assert_int_equal(r.st.timed_out, 1);
    assert_int_equal(r.verdict, K8S_V_NONE);
    assert_non_null(strstr(r.st.reason, "DeadlineExceeded: Job was active longer than specified deadline"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(running_past_the_deadline), cmocka_unit_test(pending_counts_too),
        cmocka_unit_test(failure_target_without_end), cmocka_unit_test(off_and_ended),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
