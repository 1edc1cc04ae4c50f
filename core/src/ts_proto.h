/* The server side of the task server protocol (<mflow/task_server.h>), one implementation for
 * mflow's own task server (cli/cmd_task_server.c) and the loop that servers written in another
 * language call (foreign_ts.c): receiving a request with its fds, replying, reaping children
 * from a signalfd and sending their exits, a child's set-up, and sharing the code mappings
 * with the children. Internal to libmflow (not in sdk/include).
 *
 * Every page a server writes between two forks is a copy-on-write fault in the server (each
 * fork write-protects its pages) and a page-table change at the next fork, so nothing here
 * allocates per request: a request's strings and its argv and environment arrays lie in the
 * buffer its message was received into, and an exit is queued only when the event socket does
 * not take it at once. */
#ifndef MF_TS_PROTO_H
#define MF_TS_PROTO_H

#include <mflow/task_server.h>

#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

/* A request as received: strings and arrays point into the server's buffer and live until
 * the next receive. */
struct mf_ts_proto_request {
    struct mf_ts_request h;
    const void *cpuset;
    char **argv;             /* argc + 1, NULL-terminated */
    char **envp;             /* envc + 1 */
    const char *workdir;     /* or NULL */
    int fd[MF_TS_MAX_FDS];
    int nfd;
};

/* The children forked and not reaped yet, so that a wake for SIGCHLD waits for no child
 * when none is left (a wait4 answered ECHILD, and its errno a copy-on-write fault on the TLS
 * page, after about every other task). It lies in the buffer's first page, which receiving
 * each request writes anyway: keeping it costs no page of its own after a fork. Only pids
 * the server forked are counted; once more than the slots hold were forked, each wake waits
 * until no child is left to reap (ECHILD), as without the table, until one says so. */
#define MF_TS_LIVE_SLOTS 62
struct mf_ts_live {
    uint32_t n;                            /* slots in use */
    uint32_t untracked;                    /* not 0: more were forked than slots hold */
    int32_t pid[MF_TS_LIVE_SLOTS];         /* 0: free */
};

struct mf_ts_proto {
    int req_fd, evt_fd, sfd;
    char *buf;                      /* the message, then the argv and envp slots */
    struct mf_ts_live *live;        /* the children not reaped yet, just before buf */
    struct mf_ts_event *pending;    /* exits the event socket did not take yet */
    size_t npending, cap_pending;
    /* Optional, set by the caller after open: rusage is called with each reaped child's
     * resource use (wait4 then asks for it); lost with the pid of an exit that could not be
     * queued (out of memory). */
    void (*rusage)(void *arg, pid_t pid, const struct rusage *ru);
    void (*lost)(void *arg, pid_t pid);
    void *arg;
};

/* SIGCHLD blocked in the calling thread from here on (read from a signalfd), the request
 * buffer allocated. 0 or errno (s then holds nothing to close). */
int mf_ts_proto_open(struct mf_ts_proto *s, int req_fd, int evt_fd);
/* The signalfd, buffer and queue; SIGCHLD stays blocked. */
void mf_ts_proto_close(struct mf_ts_proto *s);

/* Waits until a request can be read, reaping children and sending their exits meanwhile.
 * 1: a request waits; 0: the plugin no longer reads events; -errno: poll failed. */
int mf_ts_proto_wait(struct mf_ts_proto *s);

/* One request into r. 1: got one; 0: the plugin closed the socket; -1: a malformed request
 * (its fds closed, errno EPROTO: answer it with mf_ts_proto_reply(s, -1, errno)). */
int mf_ts_proto_receive(struct mf_ts_proto *s, struct mf_ts_proto_request *r);
void mf_ts_proto_close_fds(struct mf_ts_proto_request *r);
/* The next request's message into the buffer, left queued with its fds for the next receive
 * (the copies of its fds the peek installed are closed). Its length, 0 at the end, or -1. */
ssize_t mf_ts_proto_peek(struct mf_ts_proto *s);
/* The answer to the request last received: the child's pid (then counted as a child to
 * reap), or -1 and an errno (then also an event of pid -1, since no exit will follow). */
void mf_ts_proto_reply(struct mf_ts_proto *s, int32_t pid, int32_t err);

/* The NUL-terminated strings of [*p, end): n of them into v[0..n-1], v[n] NULL. 0 or -1. */
int mf_ts_proto_take_strings(char **p, const char *end, uint32_t n, char **v);

/* In the child: mf_ts_child_setup_apply with the request's fds, working directory, CPUs,
 * cgroup and RLIMIT_DATA. 0, or the enum mf_ts_step that failed (errno set). Inline: only
 * children run it, so out of line it would be a page of code each child faults in. */
static inline int mf_ts_proto_child_setup(const struct mf_ts_proto_request *r)
{
    struct mf_ts_child_setup cs = {
        .stdin_fd = r->fd[0], .stdout_fd = r->fd[1], .stderr_fd = r->fd[2],
        .workdir = r->workdir, .cpuset = r->cpuset, .cpuset_size = r->h.cpuset_size,
        .cgroup_procs_fd = r->nfd > 3 ? r->fd[3] : -1, .data_limit = r->h.data_limit,
    };
    return mf_ts_child_setup_apply(&cs);
}

/* Once, after the server loaded what its tasks load: each read-only file mapping of the
 * process is given one private page (a byte written back with its own value), so that fork
 * copies its page-table entries and the children start with the server's code and read-only
 * data mapped (Linux copies the entries of a file mapping only when it holds private pages:
 * otherwise each child faults in again every page of code it runs). A mapping that cannot be
 * made writable for a moment is left as it is. Not under strict overcommit (mode 2), where a
 * mapping once writable is charged to every child. Both servers call it only with
 * MFLOW_TS_SHARE_CODE=1: each fork then copies those entries, which on this project's VM cost
 * more than the children's faults they save (cmd_task_server.c). */
void mf_ts_proto_share_code(void);

#endif
