/* Sets one artifact whose name (and str value) come from the environment, for the tests of
 * artifact names and of text that is not UTF-8 (test_names.sh). */
#include <mflow/flow.h>
#include <stdlib.h>
static void start(mf_task *t)
{
    const char *name = getenv("MFLOW_TEST_NAME");
    const char *value = getenv("MFLOW_TEST_VALUE");
    mf_set_str(t, name ? name : "value", value ? value : "plain");
    const char *const list[] = {"ok", value ? value : "plain"};
    mf_set_strv(t, "list", list, 2);
}
static void end(mf_task *t) { (void)t; }
static const mf_step_def steps[] = {
    {.name = "start", .fn = start, .next = "end"},
    {.name = "end", .fn = end},
};
static const mf_param_def params[] = {
    {.name = "label", .type = MF_STR, .default_value = "none"},
};
MF_FLOW("NamesFlow", steps, params);
