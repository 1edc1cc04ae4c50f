/* What a task's process applies to itself before it runs the task, shared by the two ways the
 * local plugin starts one: spawn.c's child between clone(CLONE_VM | CLONE_VFORK) and exec,
 * and the task server's forked child (server.c). Header-only so that each inlines it.
 * Only system-call wrappers are called (no malloc, no locks), as the vfork-like child
 * requires. */
#ifndef MF_COMPUTE_LOCAL_CHILD_SETUP_H
#define MF_COMPUTE_LOCAL_CHILD_SETUP_H
#include <errno.h>
#include <sched.h>
#include <stddef.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

enum child_step {
    STEP_SETUP = 1,      /* process group, stdio */
    STEP_CHDIR,
    STEP_AFFINITY,
    STEP_CGROUP,
    STEP_RLIMIT,
    STEP_EXEC,           /* the caller's own last step */
};

struct child_setup {
    int stdin_fd, stdout_fd, stderr_fd;   /* each >= 3, so the dup2s cannot clobber one another */
    const char *workdir;                  /* or NULL */
    const void *cpuset;                   /* a cpu_set_t of cpuset_size bytes, or NULL */
    size_t cpuset_size;
    int cgroup_procs_fd;                  /* the job's cgroup.procs; -1 none */
    unsigned long long data_limit;        /* RLIMIT_DATA in bytes; 0 none */
};

/* Every fd from 3 up closed: nothing of the starter leaks into the task (an fd holding
 * another job's pipe would keep that job from ever seeing EOF). */
static inline void child_close_from_3(void)
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
static inline int child_setup_apply(const struct child_setup *c)
{
    if (setpgid(0, 0) != 0)
        return STEP_SETUP;
    /* dup2 clears FD_CLOEXEC on the target. */
    if (dup2(c->stdin_fd, 0) < 0 || dup2(c->stdout_fd, 1) < 0 || dup2(c->stderr_fd, 2) < 0)
        return STEP_SETUP;
    if (c->workdir && chdir(c->workdir) != 0)
        return STEP_CHDIR;
    if (c->cpuset && sched_setaffinity(0, c->cpuset_size, c->cpuset) != 0)
        return STEP_AFFINITY;
    /* "0" moves the writer: the task is in its cgroup before it allocates anything. */
    if (c->cgroup_procs_fd >= 0 && write(c->cgroup_procs_fd, "0", 1) != 1)
        return STEP_CGROUP;
    if (c->data_limit) {
        struct rlimit rl;
        if (getrlimit(RLIMIT_DATA, &rl) != 0)
            return STEP_RLIMIT;
        rlim_t lim = (rlim_t)c->data_limit;
        if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < lim)
            lim = rl.rlim_max;
        rl.rlim_cur = rl.rlim_max = lim;   /* the hard limit too: the task cannot lift it */
        if (setrlimit(RLIMIT_DATA, &rl) != 0)
            return STEP_RLIMIT;
    }
    child_close_from_3();
    return 0;
}

#endif
