/* The API server's list answers as the k8s plugin reads them (plugins/compute/k8s/lists.c):
 * a run's JobList and PodList, the orphan sweep's JobList, the NodeList, and quantities. */
#include "lists.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static json_t *J(const char *text)
{
    json_error_t je;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &je);
    if (!v)
        fail_msg("bad test JSON: %s: %s", je.text, text);
    return v;
}

#define POD(name, job, created, state)                                                       \
    "{\"metadata\":{\"name\":\"" name "\",\"creationTimestamp\":\"" created "\","            \
    "\"labels\":{\"batch.kubernetes.io/job-name\":\"" job "\"}},"                            \
    "\"status\":{\"containerStatuses\":[{\"name\":\"main\",\"state\":" state "}]}}"

static void index_lists(void **s)
{
    (void)s;
    json_t *jl = J("{\"kind\":\"JobList\",\"items\":[{\"metadata\":{\"name\":\"j1\"}},"
                   "{\"metadata\":{}},{\"metadata\":{\"name\":7}},\"junk\","
                   "{\"metadata\":{\"name\":\"j2\"},\"status\":{\"active\":1}}]}");
    json_t *pl = J("{\"kind\":\"PodList\",\"items\":["
                   POD("j1-a", "j1", "2024-05-01T10:00:05Z", "{\"running\":{}}") ","
                   POD("j1-b", "j1", "2024-05-01T10:00:09Z", "{\"waiting\":{}}") ","
                   POD("j1-c", "j1", "2024-05-01T10:00:01Z", "{\"terminated\":{}}") ","
                   "{\"metadata\":{\"name\":\"j2-a\",\"ownerReferences\":[{\"kind\":\"ReplicaSet\","
                   "\"name\":\"no\"},{\"kind\":\"Job\",\"name\":\"j2\"}]}},"
                   "{\"metadata\":{\"name\":\"stray\",\"labels\":{\"app\":\"x\"}}},"
                   "{\"metadata\":{\"name\":\"old-label\",\"labels\":{\"job-name\":\"j3\"}}}]}");
    json_t *jobs = NULL, *pods = NULL;
    assert_int_equal(k8s_lists_index(jl, pl, &jobs, &pods), 0);
    assert_int_equal(json_object_size(jobs), 2);
    assert_non_null(json_object_get(json_object_get(json_object_get(jobs, "j2"), "status"), "active"));
    assert_non_null(json_object_get(jobs, "j1"));
    assert_int_equal(json_object_size(pods), 3);
    /* the newest pod of j1, not the last listed */
    assert_string_equal(json_string_value(json_object_get(json_object_get(
                            json_object_get(pods, "j1"), "metadata"), "name")), "j1-b");
    assert_string_equal(json_string_value(json_object_get(json_object_get(
                            json_object_get(pods, "j2"), "metadata"), "name")), "j2-a");
    assert_non_null(json_object_get(pods, "j3"));
    assert_null(json_object_get(pods, "no"));
    json_decref(jobs);
    json_decref(pods);

    /* no lists, lists without items, items of the wrong type: empty */
    const char *empty[] = {"null", "{}", "{\"items\":{}}", "{\"items\":\"x\"}", "[1,2]"};
    for (size_t i = 0; i < sizeof empty / sizeof empty[0]; i++) {
        json_t *e = J(empty[i]);
        assert_int_equal(k8s_lists_index(e, e, &jobs, &pods), 0);
        assert_int_equal(json_object_size(jobs), 0);
        assert_int_equal(json_object_size(pods), 0);
        json_decref(jobs);
        json_decref(pods);
        json_decref(e);
    }
    assert_int_equal(k8s_lists_index(NULL, NULL, &jobs, &pods), 0);
    assert_int_equal(json_object_size(jobs) + json_object_size(pods), 0);
    json_decref(jobs);
    json_decref(pods);
    json_decref(jl);
    json_decref(pl);
}

static void pod_ran(void **s)
{
    (void)s;
    struct {
        const char *pod;
        int ran;
    } c[] = {
        {POD("p", "j", "t", "{\"running\":{\"startedAt\":\"2024-05-01T10:00:05Z\"}}"), 1},
        {POD("p", "j", "t", "{\"terminated\":{\"exitCode\":0}}"), 1},
        {POD("p", "j", "t", "{\"waiting\":{\"reason\":\"ErrImagePull\"}}"), 0},
        {POD("p", "j", "t", "{}"), 0},
        {"{\"status\":{\"containerStatuses\":{\"state\":{\"running\":{}}}}}", 0},
        {"{\"status\":{\"phase\":\"Pending\"}}", 0},
        {"[]", 0},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        json_t *p = J(c[i].pod);
        assert_int_equal(k8s_pod_ran(p), c[i].ran);
        json_decref(p);
    }
    assert_int_equal(k8s_pod_ran(NULL), 0);
}

#define JOB(ann, run, extra)                                                                  \
    "{\"metadata\":{\"name\":\"mflow-f-1-s-2-0\",\"labels\":{\"mflow/run\":\"" run "\"},"    \
    "\"annotations\":{\"mflow/orchestrator\":\"" ann "\"}" extra "}"

static void orphans(void **s)
{
    (void)s;
    struct {
        const char *job;
        int cand;
        long pid;
        unsigned long long start;
    } c[] = {
        {JOB("box 4242 987654", "r1", "}"), 1, 4242, 987654},
        {JOB("box 4242 987654", "r1", "},\"status\":{\"conditions\":[{\"type\":\"Complete\","
                                      "\"status\":\"False\"}]}"), 1, 4242, 987654},
        {JOB("box 4242 987654", "r2", "}"), 0, 0, 0},                     /* this run's */
        {JOB("other 4242 987654", "r1", "}"), 0, 0, 0},                   /* another host's */
        {JOB("box 4242 987654", "r1", ",\"deletionTimestamp\":\"2024-05-01T10:00:00Z\"}"), 0, 0, 0},
        {JOB("box 4242 987654", "r1", "},\"status\":{\"conditions\":[{\"type\":\"Failed\","
                                      "\"status\":\"True\"}]}"), 0, 0, 0},
        {JOB("box 4242 987654", "r1", "},\"status\":{\"conditions\":[{\"type\":\"Complete\","
                                      "\"status\":\"True\"}]}"), 0, 0, 0},
        {JOB("box", "r1", "}"), 0, 0, 0},
        {JOB("box 0 5", "r1", "}"), 0, 0, 0},
        {JOB("box -3 5", "r1", "}"), 0, 0, 0},
        {JOB("box 99999999999 5", "r1", "}"), 0, 0, 0},
        {JOB("box 12 -5", "r1", "}"), 0, 0, 0},
        {JOB("box 12 5x", "r1", "}"), 0, 0, 0},
        {JOB("box 12 99999999999999999999999", "r1", "}"), 0, 0, 0},
        {JOB(" 12 5", "r1", "}"), 0, 0, 0},
        {"{\"metadata\":{\"name\":\"n\",\"annotations\":{\"mflow/orchestrator\":\"box 7 8\"}}}", 1, 7, 8},
        {"{\"metadata\":{\"annotations\":{\"mflow/orchestrator\":\"box 7 8\"}}}", 0, 0, 0},
        {"{\"metadata\":{\"name\":\"n\",\"annotations\":{\"mflow/orchestrator\":7}}}", 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        json_t *j = J(c[i].job);
        struct k8s_orphan o;
        memset(&o, 0, sizeof o);
        int r = k8s_orphan_candidate(j, "mflow/orchestrator", "r2", "box", &o);
        if (r != c[i].cand)
            fail_msg("case %zu: %d, not %d: %s", i, r, c[i].cand, c[i].job);
        if (r) {
            assert_string_equal(o.host, "box");
            assert_int_equal(o.pid, c[i].pid);
            assert_int_equal(o.start, c[i].start);
            assert_string_equal(o.name, json_string_value(json_object_get(
                                            json_object_get(j, "metadata"), "name")));
        }
        json_decref(j);
    }
}

static void quantities(void **s)
{
    (void)s;
    struct {
        const char *q;
        double v;
    } c[] = {
        {"3800m", 3.8}, {"4", 4}, {"16Gi", 17179869184.0}, {"16336028Ki", 16336028.0 * 1024},
        {"1e9", 1e9}, {"500M", 5e8}, {".5", 0.5}, {"+2", 2}, {"1Ei", 1152921504606846976.0},
        {"250u", 250e-6},
        /* unreadable: -1 */
        {"", -1}, {"abc", -1}, {"4 ", -1}, {" 4", -1}, {"4Xi", -1}, {"inf", -1}, {"Infinity", -1},
        {"nan", -1}, {"-inf", -1}, {"0x10", -1}, {"1e999", -1}, {"1e308E", -1}, {"9e300Ei", -1},
        {".", -1}, {"-", -1},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        double v = k8s_quantity(c[i].q);
        if (fabs(v - c[i].v) > 1e-9 * fabs(c[i].v))
            fail_msg("quantity '%s': %g, not %g", c[i].q, v, c[i].v);
    }
    assert_true(k8s_quantity(NULL) == -1);
}

static json_int_t geti(const json_t *o, const char *k)
{
    assert_true(json_is_integer(json_object_get(o, k)));
    return json_integer_value(json_object_get(o, k));
}

#define NODE(alloc, extra)                                                                     \
    "{\"metadata\":{\"name\":\"n1\"},\"status\":{\"allocatable\":" alloc "," extra "}}"

static void node_offers(void **s)
{
    (void)s;
    struct {
        const char *node;
        json_int_t cpus, mb, gpus;
        const char *state;
    } c[] = {
        {NODE("{\"cpu\":\"3800m\",\"memory\":\"16336028Ki\",\"nvidia.com/gpu\":\"2\"}",
              "\"conditions\":[{\"type\":\"MemoryPressure\",\"status\":\"False\"},"
              "{\"type\":\"Ready\",\"status\":\"True\"}]"), 3, 15953, 2, "Ready"},
        {NODE("{\"cpu\":\"2\",\"memory\":\"4Gi\"}",
              "\"conditions\":[{\"type\":\"Ready\",\"status\":\"Unknown\"}]"), 2, 4096, 0, "NotReady"},
        {NODE("{\"cpu\":\"1e300\",\"memory\":\"1e300Ei\",\"nvidia.com/gpu\":\"9e18\"}", "\"x\":1"),
         9007199254740992LL, 0, 9007199254740992LL, "Unknown"},
        {NODE("{\"cpu\":\"1e200\",\"memory\":\"1e200\",\"nvidia.com/gpu\":\"-4\"}", "\"x\":1"),
         9007199254740992LL, 9007199254740992LL, 0, "Unknown"},
        {NODE("{\"cpu\":\"inf\",\"memory\":7,\"nvidia.com/gpu\":\"nan\"}", "\"x\":1"), 0, 0, 0, "Unknown"},
        {NODE("\"none\"", "\"conditions\":\"Ready\""), 0, 0, 0, "Unknown"},
        {"{\"metadata\":{\"name\":\"n1\"},\"spec\":{\"unschedulable\":true},\"status\":{"
         "\"allocatable\":{\"cpu\":\"8\"},\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}",
         8, 0, 0, "SchedulingDisabled"},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        json_t *n = J(c[i].node);
        json_t *o = k8s_node_offer(n);
        assert_non_null(o);
        assert_string_equal(json_string_value(json_object_get(o, "kind")), "node");
        assert_string_equal(json_string_value(json_object_get(o, "name")), "n1");
        if (geti(o, "cpus") != c[i].cpus || geti(o, "memory_mb") != c[i].mb ||
            geti(o, "gpus") != c[i].gpus)
            fail_msg("node %zu: %lld cpus, %lld MB, %lld gpus", i, (long long)geti(o, "cpus"),
                     (long long)geti(o, "memory_mb"), (long long)geti(o, "gpus"));
        assert_string_equal(json_string_value(json_object_get(o, "state")), c[i].state);
        json_decref(o);
        json_decref(n);
    }
    json_t *o = k8s_node_offer(NULL);
    assert_string_equal(json_string_value(json_object_get(o, "name")), "?");
    assert_int_equal(geti(o, "cpus"), 0);
    json_decref(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(index_lists), cmocka_unit_test(pod_ran), cmocka_unit_test(orphans),
        cmocka_unit_test(quantities), cmocka_unit_test(node_offers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
