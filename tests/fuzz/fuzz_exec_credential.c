/* The ExecCredential an exec credential plugin prints (plugins/compute/k8s/kubeconfig.c): the
 * kubeconfig names /bin/cat as its plugin, reading a file that holds the input, and each
 * input is asked for fresh credentials. Any answer gives credentials or a message. */
#include "fuzz_tmp.h"
#include "kubeconfig.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char config[128];
static char reply[128];
static char nohome[128];
static struct k8s_conn *conn;

static void drop_conn(void)
{
    k8s_conn_destroy(conn);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *dir = fuzz_tmp_make("execcred");
    snprintf(config, sizeof config, "%s/config", dir);
    snprintf(reply, sizeof reply, "%s/reply", dir);
    snprintf(nohome, sizeof nohome, "%s/nohome", dir);
    FILE *f = fopen(config, "w");
    if (!f)
        abort();
    fprintf(f,
            "current-context: x\n"
            "clusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:6443'}\n"
            "contexts:\n- name: x\n  context: {cluster: c, user: u}\n"
            "users:\n- name: u\n  user:\n    exec:\n"
            "      apiVersion: client.authentication.k8s.io/v1\n"
            "      command: /bin/cat\n      args: ['%s']\n      interactiveMode: Never\n",
            reply);
    fclose(f);
    struct k8s_load_opts o = {.kubeconfig_env = config, .home = nohome, .service_host = "",
                              .service_port = "", .incluster_dir = nohome};
    char msg[1024];
    if (k8s_kubeconfig_load(&o, &conn, msg, sizeof msg) != 0) {
        fprintf(stderr, "fuzz_exec_credential: %s\n", msg);
        abort();
    }
    atexit(drop_conn);   /* runs before the directory is removed (atexit is last-in, first-out) */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (fuzz_tmp_write(reply, data, size) != 0)
        return 0;
    k8s_conn_invalidate(conn);
    const struct k8s_cred *k = NULL;
    char msg[1024] = "";
    int rc = k8s_conn_credentials(conn, 1700000000, &k, msg, sizeof msg);
    if (getenv("FUZZ_VERBOSE"))   /* what each input came to, for checking a corpus */
        fprintf(stderr, "rc %d: %s\n", rc, rc ? msg : "credentials");
    if (rc == 0 && (!k || (!k->token && !k->cert_pem)))
        abort();
    if (rc != 0 && !msg[0])
        abort();
    return 0;
}
