/* Unit tests of the container plugin's command lines (plugins/compute/container/argv.c):
 * names, labels, limits, GPU flags for podman (CDI) and docker, environment passed by name,
 * mounts, and how mflow gets into the container. Nothing is started. */
#include "ct_int.h"

#include <mflow/plugin.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

/* The argv joined by single blanks, with one blank before and after (for substring tests). */
static char *joined(const struct strv *s)
{
    size_t len = 2;
    for (size_t i = 0; i < s->n; i++)
        len += strlen(s->v[i]) + 1;
    char *out = calloc(1, len + 1);
    strcat(out, " ");
    for (size_t i = 0; i < s->n; i++) {
        strcat(out, s->v[i]);
        strcat(out, " ");
    }
    return out;
}

static const char *const task_argv[] = {"/opt/mflow/bin/mflow", "--home", "/h", "task",
                                        "/nonexistent/flow.so", "train", NULL};

static struct ct_conf conf(const char *engine, int docker)
{
    return (struct ct_conf){.engine = engine, .docker = docker, .network = "host",
                            .orchestrator = "host1:42:99"};
}

static struct ct_run run(const int *gpus, unsigned ngpu)
{
    static const char *const env[] = {"A=1", "B=two words", NULL};
    return (struct ct_run){.name = "mflow-F-3-train-7-a1", .image = "img:1", .pathspec = "F/3/train/7",
                           .flow = "F", .step = "train", .run_id = 3, .task_id = 7, .attempt = 1,
                           .cpu = 4, .memory_mb = 512, .gpus = gpus, .ngpu = ngpu, .env = env,
                           .argv = task_argv};
}

static char *build(const struct ct_conf *c, const struct ct_run *r)
{
    struct strv s = {0};
    assert_int_equal(ct_run_argv(c, r, &s), 0);
    char *j = joined(&s);
    strv_free(&s);
    return j;
}

static void test_podman_gpus(void **st)
{
    (void)st;
    const int gpus[] = {1, 3};
    struct ct_conf c = conf("podman", 0);
    struct ct_run r = run(gpus, 2);
    char *j = build(&c, &r);
    assert_non_null(strstr(j, " --device=nvidia.com/gpu=1 --device=nvidia.com/gpu=3 "));
    assert_null(strstr(j, "--gpus"));
    assert_non_null(strstr(j, " --cpus=4 "));
    assert_non_null(strstr(j, " --memory=512m --memory-swap=512m "));
    assert_non_null(strstr(j, " -e MFLOW_GPUS=2 "));
    free(j);
    r = run(gpus, 0);
    j = build(&c, &r);
    assert_null(strstr(j, "nvidia.com/gpu"));
    assert_non_null(strstr(j, " -e MFLOW_GPUS=0 "));
    free(j);
}

static void test_docker_gpus(void **st)
{
    (void)st;
    const int one[] = {2}, two[] = {0, 3};
    struct ct_conf c = conf("docker", 1);
    struct ct_run r = run(one, 1);
    char *j = build(&c, &r);
    assert_non_null(strstr(j, " --gpus=device=2 "));
    assert_null(strstr(j, "nvidia.com/gpu"));
    free(j);
    r = run(two, 2);
    j = build(&c, &r);
    assert_non_null(strstr(j, " --gpus=\"device=0,3\" "));
    free(j);
}

static void test_labels_name_and_settings(void **st)
{
    (void)st;
    struct ct_conf c = conf("podman", 0);
    c.root = "/s/root";
    c.runroot = "/s/run";
    c.runtime = "runc";
    c.shm_size = "1g";
    c.run_flags = "  -v /data:/data:ro\t--pull=never ";
    struct ct_run r = run(NULL, 0);
    r.cpuset = "0,2";
    r.workdir = "/w";
    char *j = build(&c, &r);
    assert_true(!strncmp(j, " podman --root /s/root --runroot /s/run --runtime runc run --name mflow-F-3-train-7-a1 ", 86));
    const char *want[] = {" --label=mflow.orchestrator=host1:42:99 ", " --label=mflow.flow=F ",
                          " --label=mflow.run=3 ", " --label=mflow.step=train ", " --label=mflow.task=7 ",
                          " --label=mflow.attempt=1 ", " --label=mflow.pathspec=F/3/train/7 ",
                          " --cpuset-cpus=0,2 ", " --network=host ", " --shm-size=1g ",
                          " -e A=1 -e B=two words ", " -w /w ", " -v /data:/data:ro --pull=never img:1 "};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!strstr(j, want[i]))
            fail_msg("missing [%s] in [%s]", want[i], j);
    free(j);
    /* Unset settings give no flag. */
    c = conf("podman", 0);
    c.network = "";
    r = run(NULL, 0);
    r.cpu = 0;
    r.memory_mb = 0;
    j = build(&c, &r);
    assert_null(strstr(j, "--network"));
    assert_null(strstr(j, "--cpus"));
    assert_null(strstr(j, "--memory"));
    assert_null(strstr(j, "--shm-size"));
    assert_null(strstr(j, "--root"));
    free(j);
}

static void test_mflow_modes(void **st)
{
    (void)st;
    struct ct_conf c = conf("podman", 0);
    struct ct_run r = run(NULL, 0);
    r.datastore_dir = "/ds";
    char *j = build(&c, &r);
    /* image: mflow from the image's PATH, the rest of the command as it is */
    assert_non_null(strstr(j, " img:1 mflow --home /h task /nonexistent/flow.so train "));
    assert_non_null(strstr(j, " -v /ds:/ds:rw "));
    assert_null(strstr(j, "/opt/mflow"));
    free(j);
    /* host: the host's mflow by its path, its prefix bound read-only */
    c.mflow_host = 1;
    c.host_prefix = "/opt/mflow";
    j = build(&c, &r);
    assert_non_null(strstr(j, " -v /opt/mflow:/opt/mflow:ro "));
    assert_non_null(strstr(j, " img:1 /opt/mflow/bin/mflow --home /h task "));
    free(j);
}

static void test_env_by_name(void **st)
{
    (void)st;
    setenv("AWS_SECRET_ACCESS_KEY", "s3cr3t", 1);
    setenv("MFLOW_S3_ENDPOINT_URL", "http://127.0.0.1:9", 1);
    setenv("MFLOW_HOME", "/h", 1);
    setenv("MFLOW_PLUGIN_PATH", "/p", 1);
    setenv("EXTRA_ONE", "x", 1);
    setenv("OTHER", "y", 1);
    struct ct_conf c = conf("podman", 0);
    c.pass_env = "EXTRA_ONE, NOPE";
    struct ct_run r = run(NULL, 0);
    char *j = build(&c, &r);
    assert_non_null(strstr(j, " -e AWS_SECRET_ACCESS_KEY "));
    assert_null(strstr(j, "s3cr3t"));
    assert_non_null(strstr(j, " -e MFLOW_S3_ENDPOINT_URL "));
    assert_non_null(strstr(j, " -e EXTRA_ONE "));
    assert_null(strstr(j, " -e OTHER"));
    assert_null(strstr(j, " -e MFLOW_HOME"));
    assert_null(strstr(j, " -e MFLOW_PLUGIN_PATH"));   /* a host path, in an image of its own */
    free(j);
    /* the host's libmflow and python3 are host paths too, in an image of its own */
    setenv("MFLOW_LIBMFLOW", "/b/core/libmflow.so.1", 1);
    setenv("MFLOW_PYTHON", "/root/.pyenv/shims/python3", 1);
    j = build(&c, &r);
    assert_null(strstr(j, " -e MFLOW_LIBMFLOW"));
    assert_null(strstr(j, " -e MFLOW_PYTHON"));
    free(j);
    c.mflow_host = 1;
    c.host_prefix = "/opt/mflow";
    j = build(&c, &r);
    assert_non_null(strstr(j, " -e MFLOW_PLUGIN_PATH "));
    assert_non_null(strstr(j, " -e MFLOW_LIBMFLOW "));
    assert_non_null(strstr(j, " -e MFLOW_PYTHON "));
    free(j);
    unsetenv("MFLOW_LIBMFLOW");
    unsetenv("MFLOW_PYTHON");
}

/* A Python flow: its directory bound read-only (its modules and files), at its own path; a
 * compiled flow's object alone; a .py straight in the home directory alone. */
static void test_python_flow_binds(void **st)
{
    (void)st;
    char dir[] = "/tmp/ct-argv-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char py[64], so[64];
    snprintf(py, sizeof py, "%s/flow.py", dir);
    snprintf(so, sizeof so, "%s/flow.so", dir);
    fclose(fopen(py, "w"));
    fclose(fopen(so, "w"));
    const char *argv_py[] = {"/opt/mflow/bin/mflow", "--home", "/h", "task", py, "a", NULL};
    const char *argv_so[] = {"/opt/mflow/bin/mflow", "--home", "/h", "task", so, "a", NULL};
    struct ct_conf c = conf("podman", 0);
    struct ct_run r = run(NULL, 0);
    char want[200];
    const char *home = getenv("HOME");
    char *saved = home ? strdup(home) : NULL;
    setenv("HOME", "/nonexistent-home", 1);
    r.argv = argv_py;
    char *j = build(&c, &r);
    snprintf(want, sizeof want, " -v %s:%s:ro ", dir, dir);
    assert_non_null(strstr(j, want));
    snprintf(want, sizeof want, " img:1 mflow --home /h task %s a ", py);
    assert_non_null(strstr(j, want));
    assert_null(strstr(j, ":rw "));
    free(j);
    r.argv = argv_so;
    j = build(&c, &r);
    snprintf(want, sizeof want, " -v %s:%s:ro ", so, so);
    assert_non_null(strstr(j, want));
    snprintf(want, sizeof want, " -v %s:", dir);
    assert_null(strstr(j, want));
    free(j);
    /* the flow's directory is the home directory (with a trailing slash in HOME): the file */
    snprintf(want, sizeof want, "%s/", dir);
    setenv("HOME", want, 1);
    r.argv = argv_py;
    j = build(&c, &r);
    snprintf(want, sizeof want, " -v %s:%s:ro ", py, py);
    assert_non_null(strstr(j, want));
    snprintf(want, sizeof want, " -v %s:", dir);
    assert_null(strstr(j, want));
    free(j);
    if (saved)
        setenv("HOME", saved, 1);
    else
        unsetenv("HOME");
    free(saved);
    unlink(py);
    unlink(so);
    rmdir(dir);
}

static void test_names(void **st)
{
    (void)st;
    char buf[64];
    ct_name("My Flow/12/st*ep/3", 2, buf, sizeof buf);
    assert_string_equal(buf, "mflow-My-Flow-12-st-ep-3-a2");
    ct_name("F/1/a.b_c-d/9", 0, buf, sizeof buf);
    assert_string_equal(buf, "mflow-F-1-a.b_c-d-9-a0");
    char small[12];
    ct_name("LongFlowName/1/s/1", 0, small, sizeof small);
    assert_int_equal(strlen(small), sizeof small - 1);
    char id[320];
    assert_int_equal(ct_orchestrator_id(getpid(), id, sizeof id), 0);
    char want[64];
    snprintf(want, sizeof want, ":%d:", (int)getpid());
    assert_non_null(strstr(id, want));
    assert_int_not_equal(ct_orchestrator_id(999999999, id, sizeof id), 0);
}

static void test_capture(void **st)
{
    (void)st;
    char *out = NULL;
    char *const echo[] = {"sh", "-c", "echo out; echo err >&2; exit 3", NULL};
    extern char **environ;
    assert_int_equal(ct_capture(echo, environ, 10, &out), 3);
    assert_string_equal(out, "out\nerr\n");
    free(out);
    char *const missing[] = {"/nonexistent/engine", NULL};
    assert_int_equal(ct_capture(missing, environ, 10, &out), -2 /* -ENOENT */);
    free(out);
    char *const slow[] = {"sleep", "30", NULL};
    assert_int_equal(ct_capture(slow, environ, 0.2, NULL), 1000 + 9);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_podman_gpus),      cmocka_unit_test(test_docker_gpus),
        cmocka_unit_test(test_labels_name_and_settings), cmocka_unit_test(test_mflow_modes),
        cmocka_unit_test(test_env_by_name),      cmocka_unit_test(test_names),
        cmocka_unit_test(test_capture),          cmocka_unit_test(test_python_flow_binds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
