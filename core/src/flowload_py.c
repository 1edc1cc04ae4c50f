/* Flows written in Python: the graph comes from `python3 -m mflow graph FILE` (the Python SDK
 * reads the class, and the source of each step's self.next, before anything runs), cached by
 * the bytes of the flow and of every file the SDK says the graph depends on; it becomes an
 * mf_flow_def like a C flow's, which the same validator checks. The steps' fn is
 * a placeholder: the task runs a Python step through mf_task_foreign_step (task.c), which
 * calls back into the Python runtime that started it. */
#include "flowload.h"

#include "blob.h"
#include "host.h"
#include "mflow-build.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define PY_CACHE_MAGIC "mflow-py-graph 2"

/* Never called (task.c runs a Python flow's steps itself); a table entry needs an fn. */
static void python_step(mf_task *t)
{
    (void)t;
}

/* Never called either: `mflow serve` hands a Python flow's endpoints to its Python process
 * (serve_py.c); a table entry needs an fn. */
static int python_endpoint(mf_endpoint *e)
{
    (void)e;
    return -1;
}

struct py_flow {
    json_t *doc;          /* the graph document; the tables' strings point into it */
    void **owned;         /* next lists, env and settings arrays */
    size_t nowned, capowned;
    int class_line;
};

int mf_flow_is_py(const char *path)
{
    size_t n = path ? strlen(path) : 0;
    return n > 3 && !strcmp(path + n - 3, ".py");
}

const char *mf_python_exe(void)
{
    const char *p = getenv("MFLOW_PYTHON");
    return p && *p ? p : "python3";
}

const char *mf_python_dir(void)
{
    return mf_running_from_build_tree() ? MF_SOURCE_ROOT "/sdk/python" : MF_PYTHON_DIR;
}

const char *mf_libmflow_path(void)
{
    return mf_running_from_build_tree() ? MF_BUILD_ROOT "/core/libmflow.so." MF_VERSION
                                        : MF_LIBDIR "/libmflow.so." MF_VERSION;
}

int mf_python_env(void)
{
    if (!getenv("MFLOW_LIBMFLOW") && setenv("MFLOW_LIBMFLOW", mf_libmflow_path(), 1))
        return errno;
    const char *old = getenv("PYTHONPATH");
    const char *dir = mf_python_dir();
    if (old && *old) {
        /* already first: a task's Python inherits what its starter set */
        size_t n = strlen(dir);
        if (!strncmp(old, dir, n) && (old[n] == ':' || !old[n]))
            return 0;
        char *v = mf_strf("%s:%s", dir, old);
        if (!v)
            return MF_ENOMEM;
        int rc = setenv("PYTHONPATH", v, 1) ? errno : 0;
        free(v);
        return rc;
    }
    return setenv("PYTHONPATH", dir, 1) ? errno : 0;
}

static int own(struct py_flow *p, void *ptr)
{
    if (!ptr || mf_grow(&p->owned, &p->capowned, p->nowned, sizeof *p->owned, 16)) {
        free(ptr);
        return MF_ENOMEM;
    }
    p->owned[p->nowned++] = ptr;
    return 0;
}

void mf_flow_py_free(struct mf_flow *f)
{
    struct py_flow *p = f ? f->py : NULL;
    if (!p)
        return;
    for (size_t i = 0; i < p->nowned; i++)
        free(p->owned[i]);
    free(p->owned);
    json_decref(p->doc);
    free(p);
    f->py = NULL;
}

const json_t *mf_flow_py_doc(const struct mf_flow *f)
{
    return f && f->py ? f->py->doc : NULL;
}

/* Run `python3 -m mflow graph abs`: its stdout into *out, its stderr into *errtext. 0 when it
 * exited 0; else the exit status (>0) or an errno from starting it. */
static int run_graph(const char *abs, struct mf_sbuf *out, struct mf_sbuf *errtext, int *status)
{
    int po[2] = {-1, -1}, pe[2] = {-1, -1};
    *status = -1;
    if (pipe2(po, O_CLOEXEC) || pipe2(pe, O_CLOEXEC)) {
        int e = errno;
        close(po[0]);
        close(po[1]);
        return e;
    }
    int rc = mf_python_env();
    const char *py = mf_python_exe();
    const char *argv[] = {py, "-m", "mflow", "graph", abs, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, po[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&fa, pe[1], STDERR_FILENO);
    posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    pid_t pid = -1;
    if (!rc)
        rc = posix_spawnp(&pid, py, &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(po[1]);
    close(pe[1]);
    struct pollfd pf[2] = {{.fd = po[0], .events = POLLIN}, {.fd = pe[0], .events = POLLIN}};
    int open_fds = rc ? 0 : 2;
    char buf[8192];
    while (open_fds > 0) {
        if (poll(pf, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (int k = 0; k < 2; k++) {
            if (pf[k].fd < 0 || !pf[k].revents)
                continue;
            ssize_t r = read(pf[k].fd, buf, sizeof buf);
            if (r > 0) {
                mf_sbuf_add(k ? errtext : out, buf, (size_t)r);
            } else if (r == 0 || errno != EINTR) {
                pf[k].fd = -1;
                open_fds--;
            }
        }
    }
    close(po[0]);
    close(pe[0]);
    if (rc)
        return rc;
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    *status = st;
    mf_sbuf_add(out, "", 1);
    mf_sbuf_add(errtext, "", 1);
    if (out->oom || errtext->oom)
        return MF_ENOMEM;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* The cache entry's key: the flow's bytes, the Python that reads it, where the SDK lies and
 * this mflow's version. */
static void graph_key(const char *text, size_t len, char key[MF_BLOB_KEY_LEN + 1])
{
    const char *py = mf_python_exe(), *dir = mf_python_dir();
    struct mf_iov iov[] = {{PY_CACHE_MAGIC, sizeof PY_CACHE_MAGIC},
                           {text, len},
                           {py, strlen(py) + 1},
                           {dir, strlen(dir) + 1},
                           {MF_VERSION, sizeof MF_VERSION}};
    mf_sha256_hex(iov, sizeof iov / sizeof iov[0], key);
}

/* A cached document still holds when every file it lists has the bytes it had. */
static int deps_hold(json_t *doc)
{
    json_t *deps = json_object_get(doc, "deps");
    if (!json_is_array(deps))
        return 0;
    size_t i;
    json_t *d;
    json_array_foreach(deps, i, d) {
        const char *path = json_string_value(json_array_get(d, 0));
        const char *want = json_string_value(json_array_get(d, 1));
        char hex[MF_BLOB_KEY_LEN + 1];
        if (!path || !want || mf_sha256_file(path, hex) || strcmp(hex, want))
            return 0;
    }
    return 1;
}

/* The last document read in this process, by its cache path: a task server's children find
 * the graph their parent read (flows do not change under a running run). */
static char *memo_path;
static json_t *memo_doc;

static void memo_keep(const char *cpath, json_t *doc)
{
    char *p = strdup(cpath);
    if (!p)
        return;
    free(memo_path);
    json_decref(memo_doc);
    memo_path = p;
    memo_doc = json_incref(doc);
}

/* The graph document of the flow at abs (cached). */
static int graph_doc(const char *abs, json_t **doc, char **err)
{
    *doc = NULL;
    char *text = NULL;
    size_t len = 0;
    int rc = mf_read_file(abs, &text, &len);
    if (rc) {
        *err = mf_strf("cannot read flow %s: %s", abs, strerror(rc));
        return rc;
    }
    char key[MF_BLOB_KEY_LEN + 1];
    graph_key(text, len, key);
    free(text);
    char *dir = mf_strf("%s/cache/flows", mf_host_home());
    char *cpath = dir ? mf_strf("%s/%.32s.pygraph.json", dir, key) : NULL;
    if (!cpath) {
        free(dir);
        return MF_ENOMEM;
    }
    if (memo_path && !strcmp(memo_path, cpath)) {
        *doc = json_incref(memo_doc);
        goto out;
    }
    json_t *cached = json_load_file(cpath, 0, NULL);
    if (cached && json_is_object(cached) &&
        !strcmp(json_string_value(json_object_get(cached, "cache")) ?: "", PY_CACHE_MAGIC) &&
        deps_hold(cached)) {
        *doc = cached;
        memo_keep(cpath, cached);
        goto out;
    }
    json_decref(cached);
    struct mf_sbuf out = {0}, etext = {0};
    int status;
    rc = run_graph(abs, &out, &etext, &status);
    if (rc > 0 || rc == MF_ENOMEM) {
        *err = rc == MF_ENOMEM ? NULL
                               : mf_strf("cannot run %s to read the Python flow %s: %s (install "
                                         "python3 or set MFLOW_PYTHON)",
                                         mf_python_exe(), abs, strerror(rc));
    } else if (rc < 0) {
        /* The SDK's own message names the file and line; a traceback is the flow's own. */
        char *e = etext.data ? etext.data : "";
        size_t el = strlen(e);
        while (el && isspace((unsigned char)e[el - 1]))
            e[--el] = '\0';
        if (!el)
            *err = mf_strf("%s -m mflow graph %s failed (%s %d) and said nothing", mf_python_exe(),
                           abs, WIFSIGNALED(status) ? "signal" : "exit",
                           WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
        else if (strstr(e, "No module named mflow"))
            *err = mf_strf("Python cannot find the mflow package (looked in %s): install mflow's "
                           "Python SDK or set PYTHONPATH",
                           mf_python_dir());
        else
            *err = strdup(e);
        rc = MF_EINVAL;
    } else {
        json_error_t jerr;
        *doc = json_loads(out.data, 0, &jerr);
        if (!json_is_object(*doc) ||
            json_object_set_new(*doc, "cache", json_string(PY_CACHE_MAGIC))) {
            json_decref(*doc);
            *doc = NULL;
            *err = mf_strf("%s -m mflow graph %s printed no graph document (%s): reinstall "
                           "mflow's Python SDK",
                           mf_python_exe(), abs, jerr.text);
            rc = MF_EINVAL;
        } else if (mf_mkdir_p(dir, MF_PRIVATE_DIR_MODE) == 0) {
            char *s = json_dumps(*doc, JSON_COMPACT);
            if (s)
                mf_write_file_atomic_mode(cpath, s, strlen(s), 0600); /* best effort */
            free(s);
        }
        if (*doc)
            memo_keep(cpath, *doc);
    }
    mf_sbuf_free(&out);
    mf_sbuf_free(&etext);
out:
    free(cpath);
    free(dir);
    return rc;
}

static const char *jstr(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s && *s ? s : NULL;
}

static int jint(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_integer(v) ? (int)json_integer_value(v) : 0;
}

/* A NULL-terminated array of the strings of the JSON array a (NULL when empty). */
static int str_array(struct py_flow *p, json_t *a, const char *const **out)
{
    *out = NULL;
    size_t n = json_array_size(a);
    if (!n)
        return 0;
    const char **v = calloc(n + 1, sizeof *v);
    if (own(p, v))
        return MF_ENOMEM;
    for (size_t i = 0; i < n; i++)
        v[i] = json_string_value(json_array_get(a, i)) ?: "";
    *out = v;
    return 0;
}

static mf_type param_type(const char *t)
{
    if (!t)
        return 0;
    if (!strcmp(t, "int"))
        return MF_I64;
    if (!strcmp(t, "float"))
        return MF_F64;
    if (!strcmp(t, "str"))
        return MF_STR;
    if (!strcmp(t, "bool"))
        return MF_BOOL;
    return 0;
}

int mf_flow_py_load(struct mf_flow *f, const char *abs, char **err)
{
    struct py_flow *p = calloc(1, sizeof *p);
    if (!p)
        return MF_ENOMEM;
    f->py = p;
    int rc = graph_doc(abs, &p->doc, err);
    if (rc)
        return rc;
    json_t *steps = json_object_get(p->doc, "steps");
    json_t *params = json_object_get(p->doc, "parameters");
    size_t ns = json_array_size(steps), np = json_array_size(params);
    mf_flow_def *d = &f->own_def;
    memset(d, 0, sizeof *d);
    d->struct_size = sizeof *d;
    d->abi_version = MF_FLOW_ABI_MAJOR;
    d->abi_minor = MF_FLOW_ABI_MINOR;
    d->step_size = sizeof(mf_step_def);
    d->param_size = sizeof(mf_param_def);
    d->name = jstr(p->doc, "flow");
    p->class_line = jint(p->doc, "line");
    mf_step_def *st = calloc(ns ? ns : 1, sizeof *st);
    mf_param_def *pa = calloc(np ? np : 1, sizeof *pa);
    d->steps = st;
    d->params = pa;
    d->n_steps = ns;
    d->n_params = np;
    if (!st || !pa)
        return MF_ENOMEM;
    for (size_t i = 0; i < ns; i++) {
        json_t *s = json_array_get(steps, i);
        mf_step_def *sd = &st[i];
        sd->name = jstr(s, "name");
        sd->fn = python_step;
        json_t *next = json_object_get(s, "next");
        if (json_array_size(next)) {
            struct mf_sbuf b = {0};
            for (size_t k = 0; k < json_array_size(next); k++)
                mf_sbuf_addf(&b, "%s%s", k ? " " : "",
                             json_string_value(json_array_get(next, k)) ?: "");
            mf_sbuf_add(&b, "", 1);
            if (b.oom || own(p, b.data))
                return MF_ENOMEM;
            sd->next = b.data;
        }
        sd->foreach = jstr(s, "foreach");
        sd->join = json_is_true(json_object_get(s, "join"));
        json_t *r = json_object_get(s, "resources");
        sd->resources.cpu = jint(r, "cpu");
        sd->resources.memory_mb = jint(r, "memory");
        sd->resources.gpu = jint(r, "gpu");
        sd->retry = jint(s, "retry");
        sd->catch_var = jstr(s, "catch");
        sd->timeout_s = jint(s, "timeout");
        sd->compute = jstr(s, "compute");
        sd->image = jstr(s, "image");
        if (str_array(p, json_object_get(s, "env"), &sd->env) ||
            str_array(p, json_object_get(s, "settings"), &sd->settings))
            return MF_ENOMEM;
    }
    json_t *eps = json_object_get(p->doc, "endpoints");
    size_t ne = json_array_size(eps);
    if (ne) {
        mf_endpoint_def *ed = calloc(ne, sizeof *ed);
        if (!ed)
            return MF_ENOMEM;
        d->endpoints = ed;
        d->n_endpoints = ne;
        d->endpoint_size = sizeof *ed;
        for (size_t i = 0; i < ne; i++) {
            json_t *e = json_array_get(eps, i);
            ed[i].name = json_string_value(json_object_get(e, "name")) ?: "";
            ed[i].fn = python_endpoint;
            ed[i].help = jstr(e, "help");
        }
    }
    for (size_t i = 0; i < np; i++) {
        json_t *q = json_array_get(params, i);
        pa[i].name = jstr(q, "name");
        pa[i].type = param_type(jstr(q, "type"));
        pa[i].default_value = json_string_value(json_object_get(q, "default"));
        pa[i].help = jstr(q, "help");
    }
    return 0;
}

/* The source line of the step, parameter or endpoint named in quotes first in msg, or the
 * class's. */
static int line_of(const struct py_flow *p, const char *msg)
{
    json_t *steps = json_object_get(p->doc, "steps");
    json_t *params = json_object_get(p->doc, "parameters");
    for (const char *q = strchr(msg, '\''); q; q = strchr(q + 1, '\'')) {
        const char *e = strchr(q + 1, '\'');
        if (!e)
            break;
        size_t n = (size_t)(e - q - 1);
        json_t *lists[] = {steps, params, json_object_get(p->doc, "endpoints")};
        for (int l = 0; l < 3; l++) {
            size_t i;
            json_t *s;
            json_array_foreach(lists[l], i, s) {
                const char *name = json_string_value(json_object_get(s, "name"));
                if (name && strlen(name) == n && !strncmp(name, q + 1, n))
                    return jint(s, "line");
            }
        }
        /* next: every pair of neighbouring quotes ("endpoint 0's name 'x'") */
    }
    return p->class_line;
}

/* The validator's hints name the C table's fields; a Python flow says the same in Python. */
static const char *const py_words[][2] = {
    {"set .join = 1", "give it an inputs argument: def STEP(self, inputs)"},
    {"remove .join = 1", "take the inputs argument away"},
    {".join = 1", "def STEP(self, inputs)"},
    {"set its .next", "call self.next(...) in it"},
    {"its .next", "its self.next(...)"},
    {"the .next of", "the self.next(...) of"},
    {".foreach", "foreach="},
};

static char *in_python_words(const char *msg)
{
    struct mf_sbuf b = {0};
    for (const char *q = msg; *q;) {
        size_t k = 0, n = sizeof py_words / sizeof py_words[0];
        while (k < n && strncmp(q, py_words[k][0], strlen(py_words[k][0])))
            k++;
        if (k < n) {
            mf_sbuf_add(&b, py_words[k][1], strlen(py_words[k][1]));
            q += strlen(py_words[k][0]);
        } else {
            mf_sbuf_add(&b, q++, 1);
        }
    }
    mf_sbuf_add(&b, "", 1);
    if (b.oom) {
        mf_sbuf_free(&b);
        return NULL;
    }
    return b.data;
}

char *mf_flow_py_locate(const struct mf_flow *f, const char *shown, const char *msg)
{
    const struct py_flow *p = f->py;
    int line = p ? line_of(p, msg) : 0;
    char *words = in_python_words(msg);
    if (!words)
        return NULL;
    char *out = line > 0 ? mf_strf("%s:%d: %s", shown, line, words) : mf_strf("%s: %s", shown, words);
    free(words);
    return out;
}
