#include "util.h"

#include "mflow-build.h"

#include <mflow/plugin.h>

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

char *mf_vstrf(const char *fmt, va_list ap)
{
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        return NULL;
    return s;
}

char *mf_strf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = mf_vstrf(fmt, ap);
    va_end(ap);
    return s;
}

char *mf_strdup0(const char *s)
{
    return s ? strdup(s) : NULL;
}

int mf_name_valid(const char *s)
{
    if (!s || !*s || (*s >= '0' && *s <= '9'))
        return 0;
    size_t n = 0;
    for (const char *p = s; *p; p++, n++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_'))
            return 0;
    return n <= MF_ARTIFACT_NAME_MAX;
}

size_t mf_utf8_seq(const unsigned char *s, size_t n)
{
    if (!n)
        return 0;
    unsigned c = s[0];
    if (c < 0x80)
        return 1;
    size_t len;
    unsigned lo = 0x80, hi = 0xbf;   /* the allowed range of the second byte */
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0)
            lo = 0xa0;               /* overlong */
        else if (c == 0xed)
            hi = 0x9f;               /* U+D800..U+DFFF, the surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0)
            lo = 0x90;               /* overlong */
        else if (c == 0xf4)
            hi = 0x8f;               /* past U+10FFFF */
    } else {
        return 0;                    /* 0x80..0xc1 (a continuation, an overlong lead), 0xf5.. */
    }
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return len;
}

int mf_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0, k; i < n; i += k)
        if (!(k = mf_utf8_seq(p + i, n - i)))
            return 0;
    return 1;
}

char *mf_escape(const char *s, size_t n, int flags)
{
    const unsigned char *p = (const unsigned char *)s;
    char *out = malloc(n * 4 + 1);   /* the most a byte becomes: \xNN; \uNNNN is for 3 */
    if (!out)
        return NULL;
    char *o = out;
    for (size_t i = 0; i < n;) {
        size_t k = mf_utf8_seq(p + i, n - i);
        unsigned c = p[i];
        if (k == 1 && c >= 0x20 && c != 0x7f) {
            *o++ = (char)c;
        } else if (k == 1 && (c == '\n' || c == '\t') && (flags & MF_ESC_KEEP_LINES)) {
            *o++ = (char)c;
        } else if (k == 1 && (c == '\n' || c == '\r' || c == '\t')) {
            *o++ = '\\';
            *o++ = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
        } else if (k == 2 && c == 0xc2 && p[i + 1] < 0xa0) {
            o += sprintf(o, "\\x%02x\\x%02x", c, p[i + 1]);   /* C1 controls (0x9b is CSI) */
        } else if (k == 3 && c == 0xe2 && p[i + 1] == 0x80 && p[i + 2] >= 0xaa && p[i + 2] <= 0xae) {
            o += sprintf(o, "\\u%04x", 0x2000u + (p[i + 2] - 0x80u));   /* U+202A..E */
        } else if (k == 3 && c == 0xe2 && p[i + 1] == 0x81 && p[i + 2] >= 0xa6 && p[i + 2] <= 0xa9) {
            o += sprintf(o, "\\u%04x", 0x2040u + (p[i + 2] - 0x80u));   /* U+2066..9 */
        } else if (k > 1) {
            memcpy(o, p + i, k);
            o += k;
        } else {
            o += sprintf(o, "\\x%02x", c);   /* other controls, and bytes that are not UTF-8 */
            k = 1;
        }
        i += k;
    }
    *o = '\0';
    return out;
}

int mf_mkdir_p(const char *path, unsigned mode)
{
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf)
        return ENAMETOOLONG;
    memcpy(buf, path, n + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, mode) != 0 && errno != EEXIST)
            return errno;
        *p = '/';
    }
    if (mkdir(buf, mode) != 0 && errno != EEXIST)
        return errno;
    return 0;
}

FILE *mf_fopen_private(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, MF_PRIVATE_FILE_MODE);
    if (fd < 0)
        return NULL;
    FILE *f = fdopen(fd, "w");
    if (!f) {
        int e = errno;
        close(fd);
        errno = e;
    }
    return f;
}

int mf_read_file(const char *path, char **out, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return e;
    }
    size_t cap = (size_t)st.st_size + 1, n = 0;
    char *buf = malloc(cap);
    if (!buf) {
        close(fd);
        return ENOMEM;
    }
    for (;;) {
        if (n + 1 >= cap) {
            char *g = realloc(buf, cap * 2);
            if (!g) {
                free(buf);
                close(fd);
                return ENOMEM;
            }
            buf = g;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + n, cap - n - 1);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            free(buf);
            close(fd);
            return e;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    buf[n] = '\0';
    *out = buf;
    if (len)
        *len = n;
    return 0;
}

int mf_write_file_atomic(const char *path, const void *data, size_t len)
{
    return mf_write_file_atomic_mode(path, data, len, 0644);
}

int mf_write_file_atomic_mode(const char *path, const void *data, size_t len, mode_t mode)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return errno;
    const char *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            close(fd);
            unlink(tmp);
            return e;
        }
        p += w;
        len -= (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        int e = errno;
        unlink(tmp);
        return e;
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return e;
    }
    return 0;
}

int mf_check_file_writable(const char *path)
{
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
        return EISDIR;
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return errno;
    close(fd);
    unlink(tmp);
    return 0;
}

double mf_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

double mf_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

size_t mf_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 255 || lb > 255)
        return (size_t)-1;
    size_t row[256];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (row[j] + 1 < best)
                best = row[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

void mf_sbuf_add(struct mf_sbuf *b, const void *data, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *g = realloc(b->data, cap);
        if (!g) {
            b->oom = 1;
            return;
        }
        b->data = g;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void mf_sbuf_addf(struct mf_sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = mf_vstrf(fmt, ap);
    va_end(ap);
    if (!s) {
        b->oom = 1;
        return;
    }
    mf_sbuf_add(b, s, strlen(s));
    free(s);
}

void mf_sbuf_free(struct mf_sbuf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

int mf_grow(void *items_ptr, size_t *cap, size_t n, size_t size, size_t first)
{
    if (n < *cap)
        return 0;
    size_t c = *cap ? *cap * 2 : first;
    void *old;
    memcpy(&old, items_ptr, sizeof old);
    void *grown = realloc(old, c * size);
    if (!grown)
        return MF_ENOMEM;
    memcpy(items_ptr, &grown, sizeof grown);
    *cap = c;
    return 0;
}

int mf_fs_nearly_full(const char *dir)
{
    struct statvfs fs;
    return statvfs(dir, &fs) == 0 && (uint64_t)fs.f_bavail * fs.f_frsize < (1u << 20);
}

static int under_build_root(const char *path)
{
    size_t blen = strlen(MF_BUILD_ROOT);
    return path && strlen(path) > blen && !strncmp(path, MF_BUILD_ROOT, blen) && path[blen] == '/';
}

int mf_running_from_build_tree(void)
{
    static int cached = -1;
    if (cached < 0) {
        char exe[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (n > 0)
            exe[n] = '\0';
        cached = n > 0 && under_build_root(exe);
        /* A program that loaded the build tree's libmflow.so (the Python SDK's python3). */
        Dl_info info;
        if (!cached && dladdr((void *)mf_running_from_build_tree, &info) && info.dli_fname)
            cached = under_build_root(info.dli_fname);
    }
    return cached;
}

int mf_opt_value(int argc, char **argv, int *i, const char *name, const char **v)
{
    size_t n = strlen(name);
    const char *a = argv[*i];
    if (strncmp(a, name, n) != 0)
        return 0;
    if (a[n] == '=') {
        *v = a + n + 1;
        return 1;
    }
    if (a[n] != '\0')
        return 0;
    if (*i + 1 >= argc)
        return -1;
    *v = argv[++*i];
    return 1;
}
