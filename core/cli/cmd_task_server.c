/* `mflow __task-server NAME [ARGS...]` (hidden): the helper process of compute plugin NAME.
 *
 * A compute plugin that starts tasks by forking a preloaded mflow rather than exec'ing one
 * (local compute's task server) starts this command once; the command finds the plugin and
 * runs its `serve` operation, which owns the whole helper: its protocol, its loop and what
 * its children set up. The host's part is two documented services, command_preload and
 * command_run (the command registers them in main.c), so nothing here knows the plugin. */
#include "cli.h"

#include "host.h"
#include "loader.h"

#include <string.h>

int cmd_task_server(int argc, char **argv)
{
    if (argc < 2) {
        cli_error("__task-server: which compute plugin? (a compute plugin starts it as "
                  "`mflow __task-server NAME`; it is not a command to run by hand)");
        return 2;
    }
    mf_registry *reg = mf_host_registry();
    const struct mf_plugin_desc *d = reg ? mf_registry_find(reg, MF_PLUGIN_COMPUTE, argv[1]) : NULL;
    if (!d) {
        cli_error("__task-server: %s", reg ? mf_registry_error(reg) : "out of memory");
        return 1;
    }
    const struct mf_compute_ops *ops = d->ops;
    if (!MF_HAS_FIELD(ops, serve) || !ops->serve) {
        cli_error("__task-server: compute plugin '%s' has no helper process (no serve operation, "
                  "plugin ABI %u.%u)", argv[1], d->abi_major, d->abi_minor);
        return 1;
    }
    return ops->serve(mf_host_api(), argc, argv);
}
