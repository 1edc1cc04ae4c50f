/* Helpers of task servers written in another language (foreign_ts.h). */
#include "foreign_ts.h"

#include "ts_proto.h"
#include "util.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

void mf_foreign_ts_share_code(void)
{
    /* As mflow's own server (cmd_task_server.c): only with MFLOW_TS_SHARE_CODE=1. On this
     * project's VM (December 2026, 14 interleaved pairs of a 1000-task Python foreach) the
     * whole tree took 0.145 ms a task more CPU with the code shared (median of ~2.2 ms; more
     * in 12 of 14 pairs): the fork's copy of the page-table entries of everything the
     * interpreter has mapped costs more than the read faults it saves the children. */
    const char *share = getenv("MFLOW_TS_SHARE_CODE");
    if (share && !strcmp(share, "1"))
        mf_ts_proto_share_code();
}

/* The global options a task's command line gives before `task`, as the variables mflow
 * reads them from. */
static const char *const globals[][2] = {
    {"--home", "MFLOW_HOME"}, {"--storage", "MFLOW_STORAGE"},
    {"--datastore-root", "MFLOW_DATASTORE_ROOT"}, {"--compute", "MFLOW_COMPUTE"},
    {"--namespace", "MFLOW_NAMESPACE"},
};
enum { NGLOBALS = sizeof globals / sizeof globals[0] };

struct mf_foreign_ts {
    struct mf_ts_proto p;
    struct mf_ts_proto_request r; /* the held request */
    int held;
    int targc;                    /* argv from `task` on; 0: not a task command */
    const char *gval[NGLOBALS];   /* the global options' values, NULL when not given */
    char **set, **unset;          /* mf_foreign_ts_env_set and _unset */
    char *gkv[NGLOBALS];          /* set's NAME=VALUE of the global options */
    unsigned long forked;
    int loaded;                   /* mf_foreign_ts_serve: the first request was handed out */
};

int mf_foreign_ts_open(int req_fd, int evt_fd, mf_foreign_ts **out)
{
    *out = NULL;
    mf_foreign_ts *ts = calloc(1, sizeof *ts);
    if (!ts)
        return ENOMEM;
    int e = mf_ts_proto_open(&ts->p, req_fd, evt_fd);
    if (e) {
        free(ts);
        return e;
    }
    *out = ts;
    return 0;
}

static void free_changes(mf_foreign_ts *ts)
{
    free(ts->set);
    free(ts->unset);
    ts->set = ts->unset = NULL;
    for (int g = 0; g < NGLOBALS; g++) {
        free(ts->gkv[g]);
        ts->gkv[g] = NULL;
    }
}

static void release(mf_foreign_ts *ts)
{
    mf_ts_proto_close_fds(&ts->r);
    free_changes(ts);
    ts->held = 0;
}

void mf_foreign_ts_close(mf_foreign_ts *ts)
{
    if (!ts)
        return;
    release(ts);
    mf_ts_proto_close(&ts->p);
    free(ts);
}

/* Where `task` starts in argv and the global options before it; a word that is no option
 * before `task` (another command) or no `task` at all leaves targc 0. */
static void split_command(mf_foreign_ts *ts)
{
    int argc = (int)ts->r.h.argc;
    ts->targc = 0;
    memset(ts->gval, 0, sizeof ts->gval);
    for (int i = 1; i < argc; i++) {
        const char *a = ts->r.argv[i];
        if (!strcmp(a, "task")) {
            ts->targc = argc - i;
            return;
        }
        int k = 0, r = 0;
        for (; k < NGLOBALS; k++)
            if ((r = mf_opt_value(argc, ts->r.argv, &i, globals[k][0], &ts->gval[k])) != 0)
                break;
        if (r < 0)
            return;   /* an option without its value, last: no `task` follows */
        if (k == NGLOBALS && a[0] != '-')
            return;
    }
}

/* The next well-formed request, reaping children and sending their exits meanwhile; a
 * malformed one is answered EPROTO here. 1: a request is held (until the next call); 0: the
 * plugin closed the request socket or no longer reads events; -errno: poll failed. */
static int next_request(mf_foreign_ts *ts)
{
    release(ts);
    for (;;) {
        int got = mf_ts_proto_wait(&ts->p);
        if (got <= 0)
            return got;
        got = mf_ts_proto_receive(&ts->p, &ts->r);
        if (got == 0)
            return 0;
        if (got > 0) {
            split_command(ts);
            ts->held = 1;
            return 1;
        }
        mf_ts_proto_reply(&ts->p, -1, errno);
    }
}

int mf_foreign_ts_task_argc(const mf_foreign_ts *ts)
{
    return ts->held ? ts->targc : 0;
}

char **mf_foreign_ts_task_argv(const mf_foreign_ts *ts)
{
    return ts->held && ts->targc ? ts->r.argv + ts->r.h.argc - ts->targc : NULL;
}

/* The value the request gives variable name (of length n), or NULL when it has none. */
static const char *wanted(const mf_foreign_ts *ts, const char *name, size_t n, int *global)
{
    for (int k = 0; k < NGLOBALS; k++)
        if (ts->gval[k] && strlen(globals[k][1]) == n && !strncmp(globals[k][1], name, n)) {
            *global = 1;
            return ts->gval[k];
        }
    *global = 0;
    const char *v = NULL;
    for (char **e = ts->r.envp; *e; e++)
        if (!strncmp(*e, name, n) && (*e)[n] == '=')
            v = *e + n + 1;   /* the last one counts */
    return v;
}

/* Appends s to the NULL-terminated *v of *n entries. 0 or -1. */
static int append(char ***v, size_t *n, size_t *cap, char *s)
{
    if (mf_grow(v, cap, *n + 2, sizeof **v, 16))
        return -1;
    (*v)[(*n)++] = s;
    (*v)[*n] = NULL;
    return 0;
}

static int env_changes(mf_foreign_ts *ts)
{
    size_t n = 0, cap = 0, k = 0, capk = 0;
    if (append(&ts->set, &n, &cap, NULL) || append(&ts->unset, &k, &capk, NULL))
        return -1;
    n = k = 0;
    /* set: each variable of the request this environment lacks or holds otherwise (the
     * global options' ones below) */
    for (char **e = ts->r.envp; *e; e++) {
        const char *eq = strchr(*e, '=');
        if (!eq || eq == *e)
            continue;
        int global;
        size_t len = (size_t)(eq - *e);
        if (wanted(ts, *e, len, &global) != eq + 1 || global)
            continue;   /* a later one or a global option's value counts instead */
        char *name = strndup(*e, len);
        if (!name)
            return -1;
        const char *now = getenv(name);
        free(name);
        if ((!now || strcmp(now, eq + 1)) && append(&ts->set, &n, &cap, *e))
            return -1;
    }
    for (int g = 0; g < NGLOBALS; g++) {
        if (!ts->gval[g])
            continue;
        const char *now = getenv(globals[g][1]);
        if (now && !strcmp(now, ts->gval[g]))
            continue;
        if (!(ts->gkv[g] = mf_strf("%s=%s", globals[g][1], ts->gval[g])) ||
            append(&ts->set, &n, &cap, ts->gkv[g]))
            return -1;
    }
    /* unset: each variable of this environment the request does not give */
    for (char **e = environ; e && *e; e++) {
        const char *eq = strchr(*e, '=');
        size_t len = eq ? (size_t)(eq - *e) : strlen(*e);
        int global;
        if (len && !wanted(ts, *e, len, &global) && append(&ts->unset, &k, &capk, *e))
            return -1;
    }
    return 0;
}

char **mf_foreign_ts_env_set(mf_foreign_ts *ts)
{
    if (ts->held && !ts->set && env_changes(ts) != 0)
        free_changes(ts);
    return ts->set;
}

char **mf_foreign_ts_env_unset(mf_foreign_ts *ts)
{
    return mf_foreign_ts_env_set(ts) ? ts->unset : NULL;
}

/* In the parent after its fork of the held request: the request's fds closed, the plugin
 * answered with pid (> 0), or with err when the fork failed. */
static void forked(mf_foreign_ts *ts, int pid, int err)
{
    mf_ts_proto_close_fds(&ts->r);
    if (pid > 0)
        ts->forked++;
    mf_ts_proto_reply(&ts->p, pid > 0 ? pid : -1, pid > 0 ? 0 : err);
}

unsigned long mf_foreign_ts_count(const mf_foreign_ts *ts)
{
    return ts->forked;
}

int mf_foreign_ts_child(mf_foreign_ts *ts, int *err, int *changes)
{
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    int step = mf_ts_proto_child_setup(&ts->r);
    *err = step ? errno : 0;
    *changes = -1;
    if (!step && mf_foreign_ts_env_set(ts)) {
        size_t n = 0;
        for (char **v = ts->set; *v; v++)
            n++;
        for (char **v = ts->unset; *v; v++)
            n++;
        *changes = n > INT32_MAX ? INT32_MAX : (int)n;
    }
    return step;
}

int mf_foreign_ts_serve(mf_foreign_ts *ts, int held, void (*after_child)(void))
{
    for (;;) {
        if (!held) {
            int got = next_request(ts);
            if (got <= 0)
                return got < 0 ? got : 1;
            if (!ts->loaded)
                return 2;
        }
        held = 0;
        ts->loaded = 1;
        pid_t pid = fork();
        if (pid == 0) {
            if (after_child)
                after_child();
            return 0;
        }
        forked(ts, pid, errno);
    }
}

