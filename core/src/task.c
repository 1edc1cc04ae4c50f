/* The task side: the flow API (flow.h) and one task's execution (task.h). */
#include "task.h"

#include "blob.h"
#include "codec.h"
#include "flowload.h"
#include "host.h"
#include "loader.h"
#include "model.h"
#include "package.h"
#include "record.h"
#include "store.h"
#include "util.h"

#include <mflow/flow.h>
#include <mflow/task_server.h>

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* A value read during the step: kept until the step returns so getters can hand out
 * pointers into it. */
struct held {
    char key[MF_BLOB_KEY_LEN + 1];
    struct mf_blob blob;
    void *decoded;               /* list decoding or NUL-terminated string copy */
    size_t n;
};

struct mf_task {
    struct mf_flow *flow;
    const struct mf_graph_step *gs;
    struct mf_store *st;
    struct mf_task_record rec;       /* this task: inherited + set artifacts */
    struct mf_task_record *in;       /* input records */
    size_t n_in;
    int64_t split_index;
    struct held *held;
    size_t n_held, cap_held;
    sigjmp_buf fail_jmp;         /* mf_fail (1) and the task's deadline (2) jump here */
    volatile sig_atomic_t in_step;
    char *fail_msg;
    void *pending;           /* an encoded value being stored: freed if the store fails */
    int readonly;            /* a view for endpoints: setters fail */
    char *foreign_err;       /* the failure a foreign call caught (mf_foreign_error) */
    char *foreign_msg;       /* why a foreign step failed (mf_task_foreign_fail) */
};

static struct mf_task *volatile current;

/* ---- failure ------------------------------------------------------------------------------- */

void mf_fail(mf_task *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = mf_vstrf(fmt, ap);
    va_end(ap);
    if (!t)
        t = current;
    t->in_step = 0;   /* past here the deadline kills outright: fail_msg is being replaced */
    free(t->pending);
    t->pending = NULL;
    free(t->fail_msg);
    t->fail_msg = msg ? msg : strdup("task failed (out of memory formatting the message)");
    siglongjmp(t->fail_jmp, 1);
}

#define FAIL(t, ...) mf_fail((t), __VA_ARGS__)

/* ---- reading values ------------------------------------------------------------------------ */

static struct held *hold(mf_task *t, const char *key)
{
    for (size_t i = 0; i < t->n_held; i++)
        if (!strcmp(t->held[i].key, key))
            return &t->held[i];
    if (mf_grow(&t->held, &t->cap_held, t->n_held, sizeof *t->held, 16))
        FAIL(t, "out of memory reading artifact");
    struct held *h = &t->held[t->n_held];
    memset(h, 0, sizeof *h);
    int rc = mf_blob_get(t->st, key, &h->blob);
    if (rc)
        FAIL(t, "cannot read artifact blob %s: %s", key, mf_blob_error());
    memcpy(h->key, key, sizeof h->key);
    t->n_held++;
    return h;
}

static void release_held(mf_task *t)
{
    for (size_t i = 0; i < t->n_held; i++) {
        mf_blob_release(&t->held[i].blob);
        free(t->held[i].decoded);
    }
    free(t->held);
    t->held = NULL;
    t->n_held = t->cap_held = 0;
}

static const char *tname(mf_type ty)
{
    return mf_type_name(ty);
}

/* name (at most its first 120 bytes) as it can be shown in a message, in buf. */
static const char *shown(const char *name, char *buf, size_t size)
{
    size_t n = strnlen(name, 121);
    char *e = mf_escape(name, n > 120 ? 120 : n, 0);
    snprintf(buf, size, "%s%s", e ? e : "?", n > 120 ? "..." : "");
    free(e);
    return buf;
}

/* The artifact `name` of record r, checked to be of type want; payload out. */
static struct held *value_of(mf_task *t, const struct mf_task_record *r, const char *name,
                             mf_type want, const uint8_t **payload, size_t *plen,
                             const char *where)
{
    if (!name)
        FAIL(t, "artifact name is NULL");
    const struct mf_artifact_ref *a = mf_record_find(r, name);
    if (!a) {
        char buf[600];
        FAIL(t, "step '%s': no artifact '%s'%s (set it in an earlier step)", t->rec.step,
             shown(name, buf, sizeof buf), where);
    }
    if (want && a->type != want)
        FAIL(t, "step '%s': artifact '%s'%s is %s, not %s", t->rec.step, name, where,
             tname(a->type), tname(want));
    struct held *h = hold(t, a->key);
    mf_type got;
    unsigned v = mf_codec_newer(h->blob.data, h->blob.len);
    if (v)
        FAIL(t, "artifact '%s' (blob %s) has value format version %u, newer than the version %d "
                "this mflow reads: run the flow with a newer mflow",
             name, a->key, v, MF_CODEC_VERSION);
    if ((v = mf_codec_newer_type(h->blob.data, h->blob.len)))
        FAIL(t, "artifact '%s' (blob %s) is of a newer type (%u) than this mflow knows: upgrade "
                "mflow to read it",
             name, a->key, v);
    if (mf_codec_parse(h->blob.data, h->blob.len, &got, payload, plen) != 0 || got != a->type)
        FAIL(t, "artifact '%s' (blob %s) is corrupt", name, a->key);
    return h;
}

static int64_t get_i64(mf_task *t, const struct mf_task_record *r, const char *name,
                       const char *where)
{
    const uint8_t *p;
    size_t n;
    value_of(t, r, name, MF_I64, &p, &n, where);
    int64_t v;
    if (mf_codec_decode_i64(p, n, &v))
        FAIL(t, "artifact '%s' is corrupt", name);
    return v;
}

static double get_f64(mf_task *t, const struct mf_task_record *r, const char *name,
                      const char *where)
{
    const uint8_t *p;
    size_t n;
    value_of(t, r, name, MF_F64, &p, &n, where);
    double v;
    if (mf_codec_decode_f64(p, n, &v))
        FAIL(t, "artifact '%s' is corrupt", name);
    return v;
}

static const char *get_str(mf_task *t, const struct mf_task_record *r, const char *name,
                           const char *where)
{
    const uint8_t *p;
    size_t n;
    struct held *h = value_of(t, r, name, MF_STR, &p, &n, where);
    if (!h->decoded) {
        char *s = malloc(n + 1);
        if (!s)
            FAIL(t, "out of memory reading '%s'", name);
        memcpy(s, p, n);
        s[n] = '\0';
        h->decoded = s;
    }
    return h->decoded;
}

static const void *get_bytes(mf_task *t, const struct mf_task_record *r, const char *name,
                             size_t *len, const char *where)
{
    const uint8_t *p;
    size_t n;
    value_of(t, r, name, MF_BYTES, &p, &n, where);
    if (len)
        *len = n;
    return p;
}

static void *get_list(mf_task *t, const struct mf_task_record *r, const char *name, mf_type ty,
                      size_t *n, const char *where)
{
    const uint8_t *p;
    size_t plen;
    struct held *h = value_of(t, r, name, ty, &p, &plen, where);
    if (!h->decoded) {
        int rc = ty == MF_I64V   ? mf_codec_decode_i64v(p, plen, (int64_t **)&h->decoded, &h->n)
                 : ty == MF_F64V ? mf_codec_decode_f64v(p, plen, (double **)&h->decoded, &h->n)
                                 : mf_codec_decode_strv(p, plen, (char ***)&h->decoded, &h->n);
        if (rc)
            FAIL(t, "artifact '%s' is corrupt", name);
    }
    if (n)
        *n = h->n;
    return h->decoded;
}

/* ---- writing values ------------------------------------------------------------------------ */

/* name can be set by this task (fails the task when not). */
static void check_settable(mf_task *t, const char *name)
{
    if (t->readonly)
        FAIL(t, "artifact '%s' cannot be set here: an endpoint reads the served run's artifacts "
                "and cannot change them",
             name ? name : "(null)");
    if (!name)
        FAIL(t, "step '%s': artifact name is NULL", t->rec.step);
    /* Names end up in records, file listings and terminals: no newlines, escapes or paths. */
    if (!mf_name_valid(name)) {
        char buf[600];
        FAIL(t, "step '%s': artifact name '%s' is not valid: an artifact name is 1 to %d "
                "letters (A-Z, a-z), digits and '_', not starting with a digit (an identifier, "
                "as in C or Python)",
             t->rec.step, shown(name, buf, sizeof buf), MF_ARTIFACT_NAME_MAX);
    }
}

static void put_value(mf_task *t, const char *name, mf_type ty, const void *payload, size_t len)
{
    check_settable(t, name);
    uint8_t hdr[MF_CODEC_HDR_LEN];
    mf_codec_header(hdr, ty);
    struct mf_iov iov[2] = {{hdr, sizeof hdr}, {payload, len}};
    char key[MF_BLOB_KEY_LEN + 1];
    int rc = mf_blob_put(t->st, iov, 2, key, NULL);
    if (rc)
        FAIL(t, "step '%s': cannot store artifact '%s': %s", t->rec.step, name, mf_blob_error());
    if (mf_record_set_art(&t->rec, name, ty, key, sizeof hdr + len))
        FAIL(t, "out of memory storing '%s'", name);
}

static void put_encoded(mf_task *t, const char *name, mf_type ty, uint8_t *enc, size_t len, int rc)
{
    if (rc)
        FAIL(t, "out of memory encoding '%s'", name);
    t->pending = enc;
    put_value(t, name, ty, enc + MF_CODEC_HDR_LEN, len - MF_CODEC_HDR_LEN);
    t->pending = NULL;
    free(enc);
}

void mf_set_i64(mf_task *t, const char *name, int64_t v)
{
    uint8_t *e;
    size_t n;
    int rc = mf_codec_encode_i64(v, &e, &n);
    put_encoded(t, name, MF_I64, e, n, rc);
}

void mf_set_f64(mf_task *t, const char *name, double v)
{
    uint8_t *e;
    size_t n;
    int rc = mf_codec_encode_f64(v, &e, &n);
    put_encoded(t, name, MF_F64, e, n, rc);
}

void mf_set_str(mf_task *t, const char *name, const char *v)
{
    if (!v)
        FAIL(t, "step '%s': mf_set_str('%s') with a NULL string", t->rec.step, name);
    put_value(t, name, MF_STR, v, strlen(v));
}

void mf_set_bytes(mf_task *t, const char *name, const void *data, size_t len)
{
    if (!data && len)
        FAIL(t, "step '%s': mf_set_bytes('%s') with NULL data", t->rec.step, name);
    put_value(t, name, MF_BYTES, data ? data : "", len);
}

/* A vector setter's values and count: NULL values or a count no memory could hold (a negative
 * count converted to size_t, most often) are named as such, not as running out of memory. */
static void check_vector(mf_task *t, const char *fn, const char *name, const void *v, size_t n,
                         size_t elem)
{
    if (n > (SIZE_MAX / 2) / elem)
        FAIL(t, "step '%s': %s('%s') with a count of %zu values (%lld as a signed number: a "
                "negative count converted to size_t?): pass the number of values",
             t->rec.step, fn, name ? name : "?", n, (long long)n);
    if (n && !v)
        FAIL(t, "step '%s': %s('%s') with NULL values and a count of %zu: pass the values, or "
                "a count of 0",
             t->rec.step, fn, name ? name : "?", n);
}

void mf_set_i64v(mf_task *t, const char *name, const int64_t *v, size_t n)
{
    check_vector(t, "mf_set_i64v", name, v, n, sizeof *v);
    uint8_t *e;
    size_t len;
    int rc = mf_codec_encode_i64v(v, n, &e, &len);
    put_encoded(t, name, MF_I64V, e, len, rc);
}

void mf_set_f64v(mf_task *t, const char *name, const double *v, size_t n)
{
    check_vector(t, "mf_set_f64v", name, v, n, sizeof *v);
    uint8_t *e;
    size_t len;
    int rc = mf_codec_encode_f64v(v, n, &e, &len);
    put_encoded(t, name, MF_F64V, e, len, rc);
}

void mf_set_strv(mf_task *t, const char *name, const char *const *v, size_t n)
{
    check_vector(t, "mf_set_strv", name, v, n, sizeof *v);
    for (size_t i = 0; i < n; i++)
        if (!v[i])
            FAIL(t, "step '%s': mf_set_strv('%s'): element %zu is NULL", t->rec.step, name, i);
    uint8_t *e;
    size_t len;
    int rc = mf_codec_encode_strv(v, n, &e, &len);
    put_encoded(t, name, MF_STRV, e, len, rc);
}

void mf_set_value(mf_task *t, const char *name, mf_type type, const void *payload, size_t len)
{
    if (!payload && len)
        FAIL(t, "step '%s': mf_set_value('%s') with NULL data", t->rec.step, name ? name : "?");
    if (!payload)
        payload = "";
    int rc = mf_codec_check(type, payload, len);
    if (rc == MF_EINVAL)
        FAIL(t, "step '%s': mf_set_value('%s'): %d is not a type an artifact can have (1-7, "
                "9-11 of enum mf_type)",
             t->rec.step, name ? name : "?", (int)type);
    if (rc)
        FAIL(t, "step '%s': mf_set_value('%s'): the %zu bytes are not a valid %s value%s",
             t->rec.step, name ? name : "?", len, tname(type),
             type == MF_OBJ   ? " (an obj is UTF-8 JSON text, RFC 8259, nested at most "
                                "500 deep)"
             : type == MF_NPY ? " (an npy is numpy's .npy format, starting \\x93NUMPY)"
                              : "");
    put_value(t, name, type, payload, len);
}

/* Any type's payload, as stored (no header); *type and *len set. */
static const void *raw_value(mf_task *t, const struct mf_task_record *r, const char *name,
                             mf_type *type, size_t *len, const char *where)
{
    const uint8_t *p;
    size_t n;
    value_of(t, r, name, 0, &p, &n, where);
    if (type)
        *type = mf_record_find(r, name)->type;
    if (len)
        *len = n;
    return p;
}

const void *mf_get_value(mf_task *t, const char *name, mf_type *type, size_t *len)
{
    return raw_value(t, &t->rec, name, type, len, "");
}

int64_t mf_get_i64(mf_task *t, const char *name) { return get_i64(t, &t->rec, name, ""); }
double mf_get_f64(mf_task *t, const char *name) { return get_f64(t, &t->rec, name, ""); }
const char *mf_get_str(mf_task *t, const char *name) { return get_str(t, &t->rec, name, ""); }

const void *mf_get_bytes(mf_task *t, const char *name, size_t *len)
{
    return get_bytes(t, &t->rec, name, len, "");
}

int mf_has(mf_task *t, const char *name)
{
    return name && mf_record_find(&t->rec, name) != NULL;
}

mf_type mf_type_of(mf_task *t, const char *name)
{
    const struct mf_artifact_ref *a = name ? mf_record_find(&t->rec, name) : NULL;
    return a ? a->type : 0;
}

const int64_t *mf_get_i64v(mf_task *t, const char *name, size_t *n)
{
    return get_list(t, &t->rec, name, MF_I64V, n, "");
}

const double *mf_get_f64v(mf_task *t, const char *name, size_t *n)
{
    return get_list(t, &t->rec, name, MF_F64V, n, "");
}

const char *const *mf_get_strv(mf_task *t, const char *name, size_t *n)
{
    return get_list(t, &t->rec, name, MF_STRV, n, "");
}

/* ---- foreach items ------------------------------------------------------------------------- */

/* The innermost foreach frame and the list it fans out over. */
static const struct mf_frame *foreach_frame(mf_task *t)
{
    for (size_t i = t->rec.depth; i > 0; i--)
        if (t->rec.stack[i - 1].kind == MF_FRAME_FOREACH)
            return &t->rec.stack[i - 1];
    FAIL(t, "step '%s' is not inside a foreach: mf_item_* need a foreach split", t->rec.step);
}

/* The item list: the foreach artifact as the split task stored it. The split task is the
 * parent of the first step of the foreach body; deeper body steps inherit the artifact, so
 * reading it from this task's own view gives the same value. */
static void *item_list(mf_task *t, mf_type *ty, size_t *n)
{
    const struct mf_frame *f = foreach_frame(t);
    int s = mf_graph_find(t->flow->graph, f->step);
    const char *var = s >= 0 ? t->flow->graph->steps[s].def->foreach : NULL;
    const struct mf_artifact_ref *a = var ? mf_record_find(&t->rec, var) : NULL;
    if (!a)
        FAIL(t, "step '%s': the foreach list '%s' is gone (was it overwritten?)", t->rec.step,
             var ? var : "?");
    *ty = a->type;
    if (a->type == MF_OBJ)
        FAIL(t, "step '%s': the foreach list '%s' is an obj (a JSON array): read it with "
                "mf_get_value and take element mf_item_index",
             t->rec.step, var);
    return get_list(t, &t->rec, var, a->type, n, " (the foreach list)");
}

static size_t item_pos(mf_task *t, mf_type want, void **list)
{
    mf_type ty;
    size_t n;
    *list = item_list(t, &ty, &n);
    const struct mf_frame *f = foreach_frame(t);
    if (want && ty != want)
        FAIL(t, "step '%s': the foreach item is %s, not %s", t->rec.step, tname(ty), tname(want));
    if (f->index >= n)
        FAIL(t, "step '%s': foreach index %u is past the list's %zu items", t->rec.step, f->index,
             n);
    return f->index;
}

int64_t mf_item_i64(mf_task *t)
{
    void *l;
    size_t i = item_pos(t, MF_I64V, &l);
    return ((int64_t *)l)[i];
}

double mf_item_f64(mf_task *t)
{
    void *l;
    size_t i = item_pos(t, MF_F64V, &l);
    return ((double *)l)[i];
}

const char *mf_item_str(mf_task *t)
{
    void *l;
    size_t i = item_pos(t, MF_STRV, &l);
    return ((char **)l)[i];
}

size_t mf_item_index(mf_task *t)
{
    return foreach_frame(t)->index;
}

size_t mf_item_count(mf_task *t)
{
    return foreach_frame(t)->count;
}

/* ---- joins --------------------------------------------------------------------------------- */

static const struct mf_task_record *input(mf_task *t, size_t i)
{
    if (i >= t->n_in)
        FAIL(t, "step '%s': input %zu does not exist (the step has %zu inputs)", t->rec.step, i,
             t->n_in);
    return &t->in[i];
}

size_t mf_input_count(mf_task *t)
{
    return t->gs->is_join ? t->n_in : 0;
}

static char *where_input(size_t i)
{
    static __thread char buf[64];
    snprintf(buf, sizeof buf, " of input %zu", i);
    return buf;
}

int64_t mf_input_i64(mf_task *t, size_t i, const char *name)
{
    return get_i64(t, input(t, i), name, where_input(i));
}

double mf_input_f64(mf_task *t, size_t i, const char *name)
{
    return get_f64(t, input(t, i), name, where_input(i));
}

const char *mf_input_str(mf_task *t, size_t i, const char *name)
{
    return get_str(t, input(t, i), name, where_input(i));
}

const void *mf_input_bytes(mf_task *t, size_t i, const char *name, size_t *len)
{
    return get_bytes(t, input(t, i), name, len, where_input(i));
}

const void *mf_input_value(mf_task *t, size_t i, const char *name, mf_type *type, size_t *len)
{
    return raw_value(t, input(t, i), name, type, len, where_input(i));
}

int mf_input_has(mf_task *t, size_t i, const char *name)
{
    return name && mf_record_find(input(t, i), name) != NULL;
}

const char *mf_input_step(mf_task *t, size_t i)
{
    return input(t, i)->step;
}

static int excluded(const char *exclude, const char *name)
{
    if (!exclude)
        return 0;
    size_t n = strlen(name);
    for (const char *p = exclude; *p;) {
        while (*p == ' ')
            p++;
        const char *e = p;
        while (*e && *e != ' ')
            e++;
        if ((size_t)(e - p) == n && !strncmp(p, name, n))
            return 1;
        p = e;
    }
    return 0;
}

void mf_merge_artifacts(mf_task *t, const char *exclude)
{
    if (t->readonly)
        FAIL(t, "mf_merge_artifacts works only in a join step, not in an endpoint");
    if (!t->gs->is_join)
        FAIL(t, "step '%s': mf_merge_artifacts works only in a join step", t->rec.step);
    /* What the step set itself before merging wins; otherwise all inputs that have a name
     * must agree on its value (same blob key). */
    size_t own = t->rec.n_arts;
    for (size_t i = 0; i < t->n_in; i++) {
        const struct mf_task_record *r = &t->in[i];
        for (size_t j = 0; j < r->n_arts; j++) {
            const struct mf_artifact_ref *a = &r->arts[j];
            if (excluded(exclude, a->name))
                continue;
            const struct mf_artifact_ref *mine = mf_record_find(&t->rec, a->name);
            if (mine && (size_t)(mine - t->rec.arts) < own)
                continue;
            if (mine) {
                if (strcmp(mine->key, a->key) != 0)
                    FAIL(t,
                         "step '%s': cannot merge artifact '%s': inputs disagree on its value "
                         "(set it in the join before merging, or exclude it)",
                         t->rec.step, a->name);
                continue;
            }
            if (mf_record_set_art(&t->rec, a->name, a->type, a->key, a->size))
                FAIL(t, "out of memory merging '%s'", a->name);
        }
    }
}

/* ---- the current task ---------------------------------------------------------------------- */

const char *mf_flow_name(mf_task *t) { return t->rec.flow; }
int64_t mf_run_id(mf_task *t) { return t->rec.run_id; }
const char *mf_step_name(mf_task *t) { return t->rec.step; }
int64_t mf_task_id(mf_task *t) { return t->rec.task_id; }
int mf_attempt(mf_task *t) { return (int)t->rec.attempt; }

/* ---- the task's own deadline --------------------------------------------------------------- */

/* A task holds itself to its step's timeout_s, not only whoever started it: an orchestrator
 * that was killed stops nothing, and a task left running past its deadline must not end up
 * recorded as succeeded. A POSIX timer on a signal of its own (so a step's alarm() or SIGALRM
 * handler cannot disarm it) fires at the deadline. Inside the step the task jumps out of it,
 * records the attempt as timed out and kills its process group; anywhere else (loading,
 * storing the record) it is killed at once, leaving no record or the one already stored. */
#define DEADLINE_SIG SIGRTMAX
#ifndef sigev_notify_thread_id   /* glibc names it only from 2.38 */
#define sigev_notify_thread_id _sigev_un._tid
#endif
#define DEADLINE_GRACE_S 5   /* to store the timed-out record before the hard kill */

static timer_t deadline_timer;
static pid_t deadline_tid;   /* the thread that runs the step: the one the timer signals */
static int deadline_armed;
static volatile sig_atomic_t deadline_expired;
static struct sigaction deadline_old;

/* SIGKILL to the task and everything its step started: its process group when it leads one
 * (local compute starts every task as a group leader), else itself alone (it runs in someone
 * else's group, which is not its to kill). */
static void deadline_kill(void)
{
    if (getpgrp() == getpid())
        kill(0, SIGKILL);
    kill(getpid(), SIGKILL);
}

static void on_deadline(int sig)
{
    (void)sig;
    mf_task *t = current;
    /* Only the step's own thread may jump out of it (a step's threads could be sent the
     * signal from elsewhere). */
    if (!deadline_expired && t && t->in_step && gettid() == deadline_tid) {
        deadline_expired = 1;
        /* Storing the record may block where the step was stopped (a lock inside malloc): a
         * second expiry then kills without it. */
        struct itimerspec again = {.it_value = {.tv_sec = DEADLINE_GRACE_S}};
        timer_settime(deadline_timer, 0, &again, NULL);
        siglongjmp(t->fail_jmp, 2);
    }
    deadline_kill();
}

/* 0, or errno when no timer could be had (the task then runs held by its starter only). */
static int deadline_arm(uint32_t seconds)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_deadline;
    sigemptyset(&sa.sa_mask);
    if (sigaction(DEADLINE_SIG, &sa, &deadline_old) != 0)
        return errno;
    struct sigevent ev;
    memset(&ev, 0, sizeof ev);
    /* To this thread, the one that runs the step, not to any thread the step started. */
    deadline_tid = gettid();
    ev.sigev_notify = SIGEV_THREAD_ID;
    ev.sigev_notify_thread_id = deadline_tid;
    ev.sigev_signo = DEADLINE_SIG;
    struct itimerspec at = {.it_value = {.tv_sec = (time_t)seconds}};
    if (timer_create(CLOCK_MONOTONIC, &ev, &deadline_timer) != 0) {
        int e = errno;
        sigaction(DEADLINE_SIG, &deadline_old, NULL);
        return e;
    }
    deadline_expired = 0;
    deadline_armed = 1;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, DEADLINE_SIG);
    sigprocmask(SIG_UNBLOCK, &set, NULL);   /* a starter's blocked mask is inherited */
    timer_settime(deadline_timer, 0, &at, NULL);
    return 0;
}

static void deadline_disarm(void)
{
    if (!deadline_armed)
        return;
    timer_delete(deadline_timer);
    sigaction(DEADLINE_SIG, &deadline_old, NULL);
    deadline_armed = 0;
}

/* ---- running one task ---------------------------------------------------------------------- */

/* mf_now by the system call itself: a task calls it twice, and through the vDSO the first call
 * faults in the vDSO's code and its data page (which the kernel maps with a memory-type lookup)
 * in a forked or new process, ~9 us of a trivial forked task's CPU (1.5 % of its samples) where
 * two system calls take well under 1 us. */
static double task_now(void)
{
    struct timespec ts;
    if (syscall(SYS_clock_gettime, CLOCK_REALTIME, &ts) != 0)
        return mf_now();
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int load_inputs(mf_task *t, const struct mf_task_args *a, char **err)
{
    return mf_record_read_inputs(t->st, t->rec.flow, t->rec.run_id, t->rec.step, t->rec.task_id,
                                 a->input_paths, &t->in, &t->n_in, err);
}

/* Stack and inherited artifacts from the inputs (record.h). */
static int derive_context(mf_task *t, const struct mf_task_args *a, char **err)
{
    if (t->n_in == 0 && !t->gs->is_join) {
        /* start: parameters from the run record. */
        struct mf_run_rec rr;
        struct mf_task_record params;
        int rc = mf_run_record_read(t->st, t->rec.flow, t->rec.run_id, &rr, &params);
        if (rc) {
            char *key = rc == MF_ENOTSUP ? mf_key_run(t->rec.flow, t->rec.run_id) : NULL;
            char *newer = key ? mf_record_newer_msg(key) : NULL;
            *err = mf_strf("cannot read the run record of %s/%lld: %s", t->rec.flow,
                           (long long)t->rec.run_id,
                           newer ? newer : t->st->ops->last_error(t->st->state));
            free(key);
            free(newer);
            return rc;
        }
        rc = mf_record_inherit(&t->rec, &params);
        mf_task_record_free(&params);
        return rc;
    }
    return mf_record_derive(t->flow->graph, (int)(t->gs - t->flow->graph->steps), t->in, t->n_in,
                            a->split_index, &t->rec, err);
}

/* After the step: a foreach step must have set a non-empty list to fan out over. */
static void check_foreach(mf_task *t)
{
    if (t->gs->type != MF_STEP_FOREACH)
        return;
    const char *var = t->gs->def->foreach;
    const struct mf_artifact_ref *a = mf_record_find(&t->rec, var);
    if (!a)
        FAIL(t, "step '%s' fans out over '%s', but no artifact '%s' exists: set it with "
                "mf_set_i64v/mf_set_f64v/mf_set_strv",
             t->rec.step, var, var);
    if (a->type == MF_PICKLE)
        FAIL(t, "step '%s' fans out over '%s', which is a pickled Python object, not a list: "
                "make it a list of portable values (None, bool, int, float, str, bytes, list, "
                "tuple, dict)",
             t->rec.step, var);
    if (a->type != MF_I64V && a->type != MF_F64V && a->type != MF_STRV && a->type != MF_OBJ)
        FAIL(t, "step '%s' fans out over '%s', which is %s, not a list: set it with "
                "mf_set_i64v/mf_set_f64v/mf_set_strv (in Python, make it a list of portable "
                "values)",
             t->rec.step, var, tname(a->type));
    mf_type ty;
    const uint8_t *p;
    size_t plen, n;
    value_of(t, &t->rec, var, a->type, &p, &plen, "");
    ty = a->type;
    int crc = mf_codec_list_count(ty, p, plen, &n);
    if (crc == MF_EINVAL)
        FAIL(t, "step '%s' fans out over '%s', which is an obj but not a list (its JSON is not "
                "an array): make it a list of portable values",
             t->rec.step, var);
    if (crc)
        FAIL(t, "artifact '%s' is corrupt", var);
    if (n == 0)
        FAIL(t, "step '%s' fans out over '%s', which is empty: a foreach needs at least one item "
                "(branch around the foreach when the list can be empty)",
             t->rec.step, var);
    if (n > UINT32_MAX)
        FAIL(t, "step '%s': foreach over %zu items is too many", t->rec.step, n);
    t->rec.foreach_count = (int64_t)n;
}

int mf_task_execute(const struct mf_task_args *a)
{
    struct mf_task t0;
    mf_task *t = &t0;
    memset(t, 0, sizeof *t);
    mf_task_record_init(&t->rec);
    /* The deadline and the recorded start count from here, before the flow is loaded: what
     * the record says the task took is what it was held to. */
    double started = task_now();
    if (a->timeout_s) {
        int drc = deadline_arm(a->timeout_s);
        if (drc)
            fprintf(stderr, "mflow task: warning: cannot arm its own %u s deadline (%s); only "
                            "its compute backend holds it to timeout_s\n",
                    a->timeout_s, strerror(drc));
    }
    t->split_index = a->split_index;
    char *err = NULL;
    struct mf_store st;
    int store_ok = 0;
    char *pkg_flow = NULL;
    int rc = 0;
    if (a->package) {
        /* Away from the machine that started the run: the flow comes from its package. */
        rc = mf_store_open(&st, &err);
        store_ok = rc == 0;
        t->st = &st;
        if (!rc && a->package_flow && !(pkg_flow = strdup(a->package_flow)))
            rc = MF_ENOMEM;
        else if (!rc && !a->package_flow)
            rc = mf_package_fetch(&st, a->package, &pkg_flow, &err);
        if (!rc) {
            /* The package's root (the flow lies in <root>/.mflow/, a Python flow's source in
             * <root>), for the flow's own files. */
            char *dir = strdup(pkg_flow);
            for (int up = 0; dir && up < (mf_flow_is_py(pkg_flow) ? 1 : 2); up++) {
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
        rc = mf_flow_open(pkg_flow ? pkg_flow : a->flow_path, &t->flow, &err);
    free(pkg_flow);
    if (!rc) {
        int s = mf_graph_find(t->flow->graph, a->step);
        if (s < 0) {
            err = mf_strf("flow %s has no step '%s'", t->flow->def->name, a->step);
            rc = MF_EINVAL;
        } else {
            t->gs = &t->flow->graph->steps[s];
        }
    }
    if (!rc && !store_ok) {
        rc = mf_store_open(&st, &err);
        store_ok = rc == 0;
        t->st = &st;
    }
    if (rc) {
        fprintf(stderr, "mflow task: %s\n", err ? err : "cannot start");
        free(err);
        if (store_ok)
            mf_store_close(&st);
        mf_flow_close(t->flow);
        deadline_disarm();
        return 1;
    }
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    t->rec.flow = strdup(t->flow->def->name);
    t->rec.step = strdup(a->step);
    t->rec.run_id = a->run_id;
    t->rec.task_id = a->task_id;
    t->rec.attempt = a->attempt;
    t->rec.host = strdup(host);
    t->rec.start_time = started;
    t->rec.status = MF_STATUS_RUNNING;

    rc = load_inputs(t, a, &err);
    if (!rc)
        rc = derive_context(t, a, &err);
    if (rc) {
        t->fail_msg = err ? err : mf_strf("cannot prepare task: %s", mf_strerror(rc));
        err = NULL;
    } else {
        current = t;
        /* The mask is saved: a jump from the deadline's handler unblocks its signal again. */
        switch (sigsetjmp(t->fail_jmp, 1)) {
        case 0:
            t->in_step = 1;
            if (t->flow->py)
                mf_task_foreign_step(t);   /* the Python runtime's, not the table's fn */
            else
                t->gs->def->fn(t);
            check_foreach(t);
            break;
        case 2:
            /* With the orchestrator gone its output pipes are closed: saying why on stderr
             * must not kill the task before the record is stored. */
            signal(SIGPIPE, SIG_IGN);
            free(t->fail_msg);
            t->fail_msg = mf_strf("step '%s' timed out after %u s (timeout_s); the task stopped "
                                  "itself at its deadline",
                                  a->step, a->timeout_s);
            if (!t->fail_msg)
                t->fail_msg = strdup("timed out (timeout_s)");
            break;
        default:
            break;
        }
        t->in_step = 0;
        current = NULL;
    }
    release_held(t);
    t->rec.end_time = task_now();
    if (t->fail_msg) {
        t->rec.status = MF_STATUS_FAILED;
        t->rec.exit_code = 1;
        t->rec.message = t->fail_msg;
        t->fail_msg = NULL;
        fprintf(stderr, "mflow task %s/%lld/%s/%lld failed: %s\n", t->rec.flow,
                (long long)t->rec.run_id, t->rec.step, (long long)t->rec.task_id, t->rec.message);
    } else {
        t->rec.status = MF_STATUS_SUCCEEDED;
        t->rec.exit_code = 0;
    }
    int wrc = mf_record_write(t->st, &t->rec);
    if (wrc)
        fprintf(stderr, "mflow task: cannot store the task record: %s\n",
                t->st->ops->last_error(t->st->state));
    int code = (t->rec.status == MF_STATUS_SUCCEEDED && !wrc) ? 0 : 1;
    fflush(stdout);
    if (deadline_expired) {
        /* Recorded: now take whatever the step started, and the task with it. */
        fflush(stderr);
        deadline_kill();
    }
    deadline_disarm();
    mf_record_free_inputs(t->in, t->n_in);
    mf_task_record_free(&t->rec);
    free(t->foreign_err);
    free(t->foreign_msg);
    if (store_ok)
        mf_store_close(&st);
    mf_flow_close(t->flow);
    return code;
}

/* ---- read-only views (endpoints) ----------------------------------------------------------- */

int mf_task_view_open(struct mf_flow *flow, struct mf_store *st, struct mf_task_record *rec,
                      mf_task **out)
{
    *out = NULL;
    int s = mf_graph_find(flow->graph, rec->step);
    if (s < 0)
        return MF_EINVAL;
    mf_task *t = calloc(1, sizeof *t);
    if (!t)
        return MF_ENOMEM;
    t->flow = flow;
    t->gs = &flow->graph->steps[s];
    t->st = st;
    t->rec = *rec;
    mf_task_record_init(rec);
    t->split_index = -1;
    t->readonly = 1;
    *out = t;
    return 0;
}

void mf_task_view_close(mf_task *t)
{
    if (!t)
        return;
    release_held(t);
    free(t->fail_msg);
    mf_task_record_free(&t->rec);
    free(t);
}

int mf_task_view_call(mf_task *t, int (*fn)(mf_endpoint *), mf_endpoint *e, int *ret, char **msg)
{
    *ret = 0;
    *msg = NULL;
    /* One caller at a time: a jump comes back here, past the endpoint's frames only. */
    mf_task *volatile outer = current;
    int failed = 0;
    current = t;
    if (sigsetjmp(t->fail_jmp, 1) == 0) {
        *ret = fn(e);
    } else {
        failed = 1;
        *msg = t->fail_msg;
        t->fail_msg = NULL;
    }
    current = outer;
    return failed;
}

/* ---- the command line of a task ------------------------------------------------------------ */

/* A whole number option in [lo, hi]: 1 with *out, 0 not this option, -1 with *err. */
static int int_opt(int argc, char **argv, int *i, const char *name, long long lo, long long hi,
                   long long *out, char **err)
{
    const char *v = NULL;
    int r = mf_opt_value(argc, argv, i, name, &v);
    if (r == 0)
        return 0;
    if (r < 0) {
        *err = mf_strf("%s needs a value (a whole number from %lld to %lld)", name, lo, hi);
        return -1;
    }
    /* Digits only (a leading '-' allowed), as the command's other options. */
    const char *p = *v == '-' ? v + 1 : v;
    int ok = *p != '\0';
    for (const char *q = p; ok && *q; q++)
        ok = *q >= '0' && *q <= '9';
    long long x = 0;
    if (ok) {
        char *end;
        errno = 0;
        x = strtoll(v, &end, 10);
        ok = !errno && !*end && x >= lo && x <= hi;
    }
    if (!ok) {
        *err = mf_strf("%s must be a whole number from %lld to %lld, not '%s'", name, lo, hi, v);
        return -1;
    }
    *out = x;
    return 1;
}

int mf_task_args_parse(int argc, char **argv, struct mf_task_args *a, char **err)
{
    *err = NULL;
    memset(a, 0, sizeof *a);
    a->split_index = -1;
    a->run_id = -1;
    a->task_id = -1;
    int pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        long long n;
        const char *v = NULL;
        int r;
        if ((r = int_opt(argc, argv, &i, "--run-id", 0, INT64_MAX, &n, err)) > 0) {
            a->run_id = n;
        } else if (!r && (r = int_opt(argc, argv, &i, "--task-id", 0, INT64_MAX, &n, err)) > 0) {
            a->task_id = n;
        } else if (!r && (r = int_opt(argc, argv, &i, "--attempt", 0, UINT32_MAX, &n, err)) > 0) {
            a->attempt = (uint32_t)n;
        } else if (!r &&
                   (r = int_opt(argc, argv, &i, "--split-index", -1, INT64_MAX, &n, err)) > 0) {
            a->split_index = n;
        } else if (!r &&
                   (r = int_opt(argc, argv, &i, "--timeout-s", 0, UINT32_MAX, &n, err)) > 0) {
            a->timeout_s = (uint32_t)n;
        } else if (!r) {
            /* may be empty: a task with no inputs */
            r = mf_opt_value(argc, argv, &i, "--input-paths", &a->input_paths);
            if (r < 0) {
                *err = strdup("--input-paths needs a value");
            } else if (!r && (r = mf_opt_value(argc, argv, &i, "--package", &v)) != 0) {
                if (r < 0 || !*v) {
                    *err = strdup("--package needs a value");
                    r = -1;
                } else {
                    a->package = v;
                }
            }
        }
        if (r < 0)
            return 2;
        if (r > 0)
            continue;
        if (o[0] == '-' && o[1] == '-') {
            *err = mf_strf("task: unknown option %s", o);
            return 2;
        } else if (pos == 0) {
            a->flow_path = o;
            pos++;
        } else if (pos == 1) {
            a->step = o;
            pos++;
        } else {
            *err = mf_strf("task: unexpected argument '%s'", o);
            return 2;
        }
    }
    if (!a->flow_path || !a->step || a->run_id < 0 || a->task_id < 0)
        return 2;   /* *err NULL: the caller prints its usage */
    return 0;
}

/* ---- steps written in another language ----------------------------------------------------
 * The language's runtime calls mf_task_run_foreign; every step of its flow has
 * mf_task_foreign_step as fn, which calls back into the runtime. The runtime's own frames
 * (an interpreter) lie between mf_task_execute and the calls it makes back into this file:
 * those calls catch mf_fail themselves (CATCH_FAIL) and return -1, so a failure never jumps
 * over the interpreter. Only the deadline does, and the task kills itself right after. */

static mf_foreign_step_fn foreign_step;
static void *foreign_ud;

void mf_task_foreign_step(mf_task *t)
{
    if (!foreign_step)
        FAIL(t, "step '%s' is written in another language (the flow is %s): run it through "
                "`mflow task`, which starts that language's runtime",
             t->rec.step, t->flow->src_path ? t->flow->src_path : "?");
    free(t->foreign_msg);
    t->foreign_msg = NULL;
    if (foreign_step(t, t->rec.step, foreign_ud) != 0) {
        char *m = t->foreign_msg;
        t->foreign_msg = NULL;
        /* mf_fail copies it; this frame is gone after the jump */
        char buf[4096];
        snprintf(buf, sizeof buf, "%s", m ? m : "the step failed (it gave no reason)");
        free(m);
        FAIL(t, "%s", buf);
    }
}

void mf_task_foreign_fail(mf_task *t, const char *msg)
{
    free(t->foreign_msg);
    t->foreign_msg = msg ? strdup(msg) : NULL;
}

const char *mf_foreign_error(mf_task *t)
{
    return t->foreign_err ? t->foreign_err : "";
}

/* Run body with mf_fail caught: the enclosing function returns 0 after it, or -1 with the
 * message in foreign_err. A deadline's jump goes on to mf_task_execute. */
#define CATCH_FAIL(t, body)                                                                  \
    do {                                                                                     \
        sigjmp_buf saved_;                                                                   \
        memcpy(saved_, (t)->fail_jmp, sizeof saved_);                                        \
        int j_ = sigsetjmp((t)->fail_jmp, 1);                                                \
        if (j_ == 0) {                                                                       \
            body;                                                                            \
            memcpy((t)->fail_jmp, saved_, sizeof saved_);                                    \
            return 0;                                                                        \
        }                                                                                    \
        memcpy((t)->fail_jmp, saved_, sizeof saved_);                                        \
        if (j_ == 2)                                                                         \
            siglongjmp((t)->fail_jmp, 2);                                                    \
        (t)->in_step = 1;                                                                    \
        free((t)->foreign_err);                                                              \
        (t)->foreign_err = (t)->fail_msg;                                                    \
        (t)->fail_msg = NULL;                                                                \
        return -1;                                                                           \
    } while (0)

int mf_foreign_set(mf_task *t, const char *name, int type, const void *payload, size_t len)
{
    CATCH_FAIL(t, mf_set_value(t, name, (mf_type)type, payload, len));
}

int mf_foreign_get(mf_task *t, const char *name, int *type, const void **payload, size_t *len)
{
    mf_type ty = 0;
    CATCH_FAIL(t, (*payload = mf_get_value(t, name, &ty, len), *type = (int)ty));
}

int mf_foreign_input_get(mf_task *t, size_t i, const char *name, int *type,
                         const void **payload, size_t *len)
{
    mf_type ty = 0;
    CATCH_FAIL(t, (*payload = mf_input_value(t, i, name, &ty, len), *type = (int)ty));
}

struct mf_foreign_writer {
    mf_type type;
    mf_blob_writer *bw;
    uint64_t len;                /* the encoded value's: header and payload */
    uint8_t first[6];            /* an npy payload's start, checked at close */
    size_t nfirst;
};

static void writer_open(mf_task *t, int type, uint64_t len, mf_foreign_writer **out)
{
    *out = NULL;
    if (type < MF_I64 || type > MF_NPY || type == 8)
        FAIL(t, "step '%s': a value written in pieces has type %d, not one an artifact can have "
                "(1-7, 9-11 of enum mf_type)",
             t->rec.step, type);
    if (t->readonly)
        FAIL(t, "artifacts cannot be set here: an endpoint reads the served run's artifacts and "
                "cannot change them");
    mf_foreign_writer *w = calloc(1, sizeof *w);
    if (!w)
        FAIL(t, "out of memory starting a value");
    w->type = (mf_type)type;
    w->len = MF_CODEC_HDR_LEN + len;
    int rc = mf_blob_writer_open(t->st, w->len, &w->bw);
    if (rc) {
        free(w);
        FAIL(t, "step '%s': cannot store a value of %llu bytes: %s", t->rec.step,
             (unsigned long long)len, mf_blob_error());
    }
    uint8_t hdr[MF_CODEC_HDR_LEN];
    mf_codec_header(hdr, w->type);
    if ((rc = mf_blob_writer_write(w->bw, hdr, sizeof hdr)) != 0) {
        mf_blob_writer_abort(w->bw);
        free(w);
        FAIL(t, "step '%s': cannot store a value: %s", t->rec.step, mf_blob_error());
    }
    *out = w;
}

int mf_foreign_writer_open(mf_task *t, int type, uint64_t len, mf_foreign_writer **w)
{
    CATCH_FAIL(t, writer_open(t, type, len, w));
}

static void writer_write(mf_task *t, mf_foreign_writer *w, const void *data, size_t len)
{
    if (!w || (!data && len))
        FAIL(t, "step '%s': a value's piece with no writer or no data", t->rec.step);
    if (w->nfirst < sizeof w->first) {
        size_t n = sizeof w->first - w->nfirst < len ? sizeof w->first - w->nfirst : len;
        if (n)   /* data may be NULL when len is 0 */
            memcpy(w->first + w->nfirst, data, n);
        w->nfirst += n;
    }
    if (mf_blob_writer_write(w->bw, data, len) != 0)
        FAIL(t, "step '%s': cannot store a value: %s", t->rec.step, mf_blob_error());
}

int mf_foreign_writer_write(mf_task *t, mf_foreign_writer *w, const void *data, size_t len)
{
    CATCH_FAIL(t, writer_write(t, w, data, len));
}

void mf_foreign_writer_abort(mf_task *t, mf_foreign_writer *w)
{
    (void)t;
    if (!w)
        return;
    mf_blob_writer_abort(w->bw);
    free(w);
}

static void writer_close(mf_task *t, mf_foreign_writer *w, const char *name)
{
    if (!w)
        FAIL(t, "step '%s': a value closed with no writer", t->rec.step);
    /* The writer is gone after this, whatever happens: its fields are kept here first. */
    mf_blob_writer *bw = w->bw;
    mf_type ty = w->type;
    uint64_t len = w->len;
    int npy_ok = w->nfirst == 6 && !memcmp(w->first, "\x93NUMPY", 6);
    free(w);
    if (!name || !mf_name_valid(name) || t->readonly || (ty == MF_NPY && !npy_ok)) {
        mf_blob_writer_abort(bw);
        if (ty == MF_NPY && !npy_ok)
            FAIL(t, "step '%s': the value written for '%s' is not a valid npy value (an npy is "
                    "numpy's .npy format, starting \\x93NUMPY)",
                 t->rec.step, name ? name : "?");
        check_settable(t, name);   /* says what is wrong with the name */
        FAIL(t, "step '%s': artifact '%s' cannot be set", t->rec.step, name);
    }
    char key[MF_BLOB_KEY_LEN + 1];
    if (mf_blob_writer_close(bw, key, NULL) != 0)
        FAIL(t, "step '%s': cannot store artifact '%s': %s", t->rec.step, name, mf_blob_error());
    if (mf_record_set_art(&t->rec, name, ty, key, len))
        FAIL(t, "out of memory storing '%s'", name);
}

int mf_foreign_writer_close(mf_task *t, mf_foreign_writer *w, const char *name)
{
    CATCH_FAIL(t, writer_close(t, w, name));
}

static const struct mf_artifact_ref *foreign_ref(mf_task *t, int64_t in, const char *name)
{
    const struct mf_task_record *r = in < 0 ? &t->rec : input(t, (size_t)in);
    const char *where = in < 0 ? "" : where_input((size_t)in);
    if (!name)
        FAIL(t, "artifact name is NULL");
    const struct mf_artifact_ref *a = mf_record_find(r, name);
    if (!a) {
        char buf[600];
        FAIL(t, "step '%s': no artifact '%s'%s (set it in an earlier step)", t->rec.step,
             shown(name, buf, sizeof buf), where);
    }
    if (a->size < MF_CODEC_HDR_LEN)
        FAIL(t, "artifact '%s' (blob %s) is corrupt: its record gives it %llu bytes", name,
             a->key, (unsigned long long)a->size);
    return a;
}

int mf_foreign_stat(mf_task *t, int64_t input, const char *name, int *type, uint64_t *len)
{
    CATCH_FAIL(t, {
        const struct mf_artifact_ref *a = foreign_ref(t, input, name);
        *type = (int)a->type;
        *len = a->size - MF_CODEC_HDR_LEN;
    });
}

/* The value header a foreign read found: of a format and type this mflow reads, and the
 * record's type. */
static void foreign_check_hdr(mf_task *t, const struct mf_artifact_ref *a, const char *name,
                              const uint8_t *hdr)
{
    unsigned v = mf_codec_newer(hdr, MF_CODEC_HDR_LEN);
    if (v)
        FAIL(t, "artifact '%s' (blob %s) has value format version %u, newer than the version %d "
                "this mflow reads: run the flow with a newer mflow",
             name, a->key, v, MF_CODEC_VERSION);
    if ((v = mf_codec_newer_type(hdr, MF_CODEC_HDR_LEN)))
        FAIL(t, "artifact '%s' (blob %s) is of a newer type (%u) than this mflow knows: upgrade "
                "mflow to read it",
             name, a->key, v);
    uint8_t want[MF_CODEC_HDR_LEN];
    mf_codec_header(want, a->type);
    if (memcmp(hdr, want, MF_CODEC_HDR_LEN) != 0)
        FAIL(t, "artifact '%s' (blob %s) is corrupt", name, a->key);
}

static void foreign_read(mf_task *t, int64_t input, const char *name, void *dst, size_t len)
{
    const struct mf_artifact_ref *a = foreign_ref(t, input, name);
    if (a->size - MF_CODEC_HDR_LEN != len)
        FAIL(t, "step '%s': artifact '%s' is %llu bytes, not %zu (a bug in the caller)",
             t->rec.step, name, (unsigned long long)(a->size - MF_CODEC_HDR_LEN), len);
    uint8_t hdr[MF_CODEC_HDR_LEN];
    if (mf_blob_read_into(t->st, a->key, hdr, sizeof hdr, dst, len) != 0)
        FAIL(t, "cannot read artifact blob %s: %s", a->key, mf_blob_error());
    foreign_check_hdr(t, a, name, hdr);
}

int mf_foreign_read(mf_task *t, int64_t input, const char *name, void *dst, size_t len)
{
    CATCH_FAIL(t, foreign_read(t, input, name, dst, len));
}

/* The spans of mf_foreign_read_spans: the value's header here, then the caller's. */
struct foreign_spans {
    uint8_t hdr[MF_CODEC_HDR_LEN];
    int gave_hdr;
    mf_foreign_span_fn next;
    void *ud;
};

static int next_foreign_span(void *ud, void **dst, size_t *len)
{
    struct foreign_spans *s = ud;
    if (!s->gave_hdr) {
        s->gave_hdr = 1;
        *dst = s->hdr;
        *len = sizeof s->hdr;
        return 0;
    }
    return s->next(s->ud, dst, len);
}

static void foreign_read_spans(mf_task *t, int64_t input, const char *name,
                               mf_foreign_span_fn next, void *ud)
{
    const struct mf_artifact_ref *a = foreign_ref(t, input, name);
    if (!next)
        FAIL(t, "step '%s': artifact '%s' read with no span function (a bug in the caller)",
             t->rec.step, name);
    struct foreign_spans s = {.next = next, .ud = ud};
    if (mf_blob_read_spans(t->st, a->key, a->size, next_foreign_span, &s) != 0)
        FAIL(t, "cannot read artifact blob %s: %s", a->key, mf_blob_error());
    foreign_check_hdr(t, a, name, s.hdr);
}

int mf_foreign_read_spans(mf_task *t, int64_t input, const char *name, mf_foreign_span_fn next,
                          void *ud)
{
    CATCH_FAIL(t, foreign_read_spans(t, input, name, next, ud));
}

int mf_foreign_merge(mf_task *t, const char *exclude)
{
    CATCH_FAIL(t, mf_merge_artifacts(t, exclude));
}

int mf_foreign_item(mf_task *t, const char **var, uint64_t *index, uint64_t *count)
{
    for (size_t i = t->rec.depth; i > 0; i--) {
        const struct mf_frame *f = &t->rec.stack[i - 1];
        if (f->kind != MF_FRAME_FOREACH)
            continue;
        int s = mf_graph_find(t->flow->graph, f->step);
        if (s < 0 || !t->flow->graph->steps[s].def->foreach)
            return -1;
        *var = t->flow->graph->steps[s].def->foreach;
        *index = f->index;
        *count = f->count;
        return 0;
    }
    return -1;
}

int mf_task_run_foreign(int argc, char **argv, mf_foreign_step_fn step, void *ud)
{
    if (mf_host_init(NULL) != 0) {
        fprintf(stderr, "mflow task: out of memory\n");
        return 1;
    }
    struct mf_task_args a;
    char *err = NULL;
    int code = mf_task_args_parse(argc, argv, &a, &err);
    if (code) {
        fprintf(stderr, "mflow task: %s\n", err ? err : "usage: task FLOW STEP --run-id R "
                                                        "--task-id T ...");
        free(err);
        mf_host_fini();
        return code;
    }
    foreign_step = step;
    foreign_ud = ud;
    code = mf_task_execute(&a);
    foreign_step = NULL;
    foreign_ud = NULL;
    mf_host_fini();
    return code;
}

int mf_task_foreign_child_setup(int stdin_fd, int stdout_fd, int stderr_fd, const char *workdir,
                                const void *cpuset, size_t cpuset_size, int cgroup_procs_fd,
                                unsigned long long data_limit)
{
    struct mf_ts_child_setup cs = {
        .stdin_fd = stdin_fd, .stdout_fd = stdout_fd, .stderr_fd = stderr_fd,
        .workdir = workdir, .cpuset = cpuset, .cpuset_size = cpuset_size,
        .cgroup_procs_fd = cgroup_procs_fd, .data_limit = data_limit,
    };
    return mf_ts_child_setup_apply(&cs);
}

void mf_task_foreign_preload(int argc, char **argv)
{
    struct mf_task_args a;
    char *err = NULL;
    if (mf_host_init(NULL) != 0 || mf_task_args_parse(argc, argv, &a, &err) != 0) {
        free(err);
        return;
    }
    struct mf_flow *f = NULL;
    if (!a.package && mf_flow_open(a.flow_path, &f, &err) == 0)
        mf_flow_close(f);   /* its graph stays memoized (flowload_py.c) */
    free(err);
    if (mf_host_storage())
        mf_registry_find(mf_host_registry(), MF_PLUGIN_STORAGE, mf_host_storage());
    mf_host_forget();   /* the plugin stays mapped for the children's own loading */
}
