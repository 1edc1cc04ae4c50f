/* Cron expressions (cron.h). */
#include "cron.h"

#include "util.h"

#include <mflow/plugin.h>

#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct field {
    const char *name;
    int lo, hi;
    const char *const *names;    /* names[i] is value lo_names + i, or NULL */
    int lo_names;
};

static const char *const months[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                     "jul", "aug", "sep", "oct", "nov", "dec", NULL};
static const char *const days[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL};

static const struct field fields[5] = {
    {"minute", 0, 59, NULL, 0},
    {"hour", 0, 23, NULL, 0},
    {"day of month", 1, 31, NULL, 0},
    {"month", 1, 12, months, 1},
    {"day of week", 0, 7, days, 0},
};

static const struct {
    const char *name;
    const char *expr;
} specials[] = {
    {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
};

/* A number (decimal, at most 3 digits: no field goes past 59) or a name of the field at
 * *p; moves *p past it. 0, or -1 with *why set. */
static int value(const struct field *f, const char **p, int *out, const char **why)
{
    const char *s = *p;
    if (isdigit((unsigned char)*s)) {
        int v = 0, n = 0;
        while (isdigit((unsigned char)s[n])) {
            if (++n > 3) {
                *why = "a number with too many digits";
                return -1;
            }
            v = v * 10 + (s[n - 1] - '0');
        }
        if (v < f->lo || v > f->hi) {
            *why = "a value out of range";
            return -1;
        }
        *out = v;
        *p = s + n;
        return 0;
    }
    if (f->names && isalpha((unsigned char)s[0])) {
        size_t n = 0;
        while (isalpha((unsigned char)s[n]))
            n++;
        for (int i = 0; n == 3 && f->names[i]; i++)
            if (!strncasecmp(s, f->names[i], 3)) {
                *out = f->lo_names + i;
                *p = s + 3;
                return 0;
            }
        *why = "an unknown name";
        return -1;
    }
    *why = f->names ? "not a number or name" : "not a number";
    return -1;
}

/* One field's text [s, e) into *bits. 0, or -1 with *why. */
static int field(const struct field *f, const char *s, const char *e, uint64_t *bits,
                 const char **why)
{
    *bits = 0;
    for (;;) {
        const char *item_end = memchr(s, ',', (size_t)(e - s));
        if (!item_end)
            item_end = e;
        if (item_end == s) {
            *why = "an empty item in a list";
            return -1;
        }
        int a, b, step = 1, range = 0;
        const char *p = s;
        if (*p == '*') {
            a = f->lo, b = f->hi, range = 1;
            p++;
        } else {
            if (value(f, &p, &a, why))
                return -1;
            b = a;
            if (p < item_end && *p == '-') {
                p++;
                if (value(f, &p, &b, why))
                    return -1;
                if (b < a) {
                    *why = "a range whose end comes before its start";
                    return -1;
                }
                range = 1;
            }
        }
        if (p < item_end && *p == '/') {
            if (!range) {
                /* Vixie cron takes a step only after '*' or a range */
                *why = "a step after a single value (write a range: 5-59/10)";
                return -1;
            }
            p++;
            const char *q = p;
            step = 0;
            while (q < item_end && isdigit((unsigned char)*q) && q - p < 3)
                step = step * 10 + (*q++ - '0');
            if (q == p || q != item_end || step < 1 || step > f->hi - f->lo + 1) {
                *why = "a step that is not a whole number from 1 to the field's span";
                return -1;
            }
            p = q;
        }
        if (p != item_end) {
            *why = "unexpected characters";
            return -1;
        }
        for (int v = a; v <= b; v += step)
            *bits |= (uint64_t)1 << v;
        if (item_end == e)
            return 0;
        s = item_end + 1;
    }
}

static int fail(char **err, const char *expr, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char **err, const char *expr, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *what = mf_vstrf(fmt, ap);
    va_end(ap);
    *err = what ? mf_strf("schedule '%s' is not a cron expression: %s (five fields: minute "
                          "hour day-of-month month day-of-week, e.g. '0 3 * * *', or @daily)",
                          expr, what)
                : NULL;
    free(what);
    return MF_EINVAL;
}

int mf_cron_parse(const char *expr, struct mf_cron *out, char **err)
{
    struct mf_cron c;
    memset(&c, 0, sizeof c);
    *err = NULL;
    if (!expr)
        return fail(err, "", "it is empty");
    const char *s = expr;
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 && s[i] != '\t')
            return fail(err, expr, "it holds a control character (a crontab line is one line)");
    if (!n)
        return fail(err, expr, "it is empty");
    if (s[0] == '@') {
        if (n == 7 && !strncasecmp(s, "@reboot", 7)) {
            c.reboot = 1;
            if (out)
                *out = c;
            return 0;
        }
        for (size_t k = 0; k < sizeof specials / sizeof *specials; k++)
            if (strlen(specials[k].name) == n && !strncasecmp(s, specials[k].name, n)) {
                char *e2;
                int rc = mf_cron_parse(specials[k].expr, out, &e2);
                free(e2);
                return rc;
            }
        return fail(err, expr,
                    "'%.*s' is not one of @hourly @daily @midnight @weekly @monthly @yearly "
                    "@annually @reboot",
                    (int)n, s);
    }
    uint64_t bits[5];
    int nf = 0;
    const char *p = s, *end = s + n;
    while (p < end) {
        const char *fe = p;
        while (fe < end && *fe != ' ' && *fe != '\t')
            fe++;
        if (nf == 5)
            return fail(err, expr, "it has more than five fields ('%.*s' is a sixth; a "
                                   "seconds field or a command does not belong here)",
                        (int)(fe - p), p);
        const char *why = NULL;
        if (field(&fields[nf], p, fe, &bits[nf], &why))
            return fail(err, expr, "field %d (%s, %d-%d) '%.*s' has %s", nf + 1,
                        fields[nf].name, fields[nf].lo, fields[nf].hi, (int)(fe - p), p, why);
        nf++;
        p = fe;
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
    }
    if (nf < 5)
        return fail(err, expr, "it has %d field%s, not five (%s missing)", nf,
                    nf == 1 ? "" : "s", fields[nf].name);
    c.minute = bits[0];
    c.hour = (uint32_t)bits[1];
    c.dom = (uint32_t)bits[2];
    c.month = (uint32_t)bits[3];
    c.dow = (uint32_t)(bits[4] & 0x7f);
    if (bits[4] & (1u << 7))
        c.dow |= 1;   /* 7 is Sunday too */
    if (out)
        *out = c;
    return 0;
}
