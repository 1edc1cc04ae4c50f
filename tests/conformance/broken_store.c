/* The template's tmpl store with one contract rule broken per -D switch, to show that
 * mflow-plugin-check catches each (test_checker_fails.sh):
 *   BREAK_EXISTS      exists answers ENOENT (a positive errno) for an absent key
 *   BREAK_IF_ABSENT   put ignores MF_PUT_IF_ABSENT and overwrites
 *   BREAK_DEL         del says 0 but removes nothing
 *   BREAK_NOTFOUND    get of an absent key answers MF_EIO, not MF_ENOTFOUND
 *   BREAK_ROOT        root() names a directory other than the one it serves */
#define mf_plugin_entry_v1 template_entry
#include "../../sdk/template/mystore.c"
#undef mf_plugin_entry_v1

static int broken_exists(void *state, const char *key)
{
    int rc = st_exists(state, key);
    return rc == 0 ? ENOENT : rc;
}

static int broken_put(void *state, const char *key, const struct mf_iov *iov, size_t niov,
                      uint32_t flags)
{
    (void)flags;
    return st_put(state, key, iov, niov, 0);
}

static int broken_del(void *state, const char *key)
{
    (void)state;
    (void)key;
    return 0;
}

static int broken_get(void *state, const char *key, struct mf_buf *out)
{
    int rc = st_get(state, key, out);
    return rc == MF_ENOTFOUND ? MF_EIO : rc;
}

static const char *broken_root(void *state)
{
    (void)state;
    return "tmpl:///tmp/mflow-broken-store-elsewhere";
}

static struct mf_storage_ops broken_ops;
static struct mf_plugin_desc broken_desc;

MF_PLUGIN_EXPORT const struct mf_plugin_desc *mf_plugin_entry_v1(const struct mf_host_api *host);
const struct mf_plugin_desc *mf_plugin_entry_v1(const struct mf_host_api *host)
{
    const struct mf_plugin_desc *d = template_entry(host);
    if (!d)
        return NULL;
    broken_ops = ops;
    broken_desc = *d;
    broken_desc.ops = &broken_ops;
#ifdef BREAK_EXISTS
    broken_ops.exists = broken_exists;
#endif
#ifdef BREAK_IF_ABSENT
    broken_ops.put = broken_put;
#endif
#ifdef BREAK_DEL
    broken_ops.del = broken_del;
#endif
#ifdef BREAK_NOTFOUND
    broken_ops.get = broken_get;
#endif
#ifdef BREAK_ROOT
    broken_ops.root = broken_root;
#endif
    return &broken_desc;
}
