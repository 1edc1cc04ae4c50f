/* The value types the Python SDK writes (obj, pickle, npy), written from C through
 * mf_set_value, and a foreach over an obj that is a JSON array. `kind` picks what the foreach
 * list is: obj (the JSON text `list`), pickle, notarray, badjson, badtype, badnpy. */
#include <mflow/flow.h>

#include <stdio.h>
#include <string.h>

/* numpy's .npy of int64 [1, 2, 3]: magic, version 1.0, header length, header, data. */
static size_t npy_i64(unsigned char *out)
{
    static const char dict[] = "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }";
    size_t hl = 128 - 10;   /* header padded so that the data starts at 128 */
    memcpy(out, "\x93NUMPY\x01\x00", 8);
    out[8] = (unsigned char)hl;
    out[9] = 0;
    memset(out + 10, ' ', hl);
    memcpy(out + 10, dict, sizeof dict - 1);
    out[10 + hl - 1] = '\n';
    for (int i = 0; i < 3; i++) {
        memset(out + 128 + 8 * i, 0, 8);
        out[128 + 8 * i] = (unsigned char)(i + 1);
    }
    return 128 + 24;
}

static void start(mf_task *t)
{
    const char *kind = mf_get_str(t, "kind");
    const char *list = mf_get_str(t, "list");
    const char *o = "{\"k\": [1, 2.5, null, true], \"$t\": \"\\u00e9\"}";
    mf_set_value(t, "o", MF_OBJ, o, strlen(o));
    mf_set_value(t, "big", MF_OBJ, "123456789012345678901234567890", 30);
    mf_set_value(t, "p", MF_PICKLE, "\x80\x04\x95\x00", 4);
    unsigned char npy[160];
    mf_set_value(t, "a", MF_NPY, npy, npy_i64(npy));
    mf_set_value(t, "i", MF_I64, "\x07\0\0\0\0\0\0\0", 8);   /* any type, raw */
    if (!strcmp(kind, "obj"))
        mf_set_value(t, "items", MF_OBJ, list, strlen(list));
    else if (!strcmp(kind, "pickle"))
        mf_set_value(t, "items", MF_PICKLE, "\x80\x04]", 3);
    else if (!strcmp(kind, "notarray"))
        mf_set_value(t, "items", MF_OBJ, "{\"a\": [1, 2]}", 13);
    else if (!strcmp(kind, "badjson"))
        mf_set_value(t, "items", MF_OBJ, "[1, 2,]", 7);
    else if (!strcmp(kind, "badtype"))
        mf_set_value(t, "items", (mf_type)12, "x", 1);
    else if (!strcmp(kind, "badnpy"))
        mf_set_value(t, "items", MF_NPY, "NUMPY", 5);
    else if (!strcmp(kind, "str"))
        mf_set_str(t, "items", "abc");
    else if (!strcmp(kind, "itemi64"))
        mf_set_value(t, "items", MF_OBJ, "[1]", 3);
}

static void each(mf_task *t)
{
    if (!strcmp(mf_get_str(t, "kind"), "itemi64"))
        mf_item_i64(t);
    mf_type ty;
    size_t len;
    const char *s = mf_get_value(t, "items", &ty, &len);
    if (ty != MF_OBJ || len != strlen(mf_get_str(t, "list")) || memcmp(s, mf_get_str(t, "list"), len))
        mf_fail(t, "items read back as type %d, %zu bytes", (int)ty, len);
    mf_set_i64(t, "idx", (int64_t)mf_item_index(t));
    mf_set_i64(t, "n", (int64_t)mf_item_count(t));
}

static void join(mf_task *t)
{
    int64_t s = 0;
    for (size_t i = 0; i < mf_input_count(t); i++)
        s += mf_input_i64(t, i, "idx");
    mf_set_i64(t, "sum", s);
    mf_type ty;
    size_t len;
    const unsigned char *a = mf_input_value(t, 0, "a", &ty, &len);
    mf_set_i64(t, "a_type", ty);
    mf_set_i64(t, "a_len", (int64_t)len);
    mf_set_i64(t, "a_first", a[128]);
    mf_merge_artifacts(t, "idx n");
}

static void end(mf_task *t)
{
    mf_type ty;
    size_t len;
    const char *o = mf_get_value(t, "o", &ty, &len);
    char buf[64];
    snprintf(buf, sizeof buf, "%d:%zu:%.5s", (int)ty, len, o);
    mf_set_str(t, "o_seen", buf);
    const void *i = mf_get_value(t, "i", &ty, &len);
    mf_set_i64(t, "i_type", ty * 100 + (int64_t)len + ((const unsigned char *)i)[0] * 1000);
}

static const mf_step_def steps[] = {
    {.name = "start", .fn = start, .next = "each", .foreach = "items"},
    {.name = "each", .fn = each, .next = "join"},
    {.name = "join", .fn = join, .next = "end", .join = 1},
    {.name = "end", .fn = end},
};
static const mf_param_def params[] = {
    {.name = "kind", .type = MF_STR, .default_value = "obj"},
    {.name = "list", .type = MF_STR, .default_value = "[{\"$tuple\": [1, 2]}, [3], \"x\"]"},
};
MF_FLOW("ValuesFlow", steps, params);
