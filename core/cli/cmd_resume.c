/* mflow resume FLOW [STEP] [--origin-run-id R] [--run-id-file F] [--max-workers N] [--tag T] */
#include "cli.h"

#include "runtime.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "resume FLOW [STEP] [--origin-run-id R] [--run-id-file F] [--max-workers N] [--tag T...]";

int cmd_resume(int argc, char **argv)
{
    if (cli_wants_help(argc, argv, usage))
        return 0;
    struct mf_run_opts o;
    memset(&o, 0, sizeof o);
    o.resume = 1;
    const char **tags = calloc((size_t)argc, sizeof *tags);
    if (!tags) {
        cli_error("out of memory");
        return 1;
    }
    int code = 2;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        long long n;
        int r;
        if ((r = cli_int_opt(argc, argv, &i, "--origin-run-id", 1, INT64_MAX, &n))) {
            if (r < 0)
                goto out;
            o.origin_run_id = n;
        } else if ((r = cli_run_common_opt(argc, argv, &i, &o, tags))) {
            if (r < 0)
                goto out;
        } else if (a[0] == '-') {
            cli_error("resume: unknown option '%s' (a resumed run keeps the origin's parameters)",
                      a);
            goto out;
        } else if (!o.flow_path) {
            o.flow_path = a;
        } else if (!o.resume_step) {
            o.resume_step = a;
        } else {
            cli_error("resume: unexpected argument '%s'", a);
            goto out;
        }
    }
    if (!o.flow_path) {
        cli_error("usage: mflow %s", usage);
        goto out;
    }
    if (cli_check_run_id_file(o.run_id_file) != 0)
        goto out;
    o.tags = tags;
    code = mf_run_flow(&o);
out:
    free(tags);
    return code;
}
