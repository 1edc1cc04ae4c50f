/* Editing a crontab's text: the lines mflow owns are marked, everything else is kept byte
 * for byte (comments, variable lines, blank lines, CRLF endings, a last line without a
 * newline). Pure functions on buffers, so they are tested alone (tests/test_crontab.c). */
#ifndef MF_CRON_CRONTAB_H
#define MF_CRON_CRONTAB_H

#include <stddef.h>

/* What ends every line this plugin installs: " # mflow deployment=<name> ...". */
#define CT_MARK "# mflow deployment="

/* When line[0..len) (no newline) is a marked line: 1 with its deployment's name in name
 * (cap bytes, truncated names are not ours: 0); else 0. */
int ct_line_name(const char *line, size_t len, char *name, size_t cap);

/* text with the marked line of `name` replaced by `line` (no newline), or, when there is
 * none, `line` and a newline inserted before the first line (so the crontab's own SHELL,
 * PATH and MAILTO lines do not change how it runs, and a missing final newline stays
 * missing). A second marked line of the same name is dropped. NULL when out of memory;
 * *outlen is the length. */
char *ct_upsert(const char *text, size_t len, const char *name, const char *line,
                size_t *outlen);

/* text without the marked lines of `name`; *found counts them (0: the result equals text). */
char *ct_remove(const char *text, size_t len, const char *name, size_t *outlen, int *found);

/* The first marked line of `name`: 1 with *line and *linelen pointing into text, else 0. */
int ct_find(const char *text, size_t len, const char *name, const char **line, size_t *linelen);

/* The command of a crontab line: past the five time fields or one @word. NULL when the line
 * has none. Points into line. */
const char *ct_command(const char *line, size_t len, size_t *cmdlen);

#endif
