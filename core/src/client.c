/* The client API (sdk/include/mflow/client.h): past runs, steps, tasks, artifacts and logs
 * read from the lmdb index and the datastore, and tags.
 *
 * Listings come from the index alone (a run of 10,000 tasks is one cursor walk). A task's
 * record — inputs, artifact map, message — is read from the datastore when asked for
 * (mf_client_task_load), and artifact values on demand, verified by the blob layer. */
#include <mflow/client.h>

#include "blob.h"
#include "codec.h"
#include "host.h"
#include "index.h"
#include "record.h"
#include "store.h"
#include "util.h"

#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

_Static_assert((int)MF_CLIENT_PENDING == (int)MF_STATUS_PENDING &&
                   (int)MF_CLIENT_RUNNING == (int)MF_STATUS_RUNNING &&
                   (int)MF_CLIENT_SUCCEEDED == (int)MF_STATUS_SUCCEEDED &&
                   (int)MF_CLIENT_FAILED == (int)MF_STATUS_FAILED &&
                   (int)MF_CLIENT_CANCELLED == (int)MF_STATUS_CANCELLED,
               "client status numbers are the index's");
_Static_assert((int)MF_CLIENT_STDOUT == (int)MF_STREAM_STDOUT &&
                   (int)MF_CLIENT_STDERR == (int)MF_STREAM_STDERR,
               "client streams are the plugin ABI's");

#define PATH_CAP (2 * MF_NAME_MAX + 48)

struct mf_client {
    mf_index *ix;
    struct mf_store st;
    int st_open;
    char st_name[64];            /* the open store's plugin and root (what it was opened on) */
    char st_root[1024];
    /* The storage the run last looked up recorded ("" when it records none). */
    char run_storage[64];
    char run_root[1024];
    char *ns;
    char *ixdir;
    struct mf_client *next;      /* open clients of this process */
    char err[2048];
};

struct mf_client_artifact {
    mf_client *c;
    const char *owner;           /* pathspec of the run or task it belongs to */
    const char *name;
    mf_type type;
    const char *key;
    uint64_t size;               /* payload bytes */
};

struct mf_client_run {
    mf_client *c;
    int borrowed;
    int64_t run_id;
    int32_t status, pid;
    double start_time, end_time;
    double last_active;          /* of a dead run, once looked up; 0 before */
    int64_t origin_run_id;
    uint32_t n_tasks, n_failed;
    char flow[MF_NAME_MAX];
    char path[MF_NAME_MAX + 24];
    char storage[64];
    char storage_root[1024];
    char *block;                 /* user, ns, host, tag pointers and tags in one allocation */
    const char *user, *ns, *host;
    char **tags;
    size_t n_tags;
    int params_loaded;
    struct mf_task_record params;
    struct mf_client_artifact *pa;
};

struct mf_client_runs {
    struct mf_client_run *items;
    size_t n, cap;
};

struct mf_client_step {
    char name[MF_NAME_MAX];
    size_t n;
    size_t by_status[MF_STATUS_CANCELLED + 1];
    int64_t first;
    double start, end;
};

struct mf_client_steps {
    struct mf_client_step *items;
    size_t n, cap;
    int32_t run_status;          /* while listing: for shown_status */
};

struct mf_client_task {
    mf_client *c;
    int borrowed;
    int loaded;
    int64_t run_id, task_id;
    uint32_t attempt;
    int32_t status;
    double start_time, end_time;
    int32_t exit_code, term_signal;
    uint32_t fe_index, fe_count;
    char *origin;
    char flow[MF_NAME_MAX];
    char step[MF_NAME_MAX];
    char path[PATH_CAP];
    struct mf_task_record rec;
    struct mf_client_artifact *arts;
};

struct mf_client_tasks {
    struct mf_client_task *items;
    size_t n, cap;
};

static mf_client *open_clients;

/* ---- errors --------------------------------------------------------------------------------- */

__attribute__((format(printf, 3, 4))) static int fail(mf_client *c, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, sizeof c->err, fmt, ap);
    va_end(ap);
    return rc;
}

static int oom(mf_client *c)
{
    return fail(c, MF_ENOMEM, "out of memory");
}

const char *mf_client_error(const mf_client *c)
{
    if (!c)
        return "mflow client: out of memory";
    /* Asked with no message left: a caller that reports a failure that was not this
     * client's. Say so rather than "no error" under "mflow:". */
    return c->err[0] ? c->err : "mflow client: the failure left no message (please report "
                                "the command that printed this)";
}

const char *mf_client_strerror(int rc)
{
    return mf_strerror(rc);
}

const char *mf_client_status_name(int status)
{
    return mf_status_name(status);
}

const char *mf_client_type_name(mf_type type)
{
    return mf_type_name(type);
}

/* ---- open and close ------------------------------------------------------------------------- */

static int differs(const char *want, const char *have)
{
    return want && strcmp(want, have ? have : "") != 0;
}

/* Settings are the process's (host.h): re-initialise them when the options ask for another
 * home, root or storage, which only a process without open clients may do. */
static int setup_host(mf_client *c, const char *home, const char *root, const char *storage)
{
    if (!differs(home, mf_host_home()) && !differs(root, mf_host_datastore_root()) &&
        !differs(storage, mf_host_storage()))
        return 0;
    if (open_clients)
        return fail(c, MF_EINVAL,
                    "another client of this process is open on home %s (datastore %s, "
                    "storage %s): close it before opening one on other settings",
                    mf_host_home(), mf_host_datastore_root(), mf_host_storage());
    /* copies: mf_host_init frees the current settings */
    char *h = strdup(home ? home : mf_host_home());
    char *r = home && !root ? mf_strf("%s/datastore", home)
                            : strdup(root ? root : mf_host_datastore_root());
    char *s = storage ? strdup(storage) : NULL;
    char *cp = strdup(mf_host_compute());
    int chosen = mf_host_storage_chosen();
    int rc = MF_ENOMEM;
    if (h && r && cp && (s || !storage)) {
        struct mf_host_opts o;
        memset(&o, 0, sizeof o);
        o.home = h;
        o.datastore_root = r;
        o.storage = s;
        o.compute = cp;
        rc = mf_host_init(&o);
        /* The root passed on from before (or the new home's datastore) is no choice of the
         * caller's: runs still open the storage they recorded. */
        if (!rc && !root && !storage)
            mf_host_set_chosen(chosen);
    }
    free(h);
    free(r);
    free(s);
    free(cp);
    return rc ? oom(c) : 0;
}

int mf_client_open(const struct mf_client_opts *opts, mf_client **out)
{
    if (!out)
        return MF_EINVAL;
    mf_client *c = calloc(1, sizeof *c);
    *out = c;
    if (!c)
        return MF_ENOMEM;
    const char *home = NULL, *root = NULL, *storage = NULL, *ns = NULL;
    if (opts) {
        if (opts->struct_size < offsetof(struct mf_client_opts, home) + sizeof(char *))
            return fail(c, MF_EINVAL,
                        "mf_client_open: opts.struct_size is %u: set it to "
                        "sizeof(struct mf_client_opts)",
                        opts->struct_size);
        home = opts->home;
        if (MF_HAS_FIELD(opts, datastore_root))
            root = opts->datastore_root;
        if (MF_HAS_FIELD(opts, storage))
            storage = opts->storage;
        if (MF_HAS_FIELD(opts, ns))
            ns = opts->ns;
    }
    if ((home && !*home) || (root && !*root) || (storage && !*storage))
        return fail(c, MF_EINVAL,
                    "mf_client_open: an empty home, datastore root or storage name: leave it "
                    "NULL for the default");
    int rc = setup_host(c, home, root, storage);
    if (rc)
        return rc;
    c->ns = strdup(ns ? ns : mf_host_namespace());
    c->ixdir = mf_strf("%s/index", mf_host_home());
    if (!c->ns || !c->ixdir)
        return oom(c);
    for (mf_client *o = open_clients; o; o = o->next)
        if (!strcmp(o->ixdir, c->ixdir))
            return fail(c, MF_EINVAL,
                        "a client on %s is already open in this process: use that one "
                        "(lmdb allows one open per process)",
                        c->ixdir);
    rc = mf_index_open(c->ixdir, &c->ix);
    if (rc) {
        fail(c, rc, "%s", mf_index_error(c->ix));
        mf_index_close(c->ix);
        c->ix = NULL;
        return rc;
    }
    c->next = open_clients;
    open_clients = c;
    return 0;
}

void mf_client_close(mf_client *c)
{
    if (!c)
        return;
    for (mf_client **p = &open_clients; *p; p = &(*p)->next)
        if (*p == c) {
            *p = c->next;
            break;
        }
    mf_index_close(c->ix);
    if (c->st_open)
        mf_store_close(&c->st);
    free(c->ns);
    free(c->ixdir);
    free(c);
}

const char *mf_client_namespace(const mf_client *c)
{
    return c && c->ns ? c->ns : "";
}

/* Guard for every entry point that needs an open client. */
static int ready(mf_client *c)
{
    if (!c)
        return MF_EINVAL;
    if (!c->ix)
        return MF_EINVAL; /* a failed open: its message stays */
    return 0;
}

/* The datastore, opened on first use. */
static int store(mf_client *c)
{
    if (c->st_open)
        return 0;
    char *err = NULL;
    int rc = mf_store_open(&c->st, &err);
    if (rc) {
        fail(c, rc, "cannot open the datastore %s: %s", mf_host_datastore_root(),
             err ? err : "unknown error");
        free(err);
        return rc;
    }
    c->st_open = 1;
    snprintf(c->st_name, sizeof c->st_name, "%s", mf_host_storage());
    snprintf(c->st_root, sizeof c->st_root, "%s", mf_host_run_root());
    return 0;
}

/* The datastore of run flow/run_id: the storage plugin and root the run recorded, unless the
 * storage or root was chosen (command line, MFLOW_*, config.json). Reopens the store when an
 * earlier call opened another one. */
static int store_of_run(mf_client *c, const char *flow, int64_t run_id)
{
    struct mf_run_rec *rec = malloc(sizeof *rec);
    if (!rec)
        return oom(c);
    c->run_storage[0] = c->run_root[0] = '\0';
    if (mf_index_get_run(c->ix, flow, run_id, rec) == 0 && rec->storage[0]) {
        snprintf(c->run_storage, sizeof c->run_storage, "%s", rec->storage);
        snprintf(c->run_root, sizeof c->run_root, "%s", rec->storage_root);
    }
    free(rec);
    if (!c->run_storage[0] || mf_host_storage_chosen())
        return store(c);
    if (c->st_open && !strcmp(c->st_name, c->run_storage) && !strcmp(c->st_root, c->run_root))
        return 0;
    if (c->st_open) {
        mf_store_close(&c->st);
        c->st_open = 0;
    }
    if (mf_host_use_storage(c->run_storage, c->run_root))
        return oom(c);
    char *err = NULL;
    int rc = mf_store_open(&c->st, &err);
    if (rc) {
        fail(c, rc,
             "run %s/%lld is stored with the %s storage plugin at %s, which cannot be opened: "
             "%s; install that plugin (in a directory of MFLOW_PLUGIN_PATH), or give "
             "--storage and --datastore-root for where its data is now",
             flow, (long long)run_id, c->run_storage, c->run_root,
             err ? err : "unknown error");
        free(err);
        return rc;
    }
    c->st_open = 1;
    snprintf(c->st_name, sizeof c->st_name, "%s", c->run_storage);
    snprintf(c->st_root, sizeof c->st_root, "%s", mf_host_run_root());
    return 0;
}

/* Why a record the index lists is not in the datastore: the words after the key, for the
 * run store_of_run looked up last. */
static const char *missing_hint(const mf_client *c)
{
    if (!c->run_storage[0])
        return "; this run does not record its storage (made by an older mflow): if it lives "
               "in another datastore, give --storage and --datastore-root; else the index "
               "lists what the datastore lost: run `mflow reindex`";
    if (mf_host_storage_chosen() &&
        (strcmp(c->st_name, c->run_storage) || strcmp(c->st_root, c->run_root)))
        return "; the run is stored elsewhere (see the storage its run record names with "
               "`mflow inspect`): leave out --storage and --datastore-root (and "
               "MFLOW_STORAGE, MFLOW_DATASTORE_ROOT) to read it there";
    return "; the datastore the run recorded no longer holds it (deleted or moved): run "
           "`mflow reindex` to make the index match the datastore";
}

static int visible(const mf_client *c, const char *ns)
{
    return !c->ns[0] || !strcmp(c->ns, ns);
}

static int hidden(mf_client *c, const char *flow, int64_t run_id, const char *ns)
{
    return fail(c, MF_ENOTFOUND,
                "run %s/%lld is in namespace '%s', not '%s': use --namespace=%s (or "
                "MFLOW_NAMESPACE) for it, or --namespace= to see all namespaces",
                flow, (long long)run_id, ns, c->ns, ns);
}

/* ---- pathspecs ------------------------------------------------------------------------------ */

struct pathspec {
    int parts;
    char flow[MF_NAME_MAX];
    int64_t run;
    char step[MF_NAME_MAX];
    int64_t task;
};

static int parse_id(const char *s, size_t n, int64_t lo, int64_t *out)
{
    if (n == 0 || n > 19)
        return -1;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        int d = s[i] - '0';
        if (v > (INT64_MAX - d) / 10)
            return -1;   /* 19 digits can exceed INT64_MAX: no signed overflow */
        v = v * 10 + d;
    }
    if (v < lo)
        return -1;
    *out = v;
    return 0;
}

/* Flow[/run[/step[/task]]]: 0, or -1 when malformed. */
static int parse_pathspec(const char *spec, struct pathspec *p)
{
    memset(p, 0, sizeof *p);
    p->task = -1;
    const char *s = spec;
    for (int k = 0; k < 4; k++) {
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n == 0 || n >= MF_NAME_MAX)
            return -1;
        if (k == 0 || k == 2) {
            memcpy(k == 0 ? p->flow : p->step, s, n);
        } else if (parse_id(s, n, k == 1 ? 1 : 0, k == 1 ? &p->run : &p->task)) {
            return -1;
        }
        p->parts = k + 1;
        if (!e)
            return 0;
        s = e + 1;
    }
    return -1;
}

/* ---- artifacts ------------------------------------------------------------------------------ */

static struct mf_client_artifact *make_arts(mf_client *c, const char *owner,
                                           const struct mf_task_record *r)
{
    struct mf_client_artifact *a = calloc(r->n_arts ? r->n_arts : 1, sizeof *a);
    for (size_t i = 0; a && i < r->n_arts; i++) {
        a[i].c = c;
        a[i].owner = owner;
        a[i].name = r->arts[i].name;
        a[i].type = r->arts[i].type;
        a[i].key = r->arts[i].key;
        a[i].size = r->arts[i].size >= MF_CODEC_HDR_LEN ? r->arts[i].size - MF_CODEC_HDR_LEN : 0;
    }
    return a;
}

const char *mf_client_artifact_name(const mf_client_artifact *a)
{
    return a ? a->name : NULL;
}

mf_type mf_client_artifact_type(const mf_client_artifact *a)
{
    return a ? a->type : (mf_type)0;
}

uint64_t mf_client_artifact_size(const mf_client_artifact *a)
{
    return a ? a->size : 0;
}

const char *mf_client_artifact_key(const mf_client_artifact *a)
{
    return a ? a->key : NULL;
}

/* Read, verify and parse the artifact's blob; want 0 accepts any type. Release b after. */
static int art_read(const mf_client_artifact *a, mf_type want, mf_type also, struct mf_blob *b,
                    const uint8_t **payload, size_t *plen)
{
    if (!a)
        return MF_EINVAL;
    mf_client *c = a->c;
    if (want && a->type != want && a->type != also)
        return fail(c, MF_EINVAL, "artifact '%s' of %s is %s, not %s", a->name, a->owner,
                    mf_type_name(a->type), mf_type_name(want));
    struct pathspec p;
    int rc = parse_pathspec(a->owner, &p) == 0 ? store_of_run(c, p.flow, p.run) : store(c);
    if (rc)
        return rc;
    rc = mf_blob_get(&c->st, a->key, b);
    if (rc)
        return fail(c, rc, "artifact '%s' of %s: %s", a->name, a->owner, mf_blob_error());
    mf_type t;
    unsigned v = mf_codec_newer(b->data, b->len);
    if (v) {
        mf_blob_release(b);
        return fail(c, MF_ENOTSUP,
                    "artifact '%s' of %s: its value has format version %u, newer than the "
                    "version %d this mflow reads: read it with a newer mflow",
                    a->name, a->owner, v, MF_CODEC_VERSION);
    }
    if ((v = mf_codec_newer_type(b->data, b->len))) {
        mf_blob_release(b);
        return fail(c, MF_ENOTSUP,
                    "artifact '%s' of %s: its value is of a newer type (%u) than this mflow "
                    "knows: upgrade mflow to read it",
                    a->name, a->owner, v);
    }
    if (mf_codec_parse(b->data, b->len, &t, payload, plen) != 0 || t != a->type) {
        mf_blob_release(b);
        return fail(c, MF_ECORRUPT,
                    "artifact '%s' of %s: blob %s is not a valid %s value (the datastore is "
                    "damaged; rerun the step that made it)",
                    a->name, a->owner, a->key, mf_type_name(a->type));
    }
    return 0;
}

static int decoded(const mf_client_artifact *a, int rc)
{
    if (rc == MF_ENOMEM)
        return oom(a->c);
    if (rc)
        return fail(a->c, MF_ECORRUPT, "artifact '%s' of %s: blob %s does not decode as %s",
                    a->name, a->owner, a->key, mf_type_name(a->type));
    return 0;
}

/* Read an artifact of exactly `type` and decode it into v (a pointer to what that type's
 * mf_codec_decode_* fills) and, for the vector types, n. */
static int read_decoded(const mf_client_artifact *a, mf_type type, void *v, size_t *n)
{
    struct mf_blob b;
    const uint8_t *p;
    size_t pn;
    int rc = art_read(a, type, type, &b, &p, &pn);
    if (rc)
        return rc;
    switch (type) {
    case MF_I64:
        rc = mf_codec_decode_i64(p, pn, v);
        break;
    case MF_F64:
        rc = mf_codec_decode_f64(p, pn, v);
        break;
    case MF_I64V:
        rc = mf_codec_decode_i64v(p, pn, v, n);
        break;
    case MF_F64V:
        rc = mf_codec_decode_f64v(p, pn, v, n);
        break;
    case MF_STRV:
        rc = mf_codec_decode_strv(p, pn, v, n);
        break;
    default:
        rc = MF_EINVAL;   /* no caller asks for another type */
        break;
    }
    rc = decoded(a, rc);
    mf_blob_release(&b);
    return rc;
}

int mf_client_artifact_i64(const mf_client_artifact *a, int64_t *v)
{
    return read_decoded(a, MF_I64, v, NULL);
}

int mf_client_artifact_f64(const mf_client_artifact *a, double *v)
{
    return read_decoded(a, MF_F64, v, NULL);
}

static int copy_payload(const mf_client_artifact *a, mf_type want, mf_type also, void **out,
                        size_t *len)
{
    struct mf_blob b;
    const uint8_t *p;
    size_t n;
    int rc = art_read(a, want, also, &b, &p, &n);
    if (rc)
        return rc;
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, p, n);
        s[n] = 0;
        *out = s;
        if (len)
            *len = n;
    }
    mf_blob_release(&b);
    return s ? 0 : oom(a->c);
}

int mf_client_artifact_str(const mf_client_artifact *a, char **s, size_t *len)
{
    return copy_payload(a, MF_STR, MF_STR, (void **)s, len);
}

int mf_client_artifact_bytes(const mf_client_artifact *a, void **data, size_t *len)
{
    return copy_payload(a, MF_BYTES, MF_STR, data, len);
}

int mf_client_artifact_value(const mf_client_artifact *a, mf_type *type, void **payload,
                             size_t *len)
{
    int rc = copy_payload(a, 0, 0, payload, len);
    if (!rc && type)
        *type = a->type;
    return rc;
}

struct mf_client_reader {
    const mf_client_artifact *a;
    mf_blob_reader *r;
    size_t skip;                 /* of the codec header, still to read past */
};

int mf_client_artifact_reader_open(const mf_client_artifact *a, mf_client_reader **out,
                                   uint64_t *len)
{
    if (!a || !out || !len)
        return a ? fail(a->c, MF_EINVAL, "mf_client_artifact_reader_open: no place for the reader")
                 : MF_EINVAL;
    *out = NULL;
    mf_client *c = a->c;
    struct pathspec p;
    int rc = parse_pathspec(a->owner, &p) == 0 ? store_of_run(c, p.flow, p.run) : store(c);
    if (rc)
        return rc;
    mf_blob_reader *br;
    uint64_t n;
    rc = mf_blob_reader_open(&c->st, a->key, &br, &n);
    if (rc == MF_ENOTSUP)
        return fail(c, rc, "artifact '%s' of %s cannot be read piece by piece (its blob is "
                    "compressed, or the storage reads no ranges): read it whole",
                    a->name, a->owner);
    if (rc)
        return fail(c, rc, "artifact '%s' of %s: %s", a->name, a->owner, mf_blob_error());
    if (n < MF_CODEC_HDR_LEN) {
        mf_blob_reader_close(br);
        return fail(c, MF_ECORRUPT, "artifact '%s' of %s: its value is shorter than its header",
                    a->name, a->owner);
    }
    struct mf_client_reader *r = calloc(1, sizeof *r);
    if (!r) {
        mf_blob_reader_close(br);
        return oom(c);
    }
    r->a = a;
    r->r = br;
    r->skip = MF_CODEC_HDR_LEN;
    *out = r;
    *len = n - MF_CODEC_HDR_LEN;
    return 0;
}

int mf_client_artifact_reader_read(mf_client_reader *r, void *buf, size_t max, size_t *got)
{
    if (!r || !buf || !got)
        return MF_EINVAL;
    *got = 0;
    const mf_client_artifact *a = r->a;
    while (r->skip) {
        uint8_t hdr[MF_CODEC_HDR_LEN];
        size_t n;
        int rc = mf_blob_reader_read(r->r, hdr, r->skip, &n);
        if (rc)
            return fail(a->c, rc, "artifact '%s' of %s: %s", a->name, a->owner, mf_blob_error());
        if (n == 0)
            return fail(a->c, MF_ECORRUPT, "artifact '%s' of %s: its value ended in its header",
                        a->name, a->owner);
        r->skip -= n;
    }
    int rc = mf_blob_reader_read(r->r, buf, max, got);
    if (rc) {
        *got = 0;
        return fail(a->c, rc, "artifact '%s' of %s: %s", a->name, a->owner, mf_blob_error());
    }
    return 0;
}

void mf_client_artifact_reader_close(mf_client_reader *r)
{
    if (!r)
        return;
    mf_blob_reader_close(r->r);
    free(r);
}

int mf_client_artifact_i64v(const mf_client_artifact *a, int64_t **v, size_t *n)
{
    return read_decoded(a, MF_I64V, v, n);
}

int mf_client_artifact_f64v(const mf_client_artifact *a, double **v, size_t *n)
{
    return read_decoded(a, MF_F64V, v, n);
}

int mf_client_artifact_strv(const mf_client_artifact *a, char ***v, size_t *n)
{
    return read_decoded(a, MF_STRV, v, n);
}

/* ---- runs ----------------------------------------------------------------------------------- */

static size_t count_lines(const char *s)
{
    if (!*s)
        return 0;
    size_t n = 1;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* Fill r from an index record (r->c and r->borrowed kept; an old block is freed). */
static int run_fill(struct mf_client_run *r, const struct mf_run_rec *rec)
{
    size_t ul = strlen(rec->user) + 1, nl = strlen(rec->ns) + 1, hl = strlen(rec->host) + 1;
    size_t tl = strlen(rec->tags) + 1, nt = count_lines(rec->tags);
    char *block = malloc(nt * sizeof(char *) + ul + nl + hl + tl);
    if (!block)
        return MF_ENOMEM;
    free(r->block);
    r->block = block;
    r->tags = (char **)block;
    char *s = block + nt * sizeof(char *);
    r->user = memcpy(s, rec->user, ul);
    s += ul;
    r->ns = memcpy(s, rec->ns, nl);
    s += nl;
    r->host = memcpy(s, rec->host, hl);
    s += hl;
    memcpy(s, rec->tags, tl);
    r->n_tags = 0;
    while (r->n_tags < nt) {
        r->tags[r->n_tags++] = s;
        char *e = strchr(s, '\n');
        if (!e)
            break;
        *e = 0;
        s = e + 1;
    }
    memcpy(r->flow, rec->flow, sizeof r->flow);
    r->flow[sizeof r->flow - 1] = 0;
    r->run_id = rec->run_id;
    r->status = rec->status;
    r->pid = rec->pid;
    r->start_time = rec->start_time;
    r->end_time = rec->end_time;
    r->last_active = 0;
    r->origin_run_id = rec->origin_run_id;
    r->n_tasks = rec->n_tasks;
    r->n_failed = rec->n_failed;
    snprintf(r->storage, sizeof r->storage, "%s", rec->storage);
    snprintf(r->storage_root, sizeof r->storage_root, "%s", rec->storage_root);
    snprintf(r->path, sizeof r->path, "%s/%lld", r->flow, (long long)r->run_id);
    return 0;
}

static void run_clear(struct mf_client_run *r)
{
    free(r->block);
    free(r->pa);
    mf_task_record_free(&r->params);
}

static int has_tag(const char *tags, const char *tag)
{
    size_t tl = strlen(tag);
    for (const char *p = tags; *p;) {
        const char *e = strchr(p, '\n');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == tl && !memcmp(p, tag, tl))
            return 1;
        if (!e)
            break;
        p = e + 1;
    }
    return 0;
}

struct run_filter {
    mf_client *c;
    const char *const *tags;
    size_t n_tags;
    struct mf_client_runs *l;
    int rc;
};

/* A listing of the index ended in rc: put its message on c (out of memory when the listing's
 * callback ran out, else the index's own). Returns rc. */
static int listing_failed(mf_client *c, int rc, int out_of_memory)
{
    if (out_of_memory)
        oom(c);
    else
        fail(c, rc, "%s", mf_index_error(c->ix));
    return rc;
}

static int collect_run(void *ud, const struct mf_run_rec *rec)
{
    struct run_filter *f = ud;
    if (!visible(f->c, rec->ns))
        return 0;
    for (size_t i = 0; i < f->n_tags; i++)
        if (!has_tag(rec->tags, f->tags[i]))
            return 0;
    struct mf_client_runs *l = f->l;
    if (mf_grow(&l->items, &l->cap, l->n, sizeof *l->items, 64))
        return f->rc = MF_ENOMEM;
    struct mf_client_run *r = &l->items[l->n];
    memset(r, 0, sizeof *r);
    r->c = f->c;
    r->borrowed = 1;
    mf_task_record_init(&r->params);
    if (run_fill(r, rec))
        return f->rc = MF_ENOMEM;
    l->n++;
    return 0;
}

int mf_client_list_runs(mf_client *c, const char *flow, const char *const *tags, size_t n_tags,
                   mf_client_runs **out)
{
    int rc = ready(c);
    if (rc)
        return rc;
    if (!out || !flow || (n_tags && !tags))
        return fail(c, MF_EINVAL, "mf_client_runs: no flow or no place for the list");
    *out = NULL;
    struct mf_client_runs *l = calloc(1, sizeof *l);
    if (!l)
        return oom(c);
    struct run_filter f = {c, tags, n_tags, l, 0};
    rc = mf_index_list_runs(c->ix, flow, collect_run, &f);
    if (rc) {
        listing_failed(c, rc, f.rc);
        mf_client_runs_free(l);
        return rc;
    }
    *out = l;
    return 0;
}

size_t mf_client_runs_count(const mf_client_runs *l)
{
    return l ? l->n : 0;
}

mf_client_run *mf_client_runs_at(const mf_client_runs *l, size_t i)
{
    return l && i < l->n ? &l->items[i] : NULL;
}

void mf_client_runs_free(mf_client_runs *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        run_clear(&l->items[i]);
    free(l->items);
    free(l);
}

static int new_run(mf_client *c, const struct mf_run_rec *rec, mf_client_run **out)
{
    struct mf_client_run *r = calloc(1, sizeof *r);
    if (!r)
        return oom(c);
    r->c = c;
    mf_task_record_init(&r->params);
    if (run_fill(r, rec)) {
        free(r);
        return oom(c);
    }
    *out = r;
    return 0;
}

/* The index record of a visible run: 0, MF_ENOTFOUND with a message, or another failure. */
static int get_run_rec(mf_client *c, const char *flow, int64_t run_id, struct mf_run_rec *rec)
{
    int rc = mf_index_get_run(c->ix, flow, run_id, rec);
    if (rc == MF_ENOTFOUND)
        return fail(c, rc,
                    "no run %s/%lld in the index (`mflow runs %s` lists its runs; a run made "
                    "elsewhere appears after `mflow reindex`)",
                    flow, (long long)run_id, flow);
    if (rc)
        return fail(c, rc, "%s", mf_index_error(c->ix));
    if (!visible(c, rec->ns))
        return hidden(c, flow, run_id, rec->ns);
    return 0;
}

int mf_client_run_get(mf_client *c, const char *flow, int64_t run_id, mf_client_run **out)
{
    int rc = ready(c);
    if (rc)
        return rc;
    if (!out || !flow || !*flow)
        return fail(c, MF_EINVAL, "mf_client_run_get: no flow or no place for the run");
    *out = NULL;
    struct mf_run_rec rec;
    rc = get_run_rec(c, flow, run_id, &rec);
    return rc ? rc : new_run(c, &rec, out);
}

int mf_client_run_open(mf_client *c, const char *pathspec, mf_client_run **out)
{
    int rc = ready(c);
    if (rc)
        return rc;
    struct pathspec p;
    if (!pathspec || parse_pathspec(pathspec, &p) || p.parts != 2)
        return fail(c, MF_EINVAL, "'%s' is not a run pathspec: use Flow/run, e.g. HelloFlow/3",
                    pathspec ? pathspec : "");
    return mf_client_run_get(c, p.flow, p.run, out);
}

struct latest {
    mf_client *c;
    int successful;
    struct mf_run_rec rec;
    int found;
};

static int take_latest(void *ud, const struct mf_run_rec *r)
{
    struct latest *l = ud;
    if (!visible(l->c, r->ns) || (l->successful && r->status != MF_STATUS_SUCCEEDED))
        return 0;
    l->rec = *r;
    l->found = 1;
    return 1;
}

int mf_client_run_latest(mf_client *c, const char *flow, int successful_only,
                         mf_client_run **out)
{
    int rc = ready(c);
    if (rc)
        return rc;
    if (!out || !flow || !*flow)
        return fail(c, MF_EINVAL, "mf_client_run_latest: no flow or no place for the run");
    *out = NULL;
    struct latest *l = calloc(1, sizeof *l);
    if (!l)
        return oom(c);
    l->c = c;
    l->successful = successful_only;
    rc = mf_index_list_runs(c->ix, flow, take_latest, l);
    if (rc < 0 || (rc > 0 && !l->found)) {
        fail(c, rc, "%s", mf_index_error(c->ix));
    } else if (!l->found) {
        rc = fail(c, MF_ENOTFOUND, "flow %s has no %srun in %s%s%s (see `mflow runs %s`)", flow,
                  successful_only ? "successful " : "", c->ns[0] ? "namespace '" : "any namespace",
                  c->ns, c->ns[0] ? "'" : "", flow);
    } else {
        rc = new_run(c, &l->rec, out);
    }
    free(l);
    return rc;
}

void mf_client_run_free(mf_client_run *r)
{
    if (!r || r->borrowed)
        return;
    run_clear(r);
    free(r);
}

const char *mf_client_run_flow(const mf_client_run *r)
{
    return r ? r->flow : NULL;
}

int64_t mf_client_run_id(const mf_client_run *r)
{
    return r ? r->run_id : 0;
}

const char *mf_client_run_pathspec(const mf_client_run *r)
{
    return r ? r->path : NULL;
}

int mf_client_run_status(const mf_client_run *r)
{
    return r ? r->status : 0;
}

const char *mf_client_run_user(const mf_client_run *r)
{
    return r ? r->user : NULL;
}

const char *mf_client_run_namespace(const mf_client_run *r)
{
    return r ? r->ns : NULL;
}

const char *mf_client_run_host(const mf_client_run *r)
{
    return r ? r->host : NULL;
}

const char *mf_client_run_storage(const mf_client_run *r)
{
    return r ? r->storage : "";
}

const char *mf_client_run_storage_root(const mf_client_run *r)
{
    return r ? r->storage_root : "";
}

int32_t mf_client_run_pid(const mf_client_run *r)
{
    return r ? r->pid : 0;
}

double mf_client_run_start_time(const mf_client_run *r)
{
    return r ? r->start_time : 0;
}

double mf_client_run_end_time(const mf_client_run *r)
{
    return r ? r->end_time : 0;
}

int64_t mf_client_run_origin_run_id(const mf_client_run *r)
{
    return r ? r->origin_run_id : 0;
}

uint32_t mf_client_run_task_count(const mf_client_run *r)
{
    return r ? r->n_tasks : 0;
}

uint32_t mf_client_run_failed_count(const mf_client_run *r)
{
    return r ? r->n_failed : 0;
}

size_t mf_client_run_tag_count(const mf_client_run *r)
{
    return r ? r->n_tags : 0;
}

const char *mf_client_run_tag(const mf_client_run *r, size_t i)
{
    return r && i < r->n_tags ? r->tags[i] : NULL;
}

int mf_client_run_has_tag(const mf_client_run *r, const char *tag)
{
    for (size_t i = 0; r && tag && i < r->n_tags; i++)
        if (!strcmp(r->tags[i], tag))
            return 1;
    return 0;
}

/* Start of process pid in unix seconds, or 0 when unknown (/proc/<pid>/stat field 22). */
static double process_start(int pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    if (!p)
        return 0;
    unsigned long long ticks = 0;
    /* after ") ": state is field 3; starttime is field 22 */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d "
                      "%*d %*d %llu",
               &ticks) != 1)
        return 0;
    f = fopen("/proc/stat", "r");
    if (!f)
        return 0;
    unsigned long long btime = 0;
    char line[256];
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "btime %llu", &btime) == 1)
            break;
    fclose(f);
    long hz = sysconf(_SC_CLK_TCK);
    if (!btime || hz <= 0)
        return 0;
    return (double)btime + (double)ticks / (double)hz;
}

int mf_client_run_dead(const mf_client_run *r)
{
    if (!r || r->status != MF_STATUS_RUNNING || r->pid <= 0)
        return 0;
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    if (strcmp(host, r->host) != 0)
        return 0;
    if (kill(r->pid, 0) != 0)
        return errno == ESRCH;
    /* alive: the same process, unless the pid was reused after the run started */
    double st = process_start(r->pid);
    return st > 0 && st > r->start_time + 5;
}

static int latest_task_time(void *ud, const struct mf_task_rec *t)
{
    double *last = ud;
    if (t->start_time > *last)
        *last = t->start_time;
    if (t->end_time > *last)
        *last = t->end_time;
    return 0;
}

double mf_client_run_last_active(mf_client_run *r)
{
    if (!r)
        return 0;
    if (r->end_time > 0)
        return r->end_time;
    if (!mf_client_run_dead(r))
        return 0;
    if (r->last_active <= 0) {
        /* Its orchestrator recorded tasks until it died: the latest of them is when the run
         * was last seen working (its start when none ended). */
        double last = r->start_time;
        if (ready(r->c) == 0)
            mf_index_list_tasks(r->c->ix, r->flow, r->run_id, NULL, latest_task_time, &last);
        r->last_active = last;
    }
    return r->last_active;
}

int mf_client_run_load_params(mf_client_run *r)
{
    if (!r)
        return MF_EINVAL;
    mf_client *c = r->c;
    if (r->params_loaded)
        return 0;
    int rc = store_of_run(c, r->flow, r->run_id);
    if (rc)
        return rc;
    struct mf_run_rec *rec = malloc(sizeof *rec);
    if (!rec)
        return oom(c);
    rc = mf_run_record_read(&c->st, r->flow, r->run_id, rec, &r->params);
    free(rec);
    if (rc) {
        mf_task_record_free(&r->params);
        char *key = mf_key_run(r->flow, r->run_id);
        if (rc == MF_ENOTFOUND)
            fail(c, rc, "run %s has no run record in the datastore %s (storage %s, key %s)%s",
                 r->path, c->st_root, c->st_name, key ? key : "run.json", missing_hint(c));
        else if (rc == MF_ECORRUPT)
            fail(c, rc, "the run record of %s (%s) is damaged: its parameters cannot be read",
                 r->path, key ? key : "run.json");
        else if (rc == MF_ENOTSUP) {
            char *m = mf_record_newer_msg(key ? key : "run.json");
            fail(c, rc, "the run record of %s: %s", r->path, m ? m : "newer format");
            free(m);
        }
        else
            fail(c, rc, "cannot read the run record of %s: %s", r->path,
                 c->st.ops->last_error(c->st.state));
        free(key);
        return rc;
    }
    r->pa = make_arts(c, r->path, &r->params);
    if (!r->pa) {
        mf_task_record_free(&r->params);
        return oom(c);
    }
    r->params_loaded = 1;
    return 0;
}

size_t mf_client_run_param_count(const mf_client_run *r)
{
    return r && r->params_loaded ? r->params.n_arts : 0;
}

const mf_client_artifact *mf_client_run_param_at(const mf_client_run *r, size_t i)
{
    return r && r->params_loaded && i < r->params.n_arts ? &r->pa[i] : NULL;
}

const mf_client_artifact *mf_client_run_param_find(const mf_client_run *r, const char *name)
{
    for (size_t i = 0; name && i < mf_client_run_param_count(r); i++)
        if (!strcmp(r->pa[i].name, name))
            return &r->pa[i];
    return NULL;
}

/* ---- tags ----------------------------------------------------------------------------------- */

int mf_client_tag_is_system(const char *tag)
{
    return tag && (!strncmp(tag, "user:", 5) || !strncmp(tag, "mflow_version:", 14));
}

/* Add or remove a line of a '\n'-separated tag buffer of capacity cap. 0 or -1 (full). */
static int edit_tags(char *tags, size_t cap, const char *tag, int add)
{
    size_t tl = strlen(tag);
    char *p = tags;
    for (; *p;) {
        char *e = strchr(p, '\n');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == tl && !memcmp(p, tag, tl))
            break;
        if (!e) {
            p += n;
            break;
        }
        p = e + 1;
    }
    int found = *p != 0;
    if (add) {
        if (found)
            return 0;
        size_t cur = strlen(tags);
        if (cur + (cur ? 1 : 0) + tl + 1 > cap)
            return -1;
        if (cur)
            tags[cur++] = '\n';
        memcpy(tags + cur, tag, tl + 1);
        return 0;
    }
    if (!found)
        return 0;
    char *after = p + tl;
    if (*after == '\n')
        memmove(p, after + 1, strlen(after + 1) + 1);
    else if (p > tags)
        p[-1] = 0;
    else
        p[0] = 0;
    return 0;
}

static int change_tag(mf_client_run *r, const char *tag, int add)
{
    if (!r)
        return MF_EINVAL;
    mf_client *c = r->c;
    if (!tag || !*tag || strchr(tag, '\n'))
        return fail(c, MF_EINVAL, "tag '%s' is not valid: a tag is a non-empty line of text",
                    tag ? tag : "");
    if (mf_client_tag_is_system(tag))
        return fail(c, MF_EINVAL,
                    "tag '%s' of %s is a system tag (user:..., mflow_version:...): mflow sets "
                    "it, and it cannot be %s",
                    tag, r->path, add ? "added by hand" : "removed");
    struct mf_run_rec *rec = malloc(sizeof *rec);
    struct mf_task_record params;
    mf_task_record_init(&params);
    if (!rec)
        return oom(c);
    int rc = store_of_run(c, r->flow, r->run_id);
    if (!rc) {
        rc = mf_run_record_read(&c->st, r->flow, r->run_id, rec, &params);
        if (rc == MF_ENOTFOUND)
            fail(c, rc, "run %s has no run record in the datastore %s (storage %s)%s", r->path,
                 c->st_root, c->st_name, missing_hint(c));
        else if (rc == MF_ECORRUPT) {
            char *key = mf_key_run(r->flow, r->run_id);
            fail(c, rc, "the run record of %s (%s) is damaged: cannot store its tags", r->path,
                 key ? key : "run.json");
            free(key);
        }
        else if (rc)
            fail(c, rc, "cannot read the run record of %s: %s", r->path,
                 c->st.ops->last_error(c->st.state));
    }
    if (!rc && edit_tags(rec->tags, sizeof rec->tags, tag, add))
        rc = fail(c, MF_EINVAL, "run %s cannot take tag '%.40s': its tags would exceed %zu bytes; "
                                "remove some first",
                  r->path, tag, sizeof rec->tags - 1);
    if (!rc && (rc = mf_run_record_write(&c->st, rec, &params)))
        fail(c, rc, "cannot store the tags of %s in its run record: %s", r->path,
             c->st.ops->last_error(c->st.state));
    if (!rc) {
        rc = add ? mf_index_add_tag(c->ix, r->flow, r->run_id, tag)
                 : mf_index_remove_tag(c->ix, r->flow, r->run_id, tag);
        if (rc)
            fail(c, rc, "%s (the run record in the datastore has the change; `mflow reindex` "
                        "brings the index in line)",
                 mf_index_error(c->ix));
    }
    if (!rc) {
        rc = mf_index_get_run(c->ix, r->flow, r->run_id, rec);
        if (rc)
            fail(c, rc, "%s", mf_index_error(c->ix));
        else if (run_fill(r, rec))
            rc = oom(c);
    }
    mf_task_record_free(&params);
    free(rec);
    return rc;
}

int mf_client_run_tag_add(mf_client_run *r, const char *tag)
{
    return change_tag(r, tag, 1);
}

int mf_client_run_tag_remove(mf_client_run *r, const char *tag)
{
    return change_tag(r, tag, 0);
}

/* ---- flows ---------------------------------------------------------------------------------- */

struct flow_acc {
    mf_client *c;
    struct mf_sbuf names;        /* NUL-separated */
    size_t n;
    int any;                     /* the current flow has a visible run */
};

static int any_visible(void *ud, const struct mf_run_rec *r)
{
    struct flow_acc *a = ud;
    if (visible(a->c, r->ns)) {
        a->any = 1;
        return 1;
    }
    return 0;
}

static int collect_flow(void *ud, const char *flow, int64_t last)
{
    (void)last;
    struct flow_acc *a = ud;
    if (a->c->ns[0]) {
        a->any = 0;
        int rc = mf_index_list_runs(a->c->ix, flow, any_visible, a);
        if (rc < 0)
            return rc;
        if (!a->any)
            return 0;
    }
    mf_sbuf_add(&a->names, flow, strlen(flow) + 1);
    a->n++;
    return a->names.oom ? MF_ENOMEM : 0;
}

int mf_client_flows(mf_client *c, char ***names, size_t *n)
{
    int rc = ready(c);
    if (rc)
        return rc;
    if (!names)
        return fail(c, MF_EINVAL, "mf_client_flows: no place for the names");
    *names = NULL;
    struct flow_acc a;
    memset(&a, 0, sizeof a);
    a.c = c;
    rc = mf_index_list_flows(c->ix, collect_flow, &a);
    if (rc) {
        listing_failed(c, rc, rc == MF_ENOMEM && a.names.oom);
        mf_sbuf_free(&a.names);
        return rc;
    }
    size_t ptrs = (a.n + 1) * sizeof(char *);
    char **v = malloc(ptrs + a.names.len + 1);
    if (!v) {
        mf_sbuf_free(&a.names);
        return oom(c);
    }
    char *s = (char *)v + ptrs;
    if (a.names.len)
        memcpy(s, a.names.data, a.names.len);
    for (size_t i = 0; i < a.n; i++) {
        v[i] = s;
        s += strlen(s) + 1;
    }
    v[a.n] = NULL;
    mf_sbuf_free(&a.names);
    *names = v;
    if (n)
        *n = a.n;
    return 0;
}

/* ---- tasks ---------------------------------------------------------------------------------- */

static void task_from_index(struct mf_client_task *t, mf_client *c, const struct mf_task_rec *r)
{
    memset(t, 0, sizeof *t);
    mf_task_record_init(&t->rec);
    t->c = c;
    memcpy(t->flow, r->flow, sizeof t->flow);
    memcpy(t->step, r->step, sizeof t->step);
    t->flow[MF_NAME_MAX - 1] = t->step[MF_NAME_MAX - 1] = 0;
    t->run_id = r->run_id;
    t->task_id = r->task_id;
    t->attempt = r->attempt;
    t->status = r->status;
    t->start_time = r->start_time;
    t->end_time = r->end_time;
    t->exit_code = r->exit_code;
    t->term_signal = r->term_signal;
    t->fe_index = r->foreach_index;
    t->fe_count = r->foreach_count;
    snprintf(t->path, sizeof t->path, "%s/%lld/%s/%lld", t->flow, (long long)t->run_id, t->step,
             (long long)t->task_id);
}

/* A task the index holds as running or pending (the orchestrator records a task's start) in a
 * run that ended: its orchestrator stopped without seeing it end (killed twice, lost). It is
 * shown as the run ended, never as running forever. A run that died without ending keeps
 * saying running, as the run does (mf_client_run_dead tells both). */
static int32_t shown_status(int32_t task_status, int32_t run_status)
{
    if (task_status != MF_STATUS_RUNNING && task_status != MF_STATUS_PENDING)
        return task_status;
    if (run_status == MF_STATUS_FAILED || run_status == MF_STATUS_CANCELLED)
        return run_status;
    return run_status == MF_STATUS_SUCCEEDED ? MF_STATUS_FAILED : task_status;
}

/* The fields of t that an attempt's record sets. */
static void task_from_record(struct mf_client_task *t)
{
    const struct mf_task_record *r = &t->rec;
    t->attempt = r->attempt;
    t->status = r->status;
    t->start_time = r->start_time;
    t->end_time = r->end_time;
    t->exit_code = r->exit_code;
    t->term_signal = r->term_signal;
    t->fe_index = t->fe_count = 0;
    for (size_t i = r->depth; i > 0; i--)
        if (r->stack[i - 1].kind == MF_FRAME_FOREACH) {
            t->fe_index = r->stack[i - 1].index;
            t->fe_count = r->stack[i - 1].count;
            break;
        }
}

static void task_clear(struct mf_client_task *t)
{
    free(t->origin);
    free(t->arts);
    mf_task_record_free(&t->rec);
    t->origin = NULL;
    t->arts = NULL;
    t->loaded = 0;
}

static int set_origin(struct mf_client_task *t, const char *origin)
{
    if (!origin || !*origin)
        return 0;
    t->origin = strdup(origin);
    return t->origin ? 0 : MF_ENOMEM;
}

/* Read attempt `attempt` of t's record into t->rec and build the artifact table. */
static int load_attempt(struct mf_client_task *t, uint32_t attempt)
{
    mf_client *c = t->c;
    int rc = store_of_run(c, t->flow, t->run_id);
    if (rc)
        return rc;
    char *err = NULL;
    rc = mf_record_read(&c->st, t->flow, t->run_id, t->step, t->task_id, attempt, &t->rec, &err);
    if (rc == MF_ENOTFOUND) {
        char *key = mf_key_task(t->flow, t->run_id, t->step, t->task_id, attempt);
        fail(c, rc, "task %s has no record of attempt %u in the datastore %s (storage %s, key "
             "%s)%s",
             t->path, attempt, c->st_root, c->st_name, key ? key : "task record",
             attempt == t->attempt ? missing_hint(c) : "");
        free(key);
    } else if (rc == MF_ECORRUPT) {
        fail(c, rc, "%s: the record of task %s (attempt %u) is damaged",
             err ? err : "corrupt record", t->path, attempt);
    } else if (rc) {
        fail(c, rc, "%s", err ? err : "cannot read the task record");
    }
    free(err);
    if (rc) {
        mf_task_record_init(&t->rec);
        return rc;
    }
    t->arts = make_arts(c, t->path, &t->rec);
    if (!t->arts) {
        mf_task_record_free(&t->rec);
        return oom(c);
    }
    t->loaded = 1;
    return 0;
}

int mf_client_task_load(mf_client_task *t)
{
    if (!t)
        return MF_EINVAL;
    return t->loaded ? 0 : load_attempt(t, t->attempt);
}

int mf_client_task_loaded(const mf_client_task *t)
{
    return t ? t->loaded : 0;
}

struct task_list_acc {
    mf_client *c;
    struct mf_client_tasks *l;
    int rc;
};

static int tasks_push(struct mf_client_tasks *l, struct mf_client_task **out)
{
    if (mf_grow(&l->items, &l->cap, l->n, sizeof *l->items, 16))
        return MF_ENOMEM;
    *out = &l->items[l->n++];
    return 0;
}

/* Append the task of index record r to l (borrowed: l owns it). 0 or MF_ENOMEM, l unchanged. */
static int push_index_task(struct mf_client_tasks *l, mf_client *c, const struct mf_task_rec *r)
{
    struct mf_client_task *t;
    if (tasks_push(l, &t))
        return MF_ENOMEM;
    task_from_index(t, c, r);
    t->borrowed = 1;
    if (set_origin(t, r->origin)) {
        l->n--;
        return MF_ENOMEM;
    }
    return 0;
}

static int collect_task(void *ud, const struct mf_task_rec *r)
{
    struct task_list_acc *a = ud;
    return push_index_task(a->l, a->c, r) ? (a->rc = MF_ENOMEM) : 0;
}

static int by_task_id(const void *x, const void *y)
{
    const struct mf_client_task *a = x, *b = y;
    return a->task_id < b->task_id ? -1 : a->task_id > b->task_id;
}

static int list_tasks(mf_client *c, const char *flow, int64_t run_id, int32_t run_status,
                      const char *step, struct mf_client_tasks **out)
{
    struct mf_client_tasks *l = calloc(1, sizeof *l);
    if (!l)
        return oom(c);
    struct task_list_acc a = {c, l, 0};
    int rc = mf_index_list_tasks(c->ix, flow, run_id, step, collect_task, &a);
    if (rc) {
        listing_failed(c, rc, a.rc);
        mf_client_tasks_free(l);
        return rc;
    }
    if (!step && l->n > 1)
        qsort(l->items, l->n, sizeof *l->items, by_task_id);
    for (size_t i = 0; run_status && i < l->n; i++)
        l->items[i].status = shown_status(l->items[i].status, run_status);
    *out = l;
    return 0;
}

int mf_client_list_tasks(mf_client_run *r, const char *step, mf_client_tasks **out)
{
    if (!r || !out)
        return r ? fail(r->c, MF_EINVAL, "mf_client_tasks: no place for the list") : MF_EINVAL;
    *out = NULL;
    int rc = ready(r->c);
    if (rc)
        return rc;
    if (step && (!*step || strlen(step) >= MF_NAME_MAX))
        return fail(r->c, MF_EINVAL, "'%s' is not a step name", step);
    return list_tasks(r->c, r->flow, r->run_id, r->status, step, out);
}

size_t mf_client_tasks_count(const mf_client_tasks *l)
{
    return l ? l->n : 0;
}

mf_client_task *mf_client_tasks_at(const mf_client_tasks *l, size_t i)
{
    return l && i < l->n ? &l->items[i] : NULL;
}

void mf_client_tasks_free(mf_client_tasks *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        task_clear(&l->items[i]);
    free(l->items);
    free(l);
}

static int not_in_index(mf_client *c, const char *flow, int64_t run_id, const char *step,
                        int64_t task_id)
{
    if (task_id >= 0)
        return fail(c, MF_ENOTFOUND,
                    "no task %s/%lld/%s/%lld in the index (check the pathspec with `mflow "
                    "inspect %s/%lld`; a run made elsewhere appears after `mflow reindex`)",
                    flow, (long long)run_id, step, (long long)task_id, flow, (long long)run_id);
    return fail(c, MF_ENOTFOUND,
                "no task %s/%lld/%s in the index (check the pathspec with `mflow inspect "
                "%s/%lld`; a run made elsewhere appears after `mflow reindex`)",
                flow, (long long)run_id, step, flow, (long long)run_id);
}

int mf_client_task_get(mf_client *c, const char *flow, int64_t run_id, const char *step,
                       int64_t task_id, mf_client_task **out)
{
    int rc = ready(c);
    if (rc)
        return rc;
    if (!out || !flow || !*flow || !step || !*step || strlen(flow) >= MF_NAME_MAX ||
        strlen(step) >= MF_NAME_MAX)
        return fail(c, MF_EINVAL, "mf_client_task_get: a flow and a step name are needed");
    *out = NULL;
    struct mf_run_rec *run = malloc(sizeof *run);
    struct mf_task_rec *rec = malloc(sizeof *rec);
    struct mf_client_task *t = calloc(1, sizeof *t);
    if (!run || !rec || !t) {
        rc = oom(c);
        goto out;
    }
    rc = get_run_rec(c, flow, run_id, run);
    if (rc)
        goto out;
    rc = mf_index_get_task(c->ix, flow, run_id, step, task_id, rec);
    if (rc == MF_ENOTFOUND) {
        rc = not_in_index(c, flow, run_id, step, task_id);
        goto out;
    }
    if (rc) {
        fail(c, rc, "%s", mf_index_error(c->ix));
        goto out;
    }
    task_from_index(t, c, rec);
    if (set_origin(t, rec->origin)) {
        rc = oom(c);
        goto out;
    }
    rc = load_attempt(t, t->attempt);
    if (rc == MF_ENOTFOUND &&
        (rec->status == MF_STATUS_RUNNING || rec->status == MF_STATUS_PENDING)) {
        /* started, not ended: no record yet, what the index knows (not loaded) */
        rc = 0;
        t->status = shown_status(t->status, run->status);
    }
    if (!rc) {
        *out = t;
        t = NULL;
    }
out:
    if (t) {
        task_clear(t);
        free(t);
    }
    free(run);
    free(rec);
    return rc;
}

int mf_client_task_open(mf_client *c, const char *pathspec, mf_client_task **out)
{
    int rc = ready(c);
    if (rc)
        return rc;
    struct pathspec p;
    if (!pathspec || parse_pathspec(pathspec, &p) || p.parts < 3)
        return fail(c, MF_EINVAL,
                    "'%s' is not a pathspec: use Flow/run/step/task, or Flow/run/step for a "
                    "step with one task",
                    pathspec ? pathspec : "");
    if (p.parts == 4)
        return mf_client_task_get(c, p.flow, p.run, p.step, p.task, out);
    if (!out)
        return fail(c, MF_EINVAL, "mf_client_task_open: no place for the task");
    *out = NULL;
    struct mf_run_rec *run = malloc(sizeof *run);
    if (!run)
        return oom(c);
    rc = get_run_rec(c, p.flow, p.run, run);
    int32_t run_status = run->status;
    free(run);
    if (rc)
        return rc;
    struct mf_client_tasks *l;
    rc = list_tasks(c, p.flow, p.run, run_status, p.step, &l);
    if (rc)
        return rc;
    if (l->n == 0) {
        rc = not_in_index(c, p.flow, p.run, p.step, -1);
    } else if (l->n > 1) {
        struct mf_sbuf ids = {0};
        for (size_t i = 0; i < l->n && i < 10; i++)
            mf_sbuf_addf(&ids, "%s%lld", i ? ", " : "", (long long)l->items[i].task_id);
        rc = fail(c, MF_EINVAL, "%s has %zu tasks (%s%s): name one, e.g. %s/%lld", pathspec,
                  l->n, ids.data ? ids.data : "", l->n > 10 ? ", ..." : "", pathspec,
                  (long long)l->items[0].task_id);
        mf_sbuf_free(&ids);
    } else {
        rc = mf_client_task_get(c, p.flow, p.run, p.step, l->items[0].task_id, out);
    }
    mf_client_tasks_free(l);
    return rc;
}

int mf_client_task_get_attempt(mf_client_task *t, uint32_t attempt, mf_client_task **out)
{
    if (!t || !out)
        return t ? fail(t->c, MF_EINVAL, "mf_client_task_get_attempt: no place for the task")
                 : MF_EINVAL;
    *out = NULL;
    mf_client *c = t->c;
    if (attempt > t->attempt)
        return fail(c, MF_ENOTFOUND, "task %s has attempts 0 to %u: there is no attempt %u",
                    t->path, t->attempt, attempt);
    struct mf_client_task *a = malloc(sizeof *a);
    if (!a)
        return oom(c);
    memcpy(a, t, sizeof *a);
    a->borrowed = 0;
    a->loaded = 0;
    a->origin = NULL;
    a->arts = NULL;
    mf_task_record_init(&a->rec);
    int rc = set_origin(a, t->origin) ? oom(c) : load_attempt(a, attempt);
    if (rc) {
        task_clear(a);
        free(a);
        return rc;
    }
    task_from_record(a);
    *out = a;
    return 0;
}

void mf_client_task_free(mf_client_task *t)
{
    if (!t || t->borrowed)
        return;
    task_clear(t);
    free(t);
}

const char *mf_client_task_flow(const mf_client_task *t)
{
    return t ? t->flow : NULL;
}

int64_t mf_client_task_run_id(const mf_client_task *t)
{
    return t ? t->run_id : 0;
}

const char *mf_client_task_step(const mf_client_task *t)
{
    return t ? t->step : NULL;
}

int64_t mf_client_task_id(const mf_client_task *t)
{
    return t ? t->task_id : -1;
}

const char *mf_client_task_pathspec(const mf_client_task *t)
{
    return t ? t->path : NULL;
}

uint32_t mf_client_task_attempt(const mf_client_task *t)
{
    return t ? t->attempt : 0;
}

int mf_client_task_status(const mf_client_task *t)
{
    return t ? t->status : 0;
}

double mf_client_task_start_time(const mf_client_task *t)
{
    return t ? t->start_time : 0;
}

double mf_client_task_end_time(const mf_client_task *t)
{
    return t ? t->end_time : 0;
}

int mf_client_task_exit_code(const mf_client_task *t)
{
    return t ? t->exit_code : -1;
}

int mf_client_task_signal(const mf_client_task *t)
{
    return t ? t->term_signal : 0;
}

uint32_t mf_client_task_foreach_index(const mf_client_task *t)
{
    return t ? t->fe_index : 0;
}

uint32_t mf_client_task_foreach_count(const mf_client_task *t)
{
    return t ? t->fe_count : 0;
}

const char *mf_client_task_origin(const mf_client_task *t)
{
    return t ? t->origin : NULL;
}

const char *mf_client_task_message(const mf_client_task *t)
{
    return t && t->loaded ? t->rec.message : NULL;
}

const char *mf_client_task_host(const mf_client_task *t)
{
    return t && t->loaded ? t->rec.host : NULL;
}

size_t mf_client_task_input_count(const mf_client_task *t)
{
    return t && t->loaded ? t->rec.n_inputs : 0;
}

const char *mf_client_task_input(const mf_client_task *t, size_t i)
{
    return t && t->loaded && i < t->rec.n_inputs ? t->rec.inputs[i] : NULL;
}

size_t mf_client_task_frame_count(const mf_client_task *t)
{
    return t && t->loaded ? t->rec.depth : 0;
}

int mf_client_task_frame(const mf_client_task *t, size_t i, const char **split_step,
                         int64_t *split_task, int *is_foreach, uint32_t *index, uint32_t *count)
{
    if (!t || !t->loaded || i >= t->rec.depth)
        return MF_EINVAL;
    const struct mf_frame *f = &t->rec.stack[i];
    if (split_step)
        *split_step = f->step;
    if (split_task)
        *split_task = f->task;
    if (is_foreach)
        *is_foreach = f->kind == MF_FRAME_FOREACH;
    if (index)
        *index = f->index;
    if (count)
        *count = f->count;
    return 0;
}

int64_t mf_client_task_foreach_items(const mf_client_task *t)
{
    return t && t->loaded ? t->rec.foreach_count : -1;
}

size_t mf_client_task_artifact_count(const mf_client_task *t)
{
    return t && t->loaded ? t->rec.n_arts : 0;
}

const mf_client_artifact *mf_client_task_artifact_at(const mf_client_task *t, size_t i)
{
    return t && t->loaded && i < t->rec.n_arts ? &t->arts[i] : NULL;
}

const mf_client_artifact *mf_client_task_artifact_find(const mf_client_task *t, const char *name)
{
    for (size_t i = 0; name && i < mf_client_task_artifact_count(t); i++)
        if (!strcmp(t->arts[i].name, name))
            return &t->arts[i];
    return NULL;
}

/* The start of a listing of t's parents or children (fn names the call): the arguments
 * checked, *out NULL and t's record loaded. 0 or the failure. */
static int related_begin(mf_client_task *t, mf_client_tasks **out, const char *fn)
{
    if (!t || !out)
        return t ? fail(t->c, MF_EINVAL, "%s: no place for the list", fn) : MF_EINVAL;
    *out = NULL;
    return mf_client_task_load(t);
}

/* "step/task" → step and id; 0 or -1. */
static int split_input(const char *in, char step[MF_NAME_MAX], int64_t *id)
{
    const char *slash = strrchr(in, '/');
    if (!slash || slash == in || (size_t)(slash - in) >= MF_NAME_MAX)
        return -1;
    memcpy(step, in, (size_t)(slash - in));
    step[slash - in] = 0;
    const char *num = slash + 1;
    size_t n = strcspn(num, "@");
    return parse_id(num, n, 0, id);
}

int mf_client_task_parents(mf_client_task *t, mf_client_tasks **out)
{
    int rc = related_begin(t, out, "mf_client_task_parents");
    if (rc)
        return rc;
    mf_client *c = t->c;
    struct mf_client_tasks *l = calloc(1, sizeof *l);
    struct mf_task_rec *rec = malloc(sizeof *rec);
    if (!l || !rec) {
        free(l);
        free(rec);
        return oom(c);
    }
    for (size_t i = 0; !rc && i < t->rec.n_inputs; i++) {
        char step[MF_NAME_MAX];
        int64_t id;
        if (split_input(t->rec.inputs[i], step, &id)) {
            rc = fail(c, MF_ECORRUPT, "task %s names an input '%s' that is not step/task",
                      t->path, t->rec.inputs[i]);
            break;
        }
        rc = mf_index_get_task(c->ix, t->flow, t->run_id, step, id, rec);
        if (rc == MF_ENOTFOUND) {
            rc = fail(c, rc,
                      "input %s of task %s is not in the index: run `mflow reindex` to "
                      "rebuild it",
                      t->rec.inputs[i], t->path);
            break;
        }
        if (rc) {
            fail(c, rc, "%s", mf_index_error(c->ix));
            break;
        }
        if (push_index_task(l, c, rec))
            rc = oom(c);
    }
    free(rec);
    if (rc) {
        mf_client_tasks_free(l);
        return rc;
    }
    *out = l;
    return 0;
}

/* The graph the run stored, parsed into *g (NULL when it does not parse: callers find no steps
 * in it). 0, MF_ENOMEM, or MF_ENOTFOUND when the store has none. */
static int read_graph(mf_client *c, const char *flow, int64_t run_id, json_t **g)
{
    *g = NULL;
    char *key = mf_key_graph(flow, run_id);
    if (!key)
        return MF_ENOMEM;
    struct mf_buf b = {.struct_size = sizeof b};
    int rc = c->st.ops->get(c->st.state, key, &b);
    free(key);
    if (rc)
        return MF_ENOTFOUND;
    *g = json_loadb(b.data, b.len, 0, NULL);
    if (b.release)
        b.release(&b);
    return 0;
}

/* Successor step names of `step` from the graph the run stored, as a NUL-separated list in
 * *names; 0, MF_ENOTFOUND when the run stored no graph or it does not name the step. */
static int graph_next(mf_client *c, const char *flow, int64_t run_id, const char *step,
                      struct mf_sbuf *names)
{
    json_t *g;
    int rc = read_graph(c, flow, run_id, &g);
    if (rc)
        return rc;
    rc = MF_ENOTFOUND;
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(g, "steps"), i, s) {
        const char *name = json_string_value(json_object_get(s, "name"));
        if (!name || strcmp(name, step) != 0)
            continue;
        size_t j;
        json_t *nx;
        json_array_foreach(json_object_get(s, "next"), j, nx) {
            const char *n = json_string_value(nx);
            if (n)
                mf_sbuf_add(names, n, strlen(n) + 1);
        }
        rc = names->oom ? MF_ENOMEM : 0;
        break;
    }
    json_decref(g);
    return rc;
}

static int names_input(const struct mf_task_record *r, const char *me, size_t mlen)
{
    for (size_t i = 0; i < r->n_inputs; i++) {
        const char *in = r->inputs[i];
        if (!strncmp(in, me, mlen) && (in[mlen] == 0 || in[mlen] == '@'))
            return 1;
    }
    return 0;
}

static int names_step(const struct mf_task_record *r, const char *step)
{
    size_t sl = strlen(step);
    for (size_t i = 0; i < r->n_inputs; i++)
        if (!strncmp(r->inputs[i], step, sl) && r->inputs[i][sl] == '/')
            return 1;
    return 0;
}

int mf_client_task_children(mf_client_task *t, mf_client_tasks **out)
{
    int rc = related_begin(t, out, "mf_client_task_children");
    if (rc)
        return rc;
    mf_client *c = t->c;
    struct mf_sbuf next = {0};
    int from_graph = graph_next(c, t->flow, t->run_id, t->step, &next) == 0;
    if (next.oom) {
        mf_sbuf_free(&next);
        return oom(c);
    }
    struct mf_client_tasks *all;
    rc = list_tasks(c, t->flow, t->run_id, 0, NULL, &all);
    if (rc) {
        mf_sbuf_free(&next);
        return rc;
    }
    struct mf_client_tasks *l = calloc(1, sizeof *l);
    if (!l) {
        mf_sbuf_free(&next);
        mf_client_tasks_free(all);
        return oom(c);
    }
    char me[PATH_CAP];
    int mlen = snprintf(me, sizeof me, "%s/%lld", t->step, (long long)t->task_id);
    /* per step: -1 unknown, 0 not a successor, 1 a successor (its first task tells) */
    struct stepmark {
        const char *name;
        int mark;
    } *marks = NULL;
    size_t n_marks = 0;
    for (size_t i = 0; !rc && i < all->n; i++) {
        struct mf_client_task *x = &all->items[i];
        if (!strcmp(x->step, t->step))
            continue;
        if (from_graph) {
            int ok = 0;
            for (const char *p = next.data; p && p < next.data + next.len; p += strlen(p) + 1)
                ok |= !strcmp(p, x->step);
            if (!ok)
                continue;
        }
        struct stepmark *m = NULL;
        for (size_t k = 0; k < n_marks; k++)
            if (!strcmp(marks[k].name, x->step))
                m = &marks[k];
        if (!m) {
            struct stepmark *g = realloc(marks, (n_marks + 1) * sizeof *g);
            if (!g) {
                rc = oom(c);
                break;
            }
            marks = g;
            m = &marks[n_marks++];
            m->name = x->step;
            m->mark = from_graph ? 1 : -1;
        }
        if (m->mark == 0)
            continue;
        rc = load_attempt(x, x->attempt);
        if (rc == MF_ENOTFOUND || rc == MF_ECORRUPT) {
            rc = 0; /* a task that left no readable record names nobody */
            continue;
        }
        if (rc)
            break;
        if (m->mark < 0)
            m->mark = names_step(&x->rec, t->step);
        if (m->mark > 0 && names_input(&x->rec, me, (size_t)mlen)) {
            struct mf_client_task *ch;
            if (tasks_push(l, &ch)) {
                rc = oom(c);
                break;
            }
            *ch = *x; /* moves the record and artifacts into the result */
            x->origin = NULL;
            x->arts = NULL;
            x->loaded = 0;
            mf_task_record_init(&x->rec);
        } else {
            task_clear(x);
        }
    }
    free(marks);
    mf_sbuf_free(&next);
    mf_client_tasks_free(all);
    /* artifact tables point at their task's pathspec, which moved with the task */
    for (size_t i = 0; i < l->n; i++)
        for (size_t k = 0; k < l->items[i].rec.n_arts; k++)
            l->items[i].arts[k].owner = l->items[i].path;
    if (rc) {
        mf_client_tasks_free(l);
        return rc;
    }
    *out = l;
    return 0;
}

/* What both log readers check first: the stream, the attempt, and the run's datastore open. */
static int log_checks(mf_client_task *t, uint32_t attempt, int stream)
{
    mf_client *c = t->c;
    if (stream != MF_CLIENT_STDOUT && stream != MF_CLIENT_STDERR)
        return fail(c, MF_EINVAL, "log stream %d is not MF_CLIENT_STDOUT or MF_CLIENT_STDERR",
                    stream);
    if (attempt > t->attempt)
        return fail(c, MF_ENOTFOUND, "task %s has attempts 0 to %u: there is no attempt %u",
                    t->path, t->attempt, attempt);
    return store_of_run(c, t->flow, t->run_id);
}

int mf_client_task_log(mf_client_task *t, uint32_t attempt, int stream, char **data, size_t *len)
{
    if (!t || !data)
        return t ? fail(t->c, MF_EINVAL, "mf_client_task_log: no place for the log") : MF_EINVAL;
    *data = NULL;
    mf_client *c = t->c;
    int rc = log_checks(t, attempt, stream);
    if (rc)
        return rc;
    const char *ext = stream == MF_CLIENT_STDOUT ? "stdout" : "stderr";
    char *key = mf_key_log(t->flow, t->run_id, t->step, t->task_id, attempt,
                           stream == MF_CLIENT_STDERR);
    if (!key)
        return oom(c);
    struct mf_buf b = {.struct_size = sizeof b};
    rc = c->st.ops->get(c->st.state, key, &b);
    char *s = NULL;
    size_t n = 0;
    if (rc == MF_ENOTFOUND) {
        rc = 0; /* nothing written: no log object */
        s = strdup("");
    } else if (rc) {
        fail(c, rc, "cannot read the %s of %s (attempt %u): %s", ext, t->path, attempt,
             c->st.ops->last_error(c->st.state));
    } else {
        n = b.len;
        s = malloc(n + 1);
        if (s) {
            if (n)
                memcpy(s, b.data, n);
            s[n] = 0;
        }
        if (b.release)
            b.release(&b);
    }
    free(key);
    if (rc)
        return rc;
    if (!s)
        return oom(c);
    *data = s;
    if (len)
        *len = n;
    return 0;
}

int mf_client_task_log_page(mf_client_task *t, uint32_t attempt, int stream, uint64_t offset,
                            size_t limit, char **data, size_t *len, uint64_t *total)
{
    if (!t || !data || !len || !total)
        return t ? fail(t->c, MF_EINVAL, "mf_client_task_log_page: no place for the page")
                 : MF_EINVAL;
    *data = NULL;
    mf_client *c = t->c;
    int rc = log_checks(t, attempt, stream);
    if (rc)
        return rc;
    const struct mf_storage_ops *ops = c->st.ops;
    if (!MF_HAS_FIELD(ops, get_range) || !ops->get_range) {
        /* a plugin before 1.4: the whole log, then the page */
        char *all;
        size_t n;
        rc = mf_client_task_log(t, attempt, stream, &all, &n);
        if (rc)
            return rc;
        size_t off = offset < n ? (size_t)offset : n;
        size_t k = n - off < limit ? n - off : limit;
        memmove(all, all + off, k);
        all[k] = 0;
        *data = all;
        *len = k;
        *total = n;
        return 0;
    }
    char *key = mf_key_log(t->flow, t->run_id, t->step, t->task_id, attempt,
                           stream == MF_CLIENT_STDERR);
    if (!key)
        return oom(c);
    struct mf_buf b = {.struct_size = sizeof b};
    uint64_t size = 0;
    rc = ops->get_range(c->st.state, key, offset, limit, &b, &size);
    free(key);
    if (rc == MF_ENOTFOUND) {
        rc = 0;   /* nothing written: no log object */
        b.len = 0;
        size = 0;
    } else if (rc) {
        return fail(c, rc, "cannot read the %s of %s (attempt %u): %s",
                    stream == MF_CLIENT_STDOUT ? "stdout" : "stderr", t->path, attempt,
                    ops->last_error(c->st.state));
    }
    char *s = malloc(b.len + 1);
    if (s) {
        if (b.len)
            memcpy(s, b.data, b.len);
        s[b.len] = 0;
        *len = b.len;
        *total = size;
    }
    if (b.release)
        b.release(&b);
    if (!s)
        return oom(c);
    *data = s;
    return 0;
}

/* ---- steps ---------------------------------------------------------------------------------- */

static struct mf_client_step *steps_add(struct mf_client_steps *l, const char *name)
{
    if (mf_grow(&l->items, &l->cap, l->n, sizeof *l->items, 16))
        return NULL;
    struct mf_client_step *s = &l->items[l->n++];
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", name);
    s->first = -1;
    return s;
}

static int collect_step(void *ud, const struct mf_task_rec *r)
{
    struct mf_client_steps *l = ud;
    struct mf_client_step *s = l->n ? &l->items[l->n - 1] : NULL;
    if (!s || strcmp(s->name, r->step) != 0) {
        s = steps_add(l, r->step);
        if (!s)
            return MF_ENOMEM;
    }
    s->n++;
    int32_t st = shown_status(r->status, l->run_status);
    if (st >= 0 && st <= MF_STATUS_CANCELLED)
        s->by_status[st]++;
    if (s->first < 0 || r->task_id < s->first)
        s->first = r->task_id;
    if (r->start_time > 0 && (s->start == 0 || r->start_time < s->start))
        s->start = r->start_time;
    if (r->end_time > s->end)
        s->end = r->end_time;
    return 0;
}

static int by_first_task(const void *x, const void *y)
{
    const struct mf_client_step *a = x, *b = y;
    if (a->first < 0 || b->first < 0)
        return (a->first < 0) - (b->first < 0);
    return a->first < b->first ? -1 : a->first > b->first;
}

int mf_client_run_graph(mf_client_run *r, char **json, size_t *len)
{
    if (!r || !json)
        return r ? fail(r->c, MF_EINVAL, "mf_client_run_graph: no place for the graph")
                 : MF_EINVAL;
    *json = NULL;
    if (len)
        *len = 0;
    mf_client *c = r->c;
    int rc = store_of_run(c, r->flow, r->run_id);
    if (rc)
        return rc;
    char *key = mf_key_graph(r->flow, r->run_id);
    if (!key)
        return oom(c);
    struct mf_buf b = {.struct_size = sizeof b};
    rc = c->st.ops->get(c->st.state, key, &b);
    free(key);
    if (rc == MF_ENOTFOUND)
        return fail(c, rc, "run %s stored no graph (it was made by an mflow older than graphs)",
                    r->path);
    if (rc)
        return fail(c, rc, "run %s: cannot read its graph: %s", r->path, mf_client_strerror(rc));
    char *s = malloc(b.len + 1);
    if (s) {
        memcpy(s, b.data, b.len);
        s[b.len] = '\0';
    }
    size_t n = b.len;
    if (b.release)
        b.release(&b);
    if (!s)
        return oom(c);
    *json = s;
    if (len)
        *len = n;
    return 0;
}

/* Order l by the step table of the graph the run stored; steps it names that never ran are
 * added with no tasks. 0, or MF_ENOTFOUND when the run stored no graph. */
static int graph_order(mf_client *c, const char *flow, int64_t run_id, struct mf_client_steps *l)
{
    if (store_of_run(c, flow, run_id))
        return MF_ENOTFOUND;
    json_t *g;
    int rc = read_graph(c, flow, run_id, &g);
    if (rc)
        return rc;
    json_t *steps = json_object_get(g, "steps");
    if (!json_is_array(steps)) {
        json_decref(g);
        return MF_ENOTFOUND;
    }
    struct mf_client_steps o = {0};
    rc = 0;
    size_t i;
    json_t *s;
    json_array_foreach(steps, i, s) {
        const char *name = json_string_value(json_object_get(s, "name"));
        /* "" is no step's name, and would match the entries already taken below */
        if (!name || !*name)
            continue;
        struct mf_client_step *d = steps_add(&o, name);
        if (!d) {
            rc = MF_ENOMEM;
            break;
        }
        for (size_t k = 0; k < l->n; k++)
            if (!strcmp(l->items[k].name, name)) {
                *d = l->items[k];
                l->items[k].name[0] = 0; /* taken */
            }
    }
    json_decref(g);
    /* steps with tasks that the graph does not name (should not happen): keep them, last */
    for (size_t k = 0; !rc && k < l->n; k++) {
        if (!l->items[k].name[0])
            continue;
        struct mf_client_step *d = steps_add(&o, l->items[k].name);
        if (!d)
            rc = MF_ENOMEM;
        else
            *d = l->items[k];
    }
    if (rc) {
        free(o.items);
        return rc;
    }
    free(l->items);
    *l = o;
    return 0;
}

int mf_client_list_steps(mf_client_run *r, mf_client_steps **out)
{
    if (!r || !out)
        return r ? fail(r->c, MF_EINVAL, "mf_client_steps: no place for the list") : MF_EINVAL;
    *out = NULL;
    mf_client *c = r->c;
    int rc = ready(c);
    if (rc)
        return rc;
    struct mf_client_steps *l = calloc(1, sizeof *l);
    if (!l)
        return oom(c);
    l->run_status = r->status;
    rc = mf_index_list_tasks(c->ix, r->flow, r->run_id, NULL, collect_step, l);
    if (rc) {
        listing_failed(c, rc, rc == MF_ENOMEM);
        mf_client_steps_free(l);
        return rc;
    }
    rc = graph_order(c, r->flow, r->run_id, l);
    if (rc == MF_ENOMEM) {
        mf_client_steps_free(l);
        return oom(c);
    }
    if (rc)
        qsort(l->items, l->n, sizeof *l->items, by_first_task);
    *out = l;
    return 0;
}

size_t mf_client_steps_count(const mf_client_steps *l)
{
    return l ? l->n : 0;
}

const mf_client_step *mf_client_steps_at(const mf_client_steps *l, size_t i)
{
    return l && i < l->n ? &l->items[i] : NULL;
}

void mf_client_steps_free(mf_client_steps *l)
{
    if (!l)
        return;
    free(l->items);
    free(l);
}

const char *mf_client_step_name(const mf_client_step *s)
{
    return s ? s->name : NULL;
}

size_t mf_client_step_task_count(const mf_client_step *s)
{
    return s ? s->n : 0;
}

size_t mf_client_step_status_count(const mf_client_step *s, int status)
{
    return s && status >= 0 && status <= MF_STATUS_CANCELLED ? s->by_status[status] : 0;
}

int mf_client_step_status(const mf_client_step *s)
{
    if (!s || s->n == 0)
        return MF_STATUS_PENDING;
    if (s->by_status[MF_STATUS_FAILED])
        return MF_STATUS_FAILED;
    if (s->by_status[MF_STATUS_RUNNING])
        return MF_STATUS_RUNNING;
    if (s->by_status[MF_STATUS_CANCELLED])
        return MF_STATUS_CANCELLED;
    if (s->by_status[MF_STATUS_SUCCEEDED] == s->n)
        return MF_STATUS_SUCCEEDED;
    return MF_STATUS_PENDING;
}

int64_t mf_client_step_first_task_id(const mf_client_step *s)
{
    return s ? s->first : -1;
}

double mf_client_step_start_time(const mf_client_step *s)
{
    return s ? s->start : 0;
}

double mf_client_step_end_time(const mf_client_step *s)
{
    return s ? s->end : 0;
}
