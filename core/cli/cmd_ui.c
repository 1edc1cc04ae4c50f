/* mflow ui: the web page and JSON API over past and running runs. The server lives in its own
 * module (mflow-ui.so, with libmicrohttpd), loaded here only: the mflow executable, which every
 * task process runs, does not link the HTTP library. */
#include "cli.h"

#include "flowload.h"
#include "mflow-build.h"
#include "util.h"

#include <dlfcn.h>
#include <stddef.h>

typedef int (*ui_main_fn)(int, char **);

int cmd_ui(int argc, char **argv)
{
    const char *path = mf_running_from_build_tree() ? MF_BUILD_ROOT "/core/ui/mflow-ui.so"
                                                    : MF_PKGLIBDIR "/mflow-ui.so";
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        cli_error("ui needs %s, which does not load: %s (mflow was built without "
                  "libmicrohttpd, or is not fully installed: install libmicrohttpd-dev and "
                  "rebuild)",
                  path, dlerror());
        return 1;
    }
    ui_main_fn fn = (ui_main_fn)dlsym(h, "mf_ui_main");
    if (!fn) {
        cli_error("%s is not mflow's ui module (reinstall mflow)", path);
        dlclose(h);
        return 1;
    }
    return fn(argc, argv);
}
