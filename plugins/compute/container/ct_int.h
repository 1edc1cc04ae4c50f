/* Internal to the container compute plugin: the engine's command lines (argv.c) and running
 * the engine's short commands (engine.c), shared with the job bookkeeping in container.c.
 * Nothing here is exported (hidden visibility; only mf_plugin_entry_v1 is public). */
#ifndef MF_COMPUTE_CONTAINER_INT_H
#define MF_COMPUTE_CONTAINER_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A growable NULL-terminated array of malloc'd strings. */
struct strv {
    char **v;
    size_t n, cap;
    int oom;                  /* some push failed: the array is incomplete */
};
void strv_push(struct strv *s, const char *str);
void strv_pushf(struct strv *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void strv_free(struct strv *s);

/* The settings that shape a command line. */
struct ct_conf {
    const char *engine;          /* program: "podman", "docker" or a path */
    int docker;                  /* the engine speaks docker's GPU flag (--gpus) */
    const char *root, *runroot, *runtime;   /* podman's global --root/--runroot/--runtime */
    const char *network;         /* --network; "" = the engine's default */
    const char *shm_size;        /* --shm-size; "" = the engine's default */
    const char *run_flags;       /* extra words for `run`, split on blanks */
    const char *pass_env;        /* host variables passed on by name, blank-separated */
    int mflow_host;              /* mflow=host: bind the host's mflow in */
    const char *host_prefix;     /* with mflow_host: the directory holding bin/ or core/ */
    const char *orchestrator;    /* label value: "HOST:PID:STARTTIME" */
};

/* What one job's container gets. */
struct ct_run {
    const char *name;            /* container name */
    const char *image;
    const char *pathspec, *flow, *step;
    int64_t run_id, task_id;
    uint32_t attempt;
    uint32_t cpu;                /* --cpus; 0 = none */
    uint64_t memory_mb;          /* --memory and --memory-swap; 0 = none */
    const char *cpuset;          /* --cpuset-cpus, or NULL */
    const int *gpus;             /* GPU ordinals, ngpu of them */
    unsigned ngpu;
    const char *const *env;      /* the step's "K=V" */
    const char *const *argv;     /* the `mflow task ...` command (argv[0] the host's mflow) */
    const char *workdir;
    const char *datastore_dir;   /* a local datastore (bound read-write), or NULL */
    const char *home;            /* MFLOW_HOME: its config.json is bound read-only */
};

/* The engine's global flags (podman --root ...), for every command. */
void ct_global_args(const struct ct_conf *c, struct strv *out);
/* `ENGINE [global] run ...` for one job. 0 or MF_ENOMEM. */
int ct_run_argv(const struct ct_conf *c, const struct ct_run *r, struct strv *out);
/* A container name from a pathspec: [A-Za-z0-9_.-], others as '-', prefixed "mflow-". */
void ct_name(const char *pathspec, uint32_t attempt, char *buf, size_t len);
/* "HOST:PID:STARTTIME" for a process (its start time from /proc/PID/stat, in clock ticks
 * since boot), so that a reused pid is not taken for the orchestrator. 0 or errno. */
int ct_orchestrator_id(pid_t pid, char *buf, size_t len);

/* Run a short engine command to completion (stdin /dev/null), its stdout and stderr
 * together in *out (malloc'd, NUL-terminated; may be NULL). Returns the exit status
 * (0..255), 1000+signal when killed, or -errno when it could not be started (ENOENT: no
 * such program). envp: the environment. timeout_s bounds it (then it is killed). */
int ct_capture(char *const *argv, char *const *envp, double timeout_s, char **out);
/* Start a command in the background in its own process group (stdio /dev/null); its pid or
 * -errno. The caller reaps it. */
pid_t ct_background(char *const *argv, char *const *envp);

#endif
