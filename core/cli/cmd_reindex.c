/* mflow reindex: rebuild the lmdb index from the datastore (reindex.h). Runs made elsewhere on
 * a shared datastore become visible; damaged records are named and skipped. */
#include "cli.h"

#include "host.h"
#include "index.h"
#include "reindex.h"
#include "store.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>

static const char usage[] = "reindex";

static void warn(void *ud, const char *msg)
{
    (void)ud;
    fprintf(stderr, "mflow: warning: %s\n", msg);
}

int cmd_reindex(int argc, char **argv)
{
    if (cli_wants_help(argc, argv, usage))
        return 0;
    if (argc > 1) {
        cli_error("reindex takes no arguments (the datastore comes from --datastore-root, "
                  "the index from --home)");
        return 2;
    }
    struct mf_store st;
    char *err = NULL;
    if (mf_store_open(&st, &err)) {
        cli_error("%s", err ? err : "cannot open the datastore");
        free(err);
        return 1;
    }
    char *dir = mf_strf("%s/index", mf_host_home());
    mf_index *ix = NULL;
    int rc = dir ? mf_index_open(dir, &ix) : MF_ENOMEM;
    int code = 1;
    if (rc) {
        cli_error("%s", ix ? mf_index_error(ix) : "out of memory");
        goto out;
    }
    double t0 = mf_mono();
    struct mf_reindex_stats s;
    rc = mf_reindex(&st, ix, warn, NULL, &s, &err);
    if (rc) {
        cli_error("reindex: %s (the index may be incomplete: fix that and run `mflow reindex` "
                  "again)",
                  err ? err : "failed");
        goto out;
    }
    printf("reindexed %zu run%s and %zu task%s from %s in %.2f s", s.runs, s.runs == 1 ? "" : "s",
           s.tasks, s.tasks == 1 ? "" : "s", mf_host_datastore_root(), mf_mono() - t0);
    if (s.skipped)
        printf(" (%zu damaged record%s skipped)", s.skipped, s.skipped == 1 ? "" : "s");
    putchar('\n');
    code = 0;
out:
    free(err);
    free(dir);
    mf_index_close(ix);
    mf_store_close(&st);
    return code;
}
