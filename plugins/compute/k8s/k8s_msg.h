/* The message convention of the k8s modules: a failing call writes its message into the
 * caller's buffer (msg, msglen; either may be NULL/0) and returns its code. */
#ifndef MFLOW_K8S_MSG_H
#define MFLOW_K8S_MSG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

static inline int k8s_fail(char *msg, size_t msglen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static inline int k8s_fail(char *msg, size_t msglen, int rc, const char *fmt, ...)
{
    if (msg && msglen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, msglen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

#endif
