/* Code packages (package.h): a reproducible tar.zst of a flow, built with libarchive, stored
 * content-addressed in the datastore, fetched, verified and extracted safely into a cache. */
#include "package.h"

#include "host.h"
#include "mflow-build.h"
#include "util.h"

#include <archive.h>
#include <archive_entry.h>
#include <jansson.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* What a package may hold: enough for code and small data, not a data set (artifacts and
 * the datastore are for data). */
#define PKG_MAX_FILES 10000
#define PKG_MAX_BYTES ((uint64_t)256 << 20)
/* What an extracted package may hold (a bound against archive bombs). */
#define PKG_EXTRACT_MAX_ENTRIES 100000
#define PKG_EXTRACT_MAX_BYTES ((uint64_t)1 << 30)
#define PKG_MAX_DEPTH 32
#define PKG_OBJECT ".mflow/flow.so"
#define PKG_META ".mflow/package.json"

/* ---- the entry list ------------------------------------------------------------------------ */

struct pent {
    char *path;                  /* archive path: relative, no trailing slash */
    char *src;                   /* file to read; NULL for a directory or inline data */
    const char *data;            /* inline content (package.json), borrowed */
    uint64_t size;
    unsigned mode;
    int dir;
};

struct plist {
    struct pent *v;
    size_t n, cap;
    uint64_t bytes;
    char *dir;                   /* the flow's directory (real path) */
    size_t dirlen;
};

static void plist_free(struct plist *pl)
{
    for (size_t i = 0; i < pl->n; i++) {
        free(pl->v[i].path);
        free(pl->v[i].src);
    }
    free(pl->v);
    free(pl->dir);
    memset(pl, 0, sizeof *pl);
}

static int plist_add(struct plist *pl, const char *path, const char *src, const char *data,
                     uint64_t size, unsigned mode, int dir, char **err)
{
    if (!dir && pl->n >= PKG_MAX_FILES) {
        *err = mf_strf("package of the flow in %s: more than %d files; list fewer in the "
                       "manifest (data belongs in artifacts, not in the code package)",
                       pl->dir, PKG_MAX_FILES);
        return MF_EINVAL;
    }
    pl->bytes += size;
    if (pl->bytes > PKG_MAX_BYTES) {
        *err = mf_strf("package of the flow in %s: more than %llu MiB with %s; list fewer files "
                       "in the manifest (data belongs in artifacts, not in the code package)",
                       pl->dir, (unsigned long long)(PKG_MAX_BYTES >> 20), path);
        return MF_EINVAL;
    }
    if (mf_grow(&pl->v, &pl->cap, pl->n, sizeof *pl->v, 32))
        return MF_ENOMEM;
    struct pent *e = &pl->v[pl->n];
    memset(e, 0, sizeof *e);
    e->path = strdup(path);
    e->src = src ? strdup(src) : NULL;
    if (!e->path || (src && !e->src)) {
        free(e->path);
        free(e->src);
        return MF_ENOMEM;
    }
    e->data = data;
    e->size = size;
    e->mode = mode;
    e->dir = dir;
    pl->n++;
    return 0;
}

static int pent_cmp(const void *a, const void *b)
{
    const struct pent *x = a, *y = b;
    int c = strcmp(x->path, y->path);
    return c ? c : y->dir - x->dir;
}

/* Add the directories above every file, sort by path and drop duplicates. */
static int plist_finish(struct plist *pl, char **err)
{
    size_t nfiles = pl->n;
    for (size_t i = 0; i < nfiles; i++) {
        char *p = strdup(pl->v[i].path);
        if (!p)
            return MF_ENOMEM;
        for (char *s = strchr(p, '/'); s; s = strchr(s + 1, '/')) {
            *s = '\0';
            int rc = plist_add(pl, p, NULL, NULL, 0, 0755, 1, err);
            *s = '/';
            if (rc) {
                free(p);
                return rc;
            }
        }
        free(p);
    }
    qsort(pl->v, pl->n, sizeof *pl->v, pent_cmp);
    size_t w = 0;
    for (size_t i = 0; i < pl->n; i++) {
        if (w && !strcmp(pl->v[w - 1].path, pl->v[i].path)) {
            if (pl->v[w - 1].dir != pl->v[i].dir) {
                *err = mf_strf("package of the flow in %s: '%s' is both a file and a directory",
                               pl->dir, pl->v[i].path);
                return MF_EINVAL;
            }
            free(pl->v[i].path);
            free(pl->v[i].src);
            continue;
        }
        pl->v[w++] = pl->v[i];
    }
    pl->n = w;
    return 0;
}

/* ---- collecting the flow's files ----------------------------------------------------------- */

/* The real path of `p` when it lies inside the flow's directory; NULL otherwise. */
static char *inside(const struct plist *pl, const char *p)
{
    char *r = realpath(p, NULL);
    if (!r)
        return NULL;
    if (strncmp(r, pl->dir, pl->dirlen) != 0 || r[pl->dirlen] != '/') {
        free(r);
        return NULL;
    }
    return r;
}

/* Normalize a relative path ("./a//b/" -> "a/b"); refuse absolute paths and "..". */
static int norm_rel(const char *in, char *out, size_t outsz, const char **why)
{
    if (in[0] == '/') {
        *why = "an absolute path";
        return -1;
    }
    size_t o = 0;
    const char *p = in;
    while (*p) {
        const char *s = strchr(p, '/');
        size_t n = s ? (size_t)(s - p) : strlen(p);
        if (n == 2 && p[0] == '.' && p[1] == '.') {
            *why = "a '..' component";
            return -1;
        }
        if (n && !(n == 1 && p[0] == '.')) {
            if (o + n + 2 > outsz) {
                *why = "too long";
                return -1;
            }
            if (o)
                out[o++] = '/';
            memcpy(out + o, p, n);
            o += n;
        }
        p += n;
        if (*p == '/')
            p++;
    }
    out[o] = '\0';
    if (!o) {
        *why = "empty";
        return -1;
    }
    return 0;
}

static int add_tree(struct plist *pl, const char *abs, const char *rel, int depth,
                    const char *origin, char **err);

/* One path of the flow's directory (abs on disk, rel in the package), as the manifest or
 * the rule for headers names it. */
static int add_path(struct plist *pl, const char *abs, const char *rel, int depth,
                    const char *origin, char **err)
{
    struct stat lst, st;
    if (lstat(abs, &lst) != 0) {
        int e = errno;
        *err = mf_strf("%s: cannot read %s: %s", origin, abs, strerror(e));
        return e;
    }
    if (!strncmp(rel, ".mflow", 6) && (rel[6] == '\0' || rel[6] == '/')) {
        *err = mf_strf("%s: '%s' is reserved for mflow's own files in the package; rename it",
                       origin, rel);
        return MF_EINVAL;
    }
    char *real = inside(pl, abs);
    if (!real) {
        *err = mf_strf("%s: %s leads outside the flow's directory %s (a link?); packages hold "
                       "only files under it",
                       origin, abs, pl->dir);
        return MF_EINVAL;
    }
    int rc = 0;
    if (stat(real, &st) != 0) {
        rc = errno;
        *err = mf_strf("%s: cannot read %s: %s", origin, abs, mf_strerror(rc));
    } else if (S_ISREG(st.st_mode)) {
        rc = plist_add(pl, rel, real, NULL, (uint64_t)st.st_size,
                       (st.st_mode & 0111) ? 0755 : 0644, 0, err);
    } else if (S_ISDIR(st.st_mode)) {
        if (S_ISLNK(lst.st_mode)) {
            *err = mf_strf("%s: %s is a link to a directory; list the directory it points to "
                           "instead",
                           origin, abs);
            rc = MF_EINVAL;
        } else {
            rc = add_tree(pl, real, rel, depth + 1, origin, err);
        }
    } else {
        *err = mf_strf("%s: %s is not a regular file or directory (a device, FIFO or socket "
                       "cannot go into a package)",
                       origin, abs);
        rc = MF_EINVAL;
    }
    free(real);
    return rc;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **names, size_t n);

/* The names in dir, hidden ones (".*") left out, only those ending in suffix when it is not
 * NULL, sorted (the package must not depend on directory order). 0, errno or MF_ENOMEM. */
static int sorted_names(const char *dir, const char *suffix, char ***out, size_t *count)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno;
    char **names = NULL;
    size_t n = 0, cap = 0, slen = suffix ? strlen(suffix) : 0;
    int rc = 0;
    struct dirent *de;
    while (!rc && (de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (de->d_name[0] == '.' ||
            (suffix && (l <= slen || strcmp(de->d_name + l - slen, suffix) != 0)))
            continue;
        if (mf_grow(&names, &cap, n, sizeof *names, 16)) {
            rc = MF_ENOMEM;
            break;
        }
        names[n] = strdup(de->d_name);
        rc = names[n] ? 0 : MF_ENOMEM;
        n += names[n] != NULL;
    }
    closedir(d);
    if (rc) {
        free_names(names, n);
        return rc;
    }
    if (n)
        qsort(names, n, sizeof *names, name_cmp);
    *out = names;
    *count = n;
    return 0;
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* Everything under a directory, hidden names (".*") left out. */
static int add_tree(struct plist *pl, const char *abs, const char *rel, int depth,
                    const char *origin, char **err)
{
    if (depth > PKG_MAX_DEPTH) {
        *err = mf_strf("%s: %s is nested more than %d directories deep", origin, abs,
                       PKG_MAX_DEPTH);
        return MF_EINVAL;
    }
    char **names = NULL;
    size_t n = 0;
    int rc = sorted_names(abs, NULL, &names, &n);
    if (rc) {
        *err = mf_strf("%s: cannot list %s: %s", origin, abs,
                       mf_strerror(rc));
        return rc;
    }
    for (size_t i = 0; !rc && i < n; i++) {
        char *a = mf_strf("%s/%s", abs, names[i]);
        char *r = mf_strf("%s/%s", rel, names[i]);
        rc = a && r ? add_path(pl, a, r, depth, origin, err) : MF_ENOMEM;
        free(a);
        free(r);
    }
    free_names(names, n);
    return rc;
}

/* One path or glob pattern, relative to the flow's directory (a manifest line, or an entry of
 * a Python flow's `files`); origin names it in messages. */
static int add_pattern(struct plist *pl, const char *line, const char *origin, char **err)
{
    char rel[PATH_MAX];
    const char *why = NULL;
    if (norm_rel(line, rel, sizeof rel, &why) != 0) {
        *err = mf_strf("%s: '%s' is %s; list paths relative to the flow's directory, "
                       "inside it",
                       origin, line, why);
        return MF_EINVAL;
    }
    if (!strncmp(rel, ".mflow", 6) && (rel[6] == '\0' || rel[6] == '/')) {
        *err = mf_strf("%s: '%s' is reserved for mflow's own files in the package; rename it",
                       origin, line);
        return MF_EINVAL;
    }
    char *pattern = mf_strf("%s/%s", pl->dir, rel);
    if (!pattern)
        return MF_ENOMEM;
    int rc = 0;
    glob_t g;
    memset(&g, 0, sizeof g);
    int grc = glob(pattern, GLOB_NOSORT, NULL, &g);
    if (grc == GLOB_NOMATCH) {
        *err = mf_strf("%s: '%s' matches no file in %s", origin, line, pl->dir);
        rc = MF_ENOTFOUND;
    } else if (grc != 0) {
        *err = mf_strf("%s: cannot expand '%s'%s", origin, line,
                       grc == GLOB_NOSPACE ? ": out of memory" : "");
        rc = grc == GLOB_NOSPACE ? MF_ENOMEM : MF_EIO;
    }
    if (!rc && g.gl_pathc > 1)
        qsort(g.gl_pathv, g.gl_pathc, sizeof *g.gl_pathv, name_cmp);
    for (size_t i = 0; !rc && i < g.gl_pathc; i++) {
        const char *m = g.gl_pathv[i];
        /* glob gives back the pattern's prefix: the part after "<dir>/" is relative */
        char mrel[PATH_MAX];
        if (norm_rel(m + pl->dirlen + 1, mrel, sizeof mrel, &why) != 0) {
            *err = mf_strf("%s: '%s' is %s", origin, m, why);
            rc = MF_EINVAL;
            break;
        }
        rc = add_path(pl, m, mrel, 0, origin, err);
    }
    globfree(&g);
    free(pattern);
    return rc;
}

/* The manifest: one path or glob pattern a line, relative to the flow's directory. */
static int add_manifest(struct plist *pl, const char *mpath, const char *mname, char **err)
{
    char *text = NULL;
    size_t len = 0;
    int rc = mf_read_file(mpath, &text, &len);
    if (rc) {
        *err = mf_strf("cannot read the package manifest %s: %s", mpath, mf_strerror(rc));
        return rc;
    }
    rc = plist_add(pl, mname, mpath, NULL, len, 0644, 0, err);
    int lineno = 0;
    for (char *line = text, *next; !rc && line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        lineno++;
        while (*line == ' ' || *line == '\t')
            line++;
        size_t n = strlen(line);
        while (n && (line[n - 1] == ' ' || line[n - 1] == '\t' || line[n - 1] == '\r'))
            line[--n] = '\0';
        if (!n || line[0] == '#')
            continue;
        char origin[PATH_MAX + 64];
        snprintf(origin, sizeof origin, "package manifest %s line %d", mpath, lineno);
        rc = add_pattern(pl, line, origin, err);
    }
    free(text);
    return rc;
}

/* A Python flow's own files, as its graph document lists them: the patterns of the class's
 * `files` attribute, and the modules it imported from its directory ("deps"; those of the
 * SDK lie elsewhere and are left out). */
static int add_py_files(struct plist *pl, const struct mf_flow *flow, char **err)
{
    const json_t *doc = mf_flow_py_doc(flow);
    json_t *files = doc ? json_object_get(doc, "files") : NULL;
    json_t *deps = doc ? json_object_get(doc, "deps") : NULL;
    char origin[PATH_MAX + 64];
    snprintf(origin, sizeof origin, "flow %s: files", flow->src_path);
    size_t i;
    json_t *v;
    int rc = 0;
    json_array_foreach(files, i, v) {
        if (rc)
            break;
        if (json_is_string(v))
            rc = add_pattern(pl, json_string_value(v), origin, err);
    }
    snprintf(origin, sizeof origin, "flow %s: imported module", flow->src_path);
    json_array_foreach(deps, i, v) {
        if (rc)
            break;
        const char *f = json_string_value(json_array_get(v, 0));
        char *real = f ? inside(pl, f) : NULL;
        if (real)
            rc = add_path(pl, real, real + pl->dirlen + 1, 0, origin, err);
        free(real);
    }
    return rc;
}

/* Headers beside the flow's source: what it can #include "..." (the flow compiles with -I
 * its directory). */
static int add_headers(struct plist *pl, char **err)
{
    char **names = NULL;
    size_t n = 0;
    int rc = sorted_names(pl->dir, ".h", &names, &n);
    if (rc) {
        *err = mf_strf("cannot list the flow's directory %s: %s", pl->dir,
                       mf_strerror(rc));
        return rc;
    }
    for (size_t i = 0; !rc && i < n; i++) {
        char *a = mf_strf("%s/%s", pl->dir, names[i]);
        struct stat st;
        /* Only plain headers: anything else beside the flow is simply not a header. */
        if (a && stat(a, &st) == 0 && S_ISREG(st.st_mode))
            rc = add_path(pl, a, names[i], 0, "headers beside the flow", err);
        else if (!a)
            rc = MF_ENOMEM;
        free(a);
    }
    free_names(names, n);
    return rc;
}

static char *package_meta(const struct mf_flow *flow, const char *source)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "format", json_integer(1));
    json_object_set_new(o, "flow", json_string(flow->def && flow->def->name ? flow->def->name : ""));
    /* A Python flow has no object: the task runs its source. */
    json_object_set_new(o, "object", flow->py ? json_null() : json_string(PKG_OBJECT));
    if (flow->py)
        json_object_set_new(o, "language", json_string("python"));
    json_object_set_new(o, "source", source ? json_string(source) : json_null());
    json_object_set_new(o, "mflow_version", json_string(MF_VERSION));
    char *s = json_dumps(o, JSON_SORT_KEYS | JSON_COMPACT);
    json_decref(o);
    if (!s)
        return NULL;
    char *t = mf_strf("%s\n", s);
    free(s);
    return t;
}

/* ---- writing the archive ------------------------------------------------------------------- */

static la_ssize_t sbuf_write(struct archive *a, void *ud, const void *buf, size_t n)
{
    (void)a;
    struct mf_sbuf *b = ud;
    mf_sbuf_add(b, buf, n);
    return b->oom ? -1 : (la_ssize_t)n;
}

static int write_entry(struct archive *a, const struct pent *e, char *iobuf, size_t iosz,
                       char **err)
{
    struct archive_entry *ae = archive_entry_new();
    if (!ae)
        return MF_ENOMEM;
    archive_entry_set_pathname(ae, e->path);
    archive_entry_set_filetype(ae, e->dir ? AE_IFDIR : AE_IFREG);
    archive_entry_set_perm(ae, e->mode);
    archive_entry_set_size(ae, e->dir ? 0 : (la_int64_t)e->size);
    /* Fixed times and owners: the bytes depend on the contents only. */
    archive_entry_set_mtime(ae, 0, 0);
    archive_entry_set_uid(ae, 0);
    archive_entry_set_gid(ae, 0);
    int rc = 0;
    if (archive_write_header(a, ae) != ARCHIVE_OK) {
        *err = mf_strf("cannot write %s into the package: %s", e->path, archive_error_string(a));
        rc = MF_EIO;
    }
    archive_entry_free(ae);
    if (rc || e->dir)
        return rc;
    if (e->data) {
        if (archive_write_data(a, e->data, (size_t)e->size) != (la_ssize_t)e->size) {
            *err = mf_strf("cannot write %s into the package: %s", e->path, archive_error_string(a));
            return MF_EIO;
        }
        return 0;
    }
    int fd = open(e->src, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = errno;
        *err = mf_strf("cannot read %s for the package: %s", e->src, mf_strerror(rc));
        return rc;
    }
    uint64_t left = e->size;
    while (left > 0) {
        ssize_t n = read(fd, iobuf, left < iosz ? (size_t)left : iosz);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = n < 0 ? errno : MF_EIO;
            *err = mf_strf("cannot read %s for the package: %s", e->src,
                           n < 0 ? mf_strerror(rc) : "it shrank while being packaged; try again");
            break;
        }
        if (archive_write_data(a, iobuf, (size_t)n) != n) {
            *err = mf_strf("cannot write %s into the package: %s", e->path, archive_error_string(a));
            rc = MF_EIO;
            break;
        }
        left -= (uint64_t)n;
    }
    close(fd);
    return rc;
}

static int write_archive(const struct plist *pl, struct mf_sbuf *out, char **err)
{
    struct archive *a = archive_write_new();
    if (!a)
        return MF_ENOMEM;
    int rc = 0;
    if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
        archive_write_add_filter_zstd(a) != ARCHIVE_OK ||
        archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK ||
        archive_write_open2(a, out, NULL, sbuf_write, NULL, NULL) != ARCHIVE_OK) {
        *err = mf_strf("cannot start a tar.zst package with libarchive: %s",
                       archive_error_string(a));
        archive_write_free(a);
        return MF_EIO;
    }
    size_t iosz = 1 << 16;
    char *iobuf = malloc(iosz);
    if (!iobuf)
        rc = MF_ENOMEM;
    for (size_t i = 0; !rc && i < pl->n; i++)
        rc = write_entry(a, &pl->v[i], iobuf, iosz, err);
    free(iobuf);
    if (archive_write_close(a) != ARCHIVE_OK && !rc) {
        *err = mf_strf("cannot finish the package: %s", archive_error_string(a));
        rc = MF_EIO;
    }
    archive_write_free(a);
    if (!rc && out->oom)
        rc = MF_ENOMEM;
    return rc;
}

/* ---- build --------------------------------------------------------------------------------- */

static char *base_without(const char *path, const char *suffix)
{
    const char *s = strrchr(path, '/');
    s = s ? s + 1 : path;
    size_t n = strlen(s), k = strlen(suffix);
    if (n > k && !strcmp(s + n - k, suffix))
        n -= k;
    return strndup(s, n);
}

int mf_package_build(struct mf_flow *flow, struct mf_store *st, char **addr, char **listing,
                     char **err)
{
    *err = NULL;
    *addr = NULL;
    if (listing)
        *listing = NULL;
    if (!flow || !flow->so_path || !st || !st->ops) {
        *err = mf_strf("package: no flow loaded");
        return MF_EINVAL;
    }
    const char *anchor = flow->src_path ? flow->src_path : flow->so_path;
    struct plist pl;
    memset(&pl, 0, sizeof pl);
    char *srcbase = flow->src_path ? base_without(flow->src_path, "") : NULL;
    char *stem = base_without(anchor, flow->py ? ".py" : flow->src_path ? ".c" : ".so");
    char *anchor_dir = strdup(anchor);
    char *slash = anchor_dir ? strrchr(anchor_dir, '/') : NULL;
    if (slash)
        *slash = '\0';
    pl.dir = anchor_dir ? realpath(anchor_dir[0] ? anchor_dir : "/", NULL) : NULL;
    free(anchor_dir);
    char *meta = NULL, *mname = NULL, *mpath = NULL;
    struct stat sst;
    int rc = 0;
    if (!stem || (flow->src_path && !srcbase)) {
        rc = MF_ENOMEM;
        goto out;
    }
    if (!pl.dir) {
        rc = errno ? errno : MF_ENOMEM;
        *err = mf_strf("cannot resolve the directory of %s: %s", anchor, mf_strerror(rc));
        goto out;
    }
    pl.dirlen = strlen(pl.dir);
    meta = package_meta(flow, srcbase);
    if (!meta) {
        rc = MF_ENOMEM;
        goto out;
    }
    if (!flow->py && (stat(flow->so_path, &sst) != 0 || !S_ISREG(sst.st_mode))) {
        rc = errno ? errno : MF_EINVAL;
        *err = mf_strf("cannot read the compiled flow %s for the package: %s", flow->so_path,
                       mf_strerror(rc));
        goto out;
    }
    if (!flow->py)
        rc = plist_add(&pl, PKG_OBJECT, flow->so_path, NULL, (uint64_t)sst.st_size, 0755, 0, err);
    if (!rc)
        rc = plist_add(&pl, PKG_META, NULL, meta, strlen(meta), 0644, 0, err);
    if (!rc && flow->src_path) {
        if (stat(flow->src_path, &sst) != 0) {
            rc = errno;
            *err = mf_strf("cannot read the flow %s: %s", flow->src_path, mf_strerror(rc));
        } else {
            rc = plist_add(&pl, srcbase, flow->src_path, NULL, (uint64_t)sst.st_size, 0644, 0, err);
        }
    }
    if (!rc && flow->src_path && !flow->py)
        rc = add_headers(&pl, err);
    if (!rc && flow->py)
        rc = add_py_files(&pl, flow, err);
    mname = mf_strf("%s.files", stem);
    mpath = mname ? mf_strf("%s/%s", pl.dir, mname) : NULL;
    if (!rc && !mpath)
        rc = MF_ENOMEM;
    if (!rc && access(mpath, F_OK) == 0)
        rc = add_manifest(&pl, mpath, mname, err);
    if (!rc)
        rc = plist_finish(&pl, err);
    struct mf_sbuf tar = {0};
    if (!rc)
        rc = write_archive(&pl, &tar, err);
    char sha[MF_BLOB_KEY_LEN + 1] = "";
    if (!rc) {
        struct mf_iov iov = {tar.data, tar.len};
        mf_sha256_hex(&iov, 1, sha);
        *addr = sha[0] ? mf_key_package(sha) : NULL;
        if (!*addr)
            rc = MF_ENOMEM;
    }
    if (!rc) {
        struct mf_iov iov = {tar.data, tar.len};
        rc = st->ops->put(st->state, *addr, &iov, 1, MF_PUT_IF_ABSENT);
        if (rc)
            *err = mf_strf("cannot store the code package %s: %s", *addr,
                           st->ops->last_error(st->state));
    }
    if (!rc && listing) {
        struct mf_sbuf b = {0};
        for (size_t i = 0; i < pl.n; i++)
            mf_sbuf_addf(&b, "%c %04o %llu %s%s\n", pl.v[i].dir ? 'd' : 'f', pl.v[i].mode,
                         (unsigned long long)pl.v[i].size, pl.v[i].path, pl.v[i].dir ? "/" : "");
        mf_sbuf_addf(&b, "= %zu %llu\n", tar.len, (unsigned long long)pl.bytes);
        if (b.oom) {
            mf_sbuf_free(&b);
            rc = MF_ENOMEM;
        } else {
            *listing = b.data;
        }
    }
    mf_sbuf_free(&tar);
    if (rc) {
        free(*addr);
        *addr = NULL;
    }
out:
    if (rc && !*err)
        *err = mf_strf("cannot build the code package of %s: %s", anchor,
                       mf_strerror(rc));
    free(meta);
    free(mname);
    free(mpath);
    free(srcbase);
    free(stem);
    plist_free(&pl);
    return rc;
}

/* ---- fetch --------------------------------------------------------------------------------- */

/* Why an entry's name is unsafe, or NULL. */
static const char *bad_name(const char *p)
{
    if (!p || !*p)
        return "it has no name";
    if (p[0] == '/')
        return "it is an absolute path";
    if (strlen(p) > PATH_MAX - 256)
        return "its name is too long";
    for (const char *s = p; *s;) {
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n == 2 && s[0] == '.' && s[1] == '.')
            return "it has a '..' component";
        s += n;
        if (*s == '/')
            s++;
    }
    return NULL;
}

/* A symlink stays inside when its target, read from the link's directory, never climbs
 * above the package's root. */
static int link_stays_inside(const char *path, const char *target)
{
    if (!target || !*target || target[0] == '/')
        return 0;
    int depth = 0;
    for (const char *s = path; (s = strchr(s, '/')); s++)
        depth++;
    for (const char *s = target; *s;) {
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n == 2 && s[0] == '.' && s[1] == '.') {
            if (--depth < 0)
                return 0;
        } else if (n && !(n == 1 && s[0] == '.')) {
            depth++;
        }
        s += n;
        if (*s == '/')
            s++;
    }
    return 1;
}

/* ---- the extracted tree, resolved before anything is written -------------------------------
 * Each link's text alone says too little: `b -> .` then `a -> b/..` both read as inside,
 * yet `a` leads to the directory above the package. So every entry is kept, and each link
 * is resolved the way the kernel will, through the links the package itself makes. */

#define PKG_MAX_HOPS 40          /* links followed in one resolution (the kernel's limit) */

struct xent {
    char *path;                  /* normalized: no ".", no empty components, no trailing '/' */
    char *target;                /* symlink target, else NULL */
    mode_t type;
};

struct xtree {
    struct xent *v;
    size_t n, cap;
};

static void xtree_free(struct xtree *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->v[i].path);
        free(t->v[i].target);
    }
    free(t->v);
    memset(t, 0, sizeof *t);
}

static int xent_cmp(const void *a, const void *b)
{
    return strcmp(((const struct xent *)a)->path, ((const struct xent *)b)->path);
}

/* The entry at `path` (sorted tree), or NULL. */
static const struct xent *xtree_find(const struct xtree *t, const char *path)
{
    struct xent key = {.path = (char *)path};
    return t->n ? bsearch(&key, t->v, t->n, sizeof *t->v, xent_cmp) : NULL;
}

/* "./a//b/" -> "a/b" (entries have no ".." by now); the root gives "". */
static char *norm_entry(const char *p)
{
    char *out = malloc(strlen(p) + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (const char *s = p; *s;) {
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n && !(n == 1 && s[0] == '.')) {
            if (o)
                out[o++] = '/';
            memcpy(out + o, s, n);
            o += n;
        }
        s += n;
        if (*s == '/')
            s++;
    }
    out[o] = '\0';
    return out;
}

/* Resolve the link at `path` in the finished tree: its directory, then its target, following
 * every link of the package met on the way. NULL when it stays beneath the root, else why. A
 * name the package does not hold is taken as a plain directory (what it would be if created
 * later), so a dangling link is judged by what it would reach. */
static const char *resolve_link(const struct xtree *t, const char *path, const char *target)
{
    if (!target || !*target)
        return "it is a symbolic link with no target";
    if (target[0] == '/')
        return "it is a symbolic link leading outside the package (an absolute target)";
    size_t cap = strlen(path) + strlen(target) + 2;
    char *pend = malloc(cap), *cur = malloc(cap + PATH_MAX);
    size_t curcap = cap + PATH_MAX;
    if (!pend || !cur) {
        free(pend);
        free(cur);
        return "out of memory";
    }
    /* pend: what is left to walk; cur: where the walk is (no links in it). */
    const char *slash = strrchr(path, '/');
    snprintf(pend, cap, "%.*s%s%s", slash ? (int)(slash - path) : 0, path, slash ? "/" : "",
             target);
    cur[0] = '\0';
    size_t clen = 0;
    int hops = 0;
    const char *why = NULL;
    char *s = pend;
    while (!why && *s) {
        char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        char *rest = e ? e + 1 : s + n;
        if (!n || (n == 1 && s[0] == '.')) {
            s = rest;
            continue;
        }
        if (n == 2 && s[0] == '.' && s[1] == '.') {
            if (!clen) {
                why = "it is a symbolic link leading outside the package (through the links "
                      "before it)";
                break;
            }
            char *up = strrchr(cur, '/');
            clen = up ? (size_t)(up - cur) : 0;
            cur[clen] = '\0';
            s = rest;
            continue;
        }
        if (clen + n + 2 > curcap) {
            why = "it is a symbolic link whose target is too long";
            break;
        }
        size_t old = clen;
        if (clen)
            cur[clen++] = '/';
        memcpy(cur + clen, s, n);
        clen += n;
        cur[clen] = '\0';
        const struct xent *x = xtree_find(t, cur);
        if (!x || x->type != AE_IFLNK) {
            s = rest;
            continue;
        }
        /* A link of the package: walk its target from the link's directory. */
        if (++hops > PKG_MAX_HOPS) {
            why = "it is a symbolic link in a loop of links";
            break;
        }
        if (!x->target || !*x->target || x->target[0] == '/') {
            why = "it is a symbolic link leading outside the package (through an absolute "
                  "link)";
            break;
        }
        clen = old;
        cur[clen] = '\0';
        size_t need = strlen(x->target) + 1 + strlen(rest) + 1;
        char *np = malloc(need);
        if (!np) {
            why = "out of memory";
            break;
        }
        snprintf(np, need, "%s%s%s", x->target, *rest ? "/" : "", rest);
        free(pend);
        pend = np;
        s = pend;
    }
    free(pend);
    free(cur);
    return why;
}

/* With every entry read: no path twice, nothing under a link, every link resolving beneath
 * the root. NULL, or why, with *bad the entry. */
static const char *check_tree(struct xtree *t, const char **bad)
{
    qsort(t->v, t->n, sizeof *t->v, xent_cmp);
    for (size_t i = 0; i < t->n; i++) {
        *bad = t->v[i].path;
        if (i + 1 < t->n && !strcmp(t->v[i].path, t->v[i + 1].path)) {
            *bad = t->v[i + 1].path;
            return "it appears twice in the package (a later entry would replace the first)";
        }
        /* Written through a link: the kernel would follow it, wherever it leads. */
        char *p = strdup(t->v[i].path);    /* a copy: the tree's keys must stay whole */
        if (!p)
            return "out of memory";
        int through = 0;
        for (char *sl = strchr(p, '/'); sl && !through; sl = strchr(sl + 1, '/')) {
            *sl = '\0';
            const struct xent *x = xtree_find(t, p);
            *sl = '/';
            through = x && x->type == AE_IFLNK;
        }
        free(p);
        if (through)
            return "it would be written through a symbolic link";
        if (t->v[i].type == AE_IFLNK) {
            const char *why = resolve_link(t, t->v[i].path, t->v[i].target);
            if (why)
                return why;
        }
    }
    return NULL;
}

static struct archive *open_reader(const void *data, size_t len)
{
    struct archive *a = archive_read_new();
    if (!a)
        return NULL;
    archive_read_support_filter_zstd(a);
    archive_read_support_filter_none(a);
    archive_read_support_format_tar(a);
    if (archive_read_open_memory(a, data, len) != ARCHIVE_OK) {
        archive_read_free(a);
        return NULL;
    }
    return a;
}

/* Look at every entry before anything is written: names, types, sizes. */
static int check_entries(const char *addr, const void *data, size_t len, char **err)
{
    struct archive *a = open_reader(data, len);
    if (!a) {
        *err = mf_strf("code package %s is not a tar.zst archive; rebuild it with `mflow "
                       "package FLOW`",
                       addr);
        return MF_ECORRUPT;
    }
    struct archive_entry *e;
    uint64_t total = 0;
    size_t count = 0;
    int rc = 0, has_object = 0, r;
    struct xtree tree = {0};
    while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
        const char *p = archive_entry_pathname(e);
        const char *why = bad_name(p);
        char tbuf[64];
        if (!why) {
            const char *hl = archive_entry_hardlink(e);
            mode_t ft = archive_entry_filetype(e);
            if (hl) {
                why = "it is a hard link (packages hold plain files, directories and links "
                      "that stay inside)";
            } else if (ft == AE_IFLNK) {
                if (!link_stays_inside(p, archive_entry_symlink(e)))
                    why = "it is a symbolic link leading outside the package";
            } else if (ft == AE_IFCHR || ft == AE_IFBLK) {
                why = "it is a device file";
            } else if (ft == AE_IFIFO) {
                why = "it is a FIFO";
            } else if (ft == AE_IFSOCK) {
                why = "it is a socket";
            } else if (ft != AE_IFREG && ft != AE_IFDIR) {
                snprintf(tbuf, sizeof tbuf, "it has an unknown file type (0%o)", (unsigned)ft);
                why = tbuf;
            }
            if (!why) {
                char *np = norm_entry(p);
                if (!np) {
                    rc = MF_ENOMEM;
                    break;
                }
                if (!*np && ft == AE_IFDIR) {
                    free(np);           /* "./": the root itself */
                } else if (!*np) {
                    free(np);
                    why = "it names the package's root";
                } else if (mf_grow(&tree.v, &tree.cap, tree.n, sizeof *tree.v, 64)) {
                    free(np);
                    rc = MF_ENOMEM;
                    break;
                } else {
                    const char *tg = ft == AE_IFLNK ? archive_entry_symlink(e) : NULL;
                    tree.v[tree.n] = (struct xent){np, tg ? strdup(tg) : NULL, ft};
                    if (tg && !tree.v[tree.n].target) {
                        free(np);
                        rc = MF_ENOMEM;
                        break;
                    }
                    tree.n++;
                }
            }
            /* what a task runs: the object, or package.json naming a Python flow's source */
            if (!why && ft == AE_IFREG && (!strcmp(p, PKG_OBJECT) || !strcmp(p, PKG_META)))
                has_object = 1;
        }
        if (why) {
            *err = mf_strf("code package %s: refusing entry '%s': %s", addr, p ? p : "", why);
            rc = MF_ECORRUPT;
            break;
        }
        total += archive_entry_size_is_set(e) && archive_entry_size(e) > 0
                     ? (uint64_t)archive_entry_size(e)
                     : 0;
        if (++count > PKG_EXTRACT_MAX_ENTRIES || total > PKG_EXTRACT_MAX_BYTES) {
            *err = mf_strf("code package %s holds more than %d entries or %llu MiB; refusing it",
                           addr, PKG_EXTRACT_MAX_ENTRIES,
                           (unsigned long long)(PKG_EXTRACT_MAX_BYTES >> 20));
            rc = MF_ECORRUPT;
            break;
        }
    }
    if (!rc && r != ARCHIVE_EOF) {
        *err = mf_strf("code package %s is damaged: %s", addr, archive_error_string(a));
        rc = MF_ECORRUPT;
    }
    if (!rc && !has_object) {
        *err = mf_strf("code package %s has neither %s nor %s: not an mflow code package", addr,
                       PKG_OBJECT, PKG_META);
        rc = MF_ECORRUPT;
    }
    if (!rc) {
        const char *bad = NULL;
        const char *why = check_tree(&tree, &bad);
        if (why) {
            *err = mf_strf("code package %s: refusing entry '%s': %s", addr, bad, why);
            rc = MF_ECORRUPT;
        }
    }
    xtree_free(&tree);
    archive_read_free(a);
    return rc;
}

static int extract_here(const char *addr, const void *data, size_t len, char **err)
{
    struct archive *a = open_reader(data, len);
    struct archive *w = archive_write_disk_new();
    if (!a || !w) {
        if (a)
            archive_read_free(a);
        if (w)
            archive_write_free(w);
        return MF_ENOMEM;
    }
    archive_write_disk_set_options(w, ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                                          ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                                          ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS |
                                          ARCHIVE_EXTRACT_PERM);
    int rc = 0, r;
    struct archive_entry *e;
    while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
        const char *p = archive_entry_pathname(e);
        /* Owners are never restored; modes lose set-id and sticky bits and the group's and
         * others' bits (the cache is the user's alone), and directories stay the owner's
         * to write (so a cache entry can always be removed). */
        mode_t perm = archive_entry_perm(e) & 0700;
        if (archive_entry_filetype(e) == AE_IFDIR)
            perm |= 0700;
        archive_entry_set_perm(e, perm);
        if (archive_write_header(w, e) != ARCHIVE_OK) {
            *err = mf_strf("code package %s: cannot extract '%s': %s", addr, p,
                           archive_error_string(w));
            rc = MF_ECORRUPT;
            break;
        }
        const void *buf;
        size_t n;
        la_int64_t off;
        while ((r = archive_read_data_block(a, &buf, &n, &off)) == ARCHIVE_OK) {
            if (archive_write_data_block(w, buf, n, off) != ARCHIVE_OK) {
                *err = mf_strf("code package %s: cannot write '%s': %s", addr, p,
                               archive_error_string(w));
                rc = MF_EIO;
                break;
            }
        }
        if (!rc && r != ARCHIVE_EOF) {
            *err = mf_strf("code package %s: cannot read '%s': %s", addr, p, archive_error_string(a));
            rc = MF_ECORRUPT;
        }
        if (!rc && archive_write_finish_entry(w) != ARCHIVE_OK) {
            *err = mf_strf("code package %s: cannot finish '%s': %s", addr, p,
                           archive_error_string(w));
            rc = MF_EIO;
        }
        if (rc)
            break;
    }
    if (!rc && r != ARCHIVE_EOF) {
        *err = mf_strf("code package %s is damaged: %s", addr, archive_error_string(a));
        rc = MF_ECORRUPT;
    }
    if (archive_write_close(w) != ARCHIVE_OK && !rc) {
        *err = mf_strf("code package %s: cannot finish extracting: %s", addr,
                       archive_error_string(w));
        rc = MF_EIO;
    }
    archive_write_free(w);
    archive_read_free(a);
    return rc;
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    if (flag == FTW_DP)
        rmdir(p);
    else
        unlink(p);
    return 0;
}

static void rm_rf(const char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* The kernel's own word on the extracted tree: every link opened with RESOLVE_BENEATH from
 * the root (openat2, Linux 5.6). 0 when all stay beneath (or the call is missing: the check
 * of the entries above stands alone then), MF_ECORRUPT with *bad (malloc'd) naming the link,
 * or an errno. */
#define NO_OPENAT2 (-1000)

static int beneath_walk(int rootfd, int dfd, const char *rel, char **bad, int depth)
{
    if (depth > PKG_MAX_DEPTH * 4)
        return 0;
    int fd = rel[0] ? openat(dfd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                    : fcntl(dfd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0)
        return errno;
    DIR *d = fdopendir(fd);
    if (!d) {
        int e = errno;
        close(fd);
        return e;
    }
    int rc = 0;
    struct dirent *de;
    while (!rc && (de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        char *sub = rel[0] ? mf_strf("%s/%s", rel, de->d_name) : strdup(de->d_name);
        struct stat sb;
        if (!sub) {
            rc = MF_ENOMEM;
        } else if (fstatat(rootfd, sub, &sb, AT_SYMLINK_NOFOLLOW) != 0) {
            rc = errno;
        } else if (S_ISLNK(sb.st_mode)) {
            struct open_how how = {.flags = O_PATH | O_CLOEXEC,
                                   .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS};
            long r = syscall(SYS_openat2, rootfd, sub, &how, sizeof how);
            if (r >= 0) {
                close((int)r);
            } else if (errno == EXDEV) {
                *bad = sub;
                sub = NULL;
                rc = MF_ECORRUPT;
            } else if (errno == ENOSYS || errno == EPERM || errno == E2BIG) {
                rc = NO_OPENAT2;   /* old kernel, or a filter: stop asking */
            }
            /* ENOENT (dangling), ELOOP: the link leads nowhere, so nowhere outside. */
        } else if (S_ISDIR(sb.st_mode)) {
            rc = beneath_walk(rootfd, rootfd, sub, bad, depth + 1);
        }
        free(sub);
    }
    closedir(d);
    return rc;
}

static int links_beneath(const char *dir, char **bad)
{
    int rootfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        return errno;
    int rc = beneath_walk(rootfd, rootfd, "", bad, 0);
    close(rootfd);
    return rc == NO_OPENAT2 ? 0 : rc;
}

/* Extract into a fresh directory beside the cache entry, then rename it into place. */
/* The file a task opens in the extracted package dir: its object (a C flow), or its source
 * when package.json names no object (a Python flow). Checked to be a regular file inside.
 * 0 with *out (malloc'd), or MF_ECORRUPT with *err. */
static int pkg_entry(const char *addr, const char *dir, char **out, char **err)
{
    char *mpath = mf_strf("%s/%s", dir, PKG_META);
    char *text = NULL;
    size_t len = 0;
    int rc = mpath ? mf_read_file(mpath, &text, &len) : MF_ENOMEM;
    free(mpath);
    if (rc == MF_ENOMEM)
        return rc;
    /* no package.json (a package built by hand): the object */
    json_t *m = rc ? json_pack("{ss}", "object", PKG_OBJECT) : json_loadb(text, len, 0, NULL);
    rc = 0;
    free(text);
    const char *obj = json_string_value(json_object_get(m, "object"));
    const char *src = json_string_value(json_object_get(m, "source"));
    const char *rel = obj ? obj : src;
    const char *why = NULL;
    char norm[PATH_MAX];
    if (!rel || (!obj && strchr(rel, '/'))) {
        *err = mf_strf("code package %s: its %s names no flow to run; rebuild it", addr, PKG_META);
        rc = MF_ECORRUPT;
    } else if (norm_rel(rel, norm, sizeof norm, &why) != 0) {
        *err = mf_strf("code package %s: its flow '%s' is %s; rebuild it", addr, rel, why);
        rc = MF_ECORRUPT;
    }
    char *p = rc ? NULL : mf_strf("%s/%s", dir, norm);
    struct stat st;
    if (!rc && !p)
        rc = MF_ENOMEM;
    if (!rc && (lstat(p, &st) != 0 || !S_ISREG(st.st_mode))) {
        *err = mf_strf("code package %s: %s did not extract as a regular file", addr, norm);
        rc = MF_ECORRUPT;
    }
    json_decref(m);
    if (rc)
        free(p);
    else
        *out = p;
    return rc;
}

static int extract_into(const char *addr, const void *data, size_t len, const char *cache,
                        const char *final, char **err)
{
    char *tmp = mf_strf("%s/.tmp-XXXXXX", cache);
    if (!tmp)
        return MF_ENOMEM;
    if (!mkdtemp(tmp)) {
        int e = errno;
        *err = mf_strf("cannot create a directory in the package cache %s: %s", cache, strerror(e));
        free(tmp);
        return e;
    }
    /* libarchive extracts relative to the working directory, which its secure flags need
     * (they refuse absolute names): go there for the extraction and come back. */
    int here = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    int rc = 0;
    if (here < 0 || chdir(tmp) != 0) {
        rc = errno;
        *err = mf_strf("cannot enter %s to extract code package %s: %s", tmp, addr,
                       mf_strerror(rc));
    } else {
        rc = extract_here(addr, data, len, err);
        if (fchdir(here) != 0 && !rc) {
            rc = errno;
            *err = mf_strf("cannot return to the working directory after extracting %s: %s", addr,
                           mf_strerror(rc));
        }
    }
    if (here >= 0)
        close(here);
    if (!rc) {
        char *bad = NULL;
        rc = links_beneath(tmp, &bad);
        if (rc == MF_ECORRUPT)
            *err = mf_strf("code package %s: refusing entry '%s': it is a symbolic link "
                           "leading outside the package",
                           addr, bad ? bad : "?");
        else if (rc)
            *err = mf_strf("code package %s: cannot check the extracted links in %s: %s", addr,
                           tmp, rc > 0 ? strerror(rc) : "out of memory");
        free(bad);
    }
    if (!rc) {
        /* What the task opens is checked when the package is resolved (pkg_entry). */
        char *found = NULL;
        rc = pkg_entry(addr, tmp, &found, err);
        free(found);
    }
    if (!rc && rename(tmp, final) != 0) {
        int e = errno;
        struct stat st;
        /* Another task extracted the same package first: theirs is the same bytes. */
        if ((e == EEXIST || e == ENOTEMPTY) && stat(final, &st) == 0 && S_ISDIR(st.st_mode)) {
            rm_rf(tmp);
        } else {
            *err = mf_strf("cannot move the extracted package into %s: %s", final, strerror(e));
            rc = e;
        }
    }
    if (rc)
        rm_rf(tmp);
    free(tmp);
    return rc;
}

int mf_package_fetch(struct mf_store *st, const char *addr, char **flow_path, char **err)
{
    *flow_path = NULL;
    *err = NULL;
    char sha[MF_BLOB_KEY_LEN + 1];
    if (mf_key_package_parse(addr, sha) != 0) {
        *err = mf_strf("'%s' is not a code package address (expected %s<sha256>%s, as "
                       "`mflow package FLOW` prints)",
                       addr ? addr : "", MF_KEY_PACKAGES, MF_KEY_PACKAGE_EXT);
        return MF_EINVAL;
    }
    char *cache = mf_strf("%s/cache/packages", mf_host_home());
    char *final = cache ? mf_strf("%s/%s", cache, sha) : NULL;
    char *lockp = cache ? mf_strf("%s/%s.lock", cache, sha) : NULL;
    /* extracted packages are renamed into place whole: the directory means it is there */
    char *obj = final ? strdup(final) : NULL;
    int rc = obj && lockp ? 0 : MF_ENOMEM;
    int lockfd = -1;
    struct mf_buf b = {.struct_size = sizeof b};
    struct stat sb;
    if (rc)
        goto out;
    /* Cached: extracted (and checked) before under its hash. */
    if (stat(obj, &sb) == 0 && S_ISDIR(sb.st_mode))
        goto found;
    rc = mf_mkdir_p(cache, MF_PRIVATE_DIR_MODE);
    if (rc) {
        *err = mf_strf("cannot create the package cache %s: %s", cache, mf_strerror(rc));
        goto out;
    }
    /* One extraction per package when many tasks start at once (best effort: a filesystem
     * without locks still works, each task extracting on its own). */
    lockfd = open(lockp, O_RDWR | O_CREAT | O_CLOEXEC, MF_PRIVATE_FILE_MODE);
    if (lockfd >= 0) {
        struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
        while (fcntl(lockfd, F_SETLKW, &fl) != 0 && errno == EINTR)
            ;
        if (stat(obj, &sb) == 0 && S_ISDIR(sb.st_mode))
            goto found;
    }
    rc = st->ops->get(st->state, addr, &b);
    if (rc) {
        *err = rc == MF_ENOTFOUND
                   ? mf_strf("code package %s is not in the datastore %s; was the run started "
                             "with the same --datastore-root?",
                             addr, st->ops->root ? st->ops->root(st->state) : "")
                   : mf_strf("cannot fetch code package %s: %s", addr,
                             st->ops->last_error(st->state));
        goto out;
    }
    char got[MF_BLOB_KEY_LEN + 1];
    struct mf_iov iov = {b.data, b.len};
    mf_sha256_hex(&iov, 1, got);
    if (strcmp(got, sha) != 0) {
        *err = mf_strf("code package %s is corrupt: its content hashes to %s; rebuild it (a new "
                       "run stores it again)",
                       addr, got[0] ? got : "(nothing)");
        rc = MF_ECORRUPT;
        goto out;
    }
    rc = check_entries(addr, b.data, b.len, err);
    if (!rc)
        rc = extract_into(addr, b.data, b.len, cache, final, err);
    if (rc)
        goto out;
found:
    rc = pkg_entry(addr, final, flow_path, err);
out:
    if (b.release)
        b.release(&b);
    if (lockfd >= 0)
        close(lockfd);   /* drops the lock */
    if (rc && !*err)
        *err = mf_strf("cannot fetch code package %s: %s", addr,
                       mf_strerror(rc));
    free(cache);
    free(final);
    free(lockp);
    free(obj);
    return rc;
}
