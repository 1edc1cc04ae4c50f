/* Content-addressed blobs over a storage plugin instance: see blob.h and sdk/DATASTORE.md.
 *
 * put: hash the caller's pieces (SHA-256, incremental), ask the store whether the blob is
 * already there and intact (then nothing is written; a damaged one is replaced), decide on zstd from a few sampled windows, and hand
 * the store the 16-byte header plus either the caller's own buffers (raw: no copy) or the
 * compressed frame. A large value that the sample says to store raw is instead written while
 * it is hashed, when the store has the streaming writer (ABI 1.1) and the caller may use a
 * second CPU: a second thread writes the header and the caller's buffers (no copy) and the key
 * is given at commit; the bytes stored are the same either way.
 * get: take the store's buffer (for the local store, a read-only mapping), check the header,
 * and either hand out the mapping past the header (raw: no copy) or decompress into one
 * malloc'd buffer; the hash of what is handed out is checked against the key either way. */
#include "blob.h"

#include "util.h"

#include <nettle/sha2.h>
#include <zstd.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define HDR_LEN 16
#define BLOB_PATH_LEN MF_BLOB_PATH_SIZE
_Static_assert(BLOB_PATH_LEN == 9 + MF_BLOB_KEY_LEN + 1, "room for blobs/ab/, a key and a NUL");
#define CODEC_RAW 0
#define CODEC_ZSTD 1

#define SAMPLE_WINDOW ((size_t)64 * 1024)
#define SAMPLE_WINDOWS 4
#define SAMPLE_LEVEL 1
#define ZSTD_LEVEL 3
#define MT_THRESHOLD ((size_t)16 * 1024 * 1024)   /* compress with 2 workers from here */
/* The streaming writer checks `stop` between pieces of this size: a blob found stored waits for
 * one piece at most (the store still starts writeback every 32 MiB, across pieces). */
#define STREAM_PIECE ((size_t)8 * 1024 * 1024)
/* No zstd frame expands more than this (a 128 KiB block costs at least 3 bytes), so a header
 * claiming more is corrupt rather than an allocation to attempt. */
#define MAX_RATIO 65536u

static const uint8_t blob_magic[4] = {'M', 'F', 'B', '1'};

static __thread char err_msg[1024];

static void set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void set_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err_msg, sizeof err_msg, fmt, ap);
    va_end(ap);
}

const char *mf_blob_error(void)
{
    return err_msg[0] ? err_msg : "blob store: the failure left no message (please report the "
                                  "command that printed this)";
}

static const char *store_error(struct mf_store *st)
{
    const char *m = NULL;
    if (st->ops->last_error)
        m = st->ops->last_error(st->state);
    return m && *m ? m : "the storage plugin gave no detail";
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* ---- hashing ---------------------------------------------------------------------------- */

/* Nettle rather than libcrypto: the same SHA-NI speed here (1.8 vs 2.1 GB/s) for a fraction
 * of the start-up cost (about 0.09 ms against 0.54 ms), paid by every task process. */
static int sha256_iov(const struct mf_iov *iov, size_t niov, uint8_t md[32])
{
    struct sha256_ctx ctx;
    sha256_init(&ctx);
    for (size_t i = 0; i < niov; i++)
        if (iov[i].len)
            sha256_update(&ctx, iov[i].len, iov[i].base);
    sha256_digest(&ctx, SHA256_DIGEST_SIZE, md);
    return 0;
}

static void to_hex(const uint8_t md[32], char hex[MF_BLOB_KEY_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[MF_BLOB_KEY_LEN] = '\0';
}

void mf_sha256_hex(const struct mf_iov *iov, size_t niov, char hex[MF_BLOB_KEY_LEN + 1])
{
    uint8_t md[32];
    if (sha256_iov(iov, niov, md)) {
        hex[0] = '\0';   /* no digest could be computed (out of memory) */
        return;
    }
    to_hex(md, hex);
}

int mf_sha256_file(const char *path, char hex[MF_BLOB_KEY_LEN + 1])
{
    char *text = NULL;
    size_t len = 0;
    int rc = mf_read_file(path, &text, &len);
    if (rc)
        return rc;
    struct mf_iov iov = {text, len};
    mf_sha256_hex(&iov, 1, hex);
    free(text);
    return 0;
}

static int valid_key(const char *key)
{
    if (!key)
        return 0;
    for (int i = 0; i < MF_BLOB_KEY_LEN; i++) {
        char c = key[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return 0;
    }
    return key[MF_BLOB_KEY_LEN] == '\0';
}

/* ---- compression ------------------------------------------------------------------------- */

/* Copy len bytes at offset off of the concatenated iovs into dst. */
static void gather(const struct mf_iov *iov, size_t niov, size_t off, uint8_t *dst, size_t len)
{
    size_t i = 0;
    while (i < niov && off >= iov[i].len) {
        off -= iov[i].len;
        i++;
    }
    while (len && i < niov) {
        size_t n = iov[i].len - off;
        if (n > len)
            n = len;
        memcpy(dst, (const uint8_t *)iov[i].base + off, n);
        dst += n;
        len -= n;
        off = 0;
        i++;
    }
}

/* 1 when a few sampled windows compress by at least 10%, 0 when not, <0 on error. */
static int worth_compressing(ZSTD_CCtx *cctx, const struct mf_iov *iov, size_t niov,
                             size_t total)
{
    size_t win = total < SAMPLE_WINDOW ? total : SAMPLE_WINDOW;
    int nwin = total <= SAMPLE_WINDOW * SAMPLE_WINDOWS ? (int)((total + win - 1) / win)
                                                       : SAMPLE_WINDOWS;
    size_t cap = ZSTD_compressBound(win);
    uint8_t *in = malloc(win), *out = malloc(cap);
    if (!in || !out) {
        free(in);
        free(out);
        return MF_ENOMEM;
    }
    size_t raw = 0, packed = 0;
    for (int w = 0; w < nwin; w++) {
        /* Evenly spread over the value, the last window ending at its end. */
        size_t off = nwin == 1 ? 0 : (size_t)((total - win) / (uint64_t)(nwin - 1) * (uint64_t)w);
        size_t n = total - off < win ? total - off : win;
        gather(iov, niov, off, in, n);
        size_t r = ZSTD_compressCCtx(cctx, out, cap, in, n, SAMPLE_LEVEL);
        if (ZSTD_isError(r)) {
            free(in);
            free(out);
            return MF_EFAIL;
        }
        raw += n;
        packed += r;
    }
    free(in);
    free(out);
    return packed * 10 <= raw * 9;
}

/* Compress the iovs into one zstd frame in a new buffer. */
static int compress_iov(ZSTD_CCtx *cctx, const struct mf_iov *iov, size_t niov, size_t total,
                        uint8_t **dst, size_t *dlen)
{
    size_t cap = ZSTD_compressBound(total);
    if (ZSTD_isError(cap))
        return MF_ENOMEM;
    /* Pages of this buffer are only touched as the frame is written. */
    uint8_t *buf = malloc(cap ? cap : 1);
    if (!buf)
        return MF_ENOMEM;
    ZSTD_CCtx_reset(cctx, ZSTD_reset_session_and_parameters);
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, ZSTD_LEVEL);
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 0);     /* SHA-256 covers the content */
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 1);
    if (total >= MT_THRESHOLD)
        ZSTD_CCtx_setParameter(cctx, ZSTD_c_nbWorkers, 2);    /* ignored without MT support */
    ZSTD_CCtx_setPledgedSrcSize(cctx, total);
    ZSTD_outBuffer out = {buf, cap, 0};
    size_t r;
    for (size_t i = 0; i < niov; i++) {
        ZSTD_inBuffer in = {iov[i].base, iov[i].len, 0};
        while (in.pos < in.size) {
            r = ZSTD_compressStream2(cctx, &out, &in, ZSTD_e_continue);
            if (ZSTD_isError(r))
                goto fail;
        }
    }
    ZSTD_inBuffer none = {NULL, 0, 0};
    do {
        r = ZSTD_compressStream2(cctx, &out, &none, ZSTD_e_end);
        if (ZSTD_isError(r))
            goto fail;
    } while (r != 0);
    *dst = buf;
    *dlen = out.pos;
    return 0;
fail:
    free(buf);
    return MF_EFAIL;
}

/* ---- a stored blob found by a put ----------------------------------------------------------- */

/* A put that finds its key present checks what is there before trusting it: a blob damaged on
 * disk (a flipped byte, cut short, emptied, overwritten) would otherwise never be repaired,
 * since every later write of the same value would skip it. Values up to this size are read
 * back and verified in full (header, length, zstd, SHA-256), which costs one read and one hash
 * of at most 16 MiB, less than the write it saves. Larger ones only have their stored size
 * checked (through list: a stat locally, one LIST request on S3): a raw blob must be exactly
 * its header plus the value, a compressed one no longer than that. A flipped byte inside a
 * large blob is still found by every read, which says to delete the blob and re-run. */
#define VERIFY_FULL_MAX ((size_t)16 * 1024 * 1024)
static size_t verify_full_max = VERIFY_FULL_MAX;

void mf_blob_set_verify(size_t full_max)
{
    verify_full_max = full_max ? full_max : VERIFY_FULL_MAX;
}

struct size_seen {
    const char *path;
    int found;
    uint64_t size;
};

static int note_size(void *ud, const char *key, uint64_t size)
{
    struct size_seen *s = ud;
    if (!strcmp(key, s->path)) {
        s->found = 1;
        s->size = size;
    }
    return 0;
}

/* 1 when the blob `key` stored at `path` holds `total` bytes of value and can be trusted, 0
 * when it must be written again (damaged, gone meanwhile, or unreadable: writing the right
 * bytes over it is always safe). `raw` is 1 when the value would be stored raw, 0 when it
 * may be compressed, -1 when not known. Leaves no error message behind. */
static int stored_ok(struct mf_store *st, const char *key, const char *path, size_t total,
                     int raw)
{
    int ok;
    if (total <= verify_full_max) {
        struct mf_blob b;
        ok = mf_blob_get(st, key, &b) == 0 && b.len == total;
        mf_blob_release(&b);
    } else if (st->ops->list) {
        struct size_seen seen = {path, 0, 0};
        int rc = st->ops->list(st->state, path, note_size, &seen);
        uint64_t full = HDR_LEN + (uint64_t)total;
        ok = rc == 0 && seen.found &&
             (raw == 1 ? seen.size == full : seen.size > HDR_LEN && seen.size <= full);
    } else {
        ok = 1;   /* no cheap way to look: trusted, and checked by every read */
    }
    err_msg[0] = '\0';
    return ok;
}

/* ---- put, streamed --------------------------------------------------------------------------- */

/* Raw values from this size on are written while they are hashed, when the store can: hashing
 * takes about 0.5 s a GiB here, which the write then hides. Below it the value is hashed first,
 * so one that is already stored costs an existence check and is never written, and the
 * overlap would save a few tens of milliseconds at most. */
#define STREAM_THRESHOLD ((size_t)64 * 1024 * 1024)
static size_t stream_threshold = STREAM_THRESHOLD;
/* The overlap needs a second CPU. Here writing to the page cache is CPU work too (0.6 to 1.7 s
 * of system time a GiB), so a task bound to one CPU (the local compute plugin binds a cpu = 1
 * task to one) only interleaves the two threads: measured no faster, and a value already
 * stored would have its hash slowed by a write that is then dropped. */
#define STREAM_MIN_CPUS 2
static int stream_min_cpus = STREAM_MIN_CPUS;

void mf_blob_set_stream(size_t threshold, int min_cpus)
{
    stream_threshold = threshold ? threshold : STREAM_THRESHOLD;
    stream_min_cpus = min_cpus ? min_cpus : STREAM_MIN_CPUS;
}

/* CPUs this thread may run on (a large number when it cannot tell). */
static int usable_cpus(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return 1 << 20;   /* more CPUs than cpu_set_t holds */
    return CPU_COUNT(&set);
}

/* The store's MF_STORAGE_* flags (none before plugin ABI 1.5). */
static uint32_t store_flags(const struct mf_storage_ops *o)
{
    return MF_HAS_FIELD(o, flags) ? o->flags : 0;
}

/* The store has all of the 1.1 streaming writer inside the table size it declared. */
static int has_writer(const struct mf_storage_ops *o)
{
    return MF_HAS_FIELD(o, writer_abort) && o->writer_open && o->writer_write &&
           o->writer_commit && o->writer_abort;
}

struct stream {
    struct mf_store *st;
    mf_writer *w;
    const struct mf_iov *pieces;   /* the blob header, then the caller's buffers */
    size_t npieces;
    atomic_int stop;               /* set by the hashing thread: the blob exists, or failed */
    int rc;                        /* the writing thread's result */
    char msg[512];                 /* the store's message for rc, taken in the writing thread */
};

/* The writing thread: hand the pieces to writer_write STREAM_PIECE bytes at a time, straight
 * from the caller's memory, until done or told to stop. */
static void *stream_write(void *arg)
{
    struct stream *s = arg;
    size_t i = 0, off = 0;
    while (i < s->npieces && !atomic_load_explicit(&s->stop, memory_order_relaxed)) {
        struct mf_iov batch[16];
        size_t n = 0, len = 0;
        while (i < s->npieces && n < 16 && len < STREAM_PIECE) {
            size_t take = s->pieces[i].len - off;
            if (take > STREAM_PIECE - len)
                take = STREAM_PIECE - len;
            if (take)
                batch[n++] = (struct mf_iov){(const uint8_t *)s->pieces[i].base + off, take};
            len += take;
            off += take;
            if (off == s->pieces[i].len) {
                i++;
                off = 0;
            }
        }
        if (!n)
            continue;
        int rc = s->st->ops->writer_write(s->st->state, s->w, batch, n);
        if (rc) {
            s->rc = rc;
            snprintf(s->msg, sizeof s->msg, "%s", store_error(s->st));
            break;
        }
    }
    return NULL;
}

/* The 16-byte header of a raw blob of total bytes (the codec byte is changed for zstd). */
static void raw_header(uint8_t hdr[HDR_LEN], size_t total)
{
    memcpy(hdr, blob_magic, 4);
    hdr[4] = CODEC_RAW;
    hdr[5] = hdr[6] = hdr[7] = 0;
    put_u64(hdr + 8, (uint64_t)total);
}

/* Store a raw value by writing it while it is hashed. *handled is 0 when nothing was done
 * because the writer could not start (the caller then takes the hash-first path). */
static int put_streamed(struct mf_store *st, const struct mf_iov *iov, size_t niov, size_t total,
                        char key[MF_BLOB_KEY_LEN + 1], uint64_t *stored, int *handled)
{
    *handled = 0;
    uint8_t hdr[HDR_LEN];
    raw_header(hdr, total);
    struct mf_iov *pieces = malloc((niov + 1) * sizeof *pieces);
    if (!pieces)
        return 0;
    pieces[0] = (struct mf_iov){hdr, HDR_LEN};
    memcpy(pieces + 1, iov, niov * sizeof *iov);

    struct stream s = {.st = st, .pieces = pieces, .npieces = niov + 1};
    atomic_init(&s.stop, 0);
    if (st->ops->writer_open(st->state, &s.w) != 0 || !s.w) {
        free(pieces);
        return 0;
    }
    /* Signals stay with the calling thread, as before there was a second one. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_t tid;
    int started = pthread_create(&tid, NULL, stream_write, &s) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!started) {
        st->ops->writer_abort(st->state, s.w);
        free(pieces);
        return 0;
    }
    *handled = 1;

    uint8_t md[32];
    sha256_iov(iov, niov, md);
    to_hex(md, key);
    char path[BLOB_PATH_LEN];
    mf_blob_path(key, path, sizeof path);
    int present = st->ops->exists(st->state, path);
    char exists_msg[512] = "";
    /* A damaged blob under this key is replaced by what is being written. */
    int replace = present == 1 && !stored_ok(st, key, path, total, 1);
    if (replace)
        present = 0;
    if (present != 0) {
        if (present != 1)
            snprintf(exists_msg, sizeof exists_msg, "%s", store_error(st));
        atomic_store(&s.stop, 1);   /* nothing more to write: stored already, or failing */
    }
    pthread_join(tid, NULL);
    free(pieces);

    int rc;
    if (present == 1) {
        st->ops->writer_abort(st->state, s.w);
        return 0;   /* content-addressed: already stored, the temp is dropped */
    }
    if (present != 0) {
        st->ops->writer_abort(st->state, s.w);
        set_error("blob %s: cannot check whether %s exists: %s", key, path, exists_msg);
        return present < 0 ? present : MF_EIO;
    }
    if (s.rc) {
        st->ops->writer_abort(st->state, s.w);
        set_error("blob %s: cannot store %s: %s", key, path, s.msg);
        return s.rc;
    }
    rc = st->ops->writer_commit(st->state, s.w, path, replace ? 0 : MF_PUT_IF_ABSENT);
    if (rc) {
        set_error("blob %s: cannot store %s: %s", key, path, store_error(st));
        return rc;
    }
    if (stored)
        *stored = HDR_LEN + (uint64_t)total;
    return 0;
}

/* ---- put ----------------------------------------------------------------------------------- */

int mf_blob_put(struct mf_store *st, const struct mf_iov *iov, size_t niov,
                char key[MF_BLOB_KEY_LEN + 1], uint64_t *stored)
{
    if (stored)
        *stored = 0;
    err_msg[0] = '\0';
    if (!st || !st->ops || !st->ops->put || !st->ops->exists || !key || (niov && !iov)) {
        set_error("blob put: no store or no value given (a bug in the caller)");
        return MF_EINVAL;
    }
    size_t total = 0;
    for (size_t i = 0; i < niov; i++) {
        if (iov[i].len && !iov[i].base) {
            set_error("blob put: piece %zu of the value has no data (a bug in the caller)", i);
            return MF_EINVAL;
        }
        if (iov[i].len > SIZE_MAX - total) {
            set_error("blob put: the value is larger than memory can address");
            return MF_EINVAL;
        }
        total += iov[i].len;
    }

    /* A large value that will be stored raw: write it while hashing it. */
    int sampled = 0, worth = 0;
    if (total >= stream_threshold && total >= 64 && has_writer(st->ops) &&
        !(store_flags(st->ops) & MF_STORAGE_WRITER_COPIES) &&
        (stream_min_cpus <= 1 || usable_cpus() >= stream_min_cpus)) {
        ZSTD_CCtx *cctx = ZSTD_createCCtx();
        worth = cctx ? worth_compressing(cctx, iov, niov, total) : MF_ENOMEM;
        ZSTD_freeCCtx(cctx);
        sampled = 1;
        if (worth != 1) {
            int handled, rc = put_streamed(st, iov, niov, total, key, stored, &handled);
            if (handled)
                return rc;
        }
    }

    uint8_t md[32];
    int rc = sha256_iov(iov, niov, md);
    if (rc) {
        set_error("blob put: SHA-256 failed (code %d)", rc);
        return rc;
    }
    to_hex(md, key);
    char path[BLOB_PATH_LEN];
    mf_blob_path(key, path, sizeof path);

    rc = st->ops->exists(st->state, path);
    int replace = 0;
    if (rc == 1) {
        if (!sampled && total > verify_full_max && total >= 64) {
            /* The sample tells whether the blob must be raw, for its size check. */
            ZSTD_CCtx *cctx = ZSTD_createCCtx();
            worth = cctx ? worth_compressing(cctx, iov, niov, total) : MF_ENOMEM;
            ZSTD_freeCCtx(cctx);
            sampled = worth >= 0;
        }
        if (stored_ok(st, key, path, total, sampled && worth == 0 ? 1 : -1))
            return 0;   /* content-addressed: already stored, nothing to write */
        replace = 1;    /* damaged: written again, atomically over it */
        rc = 0;
    }
    if (rc != 0) {
        set_error("blob %s: cannot check whether %s exists: %s", key, path, store_error(st));
        return rc < 0 ? rc : MF_EIO;
    }

    uint8_t hdr[HDR_LEN];
    raw_header(hdr, total);

    /* zstd only when it saves 10%; any trouble compressing (memory) just stores it raw. */
    uint8_t *packed = NULL;
    size_t packed_len = 0;
    if (total >= 64) {
        ZSTD_CCtx *cctx = ZSTD_createCCtx();
        if (cctx && (sampled ? worth : worth_compressing(cctx, iov, niov, total)) == 1 &&
            compress_iov(cctx, iov, niov, total, &packed, &packed_len) == 0 &&
            (uint64_t)packed_len * 10 > (uint64_t)total * 9) {
            free(packed);   /* the sample misled: the whole value saved less than 10% */
            packed = NULL;
        }
        ZSTD_freeCCtx(cctx);
    }

    struct mf_iov small[9], *pieces = small;
    size_t npieces;
    if (packed) {
        hdr[4] = CODEC_ZSTD;
        small[0] = (struct mf_iov){hdr, HDR_LEN};
        small[1] = (struct mf_iov){packed, packed_len};
        npieces = 2;
    } else {
        if (niov + 1 > sizeof small / sizeof small[0]) {
            pieces = malloc((niov + 1) * sizeof *pieces);
            if (!pieces) {
                set_error("blob %s: out of memory", key);
                return MF_ENOMEM;
            }
        }
        pieces[0] = (struct mf_iov){hdr, HDR_LEN};
        memcpy(pieces + 1, iov, niov * sizeof *iov);
        npieces = niov + 1;
    }
    uint64_t bytes = HDR_LEN + (uint64_t)(packed ? packed_len : total);
    rc = st->ops->put(st->state, path, pieces, npieces, replace ? 0 : MF_PUT_IF_ABSENT);
    if (pieces != small)
        free(pieces);
    free(packed);
    if (rc) {
        set_error("blob %s: cannot store %s: %s", key, path, store_error(st));
        return rc;
    }
    if (stored)
        *stored = bytes;
    return 0;
}

/* ---- get ----------------------------------------------------------------------------------- */

static void free_buf(struct mf_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
}

static void release_store_buf(struct mf_buf *b)
{
    if (b->release)
        b->release(b);
    memset(b, 0, sizeof *b);
}

/* The SHA-256 md of a blob's content against its key: 0, or MF_ECORRUPT with what to do. */
static int check_digest(const char *key, const uint8_t md[32])
{
    char hex[MF_BLOB_KEY_LEN + 1];
    to_hex(md, hex);
    if (memcmp(hex, key, MF_BLOB_KEY_LEN) == 0)
        return 0;
    char path[BLOB_PATH_LEN];
    mf_blob_path(key, path, sizeof path);
    set_error("blob %s is corrupt: its content hashes to %s; delete %s and re-run the step "
              "that produced it",
              key, hex, path);
    return MF_ECORRUPT;
}

static int check_hash(const char *key, const void *data, size_t len)
{
    uint8_t md[32];
    struct mf_iov v = {data, len};
    int rc = sha256_iov(&v, 1, md);
    if (rc) {
        set_error("blob %s: SHA-256 failed (code %d)", key, rc);
        return rc;
    }
    return check_digest(key, md);
}

static int corrupt(const char *key, const char *what)
{
    char path[BLOB_PATH_LEN];
    mf_blob_path(key, path, sizeof path);
    set_error("blob %s is corrupt: %s; delete %s and re-run the step that produced it", key,
              what, path);
    return MF_ECORRUPT;
}

static int decompress(const char *key, const uint8_t *src, size_t slen, uint64_t rawlen,
                      uint8_t **dst)
{
    unsigned long long fcs = ZSTD_getFrameContentSize(src, slen);
    if (fcs == ZSTD_CONTENTSIZE_ERROR)
        return corrupt(key, "the zstd frame header is invalid");
    if (fcs != ZSTD_CONTENTSIZE_UNKNOWN && fcs != rawlen)
        return corrupt(key, "the zstd frame's size disagrees with the blob header");
    if (rawlen > SIZE_MAX)
        return corrupt(key, "its length is larger than memory can address");
    uint8_t *buf = malloc(rawlen ? (size_t)rawlen : 1);
    if (!buf) {
        set_error("blob %s: out of memory decompressing %llu bytes", key,
                  (unsigned long long)rawlen);
        return MF_ENOMEM;
    }
    ZSTD_DCtx *dctx = ZSTD_createDCtx();
    if (!dctx) {
        free(buf);
        set_error("blob %s: out of memory creating a zstd context", key);
        return MF_ENOMEM;
    }
    int rc = 0;
    if (fcs != ZSTD_CONTENTSIZE_UNKNOWN) {
        size_t r = ZSTD_decompressDCtx(dctx, buf, (size_t)rawlen, src, slen);
        if (ZSTD_isError(r))
            rc = corrupt(key, ZSTD_getErrorName(r));
        else if (r != rawlen)
            rc = corrupt(key, "the zstd data is shorter than its header says");
    } else {
        /* A frame without its size: stream into the buffer, which must fill exactly. */
        ZSTD_inBuffer in = {src, slen, 0};
        ZSTD_outBuffer out = {buf, (size_t)rawlen, 0};
        for (;;) {
            size_t ip = in.pos, op = out.pos;
            size_t r = ZSTD_decompressStream(dctx, &out, &in);
            if (ZSTD_isError(r)) {
                rc = corrupt(key, ZSTD_getErrorName(r));
                break;
            }
            if (r == 0) {
                if (in.pos != in.size || out.pos != out.size)
                    rc = corrupt(key, "the zstd data does not match its header's length");
                break;
            }
            if (in.pos == ip && out.pos == op) {   /* wants more input or more room */
                rc = corrupt(key, "the zstd data does not match its header's length");
                break;
            }
        }
    }
    ZSTD_freeDCtx(dctx);
    if (rc) {
        free(buf);
        return rc;
    }
    *dst = buf;
    return 0;
}

/* A blob's 16-byte header, at p (have bytes of an object of size bytes): 0 with its codec and
 * the value's length, or the error (named) of a short, newer, foreign, truncated or impossible
 * blob. */
static int check_header(const char *key, const uint8_t *p, size_t have, uint64_t size, int *codec,
                        uint64_t *rawlen)
{
    if (have < HDR_LEN || size < HDR_LEN || !p)
        return corrupt(key, "it is shorter than its 16-byte header");
    if (memcmp(p, blob_magic, 3) == 0 && p[3] > blob_magic[3] && p[3] <= '9') {
        /* "MFB" then the format version as a digit: a newer one is named, not called damage */
        set_error("blob %s has format version %c, newer than the version %c this mflow reads: "
                  "read it with a newer mflow",
                  key, p[3], blob_magic[3]);
        return MF_ENOTSUP;
    }
    if (memcmp(p, blob_magic, 4) != 0 || p[5] || p[6] || p[7])
        return corrupt(key, "its header does not start with MFB1");
    *codec = p[4];
    *rawlen = get_u64(p + 8);
    uint64_t body = size - HDR_LEN;
    if (*codec == CODEC_RAW && *rawlen != body)
        return corrupt(key, *rawlen > body ? "it is truncated" : "it is longer than its header says");
    if (*codec != CODEC_RAW && *codec != CODEC_ZSTD)
        return corrupt(key, "its codec byte is neither 0 (raw) nor 1 (zstd)");
    if (*codec == CODEC_ZSTD && (body == 0 || *rawlen / MAX_RATIO > body))
        return corrupt(key, "its length is impossible for its compressed size");
    return 0;
}

/* The store's buffer of blob `key`, its header checked: *codec, *rawlen (the value's length)
 * and the body (b->data past the header, *body bytes). 0, or an error with the message set
 * and nothing left to release. */
static int fetch(struct mf_store *st, const char *key, struct mf_buf *b, int *codec,
                 uint64_t *rawlen, size_t *body)
{
    err_msg[0] = '\0';
    if (!st || !st->ops || !st->ops->get) {
        set_error("blob get: no store or no output given (a bug in the caller)");
        return MF_EINVAL;
    }
    if (!valid_key(key)) {
        set_error("blob key '%.80s' is not 64 lowercase hex characters (a SHA-256); check the "
                  "artifact map of the task record that named it",
                  key ? key : "(null)");
        return MF_EINVAL;
    }
    char path[BLOB_PATH_LEN];
    mf_blob_path(key, path, sizeof path);

    memset(b, 0, sizeof *b);
    b->struct_size = sizeof *b;
    int rc = st->ops->get(st->state, path, b);
    if (rc == MF_ENOTFOUND) {
        set_error("blob %s not found (%s): %s", key, path, store_error(st));
        return rc;
    }
    if (rc) {
        set_error("blob %s: cannot read %s: %s", key, path, store_error(st));
        return rc;
    }
    int rc2 = check_header(key, b->data, b->len, b->len, codec, rawlen);
    if (rc2) {
        release_store_buf(b);
        return rc2;
    }
    *body = b->len - HDR_LEN;
    return 0;
}

int mf_blob_get(struct mf_store *st, const char *key, struct mf_blob *out)
{
    if (out)
        memset(out, 0, sizeof *out);
    if (!out) {
        err_msg[0] = '\0';
        set_error("blob get: no store or no output given (a bug in the caller)");
        return MF_EINVAL;
    }
    struct mf_buf b;
    int codec;
    uint64_t rawlen;
    size_t body;
    int rc = fetch(st, key, &b, &codec, &rawlen, &body);
    if (rc)
        return rc;
    const uint8_t *p = b.data;
    if (codec == CODEC_RAW) {
        rc = check_hash(key, p + HDR_LEN, body);
        if (rc) {
            release_store_buf(&b);
            return rc;
        }
        out->data = p + HDR_LEN;
        out->len = body;
        out->buf = b;   /* the store's mapping stays alive until mf_blob_release */
        return 0;
    }
    uint8_t *raw = NULL;
    rc = decompress(key, p + HDR_LEN, body, rawlen, &raw);
    release_store_buf(&b);
    if (rc)
        return rc;
    rc = check_hash(key, raw, (size_t)rawlen);
    if (rc) {
        free(raw);
        return rc;
    }
    out->data = raw;
    out->len = (size_t)rawlen;
    out->buf.struct_size = sizeof out->buf;
    out->buf.data = raw;
    out->buf.len = (size_t)rawlen;
    out->buf.release = free_buf;
    return 0;
}

void mf_blob_release(struct mf_blob *b)
{
    if (!b)
        return;
    if (b->buf.release)
        b->buf.release(&b->buf);
    memset(b, 0, sizeof *b);
}

/* ---- a value written in pieces --------------------------------------------------------------- */

/* Values up to this size are gathered and put whole: the sample then spreads over all of it,
 * and one already stored is never written. */
#define WHOLE_MAX ((size_t)1024 * 1024)
/* The first bytes, kept to decide on zstd before the blob's header (which says) is written. */
#define HEAD_LEN ((size_t)1024 * 1024)
#define ZOUT_LEN ((size_t)1024 * 1024)

enum { BW_WHOLE, BW_HEAD, BW_RAW, BW_ZSTD };

struct mf_blob_writer {
    struct mf_store *st;
    uint64_t total, got;
    int mode;
    uint8_t *buf;                /* BW_WHOLE: the value; BW_HEAD: its first HEAD_LEN bytes */
    size_t blen;
    struct sha256_ctx sha;       /* of what was written, but in BW_WHOLE (put hashes) */
    mf_writer *sw;               /* the store's writer, from BW_HEAD's end on */
    ZSTD_CCtx *cctx;
    uint8_t *zout;
    uint64_t stored;             /* bytes handed to the store */
    int failed;
};

int mf_blob_writer_open(struct mf_store *st, uint64_t total, mf_blob_writer **out)
{
    err_msg[0] = '\0';
    *out = NULL;
    if (!st || !st->ops || !st->ops->put || !st->ops->exists) {
        set_error("blob writer: no store given (a bug in the caller)");
        return MF_EINVAL;
    }
    if (total > SIZE_MAX - HDR_LEN) {
        set_error("blob writer: a value of %llu bytes is larger than memory can address",
                  (unsigned long long)total);
        return MF_EINVAL;
    }
    mf_blob_writer *w = calloc(1, sizeof *w);
    if (!w) {
        set_error("blob writer: out of memory");
        return MF_ENOMEM;
    }
    w->st = st;
    w->total = total;
    /* Without the store's writer a large value is gathered too: put needs it whole. */
    w->mode = total <= WHOLE_MAX || !has_writer(st->ops) ? BW_WHOLE : BW_HEAD;
    size_t cap = w->mode == BW_WHOLE ? (size_t)total : HEAD_LEN;
    /* Pages of a large buffer are only touched as the value fills it. */
    w->buf = malloc(cap ? cap : 1);
    if (!w->buf) {
        free(w);
        set_error("blob writer: out of memory for %zu bytes", cap);
        return MF_ENOMEM;
    }
    sha256_init(&w->sha);
    *out = w;
    return 0;
}

static int bw_store(mf_blob_writer *w, const void *data, size_t len)
{
    struct mf_iov v = {data, len};
    int rc = w->st->ops->writer_write(w->st->state, w->sw, &v, 1);
    if (rc) {
        set_error("blob writer: cannot write: %s", store_error(w->st));
        return rc;
    }
    w->stored += len;
    return 0;
}

/* Compress data (NULL, 0 with end set: finish the frame) and store what comes out. */
static int bw_zstd(mf_blob_writer *w, const void *data, size_t len, int end)
{
    ZSTD_inBuffer in = {data, len, 0};
    for (;;) {
        ZSTD_outBuffer out = {w->zout, ZOUT_LEN, 0};
        size_t r = ZSTD_compressStream2(w->cctx, &out, &in, end ? ZSTD_e_end : ZSTD_e_continue);
        if (ZSTD_isError(r)) {
            set_error("blob writer: zstd failed: %s", ZSTD_getErrorName(r));
            return MF_EFAIL;
        }
        if (out.pos) {
            int rc = bw_store(w, w->zout, out.pos);
            if (rc)
                return rc;
        }
        if (end ? r == 0 : in.pos == in.size)
            return 0;
    }
}

/* The head is full: decide raw or zstd on it, start the store's writer with the blob header,
 * and pass the head on. */
static int bw_start(mf_blob_writer *w)
{
    struct mf_iov head = {w->buf, w->blen};
    ZSTD_CCtx *cctx = ZSTD_createCCtx();
    int worth = cctx ? worth_compressing(cctx, &head, 1, w->blen) : MF_ENOMEM;
    if (worth < 0) {
        ZSTD_freeCCtx(cctx);
        set_error("blob writer: out of memory sampling the value");
        return worth;
    }
    if (worth == 1) {
        w->zout = malloc(ZOUT_LEN);
        if (!w->zout) {
            ZSTD_freeCCtx(cctx);
            set_error("blob writer: out of memory");
            return MF_ENOMEM;
        }
        ZSTD_CCtx_reset(cctx, ZSTD_reset_session_and_parameters);
        ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, ZSTD_LEVEL);
        ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 0);
        ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 1);
        ZSTD_CCtx_setParameter(cctx, ZSTD_c_nbWorkers, 2);   /* ignored without MT support */
        ZSTD_CCtx_setPledgedSrcSize(cctx, w->total);
        w->cctx = cctx;
    } else {
        ZSTD_freeCCtx(cctx);
    }
    if (w->st->ops->writer_open(w->st->state, &w->sw) != 0 || !w->sw) {
        w->sw = NULL;
        set_error("blob writer: cannot start writing: %s", store_error(w->st));
        return MF_EIO;
    }
    uint8_t hdr[HDR_LEN];
    raw_header(hdr, (size_t)w->total);
    if (w->cctx)
        hdr[4] = CODEC_ZSTD;
    w->mode = w->cctx ? BW_ZSTD : BW_RAW;
    int rc = bw_store(w, hdr, HDR_LEN);
    if (!rc)
        rc = w->cctx ? bw_zstd(w, w->buf, w->blen, 0) : bw_store(w, w->buf, w->blen);
    free(w->buf);
    w->buf = NULL;
    return rc;
}

int mf_blob_writer_write(mf_blob_writer *w, const void *data, size_t len)
{
    err_msg[0] = '\0';
    if (!w || (len && !data)) {
        set_error("blob writer: no writer or no data given (a bug in the caller)");
        return MF_EINVAL;
    }
    if (w->failed) {
        set_error("blob writer: written to after a failure (abort it)");
        return MF_EINVAL;
    }
    if (len > w->total - w->got) {
        w->failed = 1;
        set_error("blob writer: %llu bytes were announced and more are written",
                  (unsigned long long)w->total);
        return MF_EINVAL;
    }
    w->got += len;
    if (w->mode == BW_WHOLE) {
        memcpy(w->buf + w->blen, data, len);
        w->blen += len;
        return 0;
    }
    sha256_update(&w->sha, len, data);
    const uint8_t *p = data;
    int rc = 0;
    if (w->mode == BW_HEAD) {
        size_t n = HEAD_LEN - w->blen < len ? HEAD_LEN - w->blen : len;
        memcpy(w->buf + w->blen, p, n);
        w->blen += n;
        p += n;
        len -= n;
        if (w->blen == HEAD_LEN || w->got == w->total)
            rc = bw_start(w);
    }
    if (!rc && len)
        rc = w->mode == BW_ZSTD ? bw_zstd(w, p, len, 0) : bw_store(w, p, len);
    if (rc)
        w->failed = 1;
    return rc;
}

void mf_blob_writer_abort(mf_blob_writer *w)
{
    if (!w)
        return;
    if (w->sw)
        w->st->ops->writer_abort(w->st->state, w->sw);
    ZSTD_freeCCtx(w->cctx);
    free(w->zout);
    free(w->buf);
    free(w);
}

int mf_blob_writer_close(mf_blob_writer *w, char key[MF_BLOB_KEY_LEN + 1], uint64_t *stored)
{
    err_msg[0] = '\0';
    if (stored)
        *stored = 0;
    if (!w) {
        set_error("blob writer: no writer given (a bug in the caller)");
        return MF_EINVAL;
    }
    int rc = 0;
    if (w->failed) {
        set_error("blob writer: closed after a failure (abort it)");
        rc = MF_EINVAL;
    } else if (w->got != w->total) {
        set_error("blob writer: %llu bytes were announced and %llu written",
                  (unsigned long long)w->total, (unsigned long long)w->got);
        rc = MF_EINVAL;
    }
    if (rc || w->mode == BW_WHOLE) {
        if (!rc) {
            struct mf_iov v = {w->buf, w->blen};
            rc = mf_blob_put(w->st, &v, 1, key, stored);
        }
        mf_blob_writer_abort(w);
        return rc;
    }
    if (w->mode == BW_ZSTD && (rc = bw_zstd(w, NULL, 0, 1)) != 0) {
        mf_blob_writer_abort(w);
        return rc;
    }
    uint8_t md[32];
    sha256_digest(&w->sha, SHA256_DIGEST_SIZE, md);
    to_hex(md, key);
    char path[BLOB_PATH_LEN];
    mf_blob_path(key, path, sizeof path);
    struct mf_store *st = w->st;
    int present = st->ops->exists(st->state, path);
    /* A damaged blob under this key is replaced by what was written. */
    int replace = present == 1 && !stored_ok(st, key, path, (size_t)w->total,
                                             w->mode == BW_RAW ? 1 : 0);
    if (present == 1 && !replace) {
        mf_blob_writer_abort(w);
        return 0;   /* content-addressed: already stored, what was written is dropped */
    }
    if (present != 0 && present != 1) {
        set_error("blob %s: cannot check whether %s exists: %s", key, path, store_error(st));
        mf_blob_writer_abort(w);
        return present < 0 ? present : MF_EIO;
    }
    mf_writer *sw = w->sw;
    w->sw = NULL;
    uint64_t bytes = w->stored;
    mf_blob_writer_abort(w);
    rc = st->ops->writer_commit(st->state, sw, path, replace ? 0 : MF_PUT_IF_ABSENT);
    if (rc) {
        set_error("blob %s: cannot store %s: %s", key, path, store_error(st));
        return rc;
    }
    if (stored)
        *stored = bytes;
    return 0;
}

/* ---- reading into the caller's memory -------------------------------------------------------- */

/* 1 when p lies in a mapping of a file (then its pages can be dropped once read: they come
 * back from the page cache), 0 when not or when it cannot tell (a heap buffer: dropping its
 * pages would lose them). */
static int file_mapped(const void *p)
{
    FILE *f = fopen("/proc/self/maps", "re");
    if (!f)
        return 0;
    uintptr_t a = (uintptr_t)p;
    char line[512];
    int found = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi, ino;
        char perms[8];
        if (sscanf(line, "%lx-%lx %7s %*x %*x:%*x %lu", &lo, &hi, perms, &ino) == 4 && a >= lo &&
            a < hi) {
            found = ino != 0 && perms[3] == 'p';
            break;
        }
        /* a line longer than the buffer: skip the rest of it */
        while (!strchr(line, '\n') && fgets(line, sizeof line, f))
            ;
    }
    fclose(f);
    return found;
}

/* Drop the mapped pages wholly inside [base + from, base + to). */
static void drop_pages(const uint8_t *base, size_t from, size_t to)
{
    uintptr_t ps = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t lo = ((uintptr_t)base + from + ps - 1) & ~(ps - 1);
    uintptr_t hi = ((uintptr_t)base + to) & ~(ps - 1);
    if (hi > lo)
        madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

#define READ_PIECE ((size_t)1024 * 1024)
/* Below this a blob's pages are not worth the look at /proc/self/maps. */
#define DROP_MIN ((size_t)2 * 1024 * 1024)

/* Where a read puts its bytes: the spans next() hands out, filled one after the other. */
struct sink {
    mf_blob_span_fn next;
    void *ud;
    uint8_t *p;                  /* the span being filled, and the room left in it */
    size_t room;
    int stopped;                 /* next() failed or gave no room */
};

/* Room in the current span, asking next() for a new one when it is full: 0 on success. */
static int sink_room(struct sink *k)
{
    /* a few empty spans are allowed; a next() that only gives empty ones is stopped */
    for (int i = 0; k->room == 0 && i < 64; i++) {
        void *d = NULL;
        size_t n = 0;
        if (k->next(k->ud, &d, &n) != 0 || (n && !d))
            break;
        k->p = d;
        k->room = n;
    }
    if (k->room == 0)
        k->stopped = 1;
    return k->room ? 0 : -1;
}

static int sink_put(struct sink *k, const uint8_t *src, size_t n)
{
    while (n) {
        if (sink_room(k))
            return -1;
        size_t m = n < k->room ? n : k->room;
        memcpy(k->p, src, m);
        k->p += m;
        k->room -= m;
        src += m;
        n -= m;
    }
    return 0;
}

/* A store whose get copies (MF_STORAGE_GET_COPIES, plugin ABI 1.5: S3) is read with get_range
 * in pieces of this size straight into the caller's memory: the value is held once, plus one
 * piece. On S3 a piece is fetched as parallel ranges of part_size, so it is worth several
 * parts. A store whose get maps the object (local) is read through the mapping, one copy. */
#define RANGE_PIECE ((size_t)32 * 1024 * 1024)
static size_t range_piece = RANGE_PIECE;

void mf_blob_set_range_piece(size_t piece)
{
    range_piece = piece > HDR_LEN ? piece : RANGE_PIECE;   /* the header fits in the first */
}

/* A value being read into the caller's spans (struct sink), hashed as it comes. */
struct into {
    const char *key;
    struct sink *k;
    uint64_t rawlen, made;
    struct sha256_ctx sha;
    ZSTD_DCtx *dctx;        /* a zstd blob */
    int ended;              /* its frame has ended */
};

static int feed_raw(struct into *x, const uint8_t *src, size_t n)
{
    if (n > x->rawlen - x->made)
        return corrupt(x->key, "it is longer than its header says");
    sha256_update(&x->sha, n, src);
    if (sink_put(x->k, src, n))
        return MF_EINVAL;
    x->made += n;
    return 0;
}

/* Decompress the next n bytes of the frame into head, then dst: the output never goes past
 * the value's length, and the input never past the frame's end. */
static int feed_zstd(struct into *x, const uint8_t *src, size_t n)
{
    ZSTD_inBuffer in = {src, n, 0};
    for (;;) {
        if (x->ended)
            return in.pos == in.size
                       ? 0
                       : corrupt(x->key, "the zstd data does not match its header's length");
        /* the output buffer is the span being filled (none is asked for past the end) */
        if (x->made < x->rawlen && sink_room(x->k))
            return MF_EINVAL;
        uint8_t *o = x->k->p;
        size_t room = x->made < x->rawlen ? x->k->room : 0;
        ZSTD_outBuffer out = {o, room, 0};
        size_t ip = in.pos;
        size_t r = ZSTD_decompressStream(x->dctx, &out, &in);
        if (ZSTD_isError(r))
            return corrupt(x->key, ZSTD_getErrorName(r));
        if (out.pos) {
            sha256_update(&x->sha, out.pos, o);
            x->k->p += out.pos;
            x->k->room -= out.pos;
        }
        x->made += out.pos;
        if (r == 0) {
            x->ended = 1;
            continue;
        }
        if (in.pos == ip && out.pos == 0) {
            if (in.pos == in.size)
                return 0;   /* wants the next piece */
            return corrupt(x->key, "the zstd data does not match its header's length");
        }
    }
}

/* mf_blob_read_spans through the store's get_range: piece by piece into the caller's spans. */
static int read_ranged(struct mf_store *st, const char *key, uint64_t len, struct sink *k)
{
    err_msg[0] = '\0';
    if (!valid_key(key)) {
        set_error("blob key '%.80s' is not 64 lowercase hex characters (a SHA-256); check the "
                  "artifact map of the task record that named it",
                  key ? key : "(null)");
        return MF_EINVAL;
    }
    char path[BLOB_PATH_LEN];
    mf_blob_path(key, path, sizeof path);
    struct into x = {.key = key, .k = k, .rawlen = len};
    sha256_init(&x.sha);
    uint64_t off = 0, size = 0;
    int rc = 0;
    do {
        struct mf_buf b;
        memset(&b, 0, sizeof b);
        b.struct_size = sizeof b;
        uint64_t sz = 0;
        rc = st->ops->get_range(st->state, path, off, range_piece, &b, &sz);
        if (rc) {
            set_error(rc == MF_ENOTFOUND ? "blob %s not found (%s): %s"
                                         : "blob %s: cannot read %s: %s",
                      key, path, store_error(st));
            break;
        }
        const uint8_t *p = b.data;
        size_t n = b.data ? b.len : 0;
        if (off == 0) {
            size = sz;
            int codec = 0;
            uint64_t rawlen = 0;
            rc = check_header(key, p, n, size, &codec, &rawlen);
            if (!rc && rawlen != x.rawlen) {
                char what[160];
                snprintf(what, sizeof what, "it holds %llu bytes where its task record says %llu",
                         (unsigned long long)rawlen, (unsigned long long)x.rawlen);
                rc = corrupt(key, what);
            }
            if (!rc && codec == CODEC_ZSTD && !(x.dctx = ZSTD_createDCtx())) {
                set_error("blob %s: out of memory creating a zstd context", key);
                rc = MF_ENOMEM;
            }
            p += HDR_LEN;
            n -= n < HDR_LEN ? n : HDR_LEN;
        } else if (sz != size || n == 0) {
            rc = corrupt(key, "it changed size while it was read");
        }
        if (!rc)
            rc = x.dctx ? feed_zstd(&x, p, n) : feed_raw(&x, p, n);
        off += b.len;
        release_store_buf(&b);
    } while (!rc && off < size);
    if (!rc && x.dctx && (!x.ended || x.made != x.rawlen))
        rc = corrupt(key, "the zstd data does not match its header's length");
    ZSTD_freeDCtx(x.dctx);
    if (rc)
        return rc;
    uint8_t md[32];
    sha256_digest(&x.sha, SHA256_DIGEST_SIZE, md);
    return check_digest(key, md);
}

int mf_blob_read_spans(struct mf_store *st, const char *key, uint64_t len, mf_blob_span_fn next,
                       void *ud)
{
    if (!next) {
        err_msg[0] = '\0';
        set_error("blob read: no span function given (a bug in the caller)");
        return MF_EINVAL;
    }
    if (st && st->ops && MF_HAS_FIELD(st->ops, get_range) && st->ops->get_range &&
        (store_flags(st->ops) & MF_STORAGE_GET_COPIES)) {
        struct sink k = {.next = next, .ud = ud};
        int rc = read_ranged(st, key, len, &k);
        if (rc == MF_EINVAL && k.stopped)
            set_error("blob %s: the read was stopped by its reader (no room given for the "
                      "value's bytes)",
                      key);
        return rc;
    }
    struct mf_buf b;
    int codec;
    uint64_t rawlen;
    size_t body;
    int rc = fetch(st, key, &b, &codec, &rawlen, &body);
    if (rc)
        return rc;
    if (rawlen != len) {
        release_store_buf(&b);
        char what[160];
        snprintf(what, sizeof what, "it holds %llu bytes where its task record says %llu",
                 (unsigned long long)rawlen, (unsigned long long)len);
        return corrupt(key, what);
    }
    const uint8_t *src = (const uint8_t *)b.data + HDR_LEN;
    int drop = body >= DROP_MIN && file_mapped(b.data);
    struct sha256_ctx sha;
    sha256_init(&sha);
    struct sink k = {.next = next, .ud = ud};
    if (codec == CODEC_RAW) {
        for (size_t off = 0; off < body && rc == 0;) {
            size_t n = body - off < READ_PIECE ? body - off : READ_PIECE;
            sha256_update(&sha, n, src + off);
            if (sink_put(&k, src + off, n))
                rc = MF_EINVAL;
            off += n;
            if (drop)
                drop_pages(b.data, 0, HDR_LEN + off);
        }
    } else {
        ZSTD_DCtx *dctx = ZSTD_createDCtx();
        if (!dctx) {
            release_store_buf(&b);
            set_error("blob %s: out of memory creating a zstd context", key);
            return MF_ENOMEM;
        }
        /* the frame is handed to zstd a piece at a time: given all of it, one call would
         * decompress the whole value into a large span, faulting in the whole mapping before
         * a page of it could be dropped */
        ZSTD_inBuffer in = {src, body < READ_PIECE ? body : READ_PIECE, 0};
        uint64_t made = 0;
        size_t dropped = 0;
        while (rc == 0) {
            if (in.pos == in.size && in.size < body)
                in.size = body - in.size < READ_PIECE ? body : in.size + READ_PIECE;
            /* the output buffer is the span being filled (none is asked for past the end) */
            if (made < rawlen && sink_room(&k)) {
                rc = MF_EINVAL;
                break;
            }
            uint8_t *o = k.p;
            size_t room = made < rawlen ? k.room : 0;
            ZSTD_outBuffer out = {o, room, 0};
            size_t ip = in.pos;
            size_t r = ZSTD_decompressStream(dctx, &out, &in);
            if (ZSTD_isError(r)) {
                rc = corrupt(key, ZSTD_getErrorName(r));
                break;
            }
            if (out.pos) {
                sha256_update(&sha, out.pos, o);
                k.p += out.pos;
                k.room -= out.pos;
            }
            made += out.pos;
            if (drop && in.pos - dropped >= READ_PIECE) {
                drop_pages(b.data, 0, HDR_LEN + in.pos);
                dropped = in.pos;
            }
            if (r == 0) {
                if (in.pos != body || made != rawlen)
                    rc = corrupt(key, "the zstd data does not match its header's length");
                break;
            }
            if (in.pos == ip && out.pos == 0 && (made == rawlen || in.pos == body)) {
                rc = corrupt(key, "the zstd data does not match its header's length");
                break;
            }
        }
        ZSTD_freeDCtx(dctx);
    }
    release_store_buf(&b);
    if (rc == MF_EINVAL && k.stopped) {
        set_error("blob %s: the read was stopped by its reader (no room given for the value's "
                  "bytes)",
                  key);
        return rc;
    }
    if (rc)
        return rc;
    uint8_t md[32];
    sha256_digest(&sha, SHA256_DIGEST_SIZE, md);
    return check_digest(key, md);
}

/* mf_blob_read_into's two spans: head's skip bytes, then dst's dlen. */
struct two_spans {
    void *p[2];
    size_t n[2];
    int i;
};

static int next_of_two(void *ud, void **dst, size_t *len)
{
    struct two_spans *s = ud;
    while (s->i < 2 && s->n[s->i] == 0)
        s->i++;
    if (s->i == 2)
        return -1;
    *dst = s->p[s->i];
    *len = s->n[s->i];
    s->i++;
    return 0;
}

int mf_blob_read_into(struct mf_store *st, const char *key, void *head, size_t skip, void *dst,
                      size_t dlen)
{
    if ((skip && !head) || (dlen && !dst) || dlen > SIZE_MAX - skip) {
        err_msg[0] = '\0';
        set_error("blob read: no buffer given (a bug in the caller)");
        return MF_EINVAL;
    }
    struct two_spans s = {{head, dst}, {skip, dlen}, 0};
    return mf_blob_read_spans(st, key, (uint64_t)skip + dlen, next_of_two, &s);
}
/* ---- reading piece by piece ----------------------------------------------------------------- */

struct mf_blob_reader {
    struct mf_store *st;
    char key[MF_BLOB_KEY_LEN + 1];
    char path[BLOB_PATH_LEN];
    uint64_t len, done;          /* of the encoded value */
    struct sha256_ctx sha;
    int checked;
};

/* A get_range that handed back more than the len it was asked for: a plugin bug, which must
 * not overrun the caller's buffer. */
static int overfilled(struct mf_store *st, const char *key, const char *path, size_t got,
                      size_t asked)
{
    set_error("blob %s: storage plugin %s returned %zu bytes of %s where %zu were asked (its "
              "get_range must return at most len bytes: fix or update the plugin)",
              key, st->desc && st->desc->name ? st->desc->name : "(unnamed)", got, path, asked);
    return MF_EIO;
}

int mf_blob_reader_open(struct mf_store *st, const char *key, mf_blob_reader **out,
                        uint64_t *len)
{
    *out = NULL;
    err_msg[0] = '\0';
    if (!valid_key(key)) {
        set_error("blob key '%.80s' is not 64 lowercase hex characters (a SHA-256)",
                  key ? key : "(null)");
        return MF_EINVAL;
    }
    if (!st || !st->ops || !MF_HAS_FIELD(st->ops, get_range) || !st->ops->get_range)
        return MF_ENOTSUP;
    char path[BLOB_PATH_LEN];
    mf_blob_path(key, path, sizeof path);
    struct mf_buf b;
    memset(&b, 0, sizeof b);
    b.struct_size = sizeof b;
    uint64_t size = 0;
    int rc = st->ops->get_range(st->state, path, 0, HDR_LEN, &b, &size);
    if (rc) {
        set_error("blob %s: cannot read %s: %s", key, path, store_error(st));
        return rc;
    }
    uint8_t hdr[HDR_LEN];
    size_t n = b.len;
    if (n == HDR_LEN)
        memcpy(hdr, b.data, HDR_LEN);
    release_store_buf(&b);
    if (n > HDR_LEN)
        return overfilled(st, key, path, n, HDR_LEN);
    if (n < HDR_LEN)
        return corrupt(key, "it is shorter than its 16-byte header");
    if (memcmp(hdr, blob_magic, 4) != 0 || hdr[5] || hdr[6] || hdr[7])
        return MF_ENOTSUP;   /* a newer format or damage: mf_blob_get says which */
    if (hdr[4] != CODEC_RAW)
        return MF_ENOTSUP;
    uint64_t rawlen = get_u64(hdr + 8);
    if (rawlen != size - HDR_LEN)
        return corrupt(key, rawlen > size - HDR_LEN ? "it is truncated"
                                                    : "it is longer than its header says");
    mf_blob_reader *r = calloc(1, sizeof *r);
    if (!r) {
        set_error("blob %s: out of memory", key);
        return MF_ENOMEM;
    }
    r->st = st;
    memcpy(r->key, key, MF_BLOB_KEY_LEN);
    memcpy(r->path, path, sizeof r->path);
    r->len = rawlen;
    sha256_init(&r->sha);
    *out = r;
    *len = rawlen;
    return 0;
}

int mf_blob_reader_read(mf_blob_reader *r, void *buf, size_t max, size_t *got)
{
    *got = 0;
    if (r->done < r->len && max) {
        struct mf_buf b;
        memset(&b, 0, sizeof b);
        b.struct_size = sizeof b;
        uint64_t size = 0, left = r->len - r->done;
        int rc = r->st->ops->get_range(r->st->state, r->path, HDR_LEN + r->done,
                                       left < max ? (size_t)left : max, &b, &size);
        if (rc) {
            set_error("blob %s: cannot read %s: %s", r->key, r->path, store_error(r->st));
            return rc;
        }
        size_t n = b.len, asked = left < max ? (size_t)left : max;
        if (n > asked) {
            release_store_buf(&b);
            return overfilled(r->st, r->key, r->path, n, asked);
        }
        if (n)
            memcpy(buf, b.data, n);
        release_store_buf(&b);
        if (n == 0 || size != HDR_LEN + r->len)
            return corrupt(r->key, "it changed size while it was read");
        sha256_update(&r->sha, n, buf);
        r->done += n;
        *got = n;
    }
    if (r->done == r->len && !r->checked) {
        r->checked = 1;
        uint8_t md[32];
        sha256_digest(&r->sha, SHA256_DIGEST_SIZE, md);
        int rc = check_digest(r->key, md);
        if (rc)
            return rc;
    }
    return 0;
}

void mf_blob_reader_close(mf_blob_reader *r)
{
    free(r);
}
