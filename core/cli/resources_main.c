/* mflow-resources: `mflow resources`, run by the mflow command (see main.c for why apart). */
#include "cli.h"
#include "host.h"

int main(int argc, char **argv)
{
    if (mf_host_init(NULL) != 0) {
        cli_error("out of memory");
        return 1;
    }
    int code = cmd_resources(argc, argv);
    mf_host_fini();
    return code;
}
