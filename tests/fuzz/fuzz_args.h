/* For fuzz targets of command lines: the input as words (argv), and the flow whose parameters
 * they set. Words are separated by NUL bytes; at most FUZZ_ARGS_MAX words are taken. */
#ifndef MFLOW_FUZZ_ARGS_H
#define MFLOW_FUZZ_ARGS_H

#include <mflow/flow.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_ARGS_MAX 64

struct fuzz_args {
    char *buf;                   /* the input, NUL-terminated */
    char *argv[FUZZ_ARGS_MAX + 2];
    int argc;
};

/* argv[0] = cmd, then the input's words. 0, or -1 when out of memory. */
static int fuzz_args_split(struct fuzz_args *a, const char *cmd, const uint8_t *data, size_t size)
{
    a->buf = malloc(size + 1);
    if (!a->buf)
        return -1;
    memcpy(a->buf, data, size);
    a->buf[size] = '\0';
    a->argc = 0;
    a->argv[a->argc++] = (char *)cmd;
    for (size_t o = 0; size && o <= size && a->argc <= FUZZ_ARGS_MAX; o += strlen(a->buf + o) + 1)
        a->argv[a->argc++] = a->buf + o;
    a->argv[a->argc] = NULL;
    return 0;
}

/* A flow with a parameter of each type: some with a default, one required, one named like
 * an option of `mflow deploy` (given there as --param scheduler=V). */
static const mf_param_def fuzz_params[] = {
    {"alpha", MF_I64, "1", "an integer"},
    {"ratio", MF_F64, NULL, "a required number"},
    {"label", MF_STR, "x", NULL},
    {"flag", MF_BOOL, "false", NULL},
    {"scheduler", MF_STR, "", NULL},
};

static const mf_flow_def fuzz_flow = {
    .struct_size = sizeof(mf_flow_def),
    .abi_version = MF_FLOW_ABI_MAJOR,
    .name = "FuzzFlow",
    .params = fuzz_params,
    .n_params = sizeof fuzz_params / sizeof fuzz_params[0],
    .abi_minor = MF_FLOW_ABI_MINOR,
    .step_size = sizeof(mf_step_def),
    .param_size = sizeof(mf_param_def),
};

/* What mf_params_parse gave, checked: on success every parameter has its text, of its type
 * (bool stored as 0/1); on failure a message. Aborts otherwise. */
static void fuzz_check_params(int rc, const struct mf_param_value *v, const char *err)
{
    if (rc) {
        if (rc != MF_ENOMEM && !err)
            abort();
        return;
    }
    if (!v)
        abort();
    for (size_t k = 0; k < fuzz_flow.n_params; k++) {
        if (!v[k].text || v[k].def != &fuzz_params[k])
            abort();
        if (fuzz_params[k].type == MF_BOOL && (v[k].type != MF_I64 || (v[k].i != 0 && v[k].i != 1)))
            abort();
        if (fuzz_params[k].type == MF_F64 && v[k].f != v[k].f)
            abort();   /* NaN is refused */
    }
}

#endif
