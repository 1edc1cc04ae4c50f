/* Code packages: everything a task needs to run a flow away from this machine (the flow's
 * source, its compiled shared object, files beside it), as a reproducible tar.zst stored
 * content-addressed in the datastore under packages/.
 *
 * What goes in (the documented rule; README.md "Code packages"), for a flow DIR/NAME.c:
 *   .mflow/flow.so         the compiled flow (what a task loads: no compiler needed there)
 *   .mflow/package.json    {"flow", "format", "mflow_version", "object", "source"}
 *   NAME.c                 the source
 *   *.h in DIR             headers beside it (what it can #include "..."; not recursive)
 *   NAME.files, if any     the manifest, and what it lists: one path or glob pattern a
 *                          line, relative to DIR ('#' comments, blank lines ignored); a
 *                          directory brings everything under it except hidden (".*")
 *                          names. A line that is absolute, has a ".." component, names
 *                          .mflow/, matches nothing, or reaches outside DIR through a link
 *                          is refused, naming the manifest line. Symlinks inside DIR are
 *                          stored as the file they point to; devices, FIFOs and sockets
 *                          are refused. At most 10000 files and 256 MiB.
 * Nothing else of DIR (nor of the home directory) is ever picked up. For a prebuilt
 * DIR/NAME.so: the object, the metadata and NAME.files with what it lists. For a Python
 * flow DIR/NAME.py: no object ("object": null, "language": "python"), NAME.py, the modules
 * it imported from DIR's tree (the graph document's "deps"), what its class's `files`
 * lists (patterns as in the manifest, under the same rules) and NAME.files if any; a task
 * runs the packaged NAME.py, which package.json names as "source".
 * Entries are sorted by path, with fixed times (0), owners (0/0) and modes (0644, or 0755
 * for directories and executables), written as pax tar and compressed with zstd: the same
 * files give the same bytes, so the same address. In a task the files lie under the
 * directory above .mflow/ (the package's root), at the same relative paths. */
#ifndef MF_PACKAGE_H
#define MF_PACKAGE_H

#include "blob.h"
#include "flowload.h"

/* Build the package of `flow` and store it (put-if-absent). *addr (malloc'd) is its address,
 * the datastore key "packages/<sha256>.tar.zst". The same flow gives the same bytes. If
 * `listing` is not NULL it receives a malloc'd text listing of the entries. 0, or an error
 * with *err (malloc'd) naming the file and what to do. */
int mf_package_build(struct mf_flow *flow, struct mf_store *st, char **addr, char **listing,
                     char **err);

/* Fetch the package at `addr`, check its hash, extract it safely into the package cache
 * ($MFLOW_HOME/cache/packages/<sha256>/, reused when present) and return in *flow_path
 * (malloc'd) the path of the flow to load from it. A package with a bad entry (absolute
 * path, "..", a link leading outside, a device file) is refused naming the entry. */
int mf_package_fetch(struct mf_store *st, const char *addr, char **flow_path, char **err);

#endif
