/* Step b makes a short value stored raw ("plain") and a long repetitive one stored compressed
 * ("packed"), then fails when FAIL_B is set, so tests can damage the blobs and re-create
 * them by a new run or by a resume. */
#include <mflow/flow.h>
#include <stdlib.h>
#include <string.h>

static void start(mf_task *t)
{
    mf_set_i64(t, "seed", 7);
}

static void b(mf_task *t)
{
    char packed[3001];
    for (size_t i = 0; i < sizeof packed - 1; i++)
        packed[i] = "packed-value-"[i % 13];
    packed[sizeof packed - 1] = '\0';
    mf_set_str(t, "plain", "plain-value-42");
    mf_set_str(t, "packed", packed);
    if (getenv("FAIL_B"))
        mf_fail(t, "b fails on purpose");
}

static void end(mf_task *t)
{
    (void)t;
}

static const mf_step_def steps[] = {
    {.name = "start", .fn = start, .next = "b"},
    {.name = "b", .fn = b, .next = "end"},
    {.name = "end", .fn = end},
};
MF_FLOW("DamageFlow", steps, NULL);
