#include "store.h"

#include "host.h"
#include "loader.h"
#include "util.h"

#include <jansson.h>

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

/* The plugin's descriptor, started; or NULL with *err and *rc: MF_ENOMEM, MF_EUNAVAIL when
 * no such plugin loads, or the plugin's own refusal (EACCES, MF_EPERM, MF_ENOTFOUND, ...),
 * passed through as it is. */
static const struct mf_plugin_desc *open_plugin(uint32_t kind, const char *name, void **state,
                                                int *rc, char **err)
{
    mf_registry *reg = mf_host_registry();
    if (!reg) {
        *err = mf_strf("out of memory loading plugins");
        *rc = MF_ENOMEM;
        return NULL;
    }
    const struct mf_plugin_desc *d = mf_registry_find(reg, kind, name);
    if (!d) {
        *err = mf_strf("%s", mf_registry_error(reg));
        *rc = MF_EUNAVAIL;
        return NULL;
    }
    *rc = d->init(mf_host_api(), state);
    if (*rc) {
        *err = mf_strf("%s plugin '%s' did not start: %s; see the messages above",
                       mf_plugin_kind_name(kind), name, mf_strerror(*rc));
        return NULL;
    }
    return d;
}

/* The store the task server opened once (mf_store_prepare) for its forked tasks, and what its
 * instance was made from (store_key). A child takes it at most once, and closing it there does
 * not run the plugin's fini: the instance holds only memory (MF_STORAGE_FORK_SAFE), the task
 * ends right after, and a fini in a forked child costs page faults for nothing (local's wrote
 * its mutex, a copy of a server heap page, and read a thread-local, which allocated the
 * plugin's TLS block: 4-5 % of a trivial task's samples). It stays reachable here for LSan. */
static struct {
    struct mf_store st;
    char *key;
    int taken;
} prepared;

/* A store key (below) as it is made: written out (in the server), or compared with the
 * prepared one as it goes (in a task, which so allocates nothing for it). */
struct key_walk {
    char *buf;          /* writing: the key so far, NUL-terminated */
    size_t len, cap;
    const char *want;   /* comparing: what the rest of the key must be */
    int bad;            /* out of memory, or (comparing) a difference found */
};

static void key_put(struct key_walk *k, const char *s)
{
    size_t n = strlen(s);
    if (k->bad)
        return;
    if (k->want) {
        if (strncmp(k->want, s, n) != 0)
            k->bad = 1;
        else
            k->want += n;
        return;
    }
    while (k->len + n + 1 > k->cap)
        if (mf_grow(&k->buf, &k->cap, k->cap, 1, 256)) {
            k->bad = 1;
            return;
        }
    memcpy(k->buf + k->len, s, n + 1);
    k->len += n;
}

/* What a MF_STORAGE_FORK_SAFE instance depends on (plugin.h): the plugin, the host's home, each
 * of its options as config_get answers it now, and the environment variables MFLOW_<NAME>_*. */
static void store_key(const struct mf_plugin_desc *d, struct key_walk *k)
{
    const struct mf_host_api *h = mf_host_api();
    const char *home = h->home ? h->home() : NULL;
    key_put(k, d->name);
    key_put(k, "\n");
    key_put(k, home ? home : "");
    key_put(k, "\n");
    const struct mf_option_def *opts = d->options;
    size_t stride = opts && opts->struct_size >= sizeof *opts ? opts->struct_size : sizeof *opts;
    for (uint32_t j = 0; !k->bad && opts && j < d->n_options; j++) {
        const struct mf_option_def *o =
            (const struct mf_option_def *)((const char *)opts + (size_t)j * stride);
        const char *v = o->name ? h->config_get(d->name, o->name) : NULL;
        key_put(k, "o ");
        key_put(k, o->name ? o->name : "");
        key_put(k, v ? "=v" : "=-");
        key_put(k, v ? v : "");
        key_put(k, "\n");
    }
    char pre[80];
    int n = snprintf(pre, sizeof pre, "MFLOW_%s_", d->name);
    if (n <= 0 || (size_t)n >= sizeof pre) {
        k->bad = 1;
        return;
    }
    for (char *c = pre; *c; c++)
        *c = (char)toupper((unsigned char)*c);
    for (char **e = environ; !k->bad && e && *e; e++)
        if (!strncmp(*e, pre, (size_t)n)) {
            key_put(k, "e ");
            key_put(k, *e);
            key_put(k, "\n");
        }
}

static uint32_t ops_flags(const struct mf_storage_ops *o)
{
    return MF_HAS_FIELD(o, flags) ? o->flags : 0;
}

int mf_store_prepare(void)
{
    if (prepared.st.desc)
        return 0;
    char *err = NULL;
    struct mf_store st;
    int rc = mf_store_open(&st, &err);
    free(err);
    if (rc)
        return rc;
    struct key_walk k = {0};
    if (ops_flags(st.ops) & MF_STORAGE_FORK_SAFE)
        store_key(st.desc, &k);
    if (!(ops_flags(st.ops) & MF_STORAGE_FORK_SAFE) || k.bad || !k.buf) {
        free(k.buf);
        mf_store_close(&st);
        return 0;
    }
    prepared.key = k.buf;
    prepared.st = st;
    return 0;
}

/* The prepared instance when this process (a forked task) would open the same one with d. */
static int take_prepared(const struct mf_plugin_desc *d, struct mf_store *st)
{
    if (!prepared.st.desc || prepared.st.desc != d || prepared.taken)
        return 0;
    struct key_walk k = {.want = prepared.key};
    store_key(d, &k);
    if (k.bad || *k.want)
        return 0;
    *st = prepared.st;
    prepared.taken = 1;
    return 1;
}

int mf_store_open(struct mf_store *st, char **err)
{
    memset(st, 0, sizeof *st);
    int rc = mf_host_resolve_storage(err);
    if (rc)
        return rc;
    mf_registry *reg = prepared.st.desc ? mf_host_registry() : NULL;
    const struct mf_plugin_desc *d =
        reg ? mf_registry_find(reg, MF_PLUGIN_STORAGE, mf_host_storage()) : NULL;
    if (d && take_prepared(d, st)) {
        mf_host_set_served_root(st->ops->root ? st->ops->root(st->state) : NULL);
        return 0;
    }
    st->desc = open_plugin(MF_PLUGIN_STORAGE, mf_host_storage(), &st->state, &rc, err);
    if (!st->desc)
        return rc;
    st->ops = st->desc->ops;
    /* What tasks are given and runs record: the root as the plugin resolved it. */
    mf_host_set_served_root(st->ops->root ? st->ops->root(st->state) : NULL);
    return 0;
}

void mf_store_close(struct mf_store *st)
{
    if (st && st->desc) {
        if (!(prepared.taken && st->desc == prepared.st.desc && st->state == prepared.st.state))
            st->desc->fini(st->state);
        memset(st, 0, sizeof *st);
    }
}

int mf_compute_open(const char *name, struct mf_compute *c, char **err)
{
    memset(c, 0, sizeof *c);
    int rc = 0;
    c->desc = open_plugin(MF_PLUGIN_COMPUTE, name, &c->state, &rc, err);
    if (!c->desc)
        return rc;
    c->ops = c->desc->ops;
    return 0;
}

void mf_compute_close(struct mf_compute *c)
{
    if (c && c->desc) {
        json_decref(c->described);
        c->desc->fini(c->state);
        memset(c, 0, sizeof *c);
    }
}

int mf_scheduler_open(const char *name, struct mf_scheduler *s, char **err)
{
    memset(s, 0, sizeof *s);
    int rc = 0;
    s->desc = open_plugin(MF_PLUGIN_SCHEDULER, name, &s->state, &rc, err);
    if (!s->desc)
        return rc;
    s->ops = s->desc->ops;
    return 0;
}

void mf_scheduler_close(struct mf_scheduler *s)
{
    if (s && s->desc) {
        s->desc->fini(s->state);
        memset(s, 0, sizeof *s);
    }
}
