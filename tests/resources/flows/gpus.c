/* Four gpu = 1 tasks at once (each waits until all four left a marker in --dir) that record
 * the CUDA_VISIBLE_DEVICES mflow gave them. */
#include <mflow/flow.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void start(mf_task *t)
{
    const int64_t shards[] = {0, 1, 2, 3};
    mf_set_i64v(t, "shards", shards, 4);
}

static int markers(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        n += !strncmp(e->d_name, "shard", 5);
    if (d)
        closedir(d);
    return n;
}

static void shard(mf_task *t)
{
    const char *dir = mf_get_str(t, "dir");
    char mine[4096];
    snprintf(mine, sizeof mine, "%s/shard%lld", dir, (long long)mf_item_i64(t));
    FILE *f = fopen(mine, "w");
    if (!f)
        mf_fail(t, "cannot write %s", mine);
    fclose(f);
    for (int i = 0; i < 2000 && markers(dir) < 4; i++)
        usleep(10000);
    const char *cuda = getenv("CUDA_VISIBLE_DEVICES");
    mf_set_str(t, "cuda", cuda ? cuda : "unset");
    mf_set_i64(t, "together", markers(dir) == 4);
}

static void gather(mf_task *t)
{
    char all[256] = "";
    int together = 1;
    for (size_t i = 0; i < mf_input_count(t); i++) {
        strncat(all, mf_input_str(t, i, "cuda"), sizeof all - strlen(all) - 2);
        strcat(all, " ");
        together &= (int)mf_input_i64(t, i, "together");
    }
    mf_set_str(t, "all", all);
    mf_set_i64(t, "together", together);
}

static void end(mf_task *t) { (void)t; }

static const mf_step_def steps[] = {
    {.name = "start", .fn = start, .next = "shard", .foreach = "shards"},
    {.name = "shard", .fn = shard, .next = "gather", .resources = {.cpu = 1, .gpu = 1}},
    {.name = "gather", .fn = gather, .next = "end", .join = 1},
    {.name = "end", .fn = end},
};
static const mf_param_def params[] = {
    {.name = "dir", .type = MF_STR, .help = "where the shards leave their markers"},
};
MF_FLOW("GpuFlow", steps, params);
