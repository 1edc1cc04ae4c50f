/* The code package functions of libmflow, loaded on first use from their own module
 * (mflow-package.so). Packages need libarchive, which brings libxml2, ICU and a dozen more
 * libraries: linked into libmflow they cost every task process about 1 ms of start-up. */
#include "package.h"

#include "flowload.h"
#include "mflow-build.h"
#include "util.h"

#include <dlfcn.h>
#include <stddef.h>

typedef int (*build_fn)(struct mf_flow *, struct mf_store *, char **, char **, char **);
typedef int (*fetch_fn)(struct mf_store *, const char *, char **, char **);

static build_fn build_impl;
static fetch_fn fetch_impl;

static int load(char **err)
{
    if (build_impl && fetch_impl)
        return 0;
    const char *path = mf_running_from_build_tree() ? MF_BUILD_ROOT "/core/mflow-package.so"
                                                    : MF_PKGLIBDIR "/mflow-package.so";
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        *err = mf_strf("code packages need %s, which does not load: %s (reinstall mflow)", path,
                       dlerror());
        return MF_EUNAVAIL;
    }
    build_impl = (build_fn)dlsym(h, "mf_package_build_impl");
    fetch_impl = (fetch_fn)dlsym(h, "mf_package_fetch_impl");
    if (!build_impl || !fetch_impl) {
        *err = mf_strf("%s is not mflow's package module (reinstall mflow)", path);
        build_impl = NULL;
        fetch_impl = NULL;
        return MF_EUNAVAIL;
    }
    return 0;
}

int mf_package_build(struct mf_flow *flow, struct mf_store *st, char **addr, char **listing,
                     char **err)
{
    int rc = load(err);
    return rc ? rc : build_impl(flow, st, addr, listing, err);
}

int mf_package_fetch(struct mf_store *st, const char *addr, char **flow_path, char **err)
{
    int rc = load(err);
    return rc ? rc : fetch_impl(st, addr, flow_path, err);
}
