/* The portable artifact encoding: see codec.h and sdk/DATASTORE.md.
 *
 * Every multi-byte number is little-endian on disk whatever the host is: values are assembled
 * byte by byte (or copied in bulk when the host is itself little-endian). Parsing never trusts a
 * count or a length read from the data: each is checked against the bytes that remain before it
 * is used, and anything that does not fit is MF_ECORRUPT. */
#include "codec.h"

#include <mflow/plugin.h>

#include <stdlib.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define HOST_IS_LE 1
#else
#define HOST_IS_LE 0
#endif

static const uint8_t magic[3] = {'M', 'F', 'V'};

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

/* n 64-bit words from host order into LE bytes, and back. Words go through memcpy so int64_t
 * and double arrays are never read or written through another type. */
static void put_words(uint8_t *dst, const void *src, size_t n)
{
    if (HOST_IS_LE) {
        if (n)
            memcpy(dst, src, n * 8);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t w;
        memcpy(&w, (const uint8_t *)src + 8 * i, 8);
        put_u64(dst + 8 * i, w);
    }
}

static void get_words(void *dst, const uint8_t *src, size_t n)
{
    if (HOST_IS_LE) {
        if (n)
            memcpy(dst, src, n * 8);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t w = get_u64(src + 8 * i);
        memcpy((uint8_t *)dst + 8 * i, &w, 8);
    }
}

static int is_stored_type(uint8_t t)
{
    return t >= MF_I64 && t <= MF_STRV;
}

void mf_codec_header(uint8_t hdr[MF_CODEC_HDR_LEN], mf_type type)
{
    hdr[0] = magic[0];
    hdr[1] = magic[1];
    hdr[2] = magic[2];
    hdr[3] = MF_CODEC_VERSION;
    hdr[4] = (uint8_t)type;
    hdr[5] = hdr[6] = hdr[7] = 0;
}

/* A list payload's count, checked to be possible for plen bytes of payload. */
static int list_header(const uint8_t *payload, size_t plen, uint64_t *count)
{
    if (plen < 8)
        return MF_ECORRUPT;
    *count = get_u64(payload);
    return 0;
}

static int check_fixed_list(const uint8_t *payload, size_t plen, size_t *n)
{
    uint64_t count;
    if (list_header(payload, plen, &count))
        return MF_ECORRUPT;
    /* Divide rather than multiply: a huge count must not wrap around. */
    if (count != (plen - 8) / 8 || (plen - 8) % 8 != 0)
        return MF_ECORRUPT;
    *n = (size_t)count;
    return 0;
}

/* Walk a string list; *n its count and *bytes the total string bytes. */
static int check_strv(const uint8_t *payload, size_t plen, size_t *n, size_t *bytes)
{
    uint64_t count;
    if (list_header(payload, plen, &count))
        return MF_ECORRUPT;
    size_t off = 8, total = 0;
    /* Every element needs at least its 8-byte length. */
    if (count > (plen - off) / 8)
        return MF_ECORRUPT;
    for (uint64_t i = 0; i < count; i++) {
        if (plen - off < 8)
            return MF_ECORRUPT;
        uint64_t slen = get_u64(payload + off);
        off += 8;
        if (slen > plen - off)
            return MF_ECORRUPT;
        off += (size_t)slen;
        total += (size_t)slen;
    }
    if (off != plen)
        return MF_ECORRUPT;
    *n = (size_t)count;
    if (bytes)
        *bytes = total;
    return 0;
}

static int check_payload(mf_type type, const uint8_t *payload, size_t plen)
{
    size_t n;
    switch (type) {
    case MF_I64:
    case MF_F64:
        return plen == 8 ? 0 : MF_ECORRUPT;
    case MF_STR:
    case MF_BYTES:
        return 0;
    case MF_I64V:
    case MF_F64V:
        return check_fixed_list(payload, plen, &n);
    case MF_STRV:
        return check_strv(payload, plen, &n, NULL);
    default:
        return MF_ECORRUPT;
    }
}

int mf_codec_parse(const void *enc, size_t len, mf_type *type, const uint8_t **payload,
                   size_t *plen)
{
    const uint8_t *p = enc;
    if (!p || len < MF_CODEC_HDR_LEN)
        return MF_ECORRUPT;
    if (memcmp(p, magic, 3) != 0 || p[3] != MF_CODEC_VERSION || !is_stored_type(p[4]) ||
        p[5] || p[6] || p[7])
        return MF_ECORRUPT;
    mf_type t = (mf_type)p[4];
    const uint8_t *pl = p + MF_CODEC_HDR_LEN;
    size_t pn = len - MF_CODEC_HDR_LEN;
    int rc = check_payload(t, pl, pn);
    if (rc)
        return rc;
    if (type)
        *type = t;
    if (payload)
        *payload = pl;
    if (plen)
        *plen = pn;
    return 0;
}

unsigned mf_codec_newer(const void *enc, size_t len)
{
    const uint8_t *p = enc;
    if (!p || len < MF_CODEC_HDR_LEN || memcmp(p, magic, 3) != 0 || p[3] <= MF_CODEC_VERSION)
        return 0;
    return p[3];
}

/* A buffer of header + payload_len bytes with the header written. */
static int alloc_encoded(mf_type type, size_t payload_len, uint8_t **out, size_t *len)
{
    if (payload_len > SIZE_MAX - MF_CODEC_HDR_LEN)
        return MF_ENOMEM;
    size_t total = MF_CODEC_HDR_LEN + payload_len;
    uint8_t *buf = malloc(total);
    if (!buf)
        return MF_ENOMEM;
    mf_codec_header(buf, type);
    *out = buf;
    *len = total;
    return 0;
}

static int encode_word(mf_type type, uint64_t w, uint8_t **out, size_t *len)
{
    int rc = alloc_encoded(type, 8, out, len);
    if (rc)
        return rc;
    put_u64(*out + MF_CODEC_HDR_LEN, w);
    return 0;
}

int mf_codec_encode_i64(int64_t v, uint8_t **out, size_t *len)
{
    return encode_word(MF_I64, (uint64_t)v, out, len);
}

int mf_codec_encode_f64(double v, uint8_t **out, size_t *len)
{
    uint64_t w;
    memcpy(&w, &v, 8);
    return encode_word(MF_F64, w, out, len);
}

static int encode_words(mf_type type, const void *v, size_t n, uint8_t **out, size_t *len)
{
    if (n > (SIZE_MAX - MF_CODEC_HDR_LEN - 8) / 8)
        return MF_ENOMEM;
    if (n && !v)
        return MF_EINVAL;
    int rc = alloc_encoded(type, 8 + n * 8, out, len);
    if (rc)
        return rc;
    put_u64(*out + MF_CODEC_HDR_LEN, (uint64_t)n);
    put_words(*out + MF_CODEC_HDR_LEN + 8, v, n);
    return 0;
}

int mf_codec_encode_i64v(const int64_t *v, size_t n, uint8_t **out, size_t *len)
{
    return encode_words(MF_I64V, v, n, out, len);
}

int mf_codec_encode_f64v(const double *v, size_t n, uint8_t **out, size_t *len)
{
    _Static_assert(sizeof(double) == 8, "IEEE 754 binary64 doubles are required");
    return encode_words(MF_F64V, v, n, out, len);
}

int mf_codec_encode_strv(const char *const *v, size_t n, uint8_t **out, size_t *len)
{
    if (n && !v)
        return MF_EINVAL;
    size_t total = 8;
    for (size_t i = 0; i < n; i++) {
        if (!v[i])
            return MF_EINVAL;
        size_t s = strlen(v[i]);
        if (s > SIZE_MAX - MF_CODEC_HDR_LEN - total - 8)
            return MF_ENOMEM;
        total += 8 + s;
    }
    int rc = alloc_encoded(MF_STRV, total, out, len);
    if (rc)
        return rc;
    uint8_t *p = *out + MF_CODEC_HDR_LEN;
    put_u64(p, (uint64_t)n);
    p += 8;
    for (size_t i = 0; i < n; i++) {
        size_t s = strlen(v[i]);
        put_u64(p, (uint64_t)s);
        p += 8;
        memcpy(p, v[i], s);
        p += s;
    }
    return 0;
}

int mf_codec_decode_i64(const uint8_t *payload, size_t plen, int64_t *v)
{
    if (!payload || plen != 8)
        return MF_ECORRUPT;
    *v = (int64_t)get_u64(payload);
    return 0;
}

int mf_codec_decode_f64(const uint8_t *payload, size_t plen, double *v)
{
    if (!payload || plen != 8)
        return MF_ECORRUPT;
    uint64_t w = get_u64(payload);
    memcpy(v, &w, 8);
    return 0;
}

static int decode_words(const uint8_t *payload, size_t plen, void **v, size_t *n)
{
    size_t count;
    if (!payload || check_fixed_list(payload, plen, &count))
        return MF_ECORRUPT;
    /* At least one byte so a successful call never hands back NULL. */
    void *w = malloc(count ? count * 8 : 1);
    if (!w)
        return MF_ENOMEM;
    get_words(w, payload + 8, count);
    *v = w;
    *n = count;
    return 0;
}

int mf_codec_decode_i64v(const uint8_t *payload, size_t plen, int64_t **v, size_t *n)
{
    void *w;
    int rc = decode_words(payload, plen, &w, n);
    if (!rc)
        *v = w;
    return rc;
}

int mf_codec_decode_f64v(const uint8_t *payload, size_t plen, double **v, size_t *n)
{
    void *w;
    int rc = decode_words(payload, plen, &w, n);
    if (!rc)
        *v = w;
    return rc;
}

int mf_codec_decode_strv(const uint8_t *payload, size_t plen, char ***v, size_t *n)
{
    size_t count, bytes;
    if (!payload || check_strv(payload, plen, &count, &bytes))
        return MF_ECORRUPT;
    /* count ≤ plen / 8 and bytes ≤ plen, so this cannot overflow for any real plen. */
    size_t ptrs = count * sizeof(char *);
    size_t total = ptrs + bytes + count;
    char **arr = malloc(total ? total : 1);
    if (!arr)
        return MF_ENOMEM;
    char *s = (char *)arr + ptrs;
    size_t off = 8;
    for (size_t i = 0; i < count; i++) {
        size_t slen = (size_t)get_u64(payload + off);
        off += 8;
        memcpy(s, payload + off, slen);
        s[slen] = '\0';
        arr[i] = s;
        s += slen + 1;
        off += slen;
    }
    *v = arr;
    *n = count;
    return 0;
}

int mf_codec_list_count(mf_type type, const uint8_t *payload, size_t plen, size_t *n)
{
    switch (type) {
    case MF_I64V:
    case MF_F64V:
        return payload ? check_fixed_list(payload, plen, n) : MF_ECORRUPT;
    case MF_STRV:
        return payload ? check_strv(payload, plen, n, NULL) : MF_ECORRUPT;
    default:
        return MF_EINVAL;
    }
}

static const struct {
    mf_type type;
    const char *name;
} type_names[] = {
    {MF_I64, "i64"},     {MF_F64, "f64"},     {MF_STR, "str"},     {MF_BYTES, "bytes"},
    {MF_I64V, "i64[]"},  {MF_F64V, "f64[]"},  {MF_STRV, "str[]"},  {MF_BOOL, "bool"},
};

const char *mf_type_name(mf_type t)
{
    for (size_t i = 0; i < sizeof type_names / sizeof type_names[0]; i++)
        if (type_names[i].type == t)
            return type_names[i].name;
    return "?";
}

mf_type mf_type_from_name(const char *s)
{
    if (!s)
        return (mf_type)0;
    for (size_t i = 0; i < sizeof type_names / sizeof type_names[0]; i++)
        if (!strcmp(type_names[i].name, s))
            return type_names[i].type;
    return (mf_type)0;
}
