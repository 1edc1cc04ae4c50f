/* Prints what k8s_kubeconfig_load found, as JSON, for comparison with
 * `kubectl config view --minify --flatten` (test_k8s_kubectl.sh). File contents (CA, client
 * certificate and key) are printed as base64, as --flatten embeds them, so the comparison also
 * shows which file each relative path resolved to. Test tool: it prints credentials.
 * Usage: k8s_conn_dump [CONTEXT]   (KUBECONFIG and HOME from the environment; no in-cluster) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "kubeconfig.h"

static json_t *file_b64(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return json_string("(unreadable)");
    char buf[65536];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    char *b = k8s_base64_encode(buf, n);
    json_t *j = json_string(b);
    free(b);
    return j;
}

static json_t *data_b64(const char *data, size_t len)
{
    char *b = k8s_base64_encode(data, len);
    json_t *j = json_string(b);
    free(b);
    return j;
}

int main(int argc, char **argv)
{
    struct k8s_load_opts o = {0};
    o.context = argc > 1 ? argv[1] : NULL;
    o.service_host = "";
    o.service_port = "";
    struct k8s_conn *c;
    char msg[1024];
    int rc = k8s_kubeconfig_load(&o, &c, msg, sizeof msg);
    if (rc) {
        printf("{\"error\": %d}\n", rc);
        fprintf(stderr, "%s\n", msg);
        return 1;
    }
    json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:s,s:b}", "context", c->context, "cluster", c->cluster,
                          "user", c->user, "server", c->server, "namespace", c->namespace_,
                          "insecure", c->insecure_skip_tls_verify);
    if (c->tls_server_name) json_object_set_new(j, "tls-server-name", json_string(c->tls_server_name));
    if (c->ca_pem) json_object_set_new(j, "ca", data_b64(c->ca_pem, c->ca_len));
    else if (c->ca_file) json_object_set_new(j, "ca", file_b64(c->ca_file));
    if (c->token) json_object_set_new(j, "token", json_string(c->token));
    if (c->token_file) json_object_set_new(j, "tokenFile", json_string(c->token_file));
    if (c->cert_pem) json_object_set_new(j, "cert", data_b64(c->cert_pem, c->cert_len));
    else if (c->cert_file) json_object_set_new(j, "cert", file_b64(c->cert_file));
    if (c->key_pem) json_object_set_new(j, "key", data_b64(c->key_pem, c->key_len));
    else if (c->key_file) json_object_set_new(j, "key", file_b64(c->key_file));
    if (c->exec) {
        json_t *args = json_array();
        for (size_t i = 0; c->exec->args[i]; i++) json_array_append_new(args, json_string(c->exec->args[i]));
        json_object_set_new(j, "exec", json_pack("{s:s,s:s,s:o}", "apiVersion", c->exec->api_version,
                                                 "command", c->exec->command, "args", args));
    }
    char *s = json_dumps(j, JSON_SORT_KEYS | JSON_INDENT(1));
    puts(s);
    free(s);
    json_decref(j);
    k8s_conn_destroy(c);
    return 0;
}
