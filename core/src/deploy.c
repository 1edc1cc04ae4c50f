/* Deployment records in the datastore and the index (deploy.h). */
#include "deploy.h"

#include "model.h"
#include "util.h"

#include <mflow/plugin.h>

#include <jansson.h>

#include <stdlib.h>
#include <string.h>

static const char *root_of(struct mf_store *st)
{
    return st->ops->root ? st->ops->root(st->state) : "the datastore";
}

struct versions {
    int64_t max;
};

static int on_version(void *ud, const char *key, uint64_t size)
{
    (void)size;
    struct versions *v = ud;
    char name[MF_NAME_MAX];
    int64_t ver;
    if (!mf_key_deployment_parse(key, name, &ver) && ver > v->max)
        v->max = ver;
    return 0;
}

int mf_deploy_next_version(struct mf_store *st, const char *name, int64_t *out, char **err)
{
    char *prefix = mf_key_deployment_prefix(name);
    if (!prefix)
        return MF_ENOMEM;
    struct versions v = {0};
    int rc = st->ops->list(st->state, prefix, on_version, &v);
    if (rc) {
        *err = mf_strf("cannot list %s in %s: %s", prefix, root_of(st),
                       st->ops->last_error(st->state));
        free(prefix);
        return rc;
    }
    free(prefix);
    *out = v.max + 1;
    return 0;
}

static int put_text(struct mf_store *st, const char *key, const char *text, char **err)
{
    struct mf_iov iov = {text, strlen(text)};
    int rc = st->ops->put(st->state, key, &iov, 1, 0);
    if (rc)
        *err = mf_strf("cannot store %s in %s: %s", key, root_of(st),
                       st->ops->last_error(st->state));
    return rc;
}

int mf_deploy_save(struct mf_store *st, const char *name, int64_t version, const char *json,
                   char **err)
{
    char *k = mf_key_deployment(name, version), *ck = mf_key_deployment_current(name);
    char *ptr = mf_strf("{\"version\": %lld}\n", (long long)version);
    int rc = MF_ENOMEM;
    /* the version first: a pointer never names a record that is not there */
    if (k && ck && ptr && !(rc = put_text(st, k, json, err)))
        rc = put_text(st, ck, ptr, err);
    free(k);
    free(ck);
    free(ptr);
    return rc;
}

static int get_text(struct mf_store *st, const char *key, char **text, char **err)
{
    struct mf_buf b;
    memset(&b, 0, sizeof b);
    b.struct_size = sizeof b;
    int rc = st->ops->get(st->state, key, &b);
    if (rc == MF_ENOTFOUND)
        return rc;
    if (rc) {
        *err = mf_strf("cannot read %s in %s: %s", key, root_of(st),
                       st->ops->last_error(st->state));
        return rc;
    }
    *text = malloc(b.len + 1);
    if (*text) {
        memcpy(*text, b.data, b.len);
        (*text)[b.len] = '\0';
    }
    if (b.release)
        b.release(&b);
    return *text ? 0 : MF_ENOMEM;
}

int mf_deploy_current(struct mf_store *st, const char *name, int64_t *version, char **err)
{
    char *key = mf_key_deployment_current(name), *text = NULL;
    if (!key)
        return MF_ENOMEM;
    int rc = get_text(st, key, &text, err);
    if (!rc) {
        json_t *j = json_loads(text, 0, NULL);
        json_t *v = json_object_get(j, "version");
        if (json_is_integer(v) && json_integer_value(v) >= 1) {
            *version = json_integer_value(v);
        } else {
            *err = mf_strf("%s in %s is damaged (not {\"version\": N}): deploy again to "
                           "replace it",
                           key, root_of(st));
            rc = MF_ECORRUPT;
        }
        json_decref(j);
    }
    free(text);
    free(key);
    return rc;
}

int mf_deploy_load(struct mf_store *st, const char *name, int64_t version, char **json,
                   char **err)
{
    char *key = mf_key_deployment(name, version);
    if (!key)
        return MF_ENOMEM;
    int rc = get_text(st, key, json, err);
    if (rc == MF_ENOTFOUND)
        *err = mf_strf("deployment %s has no version %lld in %s", name, (long long)version,
                       root_of(st));
    else if (!rc && !mf_deploy_record_ok(*json, name, version)) {
        *err = mf_strf("%s in %s is damaged (not a deployment record of %s version %lld)", key,
                       root_of(st), name, (long long)version);
        free(*json);
        *json = NULL;
        rc = MF_ECORRUPT;
    }
    free(key);
    return rc;
}

int mf_deploy_forget(struct mf_store *st, const char *name, char **err)
{
    char *key = mf_key_deployment_current(name);
    if (!key)
        return MF_ENOMEM;
    int rc = st->ops->del(st->state, key);
    if (rc == MF_ENOTFOUND)
        rc = 0;
    if (rc)
        *err = mf_strf("cannot delete %s in %s: %s", key, root_of(st),
                       st->ops->last_error(st->state));
    free(key);
    return rc;
}

int mf_deploy_record_ok(const char *json, const char *name, int64_t version)
{
    json_t *j = json ? json_loads(json, 0, NULL) : NULL;
    json_t *n = json_object_get(j, "name"), *v = json_object_get(j, "version");
    int ok = json_is_string(n) && !strcmp(json_string_value(n), name) && json_is_integer(v) &&
             json_integer_value(v) == version && json_is_string(json_object_get(j, "flow")) &&
             json_is_string(json_object_get(j, "scheduler")) &&
             json_is_string(json_object_get(j, "package")) &&
             json_is_object(json_object_get(j, "params"));
    json_decref(j);
    return ok;
}

/* ---- reindex -------------------------------------------------------------------------------- */

struct dkey {
    char name[MF_NAME_MAX];
    int64_t version;    /* 0: current.json */
};

struct dlist {
    struct dkey *keys;
    size_t n, cap;
    int oom;
};

static int on_key(void *ud, const char *key, uint64_t size)
{
    (void)size;
    struct dlist *l = ud;
    struct dkey k;
    if (mf_key_deployment_parse(key, k.name, &k.version))
        return 0;   /* not ours: a temporary, another tool's file */
    if (mf_grow(&l->keys, &l->cap, l->n, sizeof *l->keys, 16)) {
        l->oom = 1;
        return MF_ENOMEM;
    }
    l->keys[l->n++] = k;
    return 0;
}

static int cmp_dkey(const void *a, const void *b)
{
    const struct dkey *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->version > y->version) - (x->version < y->version);
}

int mf_deploy_reindex(struct mf_store *st, mf_index *ix, void (*warn)(void *ud, const char *msg),
                      void *ud, size_t *n, char **err)
{
    struct dlist l = {0};
    *n = 0;
    int rc = st->ops->list(st->state, MF_KEY_DEPLOYMENTS, on_key, &l);
    if (rc) {
        *err = l.oom ? mf_strf("out of memory listing the datastore")
                     : mf_strf("cannot list " MF_KEY_DEPLOYMENTS " in %s: %s", root_of(st),
                               st->ops->last_error(st->state));
        free(l.keys);
        return rc;
    }
    if (l.n) /* qsort wants a non-null array, even for no element */
        qsort(l.keys, l.n, sizeof *l.keys, cmp_dkey);
    /* per name: current.json (version 0) sorts first */
    for (size_t i = 0; !rc && i < l.n;) {
        size_t j = i;
        while (j < l.n && !strcmp(l.keys[j].name, l.keys[i].name))
            j++;
        const char *name = l.keys[i].name;
        int64_t cur = 0;
        char *e = NULL;
        if (l.keys[i].version == 0) {
            int r = mf_deploy_current(st, name, &cur, &e);
            if (r && warn) {
                char *m = mf_strf("deployment %s: %s: skipped", name, e ? e : mf_strerror(r));
                warn(ud, m ? m : "out of memory");
                free(m);
            }
            free(e);
            e = NULL;
        }
        size_t put = 0;
        for (size_t k = i; cur && k < j && !rc; k++) {
            /* past the pointer: a deploy that stopped before making it current */
            if (l.keys[k].version == 0 || l.keys[k].version > cur)
                continue;
            char *json = NULL;
            int r = mf_deploy_load(st, name, l.keys[k].version, &json, &e);
            if (r == MF_ENOMEM) {
                rc = r;
            } else if (r) {
                if (warn) {
                    char *m = mf_strf("%s: skipped", e ? e : mf_strerror(r));
                    warn(ud, m ? m : "out of memory");
                    free(m);
                }
            } else if ((rc = mf_index_put_deployment(ix, name, l.keys[k].version, json))) {
                *err = mf_strf("%s", mf_index_error(ix));
            } else {
                put++;
            }
            free(json);
            free(e);
            e = NULL;
        }
        if (put)
            (*n)++;
        i = j;
    }
    free(l.keys);
    return rc;
}
