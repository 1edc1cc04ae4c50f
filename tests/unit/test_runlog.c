/* Unit tests of what a run writes for a person (core/src/runlog.c), through a sink that
 * keeps every write: messages, task output prefixed at each line start, and the progress
 * line, drawn and cleared only on a terminal. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runlog.h"
#include "util.h"

struct cap {
    struct mf_sbuf out, err;
    int flushes[3];
};

static void cap_write(void *ud, int stream, const char *data, size_t len)
{
    struct cap *c = ud;
    assert_true(stream == MF_RUNLOG_STDOUT || stream == MF_RUNLOG_STDERR);
    mf_sbuf_add(stream == MF_RUNLOG_STDOUT ? &c->out : &c->err, data, len);
}

static void cap_flush(void *ud, int stream)
{
    struct cap *c = ud;
    c->flushes[stream]++;
}

static const char *text(struct mf_sbuf *b)
{
    mf_sbuf_add(b, "", 1);   /* terminate, then forget the terminator */
    b->len--;
    return b->data;
}

static mf_runlog *make(struct cap *c, int tty)
{
    memset(c, 0, sizeof *c);
    struct mf_runlog_sink sink = {.write = cap_write, .flush = cap_flush, .ud = c, .tty = tty};
    mf_runlog *l = NULL;
    assert_int_equal(mf_runlog_create(&sink, &l), 0);
    assert_non_null(l);
    return l;
}

static void done(mf_runlog *l, struct cap *c)
{
    mf_runlog_destroy(l);
    mf_sbuf_free(&c->out);
    mf_sbuf_free(&c->err);
}

/* Messages are written as formatted, whole, to stderr. */
static void test_say(void **state)
{
    (void)state;
    struct cap c;
    mf_runlog *l = make(&c, 0);
    mf_runlog_say(l, "mflow: run %s/%lld started (%zu steps, up to %d at once)\n", "F", 3LL,
                  (size_t)5, 2);
    mf_runlog_say(l, "mflow: warning: %s\n", "index: full");
    mf_runlog_say(l, "\nmflow: interrupted: cancelling %zu running task(s)\n", (size_t)1);
    assert_string_equal(text(&c.err), "mflow: run F/3 started (5 steps, up to 2 at once)\n"
                                      "mflow: warning: index: full\n"
                                      "\nmflow: interrupted: cancelling 1 running task(s)\n");
    assert_int_equal(c.out.len, 0);
    /* longer than the stack buffer: still whole */
    char *big = malloc(5001);
    assert_non_null(big);
    memset(big, 'x', 5000);
    big[5000] = '\0';
    size_t before = c.err.len;
    mf_runlog_say(l, "mflow: %s!\n", big);
    assert_int_equal(c.err.len - before, 5000 + 9);
    assert_memory_equal(text(&c.err) + before + 7, big, 5000);
    assert_string_equal(text(&c.err) + before + 5007, "!\n");
    free(big);
    done(l, &c);
}

/* Every line start of a task's output carries its pathspec, across chunks. */
static void test_task_output(void **state)
{
    (void)state;
    struct cap c;
    mf_runlog *l = make(&c, 0);
    int mid[2] = {0, 0};
    mf_runlog_task_output(l, "F/1/a/2", MF_RUNLOG_STDOUT, &mid[0], "one\ntwo", 7);
    assert_int_equal(mid[0], 1);
    mf_runlog_task_output(l, "F/1/a/2", MF_RUNLOG_STDOUT, &mid[0], " more\n", 6);
    assert_int_equal(mid[0], 0);
    mf_runlog_task_output(l, "F/1/a/2", MF_RUNLOG_STDERR, &mid[1], "oops\n\nagain\n", 12);
    mf_runlog_task_output(l, "F/1/b/3", MF_RUNLOG_STDOUT, NULL, "x", 1);
    mf_runlog_task_output(l, "F/1/b/3", MF_RUNLOG_STDOUT, NULL, "y\n", 2);   /* NULL: new line */
    mf_runlog_task_output(l, "F/1/b/3", MF_RUNLOG_STDOUT, NULL, "", 0);
    assert_string_equal(text(&c.out), "[F/1/a/2] one\n[F/1/a/2] two more\n[F/1/b/3] x"
                                      "[F/1/b/3] y\n");
    assert_string_equal(text(&c.err), "[F/1/a/2] oops\n[F/1/a/2] \n[F/1/a/2] again\n");
    assert_int_equal(c.flushes[MF_RUNLOG_STDOUT], 5);   /* once per piece of output */
    assert_int_equal(c.flushes[MF_RUNLOG_STDERR], 1);

    /* a pathspec too long for the prefix buffer is written whole all the same */
    char *long_ps = malloc(2001);
    assert_non_null(long_ps);
    memset(long_ps, 'p', 2000);
    long_ps[2000] = '\0';
    size_t before = c.out.len;
    mf_runlog_task_output(l, long_ps, MF_RUNLOG_STDOUT, NULL, "a\nb\n", 4);
    char *want = mf_strf("[%s] a\n[%s] b\n", long_ps, long_ps);
    assert_string_equal(text(&c.out) + before, want);
    free(want);
    free(long_ps);
    done(l, &c);
}

/* The progress line: only on a terminal, and cleared before any other write and at the end. */
static void test_progress(void **state)
{
    (void)state;
    struct cap c;
    mf_runlog *l = make(&c, 0);
    mf_runlog_progress(l, "F", 7, 1, 2, 3, 0);
    mf_runlog_clear_progress(l);
    mf_runlog_say(l, "m\n");
    assert_string_equal(text(&c.err), "m\n");   /* not a terminal: no progress at all */
    done(l, &c);

    l = make(&c, 1);
    mf_runlog_clear_progress(l);                /* nothing shown: nothing to clear */
    mf_runlog_progress(l, "F", 7, 1, 2, 3, 0);
    mf_runlog_say(l, "mflow: a\n");
    mf_runlog_say(l, "mflow: b\n");             /* cleared once only */
    mf_runlog_progress(l, "F", 7, 2, 1, 0, 1);
    mf_runlog_task_output(l, "F/7/s/4", MF_RUNLOG_STDOUT, NULL, "out\n", 4);
    mf_runlog_progress(l, "F", 7, 3, 0, 0, 1);
    mf_runlog_destroy(l);
    assert_string_equal(text(&c.err), "\r\033[KF/7: 1 done, 2 running, 3 queued, 0 failed"
                                      "\r\033[Kmflow: a\nmflow: b\n"
                                      "\r\033[KF/7: 2 done, 1 running, 0 queued, 1 failed"
                                      "\r\033[K"
                                      "\r\033[KF/7: 3 done, 0 running, 0 queued, 1 failed"
                                      "\r\033[K");
    assert_string_equal(text(&c.out), "[F/7/s/4] out\n");
    mf_sbuf_free(&c.out);
    mf_sbuf_free(&c.err);
}

/* No handle: messages still reach stderr (a run out of memory before it had one). */
static void test_null_handle(void **state)
{
    (void)state;
    mf_runlog_say(NULL, "%s", "");
    mf_runlog_progress(NULL, "F", 1, 0, 0, 0, 0);
    mf_runlog_clear_progress(NULL);
    mf_runlog_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_say),
        cmocka_unit_test(test_task_output),
        cmocka_unit_test(test_progress),
        cmocka_unit_test(test_null_handle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
