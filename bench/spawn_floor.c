/* The floor for per-task overhead: spawn and reap /bin/true N times, one at a time and
 * with 2 at once; or, with a third argument "fork", fork a child that _exits at once (what
 * the task server pays at the least for each task); or, with "record DIR", fork a child that
 * stores a 750-byte file in DIR the way a task stores its record (an unnamed file written,
 * fsync'ed and linked into place) and _exits: the least a task that leaves a durable record
 * costs, with no mflow at all. Prints milliseconds per process; with --cpu as the last
 * argument, also the CPU time per process (this program and its children, user + system,
 * from getrusage), which moves less with the machine's load than the wall.
 *
 *     spawn_floor N PAR [spawn|fork|record DIR] [--cpu] */
#include <fcntl.h>
#include <spawn.h>
#include <string.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

/* What a trivial task's record is: about 750 bytes, written once, synced, linked into place. */
static int store_record(const char *dir, int i)
{
    static char body[750];
    memset(body, 'x', sizeof body);
    int fd = open(dir, O_TMPFILE | O_WRONLY, 0600);
    if (fd < 0)
        return 1;
    char proc[64], path[4096];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    snprintf(path, sizeof path, "%s/%d.json", dir, i);
    int bad = write(fd, body, sizeof body) != (ssize_t)sizeof body || fsync(fd) != 0 ||
              linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW) != 0;
    close(fd);
    return bad;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_s(int who)
{
    struct rusage ru;
    getrusage(who, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

int main(int argc, char **argv)
{
    int cpu = argc > 1 && !strcmp(argv[argc - 1], "--cpu");
    if (cpu)
        argc--;
    int n = argc > 1 ? atoi(argv[1]) : 1000;
    int par = argc > 2 ? atoi(argv[2]) : 1;
    int use_record = argc > 4 && !strcmp(argv[3], "record");
    int use_fork = use_record || (argc > 3 && !strcmp(argv[3], "fork"));
    const char *dir = use_record ? argv[4] : NULL;
    double c0 = cpu ? cpu_s(RUSAGE_SELF) + cpu_s(RUSAGE_CHILDREN) : 0;
    char *args[] = {"/bin/true", NULL};
    double t0 = now();
    int running = 0, started = 0;
    while (started < n || running > 0) {
        while (running < par && started < n) {
            pid_t pid;
            if (use_fork) {
                pid = fork();
                if (pid == 0)
                    _exit(dir ? store_record(dir, started) : 0);
                if (pid < 0)
                    return 1;
            } else if (posix_spawn(&pid, "/bin/true", NULL, NULL, args, environ) != 0) {
                return 1;
            }
            running++;
            started++;
        }
        int st;
        if (wait(&st) > 0) {
            running--;
            if (dir && !(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
                fprintf(stderr, "spawn_floor: cannot store a record in %s\n", dir);
                return 1;
            }
        }
    }
    double wall = (now() - t0) * 1000 / n;
    if (cpu)
        printf("%.4f %.4f\n", wall, (cpu_s(RUSAGE_SELF) + cpu_s(RUSAGE_CHILDREN) - c0) * 1000 / n);
    else
        printf("%.4f\n", wall);
    return 0;
}
