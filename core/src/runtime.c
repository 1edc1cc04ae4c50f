/* The orchestrator: one event loop that submits ready tasks to compute plugins, notices when
 * they end, reads their records, indexes them and makes their successors ready. */
#include "runtime.h"

#include "admit.h"
#include "blob.h"
#include "codec.h"
#include "flowload.h"
#include "host.h"
#include "index.h"
#include "joins.h"
#include "mflow-build.h"
#include "package.h"
#include "params.h"
#include "record.h"
#include "reindex.h"
#include "resume.h"
#include "runlog.h"
#include "store.h"
#include "task.h"
#include "util.h"

#include <sys/resource.h>

#include <errno.h>
#include <stdarg.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { T_READY = 1, T_RUNNING, T_DONE, T_FAILED };

struct rt_task {
    int64_t id;
    int step;
    uint32_t attempt;
    int state;
    int compute;                 /* index into rt.computes */
    int64_t split_index;
    char *inputs;                /* compact input paths, or NULL for start */
    mf_job *job;
    int midline[2];              /* output streams: not at a line start */
    struct task_log *log;        /* while running */
    double submitted;            /* when submit last started it (unix seconds) */
    int start_unindexed;         /* submitted, not yet in the index as running */
};

/* What a running task printed, kept by the host from task_output (no files per task: on
 * ext4 the create/unlink churn of two log files was a third of a small task's cost). Past
 * LOG_MEM_MAX a stream spills to a file under the run's tmp directory. */
#define LOG_MEM_MAX ((size_t)4 << 20)
struct task_log {
    struct mf_sbuf mem[2];
    FILE *spill[2];
    char *spill_path[2];
    int spill_err[2];            /* the first failed write to spill[s] (ENOSPC...): said at store */
};

struct rt {
    struct mf_flow *flow;
    const mf_graph *g;
    struct mf_store st;
    mf_index *ix;
    int ix_batch;                /* an index transaction is open (index_task/index_flush) */
    struct mf_compute computes[8];
    const char *compute_names[8];
    int n_computes;
    int *step_compute;           /* per step: index into computes */
    struct mf_run_rec run;
    struct mf_task_record params;
    struct rt_task **tasks;      /* by id - 1 */
    size_t n_tasks, cap_tasks;
    size_t *ready;               /* FIFO of task indices */
    size_t ready_head, ready_tail, ready_cap;
    size_t *running;
    size_t n_running;
    mf_joins *joins;             /* joins waiting for their inputs (joins.c) */
    int max_workers;
    size_t n_done, n_failed;
    int failed, stopping;
    char *self_exe;
    char *logdir;
    char *package;               /* code package address, when a step runs remotely */
    mf_runlog *log;              /* messages, task output, progress (runlog.c) */
    double t0;
    /* resume */
    int resume;
    unsigned char *rerun;        /* per step: 1 = run again even if the origin finished it */
    mf_origin_map *origin;       /* the origin's reusable tasks (resume.c) */
    size_t n_cloned;
    double clone_s;              /* time spent cloning */
};

static struct rt *R;
static volatile sig_atomic_t interrupted;   /* how many SIGINT/SIGTERM arrived */

static void on_signal(int sig)
{
    (void)sig;
    interrupted++;
}

/* ---- output -------------------------------------------------------------------------------- */

/* A message of the run (printf-style, "mflow: " and newline included). */
__attribute__((format(printf, 1, 2))) static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mf_runlog_vsay(R ? R->log : NULL, fmt, ap);
    va_end(ap);
}

static void show_progress(void)
{
    mf_runlog_progress(R->log, R->run.flow, R->run.run_id, R->n_done, R->n_running,
                       R->ready_tail - R->ready_head, R->n_failed);
}

static struct rt_task *task_by_pathspec(const char *pathspec)
{
    const char *slash = strrchr(pathspec, '/');
    if (!slash || !R)
        return NULL;
    long long id = atoll(slash + 1);
    return id >= 1 && (size_t)id <= R->n_tasks ? R->tasks[id - 1] : NULL;
}

static const char *const stream_ext[2] = {"stdout", "stderr"};

static char *log_path(const struct rt_task *t, const char *ext);

/* The first error writing stream s's spill file (ENOSPC...) is kept, to be said when the
 * log is stored. */
static void spill_failed(struct task_log *l, int s)
{
    if (!l->spill_err[s])
        l->spill_err[s] = errno ? errno : EIO;
}

static void keep_output(struct rt_task *t, int s, const char *data, size_t len)
{
    struct task_log *l = t->log;
    if (!l)
        return;
    if (!l->spill[s] && l->mem[s].len + len > LOG_MEM_MAX) {
        l->spill_path[s] = log_path(t, stream_ext[s]);
        l->spill[s] = l->spill_path[s] ? mf_fopen_private(l->spill_path[s]) : NULL;
        if (l->spill[s]) {
            if (fwrite(l->mem[s].data, 1, l->mem[s].len, l->spill[s]) != l->mem[s].len)
                spill_failed(l, s);
            mf_sbuf_free(&l->mem[s]);
        }
    }
    if (l->spill[s]) {
        if (fwrite(data, 1, len, l->spill[s]) != len)
            spill_failed(l, s);
    } else {
        mf_sbuf_add(&l->mem[s], data, len);
    }
}

/* Task output, prefixed with its pathspec at every line start. */
static void on_output(const char *pathspec, int stream, const char *data, size_t len)
{
    struct rt_task *t = task_by_pathspec(pathspec);
    if (t)
        keep_output(t, stream == MF_STREAM_STDERR, data, len);
    int *mid = t ? &t->midline[stream == MF_STREAM_STDERR] : NULL;
    mf_runlog_task_output(R ? R->log : NULL, pathspec,
                          stream == MF_STREAM_STDERR ? MF_RUNLOG_STDERR : MF_RUNLOG_STDOUT, mid,
                          data, len);
}

/* ---- tasks --------------------------------------------------------------------------------- */

/* Append task index i to the ready FIFO: compact when the tail reaches the end, grow only
 * when every slot holds a live entry. 0, or MF_ENOMEM with the queue as it was. */
static int enqueue(size_t i)
{
    if (R->ready_tail == R->ready_cap && R->ready_head > 0) {
        size_t live = R->ready_tail - R->ready_head;
        memmove(R->ready, R->ready + R->ready_head, live * sizeof *R->ready);
        R->ready_head = 0;
        R->ready_tail = live;
    }
    if (mf_grow(&R->ready, &R->ready_cap, R->ready_tail, sizeof *R->ready, 64))
        return MF_ENOMEM;
    R->ready[R->ready_tail++] = i;
    return 0;
}

/* A new ready task; it owns inputs only when it is returned. NULL when out of memory, with
 * nothing changed. */
static struct rt_task *new_task(int step, char *inputs, int64_t split_index)
{
    /* Room first, so that a failure leaves no task half made: a slot in tasks, and a slot in
     * the ready queue for every task. A task is queued at most once at a time, so a retry's
     * requeue then always finds room (after compaction) and never needs memory. */
    if (mf_grow(&R->tasks, &R->cap_tasks, R->n_tasks, sizeof *R->tasks, 64) ||
        mf_grow(&R->ready, &R->ready_cap, R->n_tasks, sizeof *R->ready, 64))
        return NULL;
    struct rt_task *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->id = (int64_t)R->n_tasks + 1;
    if (enqueue((size_t)(t->id - 1)) != 0) {
        free(t);
        return NULL;
    }
    t->step = step;
    t->inputs = inputs;
    t->split_index = split_index;
    t->compute = R->step_compute[step];
    t->state = T_READY;
    R->tasks[R->n_tasks++] = t;
    return t;
}

/* Queue a failed task again for its next attempt. 0, or MF_ENOMEM (see new_task: it should
 * not happen) with the task left as it was. */
static int requeue(struct rt_task *t)
{
    int rc = enqueue((size_t)(t->id - 1));
    if (!rc)
        t->state = T_READY;
    return rc;
}

/* A task this run can no longer run or account for: the run fails, naming it. */
static void lose_task(struct rt_task *t, const char *why)
{
    say("mflow: lost task %s/%lld/%s/%lld (attempt %u): %s; the run fails\n",
            R->run.flow, (long long)R->run.run_id, R->g->steps[t->step].name, (long long)t->id,
            t->attempt, why);
    t->state = T_FAILED;
    R->n_failed++;
    R->failed = R->stopping = 1;
}

static const char *step_name(int s)
{
    return R->g->steps[s].name;
}

static char *log_path(const struct rt_task *t, const char *ext)
{
    return mf_strf("%s/%lld.%u.%s", R->logdir, (long long)t->id, t->attempt, ext);
}

static int submit(struct rt_task *t)
{
    char run_s[32], task_s[32], att_s[16], split_s[32], timeout_s[16];
    snprintf(run_s, sizeof run_s, "%lld", (long long)R->run.run_id);
    snprintf(task_s, sizeof task_s, "%lld", (long long)t->id);
    snprintf(att_s, sizeof att_s, "%u", t->attempt);
    snprintf(split_s, sizeof split_s, "%lld", (long long)t->split_index);
    const char *argv[32];
    int n = 0;
    argv[n++] = R->self_exe;
    argv[n++] = "--home";
    argv[n++] = mf_host_home();
    argv[n++] = "--storage";
    argv[n++] = mf_host_storage();
    argv[n++] = "--datastore-root";
    argv[n++] = mf_host_run_root();
    argv[n++] = "task";
    int flow_arg = n;
    argv[n++] = R->flow->so_path;
    argv[n++] = step_name(t->step);
    argv[n++] = "--run-id";
    argv[n++] = run_s;
    argv[n++] = "--task-id";
    argv[n++] = task_s;
    argv[n++] = "--attempt";
    argv[n++] = att_s;
    if (t->inputs) {
        argv[n++] = "--input-paths";
        argv[n++] = t->inputs;
    }
    if (t->split_index >= 0) {
        argv[n++] = "--split-index";
        argv[n++] = split_s;
    }
    const mf_step_def *d = R->g->steps[t->step].def;
    if (d->timeout_s > 0) {
        /* The task holds itself to it too: it must stop even when this process is gone. */
        snprintf(timeout_s, sizeof timeout_s, "%d", d->timeout_s);
        argv[n++] = "--timeout-s";
        argv[n++] = timeout_s;
    }
    int remote = (R->computes[t->compute].ops->caps & MF_COMPUTE_REMOTE) != 0;
    if (remote) {
        /* Away from here the local path means nothing: the task loads the flow from the
         * package, and FLOW only names it. */
        argv[flow_arg] = R->run.flow;
        argv[n++] = "--package";
        argv[n++] = R->package;
    }
    argv[n] = NULL;

    char *pathspec = mf_strf("%s/%lld/%s/%lld", R->run.flow, (long long)R->run.run_id,
                             step_name(t->step), (long long)t->id);
    char *out = NULL, *err = NULL;   /* output comes through task_output (task_log) */
    struct mf_resources res = {.struct_size = sizeof res,
                               .cpu = (uint32_t)(d->resources.cpu > 0 ? d->resources.cpu : 0),
                               .memory_mb = (uint64_t)(d->resources.memory_mb > 0 ? d->resources.memory_mb : 0),
                               .gpu = (uint32_t)(d->resources.gpu > 0 ? d->resources.gpu : 0)};
    struct mf_job_spec spec = {
        .struct_size = sizeof spec,
        .timeout_s = (uint32_t)(d->timeout_s > 0 ? d->timeout_s : 0),
        .argv = argv,
        .env = d->env,
        .pathspec = pathspec,
        .flow_name = R->run.flow,
        .step_name = step_name(t->step),
        .run_id = R->run.run_id,
        .task_id = t->id,
        .attempt = t->attempt,
        .resources = &res,
        .image = d->image,
        .package_url = remote ? R->package : NULL,
        .stdout_path = out,
        .stderr_path = err,
        .settings = d->settings,
    };
    struct mf_compute *c = &R->computes[t->compute];
    t->log = calloc(1, sizeof *t->log);
    int rc = pathspec && t->log ? c->ops->submit(c->state, &spec, &t->job) : MF_ENOMEM;
    if (rc) {
        say("mflow: cannot start task %s on compute '%s': %s\n",
                pathspec ? pathspec : "?", c->desc->name, c->ops->last_error(c->state));
    }
    free(pathspec);
    if (rc) {
        free(t->log);
        t->log = NULL;
        return rc;
    }
    t->state = T_RUNNING;
    t->midline[0] = t->midline[1] = 0;
    R->running[R->n_running++] = (size_t)(t->id - 1);
    t->submitted = mf_now();
    t->start_unindexed = 1;   /* index_starts, after this turn's wait */
    return 0;
}

/* ---- joins --------------------------------------------------------------------------------- */

/* Task t arrives at join_step; the last input of a split queues the join. On failure the
 * join is lost: said here, naming it. */
static int arrive(const struct mf_task_record *r, const struct rt_task *t, int join_step)
{
    const struct mf_frame *top = r->depth ? &r->stack[r->depth - 1] : NULL;
    char *inputs = NULL;
    int rc = MF_EINVAL;
    if (top) {
        struct mf_join_arrival a = {.split_task = top->task, .join_step = join_step,
                                    .index = top->index, .count = top->count,
                                    .step = t->step, .task = t->id, .attempt = t->attempt};
        rc = mf_joins_arrive(R->joins, &a, &inputs);
    }
    if (rc < 0) {
        say("mflow: cannot note %s/%lld as an input of join '%s': %s\n",
                step_name(t->step), (long long)t->id, step_name(join_step),
                !top                          ? "its record has no split to close"
                : rc == MF_ENOMEM             ? "out of memory"
                : rc == MF_EEXIST             ? "its position in the split arrived already"
                : top->index >= top->count    ? "its position is past the split"
                : rc == MF_ECORRUPT           ? "its split's input count does not match"
                                  : "its task id is not valid");
        return rc;
    }
    if (rc == 0)
        return 0;   /* the join waits for more */
    rc = 0;
    if (strlen(inputs) > 64 * 1024) {
        /* Past what one argument may hold: store the list beside the join task, under the
         * id new_task gives it next. */
        char *key = mf_key_inputs(R->run.flow, R->run.run_id, step_name(join_step),
                                  (int64_t)R->n_tasks + 1);
        struct mf_iov iov = {inputs, strlen(inputs)};
        rc = key ? R->st.ops->put(R->st.state, key, &iov, 1, 0) : MF_ENOMEM;
        free(key);
        free(inputs);
        inputs = rc ? NULL : strdup("@");
        if (!rc && !inputs)
            rc = MF_ENOMEM;
    }
    if (!rc && !new_task(join_step, inputs, -1))
        rc = MF_ENOMEM;
    if (rc) {
        free(inputs);
        say("mflow: cannot queue join '%s' (all %u inputs of split %s/%lld arrived): "
            "%s\n",
                step_name(join_step), top->count, step_name(R->tasks[top->task - 1]->step),
                (long long)top->task,
                rc == MF_ENOMEM ? "out of memory" : R->st.ops->last_error(R->st.state));
        return rc;
    }
    return 0;
}

static void index_task(const struct mf_task_record *r);
static void successors(struct rt_task *t, const struct mf_task_record *r);

/* ---- inputs of a task, as records ---------------------------------------------------------- */

/* A fresh record for task t of this run: identity, inputs, stack and inherited artifacts. */
static int prepare_record(const struct rt_task *t, struct mf_task_record *r, char **err)
{
    mf_task_record_init(r);
    r->flow = strdup(R->run.flow);
    r->run_id = R->run.run_id;
    r->step = strdup(step_name(t->step));
    r->task_id = t->id;
    r->attempt = t->attempt;
    if (!r->flow || !r->step)
        return MF_ENOMEM;
    if (!t->inputs)
        return mf_record_inherit(r, &R->params);
    struct mf_task_record *in;
    size_t n;
    int rc = mf_record_read_inputs(&R->st, R->run.flow, R->run.run_id, step_name(t->step), t->id,
                                   t->inputs, &in, &n, err);
    if (!rc)
        rc = mf_record_derive(R->g, t->step, in, n, t->split_index, r, err);
    mf_record_free_inputs(in, n);
    return rc;
}

/* ---- resume ------------------------------------------------------------------------------- */

static void warn_resume(void *ud, const char *msg)
{
    (void)ud;
    say("mflow: warning: %s\n", msg);
}

/* Load the origin (resume.c): its parameters, which steps run again, and its finished tasks. */
struct newest_in_ns {
    const char *ns;
    struct mf_run_rec rec;
    int found;
};

static int take_newest(void *ud, const struct mf_run_rec *r)
{
    struct newest_in_ns *l = ud;
    if (l->ns[0] && strcmp(r->ns, l->ns) != 0)
        return 0;
    l->rec = *r;
    l->found = 1;
    return 1;
}

/* Resume with no storage chosen: use the storage plugin and root the origin run recorded (the
 * --origin-run-id run, else the newest run of the namespace), so the run is resumed from the
 * datastore it lives in. Nothing to do when the index does not know it (setup_resume then
 * says what is missing). */
static int origin_storage(const struct mf_run_opts *o, const char *flow, char **err)
{
    char *ixdir = mf_strf("%s/index", mf_host_home());
    mf_index *ix = NULL;
    if (!ixdir || mf_index_open(ixdir, &ix) != 0) {
        free(ixdir);
        mf_index_close(ix);
        return 0;
    }
    free(ixdir);
    struct newest_in_ns *l = calloc(1, sizeof *l);
    int rc = l ? 0 : MF_ENOMEM;
    if (l) {
        l->ns = mf_host_namespace();
        if (o->origin_run_id)
            l->found = mf_index_get_run(ix, flow, o->origin_run_id, &l->rec) == 0;
        else
            mf_index_list_runs(ix, flow, take_newest, l);
        if (l->found && l->rec.storage[0])
            rc = mf_host_use_storage(l->rec.storage, l->rec.storage_root);
    }
    if (rc)
        *err = mf_strf("out of memory");
    free(l);
    mf_index_close(ix);
    return rc;
}

static int setup_resume(const struct mf_run_opts *o, char **err)
{
    int64_t origin = o->origin_run_id;
    int rc = origin ? 0
                    : mf_resume_pick_origin(R->ix, &R->st, R->run.flow, mf_host_namespace(),
                                            R->run.run_id, &origin, err);
    if (rc)
        return rc;
    struct mf_run_rec orr;
    rc = mf_resume_read_origin(&R->st, R->run.flow, origin, &orr, &R->params, err);
    if (rc)
        return rc;
    R->run.origin_run_id = origin;
    struct mf_resume_task *tasks;
    size_t n;
    rc = mf_resume_scan(&R->st, R->g, R->run.flow, origin, warn_resume, NULL, &tasks, &n, err);
    if (rc)
        return rc;
    R->rerun = calloc(R->g->n, 1);
    rc = R->rerun ? mf_origin_map_create(origin, &R->origin) : MF_ENOMEM;
    /* The resume step: named, or the step of the origin's first failed task; with none
     * failed (a killed run) nothing runs again that had finished. */
    int from = -1;
    if (!rc)
        rc = mf_resume_from_step(R->g, R->run.flow, o->resume_step, tasks, n, &from, err);
    if (!rc)
        rc = mf_resume_rerun(R->g, from, R->rerun);
    if (!rc)
        rc = mf_resume_check_graph(&R->st, R->g, R->run.flow, origin, R->rerun, err);
    for (size_t i = 0; !rc && i < n; i++) {
        int s = mf_graph_find(R->g, tasks[i].step);
        if (tasks[i].pos && s >= 0 && !R->rerun[s]) {
            rc = mf_origin_map_add(R->origin, tasks[i].pos, tasks[i].step, tasks[i].task,
                                   tasks[i].attempt);
            tasks[i].pos = NULL;
        }
    }
    mf_resume_tasks_free(tasks, n);
    if (!rc)
        say("mflow: resuming %s/%lld%s%s%s: %zu finished task(s) can be reused\n",
                R->run.flow, (long long)origin, from >= 0 ? " from step '" : "",
                from >= 0 ? R->g->steps[from].name : "", from >= 0 ? "'" : "",
                mf_origin_map_size(R->origin));
    return rc;
}

/* Clone task t from the origin when it finished there: 1 cloned, 0 run it, <0 error. */
static int try_clone(struct rt_task *t)
{
    if (!R->origin || R->rerun[t->step])
        return 0;
    struct mf_task_record r;
    char *err = NULL;
    int rc = prepare_record(t, &r, &err);
    char *pos = rc ? NULL : mf_record_position(&r);
    const struct mf_origin_task *ot = pos ? mf_origin_map_find(R->origin, pos) : NULL;
    free(pos);
    if (rc || !ot) {
        mf_task_record_free(&r);
        free(err);
        return 0;   /* not finished in the origin (or unreadable): run it */
    }
    struct mf_task_record orec;
    rc = mf_record_read(&R->st, R->run.flow, mf_origin_map_run(R->origin), ot->step, ot->task,
                        ot->attempt, &orec, &err);
    if (!rc) {
        /* Same values, no copy of blobs: the origin's artifacts, this run's identity. */
        for (size_t i = 0; i < r.n_arts; i++)
            free(r.arts[i].name);
        free(r.arts);
        r.arts = orec.arts;
        r.n_arts = orec.n_arts;
        orec.arts = NULL;
        orec.n_arts = 0;
        r.status = MF_STATUS_SUCCEEDED;
        r.exit_code = 0;
        r.foreach_count = orec.foreach_count;
        r.start_time = orec.start_time;
        r.end_time = orec.end_time;
        r.host = orec.host;
        orec.host = NULL;
        r.origin = mf_strf("%s/%lld/%s/%lld", R->run.flow,
                           (long long)mf_origin_map_run(R->origin), ot->step, (long long)ot->task);
        rc = mf_record_write(&R->st, &r);
        mf_task_record_free(&orec);
    }
    if (rc) {
        say("mflow: cannot clone %s/%lld from the origin run: %s\n",
                step_name(t->step), (long long)t->id, err ? err : R->st.ops->last_error(R->st.state));
        free(err);
        mf_task_record_free(&r);
        return rc < 0 ? rc : -rc;
    }
    t->state = T_DONE;
    R->n_done++;
    R->n_cloned++;
    index_task(&r);
    successors(t, &r);
    mf_task_record_free(&r);
    return 1;
}

/* catch_var: after the last failed attempt, the task succeeds with the error stored. */
static int catch_failure(struct rt_task *t, const struct mf_task_record *failed)
{
    const mf_step_def *d = R->g->steps[t->step].def;
    if (R->g->steps[t->step].type == MF_STEP_FOREACH) {
        say("mflow: step '%s' cannot catch its failure: a foreach step must produce "
            "its list (move the catch_var to the step before)\n", d->name);
        return MF_EINVAL;
    }
    struct mf_task_record r;
    char *err = NULL;
    t->attempt++;   /* the caught outcome is an attempt of its own; failed ones are kept */
    int rc = prepare_record(t, &r, &err);
    char *msg = NULL;
    if (!rc) {
        if (failed->term_signal)
            msg = mf_strf("%s (signal %d, %s)", failed->message ? failed->message : "crashed",
                          failed->term_signal, strsignal(failed->term_signal));
        else
            msg = mf_strf("%s (exit code %d)", failed->message ? failed->message : "failed",
                          failed->exit_code);
        uint8_t hdr[MF_CODEC_HDR_LEN];
        mf_codec_header(hdr, MF_STR);
        struct mf_iov iov[2] = {{hdr, sizeof hdr}, {msg ? msg : "", msg ? strlen(msg) : 0}};
        char key[MF_BLOB_KEY_LEN + 1];
        uint64_t n = sizeof hdr + (msg ? strlen(msg) : 0);
        rc = mf_blob_put(&R->st, iov, 2, key, NULL);
        if (!rc)
            rc = mf_record_set_art(&r, d->catch_var, MF_STR, key, n);
    }
    if (!rc) {
        r.status = MF_STATUS_SUCCEEDED;
        r.exit_code = 0;
        r.start_time = r.end_time = mf_now();
        r.message = mf_strf("caught in '%s': %s", d->catch_var, msg ? msg : "");
        rc = mf_record_write(&R->st, &r);
    }
    if (rc) {
        say("mflow: cannot store the caught failure of %s/%lld: %s\n", d->name,
                (long long)t->id, err ? err : "storage error");
    } else {
        say("mflow: %s/%lld failed; the error is caught in '%s' and the flow goes on\n",
                d->name, (long long)t->id, d->catch_var);
        t->state = T_DONE;
        R->n_done++;
        index_task(&r);
        successors(t, &r);
    }
    free(msg);
    free(err);
    mf_task_record_free(&r);
    return rc;
}

/* ---- task ends ----------------------------------------------------------------------------- */

/* Store what the task printed on stream s: the kept output, or (a backend that does not
 * stream) what its logs operation returns. The job must not be released yet. */
static void store_log(struct rt_task *t, int s)
{
    struct task_log *l = t->log;
    struct mf_compute *c = &R->computes[t->compute];
    /* The key is made only for what is stored: most tasks print nothing. */
    char *key = NULL;
    int rc = 0;
#define LOG_KEY()                                                                              \
    (key = mf_key_log(R->run.flow, R->run.run_id, step_name(t->step), t->id, t->attempt, s))
    if (l && l->spill[s]) {
        if (fclose(l->spill[s]) != 0)
            spill_failed(l, s);
        l->spill[s] = NULL;
        if (l->spill_err[s])   /* what was written is stored: the rest is lost, and said so */
            say("mflow: warning: the %s of task %lld is cut short: writing %s failed: %s (free "
                "space there)\n",
                stream_ext[s], (long long)t->id, l->spill_path[s], strerror(l->spill_err[s]));
        rc = LOG_KEY() ? R->st.ops->put_file(R->st.state, key, l->spill_path[s], 0) : 0;
        unlink(l->spill_path[s]);
    } else if (l && l->mem[s].len) {
        struct mf_iov iov = {l->mem[s].data, l->mem[s].len};
        rc = LOG_KEY() ? R->st.ops->put(R->st.state, key, &iov, 1, 0) : 0;
    } else if (c->ops->logs && t->job) {
        struct mf_buf b = {.struct_size = sizeof b};
        if (c->ops->logs(c->state, t->job, s ? MF_STREAM_STDERR : MF_STREAM_STDOUT, &b) == 0) {
            if (b.len && LOG_KEY()) {
                struct mf_iov iov = {b.data, b.len};
                rc = R->st.ops->put(R->st.state, key, &iov, 1, 0);
            }
            if (b.release)
                b.release(&b);
        }
    }
#undef LOG_KEY
    if (rc)
        say("mflow: warning: cannot store the %s of task %lld: %s\n", stream_ext[s],
                (long long)t->id, R->st.ops->last_error(R->st.state));
    free(key);
}

static void free_log(struct rt_task *t)
{
    struct task_log *l = t->log;
    if (!l)
        return;
    for (int s = 0; s < 2; s++) {
        mf_sbuf_free(&l->mem[s]);
        if (l->spill[s]) {
            fclose(l->spill[s]);
            unlink(l->spill_path[s]);
        }
        free(l->spill_path[s]);
    }
    free(l);
    t->log = NULL;
}

/* Task records go into one index transaction per loop turn, opened by the first of them (a
 * turn woken only by output writes nothing), committed by index_flush. */
static void index_batch(void)
{
    if (!R->ix_batch) {
        if (mf_index_begin(R->ix) == 0)
            R->ix_batch = 1;
        else
            say("mflow: warning: index: %s\n", mf_index_error(R->ix));
    }
}

static void index_task(const struct mf_task_record *r)
{
    index_batch();
    struct mf_task_rec ir;
    mf_reindex_task_rec(r, &ir);
    if (mf_index_put_task(R->ix, &ir) != 0)
        say("mflow: warning: index: %s\n", mf_index_error(R->ix));
}

/* A task that started (status running) or waits for its retry (pending), for whoever watches
 * the run (mflow ui): in the turn's transaction with the ends, so it costs no commit or sync
 * of its own. Not durable state: the task's record replaces it when it ends, and a run that
 * died leaves it as the run shows it (client.c). */
static void index_started(struct rt_task *t, int status)
{
    t->start_unindexed = 0;
    index_batch();
    struct mf_task_rec ir;
    memset(&ir, 0, sizeof ir);
    memcpy(ir.flow, R->run.flow, sizeof ir.flow);
    snprintf(ir.step, sizeof ir.step, "%s", step_name(t->step));
    ir.run_id = R->run.run_id;
    ir.task_id = t->id;
    ir.attempt = t->attempt;
    ir.status = status;
    ir.start_time = status == MF_STATUS_RUNNING ? t->submitted : 0;
    ir.exit_code = -1;
    if (mf_index_put_task(R->ix, &ir) != 0)
        say("mflow: warning: index: %s\n", mf_index_error(R->ix));
}

/* A task is entered as running once it has run this long: one that ends sooner (most of a
 * wide foreach) costs the index nothing more than its end, and a watcher, who polls once a
 * second, sees a longer one within about a second of its start (bench_tasks: writing every
 * start cost a trivial task 0.7 ms of CPU, 5.1 -> 5.9 ms). */
#define START_INDEXED_AFTER_S 0.25

/* The tasks submitted at least START_INDEXED_AFTER_S ago, as running: after the wait, so
 * that no write transaction is held open across it (another writer of the index would wait),
 * and before the ends polled next, which replace them in the same transaction. */
static void index_starts(void)
{
    double now = mf_now();
    for (size_t i = 0; i < R->n_running; i++) {
        struct rt_task *t = R->tasks[R->running[i]];
        if (t->start_unindexed && now - t->submitted >= START_INDEXED_AFTER_S)
            index_started(t, MF_STATUS_RUNNING);
    }
}

static void index_flush(void)
{
    if (!R->ix_batch)
        return;
    R->ix_batch = 0;
    if (mf_index_commit(R->ix) != 0)
        say("mflow: warning: index: %s\n", mf_index_error(R->ix));
}

/* A record for a task that ended without writing its own (crash, kill, timeout). */
static void synthesize_failure(struct rt_task *t, const struct mf_job_status *js,
                               struct mf_task_record *r)
{
    mf_task_record_init(r);
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    const mf_step_def *d = R->g->steps[t->step].def;
    r->flow = strdup(R->run.flow);
    r->run_id = R->run.run_id;
    r->step = strdup(step_name(t->step));
    r->task_id = t->id;
    r->attempt = t->attempt;
    r->status = MF_STATUS_FAILED;
    r->exit_code = js->exit_code;
    r->term_signal = js->term_signal;
    r->host = strdup(host);
    r->start_time = js->start_time;
    r->end_time = js->end_time ? js->end_time : mf_now();
    /* A backend's reason that only says again how the process ended adds nothing. */
    char how[96];
    if (js->term_signal)
        snprintf(how, sizeof how, "killed by signal %d (%s)", js->term_signal,
                 strsignal(js->term_signal));
    else
        snprintf(how, sizeof how, "exited with code %d", js->exit_code);
    const char *reason = strcmp(js->reason, how) ? js->reason : "";
    if (js->timed_out && d->timeout_s > 0)
        r->message = mf_strf("step '%s' timed out after %d s (timeout_s); the task was killed%s%s",
                             r->step, d->timeout_s, js->reason[0] ? ": " : "", js->reason);
    else if (js->timed_out)
        r->message = mf_strf("step '%s' timed out: %s", r->step,
                             js->reason[0] ? js->reason : "the backend's time limit");
    else if (js->term_signal)
        r->message = mf_strf("step '%s' crashed: %s%s%s", r->step, how, reason[0] ? ": " : "",
                             reason);
    else if (js->state == MF_JOB_CANCELLED)
        r->message = mf_strf("step '%s' was cancelled%s%s", r->step, js->reason[0] ? ": " : "",
                             js->reason);
    else if (js->exit_code < 0 && js->reason[0])
        r->message = mf_strf("step '%s' failed: %s", r->step, js->reason);
    else
        r->message = mf_strf("step '%s' exited with code %d without a task record%s%s", r->step,
                             js->exit_code, reason[0] ? ": " : "", reason);
    if (mf_record_write(&R->st, r) != 0)
        say("mflow: warning: cannot store the failure record of task %lld: %s\n",
                (long long)t->id, R->st.ops->last_error(R->st.state));
}

/* Queue successor `step` of t (input path me; item split of count for a foreach). On
 * failure names the task that could not be made. */
static int queue_next(const struct rt_task *t, const char *me, int step, int64_t split,
                      int64_t count)
{
    char *in = me ? strdup(me) : NULL;
    if (in && new_task(step, in, split))
        return 0;
    free(in);
    if (split >= 0)
        say("mflow: cannot queue step '%s' (item %lld of %lld) after %s/%lld: out of "
            "memory\n",
                step_name(step), (long long)split, (long long)count, step_name(t->step),
                (long long)t->id);
    else
        say("mflow: cannot queue step '%s' after %s/%lld: out of memory\n",
                step_name(step), step_name(t->step), (long long)t->id);
    return MF_ENOMEM;
}

static void successors(struct rt_task *t, const struct mf_task_record *r)
{
    const struct mf_graph_step *gs = &R->g->steps[t->step];
    char *me = t->attempt ? mf_strf("%s/%lld@%u", gs->name, (long long)t->id, t->attempt)
                          : mf_strf("%s/%lld", gs->name, (long long)t->id);
    int rc = 0;
    if (gs->type == MF_STEP_BRANCH) {
        for (size_t i = 0; !rc && i < gs->n_next; i++)
            rc = queue_next(t, me, gs->next[i], -1, 0);
    } else if (gs->type == MF_STEP_FOREACH) {
        for (int64_t i = 0; !rc && i < r->foreach_count; i++)
            rc = queue_next(t, me, gs->next[0], i, r->foreach_count);
    } else if (gs->type == MF_STEP_LINEAR) {
        int nx = gs->next[0];
        if (R->g->steps[nx].is_join)
            rc = arrive(r, t, nx);
        else
            rc = queue_next(t, me, nx, -1, 0);
    }
    free(me);
    if (rc) {
        say("mflow: what follows %s/%lld is lost; the run fails\n", gs->name,
                (long long)t->id);
        R->failed = R->stopping = 1;
    }
}

static void task_ended(struct rt_task *t, const struct mf_job_status *js)
{
    struct mf_compute *c = &R->computes[t->compute];
    store_log(t, 0);
    store_log(t, 1);
    free_log(t);
    c->ops->release(c->state, t->job);
    t->job = NULL;
    struct mf_task_record r;
    int rc = mf_record_read(&R->st, R->run.flow, R->run.run_id, step_name(t->step), t->id,
                            t->attempt, &r, NULL);
    if (rc == 0 && r.status != MF_STATUS_SUCCEEDED && r.status != MF_STATUS_FAILED) {
        mf_task_record_free(&r);
        rc = MF_ECORRUPT;
    }
    if (rc)
        synthesize_failure(t, js, &r);
    index_task(&r);
    const mf_step_def *d = R->g->steps[t->step].def;
    if (r.status == MF_STATUS_SUCCEEDED) {
        t->state = T_DONE;
        R->n_done++;
        if (!R->stopping)
            successors(t, &r);
    } else {
        say("mflow: %s/%lld/%s/%lld (attempt %u) failed: %s\n", R->run.flow,
                (long long)R->run.run_id, step_name(t->step), (long long)t->id, t->attempt,
                r.message ? r.message : "unknown error");
        if ((int)t->attempt < d->retry && !R->stopping) {
            t->attempt++;
            say("mflow: retrying %s/%lld (attempt %u of %d)\n", step_name(t->step),
                    (long long)t->id, t->attempt + 1, d->retry + 1);
            if (requeue(t) != 0)
                lose_task(t, "it cannot be queued for its retry (out of memory)");
            else
                index_started(t, MF_STATUS_PENDING);
        } else if (d->catch_var && !R->stopping && catch_failure(t, &r) == 0) {
            /* caught: the flow goes on */
        } else {
            t->state = T_FAILED;
            R->n_failed++;
            R->failed = 1;
            R->stopping = 1;
        }
    }
    mf_task_record_free(&r);
}

/* ---- setup --------------------------------------------------------------------------------- */

static int open_computes(char **err)
{
    R->step_compute = calloc(R->g->n, sizeof *R->step_compute);
    if (!R->step_compute)
        return MF_ENOMEM;
    for (size_t s = 0; s < R->g->n; s++) {
        const char *name = R->g->steps[s].def->compute;
        if (!name || !*name)
            name = mf_host_compute();
        int k;
        for (k = 0; k < R->n_computes; k++)
            if (!strcmp(R->compute_names[k], name))
                break;
        if (k == R->n_computes) {
            if (k == 8) {
                *err = mf_strf("too many compute plugins in one run (8 at most)");
                return MF_EINVAL;
            }
            int rc = mf_compute_open(name, &R->computes[k], err);
            if (rc)
                return rc;
            R->compute_names[k] = name;
            R->n_computes++;
        }
        R->step_compute[s] = k;
        /* Refuse what can never run before anything starts. */
        struct mf_compute *c = &R->computes[k];
        const mf_step_def *d = R->g->steps[s].def;
        struct mf_resources res = {.struct_size = sizeof res,
                                   .cpu = (uint32_t)(d->resources.cpu > 0 ? d->resources.cpu : 0),
                                   .memory_mb = (uint64_t)(d->resources.memory_mb > 0 ? d->resources.memory_mb : 0),
                                   .gpu = (uint32_t)(d->resources.gpu > 0 ? d->resources.gpu : 0)};
        if (c->ops->check && c->ops->check(c->state, d->name, &res) != 0) {
            *err = mf_strf("flow %s: %s", R->flow->def->name, c->ops->last_error(c->state));
            return MF_EINVAL;
        }
        char *why = NULL;
        if (mf_admit(c, name, d->name, &res, &why) != 0) {
            *err = why ? mf_strf("flow %s: %s", R->flow->def->name, why) : NULL;
            free(why);
            return MF_EINVAL;
        }
    }
    return 0;
}

static int write_run(void)
{
    int rc = mf_run_record_write(&R->st, &R->run, &R->params);
    if (rc)
        say("mflow: cannot store the run record of %s/%lld: %s\n", R->run.flow,
                (long long)R->run.run_id, R->st.ops->last_error(R->st.state));
    if (mf_index_put_run(R->ix, &R->run) != 0)
        say("mflow: warning: index: %s\n", mf_index_error(R->ix));
    return rc;
}

/* The places of the steps' records, made ready by the store before any task runs (plugin ABI
 * 1.5): a task then puts its record into a directory that exists, with one fsync, where the
 * first task of each step created and synced two directories on the run's critical path.
 * Called before the run's graph and record are put: the run's own directory is made and
 * synced here with its steps' (one sync of it, where the graph's put synced it and this
 * synced it again). Best effort: a store without it, or one that fails it, has each put
 * create what it needs. */
static void prepare_steps(void)
{
    const struct mf_storage_ops *ops = R->st.ops;
    if (!MF_HAS_FIELD(ops, prepare) || !ops->prepare)
        return;
    char *run = mf_key_run_prefix(R->run.flow, R->run.run_id);
    char **p = run ? calloc(R->g->n, sizeof *p) : NULL;
    size_t n = 0;
    while (p && n < R->g->n && (p[n] = mf_strf("%s%s/", run, R->g->steps[n].name)))
        n++;
    free(run);
    if (p && n == R->g->n && ops->prepare(R->st.state, (const char *const *)p, n) != 0)
        say("mflow: note: the datastore could not prepare the steps' places ahead (%s); each "
            "task makes its own\n", ops->last_error(R->st.state));
    for (size_t i = 0; p && i < n; i++)
        free(p[i]);
    free(p);
}

/* Store a new run: its graph (so that a later resume can tell what changed), then its record,
 * and only then enter it in the index. A set-up that fails here (a full disk, a refused write)
 * leaves no run behind for `mflow runs` to list or a plain `mflow resume` to pick (at most its
 * empty step directories, which hold no run record). */
static int store_new_run(char **err)
{
    const char *flow = R->run.flow;
    long long id = (long long)R->run.run_id;
    prepare_steps();
    char *key = mf_key_graph(flow, id);
    char *gj = mf_graph_render_json(R->g);
    struct mf_iov iov = {gj, gj ? strlen(gj) : 0};
    int rc = key && gj ? R->st.ops->put(R->st.state, key, &iov, 1, 0) : MF_ENOMEM;
    if (rc) {
        *err = mf_strf("cannot store the graph of %s/%lld: %s", flow, id,
                       R->st.ops->last_error(R->st.state));
    } else {
        rc = mf_run_record_write(&R->st, &R->run, &R->params);
        if (rc) {
            *err = mf_strf("cannot store the run record of %s/%lld: %s", flow, id,
                           R->st.ops->last_error(R->st.state));
            if (R->st.ops->del)
                R->st.ops->del(R->st.state, key);   /* best effort: a graph alone is no run */
        } else if (mf_index_put_run(R->ix, &R->run) != 0) {
            say("mflow: warning: index: %s\n", mf_index_error(R->ix));
        }
    }
    free(key);
    free(gj);
    return rc;
}

static void cancel_all(void)
{
    for (size_t i = 0; i < R->n_running; i++) {
        struct rt_task *t = R->tasks[R->running[i]];
        struct mf_compute *c = &R->computes[t->compute];
        c->ops->cancel(c->state, t->job);
    }
}

/* ---- the loop ------------------------------------------------------------------------------ */

static void loop(void)
{
    struct mf_job_status *st = NULL;
    mf_job **jobs = NULL;
    struct rt_task **tk = NULL;
    size_t cap = 0;
    double last_sync = mf_mono();
    int cancelled = 0;
    for (;;) {
        if (interrupted && !cancelled) {
            say("\nmflow: interrupted: cancelling %zu running task(s)\n",
                    R->n_running);
            cancelled = 1;
            R->stopping = 1;
            R->failed = 1;
            cancel_all();
        } else if (interrupted > 1 && cancelled == 1) {
            /* A second interrupt: no more grace; release kills and reaps every task. */
            say("mflow: interrupted again: killing %zu task(s) now\n", R->n_running);
            cancelled = 2;
            for (size_t i = 0; i < R->n_running; i++) {
                struct rt_task *t = R->tasks[R->running[i]];
                struct mf_compute *c = &R->computes[t->compute];
                c->ops->release(c->state, t->job);
                t->job = NULL;
                t->state = T_FAILED;
            }
            R->n_running = 0;
            break;
        }
        while (!R->stopping && R->n_running < (size_t)R->max_workers &&
               R->ready_head < R->ready_tail) {
            struct rt_task *t = R->tasks[R->ready[R->ready_head++]];
            double c0 = R->resume ? mf_mono() : 0;
            int cl = R->resume ? try_clone(t) : 0;
            if (R->resume)
                R->clone_s += mf_mono() - c0;
            if (cl > 0)
                continue;
            if (cl < 0 || submit(t) != 0) {
                t->state = T_FAILED;
                R->n_failed++;
                R->failed = R->stopping = 1;
            }
        }
        if (R->n_running == 0)
            break;
        show_progress();
        if (R->n_computes == 1) {
            R->computes[0].ops->wait(R->computes[0].state, 1000);
        } else {
            for (int k = 0; k < R->n_computes; k++)
                R->computes[k].ops->wait(R->computes[k].state, 0);
            usleep(2000);
        }
        index_starts();
        if (cap < R->n_running) {
            cap = R->n_running * 2;
            free(st);
            free(jobs);
            free(tk);
            st = calloc(cap, sizeof *st);
            jobs = calloc(cap, sizeof *jobs);
            tk = calloc(cap, sizeof *tk);
            if (!st || !jobs || !tk) {
                say("mflow: out of memory\n");
                R->failed = 1;
                break;
            }
        }
        for (int k = 0; k < R->n_computes; k++) {
            size_t n = 0;
            for (size_t i = 0; i < R->n_running; i++) {
                struct rt_task *t = R->tasks[R->running[i]];
                if (t->compute == k) {
                    tk[n] = t;
                    jobs[n] = t->job;
                    memset(&st[n], 0, sizeof st[n]);
                    st[n].struct_size = sizeof st[n];
                    n++;
                }
            }
            if (n == 0 || R->computes[k].ops->poll(R->computes[k].state, jobs, n, st) != 0)
                continue;
            for (size_t j = 0; j < n; j++) {
                if (st[j].state == MF_JOB_QUEUED || st[j].state == MF_JOB_RUNNING)
                    continue;
                st[j].reason[sizeof st[j].reason - 1] = '\0';   /* a plugin may fill it all */
                struct rt_task *t = tk[j];
                for (size_t i = 0; i < R->n_running; i++)
                    if (R->tasks[R->running[i]] == t) {
                        R->running[i] = R->running[--R->n_running];
                        break;
                    }
                task_ended(t, &st[j]);
            }
        }
        index_flush();
        /* Commits do not sync (mf_index_set_lazy): flush at most once a second. */
        if (mf_mono() - last_sync >= 1.0) {
            mf_index_sync(R->ix);
            last_sync = mf_mono();
        }
    }
    index_flush();   /* clones made in the last turn's submit phase */
    mf_runlog_clear_progress(R->log);
    free(st);
    free(jobs);
    free(tk);
}

/* The run can succeed only when `end` succeeded and every task is accounted for: done, or
 * failed and counted. Anything else (a task still queued or running when the loop ended, a
 * join still waiting for inputs, an `end` that never ran) is lost work that a path above
 * dropped without saying so; each is named. Returns how many. */
static size_t unaccounted(void)
{
    enum { SHOWN = 10 };
    size_t lost = 0;
    int end_done = 0;
    for (size_t i = 0; i < R->n_tasks; i++) {
        const struct rt_task *t = R->tasks[i];
        if (t->step == R->g->end && t->state == T_DONE)
            end_done = 1;
        if (t->state == T_DONE || t->state == T_FAILED)
            continue;
        if (lost++ < SHOWN)
            say("mflow: lost task %s/%lld/%s/%lld (attempt %u): %s when the run "
                "ended\n",
                    R->run.flow, (long long)R->run.run_id, step_name(t->step), (long long)t->id,
                    t->attempt, t->state == T_READY ? "still queued" : "still running");
    }
    for (size_t i = 0; i < mf_joins_waiting(R->joins); i++) {
        struct mf_join_waiting w;
        mf_joins_get(R->joins, i, &w);
        if (lost++ < SHOWN)
            say("mflow: lost join '%s' of split %s/%lld: %u of its %u inputs "
                "arrived\n",
                    step_name(w.join_step), step_name(R->tasks[w.split_task - 1]->step),
                    (long long)w.split_task, w.got, w.count);
    }
    if (!end_done && lost++ < SHOWN)
        say("mflow: step '%s' never ran\n", step_name(R->g->end));
    if (lost > SHOWN)
        say("mflow: ... and %zu more lost\n", lost - SHOWN);
    return lost;
}

static const char *joins_step_name(void *ud, int s)
{
    (void)ud;
    return step_name(s);
}

static char *self_exe(void)
{
    char buf[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0)
        return NULL;
    buf[n] = '\0';
    return strdup(buf);
}

int mf_run_flow(const struct mf_run_opts *o)
{
    struct rt rt;
    memset(&rt, 0, sizeof rt);
    R = &rt;
    mf_task_record_init(&rt.params);
    rt.t0 = mf_mono();
    /* Without it (out of memory) messages still go straight to stderr (runlog.c). */
    mf_runlog_create(o->sink, &rt.log);
    /* Tasks inherit this: without USER each one would look itself up in the user database. */
    if (!getenv("USER"))
        setenv("USER", mf_host_user(), 1);
    /* Each running local task holds a few descriptors: allow as many as the system lets us. */
    struct rlimit nofile;
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
        nofile.rlim_cur = nofile.rlim_max;
        setrlimit(RLIMIT_NOFILE, &nofile);
    }
    char *err = NULL;
    int code = 1;
    int rc = mf_flow_open(o->flow_path, &rt.flow, &err);
    if (rc)
        goto out;
    rt.g = rt.flow->graph;
    rt.self_exe = self_exe();
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    rt.max_workers = o->max_workers > 0 ? o->max_workers : (int)(ncpu > 0 ? ncpu : 1);
    if (o->resume && !mf_host_storage_chosen()) {
        rc = origin_storage(o, rt.flow->def->name, &err);
        if (rc)
            goto out;
    }
    rc = mf_store_open(&rt.st, &err);
    if (rc)
        goto out;
    rc = open_computes(&err);
    if (rc)
        goto out;
    for (int k = 0; k < rt.n_computes; k++) {
        if (!(rt.computes[k].ops->caps & MF_COMPUTE_REMOTE) || rt.package)
            continue;
        /* A cluster queues its own work: the local core count is no limit for it (local
         * steps are still admitted by their resources). */
        if (o->max_workers <= 0)
            rt.max_workers = 1000;
        /* Some step runs away from this machine: store the code package once per run. */
        rc = mf_package_build(rt.flow, &rt.st, &rt.package, NULL, &err);
        if (rc)
            goto out;
        say("mflow: code package %s\n", rt.package);
    }
    char *ixdir = mf_strf("%s/index", mf_host_home());
    rc = ixdir ? mf_index_open(ixdir, &rt.ix) : MF_ENOMEM;
    free(ixdir);
    if (rc) {
        err = mf_strf("%s", rt.ix ? mf_index_error(rt.ix) : "cannot open the index");
        goto out;
    }
    mf_index_set_lazy(rt.ix, 1);
    const char *flow = rt.flow->def->name;
    /* Run ids: the index's counter, never below what the datastore already holds. */
    int64_t id = 0;
    for (;;) {
        rc = mf_index_new_run_id(rt.ix, flow, id + 1, &id);
        if (rc) {
            err = mf_strf("%s", mf_index_error(rt.ix));
            goto out;
        }
        char *key = mf_key_run(flow, id);
        int ex = key ? rt.st.ops->exists(rt.st.state, key) : MF_ENOMEM;
        free(key);
        if (ex == 0)
            break;
        if (ex < 0) {
            err = mf_strf("cannot reach the datastore: %s", rt.st.ops->last_error(rt.st.state));
            rc = ex;
            goto out;
        }
    }
    snprintf(rt.run.flow, sizeof rt.run.flow, "%s", flow);
    rt.run.run_id = id;
    rt.run.status = MF_STATUS_RUNNING;
    rt.run.pid = (int32_t)getpid();
    snprintf(rt.run.user, sizeof rt.run.user, "%s", mf_host_user());
    if (mf_host_namespace()[0])
        snprintf(rt.run.ns, sizeof rt.run.ns, "%s", mf_host_namespace());
    else
        snprintf(rt.run.ns, sizeof rt.run.ns, "user:%s", mf_host_user());
    gethostname(rt.run.host, sizeof rt.run.host - 1);
    /* So that get, inspect, logs and resume find this run's datastore without options. */
    snprintf(rt.run.storage, sizeof rt.run.storage, "%s", mf_host_storage());
    snprintf(rt.run.storage_root, sizeof rt.run.storage_root, "%s", mf_host_run_root());
    rt.run.start_time = mf_now();
    {
        struct mf_sbuf tags = {0};
        mf_sbuf_addf(&tags, "user:%s\nmflow_version:%s", mf_host_user(), MF_VERSION);
        for (size_t i = 0; i < o->n_tags; i++)
            mf_sbuf_addf(&tags, "\n%s", o->tags[i]);
        snprintf(rt.run.tags, sizeof rt.run.tags, "%s", tags.data ? tags.data : "");
        mf_sbuf_free(&tags);
    }
    if (o->resume) {
        rt.resume = 1;
        rc = setup_resume(o, &err);
    } else {
        rc = mf_params_store(R->flow->def, o->param_args, o->n_params, &R->st, &R->params, &err);
    }
    if (rc)
        goto out;
    rc = store_new_run(&err);
    if (rc)
        goto out;
    if (o->run_id_file) {
        char buf[32];
        int n = snprintf(buf, sizeof buf, "%lld\n", (long long)id);
        int wrc = mf_write_file_atomic(o->run_id_file, buf, (size_t)n);
        if (wrc) {
            /* The caller could not learn the id: nothing runs under it. */
            err = mf_strf("cannot write --run-id-file %s: %s; run %s/%lld is recorded failed "
                          "before any task ran",
                          o->run_id_file, strerror(wrc), flow, (long long)id);
            rt.run.status = MF_STATUS_FAILED;
            rt.run.end_time = mf_now();
            write_run();
            rc = wrc;
            goto out;
        }
    }
    rt.logdir = mf_strf("%s/tmp/%s-%lld-%d", mf_host_home(), flow, (long long)id, (int)getpid());
    if (!rt.logdir || mf_mkdir_p(rt.logdir, MF_PRIVATE_DIR_MODE) != 0) {
        err = mf_strf("cannot create %s", rt.logdir ? rt.logdir : "the log directory");
        rc = MF_EIO;
        goto out;
    }
    rt.running = calloc((size_t)rt.max_workers, sizeof *rt.running);
    if (!rt.running || mf_joins_create(joins_step_name, NULL, &rt.joins) != 0 ||
        !new_task(rt.g->start, NULL, -1)) {
        rc = MF_ENOMEM;
        goto out;
    }
    say("mflow: run %s/%lld started (%zu steps, up to %d at once)\n", flow,
            (long long)id, rt.g->n, rt.max_workers);
    mf_host_set_output(on_output);
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    loop();
    if (!interrupted && !rt.failed) {
        size_t lost = unaccounted();
        if (lost) {
            say("mflow: run %s/%lld lost track of %zu task(s) named above; it fails\n",
                    flow, (long long)id, lost);
            rt.failed = 1;
        }
    }
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    mf_host_set_output(NULL);

    rt.run.end_time = mf_now();
    rt.run.n_tasks = (uint32_t)rt.n_tasks;
    rt.run.n_failed = (uint32_t)rt.n_failed;
    {
        /* Tags may have been added with `mflow tag` while the run went on. */
        struct mf_run_rec now;
        if (mf_index_get_run(rt.ix, flow, id, &now) == 0)
            memcpy(rt.run.tags, now.tags, sizeof rt.run.tags);
    }
    rt.run.status = interrupted ? MF_STATUS_CANCELLED
                    : rt.failed ? MF_STATUS_FAILED
                                : MF_STATUS_SUCCEEDED;
    write_run();
    rmdir(rt.logdir);
    char cloned[96] = "";
    if (rt.resume)
        snprintf(cloned, sizeof cloned, " (%zu cloned in %.2f s)", rt.n_cloned, rt.clone_s);
    say("mflow: run %s/%lld %s: %zu task(s) done%s, %zu failed, %.2f s\n", flow,
            (long long)id, mf_status_name(rt.run.status), rt.n_done, cloned, rt.n_failed,
            mf_mono() - rt.t0);
    code = interrupted ? 130 : rt.failed ? 1 : 0;
out:
    if (err) {
        say("mflow: %s\n", err);
        free(err);
    }
    for (size_t i = 0; i < rt.n_tasks; i++) {
        free_log(rt.tasks[i]);
        free(rt.tasks[i]->inputs);
        free(rt.tasks[i]);
    }
    free(rt.tasks);
    mf_joins_destroy(rt.joins);
    free(rt.ready);
    free(rt.running);
    free(rt.step_compute);
    free(rt.rerun);
    mf_origin_map_destroy(rt.origin);
    for (int k = 0; k < rt.n_computes; k++)
        mf_compute_close(&rt.computes[k]);
    if (rt.ix)
        mf_index_sync(rt.ix);
    mf_index_close(rt.ix);
    if (rt.st.desc)
        mf_store_close(&rt.st);
    mf_task_record_free(&rt.params);
    mf_flow_close(rt.flow);
    free(rt.self_exe);
    free(rt.logdir);
    free(rt.package);
    mf_runlog_destroy(rt.log);
    R = NULL;
    return code;
}
