/* A storage plugin that only claims a URL scheme (plugin ABI 1.3), for the scheme tests:
 * built twice with -DPLUGIN_NAME and -DSCHEME so that two plugins claim one scheme. Every
 * operation answers MF_ENOTSUP; init refuses, so nothing is ever stored through it. */
#include <mflow/plugin.h>

static int put(void *s, const char *k, const struct mf_iov *iov, size_t n, uint32_t f)
{
    (void)s, (void)k, (void)iov, (void)n, (void)f;
    return MF_ENOTSUP;
}
static int put_file(void *s, const char *k, const char *p, uint32_t f)
{
    (void)s, (void)k, (void)p, (void)f;
    return MF_ENOTSUP;
}
static int get(void *s, const char *k, struct mf_buf *b)
{
    (void)s, (void)k, (void)b;
    return MF_ENOTSUP;
}
static int key_op(void *s, const char *k)
{
    (void)s, (void)k;
    return MF_ENOTSUP;
}
static int list(void *s, const char *p, mf_list_cb cb, void *ud)
{
    (void)s, (void)p, (void)cb, (void)ud;
    return MF_ENOTSUP;
}
static const char *last_error(void *s)
{
    (void)s;
    return "claim test plugin: no operations";
}
static int init(const struct mf_host_api *h, void **s)
{
    *s = 0;
    h->log(MF_LOG_ERROR, PLUGIN_NAME, "the %s test plugin stores nothing", PLUGIN_NAME);
    return MF_ENOTSUP;
}
static void fini(void *s)
{
    (void)s;
}

static const char *const schemes[] = {SCHEME, 0};
static const struct mf_storage_ops ops = {
    .struct_size = sizeof ops, .put = put, .put_file = put_file, .get = get, .exists = key_op,
    .list = list, .del = key_op, .last_error = last_error, .schemes = schemes,
};
static const struct mf_plugin_desc desc = {
    .struct_size = sizeof desc, .abi_major = MF_PLUGIN_ABI_MAJOR,
    .abi_minor = MF_PLUGIN_ABI_MINOR, .kind = MF_PLUGIN_STORAGE, .name = PLUGIN_NAME,
    .version = "0", .description = "claims a scheme (test)", .init = init, .fini = fini,
    .ops = &ops,
};

MF_PLUGIN_EXPORT const struct mf_plugin_desc *mf_plugin_entry_v1(const struct mf_host_api *h);
const struct mf_plugin_desc *mf_plugin_entry_v1(const struct mf_host_api *h)
{
    (void)h;
    return &desc;
}
