/* The step graph of a flow: built from the step table, validated, rendered (graph.h).
 *
 * Semantics the runtime relies on. Every step runs inside a stack of open splits. A branch
 * (two or more successors) or a foreach (exactly one successor, run once per item) opens a
 * split: its successors run inside it. A join closes the innermost split S: all its inputs
 * must run inside the same stack, whose top is S, and the join runs in that stack minus S
 * (S.join_of = join, join.split_of = S). Every split is closed by exactly one join; every
 * branch of a branch split reaches that join as exactly one of its inputs. "end" runs with no
 * split open. Validation walks the steps in topological order and computes each stack. */
#include "graph.h"
#include "endpoint.h"
#include "util.h"

#include <mflow/plugin.h>

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NAME_MAX_LEN MF_ARTIFACT_NAME_MAX

/* ---- small helpers ------------------------------------------------------------------------ */

struct sbuf {
    char *s;
    size_t len, cap;
    int oom;
};

static void sb_vadd(struct sbuf *b, const char *fmt, va_list ap)
{
    if (b->oom)
        return;
    for (;;) {
        va_list aq;
        va_copy(aq, ap);
        size_t room = b->cap - b->len;
        int n = vsnprintf(b->s ? b->s + b->len : NULL, room, fmt, aq);
        va_end(aq);
        if (n < 0) {
            b->oom = 1;
            return;
        }
        if ((size_t)n < room) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap ? b->cap : 256;
        while (cap <= b->len + (size_t)n)
            cap *= 2;
        char *s = realloc(b->s, cap);
        if (!s) {
            b->oom = 1;
            return;
        }
        b->s = s;
        b->cap = cap;
    }
}

__attribute__((format(printf, 2, 3))) static void sb_add(struct sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sb_vadd(b, fmt, ap);
    va_end(ap);
}

/* The finished string (caller frees), or NULL after an allocation failure. */
static char *sb_take(struct sbuf *b)
{
    if (b->oom || !b->s) {
        free(b->s);
        if (b->oom)
            return NULL;
        return strdup("");
    }
    return b->s;
}

/* The one rule for names (util.h), also what mf_set_* checks an artifact's name by. */
static int valid_name(const char *s)
{
    return mf_name_valid(s);
}

/* Optimal string alignment distance (Levenshtein plus adjacent transpositions). Names are at
 * most NAME_MAX_LEN characters; longer input counts as far from everything. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > NAME_MAX_LEN || lb > NAME_MAX_LEN)
        return (size_t)-1;
    size_t r0[NAME_MAX_LEN + 1], r1[NAME_MAX_LEN + 1], r2[NAME_MAX_LEN + 1];
    size_t *pp = r0, *p = r1, *cur = r2; /* rows i-2, i-1, i */
    for (size_t j = 0; j <= lb; j++)
        p[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t v = p[j] + 1;
            if (cur[j - 1] + 1 < v)
                v = cur[j - 1] + 1;
            if (p[j - 1] + cost < v)
                v = p[j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                pp[j - 2] + 1 < v)
                v = pp[j - 2] + 1;
            cur[j] = v;
        }
        size_t *t = pp;
        pp = p;
        p = cur;
        cur = t;
    }
    return p[lb];
}

static const char *type_word(int type)
{
    switch (type) {
    case MF_STEP_LINEAR: return "linear";
    case MF_STEP_BRANCH: return "branch";
    case MF_STEP_FOREACH: return "foreach";
    case MF_STEP_END: return "end";
    default: return "?";
    }
}

static const char *param_type_word(int type)
{
    switch (type) {
    case MF_I64: return "i64";
    case MF_F64: return "f64";
    case MF_STR: return "str";
    case MF_BOOL: return "bool";
    default: return "?";
    }
}

static int is_split(const struct mf_graph_step *s)
{
    return s->type == MF_STEP_BRANCH || s->type == MF_STEP_FOREACH;
}

/* ---- parameters --------------------------------------------------------------------------- */

int mf_param_parse(const mf_param_def *p, const char *text, int64_t *i, double *f)
{
    if (!p || !text)
        return MF_EINVAL;
    switch ((int)p->type) {
    case MF_I64: {
        if (!*text || isspace((unsigned char)*text))
            return MF_EINVAL;
        char *endp;
        errno = 0;
        long long v = strtoll(text, &endp, 10);
        if (errno || *endp)
            return MF_EINVAL;
        if (i)
            *i = v;
        if (f)
            *f = (double)v;
        return 0;
    }
    case MF_F64: {
        if (!*text || isspace((unsigned char)*text))
            return MF_EINVAL;
        char *endp;
        errno = 0;
        double v = strtod(text, &endp);
        if (*endp || isnan(v) || (errno == ERANGE && isinf(v)))
            return MF_EINVAL;
        if (f)
            *f = v;
        return 0;
    }
    case MF_STR:
        return 0;
    case MF_BOOL: {
        static const char *const yes[] = {"true", "1", "yes"};
        static const char *const no[] = {"false", "0", "no"};
        for (size_t k = 0; k < 3; k++) {
            if (!strcasecmp(text, yes[k]) || !strcasecmp(text, no[k])) {
                int v = !strcasecmp(text, yes[k]);
                if (i)
                    *i = v;
                if (f)
                    *f = v;
                return 0;
            }
        }
        return MF_EINVAL;
    }
    default:
        return MF_EINVAL;
    }
}

/* ---- building ----------------------------------------------------------------------------- */

struct ctx {
    const mf_flow_def *def;
    mf_graph *g;
    char **err;
    int rc;          /* first failure */
    int **stack;     /* per step: its open splits, outermost first (depth entries) */
    int *head;       /* per step: first step of its branch at its own split level, or -1 */
    int *color;      /* DFS: 0 white, 1 grey, 2 black */
    int *order;      /* topological order */
    size_t n_order;
    int *path;       /* DFS path, for cycle messages */
    size_t n_path;
};

__attribute__((format(printf, 2, 3))) static int fail(struct ctx *c, const char *fmt, ...)
{
    if (c->rc)
        return c->rc;
    c->rc = MF_EINVAL;
    if (!c->err)
        return c->rc;
    struct sbuf b = {0};
    const char *fname = c->def && c->def->name && *c->def->name ? c->def->name : "(unnamed)";
    sb_add(&b, "flow %.100s: ", fname);
    va_list ap;
    va_start(ap, fmt);
    sb_vadd(&b, fmt, ap);
    va_end(ap);
    *c->err = sb_take(&b);
    if (!*c->err)
        c->rc = MF_ENOMEM;
    return c->rc;
}

static int oom(struct ctx *c)
{
    if (!c->rc)
        c->rc = MF_ENOMEM;
    return c->rc;
}

int mf_graph_find(const mf_graph *g, const char *name)
{
    if (!g || !name)
        return -1;
    for (size_t k = 0; k < g->n; k++)
        if (g->steps[k].name && !strcmp(g->steps[k].name, name))
            return (int)k;
    return -1;
}

static const char *nearest_name(const mf_graph *g, const char *name)
{
    const char *best = NULL;
    size_t best_d = (size_t)-1;
    size_t ln = strlen(name);
    for (size_t k = 0; k < g->n; k++) {
        const char *cand = g->steps[k].name;
        size_t d = edit_distance(name, cand);
        size_t lc = strlen(cand);
        size_t longer = ln > lc ? ln : lc;
        /* close enough: at most 2 edits and at most a third of the longer name */
        if (d <= 2 && 3 * d <= longer && d < best_d) {
            best = cand;
            best_d = d;
        }
    }
    return best;
}

/* Split a successor list into step indices. */
static int parse_next(struct ctx *c, size_t k)
{
    mf_graph *g = c->g;
    struct mf_graph_step *s = &g->steps[k];
    const char *next = s->def->next;
    if (!next)
        return 0;
    size_t count = 0;
    for (const char *p = next; *p;) {
        while (*p && isspace((unsigned char)*p))
            p++;
        if (!*p)
            break;
        count++;
        while (*p && !isspace((unsigned char)*p))
            p++;
    }
    if (!count)
        return 0;
    s->next = calloc(count, sizeof(int));
    if (!s->next)
        return oom(c);
    char tok[NAME_MAX_LEN + 2];
    for (const char *p = next; *p;) {
        while (*p && isspace((unsigned char)*p))
            p++;
        if (!*p)
            break;
        const char *q = p;
        while (*q && !isspace((unsigned char)*q))
            q++;
        size_t len = (size_t)(q - p);
        if (len > NAME_MAX_LEN) {
            return fail(c, "step '%s' names successor '%.*s...', longer than %d characters: "
                           "check its .next",
                        s->name, 40, p, NAME_MAX_LEN);
        }
        memcpy(tok, p, len);
        tok[len] = 0;
        p = q;
        int idx = mf_graph_find(g, tok);
        if (idx < 0) {
            const char *near = nearest_name(g, tok);
            if (near)
                return fail(c, "step '%s' names unknown successor '%s' (did you mean '%s'?)",
                            s->name, tok, near);
            return fail(c, "step '%s' names unknown successor '%s': add a step named '%s' or "
                           "fix its .next",
                        s->name, tok, tok);
        }
        for (size_t j = 0; j < s->n_next; j++)
            if (s->next[j] == idx)
                return fail(c, "step '%s' names successor '%s' twice: list each successor once",
                            s->name, tok);
        s->next[s->n_next++] = idx;
    }
    return 0;
}

static int check_steps(struct ctx *c)
{
    const mf_flow_def *def = c->def;
    mf_graph *g = c->g;
    for (size_t k = 0; k < g->n; k++) {
        const mf_step_def *d = &def->steps[k];
        struct mf_graph_step *s = &g->steps[k];
        s->name = d->name;
        s->def = d;
        s->is_join = d->join != 0;
        s->split_of = -1;
        s->join_of = -1;
        if (!d->name || !*d->name)
            return fail(c, "step %zu of the table has no name: set .name", k + 1);
        if (!valid_name(d->name))
            return fail(c, "step '%.100s' has a bad name: use letters, digits and _, starting "
                           "with a letter or _, at most %d characters",
                        d->name, NAME_MAX_LEN);
        for (size_t j = 0; j < k; j++)
            if (!strcmp(g->steps[j].name, d->name))
                return fail(c, "step '%s' is defined twice (table entries %zu and %zu): "
                               "step names must be unique",
                            d->name, j + 1, k + 1);
        if (!d->fn)
            return fail(c, "step '%s' has no function: set .fn", d->name);
        if (d->foreach && !valid_name(d->foreach))
            return fail(c, "step '%s' has .foreach = '%.100s', not a valid artifact name: name "
                           "the list artifact to fan out over",
                        d->name, d->foreach);
        if (d->catch_var && !valid_name(d->catch_var))
            return fail(c, "step '%s' has .catch_var = '%.100s', not a valid artifact name",
                        d->name, d->catch_var);
        if (d->retry < 0)
            return fail(c, "step '%s' has .retry = %d: use 0 or more extra attempts", d->name,
                        d->retry);
        if (d->timeout_s < 0)
            return fail(c, "step '%s' has .timeout_s = %d: use 0 (none) or more seconds",
                        d->name, d->timeout_s);
        if (d->resources.cpu < 0 || d->resources.memory_mb < 0 || d->resources.gpu < 0)
            return fail(c, "step '%s' has negative resources: cpu, memory_mb and gpu must be 0 "
                           "or more",
                        d->name);
        if (d->env) {
            for (const char *const *e = d->env; *e; e++) {
                const char *eq = strchr(*e, '=');
                if (!eq || eq == *e)
                    return fail(c, "step '%s' has .env entry '%.100s': write it as "
                                   "\"NAME=value\"",
                                d->name, *e);
            }
        }
    }
    g->start = mf_graph_find(g, "start");
    g->end = mf_graph_find(g, "end");
    if (g->start < 0)
        return fail(c, "no step named 'start': every flow begins with a step named 'start'");
    if (g->end < 0)
        return fail(c, "no step named 'end': every flow finishes with a step named 'end'");
    return 0;
}

static int link_steps(struct ctx *c)
{
    mf_graph *g = c->g;
    for (size_t k = 0; k < g->n; k++)
        if (parse_next(c, k))
            return c->rc;
    for (size_t k = 0; k < g->n; k++) {
        struct mf_graph_step *s = &g->steps[k];
        const mf_step_def *d = s->def;
        if ((int)k == g->end) {
            if (s->n_next)
                return fail(c, "step 'end' has successors (%s): 'end' finishes the flow; "
                               "remove its .next",
                            d->next);
            if (d->foreach)
                return fail(c, "step 'end' has .foreach = '%s': 'end' has no successor to fan "
                               "out to; remove .foreach",
                            d->foreach);
            s->type = MF_STEP_END;
            continue;
        }
        if (!s->n_next)
            return fail(c, "step '%s' has no successors: set its .next (only 'end' finishes "
                           "the flow)",
                        s->name);
        if (d->foreach) {
            if (s->n_next != 1)
                return fail(c, "step '%s' has .foreach = '%s' and %zu successors (%s): a "
                               "foreach step needs exactly one successor, the step run for "
                               "each item",
                            s->name, d->foreach, s->n_next, d->next);
            /* The body runs once per item; a join straight after the foreach would have
             * no body to collect from. */
            if (g->steps[s->next[0]].def->join)
                return fail(c, "foreach step '%s' goes straight to join '%s': put the step to "
                               "run for each item between them",
                            s->name, g->steps[s->next[0]].name);
            s->type = MF_STEP_FOREACH;
        } else {
            s->type = s->n_next >= 2 ? MF_STEP_BRANCH : MF_STEP_LINEAR;
        }
    }
    /* predecessors, in table order of the step that names them */
    size_t *count = calloc(g->n, sizeof(size_t));
    if (!count)
        return oom(c);
    for (size_t k = 0; k < g->n; k++)
        for (size_t j = 0; j < g->steps[k].n_next; j++)
            count[g->steps[k].next[j]]++;
    for (size_t k = 0; k < g->n; k++) {
        if (count[k]) {
            g->steps[k].prev = calloc(count[k], sizeof(int));
            if (!g->steps[k].prev) {
                free(count);
                return oom(c);
            }
        }
    }
    free(count);
    for (size_t k = 0; k < g->n; k++) {
        for (size_t j = 0; j < g->steps[k].n_next; j++) {
            struct mf_graph_step *t = &g->steps[g->steps[k].next[j]];
            t->prev[t->n_prev++] = (int)k;
        }
    }
    return 0;
}

static int check_reachable(struct ctx *c)
{
    mf_graph *g = c->g;
    int *seen = calloc(g->n, sizeof(int));
    int *queue = calloc(g->n, sizeof(int));
    if (!seen || !queue) {
        free(seen);
        free(queue);
        return oom(c);
    }
    size_t qh = 0, qt = 0;
    queue[qt++] = g->start;
    seen[g->start] = 1;
    while (qh < qt) {
        struct mf_graph_step *s = &g->steps[queue[qh++]];
        for (size_t j = 0; j < s->n_next; j++) {
            if (!seen[s->next[j]]) {
                seen[s->next[j]] = 1;
                queue[qt++] = s->next[j];
            }
        }
    }
    int bad = -1;
    for (size_t k = 0; k < g->n && bad < 0; k++)
        if (!seen[k])
            bad = (int)k;
    free(seen);
    free(queue);
    if (bad >= 0)
        return fail(c, "step '%s' is unreachable from 'start': name it in the .next of a step "
                       "that runs, or remove it",
                    g->steps[bad].name);
    if (g->steps[g->start].n_prev)
        return fail(c, "step '%s' leads back to 'start': nothing may lead to 'start'; remove "
                       "'start' from its .next",
                    g->steps[g->steps[g->start].prev[0]].name);
    return 0;
}

/* Depth-first search from start: finds cycles and yields a topological order. */
static int dfs(struct ctx *c, int u)
{
    mf_graph *g = c->g;
    c->color[u] = 1;
    c->path[c->n_path++] = u;
    struct mf_graph_step *s = &g->steps[u];
    for (size_t j = 0; j < s->n_next; j++) {
        int v = s->next[j];
        if (c->color[v] == 1) {
            struct sbuf b = {0};
            size_t from = 0;
            while (c->path[from] != v)
                from++;
            for (size_t k = from; k < c->n_path; k++)
                sb_add(&b, "%s -> ", g->steps[c->path[k]].name);
            sb_add(&b, "%s", g->steps[v].name);
            char *cyc = sb_take(&b);
            if (!cyc)
                return oom(c);
            fail(c, "steps form a cycle (%s): a flow must not loop; use a foreach to repeat "
                    "work",
                 cyc);
            free(cyc);
            return c->rc;
        }
        if (c->color[v] == 0 && dfs(c, v))
            return c->rc;
    }
    c->n_path--;
    c->color[u] = 2;
    return 0;
}

/* Topological order that takes the earliest ready step in table order, so that the first
 * mistake reported is the one nearest the top of the table. The graph has no cycle. */
static int topo_order(struct ctx *c)
{
    mf_graph *g = c->g;
    int *indeg = c->color; /* reused: the DFS is done */
    for (size_t k = 0; k < g->n; k++)
        indeg[k] = (int)g->steps[k].n_prev;
    int *ready = c->path; /* reused: a set of ready steps */
    size_t n_ready = 0;
    ready[n_ready++] = g->start;
    while (n_ready) {
        size_t best = 0;
        for (size_t r = 1; r < n_ready; r++)
            if (ready[r] < ready[best])
                best = r;
        int u = ready[best];
        ready[best] = ready[--n_ready];
        c->order[c->n_order++] = u;
        const struct mf_graph_step *s = &g->steps[u];
        for (size_t j = 0; j < s->n_next; j++)
            if (--indeg[s->next[j]] == 0)
                ready[n_ready++] = s->next[j];
    }
    return 0;
}

/* The splits a step's successors run in: its own stack, plus itself when it is a split. */
static int out_depth(struct ctx *c, int k)
{
    return c->g->steps[k].depth + (is_split(&c->g->steps[k]) ? 1 : 0);
}

static int out_top(struct ctx *c, int k)
{
    if (is_split(&c->g->steps[k]))
        return k;
    int d = c->g->steps[k].depth;
    return d ? c->stack[k][d - 1] : -1;
}

/* "'start' > 'f'" — the open splits of step k's successors, outermost first. */
static char *describe_out(struct ctx *c, int k)
{
    struct sbuf b = {0};
    int d = c->g->steps[k].depth;
    for (int j = 0; j < d; j++)
        sb_add(&b, "%s'%s'", j ? " > " : "", c->g->steps[c->stack[k][j]].name);
    if (is_split(&c->g->steps[k]))
        sb_add(&b, "%s'%s'", d ? " > " : "", c->g->steps[k].name);
    if (!b.len && !b.oom)
        sb_add(&b, "no split");
    return sb_take(&b);
}

static int same_out(struct ctx *c, int a, int b)
{
    int da = out_depth(c, a), db = out_depth(c, b);
    if (da != db)
        return 0;
    int ia = c->g->steps[a].depth, ib = c->g->steps[b].depth;
    /* compare the common stored part, then the possibly appended tops */
    for (int j = 0; j < da; j++) {
        int va = j < ia ? c->stack[a][j] : a;
        int vb = j < ib ? c->stack[b][j] : b;
        if (va != vb)
            return 0;
    }
    return 1;
}

static int set_stack_from_out(struct ctx *c, int k, int p, int drop_top)
{
    int d = out_depth(c, p) - (drop_top ? 1 : 0);
    struct mf_graph_step *s = &c->g->steps[k];
    s->depth = d;
    if (d == 0)
        return 0;
    c->stack[k] = malloc((size_t)d * sizeof(int));
    if (!c->stack[k])
        return oom(c);
    int dp = c->g->steps[p].depth;
    for (int j = 0; j < d; j++)
        c->stack[k][j] = j < dp ? c->stack[p][j] : p;
    return 0;
}

static int check_join(struct ctx *c, int k)
{
    mf_graph *g = c->g;
    struct mf_graph_step *s = &g->steps[k];
    int p0 = s->prev[0];
    for (size_t j = 1; j < s->n_prev; j++) {
        int pj = s->prev[j];
        if (!same_out(c, p0, pj)) {
            char *d0 = describe_out(c, p0), *dj = describe_out(c, pj);
            if (!d0 || !dj) {
                free(d0);
                free(dj);
                return oom(c);
            }
            fail(c, "join '%s' gets inputs from different splits: '%s' runs inside %s but "
                    "'%s' runs inside %s; all inputs of a join must come from the same split "
                    "(join the inner split first)",
                 s->name, g->steps[p0].name, d0, g->steps[pj].name, dj);
            free(d0);
            free(dj);
            return c->rc;
        }
    }
    int top = out_top(c, p0);
    if (top < 0)
        return fail(c, "step '%s' is a join but no split is open before it: a join closes the "
                       "innermost branch (a step with several successors) or foreach; remove "
                       ".join = 1 or add the split",
                    s->name);
    struct mf_graph_step *sp = &g->steps[top];
    if (sp->join_of >= 0 && sp->join_of != k)
        return fail(c, "split '%s' is closed by two joins, '%s' and '%s': every path out of "
                       "'%s' must meet in one join",
                    sp->name, g->steps[sp->join_of].name, s->name, sp->name);
    if (sp->type == MF_STEP_BRANCH) {
        if (s->n_prev == 1) {
            struct sbuf b = {0};
            for (size_t j = 0; j < sp->n_next; j++)
                sb_add(&b, "%s%s", j ? ", " : "", g->steps[sp->next[j]].name);
            char *br = sb_take(&b);
            if (!br)
                return oom(c);
            fail(c, "join '%s' has only one input ('%s'): it closes branch '%s', whose %zu "
                    "branches (%s) must all lead to '%s'",
                 s->name, g->steps[p0].name, sp->name, sp->n_next, br, s->name);
            free(br);
            return c->rc;
        }
        for (size_t j = 0; j < s->n_prev; j++)
            if (s->prev[j] == top)
                return fail(c, "branch '%s' goes straight to its join '%s': put a step "
                               "between them, or remove '%s' from the .next of '%s'",
                            sp->name, s->name, s->name, sp->name);
        for (size_t b = 0; b < sp->n_next; b++) {
            int br = sp->next[b], hits = 0;
            for (size_t j = 0; j < s->n_prev; j++)
                if (c->head[s->prev[j]] == br)
                    hits++;
            if (hits == 0)
                return fail(c, "branch '%s' of split '%s' does not reach join '%s': every "
                               "branch must lead to the join that closes its split",
                            g->steps[br].name, sp->name, s->name);
            if (hits > 1)
                return fail(c, "branch '%s' of split '%s' reaches join '%s' more than once: "
                               "each branch must be one input of the join",
                            g->steps[br].name, sp->name, s->name);
        }
    }
    /* a foreach has one successor, so its join has exactly one input: the body's last step
     * (or the foreach step itself when nothing lies between) */
    sp->join_of = k;
    s->split_of = top;
    if (set_stack_from_out(c, k, p0, 1))
        return c->rc;
    c->head[k] = c->head[top];
    return 0;
}

static int compute_stacks(struct ctx *c)
{
    mf_graph *g = c->g;
    for (size_t o = 0; o < c->n_order; o++) {
        int k = c->order[o];
        struct mf_graph_step *s = &g->steps[k];
        if (k == g->start) {
            if (s->is_join)
                return fail(c, "step 'start' is a join, but nothing comes before 'start' to "
                               "join: remove .join = 1");
            s->depth = 0;
            c->head[k] = -1;
            continue;
        }
        if (!s->is_join) {
            if (s->n_prev > 1) {
                struct sbuf b = {0};
                for (size_t j = 0; j < s->n_prev; j++)
                    sb_add(&b, "%s%s", j ? ", " : "", g->steps[s->prev[j]].name);
                char *in = sb_take(&b);
                if (!in)
                    return oom(c);
                fail(c, "step '%s' has %zu inputs (%s) but is not a join: set .join = 1",
                     s->name, s->n_prev, in);
                free(in);
                return c->rc;
            }
            int p = s->prev[0];
            if (set_stack_from_out(c, k, p, 0))
                return c->rc;
            c->head[k] = is_split(&g->steps[p]) ? k : c->head[p];
            continue;
        }
        if (check_join(c, k))
            return c->rc;
    }
    struct mf_graph_step *e = &g->steps[g->end];
    if (e->depth > 0) {
        int open = c->stack[g->end][e->depth - 1];
        return fail(c, "step 'end' runs inside split '%s', which is never joined: add a join "
                       "step (.join = 1) that every path out of '%s' reaches before 'end'",
                    g->steps[open].name, g->steps[open].name);
    }
    for (size_t k = 0; k < g->n; k++)
        if (is_split(&g->steps[k]) && g->steps[k].join_of < 0)
            return fail(c, "split '%s' is never joined: add a join step (.join = 1) that "
                           "every path out of '%s' reaches",
                        g->steps[k].name, g->steps[k].name);
    return 0;
}

static int check_params(struct ctx *c)
{
    const mf_flow_def *def = c->def;
    /* names a parameter may not take; none yet beyond the empty name */
    static const char *const reserved[] = {NULL};
    for (size_t k = 0; k < def->n_params; k++) {
        const mf_param_def *p = &def->params[k];
        if (!p->name || !*p->name)
            return fail(c, "parameter %zu of the table has no name: set .name", k + 1);
        if (!valid_name(p->name))
            return fail(c, "parameter '%.100s' has a bad name: use letters, digits and _, "
                           "starting with a letter or _, at most %d characters",
                        p->name, NAME_MAX_LEN);
        for (size_t r = 0; reserved[r]; r++)
            if (!strcmp(p->name, reserved[r]))
                return fail(c, "parameter '%s' uses a reserved name: rename it", p->name);
        for (size_t j = 0; j < k; j++)
            if (!strcmp(def->params[j].name, p->name))
                return fail(c, "parameter '%s' is defined twice (table entries %zu and %zu): "
                               "parameter names must be unique",
                            p->name, j + 1, k + 1);
        if (p->type != MF_I64 && p->type != MF_F64 && p->type != MF_STR && p->type != MF_BOOL)
            return fail(c, "parameter '%s' has unknown type %d: use MF_I64, MF_F64, MF_STR or "
                           "MF_BOOL",
                        p->name, (int)p->type);
        if (p->default_value && mf_param_parse(p, p->default_value, NULL, NULL))
            return fail(c, "parameter '%s' has default '%.100s', which is not a valid %s: fix "
                           ".default_value%s",
                        p->name, p->default_value, param_type_word(p->type),
                        p->type == MF_BOOL ? " (true/false, yes/no or 1/0)" : "");
    }
    return 0;
}

void mf_graph_destroy(mf_graph *g)
{
    if (!g)
        return;
    if (g->steps) {
        for (size_t k = 0; k < g->n; k++) {
            free(g->steps[k].next);
            free(g->steps[k].prev);
        }
        free(g->steps);
    }
    free(g);
}

int mf_graph_build(const mf_flow_def *def, mf_graph **out, char **err)
{
    if (err)
        *err = NULL;
    if (out)
        *out = NULL;
    if (!def || !out)
        return MF_EINVAL;
    struct ctx c = {.def = def, .err = err};
    if (!def->name || !*def->name)
        return fail(&c, "the flow has no name: give one as the first argument of MF_FLOW");
    if (!valid_name(def->name))
        return fail(&c, "the flow name '%.100s' is not valid: use letters, digits and _, "
                        "starting with a letter or _, at most %d characters",
                    def->name, NAME_MAX_LEN);
    if (def->n_steps == 0 || !def->steps)
        return fail(&c, "has no steps: define at least 'start' and 'end'");
    if (def->n_params && !def->params)
        return fail(&c, "declares %zu parameters but no parameter table", def->n_params);

    mf_graph *g = calloc(1, sizeof(*g));
    if (!g)
        return MF_ENOMEM;
    c.g = g;
    g->def = def;
    g->n = def->n_steps;
    g->start = g->end = -1;
    g->steps = calloc(g->n, sizeof(*g->steps));
    c.stack = calloc(g->n, sizeof(int *));
    c.head = calloc(g->n, sizeof(int));
    c.color = calloc(g->n, sizeof(int));
    c.order = calloc(g->n, sizeof(int));
    c.path = calloc(g->n, sizeof(int));
    if (!g->steps || !c.stack || !c.head || !c.color || !c.order || !c.path) {
        oom(&c);
        goto done;
    }
    if (check_steps(&c) || link_steps(&c) || check_reachable(&c))
        goto done;
    if (dfs(&c, g->start) || topo_order(&c))
        goto done;
    if (compute_stacks(&c) || check_params(&c))
        goto done;
done:
    if (c.stack)
        for (size_t k = 0; k < g->n; k++)
            free(c.stack[k]);
    free(c.stack);
    free(c.head);
    free(c.color);
    free(c.order);
    free(c.path);
    if (c.rc) {
        mf_graph_destroy(g);
        return c.rc;
    }
    *out = g;
    return 0;
}

/* ---- renderings --------------------------------------------------------------------------- */

/* Width of the successor column of step s: "→ a b" (the arrow counts as one column). */
static int next_width(const mf_graph *g, const struct mf_graph_step *s)
{
    if (!s->n_next)
        return 0;
    int w = 1;
    for (size_t j = 0; j < s->n_next; j++)
        w += 1 + (int)strlen(g->steps[s->next[j]].name);
    return w;
}

char *mf_graph_render_text(const mf_graph *g)
{
    if (!g)
        return NULL;
    struct sbuf b = {0};
    const mf_flow_def *def = g->def;
    int w = 4, nw = 0;
    for (size_t k = 0; k < g->n; k++) {
        if ((int)strlen(g->steps[k].name) > w)
            w = (int)strlen(g->steps[k].name);
        if (next_width(g, &g->steps[k]) > nw)
            nw = next_width(g, &g->steps[k]);
    }
    sb_add(&b, "Flow %s: %zu step%s, %zu parameter%s\n", def->name, g->n, g->n == 1 ? "" : "s",
           def->n_params, def->n_params == 1 ? "" : "s");
    for (size_t k = 0; k < g->n; k++) {
        const struct mf_graph_step *s = &g->steps[k];
        const mf_step_def *d = s->def;
        size_t line = b.len;
        sb_add(&b, "  %-*s  %-7s  ", w, s->name, s->is_join ? "join" : type_word(s->type));
        if (s->n_next) {
            sb_add(&b, "→");
            for (size_t j = 0; j < s->n_next; j++)
                sb_add(&b, " %s", g->steps[s->next[j]].name);
        }
        sb_add(&b, "%*s", nw - next_width(g, s), "");
        if (d->foreach)
            sb_add(&b, "  foreach %s", d->foreach);
        if (s->is_join && s->split_of >= 0)
            sb_add(&b, "  joins %s", g->steps[s->split_of].name);
        if (d->resources.cpu || d->resources.memory_mb || d->resources.gpu) {
            sb_add(&b, "  resources");
            if (d->resources.cpu)
                sb_add(&b, " cpu=%d", d->resources.cpu);
            if (d->resources.memory_mb)
                sb_add(&b, " memory=%dMB", d->resources.memory_mb);
            if (d->resources.gpu)
                sb_add(&b, " gpu=%d", d->resources.gpu);
        }
        if (d->retry)
            sb_add(&b, "  retry=%d", d->retry);
        if (d->catch_var)
            sb_add(&b, "  catch=%s", d->catch_var);
        if (d->timeout_s)
            sb_add(&b, "  timeout=%ds", d->timeout_s);
        if (d->compute)
            sb_add(&b, "  compute=%s", d->compute);
        if (d->image)
            sb_add(&b, "  image=%s", d->image);
        if (d->env)
            for (const char *const *e = d->env; *e; e++)
                sb_add(&b, "  env %s", *e);
        while (!b.oom && b.len > line && b.s[b.len - 1] == ' ')
            b.s[--b.len] = 0;
        sb_add(&b, "\n");
    }
    if (def->n_params) {
        sb_add(&b, "Parameters:\n");
        int pw = 4;
        for (size_t k = 0; k < def->n_params; k++)
            if ((int)strlen(def->params[k].name) > pw)
                pw = (int)strlen(def->params[k].name);
        for (size_t k = 0; k < def->n_params; k++) {
            const mf_param_def *p = &def->params[k];
            sb_add(&b, "  --%-*s  %-4s", pw, p->name, param_type_word(p->type));
            if (p->default_value)
                sb_add(&b, "  default %s", p->default_value);
            else
                sb_add(&b, "  required");
            if (p->help && *p->help)
                sb_add(&b, "  %s", p->help);
            sb_add(&b, "\n");
        }
    }
    return sb_take(&b);
}

char *mf_graph_render_dot(const mf_graph *g)
{
    if (!g)
        return NULL;
    struct sbuf b = {0};
    sb_add(&b, "digraph \"%s\" {\n", g->def->name);
    sb_add(&b, "  rankdir=TB;\n  node [shape=box, style=rounded, fontname=\"Helvetica\"];\n");
    for (size_t k = 0; k < g->n; k++) {
        const struct mf_graph_step *s = &g->steps[k];
        if (s->is_join)
            sb_add(&b, "  \"%s\" [shape=invtrapezium, style=solid];\n", s->name);
        else if ((int)k == g->start || (int)k == g->end)
            sb_add(&b, "  \"%s\" [shape=ellipse, style=solid];\n", s->name);
    }
    for (size_t k = 0; k < g->n; k++) {
        const struct mf_graph_step *s = &g->steps[k];
        for (size_t j = 0; j < s->n_next; j++) {
            const char *to = g->steps[s->next[j]].name;
            if (s->type == MF_STEP_FOREACH)
                sb_add(&b, "  \"%s\" -> \"%s\" [style=dashed, label=\"foreach %s\"];\n",
                       s->name, to, s->def->foreach);
            else
                sb_add(&b, "  \"%s\" -> \"%s\";\n", s->name, to);
        }
    }
    sb_add(&b, "}\n");
    return sb_take(&b);
}

/* Text of the flow's table (a help text, a default, an env entry) that is not UTF-8 is
 * {"type": "str", "hex": ...}, as in every JSON mflow writes (sdk/DATASTORE.md): jansson
 * refuses it as a string, and the graph of the run could not be stored. */
static json_t *str_or_null(const char *s)
{
    if (!s)
        return json_null();
    size_t n = strlen(s);
    if (mf_utf8_valid(s, n))
        return json_string(s);
    char *hex = malloc(2 * n + 1);
    if (!hex)
        return NULL;
    for (size_t i = 0; i < n; i++)
        snprintf(hex + 2 * i, 3, "%02x", (unsigned char)s[i]);
    json_t *v = json_pack("{s:s,s:s}", "type", "str", "hex", hex);
    free(hex);
    return v;
}

/* json_object_set_new that remembers a failure */
static void jset(json_t *o, const char *k, json_t *v, int *bad)
{
    if (!v || json_object_set_new(o, k, v))
        *bad = 1;
}

char *mf_graph_render_json(const mf_graph *g)
{
    if (!g)
        return NULL;
    int bad = 0;
    json_t *root = json_object();
    json_t *steps = json_array();
    json_t *params = json_array();
    if (!root || !steps || !params) {
        json_decref(root);
        json_decref(steps);
        json_decref(params);
        return NULL;
    }
    jset(root, "flow", json_string(g->def->name), &bad);
    for (size_t k = 0; k < g->n && !bad; k++) {
        const struct mf_graph_step *s = &g->steps[k];
        const mf_step_def *d = s->def;
        json_t *o = json_object(), *next = json_array(), *res = json_object(),
               *env = json_array();
        if (!o || !next || !res || !env) {
            json_decref(o);
            json_decref(next);
            json_decref(res);
            json_decref(env);
            bad = 1;
            break;
        }
        jset(o, "name", json_string(s->name), &bad);
        jset(o, "type", json_string(type_word(s->type)), &bad);
        for (size_t j = 0; j < s->n_next; j++)
            if (json_array_append_new(next, json_string(g->steps[s->next[j]].name)))
                bad = 1;
        jset(o, "next", next, &bad);
        jset(o, "foreach", str_or_null(d->foreach), &bad);
        jset(o, "join", json_boolean(s->is_join), &bad);
        jset(res, "cpu", json_integer(d->resources.cpu), &bad);
        jset(res, "memory_mb", json_integer(d->resources.memory_mb), &bad);
        jset(res, "gpu", json_integer(d->resources.gpu), &bad);
        jset(o, "resources", res, &bad);
        jset(o, "retry", json_integer(d->retry), &bad);
        jset(o, "catch_var", str_or_null(d->catch_var), &bad);
        jset(o, "timeout_s", json_integer(d->timeout_s), &bad);
        jset(o, "compute", str_or_null(d->compute), &bad);
        jset(o, "image", str_or_null(d->image), &bad);
        if (d->env)
            for (const char *const *e = d->env; *e; e++)
                if (json_array_append_new(env, str_or_null(*e)))
                    bad = 1;
        jset(o, "env", env, &bad);
        /* beyond the documented schema, for schedulers that lay out splits */
        jset(o, "depth", json_integer(s->depth), &bad);
        jset(o, "split_of", str_or_null(s->split_of >= 0 ? g->steps[s->split_of].name : NULL),
             &bad);
        jset(o, "join_of", str_or_null(s->join_of >= 0 ? g->steps[s->join_of].name : NULL),
             &bad);
        if (json_array_append_new(steps, o))
            bad = 1;
    }
    for (size_t k = 0; k < g->def->n_params && !bad; k++) {
        const mf_param_def *p = &g->def->params[k];
        json_t *o = json_object();
        if (!o) {
            bad = 1;
            break;
        }
        jset(o, "name", json_string(p->name), &bad);
        jset(o, "type", json_string(param_type_word(p->type)), &bad);
        jset(o, "default", str_or_null(p->default_value), &bad);
        jset(o, "help", str_or_null(p->help), &bad);
        if (json_array_append_new(params, o))
            bad = 1;
    }
    jset(root, "steps", steps, &bad);
    jset(root, "parameters", params, &bad);
    char *s = bad ? NULL : json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(root);
    return s;
}

/* ---- endpoints (flow ABI 1.3) ----------------------------------------------------------- */

static int endpoint_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-';
}

int mf_endpoints_check(const mf_flow_def *def, char **err)
{
    for (size_t i = 0; i < def->n_endpoints; i++) {
        const mf_endpoint_def *d = &def->endpoints[i];
        size_t n = d->name ? strnlen(d->name, MF_ENDPOINT_NAME_MAX + 1) : 0;
        int ok = n > 0 && n <= MF_ENDPOINT_NAME_MAX;
        for (size_t k = 0; ok && k < n; k++)
            ok = endpoint_name_char(d->name[k]);
        if (!ok) {
            char *shown = d->name ? mf_escape(d->name, n, 0) : NULL;
            *err = mf_strf("flow %s: endpoint %zu's name '%s%s' is not valid: an endpoint name "
                           "is 1 to %d letters, digits, '_' and '-' (it is the URL path)",
                           def->name, i, shown ? shown : "", n > MF_ENDPOINT_NAME_MAX ? "..." : "",
                           MF_ENDPOINT_NAME_MAX);
            free(shown);
            return MF_EINVAL;
        }
        if (!d->fn) {
            *err = mf_strf("flow %s: endpoint '%s' has no fn: give the function that answers it",
                           def->name, d->name);
            return MF_EINVAL;
        }
        for (size_t k = 0; k < i; k++)
            if (!strcmp(def->endpoints[k].name, d->name)) {
                *err = mf_strf("flow %s: endpoint '%s' is declared twice: give each its own "
                               "name",
                               def->name, d->name);
                return MF_EINVAL;
            }
    }
    return 0;
}
