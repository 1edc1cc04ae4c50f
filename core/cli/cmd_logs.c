/* mflow logs PATHSPEC [--stderr] [--attempt N] [--json]: a task's output as stored in the
 * datastore. PATHSPEC is Flow/run/step/task, or Flow/run/step for a step with one task. Every
 * attempt by default, each under a header line; --attempt N prints that one as it is. */
#include "cli.h"

#include <mflow/client.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] = "logs PATHSPEC [--stderr] [--attempt N] [--json]";

int cmd_logs(int argc, char **argv)
{
    if (cli_wants_help(argc, argv, usage))
        return 0;
    const char *spec = NULL;
    int json = 0, stream = MF_CLIENT_STDOUT;
    long long only = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int r;
        if (!strcmp(a, "--json")) {
            json = 1;
        } else if (!strcmp(a, "--stderr")) {
            stream = MF_CLIENT_STDERR;
        } else if (!strcmp(a, "--stdout")) {
            stream = MF_CLIENT_STDOUT;
        } else if ((r = cli_int_opt(argc, argv, &i, "--attempt", 0, 1000000, &only))) {
            if (r < 0)
                return 2;
        } else if (!spec && a[0] != '-') {
            spec = a;
        } else {
            cli_error("logs: unexpected argument '%s' (usage: mflow %s)", a, usage);
            return 2;
        }
    }
    if (!spec) {
        cli_error("usage: mflow %s", usage);
        return 2;
    }
    mf_client *c;
    if (cli_client_open(&c))
        return 1;
    mf_client_task *t = NULL;
    int code = 1;
    if (mf_client_task_open(c, spec, &t)) {
        cli_error("%s", mf_client_error(c));
        goto out;
    }
    uint32_t latest = mf_client_task_attempt(t);
    if (only > (long long)latest) {
        cli_error("task %s has attempts 0 to %u: there is no attempt %lld",
                  mf_client_task_pathspec(t), latest, only);
        goto out;
    }
    uint32_t from = only >= 0 ? (uint32_t)only : 0, to = only >= 0 ? (uint32_t)only : latest;
    const char *sname = stream == MF_CLIENT_STDOUT ? "stdout" : "stderr";
    json_t *arr = json ? json_array() : NULL;
    code = 0;
    for (uint32_t k = from; k <= to; k++) {
        char *data;
        size_t len;
        if (mf_client_task_log(t, k, stream, &data, &len)) {
            cli_error("%s", mf_client_error(c));
            code = 1;
            continue;
        }
        if (json) {
            /* a log that is not UTF-8 (a step printed binary) as {"type": "str", "hex"}: a
             * plain string would make jansson refuse it, and the attempt would be dropped */
            json_t *e = json_pack("{s:I,s:o}", "attempt", (json_int_t)k, "log",
                                  cli_json_textn(data, len));
            if (!e || json_array_append_new(arr, e)) {
                cli_error("out of memory");
                code = 1;
            }
        } else {
            if (only < 0)
                printf("=== %s attempt %u (%s%s) ===\n", mf_client_task_pathspec(t), k, sname,
                       len ? "" : ": empty");
            fwrite(data, 1, len, stdout);
            if (only < 0 && len && data[len - 1] != '\n')
                putchar('\n');
        }
        free(data);
    }
    if (json) {
        json_t *o = json_pack("{s:s,s:s,s:o}", "pathspec", mf_client_task_pathspec(t), "stream",
                              sname, "attempts", arr);
        int jc = cli_print_json(o);
        code = code ? code : jc;
    }
out:
    mf_client_task_free(t);
    mf_client_close(c);
    return code;
}
