/* mflow get PATHSPEC NAME [--json|--raw]: print one artifact of a task. PATHSPEC is
 * Flow/run/step/task, or Flow/run/step when the step has one task. --raw writes a str, bytes,
 * obj, pickle or npy value's payload as it is (no newline added); --json prints any value as
 * JSON. */
#include "cli.h"

#include <mflow/client.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] = "get PATHSPEC NAME [--json|--raw]";

/* One value per line: scalars as text, lists one element per line. 0 or a client code. */
static int print_value(const mf_client_artifact *a)
{
    int rc = 0;
    switch (mf_client_artifact_type(a)) {
    case MF_I64: {
        int64_t x;
        if (!(rc = mf_client_artifact_i64(a, &x)))
            printf("%lld\n", (long long)x);
        break;
    }
    case MF_F64: {
        double x;
        if (!(rc = mf_client_artifact_f64(a, &x)))
            printf("%.17g\n", x);
        break;
    }
    case MF_STR: {
        char *s;
        size_t n;
        if (!(rc = mf_client_artifact_str(a, &s, &n))) {
            puts(cli_esc_value(s, n));   /* --raw writes the bytes as they are */
            free(s);
        }
        break;
    }
    case MF_BYTES:
        printf("<%llu bytes; use --raw to write them as they are>\n",
               (unsigned long long)mf_client_artifact_size(a));
        break;
    case MF_I64V: {
        int64_t *v;
        size_t n;
        if (!(rc = mf_client_artifact_i64v(a, &v, &n))) {
            for (size_t i = 0; i < n; i++)
                printf("%lld\n", (long long)v[i]);
            free(v);
        }
        break;
    }
    case MF_F64V: {
        double *v;
        size_t n;
        if (!(rc = mf_client_artifact_f64v(a, &v, &n))) {
            for (size_t i = 0; i < n; i++)
                printf("%.17g\n", v[i]);
            free(v);
        }
        break;
    }
    case MF_STRV: {
        char **v;
        size_t n;
        if (!(rc = mf_client_artifact_strv(a, &v, &n))) {
            for (size_t i = 0; i < n; i++)
                puts(cli_esc_value(v[i], strlen(v[i])));
            free(v);
        }
        break;
    }
    case MF_OBJ: {
        char *s;
        size_t n;
        if (!(rc = mf_client_artifact_value(a, NULL, (void **)&s, &n))) {
            puts(cli_esc_value(s, n));
            free(s);
        }
        break;
    }
    case MF_PICKLE:
    case MF_NPY: {
        char *s = cli_python_note(a);
        if (!s)
            return MF_ECORRUPT;
        puts(s);
        free(s);
        break;
    }
    default:
        rc = MF_ECORRUPT;
        break;
    }
    return rc;
}

int cmd_get(int argc, char **argv)
{
    if (cli_wants_help(argc, argv, usage))
        return 0;
    const char *spec = NULL, *name = NULL;
    int json = 0, raw = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = 1;
        else if (!strcmp(argv[i], "--raw"))
            raw = 1;
        else if (!spec)
            spec = argv[i];
        else if (!name)
            name = argv[i];
        else {
            cli_error("get: unexpected argument '%s'", argv[i]);
            return 2;
        }
    }
    if (!spec || !name) {
        cli_error("usage: mflow %s", usage);
        return 2;
    }
    if (json && raw) {
        cli_error("get: --json and --raw exclude each other: pick one");
        return 2;
    }
    int slashes = 0;
    for (const char *p = spec; *p; p++)
        slashes += *p == '/';
    if (slashes < 2 || slashes > 3) {
        cli_error("'%s' is not a pathspec: use Flow/run/step/task, or Flow/run/step for a step "
                  "with one task",
                  spec);
        return 2;
    }
    mf_client *c;
    if (cli_client_open(&c))
        return 1;
    mf_client_task *t = NULL;
    int code = 1;
    if (mf_client_task_open(c, spec, &t)) {
        cli_error("%s", mf_client_error(c));
        goto out;
    }
    const mf_client_artifact *a = mf_client_task_artifact_find(t, name);
    if (!a) {
        char *names = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&names, &len);
        for (size_t i = 0; f && i < mf_client_task_artifact_count(t); i++)
            fprintf(f, "%s%s", i ? ", " : "",
                    cli_esc(mf_client_artifact_name(mf_client_task_artifact_at(t, i))));
        if (f)
            fclose(f);
        cli_error("%s has no artifact '%s' (it has: %s)", cli_esc(mf_client_task_pathspec(t)),
                  cli_esc(name),
                  names && *names ? names : "none");
        free(names);
        goto out;
    }
    mf_type ty = mf_client_artifact_type(a);
    if (raw && (ty == MF_BYTES || ty == MF_STR || ty == MF_OBJ || ty == MF_PICKLE ||
                ty == MF_NPY)) {
        void *data;
        size_t n;
        if (mf_client_artifact_value(a, NULL, &data, &n)) {
            cli_error("%s", mf_client_error(c));
            goto out;
        }
        fwrite(data, 1, n, stdout);
        free(data);
        code = 0;
    } else if (json && ty == MF_OBJ) {
        /* The stored text is JSON already: written as it is, big integers exact. */
        void *data;
        size_t n;
        if (mf_client_artifact_value(a, NULL, &data, &n)) {
            cli_error("%s", mf_client_error(c));
            goto out;
        }
        fwrite(data, 1, n, stdout);
        putchar('\n');
        free(data);
        code = 0;
    } else if (json) {
        json_t *v = cli_artifact_json(a);
        if (!v) {
            cli_error("%s", mf_client_error(c));
            goto out;
        }
        char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
        json_decref(v);
        if (!s) {
            cli_error("out of memory");
            goto out;
        }
        puts(s);
        free(s);
        code = 0;
    } else if (print_value(a)) {
        cli_error("%s", mf_client_error(c));
    } else {
        code = 0;
    }
out:
    mf_client_task_free(t);
    mf_client_close(c);
    return code;
}
