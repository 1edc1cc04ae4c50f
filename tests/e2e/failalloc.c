/* LD_PRELOAD shim for fault injection: realloc fails (returns NULL, errno ENOMEM) once, at
 * its FAILALLOC_NTH-th counted call (1-based), in an `mflow` process whose arguments include
 * the word FAILALLOC_CMD (e.g. "run"): the orchestrator, not its tasks, its task server or
 * the compiler. Calls count once the file FAILALLOC_AFTER exists, when that is set (a step
 * creates it, so a test aims at what the orchestrator does next). With FAILALLOC_COUNT=FILE
 * the process appends how many calls counted to FILE when it exits, so a test learns how many
 * failure points there are. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern void *__libc_realloc(void *p, size_t n);

/* The realloc this one stands in front of: the C library's, or AddressSanitizer's in a
 * sanitized mflow (memory from one allocator must go back to the same one). */
static void *(*next_realloc)(void *p, size_t n);
static int resolving;

static int active;
static unsigned long nth, counted;
static const char *after;   /* count once this file exists */

__attribute__((constructor)) static void setup(void)
{
    const char *cmd = getenv("FAILALLOC_CMD");
    if (!cmd)
        return;
    char buf[8192];
    int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    if (fd >= 0)
        close(fd);
    if (n <= 0)
        return;
    buf[n] = '\0';
    const char *base = strrchr(buf, '/');
    if (strcmp(base ? base + 1 : buf, "mflow") != 0)
        return;
    for (char *p = buf + strlen(buf) + 1; p < buf + n; p += strlen(p) + 1)
        if (!strcmp(p, cmd))
            active = 1;
    const char *v = getenv("FAILALLOC_NTH");
    nth = v ? strtoul(v, NULL, 10) : 0;
    after = getenv("FAILALLOC_AFTER");
}

__attribute__((destructor)) static void report(void)
{
    const char *path = getenv("FAILALLOC_COUNT");
    if (!active || !path)
        return;
    FILE *f = fopen(path, "a");
    if (f) {
        fprintf(f, "%lu\n", counted);
        fclose(f);
    }
}

void *realloc(void *p, size_t n)
{
    if (active && after && access(after, F_OK) == 0)
        after = NULL;
    if (active && !after && ++counted == nth) {
        errno = ENOMEM;
        return NULL;
    }
    if (!next_realloc && !resolving) {
        resolving = 1;   /* dlsym may allocate: that call goes straight to the C library */
        next_realloc = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
        resolving = 0;
    }
    return next_realloc ? next_realloc(p, n) : __libc_realloc(p, n);
}
