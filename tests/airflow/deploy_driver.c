/* Drives the airflow scheduler plugin through the plugin ABI, as `mflow deploy` will (its
 * contract: sdk/include/mflow/plugin.h), until that command exists:
 *   deploy_driver PLUGIN.so deploy GRAPH.json PACKAGE ROOT SCHEDULE|- [key=value...]
 *   deploy_driver PLUGIN.so list | remove NAME | trigger NAME
 * deploy prints the deployment (name, flow, schedule, location) one per line; list prints
 * "name<TAB>flow<TAB>schedule<TAB>location" per deployment. A refusal prints the plugin's
 * last_error on stderr and exits 1 (the code's name with it). Settings come from the
 * environment through the SDK's fake host (MFLOW_AIRFLOW_* are passed on). */
#include "fakehost.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *s = NULL;
    size_t n = 0;
    FILE *m = open_memstream(&s, &n);
    char buf[8192];
    size_t r;
    while ((r = fread(buf, 1, sizeof buf, f)) > 0)
        fwrite(buf, 1, r, m);
    fclose(f);
    fclose(m);
    return s;
}

static int print_dep(void *ud, const struct mf_deployment *d)
{
    (void)ud;
    printf("%s\t%s\t%s\t%s\n", d->name, d->flow_name, d->schedule, d->location);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s PLUGIN.so deploy|list|remove|trigger ...\n", argv[0]);
        return 2;
    }
    static const char *settings[] = {"image", "k8s_namespace", "k8s_mflow", "retry_delay_s",
                                     "pool"};
    for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++) {
        char env[64];
        snprintf(env, sizeof env, "MFLOW_AIRFLOW_%s", settings[i]);
        for (char *c = env; *c; c++)
            *c = (char)(*c >= 'a' && *c <= 'z' ? *c - 32 : *c);
        if (getenv(env))
            mf_fakehost_set("airflow", settings[i], getenv(env));
    }
    const struct mf_plugin_desc *d = mf_fakehost_load(argv[1]);
    if (!d || d->kind != MF_PLUGIN_SCHEDULER) {
        fprintf(stderr, "cannot load %s as a scheduler plugin: %s\n", argv[1], mf_fakehost_logs());
        return 1;
    }
    void *state = NULL;
    if (d->init(mf_fakehost(), &state) != 0) {
        fprintf(stderr, "init failed\n");
        return 1;
    }
    const struct mf_scheduler_ops *ops = d->ops;
    int rc = 2;
    if (!strcmp(argv[2], "deploy") && argc >= 7) {
        char *graph = slurp(argv[3]);
        if (!graph) {
            fprintf(stderr, "cannot read %s\n", argv[3]);
            return 1;
        }
        const char *name = strstr(graph, "\"flow\": \"");
        char flow[256] = "";
        if (name)
            sscanf(name + 9, "%255[^\"]", flow);
        struct mf_flow_desc f = {.struct_size = sizeof f,
                                 .flow_name = flow,
                                 .graph_json = graph,
                                 .package_url = argv[4],
                                 .datastore_root = argv[5],
                                 .schedule = strcmp(argv[6], "-") ? argv[6] : NULL,
                                 .options = (const char *const *)argv + 7};
        struct mf_deployment out;
        memset(&out, 0, sizeof out);
        rc = ops->deploy(state, &f, &out);
        if (!rc)
            printf("%s\n%s\n%s\n%s\n", out.name, out.flow_name, out.schedule, out.location);
        free(graph);
    } else if (!strcmp(argv[2], "list")) {
        rc = ops->list(state, print_dep, NULL);
    } else if (!strcmp(argv[2], "remove") && argc == 4) {
        rc = ops->remove(state, argv[3]);
    } else if (!strcmp(argv[2], "trigger") && argc == 4) {
        rc = ops->trigger(state, argv[3]);
    } else {
        fprintf(stderr, "bad arguments\n");
        return 2;
    }
    if (rc)
        fprintf(stderr, "%s (%s)\n", ops->last_error(state), mf_strerror(rc));
    d->fini(state);
    return rc ? 1 : 0;
}
