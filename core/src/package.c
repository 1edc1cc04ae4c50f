/* placeholder while code packages are being written (issue 7); replaced by the real module */
#include "package.h"

#include "util.h"

int mf_package_build(struct mf_flow *flow, struct mf_store *st, char **addr, char **listing,
                     char **err)
{
    (void)flow;
    (void)st;
    (void)addr;
    (void)listing;
    *err = mf_strf("code packages are not available in this build");
    return MF_ENOTSUP;
}

int mf_package_fetch(struct mf_store *st, const char *addr, char **flow_path, char **err)
{
    (void)st;
    (void)addr;
    (void)flow_path;
    *err = mf_strf("code packages are not available in this build");
    return MF_ENOTSUP;
}
