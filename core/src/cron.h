/* Cron expressions, as a deployment's schedule (`mflow deploy --schedule`): checked here
 * before anything is installed, so that a scheduler plugin is handed only what Debian's cron
 * (Vixie cron) takes.
 *
 * Five fields separated by blanks: minute (0-59), hour (0-23), day of month (1-31), month
 * (1-12 or jan-dec), day of week (0-7 or sun-sat; 0 and 7 are Sunday). A field is a list of
 * items separated by ','; an item is '*', a number or name, or a range a-b, and '*' or a
 * range may take a step '/n'. Or one of @hourly @daily @midnight @weekly @monthly @yearly
 * @annually @reboot. Names are case-insensitive. */
#ifndef MF_CRON_H
#define MF_CRON_H

#include <stdint.h>

/* What an expression means: bit i set when value i matches. */
struct mf_cron {
    uint64_t minute;     /* bits 0-59 */
    uint32_t hour;       /* bits 0-23 */
    uint32_t dom;        /* bits 1-31 */
    uint32_t month;      /* bits 1-12 */
    uint32_t dow;        /* bits 0-6 (7 folds into 0) */
    int reboot;          /* @reboot: no times, once when cron starts */
};

/* Parse expr into *out (may be NULL). 0, or MF_EINVAL with *err (malloc'd, NULL when out of
 * memory) naming the expression, the field and what is wrong with it. */
int mf_cron_parse(const char *expr, struct mf_cron *out, char **err);

#endif
