/* mflow scheduler plugin `airflow`: exports a flow as an Airflow 2 DAG file (dag.c). See
 * README.md beside this file.
 *
 * deploy writes the DAG file atomically (a temporary beside it, renamed) to the `output`
 * option and records it under <home>/airflow/<deployment>.dag (the DAG file's path): list
 * reads those records, remove deletes the DAG file it wrote (only when it still carries this
 * plugin's mark) and the record. Runs are triggered in Airflow, not here: trigger answers
 * MF_ENOTSUP saying so. */
#include "dag.h"

#include <mflow/plugin.h>

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PLUGIN_NAME "airflow"
#define PLUGIN_VERSION "0.1.0"
#define MARK "# mflow-airflow-dag: "

struct state {
    const struct mf_host_api *host;
    char err[1024];
};

__attribute__((format(printf, 3, 4))) static int fail(struct state *st, int rc, const char *fmt,
                                                      ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st->err, sizeof st->err, fmt, ap);
    va_end(ap);
    return rc;
}

static const struct mf_option_def options[] = {
    {sizeof(struct mf_option_def), MF_OPT_STRING, "image", "MFLOW_AIRFLOW_IMAGE", NULL,
     "container image of the pods (compute=k8s) for steps that name none"},
    {sizeof(struct mf_option_def), MF_OPT_STRING, "k8s_namespace", "MFLOW_AIRFLOW_K8S_NAMESPACE",
     NULL, "Kubernetes namespace of the pods (compute=k8s); unset: the connection's default"},
    {sizeof(struct mf_option_def), MF_OPT_STRING, "k8s_mflow", "MFLOW_AIRFLOW_K8S_MFLOW", "mflow",
     "the mflow command inside the image (compute=k8s)"},
    {sizeof(struct mf_option_def), MF_OPT_INT, "retry_delay_s", "MFLOW_AIRFLOW_RETRY_DELAY_S",
     "30", "seconds Airflow waits before retrying a failed step (retries = the step's retry)"},
    {sizeof(struct mf_option_def), MF_OPT_STRING, "pool", "MFLOW_AIRFLOW_POOL", NULL,
     "Airflow pool of the BashOperator tasks, a step's cpu its slots; unset: none"},
};

static const char *setting(struct state *st, const char *key)
{
    const char *v = st->host->config_get ? st->host->config_get(PLUGIN_NAME, key) : NULL;
    return v && *v ? v : NULL;
}

static char *record_dir(struct state *st)
{
    const char *home = st->host->home ? st->host->home() : NULL;
    char *d = NULL;
    if (home && asprintf(&d, "%s/airflow", home) < 0)
        d = NULL;
    return d;
}

static char *record_path(struct state *st, const char *name)
{
    char *dir = record_dir(st), *p = NULL;
    if (dir && asprintf(&p, "%s/%s.dag", dir, name) < 0)
        p = NULL;
    free(dir);
    return p;
}

/* Write data to path atomically: a temporary in the same directory, then rename. errno. */
static int write_atomic(const char *path, const char *data, size_t len, mode_t mode)
{
    char *tmp = NULL;
    if (asprintf(&tmp, "%s.tmp.%d", path, (int)getpid()) < 0)
        return ENOMEM;
    FILE *f = fopen(tmp, "w");
    int e = 0;
    if (!f) {
        e = errno;
        free(tmp);
        return e;
    }
    if (fwrite(data, 1, len, f) != len || fflush(f) != 0 || fsync(fileno(f)) != 0)
        e = errno ? errno : EIO;
    if (fclose(f) != 0 && !e)
        e = errno;
    if (!e && chmod(tmp, mode) != 0)
        e = errno;
    if (!e && rename(tmp, path) != 0)
        e = errno;
    if (e)
        unlink(tmp);
    free(tmp);
    return e;
}

/* Names go into file names: letters, digits, '_', '-', '.', not starting with '.'. */
static int name_ok(const char *s)
{
    if (!s || !*s || *s == '.' || strlen(s) > 200)
        return 0;
    for (const char *c = s; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '_' || *c == '-' || *c == '.'))
            return 0;
    return 1;
}

static int op_deploy(void *state, const struct mf_flow_desc *flow, struct mf_deployment *out)
{
    struct state *st = state;
    if (!flow || !out)
        return fail(st, MF_EINVAL, "deploy: no flow or no place for the deployment");
    const char *output = dag_option(flow, "output");
    if (!output || !*output)
        return fail(st, MF_EINVAL,
                    "the Airflow export needs the DAG file to write: give --output PATH.py "
                    "(in Airflow's dags folder)");
    size_t ol = strlen(output);
    if (ol < 4 || strcmp(output + ol - 3, ".py") != 0)
        return fail(st, MF_EINVAL,
                    "output '%s' must end in .py: Airflow only reads DAGs from Python files",
                    output);
    struct stat sb;
    char *dir = strdup(output);
    char *slash = dir ? strrchr(dir, '/') : NULL;
    if (slash)
        *slash = '\0';
    int dir_ok = !dir || stat(slash ? (*dir ? dir : "/") : ".", &sb) == 0;
    if (!dir_ok) {
        fail(st, MF_ENOTFOUND, "cannot write the DAG to %s: directory %s: %s (create it, or "
                               "give Airflow's dags folder)",
             output, dir, strerror(errno));
        free(dir);
        return MF_ENOTFOUND;
    }
    free(dir);
    struct dag_settings set = {
        .image = setting(st, "image"),
        .k8s_namespace = setting(st, "k8s_namespace"),
        .k8s_mflow = setting(st, "k8s_mflow"),
        .retry_delay_s = setting(st, "retry_delay_s"),
        .pool = setting(st, "pool"),
    };
    const char *img = dag_option(flow, "image");
    if (img)
        set.image = img;
    char *text = NULL, *dag_id = NULL, *err = NULL;
    int rc = dag_generate(flow, &set, &text, &dag_id, &err);
    if (rc) {
        fail(st, rc, "cannot export flow %s to Airflow: %s", flow->flow_name,
             err ? err : mf_strerror(rc));
        free(err);
        return rc;
    }
    if (!name_ok(dag_id)) {
        fail(st, MF_EINVAL, "deployment name '%s' cannot name a file: use letters, digits, "
                            "'_', '-' and '.'",
             dag_id);
        free(text);
        free(dag_id);
        return MF_EINVAL;
    }
    int e = write_atomic(output, text, strlen(text), 0644);
    free(text);
    if (e) {
        fail(st, e, "cannot write the DAG file %s: %s", output, strerror(e));
        free(dag_id);
        return e;
    }
    char abs[4096];
    const char *where = output;
    if (output[0] != '/' && realpath(output, abs))
        where = abs;
    /* The record: which file this deployment wrote. */
    char *rdir = record_dir(st), *rpath = record_path(st, dag_id);
    if (rdir)
        mkdir(rdir, 0700);
    e = rpath ? write_atomic(rpath, where, strlen(where), 0600) : ENOMEM;
    free(rdir);
    free(rpath);
    if (e) {
        fail(st, e, "wrote %s but cannot record it under %s/airflow: %s", where,
             st->host->home ? st->host->home() : "?", strerror(e));
        free(dag_id);
        return e;
    }
    memset(out, 0, sizeof *out);
    out->struct_size = sizeof *out;
    snprintf(out->name, sizeof out->name, "%s", dag_id);
    snprintf(out->flow_name, sizeof out->flow_name, "%s", flow->flow_name);
    snprintf(out->schedule, sizeof out->schedule, "%s", flow->schedule ? flow->schedule : "");
    snprintf(out->location, sizeof out->location, "%s", where);
    free(dag_id);
    return 0;
}

/* The DAG file's text, or NULL (errno set). */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *s = NULL;
    size_t n = 0;
    FILE *m = open_memstream(&s, &n);
    char buf[8192];
    size_t r;
    while (m && (r = fread(buf, 1, sizeof buf, f)) > 0)
        fwrite(buf, 1, r, m);
    fclose(f);
    if (m)
        fclose(m);
    return s;
}

/* The flow and schedule written in a DAG file's header, into d. */
static void read_header(const char *path, struct mf_deployment *d)
{
    char *t = slurp(path);
    if (!t)
        return;
    const char *f = strstr(t, "mflow flow ");
    if (f)
        sscanf(f + 11, "%255[A-Za-z0-9_]", d->flow_name);
    const char *s = strstr(t, "    schedule=\"");
    if (s)
        sscanf(s + 14, "%127[^\"]", d->schedule);
    free(t);
}

static int op_list(void *state, mf_deployment_cb cb, void *ud)
{
    struct state *st = state;
    char *dir = record_dir(st);
    DIR *dh = dir ? opendir(dir) : NULL;
    if (!dh) {
        int e = dir ? errno : ENOMEM;
        free(dir);
        return e == ENOENT ? 0 : fail(st, e, "cannot list the Airflow deployments: %s",
                                      strerror(e));
    }
    struct dirent *de;
    int rc = 0;
    while (!rc && (de = readdir(dh))) {
        size_t n = strlen(de->d_name);
        if (n < 5 || strcmp(de->d_name + n - 4, ".dag") != 0)
            continue;
        struct mf_deployment d;
        memset(&d, 0, sizeof d);
        d.struct_size = sizeof d;
        snprintf(d.name, sizeof d.name, "%.*s", (int)(n - 4), de->d_name);
        char *rp = NULL;
        if (asprintf(&rp, "%s/%s", dir, de->d_name) < 0)
            break;
        char *loc = slurp(rp);
        free(rp);
        snprintf(d.location, sizeof d.location, "%s", loc ? loc : "");
        free(loc);
        read_header(d.location, &d);
        rc = cb(ud, &d);
    }
    closedir(dh);
    free(dir);
    return rc;
}

static int op_remove(void *state, const char *name)
{
    struct state *st = state;
    if (!name_ok(name))
        return fail(st, MF_EINVAL, "'%s' is not a deployment name", name ? name : "");
    char *rp = record_path(st, name);
    char *loc = rp ? slurp(rp) : NULL;
    if (!loc) {
        free(rp);
        return fail(st, MF_ENOTFOUND, "no Airflow deployment '%s' (see mflow deployments list)",
                    name);
    }
    char *text = slurp(loc);
    char mark[300];
    snprintf(mark, sizeof mark, MARK "%s\n", name);
    int rc = 0;
    if (text && strstr(text, mark)) {
        if (unlink(loc) != 0 && errno != ENOENT)
            rc = fail(st, errno, "cannot delete the DAG file %s: %s", loc, strerror(errno));
    } else if (text) {
        /* Someone else's file now: leave it, forget the deployment. */
        st->host->log(MF_LOG_WARN, PLUGIN_NAME,
                      "%s no longer holds the DAG this plugin wrote for '%s': left as it is",
                      loc, name);
    }
    if (!rc && unlink(rp) != 0)
        rc = fail(st, errno, "cannot delete %s: %s", rp, strerror(errno));
    free(text);
    free(loc);
    free(rp);
    return rc;
}

static int op_trigger(void *state, const char *name)
{
    struct state *st = state;
    return fail(st, MF_ENOTSUP,
                "deployment '%s' runs in Airflow: trigger it there (`airflow dags trigger %s`, "
                "or the web UI)",
                name ? name : "", name ? name : "DAG_ID");
}

static const char *op_last_error(void *state)
{
    struct state *st = state;
    return st && st->err[0] ? st->err : "no error";
}

static int plugin_init(const struct mf_host_api *host, void **state)
{
    struct state *st = calloc(1, sizeof *st);
    if (!st)
        return MF_ENOMEM;
    st->host = host;
    *state = st;
    return 0;
}

static void plugin_fini(void *state)
{
    free(state);
}

static const struct mf_scheduler_ops scheduler_ops = {
    .struct_size = sizeof(struct mf_scheduler_ops),
    .deploy = op_deploy,
    .list = op_list,
    .remove = op_remove,
    .trigger = op_trigger,
    .last_error = op_last_error,
};

static const struct mf_plugin_desc descriptor = {
    .struct_size = sizeof(struct mf_plugin_desc),
    .abi_major = MF_PLUGIN_ABI_MAJOR,
    .abi_minor = MF_PLUGIN_ABI_MINOR,
    .kind = MF_PLUGIN_SCHEDULER,
    .name = PLUGIN_NAME,
    .version = PLUGIN_VERSION,
    .description = "exports a flow as an Airflow 2 DAG file (BashOperator or KubernetesPodOperator)",
    .options = options,
    .n_options = sizeof options / sizeof options[0],
    .init = plugin_init,
    .fini = plugin_fini,
    .ops = &scheduler_ops,
};

MF_PLUGIN_EXPORT const struct mf_plugin_desc *mf_plugin_entry_v1(const struct mf_host_api *host);
MF_PLUGIN_EXPORT const struct mf_plugin_desc *mf_plugin_entry_v1(const struct mf_host_api *host)
{
    (void)host;
    return &descriptor;
}
