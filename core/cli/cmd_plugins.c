/* mflow plugins [--json]: every plugin file found, whether it loads, and why not. It is a
 * report, so it exits 0 even when some files are refused. */
#include "cli.h"
#include "host.h"
#include "loader.h"

#include <jansson.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* cli_wants_help prints "usage: mflow " before this. */
static const char usage[] =
    "plugins [--json]\n"
    "\n"
    "List every plugin file found in the plugin directories (the built-in one, then each\n"
    "directory of MFLOW_PLUGIN_PATH, ':'-separated): its kind, name, version, plugin ABI and\n"
    "whether it loads; below the table, why each refused file was refused, and the options\n"
    "of the plugins that load.\n"
    "\n"
    "  --json   print a JSON array of {path, name, kind, version, abi_major, abi_minor,\n"
    "           loaded, error, warning, description, options} instead";

static const char *opt_type_name(uint32_t type)
{
    switch (type) {
    case MF_OPT_STRING: return "string";
    case MF_OPT_INT: return "int";
    case MF_OPT_BOOL: return "bool";
    default: return "unknown";
    }
}

/* The i-th option of a plugin. Option structs may grow in later minors, so the array's
 * stride is the first element's struct_size, never our own sizeof. NULL when the table is
 * too small to read as 1.0. */
static const struct mf_option_def *option_at(const struct mf_plugin_desc *d, uint32_t i)
{
    if (!d->options || i >= d->n_options)
        return NULL;
    uint32_t stride = d->options[0].struct_size;
    if (stride < sizeof(struct mf_option_def))
        return NULL;
    return (const struct mf_option_def *)((const char *)d->options + (size_t)i * stride);
}

static const char *or_dash(const char *s)
{
    return s && *s ? s : "-";
}

static void print_table(const mf_registry *reg)
{
    size_t n = mf_registry_count(reg);
    /* Column widths: at least the header's. */
    int wkind = 4, wname = 4, wver = 7;
    for (size_t i = 0; i < n; i++) {
        const struct mf_plugin_info *p = mf_registry_at(reg, i);
        int k = (int)strlen(mf_plugin_kind_name(p->kind));
        int nm = (int)strlen(or_dash(p->name));
        int v = (int)strlen(or_dash(p->version));
        wkind = k > wkind ? k : wkind;
        wname = nm > wname ? nm : wname;
        wver = v > wver ? v : wver;
    }
    printf("%-*s  %-*s  %-*s  %-5s  %-7s  %s\n", wkind, "KIND", wname, "NAME", wver, "VERSION",
           "ABI", "STATUS", "PATH");
    for (size_t i = 0; i < n; i++) {
        const struct mf_plugin_info *p = mf_registry_at(reg, i);
        char abi[32] = "-";
        if (p->abi_major)
            snprintf(abi, sizeof abi, "%u.%u", p->abi_major, p->abi_minor);
        printf("%-*s  %-*s  %-*s  %-5s  %-7s  %s\n", wkind, mf_plugin_kind_name(p->kind), wname,
               or_dash(p->name), wver, or_dash(p->version), abi,
               p->loaded ? "ok" : "refused", p->path);
    }
}

static void print_refusals(const mf_registry *reg)
{
    int header = 0;
    for (size_t i = 0; i < mf_registry_count(reg); i++) {
        const struct mf_plugin_info *p = mf_registry_at(reg, i);
        if (p->loaded)
            continue;
        if (!header++)
            printf("\nrefused:\n");
        printf("  %s\n", p->error ? p->error : p->path);
    }
}

static void print_options(const mf_registry *reg)
{
    int header = 0;
    for (size_t i = 0; i < mf_registry_count(reg); i++) {
        const struct mf_plugin_info *p = mf_registry_at(reg, i);
        if (!p->loaded || !p->desc->n_options)
            continue;
        if (!header++)
            printf("\noptions (command line, then environment, then $MFLOW_HOME/config.json):\n");
        printf("  %s %s:\n", mf_plugin_kind_name(p->kind), p->name);
        if (!option_at(p->desc, 0)) {
            printf("    (its option table is too small to read)\n");
            continue;
        }
        for (uint32_t j = 0; j < p->desc->n_options; j++) {
            const struct mf_option_def *o = option_at(p->desc, j);
            printf("    %s (%s", or_dash(o->name), opt_type_name(o->type));
            if (o->env)
                printf(", env %s", o->env);
            if (o->default_value)
                printf(", default %s", o->default_value);
            printf(")%s%s\n", o->help ? ": " : "", o->help ? o->help : "");
        }
    }
}

static void print_dirs(const mf_registry *reg)
{
    printf("\nsearched:");
    for (size_t i = 0; i < mf_registry_dir_count(reg); i++) {
        const char *d = mf_registry_dir(reg, i);
        struct stat st;
        printf("%s %s%s", i ? "," : "", d,
               stat(d, &st) == 0 && S_ISDIR(st.st_mode) ? "" : " (missing)");
    }
    printf("\nAdd directories with MFLOW_PLUGIN_PATH=dir1:dir2.\n");
}

/* JSON null for NULL, else the string. */
static json_t *str_or_null(const char *s)
{
    return cli_json_text(s);   /* text that is not UTF-8 as {"type": "str", "hex"} */
}

static json_t *plugin_json(const struct mf_plugin_info *p)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_t *opts = json_array();
    if (p->loaded && opts) {
        for (uint32_t j = 0; option_at(p->desc, j); j++) {
            const struct mf_option_def *d = option_at(p->desc, j);
            json_array_append_new(opts, json_pack("{s:o, s:s, s:o, s:o, s:o}",
                                                  "name", str_or_null(d->name),
                                                  "type", opt_type_name(d->type),
                                                  "env", str_or_null(d->env),
                                                  "default", str_or_null(d->default_value),
                                                  "help", str_or_null(d->help)));
        }
    }
    int bad = 0;
    bad |= json_object_set_new(o, "path", cli_json_text(p->path));
    bad |= json_object_set_new(o, "name", str_or_null(p->name));
    bad |= json_object_set_new(o, "kind", p->kind ? json_string(mf_plugin_kind_name(p->kind))
                                                  : json_null());
    bad |= json_object_set_new(o, "version", str_or_null(p->version));
    bad |= json_object_set_new(o, "abi_major", p->abi_major ? json_integer(p->abi_major)
                                                            : json_null());
    bad |= json_object_set_new(o, "abi_minor", p->abi_major ? json_integer(p->abi_minor)
                                                            : json_null());
    bad |= json_object_set_new(o, "loaded", json_boolean(p->loaded));
    bad |= json_object_set_new(o, "error", str_or_null(p->loaded ? NULL : p->error));
    bad |= json_object_set_new(o, "warning", str_or_null(p->warning));
    bad |= json_object_set_new(o, "description", str_or_null(p->description));
    bad |= json_object_set_new(o, "options", opts ? opts : json_null());
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static int print_json(const mf_registry *reg)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < mf_registry_count(reg); i++) {
        if (json_array_append_new(arr, plugin_json(mf_registry_at(reg, i)))) {
            json_decref(arr);
            arr = NULL;
        }
    }
    return cli_print_json(arr);
}

int cmd_plugins(int argc, char **argv)
{
    if (cli_wants_help(argc, argv, usage))
        return 0;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else {
            cli_error("plugins: unknown argument '%s' (usage: mflow plugins [--json])", argv[i]);
            return 2;
        }
    }
    mf_registry *reg = mf_host_registry();
    if (!reg) {
        cli_error("plugins: cannot set up the plugin registry (out of memory, or libltdl "
                  "failed to initialise)");
        return 1;
    }
    int rc = mf_registry_load_all(reg);
    if (rc) {
        cli_error("plugins: searching the plugin directories failed (error %d: out of "
                  "memory)", rc);
        return 1;
    }
    if (json)
        return print_json(reg);
    if (mf_registry_count(reg))
        print_table(reg);
    else
        printf("no plugins found\n");
    print_refusals(reg);
    print_options(reg);
    print_dirs(reg);
    return 0;
}
