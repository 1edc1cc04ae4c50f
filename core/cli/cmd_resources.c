/* mflow resources [--compute=NAME] [--json]: what a compute backend offers, as its plugin
 * describes it (the describe operation of plugin ABI 1.2): local compute from hwloc, Slurm
 * from sinfo and scontrol, any other plugin from its own figures. The core knows no backend:
 * it prints the plugin's own view when the plugin gives one ("text"), else a table of its
 * offers and the limits it enforces; --json prints the whole document. */
#include "cli.h"
#include "host.h"
#include "store.h"
#include "util.h"

#include <jansson.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cli_wants_help prints "usage: mflow " before this. */
static const char usage[] =
    "resources [--compute=NAME] [--json]\n"
    "\n"
    "Show what a compute backend offers, as its plugin describes it: nodes or partitions,\n"
    "CPUs, memory, GPUs and their kinds, the limits it enforces and where the figures come\n"
    "from. A step's resources.cpu, .memory_mb and .gpu are admitted against exactly this.\n"
    "local (the default): this machine from hwloc (packages, NUMA nodes, cores, hardware\n"
    "threads, GPUs, memory; HWLOC_XMLFILE or HWLOC_SYNTHETIC show another topology);\n"
    "slurm: partitions and nodes from sinfo and scontrol show node.\n"
    "\n"
    "  --compute=NAME   the compute plugin to ask (default: --compute before the command,\n"
    "                   MFLOW_COMPUTE, config.json, else local)\n"
    "  --json           print the plugin's whole description as one JSON object";

static long long int_member(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_integer(v) ? (long long)json_integer_value(v) : 0;
}

static const char *str_member(json_t *o, const char *key, const char *dflt)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : dflt;
}

/* "4 (a100:2, h100:2)" or "0". */
static void gpus_text(json_t *offer, char *buf, size_t len)
{
    size_t at = (size_t)snprintf(buf, len, "%lld", int_member(offer, "gpus"));
    json_t *kinds = json_object_get(offer, "gpu_kinds");
    const char *k;
    json_t *n;
    int first = 1;
    json_object_foreach(kinds, k, n) {
        if (at >= len)
            break;
        at += (size_t)snprintf(buf + at, len - at, "%s%s:%lld", first ? " (" : ", ", k,
                               json_is_integer(n) ? (long long)json_integer_value(n) : 0);
        first = 0;
    }
    if (!first && at < len)
        snprintf(buf + at, len - at, ")");
}

static void join_names(json_t *arr, char *buf, size_t len)
{
    size_t at = 0;
    size_t i;
    json_t *v;
    buf[0] = '\0';
    json_array_foreach(arr, i, v) {
        if (at >= len || !json_is_string(v))
            continue;
        at += (size_t)snprintf(buf + at, len - at, "%s%s", at ? "," : "", json_string_value(v));
    }
    if (!buf[0])
        snprintf(buf, len, "-");
}

/* The host's view of a description without a "text" of its own. */
static void print_offers(const char *name, json_t *doc)
{
    json_t *offers = json_object_get(doc, "offers");
    printf("compute    %s\n", name);
    printf("source     %s\n", str_member(doc, "source", "not said"));
    printf("offers     %zu\n", json_array_size(offers));
    if (json_array_size(offers)) {
        printf("\n%-10s %-20s %6s %10s  %-20s %-12s %s\n", "kind", "name", "CPUs", "memory", "GPUs",
               "state", "partitions");
        size_t i;
        json_t *o;
        json_array_foreach(offers, i, o) {
            char mem[32], gpus[160], parts[256];
            snprintf(mem, sizeof mem, "%lld MB", int_member(o, "memory_mb"));
            gpus_text(o, gpus, sizeof gpus);
            join_names(json_object_get(o, "partitions"), parts, sizeof parts);
            long long count = int_member(o, "count");
            char nm[160];
            if (count > 1)
                snprintf(nm, sizeof nm, "%s (x%lld)", str_member(o, "name", "?"), count);
            else
                snprintf(nm, sizeof nm, "%s", str_member(o, "name", "?"));
            printf("%-10s %-20s %6lld %10s  %-20s %-12s %s\n", str_member(o, "kind", "-"), nm,
                   int_member(o, "cpus"), mem, gpus, str_member(o, "state", "-"), parts);
        }
    }
    json_t *enf = json_object_get(doc, "enforced");
    if (json_object_size(enf)) {
        printf("\nlimits\n");
        const char *k;
        json_t *v;
        json_object_foreach(enf, k, v)
            printf("  %-8s %s\n", k, json_is_string(v) ? json_string_value(v) : "-");
    }
}

int cmd_resources(int argc, char **argv)
{
    if (cli_wants_help(argc, argv, usage))
        return 0;
    int json = 0;
    const char *name = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if (!strncmp(argv[i], "--compute=", 10)) {
            name = argv[i] + 10;
        } else if (!strcmp(argv[i], "--compute") && i + 1 < argc) {
            name = argv[++i];
        } else {
            cli_error("resources: unknown argument '%s' (usage: mflow resources [--compute=NAME] [--json])",
                      argv[i]);
            return 2;
        }
    }
    if (!name || !*name)
        name = mf_host_compute();

    struct mf_compute c;
    char *err = NULL;
    /* What a plugin tells at info level when it starts (e.g. that a topology is not this
     * machine's) is part of the description here. */
    mf_host_set_log_level(MF_LOG_WARN);
    if (mf_compute_open(name, &c, &err) != 0) {
        cli_error("%s", err ? err : "out of memory");
        free(err);
        return 1;
    }
    int code = 1;
    struct mf_buf buf = {.struct_size = sizeof buf};
    json_t *doc = NULL;
    if (!MF_HAS_FIELD(c.ops, describe) || !c.ops->describe) {
        cli_error("resources: compute plugin '%s' (plugin ABI %u.%u) does not describe what it "
                  "offers: it has no describe operation (added in plugin ABI 1.2); rebuild it "
                  "with one, see sdk/template/README.md",
                  name, c.desc->abi_major, c.desc->abi_minor);
        goto out;
    }
    int rc = c.ops->describe(c.state, &buf);
    if (rc) {
        cli_error("resources: compute plugin '%s': %s", name, c.ops->last_error(c.state));
        goto out;
    }
    json_error_t jerr;
    doc = json_loadb(buf.data ? buf.data : "", buf.len, 0, &jerr);
    if (!json_is_object(doc)) {
        cli_error("resources: compute plugin '%s' described itself with %s (line %d: %s); its "
                  "describe operation must return one JSON object",
                  name, doc ? "JSON that is not an object" : "invalid JSON", jerr.line, jerr.text);
        goto out;
    }
    json_t *text = json_object_get(doc, "text");
    if (json) {
        json_object_del(doc, "text");
        if (!json_object_get(doc, "compute"))
            json_object_set_new(doc, "compute", json_string(name));
        code = cli_print_json(json_incref(doc));
    } else {
        if (json_is_string(text))
            fputs(json_string_value(text), stdout);
        else
            print_offers(name, doc);
        code = 0;
    }
out:
    json_decref(doc);
    if (buf.release)
        buf.release(&buf);
    mf_compute_close(&c);
    return code;
}
