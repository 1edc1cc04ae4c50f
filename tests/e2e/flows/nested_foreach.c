#include <mflow/flow.h>
#include <string.h>
#include <stdio.h>
static void start(mf_task *t) { const char *g[] = {"a", "b", "c"}; mf_set_strv(t, "groups", g, 3); }
static void group(mf_task *t) {
    const int64_t n[] = {1, 2, 3, 4};
    mf_set_str(t, "g", mf_item_str(t));
    mf_set_i64v(t, "nums", n, 4);
}
static void cell(mf_task *t) {
    char buf[64];
    snprintf(buf, sizeof buf, "%s%lld", mf_get_str(t, "g"), (long long)mf_item_i64(t));
    mf_set_str(t, "cell", buf);
    mf_set_i64(t, "val", mf_item_i64(t) * (int64_t)(mf_item_count(t)));
}
static void inner_join(mf_task *t) {
    int64_t s = 0; char cat[256] = "";
    for (size_t i = 0; i < mf_input_count(t); i++) { s += mf_input_i64(t, i, "val"); snprintf(cat + strlen(cat), sizeof cat - strlen(cat), "%s", mf_input_str(t, i, "cell")); }
    mf_set_i64(t, "gsum", s); mf_set_str(t, "cells", cat);
}
static void outer_join(mf_task *t) {
    int64_t s = 0; char cat[1024] = "";
    for (size_t i = 0; i < mf_input_count(t); i++) { s += mf_input_i64(t, i, "gsum"); snprintf(cat + strlen(cat), sizeof cat - strlen(cat), "%s|", mf_input_str(t, i, "cells")); }
    mf_set_i64(t, "total", s); mf_set_str(t, "all", cat);
}
static void end(mf_task *t) { (void)t; }
static const mf_step_def steps[] = {
    {.name = "start", .fn = start, .next = "group", .foreach = "groups"},
    {.name = "group", .fn = group, .next = "cell", .foreach = "nums"},
    {.name = "cell", .fn = cell, .next = "inner_join"},
    {.name = "inner_join", .fn = inner_join, .next = "outer_join", .join = 1},
    {.name = "outer_join", .fn = outer_join, .next = "end", .join = 1},
    {.name = "end", .fn = end},
};
MF_FLOW("NestedForeachFlow", steps, NULL);
