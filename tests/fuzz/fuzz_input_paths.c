/* The compact input-path list a task gets on its command line or reads from the datastore
 * (core/src/record.c mf_input_paths_parse): "step/id[-id][@attempt],...". Every path it
 * gives back must print as step/id, and the count stays within MF_INPUT_PATHS_MAX. (Its own
 * target: an input may expand to a million paths, which would slow the record target.) */
#include "record.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    char **paths = NULL;
    uint32_t *atts = NULL;
    size_t n = 0;
    int rc = mf_input_paths_parse(s, &paths, &atts, &n);
    if (n > MF_INPUT_PATHS_MAX)
        abort();
    for (size_t i = 0; i < n; i++) {
        /* Freed whatever it returns, as mf_record_read_inputs does (a failure can leave the
         * paths parsed before it). */
        const char *slash = strrchr(paths[i], '/');
        if (rc == 0 && (!slash || slash == paths[i] || !slash[1]))
            abort();
        free(paths[i]);
    }
    free(paths);
    free(atts);
    free(s);
    return 0;
}
