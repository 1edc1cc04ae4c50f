/* Unit tests of the plugin loader (core/src/loader.c): search directories, the checks of a
 * plugin's descriptor, refusals and their messages, mf_registry_find.
 *
 * The plugins are tests/abi/testplugin.c built here, once per variant, with the compiler of
 * the build ($CC, else the one meson used), so this test needs nothing else built. */
#include "loader.h"
#include "mflow-build.h"

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

/* ---- a host that records what plugins log ------------------------------------------------ */

static int log_calls;
static char last_log[512];

static void host_log(int level, const char *name, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_log, sizeof last_log, fmt, ap);
    va_end(ap);
    log_calls++;
}

static const struct mf_host_api host = {
    .struct_size = sizeof(struct mf_host_api),
    .abi_major = MF_PLUGIN_ABI_MAJOR,
    .abi_minor = MF_PLUGIN_ABI_MINOR,
    .version = MF_VERSION,
    .log = host_log,
};

/* ---- fixtures: testplugin.c built per variant into one directory --------------------------- */

struct variant {
    const char *file;
    const char *defs[4];
};

static const struct variant variants[] = {
    {"mflow_compute_abigood.so", {NULL}},
    {"mflow_storage_abigood.so", {"-DPLUGIN_KIND=2"}},
    {"mflow_scheduler_abigood.so", {"-DPLUGIN_KIND=3"}},
    {"mflow_compute_major2.so", {"-DPLUGIN_NAME=\"major2\"", "-DDESC_ABI_MAJOR=2"}},
    {"mflow_compute_entryv2.so",
     {"-DPLUGIN_NAME=\"entryv2\"", "-DDESC_ABI_MAJOR=2", "-DENTRY_NAME=mf_plugin_entry_v2"}},
    {"mflow_compute_shortdesc.so", {"-DPLUGIN_NAME=\"shortdesc\"", "-DSHORT_DESC"}},
    {"mflow_compute_shortops.so", {"-DPLUGIN_NAME=\"shortops\"", "-DSHORT_OPS"}},
    {"mflow_storage_shortops.so", {"-DPLUGIN_NAME=\"shortops\"", "-DSHORT_OPS", "-DPLUGIN_KIND=2"}},
    {"mflow_compute_noentry.so", {"-DPLUGIN_NAME=\"noentry\"", "-DENTRY_NAME=mf_plugin_entry"}},
    {"mflow_compute_entrynull.so", {"-DPLUGIN_NAME=\"entrynull\"", "-DENTRY_RETURNS_NULL"}},
    {"mflow_compute_badkind.so", {"-DPLUGIN_NAME=\"badkind\"", "-DPLUGIN_KIND=7"}},
    {"mflow_compute_badname.so", {"-DPLUGIN_NAME=\"Bad-Name\""}},
    {"mflow_compute_noname.so", {"-DNO_NAME"}},
    {"mflow_compute_noops.so", {"-DPLUGIN_NAME=\"noops\"", "-DNO_OPS"}},
    {"mflow_compute_noinit.so", {"-DPLUGIN_NAME=\"noinit\"", "-DNO_INIT"}},
    {"mflow_storage_abidup.so", {"-DPLUGIN_KIND=2", "-DPLUGIN_NAME=\"abidup\""}},
    {"mflow_storage_abidup2.so", {"-DPLUGIN_KIND=2", "-DPLUGIN_NAME=\"abidup\""}},
};

/* snprintf into an array, failing the test rather than cutting a path short */
#define FMT(buf, ...) assert_true(snprintf((buf), sizeof(buf), __VA_ARGS__) < (int)sizeof(buf))

static char tmp_root[PATH_MAX];   /* removed at the end */
static char fixtures[PATH_MAX];   /* every variant, built once */
static char case_dir[PATH_MAX + 32]; /* a fresh directory per test */

/* Run argv; returns the exit status, 127 when it could not be started. */
static int run(char *const argv[])
{
    pid_t pid = fork();
    if (pid < 0)
        return 127;
    if (pid == 0) {
        execvp(argv[0], argv);
        _exit(127);
    }
    int status;
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
        return 126;
    return WEXITSTATUS(status);
}

/* Build every variant. Returns 0, 77 when there is no compiler, 1 when a build failed. */
static int build_fixtures(void)
{
    char cc_words[256];
    snprintf(cc_words, sizeof cc_words, "%s", getenv("CC") && *getenv("CC") ? getenv("CC") : MF_CC);
    char *argv[32];
    int argc = 0;
    for (char *w = strtok(cc_words, " "); w && argc < 8; w = strtok(NULL, " "))
        argv[argc++] = w;
    int base = argc;
    char src[PATH_MAX], inc[PATH_MAX], out[PATH_MAX * 2];
    snprintf(src, sizeof src, "%s/tests/abi/testplugin.c", MF_SOURCE_ROOT);
    snprintf(inc, sizeof inc, "-I%s/sdk/include", MF_SOURCE_ROOT);
    for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
        argc = base;
        argv[argc++] = "-shared";
        argv[argc++] = "-fPIC";
        argv[argc++] = "-fvisibility=hidden";
        argv[argc++] = inc;
        for (int d = 0; d < 4 && variants[v].defs[d]; d++)
            argv[argc++] = (char *)variants[v].defs[d];
        argv[argc++] = "-o";
        if (snprintf(out, sizeof out, "%s/%s", fixtures, variants[v].file) >= (int)sizeof out)
            return 1;
        argv[argc++] = out;
        argv[argc++] = src;
        argv[argc] = NULL;
        int rc = run(argv);
        if (rc == 127) {
            fprintf(stderr, "no C compiler '%s' to build the test plugins; set CC\n", argv[0]);
            return 77;
        }
        if (rc) {
            fprintf(stderr, "building %s from %s failed (exit %d)\n", out, src, rc);
            return 1;
        }
    }
    return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

/* Copy fixture `file` into case_dir/sub (sub may be ""); returns the copy's real path. */
static char *place_in(const char *sub, const char *file)
{
    static char path[PATH_MAX * 2];
    char dir[PATH_MAX * 2], from[PATH_MAX * 2];
    FMT(dir, "%s%s%s", case_dir, *sub ? "/" : "", sub);
    char *argv[] = {"mkdir", "-p", dir, NULL};
    assert_int_equal(run(argv), 0);
    FMT(from, "%s/%s", fixtures, file);
    FMT(path, "%s/%s", dir, file);
    char *cp[] = {"cp", from, path, NULL};
    assert_int_equal(run(cp), 0);
    return path;
}

static char *place(const char *file)
{
    return place_in("", file);
}

static int case_setup(void **state)
{
    static int n;
    FMT(case_dir, "%s/case%d", tmp_root, ++n);
    log_calls = 0;
    last_log[0] = '\0';
    return mkdir(case_dir, 0755);
}

static mf_registry *registry_on_case_dir(void)
{
    mf_registry *r = NULL;
    assert_int_equal(mf_registry_create(&host, &r), 0);
    assert_non_null(r);
    assert_int_equal(mf_registry_add_dir(r, case_dir), 0);
    return r;
}

/* The record of the file at path, failing the test when it is not listed. */
static const struct mf_plugin_info *info_of(const mf_registry *r, const char *path)
{
    for (size_t i = 0; i < mf_registry_count(r); i++)
        if (!strcmp(mf_registry_at(r, i)->path, path))
            return mf_registry_at(r, i);
    fail_msg("%s is not in the registry", path);
    return NULL;
}

/* ---- tests ------------------------------------------------------------------------------ */

static void test_kind_names(void **state)
{
    assert_string_equal(mf_plugin_kind_name(MF_PLUGIN_COMPUTE), "compute");
    assert_string_equal(mf_plugin_kind_name(MF_PLUGIN_STORAGE), "storage");
    assert_string_equal(mf_plugin_kind_name(MF_PLUGIN_SCHEDULER), "scheduler");
    assert_string_equal(mf_plugin_kind_name(0), "unknown");
    assert_string_equal(mf_plugin_kind_name(7), "unknown");
}

static void test_create_destroy(void **state)
{
    assert_int_equal(mf_registry_create(&host, NULL), MF_EINVAL);
    mf_registry_destroy(NULL);
    mf_registry *r = NULL;
    assert_int_equal(mf_registry_create(&host, &r), 0);
    assert_int_equal(mf_registry_count(r), 0);
    assert_null(mf_registry_at(r, 0));
    assert_string_equal(mf_registry_error(r), "");
    assert_int_equal(mf_registry_load_all(r), 0);
    mf_registry_destroy(r);
    assert_int_equal(mf_registry_count(NULL), 0);
    assert_int_equal(mf_registry_load_all(NULL), MF_EINVAL);
}

static void test_add_dir(void **state)
{
    mf_registry *r = registry_on_case_dir();
    assert_int_equal(mf_registry_add_dir(r, NULL), MF_EINVAL);
    assert_int_equal(mf_registry_add_dir(r, ""), MF_EINVAL);
    /* the same directory, spelled another way, is searched once */
    char again[PATH_MAX + 8];
    FMT(again, "%s/./", case_dir);
    assert_int_equal(mf_registry_add_dir(r, again), 0);
    assert_int_equal(mf_registry_dir_count(r), 1);
    /* a relative directory is made absolute, even when it does not exist (yet) */
    assert_int_equal(chdir(case_dir), 0);
    assert_int_equal(mf_registry_add_dir(r, "later/plugins"), 0);
    assert_int_equal(mf_registry_dir_count(r), 2);
    char want[PATH_MAX * 2];
    FMT(want, "%s/later/plugins", case_dir);
    assert_string_equal(mf_registry_dir(r, 1), want);
    assert_null(mf_registry_dir(r, 2));
    assert_int_equal(chdir("/"), 0);
    /* a missing directory holds no plugins and is no error */
    assert_int_equal(mf_registry_load_all(r), 0);
    assert_int_equal(mf_registry_count(r), 0);
    mf_registry_destroy(r);
}

static void test_default_dirs(void **state)
{
    char *build = realpath(MF_BUILD_ROOT, NULL);
    assert_non_null(build);
    char builtin[PATH_MAX + 16];
    FMT(builtin, "%s/plugins", build);
    free(build);

    /* This test runs from the build tree, so the build tree's plugins come first, then
     * MFLOW_PLUGIN_PATH in order (empty entries ignored). */
    setenv("MFLOW_PLUGIN_PATH", "/nonexistent/one::/nonexistent/two:", 1);
    mf_registry *r = NULL;
    assert_int_equal(mf_registry_create(&host, &r), 0);
    assert_int_equal(mf_registry_add_default_dirs(r), 0);
    assert_int_equal(mf_registry_dir_count(r), 3);
    assert_string_equal(mf_registry_dir(r, 0), builtin);
    assert_string_equal(mf_registry_dir(r, 1), "/nonexistent/one");
    assert_string_equal(mf_registry_dir(r, 2), "/nonexistent/two");
    mf_registry_destroy(r);

    unsetenv("MFLOW_PLUGIN_PATH");
    assert_int_equal(mf_registry_create(&host, &r), 0);
    assert_int_equal(mf_registry_add_default_dirs(r), 0);
    assert_int_equal(mf_registry_dir_count(r), 1);
    assert_string_equal(mf_registry_dir(r, 0), builtin);
    mf_registry_destroy(r);
}

static void test_good_plugins_load_without_init(void **state)
{
    char *p;
    char compute[PATH_MAX * 2], storage[PATH_MAX * 2], scheduler[PATH_MAX * 2];
    p = place("mflow_compute_abigood.so");
    FMT(compute, "%s", p);
    p = place("mflow_storage_abigood.so");
    FMT(storage, "%s", p);
    p = place_in("scheduler/abigood", "mflow_scheduler_abigood.so");
    FMT(scheduler, "%s", p);

    mf_registry *r = registry_on_case_dir();
    assert_int_equal(mf_registry_load_all(r), 0);
    assert_int_equal(mf_registry_count(r), 3);
    const char *paths[] = {compute, storage, scheduler};
    const uint32_t kinds[] = {MF_PLUGIN_COMPUTE, MF_PLUGIN_STORAGE, MF_PLUGIN_SCHEDULER};
    for (int i = 0; i < 3; i++) {
        const struct mf_plugin_info *in = info_of(r, paths[i]);
        assert_true(in->loaded);
        assert_null(in->error);
        assert_int_equal(in->kind, kinds[i]);
        assert_string_equal(in->name, "abigood");
        assert_string_equal(in->version, "1.2.3");
        assert_string_equal(in->description, "mflow ABI test plugin");
        assert_int_equal(in->abi_major, 1);
        assert_int_equal(in->abi_minor, 0);
        assert_non_null(in->desc);
        assert_ptr_equal(mf_registry_find(r, kinds[i], "abigood"), in->desc);
    }
    /* Loading called no init; the caller creates instances. */
    assert_int_equal(log_calls, 0);
    const struct mf_plugin_desc *d = info_of(r, compute)->desc;
    void *inst = NULL;
    assert_int_equal(d->init(&host, &inst), 0);
    assert_int_equal(log_calls, 1);
    assert_string_equal(last_log, "init called");
    d->fini(inst);
    mf_registry_destroy(r);
}

/* Each broken variant, alone with a good plugin: refused with its own message, the good
 * one still loads. */
struct refusal {
    const char *file;
    const char *message[3]; /* substrings the message must contain, after the path */
    uint32_t abi_major;
    uint32_t kind;
    const char *name;
};

/* MF_PLUGIN_ABI_MINOR as text, for the messages below. */
#define TEXT_OF(x) #x
#define TEXT(x) TEXT_OF(x)
#define MINOR_TEXT TEXT(MF_PLUGIN_ABI_MINOR)

static const struct refusal refusals[] = {
    {"mflow_compute_major2.so",
     {": built for plugin ABI 2.0, this mflow speaks 1." MINOR_TEXT "; rebuild it against mflow " MF_VERSION
      "'s SDK"},
     2, MF_PLUGIN_COMPUTE, "major2"},
    {"mflow_compute_entryv2.so",
     {": exports mf_plugin_entry_v2 instead of mf_plugin_entry_v1",
      "built for plugin ABI 2, this mflow speaks 1." MINOR_TEXT, "rebuild it against mflow"},
     2, MF_PLUGIN_COMPUTE, "entryv2"},
    {"mflow_compute_shortdesc.so",
     {": its descriptor is", "bytes, smaller than the", "bytes of plugin ABI 1.0"},
     1, MF_PLUGIN_COMPUTE, "shortdesc"},
    {"mflow_compute_shortops.so",
     {": compute plugin 'shortops': its operations table is",
      "smaller than the", "bytes of plugin ABI 1.0"},
     1, MF_PLUGIN_COMPUTE, "shortops"},
    {"mflow_storage_shortops.so",
     {": storage plugin 'shortops': its operations table is"}, 1, MF_PLUGIN_STORAGE,
     "shortops"},
    {"mflow_compute_noentry.so",
     {": has no entry symbol mf_plugin_entry_v1", "mf_plugin_entry_vN"}, 0,
     MF_PLUGIN_COMPUTE, "noentry"},
    {"mflow_compute_entrynull.so", {": mf_plugin_entry_v1 returned no descriptor"}, 0,
     MF_PLUGIN_COMPUTE, "entrynull"},
    {"mflow_compute_badkind.so", {": plugin kind 7 is unknown to this mflow"}, 1,
     MF_PLUGIN_COMPUTE, "badkind"},
    {"mflow_compute_badname.so", {": plugin name 'Bad-Name' is not valid"}, 1,
     MF_PLUGIN_COMPUTE, "badname"},
    {"mflow_compute_noname.so", {": the compute plugin has no name"}, 1, MF_PLUGIN_COMPUTE,
     "noname"},
    {"mflow_compute_noops.so", {": compute plugin 'noops' has no operations table"}, 1,
     MF_PLUGIN_COMPUTE, "noops"},
    {"mflow_compute_noinit.so", {": compute plugin 'noinit' has no init function"}, 1,
     MF_PLUGIN_COMPUTE, "noinit"},
};

static void test_refusals(void **state)
{
    for (size_t i = 0; i < sizeof refusals / sizeof refusals[0]; i++) {
        const struct refusal *want = &refusals[i];
        case_setup(state);
        char bad[PATH_MAX * 2];
        FMT(bad, "%s", place(want->file));
        const char *good = place("mflow_storage_abigood.so");
        mf_registry *r = registry_on_case_dir();
        assert_int_equal(mf_registry_load_all(r), 0);
        assert_int_equal(mf_registry_count(r), 2);
        assert_true(info_of(r, good)->loaded);
        assert_int_equal(log_calls, 0); /* no init was called */

        const struct mf_plugin_info *in = info_of(r, bad);
        assert_false(in->loaded);
        assert_null(in->desc);
        assert_non_null(in->error);
        /* one line that starts with the file's path */
        assert_int_equal(strncmp(in->error, bad, strlen(bad)), 0);
        assert_null(strchr(in->error, '\n'));
        for (int m = 0; m < 3 && want->message[m]; m++) {
            if (!strstr(in->error, want->message[m]))
                fail_msg("%s: message '%s' lacks '%s'", want->file, in->error,
                         want->message[m]);
        }
        assert_int_equal(in->abi_major, want->abi_major);
        assert_int_equal(in->kind, want->kind);
        assert_string_equal(in->name, want->name);
        /* Asked for by name, the refusal is the answer. */
        assert_null(mf_registry_find(r, want->kind, want->name));
        if (!strstr(mf_registry_error(r), in->error))
            fail_msg("find's error '%s' does not quote the refusal", mf_registry_error(r));
        mf_registry_destroy(r);
    }
}

static void test_sizes_quoted(void **state)
{
    place("mflow_compute_shortdesc.so");
    mf_registry *r = registry_on_case_dir();
    assert_int_equal(mf_registry_load_all(r), 0);
    unsigned have, need;
    const char *msg = strstr(mf_registry_at(r, 0)->error, "its descriptor is");
    assert_non_null(msg);
    assert_int_equal(sscanf(msg, "its descriptor is %u bytes, smaller than the %u", &have, &need),
                     2);
    assert_int_equal(have, offsetof(struct mf_plugin_desc, ops));
    assert_int_equal(need, MF_PLUGIN_DESC_V1_0_SIZE);
    mf_registry_destroy(r);
}

static void test_not_a_shared_object(void **state)
{
    char path[PATH_MAX * 2];
    FMT(path, "%s/mflow_compute_text.so", case_dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < 4; i++)
        fputs("a text file named like a plugin, long enough to have an ELF header's size\n", f);
    fclose(f);
    const char *good = place("mflow_compute_abigood.so");
    mf_registry *r = registry_on_case_dir();
    assert_int_equal(mf_registry_load_all(r), 0);
    assert_int_equal(mf_registry_count(r), 2);
    assert_true(info_of(r, good)->loaded);
    const struct mf_plugin_info *in = info_of(r, path);
    assert_false(in->loaded);
    char want[PATH_MAX * 3];
    FMT(want,
        "%s is not a loadable shared object: invalid ELF header (every *.so in a plugin "
        "directory must be an mflow plugin)",
        path);
    assert_string_equal(in->error, want);
    assert_string_equal(in->name, "text");
    assert_int_equal(in->kind, MF_PLUGIN_COMPUTE);
    mf_registry_destroy(r);
}

static void test_duplicate(void **state)
{
    char first[PATH_MAX * 2];
    FMT(first, "%s", place("mflow_storage_abidup.so"));
    const char *second = place("mflow_storage_abidup2.so");
    mf_registry *r = registry_on_case_dir();
    assert_int_equal(mf_registry_load_all(r), 0);
    assert_true(info_of(r, first)->loaded);
    const struct mf_plugin_info *in = info_of(r, second);
    assert_false(in->loaded);
    char want[PATH_MAX * 5];
    snprintf(want, sizeof want,
             "%s: a storage plugin named 'abidup' is already loaded from %s; this one is "
             "refused (remove or rename one of them)",
             second, first);
    assert_string_equal(in->error, want);
    assert_ptr_equal(mf_registry_find(r, MF_PLUGIN_STORAGE, "abidup"), info_of(r, first)->desc);
    mf_registry_destroy(r);
}

static void test_find_loads_only_the_conventional_file(void **state)
{
    place("mflow_compute_abigood.so");
    place("mflow_compute_major2.so");
    place("mflow_storage_abigood.so");
    place_in("compute/noops", "mflow_compute_noops.so");
    mf_registry *r = registry_on_case_dir();
    const struct mf_plugin_desc *d = mf_registry_find(r, MF_PLUGIN_COMPUTE, "abigood");
    assert_non_null(d);
    assert_string_equal(d->name, "abigood");
    assert_int_equal(mf_registry_count(r), 1);
    assert_non_null(mf_registry_find(r, MF_PLUGIN_STORAGE, "abigood"));
    assert_int_equal(mf_registry_count(r), 2);
    /* found again without loading anything more */
    assert_ptr_equal(mf_registry_find(r, MF_PLUGIN_COMPUTE, "abigood"), d);
    assert_int_equal(mf_registry_count(r), 2);
    /* the build tree's layout, <dir>/<kind>/<name>/mflow_<kind>_<name>.so, is tried too; that
     * file is refused, so every other file is loaded in case one provides the plugin, and
     * the answer is the refusal */
    assert_null(mf_registry_find(r, MF_PLUGIN_COMPUTE, "noops"));
    assert_non_null(strstr(mf_registry_error(r), "compute plugin 'noops' cannot be used: "));
    assert_non_null(strstr(mf_registry_error(r), "/compute/noops/mflow_compute_noops.so: "));
    assert_non_null(strstr(mf_registry_error(r), "has no operations table"));
    assert_int_equal(mf_registry_count(r), 4);
    mf_registry_destroy(r);
}

static void test_find_falls_back_to_all(void **state)
{
    /* a file not named by the convention is still found, by loading everything */
    char path[PATH_MAX * 2];
    place("mflow_compute_abigood.so");
    FMT(path, "%s/renamed.so", case_dir);
    char from[PATH_MAX * 2];
    FMT(from, "%s/mflow_compute_abigood.so", case_dir);
    assert_int_equal(rename(from, path), 0);
    place("mflow_storage_abigood.so");
    mf_registry *r = registry_on_case_dir();
    const struct mf_plugin_desc *d = mf_registry_find(r, MF_PLUGIN_COMPUTE, "abigood");
    assert_non_null(d);
    assert_string_equal(info_of(r, path)->name, "abigood");
    assert_int_equal(mf_registry_count(r), 2);
    mf_registry_destroy(r);
}

static void test_find_unknown(void **state)
{
    place("mflow_compute_abigood.so");
    place("mflow_storage_abigood.so");
    mf_registry *r = registry_on_case_dir();
    assert_null(mf_registry_find(r, MF_PLUGIN_COMPUTE, "slurmm"));
    const char *e = mf_registry_error(r);
    assert_non_null(strstr(e, "no compute plugin named 'slurmm'"));
    assert_non_null(strstr(e, "known compute plugins: abigood;"));
    assert_non_null(strstr(e, case_dir));
    assert_non_null(strstr(e, "mflow_compute_slurmm.so"));
    assert_non_null(strstr(e, "MFLOW_PLUGIN_PATH"));
    assert_null(mf_registry_find(r, MF_PLUGIN_SCHEDULER, "cron"));
    assert_non_null(strstr(mf_registry_error(r), "known scheduler plugins: none"));

    assert_null(mf_registry_find(r, MF_PLUGIN_COMPUTE, "../evil"));
    assert_non_null(strstr(mf_registry_error(r), "'../evil' is not a valid compute plugin name"));
    assert_null(mf_registry_find(r, MF_PLUGIN_COMPUTE, NULL));
    assert_null(mf_registry_find(r, 9, "abigood"));
    assert_non_null(strstr(mf_registry_error(r), "unknown plugin kind 9"));
    assert_null(mf_registry_find(NULL, MF_PLUGIN_COMPUTE, "abigood"));
    mf_registry_destroy(r);
}

static void test_same_file_once(void **state)
{
    char good[PATH_MAX * 2];
    FMT(good, "%s", place("mflow_compute_abigood.so"));
    /* reached again through a nested search directory and through a symlink */
    char sub[PATH_MAX * 2], link[PATH_MAX * 3];
    FMT(sub, "%s/sub", case_dir);
    assert_int_equal(mkdir(sub, 0755), 0);
    FMT(link, "%s/link.so", sub);
    assert_int_equal(symlink(good, link), 0);
    mf_registry *r = registry_on_case_dir();
    assert_int_equal(mf_registry_add_dir(r, sub), 0);
    assert_int_equal(mf_registry_load_all(r), 0);
    assert_int_equal(mf_registry_count(r), 1);
    assert_true(mf_registry_at(r, 0)->loaded);
    /* loading again finds nothing new */
    assert_int_equal(mf_registry_load_all(r), 0);
    assert_int_equal(mf_registry_count(r), 1);
    mf_registry_destroy(r);
}

static void test_depth(void **state)
{
    place_in("a/b/c", "mflow_compute_abigood.so");
    place_in("a/b/c/d", "mflow_storage_abigood.so");
    place_in(".hidden", "mflow_scheduler_abigood.so");
    mf_registry *r = registry_on_case_dir();
    assert_int_equal(mf_registry_load_all(r), 0);
    assert_int_equal(mf_registry_count(r), 1);
    assert_int_equal(mf_registry_at(r, 0)->kind, MF_PLUGIN_COMPUTE);
    mf_registry_destroy(r);
}

int main(void)
{
    char tmpl[] = "/tmp/mflow-test-loader-XXXXXX";
    if (!mkdtemp(tmpl)) {
        fprintf(stderr, "mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    /* the registry reports real paths; compare against real paths */
    if (!realpath(tmpl, tmp_root)) {
        fprintf(stderr, "realpath %s: %s\n", tmpl, strerror(errno));
        return 1;
    }
    if (snprintf(fixtures, sizeof fixtures, "%s/fixtures", tmp_root) >= (int)sizeof fixtures)
        return 1;
    int rc = mkdir(fixtures, 0755) ? 1 : build_fixtures();
    if (rc == 0) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_kind_names),
            cmocka_unit_test(test_create_destroy),
            cmocka_unit_test_setup(test_add_dir, case_setup),
            cmocka_unit_test(test_default_dirs),
            cmocka_unit_test_setup(test_good_plugins_load_without_init, case_setup),
            cmocka_unit_test_setup(test_refusals, case_setup),
            cmocka_unit_test_setup(test_sizes_quoted, case_setup),
            cmocka_unit_test_setup(test_not_a_shared_object, case_setup),
            cmocka_unit_test_setup(test_duplicate, case_setup),
            cmocka_unit_test_setup(test_find_loads_only_the_conventional_file, case_setup),
            cmocka_unit_test_setup(test_find_falls_back_to_all, case_setup),
            cmocka_unit_test_setup(test_find_unknown, case_setup),
            cmocka_unit_test_setup(test_same_file_once, case_setup),
            cmocka_unit_test_setup(test_depth, case_setup),
        };
        rc = cmocka_run_group_tests(tests, NULL, NULL);
    }
    nftw(tmp_root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return rc;
}
