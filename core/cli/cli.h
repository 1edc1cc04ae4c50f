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

/* "mflow: " + message + newline on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* True when argv has --help or -h (after argv[0]); prints usage then. */
int cli_wants_help(int argc, char **argv, const char *usage);

#endif
