/* The fetch side of code packages (core/src/package.c): the bytes a datastore hands back for
 * a package go through the entry checks and, when those pass, the extraction into the package
 * cache of a temporary MFLOW_HOME, which is removed after each input. The store
 * (fuzz_store.h) answers with the input itself under the input's own address, so the hash check
 * passes and the checks behind it are what is fuzzed. */
#include "blob.h"
#include "host.h"
#include "model.h"
#include "package.h"
#include "fuzz_store.h"

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* package.c is built for the loadable module, where its entry points carry this name. */
int mf_package_fetch_impl(struct mf_store *st, const char *addr, char **flow_path, char **err);

static char home[64];
static char cache[128];

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    if (flag == FTW_DP)
        rmdir(p);
    else
        unlink(p);
    return 0;
}

static void cleanup(void)
{
    /* The cache directory and everything extracted into it (modes are the owner's). */
    nftw(cache, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void remove_home(void)
{
    nftw(home, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    snprintf(home, sizeof home, "%s", "/tmp/mflow-fuzz-package-XXXXXX");
    if (!mkdtemp(home))
        abort();
    snprintf(cache, sizeof cache, "%s/cache", home);
    struct mf_host_opts o = {.home = home};
    if (mf_host_init(&o) != 0)
        abort();
    atexit(remove_home);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_input = data;
    fuzz_input_size = size;
    struct mf_iov iov = {data, size};
    char sha[MF_BLOB_KEY_LEN + 1];
    mf_sha256_hex(&iov, 1, sha);
    char *addr = mf_key_package(sha);
    if (!addr)
        return 0;
    struct mf_store st = {.ops = &fuzz_input_ops, .state = NULL};
    char *flow_path = NULL, *err = NULL;
    int rc = mf_package_fetch_impl(&st, addr, &flow_path, &err);
    if (getenv("FUZZ_VERBOSE"))   /* what each input came to, for checking a corpus */
        fprintf(stderr, "rc %d: %s\n", rc, rc ? err : flow_path);
    /* Whatever was refused left nothing behind; whatever was taken lies under the cache. */
    if (rc == 0 && (!flow_path || strncmp(flow_path, cache, strlen(cache)) != 0))
        abort();
    free(flow_path);
    free(err);
    free(addr);
    cleanup();
    return 0;
}
