/* Helpers shared by the mflow executables' commands. */
#include "cli.h"

#include "util.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("mflow: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int cli_check_run_id_file(const char *path)
{
    int rc = path ? mf_check_file_writable(path) : 0;
    if (!rc)
        return 0;
    cli_error("cannot write --run-id-file %s: %s (nothing was run; give a file in a writable "
              "directory)",
              path, strerror(rc));
    return 2;
}

int cli_wants_help(int argc, char **argv, const char *text)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--"))
            break;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: mflow %s\n", text);
            return 1;
        }
    }
    return 0;
}

int cli_print_json(json_t *v)
{
    if (!v) {
        cli_error("out of memory");
        return 1;
    }
    char *s = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY |
                                JSON_REAL_PRECISION(17));
    json_decref(v);
    if (!s) {
        cli_error("out of memory");
        return 1;
    }
    puts(s);
    free(s);
    return 0;
}
