/* Rebuilding the lmdb index from the datastore (`mflow reindex`).
 *
 * The datastore is the source of truth; the index is a cache of it. A rebuild clears the
 * index's runs and tasks (run id counters stay), lists "runs/" through the storage plugin,
 * reads every run record and, for every task, the record of its highest attempt, and puts
 * them in batches. Runs executed elsewhere on a shared datastore become visible this way.
 * Deployments follow (mf_deploy_reindex), in the same transaction.
 * A damaged record is reported through the warning callback, by key, and skipped. */
#ifndef MF_REINDEX_H
#define MF_REINDEX_H

#include "blob.h"
#include "index.h"
#include "record.h"

#include <stddef.h>

struct mf_reindex_stats {
    size_t runs;                 /* run records indexed */
    size_t tasks;                /* task records indexed */
    size_t skipped;              /* records reported and skipped */
    size_t deployments;          /* deployments recovered (deploy.h) */
};

/* Called once per skipped record with a message that names its key; may be NULL. */
typedef void (*mf_reindex_warn_fn)(void *ud, const char *msg);

/* Rebuild ix from st. Returns 0 (also when records were skipped), or the failure of the
 * listing or of the index, with *err (malloc'd) saying what and what to do. */
int mf_reindex(struct mf_store *st, mf_index *ix, mf_reindex_warn_fn warn, void *ud,
               struct mf_reindex_stats *stats, char **err);

/* The index's view of a task record: what the orchestrator and reindex put in the index. */
void mf_reindex_task_rec(const struct mf_task_record *r, struct mf_task_rec *out);

#endif
