/* LD_PRELOAD shim for fault injection: fork fails (returns -1, errno EAGAIN, as when the
 * process limit is reached) once, at its FAILFORK_NTH-th call (1-based), in the task server
 * only (an `mflow __task-server` process): the fork that would start a task. As root, a real
 * process limit cannot be reached, so this is how a test makes the server's fork fail. With
 * FAILFORK_COUNT=FILE the server appends how many forks it made to FILE as it exits, so a test
 * can aim at the last one. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pid_t (*next_fork)(void);
static int active;
static unsigned long nth, counted;
static pid_t self;   /* the server's pid: only it reports (its children end by _exit anyway) */

__attribute__((constructor)) static void setup(void)
{
    const char *n = getenv("FAILFORK_NTH");
    char cmd[4096];
    int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    ssize_t len = fd >= 0 ? read(fd, cmd, sizeof cmd - 1) : -1;
    if (fd >= 0)
        close(fd);
    if (!n || len <= 0)
        return;
    cmd[len] = '\0';
    for (char *p = cmd; p < cmd + len; p += strlen(p) + 1)
        if (!strcmp(p, "__task-server"))
            active = 1;
    nth = strtoul(n, NULL, 10);
    self = getpid();
}

__attribute__((destructor)) static void report(void)
{
    const char *path = getenv("FAILFORK_COUNT");
    int fd = active && path && getpid() == self
                 ? open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)
                 : -1;
    if (fd >= 0) {
        dprintf(fd, "%lu\n", counted);
        close(fd);
    }
}

pid_t fork(void)
{
    if (!next_fork)
        next_fork = (pid_t(*)(void))dlsym(RTLD_NEXT, "fork");
    if (active && ++counted == nth) {
        errno = EAGAIN;
        return -1;
    }
    return next_fork();
}
