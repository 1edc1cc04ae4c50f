/* mflow runs [FLOW] [--tag T...] [--json]: the runs of a flow in the namespace, newest first,
 * filtered by tags (all must match); without FLOW, the flows and their latest runs. */
#include "cli.h"

#include <mflow/client.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char usage[] = "runs [FLOW] [--tag T...] [--namespace NS] [--json]";

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int list_flows(mf_client *c, int json)
{
    char **flows;
    size_t n;
    if (mf_client_flows(c, &flows, &n)) {
        cli_error("%s", mf_client_error(c));
        return 1;
    }
    json_t *arr = json ? json_array() : NULL;
    if (!json && n)
        printf("%-30s  %-8s  %-30s  %s\n", "FLOW", "LATEST", "STATUS", "STARTED");
    int code = 0;
    for (size_t i = 0; i < n; i++) {
        mf_client_run *r;
        if (mf_client_run_latest(c, flows[i], 0, &r)) {
            cli_error("%s", mf_client_error(c));
            code = 1;
            continue;
        }
        if (json) {
            json_array_append_new(arr, json_pack("{s:o,s:o}", "flow", cli_json_text(flows[i]), "latest",
                                                 cli_run_json(r)));
        } else {
            char st[64], t0[32];
            cli_run_status(r, st, sizeof st);
            cli_time(mf_client_run_start_time(r), t0, sizeof t0);
            printf("%-30s  %-8lld  %-30s  %s\n", cli_esc(flows[i]), (long long)mf_client_run_id(r),
                   st, t0);
        }
        mf_client_run_free(r);
    }
    if (!json && n == 0) {
        const char *ns = mf_client_namespace(c);
        fprintf(stderr, "mflow: no runs in %s%s%s%s\n", *ns ? "namespace '" : "any namespace",
                ns, *ns ? "'" : "", *ns ? " (--namespace= shows every namespace)" : "");
    }
    free(flows);
    if (json) {
        int jc = cli_print_json(arr);
        code = code ? code : jc;
    }
    return code;
}

int cmd_runs(int argc, char **argv)
{
    if (cli_wants_help(argc, argv, usage))
        return 0;
    const char *flow = NULL;
    const char **tags = calloc((size_t)argc, sizeof *tags);
    size_t n_tags = 0;
    int json = 0;
    const char *ns = NULL;   /* --namespace here: the global option, after the command */
    if (!tags) {
        cli_error("out of memory");
        return 1;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int r;
        if (!strcmp(a, "--json")) {
            json = 1;
        } else if ((r = cli_str_opt(argc, argv, &i, "--tag", &tags[n_tags]))) {
            if (r < 0) {
                free(tags);
                return 2;
            }
            n_tags++;
        } else if ((r = cli_match_opt(argc, argv, &i, "--namespace", &ns))) {
            if (r < 0) {
                cli_error("--namespace needs a value (an empty one, --namespace=, means all)");
                free(tags);
                return 2;
            }
        } else if (!flow && a[0] != '-') {
            flow = a;
        } else {
            cli_error("runs: unexpected argument '%s' (usage: mflow %s)", a, usage);
            free(tags);
            return 2;
        }
    }
    if (!flow && n_tags) {
        cli_error("runs: --tag filters the runs of one flow: mflow runs FLOW --tag T");
        free(tags);
        return 2;
    }
    if (flow && strchr(flow, '/')) {
        cli_error("runs takes a flow name, not a pathspec: `mflow inspect %s` shows a run", flow);
        free(tags);
        return 2;
    }
    mf_client *c;
    struct mf_client_opts co;
    memset(&co, 0, sizeof co);
    co.struct_size = sizeof co;
    co.ns = ns;
    if (ns ? mf_client_open(&co, &c) != 0 : cli_client_open(&c) != 0) {
        if (ns) {
            cli_error("%s", mf_client_error(c));
            mf_client_close(c);
        }
        free(tags);
        return 1;
    }
    int code = 1;
    if (!flow) {
        code = list_flows(c, json);
        goto out;
    }
    mf_client_runs *l;
    if (mf_client_list_runs(c, flow, tags, n_tags, &l)) {
        cli_error("%s", mf_client_error(c));
        goto out;
    }
    size_t n = mf_client_runs_count(l);
    if (json) {
        /* one object per line, made and freed in turn: a big listing stays small in memory */
        code = 0;
        fputs("[", stdout);
        for (size_t i = 0; i < n && !code; i++) {
            json_t *o = cli_run_json(mf_client_runs_at(l, i));
            char *s = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER |
                                            JSON_REAL_PRECISION(17))
                        : NULL;
            json_decref(o);
            if (!s) {
                cli_error("out of memory");
                code = 1;
                break;
            }
            printf("%s\n  %s", i ? "," : "", s);
            free(s);
        }
        puts(n ? "\n]" : "]");
        mf_client_runs_free(l);
        goto out;
    }
    if (n == 0) {
        const char *cns = mf_client_namespace(c);
        fprintf(stderr, "mflow: no runs of %s%s in %s%s%s%s\n", cli_esc(flow),
                n_tags ? " with those tags" : "", *cns ? "namespace '" : "any namespace", cns,
                *cns ? "'" : "", *cns ? " (--namespace= shows every namespace)" : "");
        mf_client_runs_free(l);
        code = 0;
        goto out;
    }
    /* widths from the data: a status may read "running (dead: pid N gone)" */
    char (*status)[64] = malloc(n * sizeof *status);
    if (!status) {
        cli_error("out of memory");
        mf_client_runs_free(l);
        goto out;
    }
    int ws = 6, wu = 4, wid = 3;
    for (size_t i = 0; i < n; i++) {
        const mf_client_run *r = mf_client_runs_at(l, i);
        cli_run_status(r, status[i], sizeof status[i]);
        int s = (int)strlen(status[i]), u = (int)strlen(cli_esc(mf_client_run_user(r)));
        int d = snprintf(NULL, 0, "%lld", (long long)mf_client_run_id(r));
        ws = s > ws ? s : ws;
        wu = u > wu ? u : wu;
        wid = d > wid ? d : wid;
    }
    double t = now();
    printf("%-*s  %-*s  %-*s  %-19s  %-8s  %s\n", wid, "RUN", ws, "STATUS", wu, "USER", "STARTED",
           "TOOK", "TAGS");
    for (size_t i = 0; i < n; i++) {
        mf_client_run *r = mf_client_runs_at(l, i);
        char t0[32], d[32];
        double s = mf_client_run_start_time(r), e = mf_client_run_last_active(r);
        cli_time(s, t0, sizeof t0);
        cli_duration(s > 0 ? (e > 0 ? e : t) - s : -1, d, sizeof d);
        printf("%-*lld  %-*s  %-*s  %-19s  %-8s ", wid, (long long)mf_client_run_id(r), ws,
               status[i], wu, cli_esc(mf_client_run_user(r)), t0, d);
        for (size_t k = 0; k < mf_client_run_tag_count(r); k++) {
            const char *tag = mf_client_run_tag(r, k);
            if (!mf_client_tag_is_system(tag)) /* user and version have their own place */
                printf(" %s", cli_esc(tag));
        }
        putchar('\n');
    }
    free(status);
    mf_client_runs_free(l);
    code = 0;
out:
    mf_client_close(c);
    free(tags);
    return code;
}
