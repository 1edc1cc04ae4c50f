/* The s3 storage plugin when things go wrong: a fault-injecting proxy (fault-proxy.py) in
 * front of the real S3 server answers 503 SlowDown or 500 for a while, drops connections,
 * damages data in either direction and stalls; and the server itself is stopped in the middle
 * of an operation. Operations must succeed through retries where retrying can help, fail
 * with one clear message where it cannot, and never leave a partial object behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "s3test.h"

#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>

static const char *px(void)
{
    return getenv("S3FIX_PROXY_URL");
}

/* Fast retries for tests: the behaviour is the same, the waits are shorter. */
#define FAST "retry_base_ms", "20", "retry_max_ms", "200"

static int reset(void **state)
{
    (void)state;
    proxy_do("reset");
    return 0;
}

static void test_slowdown_then_success(void **state)
{
    (void)state;
    void *st = open_store(px(), "slow", FAST, NULL);
    proxy_do("add?kind=503&count=4&match=PUT");
    struct mf_iov v = {"payload", 7};
    assert_ok(st, ops->put(st, "k", &v, 1, 0));
    char *stats = proxy("stats");
    assert_int_equal(injected(stats, "503"), 4);
    assert_int_equal(count_of(stats, "-> 503|503"), 4);
    free(stats);
    assert_int_equal(count_of(mf_fakehost_logs(), "retrying PUT"), 4);
    assert_contains(mf_fakehost_logs(), "HTTP 503 SlowDown");
    assert_object(st, "k", "payload", 7);
    desc->fini(st);
}

static void test_internal_error_on_get(void **state)
{
    (void)state;
    void *st = open_store(px(), "ie", FAST, NULL);
    size_t n = 100000;
    unsigned char *data = make_data(n, 11);
    struct mf_iov v = {data, n};
    assert_ok(st, ops->put(st, "k", &v, 1, 0));
    proxy_do("add?kind=500&count=3&match=GET");
    assert_object(st, "k", data, n);
    char *stats = proxy("stats");
    assert_int_equal(injected(stats, "500"), 3);
    free(stats);
    assert_contains(mf_fakehost_logs(), "HTTP 500 InternalError");
    free(data);
    desc->fini(st);
}

static void test_dropped_connections(void **state)
{
    (void)state;
    void *st = open_store(px(), "drop", FAST, NULL);
    proxy_do("add?kind=drop&count=3");
    struct mf_iov v = {"abc", 3};
    assert_ok(st, ops->put(st, "k", &v, 1, 0));
    proxy_do("add?kind=drop&count=2");
    assert_object(st, "k", "abc", 3);
    proxy_do("add?kind=refuse&count=2");
    assert_int_equal(ops->exists(st, "k"), 1);
    char *stats = proxy("stats");
    assert_int_equal(injected(stats, "drop"), 5);
    assert_int_equal(injected(stats, "refuse"), 2);
    free(stats);
    desc->fini(st);
}

static void test_persistent_failure_message(void **state)
{
    (void)state;
    void *st = open_store(px(), "persist", FAST, "max_attempts", "3", NULL);
    proxy_do("add?kind=503&count=1000");
    struct mf_iov v = {"x", 1};
    double t0 = now_s();
    assert_rc(st, ops->put(st, "runs/F/1/a/2/0.json", &v, 1, 0), MF_EIO);
    assert_true(now_s() - t0 < 5);
    const char *e = ops->last_error(st);
    assert_contains(e, "PUT s3://");
    assert_contains(e, bucket);
    assert_contains(e, "/persist/runs/F/1/a/2/0.json");
    assert_contains(e, px());                  /* the endpoint */
    assert_contains(e, "HTTP 503 SlowDown");
    assert_contains(e, "after 3 attempts");
    assert_contains(e, "MFLOW_S3_MAX_ATTEMPTS");
    char *stats = proxy("stats");
    assert_int_equal(injected(stats, "503"), 3);
    free(stats);
    proxy_do("clear");
    /* retry_total_s bounds the time as well as the count */
    desc->fini(st);
    st = open_store(px(), "persist", "max_attempts", "100", "retry_base_ms", "300",
                    "retry_max_ms", "300", "retry_total_s", "1", NULL);
    proxy_do("add?kind=503&count=1000");
    t0 = now_s();
    assert_rc(st, ops->put(st, "k", &v, 1, 0), MF_EIO);
    double took = now_s() - t0;
    assert_true(took < 3.0);
    assert_contains(ops->last_error(st), "attempts over");
    proxy_do("clear");
    desc->fini(st);
}

static void test_damaged_download(void **state)
{
    (void)state;
    void *st = open_store(px(), "dmg", FAST, NULL);
    size_t n = 64 * 1024;
    unsigned char *data = make_data(n, 5);
    struct mf_iov v = {data, n};
    assert_ok(st, ops->put(st, "k", &v, 1, 0));
    proxy_do("add?kind=corrupt&count=1&match=GET");
    assert_object(st, "k", data, n);   /* the damaged copy was refused and read again */
    assert_contains(mf_fakehost_logs(), "ETagMismatch");
    char *stats = proxy("stats");
    assert_int_equal(injected(stats, "corrupt"), 1);
    free(stats);
    /* damaged every time: a clear error, never wrong data */
    desc->fini(st);
    st = open_store(px(), "dmg", FAST, "max_attempts", "2", NULL);
    proxy_do("add?kind=corrupt&count=100&match=GET");
    struct mf_buf b;
    assert_rc(st, ops->get(st, "k", &b), MF_ECORRUPT);
    assert_contains(ops->last_error(st), "ETagMismatch");
    assert_contains(ops->last_error(st), "damaged");
    proxy_do("clear");
    free(data);
    desc->fini(st);
}

static void test_damaged_upload(void **state)
{
    (void)state;
    void *st = open_store(px(), "dmgup", FAST, NULL);
    size_t n = 50000;
    unsigned char *data = make_data(n, 6);
    struct mf_iov v = {data, n};
    proxy_do("add?kind=corrupt&count=1&match=PUT");
    assert_ok(st, ops->put(st, "k", &v, 1, 0));
    assert_contains(mf_fakehost_logs(), "BadDigest");
    desc->fini(st);
    /* what is stored is the right data (read directly from the server) */
    st = open_store(NULL, "dmgup", NULL);
    assert_object(st, "k", data, n);
    free(data);
    desc->fini(st);
}

static void test_slowdown_for_a_while_batch(void **state)
{
    (void)state;
    void *st = open_store(px(), "while", FAST, "retry_max_ms", "400", "max_attempts", "30", NULL);
    enum { N = 60 };
    static char keys[N][32];
    static unsigned char bufs[N][512];
    struct mf_storage_item items[N];
    memset(items, 0, sizeof items);
    for (int i = 0; i < N; i++) {
        snprintf(keys[i], sizeof keys[i], "w/%02d", i);
        memset(bufs[i], 'a' + i % 26, sizeof bufs[i]);
        items[i].struct_size = sizeof items[i];
        items[i].key = keys[i];
        items[i].data = bufs[i];
        items[i].len = sizeof bufs[i];
        items[i].flags = MF_PUT_IF_ABSENT;
    }
    proxy_do("add?kind=503&seconds=1.2");   /* everything fails for 1.2 s */
    double t0 = now_s();
    assert_ok(st, ops->put_batch(st, items, N));
    assert_true(now_s() - t0 >= 1.0);
    for (int i = 0; i < N; i++)
        assert_int_equal(items[i].result, 0);
    char *stats = proxy("stats");
    assert_true(injected(stats, "503") >= N);
    free(stats);
    proxy_do("add?kind=503&seconds=0.8");
    for (int i = 0; i < N; i++) {
        memset(&items[i].out, 0, sizeof items[i].out);
        items[i].data = NULL;
        items[i].len = 0;
    }
    assert_ok(st, ops->get_batch(st, items, N));
    for (int i = 0; i < N; i++) {
        assert_int_equal(items[i].out.len, sizeof bufs[i]);
        assert_memory_equal(items[i].out.data, bufs[i], sizeof bufs[i]);
        items[i].out.release(&items[i].out);
    }
    desc->fini(st);
}

static void test_multipart_part_failures(void **state)
{
    (void)state;
    void *st = open_store(px(), "mpf", FAST, "multipart_threshold", "5MiB", "part_size", "5MiB",
                          NULL);
    size_t n = 16 * 1024 * 1024;
    unsigned char *data = make_data(n, 9);
    struct mf_iov v = {data, n};
    proxy_do("add?kind=503&count=2&match=partNumber=2%26");
    proxy_do("add?kind=drop&count=1&match=partNumber=3%26");
    proxy_do("add?kind=500&count=1&match=POST");   /* the initiate */
    assert_ok(st, ops->put(st, "big", &v, 1, 0));
    char *stats = proxy("stats");
    assert_int_equal(injected(stats, "503"), 2);
    assert_int_equal(injected(stats, "drop"), 1);
    assert_int_equal(injected(stats, "500"), 1);
    free(stats);
    proxy_do("add?kind=503&count=2&match=GET");
    assert_object(st, "big", data, n);
    free(data);
    desc->fini(st);
}

static void test_stall(void **state)
{
    (void)state;
    void *st = open_store(px(), "stall", FAST, "stall_timeout_s", "1", NULL);
    struct mf_iov v = {"s", 1};
    assert_ok(st, ops->put(st, "k", &v, 1, 0));
    proxy_do("add?kind=stall&seconds=3&count=1&match=GET");
    double t0 = now_s();
    assert_object(st, "k", "s", 1);
    double took = now_s() - t0;
    assert_true(took >= 0.9 && took < 2.9);   /* gave up on the stalled answer and retried */
    assert_contains(mf_fakehost_logs(), "retrying GET");
    desc->fini(st);
}

/* ---- the server stopped in the middle of an operation ------------------------------------- */

static pid_t server_pid(void)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/server.pid", getenv("S3FIX_DIR"));
    FILE *f = fopen(path, "r");
    long pid = 0;
    if (f) {
        if (fscanf(f, "%ld", &pid) != 1)
            pid = 0;
        fclose(f);
    }
    return (pid_t)pid;
}

static void server_start(void)
{
    char cmd[PATH_MAX * 2];
    snprintf(cmd, sizeof cmd, "'%s' start >/dev/null", getenv("S3FIX_SCRIPT"));
    assert_int_equal(system(cmd), 0);
}

static void server_kill(int sig)
{
    pid_t p = server_pid();
    assert_true(p > 0);
    assert_int_equal(kill(p, sig), 0);
    if (sig == SIGKILL)
        for (int i = 0; i < 100 && kill(p, 0) == 0; i++)
            usleep(20000);
}

struct bg {
    void *st;
    const char *key;
    const struct mf_iov *v;
    size_t niov;
    int rc;
    char msg[2048];
};

static void *bg_put(void *ud)
{
    struct bg *b = ud;
    b->rc = ops->put(b->st, b->key, b->v, b->niov, 0);
    snprintf(b->msg, sizeof b->msg, "%s", ops->last_error(b->st));
    return NULL;
}

static void test_server_stopped_mid_upload(void **state)
{
    (void)state;
    /* directly to the server: the server hangs (SIGSTOP) with a request in flight, then dies */
    void *st = open_store(NULL, "stopped", FAST, "max_attempts", "4", NULL);
    struct mf_iov warm = {"w", 1};
    assert_ok(st, ops->put(st, "warm", &warm, 1, 0));   /* it has answered before */
    server_kill(SIGSTOP);
    struct mf_iov v = {"lost", 4};
    struct bg b = {st, "k", &v, 1, 0, ""};
    pthread_t t;
    pthread_create(&t, NULL, bg_put, &b);
    usleep(300000);
    server_kill(SIGKILL);
    pthread_join(t, NULL);
    assert_true(b.rc == MF_EUNAVAIL || b.rc == MF_EIO);
    assert_contains(b.msg, "PUT s3://");
    assert_contains(b.msg, "/stopped/k");
    assert_contains(b.msg, getenv("S3FIX_ENDPOINT"));
    assert_contains(b.msg, "after 4 attempts");
    server_start();
    assert_ok(st, ops->exists(st, "k"));
    assert_ok(st, ops->put(st, "k", &v, 1, 0));
    assert_object(st, "k", "lost", 4);
    desc->fini(st);
}

static void test_server_stopped_mid_multipart(void **state)
{
    (void)state;
    /* part 3 is held by the proxy while the server dies: the upload can never complete, and
     * no object appears */
    void *st = open_store(px(), "stoppedmp", FAST, "max_attempts", "3", "multipart_threshold",
                          "5MiB", "part_size", "5MiB", NULL);
    size_t n = 20 * 1024 * 1024;
    unsigned char *data = make_data(n, 13);
    struct mf_iov v = {data, n};
    proxy_do("add?kind=stall&seconds=1&count=1&match=partNumber=3%26");
    struct bg b = {st, "blobs/zz/big", &v, 1, 0, ""};
    pthread_t t;
    pthread_create(&t, NULL, bg_put, &b);
    usleep(500000);
    server_kill(SIGKILL);
    pthread_join(t, NULL);
    assert_int_not_equal(b.rc, 0);
    assert_contains(b.msg, "/stoppedmp/blobs/zz/big");
    assert_contains(b.msg, "after 3 attempts");
    server_start();
    assert_ok(st, ops->exists(st, "blobs/zz/big"));   /* nothing half-written is visible */
    struct mf_buf out;
    assert_rc(st, ops->get(st, "blobs/zz/big", &out), MF_ENOTFOUND);
    assert_ok(st, ops->put(st, "blobs/zz/big", &v, 1, 0));
    assert_object(st, "blobs/zz/big", data, n);
    free(data);
    desc->fini(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_slowdown_then_success, reset),
        cmocka_unit_test_setup(test_internal_error_on_get, reset),
        cmocka_unit_test_setup(test_dropped_connections, reset),
        cmocka_unit_test_setup(test_persistent_failure_message, reset),
        cmocka_unit_test_setup(test_damaged_download, reset),
        cmocka_unit_test_setup(test_damaged_upload, reset),
        cmocka_unit_test_setup(test_slowdown_for_a_while_batch, reset),
        cmocka_unit_test_setup(test_multipart_part_failures, reset),
        cmocka_unit_test_setup(test_stall, reset),
        cmocka_unit_test_setup(test_server_stopped_mid_upload, reset),
        cmocka_unit_test_setup(test_server_stopped_mid_multipart, reset),
    };
    return cmocka_run_group_tests(tests, suite_setup, NULL);
}
