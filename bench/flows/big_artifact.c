/* One large incompressible artifact written in one step and read in the next; each step
 * reports its own throughput and peak RSS. The writing step asks for 2 CPUs: with a second
 * one the blob layer writes the value while it hashes it (bound to one CPU, a task hashes
 * first and writes after). */
#include <mflow/flow.h>

#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double rss_mb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024.0;
}

static void start(mf_task *t)
{
    size_t n = (size_t)mf_get_i64(t, "size_mb") << 20;
    uint64_t *buf = malloc(n);
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < n / 8; i++) {   /* xorshift: incompressible */
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        buf[i] = x;
    }
    double t0 = now();
    mf_set_bytes(t, "blob", buf, n);
    double t1 = now();
    printf("write %.0f MB/s rss %.0f MB size %zu MB\n", n / 1e6 / (t1 - t0), rss_mb(), n >> 20);
    free(buf);
}

static void end(mf_task *t)
{
    double t0 = now();
    size_t n;
    const unsigned char *p = mf_get_bytes(t, "blob", &n);
    double t1 = now();
    unsigned long long sum = 0;
    for (size_t i = 0; i < n; i += 4096)
        sum += p[i];
    printf("read %.0f MB/s rss %.0f MB size %zu MB (check %llu)\n", n / 1e6 / (t1 - t0), rss_mb(),
           n >> 20, sum % 7);
}

static const mf_step_def steps[] = {
    {.name = "start", .fn = start, .next = "end", .resources = {.cpu = 2}},
    {.name = "end", .fn = end},
};
static const mf_param_def params[] = {{.name = "size_mb", .type = MF_I64, .default_value = "1024"}};
MF_FLOW("BigArtifact", steps, params);
