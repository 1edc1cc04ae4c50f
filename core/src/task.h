/* One task, in its own process: read the inputs' records, run the step function, store the
 * artifacts it set and its record. This is what `mflow task` does. */
#ifndef MF_TASK_H
#define MF_TASK_H

#include <stddef.h>
#include <stdint.h>

struct mf_task_args {
    const char *flow_path;       /* the flow's .so (or .c) */
    const char *step;
    int64_t run_id;
    int64_t task_id;
    uint32_t attempt;
    const char *input_paths;     /* see mf_record_read_inputs */
    int64_t split_index;         /* foreach position, -1 when not a foreach split */
    const char *package;         /* code package address: load the flow from it, or NULL */
    uint32_t timeout_s;          /* the step's timeout_s, held by the task itself; 0 none */
};

/* Run the task; returns the process exit code (0 when the step succeeded). With timeout_s,
 * a task still running its step at the deadline stores a record that says it timed out and
 * then SIGKILLs its process group (itself alone when it leads none); elsewhere it is killed
 * at once. Its record's start_time is when it started, before the flow was loaded. */
int mf_task_execute(const struct mf_task_args *a);

/* A read-only task over a finished task's record (what an endpoint reads): the flow API's
 * getters read its artifacts through st, and keep every value read until the view is closed
 * (so a value is read from the datastore once); setters fail. It takes rec's contents (rec is
 * left empty). flow and st must outlive it. Used by one thread at a time. 0, MF_EINVAL (the
 * flow has no such step) or MF_ENOMEM. */
struct mf_flow;
struct mf_store;
struct mf_task_record;
typedef struct mf_task mf_task;
typedef struct mf_endpoint mf_endpoint;
int mf_task_view_open(struct mf_flow *flow, struct mf_store *st, struct mf_task_record *rec,
                      mf_task **out);
void mf_task_view_close(mf_task *t);
/* Call fn(e) with t as the task that failing getters and mf_fail leave through: 0 when fn
 * returned (*ret its value); 1 when it failed (*msg the message, malloc'd, or NULL when out of
 * memory). */
int mf_task_view_call(mf_task *t, int (*fn)(mf_endpoint *), mf_endpoint *e, int *ret, char **msg);

#endif
