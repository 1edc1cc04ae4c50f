/* For fuzz targets whose parser reads a file: one temporary directory for the process, its
 * files written from the input, all of it removed at exit. */
#ifndef MFLOW_FUZZ_TMP_H
#define MFLOW_FUZZ_TMP_H

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char fuzz_tmp_dir[64];

static int fuzz_tmp_rm(const char *p, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)type;
    (void)ftw;
    remove(p);
    return 0;
}

static void fuzz_tmp_remove(void)
{
    nftw(fuzz_tmp_dir, fuzz_tmp_rm, 8, FTW_DEPTH | FTW_PHYS);
}

/* Make /tmp/mflow-fuzz-TAG-XXXXXX (aborting when it cannot: the target cannot run) and
 * return it; it is removed with everything in it when the process exits. */
static const char *fuzz_tmp_make(const char *tag)
{
    snprintf(fuzz_tmp_dir, sizeof fuzz_tmp_dir, "/tmp/mflow-fuzz-%s-XXXXXX", tag);
    if (!mkdtemp(fuzz_tmp_dir))
        abort();
    atexit(fuzz_tmp_remove);
    return fuzz_tmp_dir;
}

/* The input as the whole of file path: 0, or -1 when it cannot be written. */
static int fuzz_tmp_write(const char *path, const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t w = fwrite(data, 1, size, f);
    return fclose(f) == 0 && w == size ? 0 : -1;
}

#endif
