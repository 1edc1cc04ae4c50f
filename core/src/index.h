/* The lmdb metadata index: a fast, rebuildable index over the datastore (flows, runs, steps,
 * tasks, tags, run id counters), holding the datastore's own types (model.h). Only the
 * orchestrator and the inspection commands open it; tasks never do. Losing it loses nothing:
 * `mflow reindex` rebuilds it from the datastore. */
#ifndef MF_INDEX_H
#define MF_INDEX_H

#include "model.h"

#include <stddef.h>
#include <stdint.h>

/* The on-disk format of the index (the value of "format" in its "meta" database, as decimal
 * text). Another value makes mf_index_open fail with MF_ECORRUPT. */
#define MF_INDEX_FORMAT 3

typedef struct mf_index mf_index;

/* Open (creating) the index in directory `dir`. One writer at a time is lmdb's rule; readers
 * never block. Returns 0, an errno, or MF_ECORRUPT when the files are not an mflow index of
 * this format (the message then says to delete the directory and run `mflow reindex`).
 * On failure *out is still a handle (NULL only when out of memory) that serves only
 * mf_index_error, for the message, and mf_index_close: close it in every case.
 * A process opens a given directory once at a time (an lmdb rule). */
int mf_index_open(const char *dir, mf_index **out);
/* mf_index_open with a map of map_size bytes, the most the index can hold (0: the default,
 * 64 GiB, smaller where address space is short). For tests and small machines. */
int mf_index_open_map(const char *dir, size_t map_size, mf_index **out);
/* NULL is a no-op. An open batch is aborted. */
void mf_index_close(mf_index *ix);
/* The message of the last failure on ix; never NULL (ix NULL: the open ran out of memory). */
const char *mf_index_error(const mf_index *ix);

/* Group writes into one transaction (the orchestrator commits once per loop turn). Outside a
 * begin/commit pair each write commits on its own. */
int mf_index_begin(mf_index *ix);
int mf_index_commit(mf_index *ix);
void mf_index_abort(mf_index *ix);

/* Lazy mode for a busy writer (the orchestrator commits every loop turn): commits stop
 * syncing to disk, and mf_index_sync flushes them. A killed process loses nothing (the pages
 * are in the page cache); a machine crash can lose or, on some filesystems, damage what was
 * not yet synced — the datastore still has it all, and `mflow reindex` rebuilds. */
int mf_index_set_lazy(mf_index *ix, int lazy);
int mf_index_sync(mf_index *ix);

/* Allocate the next run id of `flow` (1, 2, ...), at least `min` (so ids seen in a shared
 * datastore are never reused). */
int mf_index_new_run_id(mf_index *ix, const char *flow, int64_t min, int64_t *out);

int mf_index_put_run(mf_index *ix, const struct mf_run_rec *r);
/* 0, or MF_ENOTFOUND. */
int mf_index_get_run(mf_index *ix, const char *flow, int64_t run_id, struct mf_run_rec *out);

/* Callbacks get records that live during the call; a non-zero return stops the listing and
 * is returned. */
typedef int (*mf_run_cb)(void *ud, const struct mf_run_rec *r);
typedef int (*mf_task_cb)(void *ud, const struct mf_task_rec *t);
typedef int (*mf_flow_cb)(void *ud, const char *flow, int64_t last_run_id);

/* Runs of `flow`, newest (highest id) first. */
int mf_index_list_runs(mf_index *ix, const char *flow, mf_run_cb cb, void *ud);
int mf_index_list_flows(mf_index *ix, mf_flow_cb cb, void *ud);

int mf_index_put_task(mf_index *ix, const struct mf_task_rec *t);
int mf_index_get_task(mf_index *ix, const char *flow, int64_t run_id, const char *step,
                      int64_t task_id, struct mf_task_rec *out);
/* Tasks of a run (step NULL: all steps), ordered by step name then task id. */
int mf_index_list_tasks(mf_index *ix, const char *flow, int64_t run_id, const char *step,
                        mf_task_cb cb, void *ud);

/* Tags of a run ('\n'-separated in mf_run_rec.tags). Adding an existing tag or removing a
 * missing one is not an error. */
int mf_index_add_tag(mf_index *ix, const char *flow, int64_t run_id, const char *tag);
int mf_index_remove_tag(mf_index *ix, const char *flow, int64_t run_id, const char *tag);

/* Deployments (deploy.h): one record per version of each, JSON text as deploy.c writes it.
 * Names are at most MF_NAME_MAX - 1 bytes; versions from 1. Putting a version again replaces
 * it. */
int mf_index_put_deployment(mf_index *ix, const char *name, int64_t version, const char *json);
/* Every version of deployment `name` (NULL: of every deployment), ordered by name then
 * version; json is malloc'd for the call only. A non-zero return stops the listing and is
 * returned. */
typedef int (*mf_index_deployment_cb)(void *ud, const char *name, int64_t version, const char *json);
int mf_index_list_deployments(mf_index *ix, const char *name, mf_index_deployment_cb cb, void *ud);
/* Remove every version of `name`: 0, or MF_ENOTFOUND when it has none. */
int mf_index_delete_deployment(mf_index *ix, const char *name);

/* Remove everything except the run id counters (for reindex). */
int mf_index_clear(mf_index *ix);

/* Read every record of the index (run id counters, runs, tasks) and check it as a read
 * would: 0 when all hold, MF_ECORRUPT (or another failure) with the message on ix. What
 * `mflow reindex` asks before it rebuilds in place (reindex.h). */
int mf_index_check(mf_index *ix);

/* The directory of an open index whose lmdb mapping holds `addr`, else NULL. lmdb reads the
 * index through a read-only mapping of data.mdb, and a damaged page can make it read past the
 * file's end (SIGBUS) or through a wild page number (SIGSEGV) before any check could fail: a
 * command's SIGBUS/SIGSEGV handler asks this to tell such a fault (the index is damaged: say
 * so and exit) from any other crash. Async-signal-safe. */
const char *mf_index_fault_dir(const void *addr);

#endif
