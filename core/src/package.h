/* Code packages: everything a task needs to run a flow away from this machine (the flow's
 * source, its compiled shared object, files beside it), as a reproducible tar.zst stored
 * content-addressed in the datastore under packages/. */
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
