/* The local compute plugin: every job is a child process of the host, in its own process
 * group, with stdout and stderr read through pipes, forwarded live to the host and appended
 * to the job's log files. Jobs are admitted when their resources fit in what is free, bound
 * to their own cores and GPUs (placement.c, over the hwloc topology loaded once at init) and
 * held to their memory (memlimit.c). Not thread-safe: one instance is driven by one thread
 * (the core's event loop). See README.md for options and behaviour. */
#include "local_int.h"
#include "memlimit.h"
#include "placement.h"

#include <mflow/plugin.h>
#include <mflow/plugin_util.h>

#include <hwloc/glibc-sched.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PLUGIN_NAME "local"
#define DEFAULT_KILL_GRACE "2"
#define MAX_KILL_GRACE_S 3600.0
/* After the last signal (or after the task's own process exited with the group already
 * empty), how long to keep reading pipes still held open by a process that escaped the
 * group before giving up on them. */
#define CLOSE_LINGER_S 0.5
#define READ_CHUNK 65536
/* Per stream and per poll round, so that one chatty job cannot starve the others. */
#define READ_CAP_PER_ROUND (4 * READ_CHUNK)
/* How often to look for exits of children we have no pidfd for. */
#define SIGCHLD_TICK_MS 1000
#define NOPIDFD_TICK_MS 100
/* A queued job that does not fit lets later jobs that fit start ahead of it (backfill), but
 * only this many: then nothing more starts until it has, so a big task is never starved by
 * a stream of small ones. */
#define QUEUE_MAX_BYPASS 16
/* Jobs sent to the task server whose answers are not read yet, at most (see take_replies). */
#define AWAIT_MAX 16
/* Thread-count variables set to the task's CPU count unless the step's env sets them. */
static const char *const thread_vars[] = {
    "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS",
};
#define N_THREAD_VARS (sizeof thread_vars / sizeof thread_vars[0])

enum notify_mode {
    NOTIFY_PIDFD = 1,     /* one pidfd per child, in the poll set */
    NOTIFY_SIGCHLD = 2,   /* SIGCHLD handler writing to a self-pipe */
};

enum { STREAMS = 3 };      /* indexed by MF_STREAM_STDOUT (1) and MF_STREAM_STDERR (2) */

struct local {
    const struct mf_host_api *host;
    double grace_s;
    int notify;
    int devnull;
    char *buf;                       /* READ_CHUNK bytes */
    struct mf_job *jobs;             /* every handle not yet released */
    size_t njobs;
    /* Resources */
    struct placement *place;         /* the machine model, from hwloc at init */
    int bind;                        /* bind jobs to their CPUs (this machine's topology) */
    int has_cuda;                    /* some GPU is selected with CUDA_VISIBLE_DEVICES */
    cpu_set_t *cpuset;               /* scratch for binding, cpuset_size bytes */
    size_t cpuset_size;
    struct memlimit mem;
    int mem_strict;                  /* memory_limit=cgroup */
    int mem_announced;               /* the mechanism in force was logged once */
    struct mf_job *qhead, *qtail;    /* jobs waiting for resources, in submission order */
    int admit_dirty;                 /* something was freed or queued since the last admit */
    struct memlimit_job *stale;      /* job cgroups to remove once their processes are gone */
    size_t nstale, stale_cap;
    struct pollfd *pfd;              /* poll set, grown on demand */
    struct slot *slot;               /* what each pfd entry belongs to */
    size_t cap;
    pid_t *orphans;                  /* killed at release, not reaped yet */
    size_t norphans, orphans_cap;
    /* The task server: jobs whose argv[0] is this very executable (an `mflow task ...` of
     * the host itself) are forked by a preloaded mflow instead of exec'ed (task_server.c). */
    int use_server;                  /* option task_server: off (0), auto (1), on (2) */
    struct local_server *srv;        /* started on the first such job */
    char *self_exe;                  /* realpath of /proc/self/exe */
    char *exe_seen;                  /* the last argv[0] compared with it, */
    int exe_seen_is_self;            /* and the answer */
    int ended_elsewhere;             /* jobs ended outside wait (the server died in a submit) */
    struct mf_job *await_head, *await_tail;   /* sent to the server, its answer not read yet */
    size_t n_await;
    char err[1024];
};

enum slot_kind { SLOT_PIDFD = 0, SLOT_STDOUT = MF_STREAM_STDOUT, SLOT_STDERR = MF_STREAM_STDERR, SLOT_SIGCHLD = 3,
                 SLOT_SERVER = 4 };

struct slot {
    struct mf_job *job;
    int kind;
};

struct mf_job {
    struct local *lc;
    struct mf_job *prev, *next;
    char *name;                  /* the pathspec, or argv[0]: for output and messages */
    char *path[STREAMS];         /* log files, NULL when the stream is not kept */
    int pipe[STREAMS];           /* read ends, -1 once at EOF */
    int log[STREAMS];            /* log file fds, -1 when none or closed */
    int log_failed[STREAMS];
    pid_t pid;                   /* also the process group id */
    int via_server;              /* forked by the task server: not our child, never waitpid'ed */
    int awaiting;                /* the server's answer (its pid) not read yet: pid is 0 */
    struct mf_job *await_next;
    int pidfd;                   /* -1 without one */
    int reaped;                  /* the task's process has been waited for */
    int wstatus;
    int lost;                    /* its exit status could not be had */
    int done;                    /* reaped and both pipes drained to EOF (or given up) */
    int cancelled, timed_out;
    int term_sent, kill_sent;
    uint32_t timeout_s;
    double timeout_at, kill_at, close_at;   /* monotonic seconds, 0 = not set */
    double start_time, end_time;            /* unix seconds */
    /* Admission */
    int queued;                  /* waiting for resources: nothing of it runs yet */
    struct mf_job *qprev, *qnext;
    unsigned bypassed;           /* later jobs started while it waited */
    int start_rc;                /* could not be started from the queue: the error, */
    char *start_error;           /* and its message */
    struct place_req req;
    struct place_grant grant;    /* its cores and GPUs while it runs; empty otherwise */
    struct memlimit_job mem;     /* its memory cgroup (or limit) */
    int oom;                     /* the kernel's OOM killer acted in its cgroup */
    uint64_t peak_mb;
    /* What a deferred start needs (the host's spec lives only during submit). */
    char **argv, **env;
    char *workdir;
};

/* ------------------------------------------------------------------------------------------ */

/* The SDK's plugin helpers (<mflow/plugin_util.h>) under this file's short names. */
#define mono_now mf_plugin_mono_now
#define wall_now mf_plugin_wall_now
#define fail(lc, rc, ...)                                                                      \
    mf_plugin_fail((lc) ? (lc)->err : NULL, sizeof (lc)->err, (rc), __VA_ARGS__)
#define LOG(lc, level, ...) MF_PLUGIN_LOG((lc)->host, PLUGIN_NAME, (level), __VA_ARGS__)

static const char *stream_name(int stream)
{
    return stream == MF_STREAM_STDOUT ? "stdout" : "stderr";
}

static void take_replies(struct local *lc, struct mf_job *until);

/* ------------------------------------------------------------------------------------------ */
/* Killing: SIGTERM to the whole group, SIGKILL after the grace period. */

/* Some process is still in the job's group. Only asked after the leader was reaped; the
 * group id cannot be reused while a member lives, and pids are handed out cyclically, so
 * the window for a stranger to take it over is negligible. */
static int group_alive(const struct mf_job *j)
{
    return kill(-j->pid, 0) == 0 || errno == EPERM;
}

static void send_kill(struct mf_job *j, double now)
{
    if (j->awaiting)
        take_replies(j->lc, j);
    if (j->pid <= 0)
        return;   /* the server could not start it: it has ended */
    if (!j->reaped || group_alive(j))
        kill(-j->pid, SIGKILL);
    j->kill_sent = 1;
    if (j->reaped && !j->done)
        j->close_at = now + CLOSE_LINGER_S;
}

static void start_kill(struct mf_job *j, double now)
{
    if (j->awaiting)
        take_replies(j->lc, j);
    if (j->term_sent || j->pid <= 0)
        return;
    j->term_sent = 1;
    kill(-j->pid, SIGTERM);
    kill(-j->pid, SIGCONT);   /* a stopped process would otherwise sit on the SIGTERM */
    if (j->lc->grace_s <= 0)
        send_kill(j, now);
    else
        j->kill_at = now + j->lc->grace_s;
}

/* ------------------------------------------------------------------------------------------ */
/* Output */

static void close_stream(struct mf_job *j, int s)
{
    if (j->pipe[s] >= 0) {
        close(j->pipe[s]);
        j->pipe[s] = -1;
    }
    if (j->log[s] >= 0) {
        close(j->log[s]);
        j->log[s] = -1;
    }
}

static void keep_output(struct mf_job *j, int s, const char *data, size_t len)
{
    struct local *lc = j->lc;
    if (MF_HAS_FIELD(lc->host, task_output) && lc->host->task_output)
        lc->host->task_output(j->name, s, data, len);
    if (j->log[s] < 0 || j->log_failed[s])
        return;
    while (len) {
        ssize_t w = write(j->log[s], data, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            j->log_failed[s] = 1;
            LOG(lc, MF_LOG_WARN, "job %s: writing its %s log '%s' failed: %s; the rest of that log is lost (free space or fix permissions there)",
                j->name, stream_name(s), j->path[s], w < 0 ? strerror(errno) : "nothing written");
            return;
        }
        data += w;
        len -= (size_t)w;
    }
}

/* Read once from a stream that poll found readable (its read end blocks: O_NONBLOCK on each
 * of the two cost a trivial task two fcntl calls, and one read after POLLIN or POLLHUP never
 * blocks). More waits for the next round, so that one chatty job cannot starve the others.
 * Closes it at EOF or on a read error. Returns 1 when it closed. */
static int read_stream(struct mf_job *j, int s)
{
    ssize_t r;
    do
        r = read(j->pipe[s], j->lc->buf, READ_CHUNK);
    while (r < 0 && errno == EINTR);
    if (r > 0) {
        keep_output(j, s, j->lc->buf, (size_t)r);
        return 0;
    }
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return 0;
    if (r < 0)
        LOG(j->lc, MF_LOG_WARN, "job %s: reading its %s: %s", j->name, stream_name(s), strerror(errno));
    close_stream(j, s);
    return 1;
}

/* The stream's remaining output when no poll said so: what is there now, never waiting. */
static void drain_stream(struct mf_job *j, int s)
{
    for (size_t got = 0; j->pipe[s] >= 0 && got < READ_CAP_PER_ROUND; got += READ_CHUNK) {
        struct pollfd p = {.fd = j->pipe[s], .events = POLLIN};
        if (poll(&p, 1, 0) != 1 || read_stream(j, s))
            return;
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Job lifecycle */

static int pipes_open(const struct mf_job *j)
{
    return j->pipe[MF_STREAM_STDOUT] >= 0 || j->pipe[MF_STREAM_STDERR] >= 0;
}

/* Remember a job cgroup that still holds processes, to remove it later. */
static void keep_stale(struct local *lc, const struct memlimit_job *m)
{
    if (lc->nstale == lc->stale_cap) {
        size_t cap = lc->stale_cap ? lc->stale_cap * 2 : 8;
        struct memlimit_job *grown = realloc(lc->stale, cap * sizeof *grown);
        if (!grown) {
            LOG(lc, MF_LOG_WARN, "out of memory: the memory cgroup %s is left behind (remove it with rmdir)", m->path);
            return;
        }
        lc->stale = grown;
        lc->stale_cap = cap;
    }
    lc->stale[lc->nstale++] = *m;
}

static void remove_stale(struct local *lc)
{
    for (size_t i = 0; i < lc->nstale;) {
        if (memlimit_job_remove(&lc->stale[i]) == EBUSY) {
            i++;
            continue;
        }
        lc->stale[i] = lc->stale[--lc->nstale];
    }
}

/* The job no longer uses its resources: read what its memory cgroup saw, remove the cgroup,
 * give its cores and GPUs back. Idempotent. */
static void free_resources(struct mf_job *j)
{
    struct local *lc = j->lc;
    if (j->mem.path[0]) {
        if (j->reaped && !j->lost)
            j->oom = memlimit_job_oom(&j->mem, &j->peak_mb) == 1;
        if (memlimit_job_remove(&j->mem) == EBUSY) {
            keep_stale(lc, &j->mem);
            j->mem.path[0] = '\0';
        }
    } else if (j->mem.procs_fd >= 0) {
        memlimit_job_remove(&j->mem);
    }
    if (j->grant.cpu) {
        placement_release(lc->place, &j->grant);
        lc->admit_dirty = 1;
    }
}

/* Ends the job once its process is reaped and its output drained. 1 when it ended now. */
static int maybe_done(struct mf_job *j)
{
    if (j->done || !j->reaped || pipes_open(j))
        return 0;
    for (int s = 1; s < STREAMS; s++)
        close_stream(j, s);
    j->done = 1;
    free_resources(j);
    return 1;
}

/* The task's own process ended (status in j->wstatus, or j->lost). What it wrote before
 * exiting is in its pipes, which the poll set still holds: they are read as poll reports
 * them, in this round when they are ready (the exit is noticed in the same round as the
 * pipes' hang-up, or after it), and the job is done at their end. */
static int on_reaped(struct mf_job *j, double now)
{
    j->reaped = 1;
    j->end_time = wall_now();
    if (j->pidfd >= 0) {
        close(j->pidfd);
        j->pidfd = -1;
    }
    if (!j->term_sent && group_alive(j)) {
        /* It left processes behind in its group: a task does not outlive its process. */
        LOG(j->lc, MF_LOG_DEBUG, "job %s: its process exited and left others in its process group; stopping them",
            j->name);
        start_kill(j, now);
    }
    if (pipes_open(j) && (!j->term_sent || j->kill_sent))
        j->close_at = now + CLOSE_LINGER_S;
    return maybe_done(j);
}

/* waitpid for this job only (never anyone else's child). 1 when the job ended now. */
static int try_reap(struct mf_job *j, double now)
{
    if (j->reaped)
        return 0;
    int st;
    pid_t r;
    do
        r = waitpid(j->pid, &st, WNOHANG);
    while (r < 0 && errno == EINTR);
    if (r == 0)
        return 0;
    if (r < 0) {
        /* ECHILD: someone else reaped it (the host ignores SIGCHLD, or waited for any child). */
        j->lost = 1;
        LOG(j->lc, MF_LOG_WARN, "job %s: its exit status is gone (%s); was SIGCHLD ignored, or another part of the process waiting for any child?",
            j->name, strerror(errno));
    } else {
        j->wstatus = st;
    }
    return on_reaped(j, now);
}

/* Timeouts, SIGKILL escalation, giving up on pipes. Returns how many jobs ended. Sets *next to
 * the earliest pending deadline (unchanged when none is sooner). */
static int service_deadlines(struct local *lc, double now, double *next)
{
    int ended = 0;
    for (struct mf_job *j = lc->jobs; j; j = j->next) {
        if (!j->reaped && j->timeout_at > 0 && !j->term_sent) {
            if (now >= j->timeout_at) {
                j->timed_out = 1;
                LOG(lc, MF_LOG_INFO, "job %s: timed out after %u s; stopping it", j->name, j->timeout_s);
                start_kill(j, now);
            } else if (j->timeout_at < *next) {
                *next = j->timeout_at;
            }
        }
        if (j->term_sent && !j->kill_sent) {
            if (now >= j->kill_at)
                send_kill(j, now);
            else if (j->kill_at < *next)
                *next = j->kill_at;
        }
        if (j->reaped && !j->done && j->close_at > 0) {
            if (now >= j->close_at) {
                for (int s = 1; s < STREAMS; s++) {
                    if (j->pipe[s] >= 0) {
                        drain_stream(j, s);
                        if (j->pipe[s] >= 0) {
                            LOG(lc, MF_LOG_WARN, "job %s: a process outside its group still holds its %s; no longer reading it",
                                j->name, stream_name(s));
                            close_stream(j, s);
                        }
                    }
                }
                ended += maybe_done(j);
            } else if (j->close_at < *next) {
                *next = j->close_at;
            }
        }
    }
    return ended;
}

static void reap_orphans(struct local *lc)
{
    for (size_t i = 0; i < lc->norphans;) {
        pid_t r = waitpid(lc->orphans[i], NULL, WNOHANG);
        if (r == 0 || (r < 0 && errno == EINTR)) {
            i++;
            continue;
        }
        lc->orphans[i] = lc->orphans[--lc->norphans];
    }
}

static int grow_poll_set(struct local *lc, size_t need)
{
    if (need <= lc->cap)
        return 0;
    size_t cap = lc->cap ? lc->cap : 64;
    while (cap < need)
        cap *= 2;
    struct pollfd *pfd = realloc(lc->pfd, cap * sizeof *pfd);
    if (!pfd)
        return MF_ENOMEM;
    lc->pfd = pfd;
    struct slot *slot = realloc(lc->slot, cap * sizeof *slot);
    if (!slot)
        return MF_ENOMEM;
    lc->slot = slot;
    lc->cap = cap;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Operations */

/* ------------------------------------------------------------------------------------------ */
/* Admission and start */

static void queue_remove(struct local *lc, struct mf_job *j)
{
    if (!j->queued)
        return;
    if (j->qprev)
        j->qprev->qnext = j->qnext;
    else
        lc->qhead = j->qnext;
    if (j->qnext)
        j->qnext->qprev = j->qprev;
    else
        lc->qtail = j->qprev;
    j->qprev = j->qnext = NULL;
    j->queued = 0;
}

static void free_job(struct mf_job *j)
{
    for (int s = 1; s < STREAMS; s++) {
        close_stream(j, s);
        free(j->path[s]);
    }
    if (j->argv)
        for (size_t i = 0; j->argv[i]; i++)
            free(j->argv[i]);
    if (j->env)
        for (size_t i = 0; j->env[i]; i++)
            free(j->env[i]);
    free(j->argv);
    free(j->env);
    free(j->workdir);
    free(j->start_error);
    free(j->name);
    free(j);
}

/* A NULL-terminated copy of v (NULL stays NULL). 0 or MF_ENOMEM. */
static int copy_strv(const char *const *v, char ***out)
{
    *out = NULL;
    if (!v)
        return 0;
    size_t n = 0;
    while (v[n])
        n++;
    char **c = calloc(n + 1, sizeof *c);
    if (!c)
        return MF_ENOMEM;
    for (size_t i = 0; i < n; i++)
        if (!(c[i] = strdup(v[i]))) {
            while (i--)
                free(c[i]);
            free(c);
            return MF_ENOMEM;
        }
    *out = c;
    return 0;
}

/* Log once which mechanism holds jobs to their memory_mb (a warning when it is the
 * resource-limit fallback). */
static void announce_memory(struct local *lc)
{
    if (lc->mem_announced)
        return;
    lc->mem_announced = 1;
    char how[1024];
    memlimit_describe(&lc->mem, how, sizeof how);
    if (lc->mem.mech == MEMLIMIT_RLIMIT)
        LOG(lc, MF_LOG_WARN, "memory limits (resources.memory_mb) are enforced with %s; a task's processes together may use more (run mflow where it may create memory cgroups, as root with cgroup v1 or in a delegated cgroup v2, for a limit on the whole task)",
            how);
    else if (lc->mem.mech == MEMLIMIT_NONE)
        LOG(lc, MF_LOG_WARN, "memory limits (resources.memory_mb) are %s: tasks may use more than they ask for", how);
    else
        LOG(lc, MF_LOG_DEBUG, "memory limits (resources.memory_mb) are enforced with the %s", how);
}

/* The job's memory limit, set up before it starts. 0 or an error (message in lc->err). */
static int setup_memory(struct local *lc, struct mf_job *j)
{
    j->mem.procs_fd = -1;
    j->mem.path[0] = '\0';
    j->mem.mech = MEMLIMIT_NONE;
    if (!j->req.memory_mb || lc->mem.mech == MEMLIMIT_NONE)
        return 0;
    char msg[1024];
    if (memlimit_prepare(&lc->mem, lc->mem_strict, msg, sizeof msg) != 0) {
        announce_memory(lc);
        return fail(lc, MF_EUNAVAIL, "job %s: %s", j->name, msg);
    }
    announce_memory(lc);
    int rc = memlimit_job_create(&lc->mem, j->req.memory_mb, &j->mem, msg, sizeof msg);
    if (rc == 0)
        return 0;
    if (lc->mem_strict)
        return fail(lc, rc, "job %s: %s (option memory_limit=cgroup)", j->name, msg);
    /* Cgroups stopped working (permissions changed, a limit on their number): fall back for
     * this and every later job, and say so once. */
    snprintf(lc->mem.why, sizeof lc->mem.why, "%.700s", msg);
    lc->mem.mech = MEMLIMIT_RLIMIT;
    lc->mem_announced = 0;
    announce_memory(lc);
    return memlimit_job_create(&lc->mem, j->req.memory_mb, &j->mem, msg, sizeof msg);
}

/* argv[0] is this process's own executable (compared by real path; the last answer kept,
 * since every job of a run has the same argv[0]). */
static int is_self(struct local *lc, const char *argv0)
{
    if (!lc->self_exe || !argv0)
        return 0;
    if (lc->exe_seen && !strcmp(lc->exe_seen, argv0))
        return lc->exe_seen_is_self;
    char *real = realpath(argv0, NULL);
    free(lc->exe_seen);
    lc->exe_seen = strdup(argv0);
    lc->exe_seen_is_self = real && !strcmp(real, lc->self_exe);
    free(real);
    return lc->exe_seen_is_self;
}

/* A task of a flow written in Python (`mflow ... task FLOW.py ...`): the task server turns
 * into Python's own on its first such request, so the run's first task waits for the server
 * rather than exec'ing a python3 of its own (a second cold python3 start, paid by the run). */
static int is_py_task(const char *const *argv)
{
    for (size_t i = 1; argv[i]; i++) {
        if (strcmp(argv[i], "task") != 0)
            continue;
        const char *f = argv[i + 1];
        size_t n = f ? strlen(f) : 0;
        return n > 3 && !strcmp(f + n - 3, ".py");
    }
    return 0;
}

struct server_exit_ctx {
    struct local *lc;
    double now;
    int ended;
};

static int next_reply(struct local *lc, int wait, pid_t *pid, char *msg, size_t n, int *ended);

static struct mf_job *server_job(struct local *lc, pid_t pid)
{
    for (struct mf_job *j = lc->jobs; j; j = j->next)
        if (j->via_server && j->pid == pid && !j->reaped)
            return j;
    return NULL;
}

static void on_server_exit(void *ud, pid_t pid, int wstatus)
{
    struct server_exit_ctx *c = ud;
    struct mf_job *j = pid > 0 ? server_job(c->lc, pid) : NULL;
    if (!j && c->lc->await_head) {
        /* Its answer is not read yet: answers are read when an exit needs one, here, up to
         * this child's (the server sends the answer before the exit, so it is there, and no
         * read is answered EAGAIN). Reading them all before the events, as before, left an
         * answer that came between the two reads unread while its exit was read and dropped:
         * the job never ended (a run hung so under strace). For pid -1, up to the failed
         * answer it follows, which ends its job. */
        while (c->lc->await_head) {
            pid_t p = 0;
            char msg[512];
            int r = next_reply(c->lc, 0, &p, msg, sizeof msg, &c->ended);
            if (r == 0 || r == -EPIPE || (r > 0 ? p == pid : pid <= 0))
                break;   /* -EPIPE: server_events finds the server gone on its own socket */
        }
        j = pid > 0 ? server_job(c->lc, pid) : NULL;
    }
    if (j) {
        j->wstatus = wstatus;
        c->ended += on_reaped(j, c->now);
    }
    /* Else a job released before it exited: nothing waits for it. */
}

/* A job the server was asked to start that it did not (its fork failed, or it exited before
 * it answered): it ends now, FAILED as one that could not start, with why. */
static void start_failed(struct mf_job *j, const char *why)
{
    j->pid = -1;
    j->via_server = 0;
    free(j->start_error);
    j->start_error = strdup(why);
    j->reaped = j->done = 1;
    j->end_time = wall_now();
    for (int s = 1; s < STREAMS; s++)
        close_stream(j, s);
    free_resources(j);
}

static struct mf_job *await_pop(struct local *lc)
{
    struct mf_job *j = lc->await_head;
    lc->await_head = j->await_next;
    if (!lc->await_head)
        lc->await_tail = NULL;
    j->await_next = NULL;
    j->awaiting = 0;
    lc->n_await--;
    return j;
}

/* The answer the oldest awaiting job got (r from local_server_reply, not 0): its pid, or it
 * could not start. Returns 1 when it ended. */
static int take_reply(struct local *lc, int r, pid_t pid, const char *msg)
{
    struct mf_job *j = await_pop(lc);
    if (r > 0) {
        j->pid = pid;
        LOG(lc, MF_LOG_DEBUG, "job %s: started as pid %d by the task server", j->name, (int)pid);
        return 0;
    }
    start_failed(j, msg);
    return 1;
}

/* The oldest awaiting job's answer (with wait, waiting for it), taken: r as local_server_reply
 * gives it (0: none there; -EPIPE: the server is gone, msg says so). *ended counts a job that
 * could not start. */
static int next_reply(struct local *lc, int wait, pid_t *pid, char *msg, size_t n, int *ended)
{
    int r = local_server_reply(lc->srv, wait, lc->await_head->name, pid, msg, n);
    if (r != 0 && r != -EPIPE)
        *ended += take_reply(lc, r, *pid, msg);
    return r;
}

/* The task server is gone: the answers still queued are read (their jobs are then known),
 * jobs without one could not start, and its jobs whose exits never came are stopped and
 * reported lost; later jobs are exec'ed. Returns how many jobs ended. */
static int server_gone(struct local *lc, double now)
{
    int ended = 0;
    char msg[512];
    while (lc->await_head) {
        pid_t pid = 0;
        int r = next_reply(lc, 0, &pid, msg, sizeof msg, &ended);
        if (r == 0 || r == -EPIPE)
            break;
    }
    while (lc->await_head) {
        start_failed(await_pop(lc), "the task server exited before it said whether it had started the task");
        ended++;
    }
    unsigned lost = 0;
    for (struct mf_job *j = lc->jobs; j; j = j->next) {
        if (j->via_server && j->pid > 0 && !j->reaped) {
            kill(-j->pid, SIGKILL);
            j->lost = 1;
            lost++;
            ended += on_reaped(j, now);
        }
    }
    LOG(lc, MF_LOG_WARN, "the task server exited; %u running task(s) whose exit it would have reported were stopped and count as lost; running tasks with exec from now on",
        lost);
    local_server_stop(lc->srv);
    lc->srv = NULL;
    lc->use_server = 0;
    return ended;
}

/* The server's answers (a job's pid), in the order of the requests, to the jobs awaiting
 * them: those already there; with until, also waiting until that job has its own (a job is
 * signalled, cancelled or released only with its pid). A submit does not wait for its answer:
 * that wait put the orchestrator to sleep and woke it again for every task, where the answer
 * is there anyway by the time the task's exit event comes, which reads it. Returns how many
 * jobs ended (could not start). */
static void take_replies_into(struct local *lc, struct mf_job *until, int *ended)
{
    while (lc->await_head && lc->srv) {
        pid_t pid = 0;
        char msg[512];
        struct mf_job *j = lc->await_head;
        int r = next_reply(lc, until != NULL, &pid, msg, sizeof msg, ended);
        if (r == 0)
            return;
        if (r == -EPIPE) {
            LOG(lc, MF_LOG_WARN, "%s", msg);
            *ended += server_gone(lc, mono_now());
            return;
        }
        if (j == until)
            return;
    }
}

static void take_replies(struct local *lc, struct mf_job *until)
{
    int ended = 0;
    take_replies_into(lc, until, &ended);
    lc->ended_elsewhere += ended;
}

/* Exit events waiting on the server's socket (each reads the answers it needs first:
 * on_server_exit). Returns how many jobs ended; when the server is gone, server_gone. */
static int server_events(struct local *lc, double now)
{
    struct server_exit_ctx c = {lc, now, 0};
    if (!lc->srv)
        return 0;   /* found gone meanwhile (server_gone) */
    if (local_server_events(lc->srv, on_server_exit, &c) == 0)
        return c.ended;
    return c.ended + server_gone(lc, now);
}

/* Whether a job other than j has a process that has not been reaped. */
static int others_running(const struct local *lc, const struct mf_job *j)
{
    for (const struct mf_job *o = lc->jobs; o; o = o->next)
        if (o != j && (o->pid > 0 || o->awaiting) && !o->reaped)
            return 1;
    return 0;
}

/* Start the job's process: through the task server when it runs this executable, else
 * clone + exec. 0 or an errno with the message in lc->err. */
static int spawn(struct local *lc, struct mf_job *j, const struct local_spawn_req *req)
{
    j->via_server = 0;
    if (lc->use_server && is_self(lc, req->argv[0])) {
        char msg[512];
        if (!lc->srv) {
            if (local_server_start(lc->self_exe, &lc->srv, msg, sizeof msg) != 0) {
                LOG(lc, MF_LOG_WARN, "%s; running tasks with exec instead", msg);
                lc->use_server = 0;
            }
        }
        /* With nothing else running, the job is the run's whole path: exec'ed, it would
         * repeat the server's start-up (this executable, its plugins, the flow) from the
         * beginning, where the server, started while the run was set up, has less of it left.
         * Beside running jobs (a fan-out while the server starts) it is exec'ed. */
        int wait = lc->use_server == 2 || is_py_task(req->argv) || !others_running(lc, j);
        int ready = lc->srv ? local_server_ready(lc->srv, wait, msg, sizeof msg) : 0;
        if (ready < 0) {
            LOG(lc, MF_LOG_WARN, "%s; running tasks with exec instead", msg);
            local_server_stop(lc->srv);
            lc->srv = NULL;
            lc->use_server = 0;
        }
        /* Answers not read are bounded, far below what the server's socket holds (a server
         * blocked on a full socket would report no exit). */
        if (ready > 0 && lc->n_await >= AWAIT_MAX)
            take_replies(lc, lc->await_head);
        if (ready > 0 && lc->srv) {
            int rc = local_server_send(lc->srv, req, j->name, lc->err, sizeof lc->err);
            if (rc == 0) {
                j->via_server = 1;
                j->awaiting = 1;
                j->pid = 0;
                if (lc->await_tail)
                    lc->await_tail->await_next = j;
                else
                    lc->await_head = j;
                lc->await_tail = j;
                lc->n_await++;
                return 0;
            }
            if (rc == EPIPE) {
                LOG(lc, MF_LOG_WARN, "%s", lc->err);
                lc->ended_elsewhere += server_events(lc, mono_now());
            } else if (rc != EMSGSIZE) {
                return rc;
            }
        }
    }
    return local_spawn(req, j->name, &j->pid, lc->err, sizeof lc->err);
}

/* Start a job whose resources fit now. 0; EAGAIN when they do not fit (nothing changed);
 * else an error with the message in lc->err and nothing left behind. */
static int start_job(struct local *lc, struct mf_job *j)
{
    int rc = placement_place(lc->place, &j->req, &j->grant);
    if (rc == EAGAIN)
        return EAGAIN;
    if (rc == MF_ENOMEM)
        return fail(lc, MF_ENOMEM, "job %s: out of memory placing it", j->name);
    if (rc) {
        char msg[600];
        placement_check(lc->place, NULL, &j->req, msg, sizeof msg);
        return fail(lc, rc, "job %s: %s", j->name, msg);
    }
    const char *name = j->name;
    int wr[STREAMS] = {-1, -1, -1};
    char *cpu_list = NULL, *gpu_list = NULL;

    rc = setup_memory(lc, j);
    if (rc)
        goto error;
    for (int s = 1; s < STREAMS; s++) {
        if (!j->path[s])
            continue;
        rc = local_open_log(j->path[s], stream_name(s), name, &j->log[s], lc->err, sizeof lc->err);
        if (rc)
            goto error;
    }
    for (int s = 1; s < STREAMS; s++) {
        int p[2];
        if (pipe2(p, O_CLOEXEC) != 0) {
            rc = errno;
            fail(lc, rc, "job %s: cannot create its %s pipe: %s (too many open files? raise ulimit -n or lower --max-workers)",
                 name, stream_name(s), strerror(rc));
            goto error;
        }
        j->pipe[s] = p[0];
        wr[s] = local_fd_above_stdio(p[1]);
        if (wr[s] < 0) {
            rc = errno;
            fail(lc, rc, "job %s: setting up its %s pipe: %s", name, stream_name(s), strerror(rc));
            goto error;
        }
    }

    /* What the task is told about its resources. */
    size_t clen = placement_cpu_list(&j->grant, NULL, 0) + 1;
    cpu_list = malloc(clen + 32);
    gpu_list = malloc(64 + (size_t)j->grant.ngpu * 48);
    if (!cpu_list || !gpu_list) {
        rc = fail(lc, MF_ENOMEM, "job %s: out of memory", name);
        goto error;
    }
    placement_cpu_list(&j->grant, cpu_list, clen);
    size_t gl = 0;
    gpu_list[0] = '\0';
    for (unsigned i = 0; i < j->grant.ngpu; i++) {
        const struct place_gpu *g = placement_gpu(lc->place, j->grant.gpu[i]);
        gl += (size_t)sprintf(gpu_list + gl, "%s%s", i ? "," : "", g->busid[0] ? g->busid : g->name);
    }
    char cpus_kv[32], gpus_kv[32], threads_kv[N_THREAD_VARS][48];
    snprintf(cpus_kv, sizeof cpus_kv, "MFLOW_CPUS=%u", j->grant.ncpu);
    snprintf(gpus_kv, sizeof gpus_kv, "MFLOW_GPUS=%u", j->grant.ngpu);
    char *cpulist_env = malloc(clen + 32), *gpulist_env = malloc(gl + 32);
    if (!cpulist_env || !gpulist_env) {
        free(cpulist_env);
        free(gpulist_env);
        rc = fail(lc, MF_ENOMEM, "job %s: out of memory", name);
        goto error;
    }
    sprintf(cpulist_env, "MFLOW_CPU_LIST=%s", cpu_list);
    sprintf(gpulist_env, "MFLOW_GPU_LIST=%s", gpu_list);
    const char *forced[] = {cpus_kv, cpulist_env, gpus_kv, gpulist_env, NULL};

    const char *defaults[N_THREAD_VARS + 8];
    size_t nd = 0;
    for (size_t i = 0; i < N_THREAD_VARS; i++) {
        snprintf(threads_kv[i], sizeof threads_kv[i], "%s=%u", thread_vars[i], j->grant.ncpu);
        defaults[nd++] = threads_kv[i];
    }
    /* GPUs: each API's *_VISIBLE_DEVICES names the task's own; on a machine with CUDA GPUs a
     * task that asked for none sees none. */
    char vis[3][160];
    static const int apis[3] = {PLACE_API_CUDA, PLACE_API_ROCM, PLACE_API_LEVELZERO};
    for (int a = 0; a < 3; a++) {
        char list[128];
        placement_gpu_list(lc->place, &j->grant, apis[a], list, sizeof list);
        if (!list[0] && !(apis[a] == PLACE_API_CUDA && lc->has_cuda))
            continue;
        snprintf(vis[a], sizeof vis[a], "%s=%s", placement_api_env(apis[a]), list);
        defaults[nd++] = vis[a];
    }
    if (lc->has_cuda)
        defaults[nd++] = "CUDA_DEVICE_ORDER=PCI_BUS_ID";
    defaults[nd] = NULL;

    if (lc->bind) {
        CPU_ZERO_S(lc->cpuset_size, lc->cpuset);
        for (unsigned i = 0; i < j->grant.ncpu; i++)
            CPU_SET_S(j->grant.cpu[i], lc->cpuset_size, lc->cpuset);
    }
    struct local_spawn_req req = {
        .argv = (const char *const *)j->argv,
        .env = (const char *const *)j->env,
        .workdir = j->workdir,
        .env_forced = forced,
        .env_defaults = defaults,
        .cpuset = lc->bind ? lc->cpuset : NULL,
        .cpuset_size = lc->cpuset_size,
        .cpu_list = cpu_list,
        .cgroup_procs_fd = j->mem.procs_fd,
        .data_limit = j->mem.mech == MEMLIMIT_RLIMIT ? (unsigned long long)j->req.memory_mb << 20 : 0,
        .stdin_fd = lc->devnull,
        .stdout_fd = wr[MF_STREAM_STDOUT],
        .stderr_fd = wr[MF_STREAM_STDERR],
    };
    rc = spawn(lc, j, &req);
    free(cpulist_env);
    free(gpulist_env);
    if (rc)
        goto error;
    double now = mono_now();
    j->start_time = wall_now();
    for (int s = 1; s < STREAMS; s++) {
        close(wr[s]);
        wr[s] = -1;
    }
    if (j->mem.procs_fd >= 0) {
        close(j->mem.procs_fd);   /* the child is in; the path stays for the OOM check */
        j->mem.procs_fd = -1;
    }
    if (lc->notify == NOTIFY_PIDFD && !j->via_server) {
        j->pidfd = local_pidfd_open(j->pid);
        if (j->pidfd < 0)
            LOG(lc, MF_LOG_DEBUG, "job %s: pidfd_open: %s; polling for its exit instead", name, strerror(errno));
    }
    if (j->timeout_s)
        j->timeout_at = now + j->timeout_s;
    LOG(lc, MF_LOG_DEBUG, "job %s: started%s as pid %d on CPUs %s%s%s", name,
        j->awaiting ? " (the task server's answer to come)" : "", (int)j->pid, cpu_list,
        gl ? ", GPUs " : "", gpu_list);
    free(cpu_list);
    free(gpu_list);
    return 0;

error:
    free(cpu_list);
    free(gpu_list);
    for (int s = 1; s < STREAMS; s++) {
        if (wr[s] >= 0)
            close(wr[s]);
        close_stream(j, s);
    }
    j->pid = -1;
    if (j->mem.path[0] || j->mem.procs_fd >= 0) {
        if (memlimit_job_remove(&j->mem) == EBUSY)
            keep_stale(lc, &j->mem);
    }
    j->mem.path[0] = '\0';
    placement_release(lc->place, &j->grant);
    return rc;
}

/* Start the queued jobs that fit, in submission order; a job that does not fit lets later
 * ones pass QUEUE_MAX_BYPASS times. Returns how many could not be started (they ended). */
static int admit(struct local *lc)
{
    if (!lc->admit_dirty)
        return 0;
    lc->admit_dirty = 0;
    int ended = 0;
    struct mf_job *waiting = NULL;   /* the oldest job that did not fit */
    for (struct mf_job *j = lc->qhead, *next; j; j = next) {
        next = j->qnext;
        if (waiting && waiting->bypassed >= QUEUE_MAX_BYPASS)
            break;
        int rc = start_job(lc, j);
        if (rc == EAGAIN) {
            if (!waiting)
                waiting = j;
            continue;
        }
        queue_remove(lc, j);
        if (waiting)
            waiting->bypassed++;
        if (rc) {
            /* It never ran: it ends as FAILED with the reason. */
            j->start_rc = rc;
            j->start_error = strdup(lc->err);
            j->reaped = j->done = 1;
            j->end_time = wall_now();
            ended++;
        }
    }
    return ended;
}

static int lc_submit(void *state, const struct mf_job_spec *spec, mf_job **out)
{
    struct local *lc = state;
    if (!lc)
        return MF_EINVAL;
    if (!spec || !out)
        return fail(lc, MF_EINVAL, "submit: a job spec and an out handle are required");
    *out = NULL;
    if (!MF_HAS_FIELD(spec, workdir))
        return fail(lc, MF_EABI, "submit: job spec of %u bytes is smaller than ABI 1.0's %zu (rebuild the host against this plugin's mflow)",
                    spec->struct_size, offsetof(struct mf_job_spec, workdir) + sizeof spec->workdir);
    if (!spec->argv || !spec->argv[0] || !spec->argv[0][0])
        return fail(lc, MF_EINVAL, "submit: job %s has no command (argv is empty)",
                    spec->pathspec ? spec->pathspec : "(unnamed)");
    const char *name = spec->pathspec ? spec->pathspec : spec->argv[0];
    for (size_t i = 0; spec->env && spec->env[i]; i++) {
        const char *eq = strchr(spec->env[i], '=');
        if (!eq || eq == spec->env[i])
            return fail(lc, MF_EINVAL, "job %s: environment entry '%s' is not KEY=VALUE (fix the step's env)",
                        name, spec->env[i]);
    }
    struct place_req req;
    placement_req_of(spec->resources, &req);
    if (!req.cpu)
        req.cpu = 1;
    char msg[600];
    if (placement_check(lc->place, spec->step_name, &req, msg, sizeof msg) != 0)
        return fail(lc, MF_EINVAL, "job %s: %s", name, msg);

    struct mf_job *j = calloc(1, sizeof *j);
    if (!j)
        return fail(lc, MF_ENOMEM, "job %s: out of memory", name);
    j->lc = lc;
    j->pid = -1;
    j->pidfd = -1;
    j->mem.procs_fd = -1;
    j->req = req;
    j->timeout_s = spec->timeout_s;
    for (int s = 0; s < STREAMS; s++)
        j->pipe[s] = j->log[s] = -1;
    const char *paths[STREAMS] = {NULL, spec->stdout_path, spec->stderr_path};
    int bad = !(j->name = strdup(name)) || copy_strv(spec->argv, &j->argv) != 0 ||
              copy_strv(spec->env, &j->env) != 0 || (spec->workdir && !(j->workdir = strdup(spec->workdir)));
    for (int s = 1; s < STREAMS && !bad; s++)
        bad = paths[s] && !(j->path[s] = strdup(paths[s]));
    if (bad) {
        free_job(j);
        return fail(lc, MF_ENOMEM, "job %s: out of memory", name);
    }

    /* Queue it last; it starts now when it fits (and nothing older is being held back). */
    j->queued = 1;
    j->qprev = lc->qtail;
    if (lc->qtail)
        lc->qtail->qnext = j;
    else
        lc->qhead = j;
    lc->qtail = j;
    j->next = lc->jobs;
    if (lc->jobs)
        lc->jobs->prev = j;
    lc->jobs = j;
    lc->njobs++;
    lc->admit_dirty = 1;
    admit(lc);
    if (j->start_rc) {
        /* Could not start it: a submit error, and no handle. */
        int rc = j->start_rc;
        snprintf(lc->err, sizeof lc->err, "%s", j->start_error ? j->start_error : "could not start");
        if (j->prev)
            j->prev->next = j->next;
        else
            lc->jobs = j->next;
        if (j->next)
            j->next->prev = j->prev;
        lc->njobs--;
        free_job(j);
        return rc;
    }
    if (j->queued)
        LOG(lc, MF_LOG_DEBUG, "job %s: queued until %u cpu%s%s fit (%u cores, %u GPUs, %llu MB free)", name,
            req.cpu, req.gpu ? " and GPUs" : "", req.memory_mb ? " and memory" : "",
            placement_free_cores(lc->place), placement_free_gpus(lc->place),
            (unsigned long long)placement_free_memory(lc->place));
    *out = j;
    return 0;
}

/* The reason of a status; a long one is cut (the ABI gives it 256 bytes). */
__attribute__((format(printf, 2, 3)))
static void set_reason(struct mf_job_status *st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st->reason, sizeof st->reason, fmt, ap);
    va_end(ap);
}

static void fill_status(const struct mf_job *j, struct mf_job_status *st)
{
    memset(st, 0, sizeof *st);
    st->struct_size = sizeof *st;
    st->exit_code = -1;
    st->start_time = j->start_time;
    if (j->queued) {
        st->state = MF_JOB_QUEUED;
        return;
    }
    if (!j->done) {
        st->state = MF_JOB_RUNNING;
        return;
    }
    st->end_time = j->end_time;
    if (j->pid < 0) {
        /* It never ran. */
        if (j->cancelled) {
            st->state = MF_JOB_CANCELLED;
            set_reason(st, "cancelled before it started (it was waiting for resources)");
        } else {
            st->state = MF_JOB_FAILED;
            set_reason(st, "could not start: %s",
                     j->start_error ? j->start_error : "see the log");
        }
        return;
    }
    if (j->lost) {
        st->state = MF_JOB_LOST;
        if (j->via_server)
            set_reason(st, "exit status lost: the task server that started it exited while it ran, so it was stopped");
        else
            set_reason(st,
                     "exit status lost: the process was reaped by someone else (is SIGCHLD ignored in the host?)");
        return;
    }
    char how[80];
    if (WIFEXITED(j->wstatus)) {
        st->exit_code = WEXITSTATUS(j->wstatus);
        snprintf(how, sizeof how, "exited with code %d", st->exit_code);
    } else {
        st->term_signal = WTERMSIG(j->wstatus);
        const char *desc = strsignal(st->term_signal);
        snprintf(how, sizeof how, "killed by signal %d (%s)", st->term_signal, desc ? desc : "unknown");
    }
    unsigned long long mb = (unsigned long long)j->req.memory_mb;
    if (j->cancelled) {
        st->state = MF_JOB_CANCELLED;
        set_reason(st, "cancelled; %s", how);
    } else if (j->timed_out) {
        st->state = MF_JOB_FAILED;
        st->timed_out = 1;
        set_reason(st, "timed out after %u s", j->timeout_s);
    } else if (st->exit_code == 0) {
        st->state = MF_JOB_SUCCEEDED;
        set_reason(st, "%s", how);
    } else if (j->oom) {
        st->state = MF_JOB_FAILED;
        /* The host shows how it ended (signal or exit code) beside this. */
        if (j->peak_mb)
            set_reason(st,
                       "exceeded its memory limit of %llu MB (resources.memory_mb; it used up to %llu MB) and the kernel's OOM killer stopped it; raise resources.memory_mb",
                       mb, (unsigned long long)j->peak_mb);
        else
            set_reason(st,
                       "exceeded its memory limit of %llu MB (resources.memory_mb) and the kernel's OOM killer stopped it; raise resources.memory_mb",
                       mb);
    } else if (j->mem.mech == MEMLIMIT_RLIMIT && mb) {
        st->state = MF_JOB_FAILED;
        set_reason(st,
                 "%s; if it ran out of memory: its memory limit of %llu MB (resources.memory_mb) is enforced here as RLIMIT_DATA, where an allocation past it fails; raise resources.memory_mb",
                 how, mb);
    } else {
        st->state = MF_JOB_FAILED;
        set_reason(st, "%s", how);
    }
}

static int lc_poll(void *state, mf_job *const *jobs, size_t n, struct mf_job_status *st)
{
    struct local *lc = state;
    if (!lc)
        return MF_EINVAL;
    if (n && (!jobs || !st))
        return fail(lc, MF_EINVAL, "poll: jobs and st are required when n > 0");
    for (size_t i = 0; i < n; i++)
        if (!jobs[i])
            return fail(lc, MF_EINVAL, "poll: job %zu of %zu is NULL", i, n);
    for (size_t i = 0; i < n; i++)
        fill_status(jobs[i], &st[i]);
    return 0;
}

static int wait_events(struct local *lc, int timeout_ms);

/* Admission happens here: jobs start when others end, so the host must keep calling it. */
static int lc_wait(void *state, int timeout_ms)
{
    struct local *lc = state;
    if (!lc)
        return MF_EINVAL;
    if (lc->nstale)
        remove_stale(lc);
    if (admit(lc))
        return 1;   /* a queued job could not start: it ended */
    if (lc->ended_elsewhere) {
        lc->ended_elsewhere = 0;
        return 1;
    }
    int r = wait_events(lc, timeout_ms);
    if (r == 1)
        admit(lc);
    return r;
}

static int wait_events(struct local *lc, int timeout_ms)
{
    double now = mono_now();
    const double forever = 1e300;   /* no deadline */
    double until = timeout_ms < 0 ? forever : now + timeout_ms / 1000.0;
    int ended = 0;

    if (lc->norphans)
        reap_orphans(lc);
    for (;;) {
        double next = until;
        ended += service_deadlines(lc, now, &next);
        if (ended)
            return 1;

        if (grow_poll_set(lc, lc->njobs * 3 + 2) != 0)
            return fail(lc, MF_ENOMEM, "wait: out of memory for the poll set of %zu jobs", lc->njobs);
        size_t n = 0;
        int sweep = 0;   /* some live child has no pidfd: look with waitpid */
        int server_jobs = 0;   /* some live job's exit comes from the task server */
        if (lc->notify == NOTIFY_SIGCHLD) {
            lc->pfd[n] = (struct pollfd){.fd = local_sigchld_fd(), .events = POLLIN};
            lc->slot[n++] = (struct slot){.job = NULL, .kind = SLOT_SIGCHLD};
        }
        size_t fixed = n;
        if (lc->srv) {
            lc->pfd[n] = (struct pollfd){.fd = local_server_event_fd(lc->srv), .events = POLLIN};
            lc->slot[n++] = (struct slot){.job = NULL, .kind = SLOT_SERVER};
        }
        for (struct mf_job *j = lc->jobs; j; j = j->next) {
            if (j->pid <= 0 && !j->awaiting)
                continue;   /* queued, or never started */
            if (!j->reaped) {
                if (j->pidfd >= 0) {
                    lc->pfd[n] = (struct pollfd){.fd = j->pidfd, .events = POLLIN};
                    lc->slot[n++] = (struct slot){.job = j, .kind = SLOT_PIDFD};
                } else if (!j->via_server) {
                    sweep = 1;
                } else {
                    server_jobs = 1;
                }
            }
            for (int s = 1; s < STREAMS; s++) {
                if (j->pipe[s] >= 0) {
                    lc->pfd[n] = (struct pollfd){.fd = j->pipe[s], .events = POLLIN};
                    lc->slot[n++] = (struct slot){.job = j, .kind = s};
                }
            }
        }
        if (sweep) {
            double tick = now + (lc->notify == NOTIFY_SIGCHLD ? SIGCHLD_TICK_MS : NOPIDFD_TICK_MS) / 1000.0;
            if (tick < next)
                next = tick;
        }
        /* The server's socket alone says nothing will change when no job uses it. */
        size_t watched = n - fixed - (lc->srv ? 1 : 0) + (size_t)server_jobs;
        if (!watched && next == forever)
            return 0;   /* nothing can change: do not block forever */

        int ms = -1;
        if (next != forever) {
            double d = (next - now) * 1000.0;   /* rounded up: waking early would spin */
            ms = d <= 0 ? 0 : d > 1e9 ? 1000000000 : (int)d + 1;
        }
        int r = poll(lc->pfd, n, ms);
        if (r < 0 && errno != EINTR)
            return fail(lc, errno, "wait: poll over %zu fds: %s", n, strerror(errno));
        now = mono_now();
        if (r < 0)
            sweep = 1;   /* a signal: maybe SIGCHLD; look, and let the host see its own */

        for (size_t i = 0; r > 0 && i < n; i++) {
            if (!lc->pfd[i].revents)
                continue;
            struct mf_job *j = lc->slot[i].job;
            switch (lc->slot[i].kind) {
            case SLOT_SIGCHLD:
                local_sigchld_drain();
                sweep = 1;
                break;
            case SLOT_PIDFD:
                ended += try_reap(j, now);
                break;
            case SLOT_SERVER:
                ended += server_events(lc, now);
                break;
            default: {
                /* The job may have ended already in this round (reaped, then drained). */
                int s = lc->slot[i].kind;
                if (j->pipe[s] != lc->pfd[i].fd)
                    break;
                if (lc->pfd[i].revents == POLLHUP) {
                    /* Every writer is gone and nothing is left to read (a pipe with data
                     * says POLLIN too): its end, without the read that would say so. */
                    close_stream(j, s);
                    ended += maybe_done(j);
                } else if (read_stream(j, s)) {
                    ended += maybe_done(j);
                }
                break;
            }
            }
        }
        if (sweep)
            for (struct mf_job *j = lc->jobs; j; j = j->next)
                if (j->pid > 0 && !j->reaped && j->pidfd < 0 && !j->via_server)
                    ended += try_reap(j, now);
        if (lc->norphans)
            reap_orphans(lc);
        if (ended || r < 0)
            return 1;
        if (now >= until) {
            double ignored = forever;
            return service_deadlines(lc, now, &ignored) ? 1 : 0;
        }
    }
}

static void free_buf(struct mf_buf *b)
{
    if (!b)
        return;
    free(b->data);
    b->data = NULL;
    b->len = 0;
}

static int lc_logs(void *state, mf_job *job, int stream, struct mf_buf *out)
{
    struct local *lc = state;
    if (!lc)
        return MF_EINVAL;
    if (!job || !out)
        return fail(lc, MF_EINVAL, "logs: a job and an out buffer are required");
    if (stream != MF_STREAM_STDOUT && stream != MF_STREAM_STDERR)
        return fail(lc, MF_EINVAL, "logs: job %s: unknown stream %d (use MF_STREAM_STDOUT or MF_STREAM_STDERR)",
                    job->name, stream);
    const char *path = job->path[stream];
    if (!path)
        return fail(lc, MF_ENOTSUP, "job %s: its %s was not kept (the job was submitted without a %s_path)",
                    job->name, stream_name(stream), stream_name(stream));
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        return fail(lc, e == ENOENT ? MF_ENOTFOUND : e, "job %s: cannot open its %s log '%s': %s", job->name,
                    stream_name(stream), path, strerror(e));
    }
    struct stat sb;
    size_t cap = fstat(fd, &sb) == 0 && sb.st_size > 0 ? (size_t)sb.st_size + 1 : 4096;
    char *data = malloc(cap);
    size_t len = 0;
    int rc = 0;
    while (data) {
        if (len == cap) {
            char *grown = realloc(data, cap * 2);
            if (!grown) {
                free(data);
                data = NULL;
                break;
            }
            data = grown;
            cap *= 2;
        }
        ssize_t r = read(fd, data + len, cap - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = fail(lc, errno, "job %s: reading its %s log '%s': %s", job->name, stream_name(stream), path,
                      strerror(errno));
            break;
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    if (!data)
        return fail(lc, MF_ENOMEM, "job %s: out of memory reading its %s log '%s'", job->name,
                    stream_name(stream), path);
    if (rc) {
        free(data);
        return rc;
    }
    memset(out, 0, sizeof *out);
    out->struct_size = sizeof *out;
    out->data = data;
    out->len = len;
    out->release = free_buf;
    return 0;
}

static int lc_cancel(void *state, mf_job *job)
{
    struct local *lc = state;
    if (!lc)
        return MF_EINVAL;
    if (!job)
        return fail(lc, MF_EINVAL, "cancel: no job given");
    if (job->queued) {
        /* It never started: it ends now. */
        queue_remove(lc, job);
        lc->admit_dirty = 1;   /* those behind it may go */
        job->cancelled = 1;
        job->reaped = job->done = 1;
        job->end_time = wall_now();
        return 0;
    }
    if (job->awaiting)
        take_replies(lc, job);
    if (job->reaped || job->pid <= 0)
        return 0;   /* already ended (leftovers in its group are being stopped) */
    job->cancelled = 1;
    start_kill(job, mono_now());
    return 0;
}

static void lc_release(void *state, mf_job *job)
{
    struct local *lc = state;
    if (!lc || !job)
        return;
    if (job->awaiting)
        take_replies(lc, job);
    while (job->awaiting)   /* no server left to answer (server_gone ends them all first) */
        start_failed(await_pop(lc), "released before the task server answered");
    if (job->queued) {
        queue_remove(lc, job);
        lc->admit_dirty = 1;
    } else if (job->pid <= 0) {
        /* never started: nothing to stop */
    } else if (!job->reaped && job->via_server) {
        kill(-job->pid, SIGKILL);   /* the server reaps it; its exit event finds no job */
    } else if (!job->reaped) {
        kill(-job->pid, SIGKILL);
        pid_t r;
        do
            r = waitpid(job->pid, NULL, WNOHANG);
        while (r < 0 && errno == EINTR);
        if (r == 0) {
            if (lc->norphans == lc->orphans_cap) {
                size_t cap = lc->orphans_cap ? lc->orphans_cap * 2 : 16;
                pid_t *grown = realloc(lc->orphans, cap * sizeof *grown);
                if (grown) {
                    lc->orphans = grown;
                    lc->orphans_cap = cap;
                }
            }
            if (lc->norphans < lc->orphans_cap) {
                lc->orphans[lc->norphans++] = job->pid;
            } else {
                /* No memory to remember it: wait for it now; it has been sent SIGKILL. */
                while (waitpid(job->pid, NULL, 0) < 0 && errno == EINTR)
                    ;
            }
        }
    } else if ((!job->done || (job->term_sent && !job->kill_sent)) && group_alive(job)) {
        kill(-job->pid, SIGKILL);   /* leftovers of a task that has ended */
    }
    if (job->pidfd >= 0)
        close(job->pidfd);
    /* A job released while running was just sent SIGKILL: its cores and GPUs are free for
     * the next one, its cgroup goes once its processes are gone. */
    free_resources(job);
    if (job->prev)
        job->prev->next = job->next;
    else
        lc->jobs = job->next;
    if (job->next)
        job->next->prev = job->prev;
    lc->njobs--;
    free_job(job);
}

static const char *lc_last_error(void *state)
{
    struct local *lc = state;
    return lc && lc->err[0] ? lc->err : "no error";
}

static int lc_check(void *state, const char *step_name, const struct mf_resources *res)
{
    struct local *lc = state;
    if (!lc)
        return MF_EINVAL;
    char msg[600];
    if (placement_check_resources(lc->place, step_name ? step_name : "?", res, msg, sizeof msg))
        return fail(lc, MF_EINVAL, "%s", msg);
    /* Only a run being set up asks: the task server starts now, while the run's records are
     * written, rather than when its first task is submitted (then its start-up was on the
     * first task's path, or that task was exec'ed beside it). */
    if (lc->use_server && !lc->srv && lc->self_exe) {
        if (local_server_start(lc->self_exe, &lc->srv, msg, sizeof msg) != 0) {
            LOG(lc, MF_LOG_WARN, "%s; running tasks with exec instead", msg);
            lc->use_server = 0;
        }
    }
    return 0;
}

static const char *option(const struct local *lc, const char *key, const char *dflt);

static int lc_describe(void *state, struct mf_buf *out)
{
    struct local *lc = state;
    if (!lc || !out)
        return MF_EINVAL;
    char msg[1024];
    int rc = local_describe(option(lc, "memory_limit", "auto"), option(lc, "cpu_bind", "on"),
                            &lc->mem, out, msg, sizeof msg);
    if (rc)
        return fail(lc, rc, "%s", msg);
    return 0;
}

/* ------------------------------------------------------------------------------------------ */

static const struct mf_option_def options[] = {
    {
        .struct_size = sizeof(struct mf_option_def),
        .type = MF_OPT_STRING,
        .name = "kill_grace_s",
        .env = "MFLOW_LOCAL_KILL_GRACE_S",
        .default_value = DEFAULT_KILL_GRACE,
        .help = "seconds between SIGTERM and SIGKILL when a job is cancelled or times out (decimals allowed, 0 = SIGKILL at once)",
    },
    {
        .struct_size = sizeof(struct mf_option_def),
        .type = MF_OPT_STRING,
        .name = "exit_notify",
        .env = "MFLOW_LOCAL_EXIT_NOTIFY",
        .default_value = "auto",
        .help = "how child exits are noticed: auto (pidfd when the kernel has it, else sigchld), pidfd, sigchld",
    },
    {
        .struct_size = sizeof(struct mf_option_def),
        .type = MF_OPT_STRING,
        .name = "cpu_bind",
        .env = "MFLOW_LOCAL_CPU_BIND",
        .default_value = "on",
        .help = "bind each task to the cores it was given (on), or only count them (off)",
    },
    {
        .struct_size = sizeof(struct mf_option_def),
        .type = MF_OPT_STRING,
        .name = "memory_limit",
        .env = "MFLOW_LOCAL_MEMORY_LIMIT",
        .default_value = "auto",
        .help = "how resources.memory_mb is enforced: auto (a memory cgroup per task where possible, else RLIMIT_DATA), cgroup, rlimit, none",
    },
    {
        .struct_size = sizeof(struct mf_option_def),
        .type = MF_OPT_STRING,
        .name = "task_server",
        .env = "MFLOW_LOCAL_TASK_SERVER",
        .default_value = "auto",
        .help = "auto: start `mflow task` jobs by forking a preloaded mflow (about 0.5 ms less a task); while it starts, a job submitted beside running ones is exec'ed and one alone waits for it; on: every job waits for it to be up; off: exec each one",
    },
};

static const char *option(const struct local *lc, const char *key, const char *dflt)
{
    const char *v = NULL;
    if (MF_HAS_FIELD(lc->host, config_get) && lc->host->config_get)
        v = lc->host->config_get(PLUGIN_NAME, key);
    return v && *v ? v : dflt;
}

static void lc_fini(void *state);

/* The machine model, from hwloc's topology loaded once here (tasks never load it). */
static int load_machine(struct local *lc, int bind)
{
    char msg[1024];
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
    uint64_t phys_mb = pages > 0 && psize > 0 ? (uint64_t)pages * (uint64_t)psize >> 20 : 0;
    uint64_t own_mb = memlimit_own_limit_mb(&lc->mem);
    hwloc_topology_t topo = NULL;
    int rc = placement_topology_load(&topo, msg, sizeof msg);
    if (rc) {
        uint64_t mem = own_mb && (own_mb < phys_mb || !phys_mb) ? own_mb : phys_mb;
        LOG(lc, MF_LOG_WARN, "%s; placing jobs without it: %ld CPUs as single-threaded cores, one NUMA node, no GPU",
            msg, online > 0 ? online : 1);
        if (placement_create_flat(online > 0 ? (unsigned)online : 1, mem, &lc->place) != 0) {
            LOG(lc, MF_LOG_ERROR, "out of memory building the machine model");
            return MF_ENOMEM;
        }
    } else {
        /* Only the CPUs this process may run on, and no more memory than the machine or this
         * process's cgroup has (placement_create_here). */
        rc = placement_create_here(topo, phys_mb, own_mb, &lc->place, msg, sizeof msg);
        hwloc_topology_destroy(topo);
        if (rc) {
            LOG(lc, MF_LOG_ERROR, "%s", msg);
            return rc;
        }
    }
    const struct place_summary *sum = placement_summary(lc->place);
    for (unsigned g = 0; g < sum->gpus; g++)
        if (placement_gpu(lc->place, g)->api == PLACE_API_CUDA)
            lc->has_cuda = 1;
    lc->bind = bind && sum->this_system;
    if (bind && !sum->this_system)
        LOG(lc, MF_LOG_INFO, "placing jobs on the %s, which is not this machine: jobs are not bound to its CPUs (MFLOW_CPU_LIST and the GPU variables still follow it)",
            sum->source);
    if (lc->bind) {
        unsigned max = 0;
        for (unsigned c = 0;; c++) {
            unsigned n;
            const unsigned *cpus = placement_core_cpus(lc->place, c, &n, NULL);
            if (!cpus)
                break;
            for (unsigned i = 0; i < n; i++)
                max = cpus[i] > max ? cpus[i] : max;
        }
        lc->cpuset = CPU_ALLOC(max + 1);
        if (!lc->cpuset) {
            LOG(lc, MF_LOG_ERROR, "out of memory for a CPU set of %u CPUs", max + 1);
            return MF_ENOMEM;
        }
        lc->cpuset_size = CPU_ALLOC_SIZE(max + 1);
    }
    LOG(lc, MF_LOG_DEBUG, "%s: %u package(s), %u NUMA node(s), %u cores, %u CPUs, %u GPU(s), %llu MB; CPU binding %s",
        sum->source, sum->packages, sum->numa_nodes, sum->cores, sum->pus, sum->gpus,
        (unsigned long long)sum->memory_mb, lc->bind ? "on" : "off");
    return 0;
}

static int lc_init(const struct mf_host_api *host, void **state)
{
    if (!host || !state)
        return MF_EINVAL;
    *state = NULL;
    struct local *lc = calloc(1, sizeof *lc);
    if (!lc)
        return MF_ENOMEM;
    lc->host = host;
    lc->devnull = -1;
    int rc = 0;

    const char *grace = option(lc, "kill_grace_s", DEFAULT_KILL_GRACE);
    char *end;
    errno = 0;
    lc->grace_s = strtod(grace, &end);
    if (errno || end == grace || *end || !(lc->grace_s >= 0 && lc->grace_s <= MAX_KILL_GRACE_S)) {
        LOG(lc, MF_LOG_ERROR, "option kill_grace_s='%s' is not a number of seconds from 0 to %g (fix MFLOW_LOCAL_KILL_GRACE_S or \"local\": {\"kill_grace_s\": ...} in config.json)",
            grace, MAX_KILL_GRACE_S);
        rc = MF_EINVAL;
        goto error;
    }

    const char *notify = option(lc, "exit_notify", "auto");
    int probe = -1;
    if (!strcmp(notify, "auto") || !strcmp(notify, "pidfd")) {
        probe = local_pidfd_open(getpid());
        if (probe >= 0) {
            close(probe);
            lc->notify = NOTIFY_PIDFD;
        } else if (!strcmp(notify, "pidfd")) {
            LOG(lc, MF_LOG_ERROR, "option exit_notify=pidfd: pidfd_open is not available here (%s; Linux 5.3+ is needed): use auto or sigchld",
                strerror(errno));
            rc = MF_EUNAVAIL;
            goto error;
        }
    } else if (strcmp(notify, "sigchld") != 0) {
        LOG(lc, MF_LOG_ERROR, "option exit_notify='%s' is not one of auto, pidfd, sigchld", notify);
        rc = MF_EINVAL;
        goto error;
    }
    if (!lc->notify) {
        int e = local_sigchld_install();
        if (e) {
            LOG(lc, MF_LOG_ERROR, "cannot watch for child exits: installing a SIGCHLD handler: %s", strerror(e));
            rc = e;
            goto error;
        }
        lc->notify = NOTIFY_SIGCHLD;
    }

    const char *bind = option(lc, "cpu_bind", "on");
    if (strcmp(bind, "on") != 0 && strcmp(bind, "off") != 0) {
        LOG(lc, MF_LOG_ERROR, "option cpu_bind='%s' is not on or off (fix MFLOW_LOCAL_CPU_BIND or \"local\": {\"cpu_bind\": ...} in config.json)",
            bind);
        rc = MF_EINVAL;
        goto error;
    }
    const char *memopt = option(lc, "memory_limit", "auto");
    char msg[1024];
    rc = memlimit_open(&lc->mem, memopt, msg, sizeof msg);
    if (rc) {
        LOG(lc, MF_LOG_ERROR, "%s (fix MFLOW_LOCAL_MEMORY_LIMIT or \"local\": {\"memory_limit\": ...} in config.json)", msg);
        goto error;
    }
    lc->mem_strict = !strcmp(memopt, "cgroup");
    if (lc->mem_strict && (rc = memlimit_prepare(&lc->mem, 1, msg, sizeof msg)) != 0) {
        LOG(lc, MF_LOG_ERROR, "%s (use memory_limit=auto to fall back to RLIMIT_DATA)", msg);
        goto error;
    }
    rc = load_machine(lc, !strcmp(bind, "on"));
    if (rc)
        goto error;

    const char *server = option(lc, "task_server", "auto");
    if (strcmp(server, "auto") != 0 && strcmp(server, "on") != 0 && strcmp(server, "off") != 0) {
        LOG(lc, MF_LOG_ERROR, "option task_server='%s' is not auto, on or off (fix MFLOW_LOCAL_TASK_SERVER or \"local\": {\"task_server\": ...} in config.json)",
            server);
        rc = MF_EINVAL;
        goto error;
    }
    lc->use_server = !strcmp(server, "on") ? 2 : !strcmp(server, "auto");
    if (lc->use_server)
        lc->self_exe = realpath("/proc/self/exe", NULL);

    lc->devnull = local_fd_above_stdio(open("/dev/null", O_RDWR | O_CLOEXEC));
    if (lc->devnull < 0) {
        rc = errno;
        LOG(lc, MF_LOG_ERROR, "cannot open /dev/null for jobs' stdin: %s", strerror(rc));
        goto error;
    }
    lc->buf = malloc(READ_CHUNK);
    if (!lc->buf) {
        rc = MF_ENOMEM;
        goto error;
    }
    *state = lc;
    return 0;

error:
    lc_fini(lc);
    return rc;
}

static void lc_fini(void *state)
{
    struct local *lc = state;
    if (!lc)
        return;
    while (lc->jobs)
        lc_release(lc, lc->jobs);
    /* Everything left was sent SIGKILL; wait for it, but never hang the host on a process
     * stuck in the kernel. */
    for (int tries = 0; lc->norphans && tries < 500; tries++) {
        reap_orphans(lc);
        if (lc->norphans)
            poll(NULL, 0, 10);
    }
    if (lc->norphans)
        LOG(lc, MF_LOG_WARN, "%zu killed job processes did not exit within 5 s; they are left as zombies",
            lc->norphans);
    local_server_stop(lc->srv);
    free(lc->self_exe);
    free(lc->exe_seen);
    /* Job cgroups whose processes were still exiting. */
    for (int tries = 0; lc->nstale && tries < 100; tries++) {
        remove_stale(lc);
        if (lc->nstale)
            poll(NULL, 0, 10);
    }
    if (lc->nstale)
        LOG(lc, MF_LOG_WARN, "%zu memory cgroups still hold processes and are left behind (the next run removes them)",
            lc->nstale);
    memlimit_close(&lc->mem);
    free(lc->stale);
    placement_destroy(lc->place);
    if (lc->cpuset)
        CPU_FREE(lc->cpuset);
    if (lc->notify == NOTIFY_SIGCHLD)
        local_sigchld_uninstall();
    if (lc->devnull >= 0)
        close(lc->devnull);
    free(lc->orphans);
    free(lc->pfd);
    free(lc->slot);
    free(lc->buf);
    free(lc);
}

static const struct mf_compute_ops ops = {
    .struct_size = sizeof(struct mf_compute_ops),
    .submit = lc_submit,
    .submit_batch = NULL,
    .poll = lc_poll,
    .wait = lc_wait,
    .logs = lc_logs,
    .cancel = lc_cancel,
    .release = lc_release,
    .last_error = lc_last_error,
    .check = lc_check,
    .describe = lc_describe,
};

static const struct mf_plugin_desc desc = {
    .struct_size = sizeof(struct mf_plugin_desc),
    .abi_major = MF_PLUGIN_ABI_MAJOR,
    .abi_minor = MF_PLUGIN_ABI_MINOR,
    .kind = MF_PLUGIN_COMPUTE,
    .name = PLUGIN_NAME,
    .version = "0.1.0",
    .description = "runs each task as a child process on this machine",
    .options = options,
    .n_options = sizeof options / sizeof options[0],
    .init = lc_init,
    .fini = lc_fini,
    .ops = &ops,
};

MF_PLUGIN_EXPORT const struct mf_plugin_desc *mf_plugin_entry_v1(const struct mf_host_api *host)
{
    (void)host;
    return &desc;
}
