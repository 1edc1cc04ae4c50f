#include "store.h"

#include "host.h"
#include "loader.h"
#include "util.h"

#include <jansson.h>

#include <string.h>

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

int mf_store_open(struct mf_store *st, char **err)
{
    memset(st, 0, sizeof *st);
    int rc = mf_host_resolve_storage(err);
    if (rc)
        return rc;
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
