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
int cmd_dag_task(int argc, char **argv);   /* cmd_dag_task.c */
int cmd_resources(int argc, char **argv);
int cmd_package(int argc, char **argv);
int cmd_deploy(int argc, char **argv);
int cmd_deployments(int argc, char **argv);
int cmd_serve(int argc, char **argv);       /* cmd_serve.c */
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
int cmd_ui(int argc, char **argv);
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
/* How text output shows a value only Python reads (pickle, npy), as a malloc'd line
 * ("<Python object, 120 bytes: read it with the Python client>"); NULL for other types or
 * when unreadable (message left on the client). */
char *cli_python_note(const struct mf_client_artifact *a);

/* Registered with mf_flow_set_load_guard by cli_main: while a flow's own code first runs,
 * a crash (SIGSEGV, SIGABRT, ...) prints which flow crashed and exits with 128 + signal. */
void cli_flow_load_guard(const char *path, int entering);

/* Stored data (names, tags, values, messages) as it may be shown on a terminal: control
 * characters and bytes that are not UTF-8 escaped (mf_escape). The result lives until the
 * 16th next call of either. cli_esc_value keeps newlines and tabs (a multi-line value). */
const char *cli_esc(const char *s);
const char *cli_esc_value(const char *s, size_t n);
/* Stored text in JSON output: a JSON string when s[0..n) is well-formed UTF-8, else
 * {"type": "str", "hex": "<its bytes>"} (sdk/DATASTORE.md); null for NULL. Never NULL
 * except when out of memory. */
struct json_t *cli_json_text(const char *s);
struct json_t *cli_json_textn(const char *s, size_t n);
/* A run as `mflow runs --json` and the web UI show it (a new object). */
struct mf_client_run;
struct json_t *cli_run_json(struct mf_client_run *r);
/* An f64 in JSON output: a number (17 significant digits give back the same double), or the
 * string "NaN", "Infinity" or "-Infinity", which JSON has no number for (sdk/DATASTORE.md).
 * NULL only when out of memory. */
struct json_t *cli_json_f64(double x);

/* --run-id-file F of run and resume: 0 when F can be written, else 2 after saying why.
 * Checked before the run exists, so that nothing runs under an id the caller cannot learn. */
int cli_check_run_id_file(const char *path);

struct mf_run_opts;
/* The options run and resume share (--max-workers, --tag, --run-id-file) at argv[*i], into o
 * (tags: room for one per argument, o->tags left for the caller to set): 1 taken (*i moved past
 * its value), 0 another argument, -1 after printing why. */
int cli_run_common_opt(int argc, char **argv, int *i, struct mf_run_opts *o, const char **tags);

/* Turn a SIGBUS or SIGSEGV inside an open index's mapping (a damaged index file) into a
 * message that says to run `mflow reindex`, and exit 1 (main.c). */
void cli_guard_index(void);

/* "mflow: " + message + newline on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* True when argv has --help or -h (after argv[0]); prints usage then. */
int cli_wants_help(int argc, char **argv, const char *usage);


/* Every option that takes a value goes through these, so `--name=V` and `--name V` are one
 * form. cli_match_opt: 1 when argv[*i] is --name (value set; *i moved past a separate value),
 * 0 when it is another argument, -1 when the value is missing; prints nothing. */
int cli_match_opt(int argc, char **argv, int *i, const char *name, const char **value);
/* v as a whole number in [lo, hi] (decimal digits, an optional leading '-'); 0, or -1 after
 * printing a message naming the option, the range and the value. */
int cli_parse_int(const char *name, const char *v, long long lo, long long hi, long long *out);
/* Match and parse: 1 with *out set, 0 when argv[*i] is not --name, -1 after printing. */
int cli_int_opt(int argc, char **argv, int *i, const char *name, long long lo, long long hi,
                long long *out);
/* The same for a string value, which must not be empty. */
int cli_str_opt(int argc, char **argv, int *i, const char *name, const char **out);

#endif
