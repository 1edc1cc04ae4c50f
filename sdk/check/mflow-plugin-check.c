/*
 * mflow-plugin-check: the plugin conformance check installed with the SDK.
 *
 *   mflow-plugin-check --kind=storage [--root=URL] [--set KEY=VALUE]... [--large-mb=N] PLUGIN.so
 *   mflow-plugin-check --kind=compute [--set KEY=VALUE]... PLUGIN.so
 *
 * It loads the plugin the way mflow does (dlopen with local symbols, the one entry symbol,
 * the descriptor's sizes) with a host of its own (below), and drives every operation the
 * contract in <mflow/plugin.h> describes, printing "ok: ..." or "FAIL: ..." for each check
 * and "skip: ..." for an optional operation the plugin leaves NULL. Exit 0 when every check
 * passed, 1 when one failed, 2 on a usage error or a plugin that does not load or start.
 *
 * It uses only the public header and the plugin ABI, so a plugin's own `make check` can run
 * it. Storage checks write only under "mflow-plugin-check/<pid>/" of the root and delete
 * what they wrote; compute checks run small `/bin/sh -c` jobs (see check_compute).
 *
 * The host: config_get(plugin, key) answers --set KEY=VALUE, then "root" from --root, then
 * the option's environment variable, then its default; home() is $MFLOW_HOME or a
 * temporary directory; log() keeps the messages and prints them with -v or on a failure.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <mflow/plugin.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- the host --------------------------------------------------------------------------- */

#define MAX_SETS 32
static const char *set_keys[MAX_SETS], *set_vals[MAX_SETS];
static int n_sets;
static const char *opt_root;
static const struct mf_plugin_desc *D;
static char home_dir[4096];
static char scratch[4096];   /* files the checks write: a temporary directory of its own */
static int verbose;
static double timeout_wait = 40;   /* --timeout-wait: how long a 1 s timeout_s may take */
static char logbuf[1 << 16];
static size_t loglen;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static void host_log(int level, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void host_log(int level, const char *name, const char *fmt, ...)
{
    static const char *tags[] = {"error", "warning", "info", "debug"};
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&log_lock);
    int n = snprintf(logbuf + loglen, sizeof logbuf - loglen, "  %s: %s: %s\n",
                     name ? name : "?", level >= 0 && level <= 3 ? tags[level] : "?", msg);
    if (n > 0 && (size_t)n < sizeof logbuf - loglen)
        loglen += (size_t)n;
    pthread_mutex_unlock(&log_lock);
    if (verbose)
        fprintf(stderr, "  %s: %s: %s\n", name ? name : "?", level >= 0 && level <= 3 ? tags[level] : "?", msg);
}

static const struct mf_option_def *find_option(const char *key)
{
    const struct mf_option_def *o = D ? D->options : NULL;
    size_t stride = o && o->struct_size >= sizeof *o ? o->struct_size : sizeof *o;
    for (uint32_t i = 0; o && i < D->n_options; i++) {
        const struct mf_option_def *x = (const void *)((const char *)o + i * stride);
        if (x->name && !strcmp(x->name, key))
            return x;
    }
    return NULL;
}

static const char *host_config_get(const char *plugin, const char *key)
{
    if (!plugin || !key || !D || strcmp(plugin, D->name))
        return NULL;
    for (int i = n_sets - 1; i >= 0; i--)
        if (!strcmp(set_keys[i], key))
            return set_vals[i];
    if (!strcmp(key, "root") && opt_root)
        return opt_root;
    const struct mf_option_def *o = find_option(key);
    const char *e = o && o->env ? getenv(o->env) : NULL;
    if (e && *e)
        return e;
    return o ? o->default_value : NULL;
}

static const char *host_home(void)
{
    return home_dir;
}

static void host_task_output(const char *pathspec, int stream, const char *data, size_t len)
{
    (void)pathspec;
    (void)stream;
    (void)data;
    (void)len;
}

static const char *host_root(void)
{
    return opt_root ? opt_root : "";
}

static const struct mf_host_api host = {
    .struct_size = sizeof(struct mf_host_api),
    .abi_major = MF_PLUGIN_ABI_MAJOR,
    .abi_minor = MF_PLUGIN_ABI_MINOR,
    .version = "mflow-plugin-check",
    .log = host_log,
    .config_get = host_config_get,
    .home = host_home,
    .task_output = host_task_output,
    .datastore_root = host_root,
};

/* ---- reporting -------------------------------------------------------------------------- */

static int n_ok, n_failed, n_skipped;

static void ok(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void ok(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("ok: ", stdout);
    vprintf(fmt, ap);
    putchar('\n');
    va_end(ap);
    n_ok++;
}

static void skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void skip(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("skip: ", stdout);
    vprintf(fmt, ap);
    putchar('\n');
    va_end(ap);
    n_skipped++;
}

static void bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void bad(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("FAIL: ", stdout);
    vprintf(fmt, ap);
    putchar('\n');
    va_end(ap);
    n_failed++;
    if (loglen && !verbose) {
        printf("  the plugin logged:\n%s", logbuf);
    }
    loglen = 0;
    fflush(stdout);
}

/* expect(cond, what...): ok or FAIL with the same words; returns cond. */
#define expect(cond, ...) ((cond) ? (ok(__VA_ARGS__), 1) : (bad(__VA_ARGS__), 0))

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- loading ---------------------------------------------------------------------------- */

static const struct mf_plugin_desc *load(const char *path, uint32_t kind)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "mflow-plugin-check: cannot load %s: %s\n", path, dlerror());
        return NULL;
    }
    mf_plugin_entry_fn entry;
    void *sym = dlsym(h, MF_PLUGIN_ENTRY_SYMBOL);
    if (!sym) {
        fprintf(stderr, "mflow-plugin-check: %s does not export %s\n", path,
                MF_PLUGIN_ENTRY_SYMBOL);
        return NULL;
    }
    memcpy(&entry, &sym, sizeof entry);
    const struct mf_plugin_desc *d = entry(&host);
    if (!d) {
        fprintf(stderr, "mflow-plugin-check: %s's entry returned no descriptor\n%s", path, logbuf);
        return NULL;
    }
    if (d->struct_size < MF_PLUGIN_DESC_V1_0_SIZE || d->abi_major != MF_PLUGIN_ABI_MAJOR) {
        fprintf(stderr, "mflow-plugin-check: %s: descriptor of %u bytes, ABI %u.%u; this check "
                        "speaks %d.%d\n",
                path, d->struct_size, d->abi_major, d->abi_minor, MF_PLUGIN_ABI_MAJOR,
                MF_PLUGIN_ABI_MINOR);
        return NULL;
    }
    if (d->kind != kind || !d->ops || !d->init || !d->fini || !d->name) {
        fprintf(stderr, "mflow-plugin-check: %s: not a %s plugin with ops, init, fini and a "
                        "name (kind %u)\n",
                path, kind == MF_PLUGIN_STORAGE ? "storage" : "compute", d->kind);
        return NULL;
    }
    D = d;
    printf("plugin %s %s (ABI %u.%u) from %s\n", d->name, d->version ? d->version : "",
           d->abi_major, d->abi_minor, path);
    return d;
}

static void *start(void)
{
    void *state = NULL;
    int rc = D->init(&host, &state);
    if (rc) {
        printf("FAIL: init returned %d (%s)\n%s", rc, mf_strerror(rc), logbuf);
        n_failed++;
        return NULL;
    }
    return state;
}

/* ---- storage ---------------------------------------------------------------------------- */

static const struct mf_storage_ops *S;
static char P[128];   /* the key prefix of this check */

static char *key(const char *rel)
{
    static __thread char k[8][512];
    static __thread int i;
    char *out = k[i++ % 8];
    snprintf(out, 512, "%s%s", P, rel);
    return out;
}

static const char *err_of(void *st)
{
    const char *e = S->last_error(st);
    return e ? e : "(NULL)";
}

static int put_bytes(void *st, const char *k, const void *data, size_t len, uint32_t flags)
{
    struct mf_iov iov = {data, len};
    return S->put(st, k, &iov, 1, flags);
}

/* 1 when the object k holds exactly data/len. */
static int holds(void *st, const char *k, const void *data, size_t len)
{
    struct mf_buf b = {.struct_size = sizeof b};
    if (S->get(st, k, &b) != 0)
        return 0;
    int same = b.len == len && (len == 0 || memcmp(b.data, data, len) == 0);
    if (b.release)
        b.release(&b);
    return same;
}

static unsigned char *pattern(size_t len, unsigned seed)
{
    unsigned char *p = malloc(len ? len : 1);
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; p && i < len; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        p[i] = (unsigned char)x;
    }
    return p;
}

struct listed {
    char keys[16][256];
    uint64_t sizes[16];
    int n;
    int stop_after;
};

static int on_key(void *ud, const char *k, uint64_t size)
{
    struct listed *l = ud;
    if (l->n < 16) {
        snprintf(l->keys[l->n], sizeof l->keys[0], "%s", k);
        l->sizes[l->n] = size;
    }
    l->n++;
    return l->stop_after && l->n >= l->stop_after ? 7 : 0;
}

static int listed_has(const struct listed *l, const char *k, uint64_t size)
{
    for (int i = 0; i < l->n && i < 16; i++)
        if (!strcmp(l->keys[i], k) && l->sizes[i] == size)
            return 1;
    return 0;
}

static int write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    int okw = fwrite(data, 1, len, f) == len;
    return (fclose(f) == 0 && okw) ? 0 : -1;
}

static int file_holds(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    unsigned char *buf = malloc(len + 1);
    size_t n = buf ? fread(buf, 1, len + 1, f) : 0;
    fclose(f);
    int same = buf && n == len && memcmp(buf, data, len) == 0;
    free(buf);
    return same;
}

static void storage_basics(void *st)
{
    /* Values of several shapes, through one iov and through several. */
    static const char text[] = "hello, datastore";
    unsigned char bin[300];
    for (size_t i = 0; i < sizeof bin; i++)
        bin[i] = (unsigned char)(i * 7);
    bin[10] = 0;
    unsigned char *mib = pattern(1 << 20, 1);
    if (!mib) {
        bad("out of memory for a 1 MiB value");
        return;
    }
    struct {
        const char *k;
        const void *d;
        size_t n;
    } vals[] = {{"v/empty", "", 0}, {"v/one", "x", 1}, {"v/text", text, sizeof text - 1},
                {"v/binary", bin, sizeof bin}, {"v/deep/er/key.json", text, 5},
                {"v/mib", mib, (size_t)1 << 20}};
    for (size_t i = 0; i < sizeof vals / sizeof *vals; i++) {
        int rc = put_bytes(st, key(vals[i].k), vals[i].d, vals[i].n, 0);
        if (!expect(rc == 0, "put %s (%zu bytes) returns 0", vals[i].k, vals[i].n)) {
            printf("  it returned %d (%s): %s\n", rc, mf_strerror(rc), err_of(st));
            continue;
        }
        expect(holds(st, key(vals[i].k), vals[i].d, vals[i].n), "get %s gives back the %zu bytes put",
              vals[i].k, vals[i].n);
    }
    struct mf_iov three[] = {{"abc", 3}, {"", 0}, {"defgh", 5}};
    int rc = S->put(st, key("v/iov"), three, 3, 0);
    expect(rc == 0 && holds(st, key("v/iov"), "abcdefgh", 8),
          "put of 3 pieces stores their concatenation");
    free(mib);

    /* Not found, exactly. */
    struct mf_buf b = {.struct_size = sizeof b};
    rc = S->get(st, key("v/absent"), &b);
    expect(rc == MF_ENOTFOUND, "get of an absent key returns MF_ENOTFOUND (got %d)", rc);
    if (rc == 0 && b.release) /* a broken store answered: give its buffer back */
        b.release(&b);
    const char *e = S->last_error(st);
    expect(e && *e, "last_error after a failure is a message, not NULL or empty");

    /* exists: exactly 1 or 0. */
    rc = S->exists(st, key("v/text"));
    expect(rc == 1, "exists of a present key returns exactly 1 (got %d)", rc);
    rc = S->exists(st, key("v/empty"));
    expect(rc == 1, "exists of a present empty object returns 1 (got %d)", rc);
    rc = S->exists(st, key("v/absent"));
    expect(rc == 0, "exists of an absent key returns exactly 0 (got %d)", rc);
    rc = S->exists(st, key("v"));
    expect(rc == 0, "exists of a key that is only a prefix of others returns 0 (got %d)", rc);

    /* Atomic replacement and MF_PUT_IF_ABSENT. */
    put_bytes(st, key("r/k"), "first version", 13, 0);
    rc = put_bytes(st, key("r/k"), "second", 6, 0);
    expect(rc == 0 && holds(st, key("r/k"), "second", 6),
          "put over an existing key replaces it whole (shorter value, no old bytes left)");
    rc = put_bytes(st, key("r/k"), "third!", 6, MF_PUT_IF_ABSENT);
    expect(rc == 0 && holds(st, key("r/k"), "second", 6),
          "put with MF_PUT_IF_ABSENT on a present key returns 0 and keeps the old object");
    rc = put_bytes(st, key("r/new"), "made", 4, MF_PUT_IF_ABSENT);
    expect(rc == 0 && holds(st, key("r/new"), "made", 4),
          "put with MF_PUT_IF_ABSENT on an absent key writes it");

    /* Keys that are not relative paths are refused with an error, not stored. */
    const char *badkeys[] = {"", "/abs/key", "../escape", "a/../../b"};
    for (size_t i = 0; i < sizeof badkeys / sizeof *badkeys; i++) {
        rc = put_bytes(st, badkeys[i], "x", 1, 0);
        expect(rc != 0, "put of key '%s' (not a relative path) fails (got %d)", badkeys[i], rc);
    }

    /* Files in and out. */
    char tmp[4200], out[4200];
    snprintf(tmp, sizeof tmp, "%s/in.bin", scratch);
    snprintf(out, sizeof out, "%s/out.bin", scratch);
    unsigned char *fdata = pattern(200000, 2);
    if (!fdata) {
        bad("out of memory for a 200000 byte file");
        return;
    }
    write_file(tmp, fdata, 200000);
    rc = S->put_file(st, key("f/put_file"), tmp, 0);
    expect(rc == 0 && holds(st, key("f/put_file"), fdata, 200000),
          "put_file stores the file's bytes");
    rc = S->put_file(st, key("f/missing"), "/nonexistent/mflow-plugin-check", 0);
    expect(rc != 0 && S->exists(st, key("f/missing")) == 0,
          "put_file of a missing file fails and stores nothing (got %d)", rc);
    if (S->get_file) {
        rc = S->get_file(st, key("f/put_file"), out);
        expect(rc == 0 && file_holds(out, fdata, 200000), "get_file writes the object to a file");
        rc = S->get_file(st, key("f/absent"), out);
        expect(rc == MF_ENOTFOUND, "get_file of an absent key returns MF_ENOTFOUND (got %d)", rc);
    } else {
        skip("get_file is NULL (optional)");
    }
    free(fdata);

    /* del. */
    rc = S->del(st, key("r/new"));
    expect(rc == 0, "del of a present key returns 0 (got %d)", rc);
    expect(S->exists(st, key("r/new")) == 0, "exists after del returns 0");
    rc = S->get(st, key("r/new"), &b);
    expect(rc == MF_ENOTFOUND, "get after del returns MF_ENOTFOUND (got %d)", rc);
    if (rc == 0 && b.release)
        b.release(&b);
    rc = S->del(st, key("r/new"));
    expect(rc == MF_ENOTFOUND, "del of an absent key returns MF_ENOTFOUND (got %d)", rc);
}

static void storage_list(void *st)
{
    put_bytes(st, key("l/a"), "1", 1, 0);
    put_bytes(st, key("l/b/c"), "22", 2, 0);
    put_bytes(st, key("l/b/d"), "333", 3, 0);
    put_bytes(st, key("lx/e"), "4444", 4, 0);
    struct listed l = {0};
    int rc = S->list(st, key("l/"), on_key, &l);
    expect(rc == 0 && l.n == 3 && listed_has(&l, key("l/a"), 1) && listed_has(&l, key("l/b/c"), 2) &&
              listed_has(&l, key("l/b/d"), 3),
          "list of a prefix gives every key under it, recursively, with its size, and nothing "
          "else (got %d keys, rc %d)", l.n, rc);
    S->del(st, key("l/b/c"));
    memset(&l, 0, sizeof l);
    rc = S->list(st, key("l/"), on_key, &l);
    expect(rc == 0 && l.n == 2 && !listed_has(&l, key("l/b/c"), 2),
          "list after del does not list the deleted key (got %d keys)", l.n);
    memset(&l, 0, sizeof l);
    rc = S->list(st, key("none/"), on_key, &l);
    expect(rc == 0 && l.n == 0, "list of a prefix with no keys returns 0 and calls back never");
    memset(&l, 0, sizeof l);
    l.stop_after = 1;
    rc = S->list(st, key("l/"), on_key, &l);
    expect(rc == 7 && l.n == 1, "a callback returning non-zero stops list, which returns that "
                               "value (got %d after %d keys)", rc, l.n);
}

static void storage_batches(void *st)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s/batch.bin", scratch);
    write_file(tmp, "from a file", 11);
    if (S->put_batch) {
        struct mf_storage_item it[3] = {
            {.struct_size = sizeof it[0], .key = key("b/one"), .data = "one", .len = 3},
            {.struct_size = sizeof it[0], .key = key("b/two"), .path = tmp},
            {.struct_size = sizeof it[0], .key = "/not/relative", .data = "x", .len = 1},
        };
        int rc = S->put_batch(st, it, 3);
        expect(rc != 0 && rc == it[2].result && it[0].result == 0 && it[1].result == 0 &&
                  holds(st, key("b/one"), "one", 3) && holds(st, key("b/two"), "from a file", 11),
              "put_batch attempts every item (data and path), sets each result and returns "
              "the failure's code (rc %d, results %d %d %d)",
              rc, it[0].result, it[1].result, it[2].result);
    } else {
        skip("put_batch is NULL (optional)");
        put_bytes(st, key("b/one"), "one", 3, 0);
    }
    if (S->get_batch) {
        char out[4200];
        snprintf(out, sizeof out, "%s/batch.out", scratch);
        struct mf_storage_item it[3] = {
            {.struct_size = sizeof it[0], .key = key("b/one")},
            {.struct_size = sizeof it[0], .key = key("b/absent")},
            {.struct_size = sizeof it[0], .key = key("b/one"), .path = out},
        };
        it[0].out.struct_size = it[1].out.struct_size = it[2].out.struct_size = sizeof it[0].out;
        int rc = S->get_batch(st, it, 3);
        expect(rc == MF_ENOTFOUND && it[0].result == 0 && it[0].out.len == 3 &&
                  !memcmp(it[0].out.data, "one", 3) && it[1].result == MF_ENOTFOUND &&
                  it[2].result == 0 && file_holds(out, "one", 3),
              "get_batch fills out or writes path per item, MF_ENOTFOUND for the absent one "
              "(rc %d, results %d %d %d)", rc, it[0].result, it[1].result, it[2].result);
        if (it[0].result == 0 && it[0].out.release)
            it[0].out.release(&it[0].out);
    } else {
        skip("get_batch is NULL (optional)");
    }
    if (S->exists_batch) {
        struct mf_storage_item it[2] = {{.struct_size = sizeof it[0], .key = key("b/one"), .exists = 7},
                                        {.struct_size = sizeof it[0], .key = key("b/absent"), .exists = 7}};
        int rc = S->exists_batch(st, it, 2);
        expect(rc == 0 && it[0].result == 0 && it[0].exists == 1 && it[1].result == 0 &&
                  it[1].exists == 0,
              "exists_batch sets exists 1 and 0 with result 0 (rc %d, exists %d %d)", rc,
              it[0].exists, it[1].exists);
    } else {
        skip("exists_batch is NULL (optional)");
    }
    if (S->list_batch) {
        put_bytes(st, key("lb1/x"), "x", 1, 0);
        put_bytes(st, key("lb2/y"), "yy", 2, 0);
        const char *prefixes[] = {key("lb1/"), key("lb2/")};
        struct listed l = {0};
        int rc = S->list_batch(st, prefixes, 2, on_key, &l);
        expect(rc == 0 && l.n == 2 && listed_has(&l, key("lb1/x"), 1) && listed_has(&l, key("lb2/y"), 2),
              "list_batch lists the keys of every prefix (got %d, rc %d)", l.n, rc);
    } else {
        skip("list_batch is NULL (optional)");
    }
}

static int has_writer(void)
{
    return MF_HAS_FIELD(S, writer_abort) && S->writer_open && S->writer_write && S->writer_commit &&
           S->writer_abort;
}

static void storage_large(void *st, size_t large)
{
    unsigned char *big = pattern(large, 3);
    if (!big) {
        bad("out of memory for a %zu byte value", large);
        return;
    }
    struct mf_iov two[] = {{big, large / 3}, {big + large / 3, large - large / 3}};
    double t0 = now();
    int rc = S->put(st, key("big/put"), two, 2, 0);
    expect(rc == 0 && holds(st, key("big/put"), big, large),
          "put and get of a %zu MiB value (more than the writer threshold) in %.1f s",
          large >> 20, now() - t0);
    if (has_writer()) {
        mf_writer *w = NULL;
        t0 = now();
        rc = S->writer_open(st, &w);
        size_t piece = (size_t)8 << 20;
        for (size_t off = 0; !rc && off < large; off += piece) {
            struct mf_iov iov = {big + off, off + piece > large ? large - off : piece};
            rc = S->writer_write(st, w, &iov, 1);
        }
        if (w)
            rc = rc ? (S->writer_abort(st, w), rc) : S->writer_commit(st, w, key("big/writer"), 0);
        expect(rc == 0 && holds(st, key("big/writer"), big, large),
              "the writer stores a %zu MiB value in 8 MiB writes (%.1f s)", large >> 20,
              now() - t0);
    }
    S->del(st, key("big/put"));
    S->del(st, key("big/writer"));
    free(big);
}

static void storage_writer(void *st)
{
    if (!has_writer()) {
        int some = MF_HAS_FIELD(S, writer_abort) &&
                   (S->writer_open || S->writer_write || S->writer_commit || S->writer_abort);
        if (some)
            bad("the streaming writer is partly set: set all four operations or none");
        else
            skip("the streaming writer is NULL (optional, ABI 1.1)");
        return;
    }
    mf_writer *w = NULL;
    int rc = S->writer_open(st, &w);
    struct mf_iov a[] = {{"stream", 6}, {"ed ", 3}};
    struct mf_iov b = {"bytes", 5};
    if (!rc)
        rc = S->writer_write(st, w, a, 2);
    if (!rc)
        rc = S->writer_write(st, w, &b, 1);
    expect(rc == 0 && w, "writer_open and writer_write return 0 (got %d)", rc);
    if (rc)
        return;
    expect(S->exists(st, key("w/one")) == 0, "nothing is visible before writer_commit");
    rc = S->writer_commit(st, w, key("w/one"), 0);
    expect(rc == 0 && holds(st, key("w/one"), "streamed bytes", 14),
          "writer_commit makes the written bytes the object (got %d)", rc);
    w = NULL;
    rc = S->writer_open(st, &w);
    if (!rc) {
        struct mf_iov o = {"other", 5};
        S->writer_write(st, w, &o, 1);
        rc = S->writer_commit(st, w, key("w/one"), MF_PUT_IF_ABSENT);
    }
    expect(rc == 0 && holds(st, key("w/one"), "streamed bytes", 14),
          "writer_commit with MF_PUT_IF_ABSENT on a present key returns 0 and keeps the object");
    struct listed before = {0}, after = {0};
    S->list(st, key(""), on_key, &before);
    w = NULL;
    if (S->writer_open(st, &w) == 0) {
        struct mf_iov o = {"dropped", 7};
        S->writer_write(st, w, &o, 1);
        S->writer_abort(st, w);
    }
    S->list(st, key(""), on_key, &after);
    expect(after.n == before.n, "writer_abort leaves nothing visible (keys %d before, %d after)",
          before.n, after.n);
}

/* Several processes, each with its own instance as tasks have, write at once: distinct keys,
 * one key with the same bytes (a shared blob), one key with different bytes. */
#define PROCS 4
#define PER_PROC 25
static void storage_processes(void)
{
    pid_t pids[PROCS];
    for (int p = 0; p < PROCS; p++) {
        fflush(stdout);
        pids[p] = fork();
        if (pids[p] == 0) {
            void *st = NULL;
            if (D->init(&host, &st) != 0)
                _exit(3);
            int fails = 0;
            unsigned char *race = pattern(100000 + (size_t)p * 1000, 10 + (unsigned)p);
            if (!race)
                _exit(3);
            for (int i = 0; i < PER_PROC; i++) {
                char k[64], v[64];
                snprintf(k, sizeof k, "c/%d/%d", p, i);
                int n = snprintf(v, sizeof v, "process %d value %d", p, i);
                fails += put_bytes(st, key(k), v, (size_t)n, 0) != 0;
                fails += put_bytes(st, key("c/shared"), "same bytes from all", 19, MF_PUT_IF_ABSENT) != 0;
                fails += put_bytes(st, key("c/race"), race, 100000 + (size_t)p * 1000, 0) != 0;
            }
            free(race);
            D->fini(st);
            _exit(fails ? 4 : 0);
        }
    }
    int all = 1;
    for (int p = 0; p < PROCS; p++) {
        int status = 0;
        waitpid(pids[p], &status, 0);
        all &= WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
    expect(all, "%d processes, each with its own instance, put at once without an error", PROCS);
    void *st = start();
    if (!st)
        return;
    int missing = 0;
    for (int p = 0; p < PROCS; p++)
        for (int i = 0; i < PER_PROC; i++) {
            char k[64], v[64];
            snprintf(k, sizeof k, "c/%d/%d", p, i);
            int n = snprintf(v, sizeof v, "process %d value %d", p, i);
            missing += !holds(st, key(k), v, (size_t)n);
        }
    expect(missing == 0, "every key the processes put is there with its bytes (%d missing or wrong)",
          missing);
    expect(holds(st, key("c/shared"), "same bytes from all", 19),
          "a key all processes put with the same bytes holds them");
    int whole = 0;
    for (int p = 0; p < PROCS && !whole; p++) {
        unsigned char *race = pattern(100000 + (size_t)p * 1000, 10 + (unsigned)p);
        whole = race && holds(st, key("c/race"), race, 100000 + (size_t)p * 1000);
        free(race);
    }
    expect(whole, "a key the processes raced to replace holds one whole value, not a torn mix");
    D->fini(st);
}

struct thread_arg {
    void *st;
    int id, fails;
};

static void *thread_puts(void *p)
{
    struct thread_arg *a = p;
    for (int i = 0; i < 40; i++) {
        char k[64], v[64];
        snprintf(k, sizeof k, "t/%d/%d", a->id, i);
        int n = snprintf(v, sizeof v, "thread %d value %d", a->id, i);
        a->fails += put_bytes(a->st, key(k), v, (size_t)n, 0) != 0;
        a->fails += !holds(a->st, key(k), v, (size_t)n);
        a->fails += S->exists(a->st, key(k)) != 1;
    }
    return NULL;
}

static void storage_threads(void *st)
{
    pthread_t t[4];
    struct thread_arg a[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (struct thread_arg){st, i, 0};
        pthread_create(&t[i], NULL, thread_puts, &a[i]);
    }
    int fails = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        fails += a[i].fails;
    }
    expect(fails == 0, "4 threads put, get and ask exists on one instance at once (%d failures)",
          fails);
}

static int del_cb(void *ud, const char *k, uint64_t size)
{
    (void)size;
    struct { void *st; int n; } *c = ud;
    c->n += S->del(c->st, k) == 0;
    return 0;
}

static void storage_root_again(void *st)
{
    const char *r = S->root ? S->root(st) : NULL;
    if (!S->root) {
        skip("root is NULL (optional): tasks get the root mflow was given");
        return;
    }
    if (!expect(r && *r, "root() returns the root URL (%s)", r ? r : "NULL"))
        return;
    /* Given back as the root option, it names the same datastore (what tasks receive). */
    char *again = strdup(r);
    const char *saved = opt_root;
    opt_root = again;
    void *other = NULL;
    int rc = D->init(&host, &other);
    opt_root = saved;
    if (!expect(rc == 0, "init with root=%s (root()'s own answer) starts (got %d)", again, rc)) {
        free(again);
        return;
    }
    put_bytes(st, key("root/again"), "seen", 4, 0);
    expect(holds(other, key("root/again"), "seen", 4),
          "an instance started on root()'s URL sees what the first one put");
    D->fini(other);
    free(again);
}

static void check_storage(size_t large)
{
    S = D->ops;
    expect(S->struct_size >= MF_STORAGE_OPS_V1_0_SIZE, "the operations table has the 1.0 size or "
          "more (%u bytes)", S->struct_size);
    const char *missing = !S->put ? "put" : !S->put_file ? "put_file" : !S->get ? "get"
                        : !S->exists ? "exists" : !S->list ? "list" : !S->del ? "del"
                        : !S->last_error ? "last_error" : NULL;
    if (!expect(!missing, "every mandatory operation is set%s%s", missing ? ": missing " : "",
               missing ? missing : ""))
        return;
    if (MF_HAS_FIELD(S, schemes) && S->schemes) {
        int n = 0;
        for (; n < 64 && S->schemes[n]; n++)
            if (strchr(S->schemes[n], ':') || strchr(S->schemes[n], '/'))
                bad("scheme '%s' must be a bare name, without ':' or '/'", S->schemes[n]);
        ok("declares %d URL scheme(s) (ABI 1.3)", n);
    } else {
        skip("schemes: none declared (a root's scheme cannot select this plugin)");
    }
    void *st = start();
    if (!st)
        return;
    snprintf(P, sizeof P, "mflow-plugin-check/%d/", (int)getpid());
    storage_root_again(st);
    storage_basics(st);
    storage_list(st);
    storage_batches(st);
    storage_writer(st);
    storage_threads(st);
    storage_large(st, large);
    storage_processes();
    struct { void *st; int n; } c = {st, 0};
    S->list(st, P, del_cb, &c);
    struct listed l = {0};
    S->list(st, P, on_key, &l);
    expect(l.n == 0, "deleting every key the check wrote leaves none under %s (%d left)", P, l.n);
    D->fini(st);
}

/* ---- compute ---------------------------------------------------------------------------- */

static const struct mf_compute_ops *C;

static int ended(uint32_t s)
{
    return s == MF_JOB_SUCCEEDED || s == MF_JOB_FAILED || s == MF_JOB_CANCELLED || s == MF_JOB_LOST;
}

static const char *state_name(uint32_t s)
{
    static const char *n[] = {"?", "queued", "running", "succeeded", "failed", "cancelled", "lost"};
    return s <= 6 ? n[s] : "?";
}

/* Poll until every job ended or the deadline; st gets the last statuses. */
static int wait_all(void *state, mf_job **jobs, size_t n, struct mf_job_status *st, double secs)
{
    double until = now() + secs;
    for (;;) {
        for (size_t i = 0; i < n; i++) {
            memset(&st[i], 0, sizeof st[i]);
            st[i].struct_size = sizeof st[i];
        }
        int rc = C->poll(state, jobs, n, st);
        if (rc)
            return rc;
        size_t done = 0;
        for (size_t i = 0; i < n; i++)
            done += ended(st[i].state);
        if (done == n)
            return 0;
        if (now() > until)
            return MF_ETIMEOUT;
        int w = C->wait(state, 200);
        if (w < 0)
            return w;
    }
}

/* The job's output: its file, else the plugin's logs. */
static char *output_of(void *state, mf_job *job, const char *path, int stream)
{
    FILE *f = fopen(path, "rb");
    if (f) {
        char *buf = calloc(1, 4096);
        if (buf)
            fread(buf, 1, 4095, f);
        fclose(f);
        if (buf && *buf)
            return buf;
        free(buf);
    }
    if (!C->logs)
        return NULL;
    struct mf_buf b = {.struct_size = sizeof b};
    if (C->logs(state, job, stream, &b) != 0)
        return NULL;
    char *s = strndup(b.data ? b.data : "", b.len);
    if (b.release)
        b.release(&b);
    return s;
}

/* For showing: the text up to its first newline. */
static char *first_line(char *s)
{
    if (s)
        s[strcspn(s, "\n")] = '\0';
    return s;
}

static int submit_sh(void *state, const char *script, uint32_t timeout_s, const char *tag,
                     mf_job **job, char *out, char *err)
{
    static const char *env[] = {"MFLOW_CHECK_VALUE=42", NULL};
    const char *argv[] = {"/bin/sh", "-c", script, NULL};
    struct mf_resources res = {.struct_size = sizeof res, .cpu = 1};
    snprintf(out, 4200, "%s/%s.stdout", scratch, tag);
    snprintf(err, 4200, "%s/%s.stderr", scratch, tag);
    char pathspec[128];
    snprintf(pathspec, sizeof pathspec, "CheckFlow/1/%s/1", tag);
    struct mf_job_spec spec = {
        .struct_size = sizeof spec, .timeout_s = timeout_s, .argv = argv, .env = env,
        .pathspec = pathspec, .flow_name = "CheckFlow", .step_name = tag, .run_id = 1,
        .task_id = 1, .resources = &res, .stdout_path = out, .stderr_path = err,
        .workdir = scratch,
    };
    *job = NULL;
    return C->submit(state, &spec, job);
}

static void check_compute(void)
{
    C = D->ops;
    expect(C->struct_size >= MF_COMPUTE_OPS_V1_0_SIZE, "the operations table has the 1.0 size or "
          "more (%u bytes)", C->struct_size);
    const char *missing = !C->submit ? "submit" : !C->poll ? "poll" : !C->wait ? "wait"
                        : !C->cancel ? "cancel" : !C->release ? "release"
                        : !C->last_error ? "last_error" : NULL;
    if (!expect(!missing, "every mandatory operation is set%s%s", missing ? ": missing " : "",
               missing ? missing : ""))
        return;
    void *state = start();
    if (!state)
        return;

    if (MF_HAS_FIELD(C, describe) && C->describe) {
        struct mf_buf b = {.struct_size = sizeof b};
        int rc = C->describe(state, &b);
        const char *d = b.data;
        size_t i = 0;
        while (rc == 0 && d && i < b.len && (d[i] == ' ' || d[i] == '\n'))
            i++;
        int obj = rc == 0 && d && i < b.len && d[i] == '{' && memmem(d, b.len, "\"offers\"", 8);
        expect(obj, "describe gives a JSON object with \"offers\" (rc %d)", rc);
        if (rc == 0 && b.release)
            b.release(&b);
    } else {
        skip("describe is NULL (optional, ABI 1.2)");
    }
    if (C->check) {
        struct mf_resources small = {.struct_size = sizeof small, .cpu = 1};
        struct mf_resources huge = {.struct_size = sizeof huge, .cpu = 1u << 30,
                                    .memory_mb = (uint64_t)1 << 50};
        int rc = C->check(state, "small", &small);
        expect(rc == 0, "check accepts 1 cpu (got %d: %s)", rc, rc ? C->last_error(state) : "");
        rc = C->check(state, "huge", &huge);
        const char *e = rc ? C->last_error(state) : NULL;
        expect(rc != 0 && e && *e, "check refuses 2^30 cpus and 2^50 MB with a message (got %d: %s)",
              rc, e ? e : "");
    } else {
        skip("check is NULL (optional)");
    }

    /* A job that fails with exit code 3, and one that succeeds, polled together. */
    char out1[4200], err1[4200], out2[4200], err2[4200];
    mf_job *jobs[2] = {NULL, NULL};
    int rc = submit_sh(state, "echo hi $MFLOW_CHECK_VALUE; echo oops >&2; exit 3", 0, "exit3",
                       &jobs[0], out1, err1);
    expect(rc == 0 && jobs[0], "submit of `/bin/sh -c 'echo hi; exit 3'` returns 0 and a handle "
          "(got %d%s%s)", rc, rc ? ": " : "", rc ? C->last_error(state) : "");
    int rc2 = submit_sh(state, "exit 0", 0, "exit0", &jobs[1], out2, err2);
    expect(rc2 == 0 && jobs[1], "submit of `/bin/sh -c 'exit 0'` returns 0 (got %d)", rc2);
    if (rc == 0 && rc2 == 0) {
        struct mf_job_status st[2];
        double t0 = now();
        rc = wait_all(state, jobs, 2, st, 60);
        expect(rc == 0, "wait and poll of both jobs together see them end (%d, %.1f s)", rc,
              now() - t0);
        expect(st[0].state == MF_JOB_FAILED && st[0].exit_code == 3,
              "the exit-3 job is failed with exit_code 3 (state %s, exit %d)",
              state_name(st[0].state), st[0].exit_code);
        expect(st[1].state == MF_JOB_SUCCEEDED && st[1].exit_code == 0,
              "the exit-0 job succeeded with exit_code 0 (state %s, exit %d)",
              state_name(st[1].state), st[1].exit_code);
        char *o = output_of(state, jobs[0], out1, MF_STREAM_STDOUT);
        char *e = output_of(state, jobs[0], err1, MF_STREAM_STDERR);
        int has_o = o && strstr(o, "hi 42"), has_e = e && strstr(e, "oops");
        expect(has_o, "its stdout (file or logs) holds what it printed, with the spec's env "
               "('%s')", o ? first_line(o) : "none");
        expect(has_e, "its stderr holds what it printed ('%s')", e ? first_line(e) : "none");
        free(o);
        free(e);
    }
    for (int i = 0; i < 2; i++)
        if (jobs[i])
            C->release(state, jobs[i]);

    /* Cancel a running job. */
    mf_job *job = NULL;
    rc = submit_sh(state, "sleep 60", 0, "cancel", &job, out1, err1);
    if (rc == 0) {
        struct mf_job_status st = {.struct_size = sizeof st};
        double until = now() + 30;
        while (C->poll(state, &job, 1, &st) == 0 && st.state == MF_JOB_QUEUED && now() < until)
            C->wait(state, 200);
        double t0 = now();
        rc = C->cancel(state, job);
        expect(rc == 0, "cancel of a running job returns 0 (got %d)", rc);
        rc = wait_all(state, &job, 1, &st, 30);
        expect(rc == 0 && (st.state == MF_JOB_CANCELLED || st.state == MF_JOB_FAILED) &&
                  now() - t0 < 30,
              "a cancelled job ends (state %s, signal %d) in %.1f s, well before its 60 s",
              state_name(st.state), st.term_signal, now() - t0);
        C->release(state, job);
    } else {
        bad("submit of `sleep 60` failed (%d): %s", rc, C->last_error(state));
    }

    /* timeout_s: the backend stops the job past it. */
    rc = submit_sh(state, "sleep 60", 1, "timeout", &job, out1, err1);
    if (rc == 0) {
        struct mf_job_status st = {.struct_size = sizeof st};
        double t0 = now();
        rc = wait_all(state, &job, 1, &st, timeout_wait);
        expect(rc == 0 && st.state == MF_JOB_FAILED && st.timed_out == 1,
              "a job past its timeout_s (1 s) is stopped: failed with timed_out 1 (state %s, "
              "timed_out %u, %.1f s)", state_name(st.state), st.timed_out, now() - t0);
        C->release(state, job);
    }

    /* A job whose program does not exist fails at submit or as a failed job, never hangs. */
    const char *argv[] = {"/nonexistent/mflow-plugin-check", NULL};
    snprintf(out1, sizeof out1, "%s/none.stdout", scratch);
    snprintf(err1, sizeof err1, "%s/none.stderr", scratch);
    struct mf_job_spec spec = {.struct_size = sizeof spec, .argv = argv, .pathspec = "CheckFlow/1/none/1",
                               .flow_name = "CheckFlow", .step_name = "none", .run_id = 1,
                               .task_id = 2, .stdout_path = out1, .stderr_path = err1};
    job = NULL;
    rc = C->submit(state, &spec, &job);
    if (rc != 0) {
        const char *e = C->last_error(state);
        expect(e && *e, "submit of a missing program fails with a message (%d: %s)", rc, e ? e : "");
    } else {
        struct mf_job_status st = {.struct_size = sizeof st};
        rc = wait_all(state, &job, 1, &st, 30);
        expect(rc == 0 && st.state != MF_JOB_SUCCEEDED,
              "a job of a missing program ends without success (state %s, exit %d)",
              state_name(st.state), st.exit_code);
        C->release(state, job);
    }
    D->fini(state);
}

/* ---- main ------------------------------------------------------------------------------- */

static int remove_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static const char usage[] =
    "usage: mflow-plugin-check --kind=storage|compute [--root=URL] [--set KEY=VALUE]...\n"
    "                          [--large-mb=N] [--timeout-wait=SECONDS] [-v] PLUGIN.so\n"
    "Checks a plugin against the contract of <mflow/plugin.h>; see the SDK's PLUGINS.md.\n";

int main(int argc, char **argv)
{
    const char *kind = NULL, *path = NULL;
    size_t large_mb = 65;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strncmp(a, "--kind=", 7)) {
            kind = a + 7;
        } else if (!strncmp(a, "--root=", 7)) {
            opt_root = a + 7;
        } else if (!strncmp(a, "--timeout-wait=", 15)) {
            timeout_wait = strtod(a + 15, NULL);
        } else if (!strncmp(a, "--large-mb=", 11)) {
            large_mb = strtoul(a + 11, NULL, 10);
        } else if (!strcmp(a, "--set") && i + 1 < argc && strchr(argv[i + 1], '=') &&
                   n_sets < MAX_SETS) {
            char *kv = argv[++i];
            char *eq = strchr(kv, '=');
            *eq = '\0';
            set_keys[n_sets] = kv;
            set_vals[n_sets++] = eq + 1;
        } else if (!strcmp(a, "-v")) {
            verbose = 1;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage, stdout);
            return 0;
        } else if (a[0] != '-' && !path) {
            path = a;
        } else {
            fprintf(stderr, "mflow-plugin-check: unexpected argument '%s'\n%s", a, usage);
            return 2;
        }
    }
    uint32_t k = kind && !strcmp(kind, "storage") ? MF_PLUGIN_STORAGE
                 : kind && !strcmp(kind, "compute") ? MF_PLUGIN_COMPUTE : 0;
    if (!k || !path || !large_mb) {
        fputs(usage, stderr);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *tmpdir = getenv("TMPDIR");
    if (!tmpdir || !*tmpdir)
        tmpdir = "/tmp";
    snprintf(scratch, sizeof scratch, "%s/mflow-plugin-check.XXXXXX", tmpdir);
    if (!mkdtemp(scratch)) {
        fprintf(stderr, "mflow-plugin-check: cannot make a scratch directory under %s: %s; set "
                        "TMPDIR to a writable directory\n", tmpdir, strerror(errno));
        return 2;
    }
    const char *h = getenv("MFLOW_HOME");
    snprintf(home_dir, sizeof home_dir, "%s", h && *h ? h : scratch);
    if (!strchr(path, '/')) {
        /* dlopen searches the library path for a bare name: the user meant this directory. */
        static char local[4200];
        snprintf(local, sizeof local, "./%s", path);
        path = local;
    }
    if (!load(path, k))
        return 2;
    if (k == MF_PLUGIN_STORAGE)
        check_storage(large_mb << 20);
    else
        check_compute();
    printf("%s: %d passed, %d failed, %d skipped\n", n_failed ? "FAILED" : "PASSED", n_ok,
           n_failed, n_skipped);
    nftw(scratch, remove_one, 16, FTW_DEPTH | FTW_PHYS);
    return n_failed ? 1 : 0;
}
