/* The floor for writing an artifact: the raw speed of this disk for the same bytes, written
 * the way the local storage plugin writes them (32 MiB pieces, writeback started after each
 * with sync_file_range, one fsync at the end) but with no hashing and no mflow at all.
 * This machine's write speed varies a lot from minute to minute, so bench_artifact.sh runs
 * this beside the artifact and compares the two.
 *
 *     write_floor DIR SIZE_MB     prints MB/s of writing SIZE_MB MiB to a new file in DIR
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PIECE ((size_t)32 * 1024 * 1024)

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: write_floor DIR SIZE_MB\n");
        return 2;
    }
    size_t n = (size_t)strtoull(argv[2], NULL, 10) << 20;
    char path[4096];
    snprintf(path, sizeof path, "%s/write_floor.%ld", argv[1], (long)getpid());
    /* The same incompressible bytes as bench/flows/big_artifact.c, all in memory first, as
     * the artifact is. */
    uint64_t *buf = malloc(n ? n : 8);
    if (!buf) {
        fprintf(stderr, "write_floor: out of memory for %zu bytes\n", n);
        return 1;
    }
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < n / 8; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        buf[i] = x;
    }
    double t0 = now();
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        fprintf(stderr, "write_floor: cannot create %s: %s\n", path, strerror(errno));
        return 1;
    }
    const char *p = (const char *)buf;
    for (size_t off = 0; off < n;) {
        size_t len = n - off < PIECE ? n - off : PIECE;
        ssize_t w = write(fd, p + off, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            fprintf(stderr, "write_floor: cannot write %s: %s\n", path,
                    w < 0 ? strerror(errno) : "wrote nothing");
            unlink(path);
            return 1;
        }
        sync_file_range(fd, (off64_t)off, w, SYNC_FILE_RANGE_WRITE);
        off += (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        fprintf(stderr, "write_floor: cannot sync %s: %s\n", path, strerror(errno));
        unlink(path);
        return 1;
    }
    double t1 = now();
    unlink(path);
    free(buf);
    printf("%.0f\n", n / 1e6 / (t1 - t0));
    return 0;
}
