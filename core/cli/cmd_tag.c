/* mflow tag add|remove|list Flow/run [TAG...] [--json]: tags on runs, kept in the run record
 * in the datastore (so that reindex keeps them) and in the index. System tags (user:...,
 * mflow_version:...) cannot be removed. */
#include "cli.h"

#include <mflow/client.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] = "tag add|remove|list Flow/run [TAG...] [--json]";

int cmd_tag(int argc, char **argv)
{
    if (cli_wants_help(argc, argv, usage))
        return 0;
    int json = 0, n = 0;
    const char **args = calloc((size_t)argc, sizeof *args);
    if (!args) {
        cli_error("out of memory");
        return 1;
    }
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = 1;
        else
            args[n++] = argv[i];
    }
    const char *verb = n > 0 ? args[0] : NULL;
    int add = verb && !strcmp(verb, "add"), rm = verb && !strcmp(verb, "remove");
    int list = verb && !strcmp(verb, "list");
    if (!add && !rm && !list) {
        cli_error("tag: say add, remove or list (usage: mflow %s)", usage);
        free(args);
        return 2;
    }
    if (n < 2 || (!list && n < 3) || (list && n > 2)) {
        cli_error("usage: mflow %s", usage);
        free(args);
        return 2;
    }
    mf_client *c;
    if (cli_client_open(&c)) {
        free(args);
        return 1;
    }
    mf_client_run *r = NULL;
    int code = 1;
    if (mf_client_run_open(c, args[1], &r)) {
        cli_error("%s", mf_client_error(c));
        goto out;
    }
    code = 0;
    for (int i = 2; i < n; i++) {
        int rc = add ? mf_client_run_tag_add(r, args[i]) : mf_client_run_tag_remove(r, args[i]);
        if (rc) {
            cli_error("%s", mf_client_error(c));
            code = 1;
        }
    }
    if (list || json) {
        if (json) {
            json_t *a = json_array();
            for (size_t i = 0; i < mf_client_run_tag_count(r); i++)
                json_array_append_new(a, cli_json_text(mf_client_run_tag(r, i)));
            int jc = cli_print_json(a);
            code = code ? code : jc;
        } else {
            for (size_t i = 0; i < mf_client_run_tag_count(r); i++)
                puts(cli_esc(mf_client_run_tag(r, i)));
        }
    }
out:
    mf_client_run_free(r);
    mf_client_close(c);
    free(args);
    return code;
}
