/* Three branches of cpu = 2 on a machine of 2 cores: they must run one after another. Each
 * records when it started and ended. */
#include <mflow/flow.h>

#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void start(mf_task *t) { (void)t; }
static void work(mf_task *t)
{
    mf_set_f64(t, "t0", now());
    usleep(300000);
    mf_set_f64(t, "t1", now());
}
static void join(mf_task *t) { (void)t; }
static void end(mf_task *t) { (void)t; }

static const mf_step_def steps[] = {
    {.name = "start", .fn = start, .next = "a b c"},
    {.name = "a", .fn = work, .next = "join", .resources = {.cpu = 2}},
    {.name = "b", .fn = work, .next = "join", .resources = {.cpu = 2}},
    {.name = "c", .fn = work, .next = "join", .resources = {.cpu = 2}},
    {.name = "join", .fn = join, .next = "end", .join = 1},
    {.name = "end", .fn = end},
};
MF_FLOW("SerialFlow", steps, NULL);
