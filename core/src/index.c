/* The lmdb metadata index (index.h).
 *
 * One lmdb environment in the index directory with five named databases:
 *   meta      "format" -> decimal text of MF_INDEX_FORMAT; "txn" -> the id of the last
 *             write transaction (8 bytes little-endian), written by every commit (stamp)
 *   counters  flow -> next run id (8 bytes big-endian)
 *   runs      flow '\0' run_id(BE8) -> run record
 *   tasks     flow '\0' run_id(BE8) step '\0' task_id(BE8) -> task record
 *   deployments  name '\0' version(BE8) -> the version's record, JSON text (deploy.h);
 *             created on first open by an mflow that knows it
 * Big-endian ids make lmdb's bytewise key order numeric, so a flow's runs are one contiguous,
 * ordered range and a run's tasks are ordered by step name, then task id.
 *
 * Record values (format 3; 3 added the run's storage plugin and root) are fixed little-endian fields followed by strings stored as a
 * u16 length and the bytes, then a 64-bit checksum (seal below); the flow, run id, step and
 * task id live in the key only. Decoding checks the checksum and every field strictly and
 * writes into a caller's stack struct: a listing does no allocation per record. A record that
 * fails is MF_ECORRUPT, "the index is damaged: run `mflow reindex`", never a wrong answer.
 *
 * Transactions: one read transaction per handle is reset when idle and renewed for the next
 * read (MDB_NOTLS lets it outlive the thread that began it); a begin/commit pair holds one
 * write transaction that every write and read of the handle uses until commit. */
#include "index.h"
#include "util.h"

#include <mflow/plugin.h>

#include <errno.h>
#include <limits.h>
#include <lmdb.h>
#include <math.h>
#include <pwd.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

/* The map is only address space: the file grows with the data (no MDB_WRITEMAP), so a large
 * map costs nothing until used. Where address space is limited (ulimit -v, valgrind), smaller
 * maps are tried. */
static const size_t map_sizes[] = {(size_t)64 << 30, (size_t)8 << 30, (size_t)1 << 30};

#define RUN_KEY_MAX (MF_NAME_MAX + 9)
#define TASK_KEY_MAX (2 * MF_NAME_MAX + 18)
#define RUN_VAL_MAX 6144
#define TASK_VAL_MAX 8192

struct mf_index {
    MDB_env *env;
    MDB_dbi meta, counters, runs, tasks, deployments;
    int opened;          /* 0: a handle that only carries the failure of mf_index_open */
    size_t map_size;
    MDB_txn *rtxn;       /* reusable read transaction; reset when rdepth is 0 */
    int rdepth;          /* nested reads on rtxn (a listing callback may read) */
    MDB_txn *wtxn;       /* the batch's write transaction */
    int in_batch;        /* between mf_index_begin and commit/abort */
    int batch_rc;        /* an lmdb failure inside the batch, which was rolled back */
    int wlisting;        /* listings running on wtxn: commit must wait for them */
    int mdb_failed;      /* the last failure came from lmdb (poisons a batch) */
    char dir[PATH_MAX];
    char err[PATH_MAX + 768];
    const char *map_addr;    /* lmdb's read-only mapping of data.mdb, for mf_index_fault_dir */
    size_t map_len;
};

/* Open indexes, found by mf_index_fault_dir from a signal handler: so no locks, only atomic
 * slots. More open at once than this are not found (a fault there is then a plain crash). */
#define FAULT_SLOTS 16
static _Atomic(mf_index *) fault_slots[FAULT_SLOTS];

/* The index this thread is inside a call of (lmdb at work on its map), for mf_index_fault_dir:
 * listings step out of it while their callback runs, so a fault of the caller's own is not
 * taken for the index's. */
static __thread mf_index *busy_ix;
static __thread int busy_depth;

static void enter(mf_index *ix)
{
    if (busy_depth++ == 0)
        busy_ix = ix;
}

static void leave(void)
{
    if (busy_depth > 0 && --busy_depth == 0)
        busy_ix = NULL;
}

static void fault_register(mf_index *ix)
{
    MDB_envinfo info;
    if (mdb_env_info(ix->env, &info) != 0 || !info.me_mapaddr)
        return;
    ix->map_addr = info.me_mapaddr;
    ix->map_len = info.me_mapsize;
    for (size_t i = 0; i < FAULT_SLOTS; i++) {
        mf_index *none = NULL;
        if (atomic_compare_exchange_strong(&fault_slots[i], &none, ix))
            return;
    }
}

static void fault_unregister(mf_index *ix)
{
    for (size_t i = 0; i < FAULT_SLOTS; i++) {
        mf_index *me = ix;
        if (atomic_compare_exchange_strong(&fault_slots[i], &me, NULL))
            return;
    }
}

const char *mf_index_fault_dir(const void *addr)
{
    if (busy_depth > 0 && busy_ix)
        return busy_ix->dir;
    const char *a = addr;
    for (size_t i = 0; i < FAULT_SLOTS; i++) {
        mf_index *ix = atomic_load(&fault_slots[i]);
        if (ix && ix->map_addr && a >= ix->map_addr && (size_t)(a - ix->map_addr) < ix->map_len)
            return ix->dir;
    }
    return NULL;
}

/* ---- errors --------------------------------------------------------------------------------- */

__attribute__((format(printf, 3, 4))) static int fail(mf_index *ix, int rc, const char *fmt, ...)
{
    int n = snprintf(ix->err, sizeof ix->err, "index %s: ", ix->dir);
    if (n < 0 || (size_t)n >= sizeof ix->err)
        n = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ix->err + n, sizeof ix->err - (size_t)n, fmt, ap);
    va_end(ap);
    ix->mdb_failed = 0;
    return rc;
}

static const char *owner_name(uid_t uid, char *buf, size_t len)
{
    struct passwd pw, *res = NULL;
    char tmp[1024];
    if (getpwuid_r(uid, &pw, tmp, sizeof tmp, &res) == 0 && res)
        snprintf(buf, len, "'%s' (uid %u)", res->pw_name, (unsigned)uid);
    else
        snprintf(buf, len, "uid %u", (unsigned)uid);
    return buf;
}

/* path (with stat st) denies us access: say whose it is, or, ours, which chmod `mode` (and
 * `more` advice) fixes it. */
static int fail_denied(mf_index *ix, int rc, const char *what, const char *path,
                       const struct stat *st, const char *mode, const char *more)
{
    char who[160];
    if (st->st_uid != geteuid())
        return fail(ix, rc,
                    "%s: permission denied: %s belongs to user %s; use an MFLOW_HOME of "
                    "your own, or have that user give you write access",
                    what, path, owner_name(st->st_uid, who, sizeof who));
    return fail(ix, rc, "%s: permission denied: %s is not writable (mode %04o): chmod %s %s%s",
                what, path, (unsigned)(st->st_mode & 07777), mode, path, more);
}

/* A permission failure on the directory or its files: say which one, and whose it is. */
static int fail_access(mf_index *ix, int rc, const char *what)
{
    static const char *const files[] = {"lock.mdb", "data.mdb", NULL};
    char path[PATH_MAX + 16];
    struct stat st;
    for (size_t k = 0; files[k]; k++) {
        snprintf(path, sizeof path, "%s/%s", ix->dir, files[k]);
        if (stat(path, &st) || access(path, R_OK | W_OK) == 0)
            continue;
        return fail_denied(ix, rc, what, path, &st, "u+rw", "");
    }
    /* the directory, or its nearest existing parent when it could not be created */
    snprintf(path, sizeof path, "%s", ix->dir);
    for (;;) {
        if (stat(path, &st) == 0) {
            if (access(path, W_OK | X_OK) == 0)
                break;
            return fail_denied(ix, rc, what, path, &st, "u+rwx", ", or use another MFLOW_HOME");
        }
        char *slash = strrchr(path, '/');
        if (!slash || slash == path)
            break;
        *slash = 0;
    }
    return fail(ix, rc,
                "%s: permission denied: check the mode of the directory and its files "
                "(ls -la %s); you need read and write access",
                what, ix->dir);
}

/* Translate an lmdb or errno failure into a code and a message that says what to do. */
static int fail_mdb(mf_index *ix, int mrc, const char *what)
{
    int rc;
    /* lmdb reports a short write as EIO ("which error code?" in its source); on a full file
     * system that is just what it is: name the full disk, not a damaged index. */
    if (mrc == EIO && mf_fs_nearly_full(ix->dir))
        mrc = ENOSPC;
    switch (mrc) {
    case MDB_NOTFOUND:
        rc = fail(ix, MF_ENOTFOUND, "%s: not found", what);
        break;
    case MDB_MAP_FULL:
        rc = fail(ix, ENOSPC,
                  "%s: the index is full (its map holds %zu %s): delete the directory and "
                  "run `mflow reindex` to rebuild it compactly from the datastore",
                  what, ix->map_size >= (1u << 30) ? ix->map_size >> 30 : ix->map_size >> 10,
                  ix->map_size >= (1u << 30) ? "GiB" : "KiB");
        break;
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
    case MDB_VERSION_MISMATCH:
    case MDB_INCOMPATIBLE:
    case MDB_BAD_DBI:
    case MDB_CURSOR_FULL:   /* a loop of pages */
        rc = fail(ix, MF_ECORRUPT,
                  "%s: the index is damaged or not an mflow index (lmdb: %s): run "
                  "`mflow reindex` to rebuild it from the datastore",
                  what, mdb_strerror(mrc));
        break;
    case MDB_READERS_FULL:
        rc = fail(ix, MF_EUNAVAIL,
                  "%s: too many processes are reading the index at once: retry when some "
                  "have finished",
                  what);
        break;
    case MDB_MAP_RESIZED:
        rc = fail(ix, MF_EFAIL, "%s: another process grew the index: retry", what);
        break;
    case MDB_TXN_FULL:
        rc = fail(ix, MF_EFAIL,
                  "%s: too many changes in one transaction: commit more often", what);
        break;
    case EACCES:
    case EPERM:
        rc = fail_access(ix, EACCES, what);
        break;
    case EROFS:
        rc = fail(ix, EROFS,
                  "%s: the directory is on a read-only file system: set MFLOW_HOME to a "
                  "writable place",
                  what);
        break;
    case ENOSPC:
        rc = fail(ix, ENOSPC, "%s: no space left on the device: free some space and retry",
                  what);
        break;
    case ENOMEM:
        rc = fail(ix, MF_ENOMEM,
                  "%s: out of memory or address space (the index maps %zu MiB): check "
                  "`ulimit -v` and free memory",
                  what, ix->map_size >> 20);
        break;
    default:
        if (mrc > 0)
            rc = fail(ix, mrc, "%s: %s", what, strerror(mrc));
        else
            rc = fail(ix, MF_EFAIL, "%s: lmdb: %s", what, mdb_strerror(mrc));
        break;
    }
    ix->mdb_failed = mrc != MDB_NOTFOUND;
    return rc;
}

const char *mf_index_error(const mf_index *ix)
{
    if (!ix)
        return "index: out of memory while opening the index";
    return ix->err[0] ? ix->err : "index: the failure left no message (please report the "
                                  "command that printed this)";
}

/* ---- encoding ------------------------------------------------------------------------------- */

static void be64_put(uint8_t *p, uint64_t v)
{
    for (int k = 7; k >= 0; k--) {
        p[k] = (uint8_t)v;
        v >>= 8;
    }
}

static uint64_t be64_get(const uint8_t *p)
{
    uint64_t v = 0;
    for (int k = 0; k < 8; k++)
        v = v << 8 | p[k];
    return v;
}

struct wbuf {
    uint8_t *p;
    size_t len, cap;
};

static void w_u32(struct wbuf *w, uint32_t v)
{
    for (int k = 0; k < 4; k++)
        w->p[w->len++] = (uint8_t)(v >> (8 * k));
}

static void w_u64(struct wbuf *w, uint64_t v)
{
    for (int k = 0; k < 8; k++)
        w->p[w->len++] = (uint8_t)(v >> (8 * k));
}

static void w_f64(struct wbuf *w, double d)
{
    uint64_t v;
    memcpy(&v, &d, 8);
    w_u64(w, v);
}

/* A string field of at most cap-1 bytes (the struct's array size minus the terminator). */
static void w_str(struct wbuf *w, const char *s, size_t cap)
{
    size_t n = strnlen(s, cap - 1);
    w->p[w->len++] = (uint8_t)n;
    w->p[w->len++] = (uint8_t)(n >> 8);
    memcpy(w->p + w->len, s, n);
    w->len += n;
}

struct rbuf {
    const uint8_t *p;
    size_t len, off;
    int bad;
};

static uint32_t r_u32(struct rbuf *r)
{
    if (r->len - r->off < 4) {
        r->bad = 1;
        return 0;
    }
    const uint8_t *p = r->p + r->off;
    r->off += 4;
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t r_u64(struct rbuf *r)
{
    if (r->len - r->off < 8) {
        r->bad = 1;
        return 0;
    }
    const uint8_t *p = r->p + r->off;
    r->off += 8;
    uint64_t v = 0;
    for (int k = 7; k >= 0; k--)
        v = v << 8 | p[k];
    return v;
}

static double r_f64(struct rbuf *r)
{
    uint64_t v = r_u64(r);
    double d;
    memcpy(&d, &v, 8);
    return d;
}

static void r_str(struct rbuf *r, char *dst, size_t cap)
{
    dst[0] = 0;
    if (r->len - r->off < 2) {
        r->bad = 1;
        return;
    }
    size_t n = (size_t)r->p[r->off] | (size_t)r->p[r->off + 1] << 8;
    r->off += 2;
    if (n >= cap || r->len - r->off < n || memchr(r->p + r->off, 0, n)) {
        r->bad = 1;
        return;
    }
    memcpy(dst, r->p + r->off, n);
    dst[n] = 0;
    r->off += n;
}

/* lmdb keeps no checksums: a damaged page can hand out a record whose bytes changed (a digit
 * of a time, a letter of a name) or a record of another database. So each value ends with a
 * 64-bit FNV-1a of its database's name, its key and the value before it: each step of FNV-1a
 * is a bijection of the running hash, so any one changed byte changes the sum. */
#define SUM_LEN 8

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

static uint64_t rec_sum(const char *db, const MDB_val *k, const uint8_t *v, size_t vlen)
{
    uint64_t h = fnv1a(0xcbf29ce484222325ull, db, strlen(db) + 1);
    h = fnv1a(h, k->mv_data, k->mv_size);
    return fnv1a(h, v, vlen);
}

/* Append the checksum to the len bytes of buf; the sealed length. */
static size_t seal(const char *db, const MDB_val *k, uint8_t *buf, size_t len)
{
    uint64_t h = rec_sum(db, k, buf, len);
    for (int i = 0; i < SUM_LEN; i++)
        buf[len + (size_t)i] = (uint8_t)(h >> (8 * i));
    return len + SUM_LEN;
}

/* 1 when v's checksum holds; *len is then the length of the value before it. */
static int sealed(const char *db, const MDB_val *k, const MDB_val *v, size_t *len)
{
    if (!v->mv_data || v->mv_size < SUM_LEN || !k->mv_data)
        return 0;
    size_t n = v->mv_size - SUM_LEN;
    const uint8_t *p = (const uint8_t *)v->mv_data + n;
    uint64_t h = 0;
    for (int i = SUM_LEN - 1; i >= 0; i--)
        h = h << 8 | p[i];
    if (h != rec_sum(db, k, v->mv_data, n))
        return 0;
    *len = n;
    return 1;
}

/* lmdb's default key order (bytes, then the shorter first). A listing checks that its keys come
 * in order: a damaged page can hand out a record twice or out of place. */
static int key_cmp(const uint8_t *a, size_t al, const MDB_val *b)
{
    size_t n = al < b->mv_size ? al : b->mv_size;
    int c = memcmp(a, b->mv_data, n);
    return c ? c : (al > b->mv_size) - (al < b->mv_size);
}

/* Remember key k in buf (cap bytes): 1 when it follows *len bytes of buf in the direction
 * dir (1 ascending, -1 descending), or when buf is empty; 0 when out of order. */
static int in_order(uint8_t *buf, size_t cap, size_t *len, const MDB_val *k, int dir)
{
    if (*len && (k->mv_size > cap || key_cmp(buf, *len, k) * dir >= 0))
        return 0;
    if (k->mv_size > cap)
        return 1;   /* too long to be ours: the caller's own check refuses it */
    memcpy(buf, k->mv_data, k->mv_size);
    *len = k->mv_size;
    return 1;
}

/* Whether the records on either side of `key` in dbi hold their checksums: a lookup that found
 * nothing, or a listing that ended, asks this where it stopped, since a record whose key was
 * damaged has moved out of its place and fails its checksum. 1 when they hold (or there are
 * none), 0 when not. */
static int around_ok(MDB_txn *txn, MDB_dbi dbi, const char *db, const MDB_val *key)
{
    MDB_cursor *cur;
    if (mdb_cursor_open(txn, dbi, &cur) != 0)
        return 0;
    MDB_val k = *key, v;
    size_t len;
    int ok = 1;
    int mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    if (mrc == 0)
        ok = sealed(db, &k, &v, &len);
    if (ok && (mrc == 0 || mrc == MDB_NOTFOUND))
        mrc = mdb_cursor_get(cur, &k, &v, mrc == 0 ? MDB_PREV : MDB_LAST);
    if (ok && mrc == 0)
        ok = sealed(db, &k, &v, &len);
    mdb_cursor_close(cur);
    return ok && (mrc == 0 || mrc == MDB_NOTFOUND);
}

/* A time of a record: unix seconds, or 0 for none. */
static int bad_time(double t)
{
    return !isfinite(t) || t < 0;
}

static int bad_status(int32_t s)
{
    return s < MF_STATUS_PENDING || s > MF_STATUS_CANCELLED;
}

static size_t encode_run(const struct mf_run_rec *rec, uint8_t *buf)
{
    struct wbuf w = {buf, 0, RUN_VAL_MAX};
    w_u32(&w, (uint32_t)rec->status);
    w_u32(&w, (uint32_t)rec->pid);
    w_f64(&w, rec->start_time);
    w_f64(&w, rec->end_time);
    w_u64(&w, (uint64_t)rec->origin_run_id);
    w_u32(&w, rec->n_tasks);
    w_u32(&w, rec->n_failed);
    w_str(&w, rec->user, sizeof rec->user);
    w_str(&w, rec->ns, sizeof rec->ns);
    w_str(&w, rec->host, sizeof rec->host);
    w_str(&w, rec->tags, sizeof rec->tags);
    w_str(&w, rec->storage, sizeof rec->storage);
    w_str(&w, rec->storage_root, sizeof rec->storage_root);
    return w.len;
}

/* Fill everything but flow and run_id from the record under key k. 0, or 1 when the value is
 * damaged (its checksum, its layout or a field's range). */
static int decode_run(const MDB_val *k, const MDB_val *v, struct mf_run_rec *rec)
{
    size_t len;
    if (!sealed("runs", k, v, &len))
        return 1;
    struct rbuf r = {v->mv_data, len, 0, 0};
    rec->status = (int32_t)r_u32(&r);
    rec->pid = (int32_t)r_u32(&r);
    rec->start_time = r_f64(&r);
    rec->end_time = r_f64(&r);
    rec->origin_run_id = (int64_t)r_u64(&r);
    rec->n_tasks = r_u32(&r);
    rec->n_failed = r_u32(&r);
    r_str(&r, rec->user, sizeof rec->user);
    r_str(&r, rec->ns, sizeof rec->ns);
    r_str(&r, rec->host, sizeof rec->host);
    r_str(&r, rec->tags, sizeof rec->tags);
    r_str(&r, rec->storage, sizeof rec->storage);
    r_str(&r, rec->storage_root, sizeof rec->storage_root);
    return r.bad || r.off != r.len || bad_status(rec->status) || rec->pid < 0 ||
           bad_time(rec->start_time) || bad_time(rec->end_time) || rec->origin_run_id < 0;
}

static size_t encode_task(const struct mf_task_rec *rec, uint8_t *buf)
{
    struct wbuf w = {buf, 0, TASK_VAL_MAX};
    w_u32(&w, rec->attempt);
    w_u32(&w, (uint32_t)rec->status);
    w_f64(&w, rec->start_time);
    w_f64(&w, rec->end_time);
    w_u32(&w, (uint32_t)rec->exit_code);
    w_u32(&w, (uint32_t)rec->term_signal);
    w_u32(&w, rec->foreach_index);
    w_u32(&w, rec->foreach_count);
    w_str(&w, rec->origin, sizeof rec->origin);
    w_str(&w, rec->artifacts, sizeof rec->artifacts);
    return w.len;
}

/* Fill everything but flow, run_id, step and task_id, as decode_run. */
static int decode_task(const MDB_val *k, const MDB_val *v, struct mf_task_rec *rec)
{
    size_t len;
    if (!sealed("tasks", k, v, &len))
        return 1;
    struct rbuf r = {v->mv_data, len, 0, 0};
    rec->attempt = r_u32(&r);
    rec->status = (int32_t)r_u32(&r);
    rec->start_time = r_f64(&r);
    rec->end_time = r_f64(&r);
    rec->exit_code = (int32_t)r_u32(&r);
    rec->term_signal = (int32_t)r_u32(&r);
    rec->foreach_index = r_u32(&r);
    rec->foreach_count = r_u32(&r);
    r_str(&r, rec->origin, sizeof rec->origin);
    r_str(&r, rec->artifacts, sizeof rec->artifacts);
    return r.bad || r.off != r.len || bad_status(rec->status) || bad_time(rec->start_time) ||
           bad_time(rec->end_time);
}

/* ---- keys ----------------------------------------------------------------------------------- */

/* A flow or step name as a key part: 1..MF_NAME_MAX-1 bytes (no NUL inside, by C strings). */
static int check_name(mf_index *ix, const char *what, const char *s, size_t *len)
{
    if (!s || !*s)
        return fail(ix, MF_EINVAL, "no %s name given", what);
    size_t n = strnlen(s, MF_NAME_MAX);
    if (n >= MF_NAME_MAX)
        return fail(ix, MF_EINVAL, "%s name '%.40s...' is longer than %d bytes", what, s,
                    MF_NAME_MAX - 1);
    *len = n;
    return 0;
}

static int check_id(mf_index *ix, const char *what, int64_t id, int64_t lo)
{
    if (id < lo)
        return fail(ix, MF_EINVAL, "%s %lld is out of range (at least %lld)", what,
                    (long long)id, (long long)lo);
    return 0;
}

/* flow '\0' [run(BE8)] */
static size_t run_key(uint8_t *k, const char *flow, size_t flen, int with_id, int64_t run_id)
{
    memcpy(k, flow, flen);
    k[flen] = 0;
    if (!with_id)
        return flen + 1;
    be64_put(k + flen + 1, (uint64_t)run_id);
    return flen + 9;
}

/* flow '\0' run(BE8) [step '\0' [task(BE8)]] */
static size_t task_key(uint8_t *k, const char *flow, size_t flen, int64_t run_id,
                       const char *step, size_t slen, int with_task, int64_t task_id)
{
    size_t n = run_key(k, flow, flen, 1, run_id);
    if (!step)
        return n;
    memcpy(k + n, step, slen);
    k[n + slen] = 0;
    n += slen + 1;
    if (!with_task)
        return n;
    be64_put(k + n, (uint64_t)task_id);
    return n + 8;
}

/* ---- transactions --------------------------------------------------------------------------- */

static int ready(mf_index *ix)
{
    if (!ix)
        return MF_EINVAL;
    if (!ix->opened)
        return MF_EINVAL; /* keeps the message of the failed open */
    return 0;
}

/* lmdb keeps two meta pages and serves the snapshot of the one with the higher transaction id;
 * a damaged id makes it serve an older snapshot, silently. So every commit also records its own
 * transaction id in "meta", and opening checks that the snapshot's id is the one it records. */
static const MDB_val stamp_key = {3, "txn"};

static int stamp(mf_index *ix, MDB_txn *txn)
{
    uint8_t b[8];
    uint64_t id = (uint64_t)mdb_txn_id(txn);
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(id >> (8 * i));
    MDB_val k = stamp_key, v = {8, b};
    return mdb_put(txn, ix->meta, &k, &v, 0);
}

/* 0 when the snapshot of txn is the one its last commit recorded, else MF_ECORRUPT. */
static int stamp_check(mf_index *ix, MDB_txn *txn)
{
    MDB_val k = stamp_key, v;
    int mrc = mdb_get(txn, ix->meta, &k, &v);
    if (mrc && mrc != MDB_NOTFOUND)
        return fail_mdb(ix, mrc, "cannot read");
    uint64_t id = 0;
    for (int i = 7; !mrc && v.mv_size == 8 && i >= 0; i--)
        id = id << 8 | ((const uint8_t *)v.mv_data)[i];
    if (mrc || v.mv_size != 8 || id != (uint64_t)mdb_txn_id(txn))
        return fail(ix, MF_ECORRUPT,
                    "the index is damaged (its meta page names transaction %zu, its data "
                    "another): run `mflow reindex` to rebuild it from the datastore",
                    mdb_txn_id(txn));
    return 0;
}

static int rd_begin(mf_index *ix, MDB_txn **txn)
{
    enter(ix);
    if (ix->wtxn && !ix->batch_rc) {
        *txn = ix->wtxn;
        return 0;
    }
    if (ix->rdepth > 0) {
        ix->rdepth++;
        *txn = ix->rtxn;
        return 0;
    }
    int mrc = ix->rtxn ? mdb_txn_renew(ix->rtxn)
                       : mdb_txn_begin(ix->env, NULL, MDB_RDONLY, &ix->rtxn);
    if (mrc) {
        leave();
        if (ix->rtxn) {
            mdb_txn_abort(ix->rtxn);
            ix->rtxn = NULL;
        }
        return fail_mdb(ix, mrc, "cannot start reading");
    }
    ix->rdepth = 1;
    *txn = ix->rtxn;
    return 0;
}

static void rd_end(mf_index *ix, MDB_txn *txn)
{
    if (txn == ix->rtxn && txn != ix->wtxn && --ix->rdepth == 0)
        mdb_txn_reset(ix->rtxn);
    leave();
}

static int wr_begin(mf_index *ix, MDB_txn **txn)
{
    if (ix->in_batch) {
        if (ix->batch_rc)
            return fail(ix, ix->batch_rc,
                        "an earlier write of this batch failed and the batch was rolled back: "
                        "commit or abort it, then retry");
        *txn = ix->wtxn;
        enter(ix);
        return 0;
    }
    enter(ix);
    int mrc = mdb_txn_begin(ix->env, NULL, 0, txn);
    if (mrc) {
        leave();
        return fail_mdb(ix, mrc, "cannot start writing");
    }
    return 0;
}

/* Finish a write: commit a transaction of its own, or leave it to the batch. An lmdb failure
 * inside a batch rolls the whole batch back (lmdb allows nothing else after it). */
static int wr_end_in(mf_index *ix, MDB_txn *txn, int rc);

static int wr_end(mf_index *ix, MDB_txn *txn, int rc)
{
    rc = wr_end_in(ix, txn, rc);
    leave();
    return rc;
}

static int wr_end_in(mf_index *ix, MDB_txn *txn, int rc)
{
    int failed = rc && ix->mdb_failed;
    ix->mdb_failed = 0;
    if (txn == ix->wtxn) {
        if (failed) {
            ix->batch_rc = rc;
            if (!ix->wlisting) { /* else a listing's cursor still uses it: abort later */
                mdb_txn_abort(ix->wtxn);
                ix->wtxn = NULL;
            }
        }
        return rc;
    }
    if (rc) {
        mdb_txn_abort(txn);
        return rc;
    }
    int mrc = stamp(ix, txn);
    if (mrc) {
        mdb_txn_abort(txn);
        return fail_mdb(ix, mrc, "cannot commit");
    }
    mrc = mdb_txn_commit(txn);
    if (mrc)
        return fail_mdb(ix, mrc, "cannot commit");
    return 0;
}

int mf_index_begin(mf_index *ix)
{
    int rc = ready(ix);
    if (rc)
        return rc;
    if (ix->in_batch)
        return fail(ix, MF_EINVAL, "a batch is already open: commit it before beginning another");
    enter(ix);
    int mrc = mdb_txn_begin(ix->env, NULL, 0, &ix->wtxn);
    leave();
    if (mrc) {
        ix->wtxn = NULL;
        return fail_mdb(ix, mrc, "cannot start a batch of writes");
    }
    ix->in_batch = 1;
    ix->batch_rc = 0;
    return 0;
}

int mf_index_commit(mf_index *ix)
{
    int rc = ready(ix);
    if (rc)
        return rc;
    if (!ix->in_batch)
        return fail(ix, MF_EINVAL, "commit without mf_index_begin");
    if (ix->wlisting)
        return fail(ix, MF_EINVAL, "cannot commit from inside a listing of the same batch");
    ix->in_batch = 0;
    if (ix->batch_rc) {
        rc = ix->batch_rc;
        ix->batch_rc = 0;
        if (ix->wtxn)
            mdb_txn_abort(ix->wtxn);
        ix->wtxn = NULL;
        return fail(ix, rc, "the batch was rolled back after a failed write: nothing of it "
                            "was stored; retry");
    }
    MDB_txn *txn = ix->wtxn;
    ix->wtxn = NULL;
    enter(ix);
    int mrc = stamp(ix, txn);
    if (mrc)
        mdb_txn_abort(txn);
    else
        mrc = mdb_txn_commit(txn);
    leave();
    if (mrc)
        return fail_mdb(ix, mrc, "cannot commit the batch");
    return 0;
}

void mf_index_abort(mf_index *ix)
{
    if (!ix || !ix->opened || !ix->in_batch || ix->wlisting)
        return;
    if (ix->wtxn)
        mdb_txn_abort(ix->wtxn);
    ix->wtxn = NULL;
    ix->in_batch = 0;
    ix->batch_rc = 0;
}

/* ---- open and close ------------------------------------------------------------------------- */

static int mkdir_p(char *path)
{
    struct stat st;
    if (stat(path, &st) == 0)
        return S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        int r = mkdir(path, MF_PRIVATE_DIR_MODE);
        int e = errno;
        *p = '/';
        if (r && e != EEXIST)
            return e;
    }
    if (mkdir(path, MF_PRIVATE_DIR_MODE) && errno != EEXIST)
        return errno;
    if (stat(path, &st))
        return errno;
    return S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
}

static const char *const dbi_names[] = {"meta", "counters", "runs", "tasks", "deployments"};
#define N_DBIS (sizeof dbi_names / sizeof *dbi_names)

/* Open the named databases, checking that this is an mflow index of our format. With
 * create = 0 (a read transaction, never waits for a writer) an empty or incomplete index
 * gives MF_ENOTFOUND, and the caller retries with create = 1. */
static int open_dbis(mf_index *ix, int create)
{
    MDB_txn *txn;
    int mrc = mdb_txn_begin(ix->env, NULL, create ? 0 : MDB_RDONLY, &txn);
    if (mrc)
        return fail_mdb(ix, mrc, "cannot open");
    MDB_dbi main_dbi;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    int rc = 0, found = 0;
    mrc = mdb_dbi_open(txn, NULL, 0, &main_dbi);
    if (!mrc)
        mrc = mdb_cursor_open(txn, main_dbi, &cur);
    if (mrc) {
        rc = fail_mdb(ix, mrc, "cannot open");
        goto out;
    }
    /* the main database of an mflow index holds only our named databases */
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); !mrc;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        int ours = 0;
        for (size_t j = 0; j < N_DBIS; j++)
            if (k.mv_size == strlen(dbi_names[j]) && !memcmp(k.mv_data, dbi_names[j], k.mv_size))
                ours = 1;
        if (!ours) {
            rc = fail(ix, MF_ECORRUPT,
                      "the index is damaged, or not an mflow index (it holds a key "
                      "'%.*s'): run `mflow reindex` to rebuild it from the datastore (it moves "
                      "the old files aside), or point MFLOW_HOME elsewhere",
                      (int)(k.mv_size > 40 ? 40 : k.mv_size), (const char *)k.mv_data);
            goto out;
        }
        found++;
    }
    if (mrc != MDB_NOTFOUND) {
        rc = fail_mdb(ix, mrc, "cannot read");
        goto out;
    }
    mdb_cursor_close(cur);
    cur = NULL;
    if (found == 0 && !create) {
        rc = MF_ENOTFOUND;
        goto out;
    }
    if (found > 0) {
        /* no meta database, or no format record in it: the same damage */
        const char *what = "cannot open";
        MDB_val fk = {6, "format"}, fv;
        mrc = mdb_dbi_open(txn, "meta", 0, &ix->meta);
        if (!mrc) {
            what = "cannot read the format";
            mrc = mdb_get(txn, ix->meta, &fk, &fv);
        }
        if (mrc == MDB_NOTFOUND) {
            rc = fail(ix, MF_ECORRUPT,
                      "the index is damaged (it has no format record): run `mflow reindex` "
                      "to rebuild it from the datastore");
            goto out;
        }
        if (mrc) {
            rc = fail_mdb(ix, mrc, what);
            goto out;
        }
        char want[16];
        int wl = snprintf(want, sizeof want, "%d", MF_INDEX_FORMAT);
        if (fv.mv_size != (size_t)wl || memcmp(fv.mv_data, want, (size_t)wl)) {
            rc = fail(ix, MF_ECORRUPT,
                      "the index has format '%.*s' but this mflow reads format %d (another "
                      "version made it, or it is damaged): run `mflow reindex` to rebuild it "
                      "from the datastore",
                      (int)(fv.mv_size > 16 ? 16 : fv.mv_size), (const char *)fv.mv_data,
                      MF_INDEX_FORMAT);
            goto out;
        }
        if (!create && (rc = stamp_check(ix, txn)))
            goto out;
    } else {
        char fmt[16];
        int fl = snprintf(fmt, sizeof fmt, "%d", MF_INDEX_FORMAT);
        MDB_val fk = {6, "format"}, fv = {(size_t)fl, fmt};
        mrc = mdb_dbi_open(txn, "meta", MDB_CREATE, &ix->meta);
        if (!mrc)
            mrc = mdb_put(txn, ix->meta, &fk, &fv, 0);
        if (mrc) {
            rc = fail_mdb(ix, mrc, "cannot create");
            goto out;
        }
    }
    MDB_dbi *dbis[] = {&ix->counters, &ix->runs, &ix->tasks, &ix->deployments};
    for (size_t j = 0; j < N_DBIS - 1; j++) {
        mrc = mdb_dbi_open(txn, dbi_names[j + 1], create ? MDB_CREATE : 0, dbis[j]);
        if (mrc == MDB_NOTFOUND && !create) {
            rc = MF_ENOTFOUND;
            goto out;
        }
        if (mrc) {
            rc = fail_mdb(ix, mrc, "cannot open");
            goto out;
        }
    }
    /* handles opened in a transaction become the environment's when it commits */
    mrc = create ? stamp(ix, txn) : 0;
    if (mrc) {
        rc = fail_mdb(ix, mrc, "cannot create");
        goto out;
    }
    mrc = mdb_txn_commit(txn);
    txn = NULL;
    if (mrc)
        rc = fail_mdb(ix, mrc, "cannot open");
out:
    if (cur)
        mdb_cursor_close(cur);
    if (txn)
        mdb_txn_abort(txn);
    return rc;
}

int mf_index_open(const char *dir, mf_index **out)
{
    return mf_index_open_map(dir, 0, out);
}

int mf_index_open_map(const char *dir, size_t map_size, mf_index **out)
{
    if (!out)
        return MF_EINVAL;
    *out = NULL;
    mf_index *ix = calloc(1, sizeof(*ix));
    if (!ix)
        return MF_ENOMEM;
    *out = ix; /* even on failure: it carries the message; mf_index_close frees it */
    if (!dir || !*dir) {
        snprintf(ix->dir, sizeof ix->dir, "(none)");
        return fail(ix, MF_EINVAL, "no index directory given");
    }
    if (strlen(dir) >= sizeof ix->dir - 16) {
        snprintf(ix->dir, sizeof ix->dir, "%.60s...", dir);
        return fail(ix, ENAMETOOLONG, "the directory path is too long");
    }
    snprintf(ix->dir, sizeof ix->dir, "%s", dir);
    size_t dl = strlen(ix->dir);
    while (dl > 1 && ix->dir[dl - 1] == '/')
        ix->dir[--dl] = 0;

    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s", ix->dir);
    int e = mkdir_p(path);
    if (e == EACCES || e == EPERM)
        return fail_access(ix, EACCES, "cannot create the directory");
    if (e == ENOTDIR)
        return fail(ix, ENOTDIR, "not a directory (or a parent is not): set MFLOW_HOME to a "
                                 "directory");
    if (e)
        return fail_mdb(ix, e, "cannot create the directory");

    int mrc = 0;
    size_t n_sizes = map_size ? 1 : sizeof map_sizes / sizeof map_sizes[0];
    for (size_t s = 0; s < n_sizes; s++) {
        ix->map_size = map_size ? map_size : map_sizes[s];
        mrc = mdb_env_create(&ix->env);
        if (mrc) {
            ix->env = NULL;
            return fail_mdb(ix, mrc, "cannot create the lmdb environment");
        }
        mdb_env_set_maxdbs(ix->env, 8);
        mdb_env_set_mapsize(ix->env, ix->map_size);
        /* MDB_NOTLS: the reusable read transaction is not tied to a thread.
         * MDB_NOMETASYNC: a commit writes and fsyncs the data pages but skips the second
         * fsync of the meta page. A killed process loses nothing (its writes are in the page
         * cache); an OS crash or power cut may lose the last commits but never corrupts the
         * database, since lmdb falls back to the previous meta page. The index is rebuilt
         * from the datastore by `mflow reindex`, so that is worth one fsync less per commit. */
        enter(ix);   /* lmdb reads the meta pages: a truncated file faults here */
        mrc = mdb_env_open(ix->env, ix->dir, MDB_NOTLS | MDB_NOMETASYNC,
                            MF_PRIVATE_FILE_MODE);
        leave();
        if (!mrc)
            break;
        mdb_env_close(ix->env);
        ix->env = NULL;
        /* no room for the map: ENOMEM from the kernel, EINVAL under some tools (valgrind) */
        if (mrc != ENOMEM && mrc != EINVAL)
            break;
    }
    if (mrc) {
        if (mrc == EACCES || mrc == EPERM)
            return fail_access(ix, EACCES, "cannot open");
        return fail_mdb(ix, mrc, "cannot open");
    }
    int dead = 0;
    mdb_reader_check(ix->env, &dead);
    fault_register(ix);   /* before the first read of the map */

    enter(ix);
    int rc = open_dbis(ix, 0);
    if (rc == MF_ENOTFOUND)
        rc = open_dbis(ix, 1);
    leave();
    if (rc)
        return rc;
    ix->opened = 1;
    ix->err[0] = 0;
    return 0;
}

void mf_index_close(mf_index *ix)
{
    if (!ix)
        return;
    if (ix->wtxn)
        mdb_txn_abort(ix->wtxn);
    if (ix->rtxn)
        mdb_txn_abort(ix->rtxn);
    fault_unregister(ix);
    if (ix->env)
        mdb_env_close(ix->env);
    free(ix);
}

/* ---- runs ----------------------------------------------------------------------------------- */

/* Put cur on the last key below *k (which need not exist), filling k and v: lmdb's answer,
 * MDB_NOTFOUND when no key is below. */
static int cursor_below(MDB_cursor *cur, MDB_val *k, MDB_val *v)
{
    int mrc = mdb_cursor_get(cur, k, v, MDB_SET_RANGE);
    if (mrc == 0)
        return mdb_cursor_get(cur, k, v, MDB_PREV);
    if (mrc == MDB_NOTFOUND)
        return mdb_cursor_get(cur, k, v, MDB_LAST);
    return mrc;
}

/* The highest run id of a flow in `runs`, or 0. */
static int last_run_id(mf_index *ix, MDB_txn *txn, const char *flow, size_t flen, int64_t *out)
{
    MDB_cursor *cur;
    int mrc = mdb_cursor_open(txn, ix->runs, &cur);
    if (mrc)
        return fail_mdb(ix, mrc, "cannot read runs");
    uint8_t seek[RUN_KEY_MAX];
    size_t sl = run_key(seek, flow, flen, 0, 0);
    memset(seek + sl, 0xff, 8); /* above every run id, which are at most INT64_MAX */
    MDB_val k = {sl + 8, seek}, v;
    *out = 0;
    mrc = cursor_below(cur, &k, &v);
    if (mrc == 0 && k.mv_size == flen + 9 && !memcmp(k.mv_data, seek, flen + 1))
        *out = (int64_t)be64_get((const uint8_t *)k.mv_data + flen + 1);
    mdb_cursor_close(cur);
    if (mrc && mrc != MDB_NOTFOUND)
        return fail_mdb(ix, mrc, "cannot read runs");
    return 0;
}

int mf_index_new_run_id(mf_index *ix, const char *flow, int64_t min, int64_t *out)
{
    int rc = ready(ix);
    size_t flen;
    if (rc || (rc = check_name(ix, "flow", flow, &flen)))
        return rc;
    if (!out)
        return fail(ix, MF_EINVAL, "no place for the run id");
    MDB_txn *txn;
    if ((rc = wr_begin(ix, &txn)))
        return rc;
    MDB_val k = {flen, (void *)flow}, v;
    int64_t next = 1, last = 0;
    int mrc = mdb_get(txn, ix->counters, &k, &v);
    if (mrc == 0 && v.mv_size == 8)
        next = (int64_t)be64_get(v.mv_data);
    else if (mrc == 0)
        rc = fail(ix, MF_ECORRUPT, "the index is damaged (the run counter of flow %s does not "
                                   "check): run `mflow reindex` to rebuild it", flow);
    else if (mrc != MDB_NOTFOUND)
        rc = fail_mdb(ix, mrc, "cannot read the run counter");
    if (!rc)
        rc = last_run_id(ix, txn, flow, flen, &last);
    if (!rc) {
        int64_t id = next;
        if (last >= id)
            id = last + 1;
        if (min > id)
            id = min;
        if (id < 1)
            id = 1;
        if (id == INT64_MAX) {
            rc = fail(ix, MF_EINVAL, "flow %s has run out of run ids", flow);
        } else {
            uint8_t nb[8];
            be64_put(nb, (uint64_t)(id + 1));
            MDB_val nv = {8, nb};
            mrc = mdb_put(txn, ix->counters, &k, &nv, 0);
            if (mrc)
                rc = fail_mdb(ix, mrc, "cannot store the run counter");
            else
                *out = id;
        }
    }
    return wr_end(ix, txn, rc);
}

int mf_index_put_run(mf_index *ix, const struct mf_run_rec *r)
{
    int rc = ready(ix);
    size_t flen;
    if (rc)
        return rc;
    if (!r)
        return fail(ix, MF_EINVAL, "no run record given");
    char flow[MF_NAME_MAX];
    memcpy(flow, r->flow, sizeof flow);
    flow[MF_NAME_MAX - 1] = 0;
    if ((rc = check_name(ix, "flow", flow, &flen)) || (rc = check_id(ix, "run id", r->run_id, 1)))
        return rc;
    uint8_t kb[RUN_KEY_MAX], vb[RUN_VAL_MAX];
    MDB_val k = {run_key(kb, flow, flen, 1, r->run_id), kb};
    MDB_val v = {seal("runs", &k, vb, encode_run(r, vb)), vb};
    MDB_txn *txn;
    if ((rc = wr_begin(ix, &txn)))
        return rc;
    int mrc = mdb_put(txn, ix->runs, &k, &v, 0);
    if (mrc) {
        char what[MF_NAME_MAX + 64];
        snprintf(what, sizeof what, "cannot store run %s/%lld", flow, (long long)r->run_id);
        rc = fail_mdb(ix, mrc, what);
    }
    return wr_end(ix, txn, rc);
}

static int corrupt_run(mf_index *ix, const char *flow, int64_t run_id)
{
    return fail(ix, MF_ECORRUPT,
                "the index is damaged (the record of run %s/%lld does not check): run "
                "`mflow reindex` to rebuild it from the datastore",
                flow, (long long)run_id);
}

int mf_index_get_run(mf_index *ix, const char *flow, int64_t run_id, struct mf_run_rec *out)
{
    int rc = ready(ix);
    size_t flen;
    if (rc || (rc = check_name(ix, "flow", flow, &flen)))
        return rc;
    if (!out)
        return fail(ix, MF_EINVAL, "no place for the run record");
    if (run_id < 1)
        return fail(ix, MF_ENOTFOUND, "no run %s/%lld", flow, (long long)run_id);
    uint8_t kb[RUN_KEY_MAX];
    MDB_val k = {run_key(kb, flow, flen, 1, run_id), kb}, v;
    MDB_txn *txn;
    if ((rc = rd_begin(ix, &txn)))
        return rc;
    int mrc = mdb_get(txn, ix->runs, &k, &v);
    if (mrc == MDB_NOTFOUND && !around_ok(txn, ix->runs, "runs", &k)) {
        rc = corrupt_run(ix, flow, run_id);
    } else if (mrc == MDB_NOTFOUND) {
        rc = fail(ix, MF_ENOTFOUND, "no run %s/%lld: `mflow runs %s` lists its runs", flow,
                  (long long)run_id, flow);
    } else if (mrc) {
        rc = fail_mdb(ix, mrc, "cannot read a run");
    } else if (decode_run(&k, &v, out)) {
        rc = corrupt_run(ix, flow, run_id);
    } else {
        memcpy(out->flow, flow, flen + 1);
        out->run_id = run_id;
    }
    rd_end(ix, txn);
    return rc;
}

/* A listing's read transaction and cursor on dbi (inside the caller's write transaction when
 * one is open: ix->wlisting tells a write from a callback that a cursor is live). what names
 * the listing in messages ("cannot list runs"). 0, or the failure with nothing left open. */
static int list_begin(mf_index *ix, MDB_dbi dbi, const char *what, MDB_txn **txn,
                      MDB_cursor **cur)
{
    int rc = rd_begin(ix, txn);
    if (rc)
        return rc;
    int mrc = mdb_cursor_open(*txn, dbi, cur);
    if (mrc) {
        rc = fail_mdb(ix, mrc, what);
        rd_end(ix, *txn);
        return rc;
    }
    if (*txn == ix->wtxn)
        ix->wlisting++;
    return 0;
}

/* End what list_begin opened; rc is the listing's outcome so far, mrc the cursor's last
 * answer (MDB_NOTFOUND: the end). Returns the listing's outcome. */
static int list_end(mf_index *ix, MDB_txn *txn, MDB_cursor *cur, int rc, int mrc,
                    const char *what)
{
    if (!rc && mrc && mrc != MDB_NOTFOUND)
        rc = fail_mdb(ix, mrc, what);
    mdb_cursor_close(cur);
    if (txn == ix->wtxn)
        ix->wlisting--;
    rd_end(ix, txn);
    return rc;
}

int mf_index_list_runs(mf_index *ix, const char *flow, mf_run_cb cb, void *ud)
{
    int rc = ready(ix);
    size_t flen;
    if (rc || (rc = check_name(ix, "flow", flow, &flen)))
        return rc;
    if (!cb)
        return fail(ix, MF_EINVAL, "no callback given");
    MDB_txn *txn;
    MDB_cursor *cur;
    if ((rc = list_begin(ix, ix->runs, "cannot list runs", &txn, &cur)))
        return rc;
    int mrc;
    uint8_t seek[RUN_KEY_MAX];
    size_t pl = run_key(seek, flow, flen, 0, 0);
    memset(seek + pl, 0xff, 8);
    MDB_val k = {pl + 8, seek}, v;
    size_t len;
    /* from the end of the flow's range, backwards: newest first; around_ok first, as the
     * newest run's key may be the damaged one */
    mrc = around_ok(txn, ix->runs, "runs", &k) ? cursor_below(cur, &k, &v) : MDB_CORRUPTED;
    struct mf_run_rec rec;
    memcpy(rec.flow, flow, flen + 1);
    uint8_t prev[RUN_KEY_MAX];
    size_t prev_len = 0;
    while (mrc == 0) {
        if (k.mv_size != pl + 8 || memcmp(k.mv_data, seek, pl)) {
            if (!sealed("runs", &k, &v, &len))   /* a damaged key ended it early? */
                rc = fail(ix, MF_ECORRUPT, "the index is damaged (a run record does not "
                                           "check): run `mflow reindex` to rebuild it");
            break;
        }
        if (!in_order(prev, sizeof prev, &prev_len, &k, -1)) {
            rc = fail(ix, MF_ECORRUPT, "the index is damaged (the runs of %s are out of "
                                       "order): run `mflow reindex` to rebuild it", flow);
            break;
        }
        rec.run_id = (int64_t)be64_get((const uint8_t *)k.mv_data + pl);
        if (decode_run(&k, &v, &rec)) {
            rc = corrupt_run(ix, flow, rec.run_id);
            break;
        }
        leave();
        rc = cb(ud, &rec);
        enter(ix);
        if (rc)
            break;
        mrc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
    }
    return list_end(ix, txn, cur, rc, mrc, "cannot list runs");
}

int mf_index_list_flows(mf_index *ix, mf_flow_cb cb, void *ud)
{
    int rc = ready(ix);
    if (rc)
        return rc;
    if (!cb)
        return fail(ix, MF_EINVAL, "no callback given");
    MDB_txn *txn;
    MDB_cursor *cur;
    if ((rc = list_begin(ix, ix->runs, "cannot list flows", &txn, &cur)))
        return rc;
    int mrc;
    MDB_val k, v;
    /* jump from flow to flow: for each, seek past its range and step back to its last run */
    uint8_t prev[RUN_KEY_MAX];
    size_t prev_len = 0;
    mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (mrc == 0) {
        const uint8_t *kd = k.mv_data;
        size_t flen = strnlen((const char *)kd, k.mv_size);
        if (flen >= MF_NAME_MAX || k.mv_size != flen + 9 ||
            !in_order(prev, sizeof prev, &prev_len, &k, 1)) {
            rc = fail(ix, MF_ECORRUPT, "the index is damaged (a run key does not check): run "
                                       "`mflow reindex` to rebuild it from the datastore");
            break;
        }
        char flow[MF_NAME_MAX];
        memcpy(flow, kd, flen);
        flow[flen] = 0;
        uint8_t seek[RUN_KEY_MAX];
        size_t pl = run_key(seek, flow, flen, 0, 0);
        memset(seek + pl, 0xff, 8);
        MDB_val sk = {pl + 8, seek};
        mrc = cursor_below(cur, &sk, &v);
        if (mrc)
            break;
        if (sk.mv_size != pl + 8 || memcmp(sk.mv_data, seek, pl) ||
            key_cmp(prev, prev_len, &sk) > 0) {
            rc = fail(ix, MF_ECORRUPT, "the index is damaged (the runs of %s are out of "
                                       "order): run `mflow reindex` to rebuild it", flow);
            break;
        }
        memcpy(prev, sk.mv_data, sk.mv_size);   /* the next flow's keys come after it */
        prev_len = sk.mv_size;
        int64_t last = (int64_t)be64_get((const uint8_t *)sk.mv_data + pl);
        leave();
        rc = cb(ud, flow, last);
        enter(ix);
        if (rc)
            break;
        mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    return list_end(ix, txn, cur, rc, mrc, "cannot list flows");
}

/* ---- tasks ---------------------------------------------------------------------------------- */

int mf_index_put_task(mf_index *ix, const struct mf_task_rec *t)
{
    int rc = ready(ix);
    size_t flen, slen;
    if (rc)
        return rc;
    if (!t)
        return fail(ix, MF_EINVAL, "no task record given");
    char flow[MF_NAME_MAX], step[MF_NAME_MAX];
    memcpy(flow, t->flow, sizeof flow);
    memcpy(step, t->step, sizeof step);
    flow[MF_NAME_MAX - 1] = step[MF_NAME_MAX - 1] = 0;
    if ((rc = check_name(ix, "flow", flow, &flen)) || (rc = check_name(ix, "step", step, &slen)) ||
        (rc = check_id(ix, "run id", t->run_id, 1)) ||
        (rc = check_id(ix, "task id", t->task_id, 0)))
        return rc;
    uint8_t kb[TASK_KEY_MAX], vb[TASK_VAL_MAX];
    MDB_val k = {task_key(kb, flow, flen, t->run_id, step, slen, 1, t->task_id), kb};
    MDB_val v = {seal("tasks", &k, vb, encode_task(t, vb)), vb};
    MDB_txn *txn;
    if ((rc = wr_begin(ix, &txn)))
        return rc;
    int mrc = mdb_put(txn, ix->tasks, &k, &v, 0);
    if (mrc) {
        char what[3 * MF_NAME_MAX];
        snprintf(what, sizeof what, "cannot store task %s/%lld/%s/%lld", flow,
                 (long long)t->run_id, step, (long long)t->task_id);
        rc = fail_mdb(ix, mrc, what);
    }
    return wr_end(ix, txn, rc);
}

static int corrupt_task(mf_index *ix, const char *flow, int64_t run_id)
{
    return fail(ix, MF_ECORRUPT,
                "the index is damaged (a task record of run %s/%lld does not check): run "
                "`mflow reindex` to rebuild it from the datastore",
                flow, (long long)run_id);
}

int mf_index_get_task(mf_index *ix, const char *flow, int64_t run_id, const char *step,
                      int64_t task_id, struct mf_task_rec *out)
{
    int rc = ready(ix);
    size_t flen, slen;
    if (rc || (rc = check_name(ix, "flow", flow, &flen)) ||
        (rc = check_name(ix, "step", step, &slen)))
        return rc;
    if (!out)
        return fail(ix, MF_EINVAL, "no place for the task record");
    if (run_id < 1 || task_id < 0)
        return fail(ix, MF_ENOTFOUND, "no task %s/%lld/%s/%lld", flow, (long long)run_id, step,
                    (long long)task_id);
    uint8_t kb[TASK_KEY_MAX];
    MDB_val k = {task_key(kb, flow, flen, run_id, step, slen, 1, task_id), kb}, v;
    MDB_txn *txn;
    if ((rc = rd_begin(ix, &txn)))
        return rc;
    int mrc = mdb_get(txn, ix->tasks, &k, &v);
    if (mrc == MDB_NOTFOUND && !around_ok(txn, ix->tasks, "tasks", &k)) {
        rc = corrupt_task(ix, flow, run_id);
    } else if (mrc == MDB_NOTFOUND) {
        rc = fail(ix, MF_ENOTFOUND, "no task %s/%lld/%s/%lld", flow, (long long)run_id, step,
                  (long long)task_id);
    } else if (mrc) {
        rc = fail_mdb(ix, mrc, "cannot read a task");
    } else if (decode_task(&k, &v, out)) {
        rc = corrupt_task(ix, flow, run_id);
    } else {
        memcpy(out->flow, flow, flen + 1);
        memcpy(out->step, step, slen + 1);
        out->run_id = run_id;
        out->task_id = task_id;
    }
    rd_end(ix, txn);
    return rc;
}

int mf_index_list_tasks(mf_index *ix, const char *flow, int64_t run_id, const char *step,
                        mf_task_cb cb, void *ud)
{
    int rc = ready(ix);
    size_t flen, slen = 0;
    if (rc || (rc = check_name(ix, "flow", flow, &flen)) ||
        (step && (rc = check_name(ix, "step", step, &slen))))
        return rc;
    if (!cb)
        return fail(ix, MF_EINVAL, "no callback given");
    if (run_id < 1)
        return 0;
    uint8_t prefix[TASK_KEY_MAX];
    size_t pl = task_key(prefix, flow, flen, run_id, step, slen, 0, 0);
    size_t rl = flen + 9; /* the run part of the key */
    MDB_txn *txn;
    MDB_cursor *cur;
    if ((rc = list_begin(ix, ix->tasks, "cannot list tasks", &txn, &cur)))
        return rc;
    int mrc;
    struct mf_task_rec rec;
    memcpy(rec.flow, flow, flen + 1);
    rec.run_id = run_id;
    rec.step[0] = 0;
    size_t cur_slen = (size_t)-1;
    MDB_val k = {pl, prefix}, v;
    uint8_t prev[TASK_KEY_MAX];
    size_t prev_len = 0;
    size_t len;
    for (mrc = around_ok(txn, ix->tasks, "tasks", &k) ? mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE)
                                                      : MDB_CORRUPTED;
         mrc == 0; mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        const uint8_t *kd = k.mv_data;
        if (k.mv_size < pl || memcmp(kd, prefix, pl)) {
            if (!sealed("tasks", &k, &v, &len))   /* a damaged key ended it early? */
                rc = corrupt_task(ix, flow, run_id);
            break;
        }
        if (!in_order(prev, sizeof prev, &prev_len, &k, 1)) {
            rc = corrupt_task(ix, flow, run_id);
            break;
        }
        /* step '\0' task(BE8) after the run part */
        const uint8_t *sp = kd + rl;
        size_t room = k.mv_size - rl;
        const uint8_t *nul = room > 8 ? memchr(sp, 0, room - 8) : NULL;
        size_t sl = nul ? (size_t)(nul - sp) : 0;
        if (!nul || sl == 0 || sl >= MF_NAME_MAX || room != sl + 9) {
            rc = corrupt_task(ix, flow, run_id);
            break;
        }
        if (sl != cur_slen || memcmp(rec.step, sp, sl)) {
            memcpy(rec.step, sp, sl);
            rec.step[sl] = 0;
            cur_slen = sl;
        }
        rec.task_id = (int64_t)be64_get(sp + sl + 1);
        if (decode_task(&k, &v, &rec)) {
            rc = corrupt_task(ix, flow, run_id);
            break;
        }
        leave();
        rc = cb(ud, &rec);
        enter(ix);
        if (rc)
            break;
    }
    return list_end(ix, txn, cur, rc, mrc, "cannot list tasks");
}

/* ---- tags ----------------------------------------------------------------------------------- */

/* Position of `tag` as a whole line of `tags`, or NULL. */
static char *find_tag(char *tags, const char *tag, size_t tl)
{
    for (char *p = tags; *p;) {
        char *e = strchr(p, '\n');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == tl && !memcmp(p, tag, tl))
            return p;
        if (!e)
            break;
        p = e + 1;
    }
    return NULL;
}

static int change_tag(mf_index *ix, const char *flow, int64_t run_id, const char *tag, int add)
{
    int rc = ready(ix);
    size_t flen;
    if (rc || (rc = check_name(ix, "flow", flow, &flen)))
        return rc;
    if (!tag || !*tag || strchr(tag, '\n'))
        return fail(ix, MF_EINVAL, "tag '%s' is not valid: a tag is a non-empty line of text",
                    tag ? tag : "");
    size_t tl = strlen(tag);
    struct mf_run_rec rec;
    if (tl >= sizeof rec.tags)
        return fail(ix, MF_EINVAL, "tag '%.40s...' is longer than %zu bytes", tag,
                    sizeof rec.tags - 1);
    if (run_id < 1)
        return fail(ix, MF_ENOTFOUND, "no run %s/%lld", flow, (long long)run_id);
    uint8_t kb[RUN_KEY_MAX], vb[RUN_VAL_MAX];
    MDB_val k = {run_key(kb, flow, flen, 1, run_id), kb}, v;
    MDB_txn *txn;
    if ((rc = wr_begin(ix, &txn)))
        return rc;
    int mrc = mdb_get(txn, ix->runs, &k, &v);
    if (mrc == MDB_NOTFOUND) {
        rc = fail(ix, MF_ENOTFOUND, "no run %s/%lld: `mflow runs %s` lists its runs", flow,
                  (long long)run_id, flow);
        return wr_end(ix, txn, rc);
    }
    if (mrc)
        return wr_end(ix, txn, fail_mdb(ix, mrc, "cannot read a run"));
    if (decode_run(&k, &v, &rec))
        return wr_end(ix, txn, corrupt_run(ix, flow, run_id));
    char *at = find_tag(rec.tags, tag, tl);
    if (add) {
        if (at)
            return wr_end(ix, txn, 0);
        size_t cur = strlen(rec.tags);
        size_t need = cur + (cur ? 1 : 0) + tl;
        if (need >= sizeof rec.tags)
            return wr_end(ix, txn,
                          fail(ix, MF_EINVAL,
                               "run %s/%lld cannot take tag '%.40s': its tags would exceed %zu "
                               "bytes; remove some first",
                               flow, (long long)run_id, tag, sizeof rec.tags - 1));
        if (cur)
            rec.tags[cur++] = '\n';
        memcpy(rec.tags + cur, tag, tl + 1);
    } else {
        if (!at)
            return wr_end(ix, txn, 0);
        char *after = at + tl;
        if (*after == '\n')
            memmove(at, after + 1, strlen(after + 1) + 1);
        else if (at > rec.tags)
            at[-1] = 0; /* the last tag: drop its separator too */
        else
            at[0] = 0;
    }
    v.mv_data = vb;
    v.mv_size = seal("runs", &k, vb, encode_run(&rec, vb));
    mrc = mdb_put(txn, ix->runs, &k, &v, 0);
    if (mrc)
        rc = fail_mdb(ix, mrc, "cannot store the tags");
    return wr_end(ix, txn, rc);
}

int mf_index_add_tag(mf_index *ix, const char *flow, int64_t run_id, const char *tag)
{
    return change_tag(ix, flow, run_id, tag, 1);
}

int mf_index_remove_tag(mf_index *ix, const char *flow, int64_t run_id, const char *tag)
{
    return change_tag(ix, flow, run_id, tag, 0);
}

int mf_index_clear(mf_index *ix)
{
    int rc = ready(ix);
    if (rc)
        return rc;
    if (ix->wlisting)
        return fail(ix, MF_EINVAL, "cannot clear the index from inside a listing");
    MDB_txn *txn;
    if ((rc = wr_begin(ix, &txn)))
        return rc;
    int mrc = mdb_drop(txn, ix->runs, 0);
    if (!mrc)
        mrc = mdb_drop(txn, ix->tasks, 0);
    if (!mrc)
        mrc = mdb_drop(txn, ix->deployments, 0);
    if (mrc)
        rc = fail_mdb(ix, mrc, "cannot clear");
    return wr_end(ix, txn, rc);
}

/* ---- deployments ---------------------------------------------------------------------------- */

#define DEPLOY_KEY_MAX (MF_NAME_MAX + 9)
#define DEPLOY_VAL_MAX (1 << 20)

static size_t deploy_key(uint8_t *k, const char *name, size_t nlen, int with_version,
                         int64_t version)
{
    memcpy(k, name, nlen);
    k[nlen] = 0;
    if (!with_version)
        return nlen + 1;
    be64_put(k + nlen + 1, (uint64_t)version);
    return nlen + 9;
}

/* The JSON text of a sealed deployment value: its length in *len, or NULL when it does not
 * check (checksum, a NUL inside). */
static const char *deploy_text(const MDB_val *k, const MDB_val *v, size_t *len)
{
    if (!sealed("deployments", k, v, len) || *len == 0 || memchr(v->mv_data, 0, *len))
        return NULL;
    return v->mv_data;
}

static int deployment_ok(const MDB_val *k, const MDB_val *v)
{
    size_t nlen = strnlen(k->mv_data, k->mv_size), len;
    return nlen > 0 && nlen < MF_NAME_MAX && k->mv_size == nlen + 9 &&
           deploy_text(k, v, &len) != NULL;
}

int mf_index_put_deployment(mf_index *ix, const char *name, int64_t version, const char *json)
{
    int rc = ready(ix);
    size_t nlen, jlen = json ? strlen(json) : 0;
    if (rc || (rc = check_name(ix, "deployment", name, &nlen)) ||
        (rc = check_id(ix, "deployment version", version, 1)))
        return rc;
    if (jlen == 0 || jlen > DEPLOY_VAL_MAX)
        return fail(ix, MF_EINVAL, "deployment %s version %lld: a record of %zu bytes (1 to %d)",
                    name, (long long)version, jlen, DEPLOY_VAL_MAX);
    uint8_t kb[DEPLOY_KEY_MAX];
    MDB_val k = {deploy_key(kb, name, nlen, 1, version), kb};
    uint8_t *vb = malloc(jlen + SUM_LEN);
    if (!vb)
        return fail(ix, MF_ENOMEM, "out of memory");
    memcpy(vb, json, jlen);
    MDB_val v = {seal("deployments", &k, vb, jlen), vb};
    MDB_txn *txn;
    if ((rc = wr_begin(ix, &txn))) {
        free(vb);
        return rc;
    }
    int mrc = mdb_put(txn, ix->deployments, &k, &v, 0);
    free(vb);
    if (mrc)
        rc = fail_mdb(ix, mrc, "cannot store a deployment");
    return wr_end(ix, txn, rc);
}

int mf_index_list_deployments(mf_index *ix, const char *name, mf_index_deployment_cb cb, void *ud)
{
    int rc = ready(ix);
    size_t nlen = 0;
    if (rc || (name && (rc = check_name(ix, "deployment", name, &nlen))))
        return rc;
    if (!cb)
        return fail(ix, MF_EINVAL, "no callback given");
    MDB_txn *txn;
    MDB_cursor *cur;
    if ((rc = list_begin(ix, ix->deployments, "cannot list deployments", &txn, &cur)))
        return rc;
    int mrc;
    uint8_t kb[DEPLOY_KEY_MAX], prev[DEPLOY_KEY_MAX];
    size_t pl = name ? deploy_key(kb, name, nlen, 0, 0) : 0, prev_len = 0;
    MDB_val k = {pl, kb}, v;
    mrc = mdb_cursor_get(cur, &k, &v, name ? MDB_SET_RANGE : MDB_FIRST);
    for (; !mrc; mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (name && (k.mv_size < pl || memcmp(k.mv_data, kb, pl)))
            break;
        size_t len, kl = strnlen(k.mv_data, k.mv_size);
        const char *text = deploy_text(&k, &v, &len);
        if (!text || kl == 0 || kl >= MF_NAME_MAX || k.mv_size != kl + 9 ||
            !in_order(prev, sizeof prev, &prev_len, &k, 1)) {
            rc = fail(ix, MF_ECORRUPT, "the index is damaged (a deployment record does not "
                                       "check): run `mflow reindex` to rebuild it from the "
                                       "datastore");
            break;
        }
        char dname[MF_NAME_MAX];
        memcpy(dname, k.mv_data, kl);
        dname[kl] = 0;
        char *copy = malloc(len + 1);
        if (!copy) {
            rc = fail(ix, MF_ENOMEM, "out of memory");
            break;
        }
        memcpy(copy, text, len);
        copy[len] = 0;
        int64_t ver = (int64_t)be64_get((const uint8_t *)k.mv_data + kl + 1);
        leave();
        rc = cb(ud, dname, ver, copy);
        enter(ix);
        free(copy);
        if (rc)
            break;
    }
    return list_end(ix, txn, cur, rc, mrc, "cannot list deployments");
}

int mf_index_delete_deployment(mf_index *ix, const char *name)
{
    int rc = ready(ix);
    size_t nlen;
    if (rc || (rc = check_name(ix, "deployment", name, &nlen)))
        return rc;
    if (ix->wlisting)
        return fail(ix, MF_EINVAL, "cannot delete from inside a listing");
    MDB_txn *txn;
    if ((rc = wr_begin(ix, &txn)))
        return rc;
    MDB_cursor *cur = NULL;
    int mrc = mdb_cursor_open(txn, ix->deployments, &cur);
    uint8_t kb[DEPLOY_KEY_MAX];
    size_t pl = deploy_key(kb, name, nlen, 0, 0);
    MDB_val k = {pl, kb}, v;
    int n = 0;
    if (!mrc)
        for (mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); !mrc;
             mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE)) {
            if (k.mv_size < pl || memcmp(k.mv_data, kb, pl))
                break;
            if ((mrc = mdb_cursor_del(cur, 0)))
                break;
            n++;
            k.mv_size = pl;
            k.mv_data = kb;
        }
    if (mrc == MDB_NOTFOUND)
        mrc = 0;
    if (cur)
        mdb_cursor_close(cur);
    if (mrc)
        rc = fail_mdb(ix, mrc, "cannot delete a deployment");
    else if (!n)
        rc = fail(ix, MF_ENOTFOUND, "no deployment named %s", name);
    return wr_end(ix, txn, rc);
}

/* Walk one database, checking each record with `ok` and that the keys come in order (but in
 * the free list, database 0, whose keys are native integers); a failing record or lmdb error
 * is MF_ECORRUPT (or lmdb's code) with the message on ix. */
static int check_dbi(mf_index *ix, MDB_txn *txn, MDB_dbi dbi, const char *what,
                     int (*ok)(const MDB_val *k, const MDB_val *v))
{
    MDB_cursor *cur;
    int mrc = mdb_cursor_open(txn, dbi, &cur);
    if (mrc)
        return fail_mdb(ix, mrc, what);
    MDB_val k, v;
    int rc = 0;
    uint8_t prev[TASK_KEY_MAX];
    size_t prev_len = 0;
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); !mrc;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
        if ((dbi != 0 && !in_order(prev, sizeof prev, &prev_len, &k, 1)) || !ok(&k, &v)) {
            rc = fail(ix, MF_ECORRUPT,
                      "the index is damaged (a record of its %s does not check): run "
                      "`mflow reindex` to rebuild it from the datastore",
                      what);
            break;
        }
    if (!rc && mrc != MDB_NOTFOUND)
        rc = fail_mdb(ix, mrc, what);
    mdb_cursor_close(cur);
    return rc;
}

static int counter_ok(const MDB_val *k, const MDB_val *v)
{
    return k->mv_size > 0 && k->mv_size < MF_NAME_MAX && v->mv_size == 8;
}

static int run_ok(const MDB_val *k, const MDB_val *v)
{
    struct mf_run_rec rec;
    size_t flen = strnlen(k->mv_data, k->mv_size);
    return flen > 0 && flen < MF_NAME_MAX && k->mv_size == flen + 9 && !decode_run(k, v, &rec);
}

static int task_ok(const MDB_val *k, const MDB_val *v)
{
    struct mf_task_rec rec;
    const uint8_t *kd = k->mv_data;
    size_t flen = strnlen((const char *)kd, k->mv_size);
    if (flen == 0 || flen >= MF_NAME_MAX || k->mv_size < flen + 9 + 2 + 8)
        return 0;
    size_t room = k->mv_size - (flen + 9);
    const uint8_t *sp = kd + flen + 9, *nul = memchr(sp, 0, room - 8);
    size_t sl = nul ? (size_t)(nul - sp) : 0;
    return nul && sl > 0 && sl < MF_NAME_MAX && room == sl + 9 && !decode_task(k, v, &rec);
}

/* lmdb's free list (database 0): page number lists, a count then the pages. A write reuses
 * these pages, so a damaged list would damage the next writes. */
static int free_ok(const MDB_val *k, const MDB_val *v)
{
    if (k->mv_size != sizeof(size_t) || v->mv_size < sizeof(size_t) ||
        v->mv_size % sizeof(size_t))
        return 0;
    size_t n;
    memcpy(&n, v->mv_data, sizeof n);
    return n == v->mv_size / sizeof(size_t) - 1;
}

int mf_index_check(mf_index *ix)
{
    int rc = ready(ix);
    if (rc)
        return rc;
    MDB_txn *txn;
    if ((rc = rd_begin(ix, &txn)))
        return rc;
    if (!(rc = txn == ix->wtxn ? 0 : stamp_check(ix, txn)) &&
        !(rc = check_dbi(ix, txn, ix->counters, "run counters", counter_ok)) &&
        !(rc = check_dbi(ix, txn, ix->runs, "runs", run_ok)) &&
        !(rc = check_dbi(ix, txn, ix->tasks, "tasks", task_ok)) &&
        !(rc = check_dbi(ix, txn, ix->deployments, "deployments", deployment_ok)))
        rc = check_dbi(ix, txn, 0, "free list", free_ok);
    rd_end(ix, txn);
    return rc;
}

int mf_index_set_lazy(mf_index *ix, int lazy)
{
    if (!ix || !ix->env)
        return MF_EINVAL;
    int mrc = mdb_env_set_flags(ix->env, MDB_NOSYNC, lazy ? 1 : 0);
    return mrc ? fail(ix, MF_EIO, "cannot change the sync mode of the index in %s: %s", ix->dir,
                      mdb_strerror(mrc))
               : 0;
}

int mf_index_sync(mf_index *ix)
{
    if (!ix || !ix->env)
        return MF_EINVAL;
    int mrc = mdb_env_sync(ix->env, 1);
    return mrc ? fail(ix, MF_EIO, "cannot flush the index in %s to disk: %s", ix->dir,
                      mdb_strerror(mrc))
               : 0;
}
