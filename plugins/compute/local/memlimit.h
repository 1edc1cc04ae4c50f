/* Memory limits for local jobs: a memory cgroup per job where this machine allows it (cgroup
 * v2, or the v1 memory controller), else a resource limit on each process (RLIMIT_DATA).
 *
 * Job cgroups live below the orchestrator's own cgroup, in <own>/mflow.<pid>/job-<n>, so an
 * enclosing limit (a container, a Slurm job) still applies and one run's cgroups never meet
 * another's. The directory of a run that died is removed by the next run that makes one.
 * Also compiled into the mflow command (`mflow resources` shows what is enforceable). Not
 * thread-safe. */
#ifndef MF_COMPUTE_LOCAL_MEMLIMIT_H
#define MF_COMPUTE_LOCAL_MEMLIMIT_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

enum memlimit_mech {
    MEMLIMIT_NONE = 0,      /* not enforced (option memory_limit=none) */
    MEMLIMIT_CGROUP2 = 1,   /* memory.max in a cgroup v2 per job; OOM kills seen in memory.events */
    MEMLIMIT_CGROUP1 = 2,   /* memory.limit_in_bytes (+ memsw) in a v1 memory cgroup per job */
    MEMLIMIT_RLIMIT = 3,    /* RLIMIT_DATA on the job's processes (each, not together) */
};

struct memlimit {
    int mech;                   /* enum memlimit_mech in force */
    int prepared;               /* base exists (cgroup mechanisms) */
    unsigned seq;               /* job cgroups made so far */
    char own[PATH_MAX];         /* this process's memory cgroup directory, or "" */
    char base[PATH_MAX + 32];   /* own/mflow.<pid> */
    char why[768];              /* why cgroups are not used, when mech is RLIMIT or NONE */
};

struct memlimit_job {
    int mech;
    uint64_t limit_mb;
    int procs_fd;               /* the job cgroup's cgroup.procs, open for the child to write
                                 * "0" into before exec; -1 when none */
    char path[PATH_MAX + 64];   /* the job's cgroup, or "" */
};

/* Find how limits can be enforced. want: "auto" (cgroups where possible, else RLIMIT_DATA),
 * "cgroup" (fail when cgroups are not usable), "rlimit" or "none". Looks only; nothing is
 * created until memlimit_prepare. Returns 0, MF_EINVAL (bad want) or MF_EUNAVAIL (want is
 * "cgroup" and there is none), with the message in err. */
int memlimit_open(struct memlimit *m, const char *want, char *err, size_t errlen);

/* Make the base cgroup directory (once). When that fails with want "auto", m falls back to
 * RLIMIT_DATA and m->why says why; with "cgroup" it returns the error. 0 or an error code
 * with the message in err. */
int memlimit_prepare(struct memlimit *m, int strict, char *err, size_t errlen);

/* Remove the base directory (what is still in use there stays). */
void memlimit_close(struct memlimit *m);

/* The mechanism's words: "cgroup v1 (/sys/fs/cgroup/memory/.../mflow.123)",
 * "RLIMIT_DATA (...why...)". */
const char *memlimit_describe(const struct memlimit *m, char *buf, size_t len);

/* The memory limit of the cgroup this process is in, in MB; 0 when none or unknown. */
uint64_t memlimit_own_limit_mb(const struct memlimit *m);

/* Set up a job limited to mb MB. With a cgroup mechanism: creates its cgroup and opens
 * cgroup.procs (j->procs_fd). 0, or a positive errno with the message in err. */
int memlimit_job_create(struct memlimit *m, uint64_t mb, struct memlimit_job *j, char *err,
                        size_t errlen);

/* After the job's process ended: 1 when the kernel's OOM killer acted in its cgroup, 0 when
 * not, -1 when unknown (no cgroup, or the kernel does not count). *peak_mb: the most it used
 * (0 when unknown). */
int memlimit_job_oom(const struct memlimit_job *j, uint64_t *peak_mb);

/* Close the fd and remove the job's cgroup. 0, or EBUSY while processes are still in it (call
 * again later); other errors are given up on (0). */
int memlimit_job_remove(struct memlimit_job *j);

#endif
