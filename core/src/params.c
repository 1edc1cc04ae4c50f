/* Parameters of a run: arguments matched against the flow's table and parsed (params.h). */
#include "params.h"

#include "blob.h"
#include "codec.h"
#include "graph.h"
#include "record.h"
#include "store.h"
#include "util.h"

#include <mflow/plugin.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The parameter an argument names, or an error that names the nearest one. */
static int find_param(const mf_flow_def *def, const char *arg, size_t nlen, size_t *k, char **err)
{
    for (size_t i = 0; i < def->n_params; i++)
        if (strlen(def->params[i].name) == nlen && !strncmp(def->params[i].name, arg, nlen)) {
            *k = i;
            return 0;
        }
    const char *best = NULL;
    size_t bd = 3;
    char name[256];
    snprintf(name, sizeof name, "%.*s", (int)nlen, arg);
    for (size_t j = 0; j < def->n_params; j++) {
        size_t dd = mf_edit_distance(name, def->params[j].name);
        if (dd < bd) {
            bd = dd;
            best = def->params[j].name;
        }
    }
    *err = mf_strf("flow %s has no parameter '%s'%s%s%s (see `mflow show FLOW`)", def->name, name,
                   best ? " (did you mean '" : "", best ? best : "", best ? "'?)" : "");
    return MF_EINVAL;
}

static const char *type_words(mf_type t)
{
    return t == MF_I64 ? "an integer" : t == MF_F64 ? "a number" : t == MF_BOOL ? "true or false"
                                                                               : "a string";
}

int mf_params_parse(const mf_flow_def *def, const char *const *args, size_t n_args,
                    struct mf_param_value **out, char **err)
{
    *out = NULL;
    struct mf_param_value *v = calloc(def->n_params + 1, sizeof *v);
    if (!v)
        return MF_ENOMEM;
    for (size_t i = 0; i < n_args; i++) {
        const char *arg = args[i];
        const char *eq = strchr(arg, '=');
        size_t k;
        if (find_param(def, arg, eq ? (size_t)(eq - arg) : strlen(arg), &k, err)) {
            free(v);
            return MF_EINVAL;
        }
        if (!eq) {
            *err = mf_strf("parameter '%s' needs a value: --%s=VALUE", def->params[k].name,
                           def->params[k].name);
            free(v);
            return MF_EINVAL;
        }
        v[k].text = eq + 1;
    }
    for (size_t k = 0; k < def->n_params; k++) {
        const mf_param_def *p = &def->params[k];
        v[k].def = p;
        if (!v[k].text)
            v[k].text = p->default_value;
        if (!v[k].text) {
            if (p->help)
                *err = mf_strf("flow %s needs parameter '%s': add --%s=VALUE (%s)", def->name,
                               p->name, p->name, p->help);
            else
                *err = mf_strf("flow %s needs parameter '%s': add --%s=VALUE", def->name, p->name,
                               p->name);
            free(v);
            return *err ? MF_EINVAL : MF_ENOMEM;
        }
        if (mf_param_parse(p, v[k].text, &v[k].i, &v[k].f) != 0) {
            *err = mf_strf("parameter '%s' must be %s, not '%s'", p->name, type_words(p->type),
                           v[k].text);
            free(v);
            return MF_EINVAL;
        }
        v[k].type = p->type == MF_BOOL ? MF_I64 : p->type;
    }
    if (def->n_params == 0) {
        free(v);
        v = NULL;
    }
    *out = v;
    return 0;
}

int mf_params_store(const mf_flow_def *def, const char *const *args, size_t n_args,
                    struct mf_store *st, struct mf_task_record *params, char **err)
{
    struct mf_param_value *v = NULL;
    int rc = mf_params_parse(def, args, n_args, &v, err);
    for (size_t k = 0; !rc && k < def->n_params; k++) {
        uint8_t *enc = NULL;
        size_t len = 0;
        if (v[k].type == MF_I64)
            rc = mf_codec_encode_i64(v[k].i, &enc, &len);
        else if (v[k].type == MF_F64)
            rc = mf_codec_encode_f64(v[k].f, &enc, &len);
        else {
            len = MF_CODEC_HDR_LEN + strlen(v[k].text);
            enc = malloc(len);
            if (enc) {
                mf_codec_header(enc, MF_STR);
                memcpy(enc + MF_CODEC_HDR_LEN, v[k].text, len - MF_CODEC_HDR_LEN);
            } else {
                rc = MF_ENOMEM;
            }
        }
        char key[MF_BLOB_KEY_LEN + 1];
        struct mf_iov iov = {enc, len};
        const char *name = v[k].def->name;
        if (!rc)
            rc = mf_blob_put(st, &iov, 1, key, NULL);
        if (!rc)
            rc = mf_record_set_art(params, name, v[k].type, key, len);
        else if (!*err)
            *err = mf_strf("cannot store parameter '%s': %s", name, mf_blob_error());
        free(enc);
    }
    free(v);
    return rc;
}
