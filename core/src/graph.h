/* The step graph of a flow, built from its step table and validated before anything runs. */
#ifndef MF_GRAPH_H
#define MF_GRAPH_H

#include <mflow/flow.h>

#include <stddef.h>

enum mf_step_type {
    MF_STEP_LINEAR = 1,   /* one successor */
    MF_STEP_BRANCH = 2,   /* two or more successors, each runs once (a split) */
    MF_STEP_FOREACH = 3,  /* one successor, run once per item of the foreach artifact (a split) */
    MF_STEP_END = 4,      /* "end": no successor */
};

struct mf_graph_step {
    const char *name;            /* borrowed from the flow definition */
    const mf_step_def *def;
    int type;                    /* enum mf_step_type */
    int is_join;                 /* def->join */
    int *next;                   /* successor indices, in the order of def->next */
    size_t n_next;
    int *prev;                   /* predecessor indices */
    size_t n_prev;
    int depth;                   /* number of open splits this step runs inside */
    int split_of;                /* for a join: index of the split step it closes; else -1 */
    int join_of;                 /* for a split: index of the join that closes it; else -1 */
};

typedef struct mf_graph {
    const mf_flow_def *def;      /* borrowed */
    struct mf_graph_step *steps; /* in table order */
    size_t n;
    int start, end;              /* indices of "start" and "end" */
} mf_graph;

/* Build and validate. On failure returns MF_EINVAL and *err is a malloc'd message that names
 * the flow and the step and says what to do, e.g.
 *   flow BranchFlow: step 'a' names unknown successor 'jion' (did you mean 'join'?)
 * Checks: missing start or end; duplicate step name; bad step name; unknown successor (with
 * the nearest name); a step other than end without successors; end with successors; cycle;
 * unreachable step; a non-join step with several inputs; a join with one input path; a join
 * that does not close its split or foreach (inputs from different splits, or a split closed
 * by two joins, or never closed); a foreach without exactly one successor; a step with
 * foreach and join of the same split... ; a parameter with a bad name, a duplicate, an
 * unknown type or a default that does not parse as its type. */
int mf_graph_build(const mf_flow_def *def, mf_graph **out, char **err);
void mf_graph_destroy(mf_graph *g);

/* Index of the step named `name`, or -1. */
int mf_graph_find(const mf_graph *g, const char *name);

/* Check a flow's endpoint table (flow ABI 1.3): names of 1 to MF_ENDPOINT_NAME_MAX of
 * [A-Za-z0-9_-] (the URL path), unique, each with a fn. 0, or MF_EINVAL with *err (malloc'd)
 * naming the flow, the entry and what to do. */
int mf_endpoints_check(const mf_flow_def *def, char **err);

/* Parse a parameter value as its type: 0 or MF_EINVAL. (MF_BOOL accepts true/false/1/0/yes/no.) */
int mf_param_parse(const mf_param_def *p, const char *text, int64_t *i, double *f);

/* Renderings (malloc'd, NUL-terminated): a readable listing for `mflow show`, Graphviz dot
 * for `mflow show --dot`, and JSON (the document schedulers receive:
 * {"flow":..,"steps":[{"name","type","next":[..],"foreach","join","resources":{..},"retry",
 *  "catch_var","timeout_s","compute","image","env":[..]}],"parameters":[{"name","type",
 *  "default","help"}]}). */
char *mf_graph_render_text(const mf_graph *g);
char *mf_graph_render_dot(const mf_graph *g);
char *mf_graph_render_json(const mf_graph *g);

#endif
