/* Task and run records: what the datastore keeps about each task attempt and each run, as
 * JSON (readable from any language). Where they live, and every other datastore key: model.h.
 */
#ifndef MF_RECORD_H
#define MF_RECORD_H

#include "blob.h"
#include "model.h"

#include <mflow/flow.h>

#include <stddef.h>
#include <stdint.h>

#define MF_RECORD_FORMAT 1

struct mf_artifact_ref {
    char *name;
    mf_type type;
    char key[MF_BLOB_KEY_LEN + 1];
    uint64_t size;               /* encoded value length */
};

enum mf_frame_kind {
    MF_FRAME_BRANCH = 1,
    MF_FRAME_FOREACH = 2,
};

/* One open split around a task: the split's step and task, which branch or item this is. */
struct mf_frame {
    char *step;
    int64_t task;
    int kind;                    /* enum mf_frame_kind */
    uint32_t index, count;
};

struct mf_task_record {
    char *flow;
    int64_t run_id;
    char *step;
    int64_t task_id;
    uint32_t attempt;
    int status;                  /* MF_STATUS_* (model.h) */
    int exit_code;
    int term_signal;
    char *message;               /* failure message or NULL */
    char *host;
    double start_time, end_time;
    char **inputs;               /* "step/task" (attempt implied: the successful one) */
    uint32_t *input_attempts;
    size_t n_inputs;
    struct mf_frame *stack;
    size_t depth;
    int64_t foreach_count;       /* foreach steps: number of items; else -1 */
    struct mf_artifact_ref *arts;
    size_t n_arts;
    char *origin;                /* "Flow/run/step/task" when cloned by resume, else NULL */
};

void mf_task_record_init(struct mf_task_record *r);
void mf_task_record_free(struct mf_task_record *r);   /* frees members, not r */

/* JSON text (malloc'd) of a record, and back. from_json: 0, MF_ENOTSUP for a record of a
 * newer format than MF_RECORD_FORMAT (the message names it), or MF_ECORRUPT, with *err set. */
char *mf_task_record_to_json(const struct mf_task_record *r);
/* The same text through a jansson tree alone (to_json writes plain records without one and
 * hands the rest to this; tests compare the two). */
char *mf_task_record_to_json_tree(const struct mf_task_record *r);
int mf_task_record_from_json(const char *text, size_t len, struct mf_task_record *r, char **err);
/* The same through a jansson tree alone. from_json reads the form to_json writes without one
 * and hands anything else to this; tests compare the two. */
int mf_task_record_from_json_tree(const char *text, size_t len, struct mf_task_record *r,
                                  char **err);

/* Find an artifact by name; NULL when absent. */
const struct mf_artifact_ref *mf_record_find(const struct mf_task_record *r, const char *name);
/* Add or replace (copies name). 0 or MF_ENOMEM. */
int mf_record_set_art(struct mf_task_record *r, const char *name, mf_type type,
                      const char *key, uint64_t size);
/* Deep-copy src's artifacts into dst (replacing same names). */
int mf_record_inherit(struct mf_task_record *dst, const struct mf_task_record *src);

/* Read or write a record through a store. Read: 0, MF_ENOTFOUND, MF_ENOTSUP (a newer format,
 * named in *err), or MF_ECORRUPT. */
int mf_record_read(struct mf_store *st, const char *flow, int64_t run, const char *step,
                   int64_t task, uint32_t attempt, struct mf_task_record *r, char **err);
int mf_record_write(struct mf_store *st, const struct mf_task_record *r);



/* The stack and inherited artifacts of a task of `step` (graph index) from its inputs' records:
 * a linear or split child inherits input 0's artifacts and stack (plus a frame when input 0
 * is a split: split_index for a foreach); a join gets input 0's stack minus its top and the
 * parameters. The inputs are recorded (path and attempt). Not for start (it takes the run's
 * parameters). 0, or an error with *err. */
struct mf_graph;
int mf_record_derive(const struct mf_graph *g, int step, const struct mf_task_record *in,
                     size_t n_in, int64_t split_index, struct mf_task_record *out, char **err);

/* Compact input paths: "step/id[-id][@attempt],..." (ids in a range share step and attempt 0).
 * Parsed into malloc'd "step/id" strings and attempts. Ids and attempts are unsigned decimals
 * that fit (int64, uint32); at most MF_INPUT_PATHS_MAX paths. 0, MF_EINVAL or MF_ENOMEM (the
 * paths parsed before a failure are still in *paths for the caller to free). */
#define MF_INPUT_PATHS_MAX (1 << 20)
int mf_input_paths_parse(const char *text, char ***paths, uint32_t **attempts, size_t *n);

/* The records of a task's inputs. input_paths is the compact list, or "@" for the list the
 * orchestrator stored beside the task (runs/<Flow>/<run>/<step>/<task>.0.inputs); NULL or ""
 * means none. *out is freed with mf_record_free_inputs. 0, or an error with *err. */
int mf_record_read_inputs(struct mf_store *st, const char *flow, int64_t run, const char *step,
                          int64_t task, const char *input_paths, struct mf_task_record **out,
                          size_t *n, char **err);
void mf_record_free_inputs(struct mf_task_record *in, size_t n);

/* Where a task stands in its run, independent of task ids: "step|split:index,..." (malloc'd).
 * Resume matches tasks of two runs by it. */
char *mf_record_position(const struct mf_task_record *r);

/* Run records (runs/<Flow>/<run>/run.json): the index's run fields plus the parameters as
 * artifacts (name -> type, blob key). Reading one of a newer format is MF_ENOTSUP;
 * mf_record_newer_msg(key) says so (malloc'd). */
char *mf_record_newer_msg(const char *key);
char *mf_run_record_to_json(const struct mf_run_rec *r, const struct mf_task_record *params);
int mf_run_record_from_json(const char *text, size_t len, struct mf_run_rec *r,
                            struct mf_task_record *params);
int mf_run_record_read(struct mf_store *st, const char *flow, int64_t run, struct mf_run_rec *r,
                       struct mf_task_record *params);
int mf_run_record_write(struct mf_store *st, const struct mf_run_rec *r,
                        const struct mf_task_record *params);
#endif
