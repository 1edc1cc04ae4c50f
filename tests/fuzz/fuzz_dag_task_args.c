/* What an outside scheduler hands `mflow dag-task` (the Airflow export's BashOperator): the
 * command line (core/cli/cmd_dag_task.c parse_args, included so that the code under test is
 * the command's own), MFLOW_FOREACH_PATH, and the DAG's parameters as MFLOW_PARAM_<name>
 * (param_args, then mf_params_parse as the start task does before storing them). The input
 * is NUL-separated words (fuzz_args.h); a word "MFLOW_PARAM_...=V" or "MFLOW_FOREACH_PATH=P"
 * goes into the environment, the others onto the command line. Checked: an accepted foreach
 * path prints back to the same indices, run and task ids lie in [2^52, 2^53), the XCom list
 * of children is JSON naming each child's path, and a parameter's value is the variable's
 * whole text. */
#include "cmd_dag_task.c"
#include "fuzz_args.h"

#include <jansson.h>

#define ENV_MAX 16

static int same_path(const struct path *a, const struct path *b)
{
    if (a->n != b->n)
        return 0;
    for (int i = 0; i < a->n; i++)
        if (a->idx[i] != b->idx[i])
            return 0;
    return 1;
}

static void check_ids(const char *dag_id, const char *dag_run, const char *step,
                      const struct path *p)
{
    int64_t r = run_id_of(dag_id, dag_run), t = task_id_of(step, p);
    if (r < (INT64_C(1) << 52) || r >= (INT64_C(1) << 53) || t < (INT64_C(1) << 52) ||
        t >= (INT64_C(1) << 53))
        abort();
}

static void check_path(const struct path *p)
{
    if (p->n < 0 || p->n > MAX_DEPTH)
        abort();
    char s[MAX_DEPTH * 12];
    path_str(p, s, sizeof s);
    struct path q;
    if (path_parse(s, &q) || !same_path(p, &q))
        abort();
    /* the children of a foreach task at p, as the scheduler maps the next step over them (a
     * foreach task lies inside at most MAX_DEPTH - 1 splits: contexts() refuses deeper ones) */
    if (p->n == MAX_DEPTH)
        return;
    char *json = items_json(p, 3);
    if (!json)
        return;   /* out of memory */
    json_error_t je;
    json_t *l = json_loads(json, 0, &je);
    if (!json_is_array(l) || json_array_size(l) != 3)
        abort();
    for (size_t i = 0; i < 3; i++) {
        const char *c = json_string_value(json_object_get(json_array_get(l, i), "MFLOW_FOREACH_PATH"));
        struct path cp;
        if (!c || path_parse(c, &cp) || cp.n != p->n + 1 || cp.idx[p->n] != i)
            abort();
        cp.n--;
        if (!same_path(p, &cp))
            abort();
    }
    json_decref(l);
    free(json);
}

static void check_params(void)
{
    char **args;
    size_t n;
    if (param_args(&fuzz_flow, &args, &n))
        return;
    struct mf_param_value *v = NULL;
    char *err = NULL;
    int rc = mf_params_parse(&fuzz_flow, (const char *const *)args, n, &v, &err);
    fuzz_check_params(rc, v, err);
    for (size_t k = 0; !rc && k < fuzz_flow.n_params; k++) {
        char name[64];
        snprintf(name, sizeof name, "MFLOW_PARAM_%s", fuzz_params[k].name);
        const char *e = getenv(name);
        if (e && strcmp(v[k].text, e))
            abort();
    }
    free(v);
    free(err);
    for (size_t k = 0; k < n; k++)
        free(args[k]);
    free(args);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_args w;
    if (fuzz_args_split(&w, "dag-task", data, size))
        return 0;
    /* Environment words out of argv, set with putenv (the input's own bytes: setenv would keep
     * every value ever set) and unset at the end. */
    char *env_names[ENV_MAX];
    int n_env = 0, argc = 1;
    for (int i = 1; i < w.argc; i++) {
        char *eq = strchr(w.argv[i], '=');
        if (eq && n_env < ENV_MAX && (!strncmp(w.argv[i], "MFLOW_PARAM_", 12) ||
                                      !strncmp(w.argv[i], "MFLOW_FOREACH_PATH=", 19))) {
            char *name = strndup(w.argv[i], (size_t)(eq - w.argv[i]));
            if (!name || putenv(w.argv[i])) {
                free(name);
                continue;
            }
            env_names[n_env++] = name;
        } else {
            w.argv[argc++] = w.argv[i];
        }
    }
    w.argv[argc] = NULL;
    struct dag_args a;
    int rc = parse_args(argc, w.argv, &a);
    if (rc != 0 && rc != 2)
        abort();
    if (rc == 0) {
        if (!a.flow || !a.step || !a.dag_id || !*a.dag_id || !a.dag_run || !*a.dag_run)
            abort();
        if (a.n_tags > MAX_TAGS)
            abort();
        check_path(&a.path);
        check_ids(a.dag_id, a.dag_run, a.step, &a.path);
    }
    check_params();
    for (int i = 0; i < n_env; i++) {
        unsetenv(env_names[i]);
        free(env_names[i]);
    }
    free(w.buf);
    return 0;
}
