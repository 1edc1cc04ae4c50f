/* Loading a flow: a .c file is compiled on the fly into a cache keyed by its content and by
 * everything the compiler read (headers, the compiler, its flags: an unchanged flow compiles
 * once; see flowload.c); a .so is loaded directly. The graph is built and checked. */
#ifndef MF_FLOWLOAD_H
#define MF_FLOWLOAD_H

#include "graph.h"

#include <mflow/flow.h>

#include <jansson.h>

struct mf_flow {
    void *dl;
    const mf_flow_def *def;      /* &own_def once the flow's definition has been read */
    mf_flow_def own_def;         /* the flow's tables copied at this mflow's entry sizes */
    mf_graph *graph;
    char *src_path;              /* absolute path of the .c, or NULL */
    char *so_path;               /* absolute path of the loaded .so; a .py flow's own path */
    int dl_kept;                 /* dl is mf_flow_preload's: never closed here */
    struct py_flow *py;          /* a flow written in Python (flowload_py.c), or NULL */
};

/* Open the flow at path. On failure returns non-zero and *err (malloc'd) names the file and
 * what to do; a compiler's own messages have already gone to stderr. */
int mf_flow_open(const char *path, struct mf_flow **out, char **err);
void mf_flow_close(struct mf_flow *f);

/* Load the prebuilt flow (.so) at path now and keep it loaded for the life of the process:
 * a later mf_flow_open of the same path string, here or in a forked child, takes its
 * resolved path and handle instead of resolving the path and asking the dynamic linker
 * again (the task server preloads its tasks' flow so). A path that does not resolve or load
 * is left for mf_flow_open to report. */
void mf_flow_preload(const char *path);
/* Open the preloaded flow whole (its tables read, its graph built and checked) and keep it:
 * mf_flow_open of the same path string then returns it as it is (mf_flow_close leaves it
 * open), here or in a forked child. Its code runs here: the task server calls this only once
 * a forked probe has opened it without crashing. 0, or the code mf_flow_open gave. */
int mf_flow_preload_open(void);

/* Called around the moment a flow's own code first runs in this process (dlopen with its
 * constructors, its MF_FLOW entry, the reading of its tables): entering is 1 before, 0 after.
 * `path` is the flow file (the .c, or the .so) and lives until the call with 0. The library
 * itself never prints nor catches signals; a program (the mflow command) can use this to name
 * the flow when its code crashes while loading. NULL removes it. */
typedef void (*mf_flow_load_guard_fn)(const char *path, int entering);
void mf_flow_set_load_guard(mf_flow_load_guard_fn fn);

/* Read the definition a flow exported as this mflow's structs: check its ABI version and
 * sizes (flow.h's compatibility rules), and copy its step and parameter tables entry by entry,
 * stepping by the entry sizes the flow recorded, into zeroed entries of this mflow's size.
 * *out borrows raw's strings and functions (they live in the flow's .so) and owns its tables:
 * release them with mf_flow_def_free. `what` names the flow's file in messages.
 * 0; MF_EABI with *err (malloc'd) naming the file, the versions or sizes and what to do; or
 * MF_ENOMEM. */
int mf_flow_def_read(const mf_flow_def *raw, const char *what, mf_flow_def *out, char **err);
/* Free the tables of a definition from mf_flow_def_read (not d itself); NULL is a no-op. */
void mf_flow_def_free(mf_flow_def *d);

/* ---- flows written in Python (flowload_py.c) ----------------------------------------------
 * A .py flow's graph is what `$MFLOW_PYTHON -m mflow graph FILE` prints (python3 by default,
 * with the SDK's directory first on PYTHONPATH), cached under $MFLOW_HOME/cache/flows by the
 * flow's bytes and checked against the bytes of every file the SDK listed as read. */
/* Read the graph of the Python flow at abs into f->own_def (its steps run through
 * mf_task_foreign_step). 0, or a code with *err (malloc'd, may be NULL for MF_ENOMEM). */
int mf_flow_py_load(struct mf_flow *f, const char *abs, char **err);
void mf_flow_py_free(struct mf_flow *f);
/* The graph document of a Python flow (borrowed, lives as long as f; its "files" and "deps"
 * say what its code package holds), or NULL for another flow. */
const json_t *mf_flow_py_doc(const struct mf_flow *f);
/* msg prefixed with "SHOWN:LINE: ", the line of the first step or parameter msg names
 * (malloc'd, NULL on out of memory). */
char *mf_flow_py_locate(const struct mf_flow *f, const char *shown, const char *msg);
/* $MFLOW_PYTHON or python3; the directory of the mflow Python package (build tree or
 * installed); put it first on PYTHONPATH in this process's environment, and MFLOW_LIBMFLOW
 * (0 or errno). */
const char *mf_python_exe(void);
const char *mf_python_dir(void);
int mf_python_env(void);
/* The libmflow.so of this mflow (build tree or installed): what the Python side loads. The
 * environment mf_python_env makes names it as MFLOW_LIBMFLOW, unless already set. */
const char *mf_libmflow_path(void);
/* 1 when the flow file's name ends in .py. */
int mf_flow_is_py(const char *path);

/* The include directory with mflow/flow.h (build tree or installed). */
const char *mf_sdk_include_dir(void);

#endif
