/* Rebuilding the index from the datastore (reindex.h). */
#include "reindex.h"

#include "deploy.h"

#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PUT_BATCH 2000           /* index writes per transaction */
#define GET_BATCH 256            /* task records per storage get_batch */

/* One task of the listing: the highest attempt whose record exists. */
struct key_task {
    char *flow, *step;
    int64_t run, task;
    uint32_t attempt;
};

struct key_run {
    char *flow;
    int64_t run;
};

struct listing {
    struct key_run *runs;
    size_t n_runs, cap_runs;
    struct key_task *tasks;
    size_t n_tasks, cap_tasks;
    int oom;
};

/* runs/<Flow>/<run>/run.json or runs/<Flow>/<run>/<step>/<task>.<attempt>.json */
static int on_key(void *ud, const char *key, uint64_t size)
{
    (void)size;
    struct listing *l = ud;
    struct mf_key_parts k;
    int kind = mf_key_parse(key, &k);
    if (kind == MF_KEY_RUN) {
        if (mf_grow(&l->runs, &l->cap_runs, l->n_runs, sizeof *l->runs, 64))
            return l->oom = MF_ENOMEM;
        struct key_run *r = &l->runs[l->n_runs];
        r->flow = strdup(k.flow);
        r->run = k.run;
        if (!r->flow)
            return l->oom = MF_ENOMEM;
        l->n_runs++;
        return 0;
    }
    if (kind != MF_KEY_TASK)
        return 0;
    if (mf_grow(&l->tasks, &l->cap_tasks, l->n_tasks, sizeof *l->tasks, 256))
        return l->oom = MF_ENOMEM;
    struct key_task *t = &l->tasks[l->n_tasks];
    t->flow = strdup(k.flow);
    t->step = strdup(k.step);
    t->run = k.run;
    t->task = k.task;
    t->attempt = k.attempt;
    if (!t->flow || !t->step) {
        free(t->flow);
        free(t->step);
        return l->oom = MF_ENOMEM;
    }
    l->n_tasks++;
    return 0;
}

/* Flow, run, then step, task, and the highest attempt first. */
static int cmp_task(const void *x, const void *y)
{
    const struct key_task *a = x, *b = y;
    int c = strcmp(a->flow, b->flow);
    if (c)
        return c;
    if (a->run != b->run)
        return a->run < b->run ? -1 : 1;
    if ((c = strcmp(a->step, b->step)))
        return c;
    if (a->task != b->task)
        return a->task < b->task ? -1 : 1;
    return a->attempt > b->attempt ? -1 : a->attempt < b->attempt;
}

static int same_task(const struct key_task *a, const struct key_task *b)
{
    return a->run == b->run && a->task == b->task && !strcmp(a->step, b->step) &&
           !strcmp(a->flow, b->flow);
}

static int cmp_run(const void *x, const void *y)
{
    const struct key_run *a = x, *b = y;
    int c = strcmp(a->flow, b->flow);
    if (c)
        return c;
    return a->run < b->run ? -1 : a->run > b->run;
}

void mf_reindex_task_rec(const struct mf_task_record *r, struct mf_task_rec *ir)
{
    memset(ir, 0, sizeof *ir);
    snprintf(ir->flow, sizeof ir->flow, "%s", r->flow);
    ir->run_id = r->run_id;
    snprintf(ir->step, sizeof ir->step, "%s", r->step);
    ir->task_id = r->task_id;
    ir->attempt = r->attempt;
    ir->status = r->status;
    ir->start_time = r->start_time;
    ir->end_time = r->end_time;
    ir->exit_code = r->exit_code;
    ir->term_signal = r->term_signal;
    for (size_t i = r->depth; i > 0; i--)
        if (r->stack[i - 1].kind == MF_FRAME_FOREACH) {
            ir->foreach_index = r->stack[i - 1].index;
            ir->foreach_count = r->stack[i - 1].count;
            break;
        }
    if (r->origin)
        snprintf(ir->origin, sizeof ir->origin, "%s", r->origin);
    size_t used = 0;
    for (size_t i = 0; i < r->n_arts; i++) {
        size_t n = strlen(r->arts[i].name);
        if (used + n + 2 > sizeof ir->artifacts)
            break;
        if (used)
            ir->artifacts[used++] = '\n';
        memcpy(ir->artifacts + used, r->arts[i].name, n);
        used += n;
    }
    ir->artifacts[used] = '\0';
}

struct ctx {
    struct mf_store *st;
    mf_index *ix;
    mf_reindex_warn_fn warn;
    void *ud;
    struct mf_reindex_stats *stats;
    size_t in_batch;
    char **err;
};

__attribute__((format(printf, 2, 3))) static void skip(struct ctx *x, const char *fmt, ...)
{
    x->stats->skipped++;
    if (!x->warn)
        return;
    va_list ap;
    va_start(ap, fmt);
    char *m = mf_vstrf(fmt, ap);
    va_end(ap);
    x->warn(x->ud, m ? m : "a record was skipped (out of memory describing it)");
    free(m);
}

/* Count one index write; commit and begin a new batch every PUT_BATCH writes. */
static int counted(struct ctx *x)
{
    if (++x->in_batch < PUT_BATCH)
        return 0;
    x->in_batch = 0;
    int rc = mf_index_commit(x->ix);
    if (!rc)
        rc = mf_index_begin(x->ix);
    if (rc)
        *x->err = mf_strf("%s", mf_index_error(x->ix));
    return rc;
}

/* The run was read from this datastore, so the index names it as the run's: get and resume
 * find it there without options. Its record may name another (a run recorded before runs
 * named their storage names none; a datastore copied, restored or mounted at another path
 * names where it was written, which may no longer exist). */
static void fill_storage(struct mf_store *st, struct mf_run_rec *r)
{
    const char *root = st->ops->root ? st->ops->root(st->state) : NULL;
    if (!st->desc || !root || !*root)
        return;
    snprintf(r->storage, sizeof r->storage, "%s", st->desc->name);
    snprintf(r->storage_root, sizeof r->storage_root, "%s", root);
}

static int put_run(struct ctx *x, const struct key_run *k, int *ok)
{
    *ok = 0;
    struct mf_run_rec *r = malloc(sizeof *r);
    if (!r)
        return MF_ENOMEM;
    char *key = mf_key_run(k->flow, k->run);
    if (!key) {
        free(r);
        return MF_ENOMEM;
    }
    int rc = mf_run_record_read(x->st, k->flow, k->run, r, NULL);
    int out = 0;
    if (rc == MF_ECORRUPT || (!rc && (strcmp(r->flow, k->flow) || r->run_id != k->run))) {
        skip(x, "%s is not a valid run record of %s/%lld: skipped, with its tasks (restore the "
                "file, or delete the run's directory)",
             key, k->flow, (long long)k->run);
    } else if (rc == MF_ENOTSUP) {
        skip(x, "%s is of a newer format than the format %d this mflow reads: skipped, with its "
                "tasks (reindex with a newer mflow)",
             key, MF_RECORD_FORMAT);
    } else if (rc == MF_ENOTFOUND) {
        skip(x, "%s disappeared while reindexing: skipped", key);
    } else if (rc) {
        *x->err = mf_strf("cannot read %s: %s", key, x->st->ops->last_error(x->st->state));
        out = rc;
    } else if ((fill_storage(x->st, r), rc = mf_index_put_run(x->ix, r))) {
        *x->err = mf_strf("%s", mf_index_error(x->ix));
        out = rc;
    } else {
        x->stats->runs++;
        *ok = 1;
        out = counted(x);
    }
    free(key);
    free(r);
    return out;
}

/* Read and index the records named by tasks[0..n) (highest attempts of tasks of one run). */
static int put_tasks(struct ctx *x, struct key_task *const *tasks, size_t n)
{
    struct mf_storage_item *items = calloc(n, sizeof *items);
    char **keys = calloc(n, sizeof *keys);
    struct mf_task_rec *ir = malloc(sizeof *ir);
    int rc = 0;
    if (!items || !keys || !ir)
        rc = MF_ENOMEM;
    for (size_t i = 0; !rc && i < n; i++) {
        const struct key_task *t = tasks[i];
        keys[i] = mf_key_task(t->flow, t->run, t->step, t->task, t->attempt);
        if (!keys[i])
            rc = MF_ENOMEM;
        items[i].struct_size = sizeof items[i];
        items[i].key = keys[i];
        items[i].out.struct_size = sizeof items[i].out;
    }
    if (!rc) {
        if (x->st->ops->get_batch) {
            x->st->ops->get_batch(x->st->state, items, n); /* per-item results below */
        } else {
            for (size_t i = 0; i < n; i++)
                items[i].result = x->st->ops->get(x->st->state, keys[i], &items[i].out);
        }
    }
    for (size_t i = 0; !rc && i < n; i++) {
        const struct key_task *t = tasks[i];
        struct mf_storage_item *it = &items[i];
        if (it->result == MF_ENOTFOUND) {
            skip(x, "%s disappeared while reindexing: skipped", keys[i]);
            continue;
        }
        if (it->result) {
            rc = it->result;
            *x->err = mf_strf("cannot read %s: %s", keys[i], x->st->ops->last_error(x->st->state));
            break;
        }
        struct mf_task_record r;
        int prc = mf_task_record_from_json(it->out.data, it->out.len, &r, NULL);
        if (!prc && (strcmp(r.flow, t->flow) || r.run_id != t->run || strcmp(r.step, t->step) ||
                     r.task_id != t->task || r.attempt != t->attempt)) {
            mf_task_record_free(&r);
            prc = MF_ECORRUPT;
        }
        if (prc == MF_ENOMEM) {
            rc = prc;
            break;
        }
        if (prc == MF_ENOTSUP) {
            skip(x, "%s is of a newer format than the format %d this mflow reads: skipped "
                    "(reindex with a newer mflow)",
                 keys[i], MF_RECORD_FORMAT);
            continue;
        }
        if (prc) {
            skip(x, "%s is not a valid task record of %s/%lld/%s/%lld: skipped (restore it, or "
                    "rerun the task with `mflow resume`)",
                 keys[i], t->flow, (long long)t->run, t->step, (long long)t->task);
            continue;
        }
        mf_reindex_task_rec(&r, ir);
        mf_task_record_free(&r);
        if ((rc = mf_index_put_task(x->ix, ir))) {
            *x->err = mf_strf("%s", mf_index_error(x->ix));
            break;
        }
        x->stats->tasks++;
        rc = counted(x);
    }
    for (size_t i = 0; items && i < n; i++)
        if (items[i].out.release)
            items[i].out.release(&items[i].out);
    for (size_t i = 0; keys && i < n; i++)
        free(keys[i]);
    free(keys);
    free(items);
    free(ir);
    return rc;
}

int mf_reindex(struct mf_store *st, mf_index *ix, mf_reindex_warn_fn warn, void *ud,
               struct mf_reindex_stats *stats, char **err)
{
    struct mf_reindex_stats local;
    if (!stats)
        stats = &local;
    memset(stats, 0, sizeof *stats);
    *err = NULL;
    struct listing l;
    memset(&l, 0, sizeof l);
    int rc = st->ops->list(st->state, MF_KEY_RUNS, on_key, &l);
    if (rc) {
        if (l.oom)
            *err = mf_strf("out of memory listing the datastore");
        else
            *err = mf_strf("cannot list runs/ in the datastore %s: %s",
                           st->ops->root ? st->ops->root(st->state) : "",
                           st->ops->last_error(st->state));
        goto out;
    }
    /* qsort wants non-null arrays, even with no element (a datastore with no run). */
    if (l.n_runs)
        qsort(l.runs, l.n_runs, sizeof *l.runs, cmp_run);
    if (l.n_tasks)
        qsort(l.tasks, l.n_tasks, sizeof *l.tasks, cmp_task);

    struct ctx x = {st, ix, warn, ud, stats, 0, err};
    if ((rc = mf_index_begin(ix)) || (rc = mf_index_clear(ix))) {
        *err = mf_strf("%s", mf_index_error(ix));
        mf_index_abort(ix);
        goto out;
    }
    struct key_task **batch = malloc(GET_BATCH * sizeof *batch);
    if (!batch) {
        rc = MF_ENOMEM;
        mf_index_abort(ix);
        goto out;
    }
    size_t ti = 0;
    for (size_t ri = 0; !rc && ri <= l.n_runs; ri++) {
        /* tasks of runs without a run record (before this run) are reported and skipped */
        const struct key_run *kr = ri < l.n_runs ? &l.runs[ri] : NULL;
        while (ti < l.n_tasks) {
            struct key_task *t = &l.tasks[ti];
            int c = kr ? strcmp(t->flow, kr->flow) : -1;
            if (c > 0 || (c == 0 && t->run >= kr->run))
                break;
            char *tk = mf_key_task(t->flow, t->run, t->step, t->task, t->attempt);
            char *rk = mf_key_run(t->flow, t->run);
            skip(&x, "%s is a task record, but its run has no %s: skipped", tk ? tk : t->step,
                 rk ? rk : "run record");
            free(tk);
            free(rk);
            for (ti++; ti < l.n_tasks && same_task(&l.tasks[ti], t); ti++)
                ; /* its lower attempts */
        }
        if (!kr)
            break;
        int ok;
        rc = put_run(&x, kr, &ok);
        /* this run's tasks: the first listed attempt of each is its highest */
        size_t nb = 0;
        while (!rc && ti < l.n_tasks && !strcmp(l.tasks[ti].flow, kr->flow) &&
               l.tasks[ti].run == kr->run) {
            struct key_task *t = &l.tasks[ti++];
            while (ti < l.n_tasks && same_task(&l.tasks[ti], t))
                ti++;
            if (!ok)
                continue;
            batch[nb++] = t;
            if (nb == GET_BATCH) {
                rc = put_tasks(&x, batch, nb);
                nb = 0;
            }
        }
        if (!rc && nb)
            rc = put_tasks(&x, batch, nb);
    }
    free(batch);
    if (!rc)
        rc = mf_deploy_reindex(st, ix, warn, ud, &stats->deployments, err);
    if (rc) {
        mf_index_abort(ix);
        if (!*err)
            *err = mf_strf("reindex failed: %s", mf_strerror(rc));
        goto out;
    }
    if ((rc = mf_index_commit(ix)))
        *err = mf_strf("%s", mf_index_error(ix));
out:
    for (size_t i = 0; i < l.n_runs; i++)
        free(l.runs[i].flow);
    for (size_t i = 0; i < l.n_tasks; i++) {
        free(l.tasks[i].flow);
        free(l.tasks[i].step);
    }
    free(l.runs);
    free(l.tasks);
    if (rc == MF_ENOMEM && !*err)
        *err = mf_strf("out of memory");
    return rc;
}
