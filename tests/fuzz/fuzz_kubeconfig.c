/* The kubeconfig loader (plugins/compute/k8s/kubeconfig.c) on any file: a connection or an
 * error message, never a crash. The file is the only kubeconfig (no home file, no in-cluster
 * fallback); when it loads, the static credentials are asked for too (an exec plugin it
 * names is not run: the ExecCredential target covers that answer). */
#include "fuzz_tmp.h"
#include "kubeconfig.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char path[128];
static char nohome[128];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *dir = fuzz_tmp_make("kubeconfig");
    snprintf(path, sizeof path, "%s/config", dir);
    snprintf(nohome, sizeof nohome, "%s/nohome", dir);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (fuzz_tmp_write(path, data, size) != 0)
        return 0;
    struct k8s_load_opts o = {.kubeconfig_env = path, .home = nohome, .service_host = "",
                              .service_port = "", .incluster_dir = nohome};
    struct k8s_conn *c = NULL;
    char msg[1024];
    int rc = k8s_kubeconfig_load(&o, &c, msg, sizeof msg);
    if (getenv("FUZZ_VERBOSE"))   /* what each input came to, for checking a corpus */
        fprintf(stderr, "rc %d: %s\n", rc, rc ? msg : c->server);
    if (rc == 0) {
        if (!c || !c->server)
            abort();
        if (!c->exec) {
            const struct k8s_cred *k;
            (void)k8s_conn_credentials(c, 0, &k, msg, sizeof msg);
        }
        k8s_conn_destroy(c);
    } else if (c || !msg[0]) {
        abort();   /* a failure leaves no connection and says why */
    }
    return 0;
}
