/* Unit tests of endpoints (flow ABI 1.3): the endpoint table read by its recorded entry size
 * (flowload.c), its checks (graph.c), and one request's life (endpoint.c): the request
 * getters, the answers, and what an endpoint that fails is answered with. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <mflow/plugin.h>

#include "endpoint.h"
#include "flowload.h"
#include "graph.h"

static void step(mf_task *t) { (void)t; }
static int ep_a(mf_endpoint *e) { return mf_reply_json(e, "{\"a\": 1}"); }
static int ep_b(mf_endpoint *e) { return mf_reply_jsonf(e, "[%d, \"%s\"]", 2, mf_endpoint_name(e)); }

static const mf_step_def steps[] = {{.name = "start", .fn = step, .next = "end"},
                                    {.name = "end", .fn = step}};

/* An endpoint entry of a newer minor: this mflow's fields, then one it does not know. */
struct big_ep {
    mf_endpoint_def base;
    int64_t future;
};

static mf_flow_def make_def(uint32_t struct_size, const void *eps, size_t n, uint32_t ep_size)
{
    mf_flow_def d = {struct_size, MF_FLOW_ABI_MAJOR, "EpFlow", steps, 2, NULL, 0,
                     MF_FLOW_ABI_MINOR, sizeof(mf_step_def), sizeof(mf_param_def), eps, n, ep_size};
    return d;
}

static void test_layout(void **state)
{
    (void)state;
    assert_int_equal(MF_FLOW_ABI_MINOR, 3);
    assert_int_equal(offsetof(mf_flow_def, endpoints) % sizeof(void *), 0);
    assert_int_equal(offsetof(mf_flow_def, endpoints), MF_FLOW_DEF_V1_2_SIZE);
    assert_true(MF_FLOW_DEF_V1_2_SIZE >= offsetof(mf_flow_def, param_size) + sizeof(uint32_t));
    assert_int_equal(MF_ENDPOINT_DEF_MIN_SIZE, 2 * sizeof(void *));
}

static void test_read_sizes(void **state)
{
    (void)state;
    char *err = NULL;
    mf_flow_def out;
    /* this mflow's size */
    static const mf_endpoint_def same[] = {{.name = "a", .fn = ep_a, .help = "A"},
                                           {.name = "b", .fn = ep_b}};
    mf_flow_def d = make_def(sizeof(mf_flow_def), same, 2, sizeof same[0]);
    assert_int_equal(mf_flow_def_read(&d, "x.so", &out, &err), 0);
    assert_int_equal(out.n_endpoints, 2);
    assert_int_equal(out.endpoint_size, sizeof(mf_endpoint_def));
    assert_string_equal(out.endpoints[1].name, "b");
    assert_ptr_equal(out.endpoints[1].fn, ep_b);
    assert_null(out.endpoints[1].help);
    assert_ptr_not_equal(out.endpoints, same);   /* a copy */
    mf_flow_def_free(&out);
    /* larger entries: stepped by their size */
    static const struct big_ep big[] = {{{.name = "a", .fn = ep_a, .help = "A"}, -1},
                                        {{.name = "b", .fn = ep_b, .help = "B"}, -1}};
    d = make_def(sizeof(mf_flow_def), big, 2, sizeof big[0]);
    assert_int_equal(mf_flow_def_read(&d, "x.so", &out, &err), 0);
    assert_string_equal(out.endpoints[1].name, "b");
    assert_string_equal(out.endpoints[1].help, "B");
    assert_ptr_equal(out.endpoints[1].fn, ep_b);
    mf_flow_def_free(&out);
    /* smaller entries (name and fn only): help reads as NULL */
    struct { const char *name; int (*fn)(mf_endpoint *); } small[] = {{"a", ep_a}, {"b", ep_b}};
    d = make_def(sizeof(mf_flow_def), small, 2, sizeof small[0]);
    assert_int_equal(mf_flow_def_read(&d, "x.so", &out, &err), 0);
    assert_string_equal(out.endpoints[1].name, "b");
    assert_null(out.endpoints[0].help);
    mf_flow_def_free(&out);
    /* a 1.2 definition: nothing past its struct_size is read */
    d = make_def(MF_FLOW_DEF_V1_2_SIZE, same, 2, sizeof same[0]);
    d.abi_minor = 2;
    assert_int_equal(mf_flow_def_read(&d, "x.so", &out, &err), 0);
    assert_int_equal(out.n_endpoints, 0);
    assert_null(out.endpoints);
    mf_flow_def_free(&out);
    /* a definition cut inside the endpoint fields: none either */
    d = make_def(offsetof(mf_flow_def, endpoint_size), same, 2, sizeof same[0]);
    assert_int_equal(mf_flow_def_read(&d, "x.so", &out, &err), 0);
    assert_int_equal(out.n_endpoints, 0);
    mf_flow_def_free(&out);
    /* entries too small */
    d = make_def(sizeof(mf_flow_def), same, 2, sizeof(void *));
    assert_int_equal(mf_flow_def_read(&d, "x.so", &out, &err), MF_EABI);
    assert_non_null(strstr(err, "x.so: its endpoint entries are 8 bytes"));
    free(err);
}

static void test_check(void **state)
{
    (void)state;
    const char *bad[] = {"", "a/b", "a b", "a.b", "é", NULL};
    for (int i = 0; bad[i]; i++) {
        mf_endpoint_def e[] = {{.name = bad[i], .fn = ep_a}};
        mf_flow_def d = make_def(sizeof(mf_flow_def), e, 1, sizeof e[0]);
        char *err = NULL;
        assert_int_equal(mf_endpoints_check(&d, &err), MF_EINVAL);
        assert_non_null(strstr(err, "flow EpFlow: endpoint 0's name '"));
        free(err);
    }
    char longname[102];
    memset(longname, 'x', 101);
    longname[101] = '\0';
    mf_endpoint_def e[] = {{.name = longname, .fn = ep_a}};
    mf_flow_def d = make_def(sizeof(mf_flow_def), e, 1, sizeof e[0]);
    char *err = NULL;
    assert_int_equal(mf_endpoints_check(&d, &err), MF_EINVAL);
    free(err);
    longname[100] = '\0';   /* 100 is the most */
    assert_int_equal(mf_endpoints_check(&d, &err), 0);
    mf_endpoint_def ok[] = {{.name = "A-z_09", .fn = ep_a}, {.name = "A-z_0", .fn = ep_b}};
    d = make_def(sizeof(mf_flow_def), ok, 2, sizeof ok[0]);
    assert_int_equal(mf_endpoints_check(&d, &err), 0);
    assert_ptr_equal(mf_endpoint_find(&d, "A-z_0", 5), &ok[1]);
    assert_ptr_equal(mf_endpoint_find(&d, "A-z_09/x", 6), &ok[0]);
    assert_null(mf_endpoint_find(&d, "A-z", 3));
    mf_endpoint_def twice[] = {{.name = "a", .fn = ep_a}, {.name = "b", .fn = ep_a},
                               {.name = "a", .fn = ep_b}};
    d = make_def(sizeof(mf_flow_def), twice, 3, sizeof twice[0]);
    assert_int_equal(mf_endpoints_check(&d, &err), MF_EINVAL);
    assert_string_equal(err, "flow EpFlow: endpoint 'a' is declared twice: give each its own name");
    free(err);
    mf_endpoint_def nofn[] = {{.name = "a"}};
    d = make_def(sizeof(mf_flow_def), nofn, 1, sizeof nofn[0]);
    assert_int_equal(mf_endpoints_check(&d, &err), MF_EINVAL);
    assert_non_null(strstr(err, "endpoint 'a' has no fn"));
    free(err);
}

static const mf_endpoint_def the_ep = {.name = "e", .fn = ep_a};

static void test_request(void **state)
{
    (void)state;
    struct mf_endpoint e;
    char *err = NULL;
    const char *body = "{\"i\": 7, \"f\": 2.5, \"s\": \"t\", \"is\": \"-12\", \"fs\": \"1e3\","
                       " \"big\": 1e300, \"bad\": \"7x\", \"n\": null}";
    assert_int_equal(mf_endpoint_start(&e, &the_ep, NULL, "POST", body, strlen(body), NULL, &err), 0);
    int64_t i = 0;
    double f = 0;
    const char *s = NULL;
    assert_int_equal(mf_req_i64(&e, "i", &i), 0);
    assert_int_equal(i, 7);
    assert_int_equal(mf_req_i64(&e, "is", &i), 0);
    assert_int_equal(i, -12);
    assert_int_equal(mf_req_i64(&e, "f", &i), MF_EINVAL);
    assert_int_equal(mf_req_i64(&e, "bad", &i), MF_EINVAL);
    assert_int_equal(mf_req_i64(&e, "n", &i), MF_EINVAL);
    assert_int_equal(mf_req_i64(&e, "nope", &i), MF_ENOTFOUND);
    assert_int_equal(mf_req_f64(&e, "f", &f), 0);
    assert_true(f == 2.5);
    assert_int_equal(mf_req_f64(&e, "i", &f), 0);
    assert_true(f == 7);
    assert_int_equal(mf_req_f64(&e, "fs", &f), 0);
    assert_true(f == 1000);
    assert_int_equal(mf_req_f64(&e, "s", &f), MF_EINVAL);
    assert_int_equal(mf_req_str(&e, "s", &s), 0);
    assert_string_equal(s, "t");
    assert_int_equal(mf_req_str(&e, "i", &s), MF_EINVAL);
    assert_int_equal(mf_req_str(&e, NULL, &s), MF_ENOTFOUND);
    assert_string_equal(mf_req_method(&e), "POST");
    json_t *back = json_loads(mf_req_json(&e), 0, NULL);
    assert_non_null(back);
    assert_int_equal(json_integer_value(json_object_get(back, "i")), 7);
    json_decref(back);
    mf_endpoint_fini(&e);
    /* no body: the query object, or {} */
    json_t *q = json_pack("{s:s}", "x", "3");
    assert_int_equal(mf_endpoint_start(&e, &the_ep, NULL, "GET", NULL, 0, q, &err), 0);
    assert_int_equal(mf_req_i64(&e, "x", &i), 0);
    assert_int_equal(i, 3);
    assert_string_equal(mf_req_json(&e), "{\"x\":\"3\"}");
    mf_endpoint_fini(&e);
    assert_int_equal(mf_endpoint_start(&e, &the_ep, NULL, "GET", NULL, 0, NULL, &err), 0);
    assert_string_equal(mf_req_json(&e), "{}");
    mf_endpoint_fini(&e);
    /* a scalar body: no members */
    assert_int_equal(mf_endpoint_start(&e, &the_ep, NULL, "POST", "5", 1, NULL, &err), 0);
    assert_int_equal(mf_req_i64(&e, "x", &i), MF_ENOTFOUND);
    mf_endpoint_fini(&e);
    /* bodies that are not JSON */
    const char *bad[] = {"{", "x=1", "{\"a\": 1} trailing", "[1,]", "\xff", NULL};
    for (int k = 0; bad[k]; k++) {
        assert_int_equal(mf_endpoint_start(&e, &the_ep, NULL, "POST", bad[k], strlen(bad[k]),
                                           NULL, &err), MF_EINVAL);
        assert_non_null(strstr(err, "the request body is not JSON (line 1, column "));
        free(err);
        mf_endpoint_fini(&e);
    }
}

static void test_answers(void **state)
{
    (void)state;
    struct mf_endpoint e;
    memset(&e, 0, sizeof e);
    e.def = &the_ep;
    assert_int_equal(mf_reply_jsonf(&e, "{\"v\": %d}", 4), 0);
    e.status = 200;
    size_t len = 0;
    char *text = mf_endpoint_answer(&e, &len);
    assert_string_equal(text, "{\"v\": 4}");
    assert_int_equal(len, 8);
    free(text);
    assert_int_equal(mf_reply_error(&e, 404, "no %s", "thing"), 404);
    assert_int_equal(e.status, 404);
    assert_null(e.reply);
    text = mf_endpoint_answer(&e, &len);
    assert_string_equal(text, "{\"error\":\"no thing\"}");
    free(text);
    assert_int_equal(mf_reply_error(&e, 200, "not an error status"), 500);
    assert_int_equal(mf_reply_error(&e, 600, "past 599"), 500);
    mf_endpoint_fini(&e);
    /* messages are JSON-escaped, and bytes that are not UTF-8 are shown escaped */
    text = mf_endpoint_error_json("a \"quoted\"\nline", &len);
    assert_string_equal(text, "{\"error\":\"a \\\"quoted\\\"\\nline\"}");
    free(text);
    text = mf_endpoint_error_json("bad \xff byte", &len);
    json_t *j = json_loads(text, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "error")), "bad \\xff byte");
    json_decref(j);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_read_sizes),
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_request),
        cmocka_unit_test(test_answers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
