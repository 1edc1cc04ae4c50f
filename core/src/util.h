/* Small helpers shared by the core: strings, paths, time. */
#ifndef MF_UTIL_H
#define MF_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <sys/types.h>
#include <stdint.h>
#include <stdio.h>

/* malloc'd formatted string, NULL on out-of-memory. */
char *mf_strf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *mf_vstrf(const char *fmt, va_list ap);
/* strdup that accepts NULL. */
char *mf_strdup0(const char *s);

/* What mflow creates under its home (the home itself, caches, logs, the index) is the
 * user's alone, as ~/.ssh is: artifacts hold data and models. An existing directory keeps
 * its mode. (The local storage plugin applies the same rule to the datastore, and shares
 * with the group of a setgid datastore root: see its README.) */
#define MF_PRIVATE_DIR_MODE 0700
#define MF_PRIVATE_FILE_MODE 0600

/* Names of artifacts (and parameters, foreach and catch_var names): 1 to MF_ARTIFACT_NAME_MAX
 * characters of [A-Za-z0-9_], not starting with a digit (an identifier in C, Python and R). */
#define MF_ARTIFACT_NAME_MAX 100
int mf_name_valid(const char *s);

/* The length (1 to 4) of the well-formed UTF-8 sequence that starts s[0..n) (RFC 3629: no
 * overlong forms, no surrogates, nothing past U+10FFFF), or 0 when none does. */
size_t mf_utf8_seq(const unsigned char *s, size_t n);
/* True when all of s[0..n) is well-formed UTF-8 (a NUL is U+0000, and allowed). */
int mf_utf8_valid(const char *s, size_t n);
/* s[0..n) made safe to show on a terminal, as a malloc'd string (NULL when out of memory):
 * control characters (C0, DEL, C1), bidirectional overrides and bytes that are not UTF-8
 * become \n, \r, \t, \xNN (one per byte) or \uNNNN; with MF_ESC_KEEP_LINES, newlines and
 * tabs stay as they are (a multi-line value). Other text, UTF-8 included, is unchanged. */
#define MF_ESC_KEEP_LINES 1
char *mf_escape(const char *s, size_t n, int flags);

/* mkdir -p; 0 or errno. */
int mf_mkdir_p(const char *path, unsigned mode);

/* 1 when the file system of dir has less than 1 MiB left for this user: a write that failed
 * there failed for want of room (lmdb and compilers report a cut-short write in their own
 * words), 0 otherwise or when it cannot tell. */
int mf_fs_nearly_full(const char *dir);
/* fopen(path, "w") of a new private file (MF_PRIVATE_FILE_MODE whatever the umask); NULL
 * with errno. */
FILE *mf_fopen_private(const char *path);
/* Whole file into a malloc'd NUL-terminated buffer; 0 or errno. */
int mf_read_file(const char *path, char **out, size_t *len);
/* Write atomically (temp beside it, fsync, rename); 0 or errno. */
int mf_write_file_atomic(const char *path, const void *data, size_t len);
/* The same, the new file created with this mode (less the umask). */
int mf_write_file_atomic_mode(const char *path, const void *data, size_t len, mode_t mode);
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

/* 1 when this process runs from the build tree: the executable lies in it, or the libmflow.so
 * this code came from does (the Python SDK's python3 loads the build tree's). */
int mf_running_from_build_tree(void);

/* argv[*i] as "--name=V" or "--name V": 1 with *v set (and *i past V), 0 not this option,
 * -1 no value follows. */
int mf_opt_value(int argc, char **argv, int *i, const char *name, const char **v);

#endif
