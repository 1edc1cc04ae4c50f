/*
 * mflow task server: a host service for compute plugins that start `mflow task ...` jobs on
 * this machine.
 *
 * Every task is an `mflow task ...` process. Exec'ing one costs the exec itself, the dynamic
 * linking of mflow and its libraries, and loading the flow's .so and the storage plugin:
 * about half a millisecond on a 2-core VM, more than the task's own work for small tasks.
 * The mflow command offers a task server instead, `mflow __task-server`: a preloaded mflow
 * that forks a child per task. A compute plugin (local compute is the one in the tree)
 * starts it once and speaks the protocol below; the server loads what the first task loads
 * (the flow's .so, the storage plugin) and each child runs its task's command line exactly
 * as a fresh `mflow` would, with everything already mapped. The server links nothing a
 * plugin links (hwloc, ...), so its children fork and exit as light as the command itself.
 *
 * The plugin starts `MFLOW __task-server` (MFLOW the mflow executable) with two
 * SOCK_SEQPACKET sockets: its stdin carries requests and their replies, its stdout carries
 * exit events. Both ends run on the same machine from the same mflow, so structs travel as
 * they are; the hello names the version and a server of another version is not used.
 *
 *   server -> plugin (stdin)   struct mf_ts_hello, once, at start
 *   plugin -> server (stdin)   struct mf_ts_request + payload, with the child's fds attached
 *                              (SCM_RIGHTS: stdin, stdout, stderr, then the cgroup.procs
 *                              file when cgroup is set)
 *   server -> plugin (stdin)   struct mf_ts_reply: the child's pid, or the errno of fork
 *   server -> plugin (stdout)  struct mf_ts_event each time a child exits (waitpid status),
 *                              and one of pid -1 after each reply that started no child
 *                              (no exit will follow it: a plugin that reads replies only
 *                              when events come learns of it; others ignore pid -1)
 *
 * Payload after the request header: cpuset_size bytes of cpu_set_t, then argc argv
 * strings, envc environment strings and, when has_workdir, the working directory, each
 * NUL-terminated. The child applies mf_ts_child_setup_apply (own process group, stdio,
 * working directory, CPU binding, cgroup, RLIMIT_DATA, no other fd), takes the given
 * environment, and then runs argv as `mflow` would; argv[0] is the server's own executable.
 * The server is single-threaded, never writes to its stdout but events, and exits when the
 * plugin closes its request socket. The children are the server's, not the plugin's: their
 * exits come only as events.
 *
 * mf_ts_child_setup_apply is also what a plugin applies in its own exec'ed children
 * (between clone and exec), so that both ways of starting a task set it up alike.
 * Header-only, and only system-call wrappers are called (no malloc, no locks), as a
 * vfork-like child requires.
 */
#ifndef MFLOW_TASK_SERVER_H
#define MFLOW_TASK_SERVER_H

/* sched_setaffinity and CPU sets are GNU extensions of <sched.h>. */
#ifndef _GNU_SOURCE
#error "<mflow/task_server.h> needs _GNU_SOURCE: define it before the first #include"
#endif

#include <errno.h>
#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MF_TS_MAGIC 0x4d465453u   /* "MFTS" */
#define MF_TS_VERSION 1u
/* A request is argv + environment: about 2 KiB here (an environment of 1.5 KB). A larger
 * one than fits this buffer, or than the socket takes in one message (net.core.wmem_default,
 * 208 KiB here: sendmsg says EMSGSIZE), is exec'ed instead (tests/e2e/test_task_server.sh). */
#define MF_TS_MAX_MSG (256u * 1024u)
#define MF_TS_MAX_FDS 4

/* The messages (see above). Same machine, same build: no struct_size, the hello's version
 * says which. */
struct mf_ts_hello {
    uint32_t magic;
    uint32_t version;
    int32_t pid;
    uint32_t reserved;
};

struct mf_ts_request {
    uint32_t magic;
    uint32_t argc;
    uint32_t envc;
    uint32_t nfds;             /* 3, or 4 with the cgroup.procs fd */
    uint32_t cpuset_size;      /* 0: no binding */
    uint32_t has_workdir;
    uint64_t data_limit;       /* RLIMIT_DATA in bytes; 0 none */
};

struct mf_ts_reply {
    int32_t pid;               /* > 0 on success */
    int32_t err;               /* errno of fork (or of reading the request) when pid <= 0 */
};

struct mf_ts_event {
    int32_t pid;
    int32_t wstatus;           /* as waitpid gave it */
};

/* The steps of mf_ts_child_setup_apply, for saying which one failed. */
enum mf_ts_step {
    MF_TS_STEP_SETUP = 1,      /* process group, stdio */
    MF_TS_STEP_CHDIR = 2,
    MF_TS_STEP_AFFINITY = 3,
    MF_TS_STEP_CGROUP = 4,
    MF_TS_STEP_RLIMIT = 5,
    MF_TS_STEP_EXEC = 6,       /* the caller's own last step */
};

/* What a task's process applies to itself before it runs the task. */
struct mf_ts_child_setup {
    int stdin_fd, stdout_fd, stderr_fd;   /* each >= 3, so the dup2s cannot clobber one another */
    const char *workdir;                  /* or NULL */
    const void *cpuset;                   /* a cpu_set_t of cpuset_size bytes, or NULL */
    size_t cpuset_size;
    int cgroup_procs_fd;                  /* the job's cgroup.procs; -1 none */
    unsigned long long data_limit;        /* RLIMIT_DATA in bytes; 0 none */
};

/* Every fd from 3 up closed: nothing of the starter leaks into the task (an fd holding
 * another job's pipe would keep that job from ever seeing EOF). */
static inline void mf_ts_close_from_3(void)
{
#ifdef SYS_close_range
    if (syscall(SYS_close_range, 3u, ~0u, 0u) == 0)
        return;
#endif
    struct rlimit rl;
    long max = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY ? (long)rl.rlim_cur : 65536;
    for (long fd = 3; fd < max; fd++)
        close((int)fd);
}

/* Own process group (so a kill reaches everything the task starts), stdio, working
 * directory, CPUs, memory cgroup, RLIMIT_DATA, then every other fd closed. 0, or the step
 * that failed with errno set. */
static inline int mf_ts_child_setup_apply(const struct mf_ts_child_setup *c)
{
    if (setpgid(0, 0) != 0)
        return MF_TS_STEP_SETUP;
    /* dup2 clears FD_CLOEXEC on the target. */
    if (dup2(c->stdin_fd, 0) < 0 || dup2(c->stdout_fd, 1) < 0 || dup2(c->stderr_fd, 2) < 0)
        return MF_TS_STEP_SETUP;
    if (c->workdir && chdir(c->workdir) != 0)
        return MF_TS_STEP_CHDIR;
    if (c->cpuset && sched_setaffinity(0, c->cpuset_size, c->cpuset) != 0)
        return MF_TS_STEP_AFFINITY;
    /* "0" moves the writer: the task is in its cgroup before it allocates anything. */
    if (c->cgroup_procs_fd >= 0 && write(c->cgroup_procs_fd, "0", 1) != 1)
        return MF_TS_STEP_CGROUP;
    if (c->data_limit) {
        struct rlimit rl;
        if (getrlimit(RLIMIT_DATA, &rl) != 0)
            return MF_TS_STEP_RLIMIT;
        rlim_t lim = (rlim_t)c->data_limit;
        if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < lim)
            lim = rl.rlim_max;
        rl.rlim_cur = rl.rlim_max = lim;   /* the hard limit too: the task cannot lift it */
        if (setrlimit(RLIMIT_DATA, &rl) != 0)
            return MF_TS_STEP_RLIMIT;
    }
    mf_ts_close_from_3();
    return 0;
}

#endif /* MFLOW_TASK_SERVER_H */
