/* Settings of the s3 plugin: the datastore root, the endpoint, the region, the profile and
 * the credentials, found the way AWS tools find them.
 *
 *   root        option `root` (MFLOW_DATASTORE_ROOT, --datastore-root): s3://BUCKET[/PREFIX]
 *   endpoint    option `endpoint_url` (MFLOW_S3_ENDPOINT_URL), AWS_ENDPOINT_URL_S3,
 *               AWS_ENDPOINT_URL, the profile's endpoint_url; else AWS for the region
 *   region      option `region` (MFLOW_S3_REGION), AWS_REGION, AWS_DEFAULT_REGION, the
 *               profile's region; else us-east-1
 *   profile     option `profile` (MFLOW_S3_PROFILE), AWS_PROFILE, AWS_DEFAULT_PROFILE, "default"
 *   credentials AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN (unless the
 *               `profile` option names a profile), then the profile in
 *               AWS_SHARED_CREDENTIALS_FILE (~/.aws/credentials), then in AWS_CONFIG_FILE
 *               (~/.aws/config)
 *
 * Secrets are copied into the config and never written into a message. */
#include "s3_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const struct mf_option_def s3_options[];
extern const size_t s3_n_options;

/* A setting: what the host says (command line, MFLOW_* variable, config.json), else the
 * option table's default. Borrowed. */
static const char *setting(const struct mf_host_api *host, const char *key)
{
    const char *v = NULL;
    if (host && MF_HAS_FIELD(host, config_get) && host->config_get)
        v = host->config_get(S3_NAME, key);
    if (v && *v)
        return v;
    for (size_t i = 0; i < s3_n_options; i++)
        if (!strcmp(s3_options[i].name, key))
            return s3_options[i].default_value;
    return NULL;
}

/* The env variable the option table names for key, for messages. */
static const char *env_of(const char *key)
{
    for (size_t i = 0; i < s3_n_options; i++)
        if (!strcmp(s3_options[i].name, key) && s3_options[i].env)
            return s3_options[i].env;
    return key;
}

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

/* Whether the host has an explicit value (not the default) for key. */
static int explicitly_set(const struct mf_host_api *host, const char *key)
{
    if (!host || !MF_HAS_FIELD(host, config_get) || !host->config_get)
        return 0;
    const char *v = host->config_get(S3_NAME, key);
    if (!v || !*v)
        return 0;
    for (size_t i = 0; i < s3_n_options; i++)
        if (!strcmp(s3_options[i].name, key) && s3_options[i].default_value &&
            !strcmp(s3_options[i].default_value, v))
            return 0;
    return 1;
}

/* ---- ~/.aws files ---------------------------------------------------------------------------- */

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (s3_append(&buf, &len, &cap, chunk, n)) {
            free(buf);
            fclose(f);
            return NULL;
        }
        if (len > (1u << 22))   /* 4 MiB: not a credentials file */
            break;
    }
    fclose(f);
    if (!buf)
        buf = strdup("");
    return buf;
}

static char *trim(char *s)
{
    while (*s && isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

/* The value of key in [section] of an INI text, malloc'd, or NULL. *found_section is set
 * when the section exists. Lines indented under a key with an empty value (a nested block,
 * like "s3 =\n  addressing_style = path") are skipped. */
static char *ini_get(const char *text, const char *section, const char *key, int *found_section)
{
    if (!text)
        return NULL;
    char *copy = strdup(text);
    if (!copy)
        return NULL;
    char *result = NULL;
    int in = 0, nested = 0;
    for (char *line = copy, *next; line && !result; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        int indented = isspace((unsigned char)line[0]);
        char *l = trim(line);
        if (!*l || *l == '#' || *l == ';')
            continue;
        if (*l == '[') {
            char *end = strchr(l, ']');
            nested = 0;
            if (!end) {
                in = 0;
                continue;
            }
            *end = '\0';
            in = !strcmp(trim(l + 1), section);
            if (in && found_section)
                *found_section = 1;
            continue;
        }
        if (!in)
            continue;
        if (indented && nested)
            continue;
        char *eq = strchr(l, '=');
        if (!eq)
            continue;
        *eq = '\0';
        char *k = trim(l), *v = trim(eq + 1);
        nested = !*v;
        if (!strcmp(k, key) && *v)
            result = strdup(v);
    }
    free(copy);
    return result;
}

/* The path of an AWS file: the variable's value (with ~ expanded) or ~/.aws/<name>. */
static char *aws_file(const char *var, const char *name)
{
    const char *v = env(var);
    const char *home = env("HOME");
    char buf[4096];
    if (v) {
        if (v[0] == '~' && v[1] == '/' && home)
            snprintf(buf, sizeof buf, "%s%s", home, v + 1);
        else
            snprintf(buf, sizeof buf, "%s", v);
    } else if (home) {
        snprintf(buf, sizeof buf, "%s/.aws/%s", home, name);
    } else {
        return NULL;
    }
    return strdup(buf);
}

struct aws_files {
    char *cred_path, *conf_path;
    char *cred, *conf;           /* texts, or NULL when absent */
};

static void files_load(struct aws_files *f)
{
    f->cred_path = aws_file("AWS_SHARED_CREDENTIALS_FILE", "credentials");
    f->conf_path = aws_file("AWS_CONFIG_FILE", "config");
    f->cred = f->cred_path ? read_text(f->cred_path) : NULL;
    f->conf = f->conf_path ? read_text(f->conf_path) : NULL;
}

static void files_free(struct aws_files *f)
{
    free(f->cred_path);
    free(f->conf_path);
    if (f->cred) {
        memset(f->cred, 0, strlen(f->cred));   /* secrets: do not leave copies around */
        free(f->cred);
    }
    if (f->conf) {
        memset(f->conf, 0, strlen(f->conf));
        free(f->conf);
    }
}

/* A key of a profile in ~/.aws/config ("[default]" or "[profile NAME]"). */
static char *conf_get(struct aws_files *f, const char *profile, const char *key, int *found)
{
    char sect[512];
    if (!strcmp(profile, "default")) {
        char *v = ini_get(f->conf, "default", key, found);
        if (v)
            return v;
    }
    snprintf(sect, sizeof sect, "profile %s", profile);
    return ini_get(f->conf, sect, key, found);
}

static void free_secret(char *s)
{
    if (s) {
        memset(s, 0, strlen(s));
        free(s);
    }
}

/* ---- the root ----------------------------------------------------------------------------- */

static int valid_bucket(const char *b, size_t n)
{
    if (n < 1 || n > 255)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)b[i];
        if (!(isalnum(c) || c == '.' || c == '-' || c == '_'))
            return 0;
    }
    return 1;
}

static int parse_root(const char *root, struct s3_config *c, char *why, size_t whysz)
{
    if (strncmp(root, "s3://", 5) != 0) {
        snprintf(why, whysz,
                 "datastore root '%s' is not an s3:// URL; the s3 storage plugin takes "
                 "s3://BUCKET/PREFIX (use --storage=local for a directory)",
                 root);
        return MF_EINVAL;
    }
    const char *b = root + 5;
    const char *slash = strchr(b, '/');
    size_t blen = slash ? (size_t)(slash - b) : strlen(b);
    if (!valid_bucket(b, blen)) {
        snprintf(why, whysz,
                 "datastore root '%s' does not name a valid bucket; write s3://BUCKET/PREFIX "
                 "with a bucket name of letters, digits, '.', '-' or '_'",
                 root);
        return MF_EINVAL;
    }
    c->bucket = strndup(b, blen);
    /* the prefix: without leading, trailing or doubled '/' */
    const char *p = slash ? slash : "";
    size_t plen = strlen(p);
    c->prefix = malloc(plen + 1);
    if (!c->bucket || !c->prefix)
        return MF_ENOMEM;
    size_t o = 0;
    for (size_t i = 0; i < plen; i++) {
        if (p[i] == '/' && (o == 0 || c->prefix[o - 1] == '/'))
            continue;
        c->prefix[o++] = p[i];
    }
    while (o && c->prefix[o - 1] == '/')
        o--;
    c->prefix[o] = '\0';
    for (const char *q = c->prefix; *q;) {
        const char *e = strchr(q, '/');
        size_t n = e ? (size_t)(e - q) : strlen(q);
        if ((n == 1 && q[0] == '.') || (n == 2 && q[0] == '.' && q[1] == '.')) {
            snprintf(why, whysz,
                     "datastore root '%s' has a '.' or '..' in its prefix; name the prefix "
                     "plainly (s3://BUCKET/some/prefix)",
                     root);
            return MF_EINVAL;
        }
        q = e ? e + 1 : q + n;
    }
    size_t ulen = 5 + blen + 1 + o + 1;
    c->root_url = malloc(ulen);
    if (!c->root_url)
        return MF_ENOMEM;
    snprintf(c->root_url, ulen, "s3://%s%s%s", c->bucket, o ? "/" : "", c->prefix);
    return 0;
}

/* ---- numbers ---------------------------------------------------------------------------------- */

static int opt_uint(const struct mf_host_api *host, const char *key, unsigned min, unsigned max,
                    unsigned *out, char *why, size_t whysz)
{
    const char *v = setting(host, key);
    if (s3_parse_uint(v, min, max, out)) {
        snprintf(why, whysz, "s3 option %s (%s) is '%s'; give a whole number from %u to %u", key,
                 env_of(key), v ? v : "", min, max);
        return MF_EINVAL;
    }
    return 0;
}

static int opt_bool(const struct mf_host_api *host, const char *key, int *out, char *why,
                    size_t whysz)
{
    const char *v = setting(host, key);
    int b = s3_parse_bool(v);
    if (b < 0) {
        snprintf(why, whysz, "s3 option %s (%s) is '%s'; give true or false", key, env_of(key),
                 v ? v : "");
        return MF_EINVAL;
    }
    *out = b;
    return 0;
}

static int opt_size(const struct mf_host_api *host, const char *key, uint64_t min, uint64_t max,
                    uint64_t *out, char *why, size_t whysz)
{
    const char *v = setting(host, key);
    if (s3_parse_size(v, out) || *out < min || *out > max) {
        snprintf(why, whysz,
                 "s3 option %s (%s) is '%s'; give a size from %llu MiB to %llu MiB, like 8MiB%s",
                 key, env_of(key), v ? v : "", (unsigned long long)(min >> 20),
                 (unsigned long long)(max >> 20), min ? "" : " (0 turns it off)");
        return MF_EINVAL;
    }
    return 0;
}

/* ---- everything --------------------------------------------------------------------------------- */

int s3_config_load(const struct mf_host_api *host, struct s3_config *c, char *why, size_t whysz)
{
    memset(c, 0, sizeof *c);
    int rc;
    char src[512];

    /* root */
    const char *root = setting(host, "root");
    if (!root || !*root)
        root = env("MFLOW_DATASTORE_ROOT");
    if (!root) {
        snprintf(why, whysz,
                 "no datastore root: give --datastore-root=s3://BUCKET/PREFIX (or set "
                 "MFLOW_DATASTORE_ROOT)");
        return MF_EINVAL;
    }
    if ((rc = parse_root(root, c, why, whysz)))
        return rc;

    /* numbers and switches */
    if ((rc = opt_uint(host, "max_concurrency", 1, 512, &c->max_concurrency, why, whysz)) ||
        (rc = opt_uint(host, "max_attempts", 1, 100, &c->max_attempts, why, whysz)) ||
        (rc = opt_uint(host, "retry_base_ms", 1, 60000, &c->retry_base_ms, why, whysz)) ||
        (rc = opt_uint(host, "retry_max_ms", 1, 600000, &c->retry_max_ms, why, whysz)) ||
        (rc = opt_uint(host, "retry_total_s", 1, 86400, &c->retry_total_s, why, whysz)) ||
        (rc = opt_uint(host, "connect_timeout_s", 1, 3600, &c->connect_timeout_s, why, whysz)) ||
        (rc = opt_uint(host, "stall_timeout_s", 1, 3600, &c->stall_timeout_s, why, whysz)) ||
        (rc = opt_uint(host, "list_page_size", 1, 1000, &c->list_page_size, why, whysz)) ||
        (rc = opt_size(host, "multipart_threshold", 5ull << 20, 5ull << 30,
                       &c->multipart_threshold, why, whysz)) ||
        (rc = opt_size(host, "part_size", 5ull << 20, 5ull << 30, &c->part_size, why, whysz)) ||
        (rc = opt_size(host, "batch_single_put_max", 0, 5ull << 30, &c->batch_single_put_max,
                       why, whysz)) ||
        (rc = opt_bool(host, "content_md5", &c->content_md5, why, whysz)) ||
        (rc = opt_bool(host, "sign_payload", &c->sign_payload, why, whysz)) ||
        (rc = opt_bool(host, "verify_etag", &c->verify_etag, why, whysz)) ||
        (rc = opt_bool(host, "no_sign_request", &c->anonymous, why, whysz)))
        return rc;

    struct aws_files f;
    files_load(&f);

    /* profile */
    int profile_explicit = explicitly_set(host, "profile");
    const char *profile = profile_explicit ? setting(host, "profile") : NULL;
    if (!profile)
        profile = env("AWS_PROFILE");
    if (!profile)
        profile = env("AWS_DEFAULT_PROFILE");
    int profile_named = profile != NULL;
    if (!profile)
        profile = "default";
    c->profile = strdup(profile);

    /* region */
    const char *region = explicitly_set(host, "region") ? setting(host, "region") : NULL;
    char *conf_region = NULL;
    if (!region)
        region = env("AWS_REGION");
    if (!region)
        region = env("AWS_DEFAULT_REGION");
    if (!region)
        region = conf_region = conf_get(&f, profile, "region", NULL);
    if (!region)
        region = "us-east-1";
    c->region = strdup(region);
    free(conf_region);

    /* endpoint */
    const char *ep = NULL;
    char *conf_ep = NULL;
    if (explicitly_set(host, "endpoint_url")) {
        ep = setting(host, "endpoint_url");
        snprintf(src, sizeof src, "the s3 option endpoint_url (MFLOW_S3_ENDPOINT_URL)");
    } else if ((ep = env("AWS_ENDPOINT_URL_S3"))) {
        snprintf(src, sizeof src, "AWS_ENDPOINT_URL_S3");
    } else if ((ep = env("AWS_ENDPOINT_URL"))) {
        snprintf(src, sizeof src, "AWS_ENDPOINT_URL");
    } else if ((ep = conf_ep = conf_get(&f, profile, "endpoint_url", NULL))) {
        snprintf(src, sizeof src, "endpoint_url of profile '%s' in %s", profile, f.conf_path);
    }
    if (ep) {
        if (strncmp(ep, "http://", 7) && strncmp(ep, "https://", 8)) {
            snprintf(why, whysz,
                     "S3 endpoint '%s' (from %s) is not an http:// or https:// URL; write it "
                     "like http://127.0.0.1:9000 or https://s3.example.com",
                     ep, src);
            free(conf_ep);
            files_free(&f);
            return MF_EINVAL;
        }
        c->endpoint = strdup(ep);
        c->endpoint_given = 1;
        c->endpoint_source = strdup(src);
    } else {
        char buf[256];
        snprintf(buf, sizeof buf, "https://s3.%s.amazonaws.com%s", c->region,
                 strncmp(c->region, "cn-", 3) ? "" : ".cn");
        c->endpoint = strdup(buf);
        c->endpoint_source = strdup("the AWS endpoint of the region");
    }
    free(conf_ep);
    if (c->endpoint) {
        size_t n = strlen(c->endpoint);
        while (n > 8 && c->endpoint[n - 1] == '/')
            c->endpoint[--n] = '\0';
    }

    /* addressing */
    const char *ps = setting(host, "path_style");
    if (!ps || !strcasecmp(ps, "auto")) {
        c->path_style = c->endpoint_given || strchr(c->bucket, '.') || strchr(c->bucket, '_');
    } else {
        int b = s3_parse_bool(ps);
        if (b < 0) {
            snprintf(why, whysz, "s3 option path_style (MFLOW_S3_PATH_STYLE) is '%s'; give auto, "
                     "true or false", ps);
            files_free(&f);
            return MF_EINVAL;
        }
        c->path_style = b;
    }

    const char *ca = explicitly_set(host, "ca_bundle") ? setting(host, "ca_bundle") : NULL;
    if (!ca)
        ca = env("AWS_CA_BUNDLE");
    if (ca)
        c->ca_bundle = strdup(ca);

    /* where a streamed value waits for its key: the option, else TMPDIR, else /tmp */
    const char *spill = setting(host, "spill_dir");
    if (!spill)
        spill = env("TMPDIR");
    c->spill_dir = strdup(spill ? spill : "/tmp");
    if (!c->spill_dir) {
        files_free(&f);
        snprintf(why, whysz, "out of memory reading the settings");
        return MF_ENOMEM;
    }

    /* credentials */
    const char *ak = env("AWS_ACCESS_KEY_ID"), *sk = env("AWS_SECRET_ACCESS_KEY");
    rc = 0;
    if (c->anonymous) {
        /* like aws --no-sign-request: credentials, wherever they are, are not used */
    } else if (!profile_explicit && (ak || sk)) {
        if (!ak || !sk) {
            snprintf(why, whysz,
                     "%s is set but %s is not; set both (or unset both to use a profile of "
                     "~/.aws/credentials)",
                     ak ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
                     ak ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
            rc = MF_EPERM;
            goto out;
        }
        c->access_key = strdup(ak);
        c->secret_key = strdup(sk);
        const char *tok = env("AWS_SESSION_TOKEN");
        if (!tok)
            tok = env("AWS_SECURITY_TOKEN");
        if (tok)
            c->session_token = strdup(tok);
        c->cred_source = strdup("the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)");
    } else {
        int in_cred = 0, in_conf = 0;
        char *a = ini_get(f.cred, profile, "aws_access_key_id", &in_cred);
        char *k = ini_get(f.cred, profile, "aws_secret_access_key", &in_cred);
        char *t = ini_get(f.cred, profile, "aws_session_token", &in_cred);
        const char *file = f.cred_path;
        if (!a && !k) {
            free_secret(t);
            a = conf_get(&f, profile, "aws_access_key_id", &in_conf);
            k = conf_get(&f, profile, "aws_secret_access_key", &in_conf);
            t = conf_get(&f, profile, "aws_session_token", &in_conf);
            file = f.conf_path;
        } else {
            free(conf_get(&f, profile, "-", &in_conf));   /* only: does the section exist */
        }
        if (a && k) {
            c->access_key = a;
            c->secret_key = k;
            c->session_token = t;
            snprintf(src, sizeof src, "profile '%s' in %s", profile, file ? file : "?");
            c->cred_source = strdup(src);
        } else {
            free_secret(a);
            free_secret(k);
            free_secret(t);
            const char *unsupported = NULL;
            static const char *const kinds[] = {"role_arn", "credential_process", "sso_session",
                                                "sso_start_url", "web_identity_token_file"};
            for (size_t i = 0; i < sizeof kinds / sizeof kinds[0] && !unsupported; i++) {
                char *v = ini_get(f.cred, profile, kinds[i], NULL);
                if (!v)
                    v = conf_get(&f, profile, kinds[i], NULL);
                if (v)
                    unsupported = kinds[i];
                free(v);
            }
            if (unsupported) {
                snprintf(why, whysz,
                         "AWS profile '%s' gets its credentials through %s, which the s3 storage "
                         "plugin does not support; export static credentials first, e.g. "
                         "eval \"$(aws configure export-credentials --profile %s --format env)\"",
                         profile, unsupported, profile);
            } else if ((in_cred || in_conf) && (a || k)) {
                snprintf(why, whysz,
                         "AWS profile '%s' in %s has %s but not %s; add the missing line "
                         "(aws configure --profile %s)",
                         profile, in_cred ? f.cred_path : f.conf_path,
                         a ? "aws_access_key_id" : "aws_secret_access_key",
                         a ? "aws_secret_access_key" : "aws_access_key_id", profile);
            } else if (profile_named && !in_cred && !in_conf) {
                snprintf(why, whysz,
                         "AWS profile '%s' is not in %s or %s; create it (aws configure "
                         "--profile %s) or choose another with AWS_PROFILE",
                         profile, f.cred_path ? f.cred_path : "~/.aws/credentials",
                         f.conf_path ? f.conf_path : "~/.aws/config", profile);
            } else {
                snprintf(why, whysz,
                         "no AWS credentials for %s: set AWS_ACCESS_KEY_ID and "
                         "AWS_SECRET_ACCESS_KEY, or add profile '%s' to %s (aws configure), or "
                         "set MFLOW_S3_NO_SIGN_REQUEST=1 for a public bucket",
                         c->root_url, profile,
                         f.cred_path ? f.cred_path : "~/.aws/credentials");
            }
            rc = MF_EPERM;
            goto out;
        }
    }
    if (c->anonymous)
        c->cred_source = strdup("no credentials (no_sign_request)");
    if (!c->profile || !c->region || !c->endpoint || !c->endpoint_source || !c->cred_source ||
        (!c->anonymous && (!c->access_key || !c->secret_key)))
        rc = MF_ENOMEM;
out:
    files_free(&f);
    return rc;
}

void s3_config_free(struct s3_config *c)
{
    if (!c)
        return;
    free(c->bucket);
    free(c->prefix);
    free(c->root_url);
    free(c->endpoint);
    free(c->endpoint_source);
    free(c->region);
    free(c->profile);
    free_secret(c->access_key);
    free_secret(c->secret_key);
    free_secret(c->session_token);
    free(c->cred_source);
    free(c->ca_bundle);
    free(c->spill_dir);
    memset(c, 0, sizeof *c);
}
