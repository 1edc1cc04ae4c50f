/* Kubernetes connection settings, found the way kubectl finds them.
 *
 * Order (client-go's deferred loading): the files named by KUBECONFIG (':'-separated, merged),
 * else ~/.kube/config; when neither yields a file and KUBERNETES_SERVICE_HOST/PORT are set,
 * the in-cluster service-account configuration. Merge rules for several files: the first file
 * that sets current-context wins; clusters, users and contexts are merged by name and the first
 * definition of a name wins whole (later files never add fields to it). Relative paths in a
 * file (certificate-authority, client-certificate, client-key, tokenFile, an exec command that
 * contains '/') resolve against that file's directory.
 *
 * Every function returns 0 or an MF_E* code and writes a message to msg that names the file
 * and what to do. Messages never contain a credential (token, key, certificate data). */
#ifndef MFLOW_K8S_KUBECONFIG_H
#define MFLOW_K8S_KUBECONFIG_H

#include <stddef.h>
#include <time.h>

struct k8s_load_opts {
    const char *kubeconfig_env;  /* value of KUBECONFIG; NULL = getenv("KUBECONFIG") */
    const char *home;            /* home directory; NULL = getenv("HOME") */
    const char *context;         /* explicit context (--k8s-context); NULL = current-context */
    const char *incluster_dir;   /* service-account dir; NULL = /var/run/secrets/kubernetes.io/serviceaccount */
    const char *service_host;    /* NULL = getenv("KUBERNETES_SERVICE_HOST") */
    const char *service_port;    /* NULL = getenv("KUBERNETES_SERVICE_PORT") */
};

enum k8s_exec_interactive { K8S_EXEC_NEVER = 0, K8S_EXEC_IF_AVAILABLE = 1, K8S_EXEC_ALWAYS = 2 };

struct k8s_exec {
    char *api_version;           /* client.authentication.k8s.io/v1 or v1beta1 */
    char *command;               /* resolved against the kubeconfig's directory when it has a '/' */
    char **args;                 /* NULL-terminated */
    char **env;                  /* NULL-terminated "NAME=value" */
    int interactive;             /* enum k8s_exec_interactive */
    char *cluster_json;          /* spec.cluster of KUBERNETES_EXEC_INFO (provideClusterInfo), or NULL */
};

/* What a request needs right now: the bearer token and/or the client certificate and key (PEM).
 * Owned by the connection; valid until the next k8s_conn_credentials or k8s_conn_destroy. */
struct k8s_cred {
    char *token;                 /* bearer token, or NULL */
    char *cert_pem; size_t cert_len;
    char *key_pem; size_t key_len;
    time_t expires;              /* 0 = no expiry known */
};

struct k8s_conn {
    char *source;                /* the file(s) it came from, or "in-cluster" (for messages) */
    char *context;               /* context name ("" in-cluster) */
    char *cluster;               /* cluster name ("" in-cluster) */
    char *user;                  /* user name (may be "") */
    char *server;                /* https://host:port */
    char *namespace_;            /* the context's namespace, else "default" */
    char *tls_server_name;       /* or NULL */
    int insecure_skip_tls_verify;/* 1 only when the kubeconfig says true */
    char *ca_file;               /* absolute path, or NULL */
    char *ca_pem; size_t ca_len; /* decoded certificate-authority-data, or NULL */
    /* user credentials as configured */
    char *token;                 /* static token, or NULL */
    char *token_file;            /* absolute path, re-read on each k8s_conn_credentials */
    char *cert_file, *key_file;  /* absolute paths, or NULL */
    char *cert_pem; size_t cert_len;   /* decoded client-certificate-data */
    char *key_pem; size_t key_len;     /* decoded client-key-data */
    struct k8s_exec *exec;       /* exec credential plugin, or NULL */
    /* private: the current credentials and the exec cache */
    struct k8s_cred cred;
    int exec_cached;
    unsigned exec_runs;          /* how many times the exec plugin ran (tests, logs) */
};

/* Finds and reads the configuration. *out is NULL on error. */
int k8s_kubeconfig_load(const struct k8s_load_opts *opts, struct k8s_conn **out,
                        char *msg, size_t msglen);

/* The credentials to send now (token file re-read; exec plugin run when there is no cached
 * credential or it expires within 10 s of `now`; 0 = time(NULL)). */
int k8s_conn_credentials(struct k8s_conn *c, time_t now, const struct k8s_cred **out,
                         char *msg, size_t msglen);

/* Forget the exec plugin's cached credential (after the server answered 401). */
void k8s_conn_invalidate(struct k8s_conn *c);

void k8s_conn_destroy(struct k8s_conn *c);

/* Helpers shared with tests. */
int k8s_base64_decode(const char *in, char **out, size_t *outlen);
char *k8s_base64_encode(const void *in, size_t len);   /* NULL when out of memory */
int k8s_parse_rfc3339(const char *s, time_t *out);

#endif
