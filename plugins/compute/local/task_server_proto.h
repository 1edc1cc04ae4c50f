/* The wire format between the local compute plugin (task_server.c) and its task server
 * (server.c, run as `mflow __task-server local` through the plugin's serve operation): a
 * preloaded mflow that forks one child per task instead of the plugin exec'ing a fresh
 * mflow, which saves the exec, the dynamic linking and the loading of the flow and the
 * storage plugin (about 0.5 ms a task on a 2-core VM).
 *
 * The plugin starts the server with two SOCK_SEQPACKET sockets: its stdin carries requests
 * and their replies, its stdout carries exit events. Both ends run on the same machine and
 * are built from the same tree, so structs travel as they are; the hello names the version
 * and a server of another version is not used.
 *
 *   server -> plugin (stdin)   struct ts_hello, once, at start
 *   plugin -> server (stdin)   struct ts_request + payload, with the child's fds attached
 *                              (SCM_RIGHTS: stdin, stdout, stderr, then the cgroup.procs
 *                              file when cgroup is set)
 *   server -> plugin (stdin)   struct ts_reply: the child's pid, or the errno of fork
 *   server -> plugin (stdout)  struct ts_event each time a child exits (waitpid status)
 *
 * Payload after the request header: cpuset_size bytes of cpu_set_t, then argc argv
 * strings, envc environment strings and, when has_workdir, the working directory, each
 * NUL-terminated. The child applies what local_spawn applies (own process group, stdio,
 * working directory, CPU binding, cgroup, RLIMIT_DATA, no other fd, the given environment)
 * and then runs argv as `mflow` would (the host's command_run); argv[0] is the server's own
 * executable. */
#ifndef MF_TASK_SERVER_PROTO_H
#define MF_TASK_SERVER_PROTO_H
#include <stdint.h>

#define TS_MAGIC 0x4d465453u   /* "MFTS" */
#define TS_VERSION 1u
/* A request is argv + environment: about 2 KiB here (an environment of 1.5 KB). A larger
 * one than fits this buffer, or than the socket takes in one message (net.core.wmem_default,
 * 208 KiB here: sendmsg says EMSGSIZE), is exec'ed instead; test_task_server.sh covers it. */
#define TS_MAX_MSG (256u * 1024u)
#define TS_MAX_FDS 4

struct ts_hello {
    uint32_t magic;
    uint32_t version;
    int32_t pid;
    uint32_t reserved;
};

struct ts_request {
    uint32_t magic;
    uint32_t argc;
    uint32_t envc;
    uint32_t nfds;             /* 3, or 4 with the cgroup.procs fd */
    uint32_t cpuset_size;      /* 0: no binding */
    uint32_t has_workdir;
    uint64_t data_limit;       /* RLIMIT_DATA in bytes; 0 none */
};

struct ts_reply {
    int32_t pid;               /* > 0 on success */
    int32_t err;               /* errno of fork (or of reading the request) when pid <= 0 */
};

struct ts_event {
    int32_t pid;
    int32_t wstatus;           /* as waitpid gave it */
};

#endif
