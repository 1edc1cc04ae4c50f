/* The value types the Python SDK writes (sdk/DATASTORE.md section 4: obj, pickle, npy), with
 * their edge values, written through mf_set_value as the Python SDK writes them, and a foreach
 * over an obj that is a JSON array (each task stores its item as the obj artifact "item").
 * The values are what tests/format checks a reader against (tests/format/corpus/). */
#include <mflow/flow.h>
#include <string.h>

static void obj(mf_task *t, const char *name, const char *json)
{
    mf_set_value(t, name, MF_OBJ, json, strlen(json));
}

/* numpy's .npy: magic, version, header length, the header dict padded to 64 bytes, data. */
static size_t npy(unsigned char *out, int major, const char *dict, const void *data, size_t n)
{
    size_t pre = major == 1 ? 10 : 12, hl = strlen(dict) + 1;
    hl += (64 - (pre + hl) % 64) % 64;
    memcpy(out, "\x93NUMPY", 6);
    out[6] = (unsigned char)major;
    out[7] = 0;
    memset(out + 8, 0, 4);
    out[8] = (unsigned char)hl;
    out[9] = (unsigned char)(hl >> 8);
    memset(out + pre, ' ', hl);
    memcpy(out + pre, dict, strlen(dict));
    out[pre + hl - 1] = '\n';
    memcpy(out + pre + hl, data, n);
    return pre + hl + n;
}

/* The items of the foreach, as JSON texts; the list is their array. */
static const char *const items[] = {
    "{\"$tuple\": [1, \"a\"]}", "[1, [2, 3]]", "null", "\"caf\\u00e9\"", "{\"$bytes\": \"AP8=\"}",
};
#define N_ITEMS (sizeof items / sizeof items[0])

static void start(mf_task *t)
{
    obj(t, "o_null", "null");
    obj(t, "o_true", "true");
    obj(t, "o_false", "false");
    obj(t, "o_big", "-123456789012345678901234567890");
    obj(t, "o_empty_list", "[]");
    obj(t, "o_empty_dict", "{}");
    obj(t, "o_tuple", "{\"$tuple\": [1, 2.5, \"x\"]}");
    obj(t, "o_mixed", "[1, \"a\", 2.5, null, true, [], {}]");
    obj(t, "o_nested",
        "{\"a\": [1, 2.5, {\"$tuple\": [1, \"x\"]}], \"b\": {\"$bytes\": \"AAH/\"}, "
        "\"c\": [{\"$float\": \"nan\"}, {\"$float\": \"inf\"}, {\"$float\": \"-inf\"}, -0.0], "
        "\"d\": {\"$dict\": [[1, \"one\"], [{\"$tuple\": [1, 2]}, \"pair\"], "
        "[\"$x\", \"looks like a tag\"]]}, \"e\": \"caf\\u00e9 \\ud83d\\ude00\", \"f\": \"\"}");
    obj(t, "o_utf8", "\"caf\xc3\xa9 \xe2\x9c\x93 \\u0000\"");
    obj(t, "o_ws", " \n[ 1 ,\t2 ]\r\n");
    mf_set_value(t, "p_tuple", MF_PICKLE,
                 "\x80\x04\x95\x07\x00\x00\x00\x00\x00\x00\x00K\x01K\x02\x86\x94.", 20);
    mf_set_value(t, "p_set", MF_PICKLE,
                 "\x80\x04\x95\x0b\x00\x00\x00\x00\x00\x00\x00\x8f\x94(K\x01\x8c\x01" "a\x94\x90.",
                 24);
    unsigned char b[256];
    const double f[4] = {1.5, -0.0, 1e300, 0.25};
    mf_set_value(t, "a_f8", MF_NPY, b,
                 npy(b, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }", f,
                     sizeof f));
    mf_set_value(t, "a_empty", MF_NPY, b,
                 npy(b, 1, "{'descr': '<i4', 'fortran_order': False, 'shape': (0,), }", "", 0));
    mf_set_value(t, "a_v2", MF_NPY, b,
                 npy(b, 2, "{'descr': '|u1', 'fortran_order': False, 'shape': (3,), }", "abc",
                     3));
    char list[512] = "[";
    for (size_t i = 0; i < N_ITEMS; i++) {
        strcat(list, items[i]);
        strcat(list, i + 1 < N_ITEMS ? ", " : "]");
    }
    obj(t, "things", list);
}

static void each(mf_task *t)
{
    obj(t, "item", items[mf_item_index(t)]);
}

static void join(mf_task *t)
{
    mf_set_i64(t, "n", (int64_t)mf_input_count(t));
}

static void end(mf_task *t)
{
    (void)t;
}

static const mf_step_def steps[] = {
    {.name = "start", .fn = start, .next = "each", .foreach = "things"},
    {.name = "each", .fn = each, .next = "join"},
    {.name = "join", .fn = join, .next = "end", .join = 1},
    {.name = "end", .fn = end},
};
MF_FLOW("FormatPyFlow", steps, NULL);
