/* The crash soak's flow: a foreach whose tasks each store a block of bytes that can be checked
 * (a pattern seeded by the item) and its sum, a join that checks every block and adds the sums.
 * The answer depends on every task, so a torn or lost value changes it or fails the join. */
#include <mflow/flow.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BLOCK 16384

static void fill(uint8_t *b, int64_t item)
{
    uint32_t x = (uint32_t)item * 2654435761u + 1;
    for (size_t i = 0; i < BLOCK; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        b[i] = (uint8_t)x;
    }
}

static void start(mf_task *t)
{
    int64_t n = mf_get_i64(t, "n");
    int64_t *v = malloc(sizeof *v * (size_t)n);
    for (int64_t i = 0; i < n; i++)
        v[i] = i;
    mf_set_i64v(t, "items", v, (size_t)n);
    free(v);
}

static void body(mf_task *t)
{
    int64_t ms = mf_get_i64(t, "ms");
    int64_t item = mf_item_i64(t);
    /* A spread of durations, so a kill finds tasks at every stage. */
    int64_t d = ms * (1 + item % 4);
    struct timespec ts = {d / 1000, (d % 1000) * 1000000};
    nanosleep(&ts, NULL);
    uint8_t *b = malloc(BLOCK);
    fill(b, item);
    mf_set_bytes(t, "block", b, BLOCK);
    free(b);
    mf_set_i64(t, "square", item * item);
}

static void join(mf_task *t)
{
    int64_t sum = 0, bad = 0;
    uint8_t *want = malloc(BLOCK);
    for (size_t i = 0; i < mf_input_count(t); i++) {
        int64_t sq = mf_input_i64(t, i, "square");
        size_t len = 0;
        const void *got = mf_input_bytes(t, i, "block", &len);
        int64_t item = 0;
        while (item * item < sq)
            item++;
        fill(want, item);
        if (len != BLOCK || memcmp(got, want, BLOCK) != 0)
            bad++;
        sum += sq;
    }
    free(want);
    mf_set_i64(t, "sum", sum);
    mf_set_i64(t, "bad_blocks", bad);
}

static void end(mf_task *t) { (void)t; }

static const mf_step_def steps[] = {
    {.name = "start", .fn = start, .next = "body", .foreach = "items"},
    {.name = "body", .fn = body, .next = "join"},
    {.name = "join", .fn = join, .next = "end", .join = 1},
    {.name = "end", .fn = end},
};
static const mf_param_def params[] = {
    {.name = "n", .type = MF_I64, .default_value = "300"},
    {.name = "ms", .type = MF_I64, .default_value = "2"},
};
MF_FLOW("SoakFlow", steps, params);
