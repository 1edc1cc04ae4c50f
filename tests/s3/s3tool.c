/* s3tool: drive the s3 storage plugin from the command line, loaded from its .so into the
 * SDK's fake host. Used by the s3 test scripts (interoperability with the AWS CLI) and by
 * bench/s3 (the batch operations against `aws s3 cp --recursive`).
 *
 *   s3tool [--plugin PATH] [-o KEY=VALUE]... COMMAND ARGS
 *
 *   put KEY FILE          put_file                 putmem KEY FILE   put from memory (3 pieces)
 *   get KEY FILE          get_file                 cat KEY           get, to stdout
 *   exists KEY            prints 1 or 0            rm KEY            del
 *   ls [PREFIX]           "SIZE KEY" per object    root              the root URL
 *   putdir DIR PREFIX     put_batch of every file under DIR as PREFIX/RELPATH
 *   getdir PREFIX DIR     list PREFIX, get_batch every object into DIR/RELPATH
 *   getmem PREFIX         list PREFIX, get_batch into memory; prints objects and bytes
 *
 * Settings: every option of the plugin from its environment variable (as the mflow command
 * does: MFLOW_DATASTORE_ROOT, MFLOW_S3_ENDPOINT_URL, ...), then -o KEY=VALUE. The plugin is
 * MFLOW_TEST_PLUGIN unless --plugin is given. On failure the plugin's message goes to stderr
 * and the exit status is 1 (2 for a missing object). S3TOOL_LOGS=1 prints the plugin's log
 * (debug lines: retries, request counts) to stderr at the end. */
#include "fakehost.h"

#include <mflow/plugin.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct mf_plugin_desc *desc;
static const struct mf_storage_ops *ops;
static void *st;

static int die(int rc, const char *what)
{
    fprintf(stderr, "s3tool: %s: %s (code %d)\n", what, ops ? ops->last_error(st) : "", rc);
    return rc == MF_ENOTFOUND ? 2 : 1;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc(n > 0 ? (size_t)n : 1);
    if (buf && n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = n > 0 ? (size_t)n : 0;
    return buf;
}

/* ---- listing into an array ----------------------------------------------------------------- */

struct keys {
    char **k;
    uint64_t *size;
    size_t n, cap;
};

static int collect(void *ud, const char *key, uint64_t size)
{
    struct keys *ks = ud;
    if (ks->n == ks->cap) {
        ks->cap = ks->cap ? ks->cap * 2 : 1024;
        ks->k = realloc(ks->k, ks->cap * sizeof *ks->k);
        ks->size = realloc(ks->size, ks->cap * sizeof *ks->size);
        if (!ks->k || !ks->size)
            return MF_ENOMEM;
    }
    ks->k[ks->n] = strdup(key);
    ks->size[ks->n++] = size;
    return 0;
}

static int print_entry(void *ud, const char *key, uint64_t size)
{
    (void)ud;
    printf("%llu %s\n", (unsigned long long)size, key);
    return 0;
}

/* ---- putdir ------------------------------------------------------------------------------- */

static struct mf_storage_item *walk_items;
static size_t walk_n, walk_cap, walk_root_len;
static const char *walk_prefix;

static int walk_file(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)ftw;
    if (flag != FTW_F || !S_ISREG(sb->st_mode))
        return 0;
    if (walk_n == walk_cap) {
        walk_cap = walk_cap ? walk_cap * 2 : 1024;
        walk_items = realloc(walk_items, walk_cap * sizeof *walk_items);
        if (!walk_items)
            return -1;
    }
    const char *rel = path + walk_root_len;
    while (*rel == '/')
        rel++;
    size_t n = strlen(walk_prefix) + 1 + strlen(rel) + 1;
    char *key = malloc(n);
    snprintf(key, n, "%s%s%s", walk_prefix, *walk_prefix ? "/" : "", rel);
    struct mf_storage_item *it = &walk_items[walk_n++];
    memset(it, 0, sizeof *it);
    it->struct_size = sizeof *it;
    it->key = key;
    it->path = strdup(path);
    return 0;
}

static int mkdir_parents(const char *path)
{
    char buf[PATH_MAX];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *plugin = getenv("MFLOW_TEST_PLUGIN");
    int i = 1;
    /* options first: the plugin path, then settings */
    const char *sets[64];
    int nsets = 0;
    for (; i < argc; i++) {
        if (!strcmp(argv[i], "--plugin") && i + 1 < argc)
            plugin = argv[++i];
        else if (!strcmp(argv[i], "-o") && i + 1 < argc && nsets < 64)
            sets[nsets++] = argv[++i];
        else
            break;
    }
    if (i >= argc || !plugin) {
        fprintf(stderr, "usage: s3tool [--plugin PATH] [-o KEY=VALUE]... COMMAND ARGS "
                        "(see the source); set MFLOW_TEST_PLUGIN or --plugin\n");
        return 64;
    }
    desc = mf_fakehost_load(plugin);
    if (!desc || desc->kind != MF_PLUGIN_STORAGE) {
        fprintf(stderr, "s3tool: cannot load %s: %s\n", plugin, mf_fakehost_logs());
        return 1;
    }
    /* what the mflow command would pass: each option's environment variable */
    for (uint32_t k = 0; k < desc->n_options; k++) {
        const char *v = desc->options[k].env ? getenv(desc->options[k].env) : NULL;
        if (v && *v)
            mf_fakehost_set(desc->name, desc->options[k].name, v);
    }
    for (int k = 0; k < nsets; k++) {
        char kv[4096];
        snprintf(kv, sizeof kv, "%s", sets[k]);
        char *eq = strchr(kv, '=');
        if (!eq) {
            fprintf(stderr, "s3tool: -o %s: write KEY=VALUE\n", sets[k]);
            return 64;
        }
        *eq = '\0';
        mf_fakehost_set(desc->name, kv, eq + 1);
    }
    int rc = desc->init(mf_fakehost(), &st);
    if (rc) {
        fprintf(stderr, "s3tool: the plugin did not start (code %d): %s", rc, mf_fakehost_logs());
        return 1;
    }
    ops = desc->ops;
    const char *cmd = argv[i];
    char **a = argv + i + 1;
    int na = argc - i - 1;
    int status = 0;

    if (!strcmp(cmd, "put") && na == 2) {
        rc = ops->put_file(st, a[0], a[1], 0);
        if (rc)
            status = die(rc, "put");
    } else if (!strcmp(cmd, "putmem") && na == 2) {
        size_t len;
        char *data = read_file(a[1], &len);
        if (!data) {
            perror(a[1]);
            return 1;
        }
        struct mf_iov v[3] = {{data, len / 3}, {data + len / 3, len / 3},
                              {data + 2 * (len / 3), len - 2 * (len / 3)}};
        rc = ops->put(st, a[0], v, 3, 0);
        free(data);
        if (rc)
            status = die(rc, "put");
    } else if (!strcmp(cmd, "get") && na == 2) {
        rc = ops->get_file(st, a[0], a[1]);
        if (rc)
            status = die(rc, "get");
    } else if (!strcmp(cmd, "cat") && na == 1) {
        struct mf_buf b;
        rc = ops->get(st, a[0], &b);
        if (rc) {
            status = die(rc, "get");
        } else {
            fwrite(b.data, 1, b.len, stdout);
            if (b.release)
                b.release(&b);
        }
    } else if (!strcmp(cmd, "exists") && na == 1) {
        rc = ops->exists(st, a[0]);
        if (rc < 0)
            status = die(rc, "exists");
        else
            printf("%d\n", rc);
    } else if (!strcmp(cmd, "rm") && na == 1) {
        rc = ops->del(st, a[0]);
        if (rc)
            status = die(rc, "rm");
    } else if (!strcmp(cmd, "ls") && na <= 1) {
        rc = ops->list(st, na ? a[0] : "", print_entry, NULL);
        if (rc)
            status = die(rc, "ls");
    } else if (!strcmp(cmd, "root") && na == 0) {
        printf("%s\n", ops->root(st));
    } else if (!strcmp(cmd, "putdir") && na == 2) {
        walk_prefix = a[1];
        walk_root_len = strlen(a[0]);
        if (nftw(a[0], walk_file, 64, FTW_PHYS) != 0) {
            perror(a[0]);
            return 1;
        }
        rc = ops->put_batch(st, walk_items, walk_n);
        if (rc)
            status = die(rc, "putdir");
        printf("%zu objects\n", walk_n);
    } else if ((!strcmp(cmd, "getdir") && na == 2) || (!strcmp(cmd, "getmem") && na == 1)) {
        struct keys ks = {0};
        rc = ops->list(st, a[0], collect, &ks);
        if (rc)
            return die(rc, "list");
        struct mf_storage_item *items = calloc(ks.n ? ks.n : 1, sizeof *items);
        size_t plen = strlen(a[0]);
        for (size_t k = 0; k < ks.n; k++) {
            items[k].struct_size = sizeof items[k];
            items[k].key = ks.k[k];
            if (na == 2) {
                const char *rel = ks.k[k] + plen;
                while (*rel == '/')
                    rel++;
                size_t n = strlen(a[1]) + strlen(rel) + 2;
                char *p = malloc(n);
                snprintf(p, n, "%s/%s", a[1], rel);
                mkdir_parents(p);
                items[k].path = p;
            }
        }
        rc = ops->get_batch(st, items, ks.n);
        if (rc)
            status = die(rc, cmd);
        uint64_t bytes = 0;
        for (size_t k = 0; k < ks.n; k++) {
            if (items[k].result == 0 && !items[k].path) {
                bytes += items[k].out.len;
                if (items[k].out.release)
                    items[k].out.release(&items[k].out);
            } else if (items[k].result == 0) {
                bytes += ks.size[k];
            }
        }
        printf("%zu objects %llu bytes\n", ks.n, (unsigned long long)bytes);
        for (size_t k = 0; k < ks.n; k++) {
            free(ks.k[k]);
            free((char *)items[k].path);
        }
        free(ks.k);
        free(ks.size);
        free(items);
    } else {
        fprintf(stderr, "s3tool: unknown command or wrong arguments: %s\n", cmd);
        status = 64;
    }
    desc->fini(st);
    const char *logs = getenv("S3TOOL_LOGS");
    if (logs && *logs == '1')
        fputs(mf_fakehost_logs(), stderr);
    return status;
}
