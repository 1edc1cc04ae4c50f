/* Content-addressed blobs over a storage plugin instance.
 *
 * A blob's key is the lowercase hex SHA-256 of the encoded value (codec.h). It is stored under
 * "blobs/<first 2 hex>/<64 hex>" as a 16-byte header — "MFB1", the codec byte (0 raw, 1
 * zstd), three zero bytes, the encoded value's length as u64 LE — then the data, raw or zstd.
 * zstd is used when a sample shows it saves at least 10%. Reads verify the hash: a flipped
 * byte is MF_ECORRUPT, never a wrong value. Writes are put-if-absent, so storing a value
 * again costs one existence check (a large raw value, written while it is hashed, is dropped
 * once the check finds it stored) plus a check of what is stored: a blob that is damaged is
 * replaced, atomically, by the value being written (values up to 16 MiB are read back and
 * verified in full, larger ones have their stored size checked).
 */
#ifndef MF_BLOB_H
#define MF_BLOB_H

#include "model.h"

#include <mflow/plugin.h>

#include <stddef.h>
#include <stdint.h>

#define MF_BLOB_KEY_LEN 64      /* hex chars, not counting the NUL */

/* A storage plugin instance: the ops table and its state. */
struct mf_store {
    const struct mf_storage_ops *ops;
    void *state;
    const struct mf_plugin_desc *desc;   /* the plugin, for fini */
};

/* A value read back: data/len is the encoded value (header included), verified. */
struct mf_blob {
    const uint8_t *data;
    size_t len;
    struct mf_buf buf;           /* what backs data: a mapping or a decompressed buffer */
};

/* Hash and store the concatenation of iov[0..niov) (the encoded value). key receives the
 * 64-char hex key and a NUL; *stored (may be NULL) the number of bytes stored.
 * Returns 0, or a storage error (the message is the store's last_error). */
int mf_blob_put(struct mf_store *st, const struct mf_iov *iov, size_t niov,
                char key[MF_BLOB_KEY_LEN + 1], uint64_t *stored);

/* Raw values of at least `threshold` bytes are written while they are hashed when the store
 * has the streaming writer and the calling thread may run on at least `min_cpus` CPUs; 0
 * restores either default (64 MiB, 2 CPUs). For tests, which set them low; not thread-safe. */
void mf_blob_set_stream(size_t threshold, int min_cpus);

/* Values up to `full_max` bytes found stored by a put are read back and verified in full;
 * larger ones only have their size checked. 0 restores the default (16 MiB). For tests. */
void mf_blob_set_verify(size_t full_max);

/* mf_blob_read_into reads a store with get_range `piece` bytes at a time; 0 restores the
 * default (32 MiB). For tests, which set it low; not thread-safe. */
void mf_blob_set_range_piece(size_t piece);

/* Read and verify the blob `key`. Returns 0, MF_ENOTFOUND, MF_ECORRUPT (hash or header
 * mismatch), or a storage error. Release with mf_blob_release. */
int mf_blob_get(struct mf_store *st, const char *key, struct mf_blob *out);
void mf_blob_release(struct mf_blob *b);

/* A value written in pieces, its length known when it starts (a foreign runtime's large
 * values: an array written from its own memory, a string encoded a piece at a time): hashed,
 * and compressed or not, as the pieces come, and never held whole. The bytes stored are in
 * the format mf_blob_put writes; raw or zstd is decided on the value's first MiB rather than
 * on windows spread over it. A value of at most 1 MiB, or any value when the store has no
 * streaming writer (a 1.0 storage plugin), is gathered in one buffer and put as
 * mf_blob_put does. open: `total` bytes will be written; 0 or MF_ENOMEM. write: 0, or the
 * store's error (the writer can then only be aborted). close: the key and *stored (may be
 * NULL: bytes stored, 0 when found already stored) as mf_blob_put gives them; MF_EINVAL when
 * other than `total` bytes were written; frees w whatever it returns. abort frees w; NULL
 * is a no-op. Messages: mf_blob_error. */
typedef struct mf_blob_writer mf_blob_writer;
int mf_blob_writer_open(struct mf_store *st, uint64_t total, mf_blob_writer **out);
int mf_blob_writer_write(mf_blob_writer *w, const void *data, size_t len);
int mf_blob_writer_close(mf_blob_writer *w, char key[MF_BLOB_KEY_LEN + 1], uint64_t *stored);
void mf_blob_writer_abort(mf_blob_writer *w);

/* Read the blob `key` into the caller's memory: its first `skip` bytes into head (may be NULL
 * when skip is 0), the next dlen bytes into dst; the value must be exactly skip + dlen bytes
 * (else MF_ECORRUPT). One pass copies (or decompresses) and hashes; 0 only when the hash
 * matches the key. A store whose get copies (MF_STORAGE_GET_COPIES: S3) and that has
 * get_range is read in pieces of 32 MiB straight into head and dst, a zstd blob decompressed
 * as its pieces come, so the value is in memory once, plus one piece. Otherwise the store's
 * whole buffer is taken (pages of a mapped blob let go once copied). Errors as mf_blob_get. */
int mf_blob_read_into(struct mf_store *st, const char *key, void *head, size_t skip, void *dst,
                      size_t dlen);

/* As mf_blob_read_into, into memory the caller hands out as the read goes: next(ud, &dst,
 * &len) gives the next span to fill (0, or non-zero to stop the read), asked for only when
 * the one before is full, so that a reader can size a span from the bytes already read (a
 * container's table). The spans must add up to exactly `len`, the value's length (else
 * MF_ECORRUPT, as mf_blob_read_into). A stopped read is MF_EINVAL. */
typedef int (*mf_blob_span_fn)(void *ud, void **dst, size_t *len);
int mf_blob_read_spans(struct mf_store *st, const char *key, uint64_t len, mf_blob_span_fn next,
                       void *ud);

/* A blob's storage key: mf_blob_path (model.h). */

/* Hex SHA-256 of iov (used by the blob layer and code packages). */
void mf_sha256_hex(const struct mf_iov *iov, size_t niov, char hex[MF_BLOB_KEY_LEN + 1]);
/* The sha256 of a file's bytes, in hex (the compile cache's and the Python graph cache's
 * dependency checks): 0 or an errno. */
int mf_sha256_file(const char *path, char hex[MF_BLOB_KEY_LEN + 1]);

/* A raw blob read piece by piece, for sending a large value without holding it: each read
 * costs its piece (the store's ranged read, plugin ABI 1.4), and the hash is checked as the
 * last piece is read. */
typedef struct mf_blob_reader mf_blob_reader;

/* Open blob `key` for reading; *len is the encoded value's length. MF_ENOTSUP when it cannot
 * be read so (a store without get_range, a compressed blob): read it with mf_blob_get. Else
 * 0, MF_ENOTFOUND, MF_ECORRUPT (its header), or a storage error. */
int mf_blob_reader_open(struct mf_store *st, const char *key, mf_blob_reader **out,
                        uint64_t *len);
/* The next at most max bytes of the encoded value into buf; *got 0 at its end. After the last
 * byte the hash is checked: MF_ECORRUPT when it does not match (the bytes given were not the
 * value). A storage error, or a blob shorter than its header said, fails too. */
int mf_blob_reader_read(mf_blob_reader *r, void *buf, size_t max, size_t *got);
void mf_blob_reader_close(mf_blob_reader *r);

/* A message for the last failure of mf_blob_get/put in this thread (names the key). */
const char *mf_blob_error(void);

#endif
