/* Helpers shared by the mflow executables' commands. */
#include "cli.h"

#include <mflow/client.h>

#include "runtime.h"
#include "util.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ESC_RING 16

static const char *esc_ring(const char *s, size_t n, int flags)
{
    static char *ring[ESC_RING];
    static unsigned next;
    char *e = mf_escape(s ? s : "", s ? n : 0, flags);
    if (!e)
        return "(out of memory)";
    unsigned k = next++ % ESC_RING;
    free(ring[k]);
    ring[k] = e;
    return e;
}

const char *cli_esc(const char *s)
{
    return esc_ring(s, s ? strlen(s) : 0, 0);
}

const char *cli_esc_value(const char *s, size_t n)
{
    return esc_ring(s, n, MF_ESC_KEEP_LINES);
}

json_t *cli_json_textn(const char *s, size_t n)
{
    if (!s)
        return json_null();
    /* jansson refuses what is not UTF-8 (and then fails to dump what it took unchecked) */
    json_t *v = mf_utf8_valid(s, n) ? json_stringn(s, n) : NULL;
    if (v)
        return v;
    char *hex = malloc(n * 2 + 1);
    if (!hex)
        return NULL;
    for (size_t i = 0; i < n; i++)
        sprintf(hex + 2 * i, "%02x", (unsigned char)s[i]);
    hex[2 * n] = '\0';
    v = json_pack("{s:s,s:s}", "type", "str", "hex", hex);
    free(hex);
    return v;
}

json_t *cli_json_f64(double x)
{
    /* json_real refuses NaN and infinities (it returns NULL, and an array drops the element) */
    if (isnan(x))
        return json_string("NaN");
    if (isinf(x))
        return json_string(x > 0 ? "Infinity" : "-Infinity");
    return json_real(x);
}

json_t *cli_json_text(const char *s)
{
    return cli_json_textn(s, s ? strlen(s) : 0);
}

void cli_error(const char *fmt, ...)
{
    /* Messages quote names, tags and paths, some from stored data or the command line: a
     * control character in them reaches the terminal escaped, whatever the caller forgot. */
    va_list ap;
    va_start(ap, fmt);
    char *msg = mf_vstrf(fmt, ap);
    va_end(ap);
    fprintf(stderr, "mflow: %s\n", msg ? cli_esc(msg) : "out of memory");
    free(msg);
}

int cli_check_run_id_file(const char *path)
{
    int rc = path ? mf_check_file_writable(path) : 0;
    if (!rc)
        return 0;
    cli_error("cannot write --run-id-file %s: %s (nothing was run; give a file in a writable "
              "directory)",
              path, strerror(rc));
    return 2;
}

int cli_run_common_opt(int argc, char **argv, int *i, struct mf_run_opts *o, const char **tags)
{
    long long n;
    int r;
    if ((r = cli_int_opt(argc, argv, i, "--max-workers", 1, 100000, &n)) > 0)
        o->max_workers = (int)n;
    else if (!r && (r = cli_str_opt(argc, argv, i, "--tag", &tags[o->n_tags])) > 0)
        o->n_tags++;
    else if (!r)
        r = cli_str_opt(argc, argv, i, "--run-id-file", &o->run_id_file);
    return r;
}

int cli_wants_help(int argc, char **argv, const char *text)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--"))
            break;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: mflow %s\n", text);
            return 1;
        }
    }
    return 0;
}

int cli_print_json(json_t *v)
{
    if (!v) {
        cli_error("out of memory");
        return 1;
    }
    char *s = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY |
                                JSON_REAL_PRECISION(17));
    json_decref(v);
    if (!s) {
        cli_error("out of memory");
        return 1;
    }
    puts(s);
    free(s);
    return 0;
}

int cli_match_opt(int argc, char **argv, int *i, const char *name, const char **value)
{
    return mf_opt_value(argc, argv, i, name, value);
}

int cli_parse_int(const char *name, const char *v, long long lo, long long hi, long long *out)
{
    /* Digits only (a leading '-' allowed): strtoll alone would take " 5", "+5", "0x10" and,
     * through atoi, "abc" as 0 and "12abc" as 12. */
    const char *p = v && *v == '-' ? v + 1 : v;
    int ok = p && *p;
    for (const char *q = p; ok && *q; q++)
        ok = *q >= '0' && *q <= '9';
    long long n = 0;
    if (ok) {
        char *end;
        errno = 0;
        n = strtoll(v, &end, 10);
        ok = !errno && !*end && n >= lo && n <= hi;
    }
    if (!ok) {
        cli_error("%s must be a whole number from %lld to %lld, not '%s'", name, lo, hi,
                  v ? v : "");
        return -1;
    }
    *out = n;
    return 0;
}

int cli_int_opt(int argc, char **argv, int *i, const char *name, long long lo, long long hi,
                long long *out)
{
    const char *v = NULL;
    int r = cli_match_opt(argc, argv, i, name, &v);
    if (r == 0)
        return 0;
    if (r < 0) {
        cli_error("%s needs a value (a whole number from %lld to %lld)", name, lo, hi);
        return -1;
    }
    return cli_parse_int(name, v, lo, hi, out) ? -1 : 1;
}

int cli_str_opt(int argc, char **argv, int *i, const char *name, const char **out)
{
    const char *v = NULL;
    int r = cli_match_opt(argc, argv, i, name, &v);
    if (r == 0)
        return 0;
    if (r < 0 || !*v) {
        cli_error("%s needs a value", name);
        return -1;
    }
    *out = v;
    return 1;
}

/* A run as `mflow runs --json` and the web UI show it. */
json_t *cli_run_json(mf_client_run *r)
{
    json_t *o = json_object();
    /* A dead run ended, for its duration, when it was last seen working. */
    double s = mf_client_run_start_time(r), e = mf_client_run_last_active(r);
    json_object_set_new(o, "pathspec", cli_json_text(mf_client_run_pathspec(r)));
    json_object_set_new(o, "flow", cli_json_text(mf_client_run_flow(r)));
    json_object_set_new(o, "run_id", json_integer(mf_client_run_id(r)));
    json_object_set_new(o, "status", json_string(mf_client_status_name(mf_client_run_status(r))));
    json_object_set_new(o, "dead", json_boolean(mf_client_run_dead(r)));
    json_object_set_new(o, "user", cli_json_text(mf_client_run_user(r)));
    json_object_set_new(o, "namespace", cli_json_text(mf_client_run_namespace(r)));
    json_object_set_new(o, "host", cli_json_text(mf_client_run_host(r)));
    json_object_set_new(o, "pid", json_integer(mf_client_run_pid(r)));
    json_object_set_new(o, "start_time", json_real(s));
    json_object_set_new(o, "end_time", json_real(mf_client_run_end_time(r)));
    json_object_set_new(o, "last_active_time", json_real(e));
    json_object_set_new(o, "duration", s > 0 && e > 0 ? json_real(e - s) : json_null());
    json_object_set_new(o, "tasks", json_integer(mf_client_run_task_count(r)));
    json_object_set_new(o, "failed", json_integer(mf_client_run_failed_count(r)));
    json_object_set_new(o, "origin_run_id", json_integer(mf_client_run_origin_run_id(r)));
    json_t *tags = json_array();
    for (size_t i = 0; i < mf_client_run_tag_count(r); i++)
        json_array_append_new(tags, cli_json_text(mf_client_run_tag(r, i)));
    json_object_set_new(o, "tags", tags);
    return o;
}
