/* LD_PRELOAD shim for the e2e tests: makes the datastore's final step of a write (the link or
 * rename that puts an object in place) fail with errno MFLOW_TEST_FAIL_ERRNO (default ENOSPC)
 * for every path ending in "/NAME", NAME one of the ':'-separated MFLOW_TEST_FAIL_NAMES. So a
 * test can have the disk fill up, or a write be refused, for exactly the run record or the
 * graph of a run, as root too (which permission bits would not stop). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int refused(const char *path)
{
    const char *names = getenv("MFLOW_TEST_FAIL_NAMES");
    if (!names || !path)
        return 0;
    size_t plen = strlen(path);
    for (const char *p = names; *p;) {
        const char *end = strchr(p, ':');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n && plen > n && path[plen - n - 1] == '/' && !memcmp(path + plen - n, p, n)) {
            const char *e = getenv("MFLOW_TEST_FAIL_ERRNO");
            errno = e ? atoi(e) : ENOSPC;
            return 1;
        }
        p += n + (end ? 1 : 0);
    }
    return 0;
}

int linkat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, int flags)
{
    if (refused(newpath))
        return -1;
    int (*real)(int, const char *, int, const char *, int) = dlsym(RTLD_NEXT, "linkat");
    return real(olddirfd, oldpath, newdirfd, newpath, flags);
}

int rename(const char *oldpath, const char *newpath)
{
    if (refused(newpath))
        return -1;
    int (*real)(const char *, const char *) = dlsym(RTLD_NEXT, "rename");
    return real(oldpath, newpath);
}

int renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath)
{
    if (refused(newpath))
        return -1;
    int (*real)(int, const char *, int, const char *) = dlsym(RTLD_NEXT, "renameat");
    return real(olddirfd, oldpath, newdirfd, newpath);
}

int renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath,
              unsigned int flags)
{
    if (refused(newpath))
        return -1;
    int (*real)(int, const char *, int, const char *, unsigned int) =
        dlsym(RTLD_NEXT, "renameat2");
    return real(olddirfd, oldpath, newdirfd, newpath, flags);
}
