/* The datastore key parser (core/src/model.c mf_key_parse): a key is taken only when it is
 * exactly what mf_key_run / mf_key_task make of its parts, so a parsed key must print back
 * to itself. Package keys likewise. */
#include "model.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *key = malloc(size + 1);
    if (!key)
        return 0;
    memcpy(key, data, size);
    key[size] = '\0';
    struct mf_key_parts k;
    int kind = mf_key_parse(key, &k);
    if (kind == MF_KEY_RUN || kind == MF_KEY_TASK) {
        char *back = kind == MF_KEY_RUN ? mf_key_run(k.flow, k.run)
                                        : mf_key_task(k.flow, k.run, k.step, k.task, k.attempt);
        if (back && strcmp(back, key) != 0)
            abort();
        free(back);
    }
    char sha[65];
    if (mf_key_package_parse(key, sha) == 0) {
        char *back = mf_key_package(sha);
        if (back && strcmp(back, key) != 0)
            abort();
        free(back);
    }
    free(key);
    return 0;
}
