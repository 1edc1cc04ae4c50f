/* Drive the SDK template plugin (mflow_storage_memory.so) through the SDK's fake host, the
 * way a third party would unit-test a plugin: check_third_party.py builds this against an
 * installed tree only (pkg-config cflags, installed fakehost.c) and runs it.
 * usage: template_driver PLUGIN.so SCRATCH_DIR. Exits 0 when every check holds. */
#include "fakehost.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

#define CHECK(cond, ...)                                                              \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);           \
            fprintf(stderr, __VA_ARGS__);                                             \
            fputc('\n', stderr);                                                      \
            failures++;                                                               \
        }                                                                             \
    } while (0)

static int count_keys(void *ud, const char *key, uint64_t size)
{
    (void)key;
    (void)size;
    (*(int *)ud)++;
    return 0;
}

static int stop_at_first(void *ud, const char *key, uint64_t size)
{
    (void)key;
    (void)size;
    (*(int *)ud)++;
    return 42;
}

static int buf_is(const struct mf_buf *b, const char *text)
{
    return b->len == strlen(text) && !memcmp(b->data, text, b->len);
}

static void release(struct mf_buf *b)
{
    if (b->release)
        b->release(b);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s PLUGIN.so SCRATCH_DIR\n", argv[0]);
        return 2;
    }
    const struct mf_plugin_desc *d = mf_fakehost_load(argv[1]);
    if (!d) {
        fprintf(stderr, "FAIL: cannot load %s: %s\n", argv[1], mf_fakehost_logs());
        return 1;
    }
    CHECK(d->kind == MF_PLUGIN_STORAGE, "kind %u", d->kind);
    CHECK(!strcmp(d->name, "memory"), "name %s", d->name);
    CHECK(d->n_options == 1 && !strcmp(d->options[0].name, "max_mb"), "options");
    const struct mf_storage_ops *ops = d->ops;
    CHECK(ops->struct_size >= MF_STORAGE_OPS_V1_0_SIZE, "ops size %u", ops->struct_size);

    void *s = NULL;
    int rc = d->init(mf_fakehost(), &s);
    CHECK(rc == 0 && s, "init: %d", rc);
    if (rc)
        return 1;
    CHECK(!strncmp(ops->root(s), "memory://", 9), "root %s", ops->root(s));

    /* put from two pieces, read back */
    struct mf_iov iov[2] = {{"hello, ", 7}, {"world", 5}};
    CHECK(ops->put(s, "a/one", iov, 2, 0) == 0, "put: %s", ops->last_error(s));
    struct mf_buf b = {0};
    CHECK(ops->get(s, "a/one", &b) == 0 && buf_is(&b, "hello, world"), "get");
    release(&b);
    CHECK(ops->exists(s, "a/one") == 1, "exists");
    CHECK(ops->exists(s, "a/two") == 0, "absent");
    CHECK(ops->get(s, "a/two", &b) == MF_ENOTFOUND, "get absent");
    CHECK(strstr(ops->last_error(s), "a/two") != NULL, "message names the key: %s",
          ops->last_error(s));
    CHECK(ops->put(s, "/abs", iov, 1, 0) == MF_EINVAL, "absolute key refused");

    /* put-if-absent keeps the existing object */
    struct mf_iov other = {"other", 5};
    CHECK(ops->put(s, "a/one", &other, 1, MF_PUT_IF_ABSENT) == 0, "put if absent");
    CHECK(ops->get(s, "a/one", &b) == 0 && buf_is(&b, "hello, world"), "not overwritten");
    release(&b);

    /* files in and out */
    char in[4096], out[4096];
    snprintf(in, sizeof in, "%s/in.txt", argv[2]);
    snprintf(out, sizeof out, "%s/out.txt", argv[2]);
    FILE *f = fopen(in, "w");
    CHECK(f != NULL, "create %s: %s", in, strerror(errno));
    if (f) {
        fputs("from a file", f);
        fclose(f);
    }
    CHECK(ops->put_file(s, "b/file", in, 0) == 0, "put_file: %s", ops->last_error(s));
    CHECK(ops->get_file(s, "b/file", out) == 0, "get_file: %s", ops->last_error(s));
    char text[64] = "";
    f = fopen(out, "r");
    if (f) {
        size_t n = fread(text, 1, sizeof text - 1, f);
        text[n] = '\0';
        fclose(f);
    }
    CHECK(!strcmp(text, "from a file"), "file round trip: '%s'", text);

    /* list by prefix, and a callback that stops the listing */
    int n = 0;
    CHECK(ops->list(s, "a/", count_keys, &n) == 0 && n == 1, "list a/: %d", n);
    n = 0;
    CHECK(ops->list(s, "", count_keys, &n) == 0 && n == 2, "list all: %d", n);
    n = 0;
    CHECK(ops->list(s, "", stop_at_first, &n) == 42 && n == 1, "list stops: %d", n);
    const char *prefixes[] = {"a/", "b/"};
    n = 0;
    CHECK(ops->list_batch(s, prefixes, 2, count_keys, &n) == 0 && n == 2, "list_batch: %d", n);

    /* batches: every item attempted, each with its result */
    struct mf_storage_item items[3] = {
        {.struct_size = sizeof items[0], .key = "c/1", .data = "x", .len = 1},
        {.struct_size = sizeof items[0], .key = "/bad", .data = "y", .len = 1},
        {.struct_size = sizeof items[0], .key = "c/3", .data = "zz", .len = 2},
    };
    CHECK(ops->put_batch(s, items, 3) == MF_EINVAL, "put_batch returns the first failure");
    CHECK(items[0].result == 0 && items[1].result == MF_EINVAL && items[2].result == 0,
          "put_batch results %d %d %d", items[0].result, items[1].result, items[2].result);
    items[1].key = "c/missing";
    CHECK(ops->exists_batch(s, items, 3) == 0, "exists_batch");
    CHECK(items[0].exists == 1 && items[1].exists == 0 && items[2].exists == 1,
          "exists_batch %d %d %d", items[0].exists, items[1].exists, items[2].exists);
    CHECK(ops->get_batch(s, items, 3) == MF_ENOTFOUND, "get_batch returns the first failure");
    CHECK(items[0].result == 0 && buf_is(&items[0].out, "x") && items[1].result == MF_ENOTFOUND &&
              items[2].result == 0 && buf_is(&items[2].out, "zz"),
          "get_batch results");
    release(&items[0].out);
    release(&items[2].out);

    /* delete */
    CHECK(ops->del(s, "a/one") == 0, "del");
    CHECK(ops->exists(s, "a/one") == 0, "gone after del");
    CHECK(ops->del(s, "a/one") == MF_ENOTFOUND, "del absent");
    d->fini(s);

    /* settings through the host: a tiny limit is enforced, a bad one refused with a message */
    mf_fakehost_set("memory", "max_mb", "1");
    CHECK(d->init(mf_fakehost(), &s) == 0, "init with max_mb=1");
    size_t big = 2u << 20;
    char *blob = calloc(1, big);
    struct mf_iov large = {blob, big};
    CHECK(blob && ops->put(s, "big", &large, 1, 0) == ENOSPC, "over max_mb refused");
    CHECK(strstr(ops->last_error(s), "max_mb") != NULL, "message names max_mb: %s",
          ops->last_error(s));
    free(blob);
    d->fini(s);
    mf_fakehost_set("memory", "max_mb", "lots");
    s = NULL;
    CHECK(d->init(mf_fakehost(), &s) == MF_EINVAL && s == NULL, "bad max_mb refused");
    CHECK(strstr(mf_fakehost_logs(), "max_mb must be a positive whole number") != NULL,
          "bad max_mb is logged: %s", mf_fakehost_logs());

    if (failures)
        return 1;
    printf("ok: the template plugin passes every check\n");
    return 0;
}
