/* The cron scheduler plugin: one marked crontab entry per deployment, for the user who
 * deploys, edited through the `crontab` command (crontab -l, crontab -, crontab -r) so that
 * cron's own checks and reload apply. The entry runs `mflow deployments fire NAME --version N`,
 * which takes the deployment's lock, runs its stored code package and logs (the core does
 * that part, the same for every scheduler). See README.md. */
#include "crontab.h"

#include <mflow/plugin.h>

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define NAME "cron"

static const struct mf_host_api *host;

struct state {
    const char *crontab;     /* the command, a setting */
    char err[1024];
};

static int fail(struct state *s, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct state *s, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->err, sizeof s->err, fmt, ap);
    va_end(ap);
    return rc;
}

/* ---- running crontab ------------------------------------------------------------------------ */

struct result {
    char *out, *errtext;
    size_t out_len;
    int status;          /* exit code; -1 when killed */
};

static int read_all(int fd, char **buf, size_t *len)
{
    size_t cap = 4096;
    *len = 0;
    *buf = malloc(cap + 1);
    if (!*buf)
        return MF_ENOMEM;
    for (;;) {
        if (*len == cap) {
            char *n = realloc(*buf, 2 * cap + 1);
            if (!n)
                return MF_ENOMEM;
            *buf = n;
            cap *= 2;
        }
        ssize_t r = read(fd, *buf + *len, cap - *len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        *len += (size_t)r;
    }
    (*buf)[*len] = '\0';
    return 0;
}

/* Run `crontab ARG` with `input` on its stdin (NULL: /dev/null); its stdout and stderr into
 * *res. MF_EUNAVAIL when the command cannot be started. */
static int run_crontab(struct state *s, const char *arg, const char *input, size_t in_len,
                       struct result *res)
{
    memset(res, 0, sizeof *res);
    int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
    if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC))
        return fail(s, errno, "cannot make a pipe: %s", strerror(errno));
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err[1], 2);
    char *argv[] = {(char *)s->crontab, (char *)arg, NULL};
    pid_t pid;
    int rc = posix_spawnp(&pid, s->crontab, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(out[1]);
    close(err[1]);
    if (rc) {
        close(in[1]);
        close(out[0]);
        close(err[0]);
        return fail(s, MF_EUNAVAIL,
                    "cannot run the crontab command '%s': %s (install cron, or set cron's "
                    "setting crontab / MFLOW_CRON_CRONTAB to the command)",
                    s->crontab, strerror(rc));
    }
    /* crontab reads all its input before it answers: write, then read */
    void (*old)(int) = signal(SIGPIPE, SIG_IGN);
    for (size_t off = 0; input && off < in_len;) {
        ssize_t w = write(in[1], input + off, in_len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    close(in[1]);
    signal(SIGPIPE, old);
    size_t elen;
    int r1 = read_all(out[0], &res->out, &res->out_len);
    int r2 = read_all(err[0], &res->errtext, &elen);
    close(out[0]);
    close(err[0]);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    res->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    if (r1 || r2)
        return fail(s, MF_ENOMEM, "out of memory reading crontab's output");
    /* one line of its words for messages */
    for (char *p = res->errtext; p && *p; p++)
        if (*p == '\n')
            *p = (p[1] ? ' ' : '\0');
    return 0;
}

static void result_free(struct result *r)
{
    free(r->out);
    free(r->errtext);
}

/* The user's crontab into *text (malloc'd; "" when there is none yet). */
static int read_crontab(struct state *s, char **text, size_t *len, int *exists)
{
    struct result r;
    int rc = run_crontab(s, "-l", NULL, 0, &r);
    if (rc) {
        result_free(&r);
        return rc;
    }
    if (r.status != 0) {
        /* Vixie cron and cronie both say "no crontab for USER" */
        if (r.errtext && strstr(r.errtext, "no crontab for")) {
            *text = r.out;
            *len = 0;
            *exists = 0;
            free(r.errtext);
            return 0;
        }
        rc = fail(s, MF_EUNAVAIL, "'%s -l' failed (exit %d): %s", s->crontab, r.status,
                  r.errtext && *r.errtext ? r.errtext : "no message");
        result_free(&r);
        return rc;
    }
    *text = r.out;
    *len = r.out_len;
    *exists = 1;
    free(r.errtext);
    return 0;
}

static int write_crontab(struct state *s, const char *text, size_t len)
{
    struct result r;
    /* nothing left: remove it, so that a user who had no crontab has none again */
    int rc = run_crontab(s, len ? "-" : "-r", len ? text : NULL, len, &r);
    if (!rc && r.status != 0)
        rc = fail(s, MF_EFAIL, "'%s %s' refused the new crontab (exit %d): %s", s->crontab,
                  len ? "-" : "-r", r.status, r.errtext && *r.errtext ? r.errtext : "no message");
    result_free(&r);
    return rc;
}

/* One edit of the crontab at a time from this home (two deploys at once would each write
 * what they read). */
static int edit_lock(struct state *s)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/cron.lock", host->home());
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        fail(s, errno, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    while (flock(fd, LOCK_EX) && errno == EINTR)
        ;
    return fd;
}

/* ---- the entry -------------------------------------------------------------------------------- */

static const char *option(const struct mf_flow_desc *f, const char *key)
{
    size_t kl = strlen(key);
    for (const char *const *o = f->options; o && *o; o++)
        if (!strncmp(*o, key, kl) && (*o)[kl] == '=')
            return *o + kl + 1;
    return NULL;
}

/* A value the entry quotes for sh: refuse what cron or sh would read otherwise ('%' is a
 * newline to cron, a quote would end the quoting). */
static int quotable(struct state *s, const char *what, const char *v)
{
    for (const char *p = v; *p; p++)
        if (*p == '\'' || *p == '%' || (unsigned char)*p < 0x20 || *p == 0x7f)
            return fail(s, MF_EINVAL,
                        "%s '%s' holds a character a crontab entry cannot carry (a quote, "
                        "'%%' or a control character): use another path",
                        what, v);
    return 0;
}

static void strlcpy0(char *dst, const char *src, size_t cap)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

static int cron_deploy(void *state, const struct mf_flow_desc *f, struct mf_deployment *out)
{
    struct state *s = state;
    const char *name = option(f, "name"), *version = option(f, "version");
    const char *mflow = option(f, "mflow"), *home = option(f, "home"), *log = option(f, "log");
    const char *storage = option(f, "storage");
    if (!name || !version || !mflow || !home || !log)
        return fail(s, MF_EINVAL, "the host gave no %s option (an mflow too old for this plugin?)",
                    !name ? "name" : !version ? "version" : !mflow ? "mflow" : !home ? "home"
                                                                                    : "log");
    if (!f->schedule || !*f->schedule)
        return fail(s, MF_EINVAL, "the cron scheduler needs a schedule: give --schedule "
                                  "'MIN HOUR DOM MON DOW' or @daily (trigger it by hand with "
                                  "mflow deployments trigger)");
    int rc;
    if ((rc = quotable(s, "the mflow path", mflow)) || (rc = quotable(s, "MFLOW_HOME", home)) ||
        (rc = quotable(s, "the log path", log)) ||
        (rc = quotable(s, "the datastore root", f->datastore_root ? f->datastore_root : "")) ||
        (rc = quotable(s, "the storage", storage ? storage : "")) ||
        (rc = quotable(s, "the schedule", f->schedule)))
        return rc;
    char *line = NULL;
    int n = asprintf(&line,
                     "%s '%s' --home='%s'%s%s%s --datastore-root='%s' deployments fire %s "
                     "--version %s >>'%s' 2>&1 " CT_MARK "%s flow=%s version=%s",
                     f->schedule, mflow, home, storage ? " --storage='" : "",
                     storage ? storage : "", storage ? "'" : "", f->datastore_root, name,
                     version, log, name, f->flow_name, version);
    if (n < 0)
        return fail(s, MF_ENOMEM, "out of memory");
    int lock = edit_lock(s);
    if (lock < 0) {
        free(line);
        return errno ? errno : MF_EIO;
    }
    char *text = NULL, *next = NULL;
    size_t len = 0, nlen = 0;
    int exists;
    rc = read_crontab(s, &text, &len, &exists);
    if (!rc) {
        next = ct_upsert(text, len, name, line, &nlen);
        if (!next)
            rc = fail(s, MF_ENOMEM, "out of memory");
        else if (!(exists && nlen == len && !memcmp(next, text, len)))   /* idempotent */
            rc = write_crontab(s, next, nlen);
    }
    close(lock);
    if (!rc) {
        strlcpy0(out->name, name, sizeof out->name);
        strlcpy0(out->flow_name, f->flow_name, sizeof out->flow_name);
        strlcpy0(out->schedule, f->schedule, sizeof out->schedule);
        const struct passwd *pw = getpwuid(getuid());
        const char *user = pw ? pw->pw_name : getenv("USER");
        if (snprintf(out->location, sizeof out->location, "crontab of %s: %s",
                     user && *user ? user : "this user", line) >= (int)sizeof out->location)
            snprintf(out->location, sizeof out->location, "crontab of %s, the line ending "
                     "'" CT_MARK "%s'", user && *user ? user : "this user", name);
        /* cron reads the crontab when it runs: say so when none seems to */
        FILE *pf = fopen("/run/crond.pid", "r");
        int pid = 0;
        if (pf) {
            if (fscanf(pf, "%d", &pid) != 1)
                pid = 0;
            fclose(pf);
        }
        if (pid <= 0 || (kill(pid, 0) && errno == ESRCH))
            host->log(MF_LOG_WARN, NAME,
                      "no cron daemon seems to run (no live pid in /run/crond.pid): %s fires "
                      "once cron runs",
                      name);
    }
    free(text);
    free(next);
    free(line);
    return rc;
}

static int cron_list(void *state, mf_deployment_cb cb, void *ud)
{
    struct state *s = state;
    char *text;
    size_t len;
    int exists;
    int rc = read_crontab(s, &text, &len, &exists);
    if (rc)
        return rc;
    for (size_t i = 0; !rc && i < len;) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t e = nl ? (size_t)(nl - text) : len, body = e - i;
        if (body && text[e - 1] == '\r')
            body--;
        struct mf_deployment d;
        memset(&d, 0, sizeof d);
        d.struct_size = sizeof d;
        if (ct_line_name(text + i, body, d.name, sizeof d.name)) {
            const char *fl = strstr(text + i, " flow=");
            if (fl && fl < text + i + body)
                snprintf(d.flow_name, sizeof d.flow_name, "%.*s", (int)strcspn(fl + 6, " \r\n"),
                         fl + 6);
            size_t cl;
            const char *cmd = ct_command(text + i, body, &cl);
            size_t sl = cmd ? (size_t)(cmd - (text + i)) : body;
            while (sl && (text[i + sl - 1] == ' ' || text[i + sl - 1] == '\t'))
                sl--;
            snprintf(d.schedule, sizeof d.schedule, "%.*s", (int)sl, text + i);
            snprintf(d.location, sizeof d.location, "%.*s", (int)body, text + i);
            rc = cb(ud, &d);
        }
        i = e + (nl ? 1 : 0);
    }
    free(text);
    return rc;
}

static int cron_remove(void *state, const char *name)
{
    struct state *s = state;
    int lock = edit_lock(s);
    if (lock < 0)
        return errno ? errno : MF_EIO;
    char *text = NULL, *next = NULL;
    size_t len = 0, nlen = 0;
    int exists, found = 0;
    int rc = read_crontab(s, &text, &len, &exists);
    if (!rc) {
        next = ct_remove(text, len, name, &nlen, &found);
        if (!next)
            rc = fail(s, MF_ENOMEM, "out of memory");
        else if (!found)
            rc = fail(s, MF_ENOTFOUND, "the crontab has no line marked '" CT_MARK "%s'", name);
        else
            rc = write_crontab(s, next, nlen);
    }
    close(lock);
    free(text);
    free(next);
    return rc;
}

/* Run the entry's command now, as cron would, detached (the firing takes the lock). */
static int cron_trigger(void *state, const char *name)
{
    struct state *s = state;
    char *text;
    size_t len, ll, cl;
    int exists;
    int rc = read_crontab(s, &text, &len, &exists);
    if (rc)
        return rc;
    const char *line, *cmd;
    if (!ct_find(text, len, name, &line, &ll) || !(cmd = ct_command(line, ll, &cl))) {
        free(text);
        return fail(s, MF_ENOTFOUND,
                    "the crontab has no line marked '" CT_MARK "%s': deploy it again", name);
    }
    char *c = strndup(cmd, cl);
    free(text);
    if (!c)
        return fail(s, MF_ENOMEM, "out of memory");
    pid_t pid = fork();
    if (pid < 0) {
        free(c);
        return fail(s, errno, "cannot fork: %s", strerror(errno));
    }
    if (pid == 0) {
        /* a grandchild in a session of its own outlives the command that triggered it */
        setsid();
        if (fork() != 0)
            _exit(0);
        int fd = open("/dev/null", O_RDWR);
        if (fd >= 0) {
            dup2(fd, 0);
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execl("/bin/sh", "sh", "-c", c, (char *)NULL);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    free(c);
    return 0;
}

static const char *cron_last_error(void *state)
{
    struct state *s = state;
    return s && s->err[0] ? s->err : "no error";
}

static int cron_init(const struct mf_host_api *h, void **out)
{
    struct state *s = calloc(1, sizeof *s);
    if (!s)
        return MF_ENOMEM;
    const char *c = h->config_get(NAME, "crontab");
    s->crontab = c && *c ? c : "crontab";
    *out = s;
    return 0;
}

static void cron_fini(void *state)
{
    free(state);
}

static const struct mf_option_def options[] = {
    {sizeof(struct mf_option_def), MF_OPT_STRING, "crontab", "MFLOW_CRON_CRONTAB", "crontab",
     "the crontab command that lists (-l), installs (-) and removes (-r) the user's crontab"},
};

static const struct mf_scheduler_ops ops = {
    .struct_size = sizeof(struct mf_scheduler_ops),
    .deploy = cron_deploy,
    .list = cron_list,
    .remove = cron_remove,
    .trigger = cron_trigger,
    .last_error = cron_last_error,
};

static const struct mf_plugin_desc desc = {
    .struct_size = sizeof(struct mf_plugin_desc),
    .abi_major = MF_PLUGIN_ABI_MAJOR,
    .abi_minor = MF_PLUGIN_ABI_MINOR,
    .kind = MF_PLUGIN_SCHEDULER,
    .name = NAME,
    .version = "0.1.0",
    .description = "cron: one marked crontab entry per deployment, for the deploying user",
    .options = options,
    .n_options = sizeof options / sizeof options[0],
    .init = cron_init,
    .fini = cron_fini,
    .ops = &ops,
};

MF_PLUGIN_EXPORT const struct mf_plugin_desc *mf_plugin_entry_v1(const struct mf_host_api *h)
{
    host = h;
    return &desc;
}
