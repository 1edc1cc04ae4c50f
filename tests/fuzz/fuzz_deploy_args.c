/* `mflow deploy`'s command line (core/cli/cmd_deploy.c parse_args, included so that the code
 * under test is the command's own) and the parameters it gives, matched against a flow's
 * parameter table and parsed (core/src/params.c mf_params_parse): what a deployment's
 * parameters go through before a scheduler plugin installs them. The input is the words of
 * the command line, NUL-separated (fuzz_args.h). Accepted arguments name the flow and the
 * scheduler; every parameter is "name=value"-shaped or refused with a message. */
#include "cmd_deploy.c"
#include "fuzz_args.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_args w;
    if (fuzz_args_split(&w, "deploy", data, size))
        return 0;
    struct deploy_args a;
    memset(&a, 0, sizeof a);
    a.params = calloc((size_t)w.argc, sizeof *a.params);
    a.owned = calloc((size_t)w.argc, sizeof *a.owned);
    if (!a.params || !a.owned)
        goto out;
    int rc = parse_args(w.argc, w.argv, &a);
    if (rc != 0 && rc != 1 && rc != 2)
        abort();
    if (a.n_params >= (size_t)w.argc || a.n_owned > a.n_params)
        abort();
    if (rc == 0) {
        if (!a.flow || !a.scheduler || !*a.scheduler || a.flow[0] == '-')
            abort();
        (void)mf_deploy_name_valid(a.name ? a.name : a.flow);
        struct mf_param_value *vals = NULL;
        char *err = NULL;
        int prc = mf_params_parse(&fuzz_flow, a.params, a.n_params, &vals, &err);
        fuzz_check_params(prc, vals, err);
        /* A parameter given as --param NAME=VALUE keeps its whole value ('=' included). */
        for (size_t k = 0; !prc && k < a.n_params; k++) {
            const char *eq = strchr(a.params[k], '=');
            if (!eq)
                abort();   /* mf_params_parse refuses a parameter without a value */
        }
        free(vals);
        free(err);
    }
out:
    for (size_t k = 0; a.owned && k < a.n_owned; k++)
        free(a.owned[k]);
    free(a.owned);
    free(a.params);
    free(w.buf);
    return 0;
}
