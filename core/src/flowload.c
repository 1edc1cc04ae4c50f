/* Compile (cached) and load flows. */
#include "flowload.h"

#include "blob.h"
#include "host.h"
#include "mflow-build.h"
#include "util.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int mf_running_from_build_tree(void)
{
    static int cached = -1;
    if (cached < 0) {
        char exe[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        size_t blen = strlen(MF_BUILD_ROOT);
        cached = n > 0 && (size_t)n > blen && !strncmp(exe, MF_BUILD_ROOT, blen) && exe[blen] == '/';
    }
    return cached;
}

const char *mf_sdk_include_dir(void)
{
    return mf_running_from_build_tree() ? MF_SOURCE_ROOT "/sdk/include" : MF_INCLUDEDIR;
}

static int has_suffix(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

/* Compile src into the cache; *so receives the cached path. */
static int compile_flow(const char *src, char **so, char **err)
{
    char *text = NULL;
    size_t len = 0;
    int rc = mf_read_file(src, &text, &len);
    if (rc) {
        *err = mf_strf("cannot read flow %s: %s", src, strerror(rc));
        return rc;
    }
    const char *cc = getenv("CC");
    if (!cc || !*cc)
        cc = MF_CC;
    const char *inc = mf_sdk_include_dir();
    char *srcdir = strdup(src);
    char *slash = srcdir ? strrchr(srcdir, '/') : NULL;
    if (slash)
        *slash = '\0';
    const char *cflags = "-std=gnu11 -O2 -g -fPIC -shared -fvisibility=hidden";
    /* The key covers everything that changes the object: source, compiler, flags, SDK. */
    struct mf_iov iov[] = {
        {text, len}, {"\0", 1}, {cc, strlen(cc)}, {cflags, strlen(cflags)},
        {inc, strlen(inc)}, {MF_VERSION, strlen(MF_VERSION)}, {srcdir, strlen(srcdir)},
    };
    char hash[MF_BLOB_KEY_LEN + 1];
    mf_sha256_hex(iov, sizeof iov / sizeof iov[0], hash);
    free(text);
    char *dir = mf_strf("%s/cache/flows", mf_host_home());
    *so = mf_strf("%s/%.32s.so", dir, hash);
    if (access(*so, R_OK) == 0) {
        free(dir);
        free(srcdir);
        return 0;
    }
    rc = mf_mkdir_p(dir, MF_PRIVATE_DIR_MODE);
    if (rc) {
        *err = mf_strf("cannot create the flow cache %s: %s", dir, strerror(rc));
        free(dir);
        free(srcdir);
        return rc;
    }
    char *tmp = mf_strf("%s.tmp.%d", *so, (int)getpid());
    char *incflag = mf_strf("-I%s", inc);
    char *srcinc = mf_strf("-I%s", srcdir);
    const char *argv[] = {cc, "-std=gnu11", "-O2", "-g", "-fPIC", "-shared", "-fvisibility=hidden",
                          "-Wall", incflag, srcinc, "-o", tmp, src, "-lm", NULL};
    pid_t pid;
    int status = 0;
    /* Compile in the flow's directory: the object records the compiler's working directory,
     * and the same flow must give the same object (and code package) wherever mflow runs. */
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addchdir_np(&fa, srcdir);
    rc = posix_spawnp(&pid, cc, &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc == 0) {
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            *err = mf_strf("flow %s did not compile (%s exited with %d); fix the errors above", src,
                           cc, WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
            rc = MF_EINVAL;
        } else if (chmod(tmp, 0700) != 0 || rename(tmp, *so) != 0) {
            /* the compiler made it 0755 less the umask: the user's alone, like the cache */
            rc = errno;
            *err = mf_strf("cannot store the compiled flow %s: %s", *so, strerror(rc));
        }
    } else {
        *err = mf_strf("cannot run the C compiler '%s' to build %s: %s (install gcc or set CC)", cc,
                       src, strerror(rc));
    }
    unlink(tmp);
    free(tmp);
    free(incflag);
    free(srcinc);
    free(dir);
    free(srcdir);
    return rc;
}

int mf_flow_open(const char *path, struct mf_flow **out, char **err)
{
    *out = NULL;
    *err = NULL;
    char abs[PATH_MAX];
    if (!realpath(path, abs)) {
        int e = errno;
        *err = mf_strf("flow %s: %s (give the path of a .c or .so flow file)", path, strerror(e));
        return e;
    }
    struct mf_flow *f = calloc(1, sizeof *f);
    if (!f)
        return MF_ENOMEM;
    int rc = 0;
    if (has_suffix(abs, ".so")) {
        f->so_path = strdup(abs);
    } else if (has_suffix(abs, ".c")) {
        f->src_path = strdup(abs);
        rc = compile_flow(abs, &f->so_path, err);
    } else {
        *err = mf_strf("flow %s: not a .c or .so file", path);
        rc = MF_EINVAL;
    }
    if (!rc) {
        f->dl = dlopen(f->so_path, RTLD_NOW | RTLD_LOCAL);
        if (!f->dl) {
            *err = mf_strf("cannot load flow %s: %s", f->so_path, dlerror());
            rc = MF_EINVAL;
        }
    }
    if (!rc) {
        const mf_flow_def *(*entry)(void) =
            (const mf_flow_def *(*)(void))dlsym(f->dl, MF_FLOW_ENTRY_SYMBOL);
        f->def = entry ? entry() : NULL;
        if (!f->def) {
            *err = mf_strf("%s defines no flow: add MF_FLOW(\"Name\", steps, params) at the end",
                           f->src_path ? f->src_path : f->so_path);
            rc = MF_EINVAL;
        } else if (f->def->struct_size < sizeof(mf_flow_def) ||
                   f->def->abi_version != MF_FLOW_ABI_VERSION) {
            *err = mf_strf("%s was built for flow ABI %u, this mflow speaks %d: rebuild it",
                           f->so_path, f->def->abi_version, MF_FLOW_ABI_VERSION);
            rc = MF_EABI;
        }
    }
    if (!rc)
        rc = mf_graph_build(f->def, &f->graph, err);
    if (rc) {
        mf_flow_close(f);
        return rc;
    }
    *out = f;
    return 0;
}

void mf_flow_close(struct mf_flow *f)
{
    if (!f)
        return;
    mf_graph_destroy(f->graph);
    if (f->dl)
        dlclose(f->dl);
    free(f->src_path);
    free(f->so_path);
    free(f);
}
