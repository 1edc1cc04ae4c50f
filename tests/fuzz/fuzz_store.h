/* For fuzz targets whose parser reads from the datastore: a storage operations table that
 * answers every get with the current input (the bytes under test), so the code behind the
 * store is what is fuzzed. Only get and last_error: the readers under test ask for nothing
 * else. Include after <mflow/plugin.h> (through the module's own header). */
#ifndef MFLOW_FUZZ_STORE_H
#define MFLOW_FUZZ_STORE_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t *fuzz_input;
static size_t fuzz_input_size;
/* The one key a reader may ask for; NULL: any. Another key is a bug of the reader: abort. */
static const char *fuzz_input_key;

static int fuzz_input_get(void *state, const char *key, struct mf_buf *out)
{
    (void)state;
    if (fuzz_input_key && strcmp(key, fuzz_input_key) != 0)
        abort();
    out->data = (void *)fuzz_input;
    out->len = fuzz_input_size;
    out->release = NULL;
    return 0;
}

static const char *fuzz_input_error(void *state)
{
    (void)state;
    return "the fuzz input store failed (it never does)";
}

static const struct mf_storage_ops fuzz_input_ops = {
    .struct_size = sizeof fuzz_input_ops,
    .get = fuzz_input_get,
    .last_error = fuzz_input_error,
};

#endif
