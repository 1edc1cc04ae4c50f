/* mflow deployments list|show D|delete D|trigger D [--json], and `fire D`, what a
 * scheduler's firing runs (deploy.h has the records).
 *
 * A firing (`deployments fire D [--version N]`) appends its output to the deployment's log
 * ($MFLOW_HOME/deployments/D/log), takes the deployment's lock (flock on
 * $MFLOW_HOME/deployments/D/lock) so that it never overlaps a firing still running (it is
 * skipped and recorded instead), fetches the version's code package (the stored one, not the
 * working copy) and runs it in the namespace production:D with the tag
 * deployment_version:N. Each firing adds one line to $MFLOW_HOME/deployments/D/firings.jsonl:
 * its time, version, pid, and status (started, succeeded, failed, skipped) with the run id. */
#include "cli.h"

#include "deploy.h"
#include "host.h"
#include "index.h"
#include "model.h"
#include "package.h"
#include "runtime.h"
#include "store.h"
#include "util.h"

#include <mflow/client.h>
#include <mflow/plugin.h>

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage[] = "deployments list|show D|delete D|trigger D [--json]";

/* Every version of every deployment (or of one) from the index, grouped by name. */
struct dep {
    char name[MF_NAME_MAX];
    json_t *versions;   /* array of records, oldest first */
};

struct deps {
    struct dep *d;
    size_t n, cap;
};

static int on_dep(void *ud, const char *name, int64_t version, const char *text)
{
    (void)version;
    struct deps *l = ud;
    if (!l->n || strcmp(l->d[l->n - 1].name, name)) {
        if (mf_grow(&l->d, &l->cap, l->n, sizeof *l->d, 8))
            return MF_ENOMEM;
        snprintf(l->d[l->n].name, sizeof l->d[l->n].name, "%s", name);
        l->d[l->n].versions = json_array();
        l->n++;
    }
    json_t *j = json_loads(text, 0, NULL);
    if (j)
        json_array_append_new(l->d[l->n - 1].versions, j);
    return 0;
}

static void deps_free(struct deps *l)
{
    for (size_t i = 0; i < l->n; i++)
        json_decref(l->d[i].versions);
    free(l->d);
    memset(l, 0, sizeof *l);
}

static int load_deps(const char *name, struct deps *l)
{
    memset(l, 0, sizeof *l);
    char *dir = mf_strf("%s/index", mf_host_home());
    mf_index *ix = NULL;
    int rc = dir ? mf_index_open(dir, &ix) : MF_ENOMEM;
    free(dir);
    if (!rc)
        rc = mf_index_list_deployments(ix, name, on_dep, l);
    if (rc) {
        cli_error("%s", ix ? mf_index_error(ix) : "out of memory");
        deps_free(l);
    }
    mf_index_close(ix);
    return rc ? 1 : 0;
}

static json_t *latest(const struct dep *d)
{
    return json_array_get(d->versions, json_array_size(d->versions) - 1);
}

static const char *str(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static int not_deployed(const char *name)
{
    cli_error("no deployment named %s (mflow deployments list shows them; after a deploy "
              "elsewhere on a shared datastore, run mflow reindex)",
              name);
    return 1;
}

static int dep_list(int json)
{
    struct deps l;
    if (load_deps(NULL, &l))
        return 1;
    if (json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < l.n; i++)
            json_array_append(arr, latest(&l.d[i]));
        deps_free(&l);
        return cli_print_json(arr);
    }
    if (!l.n)
        fprintf(stderr, "mflow: no deployments (mflow deploy FLOW --scheduler=NAME makes one)\n");
    else
        printf("%-24s  %-20s  %-7s  %-9s  %-14s  %s\n", "NAME", "FLOW", "VERSION", "SCHEDULER",
               "SCHEDULE", "DEPLOYED");
    for (size_t i = 0; i < l.n; i++) {
        json_t *v = latest(&l.d[i]);
        char t[32];
        cli_time(json_number_value(json_object_get(v, "created")), t, sizeof t);
        printf("%-24s  %-20s  %-7lld  %-9s  %-14s  %s\n", l.d[i].name, cli_esc(str(v, "flow")),
               (long long)json_integer_value(json_object_get(v, "version")),
               cli_esc(str(v, "scheduler")),
               json_is_string(json_object_get(v, "schedule")) ? cli_esc(str(v, "schedule"))
                                                               : "-",
               t);
    }
    deps_free(&l);
    return 0;
}

static char *dep_file(const char *name, const char *leaf)
{
    return mf_strf("%s/deployments/%s/%s", mf_host_home(), name, leaf);
}

/* The firing records of a deployment (firings.jsonl), newest last; at most `max`. */
static json_t *firings(const char *name, size_t max)
{
    json_t *arr = json_array();
    char *path = dep_file(name, "firings.jsonl"), *text = NULL;
    size_t len;
    if (path && !mf_read_file(path, &text, &len)) {
        for (char *s = text, *e; s && *s; s = e) {
            e = strchr(s, '\n');
            if (e)
                *e++ = '\0';
            json_t *j = json_loads(s, 0, NULL);
            if (j)
                json_array_append_new(arr, j);
        }
    }
    /* a firing that ended says so: its "started" line is then noise */
    for (size_t i = 0; i < json_array_size(arr);) {
        json_t *f = json_array_get(arr, i);
        int ended = 0;
        for (size_t k = i + 1; !strcmp(str(f, "status"), "started") && k < json_array_size(arr);
             k++)
            ended |= json_equal(json_object_get(json_array_get(arr, k), "pid"),
                                json_object_get(f, "pid"));
        if (ended)
            json_array_remove(arr, i);
        else
            i++;
    }
    while (json_array_size(arr) > max)
        json_array_remove(arr, 0);
    free(text);
    free(path);
    return arr;
}

/* The runs of the deployment (namespace production:D), newest first, at most max. */
static json_t *dep_runs(const char *name, const char *flow, size_t max)
{
    json_t *arr = json_array();
    char *ns = mf_strf(MF_DEPLOY_NS_PREFIX "%s", name);
    struct mf_client_opts o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.ns = ns;
    mf_client *c = NULL;
    mf_client_runs *l = NULL;
    if (ns && !mf_client_open(&o, &c) && !mf_client_list_runs(c, flow, NULL, 0, &l)) {
        size_t n = mf_client_runs_count(l);
        for (size_t i = 0; i < n && i < max; i++) {
            mf_client_run *r = mf_client_runs_at(l, i);
            char st[64];
            cli_run_status(r, st, sizeof st);
            const char *ver = "";
            for (size_t k = 0; k < mf_client_run_tag_count(r); k++)
                if (!strncmp(mf_client_run_tag(r, k), MF_DEPLOY_VERSION_TAG,
                             strlen(MF_DEPLOY_VERSION_TAG)))
                    ver = mf_client_run_tag(r, k) + strlen(MF_DEPLOY_VERSION_TAG);
            json_array_append_new(
                arr, json_pack("{s:o,s:I,s:s,s:s,s:f,s:f}", "pathspec",
                               cli_json_text(mf_client_run_pathspec(r)), "run_id",
                               (json_int_t)mf_client_run_id(r), "status", st,
                               "deployment_version", ver, "start_time",
                               mf_client_run_start_time(r), "end_time",
                               mf_client_run_end_time(r)));
        }
    } else if (c) {
        fprintf(stderr, "mflow: warning: cannot list the runs of %s: %s\n", name,
                mf_client_error(c));
    }
    mf_client_runs_free(l);
    mf_client_close(c);
    free(ns);
    return arr;
}

static int dep_show(const char *name, int json)
{
    struct deps l;
    if (load_deps(name, &l))
        return 1;
    if (!l.n) {
        deps_free(&l);
        return not_deployed(name);
    }
    json_t *cur = json_incref(latest(&l.d[0]));
    json_t *versions = json_incref(l.d[0].versions);
    deps_free(&l);
    json_t *runs = dep_runs(name, str(cur, "flow"), 20);
    json_t *fir = firings(name, 20);
    int code;
    if (json) {
        json_t *o = json_deep_copy(cur);
        json_object_set(o, "versions", versions);
        json_object_set(o, "runs", runs);
        json_object_set(o, "firings", fir);
        code = cli_print_json(o);
    } else {
        printf("deployment %s, version %lld of flow %s\n", name,
               (long long)json_integer_value(json_object_get(cur, "version")),
               cli_esc(str(cur, "flow")));
        printf("scheduler  %s\n", cli_esc(str(cur, "scheduler")));
        printf("schedule   %s\n", json_is_string(json_object_get(cur, "schedule"))
                                      ? cli_esc(str(cur, "schedule"))
                                      : "- (none: trigger it)");
        printf("location   %s\n", cli_esc(str(cur, "location")));
        printf("package    %s\n", cli_esc(str(cur, "package")));
        printf("namespace  %s\n", cli_esc(str(cur, "namespace")));
        printf("log        %s\n", cli_esc(str(cur, "log")));
        json_t *p = json_object_get(cur, "params");
        if (json_object_size(p)) {
            printf("parameters");
            const char *k;
            json_t *v;
            json_object_foreach(p, k, v)
                printf(" %s=%s", cli_esc(k), cli_esc(json_string_value(v)));
            putchar('\n');
        }
        printf("\nversions:\n");
        size_t i;
        json_t *v;
        json_array_foreach(versions, i, v) {
            char t[32];
            cli_time(json_number_value(json_object_get(v, "created")), t, sizeof t);
            printf("  %-4lld %s  %s  schedule %s  by %s\n",
                   (long long)json_integer_value(json_object_get(v, "version")), t,
                   cli_esc(str(v, "package")),
                   json_is_string(json_object_get(v, "schedule")) ? cli_esc(str(v, "schedule"))
                                                                  : "-",
                   cli_esc(str(v, "user")));
        }
        printf("\nlast runs (mflow runs %s --namespace %s):\n", cli_esc(str(cur, "flow")),
               cli_esc(str(cur, "namespace")));
        if (!json_array_size(runs))
            printf("  none yet\n");
        json_array_foreach(runs, i, v) {
            char t[32];
            cli_time(json_number_value(json_object_get(v, "start_time")), t, sizeof t);
            printf("  %-6lld %-24s %s  version %s\n",
                   (long long)json_integer_value(json_object_get(v, "run_id")),
                   str(v, "status"), t, str(v, "deployment_version"));
        }
        printf("\nlast firings:\n");
        if (!json_array_size(fir))
            printf("  none yet\n");
        json_array_foreach(fir, i, v) {
            char t[32];
            cli_time(json_number_value(json_object_get(v, "time")), t, sizeof t);
            json_t *run = json_object_get(v, "run_id");
            printf("  %s  version %lld  %-9s", t,
                   (long long)json_integer_value(json_object_get(v, "version")),
                   str(v, "status"));
            if (json_is_integer(run))
                printf("  run %lld", (long long)json_integer_value(run));
            if (json_is_string(json_object_get(v, "reason")))
                printf("  (%s)", cli_esc(str(v, "reason")));
            putchar('\n');
        }
        code = 0;
    }
    json_decref(cur);
    json_decref(versions);
    json_decref(runs);
    json_decref(fir);
    return code;
}

/* The current record of `name` from the index (*rec, a new reference), or 1 after saying why. */
static int current(const char *name, json_t **rec)
{
    struct deps l;
    if (load_deps(name, &l))
        return 1;
    if (!l.n) {
        deps_free(&l);
        return not_deployed(name);
    }
    *rec = json_incref(latest(&l.d[0]));
    deps_free(&l);
    return 0;
}

static int open_scheduler(json_t *rec, struct mf_scheduler *s)
{
    char *err = NULL;
    if (mf_scheduler_open(str(rec, "scheduler"), s, &err)) {
        cli_error("%s", err ? err : "cannot open the scheduler plugin");
        free(err);
        return 1;
    }
    return 0;
}

static int dep_delete(const char *name)
{
    json_t *rec;
    if (current(name, &rec))
        return 1;
    struct mf_scheduler s;
    int code = 1;
    if (open_scheduler(rec, &s))
        goto out;
    int rc = s.ops->remove(s.state, name);
    if (rc == MF_ENOTFOUND)
        fprintf(stderr, "mflow: warning: scheduler %s had no deployment %s installed (%s); "
                        "forgetting it\n",
                str(rec, "scheduler"), name, s.ops->last_error(s.state));
    else if (rc) {
        cli_error("scheduler %s could not remove %s: %s (it stays deployed)",
                  str(rec, "scheduler"), name, s.ops->last_error(s.state));
        mf_scheduler_close(&s);
        goto out;
    }
    mf_scheduler_close(&s);
    struct mf_store st;
    char *err = NULL;
    if (mf_store_open(&st, &err) || mf_deploy_forget(&st, name, &err)) {
        cli_error("%s", err ? err : "cannot open the datastore");
        free(err);
        mf_store_close(&st);
        goto out;
    }
    mf_store_close(&st);
    char *dir = mf_strf("%s/index", mf_host_home());
    mf_index *ix = NULL;
    rc = dir ? mf_index_open(dir, &ix) : MF_ENOMEM;
    free(dir);
    if (!rc)
        rc = mf_index_delete_deployment(ix, name);
    if (rc && rc != MF_ENOTFOUND) {
        cli_error("%s", ix ? mf_index_error(ix) : "out of memory");
        mf_index_close(ix);
        goto out;
    }
    mf_index_close(ix);
    printf("deleted %s (its %zu version%s stay in the datastore as history; its runs stay in "
           "namespace %s)\n",
           name, (size_t)json_integer_value(json_object_get(rec, "version")),
           json_integer_value(json_object_get(rec, "version")) == 1 ? "" : "s",
           str(rec, "namespace"));
    code = 0;
out:
    json_decref(rec);
    return code;
}

static int dep_trigger(const char *name)
{
    json_t *rec;
    if (current(name, &rec))
        return 1;
    struct mf_scheduler s;
    int code = 1;
    if (!open_scheduler(rec, &s)) {
        int rc = s.ops->trigger(s.state, name);
        if (rc)
            cli_error("scheduler %s could not trigger %s: %s", str(rec, "scheduler"), name,
                      s.ops->last_error(s.state));
        else {
            printf("triggered %s (version %lld); its output goes to %s\n", name,
                   (long long)json_integer_value(json_object_get(rec, "version")),
                   str(rec, "log"));
            code = 0;
        }
        mf_scheduler_close(&s);
    }
    json_decref(rec);
    return code;
}

/* ---- fire ----------------------------------------------------------------------------------- */

static void record_firing(const char *name, json_t *o)
{
    char *path = dep_file(name, "firings.jsonl");
    char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (path && line) {
        int fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, MF_PRIVATE_FILE_MODE);
        if (fd >= 0) {
            /* One write per line: concurrent firings never interleave within a line. A line
             * an earlier write left cut short (a full disk) gets its newline first, so that
             * only it is lost to the reader, not this one too; this one, if cut short, is
             * taken back where no other line followed it. */
            struct stat sb;
            char last = '\n';
            off_t size = fstat(fd, &sb) == 0 ? sb.st_size : -1;
            if (size > 0 && pread(fd, &last, 1, size - 1) != 1)
                last = '\n';
            char *out = mf_strf("%s%s\n", last == '\n' ? "" : "\n", line);
            size_t want = out ? strlen(out) : 0;
            ssize_t w = out ? write(fd, out, want) : -1;
            if (w < 0 || (size_t)w != want) {
                int e = w < 0 ? errno : ENOSPC;
                if (w > 0 && size >= 0 && fstat(fd, &sb) == 0 && sb.st_size == size + w &&
                    ftruncate(fd, size) != 0)
                    e = errno;
                fprintf(stderr, "mflow: cannot record the firing in %s: %s (free space there)\n",
                        path, strerror(e));
            }
            free(out);
            close(fd);
        }
    }
    free(line);
    free(path);
}

static int dep_fire(const char *name, int64_t version)
{
    char *dir = mf_strf("%s/deployments/%s", mf_host_home(), name);
    char *logp = dep_file(name, "log"), *lockp = dep_file(name, "lock");
    char *err = NULL, *json = NULL, *flow_path = NULL, *idfile = NULL;
    json_t *rec = NULL;
    struct mf_store st;
    memset(&st, 0, sizeof st);
    int code = 1, lockfd = -1;
    const char **params = NULL;
    if (!dir || !logp || !lockp || mf_mkdir_p(dir, MF_PRIVATE_DIR_MODE)) {
        cli_error("cannot make %s: %s", dir ? dir : "the deployment's directory",
                  strerror(errno));
        goto out;
    }
    /* everything from here on goes to the deployment's log */
    int logfd = open(logp, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, MF_PRIVATE_FILE_MODE);
    if (logfd < 0) {
        cli_error("cannot open the log %s: %s", logp, strerror(errno));
        goto out;
    }
    fflush(stdout);
    fflush(stderr);
    dup2(logfd, STDOUT_FILENO);
    dup2(logfd, STDERR_FILENO);
    close(logfd);
    setvbuf(stdout, NULL, _IOLBF, 0);
    char t[32];
    cli_time(mf_now(), t, sizeof t);
    printf("== %s: firing of %s (pid %d)\n", t, name, (int)getpid());
    lockfd = open(lockp, O_RDWR | O_CREAT | O_CLOEXEC, MF_PRIVATE_FILE_MODE);
    if (lockfd < 0) {
        cli_error("cannot open the lock %s: %s", lockp, strerror(errno));
        goto out;
    }
    if (flock(lockfd, LOCK_EX | LOCK_NB)) {
        char holder[32] = "";
        ssize_t n = pread(lockfd, holder, sizeof holder - 1, 0);
        holder[n > 0 ? n : 0] = '\0';
        holder[strcspn(holder, "\n")] = '\0';
        char *why = mf_strf("the firing of pid %s is still running", *holder ? holder : "?");
        printf("== skipped: %s\n", why ? why : "another firing is still running");
        record_firing(name, json_pack("{s:f,s:I,s:i,s:s,s:s}", "time", mf_now(), "version",
                                      (json_int_t)version, "pid", (int)getpid(), "status",
                                      "skipped", "reason", why ? why : "overlap"));
        free(why);
        code = 0;
        goto out;
    }
    char pid[32];
    int pl = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
    if (ftruncate(lockfd, 0) || pwrite(lockfd, pid, (size_t)pl, 0) < 0)
        perror("mflow: cannot write the lock's pid");
    if (mf_store_open(&st, &err))
        goto fail;
    /* a deleted deployment never fires, even from a line left behind in a scheduler */
    int64_t cur = 0;
    int crc = mf_deploy_current(&st, name, &cur, &err);
    if (crc == MF_ENOTFOUND)
        err = mf_strf("deployment %s is not deployed (deleted?): nothing to run", name);
    if (crc)
        goto fail;
    if (!version)
        version = cur;
    if (mf_deploy_load(&st, name, version, &json, &err))
        goto fail;
    rec = json_loads(json, 0, NULL);
    if (!rec || mf_package_fetch(&st, str(rec, "package"), &flow_path, &err))
        goto fail;
    mf_store_close(&st);
    record_firing(name, json_pack("{s:f,s:I,s:i,s:s}", "time", mf_now(), "version",
                                  (json_int_t)version, "pid", (int)getpid(), "status",
                                  "started"));
    /* the run: in production:D, on the deployment's compute, with its parameters */
    char *ns = mf_strf(MF_DEPLOY_NS_PREFIX "%s", name);
    const char *compute = str(rec, "compute");
    if (!ns || mf_host_override(*compute ? compute : NULL, NULL, ns)) {
        free(ns);
        goto fail;
    }
    free(ns);
    json_t *p = json_object_get(rec, "params");
    params = calloc(json_object_size(p) + 1, sizeof *params);
    char **owned = calloc(json_object_size(p) + 1, sizeof *owned);
    size_t np = 0;
    if (!params || !owned) {
        free(owned);
        goto fail;
    }
    const char *k;
    json_t *v;
    json_object_foreach(p, k, v) {
        owned[np] = mf_strf("%s=%s", k, json_string_value(v));
        params[np] = owned[np];
        np++;
    }
    char *tag = mf_strf(MF_DEPLOY_VERSION_TAG "%lld", (long long)version);
    const char *tags[1] = {tag};
    idfile = dep_file(name, "last-run-id");
    if (idfile)
        unlink(idfile);
    struct mf_run_opts o;
    memset(&o, 0, sizeof o);
    o.flow_path = flow_path;
    o.param_args = params;
    o.n_params = np;
    o.tags = tags;
    o.n_tags = 1;
    o.run_id_file = idfile;
    printf("== running %s version %lld from %s\n", str(rec, "flow"), (long long)version,
           str(rec, "package"));
    fflush(stdout);
    code = mf_run_flow(&o);
    char *idtext = NULL;
    size_t idlen;
    long long run_id = 0;
    if (idfile && !mf_read_file(idfile, &idtext, &idlen))
        run_id = strtoll(idtext, NULL, 10);
    free(idtext);
    json_t *done = json_pack("{s:f,s:I,s:i,s:s,s:i}", "time", mf_now(), "version",
                             (json_int_t)version, "pid", (int)getpid(), "status",
                             code == 0 ? "succeeded" : "failed", "exit", code);
    if (run_id > 0)
        json_object_set_new(done, "run_id", json_integer(run_id));
    record_firing(name, done);
    cli_time(mf_now(), t, sizeof t);
    printf("== %s: %s (exit %d)\n", t, code == 0 ? "succeeded" : "failed", code);
    for (size_t i = 0; i < np; i++)
        free(owned[i]);
    free(owned);
    free(tag);
    goto out;
fail:
    cli_error("firing of %s failed: %s", name, err ? err : "out of memory");
    record_firing(name, json_pack("{s:f,s:I,s:i,s:s,s:s}", "time", mf_now(), "version",
                                  (json_int_t)version, "pid", (int)getpid(), "status", "failed",
                                  "reason", err ? err : "out of memory"));
    code = 1;
out:
    mf_store_close(&st);
    if (lockfd >= 0)
        close(lockfd);   /* releases the lock */
    json_decref(rec);
    free(params);
    free(idfile);
    free(flow_path);
    free(json);
    free(err);
    free(dir);
    free(logp);
    free(lockp);
    return code;
}

int cmd_deployments(int argc, char **argv)
{
    if (cli_wants_help(argc, argv, usage))
        return 0;
    const char *sub = NULL, *name = NULL;
    int json = 0;
    long long version = 0;
    for (int i = 1; i < argc; i++) {
        int r;
        if (!strcmp(argv[i], "--json"))
            json = 1;
        else if ((r = cli_int_opt(argc, argv, &i, "--version", 1, INT64_MAX, &version))) {
            if (r < 0)
                return 2;
        } else if (!sub && argv[i][0] != '-')
            sub = argv[i];
        else if (!name && argv[i][0] != '-')
            name = argv[i];
        else {
            cli_error("deployments: unexpected argument '%s' (usage: mflow %s)", argv[i], usage);
            return 2;
        }
    }
    if (!sub) {
        cli_error("usage: mflow %s", usage);
        return 2;
    }
    if (!strcmp(sub, "list")) {
        if (name) {
            cli_error("deployments list takes no name (mflow deployments show %s)", name);
            return 2;
        }
        return dep_list(json);
    }
    int known = !strcmp(sub, "show") || !strcmp(sub, "delete") || !strcmp(sub, "trigger") ||
                !strcmp(sub, "fire");
    if (!known) {
        cli_error("deployments: unknown subcommand '%s' (usage: mflow %s)", sub, usage);
        return 2;
    }
    if (!name) {
        cli_error("usage: mflow deployments %s D", sub);
        return 2;
    }
    if (!mf_deploy_name_valid(name)) {
        cli_error("'%s' is not a deployment name (letters, digits, '_' and '-')", name);
        return 2;
    }
    if (!strcmp(sub, "show"))
        return dep_show(name, json);
    if (!strcmp(sub, "delete"))
        return dep_delete(name);
    if (!strcmp(sub, "trigger"))
        return dep_trigger(name);
    return dep_fire(name, version);
}
