/* The host side of the plugin ABI: the host services table, settings (command line, then
 * MFLOW_* environment, then $MFLOW_HOME/config.json), and the process-wide plugin registry. */
#ifndef MF_HOST_H
#define MF_HOST_H

#include "envrec.h"
#include "loader.h"

#include <mflow/plugin.h>

/* Global settings from the command line (NULL: not given). Copied. */
struct mf_host_opts {
    const char *home;            /* --home */
    const char *compute;         /* --compute */
    const char *storage;         /* --storage */
    const char *datastore_root;  /* --datastore-root */
    const char *ns;              /* --namespace; "" means all namespaces */
    int ns_given;
};

/* Set up settings; call once before anything else (idempotent for tests). */
int mf_host_init(const struct mf_host_opts *opts);
void mf_host_fini(void);
/* In a forked child about to run a command of its own: forget the parent's settings and
 * plugin registry without unloading anything, so that what the parent loaded stays mapped
 * and the child's own loading of the same files finds it there. The child's registry is the
 * parent's when the parent's was made from the same environment (every variable its set-up
 * read the same, no relative directory): then nothing is searched, opened or checked again. */
void mf_host_forget(void);
/* The task server, once: mf_host_init for its tasks' global options, with the environment
 * the tasks get, its registry made and the storage plugin loaded, noting what the set-up read
 * (every variable it read through mf_host_getenv, whether set and its value; config.json's
 * stat). A forked child then calls mf_host_take_prepared (with its own environment in place):
 * 1 when that host is exactly what its own set-up would make (each noted variable the same,
 * set or unset as it was, the same config.json, no relative directory), which the child keeps
 * instead of setting up its own; 0 when it must mf_host_forget and mf_host_init. */
int mf_host_prepare(const struct mf_host_opts *o);
int mf_host_take_prepared(void);
/* What the prepared host's set-up read of the environment (tests), or NULL when there is no
 * prepared host a child could take. */
const struct mf_envrec *mf_host_prepared_env(void);

/* Replace the compute plugin, the storage plugin or the namespace (NULL: keep it) after
 * mf_host_init: a command whose own options or records name them (`mflow deploy --compute`,
 * a deployment's firing). 0 or MF_ENOMEM. */
int mf_host_override(const char *compute, const char *storage, const char *ns);

/* Plugin messages above this level (enum mf_log_level) are not shown unless MFLOW_DEBUG is
 * set; MF_LOG_INFO by default. */
void mf_host_set_log_level(int level);

/* The host table handed to plugins. */
const struct mf_host_api *mf_host_api(void);

/* The registry with the default directories added (created on first use). */
mf_registry *mf_host_registry(void);

/* Resolved settings: never NULL except where noted. */
const char *mf_host_home(void);            /* $MFLOW_HOME or ~/.mflow */
const char *mf_host_compute(void);         /* --compute / MFLOW_COMPUTE / config, default "local" */
const char *mf_host_storage(void);         /* --storage / MFLOW_STORAGE / from the root's scheme */
const char *mf_host_datastore_root(void);  /* URL or path; default $MFLOW_HOME/datastore */
/* The root the open storage instance serves, as its root() said (set by mf_store_open);
 * else mf_host_datastore_root(). What tasks get as --datastore-root and runs record. */
const char *mf_host_run_root(void);
void mf_host_set_served_root(const char *root);
/* Pick the storage plugin from the root's scheme when none was named (a no-op when one
 * was): 0, or a code with *err (malloc'ed) naming the scheme and the plugins found, or the
 * two plugins that claim it. */
int mf_host_resolve_storage(char **err);
/* 1 when the storage or the datastore root was chosen (command line, MFLOW_* or config.json):
 * then a run's recorded storage does not replace it. */
int mf_host_storage_chosen(void);
void mf_host_set_chosen(int chosen);
/* Use the storage plugin and root a run recorded (before the store opens; copied). */
int mf_host_use_storage(const char *name, const char *root);
const char *mf_host_namespace(void);       /* "user:$USER" by default; "" = all */
const char *mf_host_user(void);

/* A value from $MFLOW_HOME/config.json: top-level key, or section.key (section NULL for
 * top-level). NULL when absent. Lives until mf_host_fini. */
const char *mf_host_config(const char *section, const char *key);

/* Task output sink used by task_output (set by the runtime; NULL prints raw to stderr). */
typedef void (*mf_output_fn)(const char *pathspec, int stream, const char *data, size_t len);
void mf_host_set_output(mf_output_fn fn);

#endif
