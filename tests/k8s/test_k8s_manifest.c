/* The Job manifest for one task attempt: names, labels, resources, env, settings, overlay. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mflow/plugin.h>
#include "manifest.h"

static char msg[1024];
static const char *const ARGV[] = {"mflow", "task", "--flow", "F", "--step", "s", NULL};

static struct k8s_job_settings settings(void)
{
    struct k8s_job_settings s = {0};
    s.namespace_ = "ns1";
    s.default_image = "registry.example/mflow:0.1";
    s.ttl_after_finished_s = 3600;
    s.mflow_version = "0.1.0";
    return s;
}

static struct k8s_job_input input(void)
{
    struct k8s_job_input in = {0};
    in.flow = "hello";
    in.run_id = "run1";
    in.step = "start";
    in.task_id = "7";
    in.attempt = 0;
    in.user = "ann";
    in.argv = ARGV;
    in.package_url = "s3://bucket/pkg/abc.tgz";
    return in;
}

static json_t *build_ok(const struct k8s_job_settings *s, const struct k8s_job_input *in)
{
    json_t *job = NULL;
    int rc = k8s_manifest_build(s, in, &job, msg, sizeof msg);
    if (rc) fail_msg("build failed %d: %s", rc, msg);
    assert_non_null(job);
    return job;
}

static int build_err(const struct k8s_job_settings *s, const struct k8s_job_input *in)
{
    json_t *job = (json_t *)1;
    int rc = k8s_manifest_build(s, in, &job, msg, sizeof msg);
    assert_null(job);
    assert_true(rc < 0);
    assert_true(strlen(msg) > 10);
    return rc;
}

/* json_pack-style path lookup: "spec.template.spec.containers.0.image" */
static json_t *at(json_t *j, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    char *save = NULL;
    for (char *p = strtok_r(buf, ".", &save); p && j; p = strtok_r(NULL, ".", &save)) {
        if (json_is_array(j)) j = json_array_get(j, strtoul(p, NULL, 10));
        else j = json_object_get(j, p);
    }
    return j;
}

static const char *str(json_t *j, const char *path)
{
    const char *s = json_string_value(at(j, path));
    if (!s) fail_msg("no string at %s", path);
    return s;
}

static json_t *main_of(json_t *job)
{
    json_t *cs = at(job, "spec.template.spec.containers");
    size_t i;
    json_t *c;
    json_array_foreach(cs, i, c)
        if (!strcmp(json_string_value(json_object_get(c, "name")), "main")) return c;
    fail_msg("no main container");
    return NULL;
}

static const char *env_value(json_t *container, const char *name)
{
    size_t i, hits = 0;
    json_t *e;
    const char *v = NULL;
    json_array_foreach(json_object_get(container, "env"), i, e)
        if (!strcmp(json_string_value(json_object_get(e, "name")), name)) {
            hits++;
            v = json_string_value(json_object_get(e, "value"));
            if (!v) v = "(valueFrom)";
        }
    if (hits > 1) fail_msg("env %s set %zu times", name, hits);
    return v;
}

static int dns1123_label(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63 || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1])) return 0;
    for (size_t i = 0; i < n; i++)
        if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '-')) return 0;
    return 1;
}

static int label_value_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0) return 1;
    if (n > 63 || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1])) return 0;
    for (size_t i = 0; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || strchr("-_.", s[i])) || (s[i] & 0x80)) return 0;
    return 1;
}

static void test_job_basics(void **state)
{
    struct k8s_job_settings s = settings();
    struct k8s_job_input in = input();
    in.timeout_s = 90;
    json_t *job = build_ok(&s, &in);
    assert_string_equal(str(job, "apiVersion"), "batch/v1");
    assert_string_equal(str(job, "kind"), "Job");
    assert_string_equal(str(job, "metadata.name"), "mflow-hello-run1-start-7-0");
    assert_string_equal(str(job, "metadata.namespace"), "ns1");
    assert_int_equal(json_integer_value(at(job, "spec.backoffLimit")), 0);
    assert_true(json_is_integer(at(job, "spec.backoffLimit")));
    assert_int_equal(json_integer_value(at(job, "spec.ttlSecondsAfterFinished")), 3600);
    assert_int_equal(json_integer_value(at(job, "spec.activeDeadlineSeconds")), 90);
    assert_string_equal(str(job, "spec.template.spec.restartPolicy"), "Never");
    json_t *c = main_of(job);
    assert_string_equal(str(c, "image"), "registry.example/mflow:0.1");
    json_t *cmd = json_object_get(c, "command");
    assert_int_equal(json_array_size(cmd), 8);
    for (int i = 0; ARGV[i]; i++) assert_string_equal(json_string_value(json_array_get(cmd, i)), ARGV[i]);
    assert_string_equal(json_string_value(json_array_get(cmd, 6)), "--package");
    assert_string_equal(json_string_value(json_array_get(cmd, 7)), "s3://bucket/pkg/abc.tgz");
    assert_null(json_object_get(c, "args"));
    assert_null(json_object_get(c, "resources"));      /* nothing asked: no requests */
    assert_null(json_object_get(c, "imagePullPolicy"));
    assert_null(at(job, "spec.template.spec.serviceAccountName"));
    json_decref(job);

    /* the step's image wins; no timeout and no ttl: the fields are absent */
    in.image = "python:3.12";
    in.timeout_s = 0;
    s.ttl_after_finished_s = -1;
    job = build_ok(&s, &in);
    assert_string_equal(str(main_of(job), "image"), "python:3.12");
    assert_null(at(job, "spec.activeDeadlineSeconds"));
    assert_null(at(job, "spec.ttlSecondsAfterFinished"));
    json_decref(job);

    /* argv that already carries the package address: not added twice */
    const char *const argv2[] = {"mflow", "task", "--package", "s3://b/p", NULL};
    const char *const argv3[] = {"mflow", "task", "--package=s3://b/p", NULL};
    const char *const *argvs[] = {argv2, argv3};
    for (int k = 0; k < 2; k++) {
        in.argv = argvs[k];
        in.package_url = NULL;
        job = build_ok(&s, &in);
        assert_int_equal(json_array_size(json_object_get(main_of(job), "command")), k == 0 ? 4 : 3);
        json_decref(job);
    }
}

static void test_job_input_errors(void **state)
{
    struct k8s_job_settings s = settings();
    struct k8s_job_input in = input();
    in.package_url = NULL;
    assert_int_equal(build_err(&s, &in), MF_EINVAL);
    assert_non_null(strstr(msg, "S3 datastore"));

    in = input();
    s.default_image = NULL;
    assert_int_equal(build_err(&s, &in), MF_EINVAL);
    assert_non_null(strstr(msg, "image"));
    assert_non_null(strstr(msg, "start"));

    s = settings();
    s.namespace_ = "";
    assert_int_equal(build_err(&s, &in), MF_EINVAL);
    assert_non_null(strstr(msg, "namespace"));

    s = settings();
    in.argv = (const char *const[]){NULL};
    assert_int_equal(build_err(&s, &in), MF_EINVAL);

    in = input();
    in.step = "";
    assert_int_equal(build_err(&s, &in), MF_EINVAL);

    in = input();
    in.env = (const char *const[]){"GOOD=1", "=bad", NULL};
    assert_int_equal(build_err(&s, &in), MF_EINVAL);
    assert_non_null(strstr(msg, "NAME=VALUE"));

    /* a value in Latin-1 (from pass_env, say) is named, not "out of memory" */
    in = input();
    in.env = (const char *const[]){"GOOD=caf\xc3\xa9", "GREETING=caf\xe9", NULL};
    assert_int_equal(build_err(&s, &in), MF_EINVAL);
    assert_non_null(strstr(msg, "env GREETING is not UTF-8"));
    in.env = (const char *const[]){"OVERLONG=\xc0\xaf", NULL};
    assert_int_equal(build_err(&s, &in), MF_EINVAL);
    in.env = (const char *const[]){"SURROGATE=\xed\xa0\x80", NULL};
    assert_int_equal(build_err(&s, &in), MF_EINVAL);
    in.env = (const char *const[]){"OK=\xf0\x9f\x98\x80 \xe2\x82\xac", NULL};
    json_t *job = NULL;
    assert_int_equal(k8s_manifest_build(&s, &in, &job, msg, sizeof msg), 0);
    json_decref(job);
}

static void test_job_names(void **state)
{
    char name[64], again[64];
    struct k8s_job_input in = input();
    /* names that need changing: hashed, valid, and different from each other */
    const char *flows[] = {"Hello", "hello_", "HELLO", "hé", "a..b", "a--b", "a-b",
        "AVeryLongFlowNameThatGoesOnAndOnForMoreThanSixtyThreeCharactersInTotal", NULL};
    char seen[16][64];
    int n = 0;
    for (int i = 0; flows[i]; i++) {
        in.flow = flows[i];
        assert_int_equal(k8s_job_name(&in, name, sizeof name), 0);
        if (!dns1123_label(name)) fail_msg("'%s' -> '%s' is not a DNS-1123 label", flows[i], name);
        assert_true(strncmp(name, "mflow-", 6) == 0);
        for (int j = 0; j < n; j++)
            if (!strcmp(seen[j], name)) fail_msg("'%s' and flow %d share the name %s", flows[i], j, name);
        strcpy(seen[n++], name);
        assert_int_equal(k8s_job_name(&in, again, sizeof again), 0);
        assert_string_equal(name, again);      /* deterministic: resume finds the same Job */
    }
    assert_string_equal(seen[6], "mflow-a-b-run1-start-7-0");    /* exact: no hash */
    assert_int_equal(strlen(seen[7]), 63);

    /* long names that differ only past the cut, or only in the attempt, stay distinct */
    in.flow = "AVeryLongFlowNameThatGoesOnAndOnForMoreThanSixtyThreeCharactersInTotal";
    in.attempt = 1;
    assert_int_equal(k8s_job_name(&in, name, sizeof name), 0);
    assert_string_not_equal(name, seen[7]);
    in.attempt = 0;
    in.task_id = "8";
    assert_int_equal(k8s_job_name(&in, name, sizeof name), 0);
    assert_string_not_equal(name, seen[7]);
    assert_true(dns1123_label(name));
    /* the parts are kept apart: ("ab","c") and ("a","bc") differ */
    in = input();
    in.flow = "a"; in.run_id = "b-c";
    assert_int_equal(k8s_job_name(&in, name, sizeof name), 0);
    in.flow = "a-b"; in.run_id = "c";
    assert_int_equal(k8s_job_name(&in, again, sizeof again), 0);
    /* both are exact texts here, so both are unhashed and equal; a real run id never has '-'
     * at the same place as a flow name, but the hash covers the changed ones: */
    in.flow = "A"; in.run_id = "b-c";
    assert_int_equal(k8s_job_name(&in, name, sizeof name), 0);
    in.flow = "A-b"; in.run_id = "c";
    assert_int_equal(k8s_job_name(&in, again, sizeof again), 0);
    assert_string_not_equal(name, again);

    assert_int_equal(k8s_job_name(&in, name, 10), MF_EINVAL);
}

static void test_label_values(void **state)
{
    char v[64], w[64];
    const char *same[] = {"", "a", "run-1", "A.b_c-9", "x123", NULL};
    for (int i = 0; same[i]; i++) {
        assert_int_equal(k8s_label_value(same[i], v, sizeof v), 0);
        assert_string_equal(v, same[i]);
    }
    const char *changed[] = {"-a", "a-", "a b", "a/b", "ünï", "_", "user@example.com",
        "x2345678901234567890123456789012345678901234567890123456789012345", NULL};
    for (int i = 0; changed[i]; i++) {
        assert_int_equal(k8s_label_value(changed[i], v, sizeof v), 0);
        if (!label_value_ok(v) || !*v) fail_msg("'%s' -> '%s' is not a label value", changed[i], v);
        assert_string_not_equal(v, changed[i]);
        for (int j = 0; changed[j]; j++) {
            if (j == i) continue;
            assert_int_equal(k8s_label_value(changed[j], w, sizeof w), 0);
            assert_string_not_equal(v, w);
        }
    }
    assert_int_equal(k8s_label_value("user@example.com", v, sizeof v), 0);
    assert_true(strncmp(v, "user_example.com-", 17) == 0);
}

static void test_labels_annotations(void **state)
{
    struct k8s_job_settings s = settings();
    struct k8s_job_input in = input();
    in.flow = "My Flow";
    in.user = "ann@example.com";
    in.attempt = 2;
    json_t *job = build_ok(&s, &in);
    json_t *metas[] = {at(job, "metadata"), at(job, "spec.template.metadata")};
    for (int m = 0; m < 2; m++) {
        json_t *l = json_object_get(metas[m], "labels"), *a = json_object_get(metas[m], "annotations");
        assert_string_equal(json_string_value(json_object_get(l, "app.kubernetes.io/managed-by")), "mflow");
        const char *keys[] = {"flow", "run", "step", "task", "attempt", "user", "version"};
        const char *exact[] = {"My Flow", "run1", "start", "7", "2", "ann@example.com", "0.1.0"};
        for (int k = 0; k < 7; k++) {
            char key[64];
            snprintf(key, sizeof key, "mflow/%s", keys[k]);
            const char *lv = json_string_value(json_object_get(l, key));
            const char *av = json_string_value(json_object_get(a, key));
            assert_non_null(lv);
            assert_non_null(av);
            assert_string_equal(av, exact[k]);
            assert_true(label_value_ok(lv));
        }
        assert_string_equal(json_string_value(json_object_get(l, "mflow/run")), "run1");
        assert_true(strncmp(json_string_value(json_object_get(l, "mflow/flow")), "My_Flow-", 8) == 0);
    }
    json_decref(job);
    in.user = NULL;
    job = build_ok(&s, &in);
    assert_null(at(job, "metadata.labels.mflow/user"));
    assert_null(json_object_get(at(job, "metadata.annotations"), "mflow/user"));
    json_decref(job);
}

static void test_resources(void **state)
{
    struct k8s_job_settings s = settings();
    struct { uint32_t cpu; uint64_t mem; uint32_t gpu; const char *cpu_s, *mem_s, *gpu_s; } cases[] = {
        {2, 0, 0, "2", NULL, NULL},
        {0, 4096, 0, NULL, "4096Mi", NULL},
        {0, 0, 1, NULL, NULL, "1"},
        {16, 65536, 8, "16", "65536Mi", "8"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct k8s_job_input in = input();
        in.cpu = cases[i].cpu;
        in.memory_mb = cases[i].mem;
        in.gpu = cases[i].gpu;
        json_t *job = build_ok(&s, &in);
        json_t *r = json_object_get(main_of(job), "resources");
        assert_true(json_equal(json_object_get(r, "requests"), json_object_get(r, "limits")));
        json_t *req = json_object_get(r, "requests");
        const char *names[] = {"cpu", "memory", "nvidia.com/gpu"};
        const char *want[] = {cases[i].cpu_s, cases[i].mem_s, cases[i].gpu_s};
        size_t count = 0;
        for (int k = 0; k < 3; k++) {
            const char *got = json_string_value(json_object_get(req, names[k]));
            if (want[k]) { assert_non_null(got); assert_string_equal(got, want[k]); count++; }
            else assert_null(json_object_get(req, names[k]));
        }
        assert_int_equal(json_object_size(req), count);
        json_decref(job);
    }
}

static void test_env(void **state)
{
    struct k8s_job_settings s = settings();
    struct k8s_job_input in = input();
    in.attempt = 3;
    in.env = (const char *const[]){"A=1", "B=x=y", "A=2", "MFLOW_ATTEMPT=99", "EMPTY=", NULL};
    json_t *job = build_ok(&s, &in);
    json_t *c = main_of(job);
    assert_string_equal(env_value(c, "A"), "2");
    assert_string_equal(env_value(c, "B"), "x=y");
    assert_string_equal(env_value(c, "EMPTY"), "");
    assert_string_equal(env_value(c, "MFLOW_ATTEMPT"), "3");    /* mflow's own win */
    assert_string_equal(env_value(c, "MFLOW_FLOW"), "hello");
    assert_string_equal(env_value(c, "MFLOW_RUN_ID"), "run1");
    assert_string_equal(env_value(c, "MFLOW_STEP"), "start");
    assert_string_equal(env_value(c, "MFLOW_TASK_ID"), "7");
    assert_string_equal(env_value(c, "MFLOW_K8S_POD"), "(valueFrom)");
    json_decref(job);
}

static void test_settings_fields(void **state)
{
    struct k8s_job_settings s = settings();
    struct k8s_toleration tol[] = {
        {"gpu", "Equal", "true", "NoSchedule", 0, 0},
        {"spot", "Exists", NULL, "NoExecute", 300, 1},
        {NULL, "Exists", NULL, NULL, 0, 0},
    };
    s.service_account = "runner";
    s.pull_policy = "IfNotPresent";
    s.image_pull_secrets = (const char *const[]){"regcred", "other", NULL};
    s.env_secrets = (const char *const[]){"aws-creds", NULL};
    s.node_selector = (const char *const[]){"pool=gpu", "zone=a=b", NULL};
    s.tolerations = tol;
    s.n_tolerations = 3;
    struct k8s_job_input in = input();
    json_t *job = build_ok(&s, &in);
    json_t *pod = at(job, "spec.template.spec"), *c = main_of(job);
    assert_string_equal(str(pod, "serviceAccountName"), "runner");
    assert_string_equal(str(c, "imagePullPolicy"), "IfNotPresent");
    assert_string_equal(str(pod, "imagePullSecrets.0.name"), "regcred");
    assert_string_equal(str(pod, "imagePullSecrets.1.name"), "other");
    assert_string_equal(str(c, "envFrom.0.secretRef.name"), "aws-creds");
    assert_string_equal(str(pod, "nodeSelector.pool"), "gpu");
    assert_string_equal(str(pod, "nodeSelector.zone"), "a=b");
    json_t *want = json_loads("[{\"key\":\"gpu\",\"operator\":\"Equal\",\"value\":\"true\",\"effect\":\"NoSchedule\"},"
        "{\"key\":\"spot\",\"operator\":\"Exists\",\"effect\":\"NoExecute\",\"tolerationSeconds\":300},"
        "{\"operator\":\"Exists\"}]", 0, NULL);
    assert_true(json_equal(json_object_get(pod, "tolerations"), want));
    json_decref(want);
    json_decref(job);

    /* bad settings are named */
    struct k8s_toleration bad[][1] = {
        {{"k", "Gte", "1", NULL, 0, 0}}, {{"k", "Exists", "v", NULL, 0, 0}},
        {{NULL, "Equal", "v", NULL, 0, 0}}, {{"k", NULL, "v", "NoRun", 0, 0}},
        {{"k", NULL, "v", "NoSchedule", 30, 1}},
    };
    const char *why[] = {"Gte", "takes no value", "empty key", "NoRun", "tolerationSeconds"};
    for (int i = 0; i < 5; i++) {
        s = settings();
        s.tolerations = bad[i];
        s.n_tolerations = 1;
        assert_int_equal(build_err(&s, &in), MF_EINVAL);
        if (!strstr(msg, why[i])) fail_msg("case %d: '%s' lacks '%s'", i, msg, why[i]);
    }
    s = settings();
    s.pull_policy = "Sometimes";
    assert_int_equal(build_err(&s, &in), MF_EINVAL);
    assert_non_null(strstr(msg, "Sometimes"));
    s = settings();
    s.node_selector = (const char *const[]){"novalue", NULL};
    assert_int_equal(build_err(&s, &in), MF_EINVAL);
    assert_non_null(strstr(msg, "novalue"));
}

static void test_overlay(void **state)
{
    struct k8s_job_settings s = settings();
    struct k8s_toleration tol[] = {{"a", "Exists", NULL, NULL, 0, 0}};
    s.tolerations = tol;
    s.n_tolerations = 1;
    s.service_account = "runner";
    s.pod_overlay_json =
        "{\"hostNetwork\": true,"
        " \"restartPolicy\": \"Always\","
        " \"serviceAccountName\": null,"
        " \"securityContext\": {\"runAsUser\": 1000},"
        " \"tolerations\": [{\"key\": \"b\", \"operator\": \"Exists\"}],"
        " \"volumes\": [{\"name\": \"scratch\", \"emptyDir\": {}}],"
        " \"containers\": ["
        "   {\"name\": \"main\", \"image\": \"evil\", \"command\": [\"sh\"], \"args\": [\"-c\", \"x\"],"
        "    \"volumeMounts\": [{\"name\": \"scratch\", \"mountPath\": \"/scratch\"}],"
        "    \"env\": [{\"name\": \"EXTRA\", \"value\": \"1\"}, {\"name\": \"MFLOW_STEP\", \"value\": \"no\"}],"
        "    \"resources\": {\"limits\": {\"cpu\": \"64\", \"ephemeral-storage\": \"1Gi\"}}},"
        "   {\"name\": \"sidecar\", \"image\": \"busybox\"}]}";
    struct k8s_job_input in = input();
    in.cpu = 2;
    in.env = (const char *const[]){"STEP_VAR=s", NULL};
    json_t *job = build_ok(&s, &in);
    json_t *pod = at(job, "spec.template.spec"), *c = main_of(job);
    assert_true(json_is_true(json_object_get(pod, "hostNetwork")));
    assert_string_equal(str(pod, "restartPolicy"), "Never");               /* mflow wins */
    assert_null(json_object_get(pod, "serviceAccountName"));                /* null deletes */
    assert_int_equal(json_integer_value(at(pod, "securityContext.runAsUser")), 1000);
    assert_int_equal(json_array_size(json_object_get(pod, "tolerations")), 1);   /* replaced */
    assert_string_equal(str(pod, "tolerations.0.key"), "b");
    assert_string_equal(str(pod, "volumes.0.name"), "scratch");
    assert_int_equal(json_array_size(json_object_get(pod, "containers")), 2);
    assert_string_equal(str(pod, "containers.0.name"), "main");
    assert_string_equal(str(pod, "containers.1.name"), "sidecar");
    assert_string_equal(str(c, "image"), "registry.example/mflow:0.1");     /* mflow wins */
    assert_string_equal(str(c, "command.0"), "mflow");
    assert_null(json_object_get(c, "args"));
    assert_string_equal(str(c, "volumeMounts.0.mountPath"), "/scratch");
    assert_string_equal(env_value(c, "EXTRA"), "1");
    assert_string_equal(env_value(c, "STEP_VAR"), "s");
    assert_string_equal(env_value(c, "MFLOW_STEP"), "start");
    assert_string_equal(str(c, "resources.limits.cpu"), "2");
    assert_string_equal(str(c, "resources.requests.cpu"), "2");
    assert_string_equal(str(c, "resources.limits.ephemeral-storage"), "1Gi");
    json_decref(job);

    /* an overlay that drops the containers list still gets the main container back */
    s.pod_overlay_json = "{\"containers\": null}";
    job = build_ok(&s, &in);
    assert_string_equal(str(main_of(job), "command.1"), "task");
    json_decref(job);

    const char *bad[] = {"{\"hostNetwork\": tru}", "[1,2]", "\"x\"", NULL};
    for (int i = 0; bad[i]; i++) {
        s.pod_overlay_json = bad[i];
        assert_int_equal(build_err(&s, &in), MF_EINVAL);
        assert_non_null(strstr(msg, "pod overlay"));
    }
}

static void test_step_overlay(void **state)
{
    struct k8s_job_settings s = settings();
    s.pod_overlay_json = "{\"hostNetwork\": true, \"priorityClassName\": \"low\","
        " \"volumes\": [{\"name\": \"v\", \"emptyDir\": {}}]}";
    struct k8s_job_input in = input();
    in.step_pod_overlay_json = "{\"priorityClassName\": \"high\", \"hostNetwork\": null,"
        " \"volumes\": [{\"name\": \"w\", \"emptyDir\": {}}],"
        " \"containers\": [{\"name\": \"main\", \"image\": \"nope\", \"workingDir\": \"/w\"}]}";
    json_t *job = build_ok(&s, &in);
    json_t *pod = at(job, "spec.template.spec");
    assert_string_equal(str(pod, "priorityClassName"), "high");     /* the step's wins */
    assert_null(json_object_get(pod, "hostNetwork"));
    assert_int_equal(json_array_size(json_object_get(pod, "volumes")), 2);
    assert_string_equal(str(pod, "volumes.1.name"), "w");
    assert_string_equal(str(main_of(job), "workingDir"), "/w");
    assert_string_equal(str(main_of(job), "image"), "registry.example/mflow:0.1");
    json_decref(job);

    in.step_pod_overlay_json = "{oops";
    assert_int_equal(build_err(&s, &in), MF_EINVAL);
    assert_non_null(strstr(msg, "step start: the pod overlay"));
}

static void test_overlay_merge_rules(void **state)
{
    json_t *dst = json_loads("{\"a\": {\"x\": 1, \"y\": {\"z\": 2}}, \"list\": [1, 2],"
        " \"named\": [{\"name\": \"p\", \"v\": 1, \"keep\": true}, {\"name\": \"q\", \"v\": 2}],"
        " \"s\": \"old\", \"gone\": 1, \"mixed\": [{\"name\": \"p\"}]}", 0, NULL);
    json_t *ov = json_loads("{\"a\": {\"y\": {\"w\": 3}}, \"list\": [3],"
        " \"named\": [{\"name\": \"q\", \"v\": 20}, {\"name\": \"r\", \"v\": 3}],"
        " \"s\": {\"now\": \"object\"}, \"gone\": null, \"mixed\": [{\"name\": \"p\"}, 5]}", 0, NULL);
    json_t *want = json_loads("{\"a\": {\"x\": 1, \"y\": {\"z\": 2, \"w\": 3}}, \"list\": [3],"
        " \"named\": [{\"name\": \"p\", \"v\": 1, \"keep\": true}, {\"name\": \"q\", \"v\": 20},"
        "            {\"name\": \"r\", \"v\": 3}],"
        " \"s\": {\"now\": \"object\"}, \"mixed\": [{\"name\": \"p\"}, 5]}", 0, NULL);
    assert_non_null(dst); assert_non_null(ov); assert_non_null(want);
    assert_int_equal(k8s_overlay_merge(dst, ov), 0);
    if (!json_equal(dst, want)) {
        char *d = json_dumps(dst, JSON_SORT_KEYS);
        fail_msg("merged: %s", d);
    }
    json_t *arr = json_array();
    assert_int_equal(k8s_overlay_merge(dst, arr), MF_EINVAL);
    json_decref(arr);
    json_decref(dst); json_decref(ov); json_decref(want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_job_basics),
        cmocka_unit_test(test_job_input_errors),
        cmocka_unit_test(test_job_names),
        cmocka_unit_test(test_label_values),
        cmocka_unit_test(test_labels_annotations),
        cmocka_unit_test(test_resources),
        cmocka_unit_test(test_env),
        cmocka_unit_test(test_settings_fields),
        cmocka_unit_test(test_overlay),
        cmocka_unit_test(test_step_overlay),
        cmocka_unit_test(test_overlay_merge_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
