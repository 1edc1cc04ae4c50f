/* One plugin source, built many times by tests/abi/meson.build: once as each of two good
 * plugins, and once per way a plugin can be wrong. Each -D switch below breaks one thing:
 *
 *   PLUGIN_KIND=n       descriptor kind (1 compute, 2 storage, 3 scheduler; 7 is unknown)
 *   PLUGIN_NAME="x"     descriptor name (NO_NAME: NULL)
 *   DESC_ABI_MAJOR=n    abi_major the descriptor claims
 *   ENTRY_NAME=sym      the exported entry symbol (mf_plugin_entry_v2, or a typo)
 *   SHORT_DESC          descriptor struct_size that ends before `ops`
 *   SHORT_OPS           operations table struct_size that ends before its last 1.0 field
 *   NO_OPS              ops is NULL
 *   NO_INIT             init is NULL
 *   ENTRY_RETURNS_NULL  the entry declines to load
 *   INIT_RC=code        init refuses with this code (EACCES, MF_EPERM, ...); for the e2e suite
 *   NULL_OP=field       that operation of the kind's table is NULL (a required one is
 *                       refused at load time; an optional one is fine)
 *   DESC_ABI_MINOR=n    abi_minor the descriptor claims (a compute plugin of 1.1 has the 1.0
 *                       table: 1.1 added nothing to compute)
 *   DESCRIBE            a compute plugin of this SDK's minor with the 1.2 describe: its
 *                       document is $MFLOW_ABITEST_DESCRIBE, or a fixed one; "fail" fails
 *
 * Every variant is a plugin built against ABI 1.0: it claims minor 0 and its operations table
 * has the 1.0 size (for storage, without the 1.1 streaming writer), so the good ones show that
 * such plugins keep loading under a newer host.
 * The operations really answer (MF_ENOTSUP with a message) so a host that calls one of a
 * plugin it accepted gets an error, not a crash. init logs through the host, which lets the
 * unit test see that loading a plugin does not call init.
 * The unit test builds this file too (tests/unit/test_loader.c); keep it dependency-free. */
#include <mflow/plugin.h>

#include <errno.h>

#ifndef PLUGIN_KIND
#define PLUGIN_KIND MF_PLUGIN_COMPUTE
#endif
#ifndef PLUGIN_NAME
#define PLUGIN_NAME "abigood"
#endif
#ifndef DESC_ABI_MAJOR
#define DESC_ABI_MAJOR MF_PLUGIN_ABI_MAJOR
#endif
#ifndef ENTRY_NAME
#define ENTRY_NAME mf_plugin_entry_v1
#endif
#ifndef DESC_ABI_MINOR
#ifdef DESCRIBE
#define DESC_ABI_MINOR MF_PLUGIN_ABI_MINOR
#else
#define DESC_ABI_MINOR 0
#endif
#endif

/* A variant may leave some of these out (NO_OPS, NO_INIT). */
#define MAYBE_UNUSED __attribute__((unused))

static const struct mf_host_api *host;

static const char *last_error(void *state)
{
    return "abi test plugin: it implements no operation";
}

static int submit(void *state, const struct mf_job_spec *spec, mf_job **out)
{
    *out = NULL;
    return MF_ENOTSUP;
}

static int poll_jobs(void *state, mf_job *const *jobs, size_t n, struct mf_job_status *st)
{
    return MF_ENOTSUP;
}

static int wait_jobs(void *state, int timeout_ms)
{
    return MF_ENOTSUP;
}

static int job_logs(void *state, mf_job *job, int stream, struct mf_buf *out)
{
    return MF_ENOTSUP;
}

static int cancel(void *state, mf_job *job)
{
    return MF_ENOTSUP;
}

static void release(void *state, mf_job *job)
{
}

static int put(void *state, const char *key, const struct mf_iov *iov, size_t niov,
               uint32_t flags)
{
    return MF_ENOTSUP;
}

static int put_file(void *state, const char *key, const char *path, uint32_t flags)
{
    return MF_ENOTSUP;
}

static int get(void *state, const char *key, struct mf_buf *out)
{
    return MF_ENOTSUP;
}

static int get_file(void *state, const char *key, const char *path)
{
    return MF_ENOTSUP;
}

static int key_op(void *state, const char *key)
{
    return MF_ENOTSUP;
}

static int list(void *state, const char *prefix, mf_list_cb cb, void *ud)
{
    return MF_ENOTSUP;
}

static int batch(void *state, struct mf_storage_item *items, size_t n)
{
    return MF_ENOTSUP;
}

static int list_batch(void *state, const char *const *prefixes, size_t n, mf_list_cb cb,
                      void *ud)
{
    return MF_ENOTSUP;
}

static const char *root(void *state)
{
    return "abitest://";
}

static int deploy(void *state, const struct mf_flow_desc *flow, struct mf_deployment *out)
{
    return MF_ENOTSUP;
}

static int deployments(void *state, mf_deployment_cb cb, void *ud)
{
    return MF_ENOTSUP;
}

/* NULL_OP empties one field of the tables below, which are then writable. */
#ifdef NULL_OP
#define OPS_CONST
#else
#define OPS_CONST const
#endif

/* `last` is the table's last 1.0 field. */
#ifdef SHORT_OPS
#define OPS_SIZE(type, last) offsetof(type, last)
#else
#define OPS_SIZE(type, last) (offsetof(type, last) + sizeof(void *))
#endif

#ifdef DESCRIBE
#include <stdlib.h>
#include <string.h>

static const char fixed_doc[] =
    "{\"source\": \"the abi test plugin's fixed figures\", \"offers\": ["
    "{\"kind\": \"node\", \"name\": \"small\", \"cpus\": 2, \"memory_mb\": 1024, \"gpus\": 0},"
    "{\"kind\": \"node\", \"name\": \"big\", \"cpus\": 8, \"memory_mb\": 4096, \"gpus\": 2,"
    " \"gpu_kinds\": {\"a100\": 2}, \"state\": \"idle\", \"partitions\": [\"gpu\"]}],"
    " \"enforced\": {\"cpu\": \"not at all\"}}";

static void free_doc(struct mf_buf *b)
{
    free(b->data);
}

static int describe(void *state, struct mf_buf *out)
{
    const char *doc = getenv("MFLOW_ABITEST_DESCRIBE");
    if (doc && !strcmp(doc, "fail"))
        return MF_EUNAVAIL;
    out->data = strdup(doc ? doc : fixed_doc);
    out->len = out->data ? strlen(out->data) : 0;
    out->release = free_doc;
    return out->data ? 0 : MF_ENOMEM;
}
#endif

MAYBE_UNUSED static OPS_CONST struct mf_compute_ops compute_ops = {
#ifdef DESCRIBE
    .struct_size = sizeof(struct mf_compute_ops),
    .describe = describe,
#else
    .struct_size = OPS_SIZE(struct mf_compute_ops, check),
#endif
    .submit = submit,
    .poll = poll_jobs,
    .wait = wait_jobs,
    .logs = job_logs,
    .cancel = cancel,
    .release = release,
    .last_error = last_error,
};

MAYBE_UNUSED static OPS_CONST struct mf_storage_ops storage_ops = {
    .struct_size = OPS_SIZE(struct mf_storage_ops, root),
    .put = put,
    .put_file = put_file,
    .get = get,
    .get_file = get_file,
    .exists = key_op,
    .list = list,
    .del = key_op,
    .put_batch = batch,
    .get_batch = batch,
    .exists_batch = batch,
    .list_batch = list_batch,
    .last_error = last_error,
    .root = root,
};

MAYBE_UNUSED static OPS_CONST struct mf_scheduler_ops scheduler_ops = {
    .struct_size = OPS_SIZE(struct mf_scheduler_ops, last_error),
    .deploy = deploy,
    .list = deployments,
    .remove = key_op,
    .trigger = key_op,
    .last_error = last_error,
};

MAYBE_UNUSED static int init(const struct mf_host_api *h, void **state)
{
    h->log(MF_LOG_INFO, PLUGIN_NAME, "init called");
    *state = NULL;
#ifdef INIT_RC
    h->log(MF_LOG_ERROR, PLUGIN_NAME, "refusing to start, as built to");
    return INIT_RC;
#else
    return 0;
#endif
}

static void fini(void *state)
{
}

static const struct mf_option_def options[] = {
    {.struct_size = sizeof(struct mf_option_def), .type = MF_OPT_STRING, .name = "greeting",
     .env = "MFLOW_ABITEST_GREETING", .default_value = "hello", .help = "what init says"},
};

static struct mf_plugin_desc desc = {
#ifdef SHORT_DESC
    .struct_size = offsetof(struct mf_plugin_desc, ops),
#else
    .struct_size = sizeof(struct mf_plugin_desc),
#endif
    .abi_major = DESC_ABI_MAJOR,
    .abi_minor = DESC_ABI_MINOR,   /* built against 1.0 unless said, see above */
    .kind = PLUGIN_KIND,
#ifndef NO_NAME
    .name = PLUGIN_NAME,
#endif
    .version = "1.2.3",
    .description = "mflow ABI test plugin",
    .options = options,
    .n_options = 1,
#ifndef NO_INIT
    .init = init,
#endif
    .fini = fini,
};

MF_PLUGIN_EXPORT const struct mf_plugin_desc *ENTRY_NAME(const struct mf_host_api *h);

const struct mf_plugin_desc *ENTRY_NAME(const struct mf_host_api *h)
{
    host = h;
#ifdef ENTRY_RETURNS_NULL
    return NULL;
#endif
#ifndef NO_OPS
    switch (desc.kind) {
    case MF_PLUGIN_STORAGE: desc.ops = &storage_ops; break;
    case MF_PLUGIN_SCHEDULER: desc.ops = &scheduler_ops; break;
    default: desc.ops = &compute_ops; break;
    }
#endif
#ifdef NULL_OP
#if PLUGIN_KIND == 2
    storage_ops.NULL_OP = NULL;
#elif PLUGIN_KIND == 3
    scheduler_ops.NULL_OP = NULL;
#else
    compute_ops.NULL_OP = NULL;
#endif
#endif
    return host ? &desc : NULL;
}
