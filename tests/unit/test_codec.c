/* Unit tests of core/src/codec.c: the portable artifact encoding (sdk/DATASTORE.md). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "codec.h"

#include <mflow/plugin.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void put_le(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* An encoded value built by hand: header of `type` + payload. */
static uint8_t *hand_encoded(mf_type type, const void *payload, size_t plen, size_t *len)
{
    uint8_t *b = malloc(MF_CODEC_HDR_LEN + plen + 1);
    assert_non_null(b);
    memcpy(b, "MFV\x01", 4);
    b[4] = (uint8_t)type;
    b[5] = b[6] = b[7] = 0;
    if (plen)
        memcpy(b + MF_CODEC_HDR_LEN, payload, plen);
    *len = MF_CODEC_HDR_LEN + plen;
    return b;
}

static void test_header_bytes(void **state)
{
    (void)state;
    uint8_t h[MF_CODEC_HDR_LEN];
    memset(h, 0xAA, sizeof h);
    mf_codec_header(h, MF_STRV);
    const uint8_t want[8] = {'M', 'F', 'V', 1, 7, 0, 0, 0};
    assert_memory_equal(h, want, 8);
}

static void test_i64_layout_and_round_trip(void **state)
{
    (void)state;
    uint8_t *enc;
    size_t len;
    assert_int_equal(mf_codec_encode_i64(0x0102030405060708LL, &enc, &len), 0);
    const uint8_t want[16] = {'M', 'F', 'V', 1, 1, 0, 0, 0, 8, 7, 6, 5, 4, 3, 2, 1};
    assert_int_equal(len, 16);
    assert_memory_equal(enc, want, 16);
    free(enc);

    const int64_t values[] = {0, 1, -1, 42, INT64_MIN, INT64_MAX, -1234567890123LL};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        assert_int_equal(mf_codec_encode_i64(values[i], &enc, &len), 0);
        mf_type t = 0;
        const uint8_t *pl;
        size_t plen;
        assert_int_equal(mf_codec_parse(enc, len, &t, &pl, &plen), 0);
        assert_int_equal(t, MF_I64);
        assert_int_equal(plen, 8);
        assert_ptr_equal(pl, enc + 8);
        int64_t back = 0;
        assert_int_equal(mf_codec_decode_i64(pl, plen, &back), 0);
        assert_true(back == values[i]);
        free(enc);
    }
    /* -1 is all ones, two's complement */
    assert_int_equal(mf_codec_encode_i64(-1, &enc, &len), 0);
    for (int i = 8; i < 16; i++)
        assert_int_equal(enc[i], 0xff);
    free(enc);
}

static void test_f64_round_trip(void **state)
{
    (void)state;
    uint8_t *enc;
    size_t len;
    assert_int_equal(mf_codec_encode_f64(1.0, &enc, &len), 0);
    /* 1.0 is 0x3FF0000000000000 */
    const uint8_t want[8] = {0, 0, 0, 0, 0, 0, 0xf0, 0x3f};
    assert_int_equal(enc[4], MF_F64);
    assert_memory_equal(enc + 8, want, 8);
    free(enc);

    const double values[] = {0.0, -0.0, 3.141592653589793, -1e308, 5e-324, INFINITY, -INFINITY};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        assert_int_equal(mf_codec_encode_f64(values[i], &enc, &len), 0);
        mf_type t;
        const uint8_t *pl;
        size_t plen;
        assert_int_equal(mf_codec_parse(enc, len, &t, &pl, &plen), 0);
        assert_int_equal(t, MF_F64);
        double back = 1.5;
        assert_int_equal(mf_codec_decode_f64(pl, plen, &back), 0);
        assert_memory_equal(&back, &values[i], 8);   /* bit-exact, sign of zero included */
        free(enc);
    }
    assert_int_equal(mf_codec_encode_f64(NAN, &enc, &len), 0);
    double back = 0;
    assert_int_equal(mf_codec_decode_f64(enc + 8, len - 8, &back), 0);
    assert_true(isnan(back));
    free(enc);
}

static void test_str_and_bytes_parse(void **state)
{
    (void)state;
    size_t len;
    uint8_t *enc = hand_encoded(MF_STR, "héllo", strlen("héllo"), &len);
    mf_type t;
    const uint8_t *pl;
    size_t plen;
    assert_int_equal(mf_codec_parse(enc, len, &t, &pl, &plen), 0);
    assert_int_equal(t, MF_STR);
    assert_int_equal(plen, strlen("héllo"));
    assert_memory_equal(pl, "héllo", plen);
    free(enc);

    const uint8_t raw[5] = {0, 1, 0xff, 0, 7};
    enc = hand_encoded(MF_BYTES, raw, sizeof raw, &len);
    assert_int_equal(mf_codec_parse(enc, len, &t, &pl, &plen), 0);
    assert_int_equal(t, MF_BYTES);
    assert_int_equal(plen, 5);
    assert_memory_equal(pl, raw, 5);
    free(enc);

    /* empty string and empty bytes are valid */
    enc = hand_encoded(MF_STR, NULL, 0, &len);
    assert_int_equal(mf_codec_parse(enc, len, &t, &pl, &plen), 0);
    assert_int_equal(plen, 0);
    free(enc);
}

static void test_i64v_round_trip(void **state)
{
    (void)state;
    int64_t v[1000];
    for (int i = 0; i < 1000; i++)
        v[i] = (int64_t)i * 1000003 - 500000;
    v[0] = INT64_MIN;
    uint8_t *enc;
    size_t len;
    assert_int_equal(mf_codec_encode_i64v(v, 1000, &enc, &len), 0);
    assert_int_equal(len, 8 + 8 + 8000);
    assert_int_equal(enc[4], MF_I64V);
    assert_int_equal(enc[8], 1000 & 0xff);
    assert_int_equal(enc[9], 1000 >> 8);
    mf_type t;
    const uint8_t *pl;
    size_t plen, n = 0;
    assert_int_equal(mf_codec_parse(enc, len, &t, &pl, &plen), 0);
    assert_int_equal(t, MF_I64V);
    assert_int_equal(mf_codec_list_count(t, pl, plen, &n), 0);
    assert_int_equal(n, 1000);
    int64_t *back = NULL;
    assert_int_equal(mf_codec_decode_i64v(pl, plen, &back, &n), 0);
    assert_int_equal(n, 1000);
    assert_memory_equal(back, v, sizeof v);
    free(back);
    free(enc);

    /* empty list */
    assert_int_equal(mf_codec_encode_i64v(NULL, 0, &enc, &len), 0);
    assert_int_equal(len, 16);
    assert_int_equal(mf_codec_parse(enc, len, &t, &pl, &plen), 0);
    back = NULL;
    n = 99;
    assert_int_equal(mf_codec_decode_i64v(pl, plen, &back, &n), 0);
    assert_int_equal(n, 0);
    assert_non_null(back);
    free(back);
    free(enc);
}

static void test_f64v_round_trip(void **state)
{
    (void)state;
    const double v[] = {0.5, -2.25, 1e-300, 6.02214076e23};
    uint8_t *enc;
    size_t len;
    assert_int_equal(mf_codec_encode_f64v(v, 4, &enc, &len), 0);
    mf_type t;
    const uint8_t *pl;
    size_t plen, n;
    assert_int_equal(mf_codec_parse(enc, len, &t, &pl, &plen), 0);
    assert_int_equal(t, MF_F64V);
    double *back;
    assert_int_equal(mf_codec_decode_f64v(pl, plen, &back, &n), 0);
    assert_int_equal(n, 4);
    assert_memory_equal(back, v, sizeof v);
    free(back);
    /* a list of one type does not decode as a scalar */
    int64_t x;
    assert_int_equal(mf_codec_decode_i64(pl, plen, &x), MF_ECORRUPT);
    free(enc);
}

static void test_strv_layout_and_round_trip(void **state)
{
    (void)state;
    const char *v[] = {"a", "", "bc", "ünï"};
    uint8_t *enc;
    size_t len;
    assert_int_equal(mf_codec_encode_strv(v, 4, &enc, &len), 0);
    size_t want_len = 8 + 8 + (8 + 1) + 8 + (8 + 2) + (8 + strlen("ünï"));
    assert_int_equal(len, want_len);
    assert_int_equal(enc[4], MF_STRV);
    /* count, then (len, bytes) */
    assert_int_equal(enc[8], 4);
    assert_int_equal(enc[16], 1);
    assert_int_equal(enc[24], 'a');
    assert_int_equal(enc[25], 0);   /* "" has length 0 */
    mf_type t;
    const uint8_t *pl;
    size_t plen, n;
    assert_int_equal(mf_codec_parse(enc, len, &t, &pl, &plen), 0);
    assert_int_equal(t, MF_STRV);
    assert_int_equal(mf_codec_list_count(t, pl, plen, &n), 0);
    assert_int_equal(n, 4);
    char **back;
    assert_int_equal(mf_codec_decode_strv(pl, plen, &back, &n), 0);
    assert_int_equal(n, 4);
    for (size_t i = 0; i < 4; i++)
        assert_string_equal(back[i], v[i]);
    free(back);   /* one block */
    free(enc);

    assert_int_equal(mf_codec_encode_strv(NULL, 0, &enc, &len), 0);
    assert_int_equal(len, 16);
    assert_int_equal(mf_codec_parse(enc, len, &t, &pl, &plen), 0);
    assert_int_equal(mf_codec_decode_strv(pl, plen, &back, &n), 0);
    assert_int_equal(n, 0);
    free(back);
    free(enc);
}

static void test_bad_headers(void **state)
{
    (void)state;
    uint8_t *enc;
    size_t len;
    mf_type t;
    const uint8_t *pl;
    size_t plen;
    assert_int_equal(mf_codec_encode_i64(5, &enc, &len), 0);
    assert_int_equal(mf_codec_parse(enc, 0, &t, &pl, &plen), MF_ECORRUPT);
    assert_int_equal(mf_codec_parse(enc, 7, &t, &pl, &plen), MF_ECORRUPT);
    assert_int_equal(mf_codec_parse(NULL, 16, &t, &pl, &plen), MF_ECORRUPT);
    const struct {
        int at;
        uint8_t val;
    } flips[] = {{0, 'X'}, {2, 'W'}, {3, 2}, {3, 0}, {4, 0}, {4, 8}, {4, 9}, {4, 200}, {5, 1},
                 {7, 1}};
    for (size_t i = 0; i < sizeof flips / sizeof flips[0]; i++) {
        uint8_t copy[16];
        memcpy(copy, enc, 16);
        copy[flips[i].at] = flips[i].val;
        assert_int_equal(mf_codec_parse(copy, 16, &t, &pl, &plen), MF_ECORRUPT);
    }
    /* scalars must be exactly 8 bytes */
    assert_int_equal(mf_codec_parse(enc, 15, &t, &pl, &plen), MF_ECORRUPT);
    uint8_t longer[17];
    memcpy(longer, enc, 16);
    longer[16] = 0;
    assert_int_equal(mf_codec_parse(longer, 17, &t, &pl, &plen), MF_ECORRUPT);
    int64_t x;
    assert_int_equal(mf_codec_decode_i64(enc + 8, 7, &x), MF_ECORRUPT);
    double d;
    assert_int_equal(mf_codec_decode_f64(enc + 8, 9, &d), MF_ECORRUPT);
    free(enc);
}

static void test_fixed_list_counts_not_trusted(void **state)
{
    (void)state;
    uint8_t pl[8 + 16];
    mf_type t;
    const uint8_t *p;
    size_t plen, n;
    int64_t *v = NULL;
    /* count says 3, payload holds 2 */
    put_le(pl, 3);
    memset(pl + 8, 1, 16);
    assert_int_equal(mf_codec_decode_i64v(pl, sizeof pl, &v, &n), MF_ECORRUPT);
    assert_int_equal(mf_codec_list_count(MF_I64V, pl, sizeof pl, &n), MF_ECORRUPT);
    /* count says 1, payload holds 2 (trailing bytes) */
    put_le(pl, 1);
    assert_int_equal(mf_codec_decode_i64v(pl, sizeof pl, &v, &n), MF_ECORRUPT);
    /* a count whose × 8 wraps around to the payload size */
    put_le(pl, (UINT64_C(1) << 61) + 2);
    assert_int_equal(mf_codec_decode_i64v(pl, sizeof pl, &v, &n), MF_ECORRUPT);
    assert_int_equal(mf_codec_list_count(MF_F64V, pl, sizeof pl, &n), MF_ECORRUPT);
    put_le(pl, UINT64_MAX);
    double *dv = NULL;
    assert_int_equal(mf_codec_decode_f64v(pl, sizeof pl, &dv, &n), MF_ECORRUPT);
    assert_null(dv);
    /* a partial element */
    put_le(pl, 2);
    assert_int_equal(mf_codec_decode_i64v(pl, sizeof pl - 3, &v, &n), MF_ECORRUPT);
    /* no count at all */
    assert_int_equal(mf_codec_decode_i64v(pl, 7, &v, &n), MF_ECORRUPT);
    assert_null(v);
    /* the same through parse */
    size_t len;
    put_le(pl, 5);
    uint8_t *enc = hand_encoded(MF_I64V, pl, sizeof pl, &len);
    assert_int_equal(mf_codec_parse(enc, len, &t, &p, &plen), MF_ECORRUPT);
    put_le(enc + 8, 2);
    assert_int_equal(mf_codec_parse(enc, len, &t, &p, &plen), 0);
    free(enc);
}

static void test_strv_counts_not_trusted(void **state)
{
    (void)state;
    uint8_t pl[64];
    size_t n;
    char **v = NULL;
    /* a huge count */
    put_le(pl, UINT64_MAX / 2);
    put_le(pl + 8, 1);
    pl[16] = 'x';
    assert_int_equal(mf_codec_decode_strv(pl, 17, &v, &n), MF_ECORRUPT);
    assert_int_equal(mf_codec_list_count(MF_STRV, pl, 17, &n), MF_ECORRUPT);
    /* a length past the end */
    put_le(pl, 1);
    put_le(pl + 8, 2);
    assert_int_equal(mf_codec_decode_strv(pl, 17, &v, &n), MF_ECORRUPT);
    /* a length that would wrap the offset */
    put_le(pl + 8, UINT64_MAX - 3);
    assert_int_equal(mf_codec_decode_strv(pl, 17, &v, &n), MF_ECORRUPT);
    /* bytes left after the last string */
    put_le(pl + 8, 1);
    assert_int_equal(mf_codec_decode_strv(pl, 18, &v, &n), MF_ECORRUPT);
    /* second element's length cut short */
    put_le(pl, 2);
    assert_int_equal(mf_codec_decode_strv(pl, 17 + 4, &v, &n), MF_ECORRUPT);
    assert_null(v);
    /* and a good one from the same bytes */
    put_le(pl, 1);
    assert_int_equal(mf_codec_decode_strv(pl, 17, &v, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(v[0], "x");
    free(v);
}

static void test_list_count_rejects_scalars(void **state)
{
    (void)state;
    uint8_t pl[8] = {0};
    size_t n;
    assert_int_equal(mf_codec_list_count(MF_I64, pl, 8, &n), MF_EINVAL);
    assert_int_equal(mf_codec_list_count(MF_STR, pl, 8, &n), MF_EINVAL);
    assert_int_equal(mf_codec_list_count(MF_I64V, pl, 8, &n), 0);
    assert_int_equal(n, 0);
}

static void test_type_names(void **state)
{
    (void)state;
    const char *names[] = {"i64", "f64", "str", "bytes", "i64[]", "f64[]", "str[]"};
    for (int t = MF_I64; t <= MF_STRV; t++) {
        assert_string_equal(mf_type_name((mf_type)t), names[t - 1]);
        assert_int_equal(mf_type_from_name(names[t - 1]), t);
    }
    /* parameters may be booleans (stored as i64) */
    assert_string_equal(mf_type_name(MF_BOOL), "bool");
    assert_int_equal(mf_type_from_name("bool"), MF_BOOL);
    assert_string_equal(mf_type_name((mf_type)0), "?");
    assert_string_equal(mf_type_name((mf_type)99), "?");
    assert_int_equal(mf_type_from_name("int"), 0);
    assert_int_equal(mf_type_from_name(""), 0);
    assert_int_equal(mf_type_from_name(NULL), 0);
}

/* A value of a newer format version is told apart from damage: mf_codec_newer names its
 * version, and only for "MFV" with a larger byte 3. */
static void test_newer_version(void **state)
{
    (void)state;
    uint8_t v[16] = {'M', 'F', 'V', 1, MF_I64, 0, 0, 0, 42};
    assert_int_equal(mf_codec_newer(v, sizeof v), 0);
    v[3] = 2;
    assert_int_equal(mf_codec_newer(v, sizeof v), 2);
    assert_int_equal(mf_codec_parse(v, sizeof v, NULL, NULL, NULL), MF_ECORRUPT);
    v[3] = 255;
    assert_int_equal(mf_codec_newer(v, sizeof v), 255);
    assert_int_equal(mf_codec_newer(v, 7), 0);        /* too short to be a value */
    v[3] = 0;
    assert_int_equal(mf_codec_newer(v, sizeof v), 0);  /* older or broken: damage, not newer */
    v[3] = 2;
    v[0] = 'X';
    assert_int_equal(mf_codec_newer(v, sizeof v), 0);  /* not a value at all */
    assert_int_equal(mf_codec_newer(NULL, 16), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_bytes),
        cmocka_unit_test(test_i64_layout_and_round_trip),
        cmocka_unit_test(test_f64_round_trip),
        cmocka_unit_test(test_str_and_bytes_parse),
        cmocka_unit_test(test_i64v_round_trip),
        cmocka_unit_test(test_f64v_round_trip),
        cmocka_unit_test(test_strv_layout_and_round_trip),
        cmocka_unit_test(test_bad_headers),
        cmocka_unit_test(test_fixed_list_counts_not_trusted),
        cmocka_unit_test(test_strv_counts_not_trusted),
        cmocka_unit_test(test_list_count_rejects_scalars),
        cmocka_unit_test(test_type_names),
        cmocka_unit_test(test_newer_version),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
