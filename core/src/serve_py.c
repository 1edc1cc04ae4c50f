/* A worker's Python endpoint process (serve_py.h). The worker answers one request at a time, so
 * one process a worker is enough, and a Python crash costs that one request: the worker sees
 * the socket close, reaps the process, answers 500 and starts another. */
#include "serve_py.h"

#include "flowload.h"
#include "util.h"

#include <mflow/plugin.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PY_FD 3                      /* the socket's number in the Python process */
#define MAX_ANSWER ((64u << 20) + 3) /* what endpoint_server.py sends at most */

struct mf_serve_py {
    char *python;
    char *flow_path;
    char *ns;
    pid_t pid;                       /* -1: none */
    _Atomic int fd;                  /* our end of the socket pair; -1: none */
    _Atomic int stopping;            /* mf_serve_py_interrupt: start no other process */
};

int mf_serve_py_pid(const struct mf_serve_py *p)
{
    return p ? (int)p->pid : -1;
}

static int start(struct mf_serve_py *p)
{
    if (atomic_load(&p->stopping))
        return ESHUTDOWN;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return errno;
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    char *argv[] = {p->python, "-m", "mflow", "__endpoint-server", p->flow_path, p->ns, NULL};
    pid_t pid = fork();
    if (pid == 0) {
        /* Only async-signal-safe calls until exec: the worker has other threads. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);   /* the worker blocks SIGTERM for sigwait */
        signal(SIGPIPE, SIG_DFL);
        if (devnull >= 0)
            dup2(devnull, STDIN_FILENO);
        if (sv[1] == PY_FD)
            fcntl(PY_FD, F_SETFD, 0);
        else if (dup2(sv[1], PY_FD) < 0)
            _exit(127);
        execvp(p->python, argv);
        static const char msg[] = "mflow serve: cannot start Python for the flow's endpoints "
                                  "(set MFLOW_PYTHON)\n";
        ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
        (void)w;
        _exit(127);
    }
    int e = errno;
    close(sv[1]);
    if (devnull >= 0)
        close(devnull);
    if (pid < 0) {
        close(sv[0]);
        return e;
    }
    p->pid = pid;
    p->fd = sv[0];
    return 0;
}

/* How the process ended, reaped here (killed when it lingers after closing its socket). */
static char *reap(struct mf_serve_py *p)
{
    if (p->fd >= 0)
        close(p->fd);
    p->fd = -1;
    if (p->pid <= 0)
        return mf_strf("no Python process ran");
    int st = 0;
    pid_t r = 0;
    for (int i = 0; i < 2000 && (r = waitpid(p->pid, &st, WNOHANG)) == 0; i++) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    if (r == 0) {
        kill(p->pid, SIGKILL);
        r = waitpid(p->pid, &st, 0);
    }
    pid_t pid = p->pid;
    p->pid = -1;
    if (r != pid)
        return mf_strf("its Python process %d is gone", (int)pid);
    if (WIFSIGNALED(st))
        return mf_strf("its Python process %d was killed by signal %d, %s", (int)pid,
                       WTERMSIG(st), strsignal(WTERMSIG(st)));
    return mf_strf("its Python process %d exited with status %d", (int)pid, WEXITSTATUS(st));
}

int mf_serve_py_open(const char *flow_path, const char *ns, struct mf_serve_py **out)
{
    *out = NULL;
    struct mf_serve_py *p = calloc(1, sizeof *p);
    if (!p)
        return MF_ENOMEM;
    p->pid = -1;
    p->fd = -1;
    p->python = strdup(mf_python_exe());
    p->flow_path = strdup(flow_path);
    p->ns = strdup(ns ? ns : "");
    if (!p->python || !p->flow_path || !p->ns) {
        mf_serve_py_close(p);
        return MF_ENOMEM;
    }
    *out = p;
    return start(p);
}

void mf_serve_py_interrupt(struct mf_serve_py *p)
{
    if (!p)
        return;
    atomic_store(&p->stopping, 1);
    int fd = atomic_load(&p->fd);
    if (fd >= 0)
        shutdown(fd, SHUT_RDWR);   /* the call waiting on it reads the end of the stream */
}

void mf_serve_py_close(struct mf_serve_py *p)
{
    if (!p)
        return;
    free(reap(p));
    free(p->python);
    free(p->flow_path);
    free(p->ns);
    free(p);
}

static int write_all(int fd, const void *buf, size_t n)
{
    const char *b = buf;
    while (n) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Has the process ended? Looked at without reaping it: reap() does that. */
static int ended(const struct mf_serve_py *p)
{
    siginfo_t si;
    si.si_pid = 0;
    return p->pid > 0 && waitid(P_PID, (id_t)p->pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
           si.si_pid != 0;
}

/* 0, or -1 at the end of the stream (the process went), or an errno. A process that ended
 * while something it started still holds its end of the socket is gone too, found within
 * 200 ms, not when that holder lets go. */
static int read_all(const struct mf_serve_py *p, void *buf, size_t n)
{
    char *b = buf;
    while (n) {
        struct pollfd pf = {.fd = p->fd, .events = POLLIN};
        int pr = poll(&pf, 1, 200);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr < 0)
            return errno;
        if (pr == 0) {
            if (ended(p))
                return -1;
            continue;
        }
        ssize_t r = read(p->fd, b, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return errno;
        if (r == 0)
            return -1;
        b += r;
        n -= (size_t)r;
    }
    return 0;
}

static int send_request(struct mf_serve_py *p, const char *req, size_t len)
{
    unsigned char head[4] = {(unsigned char)(len >> 24), (unsigned char)(len >> 16),
                             (unsigned char)(len >> 8), (unsigned char)len};
    int rc = write_all(p->fd, head, 4);
    return rc ? rc : write_all(p->fd, req, len);
}

/* Is the process there to take a request? A socket that hung up, or that holds bytes nobody
 * asked for, is not; nor is a process that has ended while something it started still holds
 * its end of the socket (a launcher such as a pyenv shim killed before its exec: its helpers
 * inherited the descriptor). */
static int alive(struct mf_serve_py *p)
{
    if (p->fd < 0)
        return 0;
    struct pollfd pf = {.fd = p->fd, .events = POLLIN};
    return poll(&pf, 1, 0) == 0 && !ended(p);
}

int mf_serve_py_call(struct mf_serve_py *p, const char *req, size_t req_len, int *status,
                     char **body, size_t *body_len, char **why)
{
    *status = 0;
    *body = NULL;
    *body_len = 0;
    *why = NULL;
    if (req_len > UINT32_MAX)
        return MF_EINVAL;
    int rc = 0;
    for (int tries = 0; tries < 2; tries++) {
        if (!alive(p)) {
            if (p->pid > 0) {
                char *how = reap(p);
                fprintf(stderr, "mflow serve: %s between requests; starting another\n",
                        how ? how : "the endpoints' Python process went");
                free(how);
            }
            rc = start(p);
            if (rc)
                return rc;
        }
        rc = send_request(p, req, req_len);
        if (!rc)
            break;
        /* it went before it read the request: the request never ran, give it to another */
        char *how = reap(p);
        free(how);
    }
    if (rc)
        return rc;
    unsigned char head[4];
    rc = read_all(p, head, 4);
    uint32_t n = rc ? 0 : (uint32_t)head[0] << 24 | (uint32_t)head[1] << 16 |
                              (uint32_t)head[2] << 8 | head[3];
    char *buf = NULL;
    if (!rc && (n < 3 || n > MAX_ANSWER))
        rc = EPROTO;
    if (!rc && !(buf = malloc(n + 1)))
        return MF_ENOMEM;   /* the answer stays unread: the next call finds a bad stream */
    if (!rc)
        rc = read_all(p, buf, n);
    int st = 0;
    for (int i = 0; !rc && i < 3; i++) {
        if (buf[i] < '0' || buf[i] > '9')
            rc = EPROTO;
        st = st * 10 + (buf[i] - '0');
    }
    if (!rc && st != 200 && (st < 400 || st > 599))
        rc = EPROTO;
    if (rc) {
        free(buf);
        char *how = reap(p);
        if (rc == EPROTO)
            *why = mf_strf("its Python process answered outside the protocol (%s)",
                           how ? how : "out of memory");
        else
            *why = how;
        start(p);   /* for the next request; a failure to start is met there */
        return MF_EIO;
    }
    memmove(buf, buf + 3, n - 3);
    buf[n - 3] = '\0';
    *status = st;
    *body = buf;
    *body_len = n - 3;
    return 0;
}
