/* k8s connection settings: KUBECONFIG merging by kubectl's rules, contexts, cluster and user
 * fields, relative paths, exec credential plugins (fake plugins written here), in-cluster. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <mflow/plugin.h>
#include "kubeconfig.h"

static char T[256];     /* this test's scratch directory */
static char msg[1024];

static void put(const char *rel, const char *text)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", T, rel);
    char *slash = strrchr(p, '/');
    *slash = '\0';
    char cmd[600];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", p);
    assert_int_equal(system(cmd), 0);
    *slash = '/';
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void put_exec(const char *rel, const char *text)
{
    put(rel, text);
    char p[512];
    snprintf(p, sizeof p, "%s/%s", T, rel);
    assert_int_equal(chmod(p, 0755), 0);
}

/* a ring of buffers: a path stays valid for the next 63 calls */
static char *path(const char *rel)
{
    static char p[64][512];
    static int i;
    i = (i + 1) % 64;
    snprintf(p[i], sizeof p[i], "%s/%s", T, rel);
    return p[i];
}

static char *slurp(const char *rel)
{
    static char buf[4096];
    FILE *f = fopen(path(rel), "r");
    if (!f) return NULL;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static int setup(void **state)
{
    snprintf(T, sizeof T, "/tmp/mflow-k8s-kc-XXXXXX");
    assert_non_null(mkdtemp(T));
    unsetenv("KUBECONFIG");
    unsetenv("KUBERNETES_SERVICE_HOST");
    unsetenv("KUBERNETES_SERVICE_PORT");
    msg[0] = '\0';
    return 0;
}

static int teardown(void **state)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", T);
    return system(cmd) == 0 ? 0 : -1;
}

/* opts with no in-cluster fallback and a home without ~/.kube/config */
static struct k8s_load_opts opts(const char *kubeconfig)
{
    struct k8s_load_opts o = {0};
    o.kubeconfig_env = kubeconfig ? kubeconfig : "";
    o.home = path("nohome");
    o.service_host = "";
    o.service_port = "";
    return o;
}

static struct k8s_conn *load_ok(const struct k8s_load_opts *o)
{
    struct k8s_conn *c = NULL;
    int rc = k8s_kubeconfig_load(o, &c, msg, sizeof msg);
    if (rc) fprintf(stderr, "load failed %d: %s\n", rc, msg);
    assert_int_equal(rc, 0);
    assert_non_null(c);
    return c;
}

static int load_err(const struct k8s_load_opts *o)
{
    struct k8s_conn *c = (struct k8s_conn *)1;
    int rc = k8s_kubeconfig_load(o, &c, msg, sizeof msg);
    assert_null(c);
    assert_true(rc < 0);
    assert_true(strlen(msg) > 10);
    return rc;
}

#define BASIC(server, ns, token) \
    "apiVersion: v1\nkind: Config\ncurrent-context: ctx\n" \
    "clusters:\n- name: cl\n  cluster:\n    server: " server "\n" \
    "contexts:\n- name: ctx\n  context:\n    cluster: cl\n    user: u\n" ns \
    "users:\n- name: u\n  user:\n    token: " token "\n"

static void test_single_file(void **state)
{
    put("a.yaml", BASIC("https://10.1.2.3:6443", "    namespace: team-a\n", "tok-a"));
    struct k8s_load_opts o = opts(path("a.yaml"));
    struct k8s_conn *c = load_ok(&o);
    assert_string_equal(c->server, "https://10.1.2.3:6443");
    assert_string_equal(c->namespace_, "team-a");
    assert_string_equal(c->context, "ctx");
    assert_string_equal(c->cluster, "cl");
    assert_string_equal(c->user, "u");
    assert_int_equal(c->insecure_skip_tls_verify, 0);
    const struct k8s_cred *k;
    assert_int_equal(k8s_conn_credentials(c, 0, &k, msg, sizeof msg), 0);
    assert_string_equal(k->token, "tok-a");
    assert_null(k->cert_pem);
    k8s_conn_destroy(c);

    /* no namespace in the context: "default" */
    put("b.yaml", BASIC("https://h:1", "", "t"));
    o = opts(path("b.yaml"));
    c = load_ok(&o);
    assert_string_equal(c->namespace_, "default");
    k8s_conn_destroy(c);
}

static void test_merge_first_wins(void **state)
{
    /* file 1: cluster "shared" and user u, no current-context */
    put("one.yaml",
        "clusters:\n- name: shared\n  cluster:\n    server: https://first:1\n"
        "users:\n- name: u\n  user:\n    token: first-token\n");
    /* file 2: redefines "shared" with more fields (all ignored), sets current-context, and the
     * only definition of the context */
    put("two.yaml",
        "current-context: c2\n"
        "clusters:\n- name: shared\n  cluster:\n    server: https://second:2\n"
        "    tls-server-name: from-second\n"
        "- name: only2\n  cluster:\n    server: https://only2:3\n"
        "contexts:\n- name: c2\n  context:\n    cluster: shared\n    user: u\n    namespace: n2\n"
        "- name: c3\n  context:\n    cluster: only2\n    user: u\n"
        "users:\n- name: u\n  user:\n    token: second-token\n");
    /* file 3: another current-context, which loses to file 2's */
    put("three.yaml", "current-context: c3\n");
    char kc[1024];
    snprintf(kc, sizeof kc, "%s:%s:%s", path("one.yaml"), path("two.yaml"), path("three.yaml"));
    struct k8s_load_opts o = opts(kc);
    struct k8s_conn *c = load_ok(&o);
    assert_string_equal(c->context, "c2");
    assert_string_equal(c->server, "https://first:1");
    assert_null(c->tls_server_name);          /* never a field from a later definition */
    assert_string_equal(c->namespace_, "n2");
    const struct k8s_cred *k;
    assert_int_equal(k8s_conn_credentials(c, 0, &k, msg, sizeof msg), 0);
    assert_string_equal(k->token, "first-token");
    k8s_conn_destroy(c);

    /* the order decides: three first makes c3 current */
    snprintf(kc, sizeof kc, "%s:%s:%s", path("three.yaml"), path("two.yaml"), path("one.yaml"));
    o = opts(kc);
    c = load_ok(&o);
    assert_string_equal(c->context, "c3");
    assert_string_equal(c->server, "https://only2:3");
    assert_int_equal(k8s_conn_credentials(c, 0, &k, msg, sizeof msg), 0);
    assert_string_equal(k->token, "second-token");
    k8s_conn_destroy(c);

    /* two before one: second's "shared" wins now, with its tls-server-name */
    snprintf(kc, sizeof kc, "%s:%s", path("two.yaml"), path("one.yaml"));
    o = opts(kc);
    c = load_ok(&o);
    assert_string_equal(c->server, "https://second:2");
    assert_string_equal(c->tls_server_name, "from-second");
    k8s_conn_destroy(c);
}

static void test_missing_and_empty_entries(void **state)
{
    put("a.yaml", BASIC("https://a:1", "", "t"));
    char kc[1024];
    snprintf(kc, sizeof kc, "::%s:%s::", path("gone.yaml"), path("a.yaml"));
    struct k8s_load_opts o = opts(kc);
    struct k8s_conn *c = load_ok(&o);
    assert_string_equal(c->server, "https://a:1");
    k8s_conn_destroy(c);

    snprintf(kc, sizeof kc, "%s:%s", path("gone1.yaml"), path("gone2.yaml"));
    o = opts(kc);
    assert_int_equal(load_err(&o), MF_ENOTFOUND);
    assert_non_null(strstr(msg, "gone1.yaml"));
    assert_non_null(strstr(msg, "KUBECONFIG"));

    /* KUBECONFIG unset, no ~/.kube/config, not in a pod */
    o = opts(NULL);
    o.kubeconfig_env = NULL;
    assert_int_equal(load_err(&o), MF_ENOTFOUND);
    assert_non_null(strstr(msg, "nohome/.kube/config"));
}

static void test_home_default_and_env(void **state)
{
    put("home/.kube/config", BASIC("https://home:1", "", "t"));
    struct k8s_load_opts o = opts(NULL);
    o.kubeconfig_env = NULL;
    o.home = path("home");
    struct k8s_conn *c = load_ok(&o);
    assert_string_equal(c->server, "https://home:1");
    k8s_conn_destroy(c);

    /* KUBECONFIG from the environment replaces ~/.kube/config */
    put("env.yaml", BASIC("https://env:1", "", "t"));
    setenv("KUBECONFIG", path("env.yaml"), 1);
    c = load_ok(&o);
    assert_string_equal(c->server, "https://env:1");
    k8s_conn_destroy(c);
    unsetenv("KUBECONFIG");
}

static void test_explicit_context(void **state)
{
    put("a.yaml",
        "current-context: one\n"
        "clusters:\n- name: c1\n  cluster:\n    server: https://one:1\n"
        "- name: c2\n  cluster:\n    server: https://two:2\n"
        "contexts:\n- name: one\n  context:\n    cluster: c1\n"
        "- name: two\n  context:\n    cluster: c2\n    namespace: ns2\n");
    struct k8s_load_opts o = opts(path("a.yaml"));
    o.context = "two";
    struct k8s_conn *c = load_ok(&o);
    assert_string_equal(c->server, "https://two:2");
    assert_string_equal(c->namespace_, "ns2");
    assert_string_equal(c->user, "");     /* no user: anonymous */
    k8s_conn_destroy(c);

    o.context = "three";
    assert_int_equal(load_err(&o), MF_ENOTFOUND);
    assert_non_null(strstr(msg, "'three'"));
    assert_non_null(strstr(msg, "one, two"));
    assert_non_null(strstr(msg, "--k8s-context"));

    /* no current-context and none asked for */
    put("b.yaml", "clusters:\n- name: c1\n  cluster:\n    server: https://one:1\n");
    o = opts(path("b.yaml"));
    assert_int_equal(load_err(&o), MF_EINVAL);
    assert_non_null(strstr(msg, "no current-context"));
    assert_non_null(strstr(msg, "b.yaml"));
}

static void test_relative_paths(void **state)
{
    put("cfg/sub/ca.pem", "CA\n");
    put("cfg/sub/client.crt", "CERT\n");
    put("cfg/sub/client.key", "KEY\n");
    put("cfg/sub/token", "  file-token \n\n");
    put("cfg/sub/config",
        "current-context: x\n"
        "clusters:\n- name: c\n  cluster:\n    server: https://s:1\n    certificate-authority: ca.pem\n"
        "contexts:\n- name: x\n  context:\n    cluster: c\n    user: u\n"
        "users:\n- name: u\n  user:\n    client-certificate: client.crt\n    client-key: ./client.key\n"
        "    tokenFile: token\n");
    /* a relative KUBECONFIG entry is relative to the working directory; the paths inside
     * are relative to the file's directory, not the working directory */
    char cwd[512];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(path("cfg")), 0);
    struct k8s_load_opts o = opts("sub/config");
    struct k8s_conn *c = load_ok(&o);
    assert_int_equal(chdir(cwd), 0);
    assert_string_equal(c->ca_file, path("cfg/sub/ca.pem"));
    assert_string_equal(c->cert_file, path("cfg/sub/client.crt"));
    assert_string_equal(c->key_file, path("cfg/sub/./client.key"));
    assert_string_equal(c->token_file, path("cfg/sub/token"));
    const struct k8s_cred *k;
    assert_int_equal(k8s_conn_credentials(c, 0, &k, msg, sizeof msg), 0);
    assert_string_equal(k->token, "  file-token");   /* trailing whitespace trimmed only */
    assert_string_equal(k->cert_pem, "CERT\n");
    assert_string_equal(k->key_pem, "KEY\n");
    /* the token file is read again each time (projected tokens rotate) */
    put("cfg/sub/token", "rotated\n");
    assert_int_equal(k8s_conn_credentials(c, 0, &k, msg, sizeof msg), 0);
    assert_string_equal(k->token, "rotated");
    k8s_conn_destroy(c);

    /* a path that does not exist is named, relative to the file's directory */
    put("cfg/bad",
        "current-context: x\n"
        "clusters:\n- name: c\n  cluster:\n    server: https://s:1\n    certificate-authority: nope/ca.pem\n"
        "contexts:\n- name: x\n  context:\n    cluster: c\n");
    o = opts(path("cfg/bad"));
    assert_int_equal(load_err(&o), MF_ENOTFOUND);
    assert_non_null(strstr(msg, path("cfg/nope/ca.pem")));
}

static void test_inline_data_and_tls(void **state)
{
    /* "CA-PEM\n" and "CERT\n" / "KEY\n" in base64, the CA split over two lines */
    put("a.yaml",
        "current-context: x\n"
        "clusters:\n- name: c\n  cluster:\n    server: https://s:1\n"
        "    certificate-authority-data: Q0Et\n      UEVNCg==\n"
        "    certificate-authority: /does/not/matter\n"
        "contexts:\n- name: x\n  context:\n    cluster: c\n    user: u\n"
        "users:\n- name: u\n  user:\n    client-certificate-data: Q0VSVAo=\n    client-key-data: S0VZCg==\n");
    struct k8s_load_opts o = opts(path("a.yaml"));
    struct k8s_conn *c = load_ok(&o);
    assert_int_equal(c->ca_len, 7);
    assert_memory_equal(c->ca_pem, "CA-PEM\n", 7);
    assert_null(c->ca_file);           /* inline data wins over the file */
    const struct k8s_cred *k;
    assert_int_equal(k8s_conn_credentials(c, 0, &k, msg, sizeof msg), 0);
    assert_string_equal(k->cert_pem, "CERT\n");
    assert_string_equal(k->key_pem, "KEY\n");
    assert_null(k->token);
    k8s_conn_destroy(c);

    /* insecure-skip-tls-verify only when the file says true (YAML 1.1 booleans) */
    const char *vals[] = {"true", "yes", "false", "\"true\"", NULL};
    const int want[] = {1, 1, 0, -1};
    for (int i = 0; vals[i]; i++) {
        char text[512];
        snprintf(text, sizeof text, "current-context: x\nclusters:\n- name: c\n  cluster:\n"
                 "    server: https://s:1\n    insecure-skip-tls-verify: %s\n"
                 "contexts:\n- name: x\n  context:\n    cluster: c\n", vals[i]);
        put("i.yaml", text);
        o = opts(path("i.yaml"));
        if (want[i] < 0) {
            assert_int_equal(load_err(&o), MF_EINVAL);
            assert_non_null(strstr(msg, "insecure-skip-tls-verify"));
            continue;
        }
        c = load_ok(&o);
        assert_int_equal(c->insecure_skip_tls_verify, want[i]);
        k8s_conn_destroy(c);
    }
    /* never together with a CA */
    put("j.yaml", "current-context: x\nclusters:\n- name: c\n  cluster:\n    server: https://s:1\n"
        "    insecure-skip-tls-verify: true\n    certificate-authority-data: Q0EK\n"
        "contexts:\n- name: x\n  context:\n    cluster: c\n");
    o = opts(path("j.yaml"));
    assert_int_equal(load_err(&o), MF_EINVAL);
    assert_non_null(strstr(msg, "insecure-skip-tls-verify"));
}

static void test_bad_configs_named(void **state)
{
    struct { const char *text; int rc; const char *want; } cases[] = {
        {"current-context: x\nclusters: [\n", MF_EINVAL, "not valid YAML at line"},
        {"- a\n- b\n", MF_EINVAL, "not a kubeconfig"},
        {"current-context: x\nclusters:\n- name: c\n  cluster: {server: https://a}\n"
         "- name: c\n  cluster: {server: https://b}\n", MF_EINVAL, "'c' twice"},
        {"current-context: x\ncontexts:\n- name: x\n  context: {cluster: nowhere, user: u}\n"
         "users:\n- name: u\n  user: {token: SECRET-TOKEN-1}\n", MF_ENOTFOUND, "cluster 'nowhere'"},
        {"current-context: x\nclusters:\n- name: c\n  cluster: {insecure-skip-tls-verify: true}\n"
         "contexts:\n- name: x\n  context: {cluster: c}\n", MF_EINVAL, "has no server"},
        {"current-context: x\nclusters:\n- name: c\n  cluster: {server: https://a}\n"
         "contexts:\n- name: x\n  context: {cluster: c, user: u}\n"
         "users:\n- name: u\n  user: {client-certificate-data: Q0VSVAo=, token: SECRET-TOKEN-1}\n",
         MF_EINVAL, "no client key"},
        {"current-context: x\nclusters:\n- name: c\n  cluster: {server: https://a}\n"
         "contexts:\n- name: x\n  context: {cluster: c, user: u}\n"
         "users:\n- name: u\n  user: {client-key-data: 'SECRET-TOKEN-1!!'}\n",
         MF_EINVAL, "not valid base64"},
        {"current-context: x\nclusters:\n- name: c\n  cluster: {server: https://a}\n"
         "contexts:\n- name: x\n  context: {cluster: c, user: u}\n"
         "users:\n- name: u\n  user: {auth-provider: {name: gcp}}\n", MF_ENOTSUP, "exec plugin"},
        {"current-context: x\nclusters:\n- name: c\n  cluster: {server: https://a}\n"
         "contexts:\n- name: x\n  context: {cluster: c, user: u}\n"
         "users:\n- name: u\n  user: {username: a, password: SECRET-TOKEN-1}\n", MF_ENOTSUP, "basic"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        put("bad.yaml", cases[i].text);
        struct k8s_load_opts o = opts(path("bad.yaml"));
        assert_int_equal(load_err(&o), cases[i].rc);
        if (!strstr(msg, cases[i].want)) fail_msg("case %zu: '%s' lacks '%s'", i, msg, cases[i].want);
        assert_non_null(strstr(msg, "bad.yaml"));
        assert_null(strstr(msg, "SECRET-TOKEN"));
    }
}

/* A fake exec plugin: records its env and args, counts its runs, prints what $REPLY holds. */
static const char *plugin_sh =
    "#!/bin/sh\n"
    "d=$(dirname \"$0\")\n"
    "printf '%s' \"$KUBERNETES_EXEC_INFO\" >\"$d/info\"\n"
    "printf '%s|%s|%s' \"$FAKE_ENV\" \"$1\" \"$2\" >\"$d/seen\"\n"
    "n=$(cat \"$d/count\" 2>/dev/null || echo 0); echo $((n+1)) >\"$d/count\"\n"
    "[ -t 0 ] && echo tty >\"$d/tty\"\n"
    "cat \"$d/reply\"\n"
    "exit $(cat \"$d/status\" 2>/dev/null || echo 0)\n";

static void exec_config(const char *api, const char *mode, const char *cmd)
{
    char text[1024];
    snprintf(text, sizeof text,
             "current-context: x\nclusters:\n- name: c\n  cluster: {server: https://a:1}\n"
             "contexts:\n- name: x\n  context: {cluster: c, user: u}\n"
             "users:\n- name: u\n  user:\n    exec:\n      apiVersion: %s\n      command: %s\n"
             "      args: [first, \"second arg\"]\n      env:\n      - {name: FAKE_ENV, value: from-config}\n"
             "%s%s%s",
             api, cmd, mode ? "      interactiveMode: " : "", mode ? mode : "", mode ? "\n" : "");
    put("kc/config", text);
}

static void test_exec_plugin(void **state)
{
    put_exec("kc/bin/plugin", plugin_sh);
    put("kc/bin/reply", "{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
        "\"status\":{\"token\":\"exec-token-1\",\"expirationTimestamp\":\"2030-01-01T00:00:00Z\"}}");
    exec_config("client.authentication.k8s.io/v1", "Never", "./bin/plugin");
    setenv("FAKE_ENV", "from-parent", 1);
    struct k8s_load_opts o = opts(path("kc/config"));
    struct k8s_conn *c = load_ok(&o);
    assert_string_equal(c->exec->command, path("kc/./bin/plugin"));
    const struct k8s_cred *k;
    time_t t2029 = 1861920000;   /* 2029-01-01 */
    assert_int_equal(k8s_conn_credentials(c, t2029, &k, msg, sizeof msg), 0);
    assert_string_equal(k->token, "exec-token-1");
    assert_int_equal(k->expires, 1893456000);   /* 2030-01-01T00:00:00Z */
    assert_string_equal(slurp("kc/bin/seen"), "from-config|first|second arg");
    assert_string_equal(slurp("kc/bin/info"), "{\"apiVersion\":\"client.authentication.k8s.io/v1\","
                        "\"kind\":\"ExecCredential\",\"spec\":{\"interactive\":false}}");
    assert_null(slurp("kc/bin/tty"));
    /* cached until it expires */
    assert_int_equal(k8s_conn_credentials(c, t2029 + 3600, &k, msg, sizeof msg), 0);
    assert_int_equal(c->exec_runs, 1);
    assert_string_equal(slurp("kc/bin/count"), "1\n");
    /* within 10 s of the expiry, or past it: run again */
    put("kc/bin/reply", "{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
        "\"status\":{\"token\":\"exec-token-2\",\"expirationTimestamp\":\"2031-01-01T00:00:00.5+01:00\"}}");
    assert_int_equal(k8s_conn_credentials(c, 1893456000 - 5, &k, msg, sizeof msg), 0);
    assert_string_equal(k->token, "exec-token-2");
    assert_int_equal(k->expires, 1924992000 - 3600);
    assert_int_equal(c->exec_runs, 2);
    /* after a 401 the caller invalidates: run again */
    k8s_conn_invalidate(c);
    assert_int_equal(k8s_conn_credentials(c, 1893456000, &k, msg, sizeof msg), 0);
    assert_int_equal(c->exec_runs, 3);
    assert_string_equal(slurp("kc/bin/count"), "3\n");
    k8s_conn_destroy(c);
    unsetenv("FAKE_ENV");

    /* v1beta1 without interactiveMode (IfAvailable), client certificate, no expiry: cached for good */
    put("kc/bin/reply", "{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\",\"kind\":\"ExecCredential\","
        "\"status\":{\"clientCertificateData\":\"CERT-PEM\",\"clientKeyData\":\"KEY-PEM\"}}");
    exec_config("client.authentication.k8s.io/v1beta1", NULL, "./bin/plugin");
    o = opts(path("kc/config"));
    c = load_ok(&o);
    assert_int_equal(c->exec->interactive, K8S_EXEC_IF_AVAILABLE);
    assert_int_equal(k8s_conn_credentials(c, 0, &k, msg, sizeof msg), 0);
    assert_null(k->token);
    assert_string_equal(k->cert_pem, "CERT-PEM");
    assert_string_equal(k->key_pem, "KEY-PEM");
    assert_int_equal(k->expires, 0);
    assert_int_equal(k8s_conn_credentials(c, time(NULL) + 86400 * 365, &k, msg, sizeof msg), 0);
    assert_int_equal(c->exec_runs, 1);
    assert_string_equal(slurp("kc/bin/info"), "{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\","
                        "\"kind\":\"ExecCredential\",\"spec\":{\"interactive\":false}}");
    k8s_conn_destroy(c);
}

static void test_exec_plugin_errors(void **state)
{
    put_exec("kc/bin/plugin", plugin_sh);
    struct k8s_load_opts o = opts(path("kc/config"));

    /* configuration errors, found when loading */
    exec_config("client.authentication.k8s.io/v1", NULL, "./bin/plugin");
    assert_int_equal(load_err(&o), MF_EINVAL);
    assert_non_null(strstr(msg, "interactiveMode must be set"));
    exec_config("client.authentication.k8s.io/v1alpha1", "Never", "./bin/plugin");
    assert_int_equal(load_err(&o), MF_ENOTSUP);
    assert_non_null(strstr(msg, "v1alpha1"));
    exec_config("client.authentication.k8s.io/v1", "Sometimes", "./bin/plugin");
    assert_int_equal(load_err(&o), MF_EINVAL);
    assert_non_null(strstr(msg, "Sometimes"));

    /* errors when it runs; the token it printed never reaches the message */
    struct { const char *mode, *cmd, *reply, *status; int rc; const char *want; } cases[] = {
        {"Always", "./bin/plugin", "{}", "0", MF_EPERM, "needs a terminal"},
        {"Never", "./bin/absent", "{}", "0", MF_EUNAVAIL, "was not found"},
        {"IfAvailable", "no-such-plugin-mflow-test", "{}", "0", MF_EUNAVAIL, "was not found"},
        {"Never", "./bin/plugin", "{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":"
         "\"ExecCredential\",\"status\":{\"token\":\"SECRET-TOKEN-9\"}}", "3", MF_EPERM, "exited with status 3"},
        {"Never", "./bin/plugin", "{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\",\"kind\":"
         "\"ExecCredential\",\"status\":{\"token\":\"SECRET-TOKEN-9\"}}", "0", MF_EINVAL, "answered apiVersion"},
        {"Never", "./bin/plugin", "not json SECRET-TOKEN-9", "0", MF_EINVAL, "did not print an ExecCredential"},
        {"Never", "./bin/plugin", "{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":"
         "\"ExecCredential\",\"status\":{}}", "0", MF_EINVAL, "neither a token"},
        {"Never", "./bin/plugin", "{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":"
         "\"ExecCredential\",\"status\":{\"clientCertificateData\":\"SECRET-TOKEN-9\"}}", "0", MF_EINVAL,
         "without its key"},
        {"Never", "./bin/plugin", "{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":"
         "\"ExecCredential\",\"status\":{\"token\":\"SECRET-TOKEN-9\",\"expirationTimestamp\":\"soon\"}}",
         "0", MF_EINVAL, "not RFC 3339"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        exec_config("client.authentication.k8s.io/v1", cases[i].mode, cases[i].cmd);
        put("kc/bin/reply", cases[i].reply);
        put("kc/bin/status", cases[i].status);
        struct k8s_conn *c = load_ok(&o);
        const struct k8s_cred *k = (const struct k8s_cred *)1;
        int rc = k8s_conn_credentials(c, 0, &k, msg, sizeof msg);
        if (rc != cases[i].rc || !strstr(msg, cases[i].want))
            fail_msg("case %zu: rc %d msg '%s', want %d '%s'", i, rc, msg, cases[i].rc, cases[i].want);
        assert_null(k);
        assert_null(strstr(msg, "SECRET-TOKEN"));
        assert_non_null(strstr(msg, "user 'u'"));
        k8s_conn_destroy(c);
    }
    /* the plugin's first stderr line is quoted (it says what went wrong) */
    put_exec("kc/bin/plugin", "#!/bin/sh\necho 'please run login first' >&2\necho second >&2\nexit 1\n");
    exec_config("client.authentication.k8s.io/v1", "Never", "./bin/plugin");
    struct k8s_conn *c = load_ok(&o);
    const struct k8s_cred *k;
    assert_int_equal(k8s_conn_credentials(c, 0, &k, msg, sizeof msg), MF_EPERM);
    assert_non_null(strstr(msg, "please run login first"));
    assert_null(strstr(msg, "second"));
    k8s_conn_destroy(c);
}

static void test_exec_cluster_info(void **state)
{
    put_exec("kc/bin/plugin", plugin_sh);
    put("kc/bin/reply", "{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
        "\"status\":{\"token\":\"t\"}}");
    put("kc/ca.pem", "CA-FILE\n");
    const char *cas[] = {"    certificate-authority-data: Q0EtUEVNCg==\n", "    certificate-authority: ca.pem\n"};
    const char *want_ca[] = {"Q0EtUEVNCg==", "Q0EtRklMRQo="};
    for (int i = 0; i < 2; i++) {
        char text[1024];
        snprintf(text, sizeof text,
                 "current-context: x\nclusters:\n- name: c\n  cluster:\n    server: https://a:1\n"
                 "    tls-server-name: api.internal\n%s"
                 "    extensions:\n    - name: other\n      extension: {no: 1}\n"
                 "    - name: client.authentication.k8s.io/exec\n      extension: {audience: mflow, n: [1, 2]}\n"
                 "contexts:\n- name: x\n  context: {cluster: c, user: u}\n"
                 "users:\n- name: u\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n"
                 "      command: ./bin/plugin\n      interactiveMode: Never\n      provideClusterInfo: true\n",
                 cas[i]);
        put("kc/config", text);
        struct k8s_load_opts o = opts(path("kc/config"));
        struct k8s_conn *c = load_ok(&o);
        const struct k8s_cred *k;
        assert_int_equal(k8s_conn_credentials(c, 0, &k, msg, sizeof msg), 0);
        json_t *info = json_loads(slurp("kc/bin/info"), 0, NULL);
        assert_non_null(info);
        json_t *cl = json_object_get(json_object_get(info, "spec"), "cluster");
        assert_string_equal(json_string_value(json_object_get(cl, "server")), "https://a:1");
        assert_string_equal(json_string_value(json_object_get(cl, "tls-server-name")), "api.internal");
        assert_string_equal(json_string_value(json_object_get(cl, "certificate-authority-data")), want_ca[i]);
        assert_string_equal(json_string_value(json_object_get(json_object_get(cl, "config"), "audience")), "mflow");
        assert_null(json_object_get(cl, "insecure-skip-tls-verify"));
        json_decref(info);
        k8s_conn_destroy(c);
    }
    /* without provideClusterInfo: no cluster */
    exec_config("client.authentication.k8s.io/v1", "Never", "./bin/plugin");
    struct k8s_load_opts o = opts(path("kc/config"));
    struct k8s_conn *c = load_ok(&o);
    const struct k8s_cred *k;
    assert_int_equal(k8s_conn_credentials(c, 0, &k, msg, sizeof msg), 0);
    assert_null(strstr(slurp("kc/bin/info"), "cluster"));
    k8s_conn_destroy(c);
}

static void test_in_cluster(void **state)
{
    char sadir[512], nohome[512];
    snprintf(sadir, sizeof sadir, "%s/sa", T);
    snprintf(nohome, sizeof nohome, "%s/nohome", T);
    put("sa/token", "sa-token\n");
    put("sa/ca.crt", "CA\n");
    put("sa/namespace", "jobs\n");
    struct k8s_load_opts o = opts(NULL);
    o.kubeconfig_env = NULL;
    o.incluster_dir = sadir;
    o.service_host = "10.96.0.1";
    o.service_port = "443";
    struct k8s_conn *c = load_ok(&o);
    assert_string_equal(c->server, "https://10.96.0.1:443");
    assert_string_equal(c->namespace_, "jobs");
    assert_string_equal(c->ca_file, path("sa/ca.crt"));
    assert_string_equal(c->source, "in-cluster");
    const struct k8s_cred *k;
    assert_int_equal(k8s_conn_credentials(c, 0, &k, msg, sizeof msg), 0);
    assert_string_equal(k->token, "sa-token");
    k8s_conn_destroy(c);

    /* IPv6 host, no namespace file: default */
    unlink(path("sa/namespace"));
    o.service_host = "fd00::1";
    c = load_ok(&o);
    assert_string_equal(c->server, "https://[fd00::1]:443");
    assert_string_equal(c->namespace_, "default");
    k8s_conn_destroy(c);

    /* from the environment */
    setenv("KUBERNETES_SERVICE_HOST", "10.0.0.9", 1);
    setenv("KUBERNETES_SERVICE_PORT", "6443", 1);
    o.service_host = o.service_port = NULL;
    c = load_ok(&o);
    assert_string_equal(c->server, "https://10.0.0.9:6443");
    k8s_conn_destroy(c);

    /* a kubeconfig, when there is one, wins over the in-cluster settings */
    put("home/.kube/config", BASIC("https://home:1", "", "t"));
    o.home = path("home");
    c = load_ok(&o);
    assert_string_equal(c->server, "https://home:1");
    k8s_conn_destroy(c);
    o.home = nohome;

    /* no token mounted */
    unlink(path("sa/token"));
    assert_int_equal(load_err(&o), MF_ENOTFOUND);
    assert_non_null(strstr(msg, path("sa/token")));
    assert_non_null(strstr(msg, "automountServiceAccountToken"));
    unsetenv("KUBERNETES_SERVICE_HOST");
    unsetenv("KUBERNETES_SERVICE_PORT");
}

static void test_base64_rfc3339(void **state)
{
    struct { const char *in, *out; } ok[] = {
        {"", ""}, {"YQ==", "a"}, {"YWI=", "ab"}, {"YWJj", "abc"}, {"YW\nJj\n", "abc"},
        {"LS0tLS1CRUdJTg==", "-----BEGIN"},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        char *o; size_t n;
        assert_int_equal(k8s_base64_decode(ok[i].in, &o, &n), 0);
        assert_int_equal(n, strlen(ok[i].out));
        assert_string_equal(o, ok[i].out);
        free(o);
    }
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        if (strchr(ok[i].in, '\n')) continue;
        char *e = k8s_base64_encode(ok[i].out, strlen(ok[i].out));
        assert_string_equal(e, ok[i].in);
        free(e);
    }
    const char *bad[] = {"YQ=x", "Y", "YQ===", "a*bc", "YR==", NULL};
    for (int i = 0; bad[i]; i++) {
        char *o; size_t n;
        if (k8s_base64_decode(bad[i], &o, &n) != MF_EINVAL) fail_msg("accepted '%s'", bad[i]);
    }
    struct { const char *in; time_t t; } ts[] = {
        {"1970-01-01T00:00:00Z", 0}, {"2030-01-01T00:00:00Z", 1893456000},
        {"2030-01-01T01:00:00+01:00", 1893456000}, {"2029-12-31T23:00:00.123456-01:00", 1893456000},
    };
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) {
        time_t t;
        assert_int_equal(k8s_parse_rfc3339(ts[i].in, &t), 0);
        assert_int_equal(t, ts[i].t);
    }
    const char *tbad[] = {"2030-01-01", "2030-01-01T00:00:00", "2030-13-01T00:00:00Z",
                          "2030-01-01T00:00:00Zjunk", "tomorrow", NULL};
    for (int i = 0; tbad[i]; i++) {
        time_t t;
        if (k8s_parse_rfc3339(tbad[i], &t) != MF_EINVAL) fail_msg("accepted '%s'", tbad[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_single_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_merge_first_wins, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_and_empty_entries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_home_default_and_env, setup, teardown),
        cmocka_unit_test_setup_teardown(test_explicit_context, setup, teardown),
        cmocka_unit_test_setup_teardown(test_relative_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inline_data_and_tls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_configs_named, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exec_plugin, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exec_plugin_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exec_cluster_info, setup, teardown),
        cmocka_unit_test_setup_teardown(test_in_cluster, setup, teardown),
        cmocka_unit_test(test_base64_rfc3339),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
