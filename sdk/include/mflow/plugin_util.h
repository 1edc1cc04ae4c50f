/* Optional helpers for plugins: the small functions every plugin of mflow's own needed (clocks,
 * an error message kept for last_error, a log line through the host, a formatted string).
 *
 * Header-only: each function is `static inline`, compiled into the plugin that includes this
 * file, so it adds no symbol to the plugin's exports (the one export stays mf_plugin_entry_v1)
 * and links nothing of libmflow. Nothing here is part of the plugin ABI: a third-party plugin
 * may use it or write its own. Include after <mflow/plugin.h>. */
#ifndef MFLOW_PLUGIN_UTIL_H
#define MFLOW_PLUGIN_UTIL_H

#include <mflow/plugin.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* Seconds since the epoch (for times a plugin reports: start_time, end_time). */
static inline double mf_plugin_wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Seconds of a clock that never steps (for deadlines, intervals and timeouts). */
static inline double mf_plugin_mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Format the failure's message into err (n bytes; the text last_error returns) and return
 * rc, so that `return mf_plugin_fail(st->err, sizeof st->err, MF_EINVAL, "...", ...)` both
 * records and reports it. err may be NULL (no instance yet): then only rc is returned. */
__attribute__((format(printf, 4, 5)))
static inline int mf_plugin_fail(char *err, size_t n, int rc, const char *fmt, ...)
{
    if (err && n) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, n, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* A malloc'd formatted string (free it); NULL when out of memory. */
__attribute__((format(printf, 1, 2)))
static inline char *mf_plugin_strf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (s) {
        va_start(ap, fmt);
        vsnprintf(s, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    return s;
}

/* A log line through the host, when the host has a log function (checked as the ABI asks:
 * inside the host table's size, and not NULL). name: the plugin's name. */
#define MF_PLUGIN_LOG(host, name, level, ...)                                                  \
    do {                                                                                       \
        const struct mf_host_api *mf_log_host_ = (host);                                       \
        if (mf_log_host_ && MF_HAS_FIELD(mf_log_host_, log) && mf_log_host_->log)            \
            mf_log_host_->log((level), (name), __VA_ARGS__);                                   \
    } while (0)

#endif
