/* Unit tests of core/src/package.c: reproducible packages (byte for byte, whatever the files'
 * times and modes), the documented file rule (flow, object, headers, manifest), refusals
 * at build time, and at fetch time crafted archives with a bad entry (each refused, naming
 * the entry, with nothing written outside), a corrupt package, and the cache. Runs against
 * the real local storage plugin in a temporary MFLOW_HOME. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "blob.h"
#include "flowload.h"
#include "host.h"
#include "package.h"
#include "store.h"
#include "util.h"

#include <archive.h>
#include <archive_entry.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <unistd.h>

static char root[256];        /* temporary directory of this test run */
static char home[300];
static char flowdir[300];
static struct mf_store st;

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static char *path_in(const char *dir, const char *name)
{
    char *p = mf_strf("%s/%s", dir, name);
    assert_non_null(p);
    return p;
}

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    if (flag == FTW_DP)
        rmdir(p);
    else
        unlink(p);
    return 0;
}

static void rm_rf(const char *p)
{
    nftw(p, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* The bytes of a datastore object (local storage: a file under the datastore root). */
static char *object_bytes(const char *key, size_t *len)
{
    struct mf_buf b = {.struct_size = sizeof b};
    if (st.ops->get(st.state, key, &b) != 0)
        return NULL;
    char *copy = malloc(b.len ? b.len : 1);
    assert_non_null(copy);
    memcpy(copy, b.data, b.len);
    *len = b.len;
    if (b.release)
        b.release(&b);
    return copy;
}

static const char flow_src[] =
    "#include <mflow/flow.h>\n"
    "#include \"helper.h\"\n"
    "static void start(mf_task *t) { mf_set_i64(t, \"x\", HELPER_VALUE); }\n"
    "static void end(mf_task *t) { (void)t; }\n"
    "static const mf_step_def steps[] = {\n"
    "    { .name = \"start\", .fn = start, .next = \"end\" },\n"
    "    { .name = \"end\", .fn = end },\n"
    "};\n"
    "MF_FLOW(\"PackFlow\", steps, NULL);\n";

static int setup_all(void **state)
{
    (void)state;
    snprintf(root, sizeof root, "%s/mflow-pkg-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    assert_non_null(mkdtemp(root));
    snprintf(home, sizeof home, "%s/home", root);
    snprintf(flowdir, sizeof flowdir, "%s/flow", root);
    assert_int_equal(mf_mkdir_p(home, 0755), 0);
    assert_int_equal(mf_mkdir_p(flowdir, 0755), 0);
    char *p = path_in(flowdir, "pack.c");
    write_text(p, flow_src);
    free(p);
    p = path_in(flowdir, "helper.h");
    write_text(p, "#define HELPER_VALUE 42\n");
    free(p);
    /* Beside the flow but neither a header nor listed: stays out. */
    p = path_in(flowdir, "notes.txt");
    write_text(p, "not in the package\n");
    free(p);
    p = path_in(flowdir, "data");
    assert_int_equal(mkdir(p, 0755), 0);
    free(p);
    p = path_in(flowdir, "data/a.txt");
    write_text(p, "alpha\n");
    free(p);
    p = path_in(flowdir, "data/b.txt");
    write_text(p, "beta\n");
    free(p);
    p = path_in(flowdir, "data/skip.bin");
    write_text(p, "not matched by the glob\n");
    free(p);
    p = path_in(flowdir, "conf");
    assert_int_equal(mkdir(p, 0755), 0);
    free(p);
    p = path_in(flowdir, "conf/settings.json");
    write_text(p, "{\"k\": 1}\n");
    free(p);
    p = path_in(flowdir, "conf/.hidden");
    write_text(p, "hidden files of a listed directory stay out\n");
    free(p);
    p = path_in(flowdir, "pack.files");
    write_text(p, "# data the flow reads\ndata/*.txt\n\n  conf/  \n");
    free(p);

    struct mf_host_opts o = {0};
    o.home = home;
    assert_int_equal(mf_host_init(&o), 0);
    char *err = NULL;
    int rc = mf_store_open(&st, &err);
    if (rc)
        fail_msg("cannot open the datastore: %s", err ? err : "?");
    return 0;
}

static int teardown_all(void **state)
{
    (void)state;
    mf_store_close(&st);
    mf_host_fini();
    rm_rf(root);
    return 0;
}

static struct mf_flow *open_pack_flow(void)
{
    struct mf_flow *f = NULL;
    char *err = NULL;
    char *p = path_in(flowdir, "pack.c");
    int rc = mf_flow_open(p, &f, &err);
    free(p);
    if (rc)
        fail_msg("cannot open the test flow: %s", err ? err : "?");
    return f;
}

static void build(char **addr, char **listing)
{
    struct mf_flow *f = open_pack_flow();
    char *err = NULL;
    int rc = mf_package_build(f, &st, addr, listing, &err);
    if (rc)
        fail_msg("package build failed: %s", err ? err : "?");
    mf_flow_close(f);
}

/* Same flow, same bytes: after the object is deleted, the files' times and group/other
 * modes changed and the flow recompiled, the package comes back identical. */
static void test_reproducible(void **state)
{
    (void)state;
    char *a1 = NULL, *l1 = NULL, *a2 = NULL, *l2 = NULL;
    build(&a1, &l1);
    assert_int_equal(strncmp(a1, "packages/", 9), 0);
    assert_int_equal(strlen(a1), 9 + 64 + 8);
    assert_string_equal(a1 + 9 + 64, ".tar.zst");
    size_t n1 = 0, n2 = 0;
    char *b1 = object_bytes(a1, &n1);
    assert_non_null(b1);
    /* The address is the SHA-256 of the bytes. */
    char sha[MF_BLOB_KEY_LEN + 1];
    struct mf_iov iov = {b1, n1};
    mf_sha256_hex(&iov, 1, sha);
    assert_memory_equal(a1 + 9, sha, 64);

    /* The documented rule: object, metadata, source, headers beside it, the manifest and
     * what it lists (glob, directory without hidden files), parents as directories. */
    const char *want[] = {".mflow/", ".mflow/flow.so", ".mflow/package.json", "conf/",
                          "conf/settings.json", "data/", "data/a.txt", "data/b.txt",
                          "helper.h", "pack.c", "pack.files"};
    size_t k = 0;
    for (char *s = l1; *s;) {
        char *nl = strchr(s, '\n');
        assert_non_null(nl);
        if (s[0] != '=') {
            *nl = '\0';
            char *name = strrchr(s, ' ');
            *nl = '\n';
            assert_non_null(name);
            assert_true(k < sizeof want / sizeof want[0]);
            assert_memory_equal(name + 1, want[k], strlen(want[k]));
            assert_int_equal((size_t)(nl - name - 1), strlen(want[k]));
            k++;
        }
        s = nl + 1;
    }
    assert_int_equal(k, sizeof want / sizeof want[0]);
    assert_non_null(strstr(l1, "f 0644 6 data/a.txt\n"));

    assert_int_equal(st.ops->del(st.state, a1), 0);
    struct timeval tv[2] = {{1000000000, 0}, {1000000000, 0}};
    const char *touch[] = {"pack.c", "helper.h", "data/a.txt", "conf/settings.json", "pack.files"};
    for (size_t i = 0; i < sizeof touch / sizeof touch[0]; i++) {
        char *p = path_in(flowdir, touch[i]);
        assert_int_equal(utimes(p, tv), 0);
        assert_int_equal(chmod(p, 0664), 0);
        free(p);
    }
    /* Recompile too: the compiled object is part of the package. */
    char *cache = mf_strf("%s/cache/flows", home);
    rm_rf(cache);
    free(cache);
    build(&a2, &l2);
    assert_string_equal(a1, a2);
    assert_string_equal(l1, l2);
    char *b2 = object_bytes(a2, &n2);
    assert_non_null(b2);
    assert_int_equal(n1, n2);
    assert_memory_equal(b1, b2, n1);

    /* A listed file's content changes the package. */
    char *p = path_in(flowdir, "data/b.txt");
    write_text(p, "beta, changed\n");
    char *a3 = NULL, *l3 = NULL;
    build(&a3, &l3);
    assert_string_not_equal(a1, a3);
    write_text(p, "beta\n");
    free(p);
    free(a1);
    free(a2);
    free(a3);
    free(l1);
    free(l2);
    free(l3);
    free(b1);
    free(b2);
}

/* Manifest lines that would reach outside the flow's directory are refused at build. */
static void test_manifest_refusals(void **state)
{
    (void)state;
    char *mpath = path_in(flowdir, "pack.files");
    char *link = path_in(flowdir, "escape.txt");
    char *fifo = path_in(flowdir, "pipe");
    assert_int_equal(symlink("/etc/hostname", link), 0);
    assert_int_equal(mkfifo(fifo, 0644), 0);
    struct {
        const char *manifest, *needle;
    } cases[] = {
        {"/etc/passwd\n", "'/etc/passwd' is an absolute path"},
        {"data/../../secret\n", "'data/../../secret' is a '..' component"},
        {"escape.txt\n", "leads outside the flow's directory"},
        {"pipe\n", "not a regular file or directory"},
        {"missing/*.csv\n", "'missing/*.csv' matches no file"},
        {".mflow/flow.so\n", "'.mflow/flow.so' is reserved"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_text(mpath, cases[i].manifest);
        struct mf_flow *f = open_pack_flow();
        char *addr = NULL, *err = NULL;
        int rc = mf_package_build(f, &st, &addr, NULL, &err);
        mf_flow_close(f);
        assert_int_not_equal(rc, 0);
        assert_null(addr);
        assert_non_null(err);
        if (!strstr(err, cases[i].needle))
            fail_msg("manifest %s: expected [%s] in: %s", cases[i].manifest, cases[i].needle, err);
        assert_non_null(strstr(err, "pack.files line 1"));
        free(err);
    }
    write_text(mpath, "# data the flow reads\ndata/*.txt\n\n  conf/  \n");
    unlink(link);
    unlink(fifo);
    free(mpath);
    free(link);
    free(fifo);
}

/* Fetch: verified, extracted, loadable; the second fetch is served from the cache even
 * when the datastore no longer has the package. */
static void test_fetch_and_cache(void **state)
{
    (void)state;
    char *addr = NULL;
    build(&addr, NULL);
    char *path = NULL, *err = NULL;
    int rc = mf_package_fetch(&st, addr, &path, &err);
    if (rc)
        fail_msg("fetch failed: %s", err ? err : "?");
    char *want = mf_strf("%s/cache/packages/%.64s/.mflow/flow.so", home, addr + 9);
    assert_string_equal(path, want);
    struct mf_flow *f = NULL;
    rc = mf_flow_open(path, &f, &err);
    if (rc)
        fail_msg("the extracted flow does not load: %s", err ? err : "?");
    assert_string_equal(f->def->name, "PackFlow");
    mf_flow_close(f);
    char *data = mf_strf("%s/cache/packages/%.64s/data/a.txt", home, addr + 9);
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(mf_read_file(data, &text, &len), 0);
    assert_string_equal(text, "alpha\n");
    free(text);
    free(data);
    /* Nothing is left of the extraction but the package's directory (and its lock). */
    char *cache = mf_strf("%s/cache/packages", home);
    DIR *d = opendir(cache);
    assert_non_null(d);
    struct dirent *de;
    int dirs = 0;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (strstr(de->d_name, ".lock"))
            continue;
        assert_memory_equal(de->d_name, addr + 9, 64);
        dirs++;
    }
    closedir(d);
    assert_int_equal(dirs, 1);
    free(cache);

    assert_int_equal(st.ops->del(st.state, addr), 0);
    assert_int_equal(st.ops->exists(st.state, addr), 0);
    char *path2 = NULL;
    rc = mf_package_fetch(&st, addr, &path2, &err);
    if (rc)
        fail_msg("cached fetch failed: %s", err ? err : "?");
    assert_string_equal(path, path2);
    free(path);
    free(path2);
    free(want);
    free(addr);
}

static void test_bad_addresses(void **state)
{
    (void)state;
    char *path = NULL, *err = NULL;
    assert_int_equal(mf_package_fetch(&st, "blobs/ab/cd", &path, &err), MF_EINVAL);
    assert_non_null(strstr(err, "not a code package address"));
    free(err);
    err = NULL;
    const char *absent =
        "packages/0000000000000000000000000000000000000000000000000000000000000000.tar.zst";
    assert_int_equal(mf_package_fetch(&st, absent, &path, &err), MF_ENOTFOUND);
    assert_non_null(strstr(err, "is not in the datastore"));
    assert_null(path);
    free(err);
}

/* ---- crafted archives ---------------------------------------------------------------------- */

enum { E_FILE, E_DIR, E_SYMLINK, E_HARDLINK, E_CHR, E_FIFO };

struct centry {
    int kind;
    const char *path;
    const char *target;          /* link target or file content */
};

static la_ssize_t craft_write(struct archive *a, void *ud, const void *buf, size_t n)
{
    (void)a;
    mf_sbuf_add(ud, buf, n);
    return (la_ssize_t)n;
}

/* A tar.zst with a valid-looking object first, then the given entries; stored under its
 * hash. Returns the address (malloc'd). */
static char *craft(const struct centry *ents, size_t n)
{
    struct mf_sbuf out = {0};
    struct archive *a = archive_write_new();
    assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
    assert_int_equal(archive_write_add_filter_zstd(a), ARCHIVE_OK);
    assert_int_equal(archive_write_set_bytes_in_last_block(a, 1), ARCHIVE_OK);
    assert_int_equal(archive_write_open2(a, &out, NULL, craft_write, NULL, NULL), ARCHIVE_OK);
    struct centry all[16];
    all[0] = (struct centry){E_FILE, ".mflow/flow.so", "not really an object"};
    assert_true(n < 15);
    memcpy(all + 1, ents, n * sizeof *ents);
    for (size_t i = 0; i < n + 1; i++) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, all[i].path);
        archive_entry_set_perm(e, 0644);
        switch (all[i].kind) {
        case E_FILE:
            archive_entry_set_filetype(e, AE_IFREG);
            archive_entry_set_size(e, (la_int64_t)strlen(all[i].target));
            break;
        case E_DIR:
            archive_entry_set_filetype(e, AE_IFDIR);
            archive_entry_set_perm(e, 0755);
            break;
        case E_SYMLINK:
            archive_entry_set_filetype(e, AE_IFLNK);
            archive_entry_set_symlink(e, all[i].target);
            break;
        case E_HARDLINK:
            archive_entry_set_filetype(e, AE_IFREG);
            archive_entry_set_hardlink(e, all[i].target);
            break;
        case E_CHR:
            archive_entry_set_filetype(e, AE_IFCHR);
            archive_entry_set_rdev(e, makedev(1, 3));
            break;
        case E_FIFO:
            archive_entry_set_filetype(e, AE_IFIFO);
            break;
        }
        assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
        if (all[i].kind == E_FILE)
            archive_write_data(a, all[i].target, strlen(all[i].target));
        archive_entry_free(e);
    }
    assert_int_equal(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
    char sha[MF_BLOB_KEY_LEN + 1];
    struct mf_iov iov = {out.data, out.len};
    mf_sha256_hex(&iov, 1, sha);
    char *addr = mf_strf("packages/%s.tar.zst", sha);
    assert_int_equal(st.ops->put(st.state, addr, &iov, 1, 0), 0);
    mf_sbuf_free(&out);
    return addr;
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && !strstr(de->d_name, ".lock");
    closedir(d);
    return n;
}

static void test_crafted_archives_refused(void **state)
{
    (void)state;
    char *cache = mf_strf("%s/cache/packages", home);
    char *outside = mf_strf("%s/cache/evil", home);            /* "../evil" from the cache dir */
    char *abs = mf_strf("%s/abs-evil", root);
    struct {
        struct centry e[3];
        size_t n;
        const char *entry, *why;
    } cases[] = {
        {{{E_FILE, "../evil", "x"}}, 1, "'../evil'", "'..' component"},
        {{{E_FILE, "ok/../../evil", "x"}}, 1, "'ok/../../evil'", "'..' component"},
        {{{E_FILE, abs, "x"}}, 1, abs, "absolute path"},
        {{{E_SYMLINK, "esc", "../../.."}}, 1, "'esc'", "symbolic link leading outside"},
        {{{E_SYMLINK, "etc", "/etc"}}, 1, "'etc'", "symbolic link leading outside"},
        {{{E_DIR, "sub", ""}, {E_SYMLINK, "sub/up", "../.."}}, 2, "'sub/up'",
         "symbolic link leading outside"},
        {{{E_SYMLINK, "lnk", ".mflow"}, {E_FILE, "lnk/x", "x"}}, 2, "'lnk/x'",
         "through a symbolic link"},
        {{{E_HARDLINK, "hl", "/etc/passwd"}}, 1, "'hl'", "hard link"},
        {{{E_CHR, "null", ""}}, 1, "'null'", "device file"},
        {{{E_FIFO, "fifo", ""}}, 1, "'fifo'", "FIFO"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *addr = craft(cases[i].e, cases[i].n);
        char *path = NULL, *err = NULL;
        int before = count_entries(cache);
        int rc = mf_package_fetch(&st, addr, &path, &err);
        assert_int_equal(rc, MF_ECORRUPT);
        assert_null(path);
        assert_non_null(err);
        if (!strstr(err, cases[i].entry) || !strstr(err, cases[i].why))
            fail_msg("case %zu: expected %s and [%s] in: %s", i, cases[i].entry, cases[i].why, err);
        assert_non_null(strstr(err, addr));
        /* Nothing extracted: no cache entry, no temporary left, nothing outside. */
        char *final = mf_strf("%s/%.64s", cache, addr + 9);
        struct stat sb;
        assert_int_not_equal(stat(final, &sb), 0);
        assert_int_equal(count_entries(cache), before);
        assert_int_not_equal(lstat(outside, &sb), 0);
        assert_int_not_equal(lstat(abs, &sb), 0);
        free(final);
        free(err);
        free(addr);
    }

    /* A link that stays inside is fine, and so are directories and plain files. */
    struct centry good[] = {
        {E_DIR, "lib", ""},
        {E_FILE, "lib/data.txt", "inside\n"},
        {E_SYMLINK, "lib/alias.txt", "data.txt"},
        {E_SYMLINK, "obj", ".mflow/flow.so"},
    };
    char *addr = craft(good, sizeof good / sizeof good[0]);
    char *path = NULL, *err = NULL;
    int rc = mf_package_fetch(&st, addr, &path, &err);
    if (rc)
        fail_msg("a package whose links stay inside was refused: %s", err ? err : "?");
    char *alias = mf_strf("%s/%.64s/lib/alias.txt", cache, addr + 9);
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(mf_read_file(alias, &text, &len), 0);
    assert_string_equal(text, "inside\n");
    free(text);
    free(alias);
    free(path);
    free(addr);
    free(cache);
    free(outside);
    free(abs);
}

/* Links judged on their own text pass one by one, yet chain outside: each link must be
 * resolved through the package's other links (issue 21, class 6). */
static void test_chained_links_refused(void **state)
{
    (void)state;
    char *cache = mf_strf("%s/cache/packages", home);
    struct {
        struct centry e[5];
        size_t n;
        const char *entry, *why;
    } cases[] = {
        /* b is the root, so b/.. is the directory above it. */
        {{{E_SYMLINK, "b", "."}, {E_SYMLINK, "a", "b/.."}}, 2, "'a'", "leading outside"},
        /* Two hops, then out. */
        {{{E_SYMLINK, "b", "."}, {E_SYMLINK, "c", "b"}, {E_SYMLINK, "a", "c/../x"}}, 3, "'a'",
         "leading outside"},
        /* The link it goes through comes later in the archive. */
        {{{E_SYMLINK, "a", "b/../evil"}, {E_SYMLINK, "b", "."}}, 2, "'a'", "leading outside"},
        /* Through a link in a subdirectory that climbs to the root. */
        {{{E_DIR, "x", ""}, {E_DIR, "x/y", ""}, {E_SYMLINK, "x/y/up", "../.."},
          {E_SYMLINK, "a", "x/y/up/.."}},
         4, "'a'", "leading outside"},
        /* A link that names a deeper link whose own target climbs out. */
        {{{E_DIR, "d", ""}, {E_SYMLINK, "d/top", ".."}, {E_SYMLINK, "a", "d/top/../.."}}, 3,
         "'a'", "leading outside"},
        /* A link to an absolute link. */
        {{{E_SYMLINK, "b", "c"}, {E_SYMLINK, "c", "d"}, {E_SYMLINK, "d", "e/../../x"}}, 3,
         "'d'", "leading outside"},
        /* A directory entry that is a link, then entries under it. */
        {{{E_SYMLINK, "d", "."}, {E_DIR, "d/x", ""}}, 2, "'d/x'", "through a symbolic link"},
        {{{E_SYMLINK, "d", ".mflow"}, {E_FILE, "d/x", "x"}}, 2, "'d/x'",
         "through a symbolic link"},
        /* A file first, then a link over the same name (and the same for directories). */
        {{{E_FILE, "f", "x"}, {E_SYMLINK, "f", "."}}, 2, "'f'", "appears twice"},
        {{{E_DIR, "g", ""}, {E_SYMLINK, "g", "."}}, 2, "'g'", "appears twice"},
        /* A file under a directory the archive later makes a link. */
        {{{E_FILE, "h/x", "x"}, {E_SYMLINK, "h", "."}}, 2, "'h/x'", "through a symbolic link"},
        /* A hard link whose target goes through a link. */
        {{{E_SYMLINK, "b", "."}, {E_HARDLINK, "hl", "b/../evil"}}, 2, "'hl'", "hard link"},
        /* Links in a loop. */
        {{{E_SYMLINK, "p", "q"}, {E_SYMLINK, "q", "p"}}, 2, "'p'", "loop of links"},
    };
    char *evil = mf_strf("%s/cache/evil", home);
    char *evil2 = mf_strf("%s/evil", cache);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *addr = craft(cases[i].e, cases[i].n);
        char *path = NULL, *err = NULL;
        int before = count_entries(cache);
        int rc = mf_package_fetch(&st, addr, &path, &err);
        if (rc != MF_ECORRUPT)
            fail_msg("case %zu: expected a refusal, got %d (%s)", i, rc, err ? err : "no message");
        assert_null(path);
        if (!strstr(err, cases[i].entry) || !strstr(err, cases[i].why) || !strstr(err, addr))
            fail_msg("case %zu: expected %s and [%s] in: %s", i, cases[i].entry, cases[i].why, err);
        char *final = mf_strf("%s/%.64s", cache, addr + 9);
        struct stat sb;
        assert_int_not_equal(lstat(final, &sb), 0);
        assert_int_equal(count_entries(cache), before);
        assert_int_not_equal(lstat(evil, &sb), 0);
        assert_int_not_equal(lstat(evil2, &sb), 0);
        free(final);
        free(err);
        free(addr);
    }

    /* Chains that stay inside still extract and lead where they say. */
    struct centry good[] = {
        {E_DIR, "lib", ""},
        {E_FILE, "lib/data.txt", "inside\n"},
        {E_SYMLINK, "here", "."},
        {E_SYMLINK, "l", "lib"},
        {E_SYMLINK, "via", "here/l/../lib/data.txt"},
        {E_SYMLINK, "lib/self", "../here/lib/data.txt"},
    };
    char *addr = craft(good, sizeof good / sizeof good[0]);
    char *path = NULL, *err = NULL;
    int rc = mf_package_fetch(&st, addr, &path, &err);
    if (rc)
        fail_msg("a package whose chained links stay inside was refused: %s", err ? err : "?");
    const char *names[] = {"via", "lib/self", "l/data.txt"};
    for (size_t i = 0; i < 3; i++) {
        char *p = mf_strf("%s/%.64s/%s", cache, addr + 9, names[i]);
        char *text = NULL;
        size_t len = 0;
        assert_int_equal(mf_read_file(p, &text, &len), 0);
        assert_string_equal(text, "inside\n");
        free(text);
        free(p);
    }
    free(path);
    free(addr);
    free(evil);
    free(evil2);
    free(cache);
}

/* A package whose bytes do not match its address is refused before extraction. */
static void test_corrupt_refused(void **state)
{
    (void)state;
    struct centry ok[] = {{E_FILE, "a.txt", "a"}};
    char *addr = craft(ok, 1);
    size_t len = 0;
    char *bytes = object_bytes(addr, &len);
    assert_non_null(bytes);
    bytes[len / 2] ^= 0x40;
    struct mf_iov iov = {bytes, len};
    assert_int_equal(st.ops->put(st.state, addr, &iov, 1, 0), 0);
    char *path = NULL, *err = NULL;
    assert_int_equal(mf_package_fetch(&st, addr, &path, &err), MF_ECORRUPT);
    assert_non_null(strstr(err, "is corrupt: its content hashes to"));
    free(err);
    free(bytes);
    free(addr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reproducible),
        cmocka_unit_test(test_manifest_refusals),
        cmocka_unit_test(test_fetch_and_cache),
        cmocka_unit_test(test_bad_addresses),
        cmocka_unit_test(test_crafted_archives_refused),
        cmocka_unit_test(test_corrupt_refused),
        cmocka_unit_test(test_chained_links_refused),
    };
    return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
