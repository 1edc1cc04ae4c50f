/* mflow package FLOW [--json]: build the flow's code package, store it in the datastore and
 * print its address and contents. */
#include "cli.h"

#include "flowload.h"
#include "model.h"
#include "package.h"
#include "store.h"
#include "util.h"

#include <jansson.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] = "package FLOW [--json]";

/* One listing line: "f 0644 123 path" or "d 0755 0 path/"; the last "= zsize bytes". */
struct line {
    char type;
    unsigned mode;
    unsigned long long size;
    const char *path;
};

static int parse_line(char *s, struct line *l)
{
    char *end;
    l->type = s[0];
    if (!s[0] || s[1] != ' ')
        return -1;
    l->mode = (unsigned)strtoul(s + 2, &end, 8);
    if (*end != ' ')
        return -1;
    l->size = strtoull(end + 1, &end, 10);
    if (*end != ' ')
        return -1;
    l->path = end + 1;
    return 0;
}

int cmd_package(int argc, char **argv)
{
    if (cli_wants_help(argc, argv, usage))
        return 0;
    const char *path = NULL;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = 1;
        else if (!path && argv[i][0] != '-')
            path = argv[i];
        else {
            cli_error("package: unexpected argument '%s' (usage: mflow %s)", argv[i], usage);
            return 2;
        }
    }
    if (!path) {
        cli_error("usage: mflow %s", usage);
        return 2;
    }
    struct mf_flow *f = NULL;
    char *err = NULL;
    if (mf_flow_open(path, &f, &err) != 0) {
        cli_error("%s", err ? err : "cannot open the flow");
        free(err);
        return 1;
    }
    struct mf_store st;
    if (mf_store_open(&st, &err) != 0) {
        cli_error("%s", err ? err : "cannot open the datastore");
        free(err);
        mf_flow_close(f);
        return 1;
    }
    char *addr = NULL, *listing = NULL;
    int rc = mf_package_build(f, &st, &addr, &listing, &err);
    if (rc) {
        cli_error("%s", err ? err : "cannot build the package");
        free(err);
        mf_store_close(&st);
        mf_flow_close(f);
        return 1;
    }
    const char *root = st.ops->root ? st.ops->root(st.state) : "";
    unsigned long long zsize = 0, bytes = 0;
    size_t nent = 0;
    json_t *entries = json ? json_array() : NULL;
    struct mf_sbuf human = {0};
    for (char *s = listing, *next; s && *s; s = next) {
        next = strchr(s, '\n');
        if (next)
            *next++ = '\0';
        if (s[0] == '=') {
            sscanf(s, "= %llu %llu", &zsize, &bytes);
            continue;
        }
        struct line l;
        if (parse_line(s, &l) != 0)
            continue;
        nent++;
        if (entries) {
            json_t *e = json_object();
            size_t pl = strlen(l.path);
            json_object_set_new(e, "path", json_stringn(l.path, l.type == 'd' && pl ? pl - 1 : pl));
            json_object_set_new(e, "type", json_string(l.type == 'd' ? "dir" : "file"));
            char mode[16];
            snprintf(mode, sizeof mode, "%04o", l.mode);
            json_object_set_new(e, "mode", json_string(mode));
            json_object_set_new(e, "size", json_integer((json_int_t)l.size));
            json_array_append_new(entries, e);
        } else {
            mf_sbuf_addf(&human, "  %04o %10llu  %s\n", l.mode, l.size, l.path);
        }
    }
    int code = 0;
    if (json) {
        json_t *o = json_object();
        json_object_set_new(o, "address", json_string(addr));
        char sha[65] = "";
        mf_key_package_parse(addr, sha);
        json_object_set_new(o, "sha256", json_string(sha));
        json_object_set_new(o, "flow", json_string(f->def->name));
        json_object_set_new(o, "datastore", json_string(root));
        json_object_set_new(o, "size", json_integer((json_int_t)zsize));
        json_object_set_new(o, "content_bytes", json_integer((json_int_t)bytes));
        json_object_set_new(o, "entries", entries);
        code = cli_print_json(o);
    } else {
        printf("%s\n", addr);
        printf("flow %s from %s\n", f->def->name, f->src_path ? f->src_path : f->so_path);
        printf("stored in %s: %llu bytes (tar.zst) holding %zu entries, %llu bytes of files\n",
               root, zsize, nent, bytes);
        if (human.data)
            fputs(human.data, stdout);
    }
    mf_sbuf_free(&human);
    free(addr);
    free(listing);
    mf_store_close(&st);
    mf_flow_close(f);
    return code;
}
