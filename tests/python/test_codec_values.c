/* Unit tests of the value types other SDKs write (core/src/codec.c): obj (JSON text), pickle,
 * npy, and a type byte this mflow does not know (sdk/DATASTORE.md section 4). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "codec.h"

#include <mflow/plugin.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int obj_ok(const char *s, size_t *count)
{
    return mf_codec_obj_check((const uint8_t *)s, strlen(s), count);
}

static void test_obj_accepts_json(void **state)
{
    (void)state;
    const struct {
        const char *text;
        size_t count;   /* SIZE_MAX: not an array */
    } ok[] = {
        {"null", SIZE_MAX},
        {" true ", SIZE_MAX},
        {"false", SIZE_MAX},
        {"0", SIZE_MAX},
        {"-0.5e+10", SIZE_MAX},
        {"123456789012345678901234567890", SIZE_MAX},     /* integers of any size */
        {"1E-7", SIZE_MAX},
        {"\"a\\u00e9\\ud83d\\ude00\\n\\\"\\\\\\/\"", SIZE_MAX},
        {"\"\xc3\xa9\xf0\x9f\x98\x80\"", SIZE_MAX},
        {"\"\\u0000\"", SIZE_MAX},
        {"[]", 0},
        {"[ ]", 0},
        {"[1]", 1},
        {"[1, [2, 3], {\"a\": [4, 5, 6]}, \"x,y\"]", 4},
        {"\n[\t{\"$tuple\": [1, 2]} ,{\"$tuple\":[3,4]}\r]\n", 2},
        {"{}", SIZE_MAX},
        {"{\"a\": {\"b\": []}, \"c\": null}", SIZE_MAX},
        {"[[], [], []]", 3},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        size_t c = 7;
        int rc = obj_ok(ok[i].text, &c);
        if (rc)
            fail_msg("refused valid JSON [%s]", ok[i].text);
        if (c != ok[i].count)
            fail_msg("[%s]: count %zu, want %zu", ok[i].text, c, ok[i].count);
    }
}

static void test_obj_refuses_what_is_not_json(void **state)
{
    (void)state;
    const char *bad[] = {
        "", " ", "nul", "nulls", "True", "NaN", "Infinity", "-Infinity", "01", "1.", ".5",
        "1e", "+1", "--1", "[", "]", "[1,]", "[,1]", "[1 2]", "{\"a\"}", "{\"a\":}", "{a:1}",
        "{\"a\":1,}", "{\"a\" 1}", "{1:2}", "\"abc", "\"\\x\"", "\"\\u12\"", "\"\\ud800\"",
        "\"\\udc00\"", "\"\\ud800\\u0041\"", "\"tab\there\"", "\"\xff\"", "\"\xed\xa0\x80\"",
        "\"\xc0\xaf\"", "1 2", "[1] x", "{\"a\":1}}", "[]]", "'a'",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (obj_ok(bad[i], NULL) != MF_ECORRUPT)
            fail_msg("accepted [%s]", bad[i]);
    /* a NUL byte in the text (not the escape) */
    assert_int_equal(mf_codec_obj_check((const uint8_t *)"\"a\0b\"", 5, NULL), MF_ECORRUPT);
    assert_int_equal(mf_codec_obj_check((const uint8_t *)"1\0", 2, NULL), MF_ECORRUPT);
}

static char *nested(size_t depth)
{
    char *s = malloc(2 * depth + 1);
    assert_non_null(s);
    memset(s, '[', depth);
    memset(s + depth, ']', depth);
    s[2 * depth] = 0;
    return s;
}

static void test_obj_depth_limit(void **state)
{
    (void)state;
    char *s = nested(MF_OBJ_MAX_DEPTH);
    size_t c;
    assert_int_equal(obj_ok(s, &c), 0);
    assert_int_equal(c, MF_OBJ_MAX_DEPTH > 1 ? 1 : 0);
    free(s);
    s = nested(MF_OBJ_MAX_DEPTH + 1);
    assert_int_equal(obj_ok(s, &c), MF_ECORRUPT);
    free(s);
    s = nested(100000);
    assert_int_equal(obj_ok(s, &c), MF_ECORRUPT);   /* no recursion to run out of */
    free(s);
}

static void test_obj_parse_and_count(void **state)
{
    (void)state;
    const char *json = "[{\"$tuple\": [1, 2]}, {\"$tuple\": [1, 3]}, null]";
    uint8_t buf[128];
    mf_codec_header(buf, MF_OBJ);
    memcpy(buf + 8, json, strlen(json));
    mf_type t;
    const uint8_t *p;
    size_t pl, n = 0;
    assert_int_equal(mf_codec_parse(buf, 8 + strlen(json), &t, &p, &pl), 0);
    assert_int_equal(t, MF_OBJ);
    assert_int_equal(pl, strlen(json));
    assert_int_equal(mf_codec_list_count(MF_OBJ, p, pl, &n), 0);
    assert_int_equal(n, 3);
    /* not an array: not a list */
    assert_int_equal(mf_codec_list_count(MF_OBJ, (const uint8_t *)"{\"a\": [1]}", 10, &n),
                     MF_EINVAL);
    assert_int_equal(mf_codec_list_count(MF_OBJ, (const uint8_t *)"7", 1, &n), MF_EINVAL);
    assert_int_equal(mf_codec_list_count(MF_OBJ, (const uint8_t *)"[1,", 3, &n), MF_ECORRUPT);
    assert_int_equal(mf_codec_list_count(MF_PICKLE, (const uint8_t *)"\x80\x04.", 3, &n),
                     MF_EINVAL);
    /* damaged text behind a sound header */
    memcpy(buf + 8, "[1,}", 4);
    assert_int_equal(mf_codec_parse(buf, 12, &t, &p, &pl), MF_ECORRUPT);
    assert_int_equal(mf_codec_newer_type(buf, 12), 0);
}

/* An .npy payload of version major with the given header dict (padded as numpy pads). */
static size_t npy(uint8_t *out, int major, const char *dict, size_t data_len)
{
    static const uint8_t magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
    memcpy(out, magic, 6);
    out[6] = (uint8_t)major;
    out[7] = 0;
    size_t pre = major == 1 ? 10 : 12, hl = strlen(dict);
    size_t total = pre + hl + 1;
    size_t pad = (64 - total % 64) % 64;
    hl += pad + 1;
    if (major == 1) {
        out[8] = (uint8_t)hl;
        out[9] = (uint8_t)(hl >> 8);
    } else {
        for (int i = 0; i < 4; i++)
            out[8 + i] = (uint8_t)(hl >> (8 * i));
    }
    memcpy(out + pre, dict, strlen(dict));
    memset(out + pre + strlen(dict), ' ', pad);
    out[pre + hl - 1] = '\n';
    memset(out + pre + hl, 0xab, data_len);
    return pre + hl + data_len;
}

static void test_npy(void **state)
{
    (void)state;
    uint8_t b[512];
    char dtype[16], shape[32];
    size_t n = npy(b, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", 48);
    assert_int_equal(mf_codec_check(MF_NPY, b, n), 0);
    assert_int_equal(mf_codec_npy_info(b, n, dtype, sizeof dtype, shape, sizeof shape), 0);
    assert_string_equal(dtype, "<f8");
    assert_string_equal(shape, "(2, 3)");
    n = npy(b, 2, "{'descr': '|u1', 'fortran_order': False, 'shape': (5,), }", 5);
    assert_int_equal(mf_codec_check(MF_NPY, b, n), 0);
    assert_int_equal(mf_codec_npy_info(b, n, dtype, sizeof dtype, shape, sizeof shape), 0);
    assert_string_equal(dtype, "|u1");
    assert_string_equal(shape, "(5,)");
    n = npy(b, 1, "{'descr': [('a', '<i4')], 'fortran_order': False, 'shape': (), }", 4);
    assert_int_equal(mf_codec_npy_info(b, n, dtype, sizeof dtype, shape, sizeof shape), 0);
    assert_string_equal(dtype, "structured");
    assert_string_equal(shape, "()");
    /* truncated to the buffers */
    n = npy(b, 1, "{'descr': '<U100000', 'fortran_order': False, 'shape': (1, 2, 3), }", 0);
    char small[4];
    assert_int_equal(mf_codec_npy_info(b, n, small, sizeof small, shape, sizeof shape), 0);
    assert_string_equal(small, "<U1");
    /* damage: magic, version, header past the end */
    uint8_t c[512];
    memcpy(c, b, n);
    c[1] = 'n';
    assert_int_equal(mf_codec_check(MF_NPY, c, n), MF_ECORRUPT);
    memcpy(c, b, n);
    c[6] = 4;
    assert_int_equal(mf_codec_check(MF_NPY, c, n), MF_ECORRUPT);
    assert_int_equal(mf_codec_check(MF_NPY, b, 20), MF_ECORRUPT);
    assert_int_equal(mf_codec_check(MF_NPY, b, 9), MF_ECORRUPT);
    assert_int_equal(mf_codec_check(MF_NPY, (const uint8_t *)"", 0), MF_ECORRUPT);
}

static void test_pickle_is_opaque_and_type_checks(void **state)
{
    (void)state;
    assert_int_equal(mf_codec_check(MF_PICKLE, (const uint8_t *)"anything", 8), 0);
    assert_int_equal(mf_codec_check(MF_PICKLE, (const uint8_t *)"", 0), 0);
    assert_int_equal(mf_codec_check(MF_BOOL, (const uint8_t *)"", 0), MF_EINVAL);
    assert_int_equal(mf_codec_check((mf_type)0, (const uint8_t *)"", 0), MF_EINVAL);
    assert_int_equal(mf_codec_check((mf_type)12, (const uint8_t *)"", 0), MF_EINVAL);
    assert_int_equal(mf_codec_check((mf_type)(256 + MF_OBJ), (const uint8_t *)"1", 1),
                     MF_EINVAL);
    assert_int_equal(mf_codec_check(MF_I64, (const uint8_t *)"12345678", 8), 0);
    assert_int_equal(mf_codec_check(MF_I64, (const uint8_t *)"1234567", 7), MF_ECORRUPT);
    assert_int_equal(mf_codec_check(MF_OBJ, (const uint8_t *)"[1]", 3), 0);
    assert_int_equal(mf_codec_check(MF_OBJ, (const uint8_t *)"[1", 2), MF_ECORRUPT);
}

static void test_names(void **state)
{
    (void)state;
    const char *names[] = {"obj", "pickle", "npy"};
    for (int t = MF_OBJ; t <= MF_NPY; t++) {
        assert_string_equal(mf_type_name((mf_type)t), names[t - MF_OBJ]);
        assert_int_equal(mf_type_from_name(names[t - MF_OBJ]), t);
    }
    assert_string_equal(mf_type_name((mf_type)12), "?");
}

static void test_newer_type(void **state)
{
    (void)state;
    uint8_t b[16] = {'M', 'F', 'V', 1, 12, 0, 0, 0, 1, 2, 3};
    mf_type t;
    assert_int_equal(mf_codec_parse(b, 11, &t, NULL, NULL), MF_ECORRUPT);
    assert_int_equal(mf_codec_newer_type(b, 11), 12);
    b[4] = 255;
    assert_int_equal(mf_codec_newer_type(b, 11), 255);
    /* known types, 0 and 8 are not newer; a bad header is damage, not a newer type */
    for (int k = 0; k <= MF_NPY; k++) {
        b[4] = (uint8_t)k;
        assert_int_equal(mf_codec_newer_type(b, 11), 0);
    }
    b[4] = 12;
    b[5] = 1;
    assert_int_equal(mf_codec_newer_type(b, 11), 0);
    b[5] = 0;
    b[3] = 2;
    assert_int_equal(mf_codec_newer_type(b, 11), 0);
    b[3] = 1;
    assert_int_equal(mf_codec_newer_type(b, 7), 0);
    b[0] = 'X';
    assert_int_equal(mf_codec_newer_type(b, 11), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_obj_accepts_json),
        cmocka_unit_test(test_obj_refuses_what_is_not_json),
        cmocka_unit_test(test_obj_depth_limit),
        cmocka_unit_test(test_obj_parse_and_count),
        cmocka_unit_test(test_npy),
        cmocka_unit_test(test_pickle_is_opaque_and_type_checks),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_newer_type),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
