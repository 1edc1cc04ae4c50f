/* Task records: compact input paths, reading a task's inputs (inline or stored beside the
 * task), and what derivation records about them. */
#include "graph.h"
#include "host.h"
#include "index.h"
#include "record.h"
#include "store.h"
#include "util.h"

#include <jansson.h>
#include <locale.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static struct mf_store st;
static char home[] = "/tmp/mflow-test-record.XXXXXX";

static int setup(void **state)
{
    (void)state;
    if (!mkdtemp(home))
        return -1;
    struct mf_host_opts o = {.home = home};
    char *err = NULL;
    if (mf_host_init(&o) != 0 || mf_store_open(&st, &err) != 0) {
        free(err);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    mf_store_close(&st);
    mf_host_fini();
    char *cmd = mf_strf("rm -rf '%s'", home);
    int rc = system(cmd);
    free(cmd);
    return rc == 0 ? 0 : -1;
}

static void put_task(const char *step, int64_t id, uint32_t attempt, int64_t value)
{
    struct mf_task_record r;
    mf_task_record_init(&r);
    r.flow = strdup("F");
    r.run_id = 1;
    r.step = strdup(step);
    r.task_id = id;
    r.attempt = attempt;
    r.status = MF_STATUS_SUCCEEDED;
    char key[MF_BLOB_KEY_LEN + 1];
    memset(key, 'a', MF_BLOB_KEY_LEN);
    key[MF_BLOB_KEY_LEN] = '\0';
    assert_int_equal(mf_record_set_art(&r, "v", MF_I64, key, (uint64_t)value), 0);
    assert_int_equal(mf_record_write(&st, &r), 0);
    mf_task_record_free(&r);
}

static void test_parse_ranges(void **state)
{
    (void)state;
    char **p;
    uint32_t *a;
    size_t n;
    assert_int_equal(mf_input_paths_parse("body/5-7,other/9@2", &p, &a, &n), 0);
    assert_int_equal(n, 4);
    assert_string_equal(p[0], "body/5");
    assert_string_equal(p[2], "body/7");
    assert_string_equal(p[3], "other/9");
    assert_int_equal(a[0], 0);
    assert_int_equal(a[3], 2);
    for (size_t i = 0; i < n; i++)
        free(p[i]);
    free(p);
    free(a);
    assert_int_not_equal(mf_input_paths_parse("body/7-5", &p, &a, &n), 0);
    for (size_t i = 0; i < n; i++)
        free(p[i]);
    free(p);
    free(a);
}

static void free_paths(char **p, uint32_t *a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(p[i]);
    free(p);
    free(a);
}

/* Ids and attempts that do not fit, signs, and ranges too long to expand are refused (found
 * by fuzzing: INT64_MAX overflowed the range loop, a huge range allocated without end,
 * "@-1" wrapped to attempt 4294967295, and "/8" named a task of no step). */
static void test_parse_bounds(void **state)
{
    (void)state;
    char **p;
    uint32_t *a;
    size_t n;
    static const char *bad[] = {
        "s/1@-1", "s/1@+1", "s/1@ 1", "s/1@4294967296", "s/1@99999999999999999999",
        "s/-1", "s/+1", "s/ 1", "s/9223372036854775808", "s/99999999999999999999999",
        "s/1-9223372036854775808", "s/1--2", "s/1-+2", "s/1-9223372036854775807",
        "s/1-1048577", "a/1-1048576,b/1", "/8", "a/1,/2-3",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = mf_input_paths_parse(bad[i], &p, &a, &n);
        if (rc != MF_EINVAL)
            fail_msg("'%s' gave %d, not MF_EINVAL", bad[i], rc);
        free_paths(p, a, n);
    }
    assert_int_equal(mf_input_paths_parse("s/9223372036854775807@4294967295", &p, &a, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(p[0], "s/9223372036854775807");
    assert_int_equal(a[0], 4294967295u);
    free_paths(p, a, n);
    assert_int_equal(mf_input_paths_parse("s/9223372036854775806-9223372036854775807", &p, &a, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(p[1], "s/9223372036854775807");
    free_paths(p, a, n);
    /* exactly the most a task takes */
    assert_int_equal(mf_input_paths_parse("s/1-1048576", &p, &a, &n), 0);
    assert_int_equal(n, MF_INPUT_PATHS_MAX);
    assert_string_equal(p[n - 1], "s/1048576");
    free_paths(p, a, n);
}

static void check_inputs(const char *paths)
{
    struct mf_task_record *in;
    size_t n;
    char *err = NULL;
    assert_int_equal(mf_record_read_inputs(&st, "F", 1, "join", 10, paths, &in, &n, &err), 0);
    assert_int_equal(n, 3);
    assert_string_equal(in[0].step, "a");
    assert_int_equal(in[1].task_id, 3);
    assert_string_equal(in[2].step, "b");
    assert_int_equal(in[2].attempt, 1);
    assert_int_equal(mf_record_find(&in[2], "v")->size, 40);
    mf_record_free_inputs(in, n);
}

static void test_read_inline_and_stored(void **state)
{
    (void)state;
    put_task("a", 2, 0, 20);
    put_task("a", 3, 0, 30);
    put_task("b", 4, 1, 40);
    check_inputs("a/2-3,b/4@1");
    /* The stored list belongs to the task, whatever attempt reads it (a retried join). */
    char *key = mf_key_inputs("F", 1, "join", 10);
    const char *list = "a/2-3,b/4@1";
    struct mf_iov iov = {list, strlen(list)};
    assert_int_equal(st.ops->put(st.state, key, &iov, 1, 0), 0);
    free(key);
    check_inputs("@");
}

static void test_read_errors(void **state)
{
    (void)state;
    struct mf_task_record *in;
    size_t n;
    char *err = NULL;
    assert_int_not_equal(mf_record_read_inputs(&st, "F", 1, "join", 11, "a/x", &in, &n, &err), 0);
    assert_non_null(strstr(err, "malformed input paths 'a/x'"));
    free(err);
    err = NULL;
    assert_int_not_equal(mf_record_read_inputs(&st, "F", 1, "join", 11, "@", &in, &n, &err), 0);
    assert_non_null(strstr(err, "cannot read the input list"));
    free(err);
    err = NULL;
    assert_int_equal(mf_record_read_inputs(&st, "F", 1, "start", 1, NULL, &in, &n, &err), 0);
    assert_int_equal(n, 0);
}

static void fn(mf_task *t) { (void)t; }

static void test_derive_records_inputs(void **state)
{
    (void)state;
    static const mf_step_def steps[] = {
        {.name = "start", .fn = fn, .next = "a b"},
        {.name = "a", .fn = fn, .next = "join"},
        {.name = "b", .fn = fn, .next = "join"},
        {.name = "join", .fn = fn, .next = "end", .join = 1},
        {.name = "end", .fn = fn},
    };
    mf_flow_def def = {sizeof def, MF_FLOW_ABI_VERSION, "F", steps, 5, NULL, 0,
                       MF_FLOW_ABI_MINOR, sizeof(mf_step_def), sizeof(mf_param_def), NULL, 0, 0};
    mf_graph *g;
    char *err = NULL;
    assert_int_equal(mf_graph_build(&def, &g, &err), 0);
    struct mf_task_record in[2];
    mf_task_record_init(&in[0]);
    mf_task_record_init(&in[1]);
    in[0].step = strdup("a");
    in[0].task_id = 2;
    in[1].step = strdup("b");
    in[1].task_id = 3;
    in[1].attempt = 2;
    for (int i = 0; i < 2; i++) {
        in[i].stack = calloc(1, sizeof *in[i].stack);
        in[i].stack[0].step = strdup("start");
        in[i].stack[0].task = 1;
        in[i].stack[0].index = (uint32_t)i;
        in[i].stack[0].count = 2;
        in[i].depth = 1;
    }
    struct mf_task_record out;
    mf_task_record_init(&out);
    assert_int_equal(mf_record_derive(g, mf_graph_find(g, "join"), in, 2, -1, &out, &err), 0);
    assert_int_equal(out.n_inputs, 2);
    assert_string_equal(out.inputs[1], "b/3");
    assert_int_equal(out.input_attempts[1], 2);
    assert_int_equal(out.depth, 0);
    mf_task_record_free(&out);
    mf_task_record_free(&in[0]);
    mf_task_record_free(&in[1]);
    mf_graph_destroy(g);
}

/* A record of a newer format is MF_ENOTSUP, named with both formats; one of no known format
 * (0, missing, a string) is damage. Task and run records alike. */
static void test_record_formats(void **state)
{
    (void)state;
    static const char task[] =
        "{\"format\":%s,\"flow\":\"F\",\"run_id\":1,\"step\":\"start\",\"task_id\":1,"
        "\"attempt\":0,\"status\":\"succeeded\",\"inputs\":[],\"stack\":[],\"artifacts\":{}}";
    static const char run[] = "{\"format\":%s,\"flow\":\"F\",\"run_id\":1,\"status\":"
                              "\"succeeded\",\"parameters\":{}}";
    static const struct {
        const char *fmt;
        int rc;
        const char *msg;
    } cases[] = {
        {"1", 0, NULL},
        {"2", MF_ENOTSUP, "task record format 2 is newer than the format 1 this mflow reads"},
        {"17", MF_ENOTSUP, "task record format 17 is newer than the format 1"},
        {"0", MF_ECORRUPT, "task record format 0 is not 1"},
        {"\"1\"", MF_ECORRUPT, "task record format 0 is not 1"},
        {"-3", MF_ECORRUPT, "task record format -3 is not 1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *text = mf_strf(task, cases[i].fmt);
        struct mf_task_record r;
        char *err = NULL;
        assert_int_equal(mf_task_record_from_json(text, strlen(text), &r, &err), cases[i].rc);
        if (cases[i].msg) {
            assert_non_null(err);
            assert_non_null(strstr(err, cases[i].msg));
        } else {
            assert_string_equal(r.step, "start");
            mf_task_record_free(&r);
        }
        free(err);
        free(text);
        text = mf_strf(run, cases[i].fmt);
        struct mf_run_rec rr;
        assert_int_equal(mf_run_record_from_json(text, strlen(text), &rr, NULL), cases[i].rc);
        free(text);
    }
    char *m = mf_record_newer_msg("runs/F/1/run.json");
    assert_string_equal(m, "runs/F/1/run.json is of a newer format than the format 1 this mflow "
                           "reads: read it with a newer mflow");
    free(m);
}

/* Free text that is not UTF-8 (a message, a host, a user, tags) survives a record's JSON: it is
 * written as {"type": "str", "hex"} and read back to the same bytes; UTF-8 stays a string. */
static void test_record_text(void **state)
{
    (void)state;
    static const char *const texts[] = {"plain", "caf\xc3\xa9", "caf\xe9", "\xff\xfe", "\xed\xa0\x80",
                                        "ok\xe2\x82"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        struct mf_task_record r;
        mf_task_record_init(&r);
        r.flow = strdup("F");
        r.step = strdup("s");
        r.run_id = r.task_id = 1;
        r.status = MF_STATUS_FAILED;
        r.message = strdup(texts[i]);
        r.host = strdup(texts[i]);
        char *js = mf_task_record_to_json(&r);
        assert_non_null(js);
        int utf8 = mf_utf8_valid(texts[i], strlen(texts[i]));
        assert_int_equal(strstr(js, "\"message\":{\"type\":\"str\",\"hex\":") != NULL, !utf8);
        struct mf_task_record back;
        char *err = NULL;
        assert_int_equal(mf_task_record_from_json(js, strlen(js), &back, &err), 0);
        assert_string_equal(back.message, texts[i]);
        assert_string_equal(back.host, texts[i]);
        mf_task_record_free(&back);
        mf_task_record_free(&r);
        free(js);

        struct mf_run_rec rr;
        memset(&rr, 0, sizeof rr);
        snprintf(rr.flow, sizeof rr.flow, "F");
        rr.run_id = 1;
        rr.status = MF_STATUS_SUCCEEDED;
        snprintf(rr.user, sizeof rr.user, "%s", texts[i]);
        snprintf(rr.ns, sizeof rr.ns, "user:%s", texts[i]);
        snprintf(rr.host, sizeof rr.host, "%s", texts[i]);
        snprintf(rr.tags, sizeof rr.tags, "a\n%s\nb", texts[i]);
        snprintf(rr.storage, sizeof rr.storage, "local");
        snprintf(rr.storage_root, sizeof rr.storage_root, "file:///data/%s", texts[i]);
        js = mf_run_record_to_json(&rr, NULL);
        assert_non_null(js);
        struct mf_run_rec rb;
        assert_int_equal(mf_run_record_from_json(js, strlen(js), &rb, NULL), 0);
        assert_string_equal(rb.user, rr.user);
        assert_string_equal(rb.ns, rr.ns);
        assert_string_equal(rb.host, rr.host);
        assert_string_equal(rb.tags, rr.tags);
        assert_string_equal(rb.storage, "local");
        assert_string_equal(rb.storage_root, rr.storage_root);
        free(js);
    }
    /* a malformed hex object is not text: a task record's message is then absent */
    static const char bad[] = "{\"format\":1,\"flow\":\"F\",\"run_id\":1,\"step\":\"s\",\"task_id\":1,"
                              "\"attempt\":0,\"status\":\"failed\",\"message\":{\"type\":\"str\","
                              "\"hex\":\"4g\"}}";
    struct mf_task_record r;
    assert_int_equal(mf_task_record_from_json(bad, strlen(bad), &r, NULL), 0);
    assert_null(r.message);
    mf_task_record_free(&r);
}

/* ---- the two readers of a task record agree ----------------------------------------------- */

static size_t jansson_allocs;
static void *counting_malloc(size_t n)
{
    jansson_allocs++;
    return malloc(n);
}

static void assert_same_str(const char *a, const char *b)
{
    if (!a || !b)
        assert_ptr_equal(a, b);
    else
        assert_string_equal(a, b);
}

static void assert_same_record(const struct mf_task_record *a, const struct mf_task_record *b)
{
    assert_same_str(a->flow, b->flow);
    assert_same_str(a->step, b->step);
    assert_same_str(a->message, b->message);
    assert_same_str(a->host, b->host);
    assert_same_str(a->origin, b->origin);
    assert_true(a->run_id == b->run_id && a->task_id == b->task_id);
    assert_true(a->attempt == b->attempt && a->status == b->status);
    assert_true(a->exit_code == b->exit_code && a->term_signal == b->term_signal);
    assert_memory_equal(&a->start_time, &b->start_time, sizeof a->start_time);
    assert_memory_equal(&a->end_time, &b->end_time, sizeof a->end_time);
    assert_true(a->foreach_count == b->foreach_count);
    assert_int_equal(a->n_inputs, b->n_inputs);
    for (size_t i = 0; i < a->n_inputs; i++) {
        assert_same_str(a->inputs[i], b->inputs[i]);
        assert_int_equal(a->input_attempts[i], b->input_attempts[i]);
    }
    assert_int_equal(a->depth, b->depth);
    for (size_t i = 0; i < a->depth; i++) {
        assert_same_str(a->stack[i].step, b->stack[i].step);
        assert_true(a->stack[i].task == b->stack[i].task && a->stack[i].kind == b->stack[i].kind);
        assert_true(a->stack[i].index == b->stack[i].index && a->stack[i].count == b->stack[i].count);
    }
    assert_int_equal(a->n_arts, b->n_arts);
    for (size_t i = 0; i < a->n_arts; i++) {
        assert_string_equal(a->arts[i].name, b->arts[i].name);
        assert_int_equal(a->arts[i].type, b->arts[i].type);
        assert_string_equal(a->arts[i].key, b->arts[i].key);
        assert_true(a->arts[i].size == b->arts[i].size);
    }
}

/* Both readers on text: the same answer, error or record. */
static int check_readers(const char *text, size_t len)
{
    struct mf_task_record a, b;
    char *ea = NULL, *eb = NULL;
    int ra = mf_task_record_from_json(text, len, &a, &ea);
    int rb = mf_task_record_from_json_tree(text, len, &b, &eb);
    assert_int_equal(ra, rb);
    if (ra == 0)
        assert_same_record(&a, &b);
    else
        assert_same_str(ea, eb);
    mf_task_record_free(&a);
    mf_task_record_free(&b);
    free(ea);
    free(eb);
    return ra;
}

static uint64_t rnd_state = 88172645463325252ull;
static uint64_t rnd(void)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    return rnd_state;
}

static char *rnd_text(void)
{
    static const char *const pool[] = {"a", "step_2", "x y", "q\"uote", "back\\slash", "tab\there",
                                       "line\nbreak", "caf\xc3\xa9", "\xe9t\xe9", "/", "", "\x7f"};
    return strdup(pool[rnd() % (sizeof pool / sizeof pool[0])]);
}

static void rnd_record(struct mf_task_record *r)
{
    mf_task_record_init(r);
    r->flow = strdup(rnd() % 2 ? "TrivialForeach" : "F_2");
    r->step = strdup(rnd() % 2 ? "body" : "join");
    r->run_id = (int64_t)(rnd() % 100000);
    r->task_id = (int64_t)(rnd() % 1000000) + 1;
    r->attempt = (uint32_t)(rnd() % 4);
    r->status = rnd() % 2 ? MF_STATUS_SUCCEEDED : MF_STATUS_FAILED;
    r->exit_code = (int)(rnd() % 3) - 1;
    r->term_signal = (int)(rnd() % 10);
    if (rnd() % 2)
        r->message = rnd_text();
    if (rnd() % 4)
        r->host = rnd() % 2 ? strdup("vm") : rnd_text();
    double times[] = {0, 1796589095.1893899, 1e-300, 123456789012345678.0, 0.1, -2.5};
    r->start_time = times[rnd() % 6];
    r->end_time = times[rnd() % 6] + (double)(rnd() % 1000) / 7.0;
    r->n_inputs = rnd() % 4;
    r->inputs = r->n_inputs ? calloc(r->n_inputs, sizeof *r->inputs) : NULL;
    r->input_attempts = r->n_inputs ? calloc(r->n_inputs, sizeof *r->input_attempts) : NULL;
    for (size_t i = 0; i < r->n_inputs; i++) {
        r->inputs[i] = mf_strf("start/%llu", (unsigned long long)(rnd() % 50));
        r->input_attempts[i] = (uint32_t)(rnd() % 3);
    }
    r->depth = rnd() % 3;
    r->stack = r->depth ? calloc(r->depth, sizeof *r->stack) : NULL;
    for (size_t i = 0; i < r->depth; i++) {
        r->stack[i].step = strdup(i ? "b" : "start");
        r->stack[i].task = (int64_t)(rnd() % 100);
        r->stack[i].kind = rnd() % 2 ? MF_FRAME_FOREACH : MF_FRAME_BRANCH;
        r->stack[i].index = (uint32_t)(rnd() % 10);
        r->stack[i].count = (uint32_t)(rnd() % 10) + 1;
    }
    if (rnd() % 3)
        r->foreach_count = (int64_t)(rnd() % 5000);
    size_t na = rnd() % 5;
    static const char *const names[] = {"n", "items", "z", "a", "value_2", "out"};
    for (size_t i = 0; i < na; i++) {
        char key[MF_BLOB_KEY_LEN + 1];
        for (size_t k = 0; k < MF_BLOB_KEY_LEN; k++)
            key[k] = "0123456789abcdef"[rnd() % 16];
        key[MF_BLOB_KEY_LEN] = '\0';
        mf_type t = rnd() % 2 ? MF_I64 : MF_STR;
        assert_int_equal(mf_record_set_art(r, names[rnd() % 6], t, key, rnd() % 100000), 0);
    }
    if (rnd() % 5 == 0)
        r->origin = strdup("F/1/body/3");
}

/* Records as to_json writes them, then mangled byte by byte: wherever the fast reader takes a
 * record, it reads what jansson reads; everything else it hands to jansson. */
static void test_record_readers_agree(void **state)
{
    (void)state;
    static const char noise[] = "{}[],:\"\\ \t\n0123456789-+.eEtrufalsn\x80\xc3\x01";
    size_t taken = 0;
    for (int n = 0; n < 400; n++) {
        struct mf_task_record r;
        rnd_record(&r);
        char *js = mf_task_record_to_json(&r);
        assert_non_null(js);
        size_t len = strlen(js);
        assert_int_equal(check_readers(js, len), 0);
        /* A plain canonical record is read without jansson. */
        jansson_allocs = 0;
        json_set_alloc_funcs(counting_malloc, free);
        struct mf_task_record back;
        assert_int_equal(mf_task_record_from_json(js, len, &back, NULL), 0);
        json_set_alloc_funcs(malloc, free);
        if (jansson_allocs == 0)
            taken++;
        assert_same_record(&back, &r);
        mf_task_record_free(&back);
        char *m = malloc(2 * len + 16);
        for (int k = 0; k < 60; k++) {
            size_t ml = len, at = rnd() % len;
            memcpy(m, js, len);
            switch (rnd() % 4) {
            case 0:   /* drop a byte */
                memmove(m + at, m + at + 1, len - at - 1);
                ml--;
                break;
            case 1:   /* insert one */
                memmove(m + at + 1, m + at, len - at);
                m[at] = noise[rnd() % (sizeof noise - 1)];
                ml++;
                break;
            case 2:   /* change one */
                m[at] = noise[rnd() % (sizeof noise - 1)];
                break;
            default: {   /* repeat a stretch (duplicate members) */
                size_t n2 = rnd() % 40 + 1;
                if (at + n2 > len)
                    n2 = len - at;
                memmove(m + at + n2, m + at, len - at);
                ml += n2;
                break;
            }
            }
            check_readers(m, ml);
        }
        free(m);
        free(js);
        mf_task_record_free(&r);
    }
    /* Records with escapes, bytes past ASCII or hex text go to jansson; the rest do not. */
    assert_true(taken > 100);

    static const char *const cases[] = {
        " {\"format\" : 1 ,\n\"flow\":\"F\",\"step\":\"s\",\"status\":\"succeeded\"}\r\n",
        "{\"format\":1,\"flow\":\"F\",\"step\":\"s\",\"status\":\"succeeded\",\"x\":[1,{\"y\":"
        "[true,false,null,-0.5e+3,\"z\"]}],\"w\":{}}",
        "{\"format\":1,\"flow\":\"F\",\"step\":\"s\",\"status\":\"succeeded\",\"flow\":\"G\"}",
        "{\"format\":1.0,\"flow\":\"F\",\"step\":\"s\",\"status\":\"succeeded\"}",
        "{\"format\":1,\"flow\":\"F\",\"step\":\"s\",\"status\":\"succeeded\",\"run_id\":1e3}",
        "{\"format\":1,\"flow\":\"F\",\"step\":\"s\",\"status\":\"succeeded\",\"run_id\":-0}",
        "{\"format\":1,\"flow\":\"F\",\"step\":\"s\",\"status\":\"succeeded\",\"run_id\":01}",
        "{\"format\":1,\"flow\":\"F\",\"step\":\"s\",\"status\":\"succeeded\",\"task_id\":"
        "99999999999999999999}",
        "{\"format\":1,\"flow\":\"F\",\"step\":\"s\",\"status\":\"succeeded\",\"start_time\":1e999}",
        "{\"format\":1,\"flow\":\"F\",\"step\":\"s\",\"status\":\"succeeded\",\"start_time\":5}",
        "{\"format\":1,\"flow\":\"F\",\"step\":\"s\",\"status\":\"succeeded\",\"message\":null}",
        "{\"format\":1,\"flow\":\"F\",\"step\":\"s\",\"status\":\"running\"}",
        "{\"format\":1,\"flow\":\"F\",\"step\":\"s\",\"status\":\"nonsense\"}",
        "{\"format\":2,\"flow\":\"F\",\"step\":\"s\",\"status\":\"succeeded\"}",
        "{\"flow\":\"F\",\"step\":\"s\",\"status\":\"succeeded\"}",
        "{\"format\":1,\"flow\":\"F\",\"step\":\"s\",\"status\":\"succeeded\",\"inputs\":{}}",
        "{\"format\":1,\"flow\":\"F\",\"step\":\"s\",\"status\":\"succeeded\",\"inputs\":[{\"attempt\""
        ":2,\"path\":\"a/1\",\"more\":[]},{\"path\":\"a/2\"}],\"stack\":[{\"step\":\"a\",\"kind\":"
        "\"foreachx\",\"count\":3}]}",
        "{\"format\":1,\"flow\":\"F\",\"step\":\"s\",\"status\":\"succeeded\",\"inputs\":[{\"path\":"
        "\"a/1\",\"path\":\"a/2\"}]}",
        "{\"format\":1,\"flow\":\"F\",\"step\":\"s\",\"status\":\"succeeded\",\"artifacts\":{\"b\":{"
        "\"type\":\"i64\",\"key\":\"0000000000000000000000000000000000000000000000000000000000000000"
        "\"},\"a\":{\"size\":3,\"key\":\"1111111111111111111111111111111111111111111111111111111111111111"
        "\",\"type\":\"str\"},\"b\":{\"type\":\"str\",\"key\":\"2222222222222222222222222222222222222222"
        "222222222222222222222222\"}}}",
        "{\"format\":1,\"flow\":\"F\",\"step\":\"s\",\"status\":\"succeeded\",\"artifacts\":{\"a\":{"
        "\"type\":\"i64\",\"key\":\"00\"}}}",
        "{\"format\":1,\"flow\":\"F\",\"step\":\"s\",\"status\":\"succeeded\"} x",
        "{\"format\":1,\"flow\":\"F\",\"step\":\"s\",\"status\":\"succeeded\",}",
        "[]",
        "",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_readers(cases[i], strlen(cases[i]));
    /* a NUL inside the text */
    static const char nul[] = "{\"format\":1,\"flow\":\"F\0\",\"step\":\"s\",\"status\":\"succeeded\"}";
    check_readers(nul, sizeof nul - 1);
}

/* The two writers of a task record give the same bytes: to_json without a tree for plain
 * records, the jansson tree for the rest. */
static void check_writers(const struct mf_task_record *r, int expect_fast)
{
    jansson_allocs = 0;
    json_set_alloc_funcs(counting_malloc, free);
    char *a = mf_task_record_to_json(r);
    json_set_alloc_funcs(malloc, free);
    size_t allocs = jansson_allocs;
    char *b = mf_task_record_to_json_tree(r);
    assert_non_null(a);
    assert_non_null(b);
    assert_string_equal(a, b);
    if (expect_fast >= 0)
        assert_int_equal(allocs == 0, expect_fast);
    free(a);
    free(b);
}

static void test_record_writers_agree(void **state)
{
    (void)state;
    size_t plain = 0;
    for (int n = 0; n < 2000; n++) {
        struct mf_task_record r;
        rnd_record(&r);
        check_writers(&r, -1);
        char *js = mf_task_record_to_json_tree(&r);
        int ascii = !strstr(js, "\"hex\"");
        for (const char *c = js; *c; c++)
            ascii &= (unsigned char)*c < 0x80;
        plain += ascii;
        free(js);
        mf_task_record_free(&r);
    }
    assert_true(plain > 500);
    /* Times as jansson writes reals, and what only the tree writes. */
    static const double times[] = {0.0, -0.0, 1e20, 1e-5, 123.0, 1e300, -1.5e-300, 0.1, 1e17,
                                   123456789012345678.0, 5e-324};
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
        struct mf_task_record r;
        mf_task_record_init(&r);
        r.flow = strdup("F");
        r.step = strdup("s\x01\x1f\"\\/\x7f\b\f\n\r\t");
        r.status = MF_STATUS_SUCCEEDED;
        r.start_time = times[i];
        r.end_time = -times[i];
        r.task_id = INT64_MAX;
        r.run_id = INT64_MIN;
        r.exit_code = -2147483647 - 1;
        check_writers(&r, 1);
        r.start_time = i % 2 ? NAN : INFINITY;   /* jansson leaves the member out */
        check_writers(&r, 0);
        mf_task_record_free(&r);
    }
    struct mf_task_record r;
    mf_task_record_init(&r);
    r.flow = strdup("F");
    r.step = strdup("s");
    r.status = 99;
    r.n_inputs = 1;
    r.inputs = calloc(1, sizeof *r.inputs);
    r.inputs[0] = strdup("a/1");   /* no attempts array */
    check_writers(&r, 1);
    free(r.inputs[0]);
    r.inputs[0] = NULL;   /* jansson drops the member */
    check_writers(&r, 0);
    mf_task_record_free(&r);
}

/* A step may set a locale whose decimal point is a comma (a C flow calling setlocale, or one
 * its libraries set): the record a task writes then must still say 1.5, not 1,5, and read back
 * the same, since the orchestrator and every other reader run in the C locale. */
static void test_record_comma_locale(void **state)
{
    (void)state;
    static const double times[] = {1.5, 0.1, 1e-5, 1733500000.123456, -2.25e-300};
    char *in_c[sizeof times / sizeof times[0]];
    struct mf_task_record r;
    mf_task_record_init(&r);
    r.flow = strdup("F");
    r.step = strdup("s");
    r.status = MF_STATUS_SUCCEEDED;
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
        r.start_time = times[i];
        r.end_time = times[i] * 2;
        in_c[i] = mf_task_record_to_json(&r);
        assert_non_null(in_c[i]);
    }
    if (!setlocale(LC_NUMERIC, "de_DE.UTF-8") && !setlocale(LC_NUMERIC, "de_DE.utf8")) {
        for (size_t i = 0; i < sizeof times / sizeof times[0]; i++)
            free(in_c[i]);
        mf_task_record_free(&r);
        skip();   /* scripts/setup-deps.sh --test generates it */
    }
    char probe[16];
    snprintf(probe, sizeof probe, "%.1f", 1.5);
    assert_string_equal(probe, "1,5");   /* the locale is in force */
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
        r.start_time = times[i];
        r.end_time = times[i] * 2;
        char *js = mf_task_record_to_json(&r);
        assert_non_null(js);
        assert_string_equal(js, in_c[i]);
        assert_int_equal(check_readers(in_c[i], strlen(in_c[i])), 0);
        struct mf_task_record back;
        assert_int_equal(mf_task_record_from_json(in_c[i], strlen(in_c[i]), &back, NULL), 0);
        assert_true(back.start_time == times[i] && back.end_time == times[i] * 2);
        mf_task_record_free(&back);
        free(js);
        free(in_c[i]);
    }
    setlocale(LC_NUMERIC, "C");
    mf_task_record_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_ranges),
        cmocka_unit_test(test_parse_bounds),
        cmocka_unit_test(test_read_inline_and_stored),
        cmocka_unit_test(test_read_errors),
        cmocka_unit_test(test_derive_records_inputs),
        cmocka_unit_test(test_record_formats),
        cmocka_unit_test(test_record_text),
        cmocka_unit_test(test_record_readers_agree),
        cmocka_unit_test(test_record_writers_agree),
        cmocka_unit_test(test_record_comma_locale),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
