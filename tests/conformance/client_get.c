/* client_get HOME PATHSPEC NAME: an i64 artifact through the client API opened with only a
 * home (no storage, no root), as a program using libmflow does: the run's recorded storage
 * must be found. Prints the value, or the client's message and exits 1. */
#include <mflow/client.h>

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: client_get HOME PATHSPEC NAME\n");
        return 2;
    }
    struct mf_client_opts o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.home = argv[1];
    mf_client *c = NULL;
    mf_client_task *t = NULL;
    int64_t v = 0;
    int rc = mf_client_open(&o, &c);
    if (!rc)
        rc = mf_client_task_open(c, argv[2], &t);
    const mf_client_artifact *a = rc ? NULL : mf_client_task_artifact_find(t, argv[3]);
    if (!rc)
        rc = a ? mf_client_artifact_i64(a, &v) : -3;
    if (rc)
        fprintf(stderr, "client_get: %s\n", mf_client_error(c));
    else
        printf("%" PRId64 "\n", v);
    mf_client_task_free(t);
    mf_client_close(c);
    return rc ? 1 : 0;
}
