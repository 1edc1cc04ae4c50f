/* The mflow command: main.c parses global options and dispatches to one file per command. */
#ifndef MF_CLI_H
#define MF_CLI_H

#include <stdio.h>

/* Every command: argv[0] is the command's name, the rest its own arguments. Returns the
 * process exit code (0 ok, 1 failure, 2 usage error). Messages go to stderr, results to
 * stdout. */
typedef int (*mf_cmd_fn)(int argc, char **argv);

int cmd_run(int argc, char **argv);
int cmd_resume(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_get(int argc, char **argv);
int cmd_plugins(int argc, char **argv);
int cmd_task(int argc, char **argv);
int cmd_resources(int argc, char **argv);
int cmd_package(int argc, char **argv);
/* The task server, a host service to compute plugins (hidden: `mflow __task-server`; see
 * <mflow/task_server.h>): its children run `run` (cli_main) after `preload` loaded, once,
 * what the first request's command line loads. */
int cmd_task_server(int argc, char **argv, mf_cmd_fn run, void (*preload)(int argc, char **argv));

struct mf_host_opts;
/* Parse the global options before the command into o (zeroed first). Returns -1 with *next
 * at the command's name when one follows, else the exit code to end with (0 after
 * --version/--help, 2 after a usage error, printed). */
int cli_parse_globals(int argc, char **argv, struct mf_host_opts *o, int *next);
/* What `main` does: global options, then one command. Also run by a task server's child. */
int cli_main(int argc, char **argv);

/* Inspection commands; the helpers they share live in cmd_inspect.c. */
int cmd_runs(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_logs(int argc, char **argv);
int cmd_tag(int argc, char **argv);
int cmd_reindex(int argc, char **argv);
struct mf_client;
struct mf_client_run;
struct mf_client_artifact;
struct json_t;
/* Open a client on the settings (global options); 0, or 1 after printing why. */
int cli_client_open(struct mf_client **out);
/* Local "YYYY-MM-DD HH:MM:SS" ("-" for 0); "120ms", "3.4s", "2m03s" ("-" when negative). */
void cli_time(double t, char *buf, size_t n);
void cli_duration(double secs, char *buf, size_t n);
/* A run's status, "running (dead: pid N gone)" when its orchestrator is gone. */
void cli_run_status(const struct mf_client_run *r, char *buf, size_t n);
/* Print v (indented) and free it; returns the exit code. */
int cli_print_json(struct json_t *v);
/* An artifact's value as JSON (bytes as {"type":"bytes","hex":...}); NULL when unreadable. */
struct json_t *cli_artifact_json(const struct mf_client_artifact *a);

/* "mflow: " + message + newline on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* True when argv has --help or -h (after argv[0]); prints usage then. */
int cli_wants_help(int argc, char **argv, const char *usage);

#endif
