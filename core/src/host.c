/* Host services for plugins and the settings they read. One host per process. */
#include "host.h"

#include "envrec.h"
#include "mflow-build.h"
#include "util.h"

#include <jansson.h>
#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct host_state {
    int ready;
    char *home, *compute, *storage, *root, *ns, *user;
    char *root_default;      /* $MFLOW_HOME/datastore, made on first use */
    char *served;            /* what the open storage's root() said (mf_host_set_served_root) */
    int chosen;              /* storage or root came from the command line, env or config */
    json_t *config;          /* $MFLOW_HOME/config.json, or NULL */
    mf_registry *reg;
    struct mf_envrec reg_env; /* what reg's set-up read of the environment */
    int reg_inherited;       /* reg is the forgotten parent's: handed back, never destroyed */
    mf_output_fn output;
    /* the datastore of datastore_put/get (the storage plugin), started on first use */
    const struct mf_plugin_desc *ds_desc;
    const struct mf_storage_ops *ds_ops;
    void *ds_state;
} H;

/* What a forked child inherited and forgot (mf_host_forget): held here, not freed, so that
 * the parent's loaded plugins stay mapped for the child (a leak checker sees it in use; `used`
 * keeps the compiler from dropping stores that nothing reads). */
static struct host_state forgotten __attribute__((used));

/* The most verbose level shown without MFLOW_DEBUG (mf_host_set_log_level). */
static int log_level = MF_LOG_INFO;

void mf_host_set_log_level(int level)
{
    log_level = level;
}

static void host_log(int level, const char *name, const char *fmt, ...)
{
    static const char *tags[] = {"error", "warning", "info", "debug"};
    if (level > log_level && !mf_host_getenv("MFLOW_DEBUG"))
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "mflow: %s: %s: ", name ? name : "plugin",
            level >= 0 && level <= 3 ? tags[level] : "log");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static const struct mf_option_def *find_option(const char *plugin, const char *key)
{
    if (!H.reg)
        return NULL;
    size_t n = mf_registry_count(H.reg);
    for (size_t i = 0; i < n; i++) {
        const struct mf_plugin_info *pi = mf_registry_at(H.reg, i);
        if (!pi->loaded || !pi->desc || strcmp(pi->desc->name, plugin) != 0)
            continue;
        /* Step by the size the plugin declares: a newer plugin's option struct may be larger
         * than this host's. */
        const struct mf_option_def *opts = pi->desc->options;
        size_t stride = opts && opts->struct_size >= sizeof *opts ? opts->struct_size : sizeof *opts;
        for (uint32_t j = 0; opts && j < pi->desc->n_options; j++) {
            const struct mf_option_def *o =
                (const struct mf_option_def *)((const char *)opts + (size_t)j * stride);
            if (o->name && !strcmp(o->name, key))
                return o;
        }
    }
    return NULL;
}

const char *mf_host_config(const char *section, const char *key)
{
    if (!H.config)
        return NULL;
    json_t *obj = section ? json_object_get(H.config, section) : H.config;
    json_t *v = obj ? json_object_get(obj, key) : NULL;
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_integer(v) || json_is_real(v) || json_is_boolean(v)) {
        /* Keep a text form beside the value so the pointer lives as long as the config. */
        char name[256];
        snprintf(name, sizeof name, "\x01text:%s", key);
        json_t *t = json_object_get(obj, name);
        if (!t) {
            char buf[64];
            if (json_is_boolean(v))
                snprintf(buf, sizeof buf, "%s", json_is_true(v) ? "true" : "false");
            else if (json_is_integer(v))
                snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
            else
                snprintf(buf, sizeof buf, "%.17g", json_real_value(v));
            json_object_set_new(obj, name, t = json_string(buf));
        }
        return json_string_value(t);
    }
    return NULL;
}

/* Command line, then the option's environment variable, then config.json, then default. */
static const char *host_config_get(const char *plugin, const char *key)
{
    if (!plugin || !key)
        return NULL;
    const struct mf_option_def *opt = find_option(plugin, key);
    /* --datastore-root is the storage plugin's root. */
    if (!strcmp(key, "root") && H.root && (!strcmp(plugin, mf_host_storage())))
        return H.root;
    if (opt && opt->env) {
        const char *e = mf_host_getenv(opt->env);
        if (e && *e)
            return e;
    }
    const char *c = mf_host_config(plugin, key);
    if (c)
        return c;
    return opt ? opt->default_value : NULL;
}

static const char *host_home(void)
{
    return mf_host_home();
}

static void host_task_output(const char *pathspec, int stream, const char *data, size_t len)
{
    if (H.output) {
        H.output(pathspec, stream, data, len);
        return;
    }
    fwrite(data, 1, len, stream == MF_STREAM_STDOUT ? stdout : stderr);
}

static const char *host_datastore_root(void)
{
    return mf_host_run_root();   /* what tasks get: the open store's own root() */
}

static const struct mf_host_api host_api;

/* The configured datastore, for a scheduler plugin's datastore_put/get: opened on first use
 * and closed by mf_host_fini. */
static int host_ds(void)
{
    if (H.ds_desc)
        return 0;
    mf_registry *reg = mf_host_registry();
    const struct mf_plugin_desc *d =
        reg ? mf_registry_find(reg, MF_PLUGIN_STORAGE, mf_host_storage()) : NULL;
    if (!d) {
        host_log(MF_LOG_ERROR, "datastore", "%s",
                 reg ? mf_registry_error(reg) : "out of memory loading plugins");
        return reg ? MF_EUNAVAIL : MF_ENOMEM;
    }
    int rc = d->init(&host_api, &H.ds_state);
    if (rc) {
        host_log(MF_LOG_ERROR, "datastore", "storage plugin '%s' did not start: %s",
                 mf_host_storage(), mf_strerror(rc));
        return rc;
    }
    H.ds_desc = d;
    H.ds_ops = d->ops;
    return 0;
}

static void host_ds_close(void)
{
    if (H.ds_desc)
        H.ds_desc->fini(H.ds_state);
    H.ds_desc = NULL;
    H.ds_ops = NULL;
    H.ds_state = NULL;
}

static int host_datastore_put(const char *key, const void *data, size_t len)
{
    if (!key || !*key || (!data && len))
        return MF_EINVAL;
    int rc = host_ds();
    if (rc)
        return rc;
    struct mf_iov iov = {data, len};
    rc = H.ds_ops->put(H.ds_state, key, &iov, 1, 0);
    if (rc)
        host_log(MF_LOG_ERROR, "datastore", "cannot store %s: %s", key,
                 H.ds_ops->last_error(H.ds_state));
    return rc;
}

static int host_datastore_get(const char *key, struct mf_buf *out)
{
    if (!key || !*key || !out)
        return MF_EINVAL;
    int rc = host_ds();
    return rc ? rc : H.ds_ops->get(H.ds_state, key, out);
}

static const struct mf_host_api host_api = {
    .struct_size = sizeof(struct mf_host_api),
    .abi_major = MF_PLUGIN_ABI_MAJOR,
    .abi_minor = MF_PLUGIN_ABI_MINOR,
    .version = MF_VERSION,
    .log = host_log,
    .config_get = host_config_get,
    .home = host_home,
    .task_output = host_task_output,
    .datastore_put = host_datastore_put,
    .datastore_get = host_datastore_get,
    .datastore_root = host_datastore_root,
};

const struct mf_host_api *mf_host_api(void)
{
    return &host_api;
}

static char *pick(const char *cli, const char *env, const char *cfg_key)
{
    if (cli)
        return strdup(cli);
    const char *e = env ? mf_host_getenv(env) : NULL;
    if (e && *e)
        return strdup(e);
    const char *c = cfg_key ? mf_host_config(NULL, cfg_key) : NULL;
    return c ? strdup(c) : NULL;
}

int mf_host_init(const struct mf_host_opts *o)
{
    static const struct mf_host_opts none;
    if (!o)
        o = &none;
    mf_host_fini();
    const char *home = o->home ? o->home : mf_host_getenv("MFLOW_HOME");
    if (home && *home) {
        /* Absolute, since tasks and the compiler run in other directories. */
        char cwd[4096];
        if (home[0] != '/')
            mf_host_note_cwd();
        if (home[0] != '/' && getcwd(cwd, sizeof cwd))
            H.home = mf_strf("%s/%s", cwd, home);
        else
            H.home = strdup(home);
    } else {
        const char *hd = mf_host_getenv("HOME");
        if (!hd || !*hd) {
            struct passwd *pw = getpwuid(getuid());
            hd = pw ? pw->pw_dir : "/tmp";
        }
        H.home = mf_strf("%s/.mflow", hd);
    }
    char *cfgpath = mf_strf("%s/config.json", H.home);
    if (cfgpath && access(cfgpath, F_OK) == 0) {
        json_error_t jerr;
        H.config = json_load_file(cfgpath, 0, &jerr);
        /* Once per command: the tasks it starts inherit MFLOW_CONFIG_WARNED and read the
         * same file, so they stay silent about it. */
        const char *warned = mf_host_getenv("MFLOW_CONFIG_WARNED");
        if (!H.config && !(warned && !strcmp(warned, cfgpath))) {
            fprintf(stderr, "mflow: warning: %s line %d: %s; ignoring the file (fix the JSON)\n",
                    cfgpath, jerr.line, jerr.text);
            mf_host_setenv("MFLOW_CONFIG_WARNED", cfgpath);
        }
    }
    free(cfgpath);

    const char *user = mf_host_getenv("USER");
    if (!user || !*user) {
        struct passwd *pw = getpwuid(getuid());
        user = pw ? pw->pw_name : "unknown";
    }
    H.user = strdup(user);
    H.compute = pick(o->compute, "MFLOW_COMPUTE", "compute");
    H.root = pick(o->datastore_root, "MFLOW_DATASTORE_ROOT", "datastore_root");
    H.storage = pick(o->storage, "MFLOW_STORAGE", "storage");
    H.chosen = H.storage || H.root;
    /* A root with a scheme picks its plugin when the store opens (mf_host_resolve_storage):
     * finding which plugin claims it loads them all, which a command may never need. */
    if (!H.storage && !(H.root && strstr(H.root, "://")))
        H.storage = strdup("local");
    if (!H.compute)
        H.compute = strdup("local");
    if (o->ns_given)
        H.ns = strdup(o->ns ? o->ns : "");
    else
        H.ns = pick(NULL, "MFLOW_NAMESPACE", "namespace");
    if (!H.ns)
        H.ns = mf_strf("user:%s", H.user);
    H.ready = 1;
    return (H.home && H.user && H.compute && (H.storage || H.root) && H.ns) ? 0 : MF_ENOMEM;
}

void mf_host_fini(void)
{
    host_ds_close();
    if (H.reg_inherited) {
        forgotten.reg = H.reg;   /* still the parent's: its plugins stay loaded */
        forgotten.reg_env = H.reg_env;
    } else {
        mf_registry_destroy(H.reg);
        mf_envrec_free(&H.reg_env);
    }
    json_decref(H.config);
    free(H.home);
    free(H.compute);
    free(H.storage);
    free(H.root);
    free(H.root_default);
    free(H.served);
    free(H.ns);
    free(H.user);
    memset(&H, 0, sizeof H);
}

int mf_host_override(const char *compute, const char *storage, const char *ns)
{
    char *c = compute ? strdup(compute) : NULL, *st = storage ? strdup(storage) : NULL;
    char *n = ns ? strdup(ns) : NULL;
    if ((compute && !c) || (storage && !st) || (ns && !n)) {
        free(c);
        free(st);
        free(n);
        return MF_ENOMEM;
    }
    if (c) {
        free(H.compute);
        H.compute = c;
    }
    if (st) {
        host_ds_close();   /* it was another plugin's */
        free(H.storage);
        H.storage = st;
    }
    if (n) {
        free(H.ns);
        H.ns = n;
    }
    return 0;
}

/* The host the task server set up for its children (mf_host_prepare), and what it was set up
 * from: the environment as its set-up read it (every read goes through mf_host_getenv, which
 * notes it here), and config.json as it was then. A child takes it only when all of these are
 * the same for its own command. */
static struct {
    int ok;
    struct mf_envrec env;
    struct stat cfg;             /* config.json's; st_ino 0 when there was none */
    char *cfg_path;              /* its path, made once for every child's check */
} prep;

static int config_stat(const char *path, struct stat *out)
{
    int rc = path ? stat(path, out) : -1;
    if (rc != 0)
        memset(out, 0, sizeof *out);
    return rc == 0 || errno == ENOENT ? 0 : -1;
}

int mf_host_prepare(const struct mf_host_opts *o)
{
    prep.ok = 0;
    mf_envrec_begin(&prep.env);
    int rc = mf_host_init(o);
    mf_registry *reg = rc ? NULL : mf_host_registry();
    /* the storage plugin every task opens, loaded (not started) */
    if (reg && H.storage)
        mf_registry_find(reg, MF_PLUGIN_STORAGE, H.storage);
    int whole = mf_envrec_end(&prep.env) == 0;
    if (rc)
        return rc;
    /* A relative home or plugin directory depends on the working directory, which a task
     * may change; a config.json that did not parse warned once and is read again. */
    free(prep.cfg_path);
    prep.cfg_path = mf_strf("%s/config.json", H.home);
    if (!whole || prep.env.cwd || !reg || !prep.cfg_path ||
        config_stat(prep.cfg_path, &prep.cfg) != 0 || (prep.cfg.st_ino && !H.config))
        return 0;
    prep.ok = 1;
    return 0;
}

int mf_host_take_prepared(void)
{
    if (!prep.ok || !mf_envrec_same(&prep.env))
        return 0;
    struct stat now;
    if (config_stat(prep.cfg_path, &now) != 0 || now.st_ino != prep.cfg.st_ino || now.st_dev != prep.cfg.st_dev ||
        now.st_size != prep.cfg.st_size || now.st_mtim.tv_sec != prep.cfg.st_mtim.tv_sec ||
        now.st_mtim.tv_nsec != prep.cfg.st_mtim.tv_nsec || now.st_ctim.tv_sec != prep.cfg.st_ctim.tv_sec ||
        now.st_ctim.tv_nsec != prep.cfg.st_ctim.tv_nsec)
        return 0;
    return 1;
}

const struct mf_envrec *mf_host_prepared_env(void)
{
    return prep.ok ? &prep.env : NULL;
}

void mf_host_forget(void)
{
    forgotten = H;   /* the child's copy: kept on purpose, freed at its exit */
    memset(&H, 0, sizeof H);
}

mf_registry *mf_host_registry(void)
{
    if (!H.ready)
        mf_host_init(NULL);
    if (!H.reg) {
        /* A forked child (the task server's, or any after mf_host_forget): the parent's
         * registry, made from the same environment, searched the directories a new one would
         * (none of them relative: a task may change its working directory; the default one
         * depends only on where this executable is, which a fork keeps), and has its plugins
         * loaded already. */
        if (forgotten.reg && mf_envrec_same(&forgotten.reg_env)) {
            H.reg = forgotten.reg;
            H.reg_env = forgotten.reg_env;
            H.reg_inherited = 1;
            forgotten.reg = NULL;
            memset(&forgotten.reg_env, 0, sizeof forgotten.reg_env);
            return H.reg;
        }
        mf_envrec_begin(&H.reg_env);
        int rc = mf_registry_create(&host_api, &H.reg);
        if (!rc)
            mf_registry_add_default_dirs(H.reg);
        mf_envrec_end(&H.reg_env);   /* not whole: never inherited (mf_envrec_same) */
        if (rc)
            return NULL;
    }
    return H.reg;
}

const char *mf_host_home(void)
{
    if (!H.ready)
        mf_host_init(NULL);
    return H.home;
}

const char *mf_host_compute(void)
{
    return H.compute ? H.compute : "local";
}

const char *mf_host_storage(void)
{
    return H.storage ? H.storage : "local";
}

int mf_host_resolve_storage(char **err)
{
    *err = NULL;
    if (H.storage)
        return 0;
    mf_registry *reg = mf_host_registry();
    if (!reg)
        return MF_ENOMEM;
    const struct mf_plugin_desc *d = NULL;
    int rc = mf_registry_find_scheme(reg, H.root ? H.root : "", &d);
    if (rc) {
        *err = mf_strf("%s", mf_registry_error(reg));
        return rc;
    }
    H.storage = strdup(d->name);
    return H.storage ? 0 : MF_ENOMEM;
}

int mf_host_storage_chosen(void)
{
    return H.chosen;
}

void mf_host_set_chosen(int chosen)
{
    H.chosen = chosen;
}

int mf_host_use_storage(const char *name, const char *root)
{
    if (!name || !*name || !root || !*root)
        return MF_EINVAL;
    char *s = strdup(name), *r = strdup(root);
    if (!s || !r) {
        free(s);
        free(r);
        return MF_ENOMEM;
    }
    free(H.storage);
    free(H.root);
    free(H.served);
    H.storage = s;
    H.root = r;
    H.served = NULL;
    return 0;
}

void mf_host_set_served_root(const char *root)
{
    free(H.served);
    H.served = root && *root ? strdup(root) : NULL;
}

const char *mf_host_run_root(void)
{
    if (H.served)
        return H.served;
    return mf_host_datastore_root();
}

const char *mf_host_datastore_root(void)
{
    if (H.root)
        return H.root;
    if (!H.root_default)
        H.root_default = mf_strf("%s/datastore", mf_host_home());
    return H.root_default ? H.root_default : "";
}

const char *mf_host_namespace(void)
{
    return H.ns ? H.ns : "";
}

const char *mf_host_user(void)
{
    return H.user ? H.user : "unknown";
}

void mf_host_set_output(mf_output_fn fn)
{
    H.output = fn;
}
