/* Join arrival bookkeeping (joins.h). */
#include "joins.h"

#include "util.h"

#include <mflow/plugin.h>

#include <stdlib.h>
#include <string.h>

/* A join waiting for its inputs; per position the arriving task (id 0: not yet). */
struct wait {
    int64_t split_task;
    int join_step;
    uint32_t count, got;
    int *steps;
    int64_t *ids;
    uint32_t *atts;
};

struct mf_joins {
    struct wait *w;
    size_t n, cap;
    mf_joins_step_name_fn step_name;
    void *ud;
};

int mf_joins_create(mf_joins_step_name_fn step_name, void *ud, mf_joins **out)
{
    *out = calloc(1, sizeof **out);
    if (!*out)
        return MF_ENOMEM;
    (*out)->step_name = step_name;
    (*out)->ud = ud;
    return 0;
}

static void wait_free(struct wait *w)
{
    free(w->steps);
    free(w->ids);
    free(w->atts);
}

void mf_joins_destroy(mf_joins *j)
{
    if (!j)
        return;
    for (size_t i = 0; i < j->n; i++)
        wait_free(&j->w[i]);
    free(j->w);
    free(j);
}

/* The join waiting on split_task, made when its first input arrives; NULL out of memory. */
static struct wait *wait_for(mf_joins *j, const struct mf_join_arrival *a)
{
    for (size_t i = 0; i < j->n; i++)
        if (j->w[i].split_task == a->split_task)
            return &j->w[i];
    if (mf_grow(&j->w, &j->cap, j->n, sizeof *j->w, 8))
        return NULL;
    struct wait *w = &j->w[j->n];
    memset(w, 0, sizeof *w);
    w->split_task = a->split_task;
    w->join_step = a->join_step;
    w->count = a->count;
    w->steps = calloc(a->count, sizeof *w->steps);
    w->ids = calloc(a->count, sizeof *w->ids);
    w->atts = calloc(a->count, sizeof *w->atts);
    if (!w->steps || !w->ids || !w->atts) {
        wait_free(w);
        return NULL;
    }
    j->n++;
    return w;
}

/* Input paths in index order, consecutive ids of one step written as a range. */
static char *compact_inputs(const mf_joins *j, const struct wait *w)
{
    struct mf_sbuf b = {0};
    for (uint32_t i = 0; i < w->count;) {
        uint32_t k = i;
        if (w->atts[i] == 0)
            while (k + 1 < w->count && w->atts[k + 1] == 0 && w->steps[k + 1] == w->steps[i] &&
                   w->ids[k + 1] == w->ids[k] + 1)
                k++;
        if (i)
            mf_sbuf_add(&b, ",", 1);
        mf_sbuf_addf(&b, "%s/%lld", j->step_name(j->ud, w->steps[i]), (long long)w->ids[i]);
        if (k > i)
            mf_sbuf_addf(&b, "-%lld", (long long)w->ids[k]);
        if (w->atts[i])
            mf_sbuf_addf(&b, "@%u", w->atts[i]);
        i = k + 1;
    }
    if (b.oom) {
        mf_sbuf_free(&b);
        return NULL;
    }
    return b.data ? b.data : strdup("");
}

int mf_joins_arrive(mf_joins *j, const struct mf_join_arrival *a, char **inputs)
{
    *inputs = NULL;
    if (a->index >= a->count)
        return MF_ECORRUPT;
    if (a->task < 1)
        return MF_EINVAL;
    size_t before = j->n;
    struct wait *w = wait_for(j, a);
    if (!w)
        return MF_ENOMEM;
    if (w->count != a->count || w->join_step != a->join_step || a->index >= w->count)
        return MF_ECORRUPT;
    if (w->ids[a->index])
        return MF_EEXIST;
    w->steps[a->index] = a->step;
    w->ids[a->index] = a->task;
    w->atts[a->index] = a->attempt;
    if (++w->got < w->count)
        return 0;
    char *in = compact_inputs(j, w);
    if (!in) {
        /* as it was: the last input not noted (a join made by this call goes again) */
        w->got--;
        w->ids[a->index] = 0;
        if (j->n > before) {
            wait_free(w);
            j->n--;
        }
        return MF_ENOMEM;
    }
    wait_free(w);
    *w = j->w[--j->n];
    *inputs = in;
    return 1;
}

size_t mf_joins_waiting(const mf_joins *j)
{
    return j ? j->n : 0;
}

void mf_joins_get(const mf_joins *j, size_t i, struct mf_join_waiting *out)
{
    const struct wait *w = &j->w[i];
    out->split_task = w->split_task;
    out->join_step = w->join_step;
    out->got = w->got;
    out->count = w->count;
}
