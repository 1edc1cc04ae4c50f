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
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (o[0] == '-' && o[1] == '-') {
            if (!v) {
                cli_error("task: %s needs a value", o);
                return 2;
            }
            if (!strcmp(o, "--run-id"))
                a.run_id = atoll(v);
            else if (!strcmp(o, "--task-id"))
                a.task_id = atoll(v);
            else if (!strcmp(o, "--attempt"))
                a.attempt = (uint32_t)atoi(v);
            else if (!strcmp(o, "--input-paths"))
                a.input_paths = v;
            else if (!strcmp(o, "--split-index"))
                a.split_index = atoll(v);
            else if (!strcmp(o, "--package"))
                a.package = v;
            else if (!strcmp(o, "--timeout-s")) {
                char *end;
                unsigned long s = strtoul(v, &end, 10);
                if (*end || end == v || s > UINT32_MAX) {
                    cli_error("task: --timeout-s takes whole seconds, not '%s'", v);
                    return 2;
                }
                a.timeout_s = (uint32_t)s;
            }
            else {
                cli_error("task: unknown option %s", o);
                return 2;
            }
            i++;
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
