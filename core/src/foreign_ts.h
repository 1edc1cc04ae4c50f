/* What a task server written in another language (the Python SDK's task_server.py) calls in
 * libmflow so that its own per-task work stays small: every page the server writes between
 * two forks is a copy-on-write fault in the server (each fork write-protects its pages), and
 * every page a child writes is one in the child. */
#ifndef MF_FOREIGN_TS_H
#define MF_FOREIGN_TS_H

/* Once, after the server loaded what its tasks load: each read-only file mapping of the
 * process is given one private page (a byte written back with its own value), so that fork
 * copies its page-table entries and the children start with the server's code and read-only
 * data mapped (Linux copies the entries of a file mapping only when it holds private pages:
 * otherwise each child faults in again every page of code it runs). Not under strict
 * overcommit (mode 2), where a mapping once writable is charged to every child. */
void mf_foreign_ts_share_code(void);

#endif
