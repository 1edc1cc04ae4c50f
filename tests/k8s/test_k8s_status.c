/* What a Job and its pod say, as an mf_job_status (plugins/compute/k8s/status.c), on documents
 * shaped like the Kubernetes API reference's (Pod v1 / Job batch/v1 status), and the messages of
 * failed answers (v1 Status objects, api.c). */
#include "api.h"
#include "status.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define T0 1714557600.0 /* 2024-05-01T10:00:00Z */

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

static struct res eval(const char *job, const char *pod, int job_seen, int pod_seen, double now,
                       double pending_limit)
{
    json_t *jj = job ? J(job) : NULL, *pp = pod ? J(pod) : NULL;
    struct k8s_obs o = {.job_name = "mflow-f-1-s-2-0", .job = jj, .pod = pp,
                        .job_seen_before = job_seen, .pod_seen_before = pod_seen, .now = now,
                        .created = T0, .pending_limit_s = pending_limit, .appear_grace_s = 60};
    struct res r = {{.struct_size = sizeof r.st}, 0};
    r.verdict = k8s_status_eval(&o, &r.st);
    json_decref(jj);
    json_decref(pp);
    return r;
}

#define JOB_ACTIVE "{\"metadata\":{\"name\":\"mflow-f-1-s-2-0\"},\"status\":{\"active\":1,\"startTime\":\"2024-05-01T10:00:01Z\"}}"
#define POD(status) "{\"metadata\":{\"name\":\"mflow-f-1-s-2-0-x7k2p\",\"labels\":{\"batch.kubernetes.io/job-name\":\"mflow-f-1-s-2-0\"}}," \
    "\"spec\":{\"containers\":[{\"name\":\"main\",\"image\":\"reg.example/mflow:1\",\"resources\":{\"limits\":{\"memory\":\"512Mi\"}}}]}," \
    "\"status\":" status "}"

static void pending_and_running(void **s)
{
    (void)s;
    struct res r = eval(JOB_ACTIVE, POD("{\"phase\":\"Pending\"}"), 1, 0, T0 + 1, 300);
    assert_int_equal(r.st.state, MF_JOB_QUEUED);
    assert_int_equal(r.st.exit_code, -1);
    assert_int_equal(r.verdict, K8S_V_NONE);
    r = eval(JOB_ACTIVE, POD("{\"phase\":\"Running\",\"startTime\":\"2024-05-01T10:00:02Z\","
                             "\"containerStatuses\":[{\"name\":\"main\",\"state\":{\"running\":"
                             "{\"startedAt\":\"2024-05-01T10:00:05Z\"}}}]}"), 1, 1, T0 + 9, 300);
    assert_int_equal(r.st.state, MF_JOB_RUNNING);
    assert_true(r.st.start_time == T0 + 5);
    /* a Job listed, no pod yet: queued */
    r = eval(JOB_ACTIVE, NULL, 1, 0, T0 + 2, 300);
    assert_int_equal(r.st.state, MF_JOB_QUEUED);
}

static void exits(void **s)
{
    (void)s;
    struct res r = eval(JOB_ACTIVE, POD("{\"phase\":\"Succeeded\",\"containerStatuses\":[{\"name\":\"main\","
        "\"state\":{\"terminated\":{\"exitCode\":0,\"reason\":\"Completed\",\"startedAt\":\"2024-05-01T10:00:03Z\","
        "\"finishedAt\":\"2024-05-01T10:00:13Z\"}}}]}"), 1, 1, T0 + 20, 300);
    assert_int_equal(r.st.state, MF_JOB_SUCCEEDED);
    assert_int_equal(r.st.exit_code, 0);
    assert_true(r.st.start_time == T0 + 3 && r.st.end_time == T0 + 13);
    r = eval(JOB_ACTIVE, POD("{\"phase\":\"Failed\",\"containerStatuses\":[{\"name\":\"main\","
        "\"state\":{\"terminated\":{\"exitCode\":3,\"reason\":\"Error\",\"finishedAt\":\"2024-05-01T10:00:07Z\"}}}]}"),
        1, 1, T0 + 20, 300);
    assert_int_equal(r.st.state, MF_JOB_FAILED);
    assert_int_equal(r.st.exit_code, 3);
    assert_string_equal(r.st.reason, "");
    assert_true(r.st.end_time == T0 + 7);
    /* a sidecar's status first: main's counts */
    r = eval(JOB_ACTIVE, POD("{\"phase\":\"Running\",\"containerStatuses\":[{\"name\":\"side\",\"state\":{\"running\":{}}},"
        "{\"name\":\"main\",\"state\":{\"terminated\":{\"exitCode\":42}}}]}"), 1, 1, T0 + 20, 300);
    assert_int_equal(r.st.state, MF_JOB_FAILED);
    assert_int_equal(r.st.exit_code, 42);
}

static void oom_killed(void **s)
{
    (void)s;
    struct res r = eval(JOB_ACTIVE, POD("{\"phase\":\"Failed\",\"containerStatuses\":[{\"name\":\"main\","
        "\"state\":{\"terminated\":{\"exitCode\":137,\"reason\":\"OOMKilled\"}}}]}"), 1, 1, T0 + 20, 300);
    assert_int_equal(r.st.state, MF_JOB_FAILED);
    assert_int_equal(r.st.exit_code, 137);
    assert_non_null(strstr(r.st.reason, "OOMKilled"));
    assert_non_null(strstr(r.st.reason, "512Mi"));
    assert_non_null(strstr(r.st.reason, "mflow-f-1-s-2-0-x7k2p"));
}

static void image_pull(void **s)
{
    (void)s;
    const char *reasons[] = {"ErrImagePull", "ImagePullBackOff", "InvalidImageName"};
    for (int i = 0; i < 3; i++) {
        char pod[1024], st[512];
        snprintf(st, sizeof st, "{\"phase\":\"Pending\",\"containerStatuses\":[{\"name\":\"main\","
                 "\"image\":\"reg.example/nope:%d\",\"state\":{\"waiting\":{\"reason\":\"%s\","
                 "\"message\":\"Back-off pulling image\"}}}]}", i, reasons[i]);
        snprintf(pod, sizeof pod, POD("%s"), st);
        struct res r = eval(JOB_ACTIVE, pod, 1, 1, T0 + 5, 300);
        assert_int_equal(r.st.state, MF_JOB_FAILED);
        assert_int_equal(r.verdict, K8S_V_DELETE);
        assert_non_null(strstr(r.st.reason, reasons[i]));
        char img[64];
        snprintf(img, sizeof img, "'reg.example/nope:%d'", i);
        assert_non_null(strstr(r.st.reason, img));
    }
    /* ContainerCreating is only waiting */
    struct res r = eval(JOB_ACTIVE, POD("{\"phase\":\"Pending\",\"containerStatuses\":[{\"name\":\"main\","
        "\"state\":{\"waiting\":{\"reason\":\"ContainerCreating\"}}}]}"), 1, 1, T0 + 5, 300);
    assert_int_equal(r.st.state, MF_JOB_QUEUED);
    assert_int_equal(r.verdict, K8S_V_NONE);
}

static void config_error(void **s)
{
    (void)s;
    struct res r = eval(JOB_ACTIVE, POD("{\"phase\":\"Pending\",\"containerStatuses\":[{\"name\":\"main\","
        "\"state\":{\"waiting\":{\"reason\":\"CreateContainerConfigError\",\"message\":\"secret \\\"s3-creds\\\" not found\"}}}]}"),
        1, 1, T0 + 5, 300);
    assert_int_equal(r.st.state, MF_JOB_FAILED);
    assert_int_equal(r.verdict, K8S_V_DELETE);
    assert_string_equal(r.st.reason, "CreateContainerConfigError: secret \"s3-creds\" not found");
}

static void deadline(void **s)
{
    (void)s;
    const char *job = "{\"metadata\":{\"name\":\"mflow-f-1-s-2-0\"},\"status\":{\"failed\":1,\"conditions\":["
        "{\"type\":\"Failed\",\"status\":\"True\",\"reason\":\"DeadlineExceeded\",\"message\":"
        "\"Job was active longer than specified deadline\",\"lastTransitionTime\":\"2024-05-01T10:00:30Z\"}]}}";
    /* the pod may be gone, killed (137) or still listed as running: the Job's word wins */
    struct res r = eval(job, NULL, 1, 1, T0 + 40, 300);
    assert_int_equal(r.st.state, MF_JOB_FAILED);
    assert_int_equal(r.st.timed_out, 1);
    assert_non_null(strstr(r.st.reason, "DeadlineExceeded"));
    assert_true(r.st.end_time == T0 + 30);
    r = eval(job, POD("{\"phase\":\"Failed\",\"containerStatuses\":[{\"name\":\"main\",\"state\":"
                      "{\"terminated\":{\"exitCode\":137,\"reason\":\"Error\"}}}]}"), 1, 1, T0 + 40, 300);
    assert_int_equal(r.st.timed_out, 1);
    /* another Failed reason is no timeout */
    r = eval("{\"status\":{\"conditions\":[{\"type\":\"Failed\",\"status\":\"True\",\"reason\":"
             "\"BackoffLimitExceeded\",\"message\":\"Job has reached the specified backoff limit\"}]}}",
             NULL, 1, 1, T0 + 40, 300);
    assert_int_equal(r.st.state, MF_JOB_FAILED);
    assert_int_equal(r.st.timed_out, 0);
    assert_non_null(strstr(r.st.reason, "BackoffLimitExceeded"));
}

static void evicted(void **s)
{
    (void)s;
    struct res r = eval(JOB_ACTIVE, POD("{\"phase\":\"Failed\",\"reason\":\"Evicted\",\"message\":"
        "\"The node was low on resource: memory.\"}"), 1, 1, T0 + 40, 300);
    assert_int_equal(r.st.state, MF_JOB_FAILED);
    assert_string_equal(r.st.reason, "Evicted: The node was low on resource: memory.");
    /* as the kubelet leaves it: the container killed (137) and a DisruptionTarget beside */
    r = eval(JOB_ACTIVE, POD("{\"phase\":\"Failed\",\"reason\":\"Evicted\",\"message\":\"The node was low on "
        "resource: memory.\",\"conditions\":[{\"type\":\"DisruptionTarget\",\"status\":\"True\",\"reason\":"
        "\"TerminationByKubelet\"}],\"containerStatuses\":[{\"name\":\"main\",\"state\":{\"terminated\":"
        "{\"exitCode\":137,\"reason\":\"Error\"}}}]}"), 1, 1, T0 + 40, 300);
    assert_int_equal(r.st.state, MF_JOB_FAILED);
    assert_string_equal(r.st.reason, "Evicted: The node was low on resource: memory.");
}

#define UNSCHED POD("{\"phase\":\"Pending\",\"conditions\":[{\"type\":\"PodScheduled\",\"status\":\"False\"," \
    "\"reason\":\"Unschedulable\",\"message\":\"0/3 nodes are available: 3 Insufficient nvidia.com/gpu.\"}]}")

static void unschedulable(void **s)
{
    (void)s;
    struct res r = eval(JOB_ACTIVE, UNSCHED, 1, 1, T0 + 10, 300);
    assert_int_equal(r.st.state, MF_JOB_QUEUED);
    assert_non_null(strstr(r.st.reason, "Unschedulable"));
    r = eval(JOB_ACTIVE, UNSCHED, 1, 1, T0 + 301, 300);
    assert_int_equal(r.st.state, MF_JOB_FAILED);
    assert_int_equal(r.verdict, K8S_V_DELETE);
    assert_non_null(strstr(r.st.reason, "Unschedulable: 0/3 nodes are available: 3 Insufficient nvidia.com/gpu."));
    assert_non_null(strstr(r.st.reason, "pending_limit_s"));
    /* 0: waits for ever */
    r = eval(JOB_ACTIVE, UNSCHED, 1, 1, T0 + 100000, 0);
    assert_int_equal(r.st.state, MF_JOB_QUEUED);
}

static void node_lost(void **s)
{
    (void)s;
    struct res r = eval(JOB_ACTIVE, POD("{\"phase\":\"Running\",\"conditions\":[{\"type\":\"DisruptionTarget\","
        "\"status\":\"True\",\"reason\":\"DeletionByTaintManager\",\"message\":\"Taint manager: deleting due to NoExecute taint\"}]}"),
        1, 1, T0 + 10, 300);
    assert_int_equal(r.st.state, MF_JOB_LOST);
    assert_non_null(strstr(r.st.reason, "node lost: DeletionByTaintManager"));
    /* the container killed with the node: still lost, not exit 137 */
    r = eval(JOB_ACTIVE, POD("{\"phase\":\"Failed\",\"conditions\":[{\"type\":\"DisruptionTarget\","
        "\"status\":\"True\",\"reason\":\"DeletionByTaintManager\"}],\"containerStatuses\":[{\"name\":\"main\","
        "\"state\":{\"terminated\":{\"exitCode\":137,\"reason\":\"Error\"}}}]}"), 1, 1, T0 + 10, 300);
    assert_int_equal(r.st.state, MF_JOB_LOST);
    /* but a container that had succeeded stays a success */
    r = eval(JOB_ACTIVE, POD("{\"phase\":\"Succeeded\",\"conditions\":[{\"type\":\"DisruptionTarget\","
        "\"status\":\"True\",\"reason\":\"DeletionByTaintManager\"}],\"containerStatuses\":[{\"name\":\"main\","
        "\"state\":{\"terminated\":{\"exitCode\":0}}}]}"), 1, 1, T0 + 10, 300);
    assert_int_equal(r.st.state, MF_JOB_SUCCEEDED);
    /* DisruptionTarget False is nothing */
    r = eval(JOB_ACTIVE, POD("{\"phase\":\"Running\",\"conditions\":[{\"type\":\"DisruptionTarget\",\"status\":\"False\"}]}"),
             1, 1, T0 + 10, 300);
    assert_int_equal(r.st.state, MF_JOB_RUNNING);
    /* the pod gone while the Job lives */
    r = eval(JOB_ACTIVE, NULL, 1, 1, T0 + 10, 300);
    assert_int_equal(r.st.state, MF_JOB_LOST);
    assert_int_equal(r.verdict, K8S_V_DELETE);
    /* the Job gone after it was seen */
    r = eval(NULL, NULL, 1, 1, T0 + 10, 300);
    assert_int_equal(r.st.state, MF_JOB_LOST);
    assert_non_null(strstr(r.st.reason, "mflow-f-1-s-2-0 is gone"));
    /* the Job deleted by someone else while its pod ran: the pod, killed, is still listed */
    r = eval(NULL, POD("{\"phase\":\"Running\",\"containerStatuses\":[{\"name\":\"main\",\"state\":"
                       "{\"running\":{\"startedAt\":\"2024-05-01T10:00:05Z\"}}}]}"), 1, 1, T0 + 10, 300);
    assert_int_equal(r.st.state, MF_JOB_RUNNING);   /* until the kill has ended it */
    r = eval(NULL, POD("{\"phase\":\"Failed\",\"containerStatuses\":[{\"name\":\"main\",\"state\":"
                       "{\"terminated\":{\"exitCode\":143,\"reason\":\"Error\"}}}]}"), 1, 1, T0 + 12, 300);
    assert_int_equal(r.st.state, MF_JOB_LOST);
    assert_non_null(strstr(r.st.reason, "mflow-f-1-s-2-0 is gone (deleted outside mflow?)"));
    assert_non_null(strstr(r.st.reason, "pod mflow-f-1-s-2-0-x7k2p was killed"));
    /* exit code 0 said with a signal is no success */
    r = eval(JOB_ACTIVE, POD("{\"phase\":\"Running\",\"containerStatuses\":[{\"name\":\"main\",\"state\":"
                             "{\"terminated\":{\"exitCode\":0,\"signal\":9}}}]}"), 1, 1, T0 + 12, 300);
    assert_int_equal(r.st.state, MF_JOB_FAILED);
    assert_int_equal(r.st.term_signal, 9);
    /* never seen yet: waits out the grace, then lost */
    r = eval(NULL, NULL, 0, 0, T0 + 10, 300);
    assert_int_equal(r.st.state, MF_JOB_QUEUED);
    r = eval(NULL, NULL, 0, 0, T0 + 61, 300);
    assert_int_equal(r.st.state, MF_JOB_LOST);
}

static void job_complete_without_pod(void **s)
{
    (void)s;
    struct res r = eval("{\"status\":{\"succeeded\":1,\"conditions\":[{\"type\":\"Complete\",\"status\":\"True\"}]}}",
                        NULL, 1, 1, T0 + 10, 300);
    assert_int_equal(r.st.state, MF_JOB_SUCCEEDED);
    assert_int_equal(r.st.exit_code, 0);
}

static void status_messages(void **s)
{
    (void)s;
    char m[512];
    const char *st = "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
        "\"message\":\"Job.batch \\\"x\\\" is invalid: spec.template.spec.containers[0].bogus: unknown field\","
        "\"reason\":\"Invalid\",\"code\":422}";
    k8s_status_message("create Job x in namespace ns", 422, st, strlen(st), m, sizeof m);
    assert_string_equal(m, "k8s: create Job x in namespace ns: 422 Invalid: Job.batch \"x\" is "
                           "invalid: spec.template.spec.containers[0].bogus: unknown field");
    const char *nf = "{\"kind\":\"Status\",\"status\":\"Failure\",\"message\":\"jobs.batch \\\"y\\\" not found\",\"reason\":\"NotFound\",\"code\":404}";
    k8s_status_message("delete Job y", 404, nf, strlen(nf), m, sizeof m);
    assert_string_equal(m, "k8s: delete Job y: 404 NotFound: jobs.batch \"y\" not found");
    k8s_status_message("list the nodes", 502, "Bad Gateway\nmore", 16, m, sizeof m);
    assert_string_equal(m, "k8s: list the nodes: HTTP 502: Bad Gateway");
    k8s_status_message("list the nodes", 503, NULL, 0, m, sizeof m);
    assert_string_equal(m, "k8s: list the nodes: HTTP 503");
    /* a body without a NUL or a line end: only its len bytes (found by fuzz_k8s_status under
     * ASan: the first line was looked for past the body) */
    static const char unterminated[] = "<html>502 Bad Gateway</html>TRAILING BYTES";
    k8s_status_message("list the nodes", 502, unterminated, 28, m, sizeof m);
    assert_string_equal(m, "k8s: list the nodes: HTTP 502: <html>502 Bad Gateway</html>");
    k8s_status_message("list the nodes", 502, unterminated, 5, m, sizeof m);
    assert_string_equal(m, "k8s: list the nodes: HTTP 502: <html");
    /* a long first line is cut at 199 bytes */
    char lng[400];
    memset(lng, 'L', sizeof lng);
    k8s_status_message("list the nodes", 500, lng, sizeof lng, m, sizeof m);
    assert_int_equal(strlen(m), strlen("k8s: list the nodes: HTTP 500: ") + 199);
    char *e = k8s_url_escape("mflow/flow=A b,c");
    assert_string_equal(e, "mflow%2Fflow%3DA%20b%2Cc");
    free(e);
}

static void times(void **s)
{
    (void)s;
    json_t *a = json_string("2024-05-01T10:00:00Z"), *b = json_string("2024-05-01T12:00:00.5+02:00"),
           *c = json_string("yesterday");
    assert_true(k8s_time(a) == T0);
    assert_true(k8s_time(b) == T0);
    assert_true(k8s_time(c) == 0);
    assert_true(k8s_time(NULL) == 0);
    json_decref(a);
    json_decref(b);
    json_decref(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pending_and_running), cmocka_unit_test(exits),
        cmocka_unit_test(oom_killed), cmocka_unit_test(image_pull),
        cmocka_unit_test(config_error), cmocka_unit_test(deadline),
        cmocka_unit_test(evicted), cmocka_unit_test(unschedulable),
        cmocka_unit_test(node_lost), cmocka_unit_test(job_complete_without_pod),
        cmocka_unit_test(status_messages), cmocka_unit_test(times),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
