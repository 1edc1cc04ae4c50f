/* Naming a flow whose own code crashes while it loads (a constructor that faults or aborts,
 * an MF_FLOW table pointing at garbage). The library calls this around the loading (see
 * mf_flow_set_load_guard); only then are the fatal signals caught, on a stack of their own
 * (a runaway constructor may have used up the normal one), so the normal path costs a few
 * sigaction calls and nothing else. The handler writes one prepared message and exits with
 * 128 + the signal, as a shell reports a process killed by it. */
#include "cli.h"

#include "flowload.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const int fatal[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGSYS};
#define N_FATAL (sizeof fatal / sizeof fatal[0])

static struct sigaction saved[N_FATAL];
static stack_t saved_stack;
static int have_stack;
static char alt_stack[64 * 1024];
static char head[4200];          /* "mflow: flow PATH crashed while loading (" */
static size_t head_len;
static const char tail[] =
    "): its own code failed before any step ran (a constructor, the MF_FLOW entry, or a step "
    "table that points at garbage); fix the flow, or run `gdb --args mflow check FLOW` to "
    "see where\n";

static const char *sig_name(int sig)
{
    switch (sig) {
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS: return "SIGBUS";
    case SIGILL: return "SIGILL";
    case SIGFPE: return "SIGFPE";
    case SIGABRT: return "SIGABRT";
    case SIGSYS: return "SIGSYS";
    default: return "a fatal signal";
    }
}

static void put(const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(STDERR_FILENO, s, n);
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

static void on_fatal(int sig)
{
    /* Only async-signal-safe calls from here on. */
    const char *name = sig_name(sig);
    put(head, head_len);
    put(name, strlen(name));
    put(tail, sizeof tail - 1);
    _exit(128 + sig);
}

void cli_flow_load_guard(const char *path, int entering)
{
    if (entering) {
        int n = snprintf(head, sizeof head, "mflow: flow %s crashed while loading (", path);
        head_len = n < 0 ? 0 : (size_t)n < sizeof head ? (size_t)n : sizeof head - 1;
        stack_t ss = {.ss_sp = alt_stack, .ss_size = sizeof alt_stack, .ss_flags = 0};
        have_stack = sigaltstack(&ss, &saved_stack) == 0;
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_fatal;
        sa.sa_flags = SA_ONSTACK | SA_RESETHAND;
        sigemptyset(&sa.sa_mask);
        for (size_t i = 0; i < N_FATAL; i++)
            sigaction(fatal[i], &sa, &saved[i]);
        return;
    }
    for (size_t i = 0; i < N_FATAL; i++)
        sigaction(fatal[i], &saved[i], NULL);
    if (have_stack)
        sigaltstack(&saved_stack, NULL);
    have_stack = 0;
}
