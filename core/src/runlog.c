/* What a run writes for a person, through one sink (runlog.h). */
#include "runlog.h"

#include "util.h"

#include <mflow/plugin.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct mf_runlog {
    struct mf_runlog_sink sink;
    int progress_shown;
};

static void std_write(void *ud, int stream, const char *data, size_t len)
{
    (void)ud;
    fwrite(data, 1, len, stream == MF_RUNLOG_STDERR ? stderr : stdout);
}

static void std_flush(void *ud, int stream)
{
    (void)ud;
    fflush(stream == MF_RUNLOG_STDERR ? stderr : stdout);
}

int mf_runlog_create(const struct mf_runlog_sink *sink, mf_runlog **out)
{
    *out = calloc(1, sizeof **out);
    if (!*out)
        return MF_ENOMEM;
    if (sink) {
        (*out)->sink = *sink;
    } else {
        (*out)->sink.write = std_write;
        (*out)->sink.flush = std_flush;
        (*out)->sink.tty = isatty(STDERR_FILENO);
    }
    return 0;
}

void mf_runlog_destroy(mf_runlog *l)
{
    if (!l)
        return;
    mf_runlog_clear_progress(l);
    free(l);
}

static void put(mf_runlog *l, int stream, const char *data, size_t len)
{
    if (l)
        l->sink.write(l->sink.ud, stream, data, len);
    else
        std_write(NULL, stream, data, len);
}

void mf_runlog_clear_progress(mf_runlog *l)
{
    if (l && l->sink.tty && l->progress_shown) {
        put(l, MF_RUNLOG_STDERR, "\r\033[K", 4);
        l->progress_shown = 0;
    }
}

/* Format into buf when it fits, else on the heap: a message needs no memory in the common
 * case, so "out of memory" is still said, and saying it moves no allocation of the run. */
static void put_vf(mf_runlog *l, const char *fmt, va_list ap)
{
    char buf[2048];
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    if (n >= 0 && (size_t)n < sizeof buf) {
        put(l, MF_RUNLOG_STDERR, buf, (size_t)n);
    } else if (n >= 0) {
        char *text = mf_vstrf(fmt, ap2);
        put(l, MF_RUNLOG_STDERR, text ? text : buf, text ? strlen(text) : sizeof buf - 1);
        free(text);
    }
    va_end(ap2);
}

__attribute__((format(printf, 2, 3))) static void put_f(mf_runlog *l, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    put_vf(l, fmt, ap);
    va_end(ap);
}

void mf_runlog_vsay(mf_runlog *l, const char *fmt, va_list ap)
{
    mf_runlog_clear_progress(l);
    put_vf(l, fmt, ap);
}

void mf_runlog_say(mf_runlog *l, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mf_runlog_vsay(l, fmt, ap);
    va_end(ap);
}

void mf_runlog_task_output(mf_runlog *l, const char *pathspec, int stream, int *midline,
                           const char *data, size_t len)
{
    mf_runlog_clear_progress(l);
    /* The prefix in one piece where it fits (one write on an unbuffered stream). */
    char pre[512];
    int pn = snprintf(pre, sizeof pre, "[%s] ", pathspec);
    while (len > 0) {
        if (!midline || !*midline) {
            if (pn > 0 && (size_t)pn < sizeof pre) {
                put(l, stream, pre, (size_t)pn);
            } else {
                put(l, stream, "[", 1);
                put(l, stream, pathspec, strlen(pathspec));
                put(l, stream, "] ", 2);
            }
        }
        const char *nl = memchr(data, '\n', len);
        size_t n = nl ? (size_t)(nl - data) + 1 : len;
        put(l, stream, data, n);
        if (midline)
            *midline = nl == NULL;
        data += n;
        len -= n;
    }
    if (!l)
        std_flush(NULL, stream);
    else if (l->sink.flush)
        l->sink.flush(l->sink.ud, stream);
}

void mf_runlog_progress(mf_runlog *l, const char *flow, int64_t run, size_t done,
                        size_t running, size_t queued, size_t failed)
{
    if (!l || !l->sink.tty)
        return;
    put_f(l, "\r\033[K%s/%lld: %zu done, %zu running, %zu queued, %zu failed", flow,
          (long long)run, done, running, queued, failed);
    l->progress_shown = 1;
}
