/* Reading what sbatch, squeue, scontrol and sacct print, and what Slurm's job states mean. */
#include "slurm_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double sl_parse_time(const char *s)
{
    if (!s || !isdigit((unsigned char)s[0]))
        return 0;   /* N/A, Unknown, NONE, None */
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!end)
        return 0;
    tm.tm_isdst = -1;
    time_t t = mktime(&tm);
    return t == (time_t)-1 ? 0 : (double)t;
}

/* "123_4" -> jobid "123", index 4; "123" -> index -1. -1 when it is neither. */
static int split_id(const char *s, size_t n, char *jobid, size_t jsz, long *index)
{
    size_t i = 0;
    while (i < n && isdigit((unsigned char)s[i]))
        i++;
    if (i == 0 || i >= jsz)
        return -1;
    memcpy(jobid, s, i);
    jobid[i] = '\0';
    *index = -1;
    if (i == n)
        return 0;
    if (s[i] != '_' || i + 1 == n)
        return -1;
    char *end;
    long v = strtol(s + i + 1, &end, 10);
    if (end != s + n || v < 0)
        return -1;
    *index = v;
    return 0;
}

static void copy_field(char *dst, size_t dsz, const char *s, size_t n)
{
    if (n >= dsz)
        n = dsz - 1;
    memcpy(dst, s, n);
    dst[n] = '\0';
}

int sl_parse_squeue_line(const char *line, struct sl_qline *q)
{
    memset(q, 0, sizeof *q);
    const char *f[7];
    size_t len[7];
    const char *p = line;
    int nf = 0;
    while (nf < 7) {
        const char *bar = strchr(p, '|');
        if (!bar)
            break;
        f[nf] = p;
        len[nf] = (size_t)(bar - p);
        nf++;
        p = bar + 1;
    }
    if (nf < 6)
        return -1;
    if (split_id(f[0], len[0], q->jobid, sizeof q->jobid, &q->index) != 0)
        return -1;
    copy_field(q->state, sizeof q->state, f[1], len[1]);
    if (!q->state[0])
        return -1;
    char tmp[64];
    copy_field(tmp, sizeof tmp, f[2], len[2]);
    if (isdigit((unsigned char)tmp[0])) {
        long v = strtol(tmp, NULL, 10);
        q->has_status = 1;
        /* A raw wait status: exit code in the high byte, signal in the low bits. */
        q->term_signal = (int)(v & 0x7f);
        q->exit_code = q->term_signal ? -1 : (int)((v >> 8) & 0xff);
    }
    copy_field(tmp, sizeof tmp, f[3], len[3]);
    q->start_time = sl_parse_time(tmp);
    copy_field(tmp, sizeof tmp, f[4], len[4]);
    q->end_time = sl_parse_time(tmp);
    copy_field(q->reason, sizeof q->reason, f[5], len[5]);
    return 0;
}

/* The value of "Key=" in a line of space-separated Key=Value tokens. */
static int token(const char *line, const char *key, char *out, size_t outsz)
{
    size_t kl = strlen(key);
    for (const char *p = line; *p;) {
        while (*p == ' ')
            p++;
        const char *end = p;
        while (*end && *end != ' ' && *end != '\n')
            end++;
        if ((size_t)(end - p) > kl && !strncmp(p, key, kl) && p[kl] == '=') {
            copy_field(out, outsz, p + kl + 1, (size_t)(end - p) - kl - 1);
            return 0;
        }
        if (*end == '\n' || !*end)
            break;
        p = end;
    }
    out[0] = '\0';
    return -1;
}

/* Call cb for each index of an ArrayTaskId value ("4", "5-9", "1,3-5%2"). */
static void each_index(const char *v, struct sl_qline *q,
                       void (*cb)(void *ud, const struct sl_qline *q), void *ud)
{
    const char *p = v;
    while (*p && *p != '%') {
        char *end;
        long a = strtol(p, &end, 10);
        if (end == p)
            return;
        long b = a;
        if (*end == '-') {
            p = end + 1;
            b = strtol(p, &end, 10);
            if (end == p)
                return;
        }
        /* Slurm's indices are 0 .. MaxArraySize-1; a range the other way round, or one
         * past what strtol can hold (it saturates), is not one Slurm prints. The loop ends
         * at b without stepping past it, so LONG_MAX is no overflow. */
        if (a < 0 || b < a)
            return;
        for (long i = a;; i++) {
            q->index = i;
            cb(ud, q);
            if (i == b || i - a >= 99999)
                break;
        }
        p = end;
        if (*p == ',')
            p++;
        else
            break;
    }
}

int sl_parse_scontrol(const char *text, void (*cb)(void *ud, const struct sl_qline *q), void *ud)
{
    int n = 0;
    for (const char *line = text; line && *line;) {
        const char *nl = strchr(line, '\n');
        size_t ll = nl ? (size_t)(nl - line) : strlen(line);
        char *copy = strndup(line, ll);
        line = nl ? nl + 1 : NULL;
        if (!copy)
            return -1;
        struct sl_qline q;
        memset(&q, 0, sizeof q);
        char v[256], task[256];
        if (token(copy, "JobState", q.state, sizeof q.state) != 0 ||
            token(copy, "JobId", v, sizeof v) != 0) {
            free(copy);
            continue;
        }
        /* Array elements are known by the array's id and their index. */
        if (token(copy, "ArrayJobId", q.jobid, sizeof q.jobid) != 0)
            copy_field(q.jobid, sizeof q.jobid, v, strlen(v));
        token(copy, "Reason", q.reason, sizeof q.reason);
        if (token(copy, "ExitCode", v, sizeof v) == 0) {
            int a = 0, b = 0;
            if (sscanf(v, "%d:%d", &a, &b) == 2) {
                q.has_status = 1;
                q.exit_code = b ? -1 : a;
                q.term_signal = b;
            }
        }
        if (token(copy, "StartTime", v, sizeof v) == 0)
            q.start_time = sl_parse_time(v);
        if (token(copy, "EndTime", v, sizeof v) == 0)
            q.end_time = sl_parse_time(v);
        q.index = -1;
        if (token(copy, "ArrayTaskId", task, sizeof task) == 0 && isdigit((unsigned char)task[0]))
            each_index(task, &q, cb, ud);
        else
            cb(ud, &q);
        n++;
        free(copy);
    }
    return n;
}

int sl_parse_sacct(const char *text, void (*cb)(void *ud, const struct sl_qline *q), void *ud)
{
    int n = 0;
    for (const char *line = text; line && *line;) {
        const char *nl = strchr(line, '\n');
        size_t ll = nl ? (size_t)(nl - line) : strlen(line);
        const char *f[5];
        size_t len[5];
        int nf = 0;
        const char *p = line;
        while (nf < 5) {
            const char *bar = memchr(p, '|', ll - (size_t)(p - line));
            f[nf] = p;
            len[nf] = bar ? (size_t)(bar - p) : ll - (size_t)(p - line);
            nf++;
            if (!bar)
                break;
            p = bar + 1;
        }
        line = nl ? nl + 1 : NULL;
        struct sl_qline q;
        memset(&q, 0, sizeof q);
        if (nf < 5 || split_id(f[0], len[0], q.jobid, sizeof q.jobid, &q.index) != 0)
            continue;
        /* "CANCELLED by 1000": the base state */
        size_t sl = len[1];
        const char *sp = memchr(f[1], ' ', sl);
        if (sp)
            sl = (size_t)(sp - f[1]);
        copy_field(q.state, sizeof q.state, f[1], sl);
        char v[64];
        copy_field(v, sizeof v, f[2], len[2]);
        int a = 0, b = 0;
        if (sscanf(v, "%d:%d", &a, &b) == 2) {
            q.has_status = 1;
            q.exit_code = b ? -1 : a;
            q.term_signal = b;
        }
        copy_field(v, sizeof v, f[3], len[3]);
        q.start_time = sl_parse_time(v);
        copy_field(v, sizeof v, f[4], len[4]);
        q.end_time = sl_parse_time(v);
        cb(ud, &q);
        n++;
    }
    return n;
}

static const struct {
    const char *state;
    int cls;
    int timed_out;
    const char *why;
} states[] = {
    {"PENDING", SL_PENDING, 0, NULL},
    {"REQUEUED", SL_PENDING, 0, NULL},
    {"REQUEUE_HOLD", SL_PENDING, 0, NULL},
    {"REQUEUE_FED", SL_PENDING, 0, NULL},
    {"RESV_DEL_HOLD", SL_PENDING, 0, NULL},
    {"CONFIGURING", SL_ACTIVE, 0, NULL},
    {"RUNNING", SL_ACTIVE, 0, NULL},
    {"COMPLETING", SL_ACTIVE, 0, NULL},
    {"SUSPENDED", SL_ACTIVE, 0, NULL},
    {"STOPPED", SL_ACTIVE, 0, NULL},
    {"SIGNALING", SL_ACTIVE, 0, NULL},
    {"STAGE_OUT", SL_ACTIVE, 0, NULL},
    {"RESIZING", SL_ACTIVE, 0, NULL},
    {"COMPLETED", SL_DONE_OK, 0, "completed"},
    {"FAILED", SL_DONE_FAILED, 0, "the job failed in Slurm"},
    {"TIMEOUT", SL_DONE_FAILED, 1,
     "Slurm killed it at its time limit (--time; the step's timeout_s or the sbatch options)"},
    {"DEADLINE", SL_DONE_FAILED, 1, "Slurm ended it at its deadline (--deadline)"},
    {"OUT_OF_MEMORY", SL_DONE_FAILED, 0,
     "Slurm killed it for using more memory than it asked for (--mem; raise the step's "
     "resources.memory_mb)"},
    {"NODE_FAIL", SL_DONE_FAILED, 0, "the node running it failed"},
    {"BOOT_FAIL", SL_DONE_FAILED, 0, "the node for it failed to boot"},
    {"PREEMPTED", SL_DONE_FAILED, 0, "a job of higher priority preempted it"},
    {"SPECIAL_EXIT", SL_DONE_FAILED, 0, "it ended with Slurm's special exit state"},
    {"REVOKED", SL_DONE_FAILED, 0, "Slurm revoked it (federation)"},
    {"CANCELLED", SL_DONE_CANCELLED, 0, "it was cancelled in Slurm (scancel)"},
};

int sl_classify(const char *state, int *timed_out, const char **why)
{
    size_t n = strcspn(state, " +");
    *timed_out = 0;
    *why = NULL;
    for (size_t i = 0; i < sizeof states / sizeof states[0]; i++) {
        if (strlen(states[i].state) == n && !strncmp(states[i].state, state, n)) {
            *timed_out = states[i].timed_out;
            *why = states[i].why;
            return states[i].cls;
        }
    }
    return SL_UNKNOWN;
}

int sl_parse_sbatch(const char *out, char *id, size_t idsz)
{
    if (!out)
        return -1;
    while (*out && isspace((unsigned char)*out))
        out++;
    size_t n = 0;
    while (isdigit((unsigned char)out[n]))
        n++;
    if (n == 0 || n >= idsz)
        return -1;
    memcpy(id, out, n);
    id[n] = '\0';
    return 0;
}

void sl_free_vec(char **v)
{
    if (!v)
        return;
    for (char **p = v; *p; p++)
        free(*p);
    free(v);
}

char **sl_split_words(const char *s, size_t *n)
{
    *n = 0;
    size_t cap = 4;
    char **v = calloc(cap, sizeof *v);
    if (!v)
        return NULL;
    for (const char *p = s ? s : ""; *p;) {
        while (*p && isspace((unsigned char)*p))
            p++;
        if (!*p)
            break;
        const char *e = p;
        while (*e && !isspace((unsigned char)*e))
            e++;
        if (*n + 2 > cap) {
            cap *= 2;
            char **g = realloc(v, cap * sizeof *g);
            if (!g) {
                sl_free_vec(v);
                return NULL;
            }
            v = g;
        }
        v[*n] = strndup(p, (size_t)(e - p));
        if (!v[*n]) {
            sl_free_vec(v);
            return NULL;
        }
        v[++*n] = NULL;
        p = e;
    }
    return v;
}
