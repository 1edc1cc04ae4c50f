/* The s3 plugin's streaming writer (plugin ABI 1.1): an object written in pieces whose key
 * is known only once it is whole (a blob's key is the SHA-256 of its content).
 *
 * The pieces are kept in memory up to multipart_threshold, and such a value goes in one PUT
 * at commit. Past it they go to an unnamed file in spill_dir (O_TMPFILE, mode 0600; where the
 * file system has no O_TMPFILE, a file unlinked as soon as it is created), and commit uploads
 * that file as put_file does: parallel parts read from the file, the upload aborted on any
 * failure. So the process holds at most the threshold plus the parts in flight whatever the
 * value's size, nothing under the key is visible before commit's upload completes, and a
 * process killed mid-write leaves neither a file (the kernel drops an unnamed one) nor an
 * upload (none starts before commit). The other way, a multipart upload to a temporary key
 * copied to the real one at commit, would overlap the upload with the writing but pay a
 * server-side copy of the whole object and leave temporary objects behind a crash. */
#include "s3_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct mf_writer {
    char *buf;          /* the pieces, while they fit under the threshold */
    size_t len, cap;
    int fd;             /* the spill file, once past it (-1 before) */
    uint64_t size;      /* bytes written */
    int failed;
};

/* An unnamed file in dir, readable and writable by this user only; -1 with errno. */
static int spill_open(const char *dir)
{
#ifdef O_TMPFILE
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
        return fd;
#endif
    size_t n = strlen(dir) + 32;
    char *path = malloc(n);
    if (!path) {
        errno = ENOMEM;
        return -1;
    }
    snprintf(path, n, "%s/.mflow-s3-XXXXXX", dir);
    int fd2 = mkostemp(path, O_CLOEXEC);   /* mode 0600 */
    if (fd2 >= 0)
        unlink(path);   /* gone with the last descriptor, even if the process is killed */
    int e = errno;
    free(path);
    errno = e;
    return fd2;
}

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return errno;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

static int spill_fail(struct s3 *s, int e)
{
    return s3_fail(s, e,
                   "s3 storage: cannot write a temporary file in '%s' for a value being "
                   "stored: %s%s",
                   s->cfg.spill_dir, strerror(e),
                   e == ENOSPC || e == EDQUOT
                       ? "; free space there or point spill_dir (MFLOW_S3_SPILL_DIR) at a "
                         "directory with room for the value"
                       : e == ENOENT || e == EACCES || e == EROFS
                       ? "; set spill_dir (MFLOW_S3_SPILL_DIR) or TMPDIR to a writable directory"
                       : "");
}

int s3_op_writer_open(void *state, mf_writer **out)
{
    struct s3 *s = state;
    if (!out)
        return s3_fail(s, MF_EINVAL, "s3 storage: writer_open was given no handle to fill");
    *out = NULL;
    mf_writer *w = calloc(1, sizeof *w);
    if (!w)
        return s3_fail(s, MF_ENOMEM, "s3 storage: out of memory starting a writer");
    w->fd = -1;
    *out = w;
    return 0;
}

/* Move what is in memory to a new spill file. */
static int spill(struct s3 *s, mf_writer *w)
{
    w->fd = spill_open(s->cfg.spill_dir);
    if (w->fd < 0)
        return spill_fail(s, errno);
    int e = write_all(w->fd, w->buf, w->len);
    if (e)
        return spill_fail(s, e);
    free(w->buf);
    w->buf = NULL;
    w->len = w->cap = 0;
    return 0;
}

int s3_op_writer_write(void *state, mf_writer *w, const struct mf_iov *iov, size_t niov)
{
    struct s3 *s = state;
    if (!w || (niov && !iov))
        return s3_fail(s, MF_EINVAL, "s3 storage: writer_write was given no writer or no data");
    if (w->failed)
        return s3_fail(s, MF_EINVAL, "s3 storage: writer_write after a failure (abort it)");
    for (size_t i = 0; i < niov; i++) {
        size_t n = iov[i].len;
        if (!n)
            continue;
        if (!iov[i].base) {
            w->failed = 1;
            return s3_fail(s, MF_EINVAL, "s3 storage: writer_write piece %zu has no data", i);
        }
        int rc = 0;
        if (w->fd < 0 && w->size + n > s->cfg.multipart_threshold)
            rc = spill(s, w);
        if (!rc && w->fd >= 0) {
            int e = write_all(w->fd, iov[i].base, n);
            if (e)
                rc = spill_fail(s, e);
        } else if (!rc) {
            if (w->len + n > w->cap) {
                size_t cap = w->cap ? w->cap : 64 * 1024;
                while (cap < w->len + n)
                    cap *= 2;
                if (cap > s->cfg.multipart_threshold)
                    cap = (size_t)s->cfg.multipart_threshold;
                char *nb = realloc(w->buf, cap);
                if (!nb)
                    rc = s3_fail(s, MF_ENOMEM, "s3 storage: out of memory holding %zu bytes of a "
                                 "value being stored", w->len + n);
                else {
                    w->buf = nb;
                    w->cap = cap;
                }
            }
            if (!rc) {
                memcpy(w->buf + w->len, iov[i].base, n);
                w->len += n;
            }
        }
        if (rc) {
            w->failed = 1;
            return rc;
        }
        w->size += n;
    }
    return 0;
}

void s3_op_writer_abort(void *state, mf_writer *w)
{
    (void)state;
    if (!w)
        return;
    if (w->fd >= 0)
        close(w->fd);
    free(w->buf);
    free(w);
}

int s3_op_writer_commit(void *state, mf_writer *w, const char *key, uint32_t flags)
{
    struct s3 *s = state;
    if (!w)
        return s3_fail(s, MF_EINVAL, "s3 storage: writer_commit was given no writer");
    int rc = 0;
    if (w->failed)
        rc = s3_fail(s, MF_EINVAL, "s3 storage: writer_commit after a failure (abort it)");
    else if (!(rc = s3_check_key(s, "key", key, 0)) && w->fd < 0) {
        struct mf_iov v = {w->buf, w->len};
        rc = s3_op_put(s, key, &v, w->len ? 1 : 0, flags);
    } else if (!rc) {
        struct stat st;
        if (fstat(w->fd, &st) != 0 || (uint64_t)st.st_size != w->size) {
            rc = s3_fail(s, MF_EIO, "s3 storage: the temporary file of key '%s' does not hold "
                         "the %llu bytes written to it; store the value again",
                         key, (unsigned long long)w->size);
        } else {
            struct s3_job j;
            s3_job_init(&j, s, key);
            j.src_fd = w->fd;
            j.flags = flags;
            rc = s3_run_puts(s, &j, 1);
            s3_job_clear(&j);
        }
    }
    s3_op_writer_abort(s, w);
    return rc;
}
