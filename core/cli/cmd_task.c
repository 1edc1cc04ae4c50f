/* mflow task FLOW STEP --run-id R --task-id T [--attempt A] [--input-paths P] [--split-index I]
 *            [--package ADDRESS] [--timeout-s S] */
#include "cli.h"

#include "task.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "task FLOW STEP --run-id R --task-id T [--attempt A] [--input-paths P] [--split-index I]\n"
    "            [--package ADDRESS] [--timeout-s S]";

int cmd_task(int argc, char **argv)
{
    if (cli_wants_help(argc, argv, usage))
        return 0;
    struct mf_task_args a = {.split_index = -1, .run_id = -1, .task_id = -1};
    int pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        long long n;
        int r;
        if ((r = cli_int_opt(argc, argv, &i, "--run-id", 0, INT64_MAX, &n)) > 0) {
            a.run_id = n;
        } else if (!r && (r = cli_int_opt(argc, argv, &i, "--task-id", 0, INT64_MAX, &n)) > 0) {
            a.task_id = n;
        } else if (!r && (r = cli_int_opt(argc, argv, &i, "--attempt", 0, UINT32_MAX, &n)) > 0) {
            a.attempt = (uint32_t)n;
        } else if (!r &&
                   (r = cli_int_opt(argc, argv, &i, "--split-index", -1, INT64_MAX, &n)) > 0) {
            a.split_index = n;
        } else if (!r && (r = cli_int_opt(argc, argv, &i, "--timeout-s", 0, UINT32_MAX, &n)) > 0) {
            a.timeout_s = (uint32_t)n;
        } else if (!r) {
            /* may be empty: a task with no inputs */
            r = cli_match_opt(argc, argv, &i, "--input-paths", &a.input_paths);
            if (r < 0)
                cli_error("--input-paths needs a value");
            else if (!r)
                r = cli_str_opt(argc, argv, &i, "--package", &a.package);
        }
        if (r < 0)
            return 2;
        if (r > 0)
            continue;
        if (o[0] == '-' && o[1] == '-') {
            cli_error("task: unknown option %s", o);
            return 2;
        } else if (pos == 0) {
            a.flow_path = o;
            pos++;
        } else if (pos == 1) {
            a.step = o;
            pos++;
        } else {
            cli_error("task: unexpected argument '%s'", o);
            return 2;
        }
    }
    if (!a.flow_path || !a.step || a.run_id < 0 || a.task_id < 0) {
        cli_error("usage: mflow %s", usage);
        return 2;
    }
    return mf_task_execute(&a);
}
