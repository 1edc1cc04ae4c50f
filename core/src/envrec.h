/* The environment as the host's set-up reads it (host.c, loader.c): every read goes through
 * mf_host_getenv, which notes the name, whether it was set and its value in each record being
 * made. What was set up from a record is valid in another process (a forked task with its own
 * environment) exactly when mf_envrec_same says so: no hand-kept list of variables to forget. */
#ifndef MF_ENVREC_H
#define MF_ENVREC_H

#include <stddef.h>

struct mf_envrec_var {
    char *name;
    char *value;        /* NULL: unset */
};

struct mf_envrec {
    struct mf_envrec_var *v;
    size_t n, cap;
    int cwd;            /* a relative path was made absolute against the working directory */
    int broken;         /* a read could not be noted (out of memory): the record is not whole */
};

/* getenv(name), noted in every record being made. */
const char *mf_host_getenv(const char *name);
/* setenv(name, value, 1), the value before it noted first: the record keeps what the
 * environment held before the set-up changed it. 0 or errno. */
int mf_host_setenv(const char *name, const char *value);
/* The set-up resolved a relative path against the working directory (which a task may
 * change): what it made holds only for that directory. */
void mf_host_note_cwd(void);

/* Start making r (emptied first); records nest (the registry's inside the host's): a read
 * is noted in each one being made. 0, or MF_EINVAL when too many are being made. */
int mf_envrec_begin(struct mf_envrec *r);
/* Stop making r (the latest begun). 0, or MF_ENOMEM when a read could not be noted. */
int mf_envrec_end(struct mf_envrec *r);
/* 1 when r is whole, depends on no working directory, and every variable it noted has the
 * same value in the environment now (unset where it was unset); else 0. */
int mf_envrec_same(const struct mf_envrec *r);
void mf_envrec_free(struct mf_envrec *r);

#endif
