/* Running the engine's short commands (ps, inspect, kill, rm, version) for the container
 * compute plugin (ct_int.h): to completion with their output, or in the background. */
#include "ct_int.h"

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

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* posix_spawnp in a new process group, default signals, stdin from /dev/null and stdout and
 * stderr onto out_fd (or /dev/null when -1). */
static pid_t start(char *const *argv, char *const *envp, int out_fd)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (out_fd >= 0) {
        posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
        posix_spawn_file_actions_adddup2(&fa, out_fd, 2);
    } else {
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
        posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    }
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &all);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, &at, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    return rc ? -rc : pid;
}

pid_t ct_background(char *const *argv, char *const *envp)
{
    return start(argv, envp, -1);
}

int ct_capture(char *const *argv, char *const *envp, double timeout_s, char **out)
{
    if (out)
        *out = NULL;
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return -errno;
    pid_t pid = start(argv, envp, p[1]);
    close(p[1]);
    if (pid < 0) {
        close(p[0]);
        return (int)pid;
    }
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);
    double end = mono() + timeout_s;
    int killed = 0;
    for (;;) {
        int left = (int)((end - mono()) * 1000);
        if (left <= 0 && !killed) {
            kill(-pid, SIGKILL);
            killed = 1;
        }
        struct pollfd pf = {.fd = p[0], .events = POLLIN};
        int r = poll(&pf, 1, killed ? 1000 : left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0) {
            if (killed)
                break;
            continue;
        }
        if (buf && len + 1024 > cap) {
            char *g = cap < (1u << 24) ? realloc(buf, cap * 2) : NULL;
            if (g) {
                buf = g;
                cap *= 2;
            }
        }
        char scratch[1024];
        int room = buf && cap - len - 1 >= 1024;
        ssize_t n = read(p[0], room ? buf + len : scratch, room ? cap - len - 1 : sizeof scratch);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (room)
            len += (size_t)n;
    }
    close(p[0]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (buf)
        buf[len] = '\0';
    if (out)
        *out = buf;
    else
        free(buf);
    if (WIFSIGNALED(st))
        return 1000 + WTERMSIG(st);
    return WEXITSTATUS(st);
}
