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
    const char *package_flow;    /* the package's flow, already fetched by the caller, or NULL */
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

/* Parse a task's command line, argv[0] being "task" (`task FLOW STEP --run-id R --task-id T
 * [--attempt A] [--input-paths P] [--split-index I] [--package ADDRESS] [--timeout-s S]`),
 * into *a (pointing into argv). 0; or 2 with *err (malloc'd) saying what is wrong, or NULL
 * when FLOW, STEP, --run-id or --task-id is missing (print the usage). */
int mf_task_args_parse(int argc, char **argv, struct mf_task_args *a, char **err);

/* ---- flows written in another language (the Python SDK over ctypes) ------------------------
 * The language's runtime runs a task with mf_task_run_foreign: the same task as
 * mf_task_execute (records, inputs, artifacts, the deadline, logs), with the step's body
 * called back: step(t, step_name, ud) returns 0, or non-zero after mf_task_foreign_fail
 * said why (that fails the task, as mf_fail does). Settings come from the environment
 * (MFLOW_HOME, MFLOW_STORAGE, MFLOW_DATASTORE_ROOT: `mflow task` sets them before it execs
 * the runtime). Returns the process exit code. */
typedef int (*mf_foreign_step_fn)(mf_task *t, const char *step, void *ud);
int mf_task_run_foreign(int argc, char **argv, mf_foreign_step_fn step, void *ud);
/* The fn of every step of a foreign flow. */
void mf_task_foreign_step(mf_task *t);
void mf_task_foreign_fail(mf_task *t, const char *msg);
/* What the runtime calls during a step. Each returns 0, or -1 when the task's own mf_fail
 * would have failed it: the reason is then mf_foreign_error(t) (valid until the next call),
 * and the step decides (a language raises it as an exception). Values are payloads without
 * the 8-byte header, of the types of enum mf_type; what get returns lives until the step
 * returns. */
int mf_foreign_set(mf_task *t, const char *name, int type, const void *payload, size_t len);
int mf_foreign_get(mf_task *t, const char *name, int *type, const void **payload, size_t *len);
int mf_foreign_input_get(mf_task *t, size_t i, const char *name, int *type,
                         const void **payload, size_t *len);
int mf_foreign_merge(mf_task *t, const char *exclude);
/* The innermost foreach: the artifact it fans out over, this task's index and the count;
 * -1 outside a foreach. */
int mf_foreign_item(mf_task *t, const char **var, uint64_t *index, uint64_t *count);
const char *mf_foreign_error(mf_task *t);
/* Large values without a second copy in memory.
 * A value written in pieces: open says its type and its payload's length (len bytes, the
 * 8-byte header not counted), write hands over pieces (borrowed for the call only), close
 * stores it as the artifact `name` (as mf_foreign_set would: the same blob, the same
 * checks of the name) and frees w whatever it returns; abort frees w and stores nothing
 * (NULL: a no-op). The pieces are hashed and compressed as they come (mf_blob_writer_open,
 * blob.h). Each returns 0 or -1 as above; after a failed write only abort is left.
 * A value read into the caller's memory: stat gives the type and payload length of artifact
 * `name` of this task (input < 0) or of input `input`; read copies (or decompresses) that
 * payload into dst, which must hold exactly len bytes, hashing as it goes: 0 only once the
 * hash matched. Pages of the stored blob are let go as they are copied. */
typedef struct mf_foreign_writer mf_foreign_writer;
int mf_foreign_writer_open(mf_task *t, int type, uint64_t len, mf_foreign_writer **w);
int mf_foreign_writer_write(mf_task *t, mf_foreign_writer *w, const void *data, size_t len);
int mf_foreign_writer_close(mf_task *t, mf_foreign_writer *w, const char *name);
void mf_foreign_writer_abort(mf_task *t, mf_foreign_writer *w);
int mf_foreign_stat(mf_task *t, int64_t input, const char *name, int *type, uint64_t *len);
int mf_foreign_read(mf_task *t, int64_t input, const char *name, void *dst, size_t len);
/* A value read into memory the caller hands out as the read goes (a pickle's container:
 * each buffer into an object of its own): next(ud, &dst, &len) gives the next span of the
 * payload to fill (the header is not the caller's), 0 or non-zero to stop the read (which
 * then fails); it is asked for a span only once the one before is full, and the spans must
 * add up to the payload's length (mf_foreign_stat). 0 only once the hash matched. */
typedef int (*mf_foreign_span_fn)(void *ud, void **dst, size_t *len);
int mf_foreign_read_spans(mf_task *t, int64_t input, const char *name, mf_foreign_span_fn next,
                          void *ud);
/* Load once, before a task server forks its first child, what every task of argv's flow
 * loads (its graph, the storage plugin); failures are left for the tasks to meet. */
void mf_task_foreign_preload(int argc, char **argv);
/* A task server written in another language applies in each child what mflow's own applies
 * (<mflow/task_server.h>, mf_ts_child_setup_apply): 0, or the enum mf_ts_step that failed
 * with errno set. */
int mf_task_foreign_child_setup(int stdin_fd, int stdout_fd, int stderr_fd, const char *workdir,
                                const void *cpuset, size_t cpuset_size, int cgroup_procs_fd,
                                unsigned long long data_limit);

#endif
