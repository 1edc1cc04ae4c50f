/* mflow check FLOW; mflow show FLOW [--dot|--json] */
#include "cli.h"

#include "flowload.h"
#include "graph.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct mf_flow *open_flow(const char *path)
{
    struct mf_flow *f = NULL;
    char *err = NULL;
    if (mf_flow_open(path, &f, &err) != 0) {
        cli_error("%s", err ? err : "cannot open the flow");
        free(err);
        return NULL;
    }
    return f;
}

int cmd_check(int argc, char **argv)
{
    if (cli_wants_help(argc, argv, "check FLOW"))
        return 0;
    if (argc != 2) {
        cli_error("usage: mflow check FLOW");
        return 2;
    }
    struct mf_flow *f = open_flow(argv[1]);
    if (!f)
        return 1;
    if (f->def->n_endpoints)
        printf("flow %s: %zu steps, %zu parameters, %zu endpoint%s: ok\n", f->def->name,
               f->graph->n, f->def->n_params, f->def->n_endpoints,
               f->def->n_endpoints == 1 ? "" : "s");
    else
        printf("flow %s: %zu steps, %zu parameters: ok\n", f->def->name, f->graph->n,
               f->def->n_params);
    mf_flow_close(f);
    return 0;
}

int cmd_show(int argc, char **argv)
{
    if (cli_wants_help(argc, argv, "show FLOW [--dot|--json]"))
        return 0;
    const char *path = NULL;
    int dot = 0, json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--dot"))
            dot = 1;
        else if (!strcmp(argv[i], "--json"))
            json = 1;
        else if (!path && argv[i][0] != '-')
            path = argv[i];
        else {
            cli_error("show: unexpected argument '%s'", argv[i]);
            return 2;
        }
    }
    if (!path) {
        cli_error("usage: mflow show FLOW [--dot|--json]");
        return 2;
    }
    struct mf_flow *f = open_flow(path);
    if (!f)
        return 1;
    char *s = dot ? mf_graph_render_dot(f->graph)
              : json ? mf_graph_render_json(f->graph)
                     : mf_graph_render_text(f->graph);
    if (s) {
        fputs(s, stdout);
        if (*s && s[strlen(s) - 1] != '\n')
            fputc('\n', stdout);
    }
    free(s);
    mf_flow_close(f);
    return s ? 0 : 1;
}
