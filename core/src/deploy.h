/* Production deployments (`mflow deploy`, `mflow deployments`): their records in the
 * datastore, the source of truth, and in the index, a cache of it.
 *
 * A deployment is a name (model.h: mf_deploy_name_valid) and its versions 1, 2, ...; every
 * `mflow deploy` of it stores a new version and keeps the old ones:
 *   deployments/<name>/<version>.json   the version: a JSON object with "name", "version",
 *                                       "flow", "scheduler", "schedule" (null when none),
 *                                       "package" (code package address), "datastore_root",
 *                                       "storage", "compute", "params" (name -> value text),
 *                                       "options" (what the plugin was handed), "location"
 *                                       (the plugin's words), "log", "source", "user",
 *                                       "created" (unix seconds)
 *   deployments/<name>/current.json     {"version": N}: the installed one; removed when the
 *                                       deployment is deleted (its versions stay as history)
 * Runs of a deployment belong to the namespace "production:<name>" and carry the tag
 * "deployment_version:<N>". */
#ifndef MF_DEPLOY_H
#define MF_DEPLOY_H

#include "blob.h"
#include "index.h"

#include <stddef.h>
#include <stdint.h>

#define MF_DEPLOY_NS_PREFIX "production:"
#define MF_DEPLOY_VERSION_TAG "deployment_version:"

/* The next version of `name`: one past the highest stored in the datastore (deleted ones
 * included, so a version number is never reused). 0 or the storage's failure, *err set. */
int mf_deploy_next_version(struct mf_store *st, const char *name, int64_t *out, char **err);

/* Store version `version` of `name` (json: its record) and make it current. */
int mf_deploy_save(struct mf_store *st, const char *name, int64_t version, const char *json,
                   char **err);

/* The current version of `name` from the datastore: 0 with *version set, MF_ENOTFOUND when it
 * has none (never deployed, or deleted), else the storage's failure with *err. */
int mf_deploy_current(struct mf_store *st, const char *name, int64_t *version, char **err);

/* Version `version` of `name` from the datastore into *json (malloc'd). */
int mf_deploy_load(struct mf_store *st, const char *name, int64_t version, char **json,
                   char **err);

/* Delete: remove the current pointer (the versions stay). */
int mf_deploy_forget(struct mf_store *st, const char *name, char **err);

/* Put every version of every deployment that has a current pointer into ix (inside the
 * caller's batch, after mf_index_clear); a damaged record is passed to warn (may be NULL)
 * and skipped. *n counts the deployments recovered. */
int mf_deploy_reindex(struct mf_store *st, mf_index *ix, void (*warn)(void *ud, const char *msg),
                      void *ud, size_t *n, char **err);

/* Whether json is a version record of `name`, version `version` (the fields deploy.c
 * writes, of the right types). */
int mf_deploy_record_ok(const char *json, const char *name, int64_t version);

#endif
