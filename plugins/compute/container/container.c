/* The container compute plugin: every job runs as `ENGINE run ...` (podman by default,
 * docker when configured), one container per task attempt, with the step's image, its
 * resources as the engine's limits and GPUs chosen by the local plugin's placement model
 * (placement.c, over the hwloc topology loaded once at init). The engine's client is a child
 * process in its own process group; its stdout and stderr (the container's, attached) are
 * read through pipes, forwarded live and kept. Containers are not started with --rm, so that
 * OOMKilled can be read with inspect; they are removed once they ended. Not thread-safe:
 * one instance is driven by one thread (the core's event loop). See README.md. */
#include "ct_int.h"
#include "placement.h"

#include <mflow/plugin.h>
#include <mflow/plugin_util.h>

#include <jansson.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PLUGIN_NAME "container"
#define READ_CHUNK 65536
#define ERR_TAIL 4096
#define ENGINE_CMD_TIMEOUT_S 60.0
#define KILL_RETRY_S 2.0

extern char **environ;

enum { STREAMS = 3 };

struct ct {
    const struct mf_host_api *host;
    struct ct_conf conf;
    char orchestrator[320];
    char *host_prefix;
    const char *default_image;
    const char *print_command;       /* append each `run` command line here, or NULL */
    char **envp;                     /* the engine's environment: ours + CONTAINERS_CONF */
    double start_allowance_s;        /* added to timeout_s: the engine's start-up */
    struct placement *place;
    int cpuset;                      /* pass --cpuset-cpus (this machine's topology) */
    int checked;                     /* the engine answered and dead runs' containers went */
    char **probed;                   /* images that passed the mflow=host probe */
    size_t nprobed;
    struct mf_job *jobs;
    struct mf_job *qhead, *qtail;
    pid_t *helpers;                  /* background kill/rm commands to reap */
    size_t nhelpers, helpers_cap;
    char **pending_rm;               /* containers to remove at fini (released while running) */
    size_t npending, pending_cap;
    char *buf;
    char err[2048];
};

struct mf_job {
    struct ct *ct;
    struct mf_job *prev, *next, *qnext;
    char *pathspec;
    char cname[200];                 /* the container's name */
    char *image;
    char *path[STREAMS];
    int pipe[STREAMS], log[STREAMS];
    pid_t pid;                       /* the engine client; its process group */
    int pidfd;
    int queued, started, reaped, done, cancelled, timed_out, kill_sent, removed;
    int wstatus;
    uint32_t timeout_s;
    double timeout_at;
    double kill_at;                  /* when `ENGINE kill` was last sent (monotonic) */
    double start_time, end_time;
    struct place_req req;
    struct place_grant grant;
    struct strv argv;                /* the run command, built at start */
    char tail[ERR_TAIL];             /* the last bytes of stderr, to tell engine errors apart */
    size_t tail_len;
    int state;
    int exit_code;
    char reason[1024];
    /* What a deferred start needs. */
    struct strv task_argv, env;
    char *workdir, *flow, *step;
    int64_t run_id, task_id;
    uint32_t attempt;
};

/* The SDK's plugin helpers (<mflow/plugin_util.h>) under this file's short names. */
#define mono_now mf_plugin_mono_now
#define wall_now mf_plugin_wall_now
#define fail(ct, rc, ...) mf_plugin_fail((ct)->err, sizeof (ct)->err, (rc), __VA_ARGS__)
#define LOG(ct, level, ...) MF_PLUGIN_LOG((ct)->host, PLUGIN_NAME, (level), __VA_ARGS__)

static const char *option(const struct ct *ct, const char *key, const char *dflt)
{
    const char *v = NULL;
    if (MF_HAS_FIELD(ct->host, config_get) && ct->host->config_get)
        v = ct->host->config_get(PLUGIN_NAME, key);
    return v && *v ? v : dflt;
}

/* The first line of an engine's message, for ours. */
static void first_line(const char *s, char *buf, size_t len)
{
    while (s && (*s == '\n' || *s == ' '))
        s++;
    size_t n = s ? strcspn(s, "\n") : 0;
    snprintf(buf, len, "%.*s", (int)(n < len ? n : len - 1), s ? s : "");
}

static void add_helper(struct ct *ct, pid_t pid)
{
    if (pid <= 0)
        return;
    if (ct->nhelpers == ct->helpers_cap) {
        size_t cap = ct->helpers_cap ? ct->helpers_cap * 2 : 16;
        pid_t *g = realloc(ct->helpers, cap * sizeof *g);
        if (!g) {
            while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                ;
            return;
        }
        ct->helpers = g;
        ct->helpers_cap = cap;
    }
    ct->helpers[ct->nhelpers++] = pid;
}

static void reap_helpers(struct ct *ct, int block)
{
    for (size_t i = 0; i < ct->nhelpers;) {
        pid_t r = waitpid(ct->helpers[i], NULL, block ? 0 : WNOHANG);
        if (r == 0 || (r < 0 && errno == EINTR)) {
            i++;
            continue;
        }
        ct->helpers[i] = ct->helpers[--ct->nhelpers];
    }
}

/* `ENGINE [global] WORDS... NAME...` in the background. */
static void engine_bg(struct ct *ct, const char *const *words, const char *const *names, size_t n)
{
    struct strv a = {0};
    ct_global_args(&ct->conf, &a);
    for (size_t i = 0; words[i]; i++)
        strv_push(&a, words[i]);
    for (size_t i = 0; i < n; i++)
        strv_push(&a, names[i]);
    if (!a.oom)
        add_helper(ct, ct_background(a.v, ct->envp));
    strv_free(&a);
}

static const char *const *rm_words(const struct ct *ct)
{
    /* podman's rm -f stops with the stop timeout first; -t 0 kills at once (docker kills). */
    static const char *const podman_rm[] = {"rm", "-f", "-t", "0", NULL};
    static const char *const docker_rm[] = {"rm", "-f", NULL};
    return ct->conf.docker ? docker_rm : podman_rm;
}

/* ------------------------------------------------------------------------------------------ */
/* The engine's answer, and the containers of runs whose orchestrator is gone. */

static int engine_missing(struct ct *ct, int rc)
{
    return fail(ct, MF_EUNAVAIL, "the container engine '%s' cannot be run: %s; install podman (or docker) or set container.engine (MFLOW_CONTAINER_ENGINE) to its path",
                ct->conf.engine, rc == -ENOENT ? "it is not installed (not found on PATH)" : strerror(-rc));
}

/* Is the orchestrator of this label value gone? Only for this host's ("HOST:PID:START"). */
static int orchestrator_gone(const char *label)
{
    char host[256] = "", mine[256] = "";
    int pid = 0;
    unsigned long long start = 0;
    if (sscanf(label, "%255[^:]:%d:%llu", host, &pid, &start) != 3 || pid <= 0)
        return 0;
    gethostname(mine, sizeof mine - 1);
    if (strcmp(host, mine) != 0)
        return 0;   /* another machine's run: not ours to judge */
    char now[320];
    if (ct_orchestrator_id(pid, now, sizeof now) != 0)
        return 1;   /* no such process */
    return strcmp(now, label) != 0;   /* the pid was reused */
}

/* Once per instance, before the first container: the engine answers, and the containers
 * left by runs whose orchestrator died (kill -9, a crash) are removed. */
static int engine_check(struct ct *ct)
{
    if (ct->checked)
        return 0;
    struct strv a = {0};
    ct_global_args(&ct->conf, &a);
    strv_push(&a, "ps");
    strv_push(&a, "-a");
    strv_push(&a, "--filter");
    strv_push(&a, "label=mflow.orchestrator");
    strv_push(&a, "--format");
    strv_push(&a, "{{.Names}} {{index .Labels \"mflow.orchestrator\"}}");
    char *out = NULL;
    int rc = a.oom ? -ENOMEM : ct_capture(a.v, ct->envp, ENGINE_CMD_TIMEOUT_S, &out);
    strv_free(&a);
    if (rc < 0) {
        free(out);
        return engine_missing(ct, rc);
    }
    if (rc != 0) {
        char line[512];
        first_line(out, line, sizeof line);
        free(out);
        return fail(ct, MF_EUNAVAIL, "the container engine '%s' is not running or not usable (`%s ps` exited with %d: %s); start it (docker: the daemon; podman: check its storage and containers.conf)",
                    ct->conf.engine, ct->conf.engine, rc, line);
    }
    struct strv dead = {0};
    char *save = NULL;
    for (char *l = strtok_r(out ? out : "", "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        char *sp = strchr(l, ' ');
        if (!sp)
            continue;
        *sp = '\0';
        if (orchestrator_gone(sp + 1))
            strv_push(&dead, l);
    }
    free(out);
    if (dead.n) {
        LOG(ct, MF_LOG_INFO, "removing %zu container(s) left by runs whose mflow is gone", dead.n);
        struct strv r = {0};
        ct_global_args(&ct->conf, &r);
        for (const char *const *w = rm_words(ct); *w; w++)
            strv_push(&r, *w);
        for (size_t i = 0; i < dead.n; i++)
            strv_push(&r, dead.v[i]);
        if (!r.oom)
            ct_capture(r.v, ct->envp, ENGINE_CMD_TIMEOUT_S, NULL);
        strv_free(&r);
    }
    strv_free(&dead);
    ct->checked = 1;
    return 0;
}

/* mflow=host: once per image, the host's mflow runs in it (same C library, its libraries
 * present), else a message naming what is missing. */
static int probe_host_mflow(struct ct *ct, const char *image, const char *exe)
{
    for (size_t i = 0; i < ct->nprobed; i++)
        if (!strcmp(ct->probed[i], image))
            return 0;
    struct strv a = {0};
    ct_global_args(&ct->conf, &a);
    strv_push(&a, "run");
    strv_push(&a, "--rm");
    strv_push(&a, "--network=none");
    strv_push(&a, "-v");
    strv_pushf(&a, "%s:%s:ro", ct->host_prefix, ct->host_prefix);
    strv_push(&a, image);
    strv_push(&a, exe);
    strv_push(&a, "--version");
    char *out = NULL;
    int rc = a.oom ? -ENOMEM : ct_capture(a.v, ct->envp, ENGINE_CMD_TIMEOUT_S, &out);
    strv_free(&a);
    if (rc < 0) {
        free(out);
        return engine_missing(ct, rc);
    }
    if (rc == 0 && out && !strncmp(out, "mflow ", 6)) {
        free(out);
        char **g = realloc(ct->probed, (ct->nprobed + 1) * sizeof *g);
        if (g) {
            ct->probed = g;
            ct->probed[ct->nprobed] = strdup(image);
            if (ct->probed[ct->nprobed])
                ct->nprobed++;
        }
        return 0;
    }
    char what[512];
    const char *lib = out ? strstr(out, "error while loading shared libraries: ") : NULL;
    const char *ver = out ? strstr(out, "version `") : NULL;
    if (lib) {
        lib += strlen("error while loading shared libraries: ");
        snprintf(what, sizeof what, "the library %.*s is missing there", (int)strcspn(lib, ":\n"), lib);
    } else if (ver) {
        snprintf(what, sizeof what, "its libraries are older than the host's (%.*s)", (int)strcspn(ver, "\n"), ver);
    } else {
        char line[400];
        first_line(out, line, sizeof line);
        snprintf(what, sizeof what, "it exited with %d: %s", rc, line);
    }
    free(out);
    return fail(ct, MF_EINVAL, "mflow=host: the host's mflow (%s) cannot run in image '%s': %s; use an image of the host's Debian release with mflow's libraries installed, or mflow=image with an image that has mflow (plugins/compute/container/make-image.sh builds one)",
                exe, image, what);
}

/* ------------------------------------------------------------------------------------------ */
/* Jobs */

static void close_stream(struct mf_job *j, int s)
{
    if (j->pipe[s] >= 0)
        close(j->pipe[s]);
    if (j->log[s] >= 0)
        close(j->log[s]);
    j->pipe[s] = j->log[s] = -1;
}

static void keep_output(struct mf_job *j, int s, const char *data, size_t len)
{
    struct ct *ct = j->ct;
    if (MF_HAS_FIELD(ct->host, task_output) && ct->host->task_output)
        ct->host->task_output(j->pathspec, s, data, len);
    if (s == MF_STREAM_STDERR) {
        if (len >= ERR_TAIL) {
            memcpy(j->tail, data + len - (ERR_TAIL - 1), ERR_TAIL - 1);
            j->tail_len = ERR_TAIL - 1;
        } else {
            if (j->tail_len + len >= ERR_TAIL) {
                size_t drop = j->tail_len + len - (ERR_TAIL - 1);
                memmove(j->tail, j->tail + drop, j->tail_len - drop);
                j->tail_len -= drop;
            }
            memcpy(j->tail + j->tail_len, data, len);
            j->tail_len += len;
        }
        j->tail[j->tail_len] = '\0';
    }
    while (j->log[s] >= 0 && len) {
        ssize_t w = write(j->log[s], data, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            LOG(ct, MF_LOG_WARN, "job %s: writing its log '%s' failed: %s; the rest of that log is lost",
                j->pathspec, j->path[s], w < 0 ? strerror(errno) : "nothing written");
            close(j->log[s]);
            j->log[s] = -1;
            return;
        }
        data += w;
        len -= (size_t)w;
    }
}

static void read_stream(struct mf_job *j, int s)
{
    for (int rounds = 0; j->pipe[s] >= 0 && rounds < 4; rounds++) {
        ssize_t r = read(j->pipe[s], j->ct->buf, READ_CHUNK);
        if (r > 0) {
            keep_output(j, s, j->ct->buf, (size_t)r);
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        close_stream(j, s);
    }
}

static int open_log(struct ct *ct, struct mf_job *j, int s)
{
    if (!j->path[s])
        return 0;
    char *dir = strdup(j->path[s]);
    if (!dir)
        return MF_ENOMEM;
    for (char *p = dir + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(dir, 0755);
            *p = '/';
        }
    free(dir);
    j->log[s] = open(j->path[s], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (j->log[s] < 0)
        return fail(ct, errno, "job %s: cannot create its log '%s': %s", j->pathspec, j->path[s],
                    strerror(errno));
    return 0;
}

static void print_command(struct ct *ct, const struct strv *a)
{
    if (!ct->print_command)
        return;
    FILE *f = fopen(ct->print_command, "a");
    if (!f)
        return;
    for (size_t i = 0; i < a->n; i++)
        fprintf(f, "%s%s", i ? " " : "", a->v[i]);
    fputc('\n', f);
    fclose(f);
}

/* Local datastore directory of the host's root ("file:///x" or "/x"), or NULL. */
static const char *datastore_dir(const struct ct *ct)
{
    const char *root = MF_HAS_FIELD(ct->host, datastore_root) && ct->host->datastore_root
                           ? ct->host->datastore_root() : NULL;
    if (!root)
        return NULL;
    if (!strncmp(root, "file://", 7))
        return root + 7;
    return root[0] == '/' ? root : NULL;
}

/* Start the engine for a placed job. 0, or an error (message set; nothing left running). */
static int start_job(struct ct *ct, struct mf_job *j)
{
    char cpus[1024] = "";
    int gpus[64];
    unsigned ngpu = j->grant.ngpu < 64 ? j->grant.ngpu : 64;
    for (unsigned i = 0; i < ngpu; i++)
        gpus[i] = placement_gpu(ct->place, j->grant.gpu[i])->ordinal;
    if (ct->cpuset && j->grant.ncpu)
        placement_cpu_list(&j->grant, cpus, sizeof cpus);
    struct ct_run r = {
        .name = j->cname,
        .image = j->image,
        .pathspec = j->pathspec,
        .flow = j->flow,
        .step = j->step,
        .run_id = j->run_id,
        .task_id = j->task_id,
        .attempt = j->attempt,
        .cpu = j->req.cpu,
        .memory_mb = j->req.memory_mb,
        .cpuset = cpus[0] ? cpus : NULL,
        .gpus = gpus,
        .ngpu = ngpu,
        .env = (const char *const *)j->env.v,
        .argv = (const char *const *)j->task_argv.v,
        .workdir = j->workdir,
        .datastore_dir = datastore_dir(ct),
        .home = MF_HAS_FIELD(ct->host, home) && ct->host->home ? ct->host->home() : NULL,
    };
    int rc = ct_run_argv(&ct->conf, &r, &j->argv);
    if (rc)
        return fail(ct, rc, "out of memory building the engine command of %s", j->pathspec);
    print_command(ct, &j->argv);
    int out[2] = {-1, -1}, err[2] = {-1, -1};
    for (int s = 1; s < STREAMS; s++)
        if ((rc = open_log(ct, j, s)) != 0)
            return rc;
    if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0) {
        rc = errno;
        if (out[0] >= 0) {
            close(out[0]);
            close(out[1]);
        }
        return fail(ct, rc, "job %s: cannot make pipes: %s", j->pathspec, strerror(rc));
    }
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err[1], 2);
    /* Its own process group: a Ctrl-C reaches mflow, which cancels through the engine. */
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &all);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF);
    rc = posix_spawnp(&j->pid, j->argv.v[0], &fa, &at, j->argv.v, ct->envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(out[1]);
    close(err[1]);
    if (rc) {
        close(out[0]);
        close(err[0]);
        j->pid = 0;
        if (rc == ENOENT)
            return engine_missing(ct, -rc);
        return fail(ct, rc, "job %s: cannot start the container engine '%s': %s", j->pathspec,
                    ct->conf.engine, strerror(rc));
    }
    j->pipe[MF_STREAM_STDOUT] = out[0];
    j->pipe[MF_STREAM_STDERR] = err[0];
    fcntl(out[0], F_SETFL, O_NONBLOCK);
    fcntl(err[0], F_SETFL, O_NONBLOCK);
    j->pidfd = (int)syscall(SYS_pidfd_open, j->pid, 0);
    j->started = 1;
    j->start_time = wall_now();
    /* The task holds itself to timeout_s from its own start (mflow task --timeout-s) and
     * records why; the container is killed only past that plus the engine's start-up. */
    if (j->timeout_s)
        j->timeout_at = mono_now() + j->timeout_s + ct->start_allowance_s;
    return 0;
}

/* Stop the container (timeout, cancel): the engine kills it and its client then exits. */
static void kill_container(struct ct *ct, struct mf_job *j)
{
    if (j->kill_sent || !j->started || j->reaped)
        return;
    j->kill_sent = 1;
    j->kill_at = mono_now();
    static const char *const words[] = {"kill", NULL};
    const char *names[] = {j->cname};
    engine_bg(ct, words, names, 1);
}

static int has(const char *hay, const char *needle)
{
    return hay && strcasestr(hay, needle) != NULL;
}

/* Why a job that did not exit 0 ended, in j->reason and j->state. */
static void classify(struct ct *ct, struct mf_job *j)
{
    int code = WIFEXITED(j->wstatus) ? WEXITSTATUS(j->wstatus) : -1;
    j->exit_code = code;
    char line[160];
    if (j->cancelled) {
        j->state = MF_JOB_CANCELLED;
        snprintf(j->reason, sizeof j->reason, "cancelled; container %s killed", j->cname);
        return;
    }
    j->state = MF_JOB_FAILED;
    if (j->timed_out) {
        snprintf(j->reason, sizeof j->reason, "timed out after %u s (timeout_s, plus %g s for the engine to start it); container %s killed",
                 j->timeout_s, ct->start_allowance_s, j->cname);
        return;
    }
    const char *t = j->tail;
    if (code == 125) {
        /* The engine failed before the task ran. */
        const char *e = strstr(t, "Error");
        first_line(e ? e : t, line, sizeof line);
        if (has(t, "image not known") || has(t, "manifest unknown") || has(t, "pull access denied") ||
            has(t, "unable to find image") || has(t, "repository does not exist") ||
            has(t, "no such image") || has(t, "name unknown") || has(t, "initializing source") ||
            has(t, "requested access to the resource is denied") || has(t, "pinging container registry"))
            snprintf(j->reason, sizeof j->reason,
                     "image '%s' cannot be found or pulled (%s); build it (make-image.sh) or fix the step's .image / container.image", j->image, line);
        else if (has(t, "cannot connect to the docker daemon") || has(t, "daemon running") ||
                 has(t, "connection refused"))
            snprintf(j->reason, sizeof j->reason, "the container engine '%s' is not running (%s); start it",
                     ct->conf.engine, line);
        else
            snprintf(j->reason, sizeof j->reason, "the container engine '%s' could not start container %s (exit %d: %s)",
                     ct->conf.engine, j->cname, code, line);
        j->removed = 0;
        return;
    }
    if (((code == 126 || code == 127) && (has(t, "executable file not found") || has(t, "no such file"))) ||
        has(t, "failed to exec pid1")) {
        snprintf(j->reason, sizeof j->reason, "image '%s' cannot run the task: %s is not in it (set mflow=host, or build the image with make-image.sh)",
                 j->image, ct->conf.mflow_host ? j->task_argv.v[0] : "mflow");
        return;
    }
    /* The engine's own word on OOM. */
    struct strv a = {0};
    ct_global_args(&ct->conf, &a);
    strv_push(&a, "inspect");
    strv_push(&a, "--format");
    strv_push(&a, "{{.State.OOMKilled}}");
    strv_push(&a, j->cname);
    char *out = NULL;
    int rc = a.oom ? -ENOMEM : ct_capture(a.v, ct->envp, ENGINE_CMD_TIMEOUT_S, &out);
    strv_free(&a);
    int oom = rc == 0 && out && !strncmp(out, "true", 4);
    free(out);
    if (oom) {
        snprintf(j->reason, sizeof j->reason,
                 "exceeded its memory limit of %llu MB (resources.memory_mb; the engine reports OOMKilled for container %s); raise resources.memory_mb",
                 (unsigned long long)j->req.memory_mb, j->cname);
        return;
    }
    if (code == 137 && j->req.memory_mb) {
        /* SIGKILL under a memory limit, nobody else killed it: the kernel's OOM killer, which
         * podman's conmon does not always see (cgroup v1 "hybrid" layouts). */
        snprintf(j->reason, sizeof j->reason,
                 "was killed by SIGKILL (exit 137) under its memory limit of %llu MB (resources.memory_mb): it most likely exceeded it, though the engine did not report OOMKilled for container %s; raise resources.memory_mb",
                 (unsigned long long)j->req.memory_mb, j->cname);
        return;
    }
    if (code >= 0)
        snprintf(j->reason, sizeof j->reason, "exited with code %d in container %s (image %s)", code,
                 j->cname, j->image);
    else
        snprintf(j->reason, sizeof j->reason, "the engine client was killed by signal %d (container %s)",
                 WTERMSIG(j->wstatus), j->cname);
}

static void free_grant(struct ct *ct, struct mf_job *j)
{
    if (j->grant.cpu || j->grant.ngpu)
        placement_release(ct->place, &j->grant);
}

/* Ends the job once the client is reaped and the pipes drained; removes the container. */
static int maybe_done(struct ct *ct, struct mf_job *j)
{
    if (j->done || !j->reaped || j->pipe[1] >= 0 || j->pipe[2] >= 0)
        return 0;
    j->done = 1;
    for (int s = 1; s < STREAMS; s++)
        close_stream(j, s);
    if (WIFEXITED(j->wstatus) && WEXITSTATUS(j->wstatus) == 0 && !j->cancelled) {
        j->state = MF_JOB_SUCCEEDED;
        j->exit_code = 0;
    } else {
        classify(ct, j);
    }
    free_grant(ct, j);
    const char *names[] = {j->cname};
    engine_bg(ct, rm_words(ct), names, 1);
    j->removed = 1;
    return 1;
}

static void on_exit_status(struct ct *ct, struct mf_job *j, int st)
{
    j->reaped = 1;
    j->wstatus = st;
    j->end_time = wall_now();
    if (j->pidfd >= 0) {
        close(j->pidfd);
        j->pidfd = -1;
    }
    for (int s = 1; s < STREAMS; s++)
        read_stream(j, s);
    (void)ct;
}

static int try_reap(struct ct *ct, struct mf_job *j)
{
    if (!j->started || j->reaped)
        return 0;
    int st;
    pid_t r;
    do
        r = waitpid(j->pid, &st, WNOHANG);
    while (r < 0 && errno == EINTR);
    if (r == 0)
        return 0;
    on_exit_status(ct, j, r < 0 ? (255 << 8) : st);
    return 1;
}

static void queue_remove(struct ct *ct, struct mf_job *j)
{
    struct mf_job **pp = &ct->qhead;
    struct mf_job *prev = NULL;
    while (*pp && *pp != j) {
        prev = *pp;
        pp = &(*pp)->qnext;
    }
    if (!*pp)
        return;
    *pp = j->qnext;
    if (ct->qtail == j)
        ct->qtail = prev;
    j->qnext = NULL;
    j->queued = 0;
}

/* Start queued jobs that fit now, in order (the first that does not fit waits, and so do
 * those behind it: a GPU task is not starved). Returns how many ended (failed to start). */
static int admit(struct ct *ct)
{
    int ended = 0;
    while (ct->qhead) {
        struct mf_job *j = ct->qhead;
        int rc = placement_place(ct->place, &j->req, &j->grant);
        if (rc == EAGAIN)
            break;
        queue_remove(ct, j);
        if (!rc)
            rc = start_job(ct, j);
        if (rc) {
            free_grant(ct, j);
            j->reaped = j->done = 1;
            j->state = MF_JOB_FAILED;
            snprintf(j->reason, sizeof j->reason, "could not start: %.900s", ct->err);
            j->end_time = wall_now();
            ended++;
        }
    }
    return ended;
}

/* ------------------------------------------------------------------------------------------ */
/* Operations */

static void free_job(struct mf_job *j)
{
    for (int s = 1; s < STREAMS; s++) {
        close_stream(j, s);
        free(j->path[s]);
    }
    if (j->pidfd >= 0)
        close(j->pidfd);
    free(j->pathspec);
    free(j->image);
    free(j->workdir);
    free(j->flow);
    free(j->step);
    strv_free(&j->argv);
    strv_free(&j->task_argv);
    strv_free(&j->env);
    free(j);
}

static int ct_submit(void *state, const struct mf_job_spec *spec, mf_job **out)
{
    struct ct *ct = state;
    if (!ct || !spec || !out || !spec->argv || !spec->argv[0])
        return ct ? fail(ct, MF_EINVAL, "submit: no command given") : MF_EINVAL;
    *out = NULL;
    const char *image = MF_HAS_FIELD(spec, image) && spec->image && *spec->image ? spec->image
                                                                                 : ct->default_image;
    const char *ps = spec->pathspec ? spec->pathspec : spec->argv[0];
    if (!image)
        return fail(ct, MF_EINVAL, "task %s: its step has no image and no default image is set; give the step an .image or set container.image (MFLOW_CONTAINER_IMAGE), e.g. one built by plugins/compute/container/make-image.sh",
                    ps);
    int rc = engine_check(ct);
    if (rc)
        return rc;
    if (ct->conf.mflow_host && (rc = probe_host_mflow(ct, image, spec->argv[0])) != 0)
        return rc;
    struct mf_job *j = calloc(1, sizeof *j);
    if (!j)
        return MF_ENOMEM;
    j->ct = ct;
    j->pidfd = -1;
    for (int s = 0; s < STREAMS; s++)
        j->pipe[s] = j->log[s] = -1;
    j->pathspec = strdup(ps);
    j->image = strdup(image);
    j->flow = strdup(spec->flow_name ? spec->flow_name : "");
    j->step = strdup(spec->step_name ? spec->step_name : "");
    j->workdir = spec->workdir ? strdup(spec->workdir) : NULL;
    j->run_id = spec->run_id;
    j->task_id = spec->task_id;
    j->attempt = spec->attempt;
    j->timeout_s = spec->timeout_s;
    if (spec->stdout_path)
        j->path[MF_STREAM_STDOUT] = strdup(spec->stdout_path);
    if (spec->stderr_path)
        j->path[MF_STREAM_STDERR] = strdup(spec->stderr_path);
    for (size_t i = 0; spec->argv[i]; i++)
        strv_push(&j->task_argv, spec->argv[i]);
    for (size_t i = 0; spec->env && spec->env[i]; i++)
        strv_push(&j->env, spec->env[i]);
    placement_req_of(spec->resources, &j->req);
    if (!j->pathspec || !j->image || !j->flow || !j->step || j->task_argv.oom || j->env.oom) {
        free_job(j);
        return fail(ct, MF_ENOMEM, "out of memory submitting a job");
    }
    ct_name(j->pathspec, j->attempt, j->cname, sizeof j->cname);
    char msg[600];
    if (placement_check(ct->place, j->step, &j->req, msg, sizeof msg) != 0) {
        free_job(j);
        return fail(ct, MF_EINVAL, "%s", msg);
    }
    rc = placement_place(ct->place, &j->req, &j->grant);
    if (rc == EAGAIN) {
        j->queued = 1;
        if (ct->qtail)
            ct->qtail->qnext = j;
        else
            ct->qhead = j;
        ct->qtail = j;
    } else if (rc || (rc = start_job(ct, j)) != 0) {
        free_grant(ct, j);
        if (rc == MF_ENOMEM)
            fail(ct, rc, "out of memory placing a job");
        free_job(j);
        return rc;
    }
    j->next = ct->jobs;
    if (ct->jobs)
        ct->jobs->prev = j;
    ct->jobs = j;
    *out = j;
    return 0;
}

static int ct_poll(void *state, mf_job *const *jobs, size_t n, struct mf_job_status *st)
{
    struct ct *ct = state;
    if (!ct || (n && (!jobs || !st)))
        return MF_EINVAL;
    for (size_t i = 0; i < n; i++) {
        struct mf_job *j = jobs[i];
        struct mf_job_status *s = &st[i];
        uint32_t size = s->struct_size ? s->struct_size : sizeof *s;
        memset(s, 0, size < sizeof *s ? size : sizeof *s);
        s->struct_size = size;
        s->exit_code = -1;
        if (!j) {
            s->state = MF_JOB_LOST;
            continue;
        }
        if (!j->done) {
            s->state = j->queued ? MF_JOB_QUEUED : MF_JOB_RUNNING;
            s->start_time = j->start_time;
            continue;
        }
        s->state = (uint32_t)j->state;
        if (j->state != MF_JOB_CANCELLED)
            s->exit_code = j->exit_code;
        s->timed_out = (uint32_t)j->timed_out;
        if (WIFSIGNALED(j->wstatus))
            s->term_signal = WTERMSIG(j->wstatus);
        s->start_time = j->start_time;
        s->end_time = j->end_time;
        size_t rl = strnlen(j->reason, sizeof s->reason - 1);
        memcpy(s->reason, j->reason, rl);
        s->reason[rl] = '\0';
    }
    return 0;
}

static int ct_wait(void *state, int timeout_ms)
{
    struct ct *ct = state;
    if (!ct)
        return MF_EINVAL;
    int ended = admit(ct);
    size_t cap = 1;
    for (struct mf_job *j = ct->jobs; j; j = j->next)
        cap += 3;
    struct pollfd *pf = calloc(cap, sizeof *pf);
    struct mf_job **owner = calloc(cap, sizeof *owner);
    if (!pf || !owner) {
        free(pf);
        free(owner);
        return MF_ENOMEM;
    }
    double deadline = -1, now = mono_now();
    int busy = 0, nopidfd = 0;
    size_t n = 0;
    for (struct mf_job *j = ct->jobs; j; j = j->next) {
        if (!j->started || j->done)
            continue;
        busy = 1;
        for (int s = 1; s < STREAMS; s++)
            if (j->pipe[s] >= 0) {
                pf[n] = (struct pollfd){.fd = j->pipe[s], .events = POLLIN};
                owner[n++] = j;
            }
        if (!j->reaped && j->pidfd >= 0) {
            pf[n] = (struct pollfd){.fd = j->pidfd, .events = POLLIN};
            owner[n++] = j;
        } else if (!j->reaped) {
            nopidfd = 1;
        }
        if (j->timeout_at > 0 && !j->kill_sent && (deadline < 0 || j->timeout_at < deadline))
            deadline = j->timeout_at;
    }
    int wait_ms = timeout_ms;
    if (!busy && !ended && timeout_ms < 0 && !ct->qhead)
        wait_ms = 0;
    if (ended)
        wait_ms = 0;
    if (deadline > 0) {
        int d = (int)((deadline - now) * 1000) + 1;
        if (wait_ms < 0 || d < wait_ms)
            wait_ms = d < 0 ? 0 : d;
    }
    int killing = 0;
    for (struct mf_job *j = ct->jobs; j; j = j->next)
        killing |= j->started && !j->reaped && j->kill_sent;
    if ((nopidfd || ct->nhelpers || ct->qhead || killing) && (wait_ms < 0 || wait_ms > 100))
        wait_ms = 100;
    int r = poll(pf, n, wait_ms);
    if (r < 0 && errno != EINTR) {
        free(pf);
        free(owner);
        return fail(ct, errno, "poll: %s", strerror(errno));
    }
    for (size_t i = 0; r > 0 && i < n; i++) {
        if (!pf[i].revents)
            continue;
        struct mf_job *j = owner[i];
        if (pf[i].fd == j->pidfd)
            try_reap(ct, j);
        else
            for (int s = 1; s < STREAMS; s++)
                if (j->pipe[s] == pf[i].fd)
                    read_stream(j, s);
    }
    now = mono_now();
    for (struct mf_job *j = ct->jobs; j; j = j->next) {
        if (!j->started || j->done)
            continue;
        if (!j->reaped && j->timeout_at > 0 && now >= j->timeout_at && !j->kill_sent) {
            j->timed_out = 1;
            LOG(ct, MF_LOG_INFO, "job %s: timed out after %u s (+%g s start allowance); killing container %s",
                j->pathspec, j->timeout_s, ct->start_allowance_s, j->cname);
            kill_container(ct, j);
        }
        if (!j->reaped && j->kill_sent && now - j->kill_at >= KILL_RETRY_S) {
            /* A kill sent while the engine was still creating the container found none:
             * send it again until the client exits. */
            j->kill_sent = 0;
            kill_container(ct, j);
        }
        if (!j->reaped && (nopidfd || j->pidfd < 0))
            try_reap(ct, j);
        if (maybe_done(ct, j))
            ended++;
    }
    reap_helpers(ct, 0);
    ended += admit(ct);
    free(pf);
    free(owner);
    return ended > 0 ? 1 : (r < 0 ? 1 : 0);
}

static void free_buf(struct mf_buf *b)
{
    free(b->data);
    b->data = NULL;
}

static int ct_logs(void *state, mf_job *job, int stream, struct mf_buf *out)
{
    struct ct *ct = state;
    if (!ct || !job || !out || (stream != MF_STREAM_STDOUT && stream != MF_STREAM_STDERR))
        return MF_EINVAL;
    if (!job->path[stream])
        return fail(ct, MF_ENOTSUP, "job %s: its output was streamed, not kept", job->pathspec);
    FILE *f = fopen(job->path[stream], "r");
    if (!f)
        return fail(ct, errno, "job %s: cannot read '%s': %s", job->pathspec, job->path[stream], strerror(errno));
    char *data = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&data, &len);
    char b[8192];
    size_t k;
    while (m && (k = fread(b, 1, sizeof b, f)) > 0)
        fwrite(b, 1, k, m);
    fclose(f);
    if (!m)
        return MF_ENOMEM;
    fclose(m);
    memset(out, 0, sizeof *out);
    out->struct_size = sizeof *out;
    out->data = data;
    out->len = len;
    out->release = free_buf;
    return 0;
}

static int ct_cancel(void *state, mf_job *job)
{
    struct ct *ct = state;
    if (!ct || !job)
        return MF_EINVAL;
    if (job->queued) {
        queue_remove(ct, job);
        job->cancelled = 1;
        job->reaped = job->done = 1;
        job->state = MF_JOB_CANCELLED;
        snprintf(job->reason, sizeof job->reason, "cancelled before it started");
        job->end_time = wall_now();
        return 0;
    }
    if (job->done || job->reaped)
        return 0;
    job->cancelled = 1;
    kill_container(ct, job);
    return 0;
}

static void ct_release(void *state, mf_job *job)
{
    struct ct *ct = state;
    if (!ct || !job)
        return;
    if (job->queued)
        queue_remove(ct, job);
    if (job->started && !job->removed) {
        /* Still running: the client goes now, the container at fini (one rm for all). */
        if (!job->reaped) {
            kill(-job->pid, SIGKILL);
            add_helper(ct, job->pid);
        }
        if (ct->npending == ct->pending_cap) {
            size_t cap = ct->pending_cap ? ct->pending_cap * 2 : 16;
            char **g = realloc(ct->pending_rm, cap * sizeof *g);
            if (g) {
                ct->pending_rm = g;
                ct->pending_cap = cap;
            }
        }
        if (ct->npending < ct->pending_cap && (ct->pending_rm[ct->npending] = strdup(job->cname)))
            ct->npending++;
    }
    free_grant(ct, job);
    if (job->prev)
        job->prev->next = job->next;
    else
        ct->jobs = job->next;
    if (job->next)
        job->next->prev = job->prev;
    free_job(job);
}

static const char *ct_last_error(void *state)
{
    struct ct *ct = state;
    return ct && ct->err[0] ? ct->err : "no error";
}

static int ct_check(void *state, const char *step_name, const struct mf_resources *res)
{
    struct ct *ct = state;
    if (!ct)
        return MF_EINVAL;
    char msg[600];
    if (placement_check_resources(ct->place, step_name ? step_name : "?", res, msg, sizeof msg))
        return fail(ct, MF_EINVAL, "%s", msg);
    return 0;
}

static int ct_describe(void *state, struct mf_buf *out)
{
    struct ct *ct = state;
    if (!ct || !out)
        return MF_EINVAL;
    struct strv a = {0};
    ct_global_args(&ct->conf, &a);
    strv_push(&a, "version");
    strv_push(&a, "--format");
    strv_push(&a, "{{.Client.Version}}");
    char *ver = NULL;
    int rc = a.oom ? -ENOMEM : ct_capture(a.v, ct->envp, ENGINE_CMD_TIMEOUT_S, &ver);
    strv_free(&a);
    char version[128];
    if (rc == 0)
        first_line(ver, version, sizeof version);
    else
        snprintf(version, sizeof version, rc == -ENOENT ? "not installed" : "not answering");
    free(ver);
    const struct place_summary *s = placement_summary(ct->place);
    json_t *doc = json_object(), *offers = json_array(), *offer = json_object(),
           *limits = json_object(), *gpus = json_array();
    for (unsigned g = 0; g < s->gpus; g++) {
        const struct place_gpu *pg = placement_gpu(ct->place, g);
        json_array_append_new(gpus, json_pack("{s:i,s:s,s:s}", "ordinal", pg->ordinal, "busid",
                                              pg->busid, "model", pg->model));
    }
    char source[512];
    snprintf(source, sizeof source, "hwloc (%s) through %s %s", s->source, ct->conf.engine, version);
    json_object_set_new(doc, "source", json_string(source));
    json_object_set_new(doc, "engine", json_string(ct->conf.engine));
    json_object_set_new(doc, "engine_version", json_string(version));
    json_object_set_new(offer, "kind", json_string("machine"));
    json_object_set_new(offer, "name", json_string("this machine"));
    json_object_set_new(offer, "cpus", json_integer(s->pus));
    json_object_set_new(offer, "memory_mb", json_integer((json_int_t)s->memory_mb));
    json_object_set_new(offer, "gpus", json_integer(s->gpus));
    json_array_append_new(offers, offer);
    json_object_set_new(doc, "offers", offers);
    json_object_set_new(doc, "gpu_list", gpus);
    json_object_set_new(limits, "cpu", json_string("the engine's --cpus (CFS quota) and --cpuset-cpus"));
    json_object_set_new(limits, "memory", json_string("the engine's --memory, swap equal to it (the kernel OOM-kills past it)"));
    json_object_set_new(limits, "gpu", json_string(ct->conf.docker ? "--gpus device=N, one task per GPU" : "CDI --device nvidia.com/gpu=N, one task per GPU"));
    json_object_set_new(limits, "time", json_string("timeout_s: the container is killed"));
    json_object_set_new(doc, "limits", limits);
    char text[2048];
    snprintf(text, sizeof text,
             "compute 'container': engine %s %s\n"
             "machine: %u CPUs (%u cores), %llu MB memory, %u GPU(s) (%s)\n"
             "limits: cpu via --cpus, memory via --memory (swap = memory), GPUs via %s, one task per GPU\n",
             ct->conf.engine, version, s->pus, s->cores, (unsigned long long)s->memory_mb, s->gpus,
             s->source, ct->conf.docker ? "--gpus" : "CDI devices");
    json_object_set_new(doc, "text", json_string(text));
    char *dump = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    if (!dump)
        return fail(ct, MF_ENOMEM, "out of memory describing the machine");
    memset(out, 0, sizeof *out);
    out->struct_size = sizeof *out;
    out->data = dump;
    out->len = strlen(dump);
    out->release = free_buf;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */

#define OPT(n, e, d, h)                                                                        \
    {.struct_size = sizeof(struct mf_option_def), .type = MF_OPT_STRING, .name = n, .env = e,    \
     .default_value = d, .help = h}

static const struct mf_option_def options[] = {
    OPT("engine", "MFLOW_CONTAINER_ENGINE", "podman", "the container engine: podman, docker, or a path to one of them"),
    OPT("image", "MFLOW_CONTAINER_IMAGE", NULL, "the image of steps without an .image (e.g. localhost/mflow:0.1.0 from make-image.sh)"),
    OPT("mflow", "MFLOW_CONTAINER_MFLOW", "image", "how mflow gets into the container: image (the image has it on its PATH) or host (the host's mflow bound read-only)"),
    OPT("network", "MFLOW_CONTAINER_NETWORK", "host", "the containers' network mode (host: an S3 datastore on loopback is reachable)"),
    OPT("shm_size", "MFLOW_CONTAINER_SHM_SIZE", NULL, "--shm-size of the containers (e.g. 1g); unset: the engine's default"),
    OPT("run_flags", "MFLOW_CONTAINER_RUN_FLAGS", NULL, "extra flags for the engine's run, blank-separated"),
    OPT("pass_env", "MFLOW_CONTAINER_PASS_ENV", NULL, "names of host environment variables to pass into the containers (blank- or comma-separated; MFLOW_* and AWS_* always are)"),
    OPT("root", "MFLOW_CONTAINER_ROOT", NULL, "podman --root: the storage directory"),
    OPT("runroot", "MFLOW_CONTAINER_RUNROOT", NULL, "podman --runroot: the state directory"),
    OPT("runtime", "MFLOW_CONTAINER_RUNTIME", NULL, "podman --runtime (e.g. runc)"),
    OPT("containers_conf", "MFLOW_CONTAINER_CONTAINERS_CONF", NULL, "podman's CONTAINERS_CONF for the engine commands"),
    OPT("gpu_flag", "MFLOW_CONTAINER_GPU_FLAG", "auto", "how GPUs are passed: auto (docker: --gpus, else CDI), cdi, gpus"),
    OPT("cpu_bind", "MFLOW_CONTAINER_CPU_BIND", "on", "on: --cpuset-cpus with the cores placement gave the task; off: --cpus only"),
    OPT("start_allowance_s", "MFLOW_CONTAINER_START_ALLOWANCE_S", "10", "seconds added to a step's timeout_s before its container is killed (the task stops itself at timeout_s; this covers the engine's start-up)"),
    OPT("print_command", "MFLOW_CONTAINER_PRINT_COMMAND", NULL, "append each engine run command line to this file (tests, debugging)"),
};

static void ct_fini(void *state);

/* The directory above the one holding the host's mflow: an install prefix (PREFIX/bin) or
 * the build tree (BUILD/core), which hold the plugins mflow loads. */
static char *host_prefix(void)
{
    char *exe = realpath("/proc/self/exe", NULL);
    if (!exe)
        return NULL;
    for (int up = 0; up < 2; up++) {
        char *slash = strrchr(exe, '/');
        if (slash && slash != exe)
            *slash = '\0';
    }
    return exe;
}

static int ct_init(const struct mf_host_api *host, void **state)
{
    if (!host || !state)
        return MF_EINVAL;
    *state = NULL;
    struct ct *ct = calloc(1, sizeof *ct);
    if (!ct)
        return MF_ENOMEM;
    ct->host = host;
    int rc = 0;
    ct->conf.engine = option(ct, "engine", "podman");
    const char *base = strrchr(ct->conf.engine, '/');
    base = base ? base + 1 : ct->conf.engine;
    const char *gpu = option(ct, "gpu_flag", "auto");
    if (strcmp(gpu, "auto") && strcmp(gpu, "cdi") && strcmp(gpu, "gpus")) {
        LOG(ct, MF_LOG_ERROR, "option gpu_flag='%s' is not auto, cdi or gpus (fix MFLOW_CONTAINER_GPU_FLAG or \"container\": {\"gpu_flag\": ...})", gpu);
        rc = MF_EINVAL;
        goto error;
    }
    ct->conf.docker = !strcmp(gpu, "gpus") || (!strcmp(gpu, "auto") && strstr(base, "docker"));
    ct->conf.root = option(ct, "root", NULL);
    ct->conf.runroot = option(ct, "runroot", NULL);
    ct->conf.runtime = option(ct, "runtime", NULL);
    ct->conf.network = option(ct, "network", "host");
    ct->conf.shm_size = option(ct, "shm_size", NULL);
    ct->conf.run_flags = option(ct, "run_flags", NULL);
    ct->conf.pass_env = option(ct, "pass_env", NULL);
    ct->default_image = option(ct, "image", NULL);
    ct->print_command = option(ct, "print_command", NULL);
    const char *allow = option(ct, "start_allowance_s", "10");
    char *end = NULL;
    ct->start_allowance_s = strtod(allow, &end);
    if (!end || end == allow || *end || !(ct->start_allowance_s >= 0 && ct->start_allowance_s <= 3600)) {
        LOG(ct, MF_LOG_ERROR, "option start_allowance_s='%s' is not a number of seconds from 0 to 3600", allow);
        rc = MF_EINVAL;
        goto error;
    }
    const char *mode = option(ct, "mflow", "image");
    if (strcmp(mode, "image") && strcmp(mode, "host")) {
        LOG(ct, MF_LOG_ERROR, "option mflow='%s' is not image or host (fix MFLOW_CONTAINER_MFLOW or \"container\": {\"mflow\": ...})", mode);
        rc = MF_EINVAL;
        goto error;
    }
    ct->conf.mflow_host = !strcmp(mode, "host");
    ct->host_prefix = host_prefix();
    ct->conf.host_prefix = ct->host_prefix;
    if (ct->conf.mflow_host && !ct->host_prefix) {
        LOG(ct, MF_LOG_ERROR, "mflow=host: cannot find this mflow's own path (/proc/self/exe)");
        rc = MF_EUNAVAIL;
        goto error;
    }
    const char *bind = option(ct, "cpu_bind", "on");
    if (strcmp(bind, "on") && strcmp(bind, "off")) {
        LOG(ct, MF_LOG_ERROR, "option cpu_bind='%s' is not on or off", bind);
        rc = MF_EINVAL;
        goto error;
    }
    if (ct_orchestrator_id(getpid(), ct->orchestrator, sizeof ct->orchestrator) != 0)
        snprintf(ct->orchestrator, sizeof ct->orchestrator, "unknown:%d:0", (int)getpid());
    ct->conf.orchestrator = ct->orchestrator;
    /* The engine's environment: ours, with CONTAINERS_CONF when set. */
    const char *cconf = option(ct, "containers_conf", NULL);
    size_t n = 0;
    while (environ[n])
        n++;
    ct->envp = calloc(n + 2, sizeof *ct->envp);
    if (!ct->envp) {
        rc = MF_ENOMEM;
        goto error;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!cconf || strncmp(environ[i], "CONTAINERS_CONF=", 16))
            ct->envp[k++] = strdup(environ[i]);
    if (cconf && asprintf(&ct->envp[k++], "CONTAINERS_CONF=%s", cconf) < 0)
        ct->envp[--k] = NULL;
    /* The machine, as the local plugin's placement sees it. */
    char msg[1024];
    hwloc_topology_t topo = NULL;
    long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
    uint64_t phys_mb = pages > 0 && psize > 0 ? (uint64_t)pages * (uint64_t)psize >> 20 : 0;
    rc = placement_topology_load(&topo, msg, sizeof msg);
    if (rc) {
        long online = sysconf(_SC_NPROCESSORS_ONLN);
        LOG(ct, MF_LOG_WARN, "%s; placing containers without it", msg);
        rc = placement_create_flat(online > 0 ? (unsigned)online : 1, phys_mb, &ct->place);
    } else {
        rc = placement_create_here(topo, phys_mb, 0, &ct->place, msg, sizeof msg);
        hwloc_topology_destroy(topo);
        if (rc)
            LOG(ct, MF_LOG_ERROR, "%s", msg);
    }
    if (rc)
        goto error;
    ct->cpuset = !strcmp(bind, "on") && placement_summary(ct->place)->this_system;
    ct->buf = malloc(READ_CHUNK);
    if (!ct->buf) {
        rc = MF_ENOMEM;
        goto error;
    }
    *state = ct;
    return 0;
error:
    ct_fini(ct);
    return rc;
}

static void ct_fini(void *state)
{
    struct ct *ct = state;
    if (!ct)
        return;
    while (ct->jobs)
        ct_release(ct, ct->jobs);
    if (ct->npending) {
        /* Containers of jobs released while they ran: removed before mflow exits. */
        struct strv a = {0};
        ct_global_args(&ct->conf, &a);
        for (const char *const *w = rm_words(ct); *w; w++)
            strv_push(&a, *w);
        for (size_t i = 0; i < ct->npending; i++)
            strv_push(&a, ct->pending_rm[i]);
        if (!a.oom)
            ct_capture(a.v, ct->envp, ENGINE_CMD_TIMEOUT_S, NULL);
        strv_free(&a);
    }
    for (size_t i = 0; i < ct->npending; i++)
        free(ct->pending_rm[i]);
    free(ct->pending_rm);
    reap_helpers(ct, 1);
    free(ct->helpers);
    for (size_t i = 0; i < ct->nprobed; i++)
        free(ct->probed[i]);
    free(ct->probed);
    for (size_t i = 0; ct->envp && ct->envp[i]; i++)
        free(ct->envp[i]);
    free(ct->envp);
    placement_destroy(ct->place);
    free(ct->host_prefix);
    free(ct->buf);
    free(ct);
}

static const struct mf_compute_ops ops = {
    .struct_size = sizeof(struct mf_compute_ops),
    .caps = 0,
    .submit = ct_submit,
    .poll = ct_poll,
    .wait = ct_wait,
    .logs = ct_logs,
    .cancel = ct_cancel,
    .release = ct_release,
    .last_error = ct_last_error,
    .check = ct_check,
    .describe = ct_describe,
};

static const struct mf_plugin_desc desc = {
    .struct_size = sizeof(struct mf_plugin_desc),
    .abi_major = MF_PLUGIN_ABI_MAJOR,
    .abi_minor = MF_PLUGIN_ABI_MINOR,
    .kind = MF_PLUGIN_COMPUTE,
    .name = PLUGIN_NAME,
    .version = "0.1.0",
    .description = "runs each task in a container of its step's image (podman or docker), with its resources as limits",
    .options = options,
    .n_options = sizeof options / sizeof options[0],
    .init = ct_init,
    .fini = ct_fini,
    .ops = &ops,
};

MF_PLUGIN_EXPORT const struct mf_plugin_desc *mf_plugin_entry_v1(const struct mf_host_api *host)
{
    (void)host;
    return &desc;
}
