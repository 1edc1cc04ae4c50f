/* The client side of the task server, a host service (sdk/include/mflow/task_server.h):
 * start `mflow __task-server` once, hand it each job's command line, environment and fds, read back the child's pid and,
 * later, its exit status. A job started this way is not this process's child: its exit is
 * known from the server's event, never from waitpid. */
#include "local_int.h"

#include <mflow/task_server.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Safety limits, not tuning: the hello comes within a few ms here and a reply within
 * 0.1 ms; only a hung server reaches them, and its jobs are then exec'ed. */
#define HELLO_TIMEOUT_MS 10000
#define REPLY_TIMEOUT_MS 10000

struct local_server {
    pid_t pid;
    int req;         /* requests and replies */
    int evt;         /* exit events */
    int ready;       /* its hello came */
    char *exe;       /* for messages */
    double started;  /* monotonic seconds */
    char *buf;       /* MF_TS_MAX_MSG bytes for building requests */
};

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int wait_readable(int fd, int ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int r;
    do
        r = poll(&p, 1, ms);
    while (r < 0 && errno == EINTR);
    return r;
}

/* The server exits as soon as it sees EOF: its pidfd says when (a 10 ms sleep between
 * looks put up to 10 ms on the end of every run); without one, look every 10 ms. */
static void reap_server(pid_t pid)
{
    int pfd = local_pidfd_open(pid);
    if (pfd >= 0) {
        struct pollfd p = {.fd = pfd, .events = POLLIN};
        double until = mono() + 2.0;
        int r;
        do
            r = poll(&p, 1, (int)((until - mono()) * 1000) + 1);
        while (r < 0 && errno == EINTR && mono() < until);
        close(pfd);
    }
    for (int tries = 0; tries < 200; tries++) {
        pid_t r = waitpid(pid, NULL, WNOHANG);
        if (r == pid || (r < 0 && errno != EINTR))
            return;
        poll(NULL, 0, 10);
    }
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
}

void local_server_stop(struct local_server *s)
{
    if (!s)
        return;
    if (s->req >= 0)
        close(s->req);   /* the server sees EOF and exits */
    if (s->evt >= 0)
        close(s->evt);
    if (s->pid > 0)
        reap_server(s->pid);
    free(s->exe);
    free(s->buf);
    free(s);
}

int local_server_start(const char *exe, struct local_server **out, char *err, size_t errlen)
{
    *out = NULL;
    struct local_server *s = calloc(1, sizeof *s);
    int rq[2] = {-1, -1}, ev[2] = {-1, -1}, errfd = -1, rc = 0;
    if (!s || !(s->buf = malloc(MF_TS_MAX_MSG)) || !(s->exe = strdup(exe))) {
        if (s)
            free(s->buf);
        free(s);
        snprintf(err, errlen, "task server: out of memory");
        return ENOMEM;
    }
    s->req = s->evt = -1;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, rq) != 0 ||
        socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ev) != 0) {
        rc = errno;
        snprintf(err, errlen, "task server: socketpair: %s", strerror(rc));
        goto fail;
    }
    for (int i = 0; i < 2; i++) {
        rq[i] = local_fd_above_stdio(rq[i]);
        ev[i] = local_fd_above_stdio(ev[i]);
    }
    errfd = fcntl(2, F_DUPFD_CLOEXEC, 3);
    if (rq[0] < 0 || rq[1] < 0 || ev[0] < 0 || ev[1] < 0 || errfd < 0) {
        rc = errno ? errno : EBADF;
        snprintf(err, errlen, "task server: setting up its sockets: %s", strerror(rc));
        goto fail;
    }
    const char *argv[] = {exe, "__task-server", NULL};
    /* Every symbol resolved once in the server, not again on first call in each child (lazy
     * binding showed as a few percent of a trivial task). Tasks get their own environment. */
    const char *env[] = {"LD_BIND_NOW=1", NULL};
    struct local_spawn_req sp = {
        .argv = argv,
        .env = env,
        .cgroup_procs_fd = -1,
        .stdin_fd = rq[1],
        .stdout_fd = ev[1],
        .stderr_fd = errfd,
    };
    rc = local_spawn(&sp, "task-server", &s->pid, err, errlen);
    if (rc)
        goto fail;
    close(rq[1]);
    close(ev[1]);
    rq[1] = ev[1] = -1;
    s->req = rq[0];
    s->evt = ev[0];
    rq[0] = ev[0] = -1;
    /* A reply is waited for in its recv, not in a poll before it (one system call a task). */
    struct timeval tv = {.tv_sec = REPLY_TIMEOUT_MS / 1000, .tv_usec = REPLY_TIMEOUT_MS % 1000 * 1000};
    setsockopt(s->req, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    s->started = mono();
    close(errfd);
    *out = s;
    return 0;

fail:
    for (int i = 0; i < 2; i++) {
        if (rq[i] >= 0)
            close(rq[i]);
        if (ev[i] >= 0)
            close(ev[i]);
    }
    if (errfd >= 0)
        close(errfd);
    if (s->pid > 0)
        kill(s->pid, SIGKILL);
    local_server_stop(s);
    return rc ? rc : EIO;
}

int local_server_ready(struct local_server *s, int wait, char *err, size_t errlen)
{
    if (s->ready)
        return 1;
    int left = (int)((s->started + HELLO_TIMEOUT_MS / 1000.0 - mono()) * 1000);
    int r = wait_readable(s->req, wait && left > 0 ? left : 0);
    if (r == 0) {
        if (mono() - s->started < HELLO_TIMEOUT_MS / 1000.0)
            return 0;
        snprintf(err, errlen, "task server: %s did not answer within %d s", s->exe,
                 HELLO_TIMEOUT_MS / 1000);
        return -1;
    }
    struct mf_ts_hello h;
    ssize_t n = r > 0 ? recv(s->req, &h, sizeof h, 0) : -1;
    if (n != (ssize_t)sizeof h || h.magic != MF_TS_MAGIC || h.version != MF_TS_VERSION) {
        snprintf(err, errlen, "task server: %s did not answer as a version %u task server",
                 s->exe, MF_TS_VERSION);
        return -1;
    }
    s->ready = 1;
    return 1;
}

/* Append v's strings (NUL-terminated) at *p; 0, or -1 when past end. */
static int put_strings(char **p, const char *end, const char *const *v, uint32_t *count)
{
    uint32_t n = 0;
    for (; v && v[n]; n++) {
        size_t len = strlen(v[n]) + 1;
        if ((size_t)(end - *p) < len)
            return -1;
        memcpy(*p, v[n], len);
        *p += len;
    }
    *count = n;
    return 0;
}

int local_server_send(struct local_server *s, const struct local_spawn_req *req,
                      const char *name, char *err, size_t errlen)
{
    char **envp = local_build_env(req->env, req->env_forced, req->env_defaults);
    if (!envp) {
        snprintf(err, errlen, "job %s: out of memory building its environment", name);
        return ENOMEM;
    }
    struct mf_ts_request h = {
        .magic = MF_TS_MAGIC,
        .nfds = req->cgroup_procs_fd >= 0 ? 4 : 3,
        .cpuset_size = req->cpuset ? (uint32_t)req->cpuset_size : 0,
        .has_workdir = req->workdir != NULL,
        .data_limit = req->data_limit,
    };
    char *p = s->buf, *end = s->buf + MF_TS_MAX_MSG;
    p += sizeof h;
    int too_big = (size_t)(end - p) < h.cpuset_size;
    if (!too_big) {
        if (h.cpuset_size)
            memcpy(p, req->cpuset, h.cpuset_size);
        p += h.cpuset_size;
        const char *const wd[] = {req->workdir, NULL};
        uint32_t nwd;
        too_big = put_strings(&p, end, req->argv, &h.argc) != 0 ||
                  put_strings(&p, end, (const char *const *)envp, &h.envc) != 0 ||
                  (req->workdir && put_strings(&p, end, wd, &nwd) != 0);
    }
    free(envp);
    if (too_big)
        return EMSGSIZE;   /* the caller execs this one */
    memcpy(s->buf, &h, sizeof h);

    int fds[MF_TS_MAX_FDS] = {req->stdin_fd, req->stdout_fd, req->stderr_fd, req->cgroup_procs_fd};
    union {
        char b[CMSG_SPACE(MF_TS_MAX_FDS * sizeof(int))];
        struct cmsghdr align;
    } ctl;
    memset(&ctl, 0, sizeof ctl);
    struct iovec iov = {s->buf, (size_t)(p - s->buf)};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b,
                       .msg_controllen = CMSG_SPACE(h.nfds * sizeof(int))};
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(h.nfds * sizeof(int));
    memcpy(CMSG_DATA(c), fds, h.nfds * sizeof(int));
    ssize_t w;
    do
        w = sendmsg(s->req, &m, MSG_NOSIGNAL);
    while (w < 0 && errno == EINTR);
    if (w < 0) {
        int e = errno;
        if (e == EMSGSIZE || e == ENOBUFS)
            return EMSGSIZE;
        snprintf(err, errlen, "job %s: sending it to the task server: %s", name, strerror(e));
        return EPIPE;
    }
    return 0;
}

int local_server_reply(struct local_server *s, int wait, const char *name, pid_t *pid, char *err,
                       size_t errlen)
{
    struct mf_ts_reply rep;
    ssize_t n;
    do   /* waiting, within SO_RCVTIMEO (REPLY_TIMEOUT_MS): then EAGAIN */
        n = recv(s->req, &rep, sizeof rep, wait ? 0 : MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    if (!wait && n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return 0;
    if (n != (ssize_t)sizeof rep) {
        snprintf(err, errlen, "job %s: the task server did not answer (%s)", name,
                 n == 0 ? "it exited" : n < 0 ? strerror(errno) : "a short reply");
        return -EPIPE;
    }
    if (rep.pid <= 0) {
        int e = rep.err > 0 ? rep.err : EIO;
        snprintf(err, errlen, "job %s: the task server cannot create a process: %s (too many processes? lower --max-workers)",
                 name, strerror(e));
        return -e;
    }
    *pid = rep.pid;
    return 1;
}

int local_server_event_fd(const struct local_server *s)
{
    return s->evt;
}

/* Every event waiting, EVENTS_AT_ONCE to a call: fewer than that means the socket is empty,
 * where reading one at a time took one more recv, answered EAGAIN, on every wake. */
#define EVENTS_AT_ONCE 16

int local_server_events(struct local_server *s, local_server_exit_fn fn, void *ud)
{
    for (;;) {
        struct mf_ts_event e[EVENTS_AT_ONCE];
        struct iovec iov[EVENTS_AT_ONCE];
        struct mmsghdr m[EVENTS_AT_ONCE];
        memset(m, 0, sizeof m);
        for (int i = 0; i < EVENTS_AT_ONCE; i++) {
            iov[i] = (struct iovec){&e[i], sizeof e[i]};
            m[i].msg_hdr.msg_iov = &iov[i];
            m[i].msg_hdr.msg_iovlen = 1;
        }
        int n = recvmmsg(s->evt, m, EVENTS_AT_ONCE, MSG_DONTWAIT, NULL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (n <= 0)
            return -1;
        for (int i = 0; i < n; i++) {
            /* EOF reads as an empty message: the server is gone (so is a malformed event) */
            if (m[i].msg_len != sizeof e[i] || (m[i].msg_hdr.msg_flags & MSG_TRUNC))
                return -1;
            fn(ud, e[i].pid, e[i].wstatus);
        }
        if (n < EVENTS_AT_ONCE)
            return 0;
    }
}
