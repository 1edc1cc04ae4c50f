/* mflow deploy FLOW --scheduler=NAME [--name D] [--schedule CRON] [--output PATH]
 *              [--compute=NAME] [--storage=NAME] [--PARAM=VALUE...] [--param NAME=VALUE...]
 *              [--json]
 * (--param NAME=VALUE gives a parameter whose name is one of deploy's own options.)
 *
 * Everything is checked before anything is installed (the name, the schedule, the flow and
 * its parameters, the scheduler plugin); then the code package is stored, the scheduler
 * plugin installs the deployment, and only then is the new version recorded (datastore,
 * then index). A plugin that refuses leaves no version behind. */
#include "cli.h"

#include "cron.h"
#include "deploy.h"
#include "flowload.h"
#include "graph.h"
#include "host.h"
#include "index.h"
#include "model.h"
#include "package.h"
#include "params.h"
#include "store.h"
#include "util.h"

#include <mflow/plugin.h>

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
    "deploy FLOW --scheduler=NAME [--name D] [--schedule CRON] [--output PATH] "
    "[--compute=NAME] [--storage=NAME] [--PARAM=VALUE...] [--param NAME=VALUE...] [--json]";

struct deploy_args {
    const char *flow, *scheduler, *name, *schedule, *output, *compute, *storage;
    const char **params;   /* "name=value" */
    size_t n_params;
    char **owned;
    size_t n_owned;
    int json;
};

static int parse_args(int argc, char **argv, struct deploy_args *a)
{
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        int r;
        if (!strcmp(s, "--json")) {
            a->json = 1;
            continue;
        }
        if ((r = cli_str_opt(argc, argv, &i, "--scheduler", &a->scheduler)) ||
            (r = cli_str_opt(argc, argv, &i, "--name", &a->name)) ||
            (r = cli_str_opt(argc, argv, &i, "--schedule", &a->schedule)) ||
            (r = cli_str_opt(argc, argv, &i, "--output", &a->output)) ||
            (r = cli_str_opt(argc, argv, &i, "--compute", &a->compute)) ||
            (r = cli_str_opt(argc, argv, &i, "--storage", &a->storage))) {
            if (r < 0)
                return 2;
            continue;
        }
        const char *pv;
        if ((r = cli_str_opt(argc, argv, &i, "--param", &pv))) {
            /* --param NAME=VALUE: for a parameter named like an option of deploy (name) */
            if (r < 0 || !strchr(pv, '=') || pv[0] == '=') {
                if (r > 0)
                    cli_error("--param takes NAME=VALUE, not '%s'", pv);
                return 2;
            }
            a->params[a->n_params++] = pv;
            continue;
        }
        if (!strncmp(s, "--", 2) && s[2]) {
            /* a parameter, as `mflow run` takes them: --name=value or --name value */
            const char *v = i + 1 < argc ? argv[i + 1] : NULL;
            if (strchr(s, '=') || !v || !strncmp(v, "--", 2)) {
                a->params[a->n_params++] = s + 2;
            } else {
                char *p = mf_strf("%s=%s", s + 2, v);
                if (!p) {
                    cli_error("out of memory");
                    return 1;
                }
                a->owned[a->n_owned++] = p;
                a->params[a->n_params++] = p;
                i++;
            }
        } else if (!a->flow && s[0] != '-') {
            a->flow = s;
        } else {
            cli_error("deploy: unexpected argument '%s' (usage: mflow %s)", s, usage);
            return 2;
        }
    }
    if (!a->flow || !a->scheduler) {
        cli_error("usage: mflow %s", usage);
        return 2;
    }
    return 0;
}

/* The absolute path of this mflow, which the scheduler's firings run. */
static char *self_path(void)
{
    char buf[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0)
        return NULL;
    buf[n] = '\0';
    return strdup(buf);
}

int cmd_deploy(int argc, char **argv)
{
    if (cli_wants_help(argc, argv, usage))
        return 0;
    struct deploy_args a;
    memset(&a, 0, sizeof a);
    a.params = calloc((size_t)argc, sizeof *a.params);
    a.owned = calloc((size_t)argc, sizeof *a.owned);
    struct mf_flow *f = NULL;
    struct mf_param_value *vals = NULL;
    struct mf_scheduler sch;
    struct mf_store st;
    memset(&sch, 0, sizeof sch);
    memset(&st, 0, sizeof st);
    char *err = NULL, *graph = NULL, *addr = NULL, *self = NULL, *log = NULL, *rec = NULL;
    json_t *opts = NULL, *params = NULL, *doc = NULL;
    const char **optv = NULL;
    mf_index *ix = NULL;
    int code = 1;
    if (!a.params || !a.owned) {
        cli_error("out of memory");
        goto out;
    }
    if ((code = parse_args(argc, argv, &a)))
        goto out;
    code = 2;
    /* 1. what can be checked without loading anything */
    if (a.name && !mf_deploy_name_valid(a.name)) {
        cli_error("deploy: '%s' is not a deployment name (1 to %d letters, digits, '_' and "
                  "'-', not starting with '-')",
                  a.name, MF_DEPLOY_NAME_MAX);
        goto out;
    }
    if (a.schedule && mf_cron_parse(a.schedule, NULL, &err)) {
        cli_error("deploy: %s; nothing was deployed", err ? err : "bad schedule");
        goto out;
    }
    if (a.compute || a.storage)
        mf_host_override(a.compute, a.storage, NULL);
    /* 2. the flow: it loads, its graph validates, the parameters are its own */
    code = 1;
    if (mf_flow_open(a.flow, &f, &err) != 0) {
        cli_error("deploy: %s; nothing was deployed", err ? err : "cannot open the flow");
        goto out;
    }
    const char *name = a.name ? a.name : f->def->name;
    if (!mf_deploy_name_valid(name)) {
        cli_error("deploy: flow name '%s' is not a deployment name: give one with --name", name);
        goto out;
    }
    if (mf_params_parse(f->def, a.params, a.n_params, &vals, &err)) {
        cli_error("deploy: %s; nothing was deployed", err ? err : "bad parameters");
        code = 2;
        goto out;
    }
    /* 3. the scheduler */
    if (mf_scheduler_open(a.scheduler, &sch, &err)) {
        cli_error("deploy: %s; nothing was deployed", err ? err : "no such scheduler");
        goto out;
    }
    /* 4. the code package, and the next version */
    if (mf_store_open(&st, &err) || mf_package_build(f, &st, &addr, NULL, &err)) {
        cli_error("deploy: %s; nothing was deployed", err ? err : "cannot store the package");
        goto out;
    }
    int64_t version;
    if (mf_deploy_next_version(&st, name, &version, &err)) {
        cli_error("deploy: %s; nothing was deployed", err ? err : "cannot read the datastore");
        goto out;
    }
    /* 5. what the plugin is handed: graph_json exactly as `mflow show --json` prints it */
    graph = mf_graph_render_json(f->graph);
    self = self_path();
    log = mf_strf("%s/deployments/%s/log", mf_host_home(), name);
    opts = json_array();
    params = json_object();
    if (!graph || !self || !log || !opts || !params) {
        cli_error("out of memory");
        goto out;
    }
    if (*graph && graph[strlen(graph) - 1] != '\n') {
        char *g = mf_strf("%s\n", graph);
        free(graph);
        graph = g;
        if (!g) {
            cli_error("out of memory");
            goto out;
        }
    }
    const char *compute = a.compute ? a.compute : mf_host_compute();
    const char *storage = mf_host_storage();
    json_array_append_new(opts, json_sprintf("name=%s", name));
    json_array_append_new(opts, json_sprintf("version=%lld", (long long)version));
    json_array_append_new(opts, json_sprintf("namespace=" MF_DEPLOY_NS_PREFIX "%s", name));
    json_array_append_new(opts, json_sprintf("compute=%s", compute));
    json_array_append_new(opts, json_sprintf("storage=%s", storage));
    if (a.output)
        json_array_append_new(opts, json_sprintf("output=%s", a.output));
    json_array_append_new(opts, json_sprintf("mflow=%s", self));
    json_array_append_new(opts, json_sprintf("home=%s", mf_host_home()));
    json_array_append_new(opts, json_sprintf("log=%s", log));
    if (f->src_path)
        json_array_append_new(opts, json_sprintf("source=%s", f->src_path));
    /* the given parameters, in the order given; a repeated one keeps its last value */
    for (size_t i = 0; i < a.n_params; i++) {
        const char *eq = strchr(a.params[i], '=');
        char *k = strndup(a.params[i], (size_t)(eq - a.params[i]));
        if (!k) {
            cli_error("out of memory");
            goto out;
        }
        json_object_set_new(params, k, json_string(eq + 1));
        free(k);
    }
    const char *pk;
    json_t *pv;
    json_object_foreach(params, pk, pv)
        json_array_append_new(opts, json_sprintf("param.%s=%s", pk, json_string_value(pv)));
    size_t nopt = json_array_size(opts);
    optv = calloc(nopt + 1, sizeof *optv);
    if (!optv) {
        cli_error("out of memory");
        goto out;
    }
    for (size_t i = 0; i < nopt; i++) {
        optv[i] = json_string_value(json_array_get(opts, i));
        if (!optv[i]) {
            cli_error("a parameter value is not UTF-8 text: give it as text");
            goto out;
        }
    }
    struct mf_flow_desc desc;
    memset(&desc, 0, sizeof desc);
    desc.struct_size = sizeof desc;
    desc.flow_name = f->def->name;
    desc.graph_json = graph;
    desc.package_url = addr;
    desc.datastore_root = mf_host_datastore_root();
    desc.schedule = a.schedule;
    desc.options = optv;
    struct mf_deployment d;
    memset(&d, 0, sizeof d);
    d.struct_size = sizeof d;
    /* the log's directory: a cron line's redirection opens the log before mflow starts */
    char *ddir = mf_strf("%s/deployments/%s", mf_host_home(), name);
    int mk = ddir ? mf_mkdir_p(ddir, MF_PRIVATE_DIR_MODE) : ENOMEM;
    if (mk) {
        cli_error("deploy: cannot make %s: %s; nothing was deployed", ddir ? ddir : name,
                  strerror(mk));
        free(ddir);
        goto out;
    }
    free(ddir);
    /* 6. install */
    int rc = sch.ops->deploy(sch.state, &desc, &d);
    if (rc) {
        cli_error("deploy: scheduler '%s' refused %s: %s; nothing was deployed", a.scheduler,
                  name, sch.ops->last_error ? sch.ops->last_error(sch.state) : mf_strerror(rc));
        goto out;
    }
    d.location[sizeof d.location - 1] = '\0';
    /* 7. record it: the datastore (the truth), then the index */
    char *ns = mf_strf(MF_DEPLOY_NS_PREFIX "%s", name);
    doc = ns ? json_pack("{s:s,s:I,s:s,s:s,s:s?,s:s,s:s,s:s,s:s,s:O,s:O,s:s,s:s,s:s,s:s?,s:s?,"
                         "s:s,s:f}",
                         "name", name, "version", (json_int_t)version, "flow", f->def->name,
                         "scheduler", a.scheduler, "schedule", a.schedule, "package", addr,
                         "datastore_root", mf_host_datastore_root(), "storage", storage,
                         "compute", compute, "params", params, "options", opts, "location",
                         d.location, "log", log, "namespace", ns, "source",
                         f->src_path ? f->src_path : f->so_path, "output", a.output, "user",
                         mf_host_user(), "created", mf_now())
             : NULL;
    free(ns);
    rec = doc ? json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    if (!rec) {
        cli_error("out of memory");
        goto out;
    }
    if (mf_deploy_save(&st, name, version, rec, &err)) {
        cli_error("deploy: %s (the scheduler installed %s: `mflow deployments delete %s` "
                  "removes it)",
                  err ? err : "cannot record the deployment", name, name);
        goto out;
    }
    char *ixdir = mf_strf("%s/index", mf_host_home());
    rc = ixdir ? mf_index_open(ixdir, &ix) : MF_ENOMEM;
    free(ixdir);
    if (!rc)
        rc = mf_index_put_deployment(ix, name, version, rec);
    if (rc)
        fprintf(stderr, "mflow: warning: %s (recorded in the datastore: `mflow reindex` "
                        "recovers it)\n",
                ix ? mf_index_error(ix) : "out of memory");
    if (a.json) {
        json_t *o = json_pack("{s:s,s:I,s:s,s:s,s:s,s:s}", "name", name, "version",
                              (json_int_t)version, "flow", f->def->name, "scheduler",
                              a.scheduler, "package", addr, "location", d.location);
        code = cli_print_json(o);
    } else {
        printf("deployed %s version %lld (flow %s, scheduler %s%s%s)\n", name,
               (long long)version, f->def->name, a.scheduler, a.schedule ? ", schedule " : "",
               a.schedule ? a.schedule : "");
        printf("package %s\n", addr);
        if (d.location[0])
            printf("location %s\n", cli_esc(d.location));
        printf("runs: mflow runs %s --namespace " MF_DEPLOY_NS_PREFIX "%s\n", f->def->name, name);
        code = 0;
    }
out:
    mf_index_close(ix);
    json_decref(doc);
    json_decref(opts);
    json_decref(params);
    free(optv);
    free(rec);
    free(log);
    free(self);
    free(addr);
    free(graph);
    free(err);
    free(vals);
    mf_store_close(&st);
    mf_scheduler_close(&sch);
    mf_flow_close(f);
    for (size_t i = 0; i < a.n_owned; i++)
        free(a.owned[i]);
    free(a.owned);
    free(a.params);
    return code;
}
