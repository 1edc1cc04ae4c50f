/* The orchestrator: runs a flow's tasks through compute plugins, records the run. */
#ifndef MF_RUNTIME_H
#define MF_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

struct mf_runlog_sink;

struct mf_run_opts {
    const char *flow_path;
    const char *const *param_args;   /* "name=value" */
    size_t n_params;
    int max_workers;                 /* 0: the machine's cores */
    const char *const *tags;
    size_t n_tags;
    const char *run_id_file;
    /* resume: a new run that clones the origin's finished tasks before resume_step */
    int resume;
    int64_t origin_run_id;           /* 0: the latest run of the flow in the namespace */
    const char *resume_step;         /* NULL: the first step that failed in the origin */
    /* where messages, task output and the progress line go (runlog.h); NULL: stdout and
     * stderr, the progress line when stderr is a terminal */
    const struct mf_runlog_sink *sink;
};

/* Run the flow; returns the exit code for the command (0 only when the run succeeded, 130
 * when interrupted). Messages go to o->sink (by default stderr). */
int mf_run_flow(const struct mf_run_opts *o);

#endif
