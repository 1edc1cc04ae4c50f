/* The s3 plugin's small parsers, compiled in from plugins/storage/s3/s3_util.c: the XML scan
 * and unescaping of ListObjectsV2 answers, percent-encoding, digests and settings. No server
 * needed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "s3_int.h"

#include <stdlib.h>
#include <string.h>

static void test_xml_scan(void **state)
{
    (void)state;
    const char *doc =
        "<?xml version=\"1.0\"?><ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/\">"
        "<KeyCount>2</KeyCount><IsTruncated>true</IsTruncated>"
        "<Contents><Key>a&amp;b&lt;c&gt;&quot;d&apos;e</Key><Size>12</Size></Contents>"
        "<Contents ><Key>&#233;&#x20AC;&#x1F600;/x</Key><Size>0</Size></Contents>"
        "<Contents><Key/><Size>5</Size></Contents>"
        "<NextContinuationToken>1gH+/=</NextContinuationToken></ListBucketResult>";
    size_t len = strlen(doc);
    const char *v, *k;
    size_t n, kn;
    assert_true(s3_xml_get(doc, len, "ListBucketResult", &v, &n));
    /* <Key> is not <KeyCount> */
    size_t pos = 0;
    const char *c;
    size_t cn;
    assert_true(s3_xml_next(v, n, &pos, "Contents", &c, &cn));
    assert_true(s3_xml_get(c, cn, "Key", &k, &kn));
    char *key = s3_xml_unescape(k, kn);
    assert_string_equal(key, "a&b<c>\"d'e");
    free(key);
    assert_true(s3_xml_next(v, n, &pos, "Contents", &c, &cn));   /* "<Contents >" */
    assert_true(s3_xml_get(c, cn, "Key", &k, &kn));
    key = s3_xml_unescape(k, kn);
    assert_string_equal(key, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80/x");
    free(key);
    assert_true(s3_xml_next(v, n, &pos, "Contents", &c, &cn));
    assert_true(s3_xml_get(c, cn, "Key", &k, &kn));   /* <Key/> */
    assert_int_equal(kn, 0);
    assert_false(s3_xml_next(v, n, &pos, "Contents", &c, &cn));
    assert_true(s3_xml_get(v, n, "KeyCount", &k, &kn));
    assert_int_equal(kn, 1);
    assert_true(s3_xml_get(v, n, "NextContinuationToken", &k, &kn));
    assert_memory_equal(k, "1gH+/=", kn);
    assert_false(s3_xml_get(v, n, "Missing", &k, &kn));
    /* truncated documents are not read past their end */
    assert_false(s3_xml_get("<Key>abc</Ke", 12, "Key", &k, &kn));
    assert_false(s3_xml_get("<Key", 4, "Key", &k, &kn));
    /* unknown or broken entities stay text */
    key = s3_xml_unescape("&bogus; &#xZZ; & &#0; x", 23);
    assert_string_equal(key, "&bogus; &#xZZ; & &#0; x");
    free(key);
}

static void test_xml_escape(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    assert_int_equal(s3_xml_escape_append(&buf, &len, &cap, "\"e&t<a>g'"), 0);
    assert_string_equal(buf, "&quot;e&amp;t&lt;a&gt;g&apos;");
    free(buf);
}

static void test_uri(void **state)
{
    (void)state;
    char *e = s3_uri_encode("a b/c+d=e~f_g.h-i&\xc3\xa9*", 1);
    assert_string_equal(e, "a%20b/c%2Bd%3De~f_g.h-i%26%C3%A9%2A");
    free(e);
    e = s3_uri_encode("x/y", 0);
    assert_string_equal(e, "x%2Fy");
    free(e);
    char *d = s3_url_decode("a%20b+c%2F%zz%4", 15);
    assert_string_equal(d, "a b c/%zz%4");
    free(d);
}

static void test_digests_and_settings(void **state)
{
    (void)state;
    unsigned char md5[16], sha[32];
    char hex[65], b64[32];
    struct mf_iov v[2] = {{"ab", 2}, {"c", 1}};
    struct s3_body b = {S3_BODY_IOV, v, 2, -1, 0, 3};
    assert_int_equal(s3_body_digest(&b, md5, sha), 0);
    s3_hex(md5, 16, hex);
    assert_string_equal(hex, "900150983cd24fb0d6963f7d28e17f72");   /* md5("abc") */
    s3_base64(md5, 16, b64);
    assert_string_equal(b64, "kAFQmDzST7DWlj99KOF/cg==");
    s3_hex(sha, 32, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    b.off = 1;   /* a window: "bc" */
    b.len = 2;
    assert_int_equal(s3_body_digest(&b, md5, NULL), 0);
    s3_hex(md5, 16, hex);
    assert_string_equal(hex, "5360af35bde9ebd8f01f492dc059593c");   /* md5("bc") */

    uint64_t sz;
    assert_int_equal(s3_parse_size("8MiB", &sz), 0);
    assert_int_equal(sz, 8u << 20);
    assert_int_equal(s3_parse_size("16M", &sz), 0);
    assert_int_equal(sz, 16u << 20);
    assert_int_equal(s3_parse_size("1G", &sz), 0);
    assert_int_equal(sz, 1u << 30);
    assert_int_equal(s3_parse_size("4096", &sz), 0);
    assert_int_equal(sz, 4096);
    assert_int_equal(s3_parse_size("-1", &sz), -1);
    assert_int_equal(s3_parse_size("8X", &sz), -1);
    unsigned u;
    assert_int_equal(s3_parse_uint("16", 1, 512, &u), 0);
    assert_int_equal(u, 16);
    assert_int_equal(s3_parse_uint("0", 1, 512, &u), -1);
    assert_int_equal(s3_parse_uint("9x", 1, 512, &u), -1);
    assert_int_equal(s3_parse_bool("Yes"), 1);
    assert_int_equal(s3_parse_bool("off"), 0);
    assert_int_equal(s3_parse_bool("maybe"), -1);
    char et[64];
    s3_etag_clean("\"abc-3\"", 7, et, sizeof et);
    assert_string_equal(et, "abc-3");
    s3_etag_clean("W/\"x\"\r\n", 7, et, sizeof et);
    assert_string_equal(et, "x");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xml_scan),
        cmocka_unit_test(test_xml_escape),
        cmocka_unit_test(test_uri),
        cmocka_unit_test(test_digests_and_settings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
