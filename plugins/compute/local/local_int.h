/* Internal to the local compute plugin: process spawning and child-exit notification
 * (spawn.c), shared with the job bookkeeping in local.c. Nothing here is exported: the
 * module is built with hidden visibility and only mf_plugin_entry_v1 is public. */
#ifndef MF_COMPUTE_LOCAL_INT_H
#define MF_COMPUTE_LOCAL_INT_H

#include <stddef.h>
#include <sys/types.h>

/* What one child needs. Every fd must be >= 3 (local_fd_above_stdio) so that the dup2
 * onto 0, 1 and 2 in the child cannot clobber one another. */
struct local_spawn_req {
    const char *const *argv;     /* argv[0] is searched on the host's PATH when it has no '/' */
    const char *const *env;      /* job env, "K=V", NULL-terminated, may be NULL */
    const char *workdir;         /* or NULL */
    /* What the plugin exports for the job's resources, "K=V", NULL-terminated, may be NULL:
     * forced entries win over the job's env (MFLOW_CPUS), defaults only where the job's env
     * does not set that key (OMP_NUM_THREADS, CUDA_VISIBLE_DEVICES). Either replaces the
     * host's own value. */
    const char *const *env_forced;
    const char *const *env_defaults;
    const void *cpuset;          /* a cpu_set_t of cpuset_size bytes to bind the child to, or NULL */
    size_t cpuset_size;
    const char *cpu_list;        /* the same as text, for messages */
    int cgroup_procs_fd;         /* the job's cgroup.procs: the child moves itself in; -1 none */
    unsigned long long data_limit;   /* RLIMIT_DATA in bytes; 0 none */
    int stdin_fd;                /* /dev/null */
    int stdout_fd;               /* write end of the stdout pipe */
    int stderr_fd;               /* write end of the stderr pipe */
};

/* Start the child in its own process group with default signal dispositions, an empty
 * signal mask, stdin/stdout/stderr from the request and every other fd closed; bound to its
 * CPUs, in its memory cgroup and under its resource limit before it runs anything of its
 * own (clone(CLONE_VM|CLONE_VFORK) + exec: the child applies them itself between the two).
 * On failure returns a positive errno and writes a message naming the thing and what to do
 * to err; no child is left. */
int local_spawn(const struct local_spawn_req *req, const char *name, pid_t *pid, char *err,
                size_t errlen);

/* The child's environment: the host's, then the job's (later entries win), then forced and
 * default entries as described above. Pointers are borrowed; free the array only. NULL
 * when out of memory. */
char **local_build_env(const char *const *job_env, const char *const *forced,
                       const char *const *defaults);

/* A task server (task_server.c; the host service and its protocol are
 * <mflow/task_server.h>): a preloaded `mflow` that forks a child per task. Its children are not this process's: their exits come as events. */
struct local_server;
typedef void (*local_server_exit_fn)(void *ud, pid_t pid, int wstatus);
/* Start `exe __task-server` without waiting for it. 0, or a positive errno with err set. */
int local_server_start(const char *exe, struct local_server **out, char *err, size_t errlen);
/* Its hello came (1), not yet (0: exec jobs meanwhile, so that its start-up is never on a
 * job's path), or it failed to start (-1, err set). With wait, blocks until it answers or
 * its start-up time is over. */
int local_server_ready(struct local_server *s, int wait, char *err, size_t errlen);
/* Ask the server to start the job, set up as local_spawn would; its answer (the pid) comes
 * later, from local_server_reply, in the order of the requests. 0; EMSGSIZE when the request
 * is too large for the server (exec it instead; no message); EPIPE when the server is gone
 * (message in err; stop it and exec from now on). */
int local_server_send(struct local_server *s, const struct local_spawn_req *req,
                      const char *name, char *err, size_t errlen);
/* The answer to the oldest request not yet answered (name: its job, for messages): 1 with
 * *pid; 0 when it has not come yet and wait is 0 (else waits up to 10 s); -EPIPE when the
 * server is gone or does not answer (message in err); -errno when its fork failed (message
 * in err). */
int local_server_reply(struct local_server *s, int wait, const char *name, pid_t *pid, char *err,
                       size_t errlen);
/* The fd to poll for exit events, and reading them: fn once per exited child. 0, or -1 when
 * the server is gone. */
int local_server_event_fd(const struct local_server *s);
int local_server_events(struct local_server *s, local_server_exit_fn fn, void *ud);
/* Close its sockets (it exits) and reap it. NULL is a no-op. */
void local_server_stop(struct local_server *s);


/* The describe operation (describe.c): this machine as hwloc and memlimit.c see it, with
 * the options memory_limit and cpu_bind, as a JSON document in *out (released by its own
 * release). live: the instance's memory limits, used as they are once prepared (else
 * probed afresh). 0, or an error with the message in err. */
struct mf_buf;
struct memlimit;
int local_describe(const char *memory_limit, const char *cpu_bind, const struct memlimit *live,
                   struct mf_buf *out, char *err, size_t errlen);

/* Open (create, append) a log file, creating its parent directories. 0 or positive errno,
 * with the message in err. */
int local_open_log(const char *path, const char *what, const char *name, int *fd, char *err,
                   size_t errlen);

/* fd moved (dup'ed, O_CLOEXEC) to a number >= 3 when it is below; -1 with errno on failure
 * (the original is closed then). */
int local_fd_above_stdio(int fd);

/* pidfd_open(2); -1 with errno (ENOSYS where the kernel or libc lacks it). */
int local_pidfd_open(pid_t pid);

/* Fallback exit notification when pidfds are unavailable: a SIGCHLD handler that writes to
 * a self-pipe and chains to the handler it replaced. Reference-counted across instances.
 * install returns 0 or a positive errno; the read end is local_sigchld_fd(). */
int local_sigchld_install(void);
void local_sigchld_uninstall(void);
int local_sigchld_fd(void);
void local_sigchld_drain(void);

#endif
