/* `mflow serve`'s server, loaded on first use from its own module (mflow-serve.so): it links
 * libmicrohttpd, which the mflow command must not (every task process runs that command). */
#include "serve.h"

#include "flowload.h"
#include "mflow-build.h"
#include "util.h"

#include <mflow/plugin.h>

#include <dlfcn.h>

typedef int (*run_fn)(const struct mf_serve_opts *, char **);

int mf_serve_run(const struct mf_serve_opts *o, char **err)
{
    const char *path = mf_running_from_build_tree() ? MF_BUILD_ROOT "/core/mflow-serve.so"
                                                    : MF_PKGLIBDIR "/mflow-serve.so";
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        *err = mf_strf("mflow serve needs %s, which does not load: %s (reinstall mflow)", path,
                       dlerror());
        return MF_EUNAVAIL;
    }
    run_fn run = (run_fn)dlsym(h, "mf_serve_run_impl");
    if (!run) {
        *err = mf_strf("%s is not mflow's serve module (reinstall mflow)", path);
        return MF_EUNAVAIL;
    }
    return run(o, err);
}
