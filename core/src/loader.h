/* Plugin discovery and loading. Every libltdl call of mflow lives in loader.c. */
#ifndef MF_LOADER_H
#define MF_LOADER_H

#include <mflow/plugin.h>

#include <stddef.h>
#include <stdint.h>

typedef struct mf_registry mf_registry;

/* What `mflow plugins` shows of one file that was found. Strings live as long as the registry. */
struct mf_plugin_info {
    const char *path;        /* absolute path of the .so */
    const char *name;        /* descriptor name, or the name the file name suggests */
    uint32_t kind;           /* enum mf_plugin_kind, 0 when unknown */
    const char *version;     /* plugin version or "" */
    const char *description; /* or "" */
    uint32_t abi_major;      /* as the plugin declares; 0 when unknown */
    uint32_t abi_minor;
    int loaded;              /* 1: usable; 0: refused, see error */
    const char *error;       /* why it was refused: names the file, reason, both versions */
    const char *warning;     /* loaded, but exports more than its entry (names them); or NULL */
    const struct mf_plugin_desc *desc; /* when loaded */
};

/* Create an empty registry that passes `host` to every plugin entry. `host` is borrowed and
 * must outlive the registry. */
int mf_registry_create(const struct mf_host_api *host, mf_registry **out);
/* Unload everything; NULL is a no-op. */
void mf_registry_destroy(mf_registry *r);

/* Add the search directories in order: every directory of $MFLOW_PLUGIN_PATH (':'-separated)
 * after the built-in one — the build tree's plugins/ when this mflow runs from its build
 * tree, else the installed plugin directory. */
int mf_registry_add_default_dirs(mf_registry *r);
/* Add one directory to search (searched recursively up to 3 levels for *.so). */
int mf_registry_add_dir(mf_registry *r, const char *dir);

/* The search directories in order (absolute); NULL past the end. Lives as long as the
 * registry. A directory that does not exist is kept (and skipped when searching) so that
 * `mflow plugins` can say so. */
size_t mf_registry_dir_count(const mf_registry *r);
const char *mf_registry_dir(const mf_registry *r, size_t i);

/* Load every *.so of every directory; refusals are recorded, not fatal. Returns 0, or
 * MF_ENOMEM. */
int mf_registry_load_all(mf_registry *r);
size_t mf_registry_count(const mf_registry *r);
const struct mf_plugin_info *mf_registry_at(const mf_registry *r, size_t i);

/* The loaded plugin of that kind and name. Tries the conventional file name
 * mflow_<kind>_<name>.so in each directory first (so a task loads one plugin, not all),
 * then falls back to loading all. Returns NULL when none; then mf_registry_error says why
 * (unknown plugin with the list of known names, or the refusal of the file found). */
const struct mf_plugin_desc *mf_registry_find(mf_registry *r, uint32_t kind, const char *name);
const char *mf_registry_error(const mf_registry *r);

/* The storage plugin whose `schemes` (ABI 1.3) lists the scheme of root ("sqlite" of
 * "sqlite:///x.db", compared without case). Loads every plugin to know. 0 with *out set;
 * MF_ENOTFOUND when none serves it (the message names the scheme and the storage plugins
 * found with their schemes); MF_EINVAL when two claim it (the message names both) or root
 * has no scheme; MF_ENOMEM. */
int mf_registry_find_scheme(mf_registry *r, const char *root, const struct mf_plugin_desc **out);

/* "compute", "storage", "scheduler" or "unknown". */
const char *mf_plugin_kind_name(uint32_t kind);

#endif
