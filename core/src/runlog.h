/* What a run writes for a person: its messages, its tasks' output with each line prefixed by
 * the task's pathspec, and, on a terminal, a progress line kept at the bottom. Everything
 * goes through a sink the caller gives; without one it goes to stdout and stderr as `mflow
 * run` has always written it. The only place a run writes to the terminal. */
#ifndef MF_RUNLOG_H
#define MF_RUNLOG_H

#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>

enum { MF_RUNLOG_STDOUT = 1, MF_RUNLOG_STDERR = 2 };

struct mf_runlog_sink {
    /* Write len bytes to stream (MF_RUNLOG_STDOUT or MF_RUNLOG_STDERR). Required. */
    void (*write)(void *ud, int stream, const char *data, size_t len);
    /* Push out what was written to stream (after each piece of task output); may be NULL. */
    void (*flush)(void *ud, int stream);
    void *ud;
    int tty;                     /* non-zero: draw the progress line (ANSI, on stderr) */
};

typedef struct mf_runlog mf_runlog;

/* sink is copied; NULL: stdout and stderr, with the progress line when stderr is a terminal.
 * 0 or MF_ENOMEM. */
int mf_runlog_create(const struct mf_runlog_sink *sink, mf_runlog **out);
/* NULL is a no-op. The progress line, when shown, is cleared first. */
void mf_runlog_destroy(mf_runlog *l);

/* A message, printf-style, written whole to stderr once the progress line is cleared. The
 * caller writes the "mflow: " and the newline. l NULL: straight to stderr. */
void mf_runlog_say(mf_runlog *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void mf_runlog_vsay(mf_runlog *l, const char *fmt, va_list ap);

/* Output of a task: data from its stream, "[pathspec] " written at every line start.
 * *midline (per task and stream; NULL: each call starts a line) says whether the stream
 * stopped within a line; it is updated. */
void mf_runlog_task_output(mf_runlog *l, const char *pathspec, int stream, int *midline,
                           const char *data, size_t len);

/* The progress line (a terminal only): "Flow/run: N done, N running, N queued, N failed". */
void mf_runlog_progress(mf_runlog *l, const char *flow, int64_t run, size_t done,
                        size_t running, size_t queued, size_t failed);
void mf_runlog_clear_progress(mf_runlog *l);

#endif
