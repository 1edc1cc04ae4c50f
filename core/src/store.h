/* Opening the configured plugins: the datastore (storage plugin) and compute backends. */
#ifndef MF_STORE_H
#define MF_STORE_H

#include "blob.h"

#include <mflow/plugin.h>

/* Open the storage plugin named by the settings (host.h) on the configured root.
 * On failure *err (malloc'd) says which plugin and why, and the code is MF_EUNAVAIL when no
 * such plugin loads, else the plugin's own refusal as it gave it (EACCES, MF_EPERM, ...). */
int mf_store_open(struct mf_store *st, char **err);
void mf_store_close(struct mf_store *st);
/* The task server's: open the store once, kept when its plugin says MF_STORAGE_FORK_SAFE; a
 * forked task's mf_store_open then takes that instance (once) when it would open the same
 * (same plugin, home, options and MFLOW_<NAME>_* variables), else opens its own. 0, or the
 * open's code (nothing kept; the task meets and reports it). */
int mf_store_prepare(void);

struct json_t;
struct mf_compute {
    const struct mf_plugin_desc *desc;
    const struct mf_compute_ops *ops;
    void *state;
    struct json_t *described;    /* its description, once admission asked for it (admit.c) */
};

/* Open compute plugin `name` (init'ed); codes and messages as mf_store_open. */
int mf_compute_open(const char *name, struct mf_compute *c, char **err);
void mf_compute_close(struct mf_compute *c);

/* A scheduler plugin (production deployments), started. */
struct mf_scheduler {
    const struct mf_plugin_desc *desc;
    const struct mf_scheduler_ops *ops;
    void *state;
};

/* Open scheduler plugin `name` (init'ed); codes and messages as mf_store_open. */
int mf_scheduler_open(const char *name, struct mf_scheduler *s, char **err);
void mf_scheduler_close(struct mf_scheduler *s);

#endif
