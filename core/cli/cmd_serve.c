/* mflow serve FLOW [--namespace NS] [--port P] [--host H] [--token T] [--workers N]
 * [--poll-ms MS]: checks and settings here; the server is a module (serve.h). */
#include "cli.h"

#include "deploy.h"
#include "flowload.h"
#include "host.h"
#include "index.h"
#include "model.h"
#include "serve.h"
#include "util.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
    "serve FLOW [--namespace NS] [--port P] [--host H] [--token T] [--workers N]\n"
    "  answers GET/POST /<endpoint> from the end task of FLOW's latest successful run in NS\n"
    "  (default: production:<deployment> when FLOW is deployed, else your namespace); GET /\n"
    "  lists the endpoints. --host 127.0.0.1 and --port 8080 by default (--port 0: a free\n"
    "  one); off loopback a token is required (--token or MFLOW_SERVE_TOKEN), which clients\n"
    "  send as `Authorization: Bearer TOKEN`. --workers N processes answer (default: one a\n"
    "  core); each looks for a newer successful run every --poll-ms (100) when asked.";

struct found {
    const char *flow;
    char names[8][MF_DEPLOY_NAME_MAX + 1];
    size_t n;
    int64_t last_version;
    char last_name[MF_DEPLOY_NAME_MAX + 1];
};

/* Versions come ordered by name then version: the last of each name is its current one. */
static int on_dep(void *ud, const char *name, int64_t version, const char *text)
{
    (void)version;
    struct found *f = ud;
    json_t *j = json_loads(text, 0, NULL);
    const char *flow = json_string_value(json_object_get(j, "flow"));
    int same = flow && !strcmp(flow, f->flow);
    if (f->n && !strcmp(f->names[f->n - 1], name))
        f->n--;   /* a later version of the one counted: judged again by its own flow */
    if (same && f->n < 8)
        snprintf(f->names[f->n++], sizeof f->names[0], "%s", name);
    json_decref(j);
    return 0;
}

/* The namespace to serve: production:<D> when exactly one deployment D runs this flow. */
static int default_namespace(const char *flow, char **ns)
{
    *ns = NULL;
    char *dir = mf_strf("%s/index", mf_host_home());
    mf_index *ix = NULL;
    int rc = dir ? mf_index_open(dir, &ix) : MF_ENOMEM;
    free(dir);
    struct found f;
    memset(&f, 0, sizeof f);
    f.flow = flow;
    if (!rc)
        rc = mf_index_list_deployments(ix, NULL, on_dep, &f);
    if (rc) {
        cli_error("%s", ix ? mf_index_error(ix) : "out of memory");
        mf_index_close(ix);
        return 1;
    }
    mf_index_close(ix);
    if (f.n > 1) {
        cli_error("flow %s has %zu deployments (%s, %s%s): choose whose runs to serve with "
                  "--namespace production:NAME",
                  flow, f.n, f.names[0], f.names[1], f.n > 2 ? ", ..." : "");
        return 2;
    }
    *ns = f.n ? mf_strf(MF_DEPLOY_NS_PREFIX "%s", f.names[0]) : strdup(mf_host_namespace());
    return *ns ? 0 : 1;
}

int cmd_serve(int argc, char **argv)
{
    if (cli_wants_help(argc, argv, usage))
        return 0;
    const char *path = NULL, *ns = NULL, *host = "127.0.0.1", *token = NULL;
    long long port = 8080, workers = sysconf(_SC_NPROCESSORS_ONLN), poll_ms = 100;
    if (workers < 1)
        workers = 1;
    for (int i = 1; i < argc; i++) {
        int r;
        if ((r = cli_match_opt(argc, argv, &i, "--namespace", &ns))) {
            if (r < 0) {
                cli_error("--namespace needs a value");
                return 2;
            }
        } else if ((r = cli_int_opt(argc, argv, &i, "--port", 0, 65535, &port)) ||
                   (r = cli_int_opt(argc, argv, &i, "--workers", 1, 256, &workers)) ||
                   (r = cli_int_opt(argc, argv, &i, "--poll-ms", 10, 60000, &poll_ms)) ||
                   (r = cli_str_opt(argc, argv, &i, "--host", &host)) ||
                   (r = cli_str_opt(argc, argv, &i, "--token", &token))) {
            if (r < 0)
                return 2;
        } else if (!path && argv[i][0] != '-') {
            path = argv[i];
        } else {
            cli_error("serve: unexpected argument '%s' (see mflow serve --help)", argv[i]);
            return 2;
        }
    }
    if (!path) {
        cli_error("usage: mflow %s", usage);
        return 2;
    }
    if (!token) {
        const char *env = getenv("MFLOW_SERVE_TOKEN");
        token = env && *env ? env : NULL;
    }
    struct mf_flow *f = NULL;
    char *err = NULL;
    if (mf_flow_open(path, &f, &err) != 0) {
        cli_error("%s", err ? err : "cannot open the flow");
        free(err);
        return 1;
    }
    if (!f->def->n_endpoints) {
        if (f->py)
            cli_error("flow %s declares no endpoints: mark a method of its class @endpoint "
                      "(from mflow import endpoint), e.g. def show(self): return {\"x\": self.x}",
                      f->def->name);
        else
            cli_error("flow %s declares no endpoints: add a table of mf_endpoint_def and export "
                      "it with MF_FLOW_WITH_ENDPOINTS (flow ABI 1.3, <mflow/flow.h>)",
                      f->def->name);
        mf_flow_close(f);
        return 1;
    }
    /* serve's --namespace, or one set globally (a namespace other than the user's own);
     * else from the deployments. */
    char *chosen = NULL;
    char *own = mf_strf("user:%s", mf_host_user());
    int set_globally = !own || strcmp(mf_host_namespace(), own) != 0;
    free(own);
    if (!ns && !set_globally) {
        int code = default_namespace(f->def->name, &chosen);
        if (code) {
            mf_flow_close(f);
            return code;
        }
    }
    struct mf_serve_opts o = {
        .flow = f,
        .flow_path = path,
        .ns = ns ? ns : chosen ? chosen : mf_host_namespace(),
        .host = host,
        .port = (int)port,
        .token = token,
        .workers = (int)workers,
        .poll_s = (double)poll_ms / 1000.0,
    };
    int rc = mf_serve_run(&o, &err);
    if (rc)
        cli_error("serve: %s", err ? err : "cannot start");
    free(err);
    free(chosen);
    mf_flow_close(f);
    return rc == MF_EPERM || rc == MF_EINVAL ? 2 : rc ? 1 : 0;
}
