/* mflow reindex: rebuild the lmdb index from the datastore (reindex.h). Runs made elsewhere on
 * a shared datastore become visible; damaged records are named and skipped. */
#include "cli.h"

#include "host.h"
#include "index.h"
#include "reindex.h"
#include "store.h"
#include "util.h"

#include <mflow/client.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] = "reindex [--force]";

/* Runs of this host, any namespace, recorded as running whose orchestrator is alive: a
 * reindex would leave out of the index what they record while it lists and rebuilds. Prints
 * each; returns how many, or -1 when the index cannot be read (then nothing is refused). */
static int live_runs(void)
{
    struct mf_client_opts o = {.struct_size = sizeof o, .home = mf_host_home(),
                               .datastore_root = mf_host_datastore_root(),
                               .storage = mf_host_storage(), .ns = ""};
    mf_client *c = NULL;
    if (mf_client_open(&o, &c) != 0) {
        mf_client_close(c);
        return -1;
    }
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    char **flows = NULL;
    size_t nf = 0;
    int live = 0;
    if (mf_client_flows(c, &flows, &nf) == 0) {
        for (size_t f = 0; f < nf; f++) {
            mf_client_runs *l = NULL;
            if (mf_client_list_runs(c, flows[f], NULL, 0, &l) != 0)
                continue;
            for (size_t i = 0; i < mf_client_runs_count(l); i++) {
                mf_client_run *r = mf_client_runs_at(l, i);
                if (mf_client_run_status(r) != MF_CLIENT_RUNNING || mf_client_run_dead(r) ||
                    strcmp(mf_client_run_host(r), host) != 0)
                    continue;
                cli_error("reindex: run %s/%lld is going on (pid %d); what it records meanwhile "
                          "would be left out of the index",
                          flows[f], (long long)mf_client_run_id(r), (int)mf_client_run_pid(r));
                live++;
            }
            mf_client_runs_free(l);
        }
        free(flows);
    }
    mf_client_close(c);
    return live;
}

static void warn(void *ud, const char *msg)
{
    (void)ud;
    fprintf(stderr, "mflow: warning: %s\n", msg);
}

int cmd_reindex(int argc, char **argv)
{
    if (cli_wants_help(argc, argv, usage))
        return 0;
    int force = argc == 2 && !strcmp(argv[1], "--force");
    if (argc > 1 && !force) {
        cli_error("reindex takes no arguments but --force (the datastore comes from "
                  "--datastore-root, the index from --home)");
        return 2;
    }
    if (!force && live_runs() > 0) {
        cli_error("reindex: run it once those runs end, or with --force to rebuild now (and "
                  "again after they end)");
        return 1;
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
