/* Resume: the origin run, its finished tasks and which of them can be reused (resume.h). */
#include "resume.h"

#include "util.h"

#include <mflow/plugin.h>

#include <jansson.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the origin run ------------------------------------------------------------------------ */

struct latest {
    struct mf_store *st;
    const char *ns;
    int64_t self;
    int64_t id;
};

static int take_latest(void *ud, const struct mf_run_rec *r)
{
    struct latest *l = ud;
    if (r->run_id == l->self || (l->ns[0] && strcmp(r->ns, l->ns) != 0))
        return 0;
    /* A run the index lists without a run record (its set-up failed before this version
     * kept such runs out of the index) cannot be resumed: the one before it is taken. */
    char *key = mf_key_run(r->flow, r->run_id);
    int ex = key ? l->st->ops->exists(l->st->state, key) : MF_ENOMEM;
    free(key);
    if (ex == 0)
        return 0;
    l->id = r->run_id;
    return 1;   /* newest first: the first match is the latest */
}

int mf_resume_pick_origin(mf_index *ix, struct mf_store *st, const char *flow, const char *ns,
                          int64_t self_run, int64_t *origin, char **err)
{
    struct latest l = {st, ns ? ns : "", self_run, 0};
    int rc = mf_index_list_runs(ix, flow, take_latest, &l);
    if (rc < 0) {
        *err = mf_strf("%s", mf_index_error(ix));
        return rc;
    }
    if (!l.id) {
        *err = mf_strf("no earlier run of %s in namespace '%s' to resume (see `mflow runs %s`, "
                       "or give --origin-run-id)",
                       flow, l.ns, flow);
        return MF_ENOTFOUND;
    }
    *origin = l.id;
    return 0;
}

int mf_resume_read_origin(struct mf_store *st, const char *flow, int64_t origin,
                          struct mf_run_rec *r, struct mf_task_record *params, char **err)
{
    int rc = mf_run_record_read(st, flow, origin, r, params);
    char *key = rc == MF_ENOTSUP ? mf_key_run(flow, origin) : NULL;
    char *newer = key ? mf_record_newer_msg(key) : NULL;
    if (rc)
        *err = mf_strf("cannot read run %s/%lld to resume it: %s", flow, (long long)origin,
                       rc == MF_ENOTFOUND ? "no such run (see `mflow runs`)"
                       : newer            ? newer
                                          : st->ops->last_error(st->state));
    free(key);
    free(newer);
    return rc;
}

/* ---- the origin's tasks -------------------------------------------------------------------- */

struct scan {
    struct mf_resume_task *tasks;
    size_t n, cap;
};

static int collect_key(void *ud, const char *key, uint64_t size)
{
    (void)size;
    struct scan *sc = ud;
    /* runs/<Flow>/<origin>/<step>/<task>.<attempt>.json; logs and the rest are not records */
    struct mf_key_parts k;
    if (mf_key_parse(key, &k) != MF_KEY_TASK)
        return 0;
    for (size_t i = sc->n; i > 0; i--) {
        struct mf_resume_task *t = &sc->tasks[i - 1];
        if (t->task == k.task && !strcmp(t->step, k.step)) {
            if (k.attempt > t->attempt)
                t->attempt = k.attempt;
            return 0;
        }
    }
    if (mf_grow(&sc->tasks, &sc->cap, sc->n, sizeof *sc->tasks, 64))
        return MF_ENOMEM;
    struct mf_resume_task *t = &sc->tasks[sc->n++];
    memset(t, 0, sizeof *t);
    snprintf(t->step, sizeof t->step, "%s", k.step);
    t->task = k.task;
    t->attempt = k.attempt;
    return 0;
}

/* A finished task of the origin is reused only when its record shows it ran within its
 * step's timeout_s (as the step is now): one left running past its deadline (its
 * orchestrator was killed, or an mflow that did not hold tasks to it ran it) produced no
 * result a run with that timeout would have had. Warns why when not. */
static int within_deadline(const mf_graph *g, const struct mf_task_record *r,
                           mf_resume_warn_fn warn, void *ud)
{
    int s = mf_graph_find(g, r->step);
    int limit = s >= 0 ? g->steps[s].def->timeout_s : 0;
    if (limit <= 0)
        return 1;
    double took = r->end_time - r->start_time;
    if (r->start_time > 0 && took >= 0 && took <= limit)
        return 1;
    char *msg;
    if (r->start_time > 0 && took >= 0)
        msg = mf_strf("%s/%lld/%s/%lld ran %.1f s, past its step's timeout_s of %d s (left "
                      "running by an orchestrator that was killed?); it runs again",
                      r->flow, (long long)r->run_id, r->step, (long long)r->task_id, took, limit);
    else
        msg = mf_strf("%s/%lld/%s/%lld has no start and end times that show it ran within its "
                      "step's timeout_s of %d s; it runs again",
                      r->flow, (long long)r->run_id, r->step, (long long)r->task_id, limit);
    if (msg && warn)
        warn(ud, msg);
    free(msg);
    return 0;
}

void mf_resume_tasks_free(struct mf_resume_task *t, size_t n)
{
    if (!t)
        return;
    for (size_t i = 0; i < n; i++)
        free(t[i].pos);
    free(t);
}

int mf_resume_scan(struct mf_store *st, const mf_graph *g, const char *flow, int64_t origin,
                   mf_resume_warn_fn warn, void *ud, struct mf_resume_task **out, size_t *n,
                   char **err)
{
    *out = NULL;
    *n = 0;
    struct scan sc = {0};
    char *prefix = mf_key_run_prefix(flow, origin);
    int rc = prefix ? st->ops->list(st->state, prefix, collect_key, &sc) : MF_ENOMEM;
    free(prefix);
    if (rc) {
        *err = mf_strf("cannot list the tasks of %s/%lld: %s", flow, (long long)origin,
                       st->ops->last_error(st->state));
        free(sc.tasks);
        return rc;
    }
    /* Read each task's latest attempt: its status and its position in the run. */
    for (size_t i = 0; !rc && i < sc.n; i++) {
        struct mf_resume_task *t = &sc.tasks[i];
        struct mf_task_record r;
        char *rerr = NULL;
        rc = mf_record_read(st, flow, origin, t->step, t->task, t->attempt, &r, &rerr);
        if (rc == MF_ECORRUPT) {
            /* Torn by a store that is not atomic (a server killed mid-upload) or damaged since:
             * nothing it says can be trusted, so the task runs again. */
            char *msg = mf_strf("%s; %s/%lld runs again",
                                rerr ? rerr : "a task record is damaged", t->step,
                                (long long)t->task);
            if (msg && warn)
                warn(ud, msg);
            free(msg);
            free(rerr);
            t->status = MF_STATUS_FAILED;
            rc = 0;
            continue;
        }
        if (rc) {
            *err = mf_strf("cannot resume: %s", rerr ? rerr : "a task record is unreadable");
            free(rerr);
            break;
        }
        t->status = r.status;
        if (r.status == MF_STATUS_SUCCEEDED && !within_deadline(g, &r, warn, ud))
            t->status = MF_STATUS_FAILED;   /* not a result: it runs again, like a failure */
        t->pos = t->status == MF_STATUS_SUCCEEDED ? mf_record_position(&r) : NULL;
        mf_task_record_free(&r);
    }
    if (rc) {
        mf_resume_tasks_free(sc.tasks, sc.n);
        return rc;
    }
    *out = sc.tasks;
    *n = sc.n;
    return 0;
}

/* ---- which steps run again ----------------------------------------------------------------- */

int mf_resume_from_step(const mf_graph *g, const char *flow, const char *named,
                        const struct mf_resume_task *t, size_t n, int *from, char **err)
{
    *from = -1;
    if (named) {
        *from = mf_graph_find(g, named);
        if (*from < 0) {
            *err = mf_strf("flow %s has no step '%s' to resume from", flow, named);
            return MF_EINVAL;
        }
        return 0;
    }
    int64_t first = INT64_MAX;
    for (size_t i = 0; i < n; i++)
        if (t[i].status == MF_STATUS_FAILED && t[i].task < first) {
            first = t[i].task;
            *from = mf_graph_find(g, t[i].step);
        }
    return 0;
}

int mf_resume_rerun(const mf_graph *g, int from, unsigned char *rerun)
{
    if (from < 0)
        return 0;
    int *queue = malloc(g->n * sizeof *queue);
    size_t qh = 0, qt = 0;
    if (!queue)
        return MF_ENOMEM;
    queue[qt++] = from;
    rerun[from] = 1;
    while (qh < qt) {
        const struct mf_graph_step *gs = &g->steps[queue[qh++]];
        for (size_t k = 0; k < gs->n_next; k++)
            if (!rerun[gs->next[k]]) {
                rerun[gs->next[k]] = 1;
                queue[qt++] = gs->next[k];
            }
    }
    free(queue);
    return 0;
}

int mf_resume_check_graph(struct mf_store *st, const mf_graph *g, const char *flow,
                          int64_t origin, const unsigned char *rerun, char **err)
{
    char *key = mf_key_graph(flow, origin);
    struct mf_buf b = {.struct_size = sizeof b};
    int rc = key ? st->ops->get(st->state, key, &b) : MF_ENOMEM;
    free(key);
    if (rc) {
        *err = mf_strf("cannot read the graph of %s/%lld: %s", flow, (long long)origin,
                       st->ops->last_error(st->state));
        return rc;
    }
    json_t *old = json_loadb(b.data, b.len, 0, NULL);
    if (b.release)
        b.release(&b);
    char *now_text = mf_graph_render_json(g);
    json_t *now = now_text ? json_loads(now_text, 0, NULL) : NULL;
    free(now_text);
    rc = 0;
    json_t *osteps = json_object_get(old, "steps"), *nsteps = json_object_get(now, "steps");
    if (!osteps || !nsteps) {
        *err = mf_strf("the graph of %s/%lld is unreadable", flow, (long long)origin);
        rc = MF_ECORRUPT;
    }
    static const char *fields[] = {"next", "foreach", "join", "type"};
    for (size_t i = 0; !rc && i < json_array_size(nsteps); i++) {
        json_t *ns = json_array_get(nsteps, i);
        const char *name = json_string_value(json_object_get(ns, "name"));
        int s = name ? mf_graph_find(g, name) : -1;
        if (s < 0 || rerun[s])
            continue;
        json_t *os = NULL;
        for (size_t j = 0; j < json_array_size(osteps); j++)
            if (json_equal(json_object_get(json_array_get(osteps, j), "name"),
                           json_object_get(ns, "name")))
                os = json_array_get(osteps, j);
        if (!os) {
            *err = mf_strf("cannot resume %s/%lld: step '%s' is new since that run and comes "
                           "before the resume step; resume from '%s' or start a new run",
                           flow, (long long)origin, name, name);
            rc = MF_EINVAL;
            break;
        }
        for (size_t k = 0; k < sizeof fields / sizeof fields[0]; k++) {
            json_t *a = json_object_get(os, fields[k]), *c = json_object_get(ns, fields[k]);
            if (!json_equal(a, c) && (a || c)) {
                char *was = a ? json_dumps(a, JSON_ENCODE_ANY | JSON_COMPACT) : strdup("none");
                char *is = c ? json_dumps(c, JSON_ENCODE_ANY | JSON_COMPACT) : strdup("none");
                *err = mf_strf("cannot resume %s/%lld: step '%s' changed since that run (%s was "
                               "%s, now %s); resume from '%s' or start a new run",
                               flow, (long long)origin, name, fields[k], was, is, name);
                free(was);
                free(is);
                rc = MF_EINVAL;
                break;
            }
        }
    }
    json_decref(old);
    json_decref(now);
    return rc;
}

/* ---- the origin map ------------------------------------------------------------------------ */

struct mf_origin_map {
    struct mf_origin_task *slots;   /* open addressing, cap a power of two, at most half full */
    size_t cap, n;
    int64_t run_id;
};

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    while (*s)
        h = (h ^ (unsigned char)*s++) * 1099511628211ull;
    return h;
}

int mf_origin_map_create(int64_t run_id, mf_origin_map **out)
{
    *out = calloc(1, sizeof **out);
    if (!*out)
        return MF_ENOMEM;
    (*out)->run_id = run_id;
    return 0;
}

void mf_origin_map_destroy(mf_origin_map *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->cap; i++) {
        free(m->slots[i].pos);
        free(m->slots[i].step);
    }
    free(m->slots);
    free(m);
}

const struct mf_origin_task *mf_origin_map_find(const mf_origin_map *m, const char *pos)
{
    if (!m || !m->cap)
        return NULL;
    for (size_t i = hash_str(pos) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        if (!m->slots[i].pos)
            return NULL;
        if (!strcmp(m->slots[i].pos, pos))
            return &m->slots[i];
    }
}

int mf_origin_map_add(mf_origin_map *m, char *pos, const char *step, int64_t task,
                      uint32_t attempt)
{
    char *s = strdup(step);
    if (!s) {
        free(pos);
        return MF_ENOMEM;
    }
    if ((m->n + 1) * 2 > m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 64;
        struct mf_origin_task *g = calloc(cap, sizeof *g);
        if (!g) {
            free(pos);
            free(s);
            return MF_ENOMEM;
        }
        for (size_t i = 0; i < m->cap; i++) {
            if (!m->slots[i].pos)
                continue;
            size_t j = hash_str(m->slots[i].pos) & (cap - 1);
            while (g[j].pos)
                j = (j + 1) & (cap - 1);
            g[j] = m->slots[i];
        }
        free(m->slots);
        m->slots = g;
        m->cap = cap;
    }
    size_t j = hash_str(pos) & (m->cap - 1);
    while (m->slots[j].pos)
        j = (j + 1) & (m->cap - 1);
    m->slots[j].pos = pos;
    m->slots[j].step = s;
    m->slots[j].task = task;
    m->slots[j].attempt = attempt;
    m->n++;
    return 0;
}

size_t mf_origin_map_size(const mf_origin_map *m)
{
    return m ? m->n : 0;
}

int64_t mf_origin_map_run(const mf_origin_map *m)
{
    return m ? m->run_id : 0;
}
