/* mflow inspect PATHSPEC [--json]: a run (Flow/run), a step (Flow/run/step) or a task
 * (Flow/run/step/task). Also the helpers the inspection commands share (cli.h). */
#include "cli.h"

#include "codec.h"
#include "util.h"

#include <mflow/client.h>

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char usage[] = "inspect PATHSPEC [--json]   (Flow/run, Flow/run/step or "
                            "Flow/run/step/task)";

/* ---- shared helpers ------------------------------------------------------------------------- */

int cli_client_open(mf_client **out)
{
    int rc = mf_client_open(NULL, out);
    if (rc) {
        cli_error("%s", mf_client_error(*out));
        mf_client_close(*out);
        *out = NULL;
        return 1;
    }
    return 0;
}

void cli_time(double t, char *buf, size_t n)
{
    if (t <= 0) {
        snprintf(buf, n, "-");
        return;
    }
    time_t s = (time_t)t;
    struct tm tm;
    localtime_r(&s, &tm);
    strftime(buf, n, "%Y-%m-%d %H:%M:%S", &tm);
}

void cli_duration(double secs, char *buf, size_t n)
{
    if (secs < 0 || !isfinite(secs))
        snprintf(buf, n, "-");
    else if (secs < 1)
        snprintf(buf, n, "%.0fms", secs * 1000);
    else if (secs < 60)
        snprintf(buf, n, "%.1fs", secs);
    else if (secs < 3600)
        snprintf(buf, n, "%dm%02ds", (int)secs / 60, (int)secs % 60);
    else
        snprintf(buf, n, "%dh%02dm", (int)(secs / 3600), ((int)secs % 3600) / 60);
}

/* Seconds a thing took, or has taken so far when still running (end 0). */
static double took(double start, double end)
{
    if (start <= 0)
        return -1;
    if (end <= 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        end = (double)ts.tv_sec + ts.tv_nsec / 1e9;
    }
    return end - start;
}

/* Durations in --json: null while running, so that the output does not change by itself. */
static json_t *json_duration(double start, double end)
{
    return start > 0 && end > 0 ? json_real(end - start) : json_null();
}

void cli_run_status(const mf_client_run *r, char *buf, size_t n)
{
    if (mf_client_run_dead(r))
        snprintf(buf, n, "running (dead: pid %d gone)", (int)mf_client_run_pid(r));
    else
        snprintf(buf, n, "%s", mf_client_status_name(mf_client_run_status(r)));
}

/* Values read for display: only artifacts whose payload is at most this many bytes. */
#define INLINE_READ_MAX 4096
#define INLINE_SHOW_MAX 80

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static char *hex_of(const uint8_t *p, size_t n)
{
    char *hex = n < (SIZE_MAX - 1) / 2 ? malloc(n * 2 + 1) : NULL;
    for (size_t i = 0; hex && i < n; i++)
        sprintf(hex + 2 * i, "%02x", p[i]);
    if (hex)
        hex[2 * n] = 0;
    return hex;
}

/* numpy's shape text "(2, 3)" / "(5,)" / "()" as a JSON array of integers. */
static json_t *shape_json(const char *s)
{
    json_t *a = json_array();
    for (const char *q = s; a && *q;) {
        if (*q >= '0' && *q <= '9') {
            char *e;
            json_array_append_new(a, json_integer((json_int_t)strtoll(q, &e, 10)));
            q = e;
        } else {
            q++;
        }
    }
    return a;
}

char *cli_python_note(const mf_client_artifact *a)
{
    mf_type ty = mf_client_artifact_type(a);
    unsigned long long size = (unsigned long long)mf_client_artifact_size(a);
    if (ty == MF_PICKLE)
        return mf_strf("<Python object, %llu bytes: read it with the Python client>", size);
    if (ty != MF_NPY)
        return NULL;
    /* The header is at the start, but a value is read whole: only small ones are opened. */
    if (size > INLINE_READ_MAX)
        return mf_strf("<numpy array, %llu bytes: read it with the Python client>", size);
    uint8_t *p;
    size_t n;
    if (mf_client_artifact_value(a, NULL, (void **)&p, &n))
        return NULL;
    char dtype[64], shape[128];
    int rc = mf_codec_npy_info(p, n, dtype, sizeof dtype, shape, sizeof shape);
    free(p);
    if (rc)
        return mf_strf("<numpy array, %llu bytes: read it with the Python client>", size);
    return mf_strf("<numpy array %s %s, %llu bytes: read it with the Python client>", dtype,
                   shape, size);
}

/* An obj's JSON text as a JSON value; a text jansson cannot hold exactly (an integer outside
 * int64, a number beyond a double) is given as {"type": "obj", "json": "<the text>"}. */
static json_t *obj_json(const char *s, size_t n)
{
    json_error_t e;
    json_t *v = json_loadb(s, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
    if (v)
        return v;
    json_t *t = json_stringn(s, n);
    return t ? json_pack("{s:s,s:o}", "type", "obj", "json", t) : NULL;
}

/* The artifact's value as JSON (bytes: {"type": "bytes", "hex": ...}); NULL when it cannot be
 * read (message left on the client). */
json_t *cli_artifact_json(const mf_client_artifact *a)
{
    mf_type ty = mf_client_artifact_type(a);
    json_t *v = NULL;
    if (ty == MF_I64) {
        int64_t x;
        if (!mf_client_artifact_i64(a, &x))
            v = json_integer(x);
    } else if (ty == MF_F64) {
        double x;
        if (!mf_client_artifact_f64(a, &x))
            v = cli_json_f64(x);
    } else if (ty == MF_STR) {
        char *s;
        size_t n;
        if (!mf_client_artifact_str(a, &s, &n)) {
            v = cli_json_textn(s, n);
            free(s);
        }
    } else if (ty == MF_BYTES) {
        unsigned char *p;
        size_t n;
        if (!mf_client_artifact_bytes(a, (void **)&p, &n)) {
            char *hex = malloc(n * 2 + 1);
            for (size_t i = 0; hex && i < n; i++)
                sprintf(hex + 2 * i, "%02x", p[i]);
            if (hex) {
                hex[2 * n] = 0;
                v = json_pack("{s:s,s:s}", "type", "bytes", "hex", hex);
            }
            free(hex);
            free(p);
        }
    } else if (ty == MF_I64V) {
        int64_t *x;
        size_t n;
        if (!mf_client_artifact_i64v(a, &x, &n)) {
            v = json_array();
            for (size_t i = 0; i < n; i++)
                json_array_append_new(v, json_integer(x[i]));
            free(x);
        }
    } else if (ty == MF_F64V) {
        double *x;
        size_t n;
        if (!mf_client_artifact_f64v(a, &x, &n)) {
            v = json_array();
            for (size_t i = 0; v && i < n; i++)
                if (json_array_append_new(v, cli_json_f64(x[i]))) {
                    json_decref(v);   /* out of memory: no list with an element missing */
                    v = NULL;
                }
            free(x);
        }
    } else if (ty == MF_OBJ || ty == MF_PICKLE || ty == MF_NPY) {
        uint8_t *p;
        size_t n;
        if (!mf_client_artifact_value(a, NULL, (void **)&p, &n)) {
            char *hex = ty == MF_OBJ ? NULL : hex_of(p, n);
            char dtype[64], shape[128];
            if (ty == MF_OBJ)
                v = obj_json((const char *)p, n);
            else if (ty == MF_PICKLE && hex)
                v = json_pack("{s:s,s:I,s:s}", "type", "pickle", "size", (json_int_t)n, "hex", hex);
            else if (hex && !mf_codec_npy_info(p, n, dtype, sizeof dtype, shape, sizeof shape))
                v = json_pack("{s:s,s:s,s:o,s:I,s:s}", "type", "npy", "dtype", dtype, "shape",
                              shape_json(shape), "size", (json_int_t)n, "hex", hex);
            free(hex);
            free(p);
        }
    } else if (ty == MF_STRV) {
        /* Walk the stored payload rather than the decoded C strings: an element may hold a
         * NUL byte, which a C string would cut short. The payload was checked when read. */
        uint8_t *p;
        size_t n;
        if (!mf_client_artifact_value(a, NULL, (void **)&p, &n)) {
            v = json_array();
            size_t off = 8;
            for (uint64_t i = 0, count = n >= 8 ? le64(p) : 0; v && i < count; i++) {
                size_t len = (size_t)le64(p + off);
                off += 8;
                if (json_array_append_new(v, cli_json_textn((const char *)p + off, len))) {
                    json_decref(v);
                    v = NULL;
                }
                off += len;
            }
            free(p);
        }
    }
    return v;
}

/* A small value (at most INLINE_SHOW_MAX characters as one line of JSON), or NULL when it is
 * large, bytes, or unreadable. */
static json_t *inline_json(const mf_client_artifact *a)
{
    mf_type ty = mf_client_artifact_type(a);
    if (ty == MF_BYTES || ty == MF_PICKLE || ty == MF_NPY ||
        mf_client_artifact_size(a) > INLINE_READ_MAX)
        return NULL;
    json_t *v = cli_artifact_json(a);
    if (!v)
        return NULL;
    char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(17));
    size_t n = s ? strlen(s) : SIZE_MAX;
    free(s);
    if (n > INLINE_SHOW_MAX) {
        json_decref(v);
        return NULL;
    }
    return v;
}

/* "damaged" when the artifact's stored value fails its hash or format check, else NULL. Only
 * values small enough to be read for display are checked (a large one would cost a read). */
static const char *damage(const mf_client_artifact *a)
{
    if (mf_client_artifact_size(a) > INLINE_READ_MAX)
        return NULL;
    void *p = NULL;
    size_t n;
    int rc = mf_client_artifact_value(a, NULL, &p, &n);
    free(p);
    return rc == MF_ECORRUPT ? "damaged" : NULL;
}

/* The same as one line of text (malloc'd), or NULL. */
static char *inline_value(const mf_client_artifact *a)
{
    char *note = cli_python_note(a);
    if (note)
        return note;
    if (mf_client_artifact_type(a) == MF_OBJ && mf_client_artifact_size(a) <= INLINE_SHOW_MAX) {
        /* The text as stored: exact where jansson's numbers are not (big integers). */
        char *s;
        size_t n;
        return mf_client_artifact_value(a, NULL, (void **)&s, &n) ? NULL : s;
    }
    json_t *v = inline_json(a);
    char *s = v ? json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(17)) : NULL;
    json_decref(v);
    return s;
}

static json_t *tags_json(const mf_client_run *r)
{
    json_t *a = json_array();
    for (size_t i = 0; i < mf_client_run_tag_count(r); i++)
        json_array_append_new(a, cli_json_text(mf_client_run_tag(r, i)));
    return a;
}

static json_t *str_or_null(const char *s)
{
    return cli_json_text(s);
}

/* ---- a run ---------------------------------------------------------------------------------- */

static void step_counts(const mf_client_step *s, char *buf, size_t n)
{
    static const int order[] = {MF_CLIENT_SUCCEEDED, MF_CLIENT_FAILED, MF_CLIENT_RUNNING,
                                MF_CLIENT_CANCELLED, MF_CLIENT_PENDING};
    size_t used = 0;
    buf[0] = 0;
    for (size_t k = 0; k < sizeof order / sizeof order[0]; k++) {
        size_t c = mf_client_step_status_count(s, order[k]);
        if (!c)
            continue;
        int w = snprintf(buf + used, n - used, "%s%zu %s", used ? ", " : "", c,
                         mf_client_status_name(order[k]));
        if (w < 0 || (size_t)w >= n - used)
            break;
        used += (size_t)w;
    }
    if (!used)
        snprintf(buf, n, "not run");
}

static int inspect_run(mf_client *c, const char *spec, int json)
{
    mf_client_run *r;
    if (mf_client_run_open(c, spec, &r)) {
        cli_error("%s", mf_client_error(c));
        return 1;
    }
    mf_client_steps *steps = NULL;
    int code = 1;
    if (mf_client_run_load_params(r) || mf_client_list_steps(r, &steps)) {
        cli_error("%s", mf_client_error(c));
        goto out;
    }
    if (json) {
        json_t *o = json_object();
        json_object_set_new(o, "pathspec", cli_json_text(mf_client_run_pathspec(r)));
        json_object_set_new(o, "flow", cli_json_text(mf_client_run_flow(r)));
        json_object_set_new(o, "run_id", json_integer(mf_client_run_id(r)));
        json_object_set_new(o, "status", json_string(mf_client_status_name(mf_client_run_status(r))));
        json_object_set_new(o, "dead", json_boolean(mf_client_run_dead(r)));
        json_object_set_new(o, "user", cli_json_text(mf_client_run_user(r)));
        json_object_set_new(o, "namespace", cli_json_text(mf_client_run_namespace(r)));
        json_object_set_new(o, "host", cli_json_text(mf_client_run_host(r)));
        json_object_set_new(o, "pid", json_integer(mf_client_run_pid(r)));
        if (mf_client_run_storage(r)[0])
            json_object_set_new(o, "storage",
                                json_pack("{s:o,s:o}", "plugin",
                                          cli_json_text(mf_client_run_storage(r)), "root",
                                          cli_json_text(mf_client_run_storage_root(r))));
        json_object_set_new(o, "start_time", json_real(mf_client_run_start_time(r)));
        json_object_set_new(o, "end_time", json_real(mf_client_run_end_time(r)));
        json_object_set_new(o, "last_active_time", json_real(mf_client_run_last_active(r)));
        json_object_set_new(o, "duration", json_duration(mf_client_run_start_time(r),
                                                         mf_client_run_last_active(r)));
        json_object_set_new(o, "origin_run_id", json_integer(mf_client_run_origin_run_id(r)));
        json_object_set_new(o, "tags", tags_json(r));
        json_t *params = json_object();
        for (size_t i = 0; i < mf_client_run_param_count(r); i++) {
            const mf_client_artifact *a = mf_client_run_param_at(r, i);
            json_t *v = cli_artifact_json(a);
            if (!v) {
                cli_error("%s", mf_client_error(c));
                json_decref(params);
                json_decref(o);
                goto out;
            }
            /* a key must be UTF-8: a name from a hand-made record may not be */
            const char *key = mf_client_artifact_name(a);
            json_object_set_new(params, mf_utf8_valid(key, strlen(key)) ? key : cli_esc(key),
                                json_pack("{s:s,s:o}", "type",
                                          mf_client_type_name(mf_client_artifact_type(a)),
                                          "value", v));
        }
        json_object_set_new(o, "parameters", params);
        json_t *sa = json_array();
        for (size_t i = 0; i < mf_client_steps_count(steps); i++) {
            const mf_client_step *s = mf_client_steps_at(steps, i);
            json_t *so = json_object();
            json_object_set_new(so, "name", cli_json_text(mf_client_step_name(s)));
            json_object_set_new(so, "status",
                                json_string(mf_client_status_name(mf_client_step_status(s))));
            json_object_set_new(so, "tasks", json_integer((json_int_t)mf_client_step_task_count(s)));
            for (int k = MF_CLIENT_PENDING; k <= MF_CLIENT_CANCELLED; k++)
                json_object_set_new(so, mf_client_status_name(k),
                                    json_integer((json_int_t)mf_client_step_status_count(s, k)));
            json_object_set_new(so, "start_time", json_real(mf_client_step_start_time(s)));
            json_object_set_new(so, "end_time", json_real(mf_client_step_end_time(s)));
            json_array_append_new(sa, so);
        }
        json_object_set_new(o, "steps", sa);
        code = cli_print_json(o);
        goto out;
    }
    char st[64], t0[32], t1[32], d[32];
    cli_run_status(r, st, sizeof st);
    cli_time(mf_client_run_start_time(r), t0, sizeof t0);
    cli_time(mf_client_run_end_time(r), t1, sizeof t1);
    cli_duration(took(mf_client_run_start_time(r), mf_client_run_last_active(r)), d, sizeof d);
    printf("Run %s  %s\n", cli_esc(mf_client_run_pathspec(r)), st);
    printf("  user       %s (namespace %s)\n", cli_esc(mf_client_run_user(r)),
           cli_esc(mf_client_run_namespace(r)));
    printf("  host       %s, pid %d\n", cli_esc(mf_client_run_host(r)), (int)mf_client_run_pid(r));
    if (mf_client_run_storage(r)[0])
        printf("  storage    %s at %s\n", cli_esc(mf_client_run_storage(r)),
               cli_esc(mf_client_run_storage_root(r)));
    printf("  started    %s\n", t0);
    if (mf_client_run_end_time(r) > 0) {
        printf("  ended      %s (%s)\n", t1, d);
    } else if (mf_client_run_dead(r)) {
        cli_time(mf_client_run_last_active(r), t1, sizeof t1);
        printf("  last seen  %s (%s after it started; its orchestrator is gone)\n", t1, d);
    } else {
        printf("  running    for %s\n", d);
    }
    if (mf_client_run_origin_run_id(r))
        printf("  resumed    from %s/%lld\n", cli_esc(mf_client_run_flow(r)),
               (long long)mf_client_run_origin_run_id(r));
    printf("  tags      ");
    for (size_t i = 0; i < mf_client_run_tag_count(r); i++)
        printf(" %s", cli_esc(mf_client_run_tag(r, i)));
    putchar('\n');
    size_t np = mf_client_run_param_count(r);
    if (np) {
        puts("parameters");
        for (size_t i = 0; i < np; i++) {
            const mf_client_artifact *a = mf_client_run_param_at(r, i);
            json_t *v = cli_artifact_json(a);
            char *s = v ? json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(17))
                        : NULL;
            json_decref(v);
            printf("  %s = %s  (%s)\n", cli_esc(mf_client_artifact_name(a)),
                   s ? cli_esc(s) : "<unreadable>", mf_client_type_name(mf_client_artifact_type(a)));
            /* only a failed read leaves a message on the client; anything else is memory */
            if (!v)
                cli_error("%s", mf_client_error(c));
            else if (!s)
                cli_error("out of memory");
            free(s);
        }
    }
    size_t w = 4;
    for (size_t i = 0; i < mf_client_steps_count(steps); i++) {
        size_t l = strlen(cli_esc(mf_client_step_name(mf_client_steps_at(steps, i))));
        w = l > w ? l : w;
    }
    puts("steps");
    printf("  %-*s  %6s  %-9s  %-8s  %s\n", (int)w, "STEP", "TASKS", "STATUS", "TOOK", "DETAIL");
    for (size_t i = 0; i < mf_client_steps_count(steps); i++) {
        const mf_client_step *s = mf_client_steps_at(steps, i);
        char counts[160], sd[32];
        step_counts(s, counts, sizeof counts);
        if (mf_client_step_task_count(s))
            cli_duration(mf_client_step_end_time(s) > 0
                             ? mf_client_step_end_time(s) - mf_client_step_start_time(s)
                             : took(mf_client_step_start_time(s), 0),
                         sd, sizeof sd);
        else
            snprintf(sd, sizeof sd, "-");
        printf("  %-*s  %6zu  %-9s  %-8s  %s\n", (int)w, cli_esc(mf_client_step_name(s)),
               mf_client_step_task_count(s), mf_client_status_name(mf_client_step_status(s)), sd,
               counts);
    }
    code = 0;
out:
    mf_client_steps_free(steps);
    mf_client_run_free(r);
    return code;
}

/* ---- a step --------------------------------------------------------------------------------- */

static int inspect_step(mf_client *c, const char *spec, int json)
{
    const char *slash = strrchr(spec, '/');
    char *runspec = strndup(spec, (size_t)(slash - spec));
    const char *step = slash + 1;
    if (!runspec) {
        cli_error("out of memory");
        return 1;
    }
    mf_client_run *r;
    int rc = mf_client_run_open(c, runspec, &r);
    free(runspec);
    if (rc) {
        cli_error("%s", mf_client_error(c));
        return 1;
    }
    mf_client_tasks *l = NULL;
    int code = 1;
    if (mf_client_list_tasks(r, step, &l)) {
        cli_error("%s", mf_client_error(c));
        goto out;
    }
    size_t n = mf_client_tasks_count(l);
    if (n == 0) {
        mf_client_steps *steps = NULL;
        struct {
            char *data;
            size_t len;
        } names = {NULL, 0};
        FILE *f = open_memstream(&names.data, &names.len);
        if (f && mf_client_list_steps(r, &steps) == 0)
            for (size_t i = 0; i < mf_client_steps_count(steps); i++)
                fprintf(f, "%s%s", i ? ", " : "",
                        cli_esc(mf_client_step_name(mf_client_steps_at(steps, i))));
        if (f)
            fclose(f);
        cli_error("run %s has no task of step '%s' (its steps: %s)",
                  cli_esc(mf_client_run_pathspec(r)), cli_esc(step), names.data && *names.data ? names.data : "none");
        free(names.data);
        mf_client_steps_free(steps);
        goto out;
    }
    if (json) {
        json_t *o = json_object();
        json_object_set_new(o, "pathspec", cli_json_text(spec));
        json_object_set_new(o, "flow", cli_json_text(mf_client_run_flow(r)));
        json_object_set_new(o, "run_id", json_integer(mf_client_run_id(r)));
        json_object_set_new(o, "step", cli_json_text(step));
        json_t *ta = json_array();
        for (size_t i = 0; i < n; i++) {
            const mf_client_task *t = mf_client_tasks_at(l, i);
            json_t *to = json_object();
            json_object_set_new(to, "task_id", json_integer(mf_client_task_id(t)));
            json_object_set_new(to, "pathspec", cli_json_text(mf_client_task_pathspec(t)));
            json_object_set_new(to, "status",
                                json_string(mf_client_status_name(mf_client_task_status(t))));
            json_object_set_new(to, "attempt", json_integer(mf_client_task_attempt(t)));
            json_object_set_new(to, "start_time", json_real(mf_client_task_start_time(t)));
            json_object_set_new(to, "end_time", json_real(mf_client_task_end_time(t)));
            json_object_set_new(to, "duration", json_duration(mf_client_task_start_time(t),
                                                              mf_client_task_end_time(t)));
            if (mf_client_task_foreach_count(t))
                json_object_set_new(to, "foreach",
                                    json_pack("{s:I,s:I}", "index",
                                              (json_int_t)mf_client_task_foreach_index(t), "count",
                                              (json_int_t)mf_client_task_foreach_count(t)));
            else
                json_object_set_new(to, "foreach", json_null());
            json_object_set_new(to, "origin", str_or_null(mf_client_task_origin(t)));
            json_array_append_new(ta, to);
        }
        json_object_set_new(o, "tasks", ta);
        code = cli_print_json(o);
        goto out;
    }
    printf("Step %s  %zu task%s\n", cli_esc(spec), n, n == 1 ? "" : "s");
    printf("  %-8s  %-9s  %-7s  %-19s  %-8s  %s\n", "TASK", "STATUS", "ATTEMPT", "STARTED", "TOOK",
           "FOREACH");
    for (size_t i = 0; i < n; i++) {
        const mf_client_task *t = mf_client_tasks_at(l, i);
        char t0[32], d[32], fe[48] = "";
        cli_time(mf_client_task_start_time(t), t0, sizeof t0);
        cli_duration(took(mf_client_task_start_time(t), mf_client_task_end_time(t)), d, sizeof d);
        if (mf_client_task_foreach_count(t))
            snprintf(fe, sizeof fe, "%u of %u", mf_client_task_foreach_index(t),
                     mf_client_task_foreach_count(t));
        printf("  %-8lld  %-9s  %-7u  %-19s  %-8s  %s%s%s\n", (long long)mf_client_task_id(t),
               mf_client_status_name(mf_client_task_status(t)), mf_client_task_attempt(t), t0, d,
               fe, mf_client_task_origin(t) ? "  cloned from " : "",
               mf_client_task_origin(t) ? cli_esc(mf_client_task_origin(t)) : "");
    }
    code = 0;
out:
    mf_client_tasks_free(l);
    mf_client_run_free(r);
    return code;
}

/* ---- a task --------------------------------------------------------------------------------- */

static json_t *attempt_json(const mf_client_task *a)
{
    json_t *o = json_object();
    json_object_set_new(o, "attempt", json_integer(mf_client_task_attempt(a)));
    json_object_set_new(o, "status", json_string(mf_client_status_name(mf_client_task_status(a))));
    json_object_set_new(o, "start_time", json_real(mf_client_task_start_time(a)));
    json_object_set_new(o, "end_time", json_real(mf_client_task_end_time(a)));
    json_object_set_new(o, "duration", json_duration(mf_client_task_start_time(a),
                                                     mf_client_task_end_time(a)));
    json_object_set_new(o, "exit_code", json_integer(mf_client_task_exit_code(a)));
    json_object_set_new(o, "signal", json_integer(mf_client_task_signal(a)));
    json_object_set_new(o, "host", str_or_null(mf_client_task_host(a)));
    json_object_set_new(o, "message", str_or_null(mf_client_task_message(a)));
    return o;
}

static int inspect_task(mf_client *c, const char *spec, int json)
{
    mf_client_task *t;
    if (mf_client_task_open(c, spec, &t)) {
        cli_error("%s", mf_client_error(c));
        return 1;
    }
    int code = 1;
    uint32_t latest = mf_client_task_attempt(t);
    mf_client_task **att = calloc((size_t)latest + 1, sizeof *att);
    char **att_err = calloc((size_t)latest + 1, sizeof *att_err);
    if (!att || !att_err) {
        cli_error("out of memory");
        goto out;
    }
    for (uint32_t k = 0; k < latest; k++)
        if (mf_client_task_get_attempt(t, k, &att[k]))
            att_err[k] = strdup(mf_client_error(c));
    att[latest] = t;
    const char *flow = mf_client_task_flow(t);
    long long run = (long long)mf_client_task_run_id(t);
    if (json) {
        json_t *o = json_object();
        json_object_set_new(o, "pathspec", cli_json_text(mf_client_task_pathspec(t)));
        json_object_set_new(o, "flow", cli_json_text(flow));
        json_object_set_new(o, "run_id", json_integer(run));
        json_object_set_new(o, "step", cli_json_text(mf_client_task_step(t)));
        json_object_set_new(o, "task_id", json_integer(mf_client_task_id(t)));
        json_object_set_new(o, "status", json_string(mf_client_status_name(mf_client_task_status(t))));
        json_object_set_new(o, "attempt", json_integer(latest));
        json_object_set_new(o, "start_time", json_real(mf_client_task_start_time(t)));
        json_object_set_new(o, "end_time", json_real(mf_client_task_end_time(t)));
        json_object_set_new(o, "duration", json_duration(mf_client_task_start_time(t),
                                                         mf_client_task_end_time(t)));
        json_object_set_new(o, "exit_code", json_integer(mf_client_task_exit_code(t)));
        json_object_set_new(o, "signal", json_integer(mf_client_task_signal(t)));
        json_object_set_new(o, "host", str_or_null(mf_client_task_host(t)));
        json_object_set_new(o, "message", str_or_null(mf_client_task_message(t)));
        json_object_set_new(o, "origin", str_or_null(mf_client_task_origin(t)));
        json_t *in = json_array();
        for (size_t i = 0; i < mf_client_task_input_count(t); i++) {
            char *p = NULL;
            if (asprintf(&p, "%s/%lld/%s", flow, run, mf_client_task_input(t, i)) > 0)
                json_array_append_new(in, cli_json_text(p));
            free(p);
        }
        json_object_set_new(o, "inputs", in);
        if (mf_client_task_foreach_count(t))
            json_object_set_new(o, "foreach",
                                json_pack("{s:I,s:I}", "index",
                                          (json_int_t)mf_client_task_foreach_index(t), "count",
                                          (json_int_t)mf_client_task_foreach_count(t)));
        else
            json_object_set_new(o, "foreach", json_null());
        json_t *fr = json_array();
        for (size_t i = 0; i < mf_client_task_frame_count(t); i++) {
            const char *ss;
            int64_t st;
            int fe;
            uint32_t idx, cnt;
            mf_client_task_frame(t, i, &ss, &st, &fe, &idx, &cnt);
            json_array_append_new(fr, json_pack("{s:o,s:I,s:s,s:I,s:I}", "split_step", cli_json_text(ss),
                                                "split_task", (json_int_t)st, "kind",
                                                fe ? "foreach" : "branch", "index",
                                                (json_int_t)idx, "count", (json_int_t)cnt));
        }
        json_object_set_new(o, "frames", fr);
        int64_t items = mf_client_task_foreach_items(t);
        json_object_set_new(o, "foreach_items", items >= 0 ? json_integer(items) : json_null());
        json_t *aa = json_array();
        for (uint32_t k = 0; k <= latest; k++) {
            if (att[k]) {
                json_array_append_new(aa, attempt_json(att[k]));
            } else {
                json_array_append_new(aa, json_pack("{s:i,s:s,s:o}", "attempt", (int)k, "status",
                                                    "unknown", "error",
                                                    cli_json_text(att_err[k] ? att_err[k]
                                                                             : "no record")));
            }
        }
        json_object_set_new(o, "attempts", aa);
        json_t *arts = json_array();
        for (size_t i = 0; i < mf_client_task_artifact_count(t); i++) {
            const mf_client_artifact *a = mf_client_task_artifact_at(t, i);
            json_t *ao = json_object();
            json_object_set_new(ao, "name", cli_json_text(mf_client_artifact_name(a)));
            json_object_set_new(ao, "type",
                                json_string(mf_client_type_name(mf_client_artifact_type(a))));
            json_object_set_new(ao, "size", json_integer((json_int_t)mf_client_artifact_size(a)));
            json_t *v = inline_json(a);
            const char *bad = v ? NULL : damage(a);
            if (v)
                json_object_set_new(ao, "value", v);
            else if (bad)
                json_object_set_new(ao, "state", json_string(bad));
            json_array_append_new(arts, ao);
        }
        json_object_set_new(o, "artifacts", arts);
        code = cli_print_json(o);
        goto out;
    }
    char t0[32], d[32];
    printf("Task %s  %s\n", cli_esc(mf_client_task_pathspec(t)),
           mf_client_status_name(mf_client_task_status(t)));
    cli_time(mf_client_task_start_time(t), t0, sizeof t0);
    cli_duration(took(mf_client_task_start_time(t), mf_client_task_end_time(t)), d, sizeof d);
    printf("  started    %s (took %s)\n", t0, d);
    printf("  attempts   %u\n", latest + 1);
    if (mf_client_task_host(t))
        printf("  host       %s\n", cli_esc(mf_client_task_host(t)));
    if (mf_client_task_message(t))
        printf("  message    %s\n", cli_esc(mf_client_task_message(t)));
    if (mf_client_task_origin(t))
        printf("  cloned     from %s\n", cli_esc(mf_client_task_origin(t)));
    if (mf_client_task_foreach_count(t)) {
        const char *split = "?";
        int64_t split_task = 0;
        for (size_t i = mf_client_task_frame_count(t); i > 0; i--) {
            int fe = 0;
            mf_client_task_frame(t, i - 1, &split, &split_task, &fe, NULL, NULL);
            if (fe)
                break;
        }
        printf("  foreach    index %u of %u (split by %s/%lld)\n", mf_client_task_foreach_index(t),
               mf_client_task_foreach_count(t), cli_esc(split), (long long)split_task);
    }
    if (mf_client_task_foreach_items(t) >= 0)
        printf("  splits     into %lld items\n", (long long)mf_client_task_foreach_items(t));
    size_t ni = mf_client_task_input_count(t);
    if (ni) {
        printf("  inputs    ");
        for (size_t i = 0; i < ni && i < 20; i++)
            printf(" %s/%lld/%s", cli_esc(flow), run, cli_esc(mf_client_task_input(t, i)));
        if (ni > 20)
            printf(" ... (%zu in all)", ni);
        putchar('\n');
    }
    puts("attempts");
    printf("  %-3s  %-9s  %-19s  %-8s  %-5s  %s\n", "#", "STATUS", "STARTED", "TOOK", "EXIT",
           "MESSAGE");
    for (uint32_t k = 0; k <= latest; k++) {
        const mf_client_task *a = att[k];
        if (!a) {
            printf("  %-3u  %-9s  %s\n", k, "unknown", att_err[k] ? cli_esc(att_err[k]) : "no record");
            continue;
        }
        char s0[32], sd[32], ex[16];
        cli_time(mf_client_task_start_time(a), s0, sizeof s0);
        cli_duration(took(mf_client_task_start_time(a), mf_client_task_end_time(a)), sd, sizeof sd);
        if (mf_client_task_signal(a))
            snprintf(ex, sizeof ex, "sig%d", mf_client_task_signal(a));
        else
            snprintf(ex, sizeof ex, "%d", mf_client_task_exit_code(a));
        printf("  %-3u  %-9s  %-19s  %-8s  %-5s  %s\n", k,
               mf_client_status_name(mf_client_task_status(a)), s0, sd, ex,
               mf_client_task_message(a) ? cli_esc(mf_client_task_message(a)) : "");
    }
    size_t na = mf_client_task_artifact_count(t);
    puts("artifacts");
    if (na) {
        size_t w = 4;
        for (size_t i = 0; i < na; i++) {
            size_t l = strlen(cli_esc(mf_client_artifact_name(mf_client_task_artifact_at(t, i))));
            w = l > w ? l : w;
        }
        printf("  %-*s  %-5s  %10s  %s\n", (int)w, "NAME", "TYPE", "SIZE", "VALUE");
        for (size_t i = 0; i < na; i++) {
            const mf_client_artifact *a = mf_client_task_artifact_at(t, i);
            char *v = inline_value(a);
            const char *bad = v ? NULL : damage(a);
            printf("  %-*s  %-5s  %10llu  %s\n", (int)w, cli_esc(mf_client_artifact_name(a)),
                   mf_client_type_name(mf_client_artifact_type(a)),
                   (unsigned long long)mf_client_artifact_size(a), v ? cli_esc(v) : bad ? bad : "");
            free(v);
        }
    } else {
        puts("  (none)");
    }
    code = 0;
out:
    for (uint32_t k = 0; att && k < latest; k++)
        mf_client_task_free(att[k]);
    for (uint32_t k = 0; att_err && k <= latest; k++)
        free(att_err[k]);
    free(att);
    free(att_err);
    mf_client_task_free(t);
    return code;
}

int cmd_inspect(int argc, char **argv)
{
    if (cli_wants_help(argc, argv, usage))
        return 0;
    const char *spec = NULL;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = 1;
        else if (!spec && argv[i][0] != '-')
            spec = argv[i];
        else {
            cli_error("inspect: unexpected argument '%s' (usage: mflow %s)", argv[i], usage);
            return 2;
        }
    }
    if (!spec) {
        cli_error("usage: mflow %s", usage);
        return 2;
    }
    int slashes = 0;
    for (const char *p = spec; *p; p++)
        slashes += *p == '/';
    if (slashes == 0) {
        cli_error("'%s' names a flow: `mflow runs %s` lists its runs; inspect one with "
                  "%s/RUN",
                  spec, spec, spec);
        return 2;
    }
    if (slashes > 3 || spec[strlen(spec) - 1] == '/') {
        cli_error("'%s' is not a pathspec: use Flow/run, Flow/run/step or Flow/run/step/task",
                  spec);
        return 2;
    }
    mf_client *c;
    if (cli_client_open(&c))
        return 1;
    int code = slashes == 1   ? inspect_run(c, spec, json)
               : slashes == 2 ? inspect_step(c, spec, json)
                              : inspect_task(c, spec, json);
    mf_client_close(c);
    return code;
}
