/* Small helpers shared by the core: strings, paths, time. */
#ifndef MF_UTIL_H
#define MF_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* malloc'd formatted string, NULL on out-of-memory. */
char *mf_strf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *mf_vstrf(const char *fmt, va_list ap);
/* strdup that accepts NULL. */
char *mf_strdup0(const char *s);

/* mkdir -p; 0 or errno. */
int mf_mkdir_p(const char *path, unsigned mode);
/* Whole file into a malloc'd NUL-terminated buffer; 0 or errno. */
int mf_read_file(const char *path, char **out, size_t *len);
/* Write atomically (temp beside it, fsync, rename); 0 or errno. */
int mf_write_file_atomic(const char *path, const void *data, size_t len);
/* Whether mf_write_file_atomic could write path now: it is no directory, and a temporary can
 * be made beside it (made and removed again; path itself is not touched). 0 or errno. */
int mf_check_file_writable(const char *path);

/* Wall clock, unix seconds. */
double mf_now(void);
/* Monotonic seconds. */
double mf_mono(void);
/* Room for one more item in a growing array: when n == *cap, doubles *cap (from `first`) and
 * reallocs *items_ptr (a pointer to the array pointer) to items of `size` bytes. 0, or
 * MF_ENOMEM with the array and *cap as they were. */
int mf_grow(void *items_ptr, size_t *cap, size_t n, size_t size, size_t first);

/* Levenshtein distance (small strings). */
size_t mf_edit_distance(const char *a, const char *b);

/* Growable byte buffer. */
struct mf_sbuf {
    char *data;
    size_t len, cap;
    int oom;
};
void mf_sbuf_add(struct mf_sbuf *b, const void *data, size_t n);
void mf_sbuf_addf(struct mf_sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void mf_sbuf_free(struct mf_sbuf *b);

#endif
