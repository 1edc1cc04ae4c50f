/* Plugin discovery and loading (see loader.h). Every libltdl call of mflow lives here.
 *
 * A plugin file is opened with local symbols, its one entry symbol is called with the host
 * table, and the descriptor it returns is checked field by field against the 1.0 sizes
 * before anything else of it is read. A refused file is closed again and only its message
 * is kept; a refusal never stops the other files from loading. Loading does not call init:
 * creating an instance is the caller's business. */
#include "loader.h"

#include "envrec.h"

#include "mflow-build.h"
#include "util.h"

#include <ltdl.h>

#include <dirent.h>
#include <elf.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* Files found this deep below a search directory are loaded: the build tree keeps plugins in
 * plugins/<kind>/<name>/, an installed tree keeps them flat. */
#define MAX_DEPTH 3
/* Entry symbols of later ABI majors we look for to explain a refusal. */
#define MAX_OTHER_MAJOR 9

struct plugin {
    struct mf_plugin_info info; /* points at the owned strings below */
    char *path, *name, *version, *description, *error;
    char *warning;              /* a loaded plugin that exports more than its entry */
    lt_dlhandle handle;         /* NULL when refused */
    dev_t dev;                  /* the same file reached twice is loaded once */
    ino_t ino;
};

struct mf_registry {
    const struct mf_host_api *host;
    char **dirs;
    size_t n_dirs;
    struct plugin **plugins;
    size_t n_plugins;
    int scanned_all;
    char *error;
};

const char *mf_plugin_kind_name(uint32_t kind)
{
    switch (kind) {
    case MF_PLUGIN_COMPUTE: return "compute";
    case MF_PLUGIN_STORAGE: return "storage";
    case MF_PLUGIN_SCHEDULER: return "scheduler";
    default: return "unknown";
    }
}

/* The smallest operations table of ABI 1.0 for a kind; 0 for an unknown kind. */
static size_t ops_min_size(uint32_t kind)
{
    switch (kind) {
    case MF_PLUGIN_COMPUTE: return MF_COMPUTE_OPS_V1_0_SIZE;
    case MF_PLUGIN_STORAGE: return MF_STORAGE_OPS_V1_0_SIZE;
    case MF_PLUGIN_SCHEDULER: return MF_SCHEDULER_OPS_V1_0_SIZE;
    default: return 0;
    }
}

/* The operations a kind cannot do without: the core calls them without looking. The others
 * are optional (plugin.h says what the host does when they are NULL): compute submit_batch,
 * logs, check and describe; storage get_file, the batch forms, root, the streaming writer and
 * schemes. */
struct op_name {
    size_t off;
    const char *name;
};
#define OP(type, field) {offsetof(struct type, field), #field}
static const struct op_name compute_required[] = {
    OP(mf_compute_ops, submit), OP(mf_compute_ops, poll), OP(mf_compute_ops, wait),
    OP(mf_compute_ops, cancel), OP(mf_compute_ops, release), OP(mf_compute_ops, last_error),
};
static const struct op_name storage_required[] = {
    OP(mf_storage_ops, put), OP(mf_storage_ops, put_file), OP(mf_storage_ops, get),
    OP(mf_storage_ops, exists), OP(mf_storage_ops, list), OP(mf_storage_ops, del),
    OP(mf_storage_ops, last_error),
};
static const struct op_name scheduler_required[] = {
    OP(mf_scheduler_ops, deploy), OP(mf_scheduler_ops, list), OP(mf_scheduler_ops, remove),
    OP(mf_scheduler_ops, trigger), OP(mf_scheduler_ops, last_error),
};
#undef OP

/* The first required operation of a kind that ops leaves NULL, or NULL when none is. Every
 * required operation lies inside the 1.0 table, whose size was checked before. */
static const char *missing_op(uint32_t kind, const void *ops)
{
    const struct op_name *req;
    size_t n;
    switch (kind) {
    case MF_PLUGIN_COMPUTE:
        req = compute_required, n = sizeof compute_required / sizeof *req;
        break;
    case MF_PLUGIN_STORAGE:
        req = storage_required, n = sizeof storage_required / sizeof *req;
        break;
    case MF_PLUGIN_SCHEDULER:
        req = scheduler_required, n = sizeof scheduler_required / sizeof *req;
        break;
    default:
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        void (*fn)(void);
        memcpy(&fn, (const char *)ops + req[i].off, sizeof fn);
        if (!fn)
            return req[i].name;
    }
    return NULL;
}

/* [a-z0-9_]+: names end up in file names, config keys and environment variables. */
static int valid_name(const char *s)
{
    if (!s || !*s)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return 0;
    return 1;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

static char *xstrdup(const char *s)
{
    return strdup(s ? s : "");
}

static int set_error(mf_registry *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int set_error(mf_registry *r, const char *fmt, ...)
{
    char *msg;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&msg, fmt, ap);
    va_end(ap);
    free(r->error);
    r->error = n < 0 ? NULL : msg;
    return n < 0 ? MF_ENOMEM : 0;
}

/* Record why p is refused. Returns 0, or MF_ENOMEM when even the message cannot be made. */
static int refuse(struct plugin *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int refuse(struct plugin *p, const char *fmt, ...)
{
    char *msg;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&msg, fmt, ap);
    va_end(ap);
    if (n < 0)
        return MF_ENOMEM;
    free(p->error);
    p->error = msg;
    return 0;
}

/* An absolute form of dir without requiring it to exist (MFLOW_PLUGIN_PATH may name a
 * directory that is created later, and ltdl must never see a relative name: it would search
 * its own path for it). */
static char *absolute_dir(const char *dir)
{
    if (dir[0] != '/')
        mf_host_note_cwd();   /* what was found here holds only for this directory */
    char *real = realpath(dir, NULL);
    if (real || errno == ENOMEM)
        return real;
    if (dir[0] == '/')
        return strdup(dir);
    char cwd[PATH_MAX];
    char *out;
    if (!getcwd(cwd, sizeof cwd) || asprintf(&out, "%s/%s", cwd, dir) < 0)
        return strdup(dir);
    return out;
}

int mf_registry_create(const struct mf_host_api *host, mf_registry **out)
{
    if (!out)
        return MF_EINVAL;
    *out = NULL;
    mf_registry *r = calloc(1, sizeof *r);
    if (!r)
        return MF_ENOMEM;
    /* lt_dlinit counts its callers; each registry holds one reference. */
    if (lt_dlinit() != 0) {
        free(r);
        return MF_EFAIL;
    }
    r->host = host;
    *out = r;
    return 0;
}

static void plugin_free(struct plugin *p)
{
    if (!p)
        return;
    if (p->handle)
        lt_dlclose(p->handle);
    free(p->path);
    free(p->name);
    free(p->version);
    free(p->description);
    free(p->error);
    free(p->warning);
    free(p);
}

void mf_registry_destroy(mf_registry *r)
{
    if (!r)
        return;
    /* Close in reverse order of loading. */
    for (size_t i = r->n_plugins; i-- > 0;)
        plugin_free(r->plugins[i]);
    free(r->plugins);
    for (size_t i = 0; i < r->n_dirs; i++)
        free(r->dirs[i]);
    free(r->dirs);
    free(r->error);
    free(r);
    lt_dlexit();
}

int mf_registry_add_dir(mf_registry *r, const char *dir)
{
    if (!r || !dir || !*dir)
        return MF_EINVAL;
    char *abs = absolute_dir(dir);
    if (!abs)
        return MF_ENOMEM;
    for (size_t i = 0; i < r->n_dirs; i++) {
        if (!strcmp(r->dirs[i], abs)) {
            free(abs);
            return 0;
        }
    }
    char **grown = realloc(r->dirs, (r->n_dirs + 1) * sizeof *grown);
    if (!grown) {
        free(abs);
        return MF_ENOMEM;
    }
    r->dirs = grown;
    r->dirs[r->n_dirs++] = abs;
    /* A new directory may hold plugins a previous full scan did not see. */
    r->scanned_all = 0;
    return 0;
}

/* True when the running executable lies inside the build tree, so that a developer's
 * build uses its own fresh plugins rather than an older installed set. */
static int running_from_build_tree(void)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return mf_running_from_build_tree();
    exe[n] = '\0';
    char *root = realpath(MF_BUILD_ROOT, NULL);
    const char *cmp = root ? root : MF_BUILD_ROOT;
    size_t len = strlen(cmp);
    int inside = !strncmp(exe, cmp, len) && exe[len] == '/';
    free(root);
    /* or a program that loaded the build tree's libmflow.so (the Python SDK's python3) */
    return inside || mf_running_from_build_tree();
}

int mf_registry_add_default_dirs(mf_registry *r)
{
    if (!r)
        return MF_EINVAL;
    int rc = mf_registry_add_dir(r, running_from_build_tree() ? MF_BUILD_ROOT "/plugins"
                                                                : MF_PLUGINDIR);
    if (rc)
        return rc;
    const char *env = mf_host_getenv("MFLOW_PLUGIN_PATH");
    if (!env)
        return 0;
    char *copy = strdup(env);
    if (!copy)
        return MF_ENOMEM;
    char *save = NULL;
    for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        rc = mf_registry_add_dir(r, d);
        if (rc)
            break;
    }
    free(copy);
    return rc;
}

size_t mf_registry_dir_count(const mf_registry *r)
{
    return r ? r->n_dirs : 0;
}

const char *mf_registry_dir(const mf_registry *r, size_t i)
{
    return r && i < r->n_dirs ? r->dirs[i] : NULL;
}

size_t mf_registry_count(const mf_registry *r)
{
    return r ? r->n_plugins : 0;
}

const struct mf_plugin_info *mf_registry_at(const mf_registry *r, size_t i)
{
    return r && i < r->n_plugins ? &r->plugins[i]->info : NULL;
}

const char *mf_registry_error(const mf_registry *r)
{
    return r && r->error ? r->error : "";
}

/* Until the descriptor says otherwise, take kind and name from mflow_<kind>_<name>.so, so
 * that a refused file is still listed (and found by mf_registry_find) under a useful name. */
static int guess_from_file_name(struct plugin *p)
{
    const char *base = strrchr(p->path, '/');
    base = base ? base + 1 : p->path;
    size_t len = strlen(base) - strlen(".so");
    const char *name = base;
    if (!strncmp(base, "mflow_", 6)) {
        for (uint32_t k = MF_PLUGIN_COMPUTE; k <= MF_PLUGIN_SCHEDULER; k++) {
            const char *kn = mf_plugin_kind_name(k);
            size_t kl = strlen(kn);
            if (!strncmp(base + 6, kn, kl) && base[6 + kl] == '_') {
                p->info.kind = k;
                name = base + 6 + kl + 1;
                break;
            }
        }
    }
    p->name = strndup(name, len - (size_t)(name - base));
    return p->name ? 0 : MF_ENOMEM;
}

/* The real reason a file does not open. ltdl reports "file not found" for every failure
 * (an ELF header it cannot read, a missing library, a PIE executable), so ask its dlopen
 * loader directly, which keeps the system loader's own words. */
static char *open_failure_reason(const char *path, lt_dladvise advise)
{
    const char *fallback = lt_dlerror();
    char *reason = xstrdup(fallback ? fallback : "unknown error");
    const lt_dlvtable *vt = lt_dlloader_find("lt_dlopen");
    if (!vt || !vt->module_open)
        return reason;
    lt_module m = vt->module_open(vt->dlloader_data, path, advise);
    if (m) {
        /* Opens this way but not through ltdl: keep ltdl's words. */
        if (vt->module_close)
            vt->module_close(vt->dlloader_data, m);
        return reason;
    }
    const char *why = lt_dlerror();
    if (why && *why) {
        free(reason);
        /* dlerror() starts with the path again; the caller already names the file. */
        size_t plen = strlen(path);
        if (!strncmp(why, path, plen) && !strncmp(why + plen, ": ", 2))
            why += plen + 2;
        reason = xstrdup(why);
    }
    return reason;
}

/* Why a plugin without mf_plugin_entry_v1 is refused: name the other major's entry when it
 * has one, since that is the usual reason. */
static int refuse_no_entry(struct plugin *p)
{
    for (int major = MF_PLUGIN_ABI_MAJOR + 1; major <= MAX_OTHER_MAJOR; major++) {
        char sym[64];
        snprintf(sym, sizeof sym, "mf_plugin_entry_v%d", major);
        if (lt_dlsym(p->handle, sym)) {
            p->info.abi_major = (uint32_t)major;
            return refuse(p,
                          "%s: exports %s instead of %s: it is built for plugin ABI %d, this "
                          "mflow speaks %d.%d; rebuild it against mflow %s's SDK",
                          p->path, sym, MF_PLUGIN_ENTRY_SYMBOL, major, MF_PLUGIN_ABI_MAJOR,
                          MF_PLUGIN_ABI_MINOR, MF_VERSION);
        }
    }
    return refuse(p,
                  "%s: has no entry symbol %s (a plugin for another ABI major would export "
                  "mf_plugin_entry_vN; this one exports none), so it is not an mflow plugin; "
                  "export %s with MF_PLUGIN_EXPORT as the SDK's plugin template does",
                  p->path, MF_PLUGIN_ENTRY_SYMBOL, MF_PLUGIN_ENTRY_SYMBOL);
}

/* Check a descriptor, reading only what its struct_size covers. Fills p's info from it.
 * Returns 0 whether accepted or refused (p->error says which), or MF_ENOMEM. */
static int check_desc(mf_registry *r, struct plugin *p, const struct mf_plugin_desc *d)
{
    if (!d)
        return refuse(p,
                      "%s: %s returned no descriptor (the plugin declined to load; its log "
                      "messages above may say why)",
                      p->path, MF_PLUGIN_ENTRY_SYMBOL);
    /* Every major keeps struct_size, abi_major and abi_minor first. */
    if (d->struct_size < offsetof(struct mf_plugin_desc, kind))
        return refuse(p,
                      "%s: its descriptor is %u bytes, too small to hold even the ABI version; "
                      "rebuild it against mflow %s's SDK",
                      p->path, d->struct_size, MF_VERSION);
    p->info.abi_major = d->abi_major;
    p->info.abi_minor = d->abi_minor;
    if (d->abi_major != MF_PLUGIN_ABI_MAJOR)
        return refuse(p, "%s: built for plugin ABI %u.%u, this mflow speaks %d.%d; rebuild it "
                         "against mflow %s's SDK",
                      p->path, d->abi_major, d->abi_minor, MF_PLUGIN_ABI_MAJOR,
                      MF_PLUGIN_ABI_MINOR, MF_VERSION);
    if (d->struct_size < MF_PLUGIN_DESC_V1_0_SIZE)
        return refuse(p,
                      "%s: its descriptor is %u bytes, smaller than the %zu bytes of plugin "
                      "ABI 1.0 (it claims ABI %u.%u, this mflow speaks %d.%d); rebuild it "
                      "against mflow %s's SDK",
                      p->path, d->struct_size, (size_t)MF_PLUGIN_DESC_V1_0_SIZE, d->abi_major,
                      d->abi_minor, MF_PLUGIN_ABI_MAJOR, MF_PLUGIN_ABI_MINOR, MF_VERSION);

    /* From here on the whole 1.0 descriptor may be read. */
    if (d->version && !(p->version = xstrdup(d->version)))
        return MF_ENOMEM;
    if (d->description && !(p->description = xstrdup(d->description)))
        return MF_ENOMEM;
    if (!ops_min_size(d->kind))
        return refuse(p,
                      "%s: plugin kind %u is unknown to this mflow (plugin ABI %d.%d knows "
                      "compute, storage and scheduler); it needs a newer mflow",
                      p->path, d->kind, MF_PLUGIN_ABI_MAJOR, MF_PLUGIN_ABI_MINOR);
    p->info.kind = d->kind;
    const char *kind = mf_plugin_kind_name(d->kind);
    if (!d->name)
        return refuse(p, "%s: the %s plugin has no name; set .name in its descriptor "
                         "(lower-case letters, digits and '_')",
                      p->path, kind);
    if (!valid_name(d->name))
        return refuse(p,
                      "%s: plugin name '%.64s' is not valid: use only lower-case letters, "
                      "digits and '_' (it becomes part of file names and settings)",
                      p->path, d->name);
    free(p->name);
    if (!(p->name = xstrdup(d->name)))
        return MF_ENOMEM;
    if (!d->ops)
        return refuse(p, "%s: %s plugin '%s' has no operations table (ops is NULL)", p->path,
                      kind, d->name);
    /* Every ops table starts with its uint32_t struct_size. */
    uint32_t ops_size = *(const uint32_t *)d->ops;
    if (ops_size < ops_min_size(d->kind))
        return refuse(p,
                      "%s: %s plugin '%s': its operations table is %u bytes, smaller than the "
                      "%zu bytes of plugin ABI 1.0 (it claims ABI %u.%u, this mflow speaks "
                      "%d.%d); rebuild it against mflow %s's SDK",
                      p->path, kind, d->name, ops_size, ops_min_size(d->kind), d->abi_major,
                      d->abi_minor, MF_PLUGIN_ABI_MAJOR, MF_PLUGIN_ABI_MINOR, MF_VERSION);
    const char *missing = missing_op(d->kind, d->ops);
    if (missing)
        return refuse(p,
                      "%s: %s plugin '%s' leaves the required operation '%s' NULL in its "
                      "operations table; implement it (only the operations plugin.h marks "
                      "optional may be NULL)",
                      p->path, kind, d->name, missing);
    if (!d->init || !d->fini)
        return refuse(p, "%s: %s plugin '%s' has no %s function; both init and fini are "
                         "required",
                      p->path, kind, d->name, !d->init ? "init" : "fini");
    if (d->n_options && !d->options)
        return refuse(p, "%s: %s plugin '%s' declares %u options but no option table",
                      p->path, kind, d->name, d->n_options);
    for (size_t i = 0; i < r->n_plugins; i++) {
        const struct plugin *o = r->plugins[i];
        if (o->info.loaded && o->info.kind == d->kind && !strcmp(o->name, d->name))
            return refuse(p,
                          "%s: a %s plugin named '%s' is already loaded from %s; this one is "
                          "refused (remove or rename one of them)",
                          p->path, kind, d->name, o->path);
    }
    p->info.loaded = 1;
    p->info.desc = d;
    return 0;
}

static int by_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The symbols a 64-bit ELF file defines for others, beside the entry, sorted: functions and
 * data of global or weak binding in its dynamic symbol table. "" when none (or not a 64-bit
 * ELF file: it loaded, so this check has nothing to say); NULL when out of memory. A plugin's
 * helpers that leak out can collide with the host's or another plugin's; -fvisibility=hidden
 * and MF_PLUGIN_EXPORT on the entry alone keep them in. */
static char *extra_exports(const char *path)
{
    char *list = NULL;
    size_t len = 0;
    const char *shown[8];
    FILE *f = open_memstream(&list, &len);
    if (!f)
        return NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    void *map = MAP_FAILED;
    if (fd >= 0 && fstat(fd, &st) == 0 && st.st_size >= (off_t)sizeof(Elf64_Ehdr))
        map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (fd >= 0)
        close(fd);
    if (map != MAP_FAILED) {
        const unsigned char *b = map;
        size_t size = (size_t)st.st_size;
        const Elf64_Ehdr *eh = map;
        int n = 0;
        if (!memcmp(eh->e_ident, ELFMAG, SELFMAG) && eh->e_ident[EI_CLASS] == ELFCLASS64 &&
            eh->e_shentsize == sizeof(Elf64_Shdr) && eh->e_shoff < size &&
            eh->e_shnum <= (size - eh->e_shoff) / sizeof(Elf64_Shdr)) {
            const Elf64_Shdr *sh = (const Elf64_Shdr *)(b + eh->e_shoff);
            for (size_t i = 0; i < eh->e_shnum; i++) {
                if (sh[i].sh_type != SHT_DYNSYM || sh[i].sh_link >= eh->e_shnum)
                    continue;
                const Elf64_Shdr *str = &sh[sh[i].sh_link];
                if (sh[i].sh_offset > size || sh[i].sh_size > size - sh[i].sh_offset ||
                    str->sh_offset > size || str->sh_size > size - str->sh_offset)
                    break;
                const Elf64_Sym *sym = (const Elf64_Sym *)(b + sh[i].sh_offset);
                size_t count = sh[i].sh_size / sizeof *sym;
                const char *names = (const char *)(b + str->sh_offset);
                for (size_t j = 0; j < count; j++) {
                    int bind = ELF64_ST_BIND(sym[j].st_info), type = ELF64_ST_TYPE(sym[j].st_info);
                    if (sym[j].st_shndx == SHN_UNDEF || sym[j].st_name >= str->sh_size ||
                        (bind != STB_GLOBAL && bind != STB_WEAK) ||
                        (type != STT_FUNC && type != STT_OBJECT && type != STT_TLS &&
                         type != STT_GNU_IFUNC) ||
                        ELF64_ST_VISIBILITY(sym[j].st_other) != STV_DEFAULT)
                        continue;
                    const char *nm = names + sym[j].st_name;
                    /* Symbols a sanitizer's instrumentation adds (__odr_asan.X beside each
                     * global X) are not the author's. */
                    if (!memchr(nm, 0, str->sh_size - sym[j].st_name) ||
                        !strcmp(nm, MF_PLUGIN_ENTRY_SYMBOL) || !strncmp(nm, "__odr_asan", 10) ||
                        !strncmp(nm, "__asan_", 7) || !strncmp(nm, "__ubsan_", 8) ||
                        !strncmp(nm, "__sancov_", 9))
                        continue;
                    if (n < 8)
                        shown[n] = nm;
                    n++;
                }
                break;
            }
        }
        qsort(shown, n < 8 ? (size_t)n : 8, sizeof *shown, by_str);
        for (int i = 0; i < n && i < 8; i++)
            fprintf(f, "%s%s", i ? ", " : "", shown[i]);
        if (n > 8)
            fprintf(f, " and %d more", n - 8);
        munmap(map, size);
    }
    if (fclose(f)) {
        free(list);
        return NULL;
    }
    return list;
}

/* A loaded plugin exporting more than its entry: keep a warning for `mflow plugins` and log it
 * once. Processes started from this one (tasks) inherit MFLOW_PLUGIN_WARNED and stay quiet
 * about the same file. */
static int warn_exports(mf_registry *r, struct plugin *p)
{
    char *extra = extra_exports(p->path);
    if (!extra)
        return MF_ENOMEM;
    if (*extra &&
        asprintf(&p->warning,
                 "%s exports %s beside %s; make them static, or build with "
                 "-fvisibility=hidden and mark only the entry MF_PLUGIN_EXPORT (they may "
                 "collide with the symbols of mflow or of other plugins)",
                 p->path, extra, MF_PLUGIN_ENTRY_SYMBOL) < 0) {
        p->warning = NULL;
        free(extra);
        return MF_ENOMEM;
    }
    free(extra);
    if (!p->warning)
        return 0;
    const char *warned = mf_host_getenv("MFLOW_PLUGIN_WARNED");
    size_t pl = strlen(p->path);
    for (const char *w = warned; w && *w;) {
        const char *e = strchr(w, ':');
        size_t n = e ? (size_t)(e - w) : strlen(w);
        if (n == pl && !strncmp(w, p->path, n))
            return 0;
        w += n + (e ? 1 : 0);
    }
    if (r->host && r->host->log)
        r->host->log(MF_LOG_WARN, p->name, "%s", p->warning);
    char *now = NULL;
    if (asprintf(&now, "%s%s%s", warned && *warned ? warned : "", warned && *warned ? ":" : "",
                 p->path) >= 0) {
        mf_host_setenv("MFLOW_PLUGIN_WARNED", now);
        free(now);
    }
    return 0;
}

/* Open one file and record the outcome (loaded or refused). *out is its record, which is
 * the existing one when the file was seen before. */
static int load_file(mf_registry *r, const char *path, const struct stat *st,
                     struct plugin **out)
{
    *out = NULL;
    for (size_t i = 0; i < r->n_plugins; i++) {
        if (r->plugins[i]->dev == st->st_dev && r->plugins[i]->ino == st->st_ino) {
            *out = r->plugins[i];
            return 0;
        }
    }
    struct plugin **grown = realloc(r->plugins, (r->n_plugins + 1) * sizeof *grown);
    if (!grown)
        return MF_ENOMEM;
    r->plugins = grown;
    struct plugin *p = calloc(1, sizeof *p);
    if (!p)
        return MF_ENOMEM;
    p->dev = st->st_dev;
    p->ino = st->st_ino;
    int rc = MF_ENOMEM;
    if (!(p->path = strdup(path)) || guess_from_file_name(p))
        goto fail;

    /* Local symbols: two plugins may define the same helper names without clashing. */
    lt_dladvise advise;
    if (lt_dladvise_init(&advise))
        goto fail;
    lt_dladvise_local(&advise);
    p->handle = lt_dlopenadvise(path, advise);
    if (!p->handle) {
        char *why = open_failure_reason(path, advise);
        rc = why ? refuse(p,
                          "%s is not a loadable shared object: %s (every *.so in a plugin "
                          "directory must be an mflow plugin)",
                          path, why)
                 : MF_ENOMEM;
        free(why);
    } else {
        void *sym = lt_dlsym(p->handle, MF_PLUGIN_ENTRY_SYMBOL);
        if (!sym) {
            rc = refuse_no_entry(p);
        } else {
            mf_plugin_entry_fn entry = (mf_plugin_entry_fn)sym;
            rc = check_desc(r, p, entry(r->host));
        }
    }
    lt_dladvise_destroy(&advise);
    if (!rc && p->info.loaded)
        rc = warn_exports(r, p);
    if (rc)
        goto fail;

    if (!p->info.loaded && p->handle) {
        /* Nothing of a refused plugin is used again, so do not keep it mapped. */
        lt_dlclose(p->handle);
        p->handle = NULL;
    }
    if ((!p->version && !(p->version = xstrdup(""))) ||
        (!p->description && !(p->description = xstrdup(""))))
        goto fail;
    p->info.path = p->path;
    p->info.name = p->name;
    p->info.version = p->version;
    p->info.description = p->description;
    p->info.error = p->error;
    p->info.warning = p->warning;
    r->plugins[r->n_plugins++] = p;
    *out = p;
    return 0;
fail:
    plugin_free(p);
    return rc;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    /* Byte order, not the locale's: which of two duplicates wins must not depend on LANG. */
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int scan_dir(mf_registry *r, const char *dir, int depth)
{
    struct dirent **ents;
    int n = scandir(dir, &ents, NULL, by_name);
    if (n < 0)
        return errno == ENOMEM ? MF_ENOMEM : 0; /* a missing directory holds no plugins */
    int rc = 0;
    for (int i = 0; i < n; i++) {
        const char *name = ents[i]->d_name;
        char *path = NULL;
        struct stat st;
        if (!rc && name[0] != '.') {
            if (asprintf(&path, "%s/%s", dir, name) < 0) {
                path = NULL;
                rc = MF_ENOMEM;
            } else if (stat(path, &st) == 0) {
                struct plugin *p;
                if (S_ISDIR(st.st_mode) && depth < MAX_DEPTH)
                    rc = scan_dir(r, path, depth + 1);
                else if (S_ISREG(st.st_mode) && ends_with(name, ".so"))
                    rc = load_file(r, path, &st, &p);
            }
        }
        free(path);
        free(ents[i]);
    }
    free(ents);
    return rc;
}

int mf_registry_load_all(mf_registry *r)
{
    if (!r)
        return MF_EINVAL;
    for (size_t i = 0; i < r->n_dirs; i++) {
        int rc = scan_dir(r, r->dirs[i], 0);
        if (rc)
            return rc;
    }
    r->scanned_all = 1;
    return 0;
}

static struct plugin *lookup(const mf_registry *r, uint32_t kind, const char *name, int loaded)
{
    for (size_t i = 0; i < r->n_plugins; i++) {
        struct plugin *p = r->plugins[i];
        if (p->info.loaded == loaded && p->info.kind == kind && !strcmp(p->name, name))
            return p;
    }
    return NULL;
}

/* Load the file a plugin of that kind and name would conventionally have, if it exists. */
static int load_conventional(mf_registry *r, const char *dir, uint32_t kind, const char *name)
{
    const char *kn = mf_plugin_kind_name(kind);
    char *paths[2] = {NULL, NULL};
    /* Installed trees are flat; the build tree keeps plugins/<kind>/<name>/. */
    if (asprintf(&paths[0], "%s/mflow_%s_%s.so", dir, kn, name) < 0)
        return MF_ENOMEM;
    if (asprintf(&paths[1], "%s/%s/%s/mflow_%s_%s.so", dir, kn, name, kn, name) < 0) {
        free(paths[0]);
        return MF_ENOMEM;
    }
    int rc = 0;
    for (int i = 0; i < 2 && !rc; i++) {
        struct stat st;
        struct plugin *p;
        if (stat(paths[i], &st) == 0 && S_ISREG(st.st_mode))
            rc = load_file(r, paths[i], &st, &p);
    }
    free(paths[0]);
    free(paths[1]);
    return rc;
}

/* "local, s3" for the loaded plugins of a kind, or "none". */
static char *known_names(const mf_registry *r, uint32_t kind)
{
    char *list = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&list, &len);
    if (!f)
        return NULL;
    int n = 0;
    for (size_t i = 0; i < r->n_plugins; i++) {
        const struct plugin *p = r->plugins[i];
        if (p->info.loaded && p->info.kind == kind)
            fprintf(f, "%s%s", n++ ? ", " : "", p->name);
    }
    if (!n)
        fputs("none", f);
    if (fclose(f)) {
        free(list);
        return NULL;
    }
    return list;
}

static char *searched_dirs(const mf_registry *r)
{
    char *list = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&list, &len);
    if (!f)
        return NULL;
    for (size_t i = 0; i < r->n_dirs; i++) {
        struct stat st;
        int missing = stat(r->dirs[i], &st) != 0 || !S_ISDIR(st.st_mode);
        fprintf(f, "%s%s%s", i ? ", " : "", r->dirs[i], missing ? " (missing)" : "");
    }
    if (!r->n_dirs)
        fputs("no directories", f);
    if (fclose(f)) {
        free(list);
        return NULL;
    }
    return list;
}

const struct mf_plugin_desc *mf_registry_find(mf_registry *r, uint32_t kind, const char *name)
{
    if (!r)
        return NULL;
    const char *kn = mf_plugin_kind_name(kind);
    if (!ops_min_size(kind)) {
        set_error(r, "unknown plugin kind %u (use compute, storage or scheduler)", kind);
        return NULL;
    }
    if (!valid_name(name)) {
        set_error(r, "'%s' is not a valid %s plugin name: plugin names use only lower-case "
                     "letters, digits and '_'",
                  name ? name : "", kn);
        return NULL;
    }
    struct plugin *p = lookup(r, kind, name, 1);
    for (size_t i = 0; !p && i < r->n_dirs; i++) {
        if (load_conventional(r, r->dirs[i], kind, name)) {
            set_error(r, "out of memory while loading the %s plugin '%s'", kn, name);
            return NULL;
        }
        p = lookup(r, kind, name, 1);
    }
    if (!p && !r->scanned_all) {
        if (mf_registry_load_all(r)) {
            set_error(r, "out of memory while loading the %s plugin '%s'", kn, name);
            return NULL;
        }
        p = lookup(r, kind, name, 1);
    }
    if (p)
        return p->info.desc;

    struct plugin *refused = lookup(r, kind, name, 0);
    if (refused) {
        set_error(r, "%s plugin '%s' cannot be used: %s", kn, name, refused->error);
        return NULL;
    }
    char *known = known_names(r, kind);
    char *dirs = searched_dirs(r);
    if (!known || !dirs) {
        set_error(r, "no %s plugin named '%s'", kn, name);
    } else {
        set_error(r,
                  "no %s plugin named '%s' (known %s plugins: %s; searched %s); to add one, "
                  "put mflow_%s_%s.so in a directory listed in MFLOW_PLUGIN_PATH "
                  "(':'-separated), and see `mflow plugins`",
                  kn, name, kn, known, dirs, kn, name);
    }
    free(known);
    free(dirs);
    return NULL;
}

/* The schemes a loaded storage plugin lists, or NULL (a table older than 1.3, or none). */
static const char *const *schemes_of(const struct plugin *p)
{
    if (!p->info.loaded || p->info.kind != MF_PLUGIN_STORAGE)
        return NULL;
    const struct mf_storage_ops *ops = p->info.desc->ops;
    return MF_HAS_FIELD(ops, schemes) ? ops->schemes : NULL;
}

static int lists_scheme(const struct plugin *p, const char *scheme, size_t len)
{
    const char *const *s = schemes_of(p);
    for (size_t i = 0; s && s[i] && i < 64; i++)
        if (strlen(s[i]) == len && !strncasecmp(s[i], scheme, len))
            return 1;
    return 0;
}

/* "local (file), s3 (s3), memory (no schemes)" for the loaded storage plugins. */
static char *storage_schemes(const mf_registry *r)
{
    char *list = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&list, &len);
    if (!f)
        return NULL;
    int n = 0;
    for (size_t i = 0; i < r->n_plugins; i++) {
        const struct plugin *p = r->plugins[i];
        if (!p->info.loaded || p->info.kind != MF_PLUGIN_STORAGE)
            continue;
        fprintf(f, "%s%s (", n++ ? ", " : "", p->name);
        const char *const *s = schemes_of(p);
        size_t j = 0;
        for (; s && s[j] && j < 64; j++)
            fprintf(f, "%s%s://", j ? ", " : "", s[j]);
        fputs(j ? ")" : "no schemes)", f);
    }
    if (!n)
        fputs("none", f);
    if (fclose(f)) {
        free(list);
        return NULL;
    }
    return list;
}

int mf_registry_find_scheme(mf_registry *r, const char *root, const struct mf_plugin_desc **out)
{
    if (!r || !root || !out)
        return MF_EINVAL;
    *out = NULL;
    const char *sep = strstr(root, "://");
    size_t len = sep ? (size_t)(sep - root) : 0;
    if (!len) {
        set_error(r, "datastore root '%s' has no scheme (SCHEME://...)", root);
        return MF_EINVAL;
    }
    /* Which plugin claims a scheme can only be known from all of them. */
    if (!r->scanned_all && mf_registry_load_all(r)) {
        set_error(r, "out of memory while loading the storage plugins");
        return MF_ENOMEM;
    }
    const struct plugin *found = NULL;
    for (size_t i = 0; i < r->n_plugins; i++) {
        const struct plugin *p = r->plugins[i];
        if (!lists_scheme(p, root, len))
            continue;
        if (found) {
            set_error(r,
                      "two storage plugins serve %.*s:// roots: '%s' (%s) and '%s' (%s); "
                      "choose one with --storage=NAME (or MFLOW_STORAGE), or remove one of "
                      "them from the plugin path",
                      (int)len, root, found->name, found->path, p->name, p->path);
            return MF_EINVAL;
        }
        found = p;
    }
    if (found) {
        *out = found->info.desc;
        return 0;
    }
    char *known = storage_schemes(r);
    char *dirs = searched_dirs(r);
    set_error(r,
              "no storage plugin serves %.*s:// roots like '%s' (storage plugins found: %s; "
              "searched %s); install the plugin for that scheme in a directory of "
              "MFLOW_PLUGIN_PATH, or name one with --storage=NAME",
              (int)len, root, root, known ? known : "?", dirs ? dirs : "?");
    free(known);
    free(dirs);
    return MF_ENOTFOUND;
}
