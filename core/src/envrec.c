/* Records of the environment the host's set-up read (envrec.h). */
#include "envrec.h"

#include "util.h"

#include <mflow/plugin.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The records being made, innermost last. */
enum { MAX_ACTIVE = 4 };
static struct mf_envrec *active[MAX_ACTIVE];
static int n_active;

static void note(struct mf_envrec *r, const char *name, const char *value)
{
    if (r->broken)
        return;
    /* The first read counts: a later one may see what the set-up itself set. */
    for (size_t i = 0; i < r->n; i++)
        if (!strcmp(r->v[i].name, name))
            return;
    if (mf_grow(&r->v, &r->cap, r->n, sizeof *r->v, 16)) {
        r->broken = 1;
        return;
    }
    char *n = strdup(name), *v = value ? strdup(value) : NULL;
    if (!n || (value && !v)) {
        free(n);
        free(v);
        r->broken = 1;
        return;
    }
    r->v[r->n].name = n;
    r->v[r->n].value = v;
    r->n++;
}

const char *mf_host_getenv(const char *name)
{
    const char *v = getenv(name);
    for (int i = 0; i < n_active; i++)
        note(active[i], name, v);
    return v;
}

int mf_host_setenv(const char *name, const char *value)
{
    mf_host_getenv(name);
    return setenv(name, value, 1) == 0 ? 0 : errno;
}

void mf_host_note_cwd(void)
{
    for (int i = 0; i < n_active; i++)
        active[i]->cwd = 1;
}

void mf_envrec_free(struct mf_envrec *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->v[i].name);
        free(r->v[i].value);
    }
    free(r->v);
    memset(r, 0, sizeof *r);
}

int mf_envrec_begin(struct mf_envrec *r)
{
    mf_envrec_free(r);
    if (n_active == MAX_ACTIVE) {
        r->broken = 1;
        return MF_EINVAL;
    }
    active[n_active++] = r;
    return 0;
}

int mf_envrec_end(struct mf_envrec *r)
{
    /* Normally the innermost; any one named is taken off wherever it is. */
    for (int i = n_active; i-- > 0;)
        if (active[i] == r) {
            memmove(&active[i], &active[i + 1], (size_t)(n_active - i - 1) * sizeof *active);
            n_active--;
            break;
        }
    return r->broken ? MF_ENOMEM : 0;
}

int mf_envrec_same(const struct mf_envrec *r)
{
    if (r->broken || r->cwd)
        return 0;
    for (size_t i = 0; i < r->n; i++) {
        const char *now = getenv(r->v[i].name);
        if (!now != !r->v[i].value || (now && strcmp(now, r->v[i].value) != 0))
            return 0;
    }
    return 1;
}
