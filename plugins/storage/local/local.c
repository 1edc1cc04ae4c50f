/* mflow storage plugin `local`: the datastore as a directory tree on a local (or shared POSIX)
 * file system. See README.md beside this file for its options and tests.
 *
 * A key is a '/'-separated relative path under the root. An object is one regular file.
 * Writes go to "<path>.tmp.<pid>.<random>" beside the target, are written in full, fsync'd and
 * renamed over the target, so a reader (or a crash at any moment) sees the old object or the
 * new one, never a torn file. The streaming writer (ABI 1.1), whose key comes only at commit,
 * writes "<root>/tmp/writer.tmp.<pid>.<random>" instead: the same file system, so commit is a
 * rename too. Such temp names are never keys: a stale one left by a killed writer is
 * invisible to get, exists and list. Reads map the file read-only; since objects are
 * replaced by rename and never rewritten in place, a mapping stays valid while it is held.
 * What it creates is the user's alone (0700 directories, 0600 files), unless the root is a
 * setgid directory: then the root's group gets the root's group permissions (plugin_init). */
#include <mflow/plugin.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#ifndef PLUGIN_NAME
#define PLUGIN_NAME "local"
#endif
#define PLUGIN_VERSION "0.1.0"

#define MAX_COMPONENT 200                      /* leaves room for the temp suffix in NAME_MAX */
#define TEMP_SUFFIX_MAX 48                     /* ".tmp." pid "." 16 hex */
#define WRITE_CHUNK ((size_t)32 * 1024 * 1024) /* start writeback every this many bytes */
#define MAX_DEPTH 256
#define WRITER_DIR "tmp"                       /* under the root: the streaming writer's files */
#define ERR_LEN 2048

struct local {
    const struct mf_host_api *host;
    char *root;          /* absolute, no trailing '/' (unless it is "/") */
    size_t root_len;
    char *url;           /* "file://" + root */
    pthread_mutex_t lock;
    char err[ERR_LEN];   /* the last failure on this instance, any thread */
    int anon_temp;       /* write through unnamed O_TMPFILE files (below); cleared when the
                            file system refuses them */
    int flink;           /* name them by their fd (linkat AT_EMPTY_PATH) rather than through
                            /proc; cleared when the kernel refuses it (link_fd) */
    int shared;          /* the root was setgid when this instance started: share with its
                            group (see plugin_init) */
    mode_t dir_mode;     /* what new directories and objects get */
    mode_t file_mode;
};

/* The last failure of this thread on `err_owner` (so concurrent callers each read their own). */
static __thread char tls_err[ERR_LEN];
static __thread const struct local *err_owner;

/* ---- messages ------------------------------------------------------------------------------ */

static int fail(struct local *s, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct local *s, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tls_err, sizeof tls_err, fmt, ap);
    va_end(ap);
    err_owner = s;
    pthread_mutex_lock(&s->lock);
    memcpy(s->err, tls_err, sizeof s->err);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* What to do about errno err, as "; ..." in buf (PATH_MAX + 128), or "". */
static const char *advice(struct local *s, int err, char *buf)
{
    if (err == ENOSPC || err == EDQUOT) {
        snprintf(buf, PATH_MAX + 128, "; disk full: free space under %s and resume the run",
                 s->root);
        return buf;
    }
    if (err == EACCES || err == EPERM || err == EROFS) {
        snprintf(buf, PATH_MAX + 128, "; check that %s is writable by this user", s->root);
        return buf;
    }
    return "";
}

/* A failed system call on key/path: errno passes through (positive), with advice. */
static int sys_fail(struct local *s, int err, const char *what, const char *key, const char *path)
{
    char buf[PATH_MAX + 128];
    return fail(s, err, "local storage: cannot %s key '%s' (%s): %s%s", what, key, path,
                strerror(err), advice(s, err, buf));
}

/* The same for a streaming write, whose key is not known yet. */
static int writer_sys_fail(struct local *s, int err, const char *what, const char *path)
{
    char buf[PATH_MAX + 128];
    return fail(s, err, "local storage: cannot %s %s for a streaming write: %s%s", what, path,
                strerror(err), advice(s, err, buf));
}

static const char *op_last_error(void *state)
{
    struct local *s = state;
    if (!s)
        return "local storage: no instance";
    if (err_owner != s) {
        pthread_mutex_lock(&s->lock);
        memcpy(tls_err, s->err, sizeof tls_err);
        pthread_mutex_unlock(&s->lock);
        err_owner = s;
    }
    return tls_err[0] ? tls_err : "local storage: the failure left no message";
}

/* ---- keys and paths --------------------------------------------------------------------- */

/* True when a file name is one of our temp files: "*.tmp.<digits>.<hex>". */
static int is_temp_name(const char *name)
{
    for (const char *p = strstr(name, ".tmp."); p; p = strstr(p + 1, ".tmp.")) {
        const char *q = p + 5;
        if (*q < '0' || *q > '9')
            continue;
        while (*q >= '0' && *q <= '9')
            q++;
        if (*q != '.' || !q[1])
            continue;
        q++;
        while ((*q >= '0' && *q <= '9') || (*q >= 'a' && *q <= 'f'))
            q++;
        if (!*q)
            return 1;
    }
    return 0;
}

/* Check the components of s[0..len): each non-empty, not "." or "..", not too long. */
static int check_components(struct local *st, const char *what, const char *s, size_t len)
{
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && s[i] != '/')
            continue;
        size_t n = i - start;
        if (n == 0)
            return fail(st, MF_EINVAL,
                        "local storage: %s '%s' has an empty component (a leading '/', a trailing "
                        "'/' or '//'); keys are relative paths like 'blobs/ab/abcd'",
                        what, s);
        if ((n == 1 && s[start] == '.') || (n == 2 && s[start] == '.' && s[start + 1] == '.'))
            return fail(st, MF_EINVAL,
                        "local storage: %s '%s' has a '.' or '..' component; keys must stay "
                        "under the datastore root and name each directory plainly",
                        what, s);
        if (n > MAX_COMPONENT)
            return fail(st, MF_EINVAL,
                        "local storage: %s '%.80s...' has a component longer than %d bytes; "
                        "use shorter names",
                        what, s, MAX_COMPONENT);
        start = i + 1;
    }
    return 0;
}

/* Validate key and build root/key into path (PATH_MAX). */
static int key_path(struct local *s, const char *key, char *path)
{
    if (!key || !*key)
        return fail(s, MF_EINVAL,
                    "local storage: empty key; keys are relative paths like 'blobs/ab/abcd'");
    size_t len = strlen(key);
    if (key[0] == '/')
        return fail(s, MF_EINVAL,
                    "local storage: key '%s' starts with '/'; keys are relative to the "
                    "datastore root (%s)",
                    key, s->root);
    int rc = check_components(s, "key", key, len);
    if (rc)
        return rc;
    const char *base = strrchr(key, '/');
    if (is_temp_name(base ? base + 1 : key))
        return fail(s, MF_EINVAL,
                    "local storage: key '%s' ends like a temporary file ('.tmp.<pid>.<hex>'), "
                    "a name reserved for writes in progress; choose another key",
                    key);
    if (s->root_len + 1 + len + TEMP_SUFFIX_MAX >= PATH_MAX)
        return fail(s, MF_EINVAL, "local storage: key '%.80s...' is too long for a path under %s",
                    key, s->root);
    memcpy(path, s->root, s->root_len);
    path[s->root_len] = '/';
    memcpy(path + s->root_len + 1, key, len + 1);
    return 0;
}

/* ---- low-level I/O ------------------------------------------------------------------------ */

static uint64_t random64(void)
{
    static __thread uint64_t counter;
    uint64_t r;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) == (ssize_t)sizeof r)
        return r;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    r = ((uint64_t)ts.tv_sec * 1000000007u) ^ (uint64_t)ts.tv_nsec ^ (++counter << 40) ^
        (uint64_t)(uintptr_t)&r;
    r ^= r >> 31;
    r *= 0x9e3779b97f4a7c15ull;
    return r ^ (r >> 29);
}

/* Create a fresh temp file beside path. Returns the fd, or -1 with errno. */
/* A fresh temporary name beside path (the pattern key checks refuse as a key). */
static void temp_name(const char *path, char *tmp)
{
    snprintf(tmp, PATH_MAX, "%s.tmp.%ld.%016llx", path, (long)getpid(),
             (unsigned long long)random64());
}

static int open_temp(const char *path, char *tmp, mode_t mode)
{
    for (int attempt = 0; attempt < 16; attempt++) {
        temp_name(path, tmp);
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    errno = EEXIST;
    return -1;
}

static int fsync_retry(int fd)
{
    while (fsync(fd) != 0) {
        if (errno != EINTR)
            return errno;
    }
    return 0;
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return errno;
    int rc = fsync_retry(fd);
    close(fd);
    return rc == EINVAL ? 0 : rc;   /* some file systems cannot fsync a directory */
}

/* How far a file has been written and handed to writeback, across write_iov calls. */
struct progress {
    uint64_t written;
    uint64_t flushed;
};

/* Append the concatenation of the iovs in full (short writes, EINTR), starting writeback of
 * each large chunk as soon as it is written so the final fsync has little left to do. */
static int write_iov(int fd, const struct mf_iov *iov, size_t niov, struct progress *pg)
{
    size_t i = 0, off = 0;
    uint64_t written = pg->written, flushed = pg->flushed;
    for (;;) {
        while (i < niov && off == iov[i].len) {
            i++;
            off = 0;
        }
        if (i == niov)
            break;
        struct iovec vec[64];
        int n = 0;
        size_t batch = 0;
        for (size_t j = i, o = off; j < niov && n < 64 && batch < WRITE_CHUNK; j++, o = 0) {
            size_t len = iov[j].len - o;
            if (!len)
                continue;
            if (len > WRITE_CHUNK - batch)
                len = WRITE_CHUNK - batch;
            vec[n].iov_base = (char *)iov[j].base + o;
            vec[n].iov_len = len;
            batch += len;
            n++;
        }
        ssize_t w = writev(fd, vec, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        if (w == 0)
            return EIO;
        written += (uint64_t)w;
        pg->written = written;
        for (size_t left = (size_t)w; left;) {
            size_t rem = iov[i].len - off;
            if (left >= rem) {
                left -= rem;
                i++;
                off = 0;
            } else {
                off += left;
                left = 0;
            }
        }
        if (written - flushed >= WRITE_CHUNK) {
            sync_file_range(fd, (off64_t)flushed, (off64_t)(written - flushed),
                            SYNC_FILE_RANGE_WRITE);
            flushed = written;
            pg->flushed = flushed;
        }
    }
    return 0;
}

/* Copy in to out until EOF: copy_file_range, else sendfile, else read/write. On failure
 * *reading tells which side failed. */
static int copy_fd(int in, int out, int *reading)
{
    *reading = 0;
    struct stat st;
    int method = 0;   /* 0 copy_file_range, 1 sendfile, 2 read/write */
    if (fstat(in, &st) != 0 || !S_ISREG(st.st_mode))
        method = 2;
    uint64_t done = 0, flushed = 0;
    char *buf = NULL;
    int rc = 0;
    for (;;) {
        ssize_t n;
        if (method == 0) {
            n = copy_file_range(in, NULL, out, NULL, WRITE_CHUNK, 0);
            if (n < 0 && errno != EINTR) {
                if (errno == EXDEV || errno == EINVAL || errno == ENOSYS ||
                    errno == EOPNOTSUPP || errno == EBADF || errno == ETXTBSY) {
                    method = 1;
                    continue;
                }
                rc = errno;
                break;
            }
        } else if (method == 1) {
            n = sendfile(out, in, NULL, WRITE_CHUNK);
            if (n < 0 && errno != EINTR) {
                if (errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP) {
                    method = 2;
                    continue;
                }
                rc = errno;
                break;
            }
        } else {
            if (!buf && !(buf = malloc(1 << 20))) {
                rc = ENOMEM;
                break;
            }
            n = read(in, buf, 1 << 20);
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                *reading = 1;
                rc = errno;
                break;
            }
            for (ssize_t o = 0; o < n;) {
                ssize_t w = write(out, buf + o, (size_t)(n - o));
                if (w < 0 && errno == EINTR)
                    continue;
                if (w <= 0) {
                    rc = w < 0 ? errno : EIO;
                    break;
                }
                o += w;
            }
            if (rc)
                break;
        }
        if (n < 0)
            continue;   /* EINTR */
        if (n == 0)
            break;      /* EOF */
        done += (uint64_t)n;
        if (done - flushed >= WRITE_CHUNK) {
            sync_file_range(out, (off64_t)flushed, (off64_t)(done - flushed),
                            SYNC_FILE_RANGE_WRITE);
            flushed = done;
        }
    }
    free(buf);
    return rc;
}

/* A file this instance just created gets its mode whatever the umask (which may take the
 * group's bits away from a shared root's files). 0 or errno. */
static int set_file_mode(const struct local *s, int fd)
{
    return s->shared && fchmod(fd, s->file_mode) != 0 ? errno : 0;
}

/* mkdir -p of path's parent. *top receives the offset of the '/' that ends the first
 * directory created (0 when none was). */
static int make_parents(const struct local *s, const char *path, size_t *top)
{
    char buf[PATH_MAX];
    size_t len = strlen(path);
    memcpy(buf, path, len + 1);
    *top = 0;
    for (size_t i = 1; i < len; i++) {
        if (buf[i] != '/')
            continue;
        buf[i] = '\0';
        if (mkdir(buf, s->dir_mode) == 0) {
            if (s->shared && chmod(buf, s->dir_mode) != 0)
                return errno;
            if (!*top)
                *top = i;
        } else if (errno != EEXIST) {
            return errno;
        }
        buf[i] = '/';
    }
    return 0;
}

/* After new directories were created (the first ending at top): make their entries and the
 * renamed file's entry durable by fsyncing each directory from top's parent down. */
static int sync_new_dirs(const char *path, size_t top)
{
    char buf[PATH_MAX];
    size_t len = strlen(path);
    memcpy(buf, path, len + 1);
    size_t start = top;
    while (start > 0 && buf[start - 1] != '/')
        start--;
    /* start-1 is the '/' ending the parent of the first new directory. */
    for (size_t i = start ? start - 1 : 0; i < len; i++) {
        if (buf[i] != '/')
            continue;
        buf[i] = '\0';
        int rc = fsync_dir(i ? buf : "/");
        buf[i] = '/';
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- put ----------------------------------------------------------------------------------- */

/* The shared end of put, put_file and writer_commit: rename the written, fsync'd temp file to
 * path, refusing to replace an object with MF_PUT_IF_ABSENT (then the temp is dropped and the
 * object that stands is the answer), and make the directories created for it (the first
 * ending at top, see make_parents; 0 when none) durable. The temp file is gone afterwards
 * whatever happens. */
static int place_object(struct local *s, const char *key, const char *tmp, const char *path,
                        uint32_t flags, size_t top)
{
    int rc;
    if (flags & MF_PUT_IF_ABSENT) {
        if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0)
            goto renamed;
        if (errno == EEXIST) {
            unlink(tmp);   /* someone stored it meanwhile: that object stands */
            return 0;
        }
        if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP) {
            rc = errno;
            unlink(tmp);
            return sys_fail(s, rc, "rename into place", key, path);
        }
        /* This file system cannot refuse to replace: fall through to a plain rename. */
    }
    if (rename(tmp, path) != 0) {
        rc = errno;
        unlink(tmp);
        return sys_fail(s, rc, "rename into place", key, path);
    }
renamed:
    if (top) {
        rc = sync_new_dirs(path, top);
        if (rc)
            return sys_fail(s, rc, "sync the new directories of", key, path);
    }
    return 0;
}

struct source {
    const struct mf_iov *iov;    /* either these pieces */
    size_t niov;
    int fd;                      /* or this file (fd >= 0) */
    const char *src_path;
};

/* An unnamed file (O_TMPFILE) in path's directory, to be linked in as path once written:
 * one directory operation instead of a create and a rename (20-35% less a small object on
 * this VM's ext4), and a write cut short leaves nothing behind. dir is the caller's PATH_MAX
 * scratch (its temporary name's, unused with an unnamed file): a forked task's put then
 * reaches one stack page less deep, a page fault fewer. -1 with errno. */
static int open_anon(const char *path, mode_t mode, char *dir)
{
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) : 0;
    if (!slash || n >= PATH_MAX) {
        errno = EINVAL;
        return -1;
    }
    memcpy(dir, path, n);
    dir[n ? n : 1] = '\0';
    if (!n)
        dir[0] = '/';
    return open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, mode);
}

/* Link the unnamed file fd in as path: by the fd itself where the kernel lets its opener do
 * that (Linux 6.10 on, or with CAP_DAC_READ_SEARCH), else through /proc/self/fd/N, whose
 * resolution (four procfs components) was 3.6 % of a trivial task's CPU samples. An older
 * kernel refuses the first with ENOENT: once /proc then succeeds, only /proc is used. */
static int link_fd(struct local *s, int fd, const char *path)
{
    int flink = __atomic_load_n(&s->flink, __ATOMIC_RELAXED);
    if (flink) {
        if (linkat(fd, "", AT_FDCWD, path, AT_EMPTY_PATH) == 0)
            return 0;
        if (errno != ENOENT && errno != EPERM && errno != EACCES && errno != EINVAL)
            return -1;   /* EEXIST, ENOSPC, ...: the same through /proc */
    }
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    int rc = linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW);
    if (rc == 0 && flink)
        __atomic_store_n(&s->flink, 0, __ATOMIC_RELAXED);
    return rc;
}

/* Give the written unnamed file fd its name: linked straight in when the key is new; when it
 * exists, MF_PUT_IF_ABSENT keeps that object, else the file gets a temporary name (in tmp,
 * the caller's PATH_MAX scratch) and is renamed over it, as a named temporary would be. */
static int link_anon(struct local *s, const char *key, const char *path, uint32_t flags,
                     int fd, size_t top, char *tmp)
{
    if (link_fd(s, fd, path) == 0) {
        int rc = top ? sync_new_dirs(path, top) : 0;
        return rc ? sys_fail(s, rc, "sync the new directories of", key, path) : 0;
    }
    if (errno != EEXIST)
        return sys_fail(s, errno, "link into place", key, path);
    if (flags & MF_PUT_IF_ABSENT)
        return 0;   /* that object stands */
    for (int attempt = 0; attempt < 16; attempt++) {
        temp_name(path, tmp);
        if (link_fd(s, fd, tmp) == 0)
            return place_object(s, key, tmp, path, flags, top);
        if (errno != EEXIST)
            break;
    }
    return sys_fail(s, errno, "link a temporary name for", key, path);
}

static int write_object(struct local *s, const char *key, const char *path, uint32_t flags,
                        const struct source *src)
{
    char tmp[PATH_MAX];
    size_t top = 0;
    int anon = __atomic_load_n(&s->anon_temp, __ATOMIC_RELAXED);
    int fd = -1;
    for (int pass = 0; pass < 2; pass++) {
        fd = anon ? open_anon(path, s->file_mode, tmp) : open_temp(path, tmp, s->file_mode);
        if (fd < 0 && anon && errno != ENOENT) {
            /* This file system has no O_TMPFILE (EOPNOTSUPP, EISDIR on old kernels). */
            __atomic_store_n(&s->anon_temp, 0, __ATOMIC_RELAXED);
            anon = 0;
            fd = open_temp(path, tmp, s->file_mode);
        }
        if (fd >= 0 || errno != ENOENT || pass)
            break;
        int rc = make_parents(s, path, &top);
        if (rc)
            return sys_fail(s, rc, "create the directories of", key, path);
    }
    if (fd < 0)
        return sys_fail(s, errno, "create a temporary file for", key, anon ? path : tmp);
    int rc = set_file_mode(s, fd), reading = 0;
    if (rc) {
        close(fd);
        if (!anon)
            unlink(tmp);
        return sys_fail(s, rc, "set the mode of", key, anon ? path : tmp);
    }
    struct progress pg = {0, 0};
    if (src->fd >= 0)
        rc = copy_fd(src->fd, fd, &reading);
    else
        rc = write_iov(fd, src->iov, src->niov, &pg);
    if (!rc)
        rc = fsync_retry(fd);
    if (!rc && anon) {
        rc = link_anon(s, key, path, flags, fd, top, tmp);
        close(fd);
        return rc;
    }
    if (close(fd) != 0 && !rc && errno != EINTR)
        rc = errno;
    if (rc) {
        if (!anon)
            unlink(tmp);   /* an unnamed file is gone with its fd */
        if (reading)
            return fail(s, rc, "local storage: cannot read '%s' to store it as key '%s': %s",
                        src->src_path, key, strerror(rc));
        return sys_fail(s, rc, "write", key, anon ? path : tmp);
    }
    return place_object(s, key, tmp, path, flags, top);
}

static int present(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int op_put(void *state, const char *key, const struct mf_iov *iov, size_t niov,
                  uint32_t flags)
{
    struct local *s = state;
    char path[PATH_MAX];
    int rc = key_path(s, key, path);
    if (rc)
        return rc;
    if (niov && !iov)
        return fail(s, MF_EINVAL, "local storage: put of key '%s' was given no data", key);
    for (size_t i = 0; i < niov; i++)
        if (iov[i].len && !iov[i].base)
            return fail(s, MF_EINVAL, "local storage: put of key '%s': piece %zu has no data",
                        key, i);
    if ((flags & MF_PUT_IF_ABSENT) && present(path))
        return 0;
    struct source src = {iov, niov, -1, NULL};
    return write_object(s, key, path, flags, &src);
}

static int op_put_file(void *state, const char *key, const char *file, uint32_t flags)
{
    struct local *s = state;
    char path[PATH_MAX];
    int rc = key_path(s, key, path);
    if (rc)
        return rc;
    if (!file || !*file)
        return fail(s, MF_EINVAL, "local storage: put_file of key '%s' was given no file", key);
    if ((flags & MF_PUT_IF_ABSENT) && present(path))
        return 0;
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int err = errno;
        return fail(s, err == ENOENT ? MF_ENOTFOUND : err,
                    "local storage: cannot open '%s' to store it as key '%s': %s", file, key,
                    strerror(err));
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        close(fd);
        return fail(s, MF_EINVAL,
                    "local storage: '%s' is a directory; put_file stores one file as key '%s'",
                    file, key);
    }
    struct source src = {NULL, 0, fd, file};
    rc = write_object(s, key, path, flags, &src);
    close(fd);
    return rc;
}

/* ---- streaming writer (ABI 1.1) -------------------------------------------------------------- */

/* An object whose key comes at commit: written to a temp file under <root>/tmp/, which is on
 * the root's file system, so commit is the same fsync + rename as put. */
struct mf_writer {
    int fd;
    int failed;                  /* a write failed: only abort is left */
    struct progress pg;
    char tmp[PATH_MAX];
};

static int op_writer_open(void *state, mf_writer **out)
{
    struct local *s = state;
    if (!out)
        return fail(s, MF_EINVAL, "local storage: writer_open was given nowhere to put the writer");
    *out = NULL;
    mf_writer *w = calloc(1, sizeof *w);
    if (!w)
        return fail(s, MF_ENOMEM, "local storage: out of memory opening a writer");
    char base[PATH_MAX];
    if (snprintf(base, sizeof base, "%s/" WRITER_DIR "/writer", s->root_len ? s->root : "") >=
        (int)sizeof base - TEMP_SUFFIX_MAX) {
        free(w);
        return fail(s, MF_EINVAL, "local storage: root %.80s... is too long for a temp path",
                    s->root);
    }
    int fd = open_temp(base, w->tmp, s->file_mode);
    if (fd < 0 && errno == ENOENT) {
        size_t top;
        int rc = make_parents(s, base, &top);   /* the temp directory need not be durable */
        if (rc) {
            free(w);
            return writer_sys_fail(s, rc, "create the directory of", base);
        }
        fd = open_temp(base, w->tmp, s->file_mode);
    }
    int err = fd < 0 ? errno : set_file_mode(s, fd);
    if (err) {
        if (fd >= 0) {
            close(fd);
            unlink(w->tmp);
        }
        free(w);
        return writer_sys_fail(s, err, fd < 0 ? "create a temporary file beside"
                                              : "set the mode of a temporary file beside",
                               base);
    }
    w->fd = fd;
    *out = w;
    return 0;
}

static void writer_drop(mf_writer *w)
{
    if (w->fd >= 0)
        close(w->fd);
    unlink(w->tmp);
    free(w);
}

static int op_writer_write(void *state, mf_writer *w, const struct mf_iov *iov, size_t niov)
{
    struct local *s = state;
    if (!w || (niov && !iov))
        return fail(s, MF_EINVAL, "local storage: writer_write was given no writer or no data");
    if (w->failed)
        return fail(s, MF_EINVAL,
                    "local storage: writer_write after a failed write of %s; abort the writer",
                    w->tmp);
    for (size_t i = 0; i < niov; i++)
        if (iov[i].len && !iov[i].base)
            return fail(s, MF_EINVAL, "local storage: writer_write: piece %zu has no data", i);
    int rc = write_iov(w->fd, iov, niov, &w->pg);
    if (rc) {
        w->failed = 1;
        return writer_sys_fail(s, rc, "write", w->tmp);
    }
    return 0;
}

static int op_writer_commit(void *state, mf_writer *w, const char *key, uint32_t flags)
{
    struct local *s = state;
    if (!w)
        return fail(s, MF_EINVAL, "local storage: writer_commit of key '%s' was given no writer",
                    key ? key : "(null)");
    char path[PATH_MAX];
    int rc = key_path(s, key, path);
    if (rc) {
        writer_drop(w);
        return rc;
    }
    if (w->failed) {
        writer_drop(w);
        return fail(s, MF_EINVAL,
                    "local storage: writer_commit of key '%s' after a failed write; the object "
                    "was not stored",
                    key);
    }
    if ((flags & MF_PUT_IF_ABSENT) && present(path)) {
        writer_drop(w);   /* already stored: the bytes need not even reach the disk */
        return 0;
    }
    rc = fsync_retry(w->fd);
    if (close(w->fd) != 0 && !rc && errno != EINTR)
        rc = errno;
    w->fd = -1;
    if (rc) {
        rc = sys_fail(s, rc, "write", key, w->tmp);
        writer_drop(w);
        return rc;
    }
    char tmp[PATH_MAX];
    memcpy(tmp, w->tmp, sizeof tmp);
    free(w);
    size_t top = 0;
    rc = make_parents(s, path, &top);
    if (rc) {
        unlink(tmp);
        return sys_fail(s, rc, "create the directories of", key, path);
    }
    return place_object(s, key, tmp, path, flags, top);
}

static void op_writer_abort(void *state, mf_writer *w)
{
    (void)state;
    if (w)
        writer_drop(w);
}

/* ---- get ----------------------------------------------------------------------------------- */

static void unmap_buf(struct mf_buf *b)
{
    if (b->data && b->len)
        munmap(b->data, b->len);
    b->data = NULL;
    b->len = 0;
}

static void free_read_buf(struct mf_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
}

/* Objects up to this size (task and run records, small values) are read into the heap: a
 * mapping costs a mmap, a madvise and a munmap, and the munmap a TLB flush, which on a
 * virtual machine costs more than copying a few pages. */
#define READ_SMALL_MAX (64 * 1024)

/* The whole of a small object: 0, or an errno. Short of st_size (the file shrank) is EIO. */
static int read_small(int fd, size_t len, void **out)
{
    char *buf = malloc(len);
    if (!buf)
        return ENOMEM;
    size_t got = 0;
    while (got < len) {
        ssize_t r = pread(fd, buf + got, len - got, (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            int err = r < 0 ? errno : EIO;
            free(buf);
            return err;
        }
        got += (size_t)r;
    }
    *out = buf;
    return 0;
}


/* Open key for reading into *fd; MF_ENOTFOUND (with a message) when it is not an object. */
static int open_object(struct local *s, const char *key, const char *path, int *fd,
                       struct stat *st)
{
    int f = open(path, O_RDONLY | O_CLOEXEC);
    if (f < 0) {
        int err = errno;
        if (err == ENOENT || err == ENOTDIR)
            return fail(s, MF_ENOTFOUND, "local storage: no object '%s' under %s (%s)", key,
                        s->root, path);
        return sys_fail(s, err, "open", key, path);
    }
    if (fstat(f, st) != 0) {
        int err = errno;
        close(f);
        return sys_fail(s, err, "stat", key, path);
    }
    if (!S_ISREG(st->st_mode)) {
        close(f);
        return fail(s, MF_ENOTFOUND,
                    "local storage: key '%s' names a directory (a prefix), not an object (%s)",
                    key, path);
    }
    *fd = f;
    return 0;
}

static int op_get(void *state, const char *key, struct mf_buf *out)
{
    struct local *s = state;
    char path[PATH_MAX];
    if (!out)
        return fail(s, MF_EINVAL, "local storage: get of key '%s' was given no buffer",
                    key ? key : "(null)");
    memset(out, 0, sizeof *out);
    out->struct_size = sizeof *out;
    int rc = key_path(s, key, path);
    if (rc)
        return rc;
    int fd;
    struct stat st;
    rc = open_object(s, key, path, &fd, &st);
    if (rc)
        return rc;
    if (st.st_size == 0) {
        close(fd);
        out->data = (void *)"";   /* empty object: a valid pointer, nothing to release */
        return 0;
    }
    if ((uint64_t)st.st_size > SIZE_MAX) {
        close(fd);
        return fail(s, MF_ENOMEM, "local storage: key '%s' (%s) is too large to map", key, path);
    }
    size_t len = (size_t)st.st_size;
    if (len <= READ_SMALL_MAX) {
        void *data = NULL;
        rc = read_small(fd, len, &data);
        close(fd);
        if (rc)
            return rc == ENOMEM ? fail(s, MF_ENOMEM, "local storage: out of memory reading key '%s'", key)
                                : sys_fail(s, rc, "read", key, path);
        out->data = data;
        out->len = len;
        out->release = free_read_buf;
        return 0;
    }
    void *p = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    int err = errno;
    close(fd);
    if (p == MAP_FAILED)
        return sys_fail(s, err, "map", key, path);
    /* Readers (the blob layer hashes every byte) go through the whole object at once: start
     * reading it all in now, so a cold read overlaps with their work. Not for objects too big
     * to stay in memory, which are just read ahead sequentially. */
    long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
    int advice = pages > 0 && psize > 0 && (uint64_t)len < (uint64_t)pages * (uint64_t)psize / 2
                     ? MADV_WILLNEED
                     : MADV_SEQUENTIAL;
    madvise(p, len, advice);
    out->data = p;
    out->len = len;
    out->release = unmap_buf;
    return 0;
}

/* A byte range read with pread into the heap: a page of a large object costs the page. */
static int op_get_range(void *state, const char *key, uint64_t offset, size_t len,
                        struct mf_buf *out, uint64_t *size)
{
    struct local *s = state;
    char path[PATH_MAX];
    if (!out || !size)
        return fail(s, MF_EINVAL, "local storage: get_range of key '%s' was given no buffer",
                    key ? key : "(null)");
    memset(out, 0, sizeof *out);
    out->struct_size = sizeof *out;
    int rc = key_path(s, key, path);
    if (rc)
        return rc;
    int fd;
    struct stat st;
    rc = open_object(s, key, path, &fd, &st);
    if (rc)
        return rc;
    uint64_t total = (uint64_t)st.st_size;
    size_t n = offset >= total ? 0 : total - offset < len ? (size_t)(total - offset) : len;
    char *buf = malloc(n ? n : 1);
    if (!buf) {
        close(fd);
        return fail(s, MF_ENOMEM, "local storage: out of memory reading %zu bytes of key '%s'",
                    n, key);
    }
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, buf + got, n - got, (off_t)(offset + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int err = errno;
            free(buf);
            close(fd);
            return sys_fail(s, err, "read", key, path);
        }
        if (r == 0)
            break;   /* it shrank since fstat: what is there */
        got += (size_t)r;
    }
    close(fd);
    out->data = buf;
    out->len = got;
    out->release = free_read_buf;
    *size = total;
    return 0;
}

static int op_get_file(void *state, const char *key, const char *file)
{
    struct local *s = state;
    char path[PATH_MAX];
    int rc = key_path(s, key, path);
    if (rc)
        return rc;
    if (!file || !*file || strlen(file) + TEMP_SUFFIX_MAX >= PATH_MAX)
        return fail(s, MF_EINVAL, "local storage: get_file of key '%s' was given no usable path",
                    key);
    int in;
    struct stat st;
    rc = open_object(s, key, path, &in, &st);
    if (rc)
        return rc;
    /* Written aside and renamed, so the destination is never seen half-written. */
    char tmp[PATH_MAX];
    int out = open_temp(file, tmp, 0600);   /* a copy of datastore data: private */
    if (out < 0) {
        int err = errno;
        close(in);
        return fail(s, err, "local storage: cannot create '%s' to receive key '%s': %s%s", tmp,
                    key, strerror(err),
                    err == ENOENT ? " (its directory does not exist; create it first)" : "");
    }
    int reading = 0;
    rc = copy_fd(in, out, &reading);
    close(in);
    if (close(out) != 0 && !rc && errno != EINTR)
        rc = errno;
    if (!rc && rename(tmp, file) != 0)
        rc = errno;
    if (rc) {
        unlink(tmp);
        if (rc == ENOSPC || rc == EDQUOT)
            return fail(s, rc,
                        "local storage: cannot copy key '%s' to '%s': %s; disk full: free "
                        "space where '%s' lives and retry",
                        key, file, strerror(rc), file);
        return fail(s, rc, "local storage: cannot copy key '%s' (%s) to '%s': %s", key, path,
                    file, strerror(rc));
    }
    return 0;
}

static int op_exists(void *state, const char *key)
{
    struct local *s = state;
    char path[PATH_MAX];
    int rc = key_path(s, key, path);
    if (rc)
        return rc;
    struct stat st;
    if (stat(path, &st) == 0)
        return S_ISREG(st.st_mode) ? 1 : 0;
    if (errno == ENOENT || errno == ENOTDIR)
        return 0;
    /* exists must answer <0 on error (1 means present). */
    sys_fail(s, errno, "look up", key, path);
    return MF_EIO;
}

static int op_del(void *state, const char *key)
{
    struct local *s = state;
    char path[PATH_MAX];
    int rc = key_path(s, key, path);
    if (rc)
        return rc;
    if (unlink(path) == 0)
        return 0;
    int err = errno;
    if (err == ENOENT || err == ENOTDIR)
        return fail(s, MF_ENOTFOUND, "local storage: no object '%s' to delete under %s", key,
                    s->root);
    if (err == EISDIR)
        return fail(s, MF_ENOTFOUND,
                    "local storage: key '%s' names a directory (a prefix), not an object; "
                    "delete the keys under it one by one",
                    key);
    return sys_fail(s, err, "delete", key, path);
}

/* ---- prepare ------------------------------------------------------------------------------- */

/* The directories of prefixes[0..n), created; then each directory that gained an entry is
 * synced once, after all of them are made (a run's step directories share one parent: one
 * fsync for all, where each task's first put would have synced two; a sync between two
 * creations in one parent would leave the later entries unsynced). A new directory's own,
 * empty, content needs no sync: the puts into it sync what they add, as in any directory that
 * exists. */
static int op_prepare(void *state, const char *const *prefixes, size_t n)
{
    struct local *s = state;
    char path[PATH_MAX], (*dirty)[PATH_MAX] = NULL;
    size_t n_dirty = 0;
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        size_t len = prefixes[i] ? strlen(prefixes[i]) : 0;
        if (len < 2 || prefixes[i][len - 1] != '/') {
            rc = fail(s, MF_EINVAL, "local storage: prefix '%s' to prepare does not end in '/'",
                      prefixes[i] ? prefixes[i] : "(null)");
            break;
        }
        char key[PATH_MAX];
        if (len >= sizeof key) {
            rc = fail(s, MF_EINVAL, "local storage: prefix '%.80s...' is too long", prefixes[i]);
            break;
        }
        memcpy(key, prefixes[i], len - 1);
        key[len - 1] = '\0';
        if ((rc = key_path(s, key, path)) != 0)
            break;
        size_t plen = strlen(path), top = 0;
        path[plen] = '/';   /* make_parents creates through the last '/' */
        path[plen + 1] = '\0';
        int e = make_parents(s, path, &top);
        struct stat sb;
        if (!e && stat(path, &sb) != 0)
            e = errno;   /* ENOTDIR: an object stands where the place must be */
        if (e) {
            rc = sys_fail(s, e, "create the directory of", prefixes[i], path);
            break;
        }
        if (!top)
            continue;
        /* To sync: the parent of the first new directory and every new one above the last. */
        size_t start = top;
        while (start > 0 && path[start - 1] != '/')
            start--;
        for (size_t j = start ? start - 1 : 0; j < plen && !rc; j++) {
            if (path[j] != '/')
                continue;
            path[j] = '\0';
            const char *dir = j ? path : "/";
            size_t k = 0;
            while (k < n_dirty && strcmp(dirty[k], dir) != 0)
                k++;
            if (k == n_dirty) {
                void *g = realloc(dirty, (n_dirty + 1) * sizeof *dirty);
                if (!g) {
                    rc = fail(s, MF_ENOMEM, "local storage: out of memory");
                    break;
                }
                dirty = g;
                snprintf(dirty[n_dirty++], PATH_MAX, "%s", dir);
            }
            path[j] = '/';
        }
    }
    for (size_t k = 0; k < n_dirty && !rc; k++) {
        int e = fsync_dir(dirty[k]);
        if (e)
            rc = fail(s, e, "local storage: cannot sync directory %s after creating places in it: %s",
                      dirty[k], strerror(e));
    }
    free(dirty);
    return rc;
}

/* ---- list ---------------------------------------------------------------------------------- */

struct walk {
    struct local *s;
    mf_list_cb cb;
    void *ud;
    char key[PATH_MAX];          /* the key being built, relative to root */
};

/* Report every object under the open directory dfd, whose key prefix is w->key[0..klen).
 * Only names starting with `first` (may be "") are taken at this level. Takes dfd. */
static int walk_dir(struct walk *w, int dfd, size_t klen, const char *first, int depth)
{
    DIR *d = fdopendir(dfd);
    if (!d) {
        int err = errno;
        close(dfd);
        w->key[klen] = '\0';
        return sys_fail(w->s, err, "list", klen ? w->key : "(root)", w->s->root);
    }
    size_t flen = strlen(first);
    int rc = 0;
    for (;;) {
        errno = 0;
        struct dirent *e = readdir(d);
        if (!e) {
            if (errno) {
                int err = errno;
                w->key[klen] = '\0';
                rc = sys_fail(w->s, err, "list", klen ? w->key : "(root)", w->s->root);
            }
            break;
        }
        const char *name = e->d_name;
        if (!strcmp(name, ".") || !strcmp(name, ".."))
            continue;
        if (flen && strncmp(name, first, flen) != 0)
            continue;
        size_t nlen = strlen(name);
        if (klen + nlen + 2 >= sizeof w->key)
            continue;   /* cannot be a key */
        struct stat st;
        if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue;   /* deleted meanwhile */
        if (S_ISLNK(st.st_mode) && (fstatat(dirfd(d), name, &st, 0) != 0 || !S_ISREG(st.st_mode)))
            continue;   /* dangling, or a link to a directory: not followed */
        memcpy(w->key + klen, name, nlen + 1);
        if (S_ISDIR(st.st_mode)) {
            if (depth >= MAX_DEPTH)
                continue;
            int sub = openat(dirfd(d), name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
            if (sub < 0)
                continue;   /* vanished or unreadable: not listable */
            w->key[klen + nlen] = '/';
            w->key[klen + nlen + 1] = '\0';
            rc = walk_dir(w, sub, klen + nlen + 1, "", depth + 1);
        } else if (S_ISREG(st.st_mode)) {
            if (is_temp_name(name))
                continue;   /* a write in progress, or left by a killed writer */
            rc = w->cb(w->ud, w->key, (uint64_t)st.st_size);
        }
        if (rc)
            break;
    }
    closedir(d);
    return rc;
}

static int op_list(void *state, const char *prefix, mf_list_cb cb, void *ud)
{
    struct local *s = state;
    if (!cb)
        return fail(s, MF_EINVAL, "local storage: list was given no callback");
    if (!prefix)
        prefix = "";
    if (prefix[0] == '/')
        return fail(s, MF_EINVAL,
                    "local storage: prefix '%s' starts with '/'; prefixes are relative to the "
                    "datastore root (%s)",
                    prefix, s->root);
    size_t plen = strlen(prefix);
    if (s->root_len + 1 + plen >= PATH_MAX)
        return fail(s, MF_EINVAL, "local storage: prefix '%.80s...' is too long", prefix);
    /* "a/b/c" lists directory "a/b" for names starting with "c" (keys are matched as strings,
     * like an object store: "runs/1" also covers "runs/10/..."). */
    const char *slash = strrchr(prefix, '/');
    size_t dlen = slash ? (size_t)(slash - prefix) : 0;
    if (slash) {
        int rc = check_components(s, "prefix", prefix, dlen);
        if (rc)
            return rc;
    }
    struct walk *w = malloc(sizeof *w);
    if (!w)
        return fail(s, MF_ENOMEM, "local storage: out of memory listing '%s'", prefix);
    w->s = s;
    w->cb = cb;
    w->ud = ud;
    char dir[PATH_MAX];
    memcpy(dir, s->root, s->root_len);
    dir[s->root_len] = '\0';
    if (slash) {
        dir[s->root_len] = '/';
        memcpy(dir + s->root_len + 1, prefix, dlen);
        dir[s->root_len + 1 + dlen] = '\0';
        memcpy(w->key, prefix, dlen + 1);   /* including the '/' */
    }
    if (!dir[0])
        strcpy(dir, "/");   /* the root is "/" itself */
    size_t klen = slash ? dlen + 1 : 0;
    w->key[klen] = '\0';
    int rc = 0;
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        if (errno != ENOENT && errno != ENOTDIR)
            rc = sys_fail(s, errno, "list", prefix, dir);
    } else {
        rc = walk_dir(w, dfd, klen, slash ? slash + 1 : prefix, 0);
    }
    free(w);
    return rc;
}

/* ---- batches ------------------------------------------------------------------------------- */

/* Keep the first failure's code and message across a batch. */
struct first_fail {
    int rc;
    char msg[ERR_LEN];
};

static void note(struct local *s, struct first_fail *f, int rc)
{
    if (rc && !f->rc) {
        f->rc = rc;
        snprintf(f->msg, sizeof f->msg, "%s", op_last_error(s));
    }
}

static int finish(struct local *s, struct first_fail *f)
{
    if (f->rc)
        fail(s, f->rc, "%s", f->msg);
    return f->rc;
}

static int op_put_batch(void *state, struct mf_storage_item *items, size_t n)
{
    struct local *s = state;
    struct first_fail f = {0, ""};
    if (n && !items)
        return fail(s, MF_EINVAL, "local storage: put_batch was given no items");
    for (size_t i = 0; i < n; i++) {
        struct mf_storage_item *it = &items[i];
        if (!it->data && it->path) {
            it->result = op_put_file(s, it->key, it->path, it->flags);
        } else if (!it->data && it->len) {
            it->result = fail(s, MF_EINVAL,
                              "local storage: put_batch item %zu (key '%s') has a length but "
                              "no data or path",
                              i, it->key ? it->key : "(null)");
        } else {
            struct mf_iov v = {it->data, it->len};
            it->result = op_put(s, it->key, &v, 1, it->flags);
        }
        note(s, &f, it->result);
    }
    return finish(s, &f);
}

static int op_get_batch(void *state, struct mf_storage_item *items, size_t n)
{
    struct local *s = state;
    struct first_fail f = {0, ""};
    if (n && !items)
        return fail(s, MF_EINVAL, "local storage: get_batch was given no items");
    for (size_t i = 0; i < n; i++) {
        struct mf_storage_item *it = &items[i];
        if (it->path)
            it->result = op_get_file(s, it->key, it->path);
        else
            it->result = op_get(s, it->key, &it->out);
        note(s, &f, it->result);
    }
    return finish(s, &f);
}

static int op_exists_batch(void *state, struct mf_storage_item *items, size_t n)
{
    struct local *s = state;
    struct first_fail f = {0, ""};
    if (n && !items)
        return fail(s, MF_EINVAL, "local storage: exists_batch was given no items");
    for (size_t i = 0; i < n; i++) {
        int r = op_exists(s, items[i].key);
        items[i].exists = r == 1;
        items[i].result = r < 0 ? r : 0;
        note(s, &f, items[i].result);
    }
    return finish(s, &f);
}

static int op_list_batch(void *state, const char *const *prefixes, size_t n, mf_list_cb cb,
                         void *ud)
{
    struct local *s = state;
    if (n && !prefixes)
        return fail(s, MF_EINVAL, "local storage: list_batch was given no prefixes");
    for (size_t i = 0; i < n; i++) {
        int rc = op_list(s, prefixes[i], cb, ud);
        if (rc)
            return rc;
    }
    return 0;
}

static const char *op_root(void *state)
{
    struct local *s = state;
    return s ? s->url : "";
}

/* ---- instance -------------------------------------------------------------------------------- */

static void host_log(const struct mf_host_api *host, int level, const char *msg)
{
    if (host && MF_HAS_FIELD(host, log) && host->log)
        host->log(level, PLUGIN_NAME, "%s", msg);
    else
        fprintf(stderr, "mflow storage local: %s\n", msg);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The root setting as an absolute, normalised path in out (PATH_MAX). A plain path or a
 * file:// URL ("file:///abs", "file://localhost/abs", percent-escapes decoded). */
static int resolve_root(const char *setting, char *out, char *why, size_t whysz)
{
    char raw[PATH_MAX];
    const char *p = setting;
    if (!strncmp(p, "file://", 7)) {
        p += 7;
        if (!strncmp(p, "localhost/", 10))
            p += 9;
        if (*p != '/') {
            snprintf(why, whysz,
                     "datastore root '%s' is a file:// URL without an absolute path; write "
                     "file:///absolute/path",
                     setting);
            return MF_EINVAL;
        }
        size_t n = 0;
        for (; *p; p++) {
            if (n + 1 >= sizeof raw)
                goto too_long;
            if (*p == '%' && hexval(p[1]) >= 0 && hexval(p[2]) >= 0) {
                raw[n++] = (char)(hexval(p[1]) * 16 + hexval(p[2]));
                p += 2;
            } else {
                raw[n++] = *p;
            }
        }
        raw[n] = '\0';
    } else if (strstr(p, "://")) {
        snprintf(why, whysz,
                 "datastore root '%s' is not a local path; the local storage plugin takes a "
                 "directory or a file:// URL (use --storage=s3 for s3:// roots)",
                 setting);
        return MF_EINVAL;
    } else if (p[0] == '/') {
        if (strlen(p) >= sizeof raw)
            goto too_long;
        strcpy(raw, p);
    } else {
        char cwd[PATH_MAX];
        if (!getcwd(cwd, sizeof cwd)) {
            snprintf(why, whysz, "datastore root '%s' is relative and the current directory "
                     "is unknown (%s); give an absolute path", setting, strerror(errno));
            return MF_EINVAL;
        }
        if (snprintf(raw, sizeof raw, "%s/%s", cwd, p) >= (int)sizeof raw)
            goto too_long;
    }
    if (strlen(raw) + 1 + 80 >= PATH_MAX)
        goto too_long;
    /* Lexical normalisation: no "//", ".", ".." or trailing '/'. */
    size_t n = 0;
    out[n++] = '/';
    for (const char *c = raw; *c;) {
        while (*c == '/')
            c++;
        const char *e = c;
        while (*e && *e != '/')
            e++;
        size_t len = (size_t)(e - c);
        if (len == 0 || (len == 1 && c[0] == '.')) {
            /* skip */
        } else if (len == 2 && c[0] == '.' && c[1] == '.') {
            while (n > 1 && out[n - 1] != '/')
                n--;
            if (n > 1)
                n--;
        } else {
            if (n > 1)
                out[n++] = '/';
            memcpy(out + n, c, len);
            n += len;
        }
        c = e;
    }
    out[n] = '\0';
    /* Where it already exists, resolve symbolic links too. */
    char real[PATH_MAX];
    if (realpath(out, real) && strlen(real) + 1 + 80 < PATH_MAX)
        strcpy(out, real);
    return 0;
too_long:
    snprintf(why, whysz, "datastore root '%.80s...' is too long; choose a shorter path", setting);
    return MF_EINVAL;
}

static char *url_of(const char *path)
{
    size_t n = strlen(path);
    char *u = malloc(7 + 3 * n + 1);
    if (!u)
        return NULL;
    char *o = u + 7;
    memcpy(u, "file://", 7);
    for (const char *c = path; *c; c++) {
        unsigned char ch = (unsigned char)*c;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            strchr("/-._~", ch)) {
            *o++ = (char)ch;
        } else {
            snprintf(o, 4, "%%%02X", ch);
            o += 3;
        }
    }
    *o = '\0';
    return u;
}

static int plugin_init(const struct mf_host_api *host, void **state)
{
    if (!state)
        return MF_EINVAL;
    *state = NULL;
    const char *setting = NULL;
    if (host && MF_HAS_FIELD(host, config_get) && host->config_get)
        setting = host->config_get(PLUGIN_NAME, "root");
    if (!setting || !*setting)
        setting = getenv("MFLOW_DATASTORE_ROOT");
    char def[PATH_MAX];
    if (!setting || !*setting) {
        const char *home = host && MF_HAS_FIELD(host, home) && host->home ? host->home() : NULL;
        if (!home || !*home) {
            host_log(host, MF_LOG_ERROR,
                     "no datastore root: set the 'root' option, MFLOW_DATASTORE_ROOT or "
                     "MFLOW_HOME");
            return MF_EINVAL;
        }
        if (snprintf(def, sizeof def, "%s/datastore", home) >= (int)sizeof def) {
            host_log(host, MF_LOG_ERROR, "MFLOW_HOME is too long; choose a shorter path");
            return MF_EINVAL;
        }
        setting = def;
    }
    char root[PATH_MAX], why[PATH_MAX + 256];
    int rc = resolve_root(setting, root, why, sizeof why);
    if (rc) {
        host_log(host, MF_LOG_ERROR, why);
        return rc;
    }
    struct local *s = calloc(1, sizeof *s);
    if (!s)
        return MF_ENOMEM;
    s->host = host;
    /* Naming an unnamed file needs /proc (linkat of /proc/self/fd/N); MFLOW_LOCAL_ANON_TEMP=0
     * turns it off (the tests cover both paths). */
    const char *anon = getenv("MFLOW_LOCAL_ANON_TEMP");
    s->anon_temp = access("/proc/self/fd", X_OK) == 0 && !(anon && !strcmp(anon, "0"));
    /* MFLOW_LOCAL_FLINK=0: always through /proc (the tests cover both). */
    const char *flink = getenv("MFLOW_LOCAL_FLINK");
    s->flink = !(flink && !strcmp(flink, "0"));
    s->root = strdup(root);
    s->root_len = strlen(root);
    s->url = url_of(root);
    if (!s->root || !s->url) {
        free(s->root);
        free(s->url);
        free(s);
        return MF_ENOMEM;
    }
    if (s->root_len == 1)
        s->root_len = 0;   /* root "/": keys join as "/" + key */
    /* Private unless the root already exists as a setgid directory, the usual way to give
     * a directory to a team (chgrp team ROOT; chmod 2770 ROOT): then what this instance
     * creates under it gets the root's group permissions, and new directories keep the
     * setgid bit so the group carries on down. Others never get any. */
    s->dir_mode = 0700;
    s->file_mode = 0600;
    struct stat rst;
    if (stat(root, &rst) == 0 && S_ISDIR(rst.st_mode) && (rst.st_mode & S_ISGID)) {
        s->shared = 1;
        s->dir_mode |= S_ISGID | (rst.st_mode & 0070);
        s->file_mode |= rst.st_mode & 0060;
    }
    pthread_mutex_init(&s->lock, NULL);
    *state = s;
    return 0;
}

static void plugin_fini(void *state)
{
    struct local *s = state;
    if (!s)
        return;
    if (err_owner == s)
        err_owner = NULL;
    pthread_mutex_destroy(&s->lock);
    free(s->root);
    free(s->url);
    free(s);
}

/* file:// roots (plain paths are local's by default) select this plugin (ABI 1.3). */
static const char *const schemes[] = {"file", NULL};

static const struct mf_storage_ops storage_ops = {
    .struct_size = sizeof(struct mf_storage_ops),
    .put = op_put,
    .put_file = op_put_file,
    .get = op_get,
    .get_file = op_get_file,
    .exists = op_exists,
    .list = op_list,
    .del = op_del,
    .put_batch = op_put_batch,
    .get_batch = op_get_batch,
    .exists_batch = op_exists_batch,
    .list_batch = op_list_batch,
    .last_error = op_last_error,
    .root = op_root,
    .writer_open = op_writer_open,
    .writer_write = op_writer_write,
    .writer_commit = op_writer_commit,
    .writer_abort = op_writer_abort,
    .schemes = schemes,
    .get_range = op_get_range,
    .prepare = op_prepare,
#ifndef LOCAL_NOT_FORK_SAFE
    /* No thread, fd or connection in an instance, only its root's settings (the tests build a
     * copy without it: LOCAL_NOT_FORK_SAFE). */
    .flags = MF_STORAGE_FORK_SAFE,
#endif
};

static const struct mf_option_def options[] = {
    {
        .struct_size = sizeof(struct mf_option_def),
        .type = MF_OPT_STRING,
        .name = "root",
        .env = "MFLOW_DATASTORE_ROOT",
        .default_value = NULL,
        .help = "datastore directory, a path or file:// URL (default $MFLOW_HOME/datastore)",
    },
};

static const struct mf_plugin_desc descriptor = {
    .struct_size = sizeof(struct mf_plugin_desc),
    .abi_major = MF_PLUGIN_ABI_MAJOR,
    .abi_minor = MF_PLUGIN_ABI_MINOR,
    .kind = MF_PLUGIN_STORAGE,
    .name = PLUGIN_NAME,
    .version = PLUGIN_VERSION,
    .description = "datastore in a local or shared POSIX directory (atomic writes, mmap reads)",
    .options = options,
    .n_options = sizeof options / sizeof options[0],
    .init = plugin_init,
    .fini = plugin_fini,
    .ops = &storage_ops,
};

MF_PLUGIN_EXPORT const struct mf_plugin_desc *mf_plugin_entry_v1(const struct mf_host_api *host);
MF_PLUGIN_EXPORT const struct mf_plugin_desc *mf_plugin_entry_v1(const struct mf_host_api *host)
{
    (void)host;
    return &descriptor;
}
