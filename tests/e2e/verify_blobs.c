/* Test helper: read every blob under a local datastore through the blob layer, which checks
 * each against its hash. Prints the count; exits 1 naming the first bad blob. */
#include "blob.h"
#include "store.h"
#include "host.h"

#include <stdio.h>
#include <string.h>

static int n_ok, n_bad;
static struct mf_store st;

static int check(void *ud, const char *key, uint64_t size)
{
    (void)ud;
    (void)size;
    const char *slash = strrchr(key, '/');
    if (!slash || strlen(slash + 1) != MF_BLOB_KEY_LEN)
        return 0;
    struct mf_blob b;
    if (mf_blob_get(&st, slash + 1, &b) != 0) {
        fprintf(stderr, "bad blob %s: %s\n", key, mf_blob_error());
        n_bad++;
        return 0;
    }
    mf_blob_release(&b);
    n_ok++;
    return 0;
}

int main(int argc, char **argv)
{
    struct mf_host_opts o = {0};
    if (argc > 1)
        o.datastore_root = argv[1];
    mf_host_init(&o);
    char *err = NULL;
    if (mf_store_open(&st, &err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    st.ops->list(st.state, "blobs/", check, NULL);
    printf("%d blobs verified, %d bad\n", n_ok, n_bad);
    mf_store_close(&st);
    mf_host_fini();
    return n_bad || !n_ok ? 1 : 0;
}
