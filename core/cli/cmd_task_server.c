/* `mflow __task-server` (hidden): the task server, a host service to compute plugins
 * (sdk/include/mflow/task_server.h documents it and its protocol; local compute's
 * task_server.c is the client).
 *
 * A preloaded mflow that forks a child per task instead of the plugin exec'ing a fresh
 * `mflow task ...`: this saves the exec, the dynamic linking and the loading of the flow
 * and the storage plugin (about 0.5 ms a task here). The mflow command runs it with its own
 * main and preloader (main.c passes them in, so that this file and main.c do not call each
 * other): the first request has what every task loads loaded once; each child applies
 * mf_ts_child_setup_apply and runs its task's command line as a fresh `mflow` would, but
 * with everything already mapped. The preloader also sets up the host (settings, registry)
 * and opens the flow for the first request's options and environment; a child keeps them
 * only where its own would be the same (main.c, mf_host_take_prepared), else it makes its
 * own as an exec'ed task does. No plugin is loaded here: the children fork and exit as
 * light as the command itself (a plugin's libraries, hwloc's among them, would cost every
 * fork and exit their mappings and destructors).
 *
 * The server is single-threaded and keeps no state a task could see: each child is a copy
 * of the server as it was after loading, so tasks never share anything with each other.
 * It never writes to its stdout (the event socket) and exits when the plugin closes its
 * request socket. */
#include "cli.h"

#include "flowload.h"
#include "host.h"
#include "util.h"

#include <mflow/task_server.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED_BY_CLANG 1
#endif
#endif
#ifndef SANITIZED_BY_CLANG
#define SANITIZED_BY_CLANG 0
#endif
#if defined(__SANITIZE_ADDRESS__) || SANITIZED_BY_CLANG
#define SANITIZED 1
#else
#define SANITIZED 0
#endif

enum { REQ_FD = 0, EVT_FD = 1 };

struct request {
    struct mf_ts_request h;
    const void *cpuset;
    char **argv;             /* argc + 1, NULL-terminated; strings in the message buffer */
    char **envp;             /* envc + 1 */
    const char *workdir;     /* or NULL */
    int fd[MF_TS_MAX_FDS];
    int nfd;
};

/* Exit statuses not yet sent (the plugin reads them when it waits). */
static struct mf_ts_event *pending;
static size_t npending, cap_pending;
static mf_cmd_fn command_main;
static int leak_check = 1;   /* sanitized builds: this task ends by exit, for LSan's check */
/* MFLOW_TS_RUSAGE=FILE: one line a child as it is reaped, for measuring what a task costs:
 * "pid minflt majflt utime_us stime_us server_minflt" (the last the server's own count so
 * far, whose growth is what it writes between forks). -1 when unset. */
static int rusage_fd = -1;

static void close_fds(struct request *r)
{
    for (int i = 0; i < r->nfd; i++)
        close(r->fd[i]);
    r->nfd = 0;
}

/* The NUL-terminated strings of [*p, end): n of them into v[0..n-1], v[n] NULL. 0 or -1. */
static int take_strings(char **p, const char *end, uint32_t n, char **v)
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

/* Every page the server writes between two forks is a copy-on-write fault in the server (the
 * last child shares it) and a page-table change at the next fork. So a request's argv and
 * environment arrays are not allocated: they lie in the request buffer right after the
 * message, on the page(s) its receiving wrote anyway. A message of n bytes holds at most n
 * strings; the buffer's pages past what a request uses are never touched. */
#define REQ_SLOTS ((size_t)MF_TS_MAX_MSG + 3)
#define REQ_BUF_SIZE ((size_t)MF_TS_MAX_MSG + sizeof(char *) + REQ_SLOTS * sizeof(char *))

/* One request into r (strings point into buf). 1: got one; 0: the plugin closed the socket;
 * -1: a malformed request (its fds closed, errno set). */
static int receive(char *buf, struct request *r)
{
    union {
        char b[CMSG_SPACE(MF_TS_MAX_FDS * sizeof(int))];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = {buf, MF_TS_MAX_MSG};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b,
                       .msg_controllen = sizeof ctl.b};
    ssize_t n;
    do
        n = recvmsg(REQ_FD, &m, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n == 0)
        return 0;
    if (n < 0)
        return errno == ECONNRESET ? 0 : -1;
    memset(r, 0, sizeof *r);
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < k; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
            if (r->nfd < MF_TS_MAX_FDS)
                r->fd[r->nfd++] = fd;
            else
                close(fd);
        }
    }
    char *p = buf, *end = buf + n;
    if ((m.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || (size_t)n < sizeof r->h)
        goto bad;
    memcpy(&r->h, p, sizeof r->h);
    p += sizeof r->h;
    if (r->h.magic != MF_TS_MAGIC || r->h.nfds != (uint32_t)r->nfd || r->nfd < 3 ||
        r->h.argc < 1 || r->h.cpuset_size > (size_t)(end - p))
        goto bad;
    r->cpuset = r->h.cpuset_size ? p : NULL;
    p += r->h.cpuset_size;
    char **slots = (char **)(buf + (((size_t)n + sizeof(char *) - 1) & ~(sizeof(char *) - 1)));
    if ((size_t)r->h.argc + r->h.envc + 2 > REQ_SLOTS)
        goto bad;
    r->argv = slots;
    r->envp = slots + r->h.argc + 1;
    if (take_strings(&p, end, r->h.argc, r->argv) != 0 ||
        take_strings(&p, end, r->h.envc, r->envp) != 0)
        goto bad;
    if (r->h.has_workdir) {
        char *w[2];
        if (take_strings(&p, end, 1, w) != 0)
            goto bad;
        r->workdir = w[0];
    }
    return 1;
bad:
    close_fds(r);
    errno = EPROTO;
    return -1;
}

/* What the child could not set up goes to the task's stderr; the task then fails with 127,
 * as an exec that failed would. */
__attribute__((noreturn)) static void child_fail(const char *what)
{
    dprintf(2, "mflow: task server: %s: %s\n", what, strerror(errno));
    _exit(127);
}

/* The child: the setup a plugin applies between clone and exec too (mf_ts_child_setup_apply;
 * closing every fd from 3 also drops the server's sockets and signalfd), then the command. */
__attribute__((noreturn)) static void run_child(struct request *r)
{
    static const char *const what[] = {
        [MF_TS_STEP_SETUP] = "cannot set up the task's process group or stdin/stdout/stderr",
        [MF_TS_STEP_CHDIR] = "cannot enter the task's working directory (create it or fix the step's workdir)",
        [MF_TS_STEP_AFFINITY] = "cannot bind the task to its CPUs (set local.cpu_bind=off to run unbound)",
        [MF_TS_STEP_CGROUP] = "cannot move the task into its memory cgroup (set local.memory_limit=rlimit instead)",
        [MF_TS_STEP_RLIMIT] = "cannot set the task's memory limit (RLIMIT_DATA)",
    };
    struct mf_ts_child_setup cs = {
        .stdin_fd = r->fd[0], .stdout_fd = r->fd[1], .stderr_fd = r->fd[2],
        .workdir = r->workdir, .cpuset = r->cpuset, .cpuset_size = r->h.cpuset_size,
        .cgroup_procs_fd = r->nfd > 3 ? r->fd[3] : -1, .data_limit = r->h.data_limit,
    };
    int step = mf_ts_child_setup_apply(&cs);
    if (step)
        child_fail(what[step]);
    environ = r->envp;
    prctl(PR_SET_NAME, "mflow-task", 0, 0, 0);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    int code = command_main((int)r->h.argc, r->argv);
    /* What exit would do that a task needs is flush its output: the destructors of every
     * library the server loaded, each a page fault (and copy) in a forked child, are of no
     * use to it. A sanitized build keeps exit for the leak check it runs there, on the tasks
     * leak_check chose and on every task that failed. */
    if (SANITIZED && (leak_check || code != 0))
        exit(code);
    fflush(NULL);
    _exit(code);
}

#if SANITIZED
/* LSan's check at a task's exit costs 30-40 ms of CPU under the sanitizers, half of what the
 * e2e suite spends in them (a 200-task foreach pays it 200 times). Every task of a step runs
 * the same code from the same forked image, so a leak shows in its first tasks: a sanitized
 * server checks the first two tasks of each step, every 16th task and every task that fails
 * (MFLOW_TS_LEAK_CHECK=all checks every task). */
static struct seen_step {
    char *name;
    unsigned n;
} seen[64];

static int choose_leak_check(const struct request *r)
{
    static unsigned forked;
    const char *all = getenv("MFLOW_TS_LEAK_CHECK");
    if ((all && !strcmp(all, "all")) || forked++ % 16 == 0)
        return 1;
    const char *step = NULL;   /* argv: ... task FLOW STEP ... */
    for (uint32_t i = 0; i + 2 < r->h.argc; i++)
        if (!strcmp(r->argv[i], "task")) {
            step = r->argv[i + 2];
            break;
        }
    if (!step)
        return 1;
    for (size_t i = 0; i < sizeof seen / sizeof seen[0]; i++) {
        if (!seen[i].name && !(seen[i].name = strdup(step)))
            return 1;
        if (!strcmp(seen[i].name, step))
            return seen[i].n++ < 2;
    }
    return 1;   /* more steps than the table holds: check them all */
}
#endif

static void reap(void)
{
    int st;
    pid_t pid;
    struct rusage ru;
    while ((pid = wait4(-1, &st, WNOHANG, rusage_fd >= 0 ? &ru : NULL)) > 0) {
        if (rusage_fd >= 0) {
            struct rusage self;
            getrusage(RUSAGE_SELF, &self);
            dprintf(rusage_fd, "%d %ld %ld %lld %lld %ld\n", (int)pid, ru.ru_minflt, ru.ru_majflt,
                    (long long)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec,
                    (long long)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec, self.ru_minflt);
        }
        /* Sent at once where the socket takes it (it nearly always does): a queue written
         * between forks would be more pages to copy. */
        struct mf_ts_event ev = {.pid = pid, .wstatus = st};
        ssize_t w;
        if (!npending) {
            do
                w = send(EVT_FD, &ev, sizeof ev, MSG_DONTWAIT | MSG_NOSIGNAL);
            while (w < 0 && errno == EINTR);
            if (w == (ssize_t)sizeof ev)
                continue;
        }
        if (mf_grow(&pending, &cap_pending, npending, sizeof *pending, 64)) {
            dprintf(2, "mflow: task server: out of memory; the exit of pid %d is lost\n", (int)pid);
            continue;
        }
        pending[npending++] = ev;   /* flush_events sends it, or finds the plugin gone */
    }
}

/* Send what the socket takes now. -1 when the plugin is gone. */
static int flush_events(void)
{
    size_t k = 0;
    while (k < npending) {
        ssize_t w = send(EVT_FD, &pending[k], sizeof pending[k], MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (w < 0)
            return -1;
        k++;
    }
    memmove(pending, pending + k, (npending - k) * sizeof *pending);
    npending -= k;
    return 0;
}

/* Whether the next request runs a task of a flow written in Python: its message is peeked
 * (left queued, with its fds, for whoever reads it next). */
static int next_is_py(char *buf)
{
    union {
        char b[CMSG_SPACE(MF_TS_MAX_FDS * sizeof(int))];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = {buf, MF_TS_MAX_MSG};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b,
                       .msg_controllen = sizeof ctl.b};
    ssize_t n;
    do
        n = recvmsg(REQ_FD, &m, MSG_PEEK | MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    /* a peek installs the fds too: these copies are ours to close */
    for (struct cmsghdr *c = n > 0 ? CMSG_FIRSTHDR(&m) : NULL; c; c = CMSG_NXTHDR(&m, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < k; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
            close(fd);
        }
    }
    struct mf_ts_request h;
    if (n < (ssize_t)sizeof h)
        return 0;
    memcpy(&h, buf, sizeof h);
    if (h.magic != MF_TS_MAGIC || h.cpuset_size > (size_t)n - sizeof h)
        return 0;
    char *p = buf + sizeof h + h.cpuset_size, *end = buf + n;
    char **argv = NULL;
    if (h.argc < 1 || h.argc > 64 || !(argv = malloc(((size_t)h.argc + 1) * sizeof *argv)) ||
        take_strings(&p, end, h.argc, argv) != 0) {
        free(argv);
        return 0;
    }
    int py = 0;
    for (uint32_t i = 1; i + 1 < h.argc; i++)
        if (!strcmp(argv[i], "task")) {
            py = mf_flow_is_py(argv[i + 1]);
            break;
        }
    free(argv);
    return py;
}

/* Become the Python SDK's task server (`python3 -m mflow __task-server`, on the same sockets,
 * the hello already sent): it imports the flow once and forks every task from there. Returns
 * only when that cannot start; this server then goes on, each task exec'ing python3. */
static void become_python(void)
{
    if (mf_python_env() != 0)
        return;
    const char *py = mf_python_exe();
    char *argv[] = {(char *)py, "-m", "mflow", "__task-server", NULL};
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execvp(py, argv);
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, NULL);
    dprintf(2, "mflow: task server: cannot run %s for the Python flow's tasks (%s); each task "
               "starts its own\n",
            py, strerror(errno));
}

/* Linux's fork copies the page-table entries of a mapping only when it holds private pages,
 * so every child mapped again each page of code and read-only data it ran (half of a trivial
 * task's page faults). Each read-only file mapping here is given one private page (a byte
 * written back with its own value): the children then start with the server's pages
 * mapped. A mapping that cannot be made writable for a moment is left as it is. Not under
 * strict overcommit (mode 2), where a mapping once writable is charged to every child. */
static void share_code_mappings(void)
{
    FILE *f = fopen("/proc/sys/vm/overcommit_memory", "re");
    int mode = f && fgetc(f) == '2';
    if (f)
        fclose(f);
    if (mode || !(f = fopen("/proc/self/maps", "re")))
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

static void reply(int32_t pid, int32_t err)
{
    struct mf_ts_reply rep = {.pid = pid, .err = err};
    while (send(REQ_FD, &rep, sizeof rep, MSG_NOSIGNAL) < 0 && errno == EINTR)
        ;
}

int cmd_task_server(int argc, char **argv, mf_cmd_fn run, void (*preload)(int argc, char **argv))
{
    (void)argc;
    (void)argv;
    command_main = run;
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, NULL);
    int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
    /* Kept in a static too: a forked task ends (in sanitized builds by exit, for LSan) deep
     * below this frame, where the compiler no longer keeps buf, and LSan called it a leak. */
    static char *req_buf;
    char *buf = req_buf = malloc(REQ_BUF_SIZE);
    int preloaded = 0;
    const char *rf = getenv("MFLOW_TS_RUSAGE");
    if (rf && *rf)
        rusage_fd = open(rf, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    struct mf_ts_hello hello = {.magic = MF_TS_MAGIC, .version = MF_TS_VERSION, .pid = getpid()};
    if (sfd < 0 || !buf || send(REQ_FD, &hello, sizeof hello, MSG_NOSIGNAL) != sizeof hello) {
        cli_error("__task-server: cannot start: %s (a compute plugin starts it with its sockets "
                  "as stdin and stdout; it is not a command to run by hand)",
                  strerror(errno));
        return 1;
    }
    for (;;) {
        struct pollfd p[3] = {
            {.fd = REQ_FD, .events = POLLIN},
            {.fd = sfd, .events = POLLIN},
            {.fd = EVT_FD, .events = npending ? POLLOUT : 0},
        };
        if (poll(p, 3, -1) < 0 && errno != EINTR)
            break;
        if (p[1].revents) {
            struct signalfd_siginfo si;
            while (read(sfd, &si, sizeof si) > 0)
                ;
            reap();
        }
        if (npending && flush_events() != 0)
            break;
        if (!p[0].revents)
            continue;
        /* The first task of a flow written in Python: Python's own server serves them all
         * (MFLOW_PY_TASK_SERVER=0 keeps this one, each task exec'ing python3). */
        const char *pyts = getenv("MFLOW_PY_TASK_SERVER");
        if (!preloaded && !(pyts && !strcmp(pyts, "0")) && next_is_py(buf)) {
            preloaded = 1;
            become_python();
        }
        struct request r;
        int got = receive(buf, &r);
        if (got == 0)
            break;
        if (got < 0) {
            reply(-1, errno);
            continue;
        }
        if (!preloaded) {
            /* What every task of the run loads (the flow's .so, the storage plugin). */
            preloaded = 1;
            /* Settings are read from the environment the tasks get, not the server's. */
            char **own = environ;
            environ = r.envp;
            preload((int)r.h.argc, r.argv);
            environ = own;
            share_code_mappings();
        }
#if SANITIZED
        leak_check = choose_leak_check(&r);
#endif
        pid_t pid = fork();
        if (pid == 0)
            run_child(&r);
        int e = errno;
        close_fds(&r);
        reply(pid > 0 ? pid : -1, pid > 0 ? 0 : e);
    }
    /* The plugin is gone or done: its jobs were killed; leave their reaping to init. */
    free(req_buf);
    return 0;
}
