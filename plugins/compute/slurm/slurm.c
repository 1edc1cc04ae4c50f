/* The slurm compute plugin: every task is a Slurm batch job (sbatch), the tasks of one step
 * submitted together are one job array, states come from one squeue query per poll for all
 * jobs (scontrol, then sacct, for jobs squeue no longer lists), and a job's end is noticed
 * at once through a status file its script leaves in a watched directory. Not thread-safe:
 * one instance is driven by one thread (the core's event loop). See README.md. */
#include "slurm_int.h"

#include <mflow/plugin.h>
#include <mflow/plugin_util.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PLUGIN_NAME "slurm"
#define PLUGIN_VERSION "0.1.0"
#define SCRIPT_NAME "mflow-job-v1.sh"
/* Elements per array when the cluster does not say (Slurm's default MaxArraySize is 1001:
 * indices 0..1000); probe() reads the cluster's own. */
#define ARRAY_SIZE_MAX 1000
#define CHECKED_MAX 16
#define SCANCEL_CHUNK 500
#define READ_CHUNK 65536

enum {
    BIN_SBATCH, BIN_SQUEUE, BIN_SCONTROL, BIN_SCANCEL, BIN_SINFO, BIN_SACCT, N_BINS
};
static const char *const bin_names[N_BINS] = {"sbatch", "squeue", "scontrol",
                                              "scancel", "sinfo", "sacct"};

enum phase {
    J_UNSUBMITTED = 0,   /* held for the next flush (batched into an array) */
    J_SUBMITTED = 1,     /* Slurm has it */
    J_ENDED = 2,         /* final status known */
};

struct batch;

struct mf_job {
    struct slurm *sl;
    struct mf_job *prev, *next;      /* every handle, in submission order */
    struct batch *b;
    uint32_t index;                  /* in the batch */
    char *pathspec, *flow, *step, *workdir;
    int64_t run_id;
    char **argv, **env;              /* until written to the batch's files */
    uint32_t cpu, gpu, timeout_s;
    uint64_t mem_mb;
    int phase;
    int cancel_req, cancel_sent;
    int seen;                        /* listed by the latest query */
    uint64_t off[3];                 /* output forwarded, per stream (1, 2) */
    struct mf_job_status st;
};

struct batch {                       /* one sbatch: a plain job, or an array */
    struct slurm *sl;
    struct batch *prev, *next;
    char *dir;                       /* its files: argv, env, output, status */
    char jobid[32];                  /* Slurm's id; "" when sbatch failed */
    int is_array;
    uint32_t n;
    struct mf_job **jobs;            /* by index; NULL once released */
    uint32_t live;                   /* handles not released */
    uint32_t active;                 /* elements submitted and not ended */
    int wd;                          /* inotify watch, -1 */
    int warned;                      /* a pending reason was reported */
};

struct slurm {
    const struct mf_host_api *host;
    /* options */
    char *partition, *account, *qos;
    char **extra;                    /* sbatch_args, one word an argument */
    size_t n_extra;
    char *log_dir, *script;
    char *bin[N_BINS];
    int array, stream, keep_logs, fast_notify;
    uint32_t array_max;
    double poll_min, poll_max, grace_s, cmd_timeout;
    /* jobs */
    struct mf_job *head, *tail;
    size_t n_unsubmitted, n_cancel;
    char (*orphans)[48];             /* released while active: to scancel at the next flush */
    size_t n_orphans, cap_orphans;
    struct batch *batches;
    /* polling */
    double next_tick, interval;
    unsigned query_failures;
    int sacct_ok;                    /* 1 works, -1 unavailable, 0 not tried */
    int ino;                         /* inotify fd, -1 without */
    int warned_image;
    /* check */
    int probed;
    uint32_t max_cpus, max_gpus;
    uint32_t array_size;             /* elements per array: MaxArraySize - 1 */
    struct mf_resources checked[CHECKED_MAX];   /* requests sbatch --test-only accepted */
    size_t n_checked;
    uint64_t max_mem;
    /* the partition of the node with the most CPUs, memory, GPUs ("" when sinfo did not say) */
    char max_cpus_part[64], max_mem_part[64], max_gpus_part[64];
    char *iobuf;
    char err[2048];
};

static const struct mf_option_def options[] = {
    {sizeof(struct mf_option_def), MF_OPT_STRING, "partition", "MFLOW_SLURM_PARTITION", NULL,
     "partition for every job (sbatch --partition); unset: the cluster's default"},
    {sizeof(struct mf_option_def), MF_OPT_STRING, "account", "MFLOW_SLURM_ACCOUNT", NULL,
     "account to charge (sbatch --account)"},
    {sizeof(struct mf_option_def), MF_OPT_STRING, "qos", "MFLOW_SLURM_QOS", NULL,
     "quality of service (sbatch --qos)"},
    {sizeof(struct mf_option_def), MF_OPT_STRING, "sbatch_args", "MFLOW_SLURM_SBATCH_ARGS", NULL,
     "more sbatch options, separated by spaces, no quoting (e.g. \"--constraint=ib --time=30\"); they come last, so they win"},
    {sizeof(struct mf_option_def), MF_OPT_STRING, "log_dir", "MFLOW_SLURM_LOG_DIR", NULL,
     "where job scripts, output and status files go; the nodes must see it (default: $MFLOW_HOME/slurm-logs)"},
    {sizeof(struct mf_option_def), MF_OPT_BOOL, "array", "MFLOW_SLURM_ARRAY", "true",
     "tasks of one step submitted together (a foreach) become one job array"},
    {sizeof(struct mf_option_def), MF_OPT_INT, "array_max", "MFLOW_SLURM_ARRAY_MAX", "0",
     "at most this many elements of an array run at once (--array=...%N); 0: no limit"},
    {sizeof(struct mf_option_def), MF_OPT_INT, "poll_min_ms", "MFLOW_SLURM_POLL_MIN_MS", "100",
     "squeue interval after a change; it backs off from here"},
    {sizeof(struct mf_option_def), MF_OPT_INT, "poll_max_ms", "MFLOW_SLURM_POLL_MAX_MS", "800",
     "squeue interval when nothing changes (bounds how late a job killed by Slurm is noticed)"},
    {sizeof(struct mf_option_def), MF_OPT_BOOL, "fast_notify", "MFLOW_SLURM_FAST_NOTIFY", "true",
     "notice a job's end from the status file its script writes (inotify), not only from squeue"},
    {sizeof(struct mf_option_def), MF_OPT_BOOL, "stream_output", "MFLOW_SLURM_STREAM_OUTPUT",
     "true", "show the jobs' output while they run (read from their output files)"},
    {sizeof(struct mf_option_def), MF_OPT_BOOL, "keep_logs", "MFLOW_SLURM_KEEP_LOGS", "false",
     "keep each job's files in log_dir after mflow stored its output in the datastore"},
    {sizeof(struct mf_option_def), MF_OPT_INT, "kill_grace_s", "MFLOW_SLURM_KILL_GRACE_S", "5",
     "seconds between SIGTERM and SIGKILL when a task passes its timeout_s"},
    {sizeof(struct mf_option_def), MF_OPT_INT, "command_timeout_s",
     "MFLOW_SLURM_COMMAND_TIMEOUT_S", "60",
     "longest wait for one Slurm command (sbatch, squeue, ...)"},
    {sizeof(struct mf_option_def), MF_OPT_STRING, "bin_dir", "MFLOW_SLURM_BIN_DIR", NULL,
     "directory of sbatch, squeue, scontrol, scancel, sinfo, sacct (default: found on PATH)"},
};

/* ------------------------------------------------------------------------------------------ */

/* The SDK's plugin helpers (<mflow/plugin_util.h>) under this file's short names. */
#define mono_now mf_plugin_mono_now
#define wall_now mf_plugin_wall_now
#define fail(sl, rc, ...) mf_plugin_fail((sl)->err, sizeof (sl)->err, (rc), __VA_ARGS__)
#define LOG(sl, level, ...) MF_PLUGIN_LOG((sl)->host, PLUGIN_NAME, (level), __VA_ARGS__)
#define strf mf_plugin_strf

static char **copy_vec(const char *const *v)
{
    size_t n = 0;
    while (v && v[n])
        n++;
    char **c = calloc(n + 1, sizeof *c);
    if (!c)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        c[i] = strdup(v[i]);
        if (!c[i]) {
            sl_free_vec(c);
            return NULL;
        }
    }
    return c;
}

static int vec_equal(char *const *a, char *const *b)
{
    size_t i = 0;
    for (; a && b && a[i] && b[i]; i++)
        if (strcmp(a[i], b[i]) != 0)
            return 0;
    return (!a || !a[i]) && (!b || !b[i]);
}

static int str_eq0(const char *a, const char *b)
{
    return a == b || (a && b && !strcmp(a, b));
}

/* The first line of a command's stderr (for messages), trimmed. */
static const char *first_line(struct sl_out *o, const char *dflt)
{
    if (!o->data || !o->len)
        return dflt;
    char *s = o->data;
    while (*s == ' ' || *s == '\n')
        s++;
    char *nl = strchr(s, '\n');
    if (nl)
        *nl = '\0';
    return *s ? s : dflt;
}

static int run_cmd(struct slurm *sl, const char *const *argv, struct sl_out *out,
                   struct sl_out *err)
{
    return sl_run(argv, sl->cmd_timeout, out, err);
}

/* What to tell a person when a Slurm command could not run at all. */
static int cmd_failed(struct slurm *sl, int bin, int rc, struct sl_out *err)
{
    if (rc == -ENOENT)
        return fail(sl, MF_EUNAVAIL,
                    "slurm: %s was not found (install the Slurm client commands, slurm-client on "
                    "Debian, or set bin_dir / MFLOW_SLURM_BIN_DIR)",
                    sl->bin[bin]);
    if (rc == -ETIMEDOUT)
        return fail(sl, MF_ETIMEOUT,
                    "slurm: %s did not answer within %.0f s (is slurmctld up? raise "
                    "command_timeout_s if the cluster is just slow)",
                    sl->bin[bin], sl->cmd_timeout);
    if (rc < 0)
        return fail(sl, MF_EUNAVAIL, "slurm: cannot run %s: %s", sl->bin[bin], strerror(-rc));
    const char *conf = getenv("SLURM_CONF");
    return fail(sl, MF_EUNAVAIL,
                "slurm: %s failed (exit %d): %s (is slurmctld running, and SLURM_CONF=%s the "
                "right cluster?)",
                sl->bin[bin], rc, first_line(err, "no message"), conf ? conf : "(default)");
}

/* ---- options ------------------------------------------------------------------------------- */

static const char *opt(struct slurm *sl, const char *key)
{
    const char *v = sl->host->config_get ? sl->host->config_get(PLUGIN_NAME, key) : NULL;
    return v && *v ? v : NULL;
}

static int opt_bool(struct slurm *sl, const char *key, int dflt, int *out)
{
    const char *v = opt(sl, key);
    if (!v) {
        *out = dflt;
        return 0;
    }
    if (!strcasecmp(v, "true") || !strcmp(v, "1") || !strcasecmp(v, "yes") || !strcasecmp(v, "on"))
        *out = 1;
    else if (!strcasecmp(v, "false") || !strcmp(v, "0") || !strcasecmp(v, "no") ||
             !strcasecmp(v, "off"))
        *out = 0;
    else {
        LOG(sl, MF_LOG_ERROR, "option %s must be true or false, not '%s'", key, v);
        return MF_EINVAL;
    }
    return 0;
}

static int opt_int(struct slurm *sl, const char *key, long dflt, long lo, long hi, long *out)
{
    const char *v = opt(sl, key);
    if (!v) {
        *out = dflt;
        return 0;
    }
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || *end || end == v || x < lo || x > hi) {
        LOG(sl, MF_LOG_ERROR, "option %s must be a whole number from %ld to %ld, not '%s'", key,
            lo, hi, v);
        return MF_EINVAL;
    }
    *out = x;
    return 0;
}

/* The job script: the same text for every job, with no user data in it. The command and
 * its environment are read from files as data (NUL-separated), never parsed as shell. */
static const char job_script[] =
    "#!/bin/bash\n"
    "# Written by mflow's slurm compute plugin; the same for every job. It holds no user data:\n"
    "# the command and its environment come from files, read as data.\n"
    "#   $1 the batch's directory  $2 timeout_s (0: none)  $3 kill grace (s)\n"
    "#   $4 the element's index, or \"array\" for $SLURM_ARRAY_TASK_ID\n"
    "dir=$1\n"
    "timeout_s=$2\n"
    "grace=$3\n"
    "i=$4\n"
    "[ \"$i\" = array ] && i=$SLURM_ARRAY_TASK_ID\n"
    "mapfile -d '' -t cmd < \"$dir/$i.argv\" || { echo \"mflow: cannot read $dir/$i.argv\" >&2; exit 120; }\n"
    "if [ -f \"$dir/env\" ]; then\n"
    "  while IFS= read -r -d '' kv; do export \"$kv\"; done < \"$dir/env\"\n"
    "fi\n"
    "start=$SECONDS\n"
    "if [ \"$timeout_s\" -gt 0 ]; then\n"
    "  timeout -k \"$grace\" \"$timeout_s\" \"${cmd[@]}\"\n"
    "else\n"
    "  \"${cmd[@]}\"\n"
    "fi\n"
    "rc=$?\n"
    "how=exit\n"
    "if [ \"$timeout_s\" -gt 0 ] && [ $((SECONDS - start)) -ge \"$timeout_s\" ] &&\n"
    "   { [ $rc -eq 124 ] || [ $rc -eq 137 ]; }; then how=timeout; fi\n"
    "# one write, newline-terminated: a reader takes it only whole\n"
    "printf '%s %d\\n' \"$how\" \"$rc\" > \"$dir/$i.rc\"\n"
    "exit $rc\n";

static int mkdir_p(const char *path)
{
    char buf[PATH_MAX];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf)
        return ENAMETOOLONG;
    memcpy(buf, path, n + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return errno;
        *p = '/';
    }
    if (mkdir(buf, 0755) != 0 && errno != EEXIST)
        return errno;
    return 0;
}

static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? errno : EIO;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Write a file (through a temporary beside it, then rename). 0 or errno. */
static int write_file(const char *path, const void *data, size_t len, mode_t mode)
{
    char *tmp = strf("%s.tmp.%d", path, (int)getpid());
    if (!tmp)
        return ENOMEM;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    int rc = fd < 0 ? errno : write_all(fd, data, len);
    if (fd >= 0 && close(fd) != 0 && !rc)
        rc = errno;
    if (!rc && rename(tmp, path) != 0)
        rc = errno;
    if (rc)
        unlink(tmp);
    free(tmp);
    return rc;
}

static int write_script(struct slurm *sl)
{
    int rc = mkdir_p(sl->log_dir);
    if (rc)
        return fail(sl, rc, "slurm: cannot create log_dir %s: %s (set log_dir / "
                            "MFLOW_SLURM_LOG_DIR to a directory the nodes share)",
                    sl->log_dir, strerror(rc));
    /* Rewrite only when different: running jobs never see it change under them. */
    int fd = open(sl->script, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        char buf[sizeof job_script + 16];
        ssize_t n = read(fd, buf, sizeof buf);
        close(fd);
        if (n == (ssize_t)(sizeof job_script - 1) && !memcmp(buf, job_script, (size_t)n))
            return 0;
    }
    rc = write_file(sl->script, job_script, sizeof job_script - 1, 0755);
    if (rc)
        return fail(sl, rc, "slurm: cannot write the job script %s: %s", sl->script, strerror(rc));
    return 0;
}

static void sl_destroy(struct slurm *sl);

static int sl_init(const struct mf_host_api *host, void **state)
{
    *state = NULL;
    if (!host || !MF_HAS_FIELD(host, config_get) || !host->config_get ||
        !MF_HAS_FIELD(host, home) || !host->home)
        return MF_EABI;
    struct slurm *sl = calloc(1, sizeof *sl);
    if (!sl)
        return MF_ENOMEM;
    sl->host = host;
    sl->ino = -1;
    int rc = 0;
    long v;
    const char *s;
    if ((s = opt(sl, "partition")))
        sl->partition = strdup(s);
    if ((s = opt(sl, "account")))
        sl->account = strdup(s);
    if ((s = opt(sl, "qos")))
        sl->qos = strdup(s);
    sl->extra = sl_split_words(opt(sl, "sbatch_args"), &sl->n_extra);
    s = opt(sl, "log_dir");
    sl->log_dir = s ? strdup(s) : strf("%s/slurm-logs", host->home());
    sl->script = sl->log_dir ? strf("%s/%s", sl->log_dir, SCRIPT_NAME) : NULL;
    const char *bindir = opt(sl, "bin_dir");
    for (int i = 0; i < N_BINS; i++)
        sl->bin[i] = bindir ? strf("%s/%s", bindir, bin_names[i]) : strdup(bin_names[i]);
    sl->iobuf = malloc(READ_CHUNK);
    if (!sl->extra || !sl->log_dir || !sl->script || !sl->iobuf)
        rc = MF_ENOMEM;
    for (int i = 0; !rc && i < N_BINS; i++)
        if (!sl->bin[i])
            rc = MF_ENOMEM;
    if (!rc)
        rc = opt_bool(sl, "array", 1, &sl->array);
    if (!rc)
        rc = opt_bool(sl, "stream_output", 1, &sl->stream);
    if (!rc)
        rc = opt_bool(sl, "keep_logs", 0, &sl->keep_logs);
    if (!rc)
        rc = opt_bool(sl, "fast_notify", 1, &sl->fast_notify);
    if (!rc && !(rc = opt_int(sl, "array_max", 0, 0, 1000000, &v)))
        sl->array_max = (uint32_t)v;
    if (!rc && !(rc = opt_int(sl, "poll_min_ms", 100, 10, 600000, &v)))
        sl->poll_min = (double)v / 1000;
    if (!rc && !(rc = opt_int(sl, "poll_max_ms", 800, 10, 3600000, &v)))
        sl->poll_max = (double)v / 1000;
    if (!rc && sl->poll_max < sl->poll_min) {
        LOG(sl, MF_LOG_ERROR, "option poll_max_ms (%.0f) must not be below poll_min_ms (%.0f)",
            sl->poll_max * 1000, sl->poll_min * 1000);
        rc = MF_EINVAL;
    }
    if (!rc && !(rc = opt_int(sl, "kill_grace_s", 5, 0, 3600, &v)))
        sl->grace_s = (double)v;
    if (!rc && !(rc = opt_int(sl, "command_timeout_s", 60, 1, 3600, &v)))
        sl->cmd_timeout = (double)v;
    if (!rc && write_script(sl) != 0) {
        LOG(sl, MF_LOG_ERROR, "%s", sl->err);
        rc = MF_EIO;
    }
    if (!rc && sl->fast_notify) {
        sl->ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (sl->ino < 0)
            LOG(sl, MF_LOG_DEBUG, "no inotify (%s): job ends are noticed through squeue only",
                strerror(errno));
    }
    if (rc) {
        sl_destroy(sl);
        return rc;
    }
    sl->interval = sl->poll_min;
    sl->array_size = ARRAY_SIZE_MAX;
    *state = sl;
    return 0;
}

/* ---- batches and their files --------------------------------------------------------------- */

static char *elem_path(const struct mf_job *j, const char *ext)
{
    return strf("%s/%u.%s", j->b->dir, j->index, ext);
}

static void remove_elem_files(struct mf_job *j)
{
    static const char *const exts[] = {"argv", "out", "err", "rc"};
    if (!j->b || !j->b->dir || j->sl->keep_logs)
        return;
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
        char *p = elem_path(j, exts[i]);
        if (p)
            unlink(p);
        free(p);
    }
}

static void batch_free(struct batch *b)
{
    struct slurm *sl = b->sl;
    if (b->wd >= 0 && sl->ino >= 0)
        inotify_rm_watch(sl->ino, b->wd);
    if (b->dir && !sl->keep_logs) {
        char *p = strf("%s/env", b->dir);
        if (p)
            unlink(p);
        free(p);
        rmdir(b->dir);   /* leaves it when something unexpected is inside */
    }
    if (b->prev)
        b->prev->next = b->next;
    else
        sl->batches = b->next;
    if (b->next)
        b->next->prev = b->prev;
    free(b->dir);
    free(b->jobs);
    free(b);
}

static void batch_unref(struct batch *b)
{
    if (b && --b->live == 0)
        batch_free(b);
}

/* A name for files: letters, digits, '.', '-', '_' kept, the rest '_'. */
static void safe_name(char *out, size_t outsz, const char *in)
{
    size_t o = 0;
    for (const char *p = in; *p && o + 1 < outsz; p++)
        out[o++] = (isalnum((unsigned char)*p) || *p == '.' || *p == '-' || *p == '_') ? *p : '_';
    out[o] = '\0';
}

/* ---- job states ---------------------------------------------------------------------------- */

static int is_active(const struct mf_job *j)
{
    return j->phase == J_SUBMITTED;
}

/* The job's id in Slurm's words: "123" or "123_4". */
static void slurm_id(const struct mf_job *j, char *buf, size_t n)
{
    if (j->b->is_array)
        snprintf(buf, n, "%s_%u", j->b->jobid, j->index);
    else
        snprintf(buf, n, "%s", j->b->jobid);
}

/* Forward what the job's output files gained since last time. */
static void forward_output(struct mf_job *j)
{
    struct slurm *sl = j->sl;
    if (!sl->stream || !j->b || !j->b->dir || !MF_HAS_FIELD(sl->host, task_output) ||
        !sl->host->task_output)
        return;
    for (int s = MF_STREAM_STDOUT; s <= MF_STREAM_STDERR; s++) {
        char *p = elem_path(j, s == MF_STREAM_STDOUT ? "out" : "err");
        int fd = p ? open(p, O_RDONLY | O_CLOEXEC) : -1;
        free(p);
        if (fd < 0)
            continue;
        for (;;) {
            ssize_t n = pread(fd, sl->iobuf, READ_CHUNK, (off_t)j->off[s]);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            sl->host->task_output(j->pathspec, s, sl->iobuf, (size_t)n);
            j->off[s] += (uint64_t)n;
        }
        close(fd);
    }
}

static void set_ended(struct mf_job *j, int state)
{
    if (j->phase == J_ENDED)
        return;
    forward_output(j);
    if (j->phase == J_SUBMITTED && j->b)
        j->b->active--;
    j->phase = J_ENDED;
    j->st.state = (uint32_t)state;
    double now = wall_now();
    if (!j->st.end_time)
        j->st.end_time = now;
    /* For operators and bench/slurm (MFLOW_DEBUG=1): when each end was noticed. */
    LOG(j->sl, MF_LOG_DEBUG, "%s ended (state %d); noticed at %.6f", j->pathspec, state, now);
}

/* The status file the job script leaves: "exit N\n" or "timeout N\n". 1 when read whole. */
static int read_rc(struct mf_job *j, char how[16], int *code, double *mtime)
{
    char *p = elem_path(j, "rc");
    int fd = p ? open(p, O_RDONLY | O_CLOEXEC) : -1;
    free(p);
    if (fd < 0)
        return 0;
    char buf[64];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    struct stat st;
    *mtime = fstat(fd, &st) == 0 ? (double)st.st_mtim.tv_sec + st.st_mtim.tv_nsec / 1e9 : 0;
    close(fd);
    if (n <= 0 || buf[n - 1] != '\n')
        return 0;   /* not written yet, or not whole yet */
    buf[n] = '\0';
    return sscanf(buf, "%15s %d", how, code) == 2;
}

/* The job's own process ended (its script wrote the status file). */
static void end_from_rc(struct mf_job *j, const char *how, int code, double mtime)
{
    struct mf_job_status *st = &j->st;
    st->end_time = mtime;
    st->exit_code = code;
    st->term_signal = 0;
    if (!strcmp(how, "timeout")) {
        st->timed_out = 1;
        snprintf(st->reason, sizeof st->reason,
                 "killed on the node by timeout(1) after %u s (status %d)", j->timeout_s, code);
        set_ended(j, MF_JOB_FAILED);
    } else if (code == 0) {
        st->reason[0] = '\0';
        set_ended(j, MF_JOB_SUCCEEDED);
    } else if (code > 128 && code < 128 + 65) {
        st->exit_code = -1;
        st->term_signal = code - 128;
        snprintf(st->reason, sizeof st->reason, "killed by signal %d (%s)", code - 128,
                 strsignal(code - 128));
        set_ended(j, j->cancel_req ? MF_JOB_CANCELLED : MF_JOB_FAILED);
    } else {
        snprintf(st->reason, sizeof st->reason, "exited with code %d", code);
        set_ended(j, MF_JOB_FAILED);
    }
}

static int check_rc(struct mf_job *j)
{
    char how[16];
    int code;
    double mtime;
    if (!is_active(j) || !read_rc(j, how, &code, &mtime))
        return 0;
    /* A SIGTERM the job did not ask for is Slurm's doing (its time limit, a preemption, an
     * scancel elsewhere): the status file can be written before squeue says why, so leave the
     * end to what Slurm reports (apply) rather than call it a crash. */
    if (!strcmp(how, "exit") && code == 128 + SIGTERM && !j->cancel_req)
        return 0;
    end_from_rc(j, how, code, mtime);
    return 1;
}

/* What Slurm says about one job (squeue, scontrol or sacct). 1 when its state changed. */
static int apply(struct mf_job *j, const struct sl_qline *q, const char *source)
{
    if (!is_active(j))
        return 0;
    j->seen = 1;
    int timed_out = 0;
    const char *why = NULL;
    int cls = sl_classify(q->state, &timed_out, &why);
    struct mf_job_status *st = &j->st;
    uint32_t before = st->state;
    if (q->start_time)
        st->start_time = q->start_time;
    switch (cls) {
    case SL_PENDING: {
        st->state = MF_JOB_QUEUED;
        struct batch *b = j->b;
        /* A reason that will not go away by waiting: tell the person once per batch. */
        static const char *const benign[] = {"None", "Priority", "Resources", "BeginTime",
                                             "Dependency", "JobArrayTaskLimit", "Prolog",
                                             "NodeDown", "Reservation", "(null)"};
        int ok = !q->reason[0];
        for (size_t i = 0; !ok && i < sizeof benign / sizeof benign[0]; i++)
            ok = !strcmp(q->reason, benign[i]);
        if (!ok && !b->warned) {
            b->warned = 1;
            LOG(j->sl, MF_LOG_WARN, "%s (Slurm job %s) is pending: %s; see `scontrol show job %s`",
                j->pathspec, b->jobid, q->reason, b->jobid);
        }
        break;
    }
    case SL_ACTIVE:
    case SL_UNKNOWN:
        st->state = MF_JOB_RUNNING;
        break;
    default: {
        /* Ended. The status file, when there, says how the task's own process ended. */
        char how[16];
        int code = 0;
        double mtime = 0;
        int has_rc = read_rc(j, how, &code, &mtime);
        int plain_failure = cls == SL_DONE_FAILED && !strcmp(q->state, "FAILED");
        if (has_rc && (cls == SL_DONE_OK || plain_failure)) {
            end_from_rc(j, how, code, mtime);
            break;
        }
        if (cls == SL_DONE_OK) {
            st->exit_code = 0;
            st->end_time = q->end_time;
            st->reason[0] = '\0';
            set_ended(j, MF_JOB_SUCCEEDED);
            break;
        }
        char id[48];
        slurm_id(j, id, sizeof id);
        st->end_time = q->end_time ? q->end_time : (has_rc ? mtime : 0);
        st->exit_code = has_rc && strcmp(how, "timeout") ? code
                        : q->has_status                 ? q->exit_code
                                                        : -1;
        st->term_signal = 0;   /* Slurm's reason says more than the signal it used */
        char detail[64] = "";
        if (plain_failure)
            snprintf(detail, sizeof detail, "exited with code %d", st->exit_code);
        else if (q->has_status && q->term_signal)
            snprintf(detail, sizeof detail, "signal %d", q->term_signal);
        else if (has_rc)
            snprintf(detail, sizeof detail, "status %d", code);
        char rs[160] = "";
        if (q->reason[0] && strcmp(q->reason, "None") != 0)
            snprintf(rs, sizeof rs, "%sreason %s", detail[0] ? ", " : "", q->reason);
        const char *what = plain_failure ? NULL
                           : cls == SL_DONE_CANCELLED
                               ? "it was cancelled outside mflow (scancel or an administrator)"
                               : why;
        if (cls == SL_DONE_CANCELLED && j->cancel_req) {
            snprintf(st->reason, sizeof st->reason, "cancelled (scancel %s)", id);
            set_ended(j, MF_JOB_CANCELLED);
        } else {
            st->timed_out = (uint32_t)timed_out;
            snprintf(st->reason, sizeof st->reason, "Slurm job %s %s: %s%s%s%s%s", id, q->state,
                     what ? what : "", what && (detail[0] || rs[0]) ? " (" : "", detail, rs,
                     what && (detail[0] || rs[0]) ? ")" : "");
            set_ended(j, MF_JOB_FAILED);
        }
        LOG(j->sl, MF_LOG_DEBUG, "%s: %s (from %s)", j->pathspec, st->reason, source);
        break;
    }
    }
    return st->state != before;
}

/* ---- queries ------------------------------------------------------------------------------- */

struct apply_ctx {
    struct slurm *sl;
    const char *source;
    int changed;
};

static struct batch *batch_by_id(struct slurm *sl, const char *jobid)
{
    for (struct batch *b = sl->batches; b; b = b->next)
        if (b->jobid[0] && !strcmp(b->jobid, jobid))
            return b;
    return NULL;
}

static void apply_cb(void *ud, const struct sl_qline *q)
{
    struct apply_ctx *c = ud;
    struct batch *b = batch_by_id(c->sl, q->jobid);
    if (!b)
        return;
    uint32_t idx;
    if (b->is_array) {
        if (q->index < 0 || (uint64_t)q->index >= b->n)
            return;
        idx = (uint32_t)q->index;
    } else {
        if (q->index >= 0)
            return;
        idx = 0;
    }
    struct mf_job *j = b->jobs[idx];
    if (j && apply(j, q, c->source))
        c->changed = 1;
}

/* Append "a,b,c" of the active batches' ids. */
static char *active_ids(struct slurm *sl, size_t *count)
{
    size_t cap = 64, len = 0;
    char *s = malloc(cap);
    *count = 0;
    if (!s)
        return NULL;
    s[0] = '\0';
    for (struct batch *b = sl->batches; b; b = b->next) {
        if (!b->jobid[0] || b->active == 0)
            continue;
        size_t n = strlen(b->jobid);
        if (len + n + 2 > cap) {
            cap = (len + n + 2) * 2;
            char *g = realloc(s, cap);
            if (!g) {
                free(s);
                return NULL;
            }
            s = g;
        }
        if (len)
            s[len++] = ',';
        memcpy(s + len, b->jobid, n + 1);
        len += n;
        (*count)++;
    }
    return s;
}

static int scontrol_batch(struct slurm *sl, struct batch *b, struct apply_ctx *c)
{
    const char *argv[] = {sl->bin[BIN_SCONTROL], "--oneliner", "show", "job", b->jobid, NULL};
    struct sl_out out = {0}, err = {0};
    int rc = run_cmd(sl, argv, &out, &err);
    if (rc == 0 && out.data) {
        c->source = "scontrol";
        sl_parse_scontrol(out.data, apply_cb, c);
    }
    sl_out_free(&out);
    sl_out_free(&err);
    return rc;
}

static void sacct_batch(struct slurm *sl, struct batch *b, struct apply_ctx *c)
{
    if (sl->sacct_ok < 0)
        return;
    const char *argv[] = {sl->bin[BIN_SACCT], "--noheader", "--parsable2", "--allocations",
                          "--jobs", b->jobid, "--format=JobID,State,ExitCode,Start,End", NULL};
    struct sl_out out = {0}, err = {0};
    int rc = run_cmd(sl, argv, &out, &err);
    if (rc != 0) {
        /* No accounting database (or no sacct): not asked again. */
        sl->sacct_ok = -1;
        LOG(sl, MF_LOG_DEBUG, "sacct unavailable: %s", first_line(&err, "no message"));
    } else {
        sl->sacct_ok = 1;
        c->source = "sacct";
        if (out.data)
            sl_parse_sacct(out.data, apply_cb, c);
    }
    sl_out_free(&out);
    sl_out_free(&err);
}

/* Jobs squeue no longer lists: scontrol (jobs stay known for MinJobAge), then the status
 * file, then sacct, else lost. */
static void find_vanished(struct slurm *sl, struct apply_ctx *c)
{
    for (struct batch *b = sl->batches; b; b = b->next) {
        if (!b->jobid[0] || b->active == 0)
            continue;
        int missing = 0;
        for (uint32_t i = 0; i < b->n; i++)
            missing += b->jobs[i] && is_active(b->jobs[i]) && !b->jobs[i]->seen;
        if (!missing)
            continue;
        scontrol_batch(sl, b, c);
        for (uint32_t i = 0; i < b->n; i++) {
            struct mf_job *j = b->jobs[i];
            if (j && is_active(j) && !j->seen && check_rc(j))
                c->changed = 1;
        }
        missing = 0;
        for (uint32_t i = 0; i < b->n; i++)
            missing += b->jobs[i] && is_active(b->jobs[i]) && !b->jobs[i]->seen;
        if (missing)
            sacct_batch(sl, b, c);
        for (uint32_t i = 0; i < b->n; i++) {
            struct mf_job *j = b->jobs[i];
            if (!j || !is_active(j) || j->seen)
                continue;
            char id[48];
            slurm_id(j, id, sizeof id);
            snprintf(j->st.reason, sizeof j->st.reason,
                     "Slurm no longer knows job %s (it ended more than MinJobAge ago, or the "
                     "controller lost it) and it left no exit status in %s",
                     id, b->dir);
            j->st.exit_code = -1;
            set_ended(j, MF_JOB_LOST);
            c->changed = 1;
        }
    }
}

/* One squeue for every job still active. 1 when some job changed state. */
static int tick(struct slurm *sl)
{
    size_t nb = 0;
    char *ids = active_ids(sl, &nb);
    if (!ids || nb == 0) {
        free(ids);
        return 0;
    }
    for (struct mf_job *j = sl->head; j; j = j->next)
        j->seen = 0;
    const char *argv[] = {sl->bin[BIN_SQUEUE], "--noheader", "--array", "--states=all",
                          "--jobs", ids, "--Format=" SL_SQUEUE_FORMAT, NULL};
    struct sl_out out = {0}, err = {0};
    int rc = run_cmd(sl, argv, &out, &err);
    struct apply_ctx c = {sl, "squeue", 0};
    /* squeue fails when none of the ids is known any more: that is an answer too. */
    int none_known = rc == 1 && err.data && strstr(err.data, "Invalid job id");
    if (rc != 0 && !none_known) {
        sl->query_failures++;
        if (sl->query_failures == 1 || sl->query_failures % 30 == 0) {
            cmd_failed(sl, BIN_SQUEUE, rc, &err);
            LOG(sl, MF_LOG_WARN, "%s; retrying (%u failed queries so far)", sl->err,
                sl->query_failures);
        }
    } else {
        if (sl->query_failures)
            LOG(sl, MF_LOG_INFO, "squeue answers again after %u failed queries",
                sl->query_failures);
        sl->query_failures = 0;
        for (char *line = out.data, *next; line && *line; line = next) {
            next = strchr(line, '\n');
            if (next)
                *next++ = '\0';
            struct sl_qline q;
            if (sl_parse_squeue_line(line, &q) == 0)
                apply_cb(&c, &q);
        }
        find_vanished(sl, &c);
        for (struct mf_job *j = sl->head; j; j = j->next)
            if (is_active(j) && j->st.state == MF_JOB_RUNNING)
                forward_output(j);
    }
    sl_out_free(&out);
    sl_out_free(&err);
    free(ids);
    return c.changed;
}

/* Status files that appeared (inotify). 1 when some job ended. */
static int drain_inotify(struct slurm *sl)
{
    if (sl->ino < 0)
        return 0;
    int changed = 0;
    char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
    for (;;) {
        ssize_t n = read(sl->ino, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        for (char *p = buf; p < buf + n;) {
            struct inotify_event *ev = (struct inotify_event *)p;
            p += sizeof *ev + ev->len;
            if (!ev->len)
                continue;
            char *end;
            unsigned long idx = strtoul(ev->name, &end, 10);
            if (end == ev->name || strcmp(end, ".rc") != 0)
                continue;
            for (struct batch *b = sl->batches; b; b = b->next) {
                if (b->wd != ev->wd)
                    continue;
                if (idx < b->n && b->jobs[idx] && check_rc(b->jobs[idx]))
                    changed = 1;
                break;
            }
        }
    }
    return changed;
}

/* ---- submission ---------------------------------------------------------------------------- */

static int same_group(const struct mf_job *a, const struct mf_job *b)
{
    return a->run_id == b->run_id && str_eq0(a->flow, b->flow) && str_eq0(a->step, b->step) &&
           a->cpu == b->cpu && a->gpu == b->gpu && a->mem_mb == b->mem_mb &&
           a->timeout_s == b->timeout_s && str_eq0(a->workdir, b->workdir) &&
           vec_equal(a->env, b->env);
}

/* NUL-separated words into a file. */
static int write_vec(const char *path, char *const *v, size_t nv_extra, char *const *extra)
{
    size_t len = 0;
    for (size_t i = 0; v && v[i]; i++)
        len += strlen(v[i]) + 1;
    for (size_t i = 0; i < nv_extra; i++)
        len += strlen(extra[i]) + 1;
    char *buf = malloc(len ? len : 1), *p = buf;
    if (!buf)
        return ENOMEM;
    for (size_t i = 0; i < nv_extra; i++) {
        size_t n = strlen(extra[i]) + 1;
        memcpy(p, extra[i], n);
        p += n;
    }
    for (size_t i = 0; v && v[i]; i++) {
        size_t n = strlen(v[i]) + 1;
        memcpy(p, v[i], n);
        p += n;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int rc = fd < 0 ? errno : write_all(fd, buf, len);
    if (fd >= 0 && close(fd) != 0 && !rc)
        rc = errno;
    free(buf);
    return rc;
}

/* The environment a job adds to the one sbatch exports: the thread counts for its CPUs
 * (unless the step sets them), then the step's own env. */
static int write_env(const char *path, const struct mf_job *j)
{
    uint32_t cpus = j->cpu ? j->cpu : 1;
    char *pre[2];
    size_t npre = 0;
    pre[npre++] = strf("MFLOW_CPUS=%u", cpus);
    int has_omp = 0;
    for (size_t i = 0; j->env && j->env[i]; i++)
        has_omp |= !strncmp(j->env[i], "OMP_NUM_THREADS=", 16);
    if (!has_omp)
        pre[npre++] = strf("OMP_NUM_THREADS=%u", cpus);
    int rc = 0;
    for (size_t i = 0; i < npre; i++)
        if (!pre[i])
            rc = ENOMEM;
    if (!rc)
        rc = write_vec(path, j->env, npre, pre);
    for (size_t i = 0; i < npre; i++)
        free(pre[i]);
    return rc;
}

/* sbatch's options for a job of these resources (resource and site options only). */
static size_t resource_args(struct slurm *sl, const struct mf_job *j, const char **av, size_t n,
                            char bufs[][64])
{
    int k = 0;
    snprintf(bufs[k], 64, "--cpus-per-task=%u", j->cpu ? j->cpu : 1);
    av[n++] = bufs[k++];
    if (j->mem_mb) {
        snprintf(bufs[k], 64, "--mem=%lluM", (unsigned long long)j->mem_mb);
        av[n++] = bufs[k++];
    }
    if (j->gpu) {
        snprintf(bufs[k], 64, "--gres=gpu:%u", j->gpu);
        av[n++] = bufs[k++];
    }
    if (j->timeout_s) {
        /* Minutes, after the node's own timeout and its grace: Slurm is the backstop. */
        double s = (double)j->timeout_s + sl->grace_s + 60;
        snprintf(bufs[k], 64, "--time=%u", (unsigned)ceil(s / 60));
        av[n++] = bufs[k++];
    }
    av[n++] = "--no-requeue";   /* a failed attempt is mflow's to retry, as a new attempt */
    if (sl->partition) {
        av[n++] = "--partition";
        av[n++] = sl->partition;
    }
    if (sl->account) {
        av[n++] = "--account";
        av[n++] = sl->account;
    }
    if (sl->qos) {
        av[n++] = "--qos";
        av[n++] = sl->qos;
    }
    return n;
}

static void fail_group(struct mf_job **g, size_t n, const char *msg)
{
    for (size_t i = 0; i < n; i++) {
        struct mf_job *j = g[i];
        snprintf(j->st.reason, sizeof j->st.reason, "%s", msg);
        j->st.exit_code = -1;
        j->phase = J_SUBMITTED;   /* set_ended counts it out of its batch */
        if (j->b)
            j->b->active++;
        set_ended(j, MF_JOB_FAILED);
    }
}

static void submit_group(struct slurm *sl, struct mf_job **g, size_t n)
{
    struct mf_job *j0 = g[0];
    struct batch *b = calloc(1, sizeof *b);
    char msg[sizeof j0->st.reason];
    if (b)
        b->jobs = calloc(n, sizeof *b->jobs);
    if (!b || !b->jobs) {
        free(b);
        for (size_t i = 0; i < n; i++)
            g[i]->b = NULL;
        fail_group(g, n, "slurm: out of memory submitting the job");
        return;
    }
    b->sl = sl;
    b->wd = -1;
    b->n = (uint32_t)n;
    b->is_array = n > 1;
    b->live = (uint32_t)n;
    b->next = sl->batches;
    if (sl->batches)
        sl->batches->prev = b;
    sl->batches = b;
    for (size_t i = 0; i < n; i++) {
        g[i]->b = b;
        g[i]->index = (uint32_t)i;
        b->jobs[i] = g[i];
    }
    char name[160];
    snprintf(name, sizeof name, "%s-%lld-%s", j0->flow ? j0->flow : "job", (long long)j0->run_id,
             j0->step ? j0->step : "step");
    char safe[160];
    safe_name(safe, sizeof safe, name);
    b->dir = strf("%s/%s.XXXXXX", sl->log_dir, safe);
    if (!b->dir || !mkdtemp(b->dir)) {
        int e = b->dir ? errno : ENOMEM;
        snprintf(msg, sizeof msg, "slurm: cannot create a job directory in %s: %s", sl->log_dir,
                 strerror(e));
        free(b->dir);
        b->dir = NULL;
        fail_group(g, n, msg);
        return;
    }
    /* mkdtemp made it 0700: the job runs as this user, and the files may hold the step's
     * env (secrets). */
    int rc = 0;
    char *envp = strf("%s/env", b->dir);
    rc = envp ? write_env(envp, j0) : ENOMEM;
    free(envp);
    for (size_t i = 0; !rc && i < n; i++) {
        char *p = elem_path(g[i], "argv");
        rc = p ? write_vec(p, g[i]->argv, 0, NULL) : ENOMEM;
        free(p);
    }
    if (rc) {
        snprintf(msg, sizeof msg, "slurm: cannot write the job's files in %s: %s", b->dir,
                 strerror(rc));
        fail_group(g, n, msg);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        sl_free_vec(g[i]->argv);
        g[i]->argv = NULL;
    }
    if (sl->ino >= 0) {
        b->wd = inotify_add_watch(sl->ino, b->dir, IN_MOVED_TO | IN_CLOSE_WRITE);
        if (b->wd < 0)
            LOG(sl, MF_LOG_DEBUG, "cannot watch %s: %s", b->dir, strerror(errno));
    }

    /* sbatch --parsable NAME OUTPUT [ARRAY] RESOURCES SITE EXTRA SCRIPT ARGS */
    size_t cap = 32 + sl->n_extra;
    const char **av = calloc(cap, sizeof *av);
    char bufs[8][64];
    char *jobname = b->is_array ? strf("--job-name=%s/%lld/%s", j0->flow, (long long)j0->run_id,
                                       j0->step)
                                : strf("--job-name=%s", j0->pathspec);
    char *outp = strf("--output=%s/%s.out", b->dir, b->is_array ? "%a" : "0");
    char *errp = strf("--error=%s/%s.err", b->dir, b->is_array ? "%a" : "0");
    char *arr = NULL, *chdir_arg = NULL, timeout_s[16], grace[16];
    if (b->is_array)
        arr = sl->array_max ? strf("--array=0-%zu%%%u", n - 1, sl->array_max)
                            : strf("--array=0-%zu", n - 1);
    if (j0->workdir)
        chdir_arg = strf("--chdir=%s", j0->workdir);
    snprintf(timeout_s, sizeof timeout_s, "%u", j0->timeout_s);
    snprintf(grace, sizeof grace, "%.0f", sl->grace_s);
    if (!av || !jobname || !outp || !errp || (b->is_array && !arr) || (j0->workdir && !chdir_arg)) {
        fail_group(g, n, "slurm: out of memory submitting the job");
    } else {
        size_t k = 0;
        av[k++] = sl->bin[BIN_SBATCH];
        av[k++] = "--parsable";
        av[k++] = jobname;
        av[k++] = outp;
        av[k++] = errp;
        if (arr)
            av[k++] = arr;
        if (chdir_arg)
            av[k++] = chdir_arg;
        k = resource_args(sl, j0, av, k, bufs);
        for (size_t i = 0; i < sl->n_extra; i++)
            av[k++] = sl->extra[i];
        av[k++] = sl->script;
        av[k++] = b->dir;
        av[k++] = timeout_s;
        av[k++] = grace;
        av[k++] = b->is_array ? "array" : "0";
        av[k] = NULL;
        struct sl_out out = {0}, err = {0};
        rc = run_cmd(sl, av, &out, &err);
        char id[32];
        if (rc == 0 && sl_parse_sbatch(out.data, id, sizeof id) == 0) {
            snprintf(b->jobid, sizeof b->jobid, "%s", id);
            for (size_t i = 0; i < n; i++) {
                g[i]->phase = J_SUBMITTED;
                g[i]->st.state = MF_JOB_QUEUED;
            }
            b->active = (uint32_t)n;
            LOG(sl, MF_LOG_DEBUG, "submitted %s as Slurm job %s%s", b->is_array ? name : j0->pathspec,
                id, b->is_array ? " (array)" : "");
        } else {
            if (rc == 0)
                snprintf(msg, sizeof msg, "slurm: sbatch printed no job id: %s",
                         first_line(&out, "nothing"));
            else if (rc < 0) {
                cmd_failed(sl, BIN_SBATCH, rc, &err);
                snprintf(msg, sizeof msg, "%.250s", sl->err);
            }
            else
                snprintf(msg, sizeof msg,
                         "slurm: sbatch refused the job: %s (check partition, account, qos and "
                         "sbatch_args)",
                         first_line(&err, "no message"));
            LOG(sl, MF_LOG_ERROR, "%s: %s", b->is_array ? name : j0->pathspec, msg);
            fail_group(g, n, msg);
        }
        sl_out_free(&out);
        sl_out_free(&err);
    }
    free(av);
    free(jobname);
    free(outp);
    free(errp);
    free(arr);
    free(chdir_arg);
}

/* Send what submit held: the tasks of one step that arrived together become one array. */
static void flush_submits(struct slurm *sl)
{
    if (sl->n_unsubmitted == 0)
        return;
    struct mf_job **g = calloc(sl->n_unsubmitted, sizeof *g);
    if (!g)
        return;   /* retried at the next flush */
    for (struct mf_job *j = sl->head; j; j = j->next) {
        if (j->phase != J_UNSUBMITTED || j->b)
            continue;
        size_t n = 0;
        g[n++] = j;
        for (struct mf_job *k = j->next; sl->array && k && n < sl->array_size; k = k->next)
            if (k->phase == J_UNSUBMITTED && !k->b && same_group(j, k))
                g[n++] = k;
        submit_group(sl, g, n);
    }
    free(g);
    sl->n_unsubmitted = 0;
    sl->interval = sl->poll_min;
    sl->next_tick = mono_now() + sl->poll_min;
}

static void scancel(struct slurm *sl, const char **av)
{
    struct sl_out out = {0}, err = {0};
    int rc = run_cmd(sl, av, &out, &err);
    /* Jobs that ended meanwhile make scancel complain; nothing to do about those. */
    if (rc != 0)
        LOG(sl, rc < 0 ? MF_LOG_WARN : MF_LOG_DEBUG, "scancel: %s",
            rc < 0 ? strerror(-rc) : first_line(&err, "failed"));
    sl_out_free(&out);
    sl_out_free(&err);
}

/* One scancel for every job whose cancel was asked, and for those released while active. */
static void send_cancels(struct slurm *sl)
{
    if (sl->n_cancel == 0 && sl->n_orphans == 0)
        return;
    const char **av = calloc(SCANCEL_CHUNK + 2, sizeof *av);
    char (*ids)[48] = calloc(SCANCEL_CHUNK + 1, sizeof *ids);
    if (!av || !ids) {
        free(av);
        free(ids);
        return;   /* tried again at the next flush */
    }
    av[0] = sl->bin[BIN_SCANCEL];
    size_t k = 1;
    for (struct mf_job *j = sl->head; j; j = j->next) {
        if (!is_active(j) || !j->cancel_req || j->cancel_sent || !j->b || !j->b->jobid[0])
            continue;
        j->cancel_sent = 1;
        slurm_id(j, ids[k], sizeof ids[k]);
        av[k] = ids[k];
        av[++k] = NULL;
        if (k > SCANCEL_CHUNK) {
            scancel(sl, av);
            k = 1;
        }
    }
    for (size_t i = 0; i < sl->n_orphans; i++) {
        av[k++] = sl->orphans[i];
        av[k] = NULL;
        if (k > SCANCEL_CHUNK) {
            scancel(sl, av);
            k = 1;
        }
    }
    if (k > 1) {
        av[k] = NULL;
        scancel(sl, av);
    }
    sl->n_cancel = 0;
    sl->n_orphans = 0;
    sl->interval = sl->poll_min;
    sl->next_tick = mono_now() + sl->poll_min;
    free(av);
    free(ids);
}

/* ---- operations ---------------------------------------------------------------------------- */

static int sl_submit(void *state, const struct mf_job_spec *spec, mf_job **out)
{
    struct slurm *sl = state;
    *out = NULL;
    if (!spec || !spec->argv || !spec->argv[0])
        return fail(sl, MF_EINVAL, "slurm: a job needs a command (argv)");
    struct mf_job *j = calloc(1, sizeof *j);
    if (!j)
        return fail(sl, MF_ENOMEM, "slurm: out of memory");
    j->sl = sl;
    const char *ps = MF_HAS_FIELD(spec, pathspec) && spec->pathspec ? spec->pathspec : spec->argv[0];
    j->pathspec = strdup(ps);
    j->flow = MF_HAS_FIELD(spec, flow_name) && spec->flow_name ? strdup(spec->flow_name) : NULL;
    j->step = MF_HAS_FIELD(spec, step_name) && spec->step_name ? strdup(spec->step_name) : NULL;
    j->run_id = MF_HAS_FIELD(spec, run_id) ? spec->run_id : 0;
    j->argv = copy_vec(spec->argv);
    j->env = MF_HAS_FIELD(spec, env) && spec->env ? copy_vec(spec->env) : NULL;
    j->workdir = MF_HAS_FIELD(spec, workdir) && spec->workdir ? strdup(spec->workdir) : NULL;
    j->timeout_s = spec->timeout_s;
    if (MF_HAS_FIELD(spec, image) && spec->image && *spec->image && !sl->warned_image) {
        sl->warned_image = 1;
        LOG(sl, MF_LOG_WARN, "%s names an image (%s); slurm compute runs tasks on the nodes as "
                             "they are and ignores it",
            ps, spec->image);
    }
    const struct mf_resources *r = MF_HAS_FIELD(spec, resources) ? spec->resources : NULL;
    if (r) {
        j->cpu = MF_HAS_FIELD(r, cpu) ? r->cpu : 0;
        j->mem_mb = MF_HAS_FIELD(r, memory_mb) ? r->memory_mb : 0;
        j->gpu = MF_HAS_FIELD(r, gpu) ? r->gpu : 0;
    }
    if (!j->pathspec || !j->argv || (spec->env && !j->env) ||
        (MF_HAS_FIELD(spec, flow_name) && spec->flow_name && !j->flow) ||
        (MF_HAS_FIELD(spec, step_name) && spec->step_name && !j->step) ||
        (MF_HAS_FIELD(spec, workdir) && spec->workdir && !j->workdir)) {
        free(j->pathspec);
        free(j->flow);
        free(j->step);
        free(j->workdir);
        sl_free_vec(j->argv);
        sl_free_vec(j->env);
        free(j);
        return fail(sl, MF_ENOMEM, "slurm: out of memory");
    }
    j->st.struct_size = sizeof j->st;
    j->st.state = MF_JOB_QUEUED;
    j->st.exit_code = -1;
    j->phase = J_UNSUBMITTED;
    /* Held until the host waits: what arrives before then is sent together. */
    j->prev = sl->tail;
    if (sl->tail)
        sl->tail->next = j;
    else
        sl->head = j;
    sl->tail = j;
    sl->n_unsubmitted++;
    *out = j;
    return 0;
}

static void flush(struct slurm *sl)
{
    send_cancels(sl);
    flush_submits(sl);
}

static int sl_poll(void *state, mf_job *const *jobs, size_t n, struct mf_job_status *st)
{
    struct slurm *sl = state;
    flush(sl);
    drain_inotify(sl);
    double now = mono_now();
    if (now >= sl->next_tick) {
        int changed = tick(sl);
        sl->interval = changed ? sl->poll_min : fmin(sl->interval * 1.5, sl->poll_max);
        sl->next_tick = mono_now() + sl->interval;
    }
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

static int sl_wait(void *state, int timeout_ms)
{
    struct slurm *sl = state;
    flush(sl);
    double deadline = timeout_ms < 0 ? INFINITY : mono_now() + timeout_ms / 1000.0;
    for (;;) {
        int active = 0;
        for (struct batch *b = sl->batches; b && !active; b = b->next)
            active = b->active > 0;
        if (!active)
            return 0;   /* nothing in Slurm could change */
        if (drain_inotify(sl))
            return 1;
        double now = mono_now();
        if (now >= sl->next_tick) {
            int changed = tick(sl);
            sl->interval = changed ? sl->poll_min : fmin(sl->interval * 1.5, sl->poll_max);
            sl->next_tick = mono_now() + sl->interval;
            if (changed)
                return 1;
            now = mono_now();
        }
        if (now >= deadline)
            return 0;
        double until = fmin(sl->next_tick, deadline) - now;
        int ms = (int)ceil(until * 1000);
        struct pollfd pf = {sl->ino, POLLIN, 0};
        int r = poll(&pf, sl->ino >= 0 ? 1 : 0, ms > 0 ? ms : 0);
        if (r < 0 && errno == EINTR)
            return 1;   /* a signal: let the host look at its flags */
    }
}

static void buf_release(struct mf_buf *b)
{
    free(b->opaque);
    b->opaque = NULL;
    b->data = NULL;
    b->len = 0;
}

static int sl_logs(void *state, mf_job *job, int stream, struct mf_buf *out)
{
    struct slurm *sl = state;
    if (!job || (stream != MF_STREAM_STDOUT && stream != MF_STREAM_STDERR))
        return fail(sl, MF_EINVAL, "slurm: logs: no such job or stream");
    if (!job->b || !job->b->dir)
        return fail(sl, MF_ENOTFOUND, "slurm: %s was never submitted: it has no output",
                    job->pathspec);
    char *p = elem_path(job, stream == MF_STREAM_STDOUT ? "out" : "err");
    if (!p)
        return fail(sl, MF_ENOMEM, "slurm: out of memory");
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT) {
            /* The job never started (or wrote nothing): empty output. */
            free(p);
            out->data = NULL;
            out->len = 0;
            out->release = NULL;
            return 0;
        }
        fail(sl, e, "slurm: cannot read the output of %s from %s: %s", job->pathspec, p,
             strerror(e));
        free(p);
        return e;
    }
    struct sl_out o = {0};
    for (;;) {
        ssize_t n = read(fd, sl->iobuf, READ_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        size_t before = o.len;
        sl_out_add(&o, sl->iobuf, (size_t)n);
        if (o.len == before) {
            close(fd);
            free(p);
            sl_out_free(&o);
            return fail(sl, MF_ENOMEM, "slurm: out of memory reading %s's output",
                        job->pathspec);
        }
    }
    close(fd);
    free(p);
    out->data = o.data;
    out->len = o.len;
    out->opaque = o.data;
    out->release = o.data ? buf_release : NULL;
    return 0;
}

static int sl_cancel(void *state, mf_job *job)
{
    struct slurm *sl = state;
    if (!job)
        return fail(sl, MF_EINVAL, "slurm: cancel: no job");
    if (job->phase == J_ENDED || job->cancel_req)
        return 0;
    job->cancel_req = 1;
    if (job->phase == J_UNSUBMITTED) {
        /* Never reached Slurm: nothing to stop. */
        if (sl->n_unsubmitted)
            sl->n_unsubmitted--;
        snprintf(job->st.reason, sizeof job->st.reason, "cancelled before it was submitted");
        job->phase = J_ENDED;
        job->st.state = MF_JOB_CANCELLED;
        job->st.end_time = wall_now();
        return 0;
    }
    sl->n_cancel++;   /* sent as one scancel at the next wait or poll */
    return 0;
}

static void job_free(struct mf_job *j)
{
    free(j->pathspec);
    free(j->flow);
    free(j->step);
    free(j->workdir);
    sl_free_vec(j->argv);
    sl_free_vec(j->env);
    free(j);
}

static void sl_release(void *state, mf_job *job)
{
    struct slurm *sl = state;
    if (!job)
        return;
    if (job->phase == J_UNSUBMITTED && sl->n_unsubmitted)
        sl->n_unsubmitted--;
    if (is_active(job)) {
        /* The host forgets it: it must not go on running in the cluster. */
        job->cancel_req = 1;
        if (!job->cancel_sent && job->b && job->b->jobid[0]) {
            /* One scancel for all of them at the next flush (or at fini). */
            if (sl->n_orphans == sl->cap_orphans) {
                size_t cap = sl->cap_orphans ? sl->cap_orphans * 2 : 16;
                char(*g)[48] = realloc(sl->orphans, cap * sizeof *g);
                if (g) {
                    sl->orphans = g;
                    sl->cap_orphans = cap;
                }
            }
            if (sl->n_orphans < sl->cap_orphans)
                slurm_id(job, sl->orphans[sl->n_orphans++], sizeof sl->orphans[0]);
            else
                LOG(sl, MF_LOG_WARN, "out of memory: %s (Slurm job %s) may go on running; "
                                     "scancel it", job->pathspec, job->b->jobid);
            job->cancel_sent = 1;
        }
        if (job->b)
            job->b->active--;
        job->phase = J_ENDED;
    } else if (job->cancel_req && !job->cancel_sent && sl->n_cancel) {
        sl->n_cancel--;
    }
    remove_elem_files(job);
    if (job->b) {
        job->b->jobs[job->index] = NULL;
        batch_unref(job->b);
    }
    if (job->prev)
        job->prev->next = job->next;
    else
        sl->head = job->next;
    if (job->next)
        job->next->prev = job->prev;
    else
        sl->tail = job->prev;
    job_free(job);
}

static const char *sl_last_error(void *state)
{
    struct slurm *sl = state;
    return sl && sl->err[0] ? sl->err : "slurm: no error";
}

/* ---- check --------------------------------------------------------------------------------- */

/* GPUs in a gres string: "gpu:2", "gpu:a100:4(S:0-1),shard:8" -> the largest gpu count. */
static uint32_t gres_gpus(const char *g)
{
    uint32_t best = 0;
    for (const char *p = g; (p = strstr(p, "gpu:")); p += 4) {
        if (p != g && p[-1] != ',')
            continue;
        const char *end = p + strcspn(p, ",(");
        const char *colon = end;
        while (colon > p && colon[-1] != ':')
            colon--;
        uint32_t v = (uint32_t)strtoul(colon, NULL, 10);
        if (v > best)
            best = v;
    }
    return best;
}

static int probe(struct slurm *sl)
{
    if (sl->probed)
        return 0;
    /* Slurm's commands wait a minute for a missing config file: say so at once. */
    const char *conf = getenv("SLURM_CONF");
    if (conf && *conf && access(conf, R_OK) != 0)
        return fail(sl, MF_EUNAVAIL, "slurm: SLURM_CONF=%s: %s (point it at the cluster's "
                                     "slurm.conf, or unset it)",
                    conf, strerror(errno));
    const char *argv[] = {sl->bin[BIN_SINFO], "--noheader", "--format=%c|%m|%G|%R",
                          sl->partition ? "--partition" : NULL, sl->partition, NULL};
    struct sl_out out = {0}, err = {0};
    int rc = run_cmd(sl, argv, &out, &err);
    if (rc != 0) {
        rc = cmd_failed(sl, BIN_SINFO, rc, &err);
    } else if (!out.data || !out.len) {
        rc = sl->partition
                 ? fail(sl, MF_EINVAL,
                        "slurm: partition '%s' has no nodes or does not exist (sinfo lists none); "
                        "check partition / MFLOW_SLURM_PARTITION against `sinfo -s`",
                        sl->partition)
                 : fail(sl, MF_EUNAVAIL, "slurm: the cluster has no nodes (sinfo lists none)");
    } else {
        for (char *line = out.data, *next; line && *line; line = next) {
            next = strchr(line, '\n');
            if (next)
                *next++ = '\0';
            unsigned long c = strtoul(line, NULL, 10);
            char *bar = strchr(line, '|');
            unsigned long long m = bar ? strtoull(bar + 1, NULL, 10) : 0;
            char *bar2 = bar ? strchr(bar + 1, '|') : NULL;
            char *bar3 = bar2 ? strchr(bar2 + 1, '|') : NULL;
            if (bar3)
                *bar3++ = '\0';
            const char *part = bar3 ? bar3 : "";
            uint32_t gp = bar2 ? gres_gpus(bar2 + 1) : 0;
            if (c > sl->max_cpus) {
                sl->max_cpus = (uint32_t)c;
                snprintf(sl->max_cpus_part, sizeof sl->max_cpus_part, "%s", part);
            }
            if (m > sl->max_mem) {
                sl->max_mem = m;
                snprintf(sl->max_mem_part, sizeof sl->max_mem_part, "%s", part);
            }
            if (gp > sl->max_gpus) {
                sl->max_gpus = gp;
                snprintf(sl->max_gpus_part, sizeof sl->max_gpus_part, "%s", part);
            }
        }
        sl->probed = 1;
    }
    sl_out_free(&out);
    sl_out_free(&err);
    if (!rc) {
        /* The cluster's MaxArraySize bounds the elements of one array. */
        const char *cv[] = {sl->bin[BIN_SCONTROL], "show", "config", NULL};
        struct sl_out co = {0}, ce = {0};
        if (run_cmd(sl, cv, &co, &ce) == 0 && co.data) {
            const char *m = strstr(co.data, "MaxArraySize");
            const char *eq = m ? strchr(m, '=') : NULL;
            unsigned long v = eq ? strtoul(eq + 1, NULL, 10) : 0;
            if (v >= 2)
                sl->array_size = (uint32_t)(v - 1 < ARRAY_SIZE_MAX * 100 ? v - 1 : ARRAY_SIZE_MAX * 100);
            else if (eq && v == 1)
                sl->array_size = 1;   /* arrays are off in this cluster */
        }
        sl_out_free(&co);
        sl_out_free(&ce);
    }
    return rc;
}

static int sl_check(void *state, const char *step, const struct mf_resources *res)
{
    struct slurm *sl = state;
    int rc = probe(sl);
    if (rc)
        return rc;
    /* Without a partition option sinfo lists every partition: name the one that has it. */
    const char *where = sl->partition ? sl->partition : "any partition";
    char pc[96] = "", pm[96] = "", pg[96] = "";
    if (sl->max_cpus_part[0])
        snprintf(pc, sizeof pc, "partition '%s', ", sl->max_cpus_part);
    if (sl->max_mem_part[0])
        snprintf(pm, sizeof pm, "partition '%s', ", sl->max_mem_part);
    if (sl->max_gpus_part[0])
        snprintf(pg, sizeof pg, "partition '%s', ", sl->max_gpus_part);
    uint32_t cpu = res && MF_HAS_FIELD(res, cpu) ? res->cpu : 0;
    uint64_t mem = res && MF_HAS_FIELD(res, memory_mb) ? res->memory_mb : 0;
    uint32_t gpu = res && MF_HAS_FIELD(res, gpu) ? res->gpu : 0;
    if (cpu > sl->max_cpus)
        return fail(sl, MF_EINVAL,
                    "step '%s' asks for %u CPUs but the largest node of %s has %u (%ssinfo); "
                    "lower resources.cpu or choose another partition",
                    step, cpu, where, sl->max_cpus, pc);
    if (mem > sl->max_mem)
        return fail(sl, MF_EINVAL,
                    "step '%s' asks for %llu MB of memory but the largest node of %s has %llu MB "
                    "(%ssinfo); lower resources.memory_mb or choose another partition",
                    step, (unsigned long long)mem, where, (unsigned long long)sl->max_mem, pm);
    if (gpu > sl->max_gpus)
        return fail(sl, MF_EINVAL,
                    "step '%s' asks for %u GPUs but the nodes of %s have at most %u (%sgres gpu, "
                    "sinfo); lower resources.gpu or choose a GPU partition",
                    step, gpu, where, sl->max_gpus, pg);
    /* Let Slurm itself judge the whole request (partition, account, qos, limits), once per
     * distinct request. */
    for (size_t i = 0; i < sl->n_checked; i++)
        if (sl->checked[i].cpu == cpu && sl->checked[i].memory_mb == mem &&
            sl->checked[i].gpu == gpu)
            return 0;
    struct mf_job j = {0};
    j.cpu = cpu;
    j.mem_mb = mem;
    j.gpu = gpu;
    size_t cap = 24 + sl->n_extra;
    const char **av = calloc(cap, sizeof *av);
    if (!av)
        return fail(sl, MF_ENOMEM, "slurm: out of memory");
    char bufs[8][64];
    size_t k = 0;
    av[k++] = sl->bin[BIN_SBATCH];
    av[k++] = "--test-only";
    av[k++] = "--output=/dev/null";
    k = resource_args(sl, &j, av, k, bufs);
    for (size_t i = 0; i < sl->n_extra; i++)
        av[k++] = sl->extra[i];
    av[k++] = sl->script;
    av[k++] = "/dev/null";
    av[k++] = "0";
    av[k++] = "0";
    av[k++] = "0";
    av[k] = NULL;
    struct sl_out out = {0}, err = {0};
    rc = run_cmd(sl, av, &out, &err);
    if (rc > 0)
        rc = fail(sl, MF_EINVAL, "step '%s' cannot run on Slurm: sbatch --test-only says: %s", step,
                  first_line(&err, "no message"));
    else if (rc < 0)
        rc = cmd_failed(sl, BIN_SBATCH, rc, &err);
    else if (sl->n_checked < CHECKED_MAX)
        sl->checked[sl->n_checked++] = (struct mf_resources){sizeof(struct mf_resources), cpu, mem,
                                                             gpu, 0};
    sl_out_free(&out);
    sl_out_free(&err);
    free(av);
    return rc;
}

/* ---- describe ------------------------------------------------------------------------------ */

static void free_json(struct mf_buf *b)
{
    free(b->data);
    b->data = NULL;
}

static int sl_describe(void *state, struct mf_buf *out)
{
    struct slurm *sl = state;
    if (!sl || !out)
        return MF_EINVAL;
    const char *conf = getenv("SLURM_CONF");
    if (conf && *conf && access(conf, R_OK) != 0)
        return fail(sl, MF_EUNAVAIL, "slurm: SLURM_CONF=%s: %s (point it at the cluster's "
                                     "slurm.conf, or unset it)",
                    conf, strerror(errno));
    const char *nv[] = {sl->bin[BIN_SCONTROL], "--oneliner", "show", "node", NULL};
    const char *pv[] = {sl->bin[BIN_SINFO], "--noheader", "--format=%P|%a|%l|%D|%N", NULL};
    struct sl_out no = {0}, ne = {0}, po = {0}, pe = {0};
    int rc = run_cmd(sl, nv, &no, &ne);
    if (rc)
        rc = rc > 0 ? fail(sl, MF_EUNAVAIL, "slurm: scontrol show node failed: %s",
                           first_line(&ne, "no message"))
                    : cmd_failed(sl, BIN_SCONTROL, rc, &ne);
    if (!rc && (rc = run_cmd(sl, pv, &po, &pe)) != 0)
        rc = rc > 0 ? fail(sl, MF_EUNAVAIL, "slurm: sinfo failed: %s", first_line(&pe, "no message"))
                    : cmd_failed(sl, BIN_SINFO, rc, &pe);
    if (!rc) {
        char source[PATH_MAX + 96];
        snprintf(source, sizeof source, "scontrol show node and sinfo (%s%s)",
                 conf && *conf ? "SLURM_CONF=" : "the default slurm.conf", conf && *conf ? conf : "");
        char *doc = sl_describe_json(no.data, po.data, sl->partition, source);
        if (!doc) {
            rc = fail(sl, MF_ENOMEM, "slurm: out of memory");
        } else {
            memset(out, 0, sizeof *out);
            out->struct_size = sizeof *out;
            out->data = doc;
            out->len = strlen(doc);
            out->release = free_json;
        }
    }
    sl_out_free(&no);
    sl_out_free(&ne);
    sl_out_free(&po);
    sl_out_free(&pe);
    return rc;
}

/* ---- lifetime ------------------------------------------------------------------------------ */

static void sl_destroy(struct slurm *sl)
{
    if (!sl)
        return;
    free(sl->partition);
    free(sl->account);
    free(sl->qos);
    sl_free_vec(sl->extra);
    free(sl->log_dir);
    free(sl->script);
    for (int i = 0; i < N_BINS; i++)
        free(sl->bin[i]);
    free(sl->iobuf);
    free(sl->orphans);
    if (sl->ino >= 0)
        close(sl->ino);
    free(sl);
}

static void sl_fini(void *state)
{
    struct slurm *sl = state;
    if (!sl)
        return;
    /* Whatever still runs was not released by the host: stop it in the cluster. */
    for (struct mf_job *j = sl->head; j; j = j->next)
        if (is_active(j) && !j->cancel_req) {
            j->cancel_req = 1;
            sl->n_cancel++;
        }
    send_cancels(sl);
    while (sl->head)
        sl_release(sl, sl->head);
    send_cancels(sl);
    while (sl->batches)
        batch_free(sl->batches);
    sl_destroy(sl);
}

static const struct mf_compute_ops ops = {
    .struct_size = sizeof(struct mf_compute_ops),
    .caps = MF_COMPUTE_REMOTE,
    .submit = sl_submit,
    .submit_batch = NULL,
    .poll = sl_poll,
    .wait = sl_wait,
    .logs = sl_logs,
    .cancel = sl_cancel,
    .release = sl_release,
    .last_error = sl_last_error,
    .check = sl_check,
    .describe = sl_describe,
};

static const struct mf_plugin_desc desc = {
    .struct_size = sizeof(struct mf_plugin_desc),
    .abi_major = MF_PLUGIN_ABI_MAJOR,
    .abi_minor = MF_PLUGIN_ABI_MINOR,
    .kind = MF_PLUGIN_COMPUTE,
    .name = PLUGIN_NAME,
    .version = PLUGIN_VERSION,
    .description = "Slurm batch jobs (sbatch; a step's tasks submitted together become one job array)",
    .options = options,
    .n_options = sizeof options / sizeof options[0],
    .init = sl_init,
    .fini = sl_fini,
    .ops = &ops,
};

MF_PLUGIN_EXPORT const struct mf_plugin_desc *mf_plugin_entry_v1(const struct mf_host_api *host)
{
    (void)host;
    return &desc;
}
