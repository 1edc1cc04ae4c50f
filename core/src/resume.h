/* Resume: which run a resumed run starts from (its origin), the origin's finished tasks as
 * its datastore holds them, which steps run again, and the map by position (record.h) that
 * tells the runtime which of its tasks it can clone. Nothing here prints: warnings go to the
 * caller's function, errors come back as codes with a message. */
#ifndef MF_RESUME_H
#define MF_RESUME_H

#include "graph.h"
#include "index.h"
#include "record.h"
#include "store.h"

#include <stddef.h>
#include <stdint.h>

/* A warning (no "mflow: warning: " prefix, no newline); msg lives during the call. */
typedef void (*mf_resume_warn_fn)(void *ud, const char *msg);

/* The latest run of `flow` in namespace `ns` ("" = any) that has a run record in st, other
 * than self_run (the run being set up). Runs the index lists without a run record (a set-up
 * that failed early, in versions that indexed such runs) are passed over. 0 with *origin;
 * MF_ENOTFOUND with *err saying how to find one; an index error with its message. */
int mf_resume_pick_origin(mf_index *ix, struct mf_store *st, const char *flow, const char *ns,
                          int64_t self_run, int64_t *origin, char **err);

/* Read the origin's run record and its parameters (into params, initialized by the caller).
 * 0; MF_ENOTFOUND ("no such run") or a storage error, with *err. */
int mf_resume_read_origin(struct mf_store *st, const char *flow, int64_t origin,
                          struct mf_run_rec *r, struct mf_task_record *params, char **err);

/* A task of the origin: its latest attempt and what it came to. */
struct mf_resume_task {
    char step[MF_NAME_MAX];
    int64_t task;
    uint32_t attempt;            /* latest attempt on record */
    int32_t status;              /* MF_STATUS_FAILED also for a damaged record, or a success
                                    past its step's timeout_s (it runs again) */
    char *pos;                   /* position when it can be reused, else NULL */
};

/* The origin's tasks, found by listing the datastore (not the index: tasks that finished
 * after their orchestrator was killed are on record only there), each read at its latest
 * attempt. A damaged record, or a success that does not show it ran within its step's
 * timeout_s in g, counts as failed, with a warning. *out is freed with mf_resume_tasks_free.
 * 0, or an error with *err. */
int mf_resume_scan(struct mf_store *st, const mf_graph *g, const char *flow, int64_t origin,
                   mf_resume_warn_fn warn, void *ud, struct mf_resume_task **out, size_t *n,
                   char **err);
void mf_resume_tasks_free(struct mf_resume_task *t, size_t n);

/* The step to resume from: `named` when given (MF_EINVAL with *err when g has no such step),
 * else the step of the origin's first failed task (lowest id), or -1 when none failed. */
int mf_resume_from_step(const mf_graph *g, const char *flow, const char *named,
                        const struct mf_resume_task *t, size_t n, int *from, char **err);

/* Mark in rerun (g->n bytes, zeroed by the caller) every step reachable from `from`, itself
 * included; from -1 marks none. 0 or MF_ENOMEM. */
int mf_resume_rerun(const mf_graph *g, int from, unsigned char *rerun);

/* Compare the origin's stored graph with g for every step that is not run again: a step new
 * since the origin, or one whose next, foreach, join or type changed, is MF_EINVAL with a
 * message that names it and says what to do. */
int mf_resume_check_graph(struct mf_store *st, const mf_graph *g, const char *flow,
                          int64_t origin, const unsigned char *rerun, char **err);

/* The origin's reusable tasks by position. */
typedef struct mf_origin_map mf_origin_map;
struct mf_origin_task {
    char *pos;
    char *step;
    int64_t task;
    uint32_t attempt;
};
int mf_origin_map_create(int64_t run_id, mf_origin_map **out);
/* NULL is a no-op. */
void mf_origin_map_destroy(mf_origin_map *m);
/* Add a task; pos is taken (freed on failure too). 0 or MF_ENOMEM. */
int mf_origin_map_add(mf_origin_map *m, char *pos, const char *step, int64_t task,
                      uint32_t attempt);
/* The task at pos, or NULL; borrowed until the map changes. m NULL: NULL. */
const struct mf_origin_task *mf_origin_map_find(const mf_origin_map *m, const char *pos);
size_t mf_origin_map_size(const mf_origin_map *m);
int64_t mf_origin_map_run(const mf_origin_map *m);

#endif
