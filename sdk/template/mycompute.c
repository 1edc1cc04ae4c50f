/*
 * mflow_compute_pool — a compute plugin that runs each task as a child process of the host
 * on a machine of a declared size, and says so through the 1.2 describe operation.
 *
 * The compute half of the template (myplugin.c is the storage half). What it shows:
 *
 *  - The compute operations table: submit, poll, wait, logs, cancel, release, last_error,
 *    every one of them set; check left NULL.
 *  - describe (ABI 1.2): what the backend offers as one JSON document, built by the plugin
 *    and handed over in an mf_buf with its own release. `mflow resources --compute=pool`
 *    prints it, and the host refuses before a run a step whose resources fit none of the
 *    offers. The document's members are documented in <mflow/plugin.h>; a plugin adds what
 *    it likes beside them (the host shows it in --json).
 *  - A table built against an SDK with describe still loads in an older host (it reads only
 *    the fields inside the size it knows), and a plugin built before 1.2 loads in this host
 *    with no description.
 *
 * It enforces nothing (no binding, no memory limit): its figures are the options cpus and
 * memory_mb. Build: make (see README.md).
 */
#define _GNU_SOURCE   /* asprintf */
#include <mflow/plugin.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PLUGIN_NAME "pool"
#define PLUGIN_VERSION "1.0.0"

struct mf_job {
    pid_t pid;
    int done, wstatus, cancelled, timed_out;
    double start, end;
    double deadline;             /* when timeout_s runs out; 0 = none */
};

struct pool {
    const struct mf_host_api *host;
    long cpus;
    long long memory_mb;
    char error[512];
};

static const struct mf_option_def options[] = {
    {
        .struct_size = sizeof(struct mf_option_def),
        .type = MF_OPT_INT,
        .name = "cpus",
        .env = "MFLOW_POOL_CPUS",
        .default_value = NULL,
        .help = "CPUs the pool offers (default: this machine's online CPUs)",
    },
    {
        .struct_size = sizeof(struct mf_option_def),
        .type = MF_OPT_INT,
        .name = "memory_mb",
        .env = "MFLOW_POOL_MEMORY_MB",
        .default_value = NULL,
        .help = "memory the pool offers in MB (default: this machine's)",
    },
};

static const char *setting(const struct mf_host_api *host, const char *key)
{
    if (!MF_HAS_FIELD(host, config_get) || !host->config_get)
        return NULL;
    return host->config_get(PLUGIN_NAME, key);
}

static int fail(struct pool *p, int rc, const char *msg)
{
    snprintf(p->error, sizeof p->error, "%s", msg);
    return rc;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A log file, its directories created. -1 when it cannot be opened. */
static int open_log(const char *path)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    for (char *s = dir + 1; (s = strchr(s, '/')); s++) {
        *s = '\0';
        mkdir(dir, 0755);
        *s = '/';
    }
    return open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
}

static int pool_submit(void *state, const struct mf_job_spec *spec, mf_job **out)
{
    struct pool *p = state;
    mf_job *j = calloc(1, sizeof *j);
    if (!j)
        return fail(p, MF_ENOMEM, "pool: out of memory");
    int o = spec->stdout_path ? open_log(spec->stdout_path) : -1;
    int e = spec->stderr_path ? open_log(spec->stderr_path) : -1;
    pid_t pid = fork();
    if (pid == 0) {
        /* The child: its own process group, its logs, its directory and environment. */
        setpgid(0, 0);
        if (o >= 0)
            dup2(o, 1);
        if (e >= 0)
            dup2(e, 2);
        if (spec->workdir && chdir(spec->workdir) != 0)
            _exit(127);
        for (const char *const *kv = spec->env; kv && *kv; kv++)
            putenv((char *)*kv);
        execvp(spec->argv[0], (char *const *)spec->argv);
        dprintf(2, "pool: cannot run %s: %s\n", spec->argv[0], strerror(errno));
        _exit(127);
    }
    int err = errno;
    /* In the parent too: a cancel right after submit must reach the child's group even
     * before the child ran its own setpgid. */
    if (pid > 0)
        setpgid(pid, pid);
    if (o >= 0)
        close(o);
    if (e >= 0)
        close(e);
    if (pid < 0) {
        free(j);
        snprintf(p->error, sizeof p->error, "pool: job %s: fork: %s", spec->pathspec, strerror(err));
        return err;
    }
    j->pid = pid;
    j->start = now();
    j->deadline = spec->timeout_s ? j->start + spec->timeout_s : 0;
    *out = j;
    return 0;
}

static void reap(mf_job *j)
{
    /* The backend enforces timeout_s: past it the job's whole group is killed. */
    if (!j->done && j->deadline > 0 && !j->timed_out && now() >= j->deadline) {
        j->timed_out = 1;
        kill(-j->pid, SIGKILL);
    }
    if (!j->done && waitpid(j->pid, &j->wstatus, WNOHANG) == j->pid) {
        j->done = 1;
        j->end = now();
    }
}

static int pool_poll(void *state, mf_job *const *jobs, size_t n, struct mf_job_status *st)
{
    (void)state;
    for (size_t i = 0; i < n; i++) {
        mf_job *j = jobs[i];
        reap(j);
        struct mf_job_status s = {.struct_size = sizeof s, .exit_code = -1, .start_time = j->start,
                                  .end_time = j->end, .timed_out = (uint32_t)j->timed_out};
        if (!j->done) {
            s.state = MF_JOB_RUNNING;
        } else if (WIFEXITED(j->wstatus)) {
            s.exit_code = WEXITSTATUS(j->wstatus);
            s.state = s.exit_code == 0 ? MF_JOB_SUCCEEDED : MF_JOB_FAILED;
        } else {
            s.term_signal = WTERMSIG(j->wstatus);
            s.state = j->cancelled ? MF_JOB_CANCELLED : MF_JOB_FAILED;
        }
        /* Copy only what the host's struct holds. */
        size_t size = st[i].struct_size && st[i].struct_size < sizeof s ? st[i].struct_size : sizeof s;
        memcpy(&st[i], &s, size);
        st[i].struct_size = (uint32_t)size;
    }
    return 0;
}

static int pool_wait(void *state, int timeout_ms)
{
    (void)state;
    /* A real backend waits on its events; a short sleep keeps the template small. */
    poll(NULL, 0, timeout_ms < 5 ? timeout_ms : 5);
    return 1;
}

static int pool_logs(void *state, mf_job *job, int stream, struct mf_buf *out)
{
    (void)job;
    (void)stream;
    (void)out;
    return fail(state, MF_ENOTSUP, "pool: logs are the files the host named");
}

static int pool_cancel(void *state, mf_job *job)
{
    (void)state;
    reap(job);
    if (!job->done) {
        job->cancelled = 1;
        kill(-job->pid, SIGTERM);
    }
    return 0;
}

static void pool_release(void *state, mf_job *job)
{
    (void)state;
    reap(job);
    if (!job->done) {
        kill(-job->pid, SIGKILL);
        while (waitpid(job->pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    free(job);
}

static const char *pool_last_error(void *state)
{
    struct pool *p = state;
    return p && p->error[0] ? p->error : "pool: no error";
}

static void free_text(struct mf_buf *b)
{
    free(b->data);
    b->data = NULL;
}

/* What the pool offers: one machine of the declared size. */
static int pool_describe(void *state, struct mf_buf *out)
{
    struct pool *p = state;
    char host[256] = "pool";
    gethostname(host, sizeof host - 1);
    char *doc = NULL;
    /* Names that need JSON escaping are not expected from gethostname. */
    int n = asprintf(&doc,
                     "{\"source\": \"the pool plugin's options cpus and memory_mb\","
                     " \"offers\": [{\"kind\": \"machine\", \"name\": \"%s\", \"cpus\": %ld,"
                     " \"memory_mb\": %lld, \"gpus\": 0, \"state\": \"up\"}],"
                     " \"enforced\": {\"cpu\": \"counted by the host, not bound\","
                     " \"memory\": \"not enforced\"}}",
                     host, p->cpus, p->memory_mb);
    if (n < 0)
        return fail(p, MF_ENOMEM, "pool: out of memory");
    out->data = doc;
    out->len = (size_t)n;
    out->release = free_text;
    return 0;
}

static int pool_init(const struct mf_host_api *host, void **state)
{
    struct pool *p = calloc(1, sizeof *p);
    if (!p)
        return MF_ENOMEM;
    p->host = host;
    const char *c = setting(host, "cpus"), *m = setting(host, "memory_mb");
    long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
    p->cpus = c ? strtol(c, NULL, 10) : sysconf(_SC_NPROCESSORS_ONLN);
    p->memory_mb = m ? strtoll(m, NULL, 10) : (long long)pages * psize / (1024 * 1024);
    if (p->cpus < 1 || p->memory_mb < 1) {
        if (MF_HAS_FIELD(host, log) && host->log)
            host->log(MF_LOG_ERROR, PLUGIN_NAME, "cpus and memory_mb must be positive (MFLOW_POOL_CPUS, MFLOW_POOL_MEMORY_MB)");
        free(p);
        return MF_EINVAL;
    }
    *state = p;
    return 0;
}

static void pool_fini(void *state)
{
    free(state);
}

static const struct mf_compute_ops ops = {
    .struct_size = sizeof(struct mf_compute_ops),
    .caps = 0,
    .submit = pool_submit,
    .submit_batch = NULL,      /* the host calls submit once a job */
    .poll = pool_poll,
    .wait = pool_wait,
    .logs = pool_logs,
    .cancel = pool_cancel,
    .release = pool_release,
    .last_error = pool_last_error,
    .check = NULL,             /* admission is by the description */
    .describe = pool_describe, /* 1.2 */
};

static const struct mf_plugin_desc desc = {
    .struct_size = sizeof(struct mf_plugin_desc),
    .abi_major = MF_PLUGIN_ABI_MAJOR,
    .abi_minor = MF_PLUGIN_ABI_MINOR,
    .kind = MF_PLUGIN_COMPUTE,
    .name = PLUGIN_NAME,
    .version = PLUGIN_VERSION,
    .description = "runs each task as a child process on a pool of a declared size",
    .options = options,
    .n_options = sizeof options / sizeof options[0],
    .init = pool_init,
    .fini = pool_fini,
    .ops = &ops,
};

MF_PLUGIN_EXPORT const struct mf_plugin_desc *mf_plugin_entry_v1(const struct mf_host_api *host)
{
    if (!host || host->abi_major != MF_PLUGIN_ABI_MAJOR)
        return NULL;
    return &desc;
}
