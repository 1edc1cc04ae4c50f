/* mflow get PATHSPEC NAME [--json|--raw]: print one artifact of a task. PATHSPEC is
 * Flow/run/step/task, or Flow/run/step when the step has one task. */
#include "cli.h"

#include "blob.h"
#include "codec.h"
#include "host.h"
#include "index.h"
#include "record.h"
#include "store.h"
#include "util.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] = "get PATHSPEC NAME [--json|--raw]";

struct pick {
    struct mf_task_rec found;
    int n;
    struct mf_sbuf ids;
};

static int pick_task(void *ud, const struct mf_task_rec *t)
{
    struct pick *p = ud;
    if (p->n == 0)
        p->found = *t;
    if (p->n < 10)
        mf_sbuf_addf(&p->ids, "%s%lld", p->n ? ", " : "", (long long)t->task_id);
    p->n++;
    return 0;
}

static void print_json_value(mf_type ty, const uint8_t *p, size_t n)
{
    json_t *v = NULL;
    if (ty == MF_I64) {
        int64_t x;
        mf_codec_decode_i64(p, n, &x);
        v = json_integer(x);
    } else if (ty == MF_F64) {
        double x;
        mf_codec_decode_f64(p, n, &x);
        v = json_real(x);
    } else if (ty == MF_STR) {
        v = json_stringn_nocheck((const char *)p, n);
    } else if (ty == MF_BYTES) {
        /* JSON has no bytes: hex, as the type says. */
        char *hex = malloc(n * 2 + 1);
        for (size_t i = 0; hex && i < n; i++)
            sprintf(hex + 2 * i, "%02x", p[i]);
        if (hex) {
            hex[2 * n] = '\0';
            v = json_pack("{s:s,s:s}", "type", "bytes", "hex", hex);
        }
        free(hex);
    } else if (ty == MF_I64V) {
        int64_t *a;
        size_t k;
        v = json_array();
        if (mf_codec_decode_i64v(p, n, &a, &k) == 0) {
            for (size_t i = 0; i < k; i++)
                json_array_append_new(v, json_integer(a[i]));
            free(a);
        }
    } else if (ty == MF_F64V) {
        double *a;
        size_t k;
        v = json_array();
        if (mf_codec_decode_f64v(p, n, &a, &k) == 0) {
            for (size_t i = 0; i < k; i++)
                json_array_append_new(v, json_real(a[i]));
            free(a);
        }
    } else if (ty == MF_STRV) {
        char **a;
        size_t k;
        v = json_array();
        if (mf_codec_decode_strv(p, n, &a, &k) == 0) {
            for (size_t i = 0; i < k; i++)
                json_array_append_new(v, json_string_nocheck(a[i]));
            free(a);
        }
    }
    char *s = v ? json_dumps(v, JSON_ENCODE_ANY | JSON_REAL_PRECISION(17)) : NULL;
    if (s)
        puts(s);
    free(s);
    json_decref(v);
}

static void print_value(mf_type ty, const uint8_t *p, size_t n)
{
    if (ty == MF_I64) {
        int64_t x;
        mf_codec_decode_i64(p, n, &x);
        printf("%lld\n", (long long)x);
    } else if (ty == MF_F64) {
        double x;
        mf_codec_decode_f64(p, n, &x);
        printf("%.17g\n", x);
    } else if (ty == MF_STR) {
        fwrite(p, 1, n, stdout);
        putchar('\n');
    } else if (ty == MF_BYTES) {
        printf("<%zu bytes; use --raw to write them as they are>\n", n);
    } else if (ty == MF_I64V) {
        int64_t *a;
        size_t k;
        if (mf_codec_decode_i64v(p, n, &a, &k) == 0) {
            for (size_t i = 0; i < k; i++)
                printf("%lld\n", (long long)a[i]);
            free(a);
        }
    } else if (ty == MF_F64V) {
        double *a;
        size_t k;
        if (mf_codec_decode_f64v(p, n, &a, &k) == 0) {
            for (size_t i = 0; i < k; i++)
                printf("%.17g\n", a[i]);
            free(a);
        }
    } else if (ty == MF_STRV) {
        char **a;
        size_t k;
        if (mf_codec_decode_strv(p, n, &a, &k) == 0) {
            for (size_t i = 0; i < k; i++)
                puts(a[i]);
            free(a);
        }
    }
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
    char flow[MF_NAME_MAX], step[MF_NAME_MAX];
    long long run = 0, task = -1;
    int fields = sscanf(spec, "%127[^/]/%lld/%127[^/]/%lld", flow, &run, step, &task);
    if (fields < 3) {
        cli_error("'%s' is not a pathspec: use Flow/run/step/task, or Flow/run/step for a step "
                  "with one task",
                  spec);
        return 2;
    }
    char *ixdir = mf_strf("%s/index", mf_host_home());
    mf_index *ix = NULL;
    int rc = mf_index_open(ixdir, &ix);
    free(ixdir);
    if (rc) {
        cli_error("%s", ix ? mf_index_error(ix) : "cannot open the index");
        mf_index_close(ix);
        return 1;
    }
    struct pick p;
    memset(&p, 0, sizeof p);
    if (fields == 4) {
        rc = mf_index_get_task(ix, flow, run, step, task, &p.found);
        p.n = rc == 0;
    } else {
        rc = mf_index_list_tasks(ix, flow, run, step, pick_task, &p);
    }
    mf_index_close(ix);
    if (p.n == 0) {
        cli_error("no task %s in the index (check the pathspec with `mflow runs %s`; a run made "
                  "elsewhere appears after `mflow reindex`)",
                  spec, flow);
        mf_sbuf_free(&p.ids);
        return 1;
    }
    if (p.n > 1) {
        cli_error("%s has %d tasks (%s%s): name one, e.g. %s/%lld", spec, p.n,
                  p.ids.data ? p.ids.data : "", p.n > 10 ? ", ..." : "", spec,
                  (long long)p.found.task_id);
        mf_sbuf_free(&p.ids);
        return 1;
    }
    mf_sbuf_free(&p.ids);
    struct mf_store st;
    char *err = NULL;
    if (mf_store_open(&st, &err) != 0) {
        cli_error("%s", err);
        free(err);
        return 1;
    }
    struct mf_task_record r;
    rc = mf_record_read(&st, flow, run, p.found.step, p.found.task_id, p.found.attempt, &r, &err);
    int code = 1;
    if (rc) {
        cli_error("%s", err ? err : "cannot read the task record");
        free(err);
    } else {
        const struct mf_artifact_ref *a = mf_record_find(&r, name);
        if (!a) {
            struct mf_sbuf names = {0};
            for (size_t i = 0; i < r.n_arts; i++)
                mf_sbuf_addf(&names, "%s%s", i ? ", " : "", r.arts[i].name);
            cli_error("%s/%lld/%s/%lld has no artifact '%s' (it has: %s)", flow, run,
                      p.found.step, (long long)p.found.task_id, name,
                      names.data ? names.data : "none");
            mf_sbuf_free(&names);
        } else {
            struct mf_blob b;
            rc = mf_blob_get(&st, a->key, &b);
            mf_type ty;
            const uint8_t *payload;
            size_t plen;
            if (rc) {
                cli_error("%s", mf_blob_error());
            } else if (mf_codec_parse(b.data, b.len, &ty, &payload, &plen) != 0) {
                cli_error("artifact '%s' (blob %s) is corrupt", name, a->key);
                mf_blob_release(&b);
            } else {
                if (raw && (ty == MF_BYTES || ty == MF_STR))
                    fwrite(payload, 1, plen, stdout);
                else if (json)
                    print_json_value(ty, payload, plen);
                else
                    print_value(ty, payload, plen);
                mf_blob_release(&b);
                code = 0;
            }
        }
        mf_task_record_free(&r);
    }
    mf_store_close(&st);
    return code;
}
