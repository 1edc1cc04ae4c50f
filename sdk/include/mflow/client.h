/*
 * mflow client API: read past runs — their steps, tasks, artifacts and logs — and tag runs.
 *
 *     #include <mflow/client.h>          cc app.c $(pkg-config --cflags --libs mflow)
 *
 *     mf_client *c;
 *     if (mf_client_open(NULL, &c) != 0) {               // $MFLOW_HOME, namespace user:$USER
 *         fprintf(stderr, "%s\n", mf_client_error(c));
 *         mf_client_close(c);
 *         return 1;
 *     }
 *     mf_client_task *t;
 *     if (mf_client_task_open(c, "ForeachFlow/3/end/8", &t) == 0) {
 *         int64_t sum;
 *         const mf_client_artifact *a = mf_client_task_artifact_find(t, "sum");
 *         if (a && mf_client_artifact_i64(a, &sum) == 0)
 *             printf("%lld\n", (long long)sum);
 *         mf_client_task_free(t);
 *     }
 *     mf_client_close(c);
 *
 * What it reads. The lmdb index under $MFLOW_HOME/index lists flows, runs and tasks (the latest
 * attempt of each); the datastore (a storage plugin on the datastore root) holds the records of
 * every attempt, the artifact values and the logs. Listings come from the index alone; a
 * task's inputs, artifacts and older attempts come from the datastore. Runs made elsewhere on a
 * shared datastore appear once `mflow reindex` has rebuilt the index.
 *
 * Namespaces. Every run belongs to a namespace ("user:alice" by default). A client sees the
 * runs of one namespace, or of all when its namespace is "". Naming a run of another namespace
 * fails with MF_ENOTFOUND and a message saying which namespace holds it.
 *
 * Handles. mf_client and everything made from it are opaque. Every handle belongs to the
 * client that made it: free it before closing the client. Handles reached through a list
 * (mf_client_runs_at, mf_client_tasks_at, mf_client_steps_at) and artifacts are borrowed: they
 * live as long as the list or owner they came from and are never freed on their own (the
 * free functions ignore them). Strings returned as `const char *` are borrowed with the
 * lifetime of the handle they came from. Buffers returned through `char **`, `void **` and
 * friends are malloc'd and the caller releases them with free().
 *
 * Return codes. 0 is success; negative values are the MF_E* codes of <mflow/plugin.h>
 * (MF_ENOTFOUND, MF_EINVAL, MF_ECORRUPT, MF_ENOMEM, ...); positive values are errno values.
 * After a failure, mf_client_error() of the client describes it: it names the thing (run,
 * task, artifact, file) and says what to do. mf_client_strerror() names a code.
 *
 * Threads. A client and its handles are used by one thread at a time. A process may hold
 * one client per MFLOW_HOME at once (lmdb allows one open per process). Home, storage and
 * datastore root are settings of the whole process: opening a client with other ones
 * re-initialises them (and reloads the plugins), which mf_client_open refuses while another
 * client is open; clients open at the same time share them.
 *
 * The library never exits or aborts; out of memory is MF_ENOMEM.
 */
#ifndef MFLOW_CLIENT_H
#define MFLOW_CLIENT_H

#include <mflow/flow.h>     /* mf_type */
#include <mflow/plugin.h>   /* MF_E* return codes */

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MF_CLIENT_API_VERSION 1

typedef struct mf_client mf_client;
typedef struct mf_client_run mf_client_run;
typedef struct mf_client_runs mf_client_runs;
typedef struct mf_client_step mf_client_step;
typedef struct mf_client_steps mf_client_steps;
typedef struct mf_client_task mf_client_task;
typedef struct mf_client_tasks mf_client_tasks;
typedef struct mf_client_artifact mf_client_artifact;

/* Status of a run, a task or a step (the same numbers as the stored records). */
enum mf_client_status {
    MF_CLIENT_PENDING = 1,
    MF_CLIENT_RUNNING = 2,
    MF_CLIENT_SUCCEEDED = 3,
    MF_CLIENT_FAILED = 4,
    MF_CLIENT_CANCELLED = 5,
};

/* Log streams of a task attempt. */
enum mf_client_stream {
    MF_CLIENT_STDOUT = 1,
    MF_CLIENT_STDERR = 2,
};

/* ---- the client ------------------------------------------------------------------------- */

/* Where to look. Zero every field you do not set; NULL means "from the settings": the mflow
 * command line when called from it, then MFLOW_HOME, MFLOW_STORAGE, MFLOW_DATASTORE_ROOT,
 * MFLOW_NAMESPACE, then $MFLOW_HOME/config.json, then the defaults. */
struct mf_client_opts {
    uint32_t struct_size;        /* sizeof(struct mf_client_opts) */
    uint32_t reserved;
    const char *home;            /* MFLOW_HOME; default ~/.mflow */
    const char *datastore_root;  /* default $MFLOW_HOME/datastore */
    const char *storage;         /* storage plugin name; default from the root ("local", "s3") */
    const char *ns;              /* namespace; NULL: user:$USER (or MFLOW_NAMESPACE); "": all */
};

/* Open a client (opts may be NULL: every setting from the environment). The index is opened
 * (created when absent); the datastore is opened on first use.
 * Returns 0, MF_EINVAL (bad opts, or settings that differ from a client already open),
 * MF_ECORRUPT (an index of another format: the message says to run `mflow reindex`) or an
 * errno. On failure *out is still a handle — NULL only when out of memory — that serves only
 * mf_client_error and mf_client_close: close it in every case. */
int mf_client_open(const struct mf_client_opts *opts, mf_client **out);
/* Close the client. NULL is a no-op. Every handle made from it must be freed before. */
void mf_client_close(mf_client *c);
/* The message of the client's last failure; never NULL (c NULL: out of memory). Valid until
 * the next call on the client or one of its handles. */
const char *mf_client_error(const mf_client *c);
/* A short name for a return code ("not found", "corrupt data", ...); never NULL. */
const char *mf_client_strerror(int rc);
/* The client's namespace; "" when it sees all. */
const char *mf_client_namespace(const mf_client *c);
/* "pending", "running", "succeeded", "failed", "cancelled"; "unknown" otherwise. */
const char *mf_client_status_name(int status);
/* "i64", "f64", "str", "bytes", "i64[]", "f64[]", "str[]", "obj", "pickle", "npy";
 * "?" otherwise. */
const char *mf_client_type_name(mf_type type);

/* ---- flows ------------------------------------------------------------------------------ */

/* Names of the flows with at least one run in the client's namespace, sorted. *names is one
 * malloc'd block: an array of *n pointers and a NULL, then the strings; free(*names). */
int mf_client_flows(mf_client *c, char ***names, size_t *n);

/* ---- runs ------------------------------------------------------------------------------- */

/* Runs of `flow` in the namespace that carry every one of tags[0..n_tags) (none: all runs),
 * newest first. Free the list with mf_client_runs_free. A flow without runs gives an empty
 * list, not an error. */
int mf_client_list_runs(mf_client *c, const char *flow, const char *const *tags, size_t n_tags,
                   mf_client_runs **out);
size_t mf_client_runs_count(const mf_client_runs *l);
/* Borrowed: lives as long as the list. NULL when i is out of range. */
mf_client_run *mf_client_runs_at(const mf_client_runs *l, size_t i);
void mf_client_runs_free(mf_client_runs *l);

/* One run: by id, by pathspec "Flow/run", or the newest (successful_only: the newest that
 * succeeded). 0, MF_ENOTFOUND (no such run, or it is in another namespace), or another code.
 * Free with mf_client_run_free. */
int mf_client_run_get(mf_client *c, const char *flow, int64_t run_id, mf_client_run **out);
int mf_client_run_open(mf_client *c, const char *pathspec, mf_client_run **out);
int mf_client_run_latest(mf_client *c, const char *flow, int successful_only,
                         mf_client_run **out);
/* NULL and borrowed handles are ignored. */
void mf_client_run_free(mf_client_run *r);

const char *mf_client_run_flow(const mf_client_run *r);
int64_t mf_client_run_id(const mf_client_run *r);
const char *mf_client_run_pathspec(const mf_client_run *r);    /* "Flow/run" */
int mf_client_run_status(const mf_client_run *r);               /* enum mf_client_status */
const char *mf_client_run_user(const mf_client_run *r);
const char *mf_client_run_namespace(const mf_client_run *r);
const char *mf_client_run_host(const mf_client_run *r);         /* of the orchestrator */
int32_t mf_client_run_pid(const mf_client_run *r);              /* of the orchestrator */
/* The storage plugin and datastore root the run used (what get, inspect, logs and resume
 * reopen when no storage is chosen); "" for a run made before runs recorded them. */
const char *mf_client_run_storage(const mf_client_run *r);
const char *mf_client_run_storage_root(const mf_client_run *r);
double mf_client_run_start_time(const mf_client_run *r);        /* unix seconds */
double mf_client_run_end_time(const mf_client_run *r);          /* 0 while running */
int64_t mf_client_run_origin_run_id(const mf_client_run *r);    /* resumed from; 0: none */
uint32_t mf_client_run_task_count(const mf_client_run *r);      /* recorded when it ended */
uint32_t mf_client_run_failed_count(const mf_client_run *r);
/* 1 when the run is recorded as running but its orchestrator process is gone from this
 * host (killed before it could record the end); 0 otherwise, also when it ran elsewhere. */
int mf_client_run_dead(const mf_client_run *r);
/* When the run was last known to work: its end time when it ended; for a dead run (above),
 * the latest start or end of a task its orchestrator recorded, or its start when none (so a
 * dead run's duration stops growing); 0 while it runs. Looks the tasks up in the index on the
 * first call for a dead run. */
double mf_client_run_last_active(mf_client_run *r);
size_t mf_client_run_tag_count(const mf_client_run *r);
const char *mf_client_run_tag(const mf_client_run *r, size_t i);  /* NULL out of range */
int mf_client_run_has_tag(const mf_client_run *r, const char *tag);

/* Parameters of the run, read from its run record in the datastore on the first call (later
 * calls return at once). Then mf_client_run_param_count/at/find give them as artifacts. */
int mf_client_run_load_params(mf_client_run *r);
size_t mf_client_run_param_count(const mf_client_run *r);         /* 0 before loading */
const mf_client_artifact *mf_client_run_param_at(const mf_client_run *r, size_t i);
const mf_client_artifact *mf_client_run_param_find(const mf_client_run *r, const char *name);

/* The graph the run stored when it started (sdk/DATASTORE.md section 6: steps with their
 * successors in "next"), as JSON text: *json is malloc'd and NUL-terminated (free it), *len
 * (may be NULL) its length. MF_ENOTFOUND when the run stored no graph. */
int mf_client_run_graph(mf_client_run *r, char **json, size_t *len);

/* Tags. Both change the run record in the datastore (the source of truth, so that
 * `mflow reindex` keeps them) and the index, and update r. Adding a present tag or removing
 * a missing one is not an error. System tags — "user:..." and "mflow_version:..." — are set
 * by mflow: adding or removing one is MF_EINVAL. */
int mf_client_run_tag_add(mf_client_run *r, const char *tag);
int mf_client_run_tag_remove(mf_client_run *r, const char *tag);
/* 1 when tag is a system tag. */
int mf_client_tag_is_system(const char *tag);

/* ---- steps ------------------------------------------------------------------------------ */

/* Steps of a run, from the index, in graph order (the order of the flow's step table when the
 * run stored its graph, else the order in which their first tasks started). With a stored
 * graph, steps that never ran are listed with no tasks. Free with mf_client_steps_free. */
int mf_client_list_steps(mf_client_run *r, mf_client_steps **out);
size_t mf_client_steps_count(const mf_client_steps *l);
const mf_client_step *mf_client_steps_at(const mf_client_steps *l, size_t i);  /* borrowed */
void mf_client_steps_free(mf_client_steps *l);

const char *mf_client_step_name(const mf_client_step *s);
size_t mf_client_step_task_count(const mf_client_step *s);
/* Tasks of the step whose (latest attempt's) status is `status`. */
size_t mf_client_step_status_count(const mf_client_step *s, int status);
/* Overall: failed if a task failed, else running if one runs, else cancelled if one was
 * cancelled, else succeeded when all did; pending when it has no tasks. */
int mf_client_step_status(const mf_client_step *s);
int64_t mf_client_step_first_task_id(const mf_client_step *s);   /* -1 with no tasks */
double mf_client_step_start_time(const mf_client_step *s);       /* earliest task start */
double mf_client_step_end_time(const mf_client_step *s);         /* latest task end */

/* ---- tasks ------------------------------------------------------------------------------ */

/* Tasks of a run (step NULL: of every step), from the index, ordered by task id. Tasks of a
 * list are not loaded (see mf_client_task_load). Free with mf_client_tasks_free. */
int mf_client_list_tasks(mf_client_run *r, const char *step, mf_client_tasks **out);
size_t mf_client_tasks_count(const mf_client_tasks *l);
mf_client_task *mf_client_tasks_at(const mf_client_tasks *l, size_t i);   /* borrowed */
void mf_client_tasks_free(mf_client_tasks *l);

/* One task, loaded, at its latest attempt. task_open takes "Flow/run/step/task", or
 * "Flow/run/step" when that step has exactly one task (else MF_EINVAL, naming its tasks).
 * 0, MF_ENOTFOUND, MF_EINVAL (not a pathspec), MF_ECORRUPT (its record is damaged), ... */
int mf_client_task_get(mf_client *c, const char *flow, int64_t run_id, const char *step,
                       int64_t task_id, mf_client_task **out);
int mf_client_task_open(mf_client *c, const char *pathspec, mf_client_task **out);
/* The same task at another attempt (0 .. mf_client_task_attempt(t)), loaded from that
 * attempt's record. MF_ENOTFOUND when that attempt left no record. */
int mf_client_task_get_attempt(mf_client_task *t, uint32_t attempt, mf_client_task **out);
/* NULL and borrowed handles are ignored. */
void mf_client_task_free(mf_client_task *t);

/* Known without loading (from the index, or the attempt's record for get_attempt). */
const char *mf_client_task_flow(const mf_client_task *t);
int64_t mf_client_task_run_id(const mf_client_task *t);
const char *mf_client_task_step(const mf_client_task *t);
int64_t mf_client_task_id(const mf_client_task *t);
const char *mf_client_task_pathspec(const mf_client_task *t);     /* "Flow/run/step/task" */
uint32_t mf_client_task_attempt(const mf_client_task *t);         /* from 0 */
int mf_client_task_status(const mf_client_task *t);               /* enum mf_client_status */
double mf_client_task_start_time(const mf_client_task *t);
double mf_client_task_end_time(const mf_client_task *t);
int mf_client_task_exit_code(const mf_client_task *t);            /* -1 when unknown */
int mf_client_task_signal(const mf_client_task *t);               /* 0: none */
/* Innermost foreach position: index of count; count 0 when the task is in no foreach. */
uint32_t mf_client_task_foreach_index(const mf_client_task *t);
uint32_t mf_client_task_foreach_count(const mf_client_task *t);
/* "Flow/run/step/task" this task was cloned from by resume, or NULL. */
const char *mf_client_task_origin(const mf_client_task *t);

/* Read the task's record from the datastore (once; later calls return 0 at once). Tasks from
 * task_get, task_open and get_attempt are loaded already. */
int mf_client_task_load(mf_client_task *t);
int mf_client_task_loaded(const mf_client_task *t);

/* Known once loaded (NULL or 0 before). */
const char *mf_client_task_message(const mf_client_task *t);      /* failure message or NULL */
const char *mf_client_task_host(const mf_client_task *t);
size_t mf_client_task_input_count(const mf_client_task *t);
const char *mf_client_task_input(const mf_client_task *t, size_t i);   /* "step/task" */
/* The split frames around the task, outermost first: the split step and task, whether it is
 * a foreach (else a branch), and which item or branch of how many this task is under.
 * 0, or MF_EINVAL when i is out of range. */
size_t mf_client_task_frame_count(const mf_client_task *t);
int mf_client_task_frame(const mf_client_task *t, size_t i, const char **split_step,
                         int64_t *split_task, int *is_foreach, uint32_t *index, uint32_t *count);
/* Items of the foreach this task splits into; -1 when it is not a foreach step. */
int64_t mf_client_task_foreach_items(const mf_client_task *t);
size_t mf_client_task_artifact_count(const mf_client_task *t);
const mf_client_artifact *mf_client_task_artifact_at(const mf_client_task *t, size_t i);
const mf_client_artifact *mf_client_task_artifact_find(const mf_client_task *t,
                                                       const char *name);

/* Parents: the tasks named by its inputs, in input order (a join's input i is parent i), not
 * loaded. Children: the tasks whose inputs name it, ordered by task id and loaded (found by
 * reading the records of the run's tasks in the steps that follow this one, as the graph the
 * run stored says). Both load t; free the lists with mf_client_tasks_free. */
int mf_client_task_parents(mf_client_task *t, mf_client_tasks **out);
int mf_client_task_children(mf_client_task *t, mf_client_tasks **out);

/* The log of one attempt (stream MF_CLIENT_STDOUT or MF_CLIENT_STDERR): *data is malloc'd and
 * NUL-terminated (free it), *len its length. An attempt that wrote nothing gives "" (0);
 * an attempt beyond mf_client_task_attempt(t) is MF_ENOTFOUND. */
int mf_client_task_log(mf_client_task *t, uint32_t attempt, int stream, char **data,
                       size_t *len);
/* A page of that log: at most limit bytes from byte offset on (fewer at its end, none from
 * its end on), *data malloc'd and NUL-terminated, *len its length, *total the whole log's
 * length. Only the page is read where the storage plugin reads ranges (get_range, plugin
 * ABI 1.4: local does); else the whole log is read and the page kept. */
int mf_client_task_log_page(mf_client_task *t, uint32_t attempt, int stream, uint64_t offset,
                            size_t limit, char **data, size_t *len, uint64_t *total);

/* ---- artifacts -------------------------------------------------------------------------- */

const char *mf_client_artifact_name(const mf_client_artifact *a);
mf_type mf_client_artifact_type(const mf_client_artifact *a);
/* Bytes of the value's payload (the encoded value less its 8-byte header). */
uint64_t mf_client_artifact_size(const mf_client_artifact *a);
/* Hex SHA-256 of the encoded value: its content address in the datastore. */
const char *mf_client_artifact_key(const mf_client_artifact *a);

/* Typed getters: read the blob, verify it against its hash, decode. 0; MF_EINVAL when the
 * artifact has another type (the message names both); MF_ECORRUPT when the stored bytes do
 * not match their hash or format; MF_ENOTFOUND when the blob is missing; a storage error.
 * str: NUL-terminated copy (*len may be NULL). bytes: a copy (accepts str artifacts too).
 * Lists: one malloc'd array; for strv, *n pointers followed by the strings in the same block.
 * value: the payload of any type as stored (sdk/DATASTORE.md), with its type. */
int mf_client_artifact_i64(const mf_client_artifact *a, int64_t *v);
int mf_client_artifact_f64(const mf_client_artifact *a, double *v);
int mf_client_artifact_str(const mf_client_artifact *a, char **s, size_t *len);
int mf_client_artifact_bytes(const mf_client_artifact *a, void **data, size_t *len);
int mf_client_artifact_i64v(const mf_client_artifact *a, int64_t **v, size_t *n);
int mf_client_artifact_f64v(const mf_client_artifact *a, double **v, size_t *n);
int mf_client_artifact_strv(const mf_client_artifact *a, char ***v, size_t *n);
int mf_client_artifact_value(const mf_client_artifact *a, mf_type *type, void **payload,
                             size_t *len);

/* A value's payload read piece by piece, for sending a large one without holding it (what
 * mflow ui's downloads use). Open gives MF_ENOTSUP when the value cannot be read so (its blob
 * is compressed, or the storage plugin reads no ranges): use mf_client_artifact_value. Each
 * read gives the next at most max bytes (*got 0 at the end); the value's hash is checked
 * with its last piece, which then fails with MF_ECORRUPT (the bytes read were not the value)
 * instead of giving that piece. The artifact must outlive the reader. */
typedef struct mf_client_reader mf_client_reader;
int mf_client_artifact_reader_open(const mf_client_artifact *a, mf_client_reader **out,
                                   uint64_t *len);
int mf_client_artifact_reader_read(mf_client_reader *r, void *buf, size_t max, size_t *got);
void mf_client_artifact_reader_close(mf_client_reader *r);

#ifdef __cplusplus
}
#endif
#endif /* MFLOW_CLIENT_H */
