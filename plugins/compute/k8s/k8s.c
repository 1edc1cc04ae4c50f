/* The k8s compute plugin: every task attempt is a batch/v1 Job, through the Kubernetes REST
 * API (api.c). Jobs are created in parallel (curl multi) at the host's next wait or poll;
 * states come from ONE list of the run's pods and ONE list of its Jobs (label selector over
 * the whole run) per poll interval, whatever the width; a pod's log is followed live and
 * handed to the host; cancel deletes the Job (propagationPolicy Background). Not
 * thread-safe: one instance is driven by the core's event loop. See README.md. */
#include "api.h"
#include "kubeconfig.h"
#include "lists.h"
#include "manifest.h"
#include "status.h"

#include <mflow/plugin.h>
#include <mflow/plugin_util.h>

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define PLUGIN_NAME "k8s"
#define PLUGIN_VERSION "0.1.0"
#define ORCH_ANNOTATION "mflow/orchestrator"
#define LOG_GRACE_S 15.0
#define APPEAR_GRACE_S 120.0

enum phase {
    J_QUEUED = 0,        /* manifest built, not sent */
    J_CREATING = 1,      /* POST in flight */
    J_CREATED = 2,       /* the API server has it */
    J_ENDED = 3,         /* final status known and reported */
};

struct k8s;

struct mf_job {
    struct k8s *k;
    struct mf_job *prev, *next;
    char name[K8S_NAME_MAX + 1];
    char *pathspec, *step;
    json_t *manifest;                /* until sent */
    int phase;
    int released;                    /* the host forgot it; freed when no request needs it */
    int cancel_req, delete_sent, deleting;
    int job_seen, pod_seen, final_pending;
    double created, final_at;
    uint32_t timeout_s;              /* the spec's: the Job's activeDeadlineSeconds */
    char *pod_name;
    struct k8s_req *log_req;
    unsigned long long log_bytes;
    int log_done;
    int log_eof;                     /* a follow stream ended cleanly: the container ended */
    int log_read;                    /* a log answer came whole: the host has it all */
    double log_eof_at;
    FILE *out;                       /* spec's stdout_path, or NULL */
    char *out_path;
    struct mf_job_status st;         /* what poll reports */
    struct mf_job_status fin;        /* the final status, held while the log is read */
};

struct k8s {
    const struct mf_host_api *host;
    struct k8s_conn *conn;
    struct k8s_api *api;
    /* settings */
    char *ns, *image, *service_account, *pull_policy, *overlay, *mflow_cmd, *pod_home;
    char **pull_secrets, **env_secrets, **node_selector, **pass_env;
    struct k8s_toleration *tols;
    size_t n_tols;
    json_t *tols_doc;
    long ttl, poll_ms, max_streams;
    double pending_limit;
    double deadline_grace;           /* < 0: the Job's deadline alone */
    char user[64];
    char orch[320];                  /* host/pid/start of this process */
    /* jobs */
    struct mf_job *head, *tail;
    size_t n_queued, n_streams;
    char *flow_label, *run_label;    /* the run's selector values, set at the first submit */
    char *flow_name;
    int64_t run_id;
    int swept;
    /* polling */
    double next_tick;
    int tick_pending;                /* list answers still to come */
    json_t *tick_jobs, *tick_pods;   /* the answers of the current tick */
    int tick_failed;
    int changed;
    unsigned list_failures;
    /* check */
    /* figures for stats_file (benchmarks) */
    unsigned long long n_created, n_polls;
    double t_first_post, t_last_created;
    double batch_t0, best_batch_s;          /* the largest batch of creates, and its time */
    size_t batch_n, batch_done, best_batch_n;
    char *stats_file;
    int checked_conn;
    json_t *nodes;                   /* GET /api/v1/nodes, or NULL */
    int nodes_forbidden;
    char err[2048];
};

static const struct mf_option_def options[] = {
    {sizeof(struct mf_option_def), MF_OPT_STRING, "kubeconfig", "MFLOW_K8S_KUBECONFIG", NULL,
     "kubeconfig file(s), ':'-separated (default: KUBECONFIG, else ~/.kube/config, else in-cluster)"},
    {sizeof(struct mf_option_def), MF_OPT_STRING, "context", "MFLOW_K8S_CONTEXT", NULL,
     "kubeconfig context (default: current-context)"},
    {sizeof(struct mf_option_def), MF_OPT_STRING, "namespace", "MFLOW_K8S_NAMESPACE", NULL,
     "namespace of the Jobs (default: the context's, else \"default\")"},
    {sizeof(struct mf_option_def), MF_OPT_STRING, "image", "MFLOW_K8S_IMAGE", NULL,
     "image with mflow installed, for steps that name none (see plugins/compute/k8s/Containerfile)"},
    {sizeof(struct mf_option_def), MF_OPT_STRING, "service_account", "MFLOW_K8S_SERVICE_ACCOUNT",
     NULL, "service account of the pods (default: the namespace's default)"},
    {sizeof(struct mf_option_def), MF_OPT_STRING, "image_pull_policy",
     "MFLOW_K8S_IMAGE_PULL_POLICY", NULL, "Always, IfNotPresent or Never (default: the cluster's)"},
    {sizeof(struct mf_option_def), MF_OPT_STRING, "image_pull_secrets",
     "MFLOW_K8S_IMAGE_PULL_SECRETS", NULL, "Secrets for pulling images, comma-separated"},
    {sizeof(struct mf_option_def), MF_OPT_STRING, "secrets", "MFLOW_K8S_SECRETS", NULL,
     "Secrets whose keys become environment variables of the task (envFrom), comma-separated "
     "(e.g. the datastore's S3 credentials)"},
    {sizeof(struct mf_option_def), MF_OPT_STRING, "node_selector", "MFLOW_K8S_NODE_SELECTOR", NULL,
     "node labels the pods need, comma-separated key=value"},
    {sizeof(struct mf_option_def), MF_OPT_STRING, "tolerations", "MFLOW_K8S_TOLERATIONS", NULL,
     "a JSON array of tolerations ([{\"key\":\"gpu\",\"operator\":\"Exists\",\"effect\":\"NoSchedule\"}])"},
    {sizeof(struct mf_option_def), MF_OPT_INT, "ttl_seconds_after_finished",
     "MFLOW_K8S_TTL_SECONDS_AFTER_FINISHED", "3600",
     "ttlSecondsAfterFinished of the Jobs (-1: not set)"},
    {sizeof(struct mf_option_def), MF_OPT_STRING, "pod_overlay", "MFLOW_K8S_POD_OVERLAY", NULL,
     "a JSON object merged into every pod spec (volumes, securityContext, sidecars, ...); the "
     "server validates the result strictly"},
    {sizeof(struct mf_option_def), MF_OPT_INT, "poll_interval_ms", "MFLOW_K8S_POLL_INTERVAL_MS",
     "1000", "how often the run's pods and Jobs are listed (two requests, whatever the width)"},
    {sizeof(struct mf_option_def), MF_OPT_INT, "pending_limit_s", "MFLOW_K8S_PENDING_LIMIT_S",
     "300", "an Unschedulable pod fails its task after this many seconds (0: waits for ever)"},
    {sizeof(struct mf_option_def), MF_OPT_INT, "deadline_grace_s", "MFLOW_K8S_DEADLINE_GRACE_S",
     "60", "a task still running this many seconds past its timeout_s (the Job's "
     "activeDeadlineSeconds not enforced) is ended by mflow: its Job is deleted (-1: never)"},
    {sizeof(struct mf_option_def), MF_OPT_INT, "max_log_streams", "MFLOW_K8S_MAX_LOG_STREAMS",
     "64", "pods whose log is followed at once; the others' logs are read when they end"},
    {sizeof(struct mf_option_def), MF_OPT_INT, "max_requests", "MFLOW_K8S_MAX_REQUESTS", "32",
     "API requests in flight at once (Job creation in parallel), log streams not counted"},
    {sizeof(struct mf_option_def), MF_OPT_INT, "api_tries", "MFLOW_K8S_API_TRIES", "6",
     "attempts of a request answered 429 or 5xx or cut off"},
    {sizeof(struct mf_option_def), MF_OPT_STRING, "pass_env", "MFLOW_K8S_PASS_ENV",
     "MFLOW_S3_ENDPOINT_URL,AWS_REGION,AWS_DEFAULT_REGION",
     "variables copied from mflow's environment into the pods when set, comma-separated (never "
     "credentials: use secrets)"},
    {sizeof(struct mf_option_def), MF_OPT_STRING, "mflow_command", "MFLOW_K8S_MFLOW_COMMAND",
     "mflow", "the mflow command in the image"},
    {sizeof(struct mf_option_def), MF_OPT_STRING, "stats_file", "MFLOW_K8S_STATS_FILE", NULL,
     "write the plugin's request figures here as JSON when it ends (benchmarks)"},
    {sizeof(struct mf_option_def), MF_OPT_STRING, "pod_home", "MFLOW_K8S_POD_HOME", "/tmp/mflow",
     "MFLOW_HOME of the tasks in the pods"},
};

/* ------------------------------------------------------------------------------------------ */

/* The SDK's plugin helpers (<mflow/plugin_util.h>) under this file's short names. */
#define mono_now mf_plugin_mono_now
#define wall_now mf_plugin_wall_now
#define fail(k, rc, ...) mf_plugin_fail((k)->err, sizeof (k)->err, (rc), __VA_ARGS__)
#define LOG(k, level, ...) MF_PLUGIN_LOG((k)->host, PLUGIN_NAME, (level), __VA_ARGS__)
#define strf mf_plugin_strf

static void free_vec(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

/* "a, b,c" -> {"a","b","c",NULL}; NULL s -> NULL (no error); *bad on out of memory. */
static char **split_list(const char *s, int *bad)
{
    if (!s || !*s)
        return NULL;
    size_t n = 1;
    for (const char *p = s; *p; p++)
        n += *p == ',';
    char **v = calloc(n + 1, sizeof *v);
    if (!v) {
        *bad = 1;
        return NULL;
    }
    size_t k = 0;
    const char *p = s;
    for (;;) {
        const char *e = p + strcspn(p, ",");
        while (p < e && (*p == ' ' || *p == '\t'))
            p++;
        const char *t = e;
        while (t > p && (t[-1] == ' ' || t[-1] == '\t'))
            t--;
        if (t > p && !(v[k++] = strndup(p, (size_t)(t - p)))) {
            free_vec(v);
            *bad = 1;
            return NULL;
        }
        if (!*e)
            break;
        p = e + 1;
    }
    return v;
}

static const char *opt(struct k8s *k, const char *key)
{
    const char *v = k->host->config_get ? k->host->config_get(PLUGIN_NAME, key) : NULL;
    return v && *v ? v : NULL;
}

/* A namespace is a DNS-1123 label; it goes into every request's path as it is, so anything
 * else ('/', '?', blanks, upper case) would name another URL or a namespace that cannot exist. */
static int ns_ok(const char *ns)
{
    size_t n = ns ? strlen(ns) : 0;
    if (!n || n > 63 || ns[0] == '-' || ns[n - 1] == '-')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((ns[i] >= 'a' && ns[i] <= 'z') || (ns[i] >= '0' && ns[i] <= '9') || ns[i] == '-'))
            return 0;
    return 1;
}

static int opt_int(struct k8s *k, const char *key, long dflt, long lo, long hi, long *out)
{
    const char *v = opt(k, key);
    if (!v) {
        *out = dflt;
        return 0;
    }
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || *end || end == v || x < lo || x > hi)
        return fail(k, MF_EINVAL, "k8s: setting %s must be a whole number from %ld to %ld, not "
                                  "'%s' (MFLOW_K8S_%s or config.json \"k8s\")",
                    key, lo, hi, v, key);
    *out = x;
    return 0;
}

/* A tolerations setting: a JSON array of Toleration objects. *doc keeps the strings. */
static int parse_tols(const char *text, json_t **doc, struct k8s_toleration **out, size_t *n,
                      char *err, size_t errlen)
{
    json_error_t je;
    json_t *a = json_loads(text, 0, &je);
    *doc = NULL;
    *out = NULL;
    *n = 0;
    if (!json_is_array(a)) {
        json_decref(a);
        snprintf(err, errlen, "tolerations must be a JSON array of objects (e.g. "
                 "[{\"key\":\"gpu\",\"operator\":\"Exists\"}]): %s", a ? "not an array" : je.text);
        return MF_EINVAL;
    }
    struct k8s_toleration *t = calloc(json_array_size(a) + 1, sizeof *t);
    if (!t) {
        json_decref(a);
        snprintf(err, errlen, "out of memory");
        return MF_ENOMEM;
    }
    size_t i;
    json_t *it;
    json_array_foreach(a, i, it) {
        const char *const known[] = {"key", "operator", "value", "effect", "tolerationSeconds"};
        const char *key;
        json_t *v;
        int bad = !json_is_object(it);
        json_object_foreach(it, key, v) {
            size_t j = 0;
            while (j < 5 && strcmp(known[j], key))
                j++;
            if (j == 5) {
                snprintf(err, errlen, "tolerations: item %zu has unknown field '%s' (key, "
                         "operator, value, effect, tolerationSeconds)", i, key);
                bad = 2;
                break;
            }
        }
        if (bad) {
            if (bad == 1)
                snprintf(err, errlen, "tolerations: item %zu is not an object", i);
            free(t);
            json_decref(a);
            return MF_EINVAL;
        }
        t[i].key = json_string_value(json_object_get(it, "key"));
        t[i].op = json_string_value(json_object_get(it, "operator"));
        t[i].value = json_string_value(json_object_get(it, "value"));
        t[i].effect = json_string_value(json_object_get(it, "effect"));
        json_t *sec = json_object_get(it, "tolerationSeconds");
        if (json_is_integer(sec)) {
            t[i].has_seconds = 1;
            t[i].seconds = json_integer_value(sec);
        }
    }
    *doc = a;
    *out = t;
    *n = json_array_size(a);
    return 0;
}

static int parse_tolerations(struct k8s *k, const char *text)
{
    char e[512];
    int rc = parse_tols(text, &k->tols_doc, &k->tols, &k->n_tols, e, sizeof e);
    return rc ? fail(k, rc, "k8s: setting %s", e) : 0;
}

/* "host pid start-ticks": who created a Job, so that a later run can tell whether its
 * mflow still lives (a resumed run deletes the Jobs of a killed one). */
static unsigned long long proc_start(pid_t pid)
{
    char p[64], buf[1024];
    snprintf(p, sizeof p, "/proc/%d/stat", (int)pid);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    char *s = strrchr(buf, ')');
    if (!s)
        return 0;
    /* fields after the name: state(3) ... starttime(22) */
    int field = 2;
    for (char *q = s + 1; *q; q++)
        if (*q == ' ' && ++field == 22)
            return strtoull(q + 1, NULL, 10);
    return 0;
}

static void k8s_destroy(struct k8s *k);

static int k8s_init(const struct mf_host_api *host, void **state)
{
    *state = NULL;
    if (!host || !MF_HAS_FIELD(host, config_get) || !host->config_get)
        return MF_EABI;
    struct k8s *k = calloc(1, sizeof *k);
    if (!k)
        return MF_ENOMEM;
    k->host = host;
    int rc = 0, bad = 0;
    long v;
    struct k8s_load_opts lo = {0};
    lo.kubeconfig_env = opt(k, "kubeconfig");
    lo.context = opt(k, "context");
    char msg[1024] = "";
    rc = k8s_kubeconfig_load(&lo, &k->conn, msg, sizeof msg);
    if (rc) {
        fail(k, rc, "%s", msg);
        LOG(k, MF_LOG_ERROR, "%s", msg);
        k8s_destroy(k);
        return rc;
    }
    const char *s;
    k->ns = strdup((s = opt(k, "namespace")) ? s : k->conn->namespace_);
    k->image = (s = opt(k, "image")) ? strdup(s) : NULL;
    k->service_account = (s = opt(k, "service_account")) ? strdup(s) : NULL;
    k->pull_policy = (s = opt(k, "image_pull_policy")) ? strdup(s) : NULL;
    k->overlay = (s = opt(k, "pod_overlay")) ? strdup(s) : NULL;
    k->mflow_cmd = strdup((s = opt(k, "mflow_command")) ? s : "mflow");
    k->pod_home = strdup((s = opt(k, "pod_home")) ? s : "/tmp/mflow");
    k->stats_file = (s = opt(k, "stats_file")) ? strdup(s) : NULL;
    k->pull_secrets = split_list(opt(k, "image_pull_secrets"), &bad);
    k->env_secrets = split_list(opt(k, "secrets"), &bad);
    k->node_selector = split_list(opt(k, "node_selector"), &bad);
    k->pass_env = split_list(opt(k, "pass_env"), &bad);
    if (bad || !k->ns || !k->mflow_cmd || !k->pod_home)
        rc = fail(k, MF_ENOMEM, "k8s: out of memory");
    if (!rc && !ns_ok(k->ns))
        rc = fail(k, MF_EINVAL, "k8s: namespace '%.80s' is not a Kubernetes namespace name (at "
                                "most 63 of a-z, 0-9 and '-', a letter or digit at both ends): "
                                "fix the namespace setting or the kubeconfig context's",
                  k->ns);
    if (!rc && (s = opt(k, "tolerations")))
        rc = parse_tolerations(k, s);
    if (!rc && k->overlay) {
        json_error_t je;
        json_t *o = json_loads(k->overlay, 0, &je);
        if (!json_is_object(o))
            rc = fail(k, MF_EINVAL, "k8s: setting pod_overlay must be a JSON object (merged into "
                                    "the pod spec): %s", o ? "not an object" : je.text);
        json_decref(o);
    }
    if (!rc && !(rc = opt_int(k, "ttl_seconds_after_finished", 3600, -1, 100000000, &v)))
        k->ttl = v;
    if (!rc && !(rc = opt_int(k, "poll_interval_ms", 1000, 50, 600000, &v)))
        k->poll_ms = v;
    if (!rc && !(rc = opt_int(k, "pending_limit_s", 300, 0, 100000000, &v)))
        k->pending_limit = (double)v;
    if (!rc && !(rc = opt_int(k, "deadline_grace_s", 60, -1, 100000000, &v)))
        k->deadline_grace = (double)v;
    if (!rc && !(rc = opt_int(k, "max_log_streams", 64, 0, 100000, &v)))
        k->max_streams = v;
    long maxreq = 32, tries = 6;
    if (!rc)
        rc = opt_int(k, "max_requests", 32, 1, 1024, &maxreq);
    if (!rc)
        rc = opt_int(k, "api_tries", 6, 1, 100, &tries);
    if (!rc) {
        char ua[96];
        snprintf(ua, sizeof ua, "mflow/%s", host->version ? host->version : "?");
        struct k8s_api_opts ao = {.tries = (unsigned)tries, .max_active = (unsigned)maxreq,
                                  .user_agent = ua};
        const char *b = getenv("MFLOW_K8S_BACKOFF_S");   /* tests: shorter pauses */
        if (b && *b)
            ao.backoff_s = atof(b);
        rc = k8s_api_create(k->conn, &ao, &k->api, msg, sizeof msg);
        if (rc)
            fail(k, rc, "%s", msg);
    }
    if (rc) {
        LOG(k, MF_LOG_ERROR, "%s", k->err);
        k8s_destroy(k);
        return rc;
    }
    const char *u = getenv("USER");
    struct passwd *pw = u && *u ? NULL : getpwuid(getuid());
    snprintf(k->user, sizeof k->user, "%s", u && *u ? u : pw ? pw->pw_name : "");
    char hn[256] = "";
    gethostname(hn, sizeof hn - 1);
    snprintf(k->orch, sizeof k->orch, "%s %d %llu", hn, (int)getpid(), proc_start(getpid()));
    *state = k;
    return 0;
}

/* ---- jobs ---------------------------------------------------------------------------------- */


static void set_final(struct mf_job *j, int state, const char *reason)
{
    j->st.state = (uint32_t)state;
    if (!j->st.end_time)
        j->st.end_time = wall_now();
    if (reason)
        snprintf(j->st.reason, sizeof j->st.reason, "%s", reason);
    j->phase = J_ENDED;
    j->k->changed = 1;
}

static void job_free(struct mf_job *j)
{
    struct k8s *k = j->k;
    if (j->log_req) {
        k8s_api_drop(j->log_req);
        j->log_req = NULL;
        if (k->n_streams)
            k->n_streams--;
    }
    if (j->out)
        fclose(j->out);
    if (j->prev)
        j->prev->next = j->next;
    else if (k->head == j)
        k->head = j->next;
    if (j->next)
        j->next->prev = j->prev;
    else if (k->tail == j)
        k->tail = j->prev;
    json_decref(j->manifest);
    free(j->pathspec);
    free(j->step);
    free(j->pod_name);
    free(j->out_path);
    free(j);
}

static char *job_path(struct k8s *k, const char *name)
{
    return strf("/apis/batch/v1/namespaces/%s/jobs/%s", k->ns, name);
}

static void on_deleted(struct k8s_req *r, void *ud)
{
    struct mf_job *j = ud;
    if (!j)
        return;   /* an orphan's delete: nobody waits for it */
    struct k8s *k = j->k;
    j->deleting = 0;
    if (r->rc && r->rc != MF_ENOTFOUND) {
        LOG(k, MF_LOG_WARN, "%s (the task %s may go on running; delete the Job by hand)", r->msg,
            j->pathspec);
        j->delete_sent = 0;   /* tried again at the next poll */
    }
    if (j->released) {
        job_free(j);
        return;
    }
    if (j->cancel_req && j->phase != J_ENDED) {
        char why[320];
        snprintf(why, sizeof why, "Job %s deleted (propagationPolicy Background)", j->name);
        j->st.exit_code = -1;
        set_final(j, MF_JOB_CANCELLED, why);
    }
}

static const char delete_body[] =
    "{\"apiVersion\":\"v1\",\"kind\":\"DeleteOptions\",\"propagationPolicy\":\"Background\"}";

static void send_delete(struct k8s *k, struct mf_job *j, struct mf_job *ud)
{
    char *p = job_path(k, j->name);
    char what[200];
    snprintf(what, sizeof what, "delete Job %s in namespace %s", j->name, k->ns);
    if (p && k8s_api_start(k->api, "DELETE", p, delete_body, what, on_deleted, NULL, ud)) {
        j->delete_sent = 1;
        if (ud)
            j->deleting = 1;
    } else {
        LOG(k, MF_LOG_WARN, "out of memory: Job %s may go on running; delete it by hand", j->name);
    }
    free(p);
}

static void on_created(struct k8s_req *r, void *ud)
{
    struct mf_job *j = ud;
    struct k8s *k = j->k;
    /* 409 after a retry or for the same attempt's name: the Job is there, and it is ours. */
    if (r->rc == 0 || r->rc == MF_EEXIST) {
        j->phase = J_CREATED;
        j->created = wall_now();
        k->n_created++;
        k->t_last_created = mono_now();
        if (++k->batch_done == k->batch_n && k->batch_n > k->best_batch_n) {
            k->best_batch_n = k->batch_n;
            k->best_batch_s = k->t_last_created - k->batch_t0;
        }
        if (j->released || j->cancel_req) {
            send_delete(k, j, j);
            return;
        }
        return;
    }
    if (j->released) {
        job_free(j);
        return;
    }
    j->st.exit_code = -1;
    set_final(j, MF_JOB_FAILED, r->msg);
    LOG(k, MF_LOG_DEBUG, "%s", r->msg);
}

/* Delete the Jobs of earlier runs of this flow whose mflow process on this machine is gone
 * (a kill -9), so that a resumed run does not leave them running beside its own. */
static void sweep_orphans(struct k8s *k)
{
    k->swept = 1;
    char *sel = strf("app.kubernetes.io/managed-by%%3Dmflow%%2Cmflow%%2Fflow%%3D%s", k->flow_label);
    char *p = sel ? strf("/apis/batch/v1/namespaces/%s/jobs?labelSelector=%s", k->ns, sel) : NULL;
    free(sel);
    if (!p)
        return;
    char *body = NULL, msg[768];
    char what[200];
    snprintf(what, sizeof what, "list the Jobs of flow %s in namespace %s", k->flow_name, k->ns);
    int rc = k8s_api_call(k->api, "GET", p, NULL, what, NULL, &body, msg, sizeof msg);
    free(p);
    if (rc) {
        LOG(k, MF_LOG_WARN, "%s (Jobs of a killed earlier run are not looked for)", msg);
        free(body);
        return;
    }
    json_error_t je;
    json_t *doc = json_loads(body ? body : "{}", 0, &je);
    free(body);
    char myhost[256] = "";
    gethostname(myhost, sizeof myhost - 1);
    size_t i, n = 0;
    json_t *it;
    json_array_foreach(json_object_get(doc, "items"), i, it) {
        struct k8s_orphan o;
        if (!k8s_orphan_candidate(it, ORCH_ANNOTATION, k->run_label, myhost, &o))
            continue;
        if (proc_start((pid_t)o.pid) == o.start && o.start)
            continue;   /* its mflow lives: another run's, leave it alone */
        struct mf_job tmp = {.k = k};
        snprintf(tmp.name, sizeof tmp.name, "%s", o.name);
        send_delete(k, &tmp, NULL);
        n++;
    }
    json_decref(doc);
    if (n)
        LOG(k, MF_LOG_INFO, "deleted %zu Job(s) of an earlier run of %s whose mflow process is "
                            "gone (they would have run beside this run's)", n, k->flow_name);
}

static void flush_creates(struct k8s *k)
{
    if (!k->n_queued)
        return;
    if (!k->swept)
        sweep_orphans(k);
    if (!k->t_first_post)
        k->t_first_post = mono_now();
    k->batch_t0 = mono_now();
    k->batch_n = k->n_queued;
    k->batch_done = 0;
    for (struct mf_job *j = k->head; j && k->n_queued; j = j->next) {
        if (j->phase != J_QUEUED || !j->manifest)
            continue;
        k->n_queued--;
        char *body = json_dumps(j->manifest, JSON_COMPACT);
        char *p = strf("/apis/batch/v1/namespaces/%s/jobs?fieldValidation=Strict", k->ns);
        char what[200];
        snprintf(what, sizeof what, "create Job %s in namespace %s", j->name, k->ns);
        if (body && p && k8s_api_start(k->api, "POST", p, body, what, on_created, NULL, j)) {
            j->phase = J_CREATING;
            json_decref(j->manifest);
            j->manifest = NULL;
        } else {
            j->st.exit_code = -1;
            set_final(j, MF_JOB_FAILED, "k8s: out of memory creating the Job");
        }
        free(body);
        free(p);
    }
    if (!k->next_tick)
        k->next_tick = mono_now() + k->poll_ms / 1000.0;
}

/* A step's own settings ("k8s.KEY=VALUE" in mf_job_spec.settings, flow ABI 1.2). */
struct step_set {
    const char *overlay, *service_account, *pull_policy;
    char **node_selector, **secrets;
    int has_node_selector, has_secrets, has_tols;
    json_t *tols_doc;
    struct k8s_toleration *tols;
    size_t n_tols;
};

static void step_set_free(struct step_set *ss)
{
    free_vec(ss->node_selector);
    free_vec(ss->secrets);
    json_decref(ss->tols_doc);
    free(ss->tols);
}

static int step_settings(struct k8s *k, const struct mf_job_spec *spec, const char *step,
                         struct step_set *ss)
{
    memset(ss, 0, sizeof *ss);
    if (!MF_HAS_FIELD(spec, settings) || !spec->settings)
        return 0;
    for (size_t i = 0; spec->settings[i]; i++) {
        const char *e = spec->settings[i];
        if (strncmp(e, PLUGIN_NAME ".", sizeof PLUGIN_NAME))
            continue;   /* another plugin's */
        const char *key = e + sizeof PLUGIN_NAME, *eq = strchr(key, '=');
        if (!eq)
            return fail(k, MF_EINVAL, "step '%s': setting '%s' has no value (k8s.KEY=VALUE)", step, e);
        size_t kl = (size_t)(eq - key);
        const char *v = eq + 1;
        int bad = 0;
#define IS(name) (kl == sizeof(name) - 1 && !strncmp(key, name, kl))
        if (IS("pod_overlay")) {
            json_error_t je;
            json_t *o = json_loads(v, 0, &je);
            int ok = json_is_object(o);
            json_decref(o);
            if (!ok)
                return fail(k, MF_EINVAL, "step '%s': k8s.pod_overlay must be a JSON object "
                                          "(merged into the pod spec after the run's): %s",
                            step, o ? "not an object" : je.text);
            ss->overlay = v;
        } else if (IS("service_account")) {
            ss->service_account = v;
        } else if (IS("image_pull_policy")) {
            ss->pull_policy = v;
        } else if (IS("node_selector")) {
            free_vec(ss->node_selector);
            ss->node_selector = split_list(v, &bad);
            ss->has_node_selector = 1;
        } else if (IS("secrets")) {
            free_vec(ss->secrets);
            ss->secrets = split_list(v, &bad);
            ss->has_secrets = 1;
        } else if (IS("tolerations")) {
            char err[512];
            json_decref(ss->tols_doc);
            free(ss->tols);
            int rc = parse_tols(v, &ss->tols_doc, &ss->tols, &ss->n_tols, err, sizeof err);
            if (rc)
                return fail(k, rc, "step '%s': k8s.%s", step, err);
            ss->has_tols = 1;
        } else if (IS("namespace")) {
            return fail(k, MF_EINVAL, "step '%s': k8s.namespace cannot be set per step (one "
                                      "namespace per run, so that one list a poll sees every "
                                      "task): set the k8s namespace setting", step);
        } else {
            return fail(k, MF_EINVAL, "step '%s': unknown setting 'k8s.%.*s' (per step: "
                                      "pod_overlay, node_selector, tolerations, service_account, "
                                      "secrets, image_pull_policy)", step, (int)kl, key);
        }
#undef IS
        if (bad)
            return fail(k, MF_ENOMEM, "k8s: out of memory");
    }
    return 0;
}

/* The task's argv as the pod must run it: the image's mflow, a home inside the pod, and no
 * --timeout-s: the Job's activeDeadlineSeconds holds the task to timeout_s (it goes on
 * counting without this process), so a timeout reads DeadlineExceeded rather than racing the
 * task's own clock; the poll ends a task the deadline missed (deadline_grace_s, status.c). */
static char **pod_argv(struct k8s *k, const char *const *argv)
{
    size_t n = 0;
    while (argv[n])
        n++;
    char **v = calloc(n + 1, sizeof *v);
    if (!v)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        const char *a = argv[i];
        if (i > 0 && !strcmp(a, "--timeout-s") && argv[i + 1]) {
            i++;
            continue;
        }
        if (i == 0)
            a = k->mflow_cmd;
        else if (!strcmp(argv[i - 1], "--home"))
            a = k->pod_home;
        if (!(v[o++] = strdup(a))) {
            free_vec(v);
            return NULL;
        }
    }
    return v;
}

static int k8s_submit(void *state, const struct mf_job_spec *spec, mf_job **out)
{
    struct k8s *k = state;
    *out = NULL;
    if (!spec || !spec->argv || !spec->argv[0])
        return fail(k, MF_EINVAL, "k8s: a job needs a command (argv)");
    struct mf_job *j = calloc(1, sizeof *j);
    if (!j)
        return fail(k, MF_ENOMEM, "k8s: out of memory");
    j->k = k;
    const char *flow = spec->flow_name ? spec->flow_name : "flow";
    const char *step = spec->step_name ? spec->step_name : "step";
    j->pathspec = strdup(spec->pathspec ? spec->pathspec : spec->argv[0]);
    j->step = strdup(step);
    j->timeout_s = spec->timeout_s;
    char run_s[32], task_s[32];
    snprintf(run_s, sizeof run_s, "%lld", (long long)spec->run_id);
    snprintf(task_s, sizeof task_s, "%lld", (long long)spec->task_id);
    if (!k->flow_label) {
        char fl[K8S_NAME_MAX + 1], rl[K8S_NAME_MAX + 1];
        k8s_label_value(flow, fl, sizeof fl);
        k8s_label_value(run_s, rl, sizeof rl);
        k->flow_label = strdup(fl);
        k->run_label = strdup(rl);
        k->flow_name = strdup(flow);
        k->run_id = spec->run_id;
    }
    /* env: the step's, then the pass_env variables that are set here */
    size_t ne = 0, np = 0;
    while (spec->env && spec->env[ne])
        ne++;
    while (k->pass_env && k->pass_env[np])
        np++;
    char **env = calloc(ne + np + 1, sizeof *env);
    size_t e = 0;
    for (size_t i = 0; env && i < np; i++) {
        const char *v = getenv(k->pass_env[i]);
        if (v)
            env[e++] = strf("%s=%s", k->pass_env[i], v);
    }
    for (size_t i = 0; env && i < ne; i++)
        env[e++] = strdup(spec->env[i]);
    char **av = pod_argv(k, spec->argv);
    struct step_set ss;
    int src = step_settings(k, spec, step, &ss);
    const struct mf_resources *r = MF_HAS_FIELD(spec, resources) ? spec->resources : NULL;
    struct k8s_job_settings s = {
        .namespace_ = k->ns,
        .default_image = k->image,
        .service_account = ss.service_account ? ss.service_account : k->service_account,
        .pull_policy = ss.pull_policy ? ss.pull_policy : k->pull_policy,
        .image_pull_secrets = (const char *const *)k->pull_secrets,
        .env_secrets = (const char *const *)(ss.has_secrets ? ss.secrets : k->env_secrets),
        .node_selector = (const char *const *)(ss.has_node_selector ? ss.node_selector
                                                                     : k->node_selector),
        .tolerations = ss.has_tols ? ss.tols : k->tols,
        .n_tolerations = ss.has_tols ? ss.n_tols : k->n_tols,
        .ttl_after_finished_s = (int32_t)k->ttl,
        .pod_overlay_json = k->overlay,
        .mflow_version = k->host->version,
    };
    struct k8s_job_input in = {
        .flow = flow, .run_id = run_s, .step = step, .task_id = task_s, .user = k->user,
        .attempt = spec->attempt,
        .image = MF_HAS_FIELD(spec, image) ? spec->image : NULL,
        .argv = (const char *const *)av,
        .package_url = MF_HAS_FIELD(spec, package_url) ? spec->package_url : NULL,
        .env = (const char *const *)env,
        .timeout_s = spec->timeout_s,
        .cpu = r && MF_HAS_FIELD(r, cpu) ? r->cpu : 0,
        .memory_mb = r && MF_HAS_FIELD(r, memory_mb) ? r->memory_mb : 0,
        .gpu = r && MF_HAS_FIELD(r, gpu) ? r->gpu : 0,
        .step_pod_overlay_json = ss.overlay,
    };
    char msg[1024] = "";
    int rc = src;
    if (!rc && (!j->pathspec || !j->step || !av || !env || !k->flow_label || !k->run_label))
        rc = fail(k, MF_ENOMEM, "k8s: out of memory");
    for (size_t i = 0; !rc && i < e; i++)
        if (!env[i])
            rc = fail(k, MF_ENOMEM, "k8s: out of memory");
    if (!rc && (rc = k8s_job_name(&in, j->name, sizeof j->name)) != 0)
        fail(k, rc, "k8s: %s: cannot name its Job", j->pathspec);
    if (!rc && (rc = k8s_manifest_build(&s, &in, &j->manifest, msg, sizeof msg)) != 0)
        fail(k, rc, "%s", msg);
    if (!rc) {
        json_t *ann = json_object_get(json_object_get(j->manifest, "metadata"), "annotations");
        if (!ann || json_object_set_new(ann, ORCH_ANNOTATION, json_string(k->orch)))
            rc = fail(k, MF_ENOMEM, "k8s: out of memory");
    }
    for (size_t i = 0; env && i < e; i++)
        free(env[i]);
    free(env);
    free_vec(av);
    step_set_free(&ss);
    if (!rc && MF_HAS_FIELD(spec, stdout_path) && spec->stdout_path && *spec->stdout_path) {
        j->out_path = strdup(spec->stdout_path);
        if (!j->out_path)
            rc = fail(k, MF_ENOMEM, "k8s: out of memory");
    }
    if (rc) {
        json_decref(j->manifest);
        free(j->pathspec);
        free(j->step);
        free(j->out_path);
        free(j);
        return rc;
    }
    j->st.struct_size = sizeof j->st;
    j->st.state = MF_JOB_QUEUED;
    j->st.exit_code = -1;
    j->phase = J_QUEUED;
    j->prev = k->tail;
    if (k->tail)
        k->tail->next = j;
    else
        k->head = j;
    k->tail = j;
    k->n_queued++;
    *out = j;
    return 0;
}

static int k8s_submit_batch(void *state, const struct mf_job_spec *const *specs, size_t n,
                            mf_job **out)
{
    int first = 0;
    for (size_t i = 0; i < n; i++) {
        int rc = k8s_submit(state, specs[i], &out[i]);
        if (rc && !first)
            first = rc;
    }
    return first;
}

/* ---- logs ---------------------------------------------------------------------------------- */

static void on_log_data(struct k8s_req *r, const char *data, size_t len, void *ud)
{
    (void)r;
    struct mf_job *j = ud;
    struct k8s *k = j->k;
    j->log_bytes += len;
    if (k->host->task_output)
        k->host->task_output(j->pathspec, MF_STREAM_STDOUT, data, len);
    if (j->out_path && !j->out)
        j->out = fopen(j->out_path, "ae");
    if (j->out)
        fwrite(data, 1, len, j->out);
    k->changed = 1;
}

static void on_log_done(struct k8s_req *r, void *ud)
{
    struct mf_job *j = ud;
    struct k8s *k = j->k;
    j->log_req = NULL;
    if (k->n_streams)
        k->n_streams--;
    if (r->rc == 0)
        j->log_read = 1;
    if (j->final_pending) {
        /* The container has ended: what came is all there is (or the pod is gone). */
        j->log_done = 1;
        if (r->rc)
            LOG(k, MF_LOG_DEBUG, "%s", r->msg);
    } else if (r->rc == 0) {
        /* The server ends a follow stream when the container ends: no second request once
         * the lists say so (a stream cut while the pod runs is opened again). */
        j->log_eof = 1;
        j->log_eof_at = mono_now();
    }
    k->changed = 1;
}

static void start_log(struct k8s *k, struct mf_job *j)
{
    if (j->log_req || j->log_done || !j->pod_name)
        return;
    if (j->log_eof) {
        if (j->final_pending) {
            j->log_done = 1;
            return;
        }
        /* the lists may lag the stream's end by a poll or two; past that the stream was cut
         * while the container runs: follow it again */
        if (mono_now() - j->log_eof_at < 3.0 * k->poll_ms / 1000.0 + 1.0)
            return;
        j->log_eof = 0;
    }
    if (!j->final_pending && k->n_streams >= (size_t)k->max_streams)
        return;   /* read when it ends */
    char *p = strf("/api/v1/namespaces/%s/pods/%s/log?container=%s&follow=true", k->ns,
                   j->pod_name, K8S_MAIN_CONTAINER);
    char what[200];
    snprintf(what, sizeof what, "read the log of pod %s in namespace %s", j->pod_name, k->ns);
    struct k8s_req *r = p ? k8s_api_start(k->api, "GET", p, NULL, what, on_log_done, on_log_data, j)
                          : NULL;
    free(p);
    if (!r)
        return;
    r->delivered = j->log_bytes;   /* a new answer starts over: skip what came */
    j->log_req = r;
    k->n_streams++;
}

/* ---- polling ------------------------------------------------------------------------------- */

/* A Job of this name that another mflow created (its mflow/orchestrator differs): two
 * datastores that both have run R of flow F share the namespace, and the names are the same.
 * The create's 409 took it for this attempt's own; it is not: the task fails saying so, and
 * the Job is left alone (never deleted, its log never read as this task's). */
static int foreign_job(struct k8s *k, struct mf_job *j, const json_t *job)
{
    const char *orch = json_string_value(json_object_get(
        json_object_get(json_object_get(job, "metadata"), "annotations"), ORCH_ANNOTATION));
    if (orch && !strcmp(orch, k->orch))
        return 0;
    char why[512];   /* the reason keeps what fits (256) */
    snprintf(why, sizeof why,
             "k8s: Job %s in namespace %s is another mflow's (%s): two datastores' runs of "
             "flow %s share Job names there; give each datastore its own k8s namespace",
             j->name, k->ns, orch ? orch : "no mflow/orchestrator", k->flow_name);
    j->st.exit_code = -1;
    set_final(j, MF_JOB_FAILED, why);
    LOG(k, MF_LOG_DEBUG, "%s", why);
    return 1;
}

static void apply_tick(struct k8s *k)
{
    json_t *jobs, *pods;
    if (k8s_lists_index(k->tick_jobs, k->tick_pods, &jobs, &pods)) {
        LOG(k, MF_LOG_WARN, "out of memory reading the lists of run %s/%lld", k->flow_name,
            (long long)k->run_id);
        return;
    }
    double now = wall_now();
    for (struct mf_job *j = k->head; j; j = j->next) {
        if (j->phase != J_CREATED || j->released || j->cancel_req)
            continue;
        json_t *job = json_object_get(jobs, j->name), *pod = json_object_get(pods, j->name);
        if (j->final_pending)
            goto logs;
        if (job && foreign_job(k, j, job))
            continue;
        struct k8s_obs o = {
            .job_name = j->name, .job = job, .pod = pod, .job_seen_before = j->job_seen,
            .pod_seen_before = j->pod_seen, .now = now, .created = j->created,
            .pending_limit_s = k->pending_limit, .appear_grace_s = APPEAR_GRACE_S,
            .timeout_s = j->timeout_s, .deadline_grace_s = k->deadline_grace,
        };
        struct mf_job_status st = {.struct_size = sizeof st};
        int v = k8s_status_eval(&o, &st);
        if (job)
            j->job_seen = 1;
        if (pod) {
            j->pod_seen = 1;
            const char *pn = json_string_value(json_object_get(json_object_get(pod, "metadata"), "name"));
            if (pn && (!j->pod_name || strcmp(pn, j->pod_name))) {
                free(j->pod_name);
                j->pod_name = strdup(pn);
                j->log_bytes = 0;   /* another pod: another log */
                j->log_eof = 0;
            }
        }
        if (v == K8S_V_DELETE && !j->delete_sent)
            send_delete(k, j, NULL);
        if (st.state != j->st.state || strcmp(st.reason, j->st.reason))
            k->changed = 1;
        if (st.state == MF_JOB_QUEUED || st.state == MF_JOB_RUNNING) {
            j->st = st;
        } else {
            j->fin = st;
            j->final_pending = 1;
            j->final_at = now;
            j->st.state = MF_JOB_RUNNING;   /* until its log is read */
            /* without a container that ran there is no log to wait for */
            if (!pod || !k8s_pod_ran(pod) || st.state == MF_JOB_LOST)
                j->log_done = 1;
        }
    logs:;
        if (k8s_pod_ran(pod) || j->final_pending)
            start_log(k, j);
    }
    json_decref(jobs);
    json_decref(pods);
}

/* Finals whose log is read (or waited for long enough) are reported. */
static void settle(struct k8s *k)
{
    double now = wall_now();
    for (struct mf_job *j = k->head; j; j = j->next) {
        if (!j->final_pending || j->phase != J_CREATED)
            continue;
        if (!j->log_done && !j->log_req && j->pod_name)
            start_log(k, j);
        if (j->log_done || now - j->final_at > LOG_GRACE_S) {
            if (j->log_req) {
                k8s_api_drop(j->log_req);
                j->log_req = NULL;
                if (k->n_streams)
                    k->n_streams--;
            }
            if (j->out) {
                fclose(j->out);
                j->out = NULL;
            }
            double start = j->fin.start_time;
            j->st = j->fin;
            if (!j->st.start_time)
                j->st.start_time = start;
            j->phase = J_ENDED;
            k->changed = 1;
        }
    }
}

static void on_list(struct k8s_req *r, void *ud)
{
    struct k8s *k = ud;
    int is_pods = strstr(r->url_path, "/pods?") != NULL;
    if (r->rc) {
        k->tick_failed = 1;
        if (++k->list_failures == 1 || k->list_failures % 30 == 0)
            LOG(k, MF_LOG_WARN, "%s (states are not updated until it answers)", r->msg);
        snprintf(k->err, sizeof k->err, "%s", r->msg);
    } else {
        json_error_t je;
        json_t *doc = json_loadb(r->body ? r->body : "{}", r->body ? r->len : 2, 0, &je);
        if (is_pods) {
            json_decref(k->tick_pods);
            k->tick_pods = doc;
        } else {
            json_decref(k->tick_jobs);
            k->tick_jobs = doc;
        }
        if (!doc)
            k->tick_failed = 1;
    }
    if (--k->tick_pending == 0) {
        k->n_polls++;
        if (!k->tick_failed) {
            k->list_failures = 0;
            apply_tick(k);
        }
        json_decref(k->tick_pods);
        json_decref(k->tick_jobs);
        k->tick_pods = k->tick_jobs = NULL;
        k->next_tick = mono_now() + k->poll_ms / 1000.0;
    }
}

static int any_created(struct k8s *k)
{
    for (struct mf_job *j = k->head; j; j = j->next)
        if (j->phase == J_CREATED && !j->released && !j->cancel_req)
            return 1;
    return 0;
}

static void maybe_tick(struct k8s *k)
{
    if (k->tick_pending || !k->flow_label || mono_now() < k->next_tick || !any_created(k))
        return;
    char *sel = strf("mflow%%2Fflow%%3D%s%%2Cmflow%%2Frun%%3D%s", k->flow_label, k->run_label);
    char *pp = sel ? strf("/api/v1/namespaces/%s/pods?labelSelector=%s", k->ns, sel) : NULL;
    char *jp = sel ? strf("/apis/batch/v1/namespaces/%s/jobs?labelSelector=%s", k->ns, sel) : NULL;
    char wp[200], wj[200];
    snprintf(wp, sizeof wp, "list the pods of run %s/%lld in namespace %s", k->flow_name,
             (long long)k->run_id, k->ns);
    snprintf(wj, sizeof wj, "list the Jobs of run %s/%lld in namespace %s", k->flow_name,
             (long long)k->run_id, k->ns);
    k->tick_failed = 0;
    if (pp && jp && k8s_api_start(k->api, "GET", pp, NULL, wp, on_list, NULL, k)) {
        k->tick_pending++;
        if (k8s_api_start(k->api, "GET", jp, NULL, wj, on_list, NULL, k))
            k->tick_pending++;
        else
            k->tick_failed = 1;
    }
    free(sel);
    free(pp);
    free(jp);
    /* resend deletes that failed */
    for (struct mf_job *j = k->head; j; j = j->next)
        if (j->cancel_req && j->phase == J_CREATED && !j->delete_sent && !j->deleting)
            send_delete(k, j, j);
}

static void drive(struct k8s *k, int timeout_ms)
{
    flush_creates(k);
    maybe_tick(k);
    k8s_api_run(k->api, timeout_ms);
    settle(k);
}

static int k8s_poll(void *state, mf_job *const *jobs, size_t n, struct mf_job_status *st)
{
    struct k8s *k = state;
    drive(k, 0);
    for (size_t i = 0; i < n; i++) {
        const struct mf_job *j = jobs[i];
        if (!j)
            continue;
        size_t sz = st[i].struct_size ? st[i].struct_size : sizeof st[i];
        if (sz > sizeof j->st)
            sz = sizeof j->st;
        memcpy(&st[i], &j->st, sz);
        st[i].struct_size = (uint32_t)sz;
    }
    return 0;
}

static int k8s_wait(void *state, int timeout_ms)
{
    struct k8s *k = state;
    k->changed = 0;
    double deadline = timeout_ms < 0 ? INFINITY : mono_now() + timeout_ms / 1000.0;
    for (;;) {
        drive(k, 0);
        if (k->changed)
            return 1;
        if (!k8s_api_pending(k->api) && !any_created(k))
            return 0;
        double now = mono_now();
        if (now >= deadline)
            return 0;
        double until = deadline - now;
        if (k->next_tick && !k->tick_pending && k->next_tick - now < until)
            until = k->next_tick - now;
        int ms = (int)ceil(until * 1000);
        drive(k, ms > 0 ? ms : 1);
        if (k->changed)
            return 1;
    }
}

static void buf_release(struct mf_buf *b)
{
    free(b->opaque);
    b->opaque = NULL;
    b->data = NULL;
    b->len = 0;
}

/* The whole log of the job's pod (after it ended, when the host kept no streamed output). */
static int k8s_logs(void *state, mf_job *job, int stream, struct mf_buf *out)
{
    struct k8s *k = state;
    if (!job || (stream != MF_STREAM_STDOUT && stream != MF_STREAM_STDERR))
        return fail(k, MF_EINVAL, "k8s: logs: no such job or stream");
    out->data = NULL;
    out->len = 0;
    out->release = NULL;
    /* One stream in Kubernetes: it is stdout; what was streamed was handed over already (an
     * empty log too: no second request for it). */
    if (stream == MF_STREAM_STDERR || !job->pod_name || job->log_bytes || job->log_read)
        return 0;
    char *p = strf("/api/v1/namespaces/%s/pods/%s/log?container=%s", k->ns, job->pod_name,
                   K8S_MAIN_CONTAINER);
    char what[200], msg[768];
    snprintf(what, sizeof what, "read the log of pod %s in namespace %s", job->pod_name, k->ns);
    char *body = NULL;
    int rc = p ? k8s_api_call(k->api, "GET", p, NULL, what, NULL, &body, msg, sizeof msg) : MF_ENOMEM;
    free(p);
    if (rc) {
        free(body);
        return fail(k, rc, "%s", rc == MF_ENOMEM ? "k8s: out of memory" : msg);
    }
    out->data = body;
    out->len = body ? strlen(body) : 0;
    out->opaque = body;
    out->release = body ? buf_release : NULL;
    return 0;
}

static int k8s_cancel(void *state, mf_job *job)
{
    struct k8s *k = state;
    if (!job)
        return fail(k, MF_EINVAL, "k8s: cancel: no job");
    if (job->phase == J_ENDED || job->cancel_req)
        return 0;
    job->cancel_req = 1;
    if (job->phase == J_QUEUED) {
        if (k->n_queued)
            k->n_queued--;
        json_decref(job->manifest);
        job->manifest = NULL;
        job->st.exit_code = -1;
        set_final(job, MF_JOB_CANCELLED, "cancelled before its Job was created");
        return 0;
    }
    if (job->phase == J_CREATED)
        send_delete(k, job, job);
    /* J_CREATING: deleted as soon as the API server answers the create */
    if (job->log_req) {
        k8s_api_drop(job->log_req);
        job->log_req = NULL;
        if (k->n_streams)
            k->n_streams--;
    }
    return 0;
}

static void k8s_release(void *state, mf_job *job)
{
    struct k8s *k = state;
    if (!job)
        return;
    if (job->phase == J_QUEUED && k->n_queued)
        k->n_queued--;
    job->released = 1;
    if (job->log_req) {
        k8s_api_drop(job->log_req);
        job->log_req = NULL;
        if (k->n_streams)
            k->n_streams--;
    }
    if (job->phase == J_CREATING || job->deleting)
        return;   /* freed by the answer's callback (which deletes a created Job) */
    if (job->phase == J_CREATED || (job->phase == J_ENDED && job->final_pending && !job->log_done &&
                                    job->st.state == MF_JOB_RUNNING)) {
        /* The host forgets it while it runs: it must not go on in the cluster. */
        send_delete(k, job, NULL);
    }
    job_free(job);
}

static const char *k8s_last_error(void *state)
{
    struct k8s *k = state;
    return k && k->err[0] ? k->err : "k8s: no error";
}

/* ---- check and describe -------------------------------------------------------------------- */

static int fetch_nodes(struct k8s *k)
{
    if (k->nodes || k->nodes_forbidden)
        return 0;
    char *body = NULL, msg[768];
    long status = 0;
    int rc = k8s_api_call(k->api, "GET", "/api/v1/nodes", NULL, "list the nodes", &status, &body,
                          msg, sizeof msg);
    if (rc == MF_EPERM && status == 403) {
        /* Many users may not list nodes: the capacity stays unknown. */
        k->nodes_forbidden = 1;
        free(body);
        return 0;
    }
    if (rc) {
        free(body);
        return fail(k, rc, "%s", msg);
    }
    json_error_t je;
    k->nodes = json_loads(body ? body : "{}", 0, &je);
    free(body);
    if (!k->nodes)
        return fail(k, MF_ECORRUPT, "k8s: list the nodes: the answer is not JSON: %s", je.text);
    return 0;
}

static int local_root(const char *root)
{
    return !root || !*root || root[0] == '/' || !strncmp(root, "file:", 5) || !strstr(root, "://");
}

static int k8s_check(void *state, const char *step, const struct mf_resources *res)
{
    struct k8s *k = state;
    const char *root = k->host->datastore_root ? k->host->datastore_root() : NULL;
    if (local_root(root))
        return fail(k, MF_EINVAL,
                    "step '%s' runs on k8s compute, but the datastore %s is on this machine, "
                    "which the pods cannot reach: use an S3 datastore (--datastore-root=s3://"
                    "BUCKET/PREFIX, or MFLOW_DATASTORE_ROOT) that the cluster can reach",
                    step, root && *root ? root : "(local)");
    if (!k->checked_conn) {
        /* The connection and credentials, once, before anything is stored or submitted. */
        char *p = strf("/apis/batch/v1/namespaces/%s/jobs?limit=1", k->ns);
        char what[200], msg[768];
        snprintf(what, sizeof what, "list Jobs in namespace %s", k->ns);
        int rc = p ? k8s_api_call(k->api, "GET", p, NULL, what, NULL, NULL, msg, sizeof msg)
                   : MF_ENOMEM;
        free(p);
        if (rc)
            return fail(k, rc, "%s", rc == MF_ENOMEM ? "k8s: out of memory" : msg);
        k->checked_conn = 1;
    }
    int rc = fetch_nodes(k);
    if (rc)
        return rc;
    size_t n = json_array_size(json_object_get(k->nodes, "items"));
    if (!k->nodes || !n)
        return 0;   /* nothing visible to judge by */
    uint32_t cpu = res && MF_HAS_FIELD(res, cpu) ? res->cpu : 0;
    uint64_t mem = res && MF_HAS_FIELD(res, memory_mb) ? res->memory_mb : 0;
    uint32_t gpu = res && MF_HAS_FIELD(res, gpu) ? res->gpu : 0;
    json_int_t mc = 0, mm = 0, mg = 0;
    size_t i;
    json_t *nd;
    json_array_foreach(json_object_get(k->nodes, "items"), i, nd) {
        json_t *o = k8s_node_offer(nd);
        json_int_t c = json_integer_value(json_object_get(o, "cpus"));
        json_int_t m = json_integer_value(json_object_get(o, "memory_mb"));
        json_int_t g = json_integer_value(json_object_get(o, "gpus"));
        json_decref(o);
        if (c > mc) mc = c;
        if (m > mm) mm = m;
        if (g > mg) mg = g;
        if ((json_int_t)cpu <= c && (json_int_t)mem <= m && (json_int_t)gpu <= g)
            return 0;
    }
    return fail(k, MF_EINVAL,
                "step '%s' asks for %u CPU(s), %llu MB and %u GPU(s), more than any of the %zu "
                "node(s) of %s allocates (at most %lld CPUs, %lld MB, %lld nvidia.com/gpu): lower "
                "the step's resources or add nodes",
                step, cpu, (unsigned long long)mem, gpu, n, k->conn->server, (long long)mc,
                (long long)mm, (long long)mg);
}

static void free_json_buf(struct mf_buf *b)
{
    free(b->data);
    b->data = NULL;
}

static int k8s_describe(void *state, struct mf_buf *out)
{
    struct k8s *k = state;
    if (!k || !out)
        return MF_EINVAL;
    int rc = fetch_nodes(k);
    if (rc)
        return rc;
    json_t *offers = json_array();
    size_t i;
    json_t *nd;
    json_array_foreach(json_object_get(k->nodes, "items"), i, nd)
        json_array_append_new(offers, k8s_node_offer(nd));
    char src[512];
    snprintf(src, sizeof src, "Kubernetes API %s (context '%s' of %s): nodes' allocatable%s",
             k->conn->server, k->conn->context, k->conn->source,
             k->nodes_forbidden ? " (listing nodes is forbidden to this user: none shown)" : "");
    json_t *doc = json_pack("{s:s,s:o,s:{s:s,s:s,s:s,s:s},s:s}", "source", src, "offers", offers,
                            "limits", "cpu", "requests = limits (cores), enforced by the kubelet",
                            "memory", "requests = limits; past it the container is OOMKilled",
                            "gpu", "nvidia.com/gpu, whole devices",
                            "time", "activeDeadlineSeconds from timeout_s (DeadlineExceeded); "
                            "mflow deletes a Job still running deadline_grace_s past it",
                            "namespace", k->ns);
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (!text)
        return fail(k, MF_ENOMEM, "k8s: out of memory");
    memset(out, 0, sizeof *out);
    out->struct_size = sizeof *out;
    out->data = text;
    out->len = strlen(text);
    out->release = free_json_buf;
    return 0;
}

/* ---- lifetime ------------------------------------------------------------------------------ */

static void k8s_destroy(struct k8s *k)
{
    if (!k)
        return;
    while (k->head)
        job_free(k->head);
    k8s_api_destroy(k->api);
    k8s_conn_destroy(k->conn);
    free(k->ns);
    free(k->image);
    free(k->service_account);
    free(k->pull_policy);
    free(k->overlay);
    free(k->mflow_cmd);
    free(k->pod_home);
    free(k->stats_file);
    free_vec(k->pull_secrets);
    free_vec(k->env_secrets);
    free_vec(k->node_selector);
    free_vec(k->pass_env);
    free(k->tols);
    json_decref(k->tols_doc);
    json_decref(k->nodes);
    json_decref(k->tick_jobs);
    json_decref(k->tick_pods);
    free(k->flow_label);
    free(k->run_label);
    free(k->flow_name);
    free(k);
}

static void k8s_fini(void *state)
{
    struct k8s *k = state;
    if (!k)
        return;
    /* Whatever the host did not release still runs in the cluster: delete it, and wait for
     * the deletes (and creates whose Job must then be deleted) to be answered. */
    for (struct mf_job *j = k->head, *nx; j; j = nx) {
        nx = j->next;
        if (!j->released)
            k8s_release(k, j);
    }
    double until = mono_now() + 30;
    while (k8s_api_pending_calls(k->api) && mono_now() < until)
        if (k8s_api_run(k->api, 200) < 0)
            break;
    if (k->stats_file) {
        FILE *f = fopen(k->stats_file, "we");
        if (f) {
            fprintf(f, "{\"jobs_created\":%llu,\"create_seconds\":%.6f,\"requests\":%llu,"
                       "\"retried\":%llu,\"polls\":%llu,\"largest_batch\":%zu,\"largest_batch_seconds\":%.6f}\n",
                    k->n_created, k->n_created ? k->t_last_created - k->t_first_post : 0.0,
                    k8s_api_sent(k->api), k8s_api_retried(k->api), k->n_polls, k->best_batch_n,
                    k->best_batch_s);
            fclose(f);
        }
    }
    k8s_destroy(k);
}

static const struct mf_compute_ops ops = {
    .struct_size = sizeof(struct mf_compute_ops),
    .caps = MF_COMPUTE_REMOTE,
    .submit = k8s_submit,
    .submit_batch = k8s_submit_batch,
    .poll = k8s_poll,
    .wait = k8s_wait,
    .logs = k8s_logs,
    .cancel = k8s_cancel,
    .release = k8s_release,
    .last_error = k8s_last_error,
    .check = k8s_check,
    .describe = k8s_describe,
};

static const struct mf_plugin_desc desc = {
    .struct_size = sizeof(struct mf_plugin_desc),
    .abi_major = MF_PLUGIN_ABI_MAJOR,
    .abi_minor = MF_PLUGIN_ABI_MINOR,
    .kind = MF_PLUGIN_COMPUTE,
    .name = PLUGIN_NAME,
    .version = PLUGIN_VERSION,
    .description = "Kubernetes Jobs through the API server (one Job per task attempt)",
    .options = options,
    .n_options = sizeof options / sizeof options[0],
    .init = k8s_init,
    .fini = k8s_fini,
    .ops = &ops,
};

MF_PLUGIN_EXPORT const struct mf_plugin_desc *mf_plugin_entry_v1(const struct mf_host_api *host)
{
    (void)host;
    return &desc;
}
