/* The Airflow DAG file of a flow (see dag.h and README.md for its shape).
 *
 * Every step is one Airflow task that runs `mflow dag-task FLOW STEP` (BashOperator on the
 * workers, or KubernetesPodOperator with compute=k8s). A foreach step prints the list of its
 * children's environments; a PythonOperator "<split>-items" flattens it (from one task, or
 * from every mapped instance of a nested split) and each step inside the foreach is mapped
 * over it with .partial(...).expand(env=...) (env_vars= for pods): one task instance per item,
 * told its foreach path by MFLOW_FOREACH_PATH. mflow derives everything else (run, task ids,
 * inputs) from the DAG id, the Airflow run id and that path. */
#include "dag.h"

#include <mflow/plugin.h>

#include <jansson.h>

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_STEPS 4096
#define MAX_DEPTH 64

/* ---- text ---------------------------------------------------------------------------------- */

struct buf {
    char *p;
    size_t len, cap;
    int oom;
};

static void add(struct buf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t c = b->cap ? b->cap * 2 : 4096;
        while (c < b->len + n + 1)
            c *= 2;
        char *q = realloc(b->p, c);
        if (!q) {
            b->oom = 1;
            return;
        }
        b->p = q;
        b->cap = c;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void adds(struct buf *b, const char *s)
{
    add(b, s, strlen(s));
}

__attribute__((format(printf, 2, 3))) static void addf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = 1;
        return;
    }
    add(b, s, (size_t)n);
    free(s);
}

/* A Python string literal of s. */
static void py_str(struct buf *b, const char *s)
{
    adds(b, "\"");
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\') {
            char e[2] = {'\\', (char)*c};
            add(b, e, 2);
        } else if (*c < 0x20 || *c == 0x7f) {
            addf(b, "\\x%02x", *c);
        } else {
            add(b, (const char *)c, 1);
        }
    }
    adds(b, "\"");
}

/* s for a POSIX shell, single-quoted. */
static void sh_quote(struct buf *b, const char *s)
{
    adds(b, "'");
    for (const char *c = s; *c; c++) {
        if (*c == '\'')
            adds(b, "'\\''");
        else
            add(b, c, 1);
    }
    adds(b, "'");
}

static char *vmsg(const char *fmt, va_list ap)
{
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        return NULL;
    return s;
}

__attribute__((format(printf, 2, 3))) static int fail(char **err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    *err = vmsg(fmt, ap);
    va_end(ap);
    return MF_EINVAL;
}

/* ---- the graph ----------------------------------------------------------------------------- */

struct step {
    const char *name;
    const char *type;            /* linear, branch, foreach, end */
    int join;
    int next[64];
    int n_next;
    int retry;
    long timeout_s;
    long cpu, memory_mb, gpu;
    const char *image;
    const char *catch_var;
    int ctx[MAX_DEPTH];          /* enclosing foreach splits, outermost first */
    int n_ctx;
    int splits[MAX_DEPTH];       /* every enclosing split (to close them at joins) */
    int n_splits;
    int seen;
    int n_prev;
    int prev[64];
};

struct graph {
    json_t *root;
    const char *flow;
    struct step *s;
    int n;
    json_t *params;
};

static int find(const struct graph *g, const char *name)
{
    for (int i = 0; i < g->n; i++)
        if (!strcmp(g->s[i].name, name))
            return i;
    return -1;
}

static long num(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_integer(v) ? (long)json_integer_value(v) : 0;
}

static const char *str(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int is_split(const struct step *s)
{
    return !strcmp(s->type, "branch") || !strcmp(s->type, "foreach");
}

static int load_graph(const char *text, struct graph *g, char **err)
{
    json_error_t je;
    g->root = json_loads(text, 0, &je);
    if (!g->root)
        return fail(err, "the flow's graph is not JSON (line %d: %s)", je.line, je.text);
    g->flow = str(g->root, "flow");
    json_t *steps = json_object_get(g->root, "steps");
    g->params = json_object_get(g->root, "parameters");
    if (!g->flow || !json_is_array(steps) || json_array_size(steps) == 0 ||
        json_array_size(steps) > MAX_STEPS)
        return fail(err, "the flow's graph has no flow name or steps (expected what `mflow show "
                         "--json` prints)");
    g->n = (int)json_array_size(steps);
    g->s = calloc((size_t)g->n, sizeof *g->s);
    if (!g->s)
        return MF_ENOMEM;
    for (int i = 0; i < g->n; i++) {
        json_t *o = json_array_get(steps, (size_t)i);
        struct step *s = &g->s[i];
        s->name = str(o, "name");
        s->type = str(o, "type");
        s->join = json_is_true(json_object_get(o, "join"));
        s->retry = (int)num(o, "retry");
        s->timeout_s = num(o, "timeout_s");
        json_t *res = json_object_get(o, "resources");
        s->cpu = num(res, "cpu");
        s->memory_mb = num(res, "memory_mb");
        s->gpu = num(res, "gpu");
        s->image = str(o, "image");
        s->catch_var = str(o, "catch_var");
        if (!s->name || !s->type)
            return fail(err, "step %d of the flow's graph has no name or type", i);
    }
    for (int i = 0; i < g->n; i++) {
        json_t *next = json_object_get(json_array_get(steps, (size_t)i), "next");
        size_t k;
        json_t *v;
        json_array_foreach(next, k, v)
        {
            int t = json_is_string(v) ? find(g, json_string_value(v)) : -1;
            if (t < 0 || g->s[i].n_next == 64 || g->s[t].n_prev == 64)
                return fail(err, "step '%s' of the flow's graph names an unknown successor",
                            g->s[i].name);
            g->s[i].next[g->s[i].n_next++] = t;
            g->s[t].prev[g->s[t].n_prev++] = i;
        }
    }
    /* Enclosing splits, in graph order from start (the graph was validated by mflow). */
    int start = find(g, "start");
    if (start < 0)
        return fail(err, "the flow's graph has no step 'start'");
    int *queue = calloc((size_t)g->n, sizeof *queue);
    if (!queue)
        return MF_ENOMEM;
    int head = 0, tail = 0;
    g->s[start].seen = 1;
    queue[tail++] = start;
    int rc = 0;
    while (!rc && head < tail) {
        struct step *s = &g->s[queue[head++]];
        int me = (int)(s - g->s);
        for (int k = 0; k < s->n_next; k++) {
            struct step *t = &g->s[s->next[k]];
            if (t->seen)
                continue;
            memcpy(t->splits, s->splits, sizeof t->splits);
            t->n_splits = s->n_splits;
            if (is_split(s)) {
                if (t->n_splits == MAX_DEPTH) {
                    rc = fail(err, "step '%s' is nested deeper than %d splits", t->name,
                              MAX_DEPTH);
                    break;
                }
                t->splits[t->n_splits++] = me;
            }
            if (t->join && t->n_splits > 0)
                t->n_splits--;
            t->n_ctx = 0;
            for (int j = 0; j < t->n_splits; j++)
                if (!strcmp(g->s[t->splits[j]].type, "foreach"))
                    t->ctx[t->n_ctx++] = t->splits[j];
            t->seen = 1;
            queue[tail++] = s->next[k];
        }
    }
    free(queue);
    return rc;
}

/* ---- options ------------------------------------------------------------------------------- */

const char *dag_option(const struct mf_flow_desc *flow, const char *key)
{
    size_t n = strlen(key);
    const char *found = NULL;
    for (const char *const *o = flow->options; o && *o; o++)
        if (!strncmp(*o, key, n) && (*o)[n] == '=')
            found = *o + n + 1;   /* the last one given wins */
    return found;
}

/* Values that end up inside Jinja-templated fields must not open a template themselves. */
static int jinja_safe(const char *what, const char *v, char **err)
{
    if (v && (strstr(v, "{{") || strstr(v, "{%") || strstr(v, "{#")))
        return fail(err, "%s '%s' contains '{{', '{%%' or '{#', which Airflow would take for a "
                         "template: use a value without them",
                    what, v);
    return 0;
}

/* ---- parameters ---------------------------------------------------------------------------- */

static int parse_bool(const char *v, int *out)
{
    static const char *t[] = {"true", "yes", "1"}, *f[] = {"false", "no", "0"};
    for (int i = 0; i < 3; i++) {
        if (!strcasecmp(v, t[i])) {
            *out = 1;
            return 0;
        }
        if (!strcasecmp(v, f[i])) {
            *out = 0;
            return 0;
        }
    }
    return -1;
}

/* One parameter as an Airflow Param, its default from param.NAME or the flow's default. */
static int param_py(const struct mf_flow_desc *flow, json_t *p, int scheduled, struct buf *b,
                    char **err)
{
    const char *name = str(p, "name"), *type = str(p, "type"), *def = str(p, "default");
    const char *help = str(p, "help");
    char key[300];
    snprintf(key, sizeof key, "param.%s", name ? name : "");
    const char *given = dag_option(flow, key);
    const char *v = given ? given : def;
    const char *atype = !strcmp(type, "i64")    ? "integer"
                        : !strcmp(type, "f64")  ? "number"
                        : !strcmp(type, "bool") ? "boolean"
                                                : "string";
    addf(b, "        ");
    py_str(b, name);
    adds(b, ": Param(");
    if (!v) {
        if (scheduled)
            return fail(err, "parameter '%s' has no default and the deployment has a schedule: "
                             "give it a value (--%s=VALUE), since Airflow refuses a scheduled "
                             "DAG with a required parameter",
                        name, name);
    } else if (!strcmp(type, "i64")) {
        char *e;
        errno = 0;
        long long x = strtoll(v, &e, 10);
        if (!*v || *e || errno)
            return fail(err, "parameter '%s' is an integer, not '%s'", name, v);
        addf(b, "%lld, ", x);
    } else if (!strcmp(type, "f64")) {
        char *e;
        errno = 0;
        double x = strtod(v, &e);
        if (!*v || *e || errno || x != x || x - x != 0)
            return fail(err, "parameter '%s' is a finite number, not '%s'", name, v);
        char num[64];
        /* The shortest text that reads back as the same double. */
        for (int prec = 15; prec <= 17; prec++) {
            snprintf(num, sizeof num, "%.*g", prec, x);
            if (strtod(num, NULL) == x)
                break;
        }
        /* A float literal in Python too (2.0, not 2): the Param's value keeps its type. */
        addf(b, "%s%s, ", num, strpbrk(num, ".e") ? "" : ".0");
    } else if (!strcmp(type, "bool")) {
        int x;
        if (parse_bool(v, &x))
            return fail(err, "parameter '%s' is true or false, not '%s'", name, v);
        addf(b, "%s, ", x ? "True" : "False");
    } else {
        py_str(b, v);
        adds(b, ", ");
    }
    addf(b, "type=\"%s\"", atype);
    if (help) {
        adds(b, ", description=");
        py_str(b, help);
    }
    adds(b, "),\n");
    return 0;
}

/* Every param.NAME option must name a parameter of the flow. */
static int check_param_options(const struct mf_flow_desc *flow, json_t *params, char **err)
{
    for (const char *const *o = flow->options; o && *o; o++) {
        if (strncmp(*o, "param.", 6) != 0)
            continue;
        const char *eq = strchr(*o, '=');
        size_t n = eq ? (size_t)(eq - *o - 6) : strlen(*o + 6);
        int found = 0;
        size_t k;
        json_t *p;
        json_array_foreach(params, k, p)
        {
            const char *name = str(p, "name");
            if (name && strlen(name) == n && !strncmp(name, *o + 6, n))
                found = 1;
        }
        if (!found)
            return fail(err, "the flow has no parameter '%.*s' (see `mflow show FLOW`)", (int)n,
                        *o + 6);
    }
    return 0;
}

/* ---- tasks --------------------------------------------------------------------------------- */

struct gen {
    const struct mf_flow_desc *flow;
    const struct dag_settings *set;
    struct graph g;
    int k8s;
    const char *dag_id;
    const char *ns;              /* mflow namespace of the runs */
    const char *name, *version;
    const char *retry_delay;
};

/* The words of `mflow ... dag-task FLOW STEP ...` after the program, for step s. */
static int command_words(struct gen *x, const struct step *s, const char **w, int max)
{
    int n = 0;
    const char *home = dag_option(x->flow, "home");
    const char *storage = dag_option(x->flow, "storage");
    if (home && !x->k8s) {
        w[n++] = "--home";
        w[n++] = home;
    }
    if (storage) {
        w[n++] = "--storage";
        w[n++] = storage;
    }
    if (x->flow->datastore_root) {
        w[n++] = "--datastore-root";
        w[n++] = x->flow->datastore_root;
    }
    w[n++] = "dag-task";
    w[n++] = x->g.flow;
    w[n++] = s->name;
    w[n++] = "--dag-id";
    w[n++] = x->dag_id;
    w[n++] = "--dag-run";
    w[n++] = "{{ run_id }}";
    w[n++] = "--package";
    w[n++] = x->flow->package_url;
    w[n++] = "--namespace";
    w[n++] = x->ns;
    (void)max;
    return n;
}

static void timeout_arg(struct buf *b, const struct step *s)
{
    if (s->timeout_s > 0)
        addf(b, "--timeout-s %ld", s->timeout_s);
}

static void common_args(struct gen *x, struct buf *b, const struct step *s, int foreach)
{
    addf(b, "        retries=%d,\n", s->retry > 0 ? s->retry : 0);
    addf(b, "        retry_delay=datetime.timedelta(seconds=%s),\n", x->retry_delay);
    if (s->timeout_s > 0)
        /* mflow's own deadline (--timeout-s) fires first and records why; Airflow's is the
         * backstop, a little later (loading the package counts in mflow's). */
        addf(b, "        execution_timeout=datetime.timedelta(seconds=%ld),\n", s->timeout_s + 60);
    addf(b, "        do_xcom_push=%s,\n", foreach ? "True" : "False");
}

static void tags_words(struct gen *x, const char **w, int *n, char *tag1, size_t n1, char *tag2,
                       size_t n2)
{
    if (x->name) {
        snprintf(tag1, n1, "deployment:%s", x->name);
        w[(*n)++] = "--tag";
        w[(*n)++] = tag1;
    }
    if (x->version) {
        snprintf(tag2, n2, "deployment_version:%s", x->version);
        w[(*n)++] = "--tag";
        w[(*n)++] = tag2;
    }
}

static int bash_task(struct gen *x, struct buf *b, int i)
{
    const struct step *s = &x->g.s[i];
    int mapped = s->n_ctx > 0, foreach = !strcmp(s->type, "foreach");
    const char *w[64];
    char tag1[512], tag2[512];
    int n = command_words(x, s, w, 64);
    tags_words(x, w, &n, tag1, sizeof tag1, tag2, sizeof tag2);
    const char *mflow = dag_option(x->flow, "mflow");
    if (s->cpu > 0 || s->memory_mb > 0 || s->gpu > 0)
        addf(b, "    # resources: cpu=%ld memory_mb=%ld gpu=%ld. BashOperator runs on the worker as "
                "it is: nothing\n    # enforces them there (deploy with compute=k8s for requests "
                "and limits)%s.\n",
             s->cpu, s->memory_mb, s->gpu, x->set->pool ? "; cpu counts as pool slots" : "");
    addf(b, "    s_%s = BashOperator%s(\n", s->name, mapped ? ".partial" : "");
    addf(b, "        task_id=\"%s\",\n", s->name);
    struct buf cmd = {0};
    sh_quote(&cmd, mflow ? mflow : "mflow");
    for (int k = 0; k < n; k++) {
        adds(&cmd, " ");
        sh_quote(&cmd, w[k]);
    }
    if (s->timeout_s > 0) {
        adds(&cmd, " ");
        timeout_arg(&cmd, s);
    }
    if (cmd.oom)
        return MF_ENOMEM;
    adds(b, "        bash_command=");
    py_str(b, cmd.p);
    free(cmd.p);
    adds(b, ",\n");
    /* params['NAME'], not params.NAME: Jinja looks an attribute up first, so params.items
     * would be ParamsDict's method, and the sandbox refuses a name starting with '_'. */
    if (i == find(&x->g, "start") && json_array_size(x->g.params)) {
        adds(b, "        env={\n");
        size_t k;
        json_t *p;
        json_array_foreach(x->g.params, k, p)
        {
            const char *name = str(p, "name"), *type = str(p, "type");
            addf(b, "            \"MFLOW_PARAM_%s\": \"{{ params['%s']%s }}\",\n", name, name,
                 type && !strcmp(type, "bool") ? " | string | lower" : "");
        }
        adds(b, "        },\n");
        adds(b, "        append_env=True,\n");
    } else if (mapped) {
        adds(b, "        append_env=True,\n");
    }
    if (x->set->pool) {
        adds(b, "        pool=");
        py_str(b, x->set->pool);
        addf(b, ",\n        pool_slots=%ld,\n", s->cpu > 1 ? s->cpu : 1);
    }
    common_args(x, b, s, foreach);
    if (mapped)
        addf(b, "    ).expand(env=i_%s.output)\n", x->g.s[s->ctx[s->n_ctx - 1]].name);
    else
        adds(b, "    )\n");
    return 0;
}

/* A DNS-1123 label from the flow and step names (the pod's name; Airflow adds a suffix). */
static void pod_name(struct buf *b, const char *flow, const char *step)
{
    char name[64];
    size_t o = 0;
    const char *parts[3] = {"mflow-", flow, step};
    for (int p = 0; p < 3 && o < 50; p++) {
        if (p == 2 && o < sizeof name - 1)
            name[o++] = '-';
        for (const char *c = parts[p]; *c && o < 50; c++)
            name[o++] = isalnum((unsigned char)*c) ? (char)tolower((unsigned char)*c) : '-';
    }
    while (o && name[o - 1] == '-')
        o--;
    name[o] = '\0';
    py_str(b, name);
}

static int k8s_task(struct gen *x, struct buf *b, int i)
{
    const struct step *s = &x->g.s[i];
    int mapped = s->n_ctx > 0, foreach = !strcmp(s->type, "foreach");
    const char *image = s->image ? s->image : x->set->image;
    const char *w[64];
    char tag1[512], tag2[512];
    int n = command_words(x, s, w, 64);
    tags_words(x, w, &n, tag1, sizeof tag1, tag2, sizeof tag2);
    addf(b, "    s_%s = KubernetesPodOperator%s(\n", s->name, mapped ? ".partial" : "");
    addf(b, "        task_id=\"%s\",\n", s->name);
    adds(b, "        name=");
    pod_name(b, x->g.flow, s->name);
    adds(b, ",\n");
    if (x->set->k8s_namespace) {
        adds(b, "        namespace=");
        py_str(b, x->set->k8s_namespace);
        adds(b, ",\n");
    }
    adds(b, "        image=");
    py_str(b, image);
    adds(b, ",\n        cmds=[");
    py_str(b, x->set->k8s_mflow ? x->set->k8s_mflow : "mflow");
    adds(b, "],\n        arguments=[");
    for (int k = 0; k < n; k++) {
        if (k)
            adds(b, ", ");
        py_str(b, w[k]);
    }
    if (s->timeout_s > 0)
        addf(b, ", \"--timeout-s\", \"%ld\"", s->timeout_s);
    if (foreach)
        adds(b, ", \"--xcom-file\", \"/airflow/xcom/return.json\"");
    adds(b, "],\n");
    if (i == find(&x->g, "start") && json_array_size(x->g.params)) {
        adds(b, "        env_vars={\n");
        size_t k;
        json_t *p;
        json_array_foreach(x->g.params, k, p)
        {
            const char *name = str(p, "name"), *type = str(p, "type");
            addf(b, "            \"MFLOW_PARAM_%s\": \"{{ params['%s']%s }}\",\n", name, name,
                 type && !strcmp(type, "bool") ? " | string | lower" : "");
        }
        adds(b, "        },\n");
    }
    if (s->cpu > 0 || s->memory_mb > 0 || s->gpu > 0) {
        struct buf req = {0};
        if (s->cpu > 0)
            addf(&req, "\"cpu\": \"%ld\", ", s->cpu);
        if (s->memory_mb > 0)
            addf(&req, "\"memory\": \"%ldMi\", ", s->memory_mb);
        struct buf lim = {0};
        if (s->memory_mb > 0)
            addf(&lim, "\"memory\": \"%ldMi\", ", s->memory_mb);
        if (s->gpu > 0)
            addf(&lim, "\"nvidia.com/gpu\": \"%ld\", ", s->gpu);
        if (req.oom || lim.oom)
            return MF_ENOMEM;
        /* Requests place the pod; limits hold it (memory) and are how Kubernetes asks for
         * GPUs. CPU is not limited, as the k8s compute plugin does. */
        addf(b, "        container_resources=k8s.V1ResourceRequirements(\n"
                "            requests={%.*s},\n            limits={%.*s},\n        ),\n",
             req.len >= 2 ? (int)req.len - 2 : 0, req.p ? req.p : "",
             lim.len >= 2 ? (int)lim.len - 2 : 0, lim.p ? lim.p : "");
        free(req.p);
        free(lim.p);
    }
    adds(b, "        get_logs=True,\n");
    common_args(x, b, s, foreach);
    if (mapped)
        addf(b, "    ).expand(env_vars=i_%s.output)\n", x->g.s[s->ctx[s->n_ctx - 1]].name);
    else
        adds(b, "    )\n");
    return 0;
}

/* Steps in an order where every step comes after its predecessors. */
static int topo(const struct graph *g, int *order)
{
    int *indeg = calloc((size_t)g->n, sizeof *indeg);
    if (!indeg)
        return MF_ENOMEM;
    for (int i = 0; i < g->n; i++)
        indeg[i] = g->s[i].n_prev;
    int n = 0;
    for (int i = 0; i < g->n; i++)
        if (!indeg[i])
            order[n++] = i;
    for (int h = 0; h < n; h++) {
        const struct step *s = &g->s[order[h]];
        for (int k = 0; k < s->n_next; k++)
            if (--indeg[s->next[k]] == 0)
                order[n++] = s->next[k];
    }
    free(indeg);
    return n == g->n ? 0 : MF_EINVAL;
}

static int valid_dag_id(const char *s)
{
    size_t n = strlen(s);
    if (!n || n > 250)
        return 0;
    for (const char *c = s; *c; c++)
        if (!isalnum((unsigned char)*c) && *c != '_' && *c != '-' && *c != '.')
            return 0;
    return 1;
}

static const char header_fmt[] =
    "# Airflow DAG for the mflow flow %s, deployment %s (version %s).\n"
    "# Generated by mflow's airflow scheduler plugin: do not edit, deploy again to change it.\n"
    "# Every step runs `mflow dag-task`, which derives the mflow run from the DAG id and\n"
    "# Airflow's run id (a retry lands in the same run) and the task's inputs from its foreach\n"
    "# path (MFLOW_FOREACH_PATH, set for each mapped task instance).\n"
    "# mflow-airflow-dag: %s\n";

int dag_generate(const struct mf_flow_desc *flow, const struct dag_settings *set, char **out,
                 char **dag_id, char **err)
{
    struct gen x;
    memset(&x, 0, sizeof x);
    x.flow = flow;
    x.set = set;
    *out = NULL;
    *dag_id = NULL;
    *err = NULL;
    struct buf b = {0};
    int *order = NULL;
    int rc = 0;
    if (!flow->graph_json || !flow->flow_name)
        return fail(err, "no flow graph given to deploy");
    if (!flow->package_url || !*flow->package_url)
        return fail(err, "no code package given: Airflow's workers run the flow from its stored "
                         "package");
    rc = load_graph(flow->graph_json, &x.g, err);
    const char *compute = dag_option(flow, "compute");
    if (!rc && compute && strcmp(compute, "local") && strcmp(compute, "k8s"))
        rc = fail(err, "compute '%s' is not one the Airflow export knows: use compute=local "
                       "(BashOperator on Airflow's workers) or compute=k8s "
                       "(KubernetesPodOperator)",
                  compute);
    x.k8s = compute && !strcmp(compute, "k8s");
    x.name = dag_option(flow, "name");
    x.version = dag_option(flow, "version");
    x.dag_id = x.name ? x.name : flow->flow_name;
    x.ns = dag_option(flow, "namespace");
    char nsbuf[300];
    if (!x.ns) {
        snprintf(nsbuf, sizeof nsbuf, "production:%s", x.dag_id);
        x.ns = nsbuf;
    }
    x.retry_delay = set->retry_delay_s ? set->retry_delay_s : "30";
    if (!rc && !valid_dag_id(x.dag_id))
        rc = fail(err, "'%s' cannot be an Airflow DAG id: use letters, digits, '_', '-' and '.' "
                       "(at most 250)",
                  x.dag_id);
    for (const char *const *o = flow->options; !rc && o && *o; o++)
        rc = jinja_safe("option", *o, err);
    if (!rc)
        rc = jinja_safe("package address", flow->package_url, err);
    if (!rc)
        rc = jinja_safe("datastore root", flow->datastore_root, err);
    /* KubernetesPodOperator templates image, namespace and cmds too */
    if (!rc && x.k8s) {
        rc = jinja_safe("image setting", set->image, err);
        if (!rc)
            rc = jinja_safe("k8s_namespace setting", set->k8s_namespace, err);
        if (!rc)
            rc = jinja_safe("k8s_mflow setting", set->k8s_mflow, err);
        for (int i = 0; !rc && i < x.g.n; i++)
            rc = jinja_safe("step image", x.g.s[i].image, err);
    }
    if (!rc && set->retry_delay_s) {
        const char *c = set->retry_delay_s;
        while (*c >= '0' && *c <= '9')
            c++;
        if (!*set->retry_delay_s || *c || c - set->retry_delay_s > 9)
            rc = fail(err, "retry_delay_s '%s' is not a whole number of seconds",
                      set->retry_delay_s);
    }
    if (!rc)
        rc = check_param_options(flow, x.g.params, err);
    if (!rc && x.k8s) {
        for (int i = 0; !rc && i < x.g.n; i++)
            if (!x.g.s[i].image && !set->image)
                rc = fail(err, "step '%s' has no container image and the airflow plugin has no "
                               "default: set the step's image, or the plugin setting image "
                               "(MFLOW_AIRFLOW_IMAGE)",
                          x.g.s[i].name);
    }
    if (!rc) {
        order = calloc((size_t)x.g.n, sizeof *order);
        rc = order ? topo(&x.g, order) : MF_ENOMEM;
        if (rc == MF_EINVAL)
            fail(err, "the flow's graph has a cycle");
    }
    if (rc)
        goto out;

    addf(&b, header_fmt, x.g.flow, x.dag_id, x.version ? x.version : "-", x.dag_id);
    adds(&b, "import datetime\nimport json\n\nfrom airflow import DAG\n"
            "from airflow.models.param import Param\n");
    if (x.k8s)
        adds(&b, "from airflow.operators.python import PythonOperator\n"
                "from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator\n"
                "from kubernetes.client import models as k8s\n");
    else
        adds(&b, "from airflow.operators.bash import BashOperator\n"
                "from airflow.operators.python import PythonOperator\n");
    adds(&b, "\n\n"
            "def _mflow_items(output):\n"
            "    \"\"\"The items a foreach step printed, as the list to map its body over: its\n"
            "    JSON line (BashOperator), its list (KubernetesPodOperator), or one of either per\n"
            "    mapped instance of a nested foreach, flattened in map index order.\"\"\"\n"
            "    if isinstance(output, str):\n"
            "        return json.loads(output)\n"
            "    items = []\n"
            "    for one in output:\n"
            "        if isinstance(one, dict):\n"
            "            items.append(one)\n"
            "        elif isinstance(one, str):\n"
            "            items.extend(json.loads(one))\n"
            "        else:\n"
            "            items.extend(one)\n"
            "    return items\n\n\n");
    const char *sched = flow->schedule && *flow->schedule ? flow->schedule : NULL;
    adds(&b, "with DAG(\n    dag_id=");
    py_str(&b, x.dag_id);
    adds(&b, ",\n    description=");
    {
        char d[600];
        snprintf(d, sizeof d, "mflow flow %s", x.g.flow);
        py_str(&b, d);
    }
    adds(&b, ",\n    schedule=");
    if (sched)
        py_str(&b, sched);
    else
        adds(&b, "None");
    adds(&b, ",\n    start_date=datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc),\n"
            "    catchup=False,\n"
            "    default_args={\"owner\": \"mflow\"},\n");
    adds(&b, "    tags=[\"mflow\"");
    if (strlen(x.g.flow) <= 95) {   /* Airflow takes tags of up to 100 characters */
        char t[300];
        snprintf(t, sizeof t, "flow:%s", x.g.flow);
        adds(&b, ", ");
        py_str(&b, t);
    }
    adds(&b, "],\n    params={\n");
    size_t k;
    json_t *p;
    json_array_foreach(x.g.params, k, p)
    {
        if ((rc = param_py(flow, p, sched != NULL, &b, err)))
            goto out;
    }
    adds(&b, "    },\n) as dag:\n");
    for (int h = 0; h < x.g.n; h++) {
        int i = order[h];
        const struct step *s = &x.g.s[i];
        adds(&b, "\n");
        rc = x.k8s ? k8s_task(&x, &b, i) : bash_task(&x, &b, i);
        if (rc)
            goto out;
        if (!strcmp(s->type, "foreach")) {
            addf(&b, "    i_%s = PythonOperator(\n        task_id=\"%s-items\",\n"
                     "        python_callable=_mflow_items,\n        op_args=[s_%s.output],\n"
                     "    )\n",
                 s->name, s->name, s->name);
        }
    }
    /* Edges the XCom arguments do not already make: a foreach child depends on the split
     * through its items task. */
    adds(&b, "\n");
    for (int h = 0; h < x.g.n; h++) {
        const struct step *s = &x.g.s[order[h]];
        if (!strcmp(s->type, "foreach"))
            continue;
        for (int j = 0; j < s->n_next; j++)
            addf(&b, "    s_%s >> s_%s\n", s->name, x.g.s[s->next[j]].name);
    }
    if (b.oom)
        rc = MF_ENOMEM;
out:
    free(order);
    free(x.g.s);
    if (!rc) {
        *out = b.p;
        *dag_id = strdup(x.dag_id);
        if (!*dag_id) {
            free(b.p);
            *out = NULL;
            rc = MF_ENOMEM;
        }
    } else {
        free(b.p);
    }
    json_decref(x.g.root);
    return rc;
}
