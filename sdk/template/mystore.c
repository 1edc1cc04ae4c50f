/*
 * mflow_storage_tmpl — a storage plugin that keeps each object as a file under a directory,
 * serving tmpl:// roots ("tmpl:///srv/data" is the directory /srv/data).
 *
 * The template for a real storage backend: unlike `memory` (myplugin.c) it is shared by
 * every process of a run, so a flow runs on it end to end:
 *
 *     MFLOW_PLUGIN_PATH=$PWD mflow --datastore-root=tmpl:///tmp/ds run flow.c
 *     MFLOW_PLUGIN_PATH=$PWD mflow get Flow/1/end/3 x        # no --storage: the run says
 *
 * What it shows beyond myplugin.c (read the contract in <mflow/plugin.h> beside it):
 *  - `schemes` (plugin ABI 1.3): a root with the tmpl:// scheme selects this plugin.
 *  - The `root` option: given by --datastore-root/MFLOW_DATASTORE_ROOT (or this plugin's own
 *    MFLOW_TMPL_ROOT), defaulting to $MFLOW_HOME/tmpl; root() returns it as a tmpl:// URL
 *    that, given back, names the same directory (tasks get exactly that).
 *  - Safe across processes (every task opens its own instance): a put writes a temporary
 *    file beside the object and renames it over the key, so a reader sees the old object
 *    or the new one, and two processes writing one key each leave a whole one.
 *  - Safe across threads: no shared mutable state but the last error, which is per thread.
 *  - init reporting a failure through host->log, since there is no instance for
 *    last_error yet.
 *  - Optional operations left NULL (get_file, the batch forms, the streaming writer): the
 *    host does without them.
 * Check it with `mflow-plugin-check --kind=storage mflow_storage_tmpl.so` (make conformance).
 */
#include <mflow/plugin.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PLUGIN_NAME "tmpl"
#define PLUGIN_VERSION "1.0.0"
#define SCHEME "tmpl://"
#define TEMP_MARK ".tmp-"       /* in the name of a file being written: never listed */

struct store {
    const struct mf_host_api *host;
    char dir[PATH_MAX];        /* absolute, no trailing '/' */
    char url[PATH_MAX + 8];    /* SCHEME + dir */
};

/* One message per thread: operations of one instance may run on several threads at once. */
static __thread char error[1024];

static const struct mf_option_def options[] = {
    {
        .struct_size = sizeof(struct mf_option_def),
        .type = MF_OPT_STRING,
        .name = "root",                 /* the datastore root is always the option "root" */
        .env = "MFLOW_TMPL_ROOT",
        .default_value = NULL,          /* $MFLOW_HOME/tmpl, resolved in init */
        .help = "directory of the objects, as tmpl:///abs/dir or a path (default $MFLOW_HOME/tmpl)",
    },
};

static int fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(error, sizeof error, fmt, ap);
    va_end(ap);
    return code;
}

/* errno as a return code: positive, except where the contract wants MF_ENOTFOUND. */
static int sys_fail(const char *what, const char *key)
{
    int e = errno ? errno : EIO;
    return fail(e == ENOENT ? MF_ENOTFOUND : e, "tmpl storage: cannot %s '%s': %s", what, key,
                strerror(e));
}

/* A key is a relative path of plain names: no "", ".", ".." or empty segments, nothing that
 * looks like our temporary files. */
static int check_key(const char *key)
{
    if (!key || !*key || key[0] == '/')
        return fail(MF_EINVAL, "tmpl storage: key '%s' is not a relative path", key ? key : "");
    if (strstr(key, TEMP_MARK))
        return fail(MF_EINVAL, "tmpl storage: key '%s' contains '" TEMP_MARK "', which marks "
                               "this plugin's temporary files", key);
    for (const char *s = key; *s;) {
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
            return fail(MF_EINVAL, "tmpl storage: key '%s' has a segment that is not a plain "
                                   "name", key);
        s += n + (e ? 1 : 0);
        if (e && !*s)
            return fail(MF_EINVAL, "tmpl storage: key '%s' ends with '/'", key);
    }
    return 0;
}

static int path_of(const struct store *s, const char *key, char *path)
{
    int rc = check_key(key);
    if (rc)
        return rc;
    if (snprintf(path, PATH_MAX, "%s/%s", s->dir, key) >= PATH_MAX)
        return fail(MF_EINVAL, "tmpl storage: key '%s' is too long", key);
    return 0;
}

/* mkdir -p of the directories above path. */
static int make_parents(char *path)
{
    for (char *p = path + 1; (p = strchr(p, '/')); p++) {
        *p = '\0';
        int r = mkdir(path, 0700);
        int e = errno;
        *p = '/';
        if (r && e != EEXIST) {
            errno = e;
            return -1;
        }
    }
    return 0;
}

/* Write the pieces to a temporary file beside path and rename it over path: atomic for
 * readers in every process. */
static int write_atomic(const char *key, const char *path, const struct mf_iov *iov, size_t niov,
                        int from_fd)
{
    static __thread unsigned counter;
    char tmp[PATH_MAX + 64];
    snprintf(tmp, sizeof tmp, "%s" TEMP_MARK "%ld-%u", path, (long)getpid(), counter++);
    if (make_parents(tmp))
        return sys_fail("create the directories of", key);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return sys_fail("create a temporary file for", key);
    int ok = 1;
    for (size_t i = 0; ok && i < niov; i++) {
        const char *p = iov[i].base;
        for (size_t left = iov[i].len; ok && left;) {
            ssize_t n = write(fd, p, left);
            ok = n > 0 || (n < 0 && errno == EINTR);
            if (n > 0)
                p += n, left -= (size_t)n;
        }
    }
    char buf[65536];
    for (ssize_t n; ok && from_fd >= 0 && (n = read(from_fd, buf, sizeof buf)) != 0;) {
        if (n < 0) {
            ok = errno == EINTR;
            continue;
        }
        for (ssize_t off = 0; ok && off < n;) {
            ssize_t w = write(fd, buf + off, (size_t)(n - off));
            ok = w > 0 || (w < 0 && errno == EINTR);
            if (w > 0)
                off += w;
        }
    }
    /* fsync before the rename: after a crash the key holds the old bytes or the new. */
    ok = ok && fsync(fd) == 0;
    int e = errno;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        e = ok ? errno : e;
        unlink(tmp);
        errno = e;
        return sys_fail("write", key);
    }
    return 0;
}

static int st_put(void *state, const char *key, const struct mf_iov *iov, size_t niov,
                  uint32_t flags)
{
    char path[PATH_MAX];
    int rc = path_of(state, key, path);
    if (rc)
        return rc;
    if ((flags & MF_PUT_IF_ABSENT) && access(path, F_OK) == 0)
        return 0;
    return write_atomic(key, path, iov, niov, -1);
}

static int st_put_file(void *state, const char *key, const char *file, uint32_t flags)
{
    char path[PATH_MAX];
    int rc = path_of(state, key, path);
    if (rc)
        return rc;
    if ((flags & MF_PUT_IF_ABSENT) && access(path, F_OK) == 0)
        return 0;
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        return fail(e == ENOENT ? MF_ENOTFOUND : e, "tmpl storage: cannot read '%s' to store "
                    "as '%s': %s", file, key, strerror(e));
    }
    rc = write_atomic(key, path, NULL, 0, fd);
    close(fd);
    return rc;
}

static void release_malloced(struct mf_buf *b)
{
    free(b->data);
    b->data = NULL;
}

static int st_get(void *state, const char *key, struct mf_buf *out)
{
    char path[PATH_MAX];
    int rc = path_of(state, key, path);
    if (rc)
        return rc;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT || errno == ENOTDIR
                   ? fail(MF_ENOTFOUND, "tmpl storage: no object '%s'", key)
                   : sys_fail("open", key);
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return fail(MF_ENOTFOUND, "tmpl storage: no object '%s' (not a file)", key);
    }
    size_t len = (size_t)sb.st_size, got = 0;
    char *data = malloc(len ? len : 1);
    if (!data) {
        close(fd);
        return fail(MF_ENOMEM, "tmpl storage: out of memory reading '%s'", key);
    }
    while (got < len) {
        ssize_t n = read(fd, data + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    if (got != len) {
        free(data);
        return fail(MF_EIO, "tmpl storage: '%s' was cut short while reading", key);
    }
    memset(out, 0, sizeof *out);
    out->struct_size = sizeof *out;
    out->data = data;
    out->len = len;
    out->release = release_malloced;
    return 0;
}

/* Exactly 1, 0 or a negative code: a positive errno would read as "present". */
static int st_exists(void *state, const char *key)
{
    char path[PATH_MAX];
    int rc = path_of(state, key, path);
    if (rc)
        return rc;
    struct stat sb;
    if (stat(path, &sb) == 0)
        return S_ISREG(sb.st_mode) ? 1 : 0;
    int e = errno;
    if (e == ENOENT || e == ENOTDIR)
        return 0;
    sys_fail("look up", key);
    return e == EACCES ? MF_EPERM : MF_EIO;
}

struct walk {
    mf_list_cb cb;
    void *ud;
    size_t skip;               /* length of "dir/": what is cut off to make a key */
};

static int walk_dir(struct walk *w, char *path, size_t len)
{
    DIR *d = opendir(path);
    if (!d)
        return errno == ENOENT || errno == ENOTDIR ? 0 : sys_fail("list", path + w->skip);
    int rc = 0;
    for (struct dirent *e; !rc && (e = readdir(d));) {
        if (e->d_name[0] == '.' || strstr(e->d_name, TEMP_MARK))
            continue;
        size_t n = strlen(e->d_name);
        if (len + 1 + n >= PATH_MAX)
            continue;
        path[len] = '/';
        memcpy(path + len + 1, e->d_name, n + 1);
        struct stat sb;
        if (lstat(path, &sb) == 0) {
            if (S_ISDIR(sb.st_mode))
                rc = walk_dir(w, path, len + 1 + n);
            else if (S_ISREG(sb.st_mode))
                rc = w->cb(w->ud, path + w->skip, (uint64_t)sb.st_size);
        }
        path[len] = '\0';
    }
    closedir(d);
    return rc;
}

/* Keys under prefix: walk the deepest directory the prefix names, keep keys that start with
 * the whole prefix. */
struct filter {
    mf_list_cb cb;
    void *ud;
    const char *prefix;
};

static int filtered(void *ud, const char *key, uint64_t size)
{
    struct filter *f = ud;
    return strncmp(key, f->prefix, strlen(f->prefix)) ? 0 : f->cb(f->ud, key, size);
}

static int st_list(void *state, const char *prefix, mf_list_cb cb, void *ud)
{
    struct store *s = state;
    if (!prefix)
        prefix = "";
    char path[PATH_MAX];
    const char *slash = strrchr(prefix, '/');
    size_t dlen = slash ? (size_t)(slash - prefix) : 0;
    if (prefix[0] == '/' || strstr(prefix, ".."))
        return fail(MF_EINVAL, "tmpl storage: prefix '%s' is not a relative path", prefix);
    if (snprintf(path, sizeof path, "%s%s%.*s", s->dir, dlen ? "/" : "", (int)dlen, prefix) >=
        (int)sizeof path)
        return fail(MF_EINVAL, "tmpl storage: prefix '%s' is too long", prefix);
    struct filter f = {cb, ud, prefix};
    struct walk w = {filtered, &f, strlen(s->dir) + 1};
    return walk_dir(&w, path, strlen(path));
}

static int st_del(void *state, const char *key)
{
    char path[PATH_MAX];
    int rc = path_of(state, key, path);
    if (rc)
        return rc;
    if (unlink(path) != 0)
        return errno == ENOENT || errno == ENOTDIR
                   ? fail(MF_ENOTFOUND, "tmpl storage: no object '%s' to delete", key)
                   : sys_fail("delete", key);
    return 0;
}

static const char *st_last_error(void *state)
{
    (void)state;
    return error[0] ? error : "no error";
}

static const char *st_root(void *state)
{
    struct store *s = state;
    return s->url;
}

/* ---- instance ----------------------------------------------------------------------------- */

static void say(const struct mf_host_api *host, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void say(const struct mf_host_api *host, int level, const char *fmt, ...)
{
    char msg[PATH_MAX + 256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (host && MF_HAS_FIELD(host, log) && host->log)
        host->log(level, PLUGIN_NAME, "%s", msg);
    else
        fprintf(stderr, "mflow %s: %s\n", PLUGIN_NAME, msg);
}

static int st_init(const struct mf_host_api *host, void **state)
{
    *state = NULL;
    const char *root = NULL;
    if (host && MF_HAS_FIELD(host, config_get) && host->config_get)
        root = host->config_get(PLUGIN_NAME, "root");
    char dflt[PATH_MAX];
    if (!root || !*root) {
        const char *home = host && MF_HAS_FIELD(host, home) && host->home ? host->home() : NULL;
        if (!home || !*home) {
            /* No instance yet for last_error: init's failures go through the host's log. */
            say(host, MF_LOG_ERROR, "no root: set --datastore-root=tmpl:///DIR or MFLOW_HOME");
            return MF_EINVAL;
        }
        snprintf(dflt, sizeof dflt, "%s/tmpl", home);
        root = dflt;
    }
    const char *dir = root;
    if (!strncmp(root, SCHEME, strlen(SCHEME)))
        dir = root + strlen(SCHEME);
    else if (strstr(root, "://")) {
        say(host, MF_LOG_ERROR, "root '%s' is not a tmpl:// URL or a path; write "
                                "tmpl:///absolute/dir", root);
        return MF_EINVAL;
    }
    struct store *s = calloc(1, sizeof *s);
    if (!s)
        return MF_ENOMEM;
    s->host = host;
    char cwd[PATH_MAX] = "";
    if (dir[0] != '/' && !getcwd(cwd, sizeof cwd)) {
        free(s);
        say(host, MF_LOG_ERROR, "root '%s' is relative and the current directory is unknown",
            root);
        return MF_EINVAL;
    }
    int n = snprintf(s->dir, sizeof s->dir, "%s%s%s", cwd, cwd[0] ? "/" : "", dir);
    while (n > 1 && s->dir[n - 1] == '/')
        s->dir[--n] = '\0';
    char probe[PATH_MAX + 2];
    snprintf(probe, sizeof probe, "%s/", s->dir);
    struct stat sb;
    if (make_parents(probe) != 0 || stat(s->dir, &sb) != 0 || !S_ISDIR(sb.st_mode) ||
        access(s->dir, W_OK) != 0) {
        int e = errno ? errno : ENOTDIR;
        say(host, MF_LOG_ERROR, "cannot use %s as the datastore directory: %s; create it or "
                                "choose another root", s->dir, strerror(e));
        free(s);
        return e;
    }
    snprintf(s->url, sizeof s->url, SCHEME "%s", s->dir);
    *state = s;
    return 0;
}

static void st_fini(void *state)
{
    free(state);
}

static const char *const schemes[] = {"tmpl", NULL};

static const struct mf_storage_ops ops = {
    .struct_size = sizeof(struct mf_storage_ops),
    .put = st_put,
    .put_file = st_put_file,
    .get = st_get,
    .exists = st_exists,
    .list = st_list,
    .del = st_del,
    .last_error = st_last_error,
    .root = st_root,
    .schemes = schemes,
};

static const struct mf_plugin_desc desc = {
    .struct_size = sizeof(struct mf_plugin_desc),
    .abi_major = MF_PLUGIN_ABI_MAJOR,
    .abi_minor = MF_PLUGIN_ABI_MINOR,
    .kind = MF_PLUGIN_STORAGE,
    .name = PLUGIN_NAME,
    .version = PLUGIN_VERSION,
    .description = "objects as files under a directory, for tmpl:// roots (template plugin)",
    .options = options,
    .n_options = sizeof options / sizeof options[0],
    .init = st_init,
    .fini = st_fini,
    .ops = &ops,
};

MF_PLUGIN_EXPORT const struct mf_plugin_desc *mf_plugin_entry_v1(const struct mf_host_api *host)
{
    if (!host || host->abi_major != MF_PLUGIN_ABI_MAJOR)
        return NULL;
    return &desc;
}
