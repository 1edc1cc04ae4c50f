/* mflow dag-task FLOW STEP --dag-id D --dag-run R [--foreach-path P] [--package ADDRESS]
 *                [--namespace NS] [--tag T]... [--timeout-s S] [--xcom-file PATH]
 *
 * One task of a run that an outside scheduler orchestrates (the Airflow export,
 * plugins/scheduler/airflow): no mflow orchestrator is running, so everything `mflow run`
 * decides for a task is derived here from what the command line gives, the same way on any
 * worker and on every retry:
 *  - the run id from (dag id, Airflow run id), so every task and every retry of one Airflow
 *    run lands in one mflow run;
 *  - the task id from (step, foreach path), the path being the item index of every foreach
 *    the step runs inside, outermost first ("2.0"), so a join names its inputs itself;
 *  - the attempt: one more than the attempts already recorded for the task;
 *  - the inputs: the step's predecessors at the same path (a foreach child: the split at the
 *    path without its last index; a foreach join: every item of the split, counted from the
 *    split's record), each at its latest succeeded attempt.
 * The start task creates the run (graph, parameters from MFLOW_PARAM_<name> variables,
 * namespace, tags); the end task marks it succeeded. A foreach step prints, as its last line
 * of output (or into --xcom-file), the JSON list of its children's environments
 * [{"MFLOW_FOREACH_PATH": "P.0"}, ...] for the scheduler to map the next step over. */
#include "cli.h"

#include "blob.h"
#include "codec.h"
#include "flowload.h"
#include "graph.h"
#include "index.h"
#include "mflow-build.h"
#include "model.h"
#include "package.h"
#include "params.h"
#include "record.h"
#include "reindex.h"
#include "store.h"
#include "task.h"
#include "util.h"
#include "host.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char usage[] =
    "dag-task FLOW STEP --dag-id D --dag-run R [--foreach-path P] [--package ADDRESS]\n"
    "            [--namespace NS] [--tag T]... [--timeout-s S] [--xcom-file PATH]";

#define MAX_DEPTH 64
#define MAX_TAGS 32

/* FNV-1a, 64 bits. */
static uint64_t fnv(uint64_t h, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* Ids in [2^52, 2^53): exact in JSON and Python, and apart from the small ids `mflow run`
 * counts up from. */
static int64_t hash_id(uint64_t h)
{
    return (int64_t)((h & ((1ULL << 52) - 1)) | (1ULL << 52));
}

static int64_t run_id_of(const char *dag_id, const char *dag_run)
{
    uint64_t h = fnv(0xcbf29ce484222325ULL, "mflow-dag-run", 13);
    h = fnv(h, dag_id, strlen(dag_id) + 1);
    h = fnv(h, dag_run, strlen(dag_run));
    return hash_id(h);
}

struct path {
    uint32_t idx[MAX_DEPTH];
    int n;
};

static int64_t task_id_of(const char *step, const struct path *p)
{
    uint64_t h = fnv(0xcbf29ce484222325ULL, "mflow-dag-task", 14);
    h = fnv(h, step, strlen(step) + 1);
    for (int i = 0; i < p->n; i++) {
        char b[16];
        int n = snprintf(b, sizeof b, "%u.", p->idx[i]);
        h = fnv(h, b, (size_t)n);
    }
    return hash_id(h);
}

/* "", or dotted indices "2.0.13". 0 or -1. */
static int path_parse(const char *s, struct path *p)
{
    p->n = 0;
    if (!s || !*s)
        return 0;
    while (*s) {
        if (*s < '0' || *s > '9' || p->n == MAX_DEPTH)
            return -1;
        char *e;
        unsigned long v = strtoul(s, &e, 10);
        if (v > UINT32_MAX || (*e && *e != '.') || (*e == '.' && !e[1]))
            return -1;
        p->idx[p->n++] = (uint32_t)v;
        s = *e ? e + 1 : e;
    }
    return 0;
}

static void path_str(const struct path *p, char *buf, size_t n)
{
    size_t o = 0;
    buf[0] = '\0';
    for (int i = 0; i < p->n && o < n; i++)
        o += (size_t)snprintf(buf + o, n - o, "%s%u", i ? "." : "", p->idx[i]);
}

/* The foreach splits each step runs inside, outermost first (graph order from start: a split's
 * successors open a frame, a join closes the top one). */
struct ctx {
    int split[MAX_DEPTH];   /* every open split, branch or foreach */
    int n;
    int set;
};

static int contexts(const mf_graph *g, struct ctx *c, char **err)
{
    int *queue = calloc(g->n, sizeof *queue);
    if (!queue)
        return MF_ENOMEM;
    size_t head = 0, tail = 0;
    c[g->start].set = 1;
    queue[tail++] = g->start;
    while (head < tail) {
        int s = queue[head++];
        const struct mf_graph_step *gs = &g->steps[s];
        for (size_t k = 0; k < gs->n_next; k++) {
            int t = gs->next[k];
            if (c[t].set)
                continue;
            struct ctx nc = c[s];
            if (gs->type == MF_STEP_BRANCH || gs->type == MF_STEP_FOREACH) {
                if (nc.n == MAX_DEPTH) {
                    free(queue);
                    *err = mf_strf("step '%s' is nested deeper than %d splits", g->steps[t].name,
                                   MAX_DEPTH);
                    return MF_EINVAL;
                }
                nc.split[nc.n++] = s;
            }
            if (g->steps[t].is_join && nc.n > 0)
                nc.n--;
            c[t] = nc;
            c[t].set = 1;
            queue[tail++] = t;
        }
    }
    free(queue);
    return 0;
}

static int foreach_depth(const mf_graph *g, const struct ctx *c)
{
    int d = 0;
    for (int i = 0; i < c->n; i++)
        d += g->steps[c->split[i]].type == MF_STEP_FOREACH;
    return d;
}

struct dt {
    struct mf_flow *flow;
    const mf_graph *g;
    struct mf_store st;
    int st_ok;
    const char *flow_name;
    int64_t run;
    struct ctx *ctx;
};

/* Attempts recorded for a task: how many, and the latest that succeeded (-1 none); with
 * rec_out, that attempt's record (caller frees). */
static int attempts(struct dt *d, const char *step, int64_t task, uint32_t *n, int64_t *ok,
                    struct mf_task_record *rec_out, char **err)
{
    *n = 0;
    *ok = -1;
    for (uint32_t a = 0;; a++) {
        struct mf_task_record r;
        char *e = NULL;
        int rc = mf_record_read(&d->st, d->flow_name, d->run, step, task, a, &r, &e);
        if (rc == MF_ENOTFOUND) {
            free(e);
            *n = a;
            return 0;
        }
        if (rc) {
            *err = e ? e : mf_strf("cannot read the record of %s/%lld/%s/%lld", d->flow_name,
                                   (long long)d->run, step, (long long)task);
            return rc;
        }
        if (r.status == MF_STATUS_SUCCEEDED) {
            *ok = a;
            if (rec_out) {
                mf_task_record_free(rec_out);
                *rec_out = r;
                continue;
            }
        }
        mf_task_record_free(&r);
    }
}

/* Append "step/task@attempt" of the input's latest succeeded attempt. */
static int add_input(struct dt *d, struct mf_sbuf *b, int step, const struct path *p,
                     struct mf_task_record *rec, char **err)
{
    const char *name = d->g->steps[step].name;
    int64_t id = task_id_of(name, p);
    uint32_t n;
    int64_t ok;
    int rc = attempts(d, name, id, &n, &ok, rec, err);
    if (rc)
        return rc;
    if (ok < 0) {
        char ps[MAX_DEPTH * 12];
        path_str(p, ps, sizeof ps);
        *err = mf_strf("input %s/%lld/%s/%lld (foreach path '%s') has not succeeded: run that "
                       "task first",
                       d->flow_name, (long long)d->run, name, (long long)id, ps);
        return MF_ENOTFOUND;
    }
    mf_sbuf_addf(b, "%s%s/%lld@%lld", b->len ? "," : "", name, (long long)id, (long long)ok);
    return 0;
}

/* The predecessor of join j that lies in branch `first` (the branch's first step). */
static int branch_end(const mf_graph *g, int first, int j)
{
    int s = first;
    for (size_t guard = 0; guard <= g->n; guard++) {
        const struct mf_graph_step *gs = &g->steps[s];
        for (size_t k = 0; k < gs->n_next; k++)
            if (gs->next[k] == j)
                return s;
        if ((gs->type == MF_STEP_BRANCH || gs->type == MF_STEP_FOREACH) && gs->join_of >= 0)
            s = gs->join_of;
        else if (gs->n_next)
            s = gs->next[0];
        else
            return -1;
    }
    return -1;
}

/* The compact input paths of the task of `step` at path p, and its split index. */
static int inputs_of(struct dt *d, int step, const struct path *p, char **out, int64_t *split,
                     char **err)
{
    const mf_graph *g = d->g;
    const struct mf_graph_step *gs = &g->steps[step];
    struct mf_sbuf b = {0};
    int rc = 0;
    *split = -1;
    *out = NULL;
    if (step == g->start)
        return 0;
    if (gs->is_join) {
        const struct mf_graph_step *sp = &g->steps[gs->split_of];
        if (sp->type == MF_STEP_BRANCH) {
            for (size_t k = 0; !rc && k < sp->n_next; k++) {
                int e = branch_end(g, sp->next[k], step);
                if (e < 0) {
                    *err = mf_strf("step '%s': no input found in branch '%s'", gs->name,
                                   g->steps[sp->next[k]].name);
                    rc = MF_EINVAL;
                } else {
                    rc = add_input(d, &b, e, p, NULL, err);
                }
            }
        } else {
            /* A foreach join: every item of the split at this path. */
            struct mf_task_record srec;
            mf_task_record_init(&srec);
            struct mf_sbuf tmp = {0};
            rc = add_input(d, &tmp, gs->split_of, p, &srec, err);
            mf_sbuf_free(&tmp);
            int64_t count = srec.foreach_count;
            mf_task_record_free(&srec);
            if (!rc && (count < 1 || p->n >= MAX_DEPTH)) {
                *err = mf_strf("split '%s' of join '%s' recorded no items", sp->name, gs->name);
                rc = MF_ECORRUPT;
            }
            struct path q = *p;
            q.n = p->n + 1;
            for (int64_t i = 0; !rc && i < count; i++) {
                q.idx[p->n] = (uint32_t)i;
                rc = add_input(d, &b, gs->prev[0], &q, NULL, err);
            }
        }
    } else {
        int q = gs->prev[0];
        struct path pp = *p;
        struct mf_task_record qrec;
        mf_task_record_init(&qrec);
        if (g->steps[q].type == MF_STEP_FOREACH) {
            pp.n--;
            *split = p->idx[p->n - 1];
        }
        rc = add_input(d, &b, q, &pp, &qrec, err);
        if (!rc && *split >= 0 && *split >= qrec.foreach_count) {
            *err = mf_strf("foreach path index %lld is past the %lld item(s) of split '%s'",
                           (long long)*split, (long long)qrec.foreach_count, g->steps[q].name);
            rc = MF_EINVAL;
        }
        mf_task_record_free(&qrec);
    }
    if (rc) {
        mf_sbuf_free(&b);
        return rc;
    }
    *out = b.data ? b.data : strdup("");
    return *out ? 0 : MF_ENOMEM;
}

/* The parameters an outside scheduler passes, MFLOW_PARAM_<name>, as the "name=value"
 * arguments of mf_params_parse (a parameter without one takes its default): *args (free
 * each, then it) and *n. 0 or MF_ENOMEM. */
static int param_args(const mf_flow_def *def, char ***args, size_t *n)
{
    *n = 0;
    *args = calloc(def->n_params + 1, sizeof **args);
    if (!*args)
        return MF_ENOMEM;
    for (size_t k = 0; k < def->n_params; k++) {
        char env[MF_NAME_MAX + 16];
        snprintf(env, sizeof env, "MFLOW_PARAM_%s", def->params[k].name);
        const char *v = getenv(env);
        if (v && !((*args)[(*n)++] = mf_strf("%s=%s", def->params[k].name, v))) {
            for (size_t j = 0; j + 1 < *n; j++)
                free((*args)[j]);
            free(*args);
            *args = NULL;
            *n = 0;
            return MF_ENOMEM;
        }
    }
    return 0;
}

/* The parameters, stored as blobs into params, as `mflow run` does. */
static int make_params(struct dt *d, struct mf_task_record *params, char **err)
{
    const mf_flow_def *def = d->flow->def;
    char **args;
    size_t n;
    if (param_args(def, &args, &n))
        return MF_ENOMEM;
    int rc = mf_params_store(def, (const char *const *)args, n, &d->st, params, err);
    for (size_t k = 0; k < n; k++)
        free(args[k]);
    free(args);
    return rc;
}

static mf_index *open_index(void)
{
    char *dir = mf_strf("%s/index", mf_host_home());
    mf_index *ix = NULL;
    if (!dir || mf_index_open(dir, &ix) != 0) {
        if (ix)
            fprintf(stderr, "mflow: warning: index: %s\n", mf_index_error(ix));
        mf_index_close(ix);
        ix = NULL;
    }
    free(dir);
    return ix;
}

/* The run record, created by the start task when it is not there yet (a retry of start
 * finds the one its first attempt made). */
static int ensure_run(struct dt *d, int is_start, const char *ns, const char *const *tags,
                      size_t n_tags, char **err)
{
    struct mf_run_rec rr;
    struct mf_task_record params;
    mf_task_record_init(&params);
    int rc = mf_run_record_read(&d->st, d->flow_name, d->run, &rr, &params);
    mf_task_record_free(&params);
    if (rc == 0)
        return 0;
    if (rc != MF_ENOTFOUND) {
        *err = mf_strf("cannot read the run record of %s/%lld: %s", d->flow_name,
                       (long long)d->run, d->st.ops->last_error(d->st.state));
        return rc;
    }
    if (!is_start) {
        *err = mf_strf("run %s/%lld does not exist: its start task creates it (run start first)",
                       d->flow_name, (long long)d->run);
        return MF_ENOTFOUND;
    }
    memset(&rr, 0, sizeof rr);
    snprintf(rr.flow, sizeof rr.flow, "%s", d->flow_name);
    rr.run_id = d->run;
    rr.status = MF_STATUS_RUNNING;
    snprintf(rr.user, sizeof rr.user, "%s", mf_host_user());
    if (ns && *ns)
        snprintf(rr.ns, sizeof rr.ns, "%s", ns);
    else if (mf_host_namespace()[0])
        snprintf(rr.ns, sizeof rr.ns, "%s", mf_host_namespace());
    else
        snprintf(rr.ns, sizeof rr.ns, "user:%s", mf_host_user());
    gethostname(rr.host, sizeof rr.host - 1);
    rr.start_time = mf_now();
    struct mf_sbuf tb = {0};
    mf_sbuf_addf(&tb, "user:%s\nmflow_version:%s", mf_host_user(), MF_VERSION);
    for (size_t i = 0; i < n_tags; i++)
        mf_sbuf_addf(&tb, "\n%s", tags[i]);
    snprintf(rr.tags, sizeof rr.tags, "%s", tb.data ? tb.data : "");
    mf_sbuf_free(&tb);
    mf_task_record_init(&params);
    rc = make_params(d, &params, err);
    if (!rc) {
        char *key = mf_key_graph(d->flow_name, d->run);
        char *gj = mf_graph_render_json(d->g);
        struct mf_iov iov = {gj, gj ? strlen(gj) : 0};
        rc = key && gj ? d->st.ops->put(d->st.state, key, &iov, 1, 0) : MF_ENOMEM;
        free(key);
        free(gj);
        if (!rc)
            rc = mf_run_record_write(&d->st, &rr, &params);
        if (rc && !*err)
            *err = mf_strf("cannot store run %s/%lld: %s", d->flow_name, (long long)d->run,
                           d->st.ops->last_error(d->st.state));
    }
    mf_task_record_free(&params);
    if (!rc) {
        mf_index *ix = open_index();
        if (ix && mf_index_put_run(ix, &rr) != 0)
            fprintf(stderr, "mflow: warning: index: %s\n", mf_index_error(ix));
        mf_index_close(ix);
    }
    return rc;
}

/* The end task succeeded: the run did (status MF_STATUS_SUCCEEDED); or a task failed its
 * last try: the run failed (MF_STATUS_FAILED). A later try that succeeds through end (an
 * Airflow clear) marks it succeeded again. */
static void finish_run(struct dt *d, int status)
{
    struct mf_run_rec rr;
    struct mf_task_record params;
    mf_task_record_init(&params);
    if (mf_run_record_read(&d->st, d->flow_name, d->run, &rr, &params) != 0) {
        mf_task_record_free(&params);
        return;
    }
    mf_index *ix = open_index();
    struct mf_run_rec now;
    if (ix && mf_index_get_run(ix, d->flow_name, d->run, &now) == 0)
        memcpy(rr.tags, now.tags, sizeof rr.tags);   /* `mflow tag` meanwhile */
    rr.status = status;
    rr.end_time = mf_now();
    if (status == MF_STATUS_FAILED)
        rr.n_failed++;
    if (mf_run_record_write(&d->st, &rr, &params) != 0)
        fprintf(stderr, "mflow: cannot mark run %s/%lld %s: %s\n", d->flow_name,
                (long long)d->run, mf_status_name(status), d->st.ops->last_error(d->st.state));
    mf_task_record_free(&params);
    if (ix && mf_index_put_run(ix, &rr) != 0)
        fprintf(stderr, "mflow: warning: index: %s\n", mf_index_error(ix));
    mf_index_close(ix);
}

static void index_task(const struct mf_task_record *r)
{
    mf_index *ix = open_index();
    if (!ix)
        return;
    struct mf_task_rec ir;
    mf_reindex_task_rec(r, &ir);
    if (mf_index_put_task(ix, &ir) != 0)
        fprintf(stderr, "mflow: warning: index: %s\n", mf_index_error(ix));
    mf_index_close(ix);
}

/* catch_var after the last attempt failed: a succeeded attempt with the error stored. */
static int catch_failure(struct dt *d, const mf_step_def *sd, const char *step, int64_t id,
                         uint32_t failed_attempt, const char *inputs, int64_t split)
{
    struct mf_task_record f, in0, r;
    char *err = NULL;
    int rc = mf_record_read(&d->st, d->flow_name, d->run, step, id, failed_attempt, &f, &err);
    if (rc) {
        free(err);
        return rc;
    }
    mf_task_record_init(&r);
    r.flow = strdup(d->flow_name);
    r.run_id = d->run;
    r.step = strdup(step);
    r.task_id = id;
    r.attempt = failed_attempt + 1;
    (void)in0;
    struct mf_task_record *in = NULL;
    size_t n = 0;
    if (inputs && *inputs) {
        rc = mf_record_read_inputs(&d->st, d->flow_name, d->run, step, id, inputs, &in, &n, &err);
        if (!rc)
            rc = mf_record_derive(d->g, mf_graph_find(d->g, step), in, n, split, &r, &err);
        mf_record_free_inputs(in, n);
    } else {
        struct mf_run_rec rr;
        struct mf_task_record params;
        mf_task_record_init(&params);
        rc = mf_run_record_read(&d->st, d->flow_name, d->run, &rr, &params);
        if (!rc)
            rc = mf_record_inherit(&r, &params);
        mf_task_record_free(&params);
    }
    char *msg = mf_strf("%s (exit code %d)", f.message ? f.message : "failed", f.exit_code);
    if (!rc) {
        uint8_t hdr[MF_CODEC_HDR_LEN];
        mf_codec_header(hdr, MF_STR);
        struct mf_iov iov[2] = {{hdr, sizeof hdr}, {msg ? msg : "", msg ? strlen(msg) : 0}};
        char key[MF_BLOB_KEY_LEN + 1];
        rc = mf_blob_put(&d->st, iov, 2, key, NULL);
        if (!rc)
            rc = mf_record_set_art(&r, sd->catch_var, MF_STR, key,
                                   sizeof hdr + (msg ? strlen(msg) : 0));
    }
    if (!rc) {
        r.status = MF_STATUS_SUCCEEDED;
        r.start_time = r.end_time = mf_now();
        r.message = mf_strf("caught in '%s': %s", sd->catch_var, msg ? msg : "");
        rc = mf_record_write(&d->st, &r);
    }
    if (!rc) {
        fprintf(stderr, "mflow: %s/%lld failed; the error is caught in '%s' and the flow goes on\n",
                step, (long long)id, sd->catch_var);
        index_task(&r);
    }
    free(msg);
    free(err);
    mf_task_record_free(&f);
    mf_task_record_free(&r);
    return rc;
}

/* The children's environments of a foreach task at path p, as one JSON line. */
static char *items_json(const struct path *p, int64_t count)
{
    struct mf_sbuf b = {0};
    char ps[MAX_DEPTH * 12];
    path_str(p, ps, sizeof ps);
    mf_sbuf_addf(&b, "[");
    for (int64_t i = 0; i < count; i++)
        mf_sbuf_addf(&b, "%s{\"MFLOW_FOREACH_PATH\": \"%s%s%lld\"}", i ? ", " : "", ps,
                     p->n ? "." : "", (long long)i);
    mf_sbuf_addf(&b, "]");
    return b.data;
}

static int write_xcom(const char *path, const char *json)
{
    char *dir = strdup(path);
    char *slash = dir ? strrchr(dir, '/') : NULL;
    if (slash && slash != dir) {
        *slash = '\0';
        mf_mkdir_p(dir, 0755);
    }
    free(dir);
    return mf_write_file_atomic(path, json, strlen(json));
}

/* What the command line (and MFLOW_FOREACH_PATH) gives. */
struct dag_args {
    const char *flow, *step, *dag_id, *dag_run, *fpath, *package, *ns, *xcom;
    const char *tags[MAX_TAGS];
    size_t n_tags;
    uint32_t timeout_s;
    struct path path;
};

/* 0, or the exit code after printing why. */
static int parse_args(int argc, char **argv, struct dag_args *a)
{
    memset(a, 0, sizeof *a);
    int pos = 0;
    for (int i = 1; i < argc; i++) {
        long long n;
        int r;
        const char *tag = NULL;
        if ((r = cli_str_opt(argc, argv, &i, "--dag-id", &a->dag_id)) ||
            (r = cli_str_opt(argc, argv, &i, "--dag-run", &a->dag_run)) ||
            (r = cli_match_opt(argc, argv, &i, "--foreach-path", &a->fpath)) ||
            (r = cli_str_opt(argc, argv, &i, "--package", &a->package)) ||
            (r = cli_str_opt(argc, argv, &i, "--namespace", &a->ns)) ||
            (r = cli_str_opt(argc, argv, &i, "--xcom-file", &a->xcom))) {
            if (r < 0) {
                cli_error("dag-task: %s needs a value", argv[i]);
                return 2;
            }
            continue;
        }
        if ((r = cli_str_opt(argc, argv, &i, "--tag", &tag))) {
            if (r < 0)
                return 2;
            if (a->n_tags == MAX_TAGS) {
                cli_error("dag-task: at most %d --tag", MAX_TAGS);
                return 2;
            }
            a->tags[a->n_tags++] = tag;
            continue;
        }
        if ((r = cli_int_opt(argc, argv, &i, "--timeout-s", 0, UINT32_MAX, &n))) {
            if (r < 0)
                return 2;
            a->timeout_s = (uint32_t)n;
            continue;
        }
        if (argv[i][0] == '-' && argv[i][1] == '-') {
            cli_error("dag-task: unknown option %s", argv[i]);
            return 2;
        } else if (pos == 0) {
            a->flow = argv[i];
            pos++;
        } else if (pos == 1) {
            a->step = argv[i];
            pos++;
        } else {
            cli_error("dag-task: unexpected argument '%s'", argv[i]);
            return 2;
        }
    }
    if (!a->flow || !a->step || !a->dag_id || !a->dag_run) {
        cli_error("usage: mflow %s", usage);
        return 2;
    }
    if (!a->fpath)
        a->fpath = getenv("MFLOW_FOREACH_PATH");
    if (path_parse(a->fpath, &a->path) != 0) {
        cli_error("dag-task: foreach path '%s' is not dotted item indices (e.g. 2.0)", a->fpath);
        return 2;
    }
    return 0;
}

/* The task itself. A Python flow's runs in python3 (`mflow task` execs it), so in a child:
 * this command still reads its record, catches, pushes the items and ends the run after it.
 * The child gets the package too, as a remote `mflow task` would (the cached copy). */
static int run_task(const struct mf_task_args *a, const char *package)
{
    if (!mf_flow_is_py(a->flow_path))
        return mf_task_execute(a);
    char run[24], task[24], attempt[16], split[24], timeout[16];
    snprintf(run, sizeof run, "%lld", (long long)a->run_id);
    snprintf(task, sizeof task, "%lld", (long long)a->task_id);
    snprintf(attempt, sizeof attempt, "%u", a->attempt);
    snprintf(split, sizeof split, "%lld", (long long)a->split_index);
    snprintf(timeout, sizeof timeout, "%u", a->timeout_s);
    char *argv[22];
    int n = 0;
    argv[n++] = "mflow";
    argv[n++] = "task";
    argv[n++] = (char *)a->flow_path;
    argv[n++] = (char *)a->step;
    argv[n++] = "--run-id";
    argv[n++] = run;
    argv[n++] = "--task-id";
    argv[n++] = task;
    argv[n++] = "--attempt";
    argv[n++] = attempt;
    if (a->input_paths) {
        argv[n++] = "--input-paths";
        argv[n++] = (char *)a->input_paths;
    }
    if (a->split_index >= 0) {
        argv[n++] = "--split-index";
        argv[n++] = split;
    }
    if (a->timeout_s) {
        argv[n++] = "--timeout-s";
        argv[n++] = timeout;
    }
    if (package) {
        argv[n++] = "--package";
        argv[n++] = (char *)package;
    }
    argv[n] = NULL;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        cli_error("dag-task: cannot start the task of step '%s': %s", a->step, strerror(errno));
        return 1;
    }
    if (pid == 0) {
        /* This mflow again, with the settings it resolved as the variables they come from. */
        if (setenv("MFLOW_HOME", mf_host_home(), 1) ||
            setenv("MFLOW_DATASTORE_ROOT", mf_host_datastore_root(), 1) ||
            (mf_host_storage() && setenv("MFLOW_STORAGE", mf_host_storage(), 1)))
            _exit(1);
        execv("/proc/self/exe", argv);
        fprintf(stderr, "mflow dag-task: cannot run mflow task: %s\n", strerror(errno));
        _exit(1);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return 1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int cmd_dag_task(int argc, char **argv)
{
    if (cli_wants_help(argc, argv, usage))
        return 0;
    struct dag_args args;
    int prc = parse_args(argc, argv, &args);
    if (prc)
        return prc;
    const char *flow_arg = args.flow, *step = args.step, *dag_id = args.dag_id;
    const char *dag_run = args.dag_run, *package = args.package, *ns = args.ns;
    const char *xcom = args.xcom;
    const char *const *tags = args.tags;
    size_t n_tags = args.n_tags;
    uint32_t timeout_s = args.timeout_s;
    struct path p = args.path;

    struct dt d;
    memset(&d, 0, sizeof d);
    char *err = NULL, *pkg_flow = NULL, *inputs = NULL;
    int code = 1, rc = mf_store_open(&d.st, &err);
    d.st_ok = rc == 0;
    if (!rc && package) {
        rc = mf_package_fetch(&d.st, package, &pkg_flow, &err);
        if (!rc) {
            /* The package's root (the flow lies in <root>/.mflow/), as `mflow task` sets it. */
            char *dir = strdup(pkg_flow);
            for (int up = 0; dir && up < 2; up++) {
                char *slash = strrchr(dir, '/');
                if (slash)
                    *slash = '\0';
            }
            if (dir)
                setenv("MFLOW_PACKAGE_DIR", dir, 1);
            free(dir);
        }
    }
    if (!rc)
        rc = mf_flow_open(pkg_flow ? pkg_flow : flow_arg, &d.flow, &err);
    int s = -1;
    if (!rc) {
        d.g = d.flow->graph;
        d.flow_name = d.flow->def->name;
        d.run = run_id_of(dag_id, dag_run);
        s = mf_graph_find(d.g, step);
        if (s < 0) {
            err = mf_strf("flow %s has no step '%s'", d.flow_name, step);
            rc = MF_EINVAL;
        }
    }
    if (!rc) {
        d.ctx = calloc(d.g->n, sizeof *d.ctx);
        rc = d.ctx ? contexts(d.g, d.ctx, &err) : MF_ENOMEM;
    }
    if (!rc && foreach_depth(d.g, &d.ctx[s]) != p.n) {
        err = mf_strf("step '%s' runs inside %d foreach(es): its foreach path needs %d "
                      "index(es), not %d (--foreach-path or MFLOW_FOREACH_PATH)",
                      step, foreach_depth(d.g, &d.ctx[s]), foreach_depth(d.g, &d.ctx[s]), p.n);
        rc = MF_EINVAL;
    }
    if (!rc)
        rc = ensure_run(&d, s == d.g->start, ns, tags, n_tags, &err);
    int64_t split = -1, id = 0;
    uint32_t attempt = 0;
    if (!rc)
        rc = inputs_of(&d, s, &p, &inputs, &split, &err);
    if (!rc) {
        int64_t ok;
        id = task_id_of(step, &p);
        rc = attempts(&d, step, id, &attempt, &ok, NULL, &err);
    }
    if (rc) {
        cli_error("dag-task: %s", err ? err : mf_strerror(rc));
        goto out;
    }
    /* The step's own environment, which a compute plugin would have given the task. */
    for (const char *const *e = d.g->steps[s].def->env; e && *e; e++) {
        const char *eq = strchr(*e, '=');
        char *k = eq ? strndup(*e, (size_t)(eq - *e)) : NULL;
        if (k)
            setenv(k, eq + 1, 1);
        free(k);
    }
    fprintf(stderr, "mflow: %s/%lld/%s/%lld (attempt %u) for DAG %s run %s\n", d.flow_name,
            (long long)d.run, step, (long long)id, attempt, dag_id, dag_run);
    struct mf_task_args a = {.flow_path = pkg_flow ? pkg_flow : flow_arg,
                             .step = step,
                             .run_id = d.run,
                             .task_id = id,
                             .attempt = attempt,
                             .input_paths = inputs && *inputs ? inputs : NULL,
                             .split_index = split,
                             .timeout_s = timeout_s};
    code = run_task(&a, package);
    const mf_step_def *sd = d.g->steps[s].def;
    struct mf_task_record r;
    int have = mf_record_read(&d.st, d.flow_name, d.run, step, id, attempt, &r, NULL) == 0;
    if (have)
        index_task(&r);
    if (code != 0 && sd->catch_var && (int)attempt >= sd->retry &&
        d.g->steps[s].type != MF_STEP_FOREACH)
        code = catch_failure(&d, sd, step, id, attempt, inputs, split) ? 1 : 0;
    if (code == 0 && d.g->steps[s].type == MF_STEP_FOREACH) {
        char *json = have ? items_json(&p, r.foreach_count) : NULL;
        if (!json) {
            cli_error("dag-task: cannot list the items of %s/%lld", step, (long long)id);
            code = 1;
        } else if (xcom) {
            int wrc = write_xcom(xcom, json);
            if (wrc) {
                cli_error("dag-task: cannot write %s: %s", xcom, strerror(wrc));
                code = 1;
            }
        } else {
            /* The scheduler takes the last line of output (BashOperator's XCom). */
            fflush(stdout);
            printf("%s\n", json);
            fflush(stdout);
        }
        free(json);
    }
    if (have)
        mf_task_record_free(&r);
    if (code == 0 && s == d.g->end)
        finish_run(&d, MF_STATUS_SUCCEEDED);
    else if (code != 0 && (int)attempt >= sd->retry)
        finish_run(&d, MF_STATUS_FAILED);   /* Airflow tries a step retry + 1 times */
out:
    free(err);
    free(inputs);
    free(d.ctx);
    free(pkg_flow);
    mf_flow_close(d.flow);
    if (d.st_ok)
        mf_store_close(&d.st);
    return code;
}
