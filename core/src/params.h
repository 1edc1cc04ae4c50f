/* A run's parameters: the `--PARAM=VALUE` arguments matched against the flow's parameter
 * table and parsed as their types, defaults filled in. Nothing is stored here (the runtime
 * stores the values as artifacts). */
#ifndef MF_PARAMS_H
#define MF_PARAMS_H

#include <mflow/flow.h>

#include <stddef.h>
#include <stdint.h>

/* One parameter's value. */
struct mf_param_value {
    const mf_param_def *def;     /* borrowed from the flow definition */
    const char *text;            /* borrowed: the argument's value, or the default */
    mf_type type;                /* the stored type: MF_BOOL is stored as MF_I64 (0/1) */
    int64_t i;                   /* MF_I64 and MF_BOOL */
    double f;                    /* MF_F64 */
};

/* Match args ("name=value", as given after `--`) against def's parameters and parse every
 * parameter, given or default, as its type. On success *out holds def->n_params values in
 * table order (free() it; NULL when the flow has none). Returns 0; MF_EINVAL with *err (a
 * malloc'd message naming the parameter and what to do) for an unknown parameter (with the
 * nearest name), a parameter without a value, a missing parameter without a default, or a
 * value that does not parse; MF_ENOMEM. Arguments are checked in the order given, then
 * parameters in table order; a parameter given twice takes the last value. */
int mf_params_parse(const mf_flow_def *def, const char *const *args, size_t n_args,
                    struct mf_param_value **out, char **err);

struct mf_store;
struct mf_task_record;

/* mf_params_parse, then store every parameter's value as a blob in st and as an artifact of
 * params (the record every task of the run inherits): what `mflow run` and `mflow dag-task`
 * do when a run starts. Returns 0 or the first failure, with *err. */
int mf_params_store(const mf_flow_def *def, const char *const *args, size_t n_args,
                    struct mf_store *st, struct mf_task_record *params, char **err);

#endif
