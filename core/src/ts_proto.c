/* The server side of the task server protocol (ts_proto.h). */
#include "ts_proto.h"

#include "util.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* A message of n bytes holds at most n strings: the argv and envp arrays take the buffer's
 * slots right after the message, on the page(s) its receiving wrote anyway; the buffer's
 * pages past what a request uses are never touched. */
#define SLOTS ((size_t)MF_TS_MAX_MSG + 3)
#define BUF_SIZE ((size_t)MF_TS_MAX_MSG + sizeof(char *) + SLOTS * sizeof(char *))
/* struct mf_ts_live before the message, rounded up so that buf keeps malloc's alignment. */
#define LIVE_SIZE ((sizeof(struct mf_ts_live) + 15) & ~(size_t)15)

int mf_ts_proto_open(struct mf_ts_proto *s, int req_fd, int evt_fd)
{
    memset(s, 0, sizeof *s);
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, NULL);
    s->sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
    if (s->sfd < 0)
        return errno;
    char *mem = calloc(1, LIVE_SIZE + BUF_SIZE);   /* calloc: mmap'ed, already zero */
    if (!mem) {
        close(s->sfd);
        s->sfd = -1;
        return ENOMEM;
    }
    s->live = (struct mf_ts_live *)mem;
    s->buf = mem + LIVE_SIZE;
    s->req_fd = req_fd;
    s->evt_fd = evt_fd;
    return 0;
}

void mf_ts_proto_close(struct mf_ts_proto *s)
{
    if (s->sfd >= 0)
        close(s->sfd);
    s->sfd = -1;
    free(s->pending);
    free(s->live);   /* the start of the buffer's allocation */
    s->pending = NULL;
    s->buf = NULL;
    s->live = NULL;
    s->npending = s->cap_pending = 0;
}

void mf_ts_proto_close_fds(struct mf_ts_proto_request *r)
{
    /* The fds of one message are installed at the lowest free numbers: nearly always one
     * run of them, closed in one call rather than one a fd. */
    int lo = r->nfd ? r->fd[0] : 0, hi = lo;
    for (int i = 1; i < r->nfd; i++) {
        lo = r->fd[i] < lo ? r->fd[i] : lo;
        hi = r->fd[i] > hi ? r->fd[i] : hi;
    }
#ifdef SYS_close_range
    if (r->nfd > 1 && hi - lo == r->nfd - 1 &&
        syscall(SYS_close_range, (unsigned)lo, (unsigned)hi, 0u) == 0) {
        r->nfd = 0;
        return;
    }
#endif
    for (int i = 0; i < r->nfd; i++)
        close(r->fd[i]);
    r->nfd = 0;
}

int mf_ts_proto_take_strings(char **p, const char *end, uint32_t n, char **v)
{
    for (uint32_t i = 0; i < n; i++) {
        char *nul = memchr(*p, '\0', (size_t)(end - *p));
        if (!nul)
            return -1;
        v[i] = *p;
        *p = nul + 1;
    }
    v[n] = NULL;
    return 0;
}

/* The fds a message carried: the first MF_TS_MAX_FDS into r (when not NULL), the others
 * closed. */
static void take_fds(struct msghdr *m, struct mf_ts_proto_request *r)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < k; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
            if (r && r->nfd < MF_TS_MAX_FDS)
                r->fd[r->nfd++] = fd;
            else
                close(fd);
        }
    }
}

/* The next message into s->buf (peek: MSG_PEEK or 0), its fds into r (NULL: closed), *trunc
 * whether the message or its fds were cut. Its length, 0 at the end, or -1. */
static ssize_t recv_request(struct mf_ts_proto *s, struct mf_ts_proto_request *r, int peek,
                            int *trunc)
{
    union {
        char b[CMSG_SPACE(MF_TS_MAX_FDS * sizeof(int))];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = {s->buf, MF_TS_MAX_MSG};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b,
                       .msg_controllen = sizeof ctl.b};
    ssize_t n;
    do
        n = recvmsg(s->req_fd, &m, MSG_CMSG_CLOEXEC | peek);
    while (n < 0 && errno == EINTR);
    if (n <= 0)
        return n;
    if (r)
        memset(r, 0, sizeof *r);
    take_fds(&m, r);   /* a peek installs the fds too: these copies are closed */
    *trunc = (m.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0;
    return n;
}

ssize_t mf_ts_proto_peek(struct mf_ts_proto *s)
{
    int trunc;
    return recv_request(s, NULL, MSG_PEEK, &trunc);
}

int mf_ts_proto_receive(struct mf_ts_proto *s, struct mf_ts_proto_request *r)
{
    char *buf = s->buf;
    int trunc;
    ssize_t n = recv_request(s, r, 0, &trunc);
    if (n == 0)
        return 0;
    if (n < 0)
        return errno == ECONNRESET ? 0 : -1;
    char *p = buf, *end = buf + n;
    if (trunc || (size_t)n < sizeof r->h)
        goto bad;
    memcpy(&r->h, p, sizeof r->h);
    p += sizeof r->h;
    if (r->h.magic != MF_TS_MAGIC || r->h.nfds != (uint32_t)r->nfd || r->nfd < 3 ||
        r->h.argc < 1 || r->h.cpuset_size > (size_t)(end - p))
        goto bad;
    r->cpuset = r->h.cpuset_size ? p : NULL;
    p += r->h.cpuset_size;
    char **slots = (char **)(buf + (((size_t)n + sizeof(char *) - 1) & ~(sizeof(char *) - 1)));
    if ((size_t)r->h.argc + r->h.envc + 2 > SLOTS)
        goto bad;
    r->argv = slots;
    r->envp = slots + r->h.argc + 1;
    if (mf_ts_proto_take_strings(&p, end, r->h.argc, r->argv) != 0 ||
        mf_ts_proto_take_strings(&p, end, r->h.envc, r->envp) != 0)
        goto bad;
    if (r->h.has_workdir) {
        char *w[2];
        if (mf_ts_proto_take_strings(&p, end, 1, w) != 0)
            goto bad;
        r->workdir = w[0];
    }
    return 1;
bad:
    mf_ts_proto_close_fds(r);
    errno = EPROTO;
    return -1;
}

/* An event, sent at once where the socket takes it (it nearly always does: a queue written
 * between forks would be more pages to copy), else queued for flush_events. */
static void send_event(struct mf_ts_proto *s, struct mf_ts_event ev)
{
    if (!s->npending) {
        ssize_t w;
        do
            w = send(s->evt_fd, &ev, sizeof ev, MSG_DONTWAIT | MSG_NOSIGNAL);
        while (w < 0 && errno == EINTR);
        if (w == (ssize_t)sizeof ev)
            return;
    }
    if (mf_grow(&s->pending, &s->cap_pending, s->npending, sizeof *s->pending, 64)) {
        if (s->lost)
            s->lost(s->arg, ev.pid);
        return;
    }
    s->pending[s->npending++] = ev;   /* flush_events sends it, or finds the plugin gone */
}

static void live_add(struct mf_ts_live *l, pid_t pid)
{
    for (int i = 0; i < MF_TS_LIVE_SLOTS; i++)
        if (!l->pid[i]) {
            l->pid[i] = pid;
            l->n++;
            return;
        }
    l->untracked++;
}

/* A reaped child, out of the table when it is there. untracked is not counted down: the
 * pid might be no child of the server's (a library's), and only ECHILD says none is left. */
static void live_remove(struct mf_ts_live *l, pid_t pid)
{
    for (int i = 0; i < MF_TS_LIVE_SLOTS && l->n; i++)
        if (l->pid[i] == pid) {
            l->pid[i] = 0;
            l->n--;
            return;
        }
}

void mf_ts_proto_reply(struct mf_ts_proto *s, int32_t pid, int32_t err)
{
    if (pid > 0)
        live_add(s->live, pid);
    struct mf_ts_reply rep = {.pid = pid, .err = err};
    while (send(s->req_fd, &rep, sizeof rep, MSG_NOSIGNAL) < 0 && errno == EINTR)
        ;
    /* No child will exit for this request: the event says so, for a plugin that reads the
     * answers only when events come (protocol in sdk/include/mflow/task_server.h). */
    if (pid <= 0)
        send_event(s, (struct mf_ts_event){.pid = -1, .wstatus = 0});
}

/* After a SIGCHLD: wait4 while children of the server's are left and one ended (SIGCHLD does
 * not queue: one signal may stand for several exits, and a signal may come for a child a
 * wait4 before it reaped already). Another child of the process (a library's) is reaped
 * with them, or stays a zombie meanwhile: its exit goes to the plugin, which knows no such
 * pid, either way. */
static void reap(struct mf_ts_proto *s)
{
    struct mf_ts_live *l = s->live;
    int st;
    pid_t pid;
    struct rusage ru;
    while (l->n || l->untracked) {
        pid = wait4(-1, &st, WNOHANG, s->rusage ? &ru : NULL);
        if (pid < 0 && errno == ECHILD) {
            memset(l, 0, sizeof *l);   /* none left: whatever the table says */
            return;
        }
        if (pid <= 0)
            return;
        live_remove(l, pid);
        if (s->rusage)
            s->rusage(s->arg, pid, &ru);
        send_event(s, (struct mf_ts_event){.pid = pid, .wstatus = st});
    }
}

/* Send what the socket takes now. -1 when the plugin is gone. */
static int flush_events(struct mf_ts_proto *s)
{
    size_t k = 0;
    while (k < s->npending) {
        ssize_t w = send(s->evt_fd, &s->pending[k], sizeof s->pending[k],
                         MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (w < 0)
            return -1;
        k++;
    }
    memmove(s->pending, s->pending + k, (s->npending - k) * sizeof *s->pending);
    s->npending -= k;
    return 0;
}

int mf_ts_proto_wait(struct mf_ts_proto *s)
{
    for (;;) {
        struct pollfd p[3] = {
            {.fd = s->req_fd, .events = POLLIN},
            {.fd = s->sfd, .events = POLLIN},
            {.fd = s->evt_fd, .events = s->npending ? POLLOUT : 0},
        };
        if (poll(p, 3, -1) < 0 && errno != EINTR)
            return -errno;
        if (p[1].revents) {
            /* One read: SIGCHLD is the fd's only signal and does not queue, so this drains it.
             * Reading again until EAGAIN wrote errno on every wake, a copy-on-write fault on
             * the TLS page after each fork (perf: 432 of 504 tasks); reap waits for every
             * child that has ended whatever the count. */
            struct signalfd_siginfo si;
            (void)!read(s->sfd, &si, sizeof si);
            reap(s);
        }
        if (s->npending && flush_events(s) != 0)
            return 0;
        if (p[0].revents)
            return 1;
    }
}

void mf_ts_proto_share_code(void)
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
