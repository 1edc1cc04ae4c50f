/* The portable encoding of artifact values (documented in sdk/DATASTORE.md).
 *
 * An encoded value is an 8-byte header — "MFV", format version 1, the type byte (enum
 * mf_type), three zero bytes — followed by the payload:
 *   MF_I64   8 bytes, two's complement, little-endian
 *   MF_F64   8 bytes, IEEE 754 binary64, little-endian
 *   MF_STR   UTF-8 bytes, no terminator (length from the blob)
 *   MF_BYTES raw bytes
 *   MF_I64V  u64 count (LE), then count × 8-byte LE integers
 *   MF_F64V  u64 count (LE), then count × 8-byte LE doubles
 *   MF_STRV  u64 count (LE), then count × (u64 length LE, bytes)
 *   MF_OBJ   UTF-8 JSON text (RFC 8259), checked here: see mf_codec_obj_check
 *   MF_PICKLE a Python pickle: opaque to mflow
 *   MF_NPY   a numpy .npy file: opaque but for its magic and header length
 * The last three are written by the Python SDK (sdk/DATASTORE.md section 4).
 */
#ifndef MF_CODEC_H
#define MF_CODEC_H

#include <mflow/flow.h>

#include <stddef.h>
#include <stdint.h>

#define MF_CODEC_HDR_LEN 8
#define MF_CODEC_VERSION 1   /* byte 3 of every value; a reader names a larger one (newer) */

/* Write the header for `type` into hdr. */
void mf_codec_header(uint8_t hdr[MF_CODEC_HDR_LEN], mf_type type);

/* Check an encoded value's header and payload structure (lists: counts and lengths fit).
 * On success *type, *payload and *plen describe the payload (pointing into enc).
 * Returns 0 or MF_ECORRUPT. */
int mf_codec_parse(const void *enc, size_t len, mf_type *type, const uint8_t **payload,
                   size_t *plen);

/* The value format version of an encoded value that is newer than MF_CODEC_VERSION ("MFV" and
 * a larger byte 3), else 0: such a value is named, not called corrupt (sdk/DATASTORE.md). */
unsigned mf_codec_newer(const void *enc, size_t len);

/* The type byte of an encoded value whose header is sound (magic, version, reserved bytes)
 * but whose type this mflow does not know (12 and up: a newer type), else 0. Such a value is
 * named "a newer type (N)", not called corrupt (sdk/DATASTORE.md). */
unsigned mf_codec_newer_type(const void *enc, size_t len);

/* Check a payload (no header) as a value of `type`: what mf_codec_parse checks after the
 * header. 0, MF_ECORRUPT, or MF_EINVAL when `type` is not a type a value can have. */
int mf_codec_check(mf_type type, const uint8_t *payload, size_t plen);

/* The deepest nesting of arrays and objects an MF_OBJ value may have: Python's json module
 * reads this much without running out of recursion. */
#define MF_OBJ_MAX_DEPTH 500

/* Check an MF_OBJ payload: one JSON value (RFC 8259) with optional whitespace around it,
 * well-formed UTF-8 throughout, no \u escape of a lone surrogate, nesting at most
 * MF_OBJ_MAX_DEPTH. Numbers are checked for their syntax only (an integer may have any number
 * of digits). count (may be NULL) gets the number of elements when the value is an array, and
 * SIZE_MAX otherwise. 0 or MF_ECORRUPT. */
int mf_codec_obj_check(const uint8_t *payload, size_t plen, size_t *count);

/* The dtype (the header's 'descr', "structured" for a record dtype) and the shape (as the
 * header writes it, "(2, 3)") of an MF_NPY payload, truncated to fit the buffers.
 * 0 or MF_ECORRUPT. */
int mf_codec_npy_info(const uint8_t *payload, size_t plen, char *dtype, size_t dtype_size,
                      char *shape, size_t shape_size);

/* Encode a scalar or list into a new malloc'd buffer (header included). 0 or MF_ENOMEM. */
int mf_codec_encode_i64(int64_t v, uint8_t **out, size_t *len);
int mf_codec_encode_f64(double v, uint8_t **out, size_t *len);
int mf_codec_encode_i64v(const int64_t *v, size_t n, uint8_t **out, size_t *len);
int mf_codec_encode_f64v(const double *v, size_t n, uint8_t **out, size_t *len);
int mf_codec_encode_strv(const char *const *v, size_t n, uint8_t **out, size_t *len);

/* Decode payloads (as returned by mf_codec_parse for the matching type).
 * Scalars: 0 or MF_ECORRUPT. Lists: a single malloc'd block the caller frees with free():
 * for strv, an array of n pointers to NUL-terminated copies, all in the same block. */
int mf_codec_decode_i64(const uint8_t *payload, size_t plen, int64_t *v);
int mf_codec_decode_f64(const uint8_t *payload, size_t plen, double *v);
int mf_codec_decode_i64v(const uint8_t *payload, size_t plen, int64_t **v, size_t *n);
int mf_codec_decode_f64v(const uint8_t *payload, size_t plen, double **v, size_t *n);
int mf_codec_decode_strv(const uint8_t *payload, size_t plen, char ***v, size_t *n);
/* Number of elements of a list payload without decoding it (foreach cardinality): an i64[],
 * f64[] or str[] list, or an obj that is a JSON array. MF_EINVAL for any other value (an obj
 * that is not an array included), MF_ECORRUPT for a damaged one. */
int mf_codec_list_count(mf_type type, const uint8_t *payload, size_t plen, size_t *n);

/* "i64", "f64", "str", "bytes", "i64[]", "f64[]", "str[]", "obj", "pickle", "npy" ("bool" for
 * a parameter's type); "?" for others. */
const char *mf_type_name(mf_type t);
/* Inverse of mf_type_name; 0 when unknown. */
mf_type mf_type_from_name(const char *s);

#endif
