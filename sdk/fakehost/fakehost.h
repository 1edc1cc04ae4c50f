/* A fake mflow host for unit-testing a plugin alone: load the plugin's .so (or link its
 * source), hand it mf_fakehost(), drive its operations, and look at what it logged, what
 * output it streamed, and what it put in the fake datastore. Not thread-safe. */
#ifndef MF_FAKEHOST_H
#define MF_FAKEHOST_H

#include <mflow/plugin.h>

#include <stddef.h>

/* The host table (ABI 1.current). */
const struct mf_host_api *mf_fakehost(void);

/* Settings the plugin reads through config_get (copied). value NULL unsets. */
void mf_fakehost_set(const char *plugin, const char *key, const char *value);
/* Forget settings, logs, output and datastore objects. */
void mf_fakehost_reset(void);

/* Everything logged so far, one message per line ("LEVEL name: message"). */
const char *mf_fakehost_logs(void);
/* Everything streamed through task_output, as "pathspec|stream|data" records appended in
 * order (data as given). */
const char *mf_fakehost_output(void);

/* Load a plugin .so with dlopen and call its entry with the fake host. NULL on failure with
 * the reason in mf_fakehost_logs(). */
const struct mf_plugin_desc *mf_fakehost_load(const char *path);

#endif
