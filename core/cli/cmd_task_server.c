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
#include "ts_proto.h"

#include <mflow/task_server.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
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

/* The protocol's state: in a static, because a forked task ends (in sanitized builds by exit,
 * for LSan) deep below cmd_task_server's frame, where the compiler no longer keeps it, and
 * LSan called its buffer a leak. */
static struct mf_ts_proto ts;
static mf_cmd_fn command_main;
static int leak_check = 1;   /* sanitized builds: this task ends by exit, for LSan's check */
/* MFLOW_TS_RUSAGE=FILE: one line a child as it is reaped, for measuring what a task costs:
 * "pid minflt majflt utime_us stime_us server_minflt" (the last the server's own count so
 * far, whose growth is what it writes between forks), and at the server's end one line
 * "server utime_us stime_us minflt majflt" of its own. -1 when unset. */
static int rusage_fd = -1;

/* What the child could not set up goes to the task's stderr; the task then fails with 127,
 * as an exec that failed would. */
__attribute__((noreturn)) static void child_fail(const char *what)
{
    dprintf(2, "mflow: task server: %s: %s\n", what, strerror(errno));
    _exit(127);
}

/* The child: the setup a plugin applies between clone and exec too (mf_ts_child_setup_apply;
 * closing every fd from 3 also drops the server's sockets and signalfd), then the command. */
__attribute__((noreturn)) static void run_child(struct mf_ts_proto_request *r)
{
    static const char *const what[] = {
        [MF_TS_STEP_SETUP] = "cannot set up the task's process group or stdin/stdout/stderr",
        [MF_TS_STEP_CHDIR] = "cannot enter the task's working directory (create it or fix the step's workdir)",
        [MF_TS_STEP_AFFINITY] = "cannot bind the task to its CPUs (set local.cpu_bind=off to run unbound)",
        [MF_TS_STEP_CGROUP] = "cannot move the task into its memory cgroup (set local.memory_limit=rlimit instead)",
        [MF_TS_STEP_RLIMIT] = "cannot set the task's memory limit (RLIMIT_DATA)",
    };
    int step = mf_ts_proto_child_setup(r);
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

static int choose_leak_check(const struct mf_ts_proto_request *r)
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

static void log_rusage(void *arg, pid_t pid, const struct rusage *ru)
{
    (void)arg;
    struct rusage self;
    getrusage(RUSAGE_SELF, &self);
    dprintf(rusage_fd, "%d %ld %ld %lld %lld %ld\n", (int)pid, ru->ru_minflt, ru->ru_majflt,
            (long long)ru->ru_utime.tv_sec * 1000000 + ru->ru_utime.tv_usec,
            (long long)ru->ru_stime.tv_sec * 1000000 + ru->ru_stime.tv_usec, self.ru_minflt);
}

static void lost_exit(void *arg, pid_t pid)
{
    (void)arg;
    dprintf(2, "mflow: task server: out of memory; the exit of pid %d is lost\n", (int)pid);
}

/* Whether the next request runs a task of a flow written in Python: its message is peeked
 * (left queued, with its fds, for whoever reads it next). */
static int next_is_py(void)
{
    char *buf = ts.buf;
    ssize_t n = mf_ts_proto_peek(&ts);
    struct mf_ts_request h;
    if (n < (ssize_t)sizeof h)
        return 0;
    memcpy(&h, buf, sizeof h);
    if (h.magic != MF_TS_MAGIC || h.cpuset_size > (size_t)n - sizeof h)
        return 0;
    char *p = buf + sizeof h + h.cpuset_size, *end = buf + n;
    char **argv = NULL;
    if (h.argc < 1 || h.argc > 64 || !(argv = malloc(((size_t)h.argc + 1) * sizeof *argv)) ||
        mf_ts_proto_take_strings(&p, end, h.argc, argv) != 0) {
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

int cmd_task_server(int argc, char **argv, mf_cmd_fn run, void (*preload)(int argc, char **argv))
{
    (void)argc;
    (void)argv;
    command_main = run;
    int oe = mf_ts_proto_open(&ts, REQ_FD, EVT_FD);
    int preloaded = 0;
    const char *rf = getenv("MFLOW_TS_RUSAGE");
    if (rf && *rf && (rusage_fd = open(rf, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) >= 0)
        ts.rusage = log_rusage;
    ts.lost = lost_exit;
    struct mf_ts_hello hello = {.magic = MF_TS_MAGIC, .version = MF_TS_VERSION, .pid = getpid()};
    if (oe || send(REQ_FD, &hello, sizeof hello, MSG_NOSIGNAL) != sizeof hello) {
        /* The plugin went away before the server was up (a run that stopped at its set-up,
         * e.g. a bad parameter, after starting the server ahead): nobody to serve or tell. */
        if (!oe && (errno == EPIPE || errno == ECONNRESET)) {
            mf_ts_proto_close(&ts);
            return 0;
        }
        cli_error("__task-server: cannot start: %s (a compute plugin starts it with its sockets "
                  "as stdin and stdout; it is not a command to run by hand)",
                  strerror(oe ? oe : errno));
        mf_ts_proto_close(&ts);
        return 1;
    }
    while (mf_ts_proto_wait(&ts) > 0) {
        /* The first task of a flow written in Python: Python's own server serves them all
         * (MFLOW_PY_TASK_SERVER=0 keeps this one, each task exec'ing python3). */
        const char *pyts = getenv("MFLOW_PY_TASK_SERVER");
        if (!preloaded && !(pyts && !strcmp(pyts, "0")) && next_is_py()) {
            preloaded = 1;
            become_python();
        }
        struct mf_ts_proto_request r;
        int got = mf_ts_proto_receive(&ts, &r);
        if (got == 0)
            break;
        if (got < 0) {
            mf_ts_proto_reply(&ts, -1, errno);
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
            /* Sharing the code mappings (ts_proto.h) is a trade: each fork then copies the
             * page-table entries of every page of them the server has mapped (about 660 here,
             * libc's half of them) and each child's exit drops them again, while a child
             * saves the ~30 read faults that map the pages it runs. On the 2-core VM this
             * project runs on now (December 2026, 20 interleaved pairs of a 2000-task
             * foreach, split.py) it cost the server 0.037 ms a fork (median; more in 20 of
             * 20 pairs) and the children 0.010 ms more, not less (14 of 20), for 30 fewer
             * faults each (a read fault of a cached page is cheap here): 0.041 ms a task in
             * all. On the earlier VM, whose page faults cost 5x more, it was a win. Off, unless
             * MFLOW_TS_SHARE_CODE=1 (a machine whose faults are dear; test e2e_fork_cost). */
            const char *share = getenv("MFLOW_TS_SHARE_CODE");
            if (share && !strcmp(share, "1"))
                mf_ts_proto_share_code();
        }
#if SANITIZED
        leak_check = choose_leak_check(&r);
#endif
        pid_t pid = fork();
        if (pid == 0)
            run_child(&r);
        int e = errno;
        mf_ts_proto_close_fds(&r);
        mf_ts_proto_reply(&ts, pid > 0 ? pid : -1, pid > 0 ? 0 : e);
    }
    /* The plugin is gone or done: its jobs were killed; leave their reaping to init. */
    if (rusage_fd >= 0) {
        /* The server's own CPU and faults, for splitting a run's cost by process. */
        struct rusage self;
        getrusage(RUSAGE_SELF, &self);
        dprintf(rusage_fd, "server %lld %lld %ld %ld\n",
                (long long)self.ru_utime.tv_sec * 1000000 + self.ru_utime.tv_usec,
                (long long)self.ru_stime.tv_sec * 1000000 + self.ru_stime.tv_usec,
                self.ru_minflt, self.ru_majflt);
    }
    mf_ts_proto_close(&ts);
    return 0;
}
