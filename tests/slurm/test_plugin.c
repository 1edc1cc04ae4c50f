/* The slurm compute plugin alone: loaded from its built .so (MFLOW_TEST_PLUGIN) through the
 * SDK's fake host, against fake Slurm commands (tests/slurm/fakebin, driven through files in
 * FAKE_SLURM_DIR). Covers what a single-node test cluster cannot produce (OUT_OF_MEMORY,
 * NODE_FAIL, PREEMPTED, lost jobs, a failing sbatch) and what the plugin promises about its
 * use of Slurm: one sbatch per step's batch (an array), one squeue per poll for all jobs with
 * backoff, one scancel for many cancels. The parsers (parse.c) are compiled in directly. */
#include "fakehost.h"
#include "slurm_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

static const struct mf_plugin_desc *desc;
static const struct mf_compute_ops *ops;
static char root[PATH_MAX / 4];     /* this test's temporary directory */
static char fake[PATH_MAX / 2];     /* FAKE_SLURM_DIR */
static char logdir[PATH_MAX / 2];

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *fpath(const char *name)
{
    static char bufs[8][PATH_MAX];
    static int next;
    char *b = bufs[next++ % 8];
    snprintf(b, PATH_MAX, "%s/%s", fake, name);
    return b;
}

static void put(const char *path, const char *text)
{
    char tmp[PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(rename(tmp, path), 0);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    assert_non_null(b);
    size_t got = fread(b, 1, (size_t)n, f);
    b[got] = '\0';
    fclose(f);
    return b;
}

static int count_lines(const char *path)
{
    char *s = slurp(path);
    int n = 0;
    for (char *p = s; p && *p; p++)
        n += *p == '\n';
    free(s);
    return n;
}

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    if (flag == FTW_DP)
        rmdir(p);
    else
        unlink(p);
    return 0;
}

/* A fresh fake cluster and plugin instance, with extra settings as key, value pairs. */
static void *start_plugin(const char *k1, const char *v1, const char *k2, const char *v2)
{
    nftw(fake, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    nftw(logdir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    assert_int_equal(mkdir(fake, 0755), 0);
    mf_fakehost_reset();
    char bindir[PATH_MAX];
    snprintf(bindir, sizeof bindir, "%s/tests/slurm/fakebin", getenv("MFLOW_TEST_SOURCE_ROOT"));
    mf_fakehost_set("slurm", "bin_dir", bindir);
    mf_fakehost_set("slurm", "log_dir", logdir);
    mf_fakehost_set("slurm", "poll_min_ms", "20");
    mf_fakehost_set("slurm", "poll_max_ms", "200");
    if (k1)
        mf_fakehost_set("slurm", k1, v1);
    if (k2)
        mf_fakehost_set("slurm", k2, v2);
    void *st = NULL;
    int rc = desc->init(mf_fakehost(), &st);
    if (rc)
        fail_msg("init failed (%d): %s", rc, mf_fakehost_logs());
    return st;
}

static const struct mf_resources res1 = {sizeof(struct mf_resources), 2, 300, 1, 0};

static mf_job *submit(void *st, const char *step, int64_t task, const struct mf_resources *res,
                      uint32_t timeout_s)
{
    char pathspec[128], task_s[32];
    snprintf(pathspec, sizeof pathspec, "FakeFlow/1/%s/%lld", step, (long long)task);
    snprintf(task_s, sizeof task_s, "%lld", (long long)task);
    static const char *const env[] = {"STEP_VAR=x y", NULL};
    const char *argv[] = {"/opt/mflow/bin/mflow", "task", "FakeFlow", step, "--task-id", task_s,
                          "--note", "it's $(not) a shell", NULL};
    struct mf_job_spec spec = {
        .struct_size = sizeof spec,
        .timeout_s = timeout_s,
        .argv = argv,
        .env = env,
        .pathspec = pathspec,
        .flow_name = "FakeFlow",
        .step_name = step,
        .run_id = 1,
        .task_id = task,
        .resources = res,
    };
    mf_job *j = NULL;
    int rc = ops->submit(st, &spec, &j);
    if (rc)
        fail_msg("submit: %s", ops->last_error(st));
    return j;
}

static struct mf_job_status status_of(void *st, mf_job *j)
{
    struct mf_job_status s;
    memset(&s, 0, sizeof s);
    s.struct_size = sizeof s;
    assert_int_equal(ops->poll(st, &j, 1, &s), 0);
    return s;
}

/* How many times sbatch ran. */
static int sbatch_calls(void)
{
    char *log = slurp(fpath("sbatch.log"));
    int calls = 0;
    for (char *p = log; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : p + strlen(p))
        calls += !strncmp(p, "--\n", 3);
    free(log);
    return calls;
}

/* The n-th (0-based) sbatch call's arguments, "\n"-joined. */
static char *sbatch_call(int n)
{
    char *log = slurp(fpath("sbatch.log"));
    assert_non_null(log);
    char *p = log;
    for (int i = 0; i < n; i++) {
        p = strstr(p, "\n--\n");
        assert_non_null(p);
        p += 4;
    }
    char *end = strstr(p, "\n--\n");
    assert_non_null(end);
    char *r = strndup(p, (size_t)(end - p + 1));
    free(log);
    return r;
}

/* The batch directory an sbatch call was given (the argument after the script). */
static void batch_dir(int call, char *out, size_t n)
{
    char *args = sbatch_call(call);
    char *s = strstr(args, "mflow-job-v1.sh\n");
    assert_non_null(s);
    s += strlen("mflow-job-v1.sh\n");
    char *nl = strchr(s, '\n');
    assert_non_null(nl);
    snprintf(out, n, "%.*s", (int)(nl - s), s);
    free(args);
}

/* Wait (through the plugin) until job j is no longer queued or running, at most secs. */
static struct mf_job_status wait_end(void *st, mf_job *j, double secs)
{
    double end = now_s() + secs;
    struct mf_job_status s = status_of(st, j);
    while ((s.state == MF_JOB_QUEUED || s.state == MF_JOB_RUNNING) && now_s() < end) {
        ops->wait(st, 100);
        s = status_of(st, j);
    }
    return s;
}

/* ---- parsers -------------------------------------------------------------------------------- */

static void test_parse_squeue(void **s)
{
    (void)s;
    struct sl_qline q;
    assert_int_equal(sl_parse_squeue_line("123_4|OUT_OF_MEMORY|9|2024-05-01T10:00:00|"
                                          "2024-05-01T10:01:40|OutOfMemory|", &q), 0);
    assert_string_equal(q.jobid, "123");
    assert_int_equal(q.index, 4);
    assert_string_equal(q.state, "OUT_OF_MEMORY");
    assert_int_equal(q.term_signal, 9);
    assert_int_equal(q.exit_code, -1);
    assert_true(q.end_time - q.start_time > 99.5 && q.end_time - q.start_time < 100.5);
    assert_string_equal(q.reason, "OutOfMemory");
    assert_int_equal(sl_parse_squeue_line("77|FAILED|768|N/A|N/A|NonZeroExitCode|", &q), 0);
    assert_int_equal(q.index, -1);
    assert_int_equal(q.exit_code, 3);
    assert_int_equal(q.term_signal, 0);
    assert_true(q.start_time == 0);
    assert_int_not_equal(sl_parse_squeue_line("squeue: error: something", &q), 0);
    assert_int_not_equal(sl_parse_squeue_line("12x|RUNNING|0|N/A|N/A|None|", &q), 0);
}

struct seen {
    int n;
    long idx[16];
    char state[16][32];
    int exit_code[16], sig[16];
};

static void seen_cb(void *ud, const struct sl_qline *q)
{
    struct seen *s = ud;
    if (s->n < 16) {
        s->idx[s->n] = q->index;
        snprintf(s->state[s->n], 32, "%s", q->state);
        s->exit_code[s->n] = q->exit_code;
        s->sig[s->n] = q->term_signal;
        s->n++;
    }
}

static void test_parse_scontrol_sacct(void **s)
{
    (void)s;
    struct seen sn = {0};
    const char *text =
        "JobId=201 ArrayJobId=200 ArrayTaskId=0 JobName=F/1/s JobState=COMPLETED Reason=None "
        "ExitCode=0:0 StartTime=2024-05-01T10:00:00 EndTime=2024-05-01T10:00:05\n"
        "JobId=200 ArrayJobId=200 ArrayTaskId=2-4%2 JobState=PENDING Reason=JobArrayTaskLimit "
        "ExitCode=0:0\n"
        "JobId=300 JobName=x JobState=TIMEOUT Reason=TimeLimit ExitCode=0:15\n";
    assert_int_equal(sl_parse_scontrol(text, seen_cb, &sn), 3);
    assert_int_equal(sn.n, 5);
    assert_int_equal(sn.idx[0], 0);
    assert_int_equal(sn.idx[1], 2);
    assert_int_equal(sn.idx[3], 4);
    assert_string_equal(sn.state[3], "PENDING");
    assert_int_equal(sn.idx[4], -1);
    assert_string_equal(sn.state[4], "TIMEOUT");
    assert_int_equal(sn.sig[4], 15);
    struct seen sa = {0};
    assert_int_equal(sl_parse_sacct("400_1|CANCELLED by 0|0:15|2024-05-01T10:00:00|"
                                    "2024-05-01T10:00:01\n401|COMPLETED|0:0|Unknown|Unknown\n",
                                    seen_cb, &sa), 2);
    assert_string_equal(sa.state[0], "CANCELLED");
    assert_int_equal(sa.idx[0], 1);
    assert_int_equal(sa.sig[0], 15);
    assert_int_equal(sa.exit_code[1], 0);
    int to;
    const char *why;
    assert_int_equal(sl_classify("TIMEOUT", &to, &why), SL_DONE_FAILED);
    assert_int_equal(to, 1);
    assert_int_equal(sl_classify("OUT_OF_MEMORY", &to, &why), SL_DONE_FAILED);
    assert_int_equal(to, 0);
    assert_non_null(strstr(why, "memory"));
    assert_int_equal(sl_classify("CANCELLED by 1000", &to, &why), SL_DONE_CANCELLED);
    assert_int_equal(sl_classify("COMPLETING", &to, &why), SL_ACTIVE);
    assert_int_equal(sl_classify("PENDING", &to, &why), SL_PENDING);
    assert_int_equal(sl_classify("WEIRD", &to, &why), SL_UNKNOWN);
    char id[32];
    assert_int_equal(sl_parse_sbatch("4242;cluster\n", id, sizeof id), 0);
    assert_string_equal(id, "4242");
    assert_int_not_equal(sl_parse_sbatch("sbatch: error\n", id, sizeof id), 0);
    size_t n;
    char **w = sl_split_words("  --time=5\t--constraint=a&b  ", &n);
    assert_int_equal(n, 2);
    assert_string_equal(w[0], "--time=5");
    assert_string_equal(w[1], "--constraint=a&b");
    assert_null(w[2]);
    sl_free_vec(w);
}

static void count_cb(void *ud, const struct sl_qline *q)
{
    long *c = ud;
    c[0]++;
    c[1] = q->index;
}

/* Array index ranges as Slurm never prints them: one ending where strtol saturates (it once
 * stepped past LONG_MAX: fuzz_slurm), reversed, negative; and the cap on a long range. */
static void test_array_index_bounds(void **s)
{
    (void)s;
    long c[2] = {0, 0};
    assert_int_equal(sl_parse_scontrol("JobId=7 ArrayJobId=7 ArrayTaskId=9223372036854775806-"
                                       "99999999999999999999 JobState=PENDING\n", count_cb, c), 1);
    assert_int_equal(c[0], 2);
    assert_true(c[1] == LONG_MAX);
    c[0] = 0;
    sl_parse_scontrol("JobId=7 ArrayJobId=7 ArrayTaskId=9-3 JobState=PENDING\n", count_cb, c);
    assert_int_equal(c[0], 0);
    /* not an index at all: the line is read as one job's */
    sl_parse_scontrol("JobId=8 ArrayJobId=8 ArrayTaskId=-4 JobState=PENDING\n", count_cb, c);
    assert_int_equal(c[0], 1);
    assert_int_equal(c[1], -1);
    c[0] = 0;
    sl_parse_scontrol("JobId=7 ArrayJobId=7 ArrayTaskId=0-250000 JobState=PENDING\n", count_cb, c);
    assert_int_equal(c[0], 100000);
    assert_int_equal(c[1], 99999);
    c[0] = 0;
    sl_parse_scontrol("JobId=7 ArrayJobId=7 ArrayTaskId=1,3-5,9%2 JobState=PENDING\n", count_cb, c);
    assert_int_equal(c[0], 5);
    assert_int_equal(c[1], 9);
}

/* ---- submission ------------------------------------------------------------------------------ */

/* Five tasks of one step submitted together: one array job; another step: its own job. */
static void test_array_batching(void **s)
{
    (void)s;
    void *st = start_plugin("array_max", "3", "sbatch_args", "--constraint=ib --time=7");
    mf_fakehost_set("slurm", "partition", NULL);
    mf_job *j[5];
    for (int i = 0; i < 5; i++)
        j[i] = submit(st, "body", 10 + i, &res1, 90);
    mf_job *other = submit(st, "other", 20, NULL, 0);
    assert_int_equal(sbatch_calls(), 0);   /* held until wait */
    ops->wait(st, 0);
    char *a = sbatch_call(0);
    assert_non_null(strstr(a, "--parsable\n"));
    assert_non_null(strstr(a, "--job-name=FakeFlow/1/body\n"));
    assert_non_null(strstr(a, "--array=0-4%3\n"));
    assert_non_null(strstr(a, "--cpus-per-task=2\n--mem=300M\n--gres=gpu:1\n--time=3\n--no-requeue\n"));
    /* The site's options come after ours, so they win. */
    assert_true(strstr(a, "--constraint=ib\n--time=7\n") > strstr(a, "--no-requeue"));
    assert_non_null(strstr(a, "/%a.out\n"));
    assert_non_null(strstr(a, "\n90\n5\narray\n"));
    char *b = sbatch_call(1);
    assert_non_null(strstr(b, "--job-name=FakeFlow/1/other/20\n"));
    assert_null(strstr(b, "--array"));
    assert_non_null(strstr(b, "--cpus-per-task=1\n--no-requeue\n"));
    assert_non_null(strstr(b, "\n0\n5\n0\n"));
    free(a);
    free(b);
    assert_int_equal(sbatch_calls(), 2);
    /* The command as data: NUL-separated words, exactly as given. */
    char dir[PATH_MAX];
    batch_dir(0, dir, sizeof dir);
    char p[PATH_MAX + 32];
    snprintf(p, sizeof p, "%s/3.argv", dir);
    int fd = open(p, O_RDONLY);
    assert_true(fd >= 0);
    char buf[512];
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    const char want[] = "/opt/mflow/bin/mflow\0task\0FakeFlow\0body\0--task-id\0" "13\0--note\0"
                        "it's $(not) a shell";
    assert_int_equal(n, (ssize_t)sizeof want);
    assert_memory_equal(buf, want, sizeof want);
    snprintf(p, sizeof p, "%s/env", dir);
    fd = open(p, O_RDONLY);
    assert_true(fd >= 0);
    n = read(fd, buf, sizeof buf);
    close(fd);
    const char wenv[] = "MFLOW_CPUS=2\0OMP_NUM_THREADS=2\0STEP_VAR=x y";
    assert_int_equal(n, (ssize_t)sizeof wenv);
    assert_memory_equal(buf, wenv, sizeof wenv);
    /* Queued until Slurm says otherwise. */
    assert_int_equal(status_of(st, j[0]).state, MF_JOB_QUEUED);
    for (int i = 0; i < 5; i++)
        ops->release(st, j[i]);
    ops->release(st, other);
    /* Released while active: cancelled in Slurm, all in one scancel at the next flush. */
    assert_int_equal(count_lines(fpath("scancel.log")), 0);
    ops->wait(st, 0);
    char *c = slurp(fpath("scancel.log"));
    assert_string_equal(c, "100_0 100_1 100_2 100_3 100_4 101\n");
    free(c);
    desc->fini(st);
    assert_int_equal(count_lines(fpath("scancel.log")), 1);
}

/* What Slurm says a job ended as becomes mflow's status with Slurm's reason. */
static void test_states_and_reasons(void **s)
{
    (void)s;
    void *st = start_plugin(NULL, NULL, NULL, NULL);
    mf_job *j[6];
    for (int i = 0; i < 6; i++)
        j[i] = submit(st, "body", i + 1, NULL, 0);
    mf_job *single = submit(st, "solo", 9, NULL, 0);
    ops->wait(st, 0);
    /* array 100, single 101 */
    put(fpath("squeue.out"),
        "100_0|COMPLETED|0|2024-05-01T10:00:00|2024-05-01T10:00:05|None|\n"
        "100_1|FAILED|768|2024-05-01T10:00:00|2024-05-01T10:00:05|NonZeroExitCode|\n"
        "100_2|TIMEOUT|15|2024-05-01T10:00:00|2024-05-01T10:01:00|TimeLimit|\n"
        "100_3|OUT_OF_MEMORY|9|2024-05-01T10:00:00|2024-05-01T10:00:30|OutOfMemory|\n"
        "100_4|NODE_FAIL|0|2024-05-01T10:00:00|2024-05-01T10:00:30|NodeFail|\n"
        "100_5|RUNNING|0|2024-05-01T10:00:00|N/A|None|\n"
        "101|PREEMPTED|15|2024-05-01T10:00:00|2024-05-01T10:00:09|None|\n");
    struct mf_job_status r = wait_end(st, j[0], 5);
    assert_int_equal(r.state, MF_JOB_SUCCEEDED);
    assert_int_equal(r.exit_code, 0);
    r = status_of(st, j[1]);
    assert_int_equal(r.state, MF_JOB_FAILED);
    assert_int_equal(r.exit_code, 3);
    assert_non_null(strstr(r.reason, "Slurm job 100_1 FAILED"));
    assert_non_null(strstr(r.reason, "exited with code 3"));
    r = status_of(st, j[2]);
    assert_int_equal(r.state, MF_JOB_FAILED);
    assert_int_equal(r.timed_out, 1);
    assert_non_null(strstr(r.reason, "Slurm job 100_2 TIMEOUT: Slurm killed it at its time limit"));
    assert_non_null(strstr(r.reason, "reason TimeLimit"));
    r = status_of(st, j[3]);
    assert_int_equal(r.state, MF_JOB_FAILED);
    assert_int_equal(r.timed_out, 0);
    assert_non_null(strstr(r.reason, "OUT_OF_MEMORY: Slurm killed it for using more memory"));
    assert_non_null(strstr(r.reason, "signal 9"));
    r = status_of(st, j[4]);
    assert_non_null(strstr(r.reason, "NODE_FAIL: the node running it failed"));
    r = status_of(st, j[5]);
    assert_int_equal(r.state, MF_JOB_RUNNING);
    assert_true(r.start_time > 0);
    r = status_of(st, single);
    assert_int_equal(r.state, MF_JOB_FAILED);
    assert_non_null(strstr(r.reason, "Slurm job 101 PREEMPTED: a job of higher priority"));
    /* Cancelled outside mflow: a failure (the retry may run); asked by mflow: cancelled. */
    assert_int_equal(ops->cancel(st, j[5]), 0);
    ops->wait(st, 0);
    char *c = slurp(fpath("scancel.log"));
    assert_string_equal(c, "100_5\n");
    free(c);
    put(fpath("squeue.out"), "100_5|CANCELLED|15|2024-05-01T10:00:00|2024-05-01T10:00:09|None|\n");
    r = wait_end(st, j[5], 5);
    assert_int_equal(r.state, MF_JOB_CANCELLED);
    assert_non_null(strstr(r.reason, "cancelled (scancel 100_5)"));
    for (int i = 0; i < 6; i++)
        ops->release(st, j[i]);
    ops->release(st, single);
    assert_int_equal(count_lines(fpath("scancel.log")), 1);   /* ended jobs: nothing to cancel */
    desc->fini(st);
}

static void test_cancel_outside_and_lost(void **s)
{
    (void)s;
    void *st = start_plugin(NULL, NULL, NULL, NULL);
    mf_job *a = submit(st, "a", 1, NULL, 0);
    ops->wait(st, 0);
    mf_job *b = submit(st, "b", 2, NULL, 0);
    ops->wait(st, 0);
    put(fpath("squeue.out"), "100|CANCELLED|15|2024-05-01T10:00:00|2024-05-01T10:00:09|None|\n");
    struct mf_job_status r = wait_end(st, a, 5);
    assert_int_equal(r.state, MF_JOB_FAILED);
    assert_non_null(strstr(r.reason, "Slurm job 100 CANCELLED: it was cancelled outside mflow"));
    /* b (101) vanished from squeue: scontrol knows nothing, sacct is not there: lost. */
    r = wait_end(st, b, 5);
    assert_int_equal(r.state, MF_JOB_LOST);
    assert_non_null(strstr(r.reason, "Slurm no longer knows job 101"));
    assert_true(count_lines(fpath("scontrol.log")) >= 1);
    assert_int_equal(count_lines(fpath("sacct.log")), 1);
    ops->release(st, a);
    ops->release(st, b);
    /* Vanished, but scontrol still knows it (MinJobAge): its answer counts. */
    mf_job *c = submit(st, "c", 3, NULL, 0);
    ops->wait(st, 0);
    put(fpath("scontrol.out"),
        "JobId=102 JobName=x JobState=COMPLETED Reason=None ExitCode=0:0 "
        "StartTime=2024-05-01T10:00:00 EndTime=2024-05-01T10:00:05\n");
    r = wait_end(st, c, 5);
    assert_int_equal(r.state, MF_JOB_SUCCEEDED);
    ops->release(st, c);
    /* sacct is asked once, then left alone when the cluster has no accounting. */
    assert_int_equal(count_lines(fpath("sacct.log")), 1);
    desc->fini(st);
}

/* The status file the job script leaves ends a job at once (inotify), before squeue does. */
static void test_status_file_fast_path(void **s)
{
    (void)s;
    void *st = start_plugin("poll_min_ms", "2000", "poll_max_ms", "5000");
    mf_job *ok = submit(st, "body", 1, NULL, 0);
    mf_job *bad = submit(st, "body", 2, NULL, 0);
    mf_job *slow = submit(st, "body", 3, NULL, 40);
    ops->wait(st, 0);
    put(fpath("squeue.out"), "100_0|RUNNING|0|2024-05-01T10:00:00|N/A|None|\n"
                             "100_1|RUNNING|0|2024-05-01T10:00:00|N/A|None|\n"
                             "101|RUNNING|0|2024-05-01T10:00:00|N/A|None|\n");
    char dir[PATH_MAX], p[PATH_MAX + 32];
    batch_dir(0, dir, sizeof dir);
    snprintf(p, sizeof p, "%s/0.out", dir);
    put(p, "hello from the job\n");
    snprintf(p, sizeof p, "%s/0.rc", dir);
    double t0 = now_s();
    put(p, "exit 0\n");
    int w = ops->wait(st, 3000);
    double dt = now_s() - t0;
    assert_int_equal(w, 1);
    assert_true(dt < 1.0);   /* squeue would only come after 2 s */
    struct mf_job_status r = status_of(st, ok);
    assert_int_equal(r.state, MF_JOB_SUCCEEDED);
    assert_non_null(strstr(mf_fakehost_output(), "FakeFlow/1/body/1|1|hello from the job\n"));
    /* A status file not yet whole (no newline) is not taken: "exit 13" is not "exit 139". */
    snprintf(p, sizeof p, "%s/1.rc", dir);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs("exit 13", f);
    fclose(f);
    ops->wait(st, 300);
    uint32_t mid = status_of(st, bad).state;
    assert_true(mid == MF_JOB_QUEUED || mid == MF_JOB_RUNNING);
    f = fopen(p, "a");
    assert_non_null(f);
    fputs("9\n", f);
    fclose(f);
    ops->wait(st, 3000);
    r = status_of(st, bad);
    assert_int_equal(r.state, MF_JOB_FAILED);
    assert_int_equal(r.term_signal, 11);
    assert_non_null(strstr(r.reason, "killed by signal 11"));
    /* Another timeout_s: its own job (101), not an element of the array. */
    char dir2[PATH_MAX];
    batch_dir(1, dir2, sizeof dir2);
    snprintf(p, sizeof p, "%s/0.rc", dir2);
    put(p, "timeout 124\n");
    ops->wait(st, 3000);
    r = status_of(st, slow);
    assert_int_equal(r.state, MF_JOB_FAILED);
    assert_int_equal(r.timed_out, 1);
    assert_non_null(strstr(r.reason, "after 40 s"));
    /* logs serves the output file too. */
    struct mf_buf b = {.struct_size = sizeof b};
    assert_int_equal(ops->logs(st, ok, MF_STREAM_STDOUT, &b), 0);
    assert_int_equal(b.len, strlen("hello from the job\n"));
    assert_memory_equal(b.data, "hello from the job\n", b.len);
    if (b.release)
        b.release(&b);
    assert_int_equal(ops->logs(st, ok, MF_STREAM_STDERR, &b), 0);
    assert_int_equal(b.len, 0);
    ops->release(st, ok);
    ops->release(st, bad);
    ops->release(st, slow);
    /* Nothing is left of the batch's files. */
    DIR *d = opendir(logdir);
    assert_non_null(d);
    struct dirent *de;
    int left = 0;
    while ((de = readdir(d)))
        left += de->d_name[0] != '.' && strcmp(de->d_name, "mflow-job-v1.sh") != 0;
    closedir(d);
    assert_int_equal(left, 0);
    desc->fini(st);
}

/* One squeue per poll for all jobs, backing off while nothing changes; one scancel for all. */
static void test_one_query_for_all_and_backoff(void **s)
{
    (void)s;
    void *st = start_plugin("poll_min_ms", "50", "poll_max_ms", "400");
    enum { N = 200 };
    mf_job *j[N];
    for (int i = 0; i < N; i++)
        j[i] = submit(st, "body", i + 1, NULL, 0);
    ops->wait(st, 0);
    assert_int_equal(sbatch_calls(), 1);   /* 200 tasks, one sbatch */
    char *lines = malloc(N * 64);
    assert_non_null(lines);
    size_t o = 0;
    for (int i = 0; i < N; i++)
        o += (size_t)sprintf(lines + o, "100_%d|RUNNING|0|2024-05-01T10:00:00|N/A|None|\n", i);
    put(fpath("squeue.out"), lines);
    free(lines);
    double t0 = now_s();
    while (now_s() - t0 < 3.0)
        ops->wait(st, 1000);
    int q = count_lines(fpath("squeue.log"));
    /* 50 ms growing by 1.5x to 400 ms: about 11 queries in 3 s (not 60, not 3). */
    assert_true(q >= 6 && q <= 16);
    char *ql = slurp(fpath("squeue.log"));
    assert_non_null(strstr(ql, "--jobs 100 "));
    free(ql);
    for (int i = 0; i < N; i++)
        assert_int_equal(ops->cancel(st, j[i]), 0);
    ops->wait(st, 0);
    assert_int_equal(count_lines(fpath("scancel.log")), 1);
    char *c = slurp(fpath("scancel.log"));
    assert_non_null(strstr(c, "100_0 100_1 "));
    assert_non_null(strstr(c, " 100_199\n"));
    free(c);
    for (int i = 0; i < N; i++)
        ops->release(st, j[i]);
    desc->fini(st);
}

static void test_sbatch_failure(void **s)
{
    (void)s;
    void *st = start_plugin(NULL, NULL, NULL, NULL);
    put(fpath("sbatch.fail"), "sbatch: error: Batch job submission failed: Invalid account or "
                              "account/partition combination specified\n");
    mf_job *a = submit(st, "a", 1, NULL, 0);
    ops->wait(st, 0);
    struct mf_job_status r = status_of(st, a);
    assert_int_equal(r.state, MF_JOB_FAILED);
    assert_non_null(strstr(r.reason, "sbatch refused the job: sbatch: error: Batch job submission "
                                     "failed: Invalid account"));
    assert_non_null(strstr(mf_fakehost_logs(), "Invalid account"));
    ops->release(st, a);
    /* Cancelling a job that was never sent needs no scancel. */
    unlink(fpath("sbatch.fail"));
    mf_job *b = submit(st, "b", 2, NULL, 0);
    assert_int_equal(ops->cancel(st, b), 0);
    ops->wait(st, 0);
    assert_int_equal(status_of(st, b).state, MF_JOB_CANCELLED);
    assert_int_equal(count_lines(fpath("scancel.log")), 0);
    ops->release(st, b);
    desc->fini(st);
}

static void test_check(void **s)
{
    (void)s;
    void *st = start_plugin("partition", "gpu", NULL, NULL);
    put(fpath("sinfo.out"), "4|8000|(null)\n8|16000|gpu:a100:2(S:0-1)\n");
    struct mf_resources r = {sizeof r, 8, 16000, 2, 0};
    assert_int_equal(ops->check(st, "fits", &r), 0);
    char *sb = sbatch_call(0);
    assert_non_null(strstr(sb, "--test-only\n"));
    assert_non_null(strstr(sb, "--partition\ngpu\n"));
    free(sb);
    r.cpu = 9;
    assert_int_equal(ops->check(st, "big", &r), MF_EINVAL);
    assert_non_null(strstr(ops->last_error(st), "step 'big' asks for 9 CPUs but the largest node of gpu has 8"));
    r.cpu = 1;
    r.memory_mb = 20000;
    assert_int_equal(ops->check(st, "fat", &r), MF_EINVAL);
    assert_non_null(strstr(ops->last_error(st), "20000 MB"));
    r.memory_mb = 0;
    r.gpu = 3;
    assert_int_equal(ops->check(st, "gpus", &r), MF_EINVAL);
    assert_non_null(strstr(ops->last_error(st), "asks for 3 GPUs but the nodes of gpu have at most 2"));
    r.gpu = 0;
    put(fpath("testonly.fail"), "sbatch: error: Invalid qos specification\n");
    assert_int_equal(ops->check(st, "qos", &r), MF_EINVAL);
    assert_non_null(strstr(ops->last_error(st), "step 'qos' cannot run on Slurm: sbatch --test-only says: "
                                                "sbatch: error: Invalid qos specification"));
    assert_int_equal(count_lines(fpath("sinfo.log")), 1);   /* probed once */
    desc->fini(st);
    /* The cluster's MaxArraySize bounds an array: 5 tasks with MaxArraySize=3 -> 2 + 2 + 1;
     * a request already judged is not sent to sbatch --test-only again. */
    st = start_plugin(NULL, NULL, NULL, NULL);
    put(fpath("scontrol.out"), "Configuration data as of 2030-01-01T00:00:00\n"
                               "MaxArraySize            = 3\nMaxJobCount             = 10000\n");
    struct mf_resources one = {sizeof one, 1, 0, 0, 0};
    assert_int_equal(ops->check(st, "a", &one), 0);
    assert_int_equal(ops->check(st, "b", &one), 0);
    assert_int_equal(sbatch_calls(), 1);
    mf_job *j[5];
    for (int i = 0; i < 5; i++)
        j[i] = submit(st, "body", i + 1, NULL, 0);
    ops->wait(st, 0);
    assert_int_equal(sbatch_calls(), 4);
    char *c1 = sbatch_call(1), *c2 = sbatch_call(2), *c3 = sbatch_call(3);
    assert_non_null(strstr(c1, "--array=0-1\n"));
    assert_non_null(strstr(c2, "--array=0-1\n"));
    assert_null(strstr(c3, "--array"));
    free(c1);
    free(c2);
    free(c3);
    for (int i = 0; i < 5; i++)
        ops->release(st, j[i]);
    desc->fini(st);
    /* A SLURM_CONF that does not exist is named at once (Slurm would retry for a minute). */
    st = start_plugin(NULL, NULL, NULL, NULL);
    setenv("SLURM_CONF", "/nonexistent/slurm.conf", 1);
    assert_int_equal(ops->check(st, "any", &one), MF_EUNAVAIL);
    assert_non_null(strstr(ops->last_error(st), "SLURM_CONF=/nonexistent/slurm.conf: No such file"));
    unsetenv("SLURM_CONF");
    desc->fini(st);
    /* No Slurm commands at all. */
    mf_fakehost_set("slurm", "bin_dir", "/nonexistent/bin");
    void *st2 = NULL;
    assert_int_equal(desc->init(mf_fakehost(), &st2), 0);
    assert_int_equal(ops->check(st2, "any", &r), MF_EUNAVAIL);
    assert_non_null(strstr(ops->last_error(st2), "/nonexistent/bin/sinfo was not found (install the "
                                                 "Slurm client commands"));
    desc->fini(st2);
}

/* fini with jobs the host never released: they are stopped in the cluster. */
static void test_fini_cancels(void **s)
{
    (void)s;
    void *st = start_plugin(NULL, NULL, NULL, NULL);
    submit(st, "body", 1, NULL, 0);
    submit(st, "body", 2, NULL, 0);
    ops->wait(st, 0);
    desc->fini(st);
    char *c = slurp(fpath("scancel.log"));
    assert_non_null(c);
    assert_string_equal(c, "100_0 100_1\n");
    free(c);
}

static void test_bad_options(void **s)
{
    (void)s;
    mf_fakehost_reset();
    mf_fakehost_set("slurm", "log_dir", logdir);
    mf_fakehost_set("slurm", "array", "maybe");
    void *st = NULL;
    assert_int_equal(desc->init(mf_fakehost(), &st), MF_EINVAL);
    assert_non_null(strstr(mf_fakehost_logs(), "option array must be true or false, not 'maybe'"));
    mf_fakehost_reset();
    mf_fakehost_set("slurm", "log_dir", logdir);
    mf_fakehost_set("slurm", "poll_max_ms", "5");
    assert_int_equal(desc->init(mf_fakehost(), &st), MF_EINVAL);
    assert_non_null(strstr(mf_fakehost_logs(), "option poll_max_ms must be a whole number from 10"));
}

/* describe: nodes from `scontrol show node`, partitions from sinfo, as JSON. */
static char *describe_text(void *st)
{
    struct mf_buf b = {.struct_size = sizeof b};
    assert_true(MF_HAS_FIELD(ops, describe));
    int rc = ops->describe(st, &b);
    if (rc)
        fail_msg("describe: %d %s", rc, ops->last_error(st));
    char *s = strndup(b.data, b.len);
    if (b.release)
        b.release(&b);
    return s;
}

static void test_describe(void **s)
{
    (void)s;
    void *st = start_plugin(NULL, NULL, NULL, NULL);
    put(fpath("scontrol.out"),
        "NodeName=n1 Arch=x86_64 CoresPerSocket=4 CPUAlloc=0 CPUTot=8 Gres=(null) OS=Linux 6.1 #1 SMP "
        "RealMemory=16000 AllocMem=0 State=IDLE Partitions=debug,all BootTime=None\n"
        "NodeName=g1 CPUTot=32 Gres=gpu:a100:2(S:0-1),gpu:h100:1,shard:8 RealMemory=256000 "
        "State=MIXED+DRAIN Partitions=gpu,all\n");
    put(fpath("sinfo.out"), "debug*|up|infinite|1|n1\ngpu|up|1-00:00:00|1|g1\nall|down|30:00|2|n1,g1\n");
    char *d = describe_text(st);
    assert_non_null(strstr(d, "{\"kind\":\"node\",\"name\":\"n1\",\"cpus\":8,\"memory_mb\":16000,"
                              "\"gpus\":0,\"gpu_kinds\":{},\"gres\":null,\"state\":\"IDLE\","
                              "\"partitions\":[\"debug\",\"all\"]}"));
    assert_non_null(strstr(d, "{\"kind\":\"node\",\"name\":\"g1\",\"cpus\":32,\"memory_mb\":256000,"
                              "\"gpus\":3,\"gpu_kinds\":{\"a100\":2,\"h100\":1},"
                              "\"gres\":\"gpu:a100:2(S:0-1),gpu:h100:1,shard:8\",\"state\":\"MIXED+DRAIN\","
                              "\"partitions\":[\"gpu\",\"all\"]}"));
    assert_non_null(strstr(d, "{\"name\":\"debug\",\"default\":true,\"state\":\"up\","
                              "\"time_limit\":\"infinite\",\"node_count\":1,\"nodes\":\"n1\"}"));
    assert_non_null(strstr(d, "{\"name\":\"all\",\"default\":false,\"state\":\"down\""));
    assert_non_null(strstr(d, "\"source\":\"scontrol show node and sinfo ("));
    free(d);
    char *log = NULL;
    size_t n = 0;
    FILE *f = fopen(fpath("scontrol.log"), "r");
    assert_non_null(f);
    assert_true(getdelim(&log, &n, '\0', f) > 0);
    fclose(f);
    assert_non_null(strstr(log, "--oneliner show node"));
    free(log);
    desc->fini(st);
    /* With a partition option only its nodes are offers; an untyped gres counts as "gpu". */
    st = start_plugin("partition", "gpu", NULL, NULL);
    put(fpath("scontrol.out"),
        "NodeName=n1 CPUTot=8 RealMemory=16000 Gres=gpu:4 State=IDLE Partitions=debug\n"
        "NodeName=g1 CPUTot=32 RealMemory=256000 Gres=gpu:4 State=IDLE Partitions=gpu\n"
        "NodeName=g2 CPUTot=16 RealMemory=128000 Gres=gpu:2 State=DOWN Partitions=gpu2\n");
    d = describe_text(st);
    assert_null(strstr(d, "\"n1\""));
    assert_null(strstr(d, "\"g2\""));
    assert_non_null(strstr(d, "\"name\":\"g1\",\"cpus\":32,\"memory_mb\":256000,\"gpus\":4,"
                              "\"gpu_kinds\":{\"gpu\":4}"));
    assert_non_null(strstr(d, "\"partition\":\"gpu\""));
    free(d);
    /* A failing scontrol is named. */
    unlink(fpath("scontrol.out"));
    struct mf_buf b = {.struct_size = sizeof b};
    assert_int_equal(ops->describe(st, &b), MF_EUNAVAIL);
    assert_non_null(strstr(ops->last_error(st), "slurm: scontrol show node failed: slurm_load_jobs error"));
    desc->fini(st);
}

/* GPU counts too large to add saturate at INT64_MAX instead of overflowing (found by
 * fuzz_slurm): several entries of one kind, of different kinds, and untyped ones. */
static void test_describe_huge_gres(void **s)
{
    (void)s;
    void *st = start_plugin(NULL, NULL, NULL, NULL);
    put(fpath("scontrol.out"),
        "NodeName=a CPUTot=1 RealMemory=1 Gres=gpu:h100:9223372036854775807,gpu:h100:2 State=IDLE Partitions=p\n"
        "NodeName=b CPUTot=1 RealMemory=1 Gres=gpu:x:9223372036854775000,gpu:y:9223372036854775000 State=IDLE Partitions=p\n"
        "NodeName=c CPUTot=1 RealMemory=1 Gres=gpu:99999999999999999999,gpu:1,gpu:1 State=IDLE Partitions=p\n");
    put(fpath("sinfo.out"), "p|up|infinite|3|a,b,c\n");
    char *d = describe_text(st);
    assert_non_null(strstr(d, "\"name\":\"a\",\"cpus\":1,\"memory_mb\":1,\"gpus\":9223372036854775807,"
                              "\"gpu_kinds\":{\"h100\":9223372036854775807}"));
    assert_non_null(strstr(d, "\"name\":\"b\",\"cpus\":1,\"memory_mb\":1,\"gpus\":9223372036854775807,"
                              "\"gpu_kinds\":{\"x\":9223372036854775000,\"y\":9223372036854775000}"));
    assert_non_null(strstr(d, "\"name\":\"c\",\"cpus\":1,\"memory_mb\":1,\"gpus\":9223372036854775807,"
                              "\"gpu_kinds\":{\"gpu\":9223372036854775807}"));
    free(d);
    desc->fini(st);
}

/* The largest node's partition is named when no partition option narrows the search. */
static void test_check_names_partition(void **s)
{
    (void)s;
    void *st = start_plugin(NULL, NULL, NULL, NULL);
    put(fpath("sinfo.out"), "4|8000|(null)|debug\n16|64000|(null)|big\n8|128000|gpu:2|gpu\n");
    struct mf_resources r = {sizeof r, 17, 0, 0, 0};
    assert_int_equal(ops->check(st, "wide", &r), MF_EINVAL);
    assert_non_null(strstr(ops->last_error(st), "step 'wide' asks for 17 CPUs but the largest node of "
                                                "any partition has 16 (partition 'big', sinfo)"));
    r.cpu = 1;
    r.memory_mb = 200000;
    assert_int_equal(ops->check(st, "fat", &r), MF_EINVAL);
    assert_non_null(strstr(ops->last_error(st), "the largest node of any partition has 128000 MB "
                                                "(partition 'gpu', sinfo)"));
    r.memory_mb = 0;
    r.gpu = 3;
    assert_int_equal(ops->check(st, "gpus", &r), MF_EINVAL);
    assert_non_null(strstr(ops->last_error(st), "the nodes of any partition have at most 2 (partition "
                                                "'gpu', gres gpu, sinfo)"));
    assert_int_equal(sbatch_calls(), 0);
    char *args = NULL;
    size_t n = 0;
    FILE *f = fopen(fpath("sinfo.log"), "r");
    assert_non_null(f);
    assert_true(getline(&args, &n, f) > 0);
    fclose(f);
    assert_non_null(strstr(args, "--format=%c|%m|%G|%R"));
    free(args);
    desc->fini(st);
}

int main(void)
{
    const char *so = getenv("MFLOW_TEST_PLUGIN");
    if (!so || !getenv("MFLOW_TEST_SOURCE_ROOT")) {
        fprintf(stderr, "set MFLOW_TEST_PLUGIN and MFLOW_TEST_SOURCE_ROOT (run through meson test)\n");
        return 1;
    }
    snprintf(root, sizeof root, "%s/mflow-slurm-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(root))
        return 1;
    snprintf(fake, sizeof fake, "%s/fake", root);
    snprintf(logdir, sizeof logdir, "%s/logs", root);
    setenv("FAKE_SLURM_DIR", fake, 1);
    desc = mf_fakehost_load(so);
    if (!desc) {
        fprintf(stderr, "cannot load %s: %s\n", so, mf_fakehost_logs());
        return 1;
    }
    ops = desc->ops;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_squeue),
        cmocka_unit_test(test_parse_scontrol_sacct),
        cmocka_unit_test(test_array_index_bounds),
        cmocka_unit_test(test_array_batching),
        cmocka_unit_test(test_states_and_reasons),
        cmocka_unit_test(test_cancel_outside_and_lost),
        cmocka_unit_test(test_status_file_fast_path),
        cmocka_unit_test(test_one_query_for_all_and_backoff),
        cmocka_unit_test(test_sbatch_failure),
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_describe),
        cmocka_unit_test(test_describe_huge_gres),
        cmocka_unit_test(test_check_names_partition),
        cmocka_unit_test(test_fini_cancels),
        cmocka_unit_test(test_bad_options),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    nftw(root, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    return rc;
}
