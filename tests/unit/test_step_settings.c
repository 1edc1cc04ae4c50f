/* A step's own plugin settings (flow ABI 1.2, mf_step_def.settings; plugin ABI 1.3,
 * mf_job_spec.settings): the field sits at the end on an 8-byte boundary, flows of 1.1 (whose
 * entries end before it) read it as NULL, flows of 1.2 keep it, and a newer flow's unknown
 * fields after it are ignored. The runtime passing it to a plugin is covered by the k8s e2e
 * suite (a step's k8s.* settings in its Job). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mflow/plugin.h>

#include "flowload.h"

static void fn(mf_task *t)
{
    (void)t;
}

static void layout(void **state)
{
    (void)state;
    assert_true(MF_FLOW_ABI_MINOR >= 2);   /* 1.3 grew mf_flow_def, not the steps */
    assert_int_equal(offsetof(mf_step_def, settings) % 8, 0);
    assert_int_equal(offsetof(mf_step_def, settings), MF_STEP_DEF_V1_1_SIZE);
    assert_int_equal(sizeof(mf_step_def), MF_STEP_DEF_V1_1_SIZE + sizeof(void *));
    assert_true(MF_PLUGIN_ABI_MINOR >= 3);   /* 1.4 added get_range to the storage ops */
    assert_int_equal(offsetof(struct mf_job_spec, settings),
                     offsetof(struct mf_job_spec, workdir) + sizeof(void *));
    /* a 1.2 plugin's spec size does not cover it */
    struct mf_job_spec old = {.struct_size = offsetof(struct mf_job_spec, settings)};
    assert_false(MF_HAS_FIELD(&old, settings));
    struct mf_job_spec now = {.struct_size = sizeof now};
    assert_true(MF_HAS_FIELD(&now, settings));
}

static mf_flow_def def_of(const void *steps, uint32_t step_size, uint32_t minor)
{
    mf_flow_def d = {sizeof(mf_flow_def), MF_FLOW_ABI_MAJOR, "SettingsFlow", steps, 2, NULL, 0,
                     minor, step_size, sizeof(mf_param_def), NULL, 0, 0};
    return d;
}

static void read_by_size(void **state)
{
    (void)state;
    static const char *const s_start[] = {"k8s.node_selector=gpu=a100", "slurm.qos=high", NULL};
    static const char *const s_end[] = {"k8s.pod_overlay={\"hostNetwork\":true}", NULL};
    static const mf_step_def steps[] = {
        {.name = "start", .fn = fn, .next = "end", .settings = s_start},
        {.name = "end", .fn = fn, .settings = s_end},
    };
    mf_flow_def raw = def_of(steps, sizeof steps[0], 2), d;
    char *err = NULL;
    assert_int_equal(mf_flow_def_read(&raw, "/x/s.so", &d, &err), 0);
    assert_ptr_equal(d.steps[0].settings, s_start);
    assert_string_equal(d.steps[0].settings[1], "slurm.qos=high");
    assert_ptr_equal(d.steps[1].settings, s_end);
    mf_flow_def_free(&d);

    /* a 1.1 flow: entries end before settings, whatever follows in memory */
    static char steps11[2 * MF_STEP_DEF_V1_1_SIZE + sizeof(void *)];
    memcpy(steps11, &steps[0], MF_STEP_DEF_V1_1_SIZE);
    memcpy(steps11 + MF_STEP_DEF_V1_1_SIZE, &steps[1], MF_STEP_DEF_V1_1_SIZE);
    memcpy(steps11 + 2 * MF_STEP_DEF_V1_1_SIZE, &s_end, sizeof(void *));  /* not the step's */
    raw = def_of(steps11, MF_STEP_DEF_V1_1_SIZE, 1);
    assert_int_equal(mf_flow_def_read(&raw, "/x/s.so", &d, &err), 0);
    assert_string_equal(d.steps[1].name, "end");
    assert_null(d.steps[0].settings);
    assert_null(d.steps[1].settings);
    mf_flow_def_free(&d);

    /* a newer flow: a field after settings is not read, settings is */
    struct newer {
        mf_step_def base;
        const char *future;
    };
    static const struct newer nsteps[] = {
        {{.name = "start", .fn = fn, .next = "end", .settings = s_start}, "x"},
        {{.name = "end", .fn = fn}, "y"},
    };
    raw = def_of(nsteps, sizeof nsteps[0], 9);
    assert_int_equal(mf_flow_def_read(&raw, "/x/s.so", &d, &err), 0);
    assert_ptr_equal(d.steps[0].settings, s_start);
    assert_null(d.steps[1].settings);
    assert_string_equal(d.steps[1].name, "end");
    mf_flow_def_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(layout),
        cmocka_unit_test(read_by_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
