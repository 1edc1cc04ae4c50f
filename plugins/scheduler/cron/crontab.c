/* Editing a crontab's text (crontab.h). */
#include "crontab.h"

#include <stdlib.h>
#include <string.h>

int ct_line_name(const char *line, size_t len, char *name, size_t cap)
{
    size_t ml = strlen(CT_MARK);
    /* the marker is the last comment of the line: search from the end */
    for (size_t i = len >= ml ? len - ml + 1 : 0; i-- > 0;) {
        if (memcmp(line + i, CT_MARK, ml) != 0 || (i > 0 && line[i - 1] != ' '))
            continue;
        const char *p = line + i + ml;
        size_t n = 0;
        while (i + ml + n < len && p[n] != ' ' && p[n] != '\r' && p[n] != '\t')
            n++;
        if (n == 0 || n >= cap)
            return 0;
        memcpy(name, p, n);
        name[n] = '\0';
        return 1;
    }
    return 0;
}

static int is_ours(const char *line, size_t len, const char *name)
{
    char n[256];
    return ct_line_name(line, len, n, sizeof n) && !strcmp(n, name);
}

/* Walk the lines: the callback gets each line without its newline, and the terminator's
 * length (0 for a last line without one). */
struct out {
    char *p;
    size_t len;
};

static void put(struct out *o, const void *s, size_t n)
{
    memcpy(o->p + o->len, s, n);
    o->len += n;
}

char *ct_upsert(const char *text, size_t len, const char *name, const char *line,
                size_t *outlen)
{
    size_t ll = strlen(line);
    struct out o = {malloc(len + ll + 2), 0};
    if (!o.p)
        return NULL;
    int done = 0;
    for (size_t i = 0; i < len;) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t e = nl ? (size_t)(nl - text) : len, term = nl ? 1 : 0;
        size_t body = e - i;
        /* a CRLF line keeps its \r after our replacement */
        size_t cr = body && text[e - 1] == '\r' ? 1 : 0;
        if (is_ours(text + i, body - cr, name)) {
            if (!done) {
                put(&o, line, ll);
                put(&o, text + e - cr, cr + term);
                done = 1;
            }
        } else {
            put(&o, text + i, body + term);
        }
        i = e + term;
    }
    if (!done) {
        /* first: shift what is there */
        memmove(o.p + ll + 1, o.p, o.len);
        memcpy(o.p, line, ll);
        o.p[ll] = '\n';
        o.len += ll + 1;
    }
    *outlen = o.len;
    return o.p;
}

char *ct_remove(const char *text, size_t len, const char *name, size_t *outlen, int *found)
{
    struct out o = {malloc(len + 1), 0};
    *found = 0;
    if (!o.p)
        return NULL;
    for (size_t i = 0; i < len;) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t e = nl ? (size_t)(nl - text) : len, term = nl ? 1 : 0;
        size_t body = e - i, cr = body && text[e - 1] == '\r' ? 1 : 0;
        if (is_ours(text + i, body - cr, name))
            (*found)++;
        else
            put(&o, text + i, body + term);
        i = e + term;
    }
    *outlen = o.len;
    return o.p;
}

int ct_find(const char *text, size_t len, const char *name, const char **line, size_t *linelen)
{
    for (size_t i = 0; i < len;) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t e = nl ? (size_t)(nl - text) : len;
        size_t body = e - i, cr = body && text[e - 1] == '\r' ? 1 : 0;
        if (is_ours(text + i, body - cr, name)) {
            *line = text + i;
            *linelen = body - cr;
            return 1;
        }
        i = e + (nl ? 1 : 0);
    }
    return 0;
}

const char *ct_command(const char *line, size_t len, size_t *cmdlen)
{
    size_t i = 0;
    int fields = len && line[0] == '@' ? 1 : 5;
    while (i < len && (line[i] == ' ' || line[i] == '\t'))
        i++;
    if (i < len && line[i] == '@')
        fields = 1;
    for (int f = 0; f < fields; f++) {
        if (i >= len)
            return NULL;
        while (i < len && line[i] != ' ' && line[i] != '\t')
            i++;
        while (i < len && (line[i] == ' ' || line[i] == '\t'))
            i++;
    }
    if (i >= len)
        return NULL;
    *cmdlen = len - i;
    return line + i;
}
