/* Task records as JSON and their place in the datastore (record.h). */
#include "record.h"

#include "codec.h"
#include "graph.h"
#include "model.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <langinfo.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Free text in a record (a message, a host, a user, a tag) as JSON: a string when it is UTF-8,
 * else {"type": "str", "hex": "<its bytes>"} (sdk/DATASTORE.md), which jansson would refuse as
 * a string and the member be lost. NULL only when out of memory. */
static json_t *text_json(const char *s, size_t n)
{
    if (mf_utf8_valid(s, n))
        return json_stringn(s, n);
    char *hex = malloc(2 * n + 1);
    if (!hex)
        return NULL;
    for (size_t i = 0; i < n; i++)
        snprintf(hex + 2 * i, 3, "%02x", (unsigned char)s[i]);
    json_t *v = json_pack("{s:s,s:s}", "type", "str", "hex", hex);
    free(hex);
    return v;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The text of a member written by text_json, malloc'd and NUL-terminated (a NUL inside ends
 * it); NULL when v is neither form. */
static char *text_dup(json_t *v)
{
    if (json_is_string(v))
        return strdup(json_string_value(v));
    const char *hex = json_string_value(json_object_get(v, "hex"));
    const char *type = json_string_value(json_object_get(v, "type"));
    size_t n = hex ? strlen(hex) : 0;
    if (!json_is_object(v) || !type || strcmp(type, "str") != 0 || !hex || n % 2)
        return NULL;
    char *s = malloc(n / 2 + 1);
    for (size_t i = 0; s && i < n / 2; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            free(s);
            return NULL;
        }
        s[i] = (char)(hi << 4 | lo);
    }
    if (s)
        s[n / 2] = '\0';
    return s;
}

void mf_task_record_init(struct mf_task_record *r)
{
    memset(r, 0, sizeof *r);
    r->foreach_count = -1;
    r->exit_code = -1;
}

void mf_task_record_free(struct mf_task_record *r)
{
    if (!r)
        return;
    free(r->flow);
    free(r->step);
    free(r->message);
    free(r->host);
    for (size_t i = 0; i < r->n_inputs; i++)
        free(r->inputs[i]);
    free(r->inputs);
    free(r->input_attempts);
    for (size_t i = 0; i < r->depth; i++)
        free(r->stack[i].step);
    free(r->stack);
    for (size_t i = 0; i < r->n_arts; i++)
        free(r->arts[i].name);
    free(r->arts);
    free(r->origin);
    mf_task_record_init(r);
}

/* ---- the same text written without a tree --------------------------------------------------
 * A task writes its record once, and a jansson tree of it (a value and a hash-table slot per
 * member, then a dump that grows its buffer) is some dozens of small allocations on a
 * forked task's fresh heap pages. fast_to_json writes the bytes jansson writes (compact, in
 * insertion order, its escapes, its real numbers) into one buffer sized ahead, for records
 * whose text is plain ASCII with finite times; any other goes through the tree (test_record
 * compares the two). */

/* s may be written by the fast writer: no byte past ASCII (jansson's UTF-8 checks, and a
 * message's hex form, are left to it). */
static int plain(const char *s)
{
    if (!s)
        return 0;
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80)
            return 0;
    return 1;
}

/* The most bytes jw_str writes for s. */
static size_t str_max(const char *s)
{
    return 6 * strlen(s) + 2;
}

static void jw_raw(char **p, const char *s, size_t n)
{
    memcpy(*p, s, n);
    *p += n;
}

#define jw_lit(p, s) jw_raw((p), (s), sizeof(s) - 1)

/* As jansson's dump_string without flags: '"', '\\' and control bytes escaped, uppercase
 * \u00XX where no short form exists. */
static void jw_str(char **p, const char *s)
{
    char *o = *p;
    *o++ = '"';
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            *o++ = '\\';
            *o++ = (char)c;
        } else if (c < 0x20) {
            static const char hex[] = "0123456789ABCDEF";
            char e = c == '\b' ? 'b' : c == '\f' ? 'f' : c == '\n' ? 'n' : c == '\r' ? 'r' : c == '\t' ? 't' : 0;
            *o++ = '\\';
            if (e) {
                *o++ = e;
            } else {
                memcpy(o, "u00", 3);
                o += 3;
                *o++ = hex[c >> 4];
                *o++ = hex[c & 15];
            }
        } else {
            *o++ = (char)c;
        }
    }
    *o++ = '"';
    *p = o;
}

static void jw_int(char **p, long long v)
{
    *p += sprintf(*p, "%lld", v);
}

/* As jansson's jsonp_dtostr at its default precision: "%.17g", ".0" when it would read back
 * as an integer, no '+' or leading zeros in the exponent. The caller checked that the value
 * is finite and the locale's decimal point is '.'. */
static void jw_real(char **p, double v)
{
    char b[40];
    size_t len = (size_t)snprintf(b, sizeof b, "%.17g", v);
    if (!strchr(b, '.') && !strchr(b, 'e')) {
        memcpy(b + len, ".0", 3);
        len += 2;
    }
    char *start = strchr(b, 'e');
    if (start) {
        start++;
        char *end = start + 1;
        if (*start == '-')
            start++;
        while (*end == '0')
            end++;
        if (end != start) {
            memmove(start, end, len - (size_t)(end - b));
            len -= (size_t)(end - start);
        }
    }
    jw_raw(p, b, len);
}

#define jw_member(p, key) jw_lit((p), "\"" key "\":")

static char *fast_to_json(const struct mf_task_record *r)
{
    const char *status = mf_status_name(r->status);
    /* nl_langinfo reads the locale; localeconv would write its static copy of it, a
     * copy-on-write fault in a forked task. */
    const char *point = nl_langinfo(RADIXCHAR);
    if (!plain(r->flow) || !plain(r->step) || (r->message && !plain(r->message)) ||
        (r->host && !plain(r->host)) || (r->origin && !plain(r->origin)) || !plain(status) ||
        !isfinite(r->start_time) || !isfinite(r->end_time) || !point || strcmp(point, ".") != 0)
        return NULL;
    size_t max = 512 + str_max(r->flow) + str_max(r->step) + str_max(status) +
                 (r->message ? str_max(r->message) : 0) + (r->host ? str_max(r->host) : 0) +
                 (r->origin ? str_max(r->origin) : 0);
    for (size_t i = 0; i < r->n_inputs; i++) {
        if (!plain(r->inputs[i]))
            return NULL;
        max += str_max(r->inputs[i]) + 48;
    }
    for (size_t i = 0; i < r->depth; i++) {
        if (!plain(r->stack[i].step))
            return NULL;
        max += str_max(r->stack[i].step) + 128;
    }
    for (size_t i = 0; i < r->n_arts; i++) {
        const struct mf_artifact_ref *a = &r->arts[i];
        const char *type = mf_type_name(a->type);
        if (!plain(a->name) || !plain(type) || !plain(a->key))
            return NULL;   /* names are unique: mf_record_set_art replaces, both readers refuse or merge */
        max += str_max(a->name) + str_max(type) + str_max(a->key) + 64;
    }
    char *out = malloc(max), *p = out;
    if (!out)
        return NULL;
    jw_lit(&p, "{");
    jw_member(&p, "format");
    jw_int(&p, MF_RECORD_FORMAT);
    jw_lit(&p, ",");
    jw_member(&p, "flow");
    jw_str(&p, r->flow);
    jw_lit(&p, ",");
    jw_member(&p, "run_id");
    jw_int(&p, (long long)r->run_id);
    jw_lit(&p, ",");
    jw_member(&p, "step");
    jw_str(&p, r->step);
    jw_lit(&p, ",");
    jw_member(&p, "task_id");
    jw_int(&p, (long long)r->task_id);
    jw_lit(&p, ",");
    jw_member(&p, "attempt");
    jw_int(&p, (long long)r->attempt);
    jw_lit(&p, ",");
    jw_member(&p, "status");
    jw_str(&p, status);
    jw_lit(&p, ",");
    jw_member(&p, "exit_code");
    jw_int(&p, r->exit_code);
    jw_lit(&p, ",");
    jw_member(&p, "signal");
    jw_int(&p, r->term_signal);
    if (r->message) {
        jw_lit(&p, ",");
        jw_member(&p, "message");
        jw_str(&p, r->message);
    }
    if (r->host) {
        jw_lit(&p, ",");
        jw_member(&p, "host");
        jw_str(&p, r->host);
    }
    jw_lit(&p, ",");
    jw_member(&p, "start_time");
    jw_real(&p, r->start_time);
    jw_lit(&p, ",");
    jw_member(&p, "end_time");
    jw_real(&p, r->end_time);
    jw_lit(&p, ",");
    jw_member(&p, "inputs");
    jw_lit(&p, "[");
    for (size_t i = 0; i < r->n_inputs; i++) {
        if (i)
            jw_lit(&p, ",");
        jw_lit(&p, "{");
        jw_member(&p, "path");
        jw_str(&p, r->inputs[i]);
        jw_lit(&p, ",");
        jw_member(&p, "attempt");
        jw_int(&p, r->input_attempts ? r->input_attempts[i] : 0);
        jw_lit(&p, "}");
    }
    jw_lit(&p, "],");
    jw_member(&p, "stack");
    jw_lit(&p, "[");
    for (size_t i = 0; i < r->depth; i++) {
        const struct mf_frame *f = &r->stack[i];
        if (i)
            jw_lit(&p, ",");
        jw_lit(&p, "{");
        jw_member(&p, "step");
        jw_str(&p, f->step);
        jw_lit(&p, ",");
        jw_member(&p, "task");
        jw_int(&p, (long long)f->task);
        jw_lit(&p, ",");
        jw_member(&p, "kind");
        jw_str(&p, f->kind == MF_FRAME_FOREACH ? "foreach" : "branch");
        jw_lit(&p, ",");
        jw_member(&p, "index");
        jw_int(&p, (long long)f->index);
        jw_lit(&p, ",");
        jw_member(&p, "count");
        jw_int(&p, (long long)f->count);
        jw_lit(&p, "}");
    }
    jw_lit(&p, "]");
    if (r->foreach_count >= 0) {
        jw_lit(&p, ",");
        jw_member(&p, "foreach_count");
        jw_int(&p, (long long)r->foreach_count);
    }
    jw_lit(&p, ",");
    jw_member(&p, "artifacts");
    jw_lit(&p, "{");
    for (size_t i = 0; i < r->n_arts; i++) {
        const struct mf_artifact_ref *a = &r->arts[i];
        if (i)
            jw_lit(&p, ",");
        jw_str(&p, a->name);
        jw_lit(&p, ":{");
        jw_member(&p, "type");
        jw_str(&p, mf_type_name(a->type));
        jw_lit(&p, ",");
        jw_member(&p, "key");
        jw_str(&p, a->key);
        jw_lit(&p, ",");
        jw_member(&p, "size");
        jw_int(&p, (long long)a->size);
        jw_lit(&p, "}");
    }
    jw_lit(&p, "}");
    if (r->origin) {
        jw_lit(&p, ",");
        jw_member(&p, "origin");
        jw_str(&p, r->origin);
    }
    jw_lit(&p, "}");
    *p = '\0';
    return out;
}

char *mf_task_record_to_json_tree(const struct mf_task_record *r)
{
    json_t *o = json_object();
    json_object_set_new(o, "format", json_integer(MF_RECORD_FORMAT));
    json_object_set_new(o, "flow", json_string(r->flow));
    json_object_set_new(o, "run_id", json_integer(r->run_id));
    json_object_set_new(o, "step", json_string(r->step));
    json_object_set_new(o, "task_id", json_integer(r->task_id));
    json_object_set_new(o, "attempt", json_integer(r->attempt));
    json_object_set_new(o, "status", json_string(mf_status_name(r->status)));
    json_object_set_new(o, "exit_code", json_integer(r->exit_code));
    json_object_set_new(o, "signal", json_integer(r->term_signal));
    if (r->message)
        json_object_set_new(o, "message", text_json(r->message, strlen(r->message)));
    if (r->host)
        json_object_set_new(o, "host", text_json(r->host, strlen(r->host)));
    json_object_set_new(o, "start_time", json_real(r->start_time));
    json_object_set_new(o, "end_time", json_real(r->end_time));
    json_t *in = json_array();
    for (size_t i = 0; i < r->n_inputs; i++) {
        json_t *x = json_object();
        json_object_set_new(x, "path", json_string(r->inputs[i]));
        json_object_set_new(x, "attempt", json_integer(r->input_attempts ? r->input_attempts[i] : 0));
        json_array_append_new(in, x);
    }
    json_object_set_new(o, "inputs", in);
    json_t *st = json_array();
    for (size_t i = 0; i < r->depth; i++) {
        const struct mf_frame *f = &r->stack[i];
        json_array_append_new(st, json_pack("{s:s,s:I,s:s,s:I,s:I}", "step", f->step, "task",
                                            (json_int_t)f->task, "kind",
                                            f->kind == MF_FRAME_FOREACH ? "foreach" : "branch",
                                            "index", (json_int_t)f->index, "count",
                                            (json_int_t)f->count));
    }
    json_object_set_new(o, "stack", st);
    if (r->foreach_count >= 0)
        json_object_set_new(o, "foreach_count", json_integer(r->foreach_count));
    json_t *arts = json_object();
    for (size_t i = 0; i < r->n_arts; i++) {
        const struct mf_artifact_ref *a = &r->arts[i];
        json_object_set_new(arts, a->name,
                            json_pack("{s:s,s:s,s:I}", "type", mf_type_name(a->type), "key", a->key,
                                      "size", (json_int_t)a->size));
    }
    json_object_set_new(o, "artifacts", arts);
    if (r->origin)
        json_object_set_new(o, "origin", json_string(r->origin));
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return s;
}

char *mf_task_record_to_json(const struct mf_task_record *r)
{
    char *s = fast_to_json(r);
    return s ? s : mf_task_record_to_json_tree(r);
}

static char *jstr(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? strdup(json_string_value(v)) : NULL;
}

static int64_t jint(json_t *o, const char *k, int64_t dflt)
{
    json_t *v = json_object_get(o, k);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : dflt;
}

static double jnum(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_number(v) ? json_number_value(v) : 0;
}

/* ---- the canonical form, read without building a JSON tree ---------------------------------
 * Every record the orchestrator reads back was written by mf_task_record_to_json, and a
 * jansson tree of it (an object with a hash table per member object, a string per value) cost
 * the orchestrator about 120,000 instructions a task, most of its CPU past the system calls.
 * So the reader below takes the common shape directly: objects, arrays, strings of printable
 * ASCII with no escapes, numbers in JSON's grammar, true/false/null, any whitespace. It gives
 * up, never fails: on anything else (an escape, a byte past ASCII, a duplicate member, a
 * member of an unexpected type, a value it would have to judge) the record goes to jansson,
 * which decides as it always did, errors and their messages included. What it accepts it
 * reads exactly as the jansson path would (test_record: both readers on generated and mangled
 * records). */
struct jr {
    const char *p, *end;
    int depth;
};

enum { JR_MAX_DEPTH = 32, JR_INT = 1, JR_REAL = 2 };

static void jr_ws(struct jr *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t'))
        j->p++;
}

/* The next byte is c (after whitespace): consumed. */
static int jr_lit(struct jr *j, char c)
{
    jr_ws(j);
    if (j->p < j->end && *j->p == c) {
        j->p++;
        return 1;
    }
    return 0;
}

/* A string of printable ASCII without escapes: its bytes (not NUL-terminated) in the text. */
static int jr_str(struct jr *j, const char **s, size_t *n)
{
    if (!jr_lit(j, '"'))
        return 0;
    const char *b = j->p;
    for (; j->p < j->end; j->p++) {
        unsigned char c = (unsigned char)*j->p;
        if (c == '"') {
            *s = b;
            *n = (size_t)(j->p++ - b);
            return 1;
        }
        if (c < 0x20 || c >= 0x7f || c == '\\')
            return 0;
    }
    return 0;
}

static int jr_digit(const struct jr *j, const char *q)
{
    return q < j->end && *q >= '0' && *q <= '9';
}

/* A number: JR_INT (no fraction or exponent, at most 18 digits: no overflow to judge) in
 * *iv, JR_REAL in *dv (strtod over the whole token, as jansson reads it in the C locale), or
 * 0. */
static int jr_num(struct jr *j, int64_t *iv, double *dv)
{
    jr_ws(j);
    const char *b = j->p, *q = b;
    if (q < j->end && *q == '-')
        q++;
    if (!jr_digit(j, q))
        return 0;
    if (*q == '0')
        q++;
    else
        while (jr_digit(j, q))
            q++;
    int real = 0;
    if (q < j->end && *q == '.') {
        if (!jr_digit(j, ++q))
            return 0;
        while (jr_digit(j, q))
            q++;
        real = 1;
    }
    if (q < j->end && (*q == 'e' || *q == 'E')) {
        q++;
        if (q < j->end && (*q == '+' || *q == '-'))
            q++;
        if (!jr_digit(j, q))
            return 0;
        while (jr_digit(j, q))
            q++;
        real = 1;
    }
    size_t len = (size_t)(q - b);
    char tmp[48];
    if (len >= sizeof tmp || (!real && len - (*b == '-') > 18))
        return 0;
    memcpy(tmp, b, len);
    tmp[len] = '\0';
    char *e;
    errno = 0;
    if (real)
        *dv = strtod(tmp, &e);
    else
        *iv = strtoll(tmp, &e, 10);
    if (errno || e != tmp + len)
        return 0;
    j->p = q;
    return real ? JR_REAL : JR_INT;
}

static int jr_int(struct jr *j, int64_t *v)
{
    double d;
    return jr_num(j, v, &d) == JR_INT;
}

static int jr_word(struct jr *j, const char *w)
{
    size_t n = strlen(w);
    jr_ws(j);
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, w, n) != 0)
        return 0;
    j->p += n;
    return 1;
}

/* Inside an object: 1 with the next member's key (its ':' consumed), 0 at the object's end,
 * -1 when it is not what the reader takes. *first starts at 1. */
static int jr_key(struct jr *j, int *first, const char **k, size_t *kn)
{
    if (jr_lit(j, '}'))
        return 0;
    if (!*first && !jr_lit(j, ','))
        return -1;
    *first = 0;
    return jr_str(j, k, kn) && jr_lit(j, ':') ? 1 : -1;
}

/* Inside an array: 1 when an element follows, 0 at its end, -1 otherwise. */
static int jr_elem(struct jr *j, int *first)
{
    if (jr_lit(j, ']'))
        return 0;
    if (!*first && !jr_lit(j, ','))
        return -1;
    *first = 0;
    return 1;
}

/* Any value, read and dropped (a member this mflow does not use). */
static int jr_skip(struct jr *j)
{
    jr_ws(j);
    if (j->p >= j->end)
        return 0;
    const char *s;
    size_t n;
    int64_t iv;
    double dv;
    char c = *j->p;
    if (c == '"')
        return jr_str(j, &s, &n);
    if (c == '-' || (c >= '0' && c <= '9'))
        return jr_num(j, &iv, &dv) != 0;
    if (c != '{' && c != '[')
        return jr_word(j, "true") || jr_word(j, "false") || jr_word(j, "null");
    if (++j->depth > JR_MAX_DEPTH)
        return 0;
    j->p++;
    int first = 1, k;
    if (c == '{') {
        while ((k = jr_key(j, &first, &s, &n)) == 1)
            if (!jr_skip(j))
                return 0;
    } else {
        while ((k = jr_elem(j, &first)) == 1)
            if (!jr_skip(j))
                return 0;
    }
    j->depth--;
    return k == 0;
}

static int jr_is(const char *k, size_t kn, const char *name)
{
    return strlen(name) == kn && memcmp(k, name, kn) == 0;
}

/* A string member's value as a new NUL-terminated copy into *out (which must be unset: a
 * second one is a duplicate). */
static int jr_dup(struct jr *j, char **out)
{
    const char *s;
    size_t n;
    if (*out || !jr_str(j, &s, &n))
        return 0;
    *out = strndup(s, n);
    return *out != NULL;
}

/* The number of elements of the array that follows (read ahead, the cursor left where it
 * is), so that its entries are allocated once, as the jansson path does; -1 when it is not
 * one the reader takes. */
static long jr_count(const struct jr *j)
{
    struct jr a = *j;
    int first = 1, k;
    long n = 0;
    if (!jr_lit(&a, '['))
        return -1;
    while ((k = jr_elem(&a, &first)) == 1 && jr_skip(&a))
        n++;
    return k == 0 ? n : -1;
}

/* {"path": ..., "attempt": ...} of the inputs array, into entry r->n_inputs (allocated). */
static int jr_input(struct jr *j, struct mf_task_record *r)
{
    size_t i = r->n_inputs++;
    if (!jr_lit(j, '{'))
        return 0;
    int first = 1, k, seen_attempt = 0;
    const char *key;
    size_t kn;
    while ((k = jr_key(j, &first, &key, &kn)) == 1) {
        int64_t v;
        if (jr_is(key, kn, "path")) {
            if (!jr_dup(j, &r->inputs[i]))
                return 0;
        } else if (jr_is(key, kn, "attempt")) {
            if (seen_attempt++ || !jr_int(j, &v))
                return 0;
            r->input_attempts[i] = (uint32_t)v;
        } else if (!jr_skip(j)) {
            return 0;
        }
    }
    return k == 0 && r->inputs[i];
}

/* {"step": ..., "task": ..., "kind": ..., "index": ..., "count": ...} of the stack, into
 * frame r->depth (allocated, zeroed). */
static int jr_frame(struct jr *j, struct mf_task_record *r)
{
    struct mf_frame *f = &r->stack[r->depth++];
    f->kind = MF_FRAME_BRANCH;
    if (!jr_lit(j, '{'))
        return 0;
    int first = 1, k;
    unsigned seen = 0;
    const char *key;
    size_t kn;
    while ((k = jr_key(j, &first, &key, &kn)) == 1) {
        int64_t v;
        const char *s;
        size_t n;
        static const char *const ints[] = {"task", "index", "count"};
        int w = -1;
        for (int x = 0; x < 3; x++)
            if (jr_is(key, kn, ints[x]))
                w = x;
        if (jr_is(key, kn, "step")) {
            if (!jr_dup(j, &f->step))
                return 0;
        } else if (jr_is(key, kn, "kind")) {
            if ((seen & 8) || !jr_str(j, &s, &n))
                return 0;
            seen |= 8;
            f->kind = n == 7 && !memcmp(s, "foreach", 7) ? MF_FRAME_FOREACH : MF_FRAME_BRANCH;
        } else if (w >= 0) {
            if ((seen & (1u << w)) || !jr_int(j, &v))
                return 0;
            seen |= 1u << w;
            if (w == 0)
                f->task = v;
            else if (w == 1)
                f->index = (uint32_t)v;
            else
                f->count = (uint32_t)v;
        } else if (!jr_skip(j)) {
            return 0;
        }
    }
    return k == 0 && f->step;
}

/* "name": {"type": ..., "key": ..., "size": ...} of the artifacts. */
static int jr_artifact(struct jr *j, struct mf_task_record *r, const char *name, size_t nlen)
{
    char nm[MF_NAME_MAX + 1];
    if (nlen >= sizeof nm || !jr_lit(j, '{'))
        return 0;
    memcpy(nm, name, nlen);
    nm[nlen] = '\0';
    if (mf_record_find(r, nm))
        return 0;   /* a duplicate name: jansson keeps the last */
    int first = 1, k;
    const char *key, *type = NULL, *bkey = NULL;
    size_t kn, tn = 0, bn = 0;
    int64_t size = 0;
    int seen_size = 0;
    while ((k = jr_key(j, &first, &key, &kn)) == 1) {
        if (jr_is(key, kn, "type")) {
            if (type || !jr_str(j, &type, &tn))
                return 0;
        } else if (jr_is(key, kn, "key")) {
            if (bkey || !jr_str(j, &bkey, &bn))
                return 0;
        } else if (jr_is(key, kn, "size")) {
            if (seen_size++ || !jr_int(j, &size))
                return 0;
        } else if (!jr_skip(j)) {
            return 0;
        }
    }
    char tname[32];
    if (k != 0 || !type || !bkey || bn != MF_BLOB_KEY_LEN || tn >= sizeof tname)
        return 0;
    memcpy(tname, type, tn);
    tname[tn] = '\0';
    mf_type t = mf_type_from_name(tname);
    char bk[MF_BLOB_KEY_LEN + 1];
    memcpy(bk, bkey, bn);
    bk[bn] = '\0';
    return t && mf_record_set_art(r, nm, t, bk, (uint64_t)size) == 0;
}

enum {
    M_FORMAT, M_FLOW, M_RUN_ID, M_STEP, M_TASK_ID, M_ATTEMPT, M_STATUS, M_EXIT_CODE, M_SIGNAL,
    M_MESSAGE, M_HOST, M_START, M_END, M_INPUTS, M_STACK, M_FOREACH_COUNT, M_ARTIFACTS,
    M_ORIGIN, N_MEMBERS
};
static const char *const member_names[N_MEMBERS] = {
    "format", "flow", "run_id", "step", "task_id", "attempt", "status", "exit_code", "signal",
    "message", "host", "start_time", "end_time", "inputs", "stack", "foreach_count",
    "artifacts", "origin",
};

/* The value of top-level member m into r. */
static int jr_member(struct jr *j, int m, struct mf_task_record *r, int64_t *format)
{
    int64_t v;
    double d;
    const char *s;
    size_t n;
    int first = 1, k;
    long count;
    switch (m) {
    case M_FLOW:
        return jr_dup(j, &r->flow);
    case M_STEP:
        return jr_dup(j, &r->step);
    case M_MESSAGE:
        return jr_dup(j, &r->message);
    case M_HOST:
        return jr_dup(j, &r->host);
    case M_ORIGIN:
        return jr_dup(j, &r->origin);
    case M_STATUS: {
        char name[32];
        if (!jr_str(j, &s, &n) || n >= sizeof name)
            return 0;
        memcpy(name, s, n);
        name[n] = '\0';
        r->status = mf_status_from_name(name);
        return r->status != 0;
    }
    case M_START:
    case M_END:
        k = jr_num(j, &v, &d);
        if (k == JR_INT)
            d = (double)v;
        *(m == M_START ? &r->start_time : &r->end_time) = d;
        return k != 0;
    case M_INPUTS:
        count = jr_count(j);
        if (count < 0 || !jr_lit(j, '['))
            return 0;
        if (count) {
            r->inputs = calloc((size_t)count, sizeof *r->inputs);
            r->input_attempts = calloc((size_t)count, sizeof *r->input_attempts);
            if (!r->inputs || !r->input_attempts)
                return 0;
        }
        while ((k = jr_elem(j, &first)) == 1)
            if ((long)r->n_inputs == count || !jr_input(j, r))
                return 0;
        return k == 0;
    case M_STACK:
        count = jr_count(j);
        if (count < 0 || !jr_lit(j, '['))
            return 0;
        if (count && !(r->stack = calloc((size_t)count, sizeof *r->stack)))
            return 0;
        while ((k = jr_elem(j, &first)) == 1)
            if ((long)r->depth == count || !jr_frame(j, r))
                return 0;
        return k == 0;
    case M_ARTIFACTS:
        if (!jr_lit(j, '{'))
            return 0;
        while ((k = jr_key(j, &first, &s, &n)) == 1)
            if (!jr_artifact(j, r, s, n))
                return 0;
        return k == 0;
    default:
        break;
    }
    if (!jr_int(j, &v))
        return 0;
    switch (m) {
    case M_FORMAT:
        *format = v;
        break;
    case M_RUN_ID:
        r->run_id = v;
        break;
    case M_TASK_ID:
        r->task_id = v;
        break;
    case M_ATTEMPT:
        r->attempt = (uint32_t)v;
        break;
    case M_EXIT_CODE:
        r->exit_code = (int)v;
        break;
    case M_SIGNAL:
        r->term_signal = (int)v;
        break;
    default:   /* M_FOREACH_COUNT */
        r->foreach_count = v;
        break;
    }
    return 1;
}

/* 1: r holds the record; 0: not taken (r is left initialised, for jansson to read). */
static int fast_from_json(const char *text, size_t len, struct mf_task_record *r)
{
    struct jr j = {text, text + len, 0};
    int first = 1, k = -1, ok = jr_lit(&j, '{');
    uint32_t seen = 0;
    int64_t format = 0;
    const char *key;
    size_t kn;
    while (ok && (k = jr_key(&j, &first, &key, &kn)) == 1) {
        int m = 0;
        while (m < N_MEMBERS && !jr_is(key, kn, member_names[m]))
            m++;
        if (m == N_MEMBERS) {
            ok = jr_skip(&j);
        } else {
            ok = !(seen & (1u << m)) && jr_member(&j, m, r, &format);
            seen |= 1u << m;
        }
    }
    jr_ws(&j);
    if (ok && k == 0 && j.p == j.end && format == MF_RECORD_FORMAT && r->flow && r->step &&
        r->status)
        return 1;
    mf_task_record_free(r);
    return 0;
}

int mf_task_record_from_json_tree(const char *text, size_t len, struct mf_task_record *r, char **err)
{
    mf_task_record_init(r);
    json_error_t je;
    json_t *o = json_loadb(text, len, 0, &je);
    if (!o || !json_is_object(o)) {
        if (err)
            *err = mf_strf("not a task record (line %d: %s)", je.line, je.text);
        json_decref(o);
        return MF_ECORRUPT;
    }
    int64_t fmt = jint(o, "format", 0);
    if (fmt != MF_RECORD_FORMAT) {
        /* A newer format is not damage: it is named, so that the reader can be upgraded. */
        if (err)
            *err = fmt > MF_RECORD_FORMAT
                       ? mf_strf("task record format %lld is newer than the format %d this mflow "
                                 "reads: read it with a newer mflow",
                                 (long long)fmt, MF_RECORD_FORMAT)
                       : mf_strf("task record format %lld is not %d", (long long)fmt,
                                 MF_RECORD_FORMAT);
        json_decref(o);
        return fmt > MF_RECORD_FORMAT ? MF_ENOTSUP : MF_ECORRUPT;
    }
    r->flow = jstr(o, "flow");
    r->step = jstr(o, "step");
    r->run_id = jint(o, "run_id", 0);
    r->task_id = jint(o, "task_id", 0);
    r->attempt = (uint32_t)jint(o, "attempt", 0);
    char *status = jstr(o, "status");
    r->status = status ? mf_status_from_name(status) : 0;
    free(status);
    r->exit_code = (int)jint(o, "exit_code", -1);
    r->term_signal = (int)jint(o, "signal", 0);
    r->message = text_dup(json_object_get(o, "message"));
    r->host = text_dup(json_object_get(o, "host"));
    r->origin = jstr(o, "origin");
    r->start_time = jnum(o, "start_time");
    r->end_time = jnum(o, "end_time");
    r->foreach_count = jint(o, "foreach_count", -1);
    int bad = !r->flow || !r->step || !r->status;

    json_t *in = json_object_get(o, "inputs");
    size_t n = json_array_size(in);
    if (n) {
        r->inputs = calloc(n, sizeof *r->inputs);
        r->input_attempts = calloc(n, sizeof *r->input_attempts);
        bad |= !r->inputs || !r->input_attempts;
        for (size_t i = 0; !bad && i < n; i++) {
            json_t *x = json_array_get(in, i);
            r->inputs[i] = jstr(x, "path");
            r->input_attempts[i] = (uint32_t)jint(x, "attempt", 0);
            bad |= !r->inputs[i];
            r->n_inputs = i + 1;
        }
    }
    json_t *st = json_object_get(o, "stack");
    n = json_array_size(st);
    if (n && !bad) {
        r->stack = calloc(n, sizeof *r->stack);
        bad |= !r->stack;
        for (size_t i = 0; !bad && i < n; i++) {
            json_t *x = json_array_get(st, i);
            struct mf_frame *f = &r->stack[i];
            f->step = jstr(x, "step");
            f->task = jint(x, "task", 0);
            char *kind = jstr(x, "kind");
            f->kind = kind && !strcmp(kind, "foreach") ? MF_FRAME_FOREACH : MF_FRAME_BRANCH;
            free(kind);
            f->index = (uint32_t)jint(x, "index", 0);
            f->count = (uint32_t)jint(x, "count", 0);
            r->depth = i + 1;
            bad |= !f->step;
        }
    }
    json_t *arts = json_object_get(o, "artifacts");
    const char *name;
    json_t *a;
    json_object_foreach(arts, name, a) {
        if (bad)
            break;
        const char *type = json_string_value(json_object_get(a, "type"));
        const char *key = json_string_value(json_object_get(a, "key"));
        mf_type t = type ? mf_type_from_name(type) : 0;
        if (!t || !key || strlen(key) != MF_BLOB_KEY_LEN) {
            bad = 1;
            break;
        }
        bad |= mf_record_set_art(r, name, t, key, (uint64_t)jint(a, "size", 0)) != 0;
    }
    json_decref(o);
    if (bad) {
        if (err)
            *err = strdup("task record is missing fields or has malformed ones");
        mf_task_record_free(r);
        return MF_ECORRUPT;
    }
    return 0;
}

int mf_task_record_from_json(const char *text, size_t len, struct mf_task_record *r, char **err)
{
    mf_task_record_init(r);
    if (fast_from_json(text, len, r))
        return 0;
    return mf_task_record_from_json_tree(text, len, r, err);
}

const struct mf_artifact_ref *mf_record_find(const struct mf_task_record *r, const char *name)
{
    for (size_t i = 0; i < r->n_arts; i++)
        if (!strcmp(r->arts[i].name, name))
            return &r->arts[i];
    return NULL;
}

int mf_record_set_art(struct mf_task_record *r, const char *name, mf_type type, const char *key,
                      uint64_t size)
{
    struct mf_artifact_ref *a = (struct mf_artifact_ref *)mf_record_find(r, name);
    if (!a) {
        /* Grow by doubling: a task may set many artifacts. */
        if ((r->n_arts & (r->n_arts - 1)) == 0) {
            size_t cap = r->n_arts ? r->n_arts * 2 : 8;
            struct mf_artifact_ref *g = realloc(r->arts, cap * sizeof *g);
            if (!g)
                return MF_ENOMEM;
            r->arts = g;
        }
        a = &r->arts[r->n_arts];
        a->name = strdup(name);
        if (!a->name)
            return MF_ENOMEM;
        r->n_arts++;
    }
    a->type = type;
    memcpy(a->key, key, MF_BLOB_KEY_LEN);
    a->key[MF_BLOB_KEY_LEN] = '\0';
    a->size = size;
    return 0;
}

int mf_record_inherit(struct mf_task_record *dst, const struct mf_task_record *src)
{
    for (size_t i = 0; i < src->n_arts; i++) {
        const struct mf_artifact_ref *a = &src->arts[i];
        int rc = mf_record_set_art(dst, a->name, a->type, a->key, a->size);
        if (rc)
            return rc;
    }
    return 0;
}

int mf_record_read(struct mf_store *st, const char *flow, int64_t run, const char *step,
                   int64_t task, uint32_t attempt, struct mf_task_record *r, char **err)
{
    char *key = mf_key_task(flow, run, step, task, attempt);
    if (!key)
        return MF_ENOMEM;
    struct mf_buf b = {.struct_size = sizeof b};
    int rc = st->ops->get(st->state, key, &b);
    if (rc != 0) {
        if (err)
            *err = mf_strf("cannot read %s: %s", key, st->ops->last_error(st->state));
        free(key);
        return rc;
    }
    char *why = NULL;
    rc = mf_task_record_from_json(b.data, b.len, r, &why);
    if (rc && err)
        *err = rc == MF_ENOTSUP ? mf_strf("%s: %s", key, why ? why : "newer format")
                                : mf_strf("%s is not a valid task record", key);
    free(why);
    if (b.release)
        b.release(&b);
    free(key);
    return rc;
}

int mf_record_write(struct mf_store *st, const struct mf_task_record *r)
{
    char *key = mf_key_task(r->flow, r->run_id, r->step, r->task_id, r->attempt);
    char *js = mf_task_record_to_json(r);
    int rc = MF_ENOMEM;
    if (key && js) {
        struct mf_iov iov = {js, strlen(js)};
        rc = st->ops->put(st->state, key, &iov, 1, 0);
    }
    free(key);
    free(js);
    return rc;
}

char *mf_record_newer_msg(const char *key)
{
    return mf_strf("%s is of a newer format than the format %d this mflow reads: read it with a "
                   "newer mflow",
                   key, MF_RECORD_FORMAT);
}

char *mf_run_record_to_json(const struct mf_run_rec *r, const struct mf_task_record *params)
{
    json_t *o = json_object();
    json_object_set_new(o, "format", json_integer(MF_RECORD_FORMAT));
    json_object_set_new(o, "flow", json_string(r->flow));
    json_object_set_new(o, "run_id", json_integer(r->run_id));
    json_object_set_new(o, "status", json_string(mf_status_name(r->status)));
    json_object_set_new(o, "user", text_json(r->user, strlen(r->user)));
    json_object_set_new(o, "namespace", text_json(r->ns, strlen(r->ns)));
    json_object_set_new(o, "host", text_json(r->host, strlen(r->host)));
    json_object_set_new(o, "pid", json_integer(r->pid));
    json_object_set_new(o, "start_time", json_real(r->start_time));
    json_object_set_new(o, "end_time", json_real(r->end_time));
    json_object_set_new(o, "origin_run_id", json_integer(r->origin_run_id));
    json_object_set_new(o, "n_tasks", json_integer(r->n_tasks));
    json_object_set_new(o, "n_failed", json_integer(r->n_failed));
    json_t *tags = json_array();
    const char *p = r->tags;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        json_array_append_new(tags, text_json(p, n));
        p += n + (nl ? 1 : 0);
    }
    json_object_set_new(o, "tags", tags);
    if (r->storage[0]) {
        /* The root is a path or URL the user gave: free text, kept even when not UTF-8. */
        json_t *sto = json_pack("{s:s}", "plugin", r->storage);
        json_object_set_new(sto, "root", text_json(r->storage_root, strlen(r->storage_root)));
        json_object_set_new(o, "storage", sto);
    }
    json_t *arts = json_object();
    for (size_t i = 0; params && i < params->n_arts; i++) {
        const struct mf_artifact_ref *a = &params->arts[i];
        json_object_set_new(arts, a->name,
                            json_pack("{s:s,s:s,s:I}", "type", mf_type_name(a->type), "key", a->key,
                                      "size", (json_int_t)a->size));
    }
    json_object_set_new(o, "parameters", arts);
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return s;
}

static void copy_str(char *dst, size_t cap, json_t *o, const char *k)
{
    char *s = text_dup(json_object_get(o, k));
    snprintf(dst, cap, "%s", s ? s : "");
    free(s);
}

int mf_run_record_from_json(const char *text, size_t len, struct mf_run_rec *r,
                            struct mf_task_record *params)
{
    memset(r, 0, sizeof *r);
    if (params)
        mf_task_record_init(params);
    json_t *o = json_loadb(text, len, 0, NULL);
    if (!json_is_object(o) || jint(o, "format", 0) != MF_RECORD_FORMAT) {
        int newer = json_is_object(o) && jint(o, "format", 0) > MF_RECORD_FORMAT;
        json_decref(o);
        return newer ? MF_ENOTSUP : MF_ECORRUPT;
    }
    copy_str(r->flow, sizeof r->flow, o, "flow");
    copy_str(r->user, sizeof r->user, o, "user");
    copy_str(r->ns, sizeof r->ns, o, "namespace");
    copy_str(r->host, sizeof r->host, o, "host");
    r->run_id = jint(o, "run_id", 0);
    const char *status = json_string_value(json_object_get(o, "status"));
    r->status = status ? mf_status_from_name(status) : 0;
    r->pid = (int32_t)jint(o, "pid", 0);
    r->start_time = jnum(o, "start_time");
    r->end_time = jnum(o, "end_time");
    r->origin_run_id = jint(o, "origin_run_id", 0);
    r->n_tasks = (uint32_t)jint(o, "n_tasks", 0);
    r->n_failed = (uint32_t)jint(o, "n_failed", 0);
    /* Optional: runs before it was recorded have none. */
    json_t *sto = json_object_get(o, "storage");
    if (json_is_object(sto) && json_is_string(json_object_get(sto, "plugin")) &&
        json_object_get(sto, "root")) {
        copy_str(r->storage, sizeof r->storage, sto, "plugin");
        copy_str(r->storage_root, sizeof r->storage_root, sto, "root");
    }
    json_t *tags = json_object_get(o, "tags");
    size_t i, used = 0;
    json_t *t;
    json_array_foreach(tags, i, t) {
        char *s = text_dup(t);
        size_t n = s ? strlen(s) : 0;
        if (!s || used + n + 2 > sizeof r->tags) {
            free(s);
            continue;
        }
        if (used)
            r->tags[used++] = '\n';
        memcpy(r->tags + used, s, n);
        used += n;
        r->tags[used] = '\0';
        free(s);
    }
    int rc = 0;
    if (params) {
        const char *name;
        json_t *a;
        json_object_foreach(json_object_get(o, "parameters"), name, a) {
            const char *type = json_string_value(json_object_get(a, "type"));
            const char *key = json_string_value(json_object_get(a, "key"));
            if (!type || !key || strlen(key) != MF_BLOB_KEY_LEN || !mf_type_from_name(type)) {
                rc = MF_ECORRUPT;
                break;
            }
            rc = mf_record_set_art(params, name, mf_type_from_name(type), key,
                                   (uint64_t)jint(a, "size", 0));
            if (rc)
                break;
        }
    }
    json_decref(o);
    if (!r->flow[0] || !r->status)
        rc = MF_ECORRUPT;
    return rc;
}

int mf_run_record_read(struct mf_store *st, const char *flow, int64_t run, struct mf_run_rec *r,
                       struct mf_task_record *params)
{
    char *key = mf_key_run(flow, run);
    if (!key)
        return MF_ENOMEM;
    struct mf_buf b = {.struct_size = sizeof b};
    int rc = st->ops->get(st->state, key, &b);
    free(key);
    if (rc)
        return rc;
    rc = mf_run_record_from_json(b.data, b.len, r, params);
    if (b.release)
        b.release(&b);
    return rc;
}

int mf_run_record_write(struct mf_store *st, const struct mf_run_rec *r,
                        const struct mf_task_record *params)
{
    char *key = mf_key_run(r->flow, r->run_id);
    char *js = mf_run_record_to_json(r, params);
    int rc = MF_ENOMEM;
    if (key && js) {
        struct mf_iov iov = {js, strlen(js)};
        rc = st->ops->put(st->state, key, &iov, 1, 0);
    }
    free(key);
    free(js);
    return rc;
}

static int push_frame(struct mf_task_record *r, const char *step, int64_t task, int kind,
                      uint32_t index, uint32_t count)
{
    struct mf_frame *g = realloc(r->stack, (r->depth + 1) * sizeof *g);
    if (!g)
        return MF_ENOMEM;
    r->stack = g;
    struct mf_frame *f = &r->stack[r->depth];
    f->step = strdup(step);
    f->task = task;
    f->kind = kind;
    f->index = index;
    f->count = count;
    if (!f->step)
        return MF_ENOMEM;
    r->depth++;
    return 0;
}

static int copy_stack(struct mf_task_record *dst, const struct mf_task_record *src, size_t depth)
{
    for (size_t i = 0; i < depth; i++) {
        const struct mf_frame *f = &src->stack[i];
        int rc = push_frame(dst, f->step, f->task, f->kind, f->index, f->count);
        if (rc)
            return rc;
    }
    return 0;
}

/* Where each input came from, attempt included, in the task's own record. */
static int record_inputs(struct mf_task_record *out, const struct mf_task_record *in, size_t n)
{
    out->inputs = calloc(n, sizeof *out->inputs);
    out->input_attempts = calloc(n, sizeof *out->input_attempts);
    if (!out->inputs || !out->input_attempts)
        return MF_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        out->inputs[i] = mf_strf("%s/%lld", in[i].step, (long long)in[i].task_id);
        out->input_attempts[i] = in[i].attempt;
        out->n_inputs = i + 1;
        if (!out->inputs[i])
            return MF_ENOMEM;
    }
    return 0;
}

int mf_record_derive(const struct mf_graph *g, int step, const struct mf_task_record *in,
                     size_t n_in, int64_t split_index, struct mf_task_record *out, char **err)
{
    const struct mf_graph_step *gs = &g->steps[step];
    if (n_in) {
        int rc = record_inputs(out, in, n_in);
        if (rc)
            return rc;
    }
    if (gs->is_join) {
        if (n_in == 0) {
            *err = mf_strf("join step '%s' got no inputs", gs->name);
            return MF_EINVAL;
        }
        const struct mf_task_record *p = &in[0];
        if (p->depth == 0) {
            *err = mf_strf("join step '%s': input %s/%lld is not inside a split", gs->name,
                           p->step, (long long)p->task_id);
            return MF_EINVAL;
        }
        int rc = copy_stack(out, p, p->depth - 1);
        /* Parameters belong to every task: take them from input 0. */
        for (size_t i = 0; !rc && i < g->def->n_params; i++) {
            const struct mf_artifact_ref *pa = mf_record_find(p, g->def->params[i].name);
            if (pa)
                rc = mf_record_set_art(out, pa->name, pa->type, pa->key, pa->size);
        }
        return rc;
    }
    if (n_in != 1) {
        *err = mf_strf("step '%s' needs exactly one input, got %zu", gs->name, n_in);
        return MF_EINVAL;
    }
    const struct mf_task_record *p = &in[0];
    int rc = copy_stack(out, p, p->depth);
    if (!rc)
        rc = mf_record_inherit(out, p);
    int ps = mf_graph_find(g, p->step);
    if (rc || ps < 0)
        return rc ? rc : MF_EINVAL;
    const struct mf_graph_step *pg = &g->steps[ps];
    if (pg->type == MF_STEP_FOREACH) {
        if (split_index < 0 || p->foreach_count < 0 || split_index >= p->foreach_count) {
            *err = mf_strf("step '%s': split index %lld is outside the foreach of %s/%lld",
                           gs->name, (long long)split_index, p->step, (long long)p->task_id);
            return MF_EINVAL;
        }
        rc = push_frame(out, p->step, p->task_id, MF_FRAME_FOREACH, (uint32_t)split_index,
                        (uint32_t)p->foreach_count);
    } else if (pg->type == MF_STEP_BRANCH) {
        uint32_t idx = 0;
        for (size_t i = 0; i < pg->n_next; i++)
            if (pg->next[i] == step)
                idx = (uint32_t)i;
        rc = push_frame(out, p->step, p->task_id, MF_FRAME_BRANCH, idx, (uint32_t)pg->n_next);
    }
    return rc;
}

char *mf_record_position(const struct mf_task_record *r)
{
    struct mf_sbuf b = {0};
    mf_sbuf_addf(&b, "%s", r->step);
    for (size_t i = 0; i < r->depth; i++)
        mf_sbuf_addf(&b, "%c%s:%u", i ? ',' : '|', r->stack[i].step, r->stack[i].index);
    return b.oom ? NULL : b.data;
}

int mf_input_paths_parse(const char *text, char ***paths, uint32_t **attempts, size_t *n)
{
    *paths = NULL;
    *attempts = NULL;
    *n = 0;
    size_t cap = 0;
    const char *p = text;
    while (p && *p) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        char item[512];
        if (len == 0 || len >= sizeof item)
            return MF_EINVAL;
        memcpy(item, p, len);
        item[len] = '\0';
        char *slash = strrchr(item, '/');
        if (!slash || slash == item)   /* a step name first */
            return MF_EINVAL;
        *slash = '\0';
        uint32_t att = 0;
        char *at = strchr(slash + 1, '@');
        if (at) {
            *at = '\0';
            char *aend;
            errno = 0;
            /* digits only: strtoul would take a sign, and wrap what does not fit */
            unsigned long long a = strtoull(at + 1, &aend, 10);
            if (!isdigit((unsigned char)at[1]) || *aend || errno || a > UINT32_MAX)
                return MF_EINVAL;
            att = (uint32_t)a;
        }
        /* ID or ID-ID, digits only, each fitting int64 (strtoll saturates). */
        char *end;
        errno = 0;
        long long lo = strtoll(slash + 1, &end, 10), hi = lo;
        if (!isdigit((unsigned char)slash[1]) || (*end && *end != '-') || errno)
            return MF_EINVAL;
        if (*end == '-') {
            char *from = end + 1;
            hi = strtoll(from, &end, 10);
            if (!isdigit((unsigned char)*from) || *end || errno)
                return MF_EINVAL;
        }
        /* A range is expanded here: bound it before allocating for it. */
        if (hi < lo || lo < 0 || (unsigned long long)(hi - lo) >= MF_INPUT_PATHS_MAX - *n)
            return MF_EINVAL;
        for (long long k = 0; k <= hi - lo; k++) {
            long long id = lo + k;   /* counted from lo: id++ past INT64_MAX would overflow */
            if (*n == cap) {
                cap = cap ? cap * 2 : 8;
                char **gp = realloc(*paths, cap * sizeof *gp);
                if (gp)
                    *paths = gp;
                uint32_t *ga = realloc(*attempts, cap * sizeof *ga);
                if (ga)
                    *attempts = ga;
                if (!gp || !ga)
                    return MF_ENOMEM;
            }
            (*paths)[*n] = mf_strf("%s/%lld", item, id);
            (*attempts)[*n] = att;
            if (!(*paths)[*n])
                return MF_ENOMEM;
            (*n)++;
        }
        p = e ? e + 1 : NULL;
    }
    return 0;
}

int mf_record_read_inputs(struct mf_store *st, const char *flow, int64_t run, const char *step,
                          int64_t task, const char *input_paths, struct mf_task_record **out,
                          size_t *n, char **err)
{
    *out = NULL;
    *n = 0;
    if (!input_paths || !*input_paths)
        return 0;
    char *text = NULL;
    if (input_paths[0] == '@') {
        /* Too long for a command line: the orchestrator stored the list beside the task, once
         * for all its attempts. */
        char *key = mf_key_inputs(flow, run, step, task);
        struct mf_buf b = {.struct_size = sizeof b};
        int rc = key ? st->ops->get(st->state, key, &b) : MF_ENOMEM;
        if (rc) {
            *err = mf_strf("cannot read the input list %s: %s", key ? key : "?",
                           st->ops->last_error(st->state));
            free(key);
            return rc;
        }
        free(key);
        text = strndup(b.data, b.len);
        if (b.release)
            b.release(&b);
    } else {
        text = strdup(input_paths);
    }
    if (!text)
        return MF_ENOMEM;
    char **paths = NULL;
    uint32_t *atts = NULL;
    size_t np = 0;
    int rc = mf_input_paths_parse(text, &paths, &atts, &np);
    if (rc)
        *err = mf_strf("malformed input paths '%.200s'", text);
    free(text);
    struct mf_task_record *recs = rc ? NULL : calloc(np ? np : 1, sizeof *recs);
    if (!rc && !recs)
        rc = MF_ENOMEM;
    size_t got = 0;
    for (size_t i = 0; !rc && i < np; i++) {
        char *slash = strrchr(paths[i], '/');
        *slash = '\0';
        rc = mf_record_read(st, flow, run, paths[i], atoll(slash + 1), atts[i], &recs[i], err);
        got += rc == 0;
    }
    for (size_t i = 0; i < np; i++)
        free(paths[i]);
    free(paths);
    free(atts);
    if (rc) {
        mf_record_free_inputs(recs, got);
        return rc;
    }
    *out = recs;
    *n = np;
    return 0;
}

void mf_record_free_inputs(struct mf_task_record *in, size_t n)
{
    for (size_t i = 0; i < n; i++)
        mf_task_record_free(&in[i]);
    free(in);
}
