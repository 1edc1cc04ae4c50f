/* mflow task FLOW STEP --run-id R --task-id T [--attempt A] [--input-paths P] [--split-index I]
 *            [--package ADDRESS] [--timeout-s S]
 * A flow written in Python runs in python3 (`python3 -m mflow task ...`, the same arguments),
 * which calls back into libmflow for everything but the step's body (task.h). */
#include "cli.h"

#include "flowload.h"
#include "host.h"
#include "package.h"
#include "store.h"
#include "task.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
    "task FLOW STEP --run-id R --task-id T [--attempt A] [--input-paths P] [--split-index I]\n"
    "            [--package ADDRESS] [--timeout-s S]";

/* Replace this process with the Python runtime of the task; returns only on failure. The
 * settings this command resolved travel as the MFLOW_* variables they would be read from. */
static int exec_python(int argc, char **argv)
{
    const char *py = mf_python_exe();
    char **pargv = calloc((size_t)argc + 4, sizeof *pargv);
    if (!pargv || setenv("MFLOW_HOME", mf_host_home(), 1) ||
        setenv("MFLOW_DATASTORE_ROOT", mf_host_datastore_root(), 1) ||
        (mf_host_storage() && setenv("MFLOW_STORAGE", mf_host_storage(), 1)) ||
        setenv("MFLOW_LIBMFLOW", mf_libmflow_path(), 1) || mf_python_env()) {
        cli_error("task: out of memory");
        free(pargv);
        return 1;
    }
    int n = 0;
    pargv[n++] = (char *)py;
    pargv[n++] = "-m";
    pargv[n++] = "mflow";
    for (int i = 0; i < argc; i++)
        pargv[n++] = argv[i];
    pargv[n] = NULL;
    fflush(NULL);
    execvp(py, pargv);
    int e = errno;
    cli_error("task: cannot run %s for the Python flow %s: %s (install python3 or set "
              "MFLOW_PYTHON)",
              py, argc > 1 ? argv[1] : "?", strerror(e));
    free(pargv);
    return 1;
}

int cmd_task(int argc, char **argv)
{
    if (cli_wants_help(argc, argv, usage))
        return 0;
    struct mf_task_args a;
    char *err = NULL;
    int code = mf_task_args_parse(argc, argv, &a, &err);
    if (code) {
        if (err)
            cli_error("%s", err);
        else
            cli_error("usage: mflow %s", usage);
        free(err);
        return code;
    }
    if (a.package && !mf_flow_is_py(a.flow_path)) {
        /* FLOW only names the flow: what runs is in the package, and a Python flow's source
         * there runs in python3 (which finds the package unpacked by then). */
        struct mf_store st;
        char *path = NULL;
        code = mf_store_open(&st, &err);
        if (!code) {
            code = mf_package_fetch(&st, a.package, &path, &err);
            mf_store_close(&st);
        }
        if (code) {
            /* The task fetches again and records why it failed, as it does for a C flow. */
            free(err);
            return mf_task_execute(&a);
        }
        if (mf_flow_is_py(path)) {
            for (int i = 1; i < argc; i++)
                if (argv[i] == a.flow_path) {
                    argv[i] = path;   /* lives until exec */
                    break;
                }
            return exec_python(argc, argv);
        }
        a.package_flow = path;   /* fetched: the task does not fetch it again */
    }
    if (mf_flow_is_py(a.flow_path))
        return exec_python(argc, argv);
    code = mf_task_execute(&a);
    free((char *)a.package_flow);
    return code;
}
