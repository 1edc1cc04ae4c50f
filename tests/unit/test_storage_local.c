/* Unit tests of the `local` storage plugin, loaded from its built .so (MFLOW_TEST_PLUGIN) into
 * the SDK's fake host, each test against a fresh temporary root. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fakehost.h"

#include <mflow/plugin.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LOCAL_STORE_FIXTURE_SCRATCH
#include "local_store_fixture.h"

/* ---- helpers ------------------------------------------------------------------------------ */

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

static char *read_file(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
    buf[n] = '\0';
    fclose(fp);
    *len = (size_t)n;
    return buf;
}

static void put_str(struct fixture *f, const char *key, const char *s, uint32_t flags)
{
    struct mf_iov v = {s, strlen(s)};
    int rc = ops->put(f->st, key, &v, 1, flags);
    if (rc)
        fail_msg("put %s: %d %s", key, rc, ops->last_error(f->st));
}

/* The object as a string (asserts it exists). */
static char *get_str(struct fixture *f, const char *key)
{
    struct mf_buf b = {.struct_size = sizeof b};
    int rc = ops->get(f->st, key, &b);
    if (rc)
        fail_msg("get %s: %d %s", key, rc, ops->last_error(f->st));
    char *s = malloc(b.len + 1);
    assert_non_null(s);
    memcpy(s, b.data, b.len);
    s[b.len] = '\0';
    if (b.release)
        b.release(&b);
    return s;
}

static void assert_object(struct fixture *f, const char *key, const char *want)
{
    char *got = get_str(f, key);
    assert_string_equal(got, want);
    free(got);
}

/* Count files whose name contains ".tmp." anywhere under dir. */
static int count_temps(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char sub[PATH_MAX];
        snprintf(sub, sizeof sub, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode))
            n += count_temps(sub);
        else if (strstr(e->d_name, ".tmp."))
            n++;
    }
    closedir(d);
    return n;
}

/* What list reports, as "key=size" lines sorted. */
struct listing {
    char *items[64];
    int n;
    int stop_after;          /* return 7 after this many (0: never) */
};

static int collect(void *ud, const char *key, uint64_t size)
{
    struct listing *l = ud;
    assert_true(l->n < 64);
    char buf[PATH_MAX + 32];
    snprintf(buf, sizeof buf, "%s=%llu", key, (unsigned long long)size);
    l->items[l->n++] = strdup(buf);
    if (l->stop_after && l->n >= l->stop_after)
        return 7;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *joined(struct listing *l)
{
    qsort(l->items, (size_t)l->n, sizeof l->items[0], cmp_str);
    static char out[8192];
    out[0] = '\0';
    for (int i = 0; i < l->n; i++) {
        if (i)
            strcat(out, " ");
        strcat(out, l->items[i]);
        free(l->items[i]);
    }
    l->n = 0;
    return out;
}

static const char *list_of(struct fixture *f, const char *prefix)
{
    struct listing l = {0};
    int rc = ops->list(f->st, prefix, collect, &l);
    if (rc)
        fail_msg("list '%s': %d %s", prefix, rc, ops->last_error(f->st));
    return joined(&l);
}

/* ---- tests ------------------------------------------------------------------------------- */

static void test_descriptor(void **state)
{
    (void)state;
    assert_int_equal(desc->abi_major, MF_PLUGIN_ABI_MAJOR);
    assert_int_equal(desc->kind, MF_PLUGIN_STORAGE);
    assert_string_equal(desc->name, "local");
    assert_true(desc->struct_size >= MF_PLUGIN_DESC_V1_0_SIZE);
    assert_non_null(desc->init);
    assert_non_null(desc->fini);
    assert_true(ops->struct_size >= MF_STORAGE_OPS_V1_0_SIZE);
    assert_non_null(ops->put);
    assert_non_null(ops->put_file);
    assert_non_null(ops->get);
    assert_non_null(ops->get_file);
    assert_non_null(ops->exists);
    assert_non_null(ops->list);
    assert_non_null(ops->del);
    assert_non_null(ops->put_batch);
    assert_non_null(ops->get_batch);
    assert_non_null(ops->exists_batch);
    assert_non_null(ops->list_batch);
    assert_non_null(ops->last_error);
    assert_non_null(ops->root);
    /* the 1.1 streaming writer, inside the size it declares */
    assert_int_equal(desc->abi_minor, MF_PLUGIN_ABI_MINOR);
    assert_true(MF_HAS_FIELD(ops, writer_abort));
    assert_non_null(ops->writer_open);
    assert_non_null(ops->writer_write);
    assert_non_null(ops->writer_commit);
    assert_non_null(ops->writer_abort);
    assert_int_equal(desc->n_options, 1);
    assert_string_equal(desc->options[0].name, "root");
    assert_string_equal(desc->options[0].env, "MFLOW_DATASTORE_ROOT");
    assert_int_equal(desc->options[0].type, MF_OPT_STRING);
}

static void test_root_url(void **state)
{
    struct fixture *f = *state;
    char want[PATH_MAX + 8], real[PATH_MAX];
    assert_non_null(realpath(f->dir, real));
    snprintf(want, sizeof want, "file://%s", real);
    assert_string_equal(ops->root(f->st), want);
}

static const char *root_with(const char *setting, const char *env, const char *home)
{
    static char out[PATH_MAX + 16];
    mf_fakehost_reset();
    mf_fakehost_set("local", "root", setting);
    if (env)
        setenv("MFLOW_DATASTORE_ROOT", env, 1);
    else
        unsetenv("MFLOW_DATASTORE_ROOT");
    if (home)
        setenv("MFLOW_HOME", home, 1);
    void *st = NULL;
    int rc = desc->init(mf_fakehost(), &st);
    unsetenv("MFLOW_DATASTORE_ROOT");
    unsetenv("MFLOW_HOME");
    if (rc) {
        assert_null(st);
        snprintf(out, sizeof out, "error %d", rc);
        return out;
    }
    snprintf(out, sizeof out, "%s", ops->root(st));
    desc->fini(st);
    return out;
}

static void test_root_settings(void **state)
{
    struct fixture *f = *state;
    char want[PATH_MAX + 16], url[PATH_MAX + 16];
    snprintf(want, sizeof want, "file://%s", f->dir);

    /* a file:// URL, with or without localhost, and a path with a trailing '/' and "." */
    snprintf(url, sizeof url, "file://%s", f->dir);
    assert_string_equal(root_with(url, NULL, NULL), want);
    snprintf(url, sizeof url, "file://localhost%s", f->dir);
    assert_string_equal(root_with(url, NULL, NULL), want);
    snprintf(url, sizeof url, "%s/./", f->dir);
    assert_string_equal(root_with(url, NULL, NULL), want);

    /* a relative path is made absolute */
    char cwd[PATH_MAX];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(f->dir), 0);
    char sub[PATH_MAX + 32];
    snprintf(sub, sizeof sub, "file://%s/rel/store", f->dir);
    assert_string_equal(root_with("rel/store", NULL, NULL), sub);
    assert_int_equal(chdir(cwd), 0);

    /* the environment variable when the option is unset */
    assert_string_equal(root_with(NULL, f->dir, NULL), want);

    /* default: $MFLOW_HOME/datastore */
    snprintf(sub, sizeof sub, "file://%s/datastore", f->other);
    assert_string_equal(root_with(NULL, NULL, f->other), sub);

    /* another scheme is refused with a message that says what to do */
    assert_string_equal(root_with("s3://bucket/prefix", NULL, NULL), "error -1");
    assert_non_null(strstr(mf_fakehost_logs(), "s3://bucket/prefix"));
    assert_non_null(strstr(mf_fakehost_logs(), "file://"));
    assert_string_equal(root_with("file://otherhost/x", NULL, NULL), "error -1");
    mf_fakehost_set("local", "root", f->dir);
}

static void test_put_get_pieces(void **state)
{
    struct fixture *f = *state;
    struct mf_iov v[4] = {{"hello", 5}, {"", 0}, {", ", 2}, {"world", 5}};
    assert_int_equal(ops->put(f->st, "a/b/c.txt", v, 4, 0), 0);
    assert_object(f, "a/b/c.txt", "hello, world");
    /* one plain file at root/key */
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/a/b/c.txt", f->dir);
    size_t len;
    char *disk = read_file(path, &len);
    assert_non_null(disk);
    assert_string_equal(disk, "hello, world");
    free(disk);
    assert_int_equal(count_temps(f->dir), 0);
    /* a large value in many pieces, written in several chunks */
    size_t n = 40u << 20;
    unsigned char *big = malloc(n);
    assert_non_null(big);
    for (size_t i = 0; i < n; i++)
        big[i] = (unsigned char)(i * 2654435761u >> 13);
    struct mf_iov pieces[3] = {{big, 1000}, {big + 1000, n - 2000}, {big + n - 1000, 1000}};
    assert_int_equal(ops->put(f->st, "big", pieces, 3, 0), 0);
    struct mf_buf b = {.struct_size = sizeof b};
    assert_int_equal(ops->get(f->st, "big", &b), 0);
    assert_int_equal(b.len, n);
    assert_memory_equal(b.data, big, n);
    assert_non_null(b.release);
    b.release(&b);
    free(big);
    assert_int_equal(count_temps(f->dir), 0);
}

static void test_overwrite_and_if_absent(void **state)
{
    struct fixture *f = *state;
    put_str(f, "k", "one", 0);
    put_str(f, "k", "two", 0);
    assert_object(f, "k", "two");
    put_str(f, "k", "three", MF_PUT_IF_ABSENT);
    assert_object(f, "k", "two");
    put_str(f, "fresh/k", "new", MF_PUT_IF_ABSENT);
    assert_object(f, "fresh/k", "new");
    /* put_file honours it too */
    char src[PATH_MAX + 16];
    snprintf(src, sizeof src, "%s/src", f->other);
    write_file(src, "from file", 9);
    assert_int_equal(ops->put_file(f->st, "k", src, MF_PUT_IF_ABSENT), 0);
    assert_object(f, "k", "two");
    assert_int_equal(ops->put_file(f->st, "k", src, 0), 0);
    assert_object(f, "k", "from file");
    assert_int_equal(count_temps(f->dir), 0);
}

static void test_empty_object(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(ops->put(f->st, "empty", NULL, 0, 0), 0);
    struct mf_buf b = {.struct_size = sizeof b};
    assert_int_equal(ops->get(f->st, "empty", &b), 0);
    assert_int_equal(b.len, 0);
    assert_non_null(b.data);
    if (b.release)
        b.release(&b);
    assert_int_equal(ops->exists(f->st, "empty"), 1);
    assert_string_equal(list_of(f, "emp"), "empty=0");
}

static void test_missing(void **state)
{
    struct fixture *f = *state;
    struct mf_buf b = {.struct_size = sizeof b};
    assert_int_equal(ops->get(f->st, "no/such/key", &b), MF_ENOTFOUND);
    assert_non_null(strstr(ops->last_error(f->st), "no/such/key"));
    assert_null(b.data);
    char out[PATH_MAX + 16];
    snprintf(out, sizeof out, "%s/out", f->other);
    assert_int_equal(ops->get_file(f->st, "nope", out), MF_ENOTFOUND);
    assert_non_null(strstr(ops->last_error(f->st), "nope"));
    assert_int_equal(access(out, F_OK), -1);
    assert_int_equal(ops->del(f->st, "nope"), MF_ENOTFOUND);
    assert_int_equal(ops->exists(f->st, "nope"), 0);
    /* a prefix is not an object */
    put_str(f, "dir/obj", "x", 0);
    assert_int_equal(ops->get(f->st, "dir", &b), MF_ENOTFOUND);
    assert_non_null(strstr(ops->last_error(f->st), "directory"));
    assert_int_equal(ops->exists(f->st, "dir"), 0);
    /* a path through an object is not there either */
    assert_int_equal(ops->exists(f->st, "dir/obj/deeper"), 0);
    assert_int_equal(ops->get(f->st, "dir/obj/deeper", &b), MF_ENOTFOUND);
}

static void test_exists(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(ops->exists(f->st, "x/y"), 0);
    put_str(f, "x/y", "1", 0);
    assert_int_equal(ops->exists(f->st, "x/y"), 1);
    assert_int_equal(ops->exists(f->st, "x/y2"), 0);
}

static void test_bad_keys(void **state)
{
    struct fixture *f = *state;
    const char *bad[] = {"", "/etc/passwd", "../escape", "a/../../escape", "a//b", "a/",
                         ".", "a/./b", "..", "blobs/x.tmp.123.abcdef"};
    char out[PATH_MAX + 16], src[PATH_MAX + 16];
    snprintf(out, sizeof out, "%s/out", f->other);
    snprintf(src, sizeof src, "%s/src", f->other);
    write_file(src, "data", 4);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *k = bad[i];
        struct mf_iov v = {"x", 1};
        struct mf_buf b = {.struct_size = sizeof b};
        assert_int_equal(ops->put(f->st, k, &v, 1, 0), MF_EINVAL);
        const char *msg = ops->last_error(f->st);
        if (*k && strstr(msg, k) == NULL)
            fail_msg("message for key '%s' does not name it: %s", k, msg);
        if (!*k)
            assert_non_null(strstr(msg, "empty key"));
        assert_int_equal(ops->get(f->st, k, &b), MF_EINVAL);
        assert_int_equal(ops->exists(f->st, k), MF_EINVAL);
        assert_int_equal(ops->del(f->st, k), MF_EINVAL);
        assert_int_equal(ops->put_file(f->st, k, src, 0), MF_EINVAL);
        assert_int_equal(ops->get_file(f->st, k, out), MF_EINVAL);
    }
    assert_int_equal(ops->put(f->st, NULL, NULL, 0, 0), MF_EINVAL);
    /* nothing escaped the root */
    char esc[PATH_MAX + 16];
    snprintf(esc, sizeof esc, "%s/../escape", f->dir);
    assert_int_equal(access(esc, F_OK), -1);
    assert_int_equal(access("/tmp/escape", F_OK), -1);
    /* prefixes: relative, no '..' */
    struct listing l = {0};
    assert_int_equal(ops->list(f->st, "/etc", collect, &l), MF_EINVAL);
    assert_int_equal(ops->list(f->st, "../", collect, &l), MF_EINVAL);
    assert_int_equal(ops->list(f->st, "a/../b", collect, &l), MF_EINVAL);
    assert_int_equal(l.n, 0);
    /* names that merely contain dots are fine */
    put_str(f, "a..b/.hidden/x.tmp.json", "ok", 0);
    assert_object(f, "a..b/.hidden/x.tmp.json", "ok");
}

static void test_put_file_get_file(void **state)
{
    struct fixture *f = *state;
    size_t n = 3u << 20;
    char *data = malloc(n);
    assert_non_null(data);
    for (size_t i = 0; i < n; i++)
        data[i] = (char)(i % 251);
    char src[PATH_MAX + 16], out[PATH_MAX + 16];
    snprintf(src, sizeof src, "%s/src.bin", f->other);
    snprintf(out, sizeof out, "%s/out.bin", f->other);
    write_file(src, data, n);
    assert_int_equal(ops->put_file(f->st, "pkg/code.tar", src, 0), 0);
    struct mf_buf b = {.struct_size = sizeof b};
    assert_int_equal(ops->get(f->st, "pkg/code.tar", &b), 0);
    assert_int_equal(b.len, n);
    assert_memory_equal(b.data, data, n);
    b.release(&b);
    assert_int_equal(ops->get_file(f->st, "pkg/code.tar", out), 0);
    size_t len;
    char *back = read_file(out, &len);
    assert_non_null(back);
    assert_int_equal(len, n);
    assert_memory_equal(back, data, n);
    free(back);
    /* get_file replaces an existing file */
    write_file(out, "old", 3);
    put_str(f, "small", "new content", 0);
    assert_int_equal(ops->get_file(f->st, "small", out), 0);
    back = read_file(out, &len);
    assert_string_equal(back, "new content");
    free(back);
    assert_int_equal(count_temps(f->dir), 0);
    assert_int_equal(count_temps(f->other), 0);

    /* a missing source names the file */
    char missing[PATH_MAX + 16];
    snprintf(missing, sizeof missing, "%s/missing.bin", f->other);
    assert_int_equal(ops->put_file(f->st, "m", missing, 0), MF_ENOTFOUND);
    assert_non_null(strstr(ops->last_error(f->st), missing));
    assert_int_equal(ops->exists(f->st, "m"), 0);
    /* a destination in a missing directory says so */
    char nodir[PATH_MAX + 32];
    snprintf(nodir, sizeof nodir, "%s/no/such/dir/out", f->other);
    int rc = ops->get_file(f->st, "small", nodir);
    assert_int_equal(rc, ENOENT);
    assert_non_null(strstr(ops->last_error(f->st), "small"));
    free(data);
}

static void test_list_nested(void **state)
{
    struct fixture *f = *state;
    put_str(f, "a/b/c", "1", 0);
    put_str(f, "a/b/d", "22", 0);
    put_str(f, "a/e", "333", 0);
    put_str(f, "ab/g", "4444", 0);
    put_str(f, "b/f", "55555", 0);
    put_str(f, "a/bx/h", "6", 0);
    assert_string_equal(list_of(f, ""), "a/b/c=1 a/b/d=2 a/bx/h=1 a/e=3 ab/g=4 b/f=5");
    assert_string_equal(list_of(f, NULL), "a/b/c=1 a/b/d=2 a/bx/h=1 a/e=3 ab/g=4 b/f=5");
    assert_string_equal(list_of(f, "a/"), "a/b/c=1 a/b/d=2 a/bx/h=1 a/e=3");
    assert_string_equal(list_of(f, "a/b/"), "a/b/c=1 a/b/d=2");
    /* a prefix is matched as a string, as an object store does */
    assert_string_equal(list_of(f, "a/b"), "a/b/c=1 a/b/d=2 a/bx/h=1");
    assert_string_equal(list_of(f, "a"), "a/b/c=1 a/b/d=2 a/bx/h=1 a/e=3 ab/g=4");
    assert_string_equal(list_of(f, "a/b/c"), "a/b/c=1");
    assert_string_equal(list_of(f, "zzz/"), "");
    assert_string_equal(list_of(f, "a/b/c/"), "");
    assert_string_equal(list_of(f, "a/q"), "");
}

static void test_list_stops_on_callback(void **state)
{
    struct fixture *f = *state;
    for (int i = 0; i < 5; i++) {
        char k[16];
        snprintf(k, sizeof k, "s/%d", i);
        put_str(f, k, "v", 0);
    }
    struct listing l = {.stop_after = 2};
    assert_int_equal(ops->list(f->st, "s/", collect, &l), 7);
    assert_int_equal(l.n, 2);
    joined(&l);
}

static void test_stale_temp_is_invisible(void **state)
{
    struct fixture *f = *state;
    put_str(f, "run/obj", "good", 0);
    /* a killed writer left this beside the object */
    char stale[PATH_MAX + 64];
    snprintf(stale, sizeof stale, "%s/run/obj.tmp.4242.00ff00ff00ff00ff", f->dir);
    write_file(stale, "torn", 4);
    snprintf(stale, sizeof stale, "%s/run/new.tmp.77.1", f->dir);
    write_file(stale, "half", 4);
    assert_string_equal(list_of(f, "run/"), "run/obj=4");
    assert_string_equal(list_of(f, ""), "run/obj=4");
    assert_object(f, "run/obj", "good");
    assert_int_equal(ops->exists(f->st, "run/new"), 0);
    struct mf_buf b = {.struct_size = sizeof b};
    assert_int_equal(ops->get(f->st, "run/obj.tmp.4242.00ff00ff00ff00ff", &b), MF_EINVAL);
    /* a new write of the key is unaffected */
    put_str(f, "run/new", "whole", 0);
    assert_object(f, "run/new", "whole");
}

static void test_del(void **state)
{
    struct fixture *f = *state;
    put_str(f, "d/x", "1", 0);
    put_str(f, "d/y", "2", 0);
    assert_int_equal(ops->del(f->st, "d/x"), 0);
    assert_int_equal(ops->exists(f->st, "d/x"), 0);
    assert_string_equal(list_of(f, "d/"), "d/y=1");
    assert_int_equal(ops->del(f->st, "d/x"), MF_ENOTFOUND);
    assert_non_null(strstr(ops->last_error(f->st), "d/x"));
    assert_int_equal(ops->del(f->st, "d"), MF_ENOTFOUND);   /* a prefix, not an object */
}

static void test_batches(void **state)
{
    struct fixture *f = *state;
    char src[PATH_MAX + 16], out[PATH_MAX + 16];
    snprintf(src, sizeof src, "%s/src", f->other);
    snprintf(out, sizeof out, "%s/got", f->other);
    write_file(src, "file data", 9);
    put_str(f, "keep", "old", 0);

    struct mf_storage_item put[5];
    memset(put, 0, sizeof put);
    for (int i = 0; i < 5; i++)
        put[i].struct_size = sizeof put[i];
    put[0].key = "batch/one";
    put[0].data = "first";
    put[0].len = 5;
    put[1].key = "batch/two";
    put[1].path = src;
    put[2].key = "../bad";
    put[2].data = "x";
    put[2].len = 1;
    put[3].key = "keep";
    put[3].data = "new";
    put[3].len = 3;
    put[3].flags = MF_PUT_IF_ABSENT;
    put[4].key = "batch/three";
    put[4].data = "3";
    put[4].len = 1;
    put[0].result = put[1].result = put[3].result = put[4].result = 99;
    assert_int_equal(ops->put_batch(f->st, put, 5), MF_EINVAL);   /* the first failure */
    assert_non_null(strstr(ops->last_error(f->st), "../bad"));
    assert_int_equal(put[0].result, 0);
    assert_int_equal(put[1].result, 0);
    assert_int_equal(put[2].result, MF_EINVAL);
    assert_int_equal(put[3].result, 0);
    assert_int_equal(put[4].result, 0);   /* attempted after the failure */
    assert_object(f, "batch/one", "first");
    assert_object(f, "batch/two", "file data");
    assert_object(f, "keep", "old");
    assert_object(f, "batch/three", "3");

    struct mf_storage_item get[3];
    memset(get, 0, sizeof get);
    for (int i = 0; i < 3; i++)
        get[i].struct_size = sizeof get[i];
    get[0].key = "batch/one";
    get[1].key = "batch/missing";
    get[2].key = "batch/two";
    get[2].path = out;
    assert_int_equal(ops->get_batch(f->st, get, 3), MF_ENOTFOUND);
    assert_int_equal(get[0].result, 0);
    assert_int_equal(get[0].out.len, 5);
    assert_memory_equal(get[0].out.data, "first", 5);
    if (get[0].out.release)
        get[0].out.release(&get[0].out);
    assert_int_equal(get[1].result, MF_ENOTFOUND);
    assert_int_equal(get[2].result, 0);
    size_t len;
    char *back = read_file(out, &len);
    assert_non_null(back);
    assert_string_equal(back, "file data");
    free(back);

    struct mf_storage_item ex[3];
    memset(ex, 0, sizeof ex);
    ex[0].key = "batch/one";
    ex[1].key = "batch/none";
    ex[2].key = "batch/two";
    ex[1].exists = 5;
    assert_int_equal(ops->exists_batch(f->st, ex, 3), 0);
    assert_int_equal(ex[0].exists, 1);
    assert_int_equal(ex[1].exists, 0);
    assert_int_equal(ex[2].exists, 1);
    ex[1].key = "/abs";
    assert_int_equal(ops->exists_batch(f->st, ex, 3), MF_EINVAL);
    assert_int_equal(ex[1].result, MF_EINVAL);
    assert_int_equal(ex[0].result, 0);
    assert_int_equal(ex[2].exists, 1);

    const char *prefixes[] = {"batch/t", "keep"};
    struct listing l = {0};
    assert_int_equal(ops->list_batch(f->st, prefixes, 2, collect, &l), 0);
    assert_string_equal(joined(&l), "batch/three=1 batch/two=9 keep=3");
    /* empty batches are fine */
    assert_int_equal(ops->put_batch(f->st, NULL, 0), 0);
    assert_int_equal(ops->get_batch(f->st, NULL, 0), 0);
}

static void test_mapping_outlives_replacement(void **state)
{
    struct fixture *f = *state;
    put_str(f, "m", "AAAAAAAA", 0);
    struct mf_buf b = {.struct_size = sizeof b};
    assert_int_equal(ops->get(f->st, "m", &b), 0);
    put_str(f, "m", "BBBBBBBBBBBB", 0);
    assert_int_equal(ops->del(f->st, "m"), 0);
    put_str(f, "m", "CCCC", 0);
    /* the reader's view is the old object, whole */
    assert_int_equal(b.len, 8);
    assert_memory_equal(b.data, "AAAAAAAA", 8);
    b.release(&b);
    assert_object(f, "m", "CCCC");
}

/* ---- streaming writer (ABI 1.1) ------------------------------------------------------------ */

/* Files (of any name) in <root>/tmp, where the streaming writer keeps its temp files. */
static int writer_temps(struct fixture *f)
{
    char dir[PATH_MAX + 8];
    snprintf(dir, sizeof dir, "%s/tmp", f->dir);
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

static mf_writer *writer_with(struct fixture *f, const char *s)
{
    mf_writer *w = NULL;
    int rc = ops->writer_open(f->st, &w);
    if (rc)
        fail_msg("writer_open: %d %s", rc, ops->last_error(f->st));
    assert_non_null(w);
    struct mf_iov v = {s, strlen(s)};
    rc = ops->writer_write(f->st, w, &v, 1);
    if (rc)
        fail_msg("writer_write: %d %s", rc, ops->last_error(f->st));
    return w;
}

static void test_writer_commit(void **state)
{
    struct fixture *f = *state;
    mf_writer *w = NULL;
    assert_int_equal(ops->writer_open(f->st, &w), 0);
    assert_non_null(w);
    /* several calls, one of them large enough to be written in several chunks */
    size_t n = 40u << 20;
    unsigned char *big = malloc(n);
    assert_non_null(big);
    for (size_t i = 0; i < n; i++)
        big[i] = (unsigned char)(i * 2654435761u >> 13);
    struct mf_iov head[2] = {{"MFB1", 4}, {"", 0}};
    struct mf_iov body[2] = {{big, n / 2}, {big + n / 2, n - n / 2}};
    struct mf_iov tail = {"end", 3};
    assert_int_equal(ops->writer_write(f->st, w, head, 2), 0);
    assert_int_equal(ops->writer_write(f->st, w, body, 2), 0);
    assert_int_equal(ops->writer_write(f->st, w, &tail, 1), 0);
    assert_int_equal(ops->writer_write(f->st, w, NULL, 0), 0);
    /* in progress: one temp file under <root>/tmp, invisible to list and exists */
    assert_int_equal(writer_temps(f), 1);
    assert_string_equal(list_of(f, ""), "");
    assert_int_equal(ops->writer_commit(f->st, w, "blobs/ab/abcd", MF_PUT_IF_ABSENT), 0);
    struct mf_buf b = {.struct_size = sizeof b};
    assert_int_equal(ops->get(f->st, "blobs/ab/abcd", &b), 0);
    assert_int_equal(b.len, 4 + n + 3);
    assert_memory_equal(b.data, "MFB1", 4);
    assert_memory_equal((const char *)b.data + 4, big, n);
    assert_memory_equal((const char *)b.data + 4 + n, "end", 3);
    b.release(&b);
    free(big);
    assert_int_equal(ops->exists(f->st, "blobs/ab/abcd"), 1);
    char want[64];
    snprintf(want, sizeof want, "blobs/ab/abcd=%zu", 4 + n + 3);
    assert_string_equal(list_of(f, ""), want);
    assert_int_equal(writer_temps(f), 0);
    assert_int_equal(count_temps(f->dir), 0);
}

static void test_writer_if_absent_keeps_old(void **state)
{
    struct fixture *f = *state;
    put_str(f, "k/obj", "old", 0);
    mf_writer *w = writer_with(f, "new");
    assert_int_equal(ops->writer_commit(f->st, w, "k/obj", MF_PUT_IF_ABSENT), 0);
    assert_object(f, "k/obj", "old");
    assert_int_equal(writer_temps(f), 0);
    assert_int_equal(count_temps(f->dir), 0);
    /* without the flag it replaces, as put does */
    w = writer_with(f, "newer");
    assert_int_equal(ops->writer_commit(f->st, w, "k/obj", 0), 0);
    assert_object(f, "k/obj", "newer");
    assert_int_equal(writer_temps(f), 0);
}

static void test_writer_abort(void **state)
{
    struct fixture *f = *state;
    mf_writer *w = writer_with(f, "dropped");
    assert_int_equal(writer_temps(f), 1);
    ops->writer_abort(f->st, w);
    assert_int_equal(writer_temps(f), 0);
    assert_string_equal(list_of(f, ""), "");
    /* open and dropped at once, and several writers open together */
    mf_writer *a = NULL, *b = NULL;
    assert_int_equal(ops->writer_open(f->st, &a), 0);
    assert_int_equal(ops->writer_open(f->st, &b), 0);
    assert_ptr_not_equal(a, b);
    assert_int_equal(writer_temps(f), 2);
    ops->writer_abort(f->st, a);
    ops->writer_abort(f->st, NULL);   /* harmless */
    struct mf_iov v = {"b", 1};
    assert_int_equal(ops->writer_write(f->st, b, &v, 1), 0);
    assert_int_equal(ops->writer_commit(f->st, b, "only/b", 0), 0);
    assert_string_equal(list_of(f, ""), "only/b=1");
    assert_int_equal(writer_temps(f), 0);
}

static void test_writer_makes_directories(void **state)
{
    struct fixture *f = *state;
    /* a root that does not exist yet: the temp directory and the key's are made on demand */
    char root[PATH_MAX + 16];
    snprintf(root, sizeof root, "%s/new/root", f->other);
    mf_fakehost_set("local", "root", root);
    void *st = NULL;
    assert_int_equal(desc->init(mf_fakehost(), &st), 0);
    mf_writer *w = NULL;
    assert_int_equal(ops->writer_open(st, &w), 0);
    struct mf_iov v = {"deep", 4};
    assert_int_equal(ops->writer_write(st, w, &v, 1), 0);
    assert_int_equal(ops->writer_commit(st, w, "a/b/c/d/e", MF_PUT_IF_ABSENT), 0);
    struct mf_buf b = {.struct_size = sizeof b};
    assert_int_equal(ops->get(st, "a/b/c/d/e", &b), 0);
    assert_int_equal(b.len, 4);
    assert_memory_equal(b.data, "deep", 4);
    b.release(&b);
    desc->fini(st);
    mf_fakehost_set("local", "root", f->dir);
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/a/b/c/d/e", root);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(count_temps(root), 0);
}

static void test_writer_bad_key(void **state)
{
    struct fixture *f = *state;
    const char *bad[] = {"", "/abs", "a//b", "../up", "x/y.tmp.12.ab"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mf_writer *w = writer_with(f, "value");
        assert_int_equal(ops->writer_commit(f->st, w, bad[i], 0), MF_EINVAL);   /* frees w */
        assert_non_null(strstr(ops->last_error(f->st), "local storage"));
        assert_int_equal(writer_temps(f), 0);
    }
    mf_writer *w = writer_with(f, "value");
    assert_int_equal(ops->writer_commit(f->st, w, NULL, 0), MF_EINVAL);
    assert_int_equal(writer_temps(f), 0);
    assert_string_equal(list_of(f, ""), "");
    /* the temp directory is not a place for keys to collide with */
    put_str(f, "tmp/mine", "kept", 0);
    w = writer_with(f, "v");
    ops->writer_abort(f->st, w);
    assert_string_equal(list_of(f, ""), "tmp/mine=4");
}

/* A writer killed at a random moment leaves the old object or the new one, never a torn one,
 * and whatever temp file it left is invisible. */
static void test_killed_writer(void **state)
{
    struct fixture *f = *state;
    size_t n = 8u << 20;
    char *val = malloc(n);
    assert_non_null(val);
    memset(val, 'A', n);
    struct mf_iov v = {val, n};
    assert_int_equal(ops->put(f->st, "k/obj", &v, 1, 0), 0);
    srand((unsigned)time(NULL));
    for (int round = 0; round < 6; round++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            memset(val, 'B' + round % 2, n);
            for (;;)
                ops->put(f->st, "k/obj", &v, 1, 0);
        }
        if (round == 5) {
            /* once, let the writer finish at least one object before killing it */
            char want = (char)('B' + round % 2);
            for (int i = 0; i < 1000; i++) {
                struct mf_buf p = {.struct_size = sizeof p};
                assert_int_equal(ops->get(f->st, "k/obj", &p), 0);
                char c0 = ((const char *)p.data)[0];
                p.release(&p);
                if (c0 == want)
                    break;
                struct timespec pause = {0, 5000000L};
                nanosleep(&pause, NULL);
            }
        }
        struct timespec ts = {0, (long)(1 + rand() % 40) * 1000000L};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        struct mf_buf b = {.struct_size = sizeof b};
        assert_int_equal(ops->get(f->st, "k/obj", &b), 0);
        assert_int_equal(b.len, n);
        const char *d = b.data;
        char c = d[0];
        assert_true(c == 'A' || c == 'B' || c == 'C');
        for (size_t i = 0; i < n; i += 4093)
            if (d[i] != c)
                fail_msg("round %d: torn object: byte %zu is '%c', byte 0 is '%c'", round, i,
                         d[i], c);
        assert_int_equal(d[n - 1], c);
        if (round == 5)
            assert_int_equal(c, 'B' + round % 2);   /* the new object, whole */
        b.release(&b);
        assert_string_equal(list_of(f, "k/"), "k/obj=8388608");
    }
    free(val);
}

/* ---- modes ------------------------------------------------------------------------------- */

static mode_t want_dir, want_file;   /* what mode_check expects */
static int mode_bad;
static char mode_bad_path[PATH_MAX];
static const char *mode_top;         /* the root itself is the user's and keeps its mode */

static int mode_check(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)flag;
    (void)ftw;
    if (!strcmp(path, mode_top))
        return 0;
    mode_t m = sb->st_mode & 07777;
    if ((S_ISDIR(sb->st_mode) && m != want_dir) || (S_ISREG(sb->st_mode) && m != want_file)) {
        if (!mode_bad++)
            snprintf(mode_bad_path, sizeof mode_bad_path, "%s is %04o", path, (unsigned)m);
    }
    return 0;
}

/* Every way the plugin creates a file or directory (put through O_TMPFILE and through a
 * named temporary, put_file, the streaming writer, new directories several levels deep),
 * under each umask, for a root it creates, a plain existing root and setgid (shared) roots:
 * private 0700/0600 unless the root is setgid, then the root's group bits and setgid on
 * directories; never anything for others. get_file's copy is private too. */
static void test_modes(void **state)
{
    struct fixture *f = *state;
    static const mode_t umasks[] = {022, 002, 077, 0};
    static const struct { mode_t root; int create; mode_t dir, file; } cases[] = {
        {0, 0, 0700, 0600},                /* the plugin creates the root */
        {0755, 1, 0700, 0600},             /* an existing plain root keeps 0755 */
        {0775, 1, 0700, 0600},             /* group bits without setgid: still private */
        {02770, 1, 02770, 0660},           /* shared read/write with the group */
        {02750, 1, 02750, 0640},           /* shared read-only with the group */
        {02777, 1, 02770, 0660},           /* others never get anything */
    };
    mode_t old = umask(022);
    for (size_t anon = 0; anon < 2; anon++) {
        setenv("MFLOW_LOCAL_ANON_TEMP", anon ? "1" : "0", 1);
        for (size_t u = 0; u < sizeof umasks / sizeof *umasks; u++) {
            for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
                char root[PATH_MAX + 64], src[PATH_MAX + 64], dst[PATH_MAX + 64];
                snprintf(root, sizeof root, "%s/r%zu-%zu-%zu", f->other, anon, u, c);
                if (cases[c].create) {
                    assert_int_equal(mkdir(root, 0700), 0);
                    assert_int_equal(chmod(root, cases[c].root), 0);
                }
                umask(umasks[u]);
                mf_fakehost_set("local", "root", root);
                void *st = NULL;
                assert_int_equal(desc->init(mf_fakehost(), &st), 0);
                struct mf_iov v = {"data", 4};
                assert_int_equal(ops->put(st, "a/b/c/obj", &v, 1, 0), 0);
                assert_int_equal(ops->put(st, "a/b/c/obj", &v, 1, 0), 0);   /* replaced */
                assert_int_equal(ops->put(st, "top", &v, 1, MF_PUT_IF_ABSENT), 0);
                snprintf(src, sizeof src, "%s/src-%zu-%zu-%zu", f->other, anon, u, c);
                write_file(src, "file", 4);
                assert_int_equal(ops->put_file(st, "p/q/file", src, 0), 0);
                mf_writer *w = NULL;
                assert_int_equal(ops->writer_open(st, &w), 0);
                assert_int_equal(ops->writer_write(st, w, &v, 1), 0);
                assert_int_equal(ops->writer_commit(st, w, "w/x/y", 0), 0);
                snprintf(dst, sizeof dst, "%s/dst-%zu-%zu-%zu", f->other, anon, u, c);
                assert_int_equal(ops->get_file(st, "a/b/c/obj", dst), 0);
                desc->fini(st);
                umask(022);

                struct stat sb;
                assert_int_equal(stat(root, &sb), 0);
                if (cases[c].create)
                    assert_int_equal(sb.st_mode & 07777, cases[c].root);
                else
                    assert_int_equal(sb.st_mode & 07777, 0700);
                assert_int_equal(stat(dst, &sb), 0);
                assert_int_equal(sb.st_mode & 07777, 0600);
                want_dir = cases[c].dir;
                want_file = cases[c].file;
                mode_bad = 0;
                mode_top = root;
                nftw(root, mode_check, 16, FTW_PHYS);
                if (mode_bad)
                    fail_msg("anon %zu, umask %03o, root %04o: %d wrong, e.g. %s (want %04o/%04o)",
                             anon, (unsigned)umasks[u], (unsigned)cases[c].root, mode_bad,
                             mode_bad_path, (unsigned)want_dir, (unsigned)want_file);
            }
        }
    }
    unsetenv("MFLOW_LOCAL_ANON_TEMP");
    umask(old);
}

int main(void)
{
    int code = load_local_plugin();
    if (code)
        return code;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_descriptor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_root_url, setup, teardown),
        cmocka_unit_test_setup_teardown(test_root_settings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_get_pieces, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overwrite_and_if_absent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_object, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exists, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_file_get_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_nested, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_stops_on_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_temp_is_invisible, setup, teardown),
        cmocka_unit_test_setup_teardown(test_del, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mapping_outlives_replacement, setup, teardown),
        cmocka_unit_test_setup_teardown(test_killed_writer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writer_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writer_if_absent_keeps_old, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writer_abort, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writer_makes_directories, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writer_bad_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_modes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
