/* Parameters of a run: arguments matched against the flow's table and parsed (params.h). */
#include "params.h"

#include "graph.h"
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
