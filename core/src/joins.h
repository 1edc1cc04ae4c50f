/* Join arrival bookkeeping: the inputs of each join that waits, keyed by the split task
 * whose frame it closes, and the input list the join gets once all have arrived. No I/O and
 * no global: the runtime owns one per run. */
#ifndef MF_JOINS_H
#define MF_JOINS_H

#include <stddef.h>
#include <stdint.h>

typedef struct mf_joins mf_joins;

/* Names a step of the flow (for the input list); borrowed, lives as long as the table. */
typedef const char *(*mf_joins_step_name_fn)(void *ud, int step);

/* A new, empty table. 0 or MF_ENOMEM. step_name and ud are kept. */
int mf_joins_create(mf_joins_step_name_fn step_name, void *ud, mf_joins **out);
/* Frees the table and every waiting join; NULL is a no-op. */
void mf_joins_destroy(mf_joins *j);

/* What arrives at a join: the task at position `index` of the `count` inputs of the split
 * `split_task` (the top frame of its record). */
struct mf_join_arrival {
    int64_t split_task;
    int join_step;
    uint32_t index, count;
    int step;                    /* the arriving task's step, id and attempt */
    int64_t task;
    uint32_t attempt;
};

/* Note an arrival. Returns 0 while the join waits for more inputs; 1 when this was the last
 * one: *inputs is then the join's input paths (malloc'd; index order, consecutive first
 * attempts of one step written as a range, "a/3-7,b/9@1"), and the join no longer waits.
 * Errors, with nothing changed: MF_ECORRUPT for an index past the split's count (or a
 * count of 0), or a count or join step that differs from what the split's first input gave;
 * MF_EEXIST for a position that already arrived; MF_EINVAL for a task id below 1; MF_ENOMEM. */
int mf_joins_arrive(mf_joins *j, const struct mf_join_arrival *a, char **inputs);

/* A join still waiting. */
struct mf_join_waiting {
    int64_t split_task;
    int join_step;
    uint32_t got, count;
};

/* How many joins wait, and the i-th of them (0 <= i < mf_joins_waiting). */
size_t mf_joins_waiting(const mf_joins *j);
void mf_joins_get(const mf_joins *j, size_t i, struct mf_join_waiting *out);

#endif
