/* Host settings from $MFLOW_HOME/config.json (core/src/host.c): any file must give settings
 * or the documented warning, never a crash; every lookup a command and a plugin make is
 * asked of it. */
#include "fuzz_tmp.h"
#include "host.h"

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *home;
static char path[128];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    home = fuzz_tmp_make("config");
    snprintf(path, sizeof path, "%s/config.json", home);
    /* The settings come from the file alone. */
    static const char *vars[] = {"MFLOW_COMPUTE", "MFLOW_STORAGE", "MFLOW_DATASTORE_ROOT",
                                 "MFLOW_NAMESPACE"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        unsetenv(vars[i]);
    /* Warn once (the first bad file), like a command and the tasks it starts. */
    setenv("MFLOW_CONFIG_WARNED", path, 1);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (fuzz_tmp_write(path, data, size) != 0)
        return 0;
    struct mf_host_opts o = {.home = home};
    if (mf_host_init(&o) == 0) {
        (void)mf_host_compute();
        (void)mf_host_storage();
        (void)mf_host_datastore_root();
        (void)mf_host_namespace();
        static const char *sections[] = {NULL, "local", "s3", "slurm", "k8s", "compute"};
        static const char *keys[] = {"compute", "storage", "root", "endpoint_url", "partition",
                                     "max_workers", "datastore_root", "namespace"};
        for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++)
            for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
                const char *v = mf_host_config(sections[i], keys[k]);
                if (v)
                    (void)strlen(v);
            }
        const struct mf_host_api *api = mf_host_api();
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
            const char *v = api->config_get("s3", keys[k]);
            if (v)
                (void)strlen(v);
        }
    }
    mf_host_fini();
    return 0;
}
