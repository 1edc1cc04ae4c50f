/* mflow: global options, then one command (one file per command). */
#include "cli.h"

#include "flowload.h"
#include "host.h"
#include "index.h"
#include "mflow-build.h"
#include "store.h"

#include <jansson.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct command {
    const char *name;
    mf_cmd_fn fn;
    const char *summary;
};

static const struct command commands[] = {
    {"run", cmd_run, "run a flow: run FLOW [--PARAM=VALUE...] [--max-workers N] [--tag T] [--run-id-file F]"},
    {"resume", cmd_resume, "new run reusing an earlier run's finished tasks: resume FLOW [STEP] [--origin-run-id R]"},
    {"check", cmd_check, "validate a flow's graph: check FLOW"},
    {"show", cmd_show, "print a flow's graph: show FLOW [--dot|--json]"},
    {"get", cmd_get, "print an artifact: get PATHSPEC NAME [--json|--raw]"},
    {"plugins", cmd_plugins, "list every plugin found and whether it loads: plugins [--json]"},
    {"runs", cmd_runs, "list runs, newest first: runs [FLOW] [--tag T...] [--namespace NS] [--json]"},
    {"inspect", cmd_inspect, "show a run, step or task: inspect PATHSPEC [--json]"},
    {"logs", cmd_logs, "print a task's output: logs PATHSPEC [--stderr] [--attempt N] [--json]"},
    {"tag", cmd_tag, "tags on runs: tag add|remove|list Flow/run [TAG...]"},
    {"reindex", cmd_reindex, "rebuild the index from the datastore: reindex"},
    {"ui", cmd_ui, "web page and JSON API over the runs: ui [--host H] [--port P] [--token T]"},
    {"package", cmd_package, "build and store a flow's code package: package FLOW [--json]"},
    {"deploy", cmd_deploy, "deploy a flow to a production scheduler: deploy FLOW --scheduler=NAME [--name D] [--schedule CRON]"},
    {"deployments", cmd_deployments, "production deployments: deployments list|show D|delete D|trigger D [--json]"},
    {"serve", cmd_serve, "answer a flow's endpoints over HTTP from its latest successful run: serve FLOW [--port P]"},
    {"resources", cmd_resources, "what a compute backend offers: resources [--compute=NAME] [--json]"},
    {"task", cmd_task, "run one task (what compute plugins launch)"},
    {"dag-task", cmd_dag_task, "run one task of a run an outside scheduler drives (the Airflow export)"},
};

static const char usage[] =
    "usage: mflow [--compute=NAME] [--storage=NAME] [--datastore-root=URL] [--home=DIR]\n"
    "             [--namespace=NS] COMMAND [ARGS...]\n"
    "       mflow --version | --help | COMMAND --help\n";

static void print_help(void)
{
    fputs(usage, stdout);
    puts("\ncommands:");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        printf("  %-9s %s\n", commands[i].name, commands[i].summary);
    puts("\nSettings come from the command line, then MFLOW_* environment variables, then\n"
         "$MFLOW_HOME/config.json (MFLOW_HOME defaults to ~/.mflow).");
}

int cli_parse_globals(int argc, char **argv, struct mf_host_opts *o, int *next)
{
    memset(o, 0, sizeof *o);
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--version")) {
            printf("mflow %s (plugin ABI %d.%d)\n", MF_VERSION, MF_PLUGIN_ABI_MAJOR,
                   MF_PLUGIN_ABI_MINOR);
            return 0;
        }
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            print_help();
            return 0;
        }
        int r;
        if ((r = cli_match_opt(argc, argv, &i, "--compute", &o->compute)) ||
            (r = cli_match_opt(argc, argv, &i, "--storage", &o->storage)) ||
            (r = cli_match_opt(argc, argv, &i, "--datastore-root", &o->datastore_root)) ||
            (r = cli_match_opt(argc, argv, &i, "--home", &o->home))) {
            if (r < 0 || !*argv[i] || (argv[i] == a && !a[strcspn(a, "=") + 1])) {
                cli_error("%.*s needs a value", (int)strcspn(a, "="), a);
                return 2;
            }
            continue;
        }
        if ((r = cli_match_opt(argc, argv, &i, "--namespace", &o->ns))) {
            if (r < 0) {
                cli_error("%s needs a value (an empty one, --namespace=, means all)", a);
                return 2;
            }
            o->ns_given = 1;
            continue;
        }
        cli_error("unknown option '%s' (see mflow --help)", a);
        return 2;
    }
    if (i >= argc) {
        fputs(usage, stderr);
        return 2;
    }
    *next = i;
    return -1;
}

/* lmdb reads the index through a mapping of its file, and a damaged page can fault before any
 * check sees it (a read past the file's end, a wild page number), or fail one of lmdb's own
 * assertions (SIGABRT). Such a fault ends the command with the one thing to do; any other is
 * the crash it always was. The handler cannot go back into the command (lmdb's state is
 * unknown), so it says so and exits. */
static void on_fault(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    const char *dir = mf_index_fault_dir(si && si->si_code > 0 ? si->si_addr : NULL);
    if (dir) {
        static const char a[] = "mflow: the index at ",
                          b[] = " is damaged (reading it faulted): run `mflow reindex` to "
                                "rebuild it from the datastore\n";
        ssize_t w = write(STDERR_FILENO, a, sizeof a - 1);
        w = write(STDERR_FILENO, dir, strlen(dir));
        w = write(STDERR_FILENO, b, sizeof b - 1);
        (void)w;
        _exit(1);
    }
    /* SA_RESETHAND put the default back: a hardware fault repeats and ends the process as
     * before; a sent signal is sent again. */
    if (!si || si->si_code <= 0)
        raise(sig);
}

void cli_guard_index(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, NULL);
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGABRT, &sa, NULL);
}

/* For the task server: what `mflow ARGV` would load before running anything of its own,
 * loaded now: the flow's .so (kept by flowload.c, whose mf_flow_open in a child takes it as
 * it is) and the storage plugin (through the registry, which a child takes over: host.c).
 * Failures are left for the task to meet and report. */
/* The global options the task server prepared its host for (preload_command), as given. */
static char **prep_globals;
static int n_prep_globals = -1;

/* Whether this command's global options (argv[1..next-1]) are the prepared ones. */
static int globals_prepared(char **argv, int next)
{
    if (next - 1 != n_prep_globals)
        return 0;
    for (int k = 0; k < n_prep_globals; k++)
        if (strcmp(argv[k + 1], prep_globals[k]) != 0)
            return 0;
    return 1;
}

/* A flow whose own entry or tables crash while read would take the server down: a forked
 * probe reads them first (its exit status says whether it could), and only then are they read
 * here, once for every task. */
static void prepare_flow(const char *path)
{
    pid_t pid = fork();
    if (pid == 0) {
        struct mf_flow *f;
        char *err = NULL;
        _exit(mf_flow_open(path, &f, &err) == 0 ? 0 : 1);
    }
    int st;
    if (pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0)
        mf_flow_preload_open();
}

static void preload_command(int argc, char **argv)
{
    struct mf_host_opts o;
    int i;
    /* --version and --help print to stdout, which is the server's event socket. */
    for (i = 1; i < argc && argv[i][0] == '-'; i++)
        if (!strcmp(argv[i], "--version") || !strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return;
    if (cli_parse_globals(argc, argv, &o, &i) >= 0 || strcmp(argv[i], "task") != 0 || i + 1 >= argc)
        return;
    /* jansson seeds its hash function from /dev/urandom on first use: once here, rather than
     * an open and a read in every task (records are mflow's own data, not an attacker's). */
    json_object_seed(0);
    mf_flow_preload(argv[i + 1]);
    /* The host every task's own set-up would make, made once (kept by a child only when its
     * options and environment are the same: mf_host_take_prepared), and the flow opened. */
    if (mf_host_prepare(&o) == 0) {
        /* The store too, where its plugin says a forked task may inherit the instance. */
        mf_store_prepare();
        if ((prep_globals = calloc((size_t)i, sizeof *prep_globals))) {
            n_prep_globals = i - 1;
            for (int k = 1; k < i && n_prep_globals >= 0; k++)
                if (!(prep_globals[k - 1] = strdup(argv[k])))
                    n_prep_globals = -1;
        }
    }
    prepare_flow(argv[i + 1]);
}

int cli_main(int argc, char **argv)
{
    struct mf_host_opts o;
    int i;
    int code = cli_parse_globals(argc, argv, &o, &i);
    if (code >= 0)
        return code;
    /* Not in the table: it is not a command for people (see cmd_task_server.c). */
    if (!strcmp(argv[i], "__task-server"))
        return cmd_task_server(argc - i, argv + i, cli_main, preload_command);
    const struct command *cmd = NULL;
    for (size_t k = 0; k < sizeof commands / sizeof commands[0]; k++)
        if (!strcmp(commands[k].name, argv[i]))
            cmd = &commands[k];
    if (!cmd) {
        cli_error("unknown command '%s' (see mflow --help)", argv[i]);
        return 2;
    }
    /* A task forked by the task server keeps the host the server prepared when it is the one
     * its own options and environment would make; any other command (or task) sets up its
     * own, having forgotten a forking parent's without unloading anything. */
    int kept = !strcmp(cmd->name, "task") && globals_prepared(argv, i) && mf_host_take_prepared();
    if (!kept) {
        mf_host_forget();
        if (mf_host_init(&o) != 0) {
            cli_error("out of memory");
            return 1;
        }
    }
    mf_flow_set_load_guard(cli_flow_load_guard);
    /* A task never opens the index, and its faults are the step's own to report. */
    if (strcmp(cmd->name, "task") != 0)
        cli_guard_index();
    code = cmd->fn(argc - i, argv + i);
    if (!kept)
        mf_host_fini();   /* a kept host is the server's, and this process ends here */
    return code;
}

int main(int argc, char **argv)
{
    return cli_main(argc, argv);
}
