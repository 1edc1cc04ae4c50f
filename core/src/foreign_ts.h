/* What a task server written in another language (the Python SDK's task_server.py) calls in
 * libmflow so that its own per-task work stays small: every page the server writes between
 * two forks is a copy-on-write fault in the server (each fork write-protects its pages), and
 * every page a child writes is one in the child. The server's loop (receiving requests,
 * reaping children, sending their exits, replying) is here, in C: the language's runtime is
 * entered only to fork and, in the child, to run the task. The protocol is mflow's own
 * (<mflow/task_server.h>). */
#ifndef MF_FOREIGN_TS_H
#define MF_FOREIGN_TS_H

#include <stdint.h>

/* Once, after the server loaded what its tasks load, and only with MFLOW_TS_SHARE_CODE=1 (a
 * machine whose page faults are dear; see foreign_ts.c): each read-only file mapping of the
 * process is given one private page (a byte written back with its own value), so that fork
 * copies its page-table entries and the children start with the server's code and read-only
 * data mapped (Linux copies the entries of a file mapping only when it holds private pages:
 * otherwise each child faults in again every page of code it runs). Not under strict
 * overcommit (mode 2), where a mapping once writable is charged to every child. */
void mf_foreign_ts_share_code(void);

typedef struct mf_foreign_ts mf_foreign_ts;

/* A server on req_fd (requests and replies) and evt_fd (exit events). SIGCHLD is blocked in
 * the calling thread from here on (the server reads it from a signalfd; a child unblocks it
 * in mf_foreign_ts_child). 0 or errno. */
int mf_foreign_ts_open(int req_fd, int evt_fd, mf_foreign_ts **out);
void mf_foreign_ts_close(mf_foreign_ts *ts);

/* The held request's command line from its `task` on (argc 0 when it is not a task
 * command), NULL-terminated; it lives as long as the request. */
int mf_foreign_ts_task_argc(const mf_foreign_ts *ts);
char **mf_foreign_ts_task_argv(const mf_foreign_ts *ts);

/* What makes this process's environment the request's (its environment with the global
 * options' variables, --home as MFLOW_HOME and so on, over it): set names "NAME=VALUE" for
 * each variable this environment lacks or holds otherwise, unset the "NAME=VALUE" of each
 * variable to remove; each NULL-terminated, NULL when out of memory. Only variables that
 * differ are named (in a child, each one set costs copied pages); the caller applies them
 * (a runtime keeps its own copy of the environment). They live as long as the request, or
 * until the caller changes the environment. */
char **mf_foreign_ts_env_set(mf_foreign_ts *ts);
char **mf_foreign_ts_env_unset(mf_foreign_ts *ts);

/* How many children were forked (figures for MFLOW_PY_TS_STATS). */
unsigned long mf_foreign_ts_count(const mf_foreign_ts *ts);

/* The server's loop, for a caller that holds its runtime's lock through it (the Python
 * server calls it through ctypes.PyDLL: the interpreter's state is then as os.fork expects
 * it): wait for the next well-formed request (reaping children and sending their exits
 * meanwhile; a malformed one is answered EPROTO), fork, close the request's fds and answer
 * with the pid (or fork's errno), again. Returns 2 with the first request held, before its
 * fork, for the caller to load what every task loads; it then calls again with held set, to
 * fork that one. Returns 0 in each child, after after_child (the runtime's own after-fork
 * call, or NULL), with its request held; 1 when the plugin closed the request socket or no
 * longer reads events; -errno when poll failed. */
int mf_foreign_ts_serve(mf_foreign_ts *ts, int held, void (*after_child)(void));

/* In the child: SIGCHLD unblocked, then mflow's own set-up of a task's process
 * (mf_ts_child_setup_apply) with the request's fds, working directory, CPUs, cgroup and
 * RLIMIT_DATA. 0, or the enum mf_ts_step that failed, with *err its errno. *changes: how
 * many variables mf_foreign_ts_env_set and _unset name (mostly none: the caller then does
 * not ask), -1 when they could not be made. */
int mf_foreign_ts_child(mf_foreign_ts *ts, int *err, int *changes);

#endif
