/* The portable artifact encoding: see codec.h and sdk/DATASTORE.md.
 *
 * Every multi-byte number is little-endian on disk whatever the host is: values are assembled
 * byte by byte (or copied in bulk when the host is itself little-endian). Parsing never trusts a
 * count or a length read from the data: each is checked against the bytes that remain before it
 * is used, and anything that does not fit is MF_ECORRUPT. */
#include "codec.h"

#include "util.h"

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
    return (t >= MF_I64 && t <= MF_STRV) || (t >= MF_OBJ && t <= MF_NPY);
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

static int check_payload(mf_type type, const uint8_t *payload, size_t plen);

/* ---- obj: JSON text ---------------------------------------------------------------------- */

static size_t skip_ws(const uint8_t *p, size_t n, size_t i)
{
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r'))
        i++;
    return i;
}

static int hex4(const uint8_t *p, size_t n, size_t i, unsigned *v)
{
    if (n - i < 4)
        return -1;
    unsigned x = 0;
    for (size_t k = 0; k < 4; k++) {
        uint8_t c = p[i + k];
        x <<= 4;
        if (c >= '0' && c <= '9')
            x |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            x |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            x |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *v = x;
    return 0;
}

/* A string starting at p[i] == '"'; the index past its closing quote, or 0. */
static size_t scan_string(const uint8_t *p, size_t n, size_t i)
{
    i++;
    while (i < n) {
        uint8_t c = p[i];
        if (c == '"')
            return i + 1;
        if (c < 0x20)
            return 0;
        if (c == '\\') {
            if (++i >= n)
                return 0;
            c = p[i];
            if (c == 'u') {
                unsigned u, lo;
                if (hex4(p, n, i + 1, &u))
                    return 0;
                i += 5;
                if (u >= 0xdc00 && u <= 0xdfff)
                    return 0;                    /* a low surrogate alone */
                if (u >= 0xd800 && u <= 0xdbff) {
                    /* a high surrogate must be followed by the escape of a low one */
                    if (n - i < 6 || p[i] != '\\' || p[i + 1] != 'u' || hex4(p, n, i + 2, &lo) ||
                        lo < 0xdc00 || lo > 0xdfff)
                        return 0;
                    i += 6;
                }
                continue;
            }
            if (!strchr("\"\\/bfnrt", c) || !c)
                return 0;
            i++;
            continue;
        }
        size_t k = mf_utf8_seq(p + i, n - i);
        if (!k)
            return 0;
        i += k;
    }
    return 0;
}

static int is_digit(uint8_t c)
{
    return c >= '0' && c <= '9';
}

/* A number at p[i]: -? (0 | [1-9][0-9]*) (.[0-9]+)? ([eE][+-]?[0-9]+)?; index past it, or 0. */
static size_t scan_number(const uint8_t *p, size_t n, size_t i)
{
    if (i < n && p[i] == '-')
        i++;
    if (i >= n || !is_digit(p[i]))
        return 0;
    if (p[i] == '0')
        i++;
    else
        while (i < n && is_digit(p[i]))
            i++;
    if (i < n && p[i] == '.') {
        i++;
        if (i >= n || !is_digit(p[i]))
            return 0;
        while (i < n && is_digit(p[i]))
            i++;
    }
    if (i < n && (p[i] == 'e' || p[i] == 'E')) {
        i++;
        if (i < n && (p[i] == '+' || p[i] == '-'))
            i++;
        if (i >= n || !is_digit(p[i]))
            return 0;
        while (i < n && is_digit(p[i]))
            i++;
    }
    return i;
}

static size_t scan_word(const uint8_t *p, size_t n, size_t i, const char *w)
{
    size_t l = strlen(w);
    return n - i >= l && !memcmp(p + i, w, l) ? i + l : 0;
}

/* An object member's key and colon at p[i] (whitespace before it skipped); the index of the
 * member's value, or 0. */
static size_t scan_key(const uint8_t *p, size_t n, size_t i)
{
    if (i >= n || p[i] != '"' || !(i = scan_string(p, n, i)))
        return 0;
    i = skip_ws(p, n, i);
    if (i >= n || p[i] != ':')
        return 0;
    return skip_ws(p, n, i + 1);
}

/* Iterative, with the open arrays and objects on a small stack: no recursion to exhaust. */
int mf_codec_obj_check(const uint8_t *p, size_t n, size_t *count)
{
    char stack[MF_OBJ_MAX_DEPTH];
    size_t depth = 0, items = 0;
    int top_array = 0;
    if (!p && n)
        return MF_ECORRUPT;
    size_t i = skip_ws(p, n, 0);
    for (;;) {
        /* a value at p[i] */
        if (i >= n)
            return MF_ECORRUPT;
        uint8_t c = p[i];
        size_t end = 0;
        if (c == '[' || c == '{') {
            if (depth == MF_OBJ_MAX_DEPTH)
                return MF_ECORRUPT;
            if (depth == 0)
                top_array = c == '[';
            stack[depth++] = (char)c;
            i = skip_ws(p, n, i + 1);
            if (i < n && p[i] == (c == '[' ? ']' : '}')) {
                depth--;
                end = i + 1;
            } else {
                if (depth == 1 && top_array)
                    items = 1;
                if (c == '{' && !(i = scan_key(p, n, i)))
                    return MF_ECORRUPT;
                continue;
            }
        } else if (c == '"') {
            end = scan_string(p, n, i);
        } else if (c == '-' || is_digit(c)) {
            end = scan_number(p, n, i);
        } else if (c == 't') {
            end = scan_word(p, n, i, "true");
        } else if (c == 'f') {
            end = scan_word(p, n, i, "false");
        } else if (c == 'n') {
            end = scan_word(p, n, i, "null");
        }
        if (!end)
            return MF_ECORRUPT;
        i = end;
        /* after a value: close what it ends, or go on to the next element or member */
        for (;;) {
            i = skip_ws(p, n, i);
            if (depth == 0) {
                if (i != n)
                    return MF_ECORRUPT;
                if (count)
                    *count = top_array ? items : SIZE_MAX;
                return 0;
            }
            if (i >= n)
                return MF_ECORRUPT;
            char open = stack[depth - 1];
            if (p[i] == (open == '[' ? ']' : '}')) {
                depth--;
                i++;
                continue;
            }
            if (p[i] != ',')
                return MF_ECORRUPT;
            i = skip_ws(p, n, i + 1);
            if (depth == 1 && top_array)
                items++;
            if (open == '{' && !(i = scan_key(p, n, i)))
                return MF_ECORRUPT;
            break;
        }
    }
}

/* ---- npy: numpy's file format ------------------------------------------------------------- */

/* The header text of an .npy payload: "\x93NUMPY", major 1 to 3, minor, then the header
 * length (u16 LE for 1.x, u32 LE after) and that many bytes, which must fit. */
static int npy_header(const uint8_t *p, size_t n, const char **hdr, size_t *hlen)
{
    static const uint8_t npy_magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
    if (!p || n < 10 || memcmp(p, npy_magic, 6) != 0 || p[6] < 1 || p[6] > 3)
        return MF_ECORRUPT;
    size_t off, len;
    if (p[6] == 1) {
        len = (size_t)p[8] | (size_t)p[9] << 8;
        off = 10;
    } else {
        if (n < 12)
            return MF_ECORRUPT;
        len = (size_t)p[8] | (size_t)p[9] << 8 | (size_t)p[10] << 16 | (size_t)p[11] << 24;
        off = 12;
    }
    if (len > n - off)
        return MF_ECORRUPT;
    *hdr = (const char *)p + off;
    *hlen = len;
    return 0;
}

/* The text after `key` and a colon in the header (a Python dict literal), or NULL. */
static const char *npy_field(const char *h, size_t n, const char *key, const char **end)
{
    size_t kl = strlen(key);
    for (size_t i = 0; i + kl <= n; i++) {
        if (memcmp(h + i, key, kl) != 0)
            continue;
        size_t j = i + kl;
        while (j < n && h[j] == ' ')
            j++;
        if (j >= n || h[j] != ':')
            continue;
        j++;
        while (j < n && h[j] == ' ')
            j++;
        *end = h + n;
        return h + j;
    }
    return NULL;
}

static void copy_upto(char *dst, size_t size, const char *s, const char *end, char stop,
                      int include_stop)
{
    size_t k = 0;
    while (s < end && *s != stop && k + 1 < size)
        dst[k++] = *s++;
    if (include_stop && s < end && *s == stop && k + 1 < size)
        dst[k++] = stop;
    dst[k] = '\0';
}

int mf_codec_npy_info(const uint8_t *payload, size_t plen, char *dtype, size_t dtype_size,
                      char *shape, size_t shape_size)
{
    const char *h, *end;
    size_t hl;
    if (npy_header(payload, plen, &h, &hl) || !dtype_size || !shape_size)
        return MF_ECORRUPT;
    const char *d = npy_field(h, hl, "'descr'", &end);
    const char *s = npy_field(h, hl, "'shape'", &end);
    if (!d || !s || *s != '(')
        return MF_ECORRUPT;
    if (*d == '\'' || *d == '"')
        copy_upto(dtype, dtype_size, d + 1, end, *d, 0);
    else
        snprintf(dtype, dtype_size, "structured");
    copy_upto(shape, shape_size, s, end, ')', 1);
    return 0;
}

int mf_codec_check(mf_type type, const uint8_t *payload, size_t plen)
{
    if ((unsigned)type > 255 || !is_stored_type((uint8_t)type))
        return MF_EINVAL;
    return check_payload(type, payload, plen);
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
    case MF_OBJ:
        return mf_codec_obj_check(payload, plen, NULL);
    case MF_PICKLE:
        /* Opaque: a pickle is only ever read by Python, which says what is wrong with it. */
        return 0;
    case MF_NPY: {
        const char *h;
        size_t hl;
        return npy_header(payload, plen, &h, &hl);
    }
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

unsigned mf_codec_newer_type(const void *enc, size_t len)
{
    const uint8_t *p = enc;
    if (!p || len < MF_CODEC_HDR_LEN || memcmp(p, magic, 3) != 0 || p[3] != MF_CODEC_VERSION ||
        p[5] || p[6] || p[7])
        return 0;
    /* 0 and 8 (a parameter's bool, never stored) are known not to be values: damage. */
    return p[4] > MF_NPY ? p[4] : 0;
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
    case MF_OBJ: {
        size_t c;
        int rc = mf_codec_obj_check(payload, plen, &c);
        if (rc)
            return rc;
        if (c == SIZE_MAX)
            return MF_EINVAL;
        *n = c;
        return 0;
    }
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
    {MF_OBJ, "obj"},     {MF_PICKLE, "pickle"}, {MF_NPY, "npy"},
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
