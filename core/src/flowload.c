/* Compile (cached) and load flows. */
#include "flowload.h"

#include "blob.h"
#include "host.h"
#include "mflow-build.h"
#include "util.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

const char *mf_sdk_include_dir(void)
{
    return mf_running_from_build_tree() ? MF_SOURCE_ROOT "/sdk/include" : MF_INCLUDEDIR;
}

static int has_suffix(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

/* ---- the compile cache ----------------------------------------------------------------------
 * An object is only as fresh as everything the compiler read. The cache keeps, per flow key
 * (the source's bytes, the compiler as named and its PATH, the flags, the SDK, the include
 * path variables), a manifest <key>.deps beside the objects:
 *   mflow-flow-cache 1
 *   object <key>-<hash of every input>.so
 *   file <sha256> <size> <mtime ns> <ctime ns> <ino> <dev> <racy> <path>  (what -MD reported,
 *                                            and the compiler's own file)
 *   dir <mtime ns> <ctime ns> <ino> <path>   (a directory a new header could appear in: the
 *                                            compiler's search path, where headers were found)
 *   absent <path>                            (a header that would shadow one read, were it there)
 * A hit stats the files and directories listed (no compiler runs); a file whose stat changed,
 * or is "racy" (changed too close to when its stat was taken to trust the times), is hashed;
 * only when a directory changed are the absent paths looked at.
 * Objects are named by their inputs and never rewritten with other bytes; the manifest is
 * written aside and renamed, so two mflow processes compiling at once never tear anything. */

#define CACHE_MAGIC "mflow-flow-cache 1"
#define RACY_NS 2000000000LL           /* timestamps closer than this to a stat are not trusted */

struct dep {
    char *path;
    char hash[MF_BLOB_KEY_LEN + 1];
    long long size, mtime, ctime, ino, dev;
    int racy;
};

struct wdir {
    char *path;
    long long mtime, ctime, ino;
};

struct manifest {
    char *object;
    struct dep *files;
    size_t nfiles, capfiles;
    struct wdir *dirs;
    size_t ndirs, capdirs;
    char **absent;
    size_t nabsent, capabsent;
    /* When read from disk: the "absent" lines, left unparsed (a hit rarely needs them; they
     * point into the text read, which the caller keeps). */
    const char *absent_text;
};

static void manifest_free(struct manifest *m)
{
    free(m->object);
    for (size_t i = 0; i < m->nfiles; i++)
        free(m->files[i].path);
    for (size_t i = 0; i < m->ndirs; i++)
        free(m->dirs[i].path);
    for (size_t i = 0; i < m->nabsent; i++)
        free(m->absent[i]);
    free(m->files);
    free(m->dirs);
    free(m->absent);
    memset(m, 0, sizeof *m);
}

static long long ts_ns(const struct timespec *t)
{
    return (long long)t->tv_sec * 1000000000LL + t->tv_nsec;
}

static void dep_stat(struct dep *d, const struct stat *st, long long now)
{
    d->size = (long long)st->st_size;
    d->mtime = ts_ns(&st->st_mtim);
    d->ctime = ts_ns(&st->st_ctim);
    d->ino = (long long)st->st_ino;
    d->dev = (long long)st->st_dev;
    d->racy = d->mtime >= now - RACY_NS || d->ctime >= now - RACY_NS;
}

static int dep_same(const struct dep *d, const struct stat *st)
{
    return d->size == (long long)st->st_size && d->mtime == ts_ns(&st->st_mtim) &&
           d->ctime == ts_ns(&st->st_ctim) && d->ino == (long long)st->st_ino &&
           d->dev == (long long)st->st_dev;
}

static long long now_coarse(void)
{
    struct timespec t;
    /* The clock the kernel stamps files with: a write after this reads as later. */
    clock_gettime(CLOCK_REALTIME_COARSE, &t);
    return ts_ns(&t);
}

/* Parse a manifest read from disk (text is cut into lines in place, and must outlive m):
 * 0, or -1 when it is not one (then the flow compiles again). */
static int manifest_parse(char *text, struct manifest *m)
{
    memset(m, 0, sizeof *m);
    char *line = text;
    char *nl = strchr(line, '\n');
    if (!nl)
        return -1;
    *nl = '\0';
    if (strcmp(line, CACHE_MAGIC) != 0)
        return -1;
    for (line = nl + 1; *line; line = nl + 1) {
        if (!strncmp(line, "absent ", 7)) {
            m->absent_text = line;             /* the rest: looked at only when needed */
            break;
        }
        nl = strchr(line, '\n');
        if (!nl)
            return -1;
        *nl = '\0';
        int off = 0;
        if (!strncmp(line, "object ", 7) && !m->object) {
            m->object = strdup(line + 7);
            if (!m->object)
                return -1;
        } else if (!strncmp(line, "file ", 5)) {
            if (mf_grow(&m->files, &m->capfiles, m->nfiles, sizeof *m->files, 32))
                return -1;
            struct dep *d = &m->files[m->nfiles];
            memset(d, 0, sizeof *d);
            if (sscanf(line + 5, "%64s %lld %lld %lld %lld %lld %d %n", d->hash, &d->size,
                       &d->mtime, &d->ctime, &d->ino, &d->dev, &d->racy, &off) != 7 ||
                !off || !line[5 + off] || !(d->path = strdup(line + 5 + off)))
                return -1;
            m->nfiles++;
        } else if (!strncmp(line, "dir ", 4)) {
            if (mf_grow(&m->dirs, &m->capdirs, m->ndirs, sizeof *m->dirs, 16))
                return -1;
            struct wdir *w = &m->dirs[m->ndirs];
            memset(w, 0, sizeof *w);
            if (sscanf(line + 4, "%lld %lld %lld %n", &w->mtime, &w->ctime, &w->ino, &off) != 3 ||
                !off || !line[4 + off] || !(w->path = strdup(line + 4 + off)))
                return -1;
            m->ndirs++;
        } else {
            return -1;
        }
    }
    /* The object must be ours, in the cache directory: a bare name. */
    return m->object && !strchr(m->object, '/') && m->object[0] != '.' ? 0 : -1;
}

/* 1 when one of the absent lines (from disk) names a file that now exists, -1 when they are
 * damaged, 0 otherwise. */
static int absent_text_found(const char *text)
{
    char path[PATH_MAX];
    for (const char *line = text; *line;) {
        const char *nl = strchr(line, '\n');
        size_t n = nl ? (size_t)(nl - line) : strlen(line);
        if (n <= 7 || n - 7 >= sizeof path || strncmp(line, "absent ", 7) != 0)
            return -1;
        memcpy(path, line + 7, n - 7);
        path[n - 7] = '\0';
        struct stat st;
        if (stat(path, &st) == 0)
            return 1;
        line += n + (nl != NULL);
    }
    return 0;
}

static char *manifest_text(const struct manifest *m)
{
    struct mf_sbuf b = {0};
    mf_sbuf_addf(&b, "%s\nobject %s\n", CACHE_MAGIC, m->object);
    for (size_t i = 0; i < m->nfiles; i++) {
        const struct dep *d = &m->files[i];
        mf_sbuf_addf(&b, "file %s %lld %lld %lld %lld %lld %d %s\n", d->hash, d->size, d->mtime,
                     d->ctime, d->ino, d->dev, d->racy, d->path);
    }
    for (size_t i = 0; i < m->ndirs; i++)
        mf_sbuf_addf(&b, "dir %lld %lld %lld %s\n", m->dirs[i].mtime, m->dirs[i].ctime,
                     m->dirs[i].ino, m->dirs[i].path);
    for (size_t i = 0; i < m->nabsent; i++)
        mf_sbuf_addf(&b, "absent %s\n", m->absent[i]);
    if (m->absent_text)
        mf_sbuf_addf(&b, "%s", m->absent_text);
    mf_sbuf_add(&b, "", 1);
    if (b.oom) {
        mf_sbuf_free(&b);
        return NULL;
    }
    return b.data;
}

/* Is what the manifest recorded still what the compiler would read? 0 yes, 1 yes but some
 * stat changed (worth recording again), -1 no. */
static int manifest_check(struct manifest *m)
{
    int stale = 0;
    long long now = now_coarse();
    for (size_t i = 0; i < m->nfiles; i++) {
        struct dep *d = &m->files[i];
        struct stat st;
        if (stat(d->path, &st) != 0 || !S_ISREG(st.st_mode))
            return -1;                          /* vanished: the compiler would fail or differ */
        if (!d->racy && dep_same(d, &st))
            continue;
        char hex[MF_BLOB_KEY_LEN + 1];
        if (mf_sha256_file(d->path, hex) != 0 || strcmp(hex, d->hash) != 0)
            return -1;
        int changed = !dep_same(d, &st), was_racy = d->racy;
        dep_stat(d, &st, now);
        stale |= changed || was_racy != d->racy;
    }
    int dirs_changed = 0;
    for (size_t i = 0; i < m->ndirs; i++) {
        struct wdir *w = &m->dirs[i];
        struct stat st;
        if (stat(w->path, &st) != 0) {
            dirs_changed = 1;
            continue;
        }
        if (w->mtime != ts_ns(&st.st_mtim) || w->ctime != ts_ns(&st.st_ctim) ||
            w->ino != (long long)st.st_ino) {
            dirs_changed = 1;
            w->mtime = ts_ns(&st.st_mtim);
            w->ctime = ts_ns(&st.st_ctim);
            w->ino = (long long)st.st_ino;
        }
    }
    if (dirs_changed) {
        /* Something appeared or went in a directory searched for headers: does a header now
         * stand in front of one the compiler read? */
        for (size_t i = 0; i < m->nabsent; i++) {
            struct stat st;
            if (stat(m->absent[i], &st) == 0)
                return -1;
        }
        if (m->absent_text && absent_text_found(m->absent_text) != 0)
            return -1;
        stale = 1;
    }
    return stale;
}

/* The paths of a make rule written by -MD ("target: dep dep \<newline> dep"), each passed to
 * add (relative ones made absolute against base). */
static int parse_depfile(const char *text, const char *base, struct manifest *m,
                         int (*add)(struct manifest *, const char *, const char *))
{
    const char *p = text;
    /* Past the target: the first ':' that ends a word. */
    while (*p && !(p[0] == ':' && (p[1] == ' ' || p[1] == '\t' || p[1] == '\n' || p[1] == '\\' ||
                                   p[1] == '\0')))
        p += p[0] == '\\' && p[1] ? 2 : 1;
    if (!*p)
        return -1;
    p++;
    size_t cap = strlen(p) + 1;
    char *word = malloc(cap);
    if (!word)
        return MF_ENOMEM;
    int rc = 0;
    while (!rc && *p) {
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' ||
               (p[0] == '\\' && (p[1] == '\n' || (p[1] == '\r' && p[2] == '\n'))))
            p += p[0] == '\\' ? (p[1] == '\r' ? 3 : 2) : 1;
        size_t n = 0;
        while (*p && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            if (p[0] == '\\' && (p[1] == ' ' || p[1] == '#' || p[1] == '\\' || p[1] == ':')) {
                word[n++] = p[1];
                p += 2;
            } else if (p[0] == '\\' && (p[1] == '\n' || p[1] == '\r')) {
                break;
            } else if (p[0] == '$' && p[1] == '$') {
                word[n++] = '$';
                p += 2;
            } else {
                word[n++] = *p++;
            }
        }
        word[n] = '\0';
        if (n)
            rc = add(m, word, base);
    }
    free(word);
    return rc;
}

static int add_dep(struct manifest *m, const char *path, const char *base)
{
    char *full = path[0] == '/' ? strdup(path) : mf_strf("%s/%s", base, path);
    if (!full)
        return MF_ENOMEM;
    for (size_t i = 0; i < m->nfiles; i++) {
        if (!strcmp(m->files[i].path, full)) {
            free(full);
            return 0;
        }
    }
    if (mf_grow(&m->files, &m->capfiles, m->nfiles, sizeof *m->files, 32)) {
        free(full);
        return MF_ENOMEM;
    }
    struct dep *d = &m->files[m->nfiles++];
    memset(d, 0, sizeof *d);
    d->path = full;
    return 0;
}

static int add_str(char ***v, size_t *n, size_t *cap, const char *s)
{
    for (size_t i = 0; i < *n; i++)
        if (!strcmp((*v)[i], s))
            return 0;
    if (mf_grow(v, cap, *n, sizeof **v, 16) || !((*v)[*n] = strdup(s)))
        return MF_ENOMEM;
    (*n)++;
    return 0;
}

static int add_wdir(struct manifest *m, const char *path, long long t0)
{
    for (size_t i = 0; i < m->ndirs; i++)
        if (!strcmp(m->dirs[i].path, path))
            return 0;
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return 0;
    if (mf_grow(&m->dirs, &m->capdirs, m->ndirs, sizeof *m->dirs, 16))
        return MF_ENOMEM;
    struct wdir *w = &m->dirs[m->ndirs];
    w->path = strdup(path);
    if (!w->path)
        return MF_ENOMEM;
    /* Changed while the compiler ran: recorded as unknown, so the next lookup looks again. */
    w->mtime = ts_ns(&st.st_mtim) >= t0 || ts_ns(&st.st_ctim) >= t0 ? 0 : ts_ns(&st.st_mtim);
    w->ctime = ts_ns(&st.st_ctim);
    w->ino = (long long)st.st_ino;
    m->ndirs++;
    return 0;
}

/* The directories an include is looked up in (the -I ones and every directory a header was
 * found in), and for each header read, the places where a file of the same include name would
 * have been a candidate: those absent now must stay absent. */
static int find_shadows(struct manifest *m, const char *const *incdirs, size_t ninc, long long t0)
{
    char **cand = NULL;
    size_t nc = 0, cc = 0;
    int rc = 0;
    for (size_t i = 0; !rc && i < ninc; i++)
        rc = add_str(&cand, &nc, &cc, incdirs[i]);
    for (size_t i = 0; !rc && i < m->nfiles; i++) {
        char *dir = strdup(m->files[i].path);
        char *sl = dir ? strrchr(dir, '/') : NULL;
        if (!dir)
            rc = MF_ENOMEM;
        else if (sl && sl != dir) {
            *sl = '\0';
            rc = add_str(&cand, &nc, &cc, dir);
        }
        free(dir);
    }
    for (size_t i = 0; !rc && i < nc; i++)
        rc = add_wdir(m, cand[i], t0);
    for (size_t f = 0; !rc && f < m->nfiles; f++) {
        const char *d = m->files[f].path;
        for (size_t s = 0; !rc && s < nc; s++) {
            size_t sl = strlen(cand[s]);
            if (strncmp(d, cand[s], sl) != 0 || d[sl] != '/')
                continue;
            const char *rel = d + sl + 1;
            for (size_t o = 0; !rc && o < nc; o++) {
                if (o == s)
                    continue;
                char *probe = mf_strf("%s/%s", cand[o], rel);
                struct stat st;
                if (!probe) {
                    rc = MF_ENOMEM;
                } else if (lstat(probe, &st) != 0 && errno == ENOENT) {
                    rc = add_str(&m->absent, &m->nabsent, &m->capabsent, probe);
                    /* A header in a new subdirectory changes the deepest one that exists. */
                    char *up = strdup(probe);
                    for (char *x = up ? strrchr(up, '/') : NULL; !rc && x && x > up;
                         x = strrchr(up, '/')) {
                        *x = '\0';
                        if (stat(up, &st) == 0) {
                            rc = add_wdir(m, up, t0);
                            break;
                        }
                    }
                    if (!up)
                        rc = MF_ENOMEM;
                    free(up);
                }
                free(probe);
            }
        }
    }
    for (size_t i = 0; i < nc; i++)
        free(cand[i]);
    free(cand);
    return rc;
}

/* The compiler's file as posix_spawnp finds it for the compile (which runs in the flow's
 * directory: a relative name is relative to it), links left in place; NULL when not found. */
static char *which(const char *cc, const char *srcdir)
{
    if (cc[0] == '/')
        return strdup(cc);
    if (strchr(cc, '/'))
        return mf_strf("%s/%s", srcdir, cc);
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin";
    for (const char *p = path; *p;) {
        const char *e = strchr(p, ':');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        char *cand = !n ? mf_strf("%s/%s", srcdir, cc)
                     : p[0] == '/' ? mf_strf("%.*s/%s", (int)n, p, cc)
                                   : mf_strf("%s/%.*s/%s", srcdir, (int)n, p, cc);
        if (cand && access(cand, X_OK) == 0)
            return cand;
        free(cand);
        p += n;
        if (*p == ':')
            p++;
    }
    return NULL;
}

static const char *const cc_flags[] = {"-std=gnu11", "-O2", "-g", "-fPIC", "-shared",
                                       "-fvisibility=hidden", "-Wall"};
#define N_CC_FLAGS (sizeof cc_flags / sizeof cc_flags[0])
#define COMPILE_TRIES 3

/* The cache key: everything that picks the object besides the files the compiler reads (which
 * the manifest covers, the compiler's own file among them): the source, the compiler as named
 * and the PATH it is found on, the flags, the SDK, and the variables the compiler reads its
 * include path from. Nothing here touches the disk: a hit stays a few stat calls. */
static void flow_key(const char *text, size_t len, const char *cc, const char *inc,
                     const char *srcdir, char key[MF_BLOB_KEY_LEN + 1])
{
    struct mf_sbuf b = {0};
    mf_sbuf_addf(&b, "cc=%s\ninc=%s\nversion=%s\ndir=%s\n", cc, inc, MF_VERSION, srcdir);
    for (size_t i = 0; i < N_CC_FLAGS; i++)
        mf_sbuf_addf(&b, "flag=%s\n", cc_flags[i]);
    const char *envs[] = {"PATH", "CPATH", "C_INCLUDE_PATH", "GCC_EXEC_PREFIX", "COMPILER_PATH"};
    for (size_t i = 0; i < sizeof envs / sizeof envs[0]; i++) {
        const char *v = i == 0 && strchr(cc, '/') ? "" : getenv(envs[i]);
        mf_sbuf_addf(&b, "%s=%s\n", envs[i], v ? v : "");
    }
    struct mf_iov iov[] = {{text, len}, {"\0", 1}, {b.data ? b.data : "", b.len}};
    mf_sha256_hex(iov, sizeof iov / sizeof iov[0], key);
    mf_sbuf_free(&b);
}

/* The compiler's own file joins the manifest like a header: a new compiler behind the same
 * name (an upgrade, another alternative behind the `cc` link, an edited wrapper script)
 * compiles anew. Its stat follows links, so the file behind them counts. */
static int add_compiler(struct manifest *m, const char *cc, const char *srcdir)
{
    char *path = which(cc, srcdir);
    if (!path)
        return 0;
    for (size_t i = 0; i < m->nfiles; i++) {
        if (!strcmp(m->files[i].path, path)) {
            free(path);
            return 0;
        }
    }
    struct stat st;
    if (mf_grow(&m->files, &m->capfiles, m->nfiles, sizeof *m->files, 32)) {
        free(path);
        return MF_ENOMEM;
    }
    struct dep *d = &m->files[m->nfiles];
    memset(d, 0, sizeof *d);
    if (stat(path, &st) != 0 || mf_sha256_file(path, d->hash) != 0) {
        free(path);
        return 0;
    }
    d->path = path;
    dep_stat(d, &st, now_coarse());
    m->nfiles++;
    return 0;
}

/* Run the compiler once: tmp receives the object, dtmp the -MD rule. */
static int run_cc(const char *cc, const char *src, const char *srcdir, const char *inc,
                  const char *tmp, const char *dtmp, char **err)
{
    char *incflag = mf_strf("-I%s", inc);
    char *srcinc = mf_strf("-I%s", srcdir);
    const char *argv[N_CC_FLAGS + 12];
    size_t a = 0;
    argv[a++] = cc;
    for (size_t i = 0; i < N_CC_FLAGS; i++)
        argv[a++] = cc_flags[i];
    argv[a++] = incflag;
    argv[a++] = srcinc;
    argv[a++] = "-MD";
    argv[a++] = "-MF";
    argv[a++] = dtmp;
    argv[a++] = "-o";
    argv[a++] = tmp;
    argv[a++] = src;
    argv[a++] = "-lm";
    argv[a] = NULL;
    if (!incflag || !srcinc) {
        free(incflag);
        free(srcinc);
        return MF_ENOMEM;
    }
    pid_t pid;
    int status = 0;
    /* Compile in the flow's directory: the object records the compiler's working directory,
     * and the same flow must give the same object (and code package) wherever mflow runs. */
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addchdir_np(&fa, srcdir);
    int rc = posix_spawnp(&pid, cc, &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc == 0) {
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            char *dir = strdup(tmp);
            char *slash = dir ? strrchr(dir, '/') : NULL;
            if (slash)
                *slash = '\0';
            if (slash && mf_fs_nearly_full(dir)) {
                /* Not the flow's fault: the compiler could not write its output. */
                *err = mf_strf("flow %s did not compile: no space left on the file system of %s, "
                               "where the compiler writes the flow's object: free some space and "
                               "retry", src, dir);
                rc = ENOSPC;
            } else {
                *err = mf_strf("flow %s did not compile (%s exited with %d); fix the errors above",
                               src, cc,
                               WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
                rc = MF_EINVAL;
            }
            free(dir);
        }
    } else {
        *err = mf_strf("cannot run the C compiler '%s' to build %s: %s (install gcc or set CC)", cc,
                       src, strerror(rc));
    }
    free(incflag);
    free(srcinc);
    return rc;
}

static int same_stat(const struct stat *a, const struct stat *b)
{
    return a->st_size == b->st_size && ts_ns(&a->st_mtim) == ts_ns(&b->st_mtim) &&
           ts_ns(&a->st_ctim) == ts_ns(&b->st_ctim) && a->st_ino == b->st_ino &&
           a->st_dev == b->st_dev;
}

/* After a compile: what it read (from the -MD rule), hashed. *unsettled is set when a file
 * it read changed while it ran or while we hashed it (compile again). 0 or an error. */
static int record_deps(struct manifest *m, const char *dtmp, const char *srcdir, long long t0,
                       int *unsettled)
{
    *unsettled = 0;
    char *text = NULL;
    size_t len = 0;
    int rc = mf_read_file(dtmp, &text, &len);
    if (rc)
        return rc;
    rc = parse_depfile(text, srcdir, m, add_dep);
    free(text);
    if (rc)
        return rc == MF_ENOMEM ? rc : MF_EINVAL;
    long long now = now_coarse();
    for (size_t i = 0; i < m->nfiles; i++) {
        struct dep *d = &m->files[i];
        struct stat st, st2;
        if (stat(d->path, &st) != 0 || mf_sha256_file(d->path, d->hash) != 0 ||
            stat(d->path, &st2) != 0 || !same_stat(&st, &st2)) {
            *unsettled = 1;                     /* gone or changed while we looked */
            return 0;
        }
        dep_stat(d, &st, now);
        if (d->mtime >= t0 || d->ctime >= t0) {
            *unsettled = 1;                     /* written while the compiler read it */
            return 0;
        }
    }
    return 0;
}

/* The directories the compiler searches for includes, in its order (what `cc -E -v` prints
 * between "search starts here:" and "End of search list."), added to *dirs. Only on a miss;
 * a compiler that prints no list just adds nothing (the directories the headers were found in
 * still count). */
static int cc_search_dirs(const char *cc, const char *srcdir, const char *inc, char ***dirs,
                          size_t *n, size_t *cap)
{
    char *incflag = mf_strf("-I%s", inc);
    char *srcinc = mf_strf("-I%s", srcdir);
    int fds[2] = {-1, -1};
    if (!incflag || !srcinc || pipe2(fds, O_CLOEXEC) != 0) {
        free(incflag);
        free(srcinc);
        return 0;
    }
    const char *argv[] = {cc, incflag, srcinc, "-E", "-v", "-x", "c", "/dev/null", "-o",
                          "/dev/null", NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addchdir_np(&fa, srcdir);
    posix_spawn_file_actions_adddup2(&fa, fds[1], STDERR_FILENO);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    int rc = posix_spawnp(&pid, cc, &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    struct mf_sbuf out = {0};
    char buf[4096];
    ssize_t r;
    while (rc == 0 && ((r = read(fds[0], buf, sizeof buf)) > 0 || (r < 0 && errno == EINTR)))
        if (r > 0)
            mf_sbuf_add(&out, buf, (size_t)r);
    close(fds[0]);
    if (rc == 0) {
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
    }
    mf_sbuf_add(&out, "", 1);
    rc = 0;
    int in_list = 0;
    for (char *line = out.oom ? NULL : out.data; line && *line && !rc;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        if (strstr(line, "search starts here:")) {
            in_list = 1;
        } else if (!strncmp(line, "End of search list.", 19)) {
            in_list = 0;
        } else if (in_list && line[0] == ' ') {
            char *d = line + 1;
            char *fw = strstr(d, " (framework directory)");
            if (fw)
                *fw = '\0';
            size_t l = strlen(d);
            while (l > 1 && d[l - 1] == '/')
                d[--l] = '\0';
            if (d[0] == '/')
                rc = add_str(dirs, n, cap, d);
        }
        line = nl ? nl + 1 : NULL;
    }
    mf_sbuf_free(&out);
    free(incflag);
    free(srcinc);
    return rc;
}

/* Compile src into the cache, or find it there; *so receives the object's path. */
static int compile_flow(const char *src, char **so, char **err)
{
    char *text = NULL;
    size_t len = 0;
    int rc = mf_read_file(src, &text, &len);
    if (rc) {
        *err = mf_strf("cannot read flow %s: %s", src, strerror(rc));
        return rc;
    }
    const char *cc = getenv("CC");
    if (!cc || !*cc)
        cc = MF_CC;
    const char *inc = mf_sdk_include_dir();
    char *srcdir = strdup(src);
    char *slash = srcdir ? strrchr(srcdir, '/') : NULL;
    if (!slash) {
        free(text);
        free(srcdir);
        return MF_ENOMEM;
    }
    *slash = '\0';
    char key[MF_BLOB_KEY_LEN + 1];
    flow_key(text, len, cc, inc, srcdir, key);
    free(text);
    char *dir = mf_strf("%s/cache/flows", mf_host_home());
    char *mpath = dir ? mf_strf("%s/%.32s.deps", dir, key) : NULL;
    char *tmp = NULL, *dtmp = NULL, *mtext = NULL;
    struct manifest m;
    memset(&m, 0, sizeof m);
    if (!mpath) {
        rc = MF_ENOMEM;
        goto out;
    }
    /* A hit: the manifest still holds for every file the compiler read. */
    char *old = NULL;
    size_t olen = 0;
    if (mf_read_file(mpath, &old, &olen) == 0) {
        int ok = manifest_parse(old, &m) == 0;
        int check = ok ? manifest_check(&m) : -1;
        if (check >= 0) {
            *so = mf_strf("%s/%s", dir, m.object);
            if (*so && access(*so, R_OK) == 0) {
                if (check > 0 && (mtext = manifest_text(&m)))
                    mf_write_file_atomic_mode(mpath, mtext, strlen(mtext), 0600); /* best effort */
                free(old);
                goto out;
            }
            free(*so);
            *so = NULL;
        }
        manifest_free(&m);
        free(old);
    }
    rc = mf_mkdir_p(dir, MF_PRIVATE_DIR_MODE);
    if (rc) {
        *err = mf_strf("cannot create the flow cache %s: %s", dir, strerror(rc));
        goto out;
    }
    tmp = mf_strf("%s/%.32s.tmp.%d.so", dir, key, (int)getpid());
    dtmp = mf_strf("%s/%.32s.tmp.%d.d", dir, key, (int)getpid());
    if (!tmp || !dtmp) {
        rc = MF_ENOMEM;
        goto out;
    }
    int settled = 0;
    for (int attempt = 0; !rc && !settled && attempt < COMPILE_TRIES; attempt++) {
        manifest_free(&m);
        long long t0 = now_coarse();
        rc = run_cc(cc, src, srcdir, inc, tmp, dtmp, err);
        if (rc)
            break;
        int unsettled = 0;
        rc = record_deps(&m, dtmp, srcdir, t0, &unsettled);
        if (!rc && unsettled)
            continue;
        if (rc) {
            *err = mf_strf("cannot read what the compiler reported for %s in %s: %s", src, dtmp,
                           rc > 0                ? strerror(rc)
                           : rc == MF_ENOMEM     ? "out of memory"
                                                 : "not a make rule");
            break;
        }
        char **sdirs = NULL;
        size_t nsd = 0, capsd = 0;
        rc = add_str(&sdirs, &nsd, &capsd, inc);
        if (!rc)
            rc = add_str(&sdirs, &nsd, &capsd, srcdir);
        if (!rc)
            rc = cc_search_dirs(cc, srcdir, inc, &sdirs, &nsd, &capsd);
        if (!rc)
            rc = find_shadows(&m, (const char *const *)sdirs, nsd, t0);
        if (!rc)
            rc = add_compiler(&m, cc, srcdir);
        for (size_t i = 0; i < nsd; i++)
            free(sdirs[i]);
        free(sdirs);
        settled = !rc;
    }
    if (!rc && !settled) {
        *err = mf_strf("flow %s: the files it includes kept changing while it compiled; run "
                       "it again once they are saved",
                       src);
        rc = EAGAIN;
    }
    if (rc)
        goto out;
    /* The object's name: the key and every input's hash, so its bytes never change. */
    struct mf_sbuf names = {0};
    for (size_t i = 0; i < m.nfiles; i++)
        mf_sbuf_addf(&names, "%s %s\n", m.files[i].hash, m.files[i].path);
    char ohash[MF_BLOB_KEY_LEN + 1];
    struct mf_iov iov[] = {{key, MF_BLOB_KEY_LEN}, {names.data ? names.data : "", names.len}};
    mf_sha256_hex(iov, 2, ohash);
    mf_sbuf_free(&names);
    m.object = mf_strf("%.32s-%.16s.so", key, ohash);
    *so = m.object ? mf_strf("%s/%s", dir, m.object) : NULL;
    mtext = *so ? manifest_text(&m) : NULL;
    if (!mtext) {
        rc = MF_ENOMEM;
        goto out;
    }
    /* the compiler made it 0755 less the umask: the user's alone, like the cache */
    if (chmod(tmp, 0700) != 0 || rename(tmp, *so) != 0) {
        rc = errno;
        *err = mf_strf("cannot store the compiled flow %s: %s", *so, strerror(rc));
        goto out;
    }
    /* Only now the manifest: whoever reads it finds its object in place. */
    rc = mf_write_file_atomic_mode(mpath, mtext, strlen(mtext), 0600);
    if (rc)
        *err = mf_strf("cannot store the flow cache manifest %s: %s", mpath, strerror(rc));
out:
    if (tmp)
        unlink(tmp);
    if (dtmp)
        unlink(dtmp);
    if (rc) {
        free(*so);
        *so = NULL;
    }
    manifest_free(&m);
    free(mtext);
    free(tmp);
    free(dtmp);
    free(mpath);
    free(dir);
    free(srcdir);
    return rc;
}

static mf_flow_load_guard_fn load_guard;

void mf_flow_set_load_guard(mf_flow_load_guard_fn fn)
{
    load_guard = fn;
}

/* The size a flow recorded for its entries, or the 1.0 size when its mf_flow_def predates
 * the field (flow ABI 1.0). */
#define ENTRY_SIZE(raw, field, v1_0)                                                          \
    ((raw)->struct_size >= offsetof(mf_flow_def, field) + sizeof(uint32_t) ? (raw)->field     \
                                                                           : (uint32_t)(v1_0))

/* Copy n entries of `size` bytes each from table into n zeroed entries of `own` bytes: the
 * fields the flow's entries lack stay zero, the ones this mflow does not know are dropped.
 * A table the flow did not give stays NULL, for the graph's checks to name. */
static int copy_entries(const void *table, size_t n, size_t size, size_t own, const void **out)
{
    *out = NULL;
    if (!table)
        return 0;
    char *copy = calloc(n ? n : 1, own);
    if (!copy)
        return MF_ENOMEM;
    size_t take = size < own ? size : own;
    for (size_t i = 0; i < n; i++)
        memcpy(copy + i * own, (const char *)table + i * size, take);
    *out = copy;
    return 0;
}

int mf_flow_def_read(const mf_flow_def *raw, const char *what, mf_flow_def *out, char **err)
{
    memset(out, 0, sizeof *out);
    /* struct_size and abi_version are the first fields of every major. */
    if (raw->struct_size < offsetof(mf_flow_def, name)) {
        *err = mf_strf("%s: its flow definition is %u bytes, too small to hold even the ABI "
                       "version: rebuild it with MF_FLOW from mflow %s's <mflow/flow.h>",
                       what, raw->struct_size, MF_VERSION);
        return MF_EABI;
    }
    uint32_t minor = raw->struct_size >= offsetof(mf_flow_def, abi_minor) + sizeof(uint32_t)
                         ? raw->abi_minor
                         : 0;
    if (raw->abi_version != MF_FLOW_ABI_MAJOR) {
        *err = mf_strf("%s was built for flow ABI %u.%u, this mflow reads flow ABI %d.%d: "
                       "rebuild it against mflow %s's <mflow/flow.h>",
                       what, raw->abi_version, minor, MF_FLOW_ABI_MAJOR, MF_FLOW_ABI_MINOR,
                       MF_VERSION);
        return MF_EABI;
    }
    if (raw->struct_size < MF_FLOW_DEF_V1_0_SIZE) {
        *err = mf_strf("%s: its flow definition is %u bytes, smaller than the %zu bytes of flow "
                       "ABI 1.0: rebuild it with MF_FLOW from mflow %s's <mflow/flow.h>",
                       what, raw->struct_size, (size_t)MF_FLOW_DEF_V1_0_SIZE, MF_VERSION);
        return MF_EABI;
    }
    size_t step_size = ENTRY_SIZE(raw, step_size, MF_STEP_DEF_V1_0_SIZE);
    size_t param_size = ENTRY_SIZE(raw, param_size, MF_PARAM_DEF_V1_0_SIZE);
    if (step_size < MF_STEP_DEF_MIN_SIZE || (raw->n_params && param_size < MF_PARAM_DEF_MIN_SIZE)) {
        int steps = step_size < MF_STEP_DEF_MIN_SIZE;
        *err = mf_strf("%s: its %s entries are %zu bytes, too small to hold a %s (at least %zu "
                       "bytes): set step_size and param_size to sizeof(mf_step_def) and "
                       "sizeof(mf_param_def), as MF_FLOW does",
                       what, steps ? "step" : "parameter", steps ? step_size : param_size,
                       steps ? "step's name and fn" : "parameter's name and type",
                       steps ? (size_t)MF_STEP_DEF_MIN_SIZE : (size_t)MF_PARAM_DEF_MIN_SIZE);
        return MF_EABI;
    }
    /* 1.3: endpoints, when the definition is large enough to hold all three fields. */
    int has_endpoints =
        raw->struct_size >= offsetof(mf_flow_def, endpoint_size) + sizeof(uint32_t) &&
        raw->endpoints && raw->n_endpoints;
    size_t endpoint_size = has_endpoints ? raw->endpoint_size : 0;
    if (has_endpoints && endpoint_size < MF_ENDPOINT_DEF_MIN_SIZE) {
        *err = mf_strf("%s: its endpoint entries are %zu bytes, too small to hold an endpoint's "
                       "name and fn (at least %zu bytes): set endpoint_size to "
                       "sizeof(mf_endpoint_def), as MF_FLOW_WITH_ENDPOINTS does",
                       what, endpoint_size, (size_t)MF_ENDPOINT_DEF_MIN_SIZE);
        return MF_EABI;
    }
    memcpy(out, raw, MF_FLOW_DEF_V1_0_SIZE);
    out->struct_size = sizeof *out;
    out->abi_minor = minor;
    out->step_size = sizeof(mf_step_def);
    out->param_size = sizeof(mf_param_def);
    out->endpoint_size = sizeof(mf_endpoint_def);
    out->n_endpoints = has_endpoints ? raw->n_endpoints : 0;
    if (copy_entries(raw->steps, raw->n_steps, step_size, sizeof(mf_step_def),
                     (const void **)&out->steps) ||
        copy_entries(raw->params, raw->n_params, param_size, sizeof(mf_param_def),
                     (const void **)&out->params) ||
        copy_entries(has_endpoints ? raw->endpoints : NULL, out->n_endpoints, endpoint_size,
                     sizeof(mf_endpoint_def), (const void **)&out->endpoints)) {
        mf_flow_def_free(out);
        return MF_ENOMEM;
    }
    return 0;
}

void mf_flow_def_free(mf_flow_def *d)
{
    if (!d)
        return;
    free((void *)d->steps);
    free((void *)d->params);
    free((void *)d->endpoints);
    d->steps = NULL;
    d->params = NULL;
    d->endpoints = NULL;
}

/* The flow mf_flow_preload loaded: the path as given, where it resolved, its handle. */
static struct {
    char *given;
    char *abs;
    void *dl;
    struct mf_flow *flow;    /* opened whole by mf_flow_preload_open, or NULL */
} kept;

void mf_flow_preload(const char *path)
{
    char abs[PATH_MAX];
    if (kept.dl || !has_suffix(path, ".so") || !realpath(path, abs))
        return;
    char *g = strdup(path), *a = strdup(abs);
    void *dl = g && a ? dlopen(abs, RTLD_NOW | RTLD_LOCAL) : NULL;
    if (!dl) {
        free(g);
        free(a);
        return;
    }
    kept.given = g;
    kept.abs = a;
    kept.dl = dl;
}

int mf_flow_preload_open(void)
{
    if (!kept.dl || kept.flow)
        return kept.flow ? 0 : MF_EINVAL;
    char *err = NULL;
    struct mf_flow *f;
    int rc = mf_flow_open(kept.given, &f, &err);
    free(err);
    if (!rc)
        kept.flow = f;
    return rc;
}

static int open_flow(const char *path, struct mf_flow **out, char **err);

int mf_flow_open(const char *path, struct mf_flow **out, char **err)
{
    *out = NULL;
    *err = NULL;
    if (kept.flow && !strcmp(path, kept.given)) {
        *out = kept.flow;   /* the same file, handle and tables: nothing to read again */
        return 0;
    }
    return open_flow(path, out, err);
}

/* Apart from mf_flow_open, whose kept-flow path is every forked task's: this frame holds a
 * PATH_MAX buffer (8.9 KB in all), a stack page more for each task to fault in. */
__attribute__((noinline)) static int open_flow(const char *path, struct mf_flow **out,
                                               char **err)
{
    char abs[PATH_MAX];
    int is_kept = kept.dl && !strcmp(path, kept.given) && strlen(kept.abs) < sizeof abs;
    if (is_kept) {
        strcpy(abs, kept.abs);
    } else if (!realpath(path, abs)) {
        int e = errno;
        *err = mf_strf("flow %s: %s (give the path of a .c, .py or .so flow file)", path,
                       strerror(e));
        return e;
    }
    struct mf_flow *f = calloc(1, sizeof *f);
    if (!f)
        return MF_ENOMEM;
    int rc = 0;
    if (has_suffix(abs, ".py")) {
        f->src_path = strdup(abs);
        f->so_path = strdup(abs);
        rc = !f->src_path || !f->so_path ? MF_ENOMEM : mf_flow_py_load(f, abs, err);
        if (!rc)
            f->def = &f->own_def;
        if (!rc) {
            rc = mf_graph_build(f->def, &f->graph, err);
            if (!rc)
                rc = mf_endpoints_check(f->def, err);
            char *located = rc && *err ? mf_flow_py_locate(f, path, *err) : NULL;
            if (located) {
                free(*err);
                *err = located;
            }
        }
        if (rc) {
            mf_flow_close(f);
            return rc;
        }
        *out = f;
        return 0;
    } else if (has_suffix(abs, ".so")) {
        f->so_path = strdup(abs);
    } else if (has_suffix(abs, ".c")) {
        f->src_path = strdup(abs);
        rc = compile_flow(abs, &f->so_path, err);
    } else {
        *err = mf_strf("flow %s: not a .c, .py or .so file", path);
        rc = MF_EINVAL;
    }
    const char *shown = f->src_path ? f->src_path : f->so_path;
    int guarded = !rc && load_guard;
    if (guarded)
        load_guard(shown, 1);
    if (!rc && is_kept && f->so_path) {
        f->dl = kept.dl;
        f->dl_kept = 1;
    } else if (!rc) {
        f->dl = dlopen(f->so_path, RTLD_NOW | RTLD_LOCAL);
        if (!f->dl) {
            *err = mf_strf("cannot load flow %s: %s", f->so_path, dlerror());
            rc = MF_EINVAL;
        }
    }
    if (!rc) {
        const mf_flow_def *(*entry)(void) =
            (const mf_flow_def *(*)(void))dlsym(f->dl, MF_FLOW_ENTRY_SYMBOL);
        f->def = entry ? entry() : NULL;
        if (!f->def) {
            *err = mf_strf("%s defines no flow: add MF_FLOW(\"Name\", steps, params) at the end",
                           f->src_path ? f->src_path : f->so_path);
            rc = MF_EINVAL;
        } else {
            /* From here on the core reads the flow's tables through its own copy. */
            rc = mf_flow_def_read(f->def, f->so_path, &f->own_def, err);
            f->def = rc ? NULL : &f->own_def;
        }
    }
    if (!rc)
        rc = mf_graph_build(f->def, &f->graph, err);
    if (!rc)
        rc = mf_endpoints_check(f->def, err);
    if (guarded)
        load_guard(shown, 0);
    if (rc) {
        mf_flow_close(f);
        return rc;
    }
    *out = f;
    return 0;
}

void mf_flow_close(struct mf_flow *f)
{
    if (!f || f == kept.flow)
        return;
    mf_graph_destroy(f->graph);
    mf_flow_def_free(&f->own_def);
    mf_flow_py_free(f);
    if (f->dl && !f->dl_kept)
        dlclose(f->dl);
    free(f->src_path);
    free(f->so_path);
    free(f);
}
