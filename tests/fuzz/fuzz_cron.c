/* The cron expression parser (core/src/cron.c mf_cron_parse), what `mflow deploy
 * --schedule` reads: an accepted expression sets bits only inside each field's range and
 * at least one in each (or is @reboot); a refused one always says why, naming the
 * expression. */
#include "cron.h"

#include <mflow/plugin.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *expr = malloc(size + 1);
    if (!expr)
        return 0;
    memcpy(expr, data, size);
    expr[size] = '\0';
    struct mf_cron c;
    char *err = NULL;
    int rc = mf_cron_parse(expr, &c, &err);
    if (rc == 0) {
        if (err)
            abort();
        if (!c.reboot &&
            (!c.minute || !c.hour || !c.dom || !c.month || !c.dow ||
             (c.minute >> 60) || (c.hour >> 24) || (c.dom & 1) || (c.month & ~0x1ffeu) ||
             (c.dow >> 7)))
            abort();
    } else if (rc != MF_EINVAL || (err && !strstr(err, "schedule '"))) {
        abort();
    }
    free(err);
    free(expr);
    return 0;
}
