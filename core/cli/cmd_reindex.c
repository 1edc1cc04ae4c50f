/* mflow reindex: rebuild the lmdb index from the datastore (reindex.h). Runs made elsewhere on
 * a shared datastore become visible; damaged records are named and skipped. */
#include "cli.h"

#include "host.h"
#include "index.h"
#include "reindex.h"
#include "store.h"
#include "util.h"

#include <mflow/client.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
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

/* Whether the index in dir can be read through: every record is read and checked in a child
 * process, where a fault on a damaged page ends only the child. 1 sound (or absent), 0
 * damaged (msg says how), -1 when the check could not run. */
static int index_sound(const char *dir, char *msg, size_t msglen)
{
    char path[4096];
    struct stat st;
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    if (stat(path, &st) != 0)
        return 1;
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        close(fds[0]);
        signal(SIGBUS, SIG_DFL);
        signal(SIGSEGV, SIG_DFL);
        mf_index *ix = NULL;
        int rc = mf_index_open(dir, &ix);
        if (!rc)
            rc = mf_index_check(ix);
        if (rc == MF_ECORRUPT) {
            const char *m = mf_index_error(ix);
            ssize_t w = write(fds[1], m, strlen(m));
            (void)w;
        }
        _exit(rc == MF_ECORRUPT ? 3 : rc ? 4 : 0);
    }
    close(fds[1]);
    size_t got = 0;
    ssize_t n;
    while (got + 1 < msglen && (n = read(fds[0], msg + got, msglen - 1 - got)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break;
        got += (size_t)n;
    }
    msg[got] = '\0';
    close(fds[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    if (WIFSIGNALED(status)) {
        snprintf(msg, msglen, "reading it faulted (%s)", strsignal(WTERMSIG(status)));
        return 0;
    }
    /* 4: another failure (permissions, memory), which opening it again will report */
    return WIFEXITED(status) && WEXITSTATUS(status) == 3 ? 0 : 1;
}

/* Move a damaged index's files aside (kept for a look, never read again), so that it is
 * rebuilt from nothing: lmdb cannot be trusted to clear a tree whose pages are damaged. */
static int move_aside(const char *dir, char *aside, size_t len)
{
    char from[4096];
    time_t now = time(NULL);
    struct tm tm;
    char stamp[32];
    localtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    snprintf(from, sizeof from, "%s/data.mdb", dir);
    snprintf(aside, len, "%s/data.mdb.damaged-%s-%d", dir, stamp, (int)getpid());
    if (rename(from, aside) != 0)
        return errno;
    snprintf(from, sizeof from, "%s/lock.mdb", dir);
    if (unlink(from) != 0 && errno != ENOENT)
        return errno;
    return 0;
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
    char *dir = mf_strf("%s/index", mf_host_home());
    if (!dir) {
        cli_error("out of memory");
        return 1;
    }
    char why[1024] = "", aside[4200];
    int sound = index_sound(dir, why, sizeof why);
    if (sound == 0) {
        int e = move_aside(dir, aside, sizeof aside);
        if (e) {
            cli_error("the index at %s is damaged (%s) and cannot be moved aside: %s; delete "
                      "%s/data.mdb and %s/lock.mdb and run `mflow reindex` again",
                      dir, why, strerror(e), dir, dir);
            free(dir);
            return 1;
        }
        fprintf(stderr, "mflow: the index at %s was damaged (%s): moved it aside to %s (delete "
                        "it when done with it) and rebuilding it from the datastore\n",
                dir, why, aside);
    }
    /* A damaged index cannot tell which runs are going on: nothing to wait for then. */
    if (!force && sound != 0 && live_runs() > 0) {
        cli_error("reindex: run it once those runs end, or with --force to rebuild now (and "
                  "again after they end)");
        free(dir);
        return 1;
    }
    struct mf_store st;
    char *err = NULL;
    if (mf_store_open(&st, &err)) {
        cli_error("%s", err ? err : "cannot open the datastore");
        free(err);
        free(dir);
        return 1;
    }
    mf_index *ix = NULL;
    int rc = mf_index_open(dir, &ix);
    int code = 1;
    if (rc) {
        cli_error("%s", ix ? mf_index_error(ix) : "out of memory");
        goto out;
    }
    double t0 = mf_mono();
    struct mf_reindex_stats s;
    rc = mf_reindex(&st, ix, warn, NULL, &s, &err);
    if (rc && rc != ENOSPC && sound != 0 && err && !strcmp(err, mf_index_error(ix))) {
        /* The index itself failed the rebuild in place (a damaged page no read had touched,
         * in lmdb's free list): start again from nothing. Not when the disk is full: the
         * index is sound, and a rebuild from nothing would need more room, not less. */
        mf_index_close(ix);
        ix = NULL;
        int e = move_aside(dir, aside, sizeof aside);
        if (!e) {
            fprintf(stderr, "mflow: the index at %s could not be rebuilt in place (%s): moved "
                            "it aside to %s (delete it when done with it) and rebuilding it "
                            "from nothing\n",
                    dir, err, aside);
            free(err);
            err = NULL;
            rc = mf_index_open(dir, &ix);
            if (rc) {
                cli_error("%s", ix ? mf_index_error(ix) : "out of memory");
                goto out;
            }
            rc = mf_reindex(&st, ix, warn, NULL, &s, &err);
        }
    }
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
    if (s.deployments)
        printf("; %zu deployment%s", s.deployments, s.deployments == 1 ? "" : "s");
    putchar('\n');
    code = 0;
out:
    free(err);
    free(dir);
    mf_index_close(ix);
    mf_store_close(&st);
    return code;
}
