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
    setenv("MFLOW_TEST_HOSTVAR", "fromhost", 1);
    setenv("OMP_NUM_THREADS", "99", 1);
    setenv("MFLOW_CPUS", "42", 1);
    const char *argv[] = {"sh", "-c", "echo \"$A $B $MFLOW_CPUS $OMP_NUM_THREADS $MFLOW_TEST_HOSTVAR\"; pwd",
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
    snprintf(want, sizeof want, "3 2 3 7 fromhost\n%s\n", wd);
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
    snprintf(want, sizeof want, "  1 1 fromhost\n%s\n", cwd);
    assert_string_equal(got, want);
    free(got);
    unsetenv("OMP_NUM_THREADS");
    unsetenv("MFLOW_CPUS");
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

static void test_check(void **ts)
{
    (void)ts;
    struct mf_resources res = {.struct_size = sizeof res, .cpu = 1, .memory_mb = 1 << 20, .gpu = 1};
    assert_int_equal(ops->check(state, "small", &res), 0);
    assert_int_equal(ops->check(state, "none", NULL), 0);
    res.cpu = 100000;
    assert_int_equal(ops->check(state, "big", &res), MF_EINVAL);
    const char *e = ops->last_error(state);
    assert_non_null(strstr(e, "'big'"));
    assert_non_null(strstr(e, "100000"));
    char online[64];
    snprintf(online, sizeof online, "%ld online CPUs", sysconf(_SC_NPROCESSORS_ONLN));
    assert_non_null(strstr(e, online));
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

int main(void)
{
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
