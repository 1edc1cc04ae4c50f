/* Process spawning for the local compute plugin: environment, posix_spawn with its file
 * actions and attributes, log files, and child-exit notification (pidfd, or a SIGCHLD
 * self-pipe where pidfds are unavailable). See local_int.h. */
#include "local_int.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
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

/* kv's key is exactly key[0..klen). */
static int has_key(const char *kv, const char *key, size_t klen)
{
    return strncmp(kv, key, klen) == 0 && kv[klen] == '=';
}

static int is_key(const char *kv, const char *lit)
{
    return has_key(kv, lit, strlen(lit));
}

static size_t count(const char *const *v)
{
    size_t n = 0;
    while (v && v[n])
        n++;
    return n;
}

/* The child's envp: pointers into environ, the job env and cpus_kv / omp_kv (borrowed; the
 * array is malloc'ed). NULL when out of memory. */
static char **build_env(const char *const *job_env, const char *cpus_kv, const char *omp_kv)
{
    size_t nh = count((const char *const *)environ), nj = count(job_env);
    char **envp = malloc((nh + nj + 3) * sizeof *envp);
    if (!envp)
        return NULL;
    int job_sets_omp = 0;
    for (size_t j = 0; j < nj; j++)
        if (is_key(job_env[j], "OMP_NUM_THREADS"))
            job_sets_omp = 1;

    size_t n = 0;
    for (size_t h = 0; h < nh; h++) {
        const char *kv = environ[h];
        size_t kl = key_len(kv);
        if (has_key("MFLOW_CPUS=", kv, kl) || (!job_sets_omp && has_key("OMP_NUM_THREADS=", kv, kl)))
            continue;
        int overridden = 0;
        for (size_t j = 0; j < nj && !overridden; j++)
            overridden = has_key(job_env[j], kv, kl);
        if (!overridden)
            envp[n++] = environ[h];
    }
    for (size_t j = 0; j < nj; j++) {
        const char *kv = job_env[j];
        size_t kl = key_len(kv);
        if (is_key(kv, "MFLOW_CPUS"))
            continue;   /* the job's resources decide it */
        int later = 0;
        for (size_t k = j + 1; k < nj && !later; k++)
            later = has_key(job_env[k], kv, kl);
        if (!later)
            envp[n++] = (char *)kv;
    }
    envp[n++] = (char *)cpus_kv;
    if (!job_sets_omp)
        envp[n++] = (char *)omp_kv;
    envp[n] = NULL;
    return envp;
}

/* ------------------------------------------------------------------------------------------ */

int local_spawn(const struct local_spawn_req *req, const char *name, pid_t *pid, char *err,
                size_t errlen)
{
    char cpus_kv[32], omp_kv[40];
    snprintf(cpus_kv, sizeof cpus_kv, "MFLOW_CPUS=%u", req->cpus);
    snprintf(omp_kv, sizeof omp_kv, "OMP_NUM_THREADS=%u", req->cpus);
    char **envp = build_env(req->env, cpus_kv, omp_kv);
    if (!envp) {
        snprintf(err, errlen, "job %s: out of memory building its environment", name);
        return ENOMEM;
    }

    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    int rc = posix_spawn_file_actions_init(&fa);
    if (rc) {
        free(envp);
        snprintf(err, errlen, "job %s: posix_spawn_file_actions_init: %s", name, strerror(rc));
        return rc;
    }
    rc = posix_spawnattr_init(&at);
    if (rc) {
        posix_spawn_file_actions_destroy(&fa);
        free(envp);
        snprintf(err, errlen, "job %s: posix_spawnattr_init: %s", name, strerror(rc));
        return rc;
    }

    /* dup2 clears FD_CLOEXEC on the target; the sources are O_CLOEXEC and >= 3. */
    if (!rc)
        rc = posix_spawn_file_actions_adddup2(&fa, req->stdin_fd, 0);
    if (!rc)
        rc = posix_spawn_file_actions_adddup2(&fa, req->stdout_fd, 1);
    if (!rc)
        rc = posix_spawn_file_actions_adddup2(&fa, req->stderr_fd, 2);
    if (!rc && req->workdir)
        rc = posix_spawn_file_actions_addchdir_np(&fa, req->workdir);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
    /* Nothing of the host leaks into the task, even an fd someone opened without O_CLOEXEC
     * (such an fd holding another job's pipe would keep that job from ever seeing EOF). */
    if (!rc)
        rc = posix_spawn_file_actions_addclosefrom_np(&fa, 3);
#endif

    /* Later: the placement and memory limit chosen in lc_submit are applied here (a cpuset
     * and a cgroup for the child, set before it runs). */

    /* Own process group (so a kill reaches the task's children), default dispositions for
     * every signal (a host that ignores SIGPIPE must not pass that on), nothing blocked. */
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    sigdelset(&all, SIGKILL);
    sigdelset(&all, SIGSTOP);
    if (!rc)
        rc = posix_spawnattr_setpgroup(&at, 0);
    if (!rc)
        rc = posix_spawnattr_setsigmask(&at, &none);
    if (!rc)
        rc = posix_spawnattr_setsigdefault(&at, &all);
    if (!rc)
        rc = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                               POSIX_SPAWN_SETSIGDEF);
    if (rc) {
        snprintf(err, errlen, "job %s: preparing the spawn: %s", name, strerror(rc));
    } else {
        /* glibc's posix_spawn is clone(CLONE_VM|CLONE_VFORK)+exec and reports the child's
         * chdir/exec error here; when it returns 0 the child has already exec'ed, so it is
         * in its own group before anyone can signal it. */
        rc = posix_spawnp(pid, req->argv[0], &fa, &at, (char *const *)req->argv, envp);
        if (rc) {
            struct stat sb;
            if (req->workdir && stat(req->workdir, &sb) != 0)
                snprintf(err, errlen, "job %s: working directory '%s': %s (create it or fix the step's workdir)",
                         name, req->workdir, strerror(errno));
            else if (req->workdir && !S_ISDIR(sb.st_mode))
                snprintf(err, errlen, "job %s: working directory '%s' is not a directory (fix the step's workdir)",
                         name, req->workdir);
            else if (rc == ENOENT)
                snprintf(err, errlen, "job %s: cannot run '%s': %s (is it installed and on PATH?)", name,
                         req->argv[0], strerror(rc));
            else if (rc == EACCES)
                snprintf(err, errlen, "job %s: cannot run '%s': %s (is it an executable file?)", name,
                         req->argv[0], strerror(rc));
            else
                snprintf(err, errlen, "job %s: cannot run '%s': %s", name, req->argv[0], strerror(rc));
        }
    }
    posix_spawnattr_destroy(&at);
    posix_spawn_file_actions_destroy(&fa);
    free(envp);
    return rc;
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
        if (mkdir(p, 0777) != 0 && errno != EEXIST) {
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
    const int flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC;
    *fd = open(path, flags, 0666);
    if (*fd < 0 && errno == ENOENT) {
        int rc = make_parents(path);
        if (rc) {
            snprintf(err, errlen, "job %s: cannot create the directory of %s log '%s': %s (check that it is writable)",
                     name, what, path, strerror(rc));
            return rc;
        }
        *fd = open(path, flags, 0666);
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
