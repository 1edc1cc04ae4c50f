/* A scheduler plugin for tests, named as such ("record"): it writes what the host handed
 * its deploy (every mf_flow_desc field and option) to $MFLOW_TEST_RECORD_DIR, stores the
 * descriptor in the datastore through the host's datastore_put and reads it back with
 * datastore_get (so the host services a scheduler gets are exercised), and refuses with
 * the text of $MFLOW_TEST_RECORD_REFUSE when that is set. */
#include <mflow/plugin.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct mf_host_api *host;
static char err[512];

static int fail(int rc, const char *msg)
{
    snprintf(err, sizeof err, "%s", msg);
    return rc;
}

static int rec_deploy(void *state, const struct mf_flow_desc *f, struct mf_deployment *out)
{
    (void)state;
    const char *refuse = getenv("MFLOW_TEST_RECORD_REFUSE");
    if (refuse && *refuse)
        return fail(MF_EUNAVAIL, refuse);
    const char *dir = getenv("MFLOW_TEST_RECORD_DIR");
    if (!dir)
        return fail(MF_EINVAL, "MFLOW_TEST_RECORD_DIR is not set");
    char path[4096];
    snprintf(path, sizeof path, "%s/graph.json", dir);
    FILE *g = fopen(path, "w");
    if (!g)
        return fail(MF_EIO, "cannot write graph.json");
    fputs(f->graph_json, g);
    fclose(g);
    snprintf(path, sizeof path, "%s/desc.txt", dir);
    FILE *o = fopen(path, "w");
    if (!o)
        return fail(MF_EIO, "cannot write desc.txt");
    fprintf(o, "struct_size=%u\nflow_name=%s\npackage_url=%s\ndatastore_root=%s\nschedule=%s\n",
            f->struct_size, f->flow_name, f->package_url, f->datastore_root,
            f->schedule ? f->schedule : "(null)");
    for (const char *const *p = f->options; p && *p; p++)
        fprintf(o, "option %s\n", *p);
    fclose(o);
    /* the host's datastore: put the package address under our own key, read it back */
    if (!MF_HAS_FIELD(host, datastore_get) || !host->datastore_put || !host->datastore_get)
        return fail(MF_ENOTSUP, "the host offers no datastore_put/datastore_get");
    char key[512];
    snprintf(key, sizeof key, "schedulers/record/%s.txt", f->flow_name);
    int rc = host->datastore_put(key, f->package_url, strlen(f->package_url));
    if (rc)
        return fail(rc, "datastore_put failed");
    struct mf_buf b;
    memset(&b, 0, sizeof b);
    b.struct_size = sizeof b;
    rc = host->datastore_get(key, &b);
    if (rc)
        return fail(rc, "datastore_get failed");
    int same = b.len == strlen(f->package_url) && !memcmp(b.data, f->package_url, b.len);
    if (b.release)
        b.release(&b);
    if (!same)
        return fail(MF_ECORRUPT, "datastore_get returned other bytes than datastore_put stored");
    snprintf(out->location, sizeof out->location, "recorded in %s (root %s)", dir,
             host->datastore_root());
    return 0;
}

static int rec_list(void *state, mf_deployment_cb cb, void *ud)
{
    (void)state, (void)cb, (void)ud;
    return 0;
}

static int rec_remove(void *state, const char *name)
{
    (void)state, (void)name;
    return 0;
}

static int rec_trigger(void *state, const char *name)
{
    (void)state, (void)name;
    return fail(MF_ENOTSUP, "the record plugin does not fire");
}

static const char *rec_last_error(void *state)
{
    (void)state;
    return err[0] ? err : "no error";
}

static int rec_init(const struct mf_host_api *h, void **state)
{
    (void)h;
    *state = NULL;
    return 0;
}

static void rec_fini(void *state)
{
    (void)state;
}

static const struct mf_scheduler_ops ops = {
    .struct_size = sizeof(struct mf_scheduler_ops),
    .deploy = rec_deploy,
    .list = rec_list,
    .remove = rec_remove,
    .trigger = rec_trigger,
    .last_error = rec_last_error,
};

static const struct mf_plugin_desc desc = {
    .struct_size = sizeof(struct mf_plugin_desc),
    .abi_major = MF_PLUGIN_ABI_MAJOR,
    .abi_minor = MF_PLUGIN_ABI_MINOR,
    .kind = MF_PLUGIN_SCHEDULER,
    .name = "record",
    .version = "0.0.1",
    .description = "tests only: records what deploy is handed",
    .init = rec_init,
    .fini = rec_fini,
    .ops = &ops,
};

MF_PLUGIN_EXPORT const struct mf_plugin_desc *mf_plugin_entry_v1(const struct mf_host_api *h)
{
    host = h;
    return &desc;
}
