/* Memory limits for local jobs: cgroup v2, cgroup v1, or RLIMIT_DATA. See memlimit.h. */
#include "memlimit.h"

#include <mflow/plugin.h>
#include <mflow/plugin_util.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define UNLIMITED_BYTES (1ULL << 60)   /* v1 reports "no limit" as a value near 2^63 */

/* A message into the caller's buffer (buf, len; either may be NULL/0). */
#define say(buf, len, ...) ((void)mf_plugin_fail((buf), (len), 0, __VA_ARGS__))

/* dir/file into out; 0, or -1 (out empty) when it does not fit. */
static int join_path(char *out, size_t len, const char *dir, const char *file)
{
    int w = snprintf(out, len, "%s/%s", dir, file);
    if (w < 0 || (size_t)w >= len) {
        out[0] = '\0';
        return -1;
    }
    return 0;
}

/* The whole (small) file, NUL-terminated, in buf. Bytes read, or -1 with errno. */
static ssize_t read_small(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t at = 0;
    while (at + 1 < len) {
        ssize_t r = read(fd, buf + at, len - 1 - at);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            close(fd);
            errno = e;
            return -1;
        }
        if (r == 0)
            break;
        at += (size_t)r;
    }
    close(fd);
    buf[at] = '\0';
    return (ssize_t)at;
}

/* 0 or errno. */
static int write_str(const char *dir, const char *file, const char *value)
{
    char path[PATH_MAX + 64];
    if (join_path(path, sizeof path, dir, file) != 0)
        return ENAMETOOLONG;
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return errno;
    size_t n = strlen(value);
    ssize_t w;
    do
        w = write(fd, value, n);
    while (w < 0 && errno == EINTR);
    int e = w == (ssize_t)n ? 0 : w < 0 ? errno : EIO;
    close(fd);
    return e;
}

static int has_file(const char *dir, const char *file)
{
    char path[PATH_MAX + 64];
    return join_path(path, sizeof path, dir, file) == 0 && access(path, F_OK) == 0;
}

/* "word" is one of the separated tokens of list. */
static int has_token(const char *list, const char *word, const char *seps)
{
    size_t n = strlen(word);
    for (const char *p = list; p && *p;) {
        size_t len = strcspn(p, seps);
        if (len == n && !strncmp(p, word, n))
            return 1;
        p += len;
        p += strspn(p, seps);
    }
    return 0;
}

/* The number after "key " on a line of a flat-keyed file; -1 when absent. */
static long long keyed_value(const char *text, const char *key)
{
    size_t n = strlen(key);
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (!strncmp(p, key, n) && p[n] == ' ')
            return atoll(p + n + 1);
    return -1;
}

/* This process's cgroup path for a hierarchy: v2 when controller is NULL. */
static int own_cgroup_path(const char *controller, char *out, size_t len)
{
    char buf[8192];
    if (read_small("/proc/self/cgroup", buf, sizeof buf) < 0)
        return -1;
    for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
        char *c1 = strchr(line, ':');
        char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2)
            continue;
        *c2 = '\0';
        const char *ctrls = c1 + 1, *path = c2 + 1;
        int match = controller ? has_token(ctrls, controller, ",")
                               : (!strncmp(line, "0:", 2) && !*ctrls);
        if (match) {
            snprintf(out, len, "%s", path);
            return 0;
        }
    }
    return -1;
}

/* Mount point and root of the first mount of fstype whose super options hold opt (any when
 * NULL). */
static int find_mount(const char *fstype, const char *opt, char *mnt, size_t mlen, char *root,
                      size_t rlen)
{
    FILE *f = fopen("/proc/self/mountinfo", "re");
    if (!f)
        return -1;
    char line[4096];
    int found = -1;
    while (found < 0 && fgets(line, sizeof line, f)) {
        char *field[6] = {0};
        char *save = NULL, *tok = strtok_r(line, " \n", &save);
        int i = 0;
        for (; tok && i < 6; tok = strtok_r(NULL, " \n", &save))
            field[i++] = tok;
        /* optional fields, then "-" */
        while (tok && strcmp(tok, "-") != 0)
            tok = strtok_r(NULL, " \n", &save);
        char *type = tok ? strtok_r(NULL, " \n", &save) : NULL;
        char *source = type ? strtok_r(NULL, " \n", &save) : NULL;
        char *super = source ? strtok_r(NULL, " \n", &save) : NULL;
        if (i < 6 || !type || strcmp(type, fstype) != 0)
            continue;
        if (opt && !(super && has_token(super, opt, ",")))
            continue;
        snprintf(mnt, mlen, "%s", field[4]);
        snprintf(root, rlen, "%s", field[3]);
        found = 0;
    }
    fclose(f);
    return found;
}

/* The directory of this process's cgroup in a hierarchy (mount point + path below the
 * mount's root). */
static int own_dir(const char *fstype, const char *opt, const char *controller, char *out,
                   size_t len)
{
    char mnt[PATH_MAX], root[PATH_MAX], path[PATH_MAX];
    if (find_mount(fstype, opt, mnt, sizeof mnt, root, sizeof root) != 0)
        return -1;
    if (own_cgroup_path(controller, path, sizeof path) != 0)
        return -1;
    const char *rel = path;
    size_t rl = strlen(root);
    if (strcmp(root, "/") != 0 && !strncmp(path, root, rl) && (path[rl] == '/' || !path[rl]))
        rel = path + rl;
    int w = snprintf(out, len, "%s%s", mnt, strcmp(rel, "/") ? rel : "");
    if (w < 0 || (size_t)w >= len)
        return -1;
    struct stat sb;
    return stat(out, &sb) == 0 && S_ISDIR(sb.st_mode) ? 0 : -1;
}

int memlimit_open(struct memlimit *m, const char *want, char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    if (!want || !*want)
        want = "auto";
    if (!strcmp(want, "none")) {
        m->mech = MEMLIMIT_NONE;
        say(m->why, sizeof m->why, "memory_limit=none");
        return 0;
    }
    if (!strcmp(want, "rlimit")) {
        m->mech = MEMLIMIT_RLIMIT;
        say(m->why, sizeof m->why, "memory_limit=rlimit");
        return 0;
    }
    if (strcmp(want, "auto") != 0 && strcmp(want, "cgroup") != 0) {
        say(err, errlen, "option memory_limit='%s' is not one of auto, cgroup, rlimit, none", want);
        return MF_EINVAL;
    }

    char v2[PATH_MAX], controllers[1024] = "";
    if (own_dir("cgroup2", NULL, NULL, v2, sizeof v2) == 0) {
        char path[PATH_MAX + 32];
        join_path(path, sizeof path, v2, "cgroup.controllers");
        if (read_small(path, controllers, sizeof controllers) >= 0 &&
            has_token(controllers, "memory", " \n")) {
            m->mech = MEMLIMIT_CGROUP2;
            snprintf(m->own, sizeof m->own, "%s", v2);
        }
    }
    if (!m->mech && own_dir("cgroup", "memory", "memory", m->own, sizeof m->own) == 0)
        m->mech = MEMLIMIT_CGROUP1;
    if (m->mech && access(m->own, W_OK) != 0) {
        say(m->why, sizeof m->why, "cgroup %s: %s is not writable (%s)",
            m->mech == MEMLIMIT_CGROUP2 ? "v2" : "v1", m->own, strerror(errno));
        m->mech = 0;
    } else if (!m->mech) {
        say(m->why, sizeof m->why, "no cgroup memory controller is mounted for this process (neither cgroup v2 with \"memory\" in cgroup.controllers nor a cgroup v1 memory hierarchy)");
    }
    if (!m->mech) {
        m->own[0] = '\0';
        if (!strcmp(want, "cgroup")) {
            say(err, errlen, "option memory_limit=cgroup: %s (use memory_limit=auto to fall back to RLIMIT_DATA)", m->why);
            return MF_EUNAVAIL;
        }
        m->mech = MEMLIMIT_RLIMIT;
    }
    return 0;
}

/* rmdir a job directory tree left by a run that died: its job-* children, then itself. */
static void remove_stale(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    char path[PATH_MAX + 300];
    while ((e = readdir(d)))
        if (!strncmp(e->d_name, "job-", 4)) {
            join_path(path, sizeof path, dir, e->d_name);
            rmdir(path);
        }
    closedir(d);
    rmdir(dir);
}

static void sweep_dead_runs(const char *own)
{
    DIR *d = opendir(own);
    if (!d)
        return;
    struct dirent *e;
    char path[PATH_MAX + 300];
    while ((e = readdir(d))) {
        char *end;
        if (strncmp(e->d_name, "mflow.", 6) != 0)
            continue;
        long pid = strtol(e->d_name + 6, &end, 10);
        if (*end || pid <= 0 || pid == (long)getpid())
            continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        join_path(path, sizeof path, own, e->d_name);
        remove_stale(path);
    }
    closedir(d);
}

int memlimit_prepare(struct memlimit *m, int strict, char *err, size_t errlen)
{
    if (m->prepared || (m->mech != MEMLIMIT_CGROUP1 && m->mech != MEMLIMIT_CGROUP2))
        return 0;
    const char *v = m->mech == MEMLIMIT_CGROUP2 ? "v2" : "v1";
    int e = 0;
    char why[sizeof m->why];
    int w = snprintf(m->base, sizeof m->base, "%s/mflow.%ld", m->own, (long)getpid());
    if (w < 0 || (size_t)w >= sizeof m->base) {
        say(why, sizeof why, "cgroup %s: the path of %s is too long", v, m->own);
        goto fallback;
    }
    if (m->mech == MEMLIMIT_CGROUP2) {
        char sub[1024] = "", path[PATH_MAX + 32];
        join_path(path, sizeof path, m->own, "cgroup.subtree_control");
        if (read_small(path, sub, sizeof sub) < 0 || !has_token(sub, "memory", " \n")) {
            e = write_str(m->own, "cgroup.subtree_control", "+memory");
            if (e) {
                say(why, sizeof why, "cgroup v2: the memory controller cannot be enabled for children of %s: %s%s",
                    m->own, strerror(e), e == EBUSY ? " (processes, mflow among them, sit in that cgroup itself)" : "");
                goto fallback;
            }
        }
    }
    sweep_dead_runs(m->own);
    if (mkdir(m->base, 0755) != 0 && errno != EEXIST) {
        e = errno;
        say(why, sizeof why, "cgroup %s: cannot create %s: %s", v, m->base, strerror(e));
        goto fallback;
    }
    if (m->mech == MEMLIMIT_CGROUP2 && (e = write_str(m->base, "cgroup.subtree_control", "+memory"))) {
        say(why, sizeof why, "cgroup v2: cannot enable the memory controller in %s: %s", m->base, strerror(e));
        rmdir(m->base);
        goto fallback;
    }
    m->prepared = 1;
    return 0;

fallback:
    m->base[0] = '\0';
    if (strict) {
        say(err, errlen, "option memory_limit=cgroup: %s", why);
        return e ? e : MF_EUNAVAIL;
    }
    snprintf(m->why, sizeof m->why, "%s", why);
    m->mech = MEMLIMIT_RLIMIT;
    return 0;
}

void memlimit_close(struct memlimit *m)
{
    if (m && m->prepared && m->base[0]) {
        remove_stale(m->base);
        m->prepared = 0;
    }
}

const char *memlimit_describe(const struct memlimit *m, char *buf, size_t len)
{
    switch (m->mech) {
    case MEMLIMIT_CGROUP2:
    case MEMLIMIT_CGROUP1:
        say(buf, len, "cgroup %s memory controller (a cgroup per job under %s/mflow.<pid>)",
            m->mech == MEMLIMIT_CGROUP2 ? "v2" : "v1", m->own);
        break;
    case MEMLIMIT_RLIMIT:
        say(buf, len, "RLIMIT_DATA on each process of a job (not their sum), because %s", m->why);
        break;
    default:
        say(buf, len, "not enforced (%s)", m->why);
        break;
    }
    return buf;
}

uint64_t memlimit_own_limit_mb(const struct memlimit *m)
{
    char buf[64], path[PATH_MAX + 32];
    if (m->mech == MEMLIMIT_CGROUP1)
        join_path(path, sizeof path, m->own, "memory.limit_in_bytes");
    else if (m->mech == MEMLIMIT_CGROUP2)
        join_path(path, sizeof path, m->own, "memory.max");
    else
        return 0;
    if (read_small(path, buf, sizeof buf) <= 0 || !strncmp(buf, "max", 3))
        return 0;
    unsigned long long b = strtoull(buf, NULL, 10);
    return b && b < UNLIMITED_BYTES ? (uint64_t)(b >> 20) : 0;
}

int memlimit_job_create(struct memlimit *m, uint64_t mb, struct memlimit_job *j, char *err,
                        size_t errlen)
{
    memset(j, 0, sizeof *j);
    j->procs_fd = -1;
    j->mech = m->mech;
    j->limit_mb = mb;
    if (m->mech != MEMLIMIT_CGROUP1 && m->mech != MEMLIMIT_CGROUP2)
        return 0;
    if (!m->prepared) {
        say(err, errlen, "memory cgroups are not prepared (memlimit_prepare)");
        return MF_EINVAL;
    }
    int w = snprintf(j->path, sizeof j->path, "%s/job-%u", m->base, ++m->seq);
    if (w < 0 || (size_t)w >= sizeof j->path) {
        say(err, errlen, "the memory cgroup path under %s is too long", m->base);
        j->path[0] = '\0';
        return ENAMETOOLONG;
    }
    if (mkdir(j->path, 0755) != 0 && errno != EEXIST) {
        int e = errno;
        say(err, errlen, "cannot create the memory cgroup %s: %s", j->path, strerror(e));
        j->path[0] = '\0';
        return e;
    }
    char bytes[32];
    snprintf(bytes, sizeof bytes, "%llu", (unsigned long long)mb << 20);
    int e;
    if (m->mech == MEMLIMIT_CGROUP1) {
        e = write_str(j->path, "memory.limit_in_bytes", bytes);
        /* No swapping past the limit either (absent when swap accounting is off). */
        if (!e && has_file(j->path, "memory.memsw.limit_in_bytes"))
            write_str(j->path, "memory.memsw.limit_in_bytes", bytes);
    } else {
        e = write_str(j->path, "memory.max", bytes);
        if (!e && has_file(j->path, "memory.swap.max"))
            write_str(j->path, "memory.swap.max", "0");
        /* One task is one unit: an OOM kill takes all of its processes. */
        if (!e && has_file(j->path, "memory.oom.group"))
            write_str(j->path, "memory.oom.group", "1");
    }
    if (e) {
        say(err, errlen, "cannot set the memory limit of %s to %s bytes: %s", j->path, bytes, strerror(e));
        rmdir(j->path);
        j->path[0] = '\0';
        return e;
    }
    char procs[PATH_MAX + 32];
    join_path(procs, sizeof procs, j->path, "cgroup.procs");
    j->procs_fd = open(procs, O_WRONLY | O_CLOEXEC);
    if (j->procs_fd < 0) {
        e = errno;
        say(err, errlen, "cannot open %s: %s", procs, strerror(e));
        rmdir(j->path);
        j->path[0] = '\0';
        return e;
    }
    return 0;
}

int memlimit_job_oom(const struct memlimit_job *j, uint64_t *peak_mb)
{
    if (peak_mb)
        *peak_mb = 0;
    if (!j->path[0])
        return -1;
    char buf[4096], path[PATH_MAX + 64];
    long long kills = -1;
    if (j->mech == MEMLIMIT_CGROUP1) {
        join_path(path, sizeof path, j->path, "memory.oom_control");
        if (read_small(path, buf, sizeof buf) > 0)
            kills = keyed_value(buf, "oom_kill");
        if (kills < 0) {
            /* Kernels before 4.13 do not count kills: hitting the limit is the best sign. */
            join_path(path, sizeof path, j->path, "memory.failcnt");
            if (read_small(path, buf, sizeof buf) > 0 && atoll(buf) > 0)
                kills = 0x7fff;
        }
        join_path(path, sizeof path, j->path, "memory.max_usage_in_bytes");
    } else {
        join_path(path, sizeof path, j->path, "memory.events");
        if (read_small(path, buf, sizeof buf) > 0)
            kills = keyed_value(buf, "oom_kill");
        join_path(path, sizeof path, j->path, "memory.peak");
    }
    if (peak_mb && read_small(path, buf, sizeof buf) > 0)
        *peak_mb = (uint64_t)(strtoull(buf, NULL, 10) >> 20);
    return kills < 0 ? -1 : kills > 0;
}

int memlimit_job_remove(struct memlimit_job *j)
{
    if (j->procs_fd >= 0) {
        close(j->procs_fd);
        j->procs_fd = -1;
    }
    if (!j->path[0])
        return 0;
    if (rmdir(j->path) != 0 && errno == EBUSY)
        return EBUSY;
    j->path[0] = '\0';
    return 0;
}
