/* Helpers of task servers written in another language (foreign_ts.h). */
#include "foreign_ts.h"

#include "util.h"

#include <mflow/task_server.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

void mf_foreign_ts_share_code(void)
{
    FILE *f = fopen("/proc/sys/vm/overcommit_memory", "re");
    int strict = f && fgetc(f) == '2';
    if (f)
        fclose(f);
    if (strict || !(f = fopen("/proc/self/maps", "re")))
        return;
    char line[4352];
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        char perm[5], path[4097] = "";
        if (sscanf(line, "%lx-%lx %4s %*s %*s %*s %4096s", &lo, &hi, perm, path) != 4 ||
            path[0] != '/' || perm[0] != 'r' || perm[1] != '-' || perm[3] != 'p' || hi <= lo)
            continue;
        int prot = PROT_READ | (perm[2] == 'x' ? PROT_EXEC : 0);
        if (mprotect((void *)lo, hi - lo, prot | PROT_WRITE) != 0)
            continue;
        volatile char *c = (volatile char *)lo;
        *c = *c;
        mprotect((void *)lo, hi - lo, prot);
    }
    fclose(f);
}

/* The global options a task's command line gives before `task`, as the variables mflow
 * reads them from. */
static const char *const globals[][2] = {
    {"--home", "MFLOW_HOME"}, {"--storage", "MFLOW_STORAGE"},
    {"--datastore-root", "MFLOW_DATASTORE_ROOT"}, {"--compute", "MFLOW_COMPUTE"},
    {"--namespace", "MFLOW_NAMESPACE"},
};
enum { NGLOBALS = sizeof globals / sizeof globals[0] };

struct mf_foreign_ts {
    int req_fd, evt_fd, sfd;
    char *buf;                    /* MF_TS_MAX_MSG: the held request's strings */
    int held;
    struct mf_ts_request h;
    const void *cpuset;
    char **argv, **envp;          /* NULL-terminated, into buf */
    const char *workdir;
    int fd[MF_TS_MAX_FDS];
    int nfd;
    int targc;                    /* argv from `task` on; 0: not a task command */
    const char *gval[NGLOBALS];   /* the global options' values, NULL when not given */
    char **set, **unset;          /* mf_foreign_ts_env_set and _unset */
    char *gkv[NGLOBALS];          /* set's NAME=VALUE of the global options */
    struct mf_ts_event *pending;  /* exits not yet sent */
    size_t npending, cap_pending;
    unsigned long forked;
    int loaded;                   /* mf_foreign_ts_serve: the first request was handed out */
};

int mf_foreign_ts_open(int req_fd, int evt_fd, mf_foreign_ts **out)
{
    *out = NULL;
    mf_foreign_ts *ts = calloc(1, sizeof *ts);
    if (!ts || !(ts->buf = malloc(MF_TS_MAX_MSG))) {
        free(ts);
        return ENOMEM;
    }
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, NULL);
    ts->sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
    if (ts->sfd < 0) {
        int e = errno;
        free(ts->buf);
        free(ts);
        return e;
    }
    ts->req_fd = req_fd;
    ts->evt_fd = evt_fd;
    *out = ts;
    return 0;
}

static void close_fds(mf_foreign_ts *ts)
{
    for (int i = 0; i < ts->nfd; i++)
        close(ts->fd[i]);
    ts->nfd = 0;
}

static void free_changes(mf_foreign_ts *ts)
{
    free(ts->set);
    free(ts->unset);
    ts->set = ts->unset = NULL;
    for (int g = 0; g < NGLOBALS; g++) {
        free(ts->gkv[g]);
        ts->gkv[g] = NULL;
    }
}

static void release(mf_foreign_ts *ts)
{
    close_fds(ts);
    free(ts->argv);
    free(ts->envp);
    ts->argv = ts->envp = NULL;
    free_changes(ts);
    ts->held = 0;
}

void mf_foreign_ts_close(mf_foreign_ts *ts)
{
    if (!ts)
        return;
    release(ts);
    close(ts->sfd);
    free(ts->pending);
    free(ts->buf);
    free(ts);
}

/* The NUL-terminated strings of [*p, end): n of them into *v (NULL-terminated). 0 or -1. */
static int take_strings(char **p, const char *end, uint32_t n, char ***v)
{
    *v = malloc(((size_t)n + 1) * sizeof **v);
    if (!*v)
        return -1;
    for (uint32_t i = 0; i < n; i++) {
        char *nul = memchr(*p, '\0', (size_t)(end - *p));
        if (!nul)
            return -1;
        (*v)[i] = *p;
        *p = nul + 1;
    }
    (*v)[n] = NULL;
    return 0;
}

/* Where `task` starts in argv and the global options before it; a word that is no option
 * before `task` (another command) or no `task` at all leaves targc 0. */
static void split_command(mf_foreign_ts *ts)
{
    int argc = (int)ts->h.argc;
    ts->targc = 0;
    memset(ts->gval, 0, sizeof ts->gval);
    for (int i = 1; i < argc; i++) {
        const char *a = ts->argv[i];
        if (!strcmp(a, "task")) {
            ts->targc = argc - i;
            return;
        }
        int k = 0, r = 0;
        for (; k < NGLOBALS; k++)
            if ((r = mf_opt_value(argc, ts->argv, &i, globals[k][0], &ts->gval[k])) != 0)
                break;
        if (r < 0)
            return;   /* an option without its value, last: no `task` follows */
        if (k == NGLOBALS && a[0] != '-')
            return;
    }
}

/* One request into ts (strings into ts->buf). 1: got one; 0: the plugin closed the socket;
 * -1: a malformed request (its fds closed, errno set). */
static int receive(mf_foreign_ts *ts)
{
    union {
        char b[CMSG_SPACE(MF_TS_MAX_FDS * sizeof(int))];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = {ts->buf, MF_TS_MAX_MSG};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b,
                       .msg_controllen = sizeof ctl.b};
    ssize_t n;
    do
        n = recvmsg(ts->req_fd, &m, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n == 0)
        return 0;
    if (n < 0)
        return errno == ECONNRESET ? 0 : -1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < k; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
            if (ts->nfd < MF_TS_MAX_FDS)
                ts->fd[ts->nfd++] = fd;
            else
                close(fd);
        }
    }
    char *p = ts->buf, *end = ts->buf + n;
    if ((m.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || (size_t)n < sizeof ts->h)
        goto bad;
    memcpy(&ts->h, p, sizeof ts->h);
    p += sizeof ts->h;
    if (ts->h.magic != MF_TS_MAGIC || ts->h.nfds != (uint32_t)ts->nfd || ts->nfd < 3 ||
        ts->h.argc < 1 || ts->h.cpuset_size > (size_t)(end - p))
        goto bad;
    ts->cpuset = ts->h.cpuset_size ? p : NULL;
    p += ts->h.cpuset_size;
    ts->workdir = NULL;
    if (take_strings(&p, end, ts->h.argc, &ts->argv) != 0 ||
        take_strings(&p, end, ts->h.envc, &ts->envp) != 0)
        goto bad;
    if (ts->h.has_workdir) {
        char *nul = memchr(p, '\0', (size_t)(end - p));
        if (!nul)
            goto bad;
        ts->workdir = p;
    }
    split_command(ts);
    ts->held = 1;
    return 1;
bad:
    release(ts);
    errno = EPROTO;
    return -1;
}

static void reap(mf_foreign_ts *ts)
{
    int st;
    pid_t pid;
    while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
        /* out of memory: this exit is lost, as the C server loses it */
        if (mf_grow(&ts->pending, &ts->cap_pending, ts->npending, sizeof *ts->pending, 64))
            continue;
        ts->pending[ts->npending++] = (struct mf_ts_event){.pid = pid, .wstatus = st};
    }
}

/* Send what the event socket takes now. -1 when the plugin is gone. */
static int flush_events(mf_foreign_ts *ts)
{
    size_t k = 0;
    while (k < ts->npending) {
        ssize_t w = send(ts->evt_fd, &ts->pending[k], sizeof ts->pending[k],
                         MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (w < 0)
            return -1;
        k++;
    }
    memmove(ts->pending, ts->pending + k, (ts->npending - k) * sizeof *ts->pending);
    ts->npending -= k;
    return 0;
}

static void reply(mf_foreign_ts *ts, int32_t pid, int32_t err)
{
    struct mf_ts_reply rep = {.pid = pid, .err = err};
    while (send(ts->req_fd, &rep, sizeof rep, MSG_NOSIGNAL) < 0 && errno == EINTR)
        ;
}

/* The next well-formed request, reaping children and sending their exits meanwhile; a
 * malformed one is answered EPROTO here. 1: a request is held (until the next call); 0: the
 * plugin closed the request socket or no longer reads events; -errno: poll failed. */
static int next_request(mf_foreign_ts *ts)
{
    release(ts);
    for (;;) {
        struct pollfd p[3] = {
            {.fd = ts->req_fd, .events = POLLIN},
            {.fd = ts->sfd, .events = POLLIN},
            {.fd = ts->evt_fd, .events = ts->npending ? POLLOUT : 0},
        };
        if (poll(p, 3, -1) < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (p[1].revents) {
            struct signalfd_siginfo si;
            while (read(ts->sfd, &si, sizeof si) > 0)
                ;
            reap(ts);
        }
        if (ts->npending && flush_events(ts) != 0)
            return 0;
        if (!p[0].revents)
            continue;
        int got = receive(ts);
        if (got == 0)
            return 0;
        if (got > 0)
            return 1;
        reply(ts, -1, errno);
    }
}

int mf_foreign_ts_task_argc(const mf_foreign_ts *ts)
{
    return ts->held ? ts->targc : 0;
}

char **mf_foreign_ts_task_argv(const mf_foreign_ts *ts)
{
    return ts->held && ts->targc ? ts->argv + ts->h.argc - ts->targc : NULL;
}

/* The value the request gives variable name (of length n), or NULL when it has none. */
static const char *wanted(const mf_foreign_ts *ts, const char *name, size_t n, int *global)
{
    for (int k = 0; k < NGLOBALS; k++)
        if (ts->gval[k] && strlen(globals[k][1]) == n && !strncmp(globals[k][1], name, n)) {
            *global = 1;
            return ts->gval[k];
        }
    *global = 0;
    const char *v = NULL;
    for (char **e = ts->envp; *e; e++)
        if (!strncmp(*e, name, n) && (*e)[n] == '=')
            v = *e + n + 1;   /* the last one counts */
    return v;
}

/* Appends s to the NULL-terminated *v of *n entries. 0 or -1. */
static int append(char ***v, size_t *n, size_t *cap, char *s)
{
    if (mf_grow(v, cap, *n + 2, sizeof **v, 16))
        return -1;
    (*v)[(*n)++] = s;
    (*v)[*n] = NULL;
    return 0;
}

static int env_changes(mf_foreign_ts *ts)
{
    size_t n = 0, cap = 0, k = 0, capk = 0;
    if (append(&ts->set, &n, &cap, NULL) || append(&ts->unset, &k, &capk, NULL))
        return -1;
    n = k = 0;
    /* set: each variable of the request this environment lacks or holds otherwise (the
     * global options' ones below) */
    for (char **e = ts->envp; *e; e++) {
        const char *eq = strchr(*e, '=');
        if (!eq || eq == *e)
            continue;
        int global;
        size_t len = (size_t)(eq - *e);
        if (wanted(ts, *e, len, &global) != eq + 1 || global)
            continue;   /* a later one or a global option's value counts instead */
        char *name = strndup(*e, len);
        if (!name)
            return -1;
        const char *now = getenv(name);
        free(name);
        if ((!now || strcmp(now, eq + 1)) && append(&ts->set, &n, &cap, *e))
            return -1;
    }
    for (int g = 0; g < NGLOBALS; g++) {
        if (!ts->gval[g])
            continue;
        const char *now = getenv(globals[g][1]);
        if (now && !strcmp(now, ts->gval[g]))
            continue;
        if (!(ts->gkv[g] = mf_strf("%s=%s", globals[g][1], ts->gval[g])) ||
            append(&ts->set, &n, &cap, ts->gkv[g]))
            return -1;
    }
    /* unset: each variable of this environment the request does not give */
    for (char **e = environ; e && *e; e++) {
        const char *eq = strchr(*e, '=');
        size_t len = eq ? (size_t)(eq - *e) : strlen(*e);
        int global;
        if (len && !wanted(ts, *e, len, &global) && append(&ts->unset, &k, &capk, *e))
            return -1;
    }
    return 0;
}

char **mf_foreign_ts_env_set(mf_foreign_ts *ts)
{
    if (ts->held && !ts->set && env_changes(ts) != 0)
        free_changes(ts);
    return ts->set;
}

char **mf_foreign_ts_env_unset(mf_foreign_ts *ts)
{
    return mf_foreign_ts_env_set(ts) ? ts->unset : NULL;
}

/* In the parent after its fork of the held request: the request's fds closed, the plugin
 * answered with pid (> 0), or with err when the fork failed. */
static void forked(mf_foreign_ts *ts, int pid, int err)
{
    close_fds(ts);
    if (pid > 0)
        ts->forked++;
    reply(ts, pid > 0 ? pid : -1, pid > 0 ? 0 : err);
}

unsigned long mf_foreign_ts_count(const mf_foreign_ts *ts)
{
    return ts->forked;
}

int mf_foreign_ts_child(mf_foreign_ts *ts, int *err, int *changes)
{
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    struct mf_ts_child_setup cs = {
        .stdin_fd = ts->fd[0], .stdout_fd = ts->fd[1], .stderr_fd = ts->fd[2],
        .workdir = ts->workdir, .cpuset = ts->cpuset, .cpuset_size = ts->h.cpuset_size,
        .cgroup_procs_fd = ts->nfd > 3 ? ts->fd[3] : -1, .data_limit = ts->h.data_limit,
    };
    int step = mf_ts_child_setup_apply(&cs);
    *err = step ? errno : 0;
    *changes = -1;
    if (!step && mf_foreign_ts_env_set(ts)) {
        size_t n = 0;
        for (char **v = ts->set; *v; v++)
            n++;
        for (char **v = ts->unset; *v; v++)
            n++;
        *changes = n > INT32_MAX ? INT32_MAX : (int)n;
    }
    return step;
}

int mf_foreign_ts_serve(mf_foreign_ts *ts, int held, void (*after_child)(void))
{
    for (;;) {
        if (!held) {
            int got = next_request(ts);
            if (got <= 0)
                return got < 0 ? got : 1;
            if (!ts->loaded)
                return 2;
        }
        held = 0;
        ts->loaded = 1;
        pid_t pid = fork();
        if (pid == 0) {
            if (after_child)
                after_child();
            return 0;
        }
        forked(ts, pid, errno);
    }
}

