/* Unit tests of the local compute plugin, loaded from its built .so (MFLOW_TEST_PLUGIN) and
 * driven through the SDK's fake host. */
#include "fakehost.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

static const struct mf_plugin_desc *desc;
static const struct mf_compute_ops *ops;
static void *state;
static char tmp[PATH_MAX / 2];
static char self_exe[PATH_MAX];     /* this program: also a task (--hog, --affinity) */
static char xml_4gpu[PATH_MAX];     /* tests/resources/topo-2numa-4gpu.xml */

/* 2 NUMA nodes x 4 cores x 2 hardware threads: core c has CPUs 2c and 2c+1. */
#define SYN_2x4x2 "numa:2 core:4 pu:2"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *tmp_path(const char *fmt, ...)
{
    static char bufs[8][PATH_MAX];
    static int next;
    char *b = bufs[next++ % 8];
    char rel[PATH_MAX / 4];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rel, sizeof rel, fmt, ap);
    va_end(ap);
    snprintf(b, PATH_MAX, "%s/%s", tmp, rel);
    return b;
}

/* The whole file as a NUL-terminated string (NULL when absent); *len its length. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *s = malloc(cap);
    size_t r;
    while (s && (r = fread(s + n, 1, cap - n - 1, f)) > 0) {
        n += r;
        if (cap - n - 1 == 0)
            s = realloc(s, cap *= 2);
    }
    fclose(f);
    if (s)
        s[n] = '\0';
    if (len)
        *len = n;
    return s;
}

/* What task_output forwarded for one pathspec and stream, assuming only that job wrote while
 * it ran and its data never contains "<pathspec>|". Caller frees. */
static char *forwarded(const char *pathspec, int stream)
{
    const char *all = mf_fakehost_output();
    char head[256], any[256];
    snprintf(head, sizeof head, "%s|%d|", pathspec, stream);
    snprintf(any, sizeof any, "%s|", pathspec);
    size_t cap = strlen(all) + 1, n = 0;
    char *out = malloc(cap);
    const char *p = all;
    while ((p = strstr(p, any))) {
        int is_ours = !strncmp(p, head, strlen(head));
        p += is_ours ? strlen(head) : strlen(any);
        const char *end = strstr(p, any);
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (is_ours) {
            memcpy(out + n, p, len);
            n += len;
        }
        p += len;
    }
    out[n] = '\0';
    return out;
}

static int open_instance(const char *grace, const char *notify)
{
    mf_fakehost_reset();
    if (grace)
        mf_fakehost_set("local", "kill_grace_s", grace);
    if (notify)
        mf_fakehost_set("local", "exit_notify", notify);
    return desc->init(mf_fakehost(), &state);
}

static void close_instance(void)
{
    desc->fini(state);
    state = NULL;
}

/* A new instance on a synthetic or XML topology (hwloc reads HWLOC_SYNTHETIC and
 * HWLOC_XMLFILE when the plugin loads it at init), with one more setting. */
static int reopen_with(const char *synthetic, const char *xml, const char *key, const char *value)
{
    if (state)
        close_instance();
    mf_fakehost_reset();
    mf_fakehost_set("local", "kill_grace_s", "0.3");
    if (key)
        mf_fakehost_set("local", key, value);
    if (synthetic)
        setenv("HWLOC_SYNTHETIC", synthetic, 1);
    if (xml)
        setenv("HWLOC_XMLFILE", xml, 1);
    int rc = desc->init(mf_fakehost(), &state);
    unsetenv("HWLOC_SYNTHETIC");
    unsetenv("HWLOC_XMLFILE");
    return rc;
}

static size_t count_in(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static int setup(void **ts)
{
    (void)ts;
    return open_instance("0.3", NULL) == 0 ? 0 : -1;
}

static int teardown(void **ts)
{
    (void)ts;
    close_instance();
    return 0;
}

static struct mf_job_spec spec_of(const char *pathspec, const char *const *argv)
{
    struct mf_job_spec s;
    memset(&s, 0, sizeof s);
    s.struct_size = sizeof s;
    s.argv = argv;
    s.pathspec = pathspec;
    return s;
}

static mf_job *submit(const struct mf_job_spec *s)
{
    mf_job *j = NULL;
    int rc = ops->submit(state, s, &j);
    if (rc)
        fail_msg("submit %s: %d: %s", s->pathspec, rc, ops->last_error(state));
    assert_non_null(j);
    return j;
}

/* Wait until every job ended; fail the test past max_s. */
static void wait_all(mf_job **jobs, size_t n, struct mf_job_status *st, double max_s)
{
    double t0 = now_s();
    for (;;) {
        assert_int_equal(ops->poll(state, jobs, n, st), 0);
        size_t running = 0;
        for (size_t i = 0; i < n; i++)
            running += st[i].state == MF_JOB_RUNNING || st[i].state == MF_JOB_QUEUED;
        if (!running)
            return;
        if (now_s() - t0 > max_s)
            fail_msg("%zu of %zu jobs still running after %.1f s", running, n, max_s);
        int r = ops->wait(state, 1000);
        assert_true(r == 0 || r == 1);
    }
}

static struct mf_job_status run(const struct mf_job_spec *s, double max_s)
{
    mf_job *j = submit(s);
    struct mf_job_status st;
    wait_all(&j, 1, &st, max_s);
    ops->release(state, j);
    return st;
}

/* The process is gone (or only a zombie waiting for its new parent), within max_s. */
static int gone(pid_t pid, double max_s)
{
    double t0 = now_s();
    do {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
        char *stat = slurp(path, NULL);
        if (!stat)
            return 1;
        const char *paren = strrchr(stat, ')');
        char s = paren && paren[1] ? paren[2] : '?';
        free(stat);
        if (s == 'Z' || s == 'X')
            return 1;
        usleep(20000);
    } while (now_s() - t0 < max_s);
    return 0;
}

static pid_t read_pid(const char *path, double max_s)
{
    double t0 = now_s();
    do {
        char *s = slurp(path, NULL);
        if (s && strchr(s, '\n')) {
            pid_t p = (pid_t)atoi(s);
            free(s);
            return p;
        }
        free(s);
        ops->wait(state, 20);
    } while (now_s() - t0 < max_s);
    fail_msg("no pid in %s after %.1f s", path, max_s);
    return -1;
}

static int count_fds(void)
{
    int n = 0;
    for (int fd = 0; fd < 4096; fd++)
        n += fcntl(fd, F_GETFD) != -1;
    return n;
}

static void assert_no_children(void)
{
    int st;
    errno = 0;
    assert_int_equal(waitpid(-1, &st, WNOHANG), -1);
    assert_int_equal(errno, ECHILD);
}

/* ------------------------------------------------------------------------------------------ */

static void test_descriptor(void **ts)
{
    (void)ts;
    assert_int_equal(desc->kind, MF_PLUGIN_COMPUTE);
    assert_string_equal(desc->name, "local");
    assert_true(ops->struct_size >= MF_COMPUTE_OPS_V1_0_SIZE);
    int found = 0;
    for (uint32_t i = 0; i < desc->n_options; i++)
        if (!strcmp(desc->options[i].name, "kill_grace_s")) {
            found = 1;
            assert_string_equal(desc->options[i].env, "MFLOW_LOCAL_KILL_GRACE_S");
            assert_string_equal(desc->options[i].default_value, "2");
        }
    assert_true(found);
}

static void test_output_forwarded_and_kept(void **ts)
{
    (void)ts;
    const char *argv[] = {"sh", "-c",
                          "echo out1; echo err1 >&2; cat; echo out2; printf tail-no-newline; "
                          "printf err-tail >&2",
                          NULL};
    struct mf_job_spec s = spec_of("T/1/echo/1", argv);
    char out_path[PATH_MAX], err_path[PATH_MAX];
    snprintf(out_path, sizeof out_path, "%s", tmp_path("logs/deep/er/stdout.log"));
    snprintf(err_path, sizeof err_path, "%s", tmp_path("logs/deep/er/stderr.log"));
    s.stdout_path = out_path;
    s.stderr_path = err_path;
    mf_job *j = submit(&s);
    struct mf_job_status st;
    wait_all(&j, 1, &st, 10);
    assert_int_equal(st.state, MF_JOB_SUCCEEDED);
    assert_int_equal(st.exit_code, 0);
    assert_int_equal(st.term_signal, 0);
    assert_true(st.start_time > 1e9 && st.end_time >= st.start_time);

    const char *want_out = "out1\nout2\ntail-no-newline", *want_err = "err1\nerr-tail";
    char *o = slurp(out_path, NULL), *e = slurp(err_path, NULL);
    assert_non_null(o);
    assert_non_null(e);
    assert_string_equal(o, want_out);
    assert_string_equal(e, want_err);
    free(o);
    free(e);
    char *fo = forwarded("T/1/echo/1", MF_STREAM_STDOUT), *fe = forwarded("T/1/echo/1", MF_STREAM_STDERR);
    assert_string_equal(fo, want_out);
    assert_string_equal(fe, want_err);
    free(fo);
    free(fe);

    struct mf_buf b;
    assert_int_equal(ops->logs(state, j, MF_STREAM_STDOUT, &b), 0);
    assert_int_equal(b.len, strlen(want_out));
    assert_memory_equal(b.data, want_out, b.len);
    b.release(&b);
    assert_int_equal(ops->logs(state, j, MF_STREAM_STDERR, &b), 0);
    assert_int_equal(b.len, strlen(want_err));
    b.release(&b);
    ops->release(state, j);
}

static void test_logs_not_kept(void **ts)
{
    (void)ts;
    const char *argv[] = {"sh", "-c", "echo hi", NULL};
    struct mf_job_spec s = spec_of("T/1/nolog/1", argv);
    mf_job *j = submit(&s);
    struct mf_job_status st;
    wait_all(&j, 1, &st, 10);
    assert_int_equal(st.state, MF_JOB_SUCCEEDED);
    char *fo = forwarded("T/1/nolog/1", MF_STREAM_STDOUT);
    assert_string_equal(fo, "hi\n");
    free(fo);
    struct mf_buf b;
    assert_int_equal(ops->logs(state, j, MF_STREAM_STDOUT, &b), MF_ENOTSUP);
    assert_non_null(strstr(ops->last_error(state), "stdout_path"));
    ops->release(state, j);
}

static void test_exit_codes(void **ts)
{
    (void)ts;
    const char *ok[] = {"true", NULL};
    struct mf_job_spec s = spec_of("T/1/ok/1", ok);
    struct mf_job_status st = run(&s, 10);
    assert_int_equal(st.state, MF_JOB_SUCCEEDED);
    assert_int_equal(st.exit_code, 0);

    const char *three[] = {"sh", "-c", "exit 3", NULL};
    s = spec_of("T/1/three/1", three);
    st = run(&s, 10);
    assert_int_equal(st.state, MF_JOB_FAILED);
    assert_int_equal(st.exit_code, 3);
    assert_int_equal(st.term_signal, 0);
    assert_int_equal(st.timed_out, 0);
    assert_string_equal(st.reason, "exited with code 3");
}

static void test_segfault(void **ts)
{
    (void)ts;
    const char *argv[] = {"sh", "-c", "kill -SEGV $$", NULL};
    struct mf_job_spec s = spec_of("T/1/segv/1", argv);
    struct mf_job_status st = run(&s, 10);
    assert_int_equal(st.state, MF_JOB_FAILED);
    assert_int_equal(st.term_signal, SIGSEGV);
    assert_int_equal(st.exit_code, -1);
    assert_string_equal(st.reason, "killed by signal 11 (Segmentation fault)");
}

/* timeout_s kills the whole group: the shell and the sleep it left in the background. */
static void timeout_case(const char *script, int want_signal)
{
    char pidfile[PATH_MAX], cmd[PATH_MAX + 256];
    snprintf(pidfile, sizeof pidfile, "%s", tmp_path("grandchild-%d.pid", want_signal));
    snprintf(cmd, sizeof cmd, script, pidfile);
    const char *argv[] = {"sh", "-c", cmd, NULL};
    struct mf_job_spec s = spec_of("T/1/slow/1", argv);
    s.timeout_s = 1;
    double t0 = now_s();
    mf_job *j = submit(&s);
    pid_t grandchild = read_pid(pidfile, 5);
    assert_true(grandchild > 0);
    assert_false(gone(grandchild, 0));
    struct mf_job_status st;
    wait_all(&j, 1, &st, 10);
    double took = now_s() - t0;
    ops->release(state, j);
    assert_int_equal(st.state, MF_JOB_FAILED);
    assert_int_equal(st.timed_out, 1);
    assert_int_equal(st.term_signal, want_signal);
    assert_string_equal(st.reason, "timed out after 1 s");
    assert_true(took >= 0.95);
    /* grace is 0.3 s: SIGTERM at 1 s, SIGKILL at 1.3 s */
    assert_true(took < (want_signal == SIGKILL ? 4.0 : 3.0));
    if (want_signal == SIGKILL)
        assert_true(took >= 1.25);
    assert_true(gone(grandchild, 2));
}

static void test_timeout_kills_group(void **ts)
{
    (void)ts;
    timeout_case("sleep 1000 & echo $! > %s; wait", SIGTERM);
}

static void test_timeout_escalates_to_sigkill(void **ts)
{
    (void)ts;
    timeout_case("trap '' TERM; sleep 1000 & echo $! > %s; wait; wait; wait", SIGKILL);
}

static void test_cancel(void **ts)
{
    (void)ts;
    const char *argv[] = {"sleep", "1000", NULL};
    struct mf_job_spec s = spec_of("T/1/cancel/1", argv);
    mf_job *j = submit(&s);
    struct mf_job_status st;
    assert_int_equal(ops->wait(state, 100), 0);   /* nothing happens: a timeout */
    assert_int_equal(ops->poll(state, &j, 1, &st), 0);
    assert_int_equal(st.state, MF_JOB_RUNNING);
    double t0 = now_s();
    assert_int_equal(ops->cancel(state, j), 0);
    wait_all(&j, 1, &st, 5);
    assert_true(now_s() - t0 < 1.0);
    assert_int_equal(st.state, MF_JOB_CANCELLED);
    assert_int_equal(st.term_signal, SIGTERM);
    assert_int_equal(st.timed_out, 0);
    assert_non_null(strstr(st.reason, "cancelled"));
    assert_int_equal(ops->cancel(state, j), 0);   /* again: harmless */
    ops->release(state, j);
    assert_no_children();
}

static void test_many_concurrent(void **ts)
{
    (void)ts;
    enum { N = 50 };
    mf_job *jobs[N];
    struct mf_job_status st[N];
    char envs[N][32], paths[N][PATH_MAX], names[N][64];
    const char *argv[] = {"sh", "-c", "sleep 0.2; echo job$N; exit $((N % 4))", NULL};
    /* All 50 at once, whatever this machine has: a synthetic one of 64 cores. */
    assert_int_equal(reopen_with("core:64 pu:1", NULL, NULL, NULL), 0);
    int fds = count_fds();
    for (int i = 0; i < N; i++) {
        snprintf(envs[i], sizeof envs[i], "N=%d", i);
        snprintf(paths[i], sizeof paths[i], "%s", tmp_path("many/%d/stdout", i));
        snprintf(names[i], sizeof names[i], "T/1/many/%d", i);
        const char *env[] = {envs[i], NULL};
        struct mf_job_spec s = spec_of(names[i], argv);
        s.env = env;
        s.stdout_path = paths[i];
        jobs[i] = submit(&s);
    }
    assert_int_equal(ops->poll(state, jobs, N, st), 0);
    for (int i = 0; i < N; i++)
        assert_int_equal(st[i].state, MF_JOB_RUNNING);
    wait_all(jobs, N, st, 20);
    for (int i = 0; i < N; i++) {
        assert_int_equal(st[i].exit_code, i % 4);
        assert_int_equal(st[i].state, i % 4 ? MF_JOB_FAILED : MF_JOB_SUCCEEDED);
        char want[32];
        snprintf(want, sizeof want, "job%d\n", i);
        char *got = slurp(paths[i], NULL);
        assert_non_null(got);
        assert_string_equal(got, want);
        free(got);
        ops->release(state, jobs[i]);
    }
    assert_no_children();
    assert_int_equal(count_fds(), fds);   /* pipes, pidfds and log files all closed */
}

static void test_env_and_workdir(void **ts)
{
    (void)ts;
    /* cpu = 3 on any machine: a synthetic topology of 8 cores. */
    assert_int_equal(reopen_with(SYN_2x4x2, NULL, NULL, NULL), 0);
    setenv("MFLOW_TEST_HOSTVAR", "fromhost", 1);
    setenv("OMP_NUM_THREADS", "99", 1);
    setenv("MKL_NUM_THREADS", "98", 1);
    setenv("MFLOW_CPUS", "42", 1);
    setenv("MFLOW_CPU_LIST", "41", 1);
    const char *argv[] = {"sh", "-c",
                          "echo \"$A $B $MFLOW_CPUS $OMP_NUM_THREADS $MFLOW_TEST_HOSTVAR\"; pwd; "
                          "echo \"$MKL_NUM_THREADS $OPENBLAS_NUM_THREADS $MFLOW_CPU_LIST $MFLOW_GPUS\"",
                          NULL};
    const char *env[] = {"A=1", "B=2", "A=3", "OMP_NUM_THREADS=7", NULL};
    struct mf_resources res = {.struct_size = sizeof res, .cpu = 3};
    char out[PATH_MAX], wd[PATH_MAX], want[2 * PATH_MAX];
    snprintf(out, sizeof out, "%s", tmp_path("env/stdout"));
    snprintf(wd, sizeof wd, "%s", tmp_path("workdir"));
    assert_int_equal(mkdir(wd, 0755), 0);

    struct mf_job_spec s = spec_of("T/1/env/1", argv);
    s.env = env;
    s.resources = &res;
    s.stdout_path = out;
    s.workdir = wd;
    struct mf_job_status st = run(&s, 10);
    assert_int_equal(st.state, MF_JOB_SUCCEEDED);
    char *got = slurp(out, NULL);
    /* OMP_NUM_THREADS from the step's env wins; the others follow cpu; the CPUs are three
     * whole cores of one node. */
    snprintf(want, sizeof want, "3 2 3 7 fromhost\n%s\n3 3 0,2,4 0\n", wd);
    assert_string_equal(got, want);
    free(got);

    /* No cpu request and no OMP_NUM_THREADS in the job: both are 1, whatever the host has. */
    snprintf(out, sizeof out, "%s", tmp_path("env/stdout2"));
    s = spec_of("T/1/env/2", argv);
    s.stdout_path = out;
    st = run(&s, 10);
    assert_int_equal(st.state, MF_JOB_SUCCEEDED);
    got = slurp(out, NULL);
    char cwd[PATH_MAX];
    assert_non_null(getcwd(cwd, sizeof cwd));
    snprintf(want, sizeof want, "  1 1 fromhost\n%s\n1 1 0 0\n", cwd);
    assert_string_equal(got, want);
    free(got);
    unsetenv("OMP_NUM_THREADS");
    unsetenv("MKL_NUM_THREADS");
    unsetenv("MFLOW_CPUS");
    unsetenv("MFLOW_CPU_LIST");
    unsetenv("MFLOW_TEST_HOSTVAR");
}

static size_t count_char(const char *s, char c)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == c;
    return n;
}

static void test_large_output(void **ts)
{
    (void)ts;
    enum { OUT = 3000000, ERR = 2000000 };
    char cmd[256];
    snprintf(cmd, sizeof cmd,
             "yes b | tr -d '\\n' | head -c %d >&2 & yes a | tr -d '\\n' | head -c %d; wait", ERR, OUT);
    const char *argv[] = {"sh", "-c", cmd, NULL};
    char out[PATH_MAX], err[PATH_MAX];
    snprintf(out, sizeof out, "%s", tmp_path("large/stdout"));
    snprintf(err, sizeof err, "%s", tmp_path("large/stderr"));
    struct mf_job_spec s = spec_of("X/1/s/1", argv);
    s.stdout_path = out;
    s.stderr_path = err;
    struct mf_job_status st = run(&s, 30);
    assert_int_equal(st.state, MF_JOB_SUCCEEDED);
    struct stat sb;
    assert_int_equal(stat(out, &sb), 0);
    assert_int_equal(sb.st_size, OUT);
    assert_int_equal(stat(err, &sb), 0);
    assert_int_equal(sb.st_size, ERR);
    const char *all = mf_fakehost_output();
    assert_int_equal(count_char(all, 'a'), OUT);
    assert_int_equal(count_char(all, 'b'), ERR);
}

static void test_leftover_background_process(void **ts)
{
    (void)ts;
    char pidfile[PATH_MAX], cmd[PATH_MAX + 64];
    snprintf(pidfile, sizeof pidfile, "%s", tmp_path("leftover.pid"));
    snprintf(cmd, sizeof cmd, "sleep 1000 & echo $! > %s; echo bye", pidfile);
    const char *argv[] = {"sh", "-c", cmd, NULL};
    struct mf_job_spec s = spec_of("T/1/bg/1", argv);
    double t0 = now_s();
    struct mf_job_status st = run(&s, 5);
    assert_true(now_s() - t0 < 2.0);
    assert_int_equal(st.state, MF_JOB_SUCCEEDED);
    char *fo = forwarded("T/1/bg/1", MF_STREAM_STDOUT);
    assert_string_equal(fo, "bye\n");
    free(fo);
    pid_t bg = read_pid(pidfile, 1);
    assert_true(gone(bg, 2));
}

/* A process that left the job's group but holds its stdout cannot keep the job running. */
static void test_escaped_pipe_holder(void **ts)
{
    (void)ts;
    char pidfile[PATH_MAX], cmd[3 * PATH_MAX];
    snprintf(pidfile, sizeof pidfile, "%s", tmp_path("escaped.pid"));
    /* started only once the sleeper is in its own session (so the plugin cannot stop it) */
    snprintf(cmd, sizeof cmd,
             "setsid sh -c 'echo $$ > %s; exec sleep 30' & while [ ! -s %s ]; do sleep 0.01; done; "
             "echo started",
             pidfile, pidfile);
    const char *argv[] = {"sh", "-c", cmd, NULL};
    struct mf_job_spec s = spec_of("T/1/esc/1", argv);
    double t0 = now_s();
    struct mf_job_status st = run(&s, 5);
    double took = now_s() - t0;
    pid_t esc = read_pid(pidfile, 1);
    kill(esc, SIGKILL);
    assert_int_equal(st.state, MF_JOB_SUCCEEDED);
    if (took < 0.4 || took >= 2.0)
        fail_msg("took %.3f s, want 0.5 s (the linger) and a little", took);
    char *fo = forwarded("T/1/esc/1", MF_STREAM_STDOUT);
    assert_string_equal(fo, "started\n");
    free(fo);
    assert_non_null(strstr(mf_fakehost_logs(), "still holds its stdout"));
}

static void test_release_running_leaves_no_orphan(void **ts)
{
    (void)ts;
    char pidfile[PATH_MAX], cmd[PATH_MAX + 64];
    snprintf(pidfile, sizeof pidfile, "%s", tmp_path("release.pid"));
    snprintf(cmd, sizeof cmd, "sleep 1000 & echo $! > %s; exec sleep 1000", pidfile);
    const char *argv[] = {"sh", "-c", cmd, NULL};
    struct mf_job_spec s = spec_of("T/1/rel/1", argv);
    mf_job *j = submit(&s);
    pid_t bg = read_pid(pidfile, 5);
    ops->release(state, j);
    /* a second job still running when the instance goes away */
    const char *sleeper[] = {"sleep", "1000", NULL};
    s = spec_of("T/1/rel/2", sleeper);
    submit(&s);
    close_instance();
    assert_true(gone(bg, 2));
    assert_no_children();
    assert_int_equal(open_instance("0.3", NULL), 0);
}

static void test_submit_errors(void **ts)
{
    (void)ts;
    mf_job *j = (mf_job *)0x1;
    const char *missing[] = {"/nonexistent/mflow-no-such-program", NULL};
    struct mf_job_spec s = spec_of("T/1/missing/1", missing);
    assert_int_equal(ops->submit(state, &s, &j), ENOENT);
    assert_null(j);
    assert_non_null(strstr(ops->last_error(state), "/nonexistent/mflow-no-such-program"));
    assert_non_null(strstr(ops->last_error(state), "T/1/missing/1"));

    const char *ok[] = {"true", NULL};
    s = spec_of("T/1/wd/1", ok);
    s.workdir = "/nonexistent/dir";
    assert_int_equal(ops->submit(state, &s, &j), ENOENT);
    assert_non_null(strstr(ops->last_error(state), "working directory '/nonexistent/dir'"));

    const char *bad_env[] = {"NOEQUALS", NULL};
    s = spec_of("T/1/env/1", ok);
    s.env = bad_env;
    assert_int_equal(ops->submit(state, &s, &j), MF_EINVAL);
    assert_non_null(strstr(ops->last_error(state), "NOEQUALS"));

    const char *empty[] = {NULL};
    s = spec_of("T/1/empty/1", empty);
    assert_int_equal(ops->submit(state, &s, &j), MF_EINVAL);
    assert_no_children();
}

/* describe (ABI 1.2): the machine `mflow resources` shows, as JSON, from the topology in
 * force when it is asked. */
static void test_describe(void **ts)
{
    (void)ts;
    assert_true(MF_HAS_FIELD(ops, describe));
    assert_non_null(ops->describe);
    struct mf_buf b = {.struct_size = sizeof b};
    setenv("HWLOC_XMLFILE", xml_4gpu, 1);
    int rc = ops->describe(state, &b);
    unsetenv("HWLOC_XMLFILE");
    assert_int_equal(rc, 0);
    char *d = strndup(b.data, b.len);
    b.release(&b);
    assert_non_null(strstr(d, "\"offers\":[{\"kind\":\"machine\",\"name\":\"topology\",\"cpus\":16,"
                              "\"memory_mb\":131072,\"gpus\":4,\"gpu_kinds\":{\"NVIDIA H100 80GB HBM3\":4}}]"));
    assert_non_null(strstr(d, "\"packages\":2,\"cores\":8,\"pus\":16,\"memory_mb\":131072"));
    assert_non_null(strstr(d, "\"text\":\"machine    XML topology '"));
    assert_non_null(strstr(d, "cuda3      0000:ca:00.0  1"));
    assert_non_null(strstr(d, "\"enforced\":{\"cpu\":\"counted, not bound\""));
    free(d);
    /* A synthetic machine without GPUs. */
    setenv("HWLOC_SYNTHETIC", "numa:2 core:4 pu:2", 1);
    rc = ops->describe(state, &b);
    unsetenv("HWLOC_SYNTHETIC");
    assert_int_equal(rc, 0);
    d = strndup(b.data, b.len);
    b.release(&b);
    assert_non_null(strstr(d, "\"cpus\":16,"));
    assert_non_null(strstr(d, "\"gpus\":0,\"gpu_kinds\":{}"));
    assert_non_null(strstr(d, "GPUs       0 (hwloc found none"));
    free(d);
}

static void test_check(void **ts)
{
    (void)ts;
    /* This machine: the CPUs this process may use, its memory. */
    struct mf_resources res = {.struct_size = sizeof res, .cpu = 1, .memory_mb = 16};
    assert_int_equal(ops->check(state, "small", &res), 0);
    assert_int_equal(ops->check(state, "none", NULL), 0);
    res.cpu = 100000;
    assert_int_equal(ops->check(state, "big", &res), MF_EINVAL);
    const char *e = ops->last_error(state);
    assert_non_null(strstr(e, "step 'big' asks for 100000 cpu"));
    cpu_set_t mine;
    assert_int_equal(sched_getaffinity(0, sizeof mine, &mine), 0);
    char have[64];
    snprintf(have, sizeof have, "this machine has %d CPUs", CPU_COUNT(&mine));
    assert_non_null(strstr(e, have));
    res.cpu = 1;
    res.memory_mb = 1ull << 40;
    assert_int_equal(ops->check(state, "fat", &res), MF_EINVAL);
    assert_non_null(strstr(ops->last_error(state), "step 'fat' asks for 1099511627776 MB of memory (resources.memory_mb) but this machine has "));

    /* A machine without GPUs (synthetic, so that it holds anywhere). Without the task server,
     * which check starts for the run it prepares: then nothing at all may be left running. */
    assert_int_equal(reopen_with(SYN_2x4x2, NULL, "task_server", "off"), 0);
    res = (struct mf_resources){.struct_size = sizeof res, .gpu = 4};
    assert_int_equal(ops->check(state, "train", &res), MF_EINVAL);
    assert_string_equal(ops->last_error(state),
                        "step 'train' asks for 4 GPUs but this machine has 0 (hwloc found none); run it on a GPU machine or with --compute=slurm");
    res = (struct mf_resources){.struct_size = sizeof res, .cpu = 16, .memory_mb = 2048};
    assert_int_equal(ops->check(state, "whole", &res), 0);
    /* submit refuses the same, without running anything */
    const char *argv[] = {"true", NULL};
    struct mf_job_spec s = spec_of("T/1/train/1", argv);
    res = (struct mf_resources){.struct_size = sizeof res, .gpu = 1};
    s.resources = &res;
    s.step_name = "train";
    mf_job *j = (mf_job *)0x1;
    assert_int_equal(ops->submit(state, &s, &j), MF_EINVAL);
    assert_null(j);
    assert_non_null(strstr(ops->last_error(state), "job T/1/train/1: step 'train' asks for 1 GPU but this machine has 0"));
    assert_no_children();
}

/* A task starts only when its cores fit: on 8 cores, 8 of 10 cpu=1 tasks run, 2 wait; each
 * waiting one starts when a running one ends, on the core it freed. */
static void test_queue_admission(void **ts)
{
    (void)ts;
    assert_int_equal(reopen_with(SYN_2x4x2, NULL, NULL, NULL), 0);
    enum { N = 10 };
    mf_job *jobs[N];
    struct mf_job_status st[N];
    char paths[N][PATH_MAX], names[N][64];
    const char *argv[] = {"sh", "-c", "echo $MFLOW_CPU_LIST; sleep 0.4", NULL};
    struct mf_resources one = {.struct_size = sizeof one, .cpu = 1};
    for (int i = 0; i < N; i++) {
        snprintf(paths[i], sizeof paths[i], "%s", tmp_path("queue/%d", i));
        snprintf(names[i], sizeof names[i], "Q/1/q/%d", i);
        struct mf_job_spec s = spec_of(names[i], argv);
        s.resources = &one;
        s.stdout_path = paths[i];
        jobs[i] = submit(&s);
    }
    assert_int_equal(ops->poll(state, jobs, N, st), 0);
    for (int i = 0; i < N; i++) {
        assert_int_equal(st[i].state, i < 8 ? MF_JOB_RUNNING : MF_JOB_QUEUED);
        if (i >= 8)
            assert_true(st[i].start_time == 0);
    }
    /* a queued job's log is not even opened yet */
    struct stat sb;
    assert_int_equal(stat(paths[9], &sb), -1);
    wait_all(jobs, N, st, 20);
    double first_end = 1e300;
    for (int i = 0; i < 8; i++)
        if (st[i].end_time < first_end)
            first_end = st[i].end_time;
    int seen[16] = {0};
    for (int i = 0; i < N; i++) {
        assert_int_equal(st[i].state, MF_JOB_SUCCEEDED);
        char *got = slurp(paths[i], NULL);
        assert_non_null(got);
        int cpu = atoi(got);
        if (i < 8) {
            char want[16];
            snprintf(want, sizeof want, "%d\n", 2 * i);   /* one core each, node 0 first */
            assert_string_equal(got, want);
        } else {
            assert_true(cpu % 2 == 0 && cpu < 16);
            assert_true(st[i].start_time >= first_end - 0.05);
        }
        free(got);
        if (i >= 8)
            assert_int_equal(seen[cpu]++, 0);   /* the two late ones got different cores */
        ops->release(state, jobs[i]);
    }

    /* A job of the whole machine holds back one more; cancel and release work on a waiting
     * job. */
    struct mf_resources all = {.struct_size = sizeof all, .cpu = 16};
    const char *sleeper[] = {"sleep", "1000", NULL};
    struct mf_job_spec s = spec_of("Q/2/big/1", sleeper);
    s.resources = &all;
    mf_job *big = submit(&s);
    const char *quick[] = {"true", NULL};
    s = spec_of("Q/2/small/1", quick);
    s.resources = &one;
    mf_job *small = submit(&s);
    s = spec_of("Q/2/small/2", quick);
    mf_job *small2 = submit(&s);
    assert_int_equal(ops->poll(state, &small, 1, st), 0);
    assert_int_equal(st[0].state, MF_JOB_QUEUED);
    assert_int_equal(ops->cancel(state, small), 0);
    assert_int_equal(ops->poll(state, &small, 1, st), 0);
    assert_int_equal(st[0].state, MF_JOB_CANCELLED);
    assert_string_equal(st[0].reason, "cancelled before it started (it was waiting for resources)");
    ops->release(state, small);
    ops->release(state, small2);   /* still waiting: simply forgotten */
    assert_int_equal(ops->cancel(state, big), 0);
    wait_all(&big, 1, st, 5);
    assert_int_equal(st[0].state, MF_JOB_CANCELLED);
    ops->release(state, big);
    assert_no_children();
}

/* GPUs from an XML topology: each gpu = 1 task gets its own, on its own node, through
 * CUDA_VISIBLE_DEVICES; a task without GPUs sees none unless its env says otherwise. */
static void test_gpu_placement_xml(void **ts)
{
    (void)ts;
    assert_int_equal(reopen_with(NULL, xml_4gpu, NULL, NULL), 0);
    enum { N = 7 };
    mf_job *jobs[N];
    struct mf_job_status st[N];
    char paths[N][PATH_MAX], names[N][64];
    const char *argv[] = {"sh", "-c",
                          "echo \"[${CUDA_VISIBLE_DEVICES-unset}] $CUDA_DEVICE_ORDER $MFLOW_GPUS $MFLOW_CPU_LIST $MFLOW_GPU_LIST\"; sleep 0.3",
                          NULL};
    struct mf_resources gpu1 = {.struct_size = sizeof gpu1, .cpu = 1, .gpu = 1};
    struct mf_resources none = {.struct_size = sizeof none, .cpu = 1};
    const char *own_env[] = {"CUDA_VISIBLE_DEVICES=7", NULL};
    for (int i = 0; i < N; i++) {
        snprintf(paths[i], sizeof paths[i], "%s", tmp_path("gpu/%d", i));
        snprintf(names[i], sizeof names[i], "G/1/g/%d", i);
        struct mf_job_spec s = spec_of(names[i], argv);
        s.resources = i < 5 ? &gpu1 : &none;
        if (i == 6)
            s.env = own_env;
        s.stdout_path = paths[i];
        jobs[i] = submit(&s);
    }
    assert_int_equal(ops->poll(state, jobs, N, st), 0);
    assert_int_equal(st[4].state, MF_JOB_QUEUED);     /* a fifth GPU there is not */
    assert_int_equal(st[5].state, MF_JOB_RUNNING);    /* but a CPU-only task passes it */
    assert_int_equal(st[6].state, MF_JOB_RUNNING);
    wait_all(jobs, N, st, 20);
    const char *want[N] = {
        "[0] PCI_BUS_ID 1 0 0000:17:00.0\n", "[1] PCI_BUS_ID 1 1 0000:31:00.0\n",
        "[2] PCI_BUS_ID 1 4 0000:b1:00.0\n", "[3] PCI_BUS_ID 1 5 0000:ca:00.0\n", NULL,
        "[] PCI_BUS_ID 0 2 \n", "[7] PCI_BUS_ID 0 3 \n",
    };
    for (int i = 0; i < N; i++) {
        assert_int_equal(st[i].state, MF_JOB_SUCCEEDED);
        char *got = slurp(paths[i], NULL);
        assert_non_null(got);
        if (want[i])
            assert_string_equal(got, want[i]);
        else
            assert_true(got[0] == '[' && got[1] >= '0' && got[1] <= '3' && got[2] == ']');
        free(got);
        ops->release(state, jobs[i]);
    }
    struct mf_resources five = {.struct_size = sizeof five, .gpu = 5};
    struct mf_job_spec s = spec_of("G/1/five/1", argv);
    s.resources = &five;
    s.step_name = "five";
    mf_job *j = NULL;
    assert_int_equal(ops->submit(state, &s, &j), MF_EINVAL);
    assert_non_null(strstr(ops->last_error(state), "step 'five' asks for 5 GPUs but this machine has 4 (cuda0, cuda1, cuda2, cuda3)"));
}

/* What this job's output file says after "affinity=": the CPU list it ran on. */
static char *affinity_of(const char *path)
{
    char *got = slurp(path, NULL);
    assert_non_null(got);
    return got;
}

/* On this machine: concurrent cpu = 1 tasks are bound to different CPUs, see it with
 * sched_getaffinity, and so do their children. */
static void test_real_affinity(void **ts)
{
    (void)ts;
    cpu_set_t mine;
    assert_int_equal(sched_getaffinity(0, sizeof mine, &mine), 0);
    if (CPU_COUNT(&mine) < 2)
        skip();   /* one CPU: no two tasks run at once */
    const char *argv[] = {self_exe, "--affinity", "300", NULL};
    char cmd[PATH_MAX + 64];
    snprintf(cmd, sizeof cmd, "'%s' --affinity 300; echo parent", self_exe);
    const char *child_argv[] = {"sh", "-c", cmd, NULL};
    struct mf_resources one = {.struct_size = sizeof one, .cpu = 1};
    mf_job *jobs[2];
    struct mf_job_status st[2];
    char paths[2][PATH_MAX];
    for (int i = 0; i < 2; i++) {
        snprintf(paths[i], sizeof paths[i], "%s", tmp_path("affinity/%d", i));
        struct mf_job_spec s = spec_of(i ? "A/1/b/2" : "A/1/a/1", i ? child_argv : argv);
        s.resources = &one;
        s.stdout_path = paths[i];
        jobs[i] = submit(&s);
    }
    assert_int_equal(ops->poll(state, jobs, 2, st), 0);
    assert_int_equal(st[0].state, MF_JOB_RUNNING);   /* at the same time */
    assert_int_equal(st[1].state, MF_JOB_RUNNING);
    wait_all(jobs, 2, st, 10);
    char *a = affinity_of(paths[0]), *b = affinity_of(paths[1]);
    assert_int_equal(st[0].state, MF_JOB_SUCCEEDED);
    assert_int_equal(st[1].state, MF_JOB_SUCCEEDED);
    int ca = -1, cb = -1, ea = -2, eb = -2;
    assert_int_equal(sscanf(a, "affinity=%d env=%d", &ca, &ea), 2);
    assert_int_equal(sscanf(b, "affinity=%d env=%d", &cb, &eb), 2);
    assert_null(strchr(a, ','));   /* one CPU each */
    assert_null(strchr(b, ','));
    assert_int_equal(ca, ea);       /* what it was told is what it got */
    assert_int_equal(cb, eb);
    assert_int_not_equal(ca, cb);
    assert_true(CPU_ISSET(ca, &mine) && CPU_ISSET(cb, &mine));
    assert_non_null(strstr(b, "\nparent\n"));   /* b's line came from the shell's child */
    free(a);
    free(b);
    for (int i = 0; i < 2; i++)
        ops->release(state, jobs[i]);

    /* Two CPUs: both of them (whole cores first). */
    struct mf_resources two = {.struct_size = sizeof two, .cpu = 2};
    struct mf_job_spec s = spec_of("A/1/c/3", argv);
    s.resources = &two;
    s.stdout_path = paths[0];
    unlink(paths[0]);
    struct mf_job_status one_st = run(&s, 10);
    assert_int_equal(one_st.state, MF_JOB_SUCCEEDED);
    a = affinity_of(paths[0]);
    int c0, c1, e0, e1;
    assert_int_equal(sscanf(a, "affinity=%d,%d env=%d,%d", &c0, &c1, &e0, &e1), 4);
    assert_true(c0 < c1);
    assert_int_equal(c0, e0);
    assert_int_equal(c1, e1);
    free(a);
}

/* The directory holding this run's job cgroups (cgroup v1), or "" when unknown. */
static void own_v1_base(char *out, size_t len)
{
    out[0] = '\0';
    char *cg = slurp("/proc/self/cgroup", NULL);
    if (!cg)
        return;
    char *m = strstr(cg, ":memory:");
    if (m) {
        char *end = strchr(m, '\n');
        if (end)
            *end = '\0';
        const char *path = m + strlen(":memory:");
        snprintf(out, len, "/sys/fs/cgroup/memory%s/mflow.%d", strcmp(path, "/") ? path : "", (int)getpid());
    }
    free(cg);
}

static int job_cgroups_left(const char *base)
{
    DIR *d = opendir(base);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += !strncmp(e->d_name, "job-", 4);
    closedir(d);
    return n;
}

/* A task that allocates past memory_mb fails with a message naming the limit; one within it
 * succeeds. With cgroups (root, v1 or v2), the kernel's OOM killer stops it. */
static void test_memory_limit(void **ts)
{
    (void)ts;
    const char *hog[] = {self_exe, "--hog", "256", NULL};
    const char *small[] = {self_exe, "--hog", "16", NULL};
    struct mf_resources res = {.struct_size = sizeof res, .cpu = 1, .memory_mb = 64};
    struct mf_job_spec s = spec_of("M/1/hog/1", hog);
    s.resources = &res;
    struct mf_job_status st = run(&s, 20);
    assert_int_equal(st.state, MF_JOB_FAILED);
    if (!strstr(st.reason, "memory limit of 64 MB (resources.memory_mb"))
        fail_msg("reason does not name the limit: %s", st.reason);
    assert_non_null(strstr(st.reason, "raise resources.memory_mb"));
    const char *logs = mf_fakehost_logs();
    assert_int_equal(count_in(logs, "memory limits (resources.memory_mb) are enforced with"), 1);
    if (strstr(logs, "cgroup v")) {
        assert_int_equal(st.term_signal, SIGKILL);
        assert_non_null(strstr(st.reason, "OOM killer"));
        char base[PATH_MAX];
        own_v1_base(base, sizeof base);
        if (strstr(logs, "cgroup v1") && base[0]) {
            struct stat sb;
            assert_int_equal(stat(base, &sb), 0);   /* the run's directory, */
            assert_int_equal(job_cgroups_left(base), 0);   /* and no job's left in it */
        }
    }
    s = spec_of("M/1/small/2", small);
    s.resources = &res;
    st = run(&s, 20);
    if (st.state != MF_JOB_SUCCEEDED)
        fail_msg("16 MB within 64 MB failed: %s", st.reason);
    assert_int_equal(count_in(mf_fakehost_logs(), "memory limits (resources.memory_mb) are enforced with"), 1);
}

/* The fallback: RLIMIT_DATA, with one warning saying so. */
static void test_memory_limit_rlimit(void **ts)
{
    (void)ts;
#ifdef __SANITIZE_ADDRESS__
    /* The hog is this program: under AddressSanitizer it reserves its allocator's regions
     * first, and RLIMIT_DATA refuses those before the hog allocates anything. */
    skip();
#endif
    assert_int_equal(reopen_with(NULL, NULL, "memory_limit", "rlimit"), 0);
    const char *hog[] = {self_exe, "--hog", "256", NULL};
    const char *small[] = {self_exe, "--hog", "16", NULL};
    struct mf_resources res = {.struct_size = sizeof res, .cpu = 1, .memory_mb = 64};
    for (int i = 0; i < 2; i++) {
        struct mf_job_spec s = spec_of("M/2/hog/1", hog);
        s.resources = &res;
        struct mf_job_status st = run(&s, 20);
        assert_int_equal(st.state, MF_JOB_FAILED);
        assert_int_equal(st.exit_code, 3);   /* its allocation failed */
        assert_non_null(strstr(st.reason, "exited with code 3"));
        assert_non_null(strstr(st.reason, "memory limit of 64 MB (resources.memory_mb) is enforced here as RLIMIT_DATA"));
    }
    struct mf_job_spec s = spec_of("M/2/small/2", small);
    s.resources = &res;
    struct mf_job_status st = run(&s, 20);
    assert_int_equal(st.state, MF_JOB_SUCCEEDED);
    const char *logs = mf_fakehost_logs();
    assert_int_equal(count_in(logs, "WARN local: memory limits (resources.memory_mb) are enforced with RLIMIT_DATA"), 1);
}

static void test_wait_without_jobs(void **ts)
{
    (void)ts;
    double t0 = now_s();
    assert_int_equal(ops->wait(state, -1), 0);   /* nothing could ever change */
    assert_int_equal(ops->wait(state, 50), 0);
    double took = now_s() - t0;
    assert_true(took >= 0.04 && took < 1.0);
}

static void test_bad_options(void **ts)
{
    (void)ts;
    close_instance();
    assert_int_equal(open_instance("soon", NULL), MF_EINVAL);
    assert_non_null(strstr(mf_fakehost_logs(), "kill_grace_s"));
    assert_int_equal(open_instance("2", "telepathy"), MF_EINVAL);
    assert_non_null(strstr(mf_fakehost_logs(), "exit_notify"));
    assert_int_equal(reopen_with(NULL, NULL, "cpu_bind", "sometimes"), MF_EINVAL);
    state = NULL;
    assert_non_null(strstr(mf_fakehost_logs(), "option cpu_bind='sometimes' is not on or off"));
    assert_int_equal(reopen_with(NULL, NULL, "memory_limit", "plenty"), MF_EINVAL);
    state = NULL;
    assert_non_null(strstr(mf_fakehost_logs(), "option memory_limit='plenty' is not one of auto, cgroup, rlimit, none"));
    assert_int_equal(open_instance("0.3", NULL), 0);
}

/* The SIGCHLD fallback (no pidfd): same results, and the host's handler is back after fini. */
static void test_sigchld_fallback(void **ts)
{
    (void)ts;
    close_instance();
    assert_int_equal(open_instance("0.3", "sigchld"), 0);
    struct sigaction sa;
    assert_int_equal(sigaction(SIGCHLD, NULL, &sa), 0);
    assert_true(sa.sa_flags & SA_SIGINFO);

    enum { N = 10 };
    mf_job *jobs[N];
    struct mf_job_status st[N];
    char envs[N][16], names[N][32];
    const char *argv[] = {"sh", "-c", "echo x$N; exit $N", NULL};
    for (int i = 0; i < N; i++) {
        snprintf(envs[i], sizeof envs[i], "N=%d", i);
        snprintf(names[i], sizeof names[i], "T/2/f/%d", i);
        const char *env[] = {envs[i], NULL};
        struct mf_job_spec s = spec_of(names[i], argv);
        s.env = env;
        jobs[i] = submit(&s);
    }
    double t0 = now_s();
    wait_all(jobs, N, st, 10);
    assert_true(now_s() - t0 < 1.0);   /* noticed by the signal, not the 1 s tick */
    for (int i = 0; i < N; i++) {
        assert_int_equal(st[i].exit_code, i);
        ops->release(state, jobs[i]);
    }
    const char *sleeper[] = {"sleep", "1000", NULL};
    struct mf_job_spec s = spec_of("T/2/c/1", sleeper);
    mf_job *j = submit(&s);
    assert_int_equal(ops->cancel(state, j), 0);
    wait_all(&j, 1, st, 5);
    assert_int_equal(st[0].state, MF_JOB_CANCELLED);
    ops->release(state, j);

    close_instance();
    assert_int_equal(sigaction(SIGCHLD, NULL, &sa), 0);
    assert_true(sa.sa_handler == SIG_DFL);
    assert_no_children();
    assert_int_equal(open_instance("0.3", NULL), 0);
}

/* This program as a task: --hog MB allocates and touches MB megabytes (exit 3 when the
 * allocation fails); --affinity MS prints the CPUs it may run on and MFLOW_CPU_LIST, then
 * sleeps MS milliseconds. */
static int as_task(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--hog")) {
        size_t mb = (size_t)atol(argv[2]);
        char *p = malloc(mb << 20);
        if (!p) {
            fprintf(stderr, "hog: cannot allocate %zu MB\n", mb);
            return 3;
        }
        for (size_t i = 0; i < mb << 20; i += 4096)
            p[i] = (char)i;
        printf("hog: touched %zu MB\n", mb);
        free(p);
        return 0;
    }
    if (argc == 3 && !strcmp(argv[1], "--affinity")) {
        cpu_set_t set;
        if (sched_getaffinity(0, sizeof set, &set) != 0)
            return 2;
        printf("affinity=");
        for (int c = 0, n = 0; c < CPU_SETSIZE; c++)
            if (CPU_ISSET(c, &set))
                printf("%s%d", n++ ? "," : "", c);
        const char *env = getenv("MFLOW_CPU_LIST");
        printf(" env=%s\n", env ? env : "unset");
        fflush(stdout);
        usleep((useconds_t)atoi(argv[2]) * 1000);
        return 0;
    }
    fprintf(stderr, "usage: %s [--hog MB | --affinity MS]\n", argv[0]);
    return 2;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        return as_task(argc, argv);
    ssize_t n = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
    if (n <= 0) {
        perror("readlink /proc/self/exe");
        return 1;
    }
    self_exe[n] = '\0';
    const char *src = getenv("MFLOW_TEST_SOURCE_ROOT");
    snprintf(xml_4gpu, sizeof xml_4gpu, "%s/tests/resources/topo-2numa-4gpu.xml", src ? src : ".");
    const char *path = getenv("MFLOW_TEST_PLUGIN");
    if (!path) {
        fprintf(stderr, "MFLOW_TEST_PLUGIN is not set (meson sets it to the built mflow_compute_local.so)\n");
        return 77;
    }
    desc = mf_fakehost_load(path);
    if (!desc) {
        fprintf(stderr, "cannot load %s: %s", path, mf_fakehost_logs());
        return 1;
    }
    ops = desc->ops;
    /* No core files from the deliberate segfault. */
    struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    snprintf(tmp, sizeof tmp, "%s/mflow-test-compute-local-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmp)) {
        perror("mkdtemp");
        return 1;
    }

    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_descriptor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_output_forwarded_and_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_logs_not_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exit_codes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_segfault, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout_kills_group, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout_escalates_to_sigkill, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_concurrent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_and_workdir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large_output, setup, teardown),
        cmocka_unit_test_setup_teardown(test_leftover_background_process, setup, teardown),
        cmocka_unit_test_setup_teardown(test_escaped_pipe_holder, setup, teardown),
        cmocka_unit_test_setup_teardown(test_release_running_leaves_no_orphan, setup, teardown),
        cmocka_unit_test_setup_teardown(test_submit_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check, setup, teardown),
        cmocka_unit_test_setup_teardown(test_describe, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_admission, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gpu_placement_xml, setup, teardown),
        cmocka_unit_test_setup_teardown(test_real_affinity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memory_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memory_limit_rlimit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wait_without_jobs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_options, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sigchld_fallback, setup, teardown),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (!failed && system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmp);
    return failed ? 1 : 0;
}
