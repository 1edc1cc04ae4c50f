/*
 * mflow_storage_memory — a storage plugin that keeps its objects in memory.
 *
 * A complete third-party plugin and the template to start one from: copy this directory,
 * rename the plugin, replace the storage with yours. What it shows:
 *
 *  - One exported symbol, mf_plugin_entry_v1, marked MF_PLUGIN_EXPORT; everything else is
 *    static (and -fvisibility=hidden from `pkg-config --cflags mflow-plugin` hides whatever
 *    is not). The plugin links nothing of libmflow: every host service comes through the
 *    host table.
 *  - A descriptor and an operations table that start with their struct_size.
 *  - An option table that documents the plugin's settings (`mflow plugins` shows it) and
 *    reading them through the host (command line, environment, $MFLOW_HOME/config.json).
 *  - Checking that the host has a function (MF_HAS_FIELD) before calling it.
 *  - Return codes: 0, negative MF_E* codes, positive errno values; a message for every
 *    failure, kept on the instance and served by last_error.
 *
 * The objects live as long as the process, so this store suits tests and demos of a single
 * process: tasks that run as separate processes do not share it.
 * Build: make (see README.md).
 */
#include <mflow/plugin.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PLUGIN_NAME "memory"
#define PLUGIN_VERSION "1.0.0"

struct object {
    char *key;
    unsigned char *data;
    size_t len;
};

/* One instance, created by init and passed to every operation. */
struct store {
    const struct mf_host_api *host;
    struct object *objs;       /* unsorted; a real backend would index its keys */
    size_t n, cap;
    size_t used, limit;        /* bytes stored and the max_mb limit in bytes */
    char root[64];
    char error[512];
};

static const struct mf_option_def options[] = {
    {
        .struct_size = sizeof(struct mf_option_def),
        .type = MF_OPT_INT,
        .name = "max_mb",
        .env = "MFLOW_MEMORY_MAX_MB",
        .default_value = "64",
        .help = "refuse writes that would keep more than this many MiB in memory",
    },
};

/* ---- Host services ----------------------------------------------------------------------
 * A host function is called only when the host's table is large enough to hold it: a host
 * older than the plugin.h this plugin was built with lacks the functions added after its
 * minor version. The functions of ABI 1.0 are always there, so for them the check never
 * fails; a function marked "added in 1.N" in plugin.h must be checked exactly like this
 * before use, with a fallback when it is absent:
 *
 *     if (MF_HAS_FIELD(host, newer_fn) && host->newer_fn)
 *         host->newer_fn(...);
 *     else
 *         ...what to do on a host that predates it...
 */

static void say(const struct store *s, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void say(const struct store *s, int level, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (MF_HAS_FIELD(s->host, log) && s->host->log)
        s->host->log(level, PLUGIN_NAME, "%s", msg);
    else
        fprintf(stderr, "mflow %s: %s\n", PLUGIN_NAME, msg);
}

static const char *setting(const struct mf_host_api *host, const char *key)
{
    if (!MF_HAS_FIELD(host, config_get) || !host->config_get)
        return NULL;   /* no settings service: the option's default applies */
    return host->config_get(PLUGIN_NAME, key);
}

/* ---- Helpers ---------------------------------------------------------------------------- */

/* Remember why the last call failed, and return its code. */
static int fail(struct store *s, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct store *s, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->error, sizeof s->error, fmt, ap);
    va_end(ap);
    return code;
}

static struct object *find(struct store *s, const char *key)
{
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->objs[i].key, key))
            return &s->objs[i];
    return NULL;
}

static int check_key(struct store *s, const char *key)
{
    if (!key || !*key || key[0] == '/')
        return fail(s, MF_EINVAL, "memory storage: key '%s' is not a relative path",
                    key ? key : "(null)");
    return 0;
}

/* Store data (taking ownership of it) under key, replacing an older object. */
static int store_object(struct store *s, const char *key, unsigned char *data, size_t len)
{
    struct object *o = find(s, key);
    size_t old = o ? o->len : 0;
    if (s->used - old + len > s->limit) {
        free(data);
        return fail(s, ENOSPC,
                    "memory storage: writing '%s' (%zu bytes) would exceed max_mb (%zu MiB); "
                    "raise MFLOW_MEMORY_MAX_MB",
                    key, len, s->limit >> 20);
    }
    if (!o) {
        if (s->n == s->cap) {
            size_t cap = s->cap ? 2 * s->cap : 16;
            struct object *grown = realloc(s->objs, cap * sizeof *grown);
            if (!grown) {
                free(data);
                return fail(s, MF_ENOMEM, "memory storage: out of memory storing '%s'", key);
            }
            s->objs = grown;
            s->cap = cap;
        }
        char *k = strdup(key);
        if (!k) {
            free(data);
            return fail(s, MF_ENOMEM, "memory storage: out of memory storing '%s'", key);
        }
        o = &s->objs[s->n++];
        o->key = k;
        o->data = NULL;
        o->len = 0;
    }
    /* The swap is the whole write: a reader sees the old object or the new one. */
    free(o->data);
    o->data = data;
    o->len = len;
    s->used = s->used - old + len;
    return 0;
}

static int read_file(struct store *s, const char *path, unsigned char **data, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return fail(s, errno, "memory storage: cannot open '%s': %s", path, strerror(errno));
    unsigned char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? 2 * cap : 65536;
            unsigned char *grown = realloc(buf, cap);
            if (!grown) {
                free(buf);
                fclose(f);
                return fail(s, MF_ENOMEM, "memory storage: out of memory reading '%s'", path);
            }
            buf = grown;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    int err = ferror(f) ? EIO : 0;
    fclose(f);
    if (err) {
        free(buf);
        return fail(s, err, "memory storage: cannot read '%s'", path);
    }
    *data = buf;
    *len = n;
    return 0;
}

/* ---- Storage operations ----------------------------------------------------------------- */

static int mem_put(void *state, const char *key, const struct mf_iov *iov, size_t niov,
                   uint32_t flags)
{
    struct store *s = state;
    int rc = check_key(s, key);
    if (rc)
        return rc;
    if ((flags & MF_PUT_IF_ABSENT) && find(s, key))
        return 0;
    size_t len = 0;
    for (size_t i = 0; i < niov; i++)
        len += iov[i].len;
    unsigned char *data = malloc(len ? len : 1);
    if (!data)
        return fail(s, MF_ENOMEM, "memory storage: out of memory storing '%s'", key);
    size_t off = 0;
    for (size_t i = 0; i < niov; i++) {
        if (iov[i].len)
            memcpy(data + off, iov[i].base, iov[i].len);
        off += iov[i].len;
    }
    return store_object(s, key, data, len);
}

static int mem_put_file(void *state, const char *key, const char *path, uint32_t flags)
{
    struct store *s = state;
    int rc = check_key(s, key);
    if (rc)
        return rc;
    if ((flags & MF_PUT_IF_ABSENT) && find(s, key))
        return 0;
    unsigned char *data;
    size_t len;
    rc = read_file(s, path, &data, &len);
    return rc ? rc : store_object(s, key, data, len);
}

static void release_copy(struct mf_buf *buf)
{
    free(buf->data);
    buf->data = NULL;
    buf->len = 0;
}

/* Hand out a copy: the caller may keep it after the object is overwritten or deleted. */
static int mem_get(void *state, const char *key, struct mf_buf *out)
{
    struct store *s = state;
    int rc = check_key(s, key);
    if (rc)
        return rc;
    const struct object *o = find(s, key);
    if (!o)
        return fail(s, MF_ENOTFOUND, "memory storage: no object '%s'", key);
    void *copy = malloc(o->len ? o->len : 1);
    if (!copy)
        return fail(s, MF_ENOMEM, "memory storage: out of memory reading '%s'", key);
    memcpy(copy, o->data, o->len);
    memset(out, 0, sizeof *out);
    out->struct_size = sizeof *out;
    out->data = copy;
    out->len = o->len;
    out->release = release_copy;
    return 0;
}

/* Write the object to path through a temporary file and a rename, so a reader of path never
 * sees half of it. */
static int mem_get_file(void *state, const char *key, const char *path)
{
    struct store *s = state;
    int rc = check_key(s, key);
    if (rc)
        return rc;
    const struct object *o = find(s, key);
    if (!o)
        return fail(s, MF_ENOTFOUND, "memory storage: no object '%s'", key);
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp-memory", path) >= (int)sizeof tmp)
        return fail(s, MF_EINVAL, "memory storage: path '%s' is too long", path);
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return fail(s, errno, "memory storage: cannot create '%s': %s", tmp, strerror(errno));
    errno = 0;
    int ok = fwrite(o->data, 1, o->len, f) == o->len;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        int err = errno ? errno : EIO;
        remove(tmp);
        return fail(s, err, "memory storage: cannot write '%s': %s", path, strerror(err));
    }
    return 0;
}

static int mem_exists(void *state, const char *key)
{
    struct store *s = state;
    int rc = check_key(s, key);
    return rc ? rc : find(s, key) != NULL;
}

/* The callback must not write or delete objects of this store while the listing runs. */
static int mem_list(void *state, const char *prefix, mf_list_cb cb, void *ud)
{
    struct store *s = state;
    size_t plen = prefix ? strlen(prefix) : 0;
    for (size_t i = 0; i < s->n; i++) {
        if (plen && strncmp(s->objs[i].key, prefix, plen))
            continue;
        int rc = cb(ud, s->objs[i].key, s->objs[i].len);
        if (rc)
            return rc;
    }
    return 0;
}

static int mem_del(void *state, const char *key)
{
    struct store *s = state;
    int rc = check_key(s, key);
    if (rc)
        return rc;
    struct object *o = find(s, key);
    if (!o)
        return fail(s, MF_ENOTFOUND, "memory storage: no object '%s' to delete", key);
    s->used -= o->len;
    free(o->key);
    free(o->data);
    *o = s->objs[--s->n];   /* order does not matter: move the last one into the gap */
    return 0;
}

/* Batch forms: a memory store has nothing to parallelise, so they loop. A network backend
 * would issue the requests concurrently here. Every item is attempted. */

static int mem_put_batch(void *state, struct mf_storage_item *items, size_t n)
{
    int first = 0;
    for (size_t i = 0; i < n; i++) {
        struct mf_storage_item *it = &items[i];
        if (it->data || !it->path) {
            struct mf_iov iov = {.base = it->data, .len = it->len};
            it->result = mem_put(state, it->key, &iov, 1, it->flags);
        } else {
            it->result = mem_put_file(state, it->key, it->path, it->flags);
        }
        if (it->result && !first)
            first = it->result;
    }
    return first;
}

static int mem_get_batch(void *state, struct mf_storage_item *items, size_t n)
{
    int first = 0;
    for (size_t i = 0; i < n; i++) {
        struct mf_storage_item *it = &items[i];
        it->result = it->path ? mem_get_file(state, it->key, it->path)
                              : mem_get(state, it->key, &it->out);
        if (it->result && !first)
            first = it->result;
    }
    return first;
}

static int mem_exists_batch(void *state, struct mf_storage_item *items, size_t n)
{
    int first = 0;
    for (size_t i = 0; i < n; i++) {
        int rc = mem_exists(state, items[i].key);
        items[i].exists = rc == 1;
        items[i].result = rc < 0 ? rc : 0;
        if (rc < 0 && !first)
            first = rc;
    }
    return first;
}

static int mem_list_batch(void *state, const char *const *prefixes, size_t n, mf_list_cb cb,
                          void *ud)
{
    for (size_t i = 0; i < n; i++) {
        int rc = mem_list(state, prefixes[i], cb, ud);
        if (rc)
            return rc;
    }
    return 0;
}

static const char *mem_last_error(void *state)
{
    struct store *s = state;
    return s->error[0] ? s->error : "no error";
}

static const char *mem_root(void *state)
{
    struct store *s = state;
    return s->root;
}

/* ---- Instance life ---------------------------------------------------------------------- */

static int mem_init(const struct mf_host_api *host, void **state)
{
    *state = NULL;
    struct store *s = calloc(1, sizeof *s);
    if (!s)
        return MF_ENOMEM;
    s->host = host;
    const char *max = setting(host, "max_mb");
    if (!max)
        max = options[0].default_value;
    char *end;
    errno = 0;
    unsigned long long mb = strtoull(max, &end, 10);
    if (errno || end == max || *end || mb == 0 || mb > (SIZE_MAX >> 20)) {
        say(s, MF_LOG_ERROR, "max_mb must be a positive whole number of MiB, not '%s'; fix "
                             "MFLOW_MEMORY_MAX_MB or \"memory\": {\"max_mb\": ...} in config.json",
            max);
        free(s);
        return MF_EINVAL;
    }
    s->limit = (size_t)mb << 20;
    snprintf(s->root, sizeof s->root, "memory://%p", (void *)s);
    say(s, MF_LOG_DEBUG, "in-memory store %s, up to %llu MiB", s->root, mb);
    *state = s;
    return 0;
}

static void mem_fini(void *state)
{
    struct store *s = state;
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++) {
        free(s->objs[i].key);
        free(s->objs[i].data);
    }
    free(s->objs);
    free(s);
}

/* ---- What the host sees ----------------------------------------------------------------- */

static const struct mf_storage_ops ops = {
    .struct_size = sizeof(struct mf_storage_ops),
    .put = mem_put,
    .put_file = mem_put_file,
    .get = mem_get,
    .get_file = mem_get_file,
    .exists = mem_exists,
    .list = mem_list,
    .del = mem_del,
    .put_batch = mem_put_batch,
    .get_batch = mem_get_batch,
    .exists_batch = mem_exists_batch,
    .list_batch = mem_list_batch,
    .last_error = mem_last_error,
    .root = mem_root,
};

static const struct mf_plugin_desc desc = {
    .struct_size = sizeof(struct mf_plugin_desc),
    .abi_major = MF_PLUGIN_ABI_MAJOR,
    .abi_minor = MF_PLUGIN_ABI_MINOR,
    .kind = MF_PLUGIN_STORAGE,
    .name = PLUGIN_NAME,
    .version = PLUGIN_VERSION,
    .description = "objects kept in this process's memory (template plugin)",
    .options = options,
    .n_options = sizeof options / sizeof options[0],
    .init = mem_init,
    .fini = mem_fini,
    .ops = &ops,
};

/* The one exported symbol. A host of another ABI major looks for its own entry name and
 * never calls this one; a host of this major checks the descriptor's sizes. */
MF_PLUGIN_EXPORT const struct mf_plugin_desc *mf_plugin_entry_v1(const struct mf_host_api *host)
{
    /* Decline a host of another major (struct_size and abi_major are at the same place in
     * every major); the host then reports that this plugin declined to load. */
    if (!host || host->abi_major != MF_PLUGIN_ABI_MAJOR)
        return NULL;
    return &desc;
}
