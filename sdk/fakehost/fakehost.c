/* See fakehost.h. Build it with the test: cc test.c fakehost.c -ldl $(pkg-config --cflags mflow-plugin) */
#include "fakehost.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct setting {
    char *plugin, *key, *value;
};

struct object {
    char *key;
    void *data;
    size_t len;
};

static struct setting *settings;
static size_t n_settings;
static struct object *objects;
static size_t n_objects;
static char *logbuf, *outbuf;
static size_t loglen, outlen;

static void append(char **buf, size_t *len, const char *data, size_t n)
{
    char *p = realloc(*buf, *len + n + 1);
    if (!p)
        return;
    memcpy(p + *len, data, n);
    *len += n;
    p[*len] = '\0';
    *buf = p;
}

static void host_log(int level, const char *name, const char *fmt, ...)
{
    static const char *levels[] = {"ERROR", "WARN", "INFO", "DEBUG"};
    char msg[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char line[4400];
    int n = snprintf(line, sizeof line, "%s %s: %s\n", level >= 0 && level <= 3 ? levels[level] : "?",
                     name ? name : "?", msg);
    if (n < 0)
        return;
    append(&logbuf, &loglen, line, n < (int)sizeof line ? (size_t)n : sizeof line - 1);
}

static const char *host_config_get(const char *plugin, const char *key)
{
    for (size_t i = 0; i < n_settings; i++)
        if (!strcmp(settings[i].plugin, plugin) && !strcmp(settings[i].key, key))
            return settings[i].value;
    return NULL;
}

static const char *host_home(void)
{
    const char *h = getenv("MFLOW_HOME");
    return h ? h : "/tmp/mflow-fakehost";
}

static void host_task_output(const char *pathspec, int stream, const char *data, size_t len)
{
    char head[512];
    int n = snprintf(head, sizeof head, "%s|%d|", pathspec ? pathspec : "", stream);
    if (n < 0)
        return;
    append(&outbuf, &outlen, head, n < (int)sizeof head ? (size_t)n : sizeof head - 1);
    append(&outbuf, &outlen, data, len);
}

static struct object *find_object(const char *key)
{
    for (size_t i = 0; i < n_objects; i++)
        if (!strcmp(objects[i].key, key))
            return &objects[i];
    return NULL;
}

static int host_datastore_put(const char *key, const void *data, size_t len)
{
    struct object *o = find_object(key);
    void *copy = malloc(len ? len : 1);
    if (!copy)
        return MF_ENOMEM;
    memcpy(copy, data, len);
    if (!o) {
        struct object *grown = realloc(objects, (n_objects + 1) * sizeof *objects);
        if (!grown) {
            free(copy);
            return MF_ENOMEM;
        }
        objects = grown;
        char *k = strdup(key);
        if (!k) {
            free(copy);
            return MF_ENOMEM;
        }
        o = &objects[n_objects++];
        o->key = k;
    } else {
        free(o->data);
    }
    o->data = copy;
    o->len = len;
    return 0;
}

static int host_datastore_get(const char *key, struct mf_buf *out)
{
    struct object *o = find_object(key);
    if (!o)
        return MF_ENOTFOUND;
    memset(out, 0, sizeof *out);
    out->struct_size = sizeof *out;
    out->data = o->data;   /* borrowed until reset */
    out->len = o->len;
    return 0;
}

static const char *host_datastore_root(void)
{
    return "file:///tmp/mflow-fakehost/datastore";
}

static const struct mf_host_api host = {
    .struct_size = sizeof(struct mf_host_api),
    .abi_major = MF_PLUGIN_ABI_MAJOR,
    .abi_minor = MF_PLUGIN_ABI_MINOR,
    .version = "fakehost",
    .log = host_log,
    .config_get = host_config_get,
    .home = host_home,
    .task_output = host_task_output,
    .datastore_put = host_datastore_put,
    .datastore_get = host_datastore_get,
    .datastore_root = host_datastore_root,
};

const struct mf_host_api *mf_fakehost(void)
{
    return &host;
}

void mf_fakehost_set(const char *plugin, const char *key, const char *value)
{
    for (size_t i = 0; i < n_settings; i++) {
        if (!strcmp(settings[i].plugin, plugin) && !strcmp(settings[i].key, key)) {
            free(settings[i].value);
            settings[i].value = value ? strdup(value) : NULL;
            return;
        }
    }
    if (!value)
        return;
    struct setting *grown = realloc(settings, (n_settings + 1) * sizeof *settings);
    if (!grown)
        return;
    settings = grown;
    struct setting s = {strdup(plugin), strdup(key), strdup(value)};
    if (!s.plugin || !s.key || !s.value) {   /* out of memory: the setting stays unset */
        free(s.plugin);
        free(s.key);
        free(s.value);
        return;
    }
    settings[n_settings++] = s;
}

void mf_fakehost_reset(void)
{
    for (size_t i = 0; i < n_settings; i++) {
        free(settings[i].plugin);
        free(settings[i].key);
        free(settings[i].value);
    }
    free(settings);
    settings = NULL;
    n_settings = 0;
    for (size_t i = 0; i < n_objects; i++) {
        free(objects[i].key);
        free(objects[i].data);
    }
    free(objects);
    objects = NULL;
    n_objects = 0;
    free(logbuf);
    free(outbuf);
    logbuf = outbuf = NULL;
    loglen = outlen = 0;
}

const char *mf_fakehost_logs(void)
{
    return logbuf ? logbuf : "";
}

const char *mf_fakehost_output(void)
{
    return outbuf ? outbuf : "";
}

const struct mf_plugin_desc *mf_fakehost_load(const char *path)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        host_log(MF_LOG_ERROR, "fakehost", "dlopen %s: %s", path, dlerror());
        return NULL;
    }
    mf_plugin_entry_fn entry = (mf_plugin_entry_fn)dlsym(h, MF_PLUGIN_ENTRY_SYMBOL);
    if (!entry) {
        host_log(MF_LOG_ERROR, "fakehost", "%s: no symbol %s", path, MF_PLUGIN_ENTRY_SYMBOL);
        dlclose(h);
        return NULL;
    }
    const struct mf_plugin_desc *d = entry(&host);
    if (!d || d->struct_size < MF_PLUGIN_DESC_V1_0_SIZE || d->abi_major != MF_PLUGIN_ABI_MAJOR) {
        host_log(MF_LOG_ERROR, "fakehost", "%s: not a usable ABI %d plugin", path,
                 MF_PLUGIN_ABI_MAJOR);
        dlclose(h);
        return NULL;
    }
    return d;
}
