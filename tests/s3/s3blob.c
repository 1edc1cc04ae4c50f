/* s3blob: large values through the blob layer (core/src/blob.c) on the s3 storage plugin,
 * loaded from its .so into the SDK's fake host, one operation per process so that each
 * process's peak memory (VmHWM) is that operation's. Used by test_big_values.sh and
 * bench/bench_s3_values.sh.
 *
 *   s3blob [--as-1.0] COMMAND ARGS
 *
 *   store MIB SEED PIECE [zstd]  a value of MIB MiB (random from SEED; `zstd`: compressible)
 *                                held in memory, as a runtime holds it, and written through
 *                                mf_blob_writer in PIECE-byte writes
 *   put MIB SEED                 the value (random) stored whole with mf_blob_put
 *   read KEY MIB                 mf_blob_read_into a buffer of MIB MiB
 *   abort MIB SEED PIECE         write half of the value, then abort the writer
 *   pause MIB SEED PIECE         write half, print "paused", and wait to be killed
 *   exists KEY                   prints 1 or 0 for the blob
 *
 * Each prints one line of "name=value" fields: key, sha (of the value, computed here), hwm
 * and rss0 (VmHWM at the end and VmRSS at the start, bytes), ms (the operation's wall time),
 * and for abort and pause the key the whole value would have. --as-1.0 hands the blob layer
 * the plugin's operations table cut to plugin ABI 1.0's size, so that it uses neither the
 * streaming writer nor get_range: the path a value took before the plugin had them. Settings
 * come from the plugin options' environment variables, as mflow passes them. Exit 1 on
 * failure with the message on stderr. */
#include "fakehost.h"

#include "blob.h"

#include <mflow/plugin.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long long status_field(const char *name)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    long long v = -1;
    size_t n = strlen(name);
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, name, n) && line[n] == ':')
            v = atoll(line + n + 1) * 1024;
    fclose(f);
    return v;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* The value: xorshift bytes from seed (incompressible), or text (zstd compresses it). */
static uint8_t *make_value(size_t n, unsigned long long seed, int text)
{
    uint8_t *v = malloc(n ? n : 1);
    if (!v)
        return NULL;
    uint64_t x = seed * 2654435761ull + 88172645463325252ull;
    static const char words[] = "step start -> a b; artifact alpha=0.01; foreach item; ";
    for (size_t i = 0; i + 8 <= n; i += 8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        if (text) {   /* the words over and over, one byte in 4 KiB from the seed */
            for (int k = 0; k < 8; k++)
                v[i + k] = (uint8_t)words[(i + k) % (sizeof words - 1)];
            if (i % 4096 == 0)
                v[i] = (uint8_t)x;
        } else {
            memcpy(v + i, &x, 8);
        }
    }
    for (size_t i = n & ~(size_t)7; i < n; i++)
        v[i] = (uint8_t)i;
    return v;
}

static int fail(const char *what)
{
    fprintf(stderr, "s3blob: %s: %s\n", what, mf_blob_error());
    return 1;
}

int main(int argc, char **argv)
{
    int as10 = 0;
    int i = 1;
    if (i < argc && !strcmp(argv[i], "--as-1.0")) {
        as10 = 1;
        i++;
    }
    const char *plugin = getenv("MFLOW_TEST_PLUGIN");
    if (i >= argc || !plugin) {
        fprintf(stderr, "usage: s3blob [--as-1.0] store|read|abort|pause|exists ARGS (see the "
                        "source); set MFLOW_TEST_PLUGIN\n");
        return 64;
    }
    long long rss0 = status_field("VmRSS");
    const struct mf_plugin_desc *desc = mf_fakehost_load(plugin);
    if (!desc || desc->kind != MF_PLUGIN_STORAGE) {
        fprintf(stderr, "s3blob: cannot load %s: %s\n", plugin, mf_fakehost_logs());
        return 1;
    }
    for (uint32_t k = 0; k < desc->n_options; k++) {
        const char *v = desc->options[k].env ? getenv(desc->options[k].env) : NULL;
        if (v && *v)
            mf_fakehost_set(desc->name, desc->options[k].name, v);
    }
    struct mf_store st = {.ops = desc->ops, .desc = desc};
    struct mf_storage_ops cut;
    if (as10) {
        memcpy(&cut, desc->ops, MF_STORAGE_OPS_V1_0_SIZE);
        cut.struct_size = MF_STORAGE_OPS_V1_0_SIZE;
        st.ops = &cut;
    }
    int rc = desc->init(mf_fakehost(), &st.state);
    if (rc) {
        fprintf(stderr, "s3blob: the plugin did not start (code %d): %s", rc, mf_fakehost_logs());
        return 1;
    }
    const char *cmd = argv[i];
    char **a = argv + i + 1;
    int na = argc - i - 1;
    int status = 0;
    double t0 = now_ms();
    char key[MF_BLOB_KEY_LEN + 1] = "", sha[MF_BLOB_KEY_LEN + 1] = "";

    if ((!strcmp(cmd, "store") && (na == 3 || na == 4)) ||
        ((!strcmp(cmd, "abort") || !strcmp(cmd, "pause")) && na == 3)) {
        size_t n = (size_t)atoll(a[0]) << 20, piece = (size_t)atoll(a[2]);
        uint8_t *v = make_value(n, strtoull(a[1], NULL, 10), na == 4 && !strcmp(a[3], "zstd"));
        if (!v || !piece) {
            fprintf(stderr, "s3blob: no memory for %zu bytes, or no piece size\n", n);
            return 1;
        }
        struct mf_iov iov = {v, n};
        mf_sha256_hex(&iov, 1, sha);
        t0 = now_ms();
        mf_blob_writer *w;
        if (mf_blob_writer_open(&st, n, &w))
            return fail("writer_open");
        size_t stop = !strcmp(cmd, "store") ? n : n / 2;
        for (size_t off = 0; off < stop; off += piece)
            if (mf_blob_writer_write(w, v + off, stop - off < piece ? stop - off : piece)) {
                status = fail("write");
                mf_blob_writer_abort(w);
                w = NULL;
                break;
            }
        if (w && !strcmp(cmd, "store")) {
            uint64_t stored = 0;
            if (mf_blob_writer_close(w, key, &stored))
                status = fail("close");
        } else if (w && !strcmp(cmd, "abort")) {
            mf_blob_writer_abort(w);
            snprintf(key, sizeof key, "%s", sha);
        } else if (w) {
            printf("paused key=%s\n", sha);
            fflush(stdout);
            for (;;)
                pause();
        }
        free(v);
    } else if (!strcmp(cmd, "put") && na == 2) {
        size_t n = (size_t)atoll(a[0]) << 20;
        uint8_t *v = make_value(n, strtoull(a[1], NULL, 10), 0);
        if (!v)
            return 1;
        struct mf_iov iov = {v, n};
        mf_sha256_hex(&iov, 1, sha);
        t0 = now_ms();
        if (mf_blob_put(&st, &iov, 1, key, NULL))
            status = fail("put");
        free(v);
    } else if (!strcmp(cmd, "read") && na == 2) {
        size_t n = (size_t)atoll(a[1]) << 20;
        uint8_t *dst = malloc(n ? n : 1);
        if (!dst)
            return 1;
        snprintf(key, sizeof key, "%s", a[0]);
        if (mf_blob_read_into(&st, key, NULL, 0, dst, n)) {
            status = fail("read_into");
        } else {
            struct mf_iov iov = {dst, n};
            mf_sha256_hex(&iov, 1, sha);
        }
        free(dst);
    } else if (!strcmp(cmd, "exists") && na == 1) {
        char path[MF_BLOB_PATH_SIZE];
        mf_blob_path(a[0], path, sizeof path);
        int ex = st.ops->exists(st.state, path);
        if (ex < 0) {
            fprintf(stderr, "s3blob: exists: %s\n", st.ops->last_error(st.state));
            status = 1;
        } else {
            printf("%d\n", ex);
        }
        desc->fini(st.state);
        return status;
    } else {
        fprintf(stderr, "s3blob: unknown command or arguments: %s\n", cmd);
        return 64;
    }
    double ms = now_ms() - t0;
    if (!status)
        printf("key=%s sha=%s hwm=%lld rss0=%lld ms=%.0f\n", key, sha, status_field("VmHWM"),
               rss0, ms);
    desc->fini(st.state);
    return status;
}
