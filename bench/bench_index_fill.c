/* Fill an MFLOW_HOME for the index benchmark, the way the runtime would, but fast: records
 * and blobs go straight to the datastore (record.h, blob.h) and the index (index.h).
 *
 *   bench_index_fill HOME runs N    N finished runs of flow BenchRuns (run records + index)
 *   bench_index_fill HOME tasks N   one run of BenchTasks: start splits into N tasks of
 *                                   `item`, then `join` (N inputs) and `end`
 */
#include "blob.h"
#include "codec.h"
#include "host.h"
#include "index.h"
#include "record.h"
#include "reindex.h"
#include "store.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct mf_store st;
static mf_index *ix;

static int die(const char *what)
{
    fprintf(stderr, "bench_index_fill: %s\n", what);
    return 1;
}

static void base_run(struct mf_run_rec *r, const char *flow, int64_t id, double t0)
{
    memset(r, 0, sizeof *r);
    snprintf(r->flow, sizeof r->flow, "%s", flow);
    r->run_id = id;
    r->status = id % 10 == 0 ? MF_STATUS_FAILED : MF_STATUS_SUCCEEDED;
    r->pid = 1;
    snprintf(r->user, sizeof r->user, "%s", mf_host_user());
    snprintf(r->ns, sizeof r->ns, "%s", mf_host_namespace());
    gethostname(r->host, sizeof r->host - 1);
    r->start_time = t0;
    r->end_time = t0 + 1.5;
    snprintf(r->tags, sizeof r->tags, "user:%s\nmflow_version:bench%s", mf_host_user(),
             id % 2 ? "\nodd" : "\neven");
}

static int put_i64(int64_t v, char key[MF_BLOB_KEY_LEN + 1], uint64_t *size)
{
    uint8_t *enc;
    size_t len;
    if (mf_codec_encode_i64(v, &enc, &len))
        return MF_ENOMEM;
    struct mf_iov iov = {enc, len};
    int rc = mf_blob_put(&st, &iov, 1, key, NULL);
    *size = len;
    free(enc);
    return rc;
}

static int fill_runs(long n)
{
    struct mf_task_record params;
    mf_task_record_init(&params);
    char key[MF_BLOB_KEY_LEN + 1];
    uint64_t size;
    if (put_i64(42, key, &size) || mf_record_set_art(&params, "alpha", MF_I64, key, size))
        return die("cannot store a parameter");
    double t0 = mf_now() - (double)n * 60;
    int rc = mf_index_begin(ix);
    for (long i = 1; !rc && i <= n; i++) {
        struct mf_run_rec r;
        base_run(&r, "BenchRuns", i, t0 + (double)i * 60);
        r.n_tasks = 3;
        rc = mf_run_record_write(&st, &r, &params);
        if (!rc)
            rc = mf_index_put_run(ix, &r);
        if (!rc && i % 2000 == 0 && !(rc = mf_index_commit(ix)))
            rc = mf_index_begin(ix);
    }
    if (!rc)
        rc = mf_index_commit(ix);
    mf_task_record_free(&params);
    return rc ? die(mf_index_error(ix)) : 0;
}

static int task(struct mf_task_record *r, const char *step, int64_t id, double t)
{
    r->flow = strdup("BenchTasks");
    r->step = strdup(step);
    r->run_id = 1;
    r->task_id = id;
    r->status = MF_STATUS_SUCCEEDED;
    r->exit_code = 0;
    r->host = strdup("bench");
    r->start_time = t;
    r->end_time = t + 0.004;
    return r->flow && r->step && r->host ? 0 : MF_ENOMEM;
}

static int store_task(struct mf_task_record *r)
{
    struct mf_task_rec ir;
    mf_reindex_task_rec(r, &ir);
    int rc = mf_record_write(&st, r);
    if (!rc)
        rc = mf_index_put_task(ix, &ir);
    mf_task_record_free(r);
    return rc;
}

static int fill_tasks(long n)
{
    const char *graph =
        "{\"flow\":\"BenchTasks\",\"steps\":["
        "{\"name\":\"start\",\"type\":\"foreach\",\"next\":[\"item\"],\"foreach\":\"items\"},"
        "{\"name\":\"item\",\"type\":\"linear\",\"next\":[\"join\"]},"
        "{\"name\":\"join\",\"type\":\"linear\",\"next\":[\"end\"],\"join\":true},"
        "{\"name\":\"end\",\"type\":\"end\",\"next\":[]}]}";
    struct mf_iov giov = {graph, strlen(graph)};
    if (st.ops->put(st.state, "runs/BenchTasks/1/graph.json", &giov, 1, 0))
        return die("cannot store the graph");
    struct mf_task_record params;
    mf_task_record_init(&params);
    char pkey[MF_BLOB_KEY_LEN + 1], ikey[MF_BLOB_KEY_LEN + 1];
    uint64_t psize, isize;
    int64_t *items = malloc((size_t)n * sizeof *items);
    for (long i = 0; items && i < n; i++)
        items[i] = i;
    uint8_t *enc = NULL;
    size_t elen = 0;
    if (!items || put_i64(n, pkey, &psize) ||
        mf_record_set_art(&params, "n", MF_I64, pkey, psize) ||
        mf_codec_encode_i64v(items, (size_t)n, &enc, &elen))
        return die("cannot store the parameter");
    struct mf_iov iov = {enc, elen};
    if (mf_blob_put(&st, &iov, 1, ikey, NULL))
        return die("cannot store the items");
    isize = elen;
    free(enc);
    free(items);
    double t0 = mf_now() - 60;
    struct mf_run_rec run;
    base_run(&run, "BenchTasks", 1, t0);
    run.status = MF_STATUS_SUCCEEDED;
    run.n_tasks = (uint32_t)n + 3;
    int rc = mf_index_begin(ix);
    if (!rc)
        rc = mf_run_record_write(&st, &run, &params);
    if (!rc)
        rc = mf_index_put_run(ix, &run);
    struct mf_task_record r;
    mf_task_record_init(&r);
    if (!rc && !(rc = task(&r, "start", 1, t0))) {
        r.foreach_count = n;
        rc = mf_record_inherit(&r, &params);
        if (!rc)
            rc = mf_record_set_art(&r, "items", MF_I64V, ikey, isize);
        if (!rc)
            rc = store_task(&r);
    }
    for (long i = 0; !rc && i < n; i++) {
        mf_task_record_init(&r);
        char key[MF_BLOB_KEY_LEN + 1];
        uint64_t size;
        rc = task(&r, "item", i + 2, t0 + 1 + (double)i * 0.005);
        if (!rc) {
            r.inputs = calloc(1, sizeof *r.inputs);
            r.input_attempts = calloc(1, sizeof *r.input_attempts);
            r.stack = calloc(1, sizeof *r.stack);
            rc = r.inputs && r.input_attempts && r.stack ? 0 : MF_ENOMEM;
        }
        if (!rc) {
            r.inputs[0] = strdup("start/1");
            r.n_inputs = 1;
            r.stack[0].step = strdup("start");
            r.stack[0].task = 1;
            r.stack[0].kind = MF_FRAME_FOREACH;
            r.stack[0].index = (uint32_t)i;
            r.stack[0].count = (uint32_t)n;
            r.depth = 1;
            rc = mf_record_inherit(&r, &params);
        }
        if (!rc)
            rc = mf_record_set_art(&r, "items", MF_I64V, ikey, isize);
        if (!rc)
            rc = put_i64(i * i, key, &size);
        if (!rc)
            rc = mf_record_set_art(&r, "sq", MF_I64, key, size);
        if (!rc)
            rc = store_task(&r);
        if (!rc && i % 2000 == 1999 && !(rc = mf_index_commit(ix)))
            rc = mf_index_begin(ix);
    }
    double tj = t0 + 2 + (double)n * 0.005;
    mf_task_record_init(&r);
    if (!rc && !(rc = task(&r, "join", n + 2, tj))) {
        r.inputs = calloc((size_t)n, sizeof *r.inputs);
        r.input_attempts = calloc((size_t)n, sizeof *r.input_attempts);
        rc = r.inputs && r.input_attempts ? 0 : MF_ENOMEM;
        for (long i = 0; !rc && i < n; i++) {
            r.inputs[i] = mf_strf("item/%ld", i + 2);
            r.n_inputs = (size_t)i + 1;
            rc = r.inputs[i] ? 0 : MF_ENOMEM;
        }
        if (!rc)
            rc = mf_record_inherit(&r, &params);
        if (!rc)
            rc = store_task(&r);
        else
            mf_task_record_free(&r);
    }
    mf_task_record_init(&r);
    if (!rc && !(rc = task(&r, "end", n + 3, tj + 0.01))) {
        r.inputs = calloc(1, sizeof *r.inputs);
        r.input_attempts = calloc(1, sizeof *r.input_attempts);
        if (r.inputs && r.input_attempts) {
            r.inputs[0] = mf_strf("join/%ld", n + 2);
            r.n_inputs = r.inputs[0] ? 1 : 0;
        }
        rc = r.inputs && r.input_attempts ? mf_record_inherit(&r, &params) : MF_ENOMEM;
        if (!rc)
            rc = store_task(&r);
        else
            mf_task_record_free(&r);
    }
    run.end_time = tj + 0.02;
    if (!rc)
        rc = mf_run_record_write(&st, &run, &params);
    if (!rc)
        rc = mf_index_put_run(ix, &run);
    if (!rc)
        rc = mf_index_commit(ix);
    mf_task_record_free(&params);
    return rc ? die(mf_index_error(ix)) : 0;
}

int main(int argc, char **argv)
{
    if (argc != 4 || (strcmp(argv[2], "runs") && strcmp(argv[2], "tasks")))
        return die("usage: bench_index_fill HOME runs|tasks N");
    long n = strtol(argv[3], NULL, 10);
    if (n < 1)
        return die("N must be at least 1");
    struct mf_host_opts o;
    memset(&o, 0, sizeof o);
    o.home = argv[1];
    if (mf_host_init(&o))
        return die("out of memory");
    char *err = NULL;
    if (mf_store_open(&st, &err))
        return die(err ? err : "cannot open the datastore");
    char *dir = mf_strf("%s/index", argv[1]);
    if (mf_index_open(dir, &ix)) {
        fprintf(stderr, "bench_index_fill: %s\n", mf_index_error(ix));
        return 1;
    }
    free(dir);
    int rc = !strcmp(argv[2], "runs") ? fill_runs(n) : fill_tasks(n);
    mf_index_close(ix);
    mf_store_close(&st);
    mf_host_fini();
    return rc;
}
