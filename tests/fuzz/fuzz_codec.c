/* The artifact decoder (core/src/codec.c): any blob must parse to a typed payload or
 * MF_ECORRUPT, and a parsed payload must decode, count and re-encode to the same bytes. */
#include "codec.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void same(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    if (alen != blen || memcmp(a, b, alen) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mf_type type;
    const uint8_t *p;
    size_t plen, n = 0;
    if (mf_codec_parse(data, size, &type, &p, &plen) != 0)
        return 0;
    (void)mf_type_name(type);
    uint8_t *enc = NULL;
    size_t elen = 0;
    switch (type) {
    case MF_I64: {
        int64_t v;
        if (mf_codec_decode_i64(p, plen, &v) == 0 && mf_codec_encode_i64(v, &enc, &elen) == 0)
            same(data, size, enc, elen);
        break;
    }
    case MF_F64: {
        double v;
        if (mf_codec_decode_f64(p, plen, &v) == 0 && mf_codec_encode_f64(v, &enc, &elen) == 0)
            same(data, size, enc, elen);
        break;
    }
    case MF_I64V: {
        int64_t *v = NULL;
        if (mf_codec_decode_i64v(p, plen, &v, &n) == 0 &&
            mf_codec_encode_i64v(v, n, &enc, &elen) == 0)
            same(data, size, enc, elen);
        free(v);
        break;
    }
    case MF_F64V: {
        double *v = NULL;
        if (mf_codec_decode_f64v(p, plen, &v, &n) == 0 &&
            mf_codec_encode_f64v(v, n, &enc, &elen) == 0)
            same(data, size, enc, elen);
        free(v);
        break;
    }
    case MF_STRV: {
        char **v = NULL;
        /* Strings holding a NUL do not survive as C strings: compare only the count. */
        if (mf_codec_decode_strv(p, plen, &v, &n) == 0 &&
            mf_codec_encode_strv((const char *const *)v, n, &enc, &elen) == 0) {
            size_t n2 = 0;
            mf_type t2;
            const uint8_t *p2;
            size_t pl2;
            if (mf_codec_parse(enc, elen, &t2, &p2, &pl2) != 0 ||
                mf_codec_list_count(t2, p2, pl2, &n2) != 0 || n2 != n)
                abort();
        }
        free(v);
        break;
    }
    default:
        break;
    }
    free(enc);
    size_t count;
    if (mf_codec_list_count(type, p, plen, &count) == 0 &&
        (type == MF_I64V || type == MF_F64V || type == MF_STRV) && n && count != n)
        abort();
    return 0;
}
