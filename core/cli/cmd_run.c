/* mflow run FLOW [--PARAM=VALUE...] [--max-workers N] [--tag T...] [--run-id-file F] */
#include "cli.h"

#include "runtime.h"

#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "run FLOW [--PARAM=VALUE...] [--max-workers N] [--tag T...] [--run-id-file F]";

int cmd_run(int argc, char **argv)
{
    if (cli_wants_help(argc, argv, usage))
        return 0;
    struct mf_run_opts o;
    memset(&o, 0, sizeof o);
    const char **params = calloc((size_t)argc, sizeof *params);
    const char **tags = calloc((size_t)argc, sizeof *tags);
    char **owned = calloc((size_t)argc, sizeof *owned);
    int n_owned = 0, code = 2;
    if (!params || !tags || !owned) {
        cli_error("out of memory");
        code = 1;
        goto out;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int r = cli_run_common_opt(argc, argv, &i, &o, tags);
        if (r < 0)
            goto out;
        if (r > 0)
            continue;
        if (!strncmp(a, "--", 2) && a[2]) {
            /* A parameter: --name=value, or --name value. */
            if (strchr(a, '=') || !v || !strncmp(v, "--", 2)) {
                params[o.n_params++] = a + 2;
            } else {
                owned[n_owned] = malloc(strlen(a) + strlen(v) + 2);
                if (!owned[n_owned])
                    goto out;
                sprintf(owned[n_owned], "%s=%s", a + 2, v);
                params[o.n_params++] = owned[n_owned++];
                i++;
            }
        } else if (!o.flow_path) {
            o.flow_path = a;
        } else {
            cli_error("run: unexpected argument '%s' (parameters are --name=value)", a);
            goto out;
        }
    }
    if (!o.flow_path) {
        cli_error("usage: mflow %s", usage);
        goto out;
    }
    if (cli_check_run_id_file(o.run_id_file) != 0)
        goto out;
    o.param_args = params;
    o.tags = tags;
    code = mf_run_flow(&o);
out:
    for (int i = 0; i < n_owned; i++)
        free(owned[i]);
    free(owned);
    free(params);
    free(tags);
    return code;
}
