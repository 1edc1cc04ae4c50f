/* Process spawning for the local compute plugin: environment, the child's setup between
 * clone and exec (process group, signals, stdio, working directory, CPU binding, memory
 * cgroup, resource limit), log files, and child-exit notification (pidfd, or a SIGCHLD
 * self-pipe where pidfds are unavailable). See local_int.h.
 *
 * Why not posix_spawn: it has no attribute for CPU affinity, a cgroup or a resource limit,
 * and applying them after it returns leaves a window in which the task runs (and forks)
 * unbound and unlimited. Setting them on the parent around the spawn does not work either:
 * a cgroup move or an RLIMIT_DATA below what the orchestrator already uses would hit the
 * orchestrator. So the child is made the way glibc's posix_spawn makes it,
 * clone(CLONE_VM | CLONE_VFORK) on a small stack of its own with every signal blocked, and
 * applies everything itself before exec: the same cost as posix_spawn, nothing copied, and
 * no moment where the task runs outside its limits. Between clone and exec the child calls
 * only system-call wrappers (no malloc, no locks), as glibc's own does. */
#include "local_int.h"

#include <mflow/task_server.h>   /* the child setup both ways of starting a task share */

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* ------------------------------------------------------------------------------------------ */
/* Environment: the host's, then the job's (later entries override earlier ones), then what
 * the plugin exports for the job's resources. */

static size_t key_len(const char *kv)
{
    const char *eq = strchr(kv, '=');
    return eq ? (size_t)(eq - kv) : strlen(kv);
}

/* kv's key is exactly key[0..klen). The first byte is compared first: every job's
 * environment is checked against the host's whole one, and most keys differ there. */
static int has_key(const char *kv, const char *key, size_t klen)
{
    return kv[0] == key[0] && strncmp(kv, key, klen) == 0 && kv[klen] == '=';
}

static size_t count(const char *const *v)
{
    size_t n = 0;
    while (v && v[n])
        n++;
    return n;
}

/* Some entry of v has key kv's key (kl bytes). */
static int any_has_key(const char *const *v, size_t n, const char *kv, size_t kl)
{
    for (size_t i = 0; i < n; i++)
        if (has_key(v[i], kv, kl))
            return 1;
    return 0;
}

/* The child's envp: pointers into environ, the job env and the plugin's entries (borrowed;
 * the array is malloc'ed). NULL when out of memory. */
char **local_build_env(const char *const *job_env, const char *const *forced,
                       const char *const *defaults)
{
    size_t nh = count((const char *const *)environ), nj = count(job_env);
    size_t nf = count(forced), nd = count(defaults);
    char **envp = malloc((nh + nj + nf + nd + 1) * sizeof *envp);
    if (!envp)
        return NULL;

    /* The first bytes of every key that can replace a host variable: a host variable whose
     * key starts otherwise is kept without looking through the lists (most of them). */
    uint64_t first[4] = {0};
    const char *const *lists[3] = {forced, defaults, job_env};
    size_t counts[3] = {nf, nd, nj};
    for (int l = 0; l < 3; l++)
        for (size_t i = 0; i < counts[l]; i++) {
            unsigned char c = (unsigned char)lists[l][i][0];
            first[c >> 6] |= (uint64_t)1 << (c & 63);
        }
    size_t n = 0;
    for (size_t h = 0; h < nh; h++) {
        const char *kv = environ[h];
        unsigned char c = (unsigned char)kv[0];
        if (first[c >> 6] & ((uint64_t)1 << (c & 63))) {
            size_t kl = key_len(kv);
            if (any_has_key(forced, nf, kv, kl) || any_has_key(defaults, nd, kv, kl) ||
                any_has_key(job_env, nj, kv, kl))
                continue;
        }
        envp[n++] = environ[h];
    }
    for (size_t j = 0; j < nj; j++) {
        const char *kv = job_env[j];
        size_t kl = key_len(kv);
        if (any_has_key(forced, nf, kv, kl))
            continue;   /* the job's resources decide it */
        if (any_has_key(job_env + j + 1, nj - j - 1, kv, kl))
            continue;   /* a later entry wins */
        envp[n++] = (char *)kv;
    }
    for (size_t f = 0; f < nf; f++)
        envp[n++] = (char *)forced[f];
    for (size_t d = 0; d < nd; d++)
        if (!any_has_key(job_env, nj, defaults[d], key_len(defaults[d])))
            envp[n++] = (char *)defaults[d];
    envp[n] = NULL;
    return envp;
}

/* ------------------------------------------------------------------------------------------ */
/* The child between clone and exec. It shares the parent's memory (the parent is suspended
 * until it execs or exits) but not its fd table or signal handlers. */


struct child_args {
    const struct local_spawn_req *req;
    char *const *envp;
    volatile int err;    /* errno of the step that failed */
    volatile int step;   /* enum child_step, 0 when it exec'ed */
};

__attribute__((noreturn)) static void child_fail(struct child_args *a, int step)
{
    a->err = errno;
    a->step = step;
    _exit(127);
}


static int child_main(void *arg)
{
    struct child_args *a = arg;
    const struct local_spawn_req *req = a->req;

    /* Every signal is blocked (by the parent, before clone): put each disposition back to
     * the default, so that no handler of the host can run here or be inherited as SIG_IGN.
     * glibc refuses its two internal signals; that is harmless. */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    for (int sig = 1; sig < _NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            sigaction(sig, &dfl, NULL);

    struct mf_ts_child_setup cs = {
        .stdin_fd = req->stdin_fd, .stdout_fd = req->stdout_fd, .stderr_fd = req->stderr_fd,
        .workdir = req->workdir, .cpuset = req->cpuset, .cpuset_size = req->cpuset_size,
        .cgroup_procs_fd = req->cgroup_procs_fd, .data_limit = req->data_limit,
    };
    int step = mf_ts_child_setup_apply(&cs);
    if (step)
        child_fail(a, step);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execvpe(req->argv[0], (char *const *)req->argv, a->envp);
    child_fail(a, MF_TS_STEP_EXEC);
}

/* ------------------------------------------------------------------------------------------ */

static void spawn_error(const struct local_spawn_req *req, const char *name, int step, int e,
                        char *err, size_t errlen)
{
    switch (step) {
    case MF_TS_STEP_CHDIR:
        if (e == ENOTDIR)
            snprintf(err, errlen, "job %s: working directory '%s' is not a directory (fix the step's workdir)",
                     name, req->workdir);
        else
            snprintf(err, errlen, "job %s: working directory '%s': %s (create it or fix the step's workdir)",
                     name, req->workdir, strerror(e));
        break;
    case MF_TS_STEP_AFFINITY:
        snprintf(err, errlen, "job %s: cannot bind it to CPUs %s: %s (are they online? set local.cpu_bind=off to run unbound)",
                 name, req->cpu_list ? req->cpu_list : "?", strerror(e));
        break;
    case MF_TS_STEP_CGROUP:
        snprintf(err, errlen, "job %s: cannot move it into its memory cgroup: %s (set local.memory_limit=rlimit to use a resource limit instead)",
                 name, strerror(e));
        break;
    case MF_TS_STEP_RLIMIT:
        snprintf(err, errlen, "job %s: cannot set its memory limit (RLIMIT_DATA of %llu bytes): %s", name,
                 req->data_limit, strerror(e));
        break;
    case MF_TS_STEP_EXEC:
        if (e == ENOENT)
            snprintf(err, errlen, "job %s: cannot run '%s': %s (is it installed and on PATH?)", name,
                     req->argv[0], strerror(e));
        else if (e == EACCES)
            snprintf(err, errlen, "job %s: cannot run '%s': %s (is it an executable file?)", name,
                     req->argv[0], strerror(e));
        else
            snprintf(err, errlen, "job %s: cannot run '%s': %s", name, req->argv[0], strerror(e));
        break;
    default:
        snprintf(err, errlen, "job %s: setting up its process (process group, stdin/stdout/stderr): %s", name,
                 strerror(e));
        break;
    }
}

int local_spawn(const struct local_spawn_req *req, const char *name, pid_t *pid, char *err,
                size_t errlen)
{
    char **envp = local_build_env(req->env, req->env_forced, req->env_defaults);
    if (!envp) {
        snprintf(err, errlen, "job %s: out of memory building its environment", name);
        return ENOMEM;
    }
    /* The child's stack: execvpe puts PATH + the file name on it (a VLA); the rest is small. */
    const char *path = getenv("PATH");
    size_t need = 32768 + (path ? strlen(path) : 0) + 2 * strlen(req->argv[0]) +
                  (count(req->argv) + 2) * sizeof(char *);
    long page = sysconf(_SC_PAGESIZE);
    size_t psz = page > 0 ? (size_t)page : 4096;
    size_t stack_size = (need + psz - 1) / psz * psz;
    if (stack_size < 65536)
        stack_size = 65536;
    void *stack = mmap(NULL, stack_size, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK | MAP_NORESERVE, -1, 0);
    if (stack == MAP_FAILED) {
        int e = errno;
        free(envp);
        snprintf(err, errlen, "job %s: cannot map a stack for the new process: %s", name, strerror(e));
        return e;
    }

    struct child_args a = {.req = req, .envp = envp, .err = 0, .step = 0};
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    /* Returns when the child has exec'ed or exited: then it is in its own group, bound and
     * limited before anyone can signal it or it runs a line of the task. */
    pid_t child = clone(child_main, (char *)stack + stack_size, CLONE_VM | CLONE_VFORK | SIGCHLD, &a);
    int clone_errno = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    munmap(stack, stack_size);
    free(envp);

    if (child < 0) {
        snprintf(err, errlen, "job %s: cannot create a process: %s (too many processes? lower --max-workers)",
                 name, strerror(clone_errno));
        return clone_errno;
    }
    if (a.step) {
        int e = a.err ? a.err : EIO;
        while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
            ;
        spawn_error(req, name, a.step, e, err, errlen);
        return e;
    }
    *pid = child;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */

int local_fd_above_stdio(int fd)
{
    if (fd < 0 || fd > 2)
        return fd;
    int moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    int saved = errno;
    close(fd);
    errno = saved;
    return moved;
}

/* mkdir -p of the directory part of path. 0 or errno. */
static int make_parents(const char *path)
{
    char *p = strdup(path);
    if (!p)
        return ENOMEM;
    int rc = 0;
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0700) != 0 && errno != EEXIST) {
            rc = errno;
            break;
        }
        *s = '/';
    }
    free(p);
    return rc;
}

int local_open_log(const char *path, const char *what, const char *name, int *fd, char *err,
                   size_t errlen)
{
    /* a job's output is the user's alone, like everything under the home */
    const int flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC;
    *fd = open(path, flags, 0600);
    if (*fd < 0 && errno == ENOENT) {
        int rc = make_parents(path);
        if (rc) {
            snprintf(err, errlen, "job %s: cannot create the directory of %s log '%s': %s (check that it is writable)",
                     name, what, path, strerror(rc));
            return rc;
        }
        *fd = open(path, flags, 0600);
    }
    if (*fd < 0) {
        int rc = errno;
        snprintf(err, errlen, "job %s: cannot open %s log '%s': %s (check that it is writable)", name,
                 what, path, strerror(rc));
        return rc;
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------ */

int local_pidfd_open(pid_t pid)
{
#ifdef SYS_pidfd_open
    return (int)syscall(SYS_pidfd_open, pid, 0);
#else
    (void)pid;
    errno = ENOSYS;
    return -1;
#endif
}

static int sigchld_pipe[2] = {-1, -1};
static volatile sig_atomic_t sigchld_wfd = -1;
static struct sigaction sigchld_old;
static unsigned sigchld_users;

static void on_sigchld(int sig, siginfo_t *si, void *uc)
{
    int saved = errno;
    int fd = sigchld_wfd;
    if (fd >= 0) {
        char c = 0;
        ssize_t w = write(fd, &c, 1);   /* a full pipe already says "something exited" */
        (void)w;
    }
    if (sigchld_old.sa_flags & SA_SIGINFO) {
        if (sigchld_old.sa_sigaction)
            sigchld_old.sa_sigaction(sig, si, uc);
    } else if (sigchld_old.sa_handler != SIG_DFL && sigchld_old.sa_handler != SIG_IGN) {
        sigchld_old.sa_handler(sig);
    }
    errno = saved;
}

int local_sigchld_install(void)
{
    if (sigchld_users++)
        return 0;
    if (pipe2(sigchld_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
        sigchld_users = 0;
        return errno;
    }
    sigchld_wfd = sigchld_pipe[1];
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigchld;
    sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_NOCLDSTOP;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGCHLD, &sa, &sigchld_old) != 0) {
        int rc = errno;
        sigchld_wfd = -1;
        close(sigchld_pipe[0]);
        close(sigchld_pipe[1]);
        sigchld_pipe[0] = sigchld_pipe[1] = -1;
        sigchld_users = 0;
        return rc;
    }
    return 0;
}

void local_sigchld_uninstall(void)
{
    if (!sigchld_users || --sigchld_users)
        return;
    struct sigaction cur;
    if (sigaction(SIGCHLD, NULL, &cur) == 0 && (cur.sa_flags & SA_SIGINFO) &&
        cur.sa_sigaction == on_sigchld)
        sigaction(SIGCHLD, &sigchld_old, NULL);
    sigchld_wfd = -1;
    close(sigchld_pipe[0]);
    close(sigchld_pipe[1]);
    sigchld_pipe[0] = sigchld_pipe[1] = -1;
}

int local_sigchld_fd(void)
{
    return sigchld_pipe[0];
}

void local_sigchld_drain(void)
{
    char buf[256];
    while (sigchld_pipe[0] >= 0 && read(sigchld_pipe[0], buf, sizeof buf) > 0)
        ;
}
