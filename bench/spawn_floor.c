/* The floor for per-task overhead: spawn and reap /bin/true N times, one at a time and
 * with 2 at once; or, with a third argument "fork", fork a child that _exits at once (what
 * the task server pays at the least for each task). Prints milliseconds per process. */
#include <spawn.h>
#include <string.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 1000;
    int par = argc > 2 ? atoi(argv[2]) : 1;
    int use_fork = argc > 3 && !strcmp(argv[3], "fork");
    char *args[] = {"/bin/true", NULL};
    double t0 = now();
    int running = 0, started = 0;
    while (started < n || running > 0) {
        while (running < par && started < n) {
            pid_t pid;
            if (use_fork) {
                pid = fork();
                if (pid == 0)
                    _exit(0);
                if (pid < 0)
                    return 1;
            } else if (posix_spawn(&pid, "/bin/true", NULL, NULL, args, environ) != 0) {
                return 1;
            }
            running++;
            started++;
        }
        int st;
        if (wait(&st) > 0)
            running--;
    }
    printf("%.4f\n", (now() - t0) * 1000 / n);
    return 0;
}
