/* Running sbatch, squeue, scontrol, scancel, sinfo and sacct: posix_spawn with pipes, never a
 * shell, so that nothing a user wrote is ever parsed as shell text. */
#include "slurm_int.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

void sl_out_free(struct sl_out *o)
{
    free(o->data);
    memset(o, 0, sizeof *o);
}

void sl_out_add(struct sl_out *o, const char *data, size_t n)
{
    if (o->len + n + 1 > o->cap) {
        size_t cap = o->cap ? o->cap : 256;
        while (cap < o->len + n + 1)
            cap *= 2;
        char *g = realloc(o->data, cap);
        if (!g)
            return;   /* output is cut short; the caller sees what fit */
        o->data = g;
        o->cap = cap;
    }
    memcpy(o->data + o->len, data, n);
    o->len += n;
    o->data[o->len] = '\0';
}

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int sl_run(const char *const *argv, double timeout_s, struct sl_out *out, struct sl_out *err)
{
    /* Say "not found" the same way whether or not posix_spawn reports exec failures. */
    if (strchr(argv[0], '/') && access(argv[0], X_OK) != 0)
        return -errno;
    int po[2] = {-1, -1}, pe[2] = {-1, -1};
    if (pipe2(po, O_CLOEXEC) != 0 || pipe2(pe, O_CLOEXEC) != 0) {
        int e = errno;
        for (int i = 0; i < 2; i++) {
            if (po[i] >= 0)
                close(po[i]);
            if (pe[i] >= 0)
                close(pe[i]);
        }
        return -e;
    }
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, po[1], 1);
    posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &all);
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
                                      POSIX_SPAWN_SETPGROUP);
    pid_t pid;
    int rc = strchr(argv[0], '/')
                 ? posix_spawn(&pid, argv[0], &fa, &at, (char *const *)argv, environ)
                 : posix_spawnp(&pid, argv[0], &fa, &at, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(po[1]);
    close(pe[1]);
    if (rc != 0) {
        close(po[0]);
        close(pe[0]);
        return -rc;
    }
    struct pollfd pf[2] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}};
    struct sl_out *dst[2] = {out, err};
    double deadline = timeout_s > 0 ? mono() + timeout_s : 0;
    int open_fds = 2, killed = 0;
    char buf[8192];
    while (open_fds > 0) {
        int ms = -1;
        if (deadline > 0) {
            double left = deadline - mono();
            if (left <= 0) {
                kill(-pid, SIGKILL);
                killed = 1;
                break;
            }
            ms = (int)(left * 1000) + 1;
        }
        int n = poll(pf, 2, ms);
        if (n < 0 && errno == EINTR)
            continue;   /* a signal for the host: finish the command regardless */
        if (n < 0)
            break;
        for (int i = 0; i < 2; i++) {
            if (pf[i].fd < 0 || !(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t k = read(pf[i].fd, buf, sizeof buf);
            if (k < 0 && (errno == EINTR || errno == EAGAIN))
                continue;
            if (k <= 0) {
                close(pf[i].fd);
                pf[i].fd = -1;
                open_fds--;
                continue;
            }
            if (dst[i])
                sl_out_add(dst[i], buf, (size_t)k);
        }
    }
    for (int i = 0; i < 2; i++)
        if (pf[i].fd >= 0)
            close(pf[i].fd);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (killed)
        return -ETIMEDOUT;
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}
